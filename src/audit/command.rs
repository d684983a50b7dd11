//! `cellmask audit`: audits a masked table, from cellmask or another tool.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::certify::witness::Q;
use crate::error::{Error, Result};
use crate::money::{format_amount, format_bound};
use crate::primary;
use crate::protect::{aggregate_one, audit_all, read_tables, verdict_with_certificate};
use crate::published::read_published;
use crate::read::{read_records, Microdata};
use crate::regroup::mapping::{read_csv, unit_depth};
use crate::regroup::TableMap;
use crate::report::{table_reports, CertificateReport, Counts, Report, Verdict};
use crate::rules::Rules;
use crate::table::Table;
use crate::write::{self, AtomicDir};

use super::{FailureKind, TableAudit};

/// Runs the audit; returns the exit code (0 protected, 1 not).
pub fn run(
    rules: &Rules,
    published: &Path,
    input: Option<&Path>,
    regroup: Option<&Path>,
    out: Option<&Path>,
    exact: bool,
    quiet: bool,
) -> Result<i32> {
    let started = Instant::now();
    let (mut tables, rows) = load_tables(rules, published, input, regroup)?;
    let audits = audit_all(&mut tables, input.is_some(), exact, quiet)?;
    let split_names = rules.input.split.clone();
    let dim_names: Vec<String> = rules.dimensions.iter().map(|d| d.name.clone()).collect();
    // The witnesses found, as a certificate, checked apart.
    let (certificate, findings) = crate::certify::certify(
        &rules.name,
        rules.input.decimals,
        &split_names,
        &dim_names,
        &tables,
        &audits,
        input.is_some(),
    );
    let (verdict, mut message) =
        verdict_with_certificate(&tables, &audits, &findings, &split_names, "");
    if verdict == Verdict::Protected && input.is_none() {
        // Without the records only exact disclosure can be checked.
        message = format!(
            "no exact disclosure: no masked cell of the {} table(s) can be recovered to the \
             unit; protection levels were not checked (they need the records: --input)",
            tables.len()
        );
    }
    let mut timings = BTreeMap::new();
    timings.insert("audit", started.elapsed().as_millis() as u64);
    let report = Report {
        cellmask: env!("CARGO_PKG_VERSION"),
        command: "audit",
        rules: rules.name.clone(),
        input: published
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        verdict,
        message: message.clone(),
        rows,
        rows_filtered: 0,
        totals: Counts::of(&tables, rules.input.decimals),
        regroup: None,
        treatments: Default::default(),
        tables: table_reports(&tables, &audits, &split_names, rules.input.decimals),
        certificate: certificate
            .as_ref()
            .map(|c| CertificateReport::of(c, &findings)),
        timings_ms: timings,
    };
    if let Some(dir) = out {
        let mut d = AtomicDir::new(dir)?;
        d.write("audit.csv", |w| {
            audit_csv(
                w,
                &split_names,
                &dim_names,
                &tables,
                &audits,
                rules.input.decimals,
            )
        })?;
        if input.is_some() {
            d.write("report.json", |w| write::json(w, &report))?;
        } else {
            let json = report.without_records();
            d.write("report.json", |w| write::json(w, &json))?;
        }
        match &certificate {
            Some(c) => d.write("certificate.json", |w| c.write(w))?,
            None => d.remove("certificate.json"),
        }
        d.commit()?;
    }
    if !quiet {
        println!("{message}");
    }
    Ok(if verdict == Verdict::Protected { 0 } else { 1 })
}

