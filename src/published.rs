//! Reading a masked table for `cellmask audit`, whoever produced it.
//!
//! A published table is a CSV with the split and dimension columns of the
//! rules, a `value` column and optionally a `status` column, or a
//! header-less τ-ARGUS file: its code-value output with status numbers, or
//! a table written with `SO+` (status letters). A status is read as
//! cellmask, τ-ARGUS, rtauargus, sdcTable or GaussSuppression write it
//! ([`status_means`]); with no status column, a cell is masked when its
//! value is empty or a marker such as `x`, `s`, `.`, `-`, `c`, `D` or `NA`. Every cell of every level is one row; a
//! cell that has data but no row is taken as masked; a row for a cell
//! without records (a structural zero) is accepted when masked or 0.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use crate::csv_input::{detect_delimiter, Config};
use crate::error::{Diagnostics, Error, Result};
use crate::hierarchy::{Hierarchy, NodeId};
use crate::money::parse_amount;
use crate::read::MAX_DIMS;
use crate::regroup::mapping::unit_depth;
use crate::regroup::TableMap;
use crate::rules::{HierarchySource, Rules};
use crate::table::{Cell, RuleSet, Status, Table};

/// Values that mean "masked" in a value column (compared case-insensitively).
pub const MASK_MARKERS: &[&str] = &[
    "", "x", "s", ".", "..", "-", "c", "d", "(d)", "na", "n/a", "*", "conf",
];

/// What a status says about a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    Published,
    Masked,
    /// No contribution: the cell does not exist (τ-ARGUS 13, 14).
    Empty,
}

/// Reads a status as cellmask, τ-ARGUS, rtauargus, sdcTable and
/// GaussSuppression write it (case-insensitive): published for
/// `published`, `safe`, τ-ARGUS 1 (safe), 2 (safe, manual) and 10
/// (protected), rtauargus `V`, sdcTable `s` and `z`, τ-ARGUS tabular `S`
/// and `P`, GaussSuppression `FALSE`; empty for τ-ARGUS 13 and 14 and
/// the `E` of its written tables; masked for anything else (`masked`,
/// `primary`, `secondary`, τ-ARGUS 3-9, 11, 12 and its tables' `U` and
/// `M`, rtauargus `A` `B` `C` `D`, sdcTable `u` and `x`, `TRUE`...).
pub fn status_means(status: &str) -> Meaning {
    match status.trim().to_ascii_lowercase().as_str() {
        "published" | "safe" | "1" | "2" | "10" | "v" | "s" | "z" | "p" | "false" => {
            Meaning::Published
        }
        "13" | "14" | "e" => Meaning::Empty,
        _ => Meaning::Masked,
    }
}

/// One row of a published table.
struct Row {
    line: u64,
    split: Vec<String>,
    codes: Vec<String>,
    /// `None` when masked.
    value: Option<i64>,
}

/// The cells of a published file, by split values then codes.
pub struct PublishedFile {
    rows: Vec<Row>,
}

