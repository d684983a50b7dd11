//! `cellmask report`: one page of fact sheets over several releases of the
//! same territories or departments (a DROM year's imports and exports are
//! separate releases, made with different rules).

use std::path::{Path, PathBuf};

use crate::audit::command::load_tables;
use crate::error::{Error, Result};
use crate::html::{releases_report, Part};
use crate::rules::Rules;
use crate::table::Table;
use crate::write::AtomicDir;

/// Writes `out/report.html` for the release folders `releases`, read with
/// `rules` (one per release, in order) or, when none are given, with the
/// shipped rule set each release's `report.json` names.
pub fn run(releases: &[PathBuf], rules: &[PathBuf], out: &Path, quiet: bool) -> Result<i32> {
    if !rules.is_empty() && rules.len() != releases.len() {
        return Err(Error::usage(format!(
            "{} release(s) but {} --rules: give one per release, in the same order, or none",
            releases.len(),
            rules.len()
        )));
    }
    let mut loaded: Vec<(String, Rules, Vec<Table>)> = Vec::new();
    for (i, dir) in releases.iter().enumerate() {
        let rules = match rules.get(i) {
            Some(r) => Rules::load(r)?,
            None => Rules::load(Path::new(&rules_name(dir)?)).map_err(|e| {
                Error::usage(format!(
                    "{}: its rules ({e}); give them with --rules",
                    dir.display()
                ))
            })?,
        };
        let published = dir.join("published.csv");
        if !published.is_file() {
            return Err(Error::usage(format!(
                "{}: no published.csv (only a protected release has one)",
                dir.display()
            )));
        }
        let regroup = Some(dir.join("regroup.csv")).filter(|p| p.is_file());
        let (tables, _) = load_tables(&rules, &published, None, regroup.as_deref())?;
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        loaded.push((name, rules, tables));
    }
    let decimals = loaded.first().map_or(2, |l| l.1.input.decimals);
    if loaded.iter().any(|l| l.1.input.decimals != decimals) {
        return Err(Error::usage(
            "the releases' rules give values different decimals",
        ));
    }
    let dim_names: Vec<Vec<String>> = loaded
        .iter()
        .map(|l| l.1.dimensions.iter().map(|d| d.name.clone()).collect())
        .collect();
    let parts: Vec<Part> = loaded
        .iter()
        .zip(&dim_names)
        .map(|((name, rules, tables), dims)| Part {
            name: name.clone(),
            tables,
            split_names: &rules.input.split,
            dim_names: dims,
            flow: rules
                .input
                .keep
                .get("flow")
                .filter(|v| v.len() == 1)
                .map(|v| v[0].clone()),
        })
        .collect();
    let page = releases_report(&parts, decimals);
    let mut d = AtomicDir::new(out)?;
    d.write("report.html", |w| w.write_all(page.as_bytes()))?;
    d.commit()?;
    if !quiet {
        println!(
            "fact sheets of {} release(s) written to {}",
            releases.len(),
            out.join("report.html").display()
        );
    }
    Ok(0)
}

/// The rules a release's `report.json` names.
fn rules_name(dir: &Path) -> Result<String> {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::at(&path, None, e.to_string()))?;
    v["rules"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::at(&path, None, "no 'rules' name"))
}
