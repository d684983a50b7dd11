//! τ-ARGUS files out (`--tau-argus`): per table, the cells with τ-ARGUS's
//! status numbers in its code-value layout (`<table>.txt`: `"code1",
//! "code2",value,status`, as τ-ARGUS writes with option AS+), and the
//! protected table as τ-ARGUS tabular input (`<table>.tab` with its
//! metadata `<table>.rda`: codes, value, contributor count, status S/U).
//! Internal files: like `cells.csv`, they hold masked values and counts.
//!
//! Status numbers (τ-ARGUS manual): 1 safe, 3 unsafe by a dominance or p%
//! rule, 5 unsafe by the frequency rule, 11 secondary. Cells without
//! contribution do not exist in cellmask's tables, so 14 (empty) is never
//! written; `cellmask audit` reads 13 and 14 as no cell.

use std::fmt::Write as _;

use crate::hierarchy::{Hierarchy, NodeId};
use crate::money::format_amount;
use crate::table::{RuleSet, Status, Table};

/// A cell's τ-ARGUS status number.
pub fn status_number(status: Status, rules: RuleSet) -> u8 {
    match status {
        Status::Published => 1,
        Status::Secondary => 11,
        Status::Primary if rules == RuleSet::FREQUENCY => 5,
        Status::Primary => 3,
    }
}

/// A table's file name stem: its split values joined by `-` (`table` with none).
pub fn stem(table: &Table) -> String {
    if table.split.is_empty() {
        "table".to_string()
    } else {
        table
            .split
            .iter()
            .map(|s| {
                s.chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("-")
    }
}

fn quoted(code: &str) -> String {
    format!("\"{}\"", code.replace('"', ""))
}

/// The code-value file with status numbers (`<table>.txt`).
pub fn code_value(table: &Table, decimals: u32) -> String {
    let mut out = String::new();
    for c in &table.cells {
        let codes: Vec<String> = table.codes(c.key).iter().map(|s| quoted(s)).collect();
        let _ = writeln!(
            out,
            "{},{},{}",
            codes.join(","),
            format_amount(c.value, decimals),
            status_number(c.status, c.rules)
        );
    }
    out
}

/// The tabular input (`<table>.tab`, `;`-separated): codes, value,
/// contributors, status `S` (published) or `U` (masked).
pub fn tab(table: &Table, decimals: u32) -> String {
    let mut out = String::new();
    for c in &table.cells {
        let codes: Vec<String> = table.codes(c.key).iter().map(|s| quoted(s)).collect();
        let status = if c.status.is_masked() { "U" } else { "S" };
        let _ = writeln!(
            out,
            "{};{};{};{status}",
            codes.join(";"),
            format_amount(c.value, decimals),
            c.contributors
        );
    }
    out
}

/// The metadata of [`tab`] (`<table>.rda`): one spanning variable per
/// dimension (total code its root), the value, the frequency, the status.
pub fn rda(table: &Table, dim_names: &[String], decimals: u32) -> String {
    let mut out = String::from("   <SEPARATOR> \";\"\n   <SAFE> \"S\"\n   <UNSAFE> \"U\"\n");
    for (k, h) in table.dims.iter().enumerate() {
        let name = dim_names
            .get(k)
            .cloned()
            .unwrap_or_else(|| format!("dim{k}"));
        let _ = writeln!(
            out,
            "{name}\n    <RECODEABLE>\n    <TOTCODE> {}\n    <HIERARCHICAL>\n    \
             <HIERCODELIST> \"tau_{name}.hrc\"\n    <HIERLEADSTRING> \"@\"",
            quoted(h.code(h.root()))
        );
    }
    let _ = writeln!(
        out,
        "value\n    <NUMERIC>\n    <DECIMALS> {decimals}\nfrequency\n    <FREQUENCY>\nstatus\n    <STATUS>"
    );
    out
}

/// A dimension's tree as a τ-ARGUS `.hrc` file: every node but the root,
/// in preorder, one `@` per level below the first.
pub fn hrc(h: &Hierarchy) -> String {
    let mut out = String::new();
    let mut stack: Vec<(NodeId, usize)> =
        h.children(h.root()).iter().rev().map(|&c| (c, 0)).collect();
    while let Some((n, depth)) = stack.pop() {
        let _ = writeln!(out, "{}{}", "@".repeat(depth), h.code(n));
        stack.extend(h.children(n).iter().rev().map(|&c| (c, depth + 1)));
    }
    out
}
