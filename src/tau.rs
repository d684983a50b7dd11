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

/// One variable of a τ-ARGUS metadata file (`.rda`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdaVar {
    pub name: String,
    /// 1-based start column (fixed-width files only).
    pub start: Option<usize>,
    pub width: usize,
    pub recodeable: bool,
    pub numeric: bool,
    pub decimals: u32,
    /// `<HIERCODELIST>`: the `.hrc` file of a hierarchy.
    pub hrc: Option<String>,
    /// `<HIERLEVELS>`: digits per level of a code-digit hierarchy.
    pub levels: Vec<usize>,
    pub totcode: Option<String>,
    pub holding: bool,
    /// `<FREQUENCY>`: a tabular file's contributor counts.
    pub frequency: bool,
    /// `<MAXSCORE>`: one of a tabular file's largest contributions.
    pub maxscore: bool,
}

/// A τ-ARGUS metadata file: the separator of a free-format file (None:
/// fixed width) and its variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rda {
    pub separator: Option<String>,
    pub vars: Vec<RdaVar>,
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').to_string()
}

impl Rda {
    /// Reads a `.rda` text; an error names its line.
    pub fn parse(text: &str) -> std::result::Result<Rda, (usize, String)> {
        let mut rda = Rda::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let n = i + 1;
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('<') {
                let (tag, arg) = rest.split_once('>').ok_or((n, "unclosed <".to_string()))?;
                let arg = arg.trim();
                let tag = tag.to_ascii_uppercase();
                if tag == "SEPARATOR" {
                    rda.separator = Some(unquote(arg));
                    continue;
                }
                let var = rda
                    .vars
                    .last_mut()
                    .ok_or((n, format!("<{tag}> before any variable")))?;
                match tag.as_str() {
                    "RECODEABLE" => var.recodeable = true,
                    "NUMERIC" => var.numeric = true,
                    "DECIMALS" => {
                        var.decimals = arg.parse().map_err(|_| (n, format!("<DECIMALS> {arg}")))?
                    }
                    "HIERCODELIST" => var.hrc = Some(unquote(arg)),
                    "HIERLEVELS" => {
                        var.levels = arg
                            .split_whitespace()
                            .map(|d| {
                                d.parse::<usize>()
                                    .map_err(|_| (n, format!("<HIERLEVELS> {arg}")))
                            })
                            .collect::<std::result::Result<Vec<_>, _>>()?
                            .into_iter()
                            .filter(|&d| d > 0)
                            .collect()
                    }
                    "TOTCODE" => var.totcode = Some(unquote(arg)),
                    "HOLDING" => var.holding = true,
                    "FREQUENCY" => var.frequency = true,
                    "MAXSCORE" => var.maxscore = true,
                    // Labels, distances, weights, requests, lead strings...: not needed.
                    _ => {}
                }
                continue;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |k: usize| -> std::result::Result<usize, (usize, String)> {
                f.get(k).and_then(|v| v.parse().ok()).ok_or((
                    n,
                    format!(
                        "variable line '{line}': expected a number in field {}",
                        k + 1
                    ),
                ))
            };
            let (start, width) = if rda.separator.is_some() {
                (None, num(1).unwrap_or(0))
            } else {
                (Some(num(1)?), num(2)?)
            };
            rda.vars.push(RdaVar {
                name: f[0].to_string(),
                start,
                width,
                ..RdaVar::default()
            });
        }
        if rda.vars.is_empty() {
            return Err((1, "no variable".to_string()));
        }
        Ok(rda)
    }

    /// The variable named `name`.
    pub fn var(&self, name: &str) -> Option<&RdaVar> {
        self.vars.iter().find(|v| v.name == name)
    }

