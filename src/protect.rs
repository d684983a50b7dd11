//! The `protect` pipeline: read -> aggregate -> primary -> regroup ->
//! secondary -> audit -> write. Each stage lives in its own module; this
//! one only runs them in order, times them and decides what may be written.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::aggregate::aggregate;
use crate::audit::{final_audit, TableAudit};
use crate::certify::verify::Finding;
use crate::certify::{self, certificate::Certificate};
use crate::error::{Error, Result};
use crate::hierarchy::Hierarchy;
use crate::primary;
use crate::progress::Progress;
use crate::read::{read_from, Microdata, TableData};
use crate::regroup::{self, TableMap};
use crate::report::{
    table_reports, treated_by_name, CertificateReport, Counts, Report, TableReport, Verdict,
};
use crate::rules::{Method, RegroupPlan, Rules, TreatmentKind};
use crate::schedule::largest_first;
use crate::secondary;
use crate::table::{Status, Table};
use crate::write::{self, AtomicDir, ReleaseFormat};

/// Options shared by the commands that protect tables.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub quiet: bool,
    /// `--method`: overrides the rules' secondary method.
    pub method: Option<Method>,
    /// `--time-limit`: overrides the rules' time limit (seconds per table).
    pub time_limit: Option<f64>,
    /// `--no-regroup`: skip the rules' regrouping plan.
    pub no_regroup: bool,
    /// `--exact-intervals`: the final audit solves every masked cell's
    /// exact extremes instead of proving the verdict only.
    pub exact_intervals: bool,
    /// `--release-format`: how the release file is written.
    pub release: ReleaseFormat,
    /// `--tau-argus`: τ-ARGUS's layouts of every table beside the outputs.
    pub tau_argus: bool,
}

/// Everything a protect run produced, before writing.
pub struct Run {
    pub data_split_names: Vec<String>,
    pub dim_names: Vec<String>,
    /// Per dimension, whether the outputs carry its labels.
    pub dim_labels: Vec<bool>,
    pub tables: Vec<Table>,
    /// The regrouping plan applied, if any, and how each table was regrouped.
    pub regroup_plan: Option<RegroupPlan>,
    pub regroup: Vec<TableMap>,
    /// The release's certificate (internal: its anchor holds the masked
    /// cells' true values).
    pub certificate: Option<Certificate>,
    pub report: Report,
}

impl Run {
    pub fn protected(&self) -> bool {
        self.report.verdict == Verdict::Protected
    }
}

