//! `cellmask batch`: many records files protected in one run, each into its
//! own folder, in parallel; a failing file is reported and never stops or
//! touches the others. A summary table is printed and written as
//! `summary.csv`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::protect::{self, Options};
use crate::report::Report;
use crate::rules::Rules;
use crate::schedule::largest_first;
use crate::write::AtomicDir;

/// What happened to one file.
pub struct FileOutcome {
    /// The input as given (or found in a folder or by a pattern).
    pub input: PathBuf,
    /// Its output folder's name, under the batch's `--out`.
    pub name: String,
    pub seconds: f64,
    /// The run's report, or why the file failed (input error, I/O...).
    pub result: std::result::Result<Report, Error>,
}

impl FileOutcome {
    /// `protected`, `not_protected` or `failed`.
    pub fn verdict(&self) -> &'static str {
        match &self.result {
            Ok(r) if r.verdict == crate::report::Verdict::Protected => "protected",
            Ok(_) => "not_protected",
            Err(_) => "failed",
        }
    }

    /// Exit code of the file alone, as `protect` would give it.
    pub fn exit_code(&self) -> i32 {
        match &self.result {
            Ok(r) if r.verdict == crate::report::Verdict::Protected => 0,
            Ok(_) => 1,
            Err(e) => e.exit_code(),
        }
    }
}

/// The files named by the arguments: files as given, every `.csv` file of
/// a folder (sorted), and the matches of a pattern with `*`, `?` or `[`.
pub fn expand_inputs(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for a in args {
        let text = a.to_string_lossy();
        if a.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(a)
                .map_err(|e| Error::io(a, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv"))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::usage(format!(
                    "{}: no .csv file in this folder",
                    a.display()
                )));
            }
            out.extend(found);
        } else if text.contains(['*', '?', '[']) {
            let paths =
                glob::glob(&text).map_err(|e| Error::usage(format!("{text}: bad pattern: {e}")))?;
            let mut found: Vec<PathBuf> = paths
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::usage(format!("{text}: no file matches")));
            }
            out.extend(found);
        } else {
            out.push(a.clone());
        }
    }
    Ok(out)
}

/// Output folder names: each file's name without its extension; two inputs
/// with the same name are a usage error (their outputs would collide).
fn folder_names(inputs: &[PathBuf]) -> Result<Vec<String>> {
    let mut seen = BTreeSet::new();
    inputs
        .iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty() && s != "." && s != "..")
                .ok_or_else(|| Error::usage(format!("{}: not a file name", p.display())))?;
            if name == "summary" || !seen.insert(name.clone()) {
                return Err(Error::usage(format!(
                    "{}: another input has the name '{name}' (or it is 'summary'); outputs would collide",
                    p.display()
                )));
            }
            Ok(name)
        })
        .collect()
}

/// Protects every file into `out/NAME/`; returns the outcomes in input
/// order. Files and their tables run in parallel.
pub fn run(
    rules: &Rules,
    args: &[PathBuf],
    out: &Path,
    opts: &Options,
) -> Result<Vec<FileOutcome>> {
    let inputs = expand_inputs(args)?;
    let names = folder_names(&inputs)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let bar = Progress::files(inputs.len() as u64, opts.quiet);
    let tables_done = AtomicUsize::new(0);
    let inner = Options {
        quiet: true,
        ..opts.clone()
    };
    // The biggest files first, so that no big file runs alone at the end.
    let mut jobs: Vec<(&PathBuf, &String, u64)> = inputs
        .iter()
        .zip(&names)
        .map(|(p, n)| (p, n, std::fs::metadata(p).map_or(0, |m| m.len())))
        .collect();
    let outcomes: Vec<FileOutcome> = largest_first(
        &mut jobs,
        |j| j.2 as usize,
        |_, &mut (input, name, _)| {
            let started = Instant::now();
            let result = protect_one(rules, input, &out.join(name), &inner);
            if let Ok(r) = &result {
                let n = tables_done.fetch_add(r.totals.tables, Ordering::Relaxed) + r.totals.tables;
                bar.set_message(format!("{n} tables done"));
            }
            bar.inc(1);
            FileOutcome {
                input: input.clone(),
                name: name.clone(),
                seconds: started.elapsed().as_secs_f64(),
                result,
            }
        },
    );
    bar.finish();
    let mut dir = AtomicDir::new(out)?;
    dir.write("summary.csv", |w| summary_csv(w, &outcomes))?;
    // The batch at a glance: counts of cells only (no value, masked or not).
    let rows: Vec<(String, String, usize, usize)> = outcomes
        .iter()
        .map(|o| {
            let (cells, masked) = match &o.result {
                Ok(r) => (r.totals.cells, r.totals.primary + r.totals.secondary),
                Err(_) => (0, 0),
            };
            (o.name.clone(), o.verdict().to_string(), cells, masked)
        })
        .collect();
    let page = crate::html::batch_report(&rows);
    dir.write("report.html", |w| w.write_all(page.as_bytes()))?;
    dir.commit()?;
    Ok(outcomes)
}