/// Reads a published table's rows, checking columns and values.
pub fn read_published(path: &Path, rules: &Rules) -> Result<PublishedFile> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = BufReader::new(file);
    if buf
        .fill_buf()
        .map_err(|e| Error::io(path, e))?
        .starts_with(b"\xEF\xBB\xBF")
    {
        buf.consume(3);
    }
    let head = buf.fill_buf().map_err(|e| Error::io(path, e))?;
    let delimiter = detect_delimiter(head.split(|&b| b == b'\n').next().unwrap_or(&[]));
    let mut rdr = Config::new().delimiter(delimiter).flexible().reader(buf);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::at(path, Some(1), format!("unreadable header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    // τ-ARGUS's code-value output (`"code1","code2",value,status`, no
    // header): split and dimension columns in the rules' order, then the
    // value and τ-ARGUS's status number.
    // τ-ARGUS tables carry no split columns: then the file is one table.
    let dims = rules.dimensions.len();
    let splits = rules.input.split.len();
    // The status column of a header-less τ-ARGUS file: a number 1-14 right
    // after the value (code-value output), or the first one-letter field
    // after it (tables written with SO+: value, frequency, ..., S/U/M/E).
    let status_at = |w: usize| -> Option<usize> {
        if headers.iter().any(|h| h == "value") || headers.len() < w + 2 {
            return None;
        }
        let numeric = |f: &str| f == "-" || f.replace(',', ".").parse::<f64>().is_ok();
        if !numeric(&headers[w]) {
            return None;
        }
        if headers.len() == w + 2
            && headers[w + 1]
                .parse::<u8>()
                .is_ok_and(|s| (1..=14).contains(&s))
        {
            return Some(w + 1);
        }
        (w + 1..headers.len()).find(|&k| {
            let f = headers[k].as_bytes();
            f.len() == 1 && f[0].is_ascii_uppercase()
        })
    };
    let tau_at = [splits + dims, dims]
        .into_iter()
        .find_map(|w| status_at(w).map(|k| (w, k)));
    let tau = tau_at.is_some();
    let no_split_columns = tau_at.is_some_and(|(w, _)| w == dims) && splits > 0;
    let headers: Vec<String> = match tau_at {
        Some((w, k)) => {
            let mut h: Vec<String> = if no_split_columns {
                Vec::new()
            } else {
                rules.input.split.clone()
            };
            h.extend(rules.dimensions.iter().map(|d| d.name.clone()));
            h.push("value".to_string());
            for j in w + 1..headers.len() {
                h.push(if j == k {
                    "status".to_string()
                } else {
                    format!("τ-ARGUS field {}", j + 1)
                });
            }
            h
        }
        None => headers,
    };
    let first: Option<csv::StringRecord> = if tau {
        rdr.headers().ok().cloned()
    } else {
        None
    };
    let mut diags = Diagnostics::default();
    let mut col = |name: &str| match headers.iter().position(|h| h == name) {
        Some(i) => i,
        None => {
            diags.push(
                path,
                Some(1),
                format!(
                    "missing column '{name}' (the header has: {})",
                    headers.join(", ")
                ),
            );
            0
        }
    };
    let c_split: Vec<usize> = if no_split_columns {
        Vec::new()
    } else {
        rules.input.split.iter().map(|s| col(s)).collect()
    };
    let c_dims: Vec<usize> = rules.dimensions.iter().map(|d| col(&d.name)).collect();
    let c_value = col("value");
    let c_status = headers.iter().position(|h| h == "status");
    std::mem::take(&mut diags).into_result()?;
    let mut rows = Vec::new();
    let records = first.into_iter().map(Ok).chain(rdr.records());
    for (k, rec) in records.enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                diags.push(
                    path,
                    e.position().map(|p| p.line()),
                    format!("unreadable row: {e}"),
                );
                continue;
            }
        };
        let line = if tau && k == 0 {
            1
        } else {
            rec.position().map_or(0, |p| p.line())
        };
        if rec.len() != headers.len() {
            diags.push(
                path,
                Some(line),
                format!("expected {} fields, found {}", headers.len(), rec.len()),
            );
            continue;
        }
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        let raw = get(c_value);
        let masked = match c_status.map(|i| status_means(&get(i))) {
            Some(Meaning::Published) => false,
            Some(Meaning::Masked) => true,
            // An empty cell (no contribution): not a cell of the table.
            Some(Meaning::Empty) => continue,
            None => MASK_MARKERS.contains(&raw.to_ascii_lowercase().as_str()),
        };
        let value = if masked {
            None
        } else {
            match parse_amount(&raw, rules.input.decimals, delimiter == b';') {
                Ok(v) => Some(v),
                Err(m) => {
                    // `s` is sdcTable's "safe" (published) but INSEE's "secret":
                    // read as published, the safe side for an audit; say so.
                    let hint = match c_status.map(|i| get(i).to_ascii_lowercase()) {
                        Some(st) if st == "s" || st == "p" => format!(
                            " (status '{st}' is read as published, as sdcTable and τ-ARGUS \
                             mean it; write 'masked' for a masked cell)"
                        ),
                        _ => String::new(),
                    };
                    diags.push(path, Some(line), format!("value: {m}{hint}"));
                    continue;
                }
            }
        };
        rows.push(Row {
            line,
            split: if no_split_columns {
                vec![String::new(); splits]
            } else {
                c_split.iter().map(|&i| get(i)).collect()
            },
            codes: c_dims.iter().map(|&i| get(i)).collect(),
            value,
        });
    }
    diags.into_result()?;
    if rows.is_empty() {
        return Err(Error::at(path, None, "no cells"));
    }
    Ok(PublishedFile { rows })
}