/// Runs the pipeline on a records file; nothing is written.
pub fn run(rules: &Rules, input: &Path, opts: &Options) -> Result<Run> {
    let mut timings = BTreeMap::new();
    let (data, mut tables) = read_tables(rules, input, opts.quiet, &mut timings)?;

    let t = Instant::now();
    tables.par_iter_mut().for_each(|table| {
        primary::apply(table, &rules.primary, &rules.protection);
    });
    timings.insert("primary", t.elapsed().as_millis() as u64);

    let t = Instant::now();
    let plan = rules.regroup.as_ref().filter(|_| !opts.no_regroup);
    let (maps, regroup_stats) = match plan {
        Some(plan) => {
            let (regrouped, maps, stats) = regroup_all(&data, &tables, rules, plan, opts.quiet)?;
            tables = regrouped;
            timings.insert("regroup", t.elapsed().as_millis() as u64);
            (maps, stats)
        }
        None => (Vec::new(), Vec::new()),
    };

    let t = Instant::now();
    let method = opts.method.unwrap_or(rules.secondary.method);
    let time_limit = opts.time_limit.or(rules.secondary.time_limit);
    let bar = Progress::items(tables.len() as u64, "secondary suppression", opts.quiet);
    let mut outcomes: Vec<secondary::Outcome> = largest_first(
        &mut tables,
        |t| t.cells.len(),
        |_, t| {
            let out =
                secondary::protect_table(t, &data.dim_names, &rules.secondary, method, time_limit)
                    .map_err(|e| {
                        Error::usage(format!("secondary suppression of table {:?}: {e}", t.split))
                    });
            bar.inc(1);
            out
        },
    )
    .into_iter()
    .collect::<Result<_>>()?;
    bar.finish();
    timings.insert("secondary", t.elapsed().as_millis() as u64);

    // Every protect run ends with the audit: it alone decides the verdict.
    // A method whose last check was of its final masking hands it over
    // instead of having it solved twice (unless exact intervals are asked).
    let t = Instant::now();
    let done: Vec<Option<TableAudit>> = outcomes
        .iter_mut()
        .map(|o| o.audit.take().filter(|a| a.exact || !opts.exact_intervals))
        .collect();
    let audits = audit_rest(&mut tables, done, opts)?;
    timings.insert("audit", t.elapsed().as_millis() as u64);

    // The audit's witnesses as a certificate, checked by code separate
    // from the search: no release without that check.
    let t = Instant::now();
    let (certificate, findings) = certify::certify(
        &rules.name,
        rules.input.decimals,
        &data.split_names,
        &data.dim_names,
        &tables,
        &audits,
        true,
    );
    timings.insert("certify", t.elapsed().as_millis() as u64);

    let mut table_reports: Vec<TableReport> =
        table_reports(&tables, &audits, &data.split_names, rules.input.decimals);
    for (r, o) in table_reports.iter_mut().zip(outcomes) {
        r.timings_ms.insert("secondary", o.millis);
        r.secondary = Some(o);
    }
    for r in table_reports.iter_mut() {
        let split: Vec<String> = data
            .split_names
            .iter()
            .map(|n| r.split[n].clone())
            .collect();
        r.treatments = treated_by_name(
            data.treated.iter().filter(|t| t.split == split),
            rules.input.decimals,
        );
    }
    let mut regroup_total: Option<regroup::Stats> = None;
    for (r, s) in table_reports.iter_mut().zip(regroup_stats) {
        regroup_total.get_or_insert_with(Default::default).add(&s);
        r.regroup = Some(s);
    }
    let (verdict, message) = verdict_with_certificate(
        &tables,
        &audits,
        &findings,
        &data.split_names,
        "; no release file written",
    );
    let report = Report {
        cellmask: env!("CARGO_PKG_VERSION"),
        command: "protect",
        rules: rules.name.clone(),
        input: input
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        verdict,
        message,
        rows: data.rows,
        rows_filtered: data.rows_filtered,
        totals: Counts::of(&tables, rules.input.decimals),
        regroup: regroup_total,
        treatments: treated_by_name(&data.treated, rules.input.decimals),
        tables: table_reports,
        certificate: certificate
            .as_ref()
            .map(|c| CertificateReport::of(c, &findings)),
        timings_ms: timings,
    };
    Ok(Run {
        data_split_names: data.split_names,
        dim_names: data.dim_names,
        dim_labels: rules.dimensions.iter().map(|d| d.labels).collect(),
        tables,
        regroup_plan: plan.cloned(),
        regroup: maps,
        certificate,
        report,
    })
}

/// The run's verdict: the audit's, and the certificate check's when the
/// audit passed (a claim the check rejects fails the run too; messages
/// name cells and kinds, never amounts).
pub fn verdict_with_certificate(
    tables: &[Table],
    audits: &[TableAudit],
    findings: &[Finding],
    split_names: &[String],
    consequence: &str,
) -> (Verdict, String) {
    let (verdict, message) = verdict_message(tables, audits, split_names, consequence);
    if verdict != Verdict::Protected || findings.is_empty() {
        return (verdict, message);
    }
    let mut lines = vec![format!(
        "not protected: the certificate check rejects {} claim(s){consequence}",
        findings.len()
    )];
    for f in findings.iter().take(10) {
        let place = match (tables.get(f.table), f.cell) {
            (Some(t), Some(c)) => format!(
                "{:?} [{}]",
                t.split,
                t.codes(t.cells[c as usize].key).join(" x ")
            ),
            (Some(t), None) => format!("{:?}", t.split),
            _ => "certificate".into(),
        };
        lines.push(format!("  {place}: {}", f.problem.describe()));
    }
    if findings.len() > 10 {
        lines.push(format!("  ... and {} more", findings.len() - 10));
    }
    (Verdict::NotProtected, lines.join("\n"))
}