/// One file: protect and write its outputs. When it fails on its input, a
/// release file left by an earlier run in its folder is removed, so the
/// folder never holds a release that this run did not make.
fn protect_one(
    rules: &Rules,
    input: &Path,
    dir: &Path,
    opts: &Options,
) -> std::result::Result<Report, Error> {
    match protect::run(rules, input, opts) {
        Ok(mut run) => {
            protect::write_outputs(
                &mut run,
                dir,
                rules.input.decimals,
                opts.release,
                opts.tau_argus,
            )?;
            Ok(run.report)
        }
        Err(e) => {
            if dir.join("published.csv").exists() {
                let mut d = AtomicDir::new(dir)?;
                d.remove("published.csv");
                d.commit()?;
            }
            Err(e)
        }
    }
}

/// The summary's columns, one row per file.
const COLUMNS: [&str; 11] = [
    "file",
    "output",
    "tables",
    "cells",
    "primary",
    "secondary",
    "regrouped_codes",
    "masked_share",
    "verdict",
    "seconds",
    "reason",
];

fn row(o: &FileOutcome) -> Vec<String> {
    let mut r = vec![o.input.display().to_string(), o.name.clone()];
    match &o.result {
        Ok(rep) => {
            let c = &rep.totals;
            r.extend([
                c.tables.to_string(),
                c.cells.to_string(),
                c.primary.to_string(),
                c.secondary.to_string(),
                rep.regroup
                    .as_ref()
                    .map_or(0, |g| g.codes_regrouped)
                    .to_string(),
                format!("{:.6}", c.masked_share),
            ]);
        }
        Err(_) => r.extend(std::iter::repeat_n(String::new(), 6)),
    }
    r.push(o.verdict().to_string());
    r.push(format!("{:.2}", o.seconds));
    r.push(match &o.result {
        Ok(rep) if rep.verdict != crate::report::Verdict::Protected => {
            rep.message.lines().next().unwrap_or("").to_string()
        }
        Ok(_) => String::new(),
        Err(e) => e.to_string().lines().next().unwrap_or("").to_string(),
    });
    r
}

/// `summary.csv`: one row per file (masked share of value as a fraction).
pub fn summary_csv(w: &mut dyn Write, outcomes: &[FileOutcome]) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(COLUMNS)?;
    for o in outcomes {
        out.write_record(row(o))?;
    }
    out.flush()
}

/// The summary as an aligned text table, with the failures' reasons below.
pub fn summary_text(outcomes: &[FileOutcome]) -> String {
    let rows: Vec<Vec<String>> = outcomes.iter().map(row).collect();
    let shown = &COLUMNS[1..COLUMNS.len() - 1];
    let mut widths: Vec<usize> = shown.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (k, w) in widths.iter_mut().enumerate() {
            *w = (*w).max(r[k + 1].len());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(k, (c, w))| {
                if k == 0 || k == 7 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut lines = vec![line(shown.to_vec())];
    for r in &rows {
        lines.push(line(r[1..r.len() - 1].iter().map(String::as_str).collect()));
    }
    let failed: Vec<String> = outcomes
        .iter()
        .zip(&rows)
        .filter(|(o, _)| o.exit_code() != 0)
        .map(|(o, r)| format!("{}: {}", o.input.display(), r[r.len() - 1]))
        .collect();
    let ok = outcomes.len() - failed.len();
    lines.push(format!("{ok} of {} file(s) protected", outcomes.len()));
    lines.extend(failed);
    lines.join("\n")
}

/// The batch's exit code: 0 when every file is protected, else the worst
/// file's (2 for bad input, 1 for a protection failure).
pub fn exit_code(outcomes: &[FileOutcome]) -> i32 {
    outcomes
        .iter()
        .map(FileOutcome::exit_code)
        .max()
        .unwrap_or(0)
}