/// The tables of a published file: from the file alone (masked values
/// unknown), or with `input` from the records (true values, primary rules
/// and levels) with the file's masking applied; at the published codes of
/// `regroup` when given. Also the records read (0 without `input`).
pub fn load_tables(
    rules: &Rules,
    published: &Path,
    input: Option<&Path>,
    regroup: Option<&Path>,
) -> Result<(Vec<Table>, u64)> {
    let file = read_published(published, rules)?;
    let maps: Vec<TableMap> =
        match (regroup, &rules.regroup) {
            (None, _) => Vec::new(),
            (Some(p), Some(plan)) => read_csv(p, rules, plan)?,
            (Some(_), None) => return Err(Error::usage(
                "--regroup needs rules with a [regroup] plan (the one the release was made with)",
            )),
        };
    Ok(match input {
        Some(records) => {
            let (data, mut tables) = if maps.is_empty() {
                read_tables(rules, records, true, &mut BTreeMap::new())?
            } else {
                let data = read_records(records, rules)?;
                let tables =
                    regrouped_tables(&data, rules, &maps, regroup.expect("maps come from a file"))?;
                (data, tables)
            };
            for t in &mut tables {
                primary::apply(t, &rules.primary, &rules.protection);
            }
            file.apply_to(published, &mut tables)?;
            (tables, data.rows)
        }
        None => (file.tables(published, rules, &maps)?, 0),
    })
}

/// The records' tables at their published codes, as `regroup.csv` says.
fn regrouped_tables(
    data: &Microdata,
    rules: &Rules,
    maps: &[TableMap],
    path: &Path,
) -> Result<Vec<Table>> {
    let plan = rules.regroup.as_ref().expect("maps need a plan");
    let depth = unit_depth(rules, plan);
    let top = rules.primary.top_needed();
    data.tables
        .iter()
        .map(|td| {
            let map = maps.iter().find(|m| m.split == td.split).ok_or_else(|| {
                Error::at(
                    path,
                    None,
                    format!("table {:?} is not in this file", td.split),
                )
            })?;
            let (d, dims) = map
                .apply(td, &data.hierarchies, plan, depth)
                .map_err(|e| Error::at(path, None, format!("table {:?}: {e}", td.split)))?;
            aggregate_one(&d, &dims, top)
        })
        .collect()
}

/// How far a masked primary cell's proven range stops short of its levels
/// (the larger side, rounded up to the unit), when it does.
fn shortfall(
    c: &crate::table::Cell,
    proofs: &crate::certify::witness::Proofs,
    i: usize,
) -> Option<i128> {
    if c.rules.is_empty() || !c.status.is_masked() || !proofs.fits_len(i) {
        return None;
    }
    let (lo, hi) = proofs.range(i);
    let t = super::target_of(c, true);
    let up = t.up.map_or(0, |u| {
        (Q::int(u).plus(-hi.num, hi.den)).map_or(0, |d| d.ceil())
    });
    let down = t.down.map_or(0, |d| lo.plus(-d, 1).map_or(0, |x| x.ceil()));
    let s = up.max(down);
    (s > 0).then_some(s)
}

/// `audit.csv`: every masked cell with its interval and verdict, and every
/// primary cell left published; `shortfall`: how far an under-protected
/// cell's range stops short of its levels (internal: it tells of the levels).
fn audit_csv(
    w: &mut dyn Write,
    split_names: &[String],
    dim_names: &[String],
    tables: &[Table],
    audits: &[TableAudit],
    decimals: u32,
) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let mut header: Vec<String> = split_names.iter().chain(dim_names).cloned().collect();
    header.extend(["audit_low", "audit_high", "verdict", "shortfall"].map(String::from));
    out.write_record(&header)?;
    for (t, a) in tables.iter().zip(audits) {
        let mut fails = a.failures.iter().peekable();
        for (i, c) in t.cells.iter().enumerate() {
            let mut verdict = "ok";
            while let Some(f) = fails.peek() {
                if f.cell as usize > i {
                    break;
                }
                if f.cell as usize == i {
                    verdict = f.kind.as_str();
                }
                fails.next();
            }
            if !c.status.is_masked() && verdict != FailureKind::PrimaryPublished.as_str() {
                continue;
            }
            let mut row: Vec<String> = t.split.clone();
            row.extend(t.codes(c.key).into_iter().map(String::from));
            match c.audit {
                Some((lo, hi)) => {
                    row.push(format_bound(lo, decimals, false));
                    row.push(format_bound(hi, decimals, true));
                }
                None => row.extend([String::new(), String::new()]),
            }
            row.push(verdict.to_string());
            row.push(match shortfall(c, &a.proofs, i) {
                Some(s) => format_amount(s.min(i64::MAX as i128) as i64, decimals),
                None => String::new(),
            });
            out.write_record(&row)?;
        }
    }
    out.flush()
}