/// Regroups every table (SPEC section 6): the tables at their published
/// codes with their primary secrets, their maps and what it did.
fn regroup_all(
    data: &Microdata,
    original: &[Table],
    rules: &Rules,
    plan: &RegroupPlan,
    quiet: bool,
) -> Result<(Vec<Table>, Vec<TableMap>, Vec<regroup::Stats>)> {
    let depth = regroup::mapping::unit_depth(rules, plan);
    let top = rules.primary.top_needed();
    let bar = Progress::items(data.tables.len() as u64, "regrouping", quiet);
    let out: Vec<(Table, TableMap, regroup::Stats)> = data
        .tables
        .par_iter()
        .zip(original)
        .map(|(td, orig)| {
            let fail = |e: String| Error::usage(format!("regrouping of table {:?}: {e}", td.split));
            let r = regroup::regroup_table(
                td,
                &data.hierarchies,
                plan,
                depth,
                &rules.primary,
                &rules.protection,
            )
            .map_err(fail)?;
            let mut table = aggregate_one(&r.data, &r.dims, top)?;
            primary::apply(&mut table, &rules.primary, &rules.protection);
            let mut stats = r.stats;
            stats.primary_before = orig.count(Status::Primary);
            stats.primary_after = table.count(Status::Primary);
            stats.primary_cleared = stats.primary_before.saturating_sub(stats.primary_after);
            bar.inc(1);
            Ok((table, r.map, stats))
        })
        .collect::<Result<_>>()?;
    bar.finish();
    let mut tables = Vec::with_capacity(out.len());
    let mut maps = Vec::with_capacity(out.len());
    let mut stats = Vec::with_capacity(out.len());
    for (t, m, s) in out {
        tables.push(t);
        maps.push(m);
        stats.push(s);
    }
    Ok((tables, maps, stats))
}

/// Audits the tables whose audit is not `done` yet (with protection
/// levels; exact intervals or the verdict's proof, as `opts` say), in
/// parallel.
fn audit_rest(
    tables: &mut [Table],
    done: Vec<Option<TableAudit>>,
    opts: &Options,
) -> Result<Vec<TableAudit>> {
    let masked: usize = tables
        .iter()
        .zip(&done)
        .filter(|(_, d)| d.is_none())
        .map(|(t, _)| t.cells.iter().filter(|c| c.status.is_masked()).count())
        .sum();
    let bar = Progress::cells(masked as u64, "audit", opts.quiet);
    let tick = |n: u64| bar.inc(n);
    let mut jobs: Vec<(&mut Table, Option<TableAudit>)> = tables.iter_mut().zip(done).collect();
    let out = largest_first(
        &mut jobs,
        |(t, _)| t.cells.len(),
        |_, (t, prior)| match prior.take() {
            Some(a) => Ok(a),
            None => final_audit(t, opts.exact_intervals, true, &tick)
                .map_err(|e| Error::usage(format!("audit of table {:?}: {e}", t.split))),
        },
    )
    .into_iter()
    .collect();
    bar.finish();
    out
}