    /// A τ-ARGUS data file (`.asc`) as CSV: a header (`record`, then every
    /// variable), one row per record numbered from 1 (`record` is the
    /// contributor: τ-ARGUS microdata has one record per respondent); line
    /// `n` of the data file is line `n + 1` of the CSV, blank ones included.
    pub fn asc_to_csv(&self, asc: &[u8]) -> std::result::Result<Vec<u8>, (usize, String)> {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::with_capacity(asc.len() * 2));
        let mut header = vec!["record".to_string()];
        header.extend(self.vars.iter().map(|v| v.name.clone()));
        w.write_record(&header).map_err(|e| (0, e.to_string()))?;
        let text = String::from_utf8_lossy(asc);
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                // A blank row: the CSV keeps the data file's line numbers (+1, the header).
                w.write_record([""]).map_err(|e| (i + 1, e.to_string()))?;
                continue;
            }
            let mut row = vec![(i + 1).to_string()];
            match &self.separator {
                Some(sep) => row.extend(line.split(sep.as_str()).map(unquote)),
                None => {
                    for v in &self.vars {
                        let s = v.start.unwrap_or(1).saturating_sub(1);
                        let field = line.get(s..(s + v.width).min(line.len())).unwrap_or("");
                        row.push(field.trim().to_string());
                    }
                }
            }
            if row.len() != self.vars.len() + 1 {
                return Err((
                    i + 1,
                    format!(
                        "{} fields, the metadata has {} variables",
                        row.len() - 1,
                        self.vars.len()
                    ),
                ));
            }
            w.write_record(&row).map_err(|e| (i + 1, e.to_string()))?;
        }
        w.into_inner().map_err(|e| (0, e.to_string()))
    }

    /// A rules file equivalent to this metadata for a table of
    /// `dimensions` on `value` (`rda_file`: the name the rules give it).
    pub fn rules_toml(
        &self,
        rda_file: &str,
        dimensions: &[String],
        value: &str,
    ) -> std::result::Result<String, String> {
        let v = self
            .var(value)
            .ok_or_else(|| format!("no variable '{value}' in the metadata"))?;
        let name = rda_file.trim_end_matches(".rda");
        let mut out = format!(
            "# From the τ-ARGUS metadata {rda_file}: edit freely.\nname = \"{name}\"\n\n[input]\n"
        );
        let frequency = self.vars.iter().find(|v| v.frequency);
        let tops: Vec<String> = self
            .vars
            .iter()
            .filter(|v| v.maxscore)
            .map(|v| format!("\"{}\"", v.name))
            .collect();
        match frequency {
            // Tabular metadata: cells are read from the .tab file.
            Some(f) => {
                let _ = write!(
                    out,
                    "rda = \"{rda_file}\"          # cells are read from the .tab file through it\n\
                     frequency = \"{}\"             # each cell's contributors\n\
                     top = [{}]             # each cell's largest contributions\n",
                    f.name,
                    tops.join(", ")
                );
            }
            None => {
                let contributor = self
                    .vars
                    .iter()
                    .find(|v| v.holding)
                    .map_or("record".to_string(), |h| h.name.clone());
                let _ = write!(
                    out,
                    "rda = \"{rda_file}\"          # records are read from the .asc file through it\n\
                     contributor = \"{contributor}\"\n"
                );
            }
        }
        let _ = write!(out, "value = \"{value}\"\ndecimals = {}\n", v.decimals);
        for d in dimensions {
            let var = self
                .var(d)
                .ok_or_else(|| format!("no variable '{d}' in the metadata"))?;
            let root = var.totcode.clone().unwrap_or_else(|| "Total".to_string());
            let _ = write!(out, "\n[[dimension]]\nname = \"{d}\"\nroot = \"{root}\"\n");
            if let Some(h) = &var.hrc {
                let _ = writeln!(out, "hrc = \"{h}\"");
            } else if !var.levels.is_empty() {
                let mut acc = 0;
                let lengths: Vec<String> = var
                    .levels
                    .iter()
                    .map(|l| {
                        acc += l;
                        acc.to_string()
                    })
                    .collect();
                let _ = writeln!(out, "prefix = [{}]", lengths.join(", "));
            } else {
                let _ = writeln!(out, "flat = true");
            }
        }
        let dominance = if frequency.is_some() && tops.is_empty() {
            "# dominance and p% need the largest contributions (<MAXSCORE> fields)\n"
        } else {
            "dominance = [{ n = 1, k = 85 }]\n"
        };
        let _ = write!(
            out,
            "\n[primary]\nmin_contributors = 3\n{dominance}# p_percent = 15\n\n\
             [protection]\nsafety_range = 10\n"
        );
        Ok(out)
    }
}