impl PublishedFile {
    /// Builds tables from the file alone: hierarchies from the rules (prefix
    /// and flat trees from the file's codes), masked values unknown. With a
    /// regrouping (`maps`, from `regroup.csv`), the regrouped dimension of
    /// each table takes its published tree.
    pub fn tables(&self, path: &Path, rules: &Rules, maps: &[TableMap]) -> Result<Vec<Table>> {
        let mut dims = Vec::new();
        for (k, d) in rules.dimensions.iter().enumerate() {
            let src = Path::new(&d.name);
            let h = match &d.source {
                HierarchySource::Known(h) => h.clone(),
                HierarchySource::Prefix { levels, root, .. } => {
                    let last = *levels.last().expect("levels");
                    let codes = self
                        .rows
                        .iter()
                        .map(|r| r.codes[k].as_str())
                        .filter(|c| c.len() == last && c.is_ascii());
                    Arc::new(Hierarchy::from_prefix(src, codes, levels, root)?)
                }
                HierarchySource::Flat { root } => {
                    let codes = self
                        .rows
                        .iter()
                        .map(|r| r.codes[k].as_str())
                        .filter(|c| c != root);
                    Arc::new(Hierarchy::flat(src, codes, root)?)
                }
            };
            dims.push(h);
        }
        let mut by_split: BTreeMap<&[String], Vec<&Row>> = BTreeMap::new();
        for r in &self.rows {
            by_split.entry(&r.split).or_default().push(r);
        }
        let mut diags = Diagnostics::default();
        let mut tables = Vec::new();
        for (split, rows) in by_split {
            let mut dims = dims.clone();
            if let Some(plan) = rules.regroup.as_ref().filter(|_| !maps.is_empty()) {
                let Some(map) = maps.iter().find(|m| m.split == split) else {
                    diags.push(
                        path,
                        Some(rows[0].line),
                        format!("table {split:?} is not in regroup.csv"),
                    );
                    continue;
                };
                let HierarchySource::Prefix { levels, root, .. } =
                    &rules.dimensions[plan.dim].source
                else {
                    unreachable!("validated: the regrouped dimension is a prefix tree")
                };
                let original = Hierarchy::from_prefix(
                    Path::new("regroup.csv"),
                    map.codes.keys().map(String::as_str),
                    levels,
                    root,
                )?;
                let tree = map
                    .published_tree(&original, unit_depth(rules, plan))
                    .map_err(|e| Error::usage(format!("regroup.csv, table {split:?}: {e}")))?;
                dims[plan.dim] = Arc::new(tree);
            }
            let strides = Table::strides(&dims).map_err(|_| Error::usage("table too large"))?;
            let mut cells = Vec::with_capacity(rows.len());
            for r in rows {
                let mut coords = [0 as NodeId; MAX_DIMS];
                let mut ok = true;
                for (k, c) in r.codes.iter().enumerate() {
                    match dims[k].lookup(c) {
                        Some(n) => coords[k] = n,
                        None => {
                            let hint = if rules.regroup.is_some() && maps.is_empty() {
                                " (a regrouped release needs --regroup regroup.csv)"
                            } else {
                                ""
                            };
                            diags.push(
                                path,
                                Some(r.line),
                                format!("{} '{c}': unknown code{hint}", rules.dimensions[k].name),
                            );
                            ok = false;
                        }
                    }
                }
                if !ok {
                    continue;
                }
                let key: u64 = coords
                    .iter()
                    .zip(&strides)
                    .map(|(&n, &s)| n as u64 * s)
                    .sum();
                cells.push(Cell {
                    key,
                    value: r.value.unwrap_or(0),
                    contributors: 0,
                    top: Default::default(),
                    status: if r.value.is_some() {
                        Status::Published
                    } else {
                        Status::Secondary
                    },
                    rules: RuleSet::default(),
                    lower_protection: 0,
                    upper_protection: 0,
                    audit: None,
                });
            }
            let t = Table::new(split.to_vec(), dims, cells)
                .map_err(|_| Error::usage("table too large"))?;
            if let Some(w) = t.cells.windows(2).find(|w| w[0].key == w[1].key) {
                return Err(Error::at(
                    path,
                    None,
                    format!("cell {:?} {:?} is listed twice", split, t.codes(w[0].key)),
                ));
            }
            tables.push(t);
        }
        diags.into_result()?;
        Ok(tables)
    }

    /// Applies the file's masking to tables built from the records (true
    /// values, primary rules): a published value must equal the true one;
    /// a cell with data but no row is masked.
    pub fn apply_to(&self, path: &Path, tables: &mut [Table]) -> Result<()> {
        let mut listed: Vec<Vec<bool>> =
            tables.iter().map(|t| vec![false; t.cells.len()]).collect();
        let mut diags = Diagnostics::default();
        for r in &self.rows {
            let Some(ti) = tables.iter().position(|t| t.split == r.split) else {
                diags.push(
                    path,
                    Some(r.line),
                    format!("no records for table {:?}", r.split),
                );
                continue;
            };
            let t = &mut tables[ti];
            let coords: Option<Vec<NodeId>> = r
                .codes
                .iter()
                .enumerate()
                .map(|(k, c)| t.dims[k].lookup(c))
                .collect();
            let Some(i) = coords.and_then(|c| t.find(t.key(&c))) else {
                // A cell without records does not exist (the attacker knows it is 0):
                // a row for it is fine when it is masked or says 0.
                if !matches!(r.value, None | Some(0)) {
                    diags.push(
                        path,
                        Some(r.line),
                        format!("cell {:?} has no records but a value", r.codes),
                    );
                }
                continue;
            };
            listed[ti][i] = true;
            let cell = &mut t.cells[i];
            match r.value {
                Some(v) if v != cell.value => {
                    diags.push(
                        path,
                        Some(r.line),
                        format!(
                            "published value of {:?} differs from the records' total",
                            r.codes
                        ),
                    );
                }
                Some(_) => cell.status = Status::Published,
                None => {
                    cell.status = if cell.rules.is_empty() {
                        Status::Secondary
                    } else {
                        Status::Primary
                    }
                }
            }
        }
        diags.into_result()?;
        for (t, l) in tables.iter_mut().zip(&listed) {
            for (c, &seen) in t.cells.iter_mut().zip(l) {
                if !seen {
                    c.status = if c.rules.is_empty() {
                        Status::Secondary
                    } else {
                        Status::Primary
                    };
                }
            }
        }
        Ok(())
    }
}