/// Audits every table (in parallel, with a progress bar unless `quiet`);
/// protection levels are checked when the true values are known.
pub fn audit_all(
    tables: &mut [Table],
    check_protection: bool,
    exact: bool,
    quiet: bool,
) -> Result<Vec<TableAudit>> {
    // Progress in masked cells settled, over every table.
    let masked: usize = tables
        .iter()
        .map(|t| t.cells.iter().filter(|c| c.status.is_masked()).count())
        .sum();
    let bar = Progress::cells(masked as u64, "audit", quiet);
    let tick = |n: u64| bar.inc(n);
    let out = tables
        .par_iter_mut()
        .map(|t| {
            final_audit(t, exact, check_protection, &tick)
                .map_err(|e| Error::usage(format!("audit of table {:?}: {e}", t.split)))
        })
        .collect();
    bar.finish();
    out
}

/// The run's verdict and a message naming the first failing cells (codes
/// only, never contributors).
pub fn verdict_message(
    tables: &[Table],
    audits: &[TableAudit],
    split_names: &[String],
    consequence: &str,
) -> (Verdict, String) {
    let failing: usize = audits.iter().filter(|a| !a.passed()).count();
    if failing == 0 {
        return (
            Verdict::Protected,
            format!("protected: audit passed on {} table(s)", tables.len()),
        );
    }
    let mut lines = vec![format!(
        "not protected: the audit fails on {failing} of {} table(s){consequence}",
        tables.len()
    )];
    let mut shown = 0;
    let total: usize = audits.iter().map(|a| a.failures.len()).sum();
    'outer: for (t, a) in tables.iter().zip(audits) {
        for f in &a.failures {
            if shown == 10 {
                break 'outer;
            }
            let split: Vec<String> = split_names
                .iter()
                .zip(&t.split)
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            let cell = &t.cells[f.cell as usize];
            lines.push(format!(
                "  {} [{}]: {}",
                split.join(" "),
                t.codes(cell.key).join(" x "),
                f.kind.as_str()
            ));
            shown += 1;
        }
    }
    if total > shown {
        lines.push(format!("  ... and {} more failing cell(s)", total - shown));
    }
    (Verdict::NotProtected, lines.join("\n"))
}

/// Aggregates every table of a file, in parallel.
pub fn aggregate_all(data: &Microdata, rules: &Rules) -> Result<Vec<Table>> {
    let top = rules.primary.top_needed();
    data.tables
        .par_iter()
        .map(|t| aggregate_one(t, &data.hierarchies, top))
        .collect()
}

/// read -> aggregate: the tables of a records file, or of a file of cells
/// (read straight into tables, see [`crate::tabular`]); stage times go to
/// `timings`.
pub fn read_tables(
    rules: &Rules,
    input: &Path,
    quiet: bool,
    timings: &mut BTreeMap<&'static str, u64>,
) -> Result<(Microdata, Vec<Table>)> {
    let t = Instant::now();
    if let Some(cols) = &rules.input.cells {
        let read = crate::tabular::read_cells(input, rules, cols)?;
        timings.insert("read", t.elapsed().as_millis() as u64);
        return Ok(read);
    }
    let data = {
        let file = std::fs::File::open(input).map_err(|e| Error::io(input, e))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = Progress::bytes(len, "reading", quiet);
        let data = read_from(input, bar.wrap_read(file), rules)?;
        bar.finish();
        data
    };
    timings.insert("read", t.elapsed().as_millis() as u64);
    let t = Instant::now();
    let tables = aggregate_all(&data, rules)?;
    timings.insert("aggregate", t.elapsed().as_millis() as u64);
    Ok((data, tables))
}

/// Aggregates one table along the given trees.
pub fn aggregate_one(t: &TableData, dims: &[Arc<Hierarchy>], top: usize) -> Result<Table> {
    aggregate(t, dims, top).map_err(|_| {
        Error::usage(format!(
            "table {:?} has too many coordinates for one table; split it further",
            t.split
        ))
    })
}

