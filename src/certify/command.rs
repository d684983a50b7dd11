//! `cellmask verify`: checks a release's certificate in exact arithmetic,
//! with no LP solver.

use std::path::Path;

use crate::audit::command::load_tables;
use crate::error::Result;
use crate::rules::Rules;

use super::certificate::Certificate;
use super::verify::verify;

/// Checks `certificate` against the release `published` (with the
/// records, the protection levels too); prints which cells fail and how
/// (kinds, no amounts: `cellmask audit` writes shortfalls to its internal
/// `audit.csv`); returns the exit
/// code (0 every claim holds, 1 some fail).
pub fn run(
    rules: &Rules,
    published: &Path,
    certificate: &Path,
    input: Option<&Path>,
    regroup: Option<&Path>,
    quiet: bool,
) -> Result<i32> {
    let cert = Certificate::read(certificate)?;
    let (tables, _) = load_tables(rules, published, input, regroup)?;
    let findings = verify(&tables, &cert, input.is_some());
    let (witnesses, moves) = cert.size();
    let masked: usize = tables
        .iter()
        .map(|t| t.cells.iter().filter(|c| c.status.is_masked()).count())
        .sum();
    if findings.is_empty() {
        if !quiet {
            let what = if input.is_some() {
                "no exact disclosure and every primary cell's protection levels reached"
            } else {
                "no exact disclosure (protection levels not checked: they need --input)"
            };
            println!(
                "verified: every claim holds on {} table(s), {masked} masked cell(s), {witnesses} witness(es), {moves} move(s): {what}",
                tables.len()
            );
        }
        return Ok(0);
    }
    if !quiet {
        println!("not verified: {} claim(s) fail", findings.len());
        for f in findings.iter().take(20) {
            let place = match (tables.get(f.table), f.cell) {
                (Some(t), Some(c)) => {
                    let split: Vec<String> = rules
                        .input
                        .split
                        .iter()
                        .zip(&t.split)
                        .map(|(n, v)| format!("{n}={v}"))
                        .collect();
                    format!(
                        "{} [{}]",
                        split.join(" "),
                        t.codes(t.cells[c as usize].key).join(" x ")
                    )
                }
                (Some(t), None) => format!("table {:?}", t.split),
                _ => "certificate".into(),
            };
            println!("  {place}: {}", f.problem.describe());
        }
        if findings.len() > 20 {
            println!("  ... and {} more", findings.len() - 20);
        }
    }
    Ok(1)
}
