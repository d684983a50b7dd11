//! `cellmask audit`: audits a masked table, from cellmask or another tool.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::money::format_bound;
use crate::primary;
use crate::protect::{aggregate_all, aggregate_one, audit_all, verdict_message};
use crate::published::read_published;
use crate::read::{read_records, Microdata};
use crate::regroup::mapping::{read_csv, unit_depth};
use crate::regroup::TableMap;
use crate::report::{table_reports, Counts, Report, Verdict};
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
    quiet: bool,
) -> Result<i32> {
    let started = Instant::now();
    let file = read_published(published, rules)?;
    let maps: Vec<TableMap> =
        match (regroup, &rules.regroup) {
            (None, _) => Vec::new(),
            (Some(p), Some(plan)) => read_csv(p, rules, plan)?,
            (Some(_), None) => return Err(Error::usage(
                "--regroup needs rules with a [regroup] plan (the one the release was made with)",
            )),
        };
    let (mut tables, rows) = match input {
        Some(records) => {
            let data = read_records(records, rules)?;
            let mut tables = if maps.is_empty() {
                aggregate_all(&data, rules)?
            } else {
                regrouped_tables(&data, rules, &maps, regroup.expect("maps come from a file"))?
            };
            for t in &mut tables {
                primary::apply(t, &rules.primary, &rules.protection);
            }
            file.apply_to(published, &mut tables)?;
            (tables, data.rows)
        }
        None => (file.tables(published, rules, &maps)?, 0),
    };
    let audits = audit_all(&mut tables, input.is_some(), quiet)?;
    let split_names = rules.input.split.clone();
    let dim_names: Vec<String> = rules.dimensions.iter().map(|d| d.name.clone()).collect();
    let (verdict, message) = verdict_message(&tables, &audits, &split_names, "");
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
        d.write("report.json", |w| write::json(w, &report))?;
        d.commit()?;
    }
    if !quiet {
        println!("{message}");
    }
    Ok(if verdict == Verdict::Protected { 0 } else { 1 })
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

/// `audit.csv`: every masked cell with its interval and verdict, and every
/// primary cell left published.
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
    header.extend(["audit_low", "audit_high", "verdict"].map(String::from));
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
            out.write_record(&row)?;
        }
    }
    out.flush()
}