/// Writes `cells.csv`, `report.json`, and `published.csv` only when the run
/// is protected (a stale `published.csv` is removed otherwise).
pub fn write_outputs(
    run: &mut Run,
    out: &Path,
    decimals: u32,
    release: ReleaseFormat,
    tau_argus: bool,
) -> Result<()> {
    let t = Instant::now();
    let mut dir = AtomicDir::new(out)?;
    let (s, tables) = (&run.data_split_names, &run.tables);
    let d = write::DimColumns {
        names: &run.dim_names,
        labels: &run.dim_labels,
    };
    // The two derived views, built side by side: why each secondary cell
    // is masked (cells.csv) and the release report.
    let (why, page) = rayon::join(
        || {
            run.certificate
                .as_ref()
                .map(|c| certify::why::of_tables(tables, c))
        },
        || {
            run.protected().then(|| {
                crate::html::release_report(&run.report, tables, s, &run.dim_names, decimals)
            })
        },
    );
    dir.write("cells.csv", |w| {
        write::cells_csv(w, s, d, tables, decimals, why.as_deref())
    })?;
    if run.protected() {
        let french = release == ReleaseFormat::CsvFr;
        dir.write("published.csv", |w| {
            write::published_csv(w, s, d, tables, decimals, french)
        })?;
    } else {
        dir.remove("published.csv");
    }
    match page {
        Some(page) => dir.write("report.html", |w| w.write_all(page.as_bytes()))?,
        None => dir.remove("report.html"),
    }
    if tau_argus {
        // Internal, like cells.csv: τ-ARGUS's layouts of every table.
        for t in tables.iter() {
            let stem = crate::tau::stem(t);
            dir.write(&format!("tau_{stem}.txt"), |w| {
                w.write_all(crate::tau::code_value(t, decimals).as_bytes())
            })?;
            dir.write(&format!("tau_{stem}.tab"), |w| {
                w.write_all(crate::tau::tab(t, decimals).as_bytes())
            })?;
            dir.write(&format!("tau_{stem}.rda"), |w| {
                w.write_all(crate::tau::rda(t, &run.dim_names, decimals).as_bytes())
            })?;
        }
        if let Some(t) = tables.first() {
            for (k, h) in t.dims.iter().enumerate() {
                let name = &run.dim_names[k];
                dir.write(&format!("tau_{name}.hrc"), |w| {
                    w.write_all(crate::tau::hrc(h).as_bytes())
                })?;
            }
        }
    }
    dir.remove_stale("tau_");
    if run.protected() && release == ReleaseFormat::Xlsx {
        let book = write::published_xlsx(d, tables, decimals)
            .map_err(|e| Error::usage(format!("published.xlsx: {e}")))?;
        dir.write("published.xlsx", |w| w.write_all(&book))?;
    } else {
        dir.remove("published.xlsx");
    }
    match &run.certificate {
        Some(c) => dir.write("certificate.json", |w| c.write(w))?,
        None => dir.remove("certificate.json"),
    }
    match &run.regroup_plan {
        Some(plan) => {
            let maps = &run.regroup;
            dir.write("regroup.csv", |w| {
                regroup::mapping::write_csv(w, s, d.names, plan, maps)
            })?;
        }
        None => dir.remove("regroup.csv"),
    }
    run.report
        .timings_ms
        .insert("write", t.elapsed().as_millis() as u64);
    let report = &run.report;
    dir.write("report.json", |w| write::json(w, report))?;
    dir.commit()
}

/// A short human summary of a run, in statisticians' words: rows read and
/// kept, cells published and masked (share of cells and of value), primary
/// secrets counted once each by the first rule they break (rules no cell
/// breaks not shown), and a warning where over half a table is masked.
/// Never a contributor id, value or count.
pub fn summary(run: &Run) -> String {
    let c = &run.report.totals;
    let mut by_rule = Vec::new();
    for (name, n) in c.primary_first_rule.iter().filter(|(_, n)| *n > 0) {
        let more = if by_rule.is_empty() { "" } else { "more " };
        by_rule.push(format!("{n} {more}by {name}"));
    }
    let ms: u64 = run.report.timings_ms.values().sum();
    let mut methods: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &run.report.tables {
        if let Some(o) = &t.secondary {
            *methods.entry(o.method).or_default() += 1;
        }
    }
    let methods: Vec<String> = methods
        .iter()
        .map(|(m, n)| format!("{m} on {n} table(s)"))
        .collect();
    let regrouped = match &run.report.regroup {
        Some(r) => format!(
            "regrouping: {} of {} codes regrouped, {} partner moves, primary secrets {} -> {}; ",
            r.codes_regrouped, r.codes, r.partner_moves, r.primary_before, r.primary_after
        ),
        None => String::new(),
    };
    let certified = match &run.report.certificate {
        Some(c) if c.rejected_claims == 0 => format!(
            "; certificate: {} witness(es), every claim checked exactly",
            c.witnesses
        ),
        Some(c) => format!("; certificate: {} claim(s) rejected", c.rejected_claims),
        None => String::new(),
    };
    let percent = |part: usize, all: usize| {
        if all == 0 {
            0.0
        } else {
            100.0 * part as f64 / all as f64
        }
    };
    // Rows of the file: those tabulated, outside the keep filter and left
    // out, less the mirror copies the rules added.
    let treated = |kind: TreatmentKind| -> u64 {
        run.report
            .treatments
            .values()
            .filter(|t| t.kind == kind)
            .map(|t| t.rows)
            .sum()
    };
    let (mirrored, excluded) = (
        treated(TreatmentKind::Mirror),
        treated(TreatmentKind::Exclude),
    );
    let rows = (run.report.rows + run.report.rows_filtered + excluded).saturating_sub(mirrored);
    let mut why = Vec::new();
    if mirrored > 0 {
        why.push(format!("{mirrored} mirrored in"));
    }
    if excluded > 0 {
        why.push(format!("{excluded} left out"));
    }
    if run.report.rows_filtered > 0 {
        why.push(format!(
            "{} outside the tables' filter",
            run.report.rows_filtered
        ));
    }
    let kept = if why.is_empty() {
        String::new()
    } else {
        format!(", {} tabulated ({})", run.report.rows, why.join(", "))
    };
    let by_rule = if by_rule.is_empty() {
        String::new()
    } else {
        format!(": {}", by_rule.join(", "))
    };
    let mut text = format!(
        "{rules_name}: {rows} rows read{kept}, {tables} table(s), {cells} cells; {regrouped}{primary} primary secrets{by_rule}; {secondary} secondary ({methods}); masked {masked} of {cells} cells ({cell_share:.1}%), {share:.2}% of the value; {secs:.2}s{certified}",
        methods = methods.join(", "),
        rules_name = run.report.rules,
        tables = c.tables,
        cells = c.cells,
        primary = c.primary,
        secondary = c.secondary,
        masked = c.masked_cells,
        cell_share = percent(c.masked_cells, c.cells),
        share = c.masked_share * 100.0,
        secs = ms as f64 / 1000.0,
    );
    // Over half a table masked: the release tells little; say what helps.
    let heavy: Vec<String> = run
        .report
        .tables
        .iter()
        .filter(|t| 2 * t.counts.masked_cells > t.counts.cells || t.counts.masked_share > 0.5)
        .map(|t| {
            let split: Vec<String> = t.split.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "[{}] {:.0}% of cells, {:.0}% of value",
                split.join(" "),
                percent(t.counts.masked_cells, t.counts.cells),
                t.counts.masked_share * 100.0
            )
        })
        .collect();
    if !heavy.is_empty() {
        let shown = heavy.len().min(5);
        let more = if heavy.len() > shown {
            format!(" and {} more", heavy.len() - shown)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "\nwarning: over half masked in {} table(s): {}{more}; publish at a coarser level \
             or regroup codes (a [regroup] plan), or accept a thin release",
            heavy.len(),
            heavy[..shown].join("; ")
        ));
    }
    text.push('\n');
    text.push_str(&run.report.message);
    text
}
