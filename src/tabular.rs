//! Tables given cell by cell instead of records: a τ-ARGUS tabular file
//! (`.tab` read through its `.rda`) or a CSV of cells with a header. Each
//! row is one cell: its codes (totals included, under the rules' root
//! codes), its value, its number of contributors (`frequency` in the
//! rules) and its largest contributions (`top`: τ-ARGUS's `<MAXSCORE>`
//! fields, largest first). This replaces read -> aggregate for such input.
//!
//! Aggregates the file leaves out are built from its detail: values and
//! frequencies summed, largest contributions merged (a contributor present
//! in several cells counts in each, as τ-ARGUS does for totals it
//! computes). An aggregate the file gives must equal the sum of its detail
//! there; its own frequency and largest contributions are kept.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::aggregate::{ancestor_lists, cell_keys};
use crate::csv_input::{detect_delimiter, strip_bom, Config};
use crate::error::{Diagnostics, Error, Result};
use crate::hierarchy::{Hierarchy, NodeId};
use crate::money::parse_amount;
use crate::read::{to_utf8, Microdata, ENCODING_HINT, MAX_DIMS};
use crate::rules::{CellColumns, HierarchySource, Rules};
use crate::table::{Cell, RuleSet, Status, Table};

/// One row of the file, parsed.
struct Row {
    line: u64,
    split: Vec<String>,
    codes: Vec<String>,
    value: i64,
    frequency: u32,
    top: SmallVec<[i64; 2]>,
}

/// Reads a file of cells into its tables (primary rules not yet applied).
pub fn read_cells(
    path: &Path,
    rules: &Rules,
    cols: &CellColumns,
) -> Result<(Microdata, Vec<Table>)> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    // A τ-ARGUS `.tab` has no header: its metadata names the fields (and
    // numbers each row with its line, the `record` column).
    let (csv_bytes, numbered) = match &rules.input.rda {
        Some(rda) => (
            rda.asc_to_csv(&bytes)
                .map_err(|(line, m)| Error::at(path, Some(line as u64), m))?,
            true,
        ),
        None => (bytes, false),
    };
    let csv_bytes = to_utf8(csv_bytes, rules.input.encoding);
    let text = String::from_utf8(csv_bytes).map_err(|_| {
        Error::at(
            path,
            None,
            format!("not UTF-8 text (a Windows-1252 or Latin-1 file? {ENCODING_HINT})"),
        )
    })?;
    let text = strip_bom(&text);
    let delimiter = detect_delimiter(text.lines().next().unwrap_or("").as_bytes());
    // Decimal comma: τ-ARGUS files separated by ';' write 16847646,84.
    let comma = delimiter == b';'
        || rules
            .input
            .rda
            .as_ref()
            .is_some_and(|r| r.separator.as_deref() == Some(";"));
    let mut reader = Config::new()
        .delimiter(delimiter)
        .trim()
        .flexible()
        .text(text);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::at(path, Some(1), e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |name: &str| -> Result<usize> {
        header.iter().position(|h| h == name).ok_or_else(|| {
            Error::at(
                path,
                (!numbered).then_some(1),
                format!("no column '{name}'"),
            )
        })
    };
    let split_cols: Vec<usize> = rules
        .input
        .split
        .iter()
        .map(|s| col(s))
        .collect::<Result<_>>()?;
    let dim_cols: Vec<usize> = rules
        .dimensions
        .iter()
        .map(|d| col(&d.column))
        .collect::<Result<_>>()?;
    let value_col = col(&rules.input.value)?;
    let freq_col = col(&cols.frequency)?;
    let top_cols: Vec<usize> = cols.top.iter().map(|s| col(s)).collect::<Result<_>>()?;
    let record_col = if numbered { Some(col("record")?) } else { None };
    let decimals = rules.input.decimals;

    let mut diags = Diagnostics::default();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line());
                diags.push(path, line, e.to_string());
                continue;
            }
        };
        let mut line = rec.position().map_or(0, |p| p.line());
        if rec.len() == 1 && rec[0].is_empty() {
            continue; // a blank line
        }
        if rec.len() != header.len() {
            let n = if numbered { line - 1 } else { line };
            diags.push(
                path,
                Some(n),
                format!("{} fields, expected {}", rec.len(), header.len()),
            );
            continue;
        }
        if let Some(c) = record_col {
            line = rec[c].parse().unwrap_or(line);
        }
        let mut bad = |m: String| diags.push(path, Some(line), m);
        let value = match parse_amount(&rec[value_col], decimals, comma) {
            Ok(v) => v,
            Err(m) => {
                bad(format!("{}: {m}", rules.input.value));
                continue;
            }
        };
        let Ok(frequency) = rec[freq_col].parse::<u32>() else {
            bad(format!(
                "{}: '{}' is not a count",
                cols.frequency, &rec[freq_col]
            ));
            continue;
        };
        let mut top: SmallVec<[i64; 2]> = SmallVec::new();
        let mut ok = true;
        for (k, &c) in top_cols.iter().enumerate() {
            match parse_amount(&rec[c], decimals, comma) {
                Ok(v) => top.push(v),
                Err(m) => {
                    bad(format!("{}: {m}", cols.top[k]));
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        top.sort_unstable_by(|a, b| b.cmp(a));
        top.truncate(frequency as usize);
        if frequency == 0 {
            if value != 0 {
                bad("a value without contributors".into());
            }
            // An empty cell (τ-ARGUS's status E), whatever its codes: no cell.
            continue;
        }
        if top.first().is_some_and(|&t| t > value) || top.iter().sum::<i64>() > value {
            bad("largest contributions above the cell's value".into());
            continue;
        }
        rows.push(Row {
            line,
            split: split_cols.iter().map(|&c| rec[c].to_string()).collect(),
            codes: dim_cols.iter().map(|&c| rec[c].to_string()).collect(),
            value,
            frequency,
            top,
        });
    }
    diags.into_result()?;
    let hierarchies = trees(rules, &rows)?;
    let mut by_split: BTreeMap<Vec<String>, Vec<Row>> = BTreeMap::new();
    let n_rows = rows.len() as u64;
    for r in rows {
        by_split.entry(r.split.clone()).or_default().push(r);
    }
    let top_needed = rules.primary.top_needed();
    let mut tables = Vec::with_capacity(by_split.len());
    for (split, rows) in by_split {
        tables.push(table_of(path, split, rows, &hierarchies, top_needed)?);
    }
    let data = Microdata {
        split_names: rules.input.split.clone(),
        dim_names: rules.dimensions.iter().map(|d| d.name.clone()).collect(),
        hierarchies,
        tables: Vec::new(),
        rows: n_rows,
        rows_filtered: 0,
        treated: Vec::new(),
    };
    Ok((data, tables))
}

/// The dimensions' trees: given ones as they are; prefix and flat ones
/// built from the file's detailed codes (the longest, or all but the root).
fn trees(rules: &Rules, rows: &[Row]) -> Result<Vec<Arc<Hierarchy>>> {
    rules
        .dimensions
        .iter()
        .enumerate()
        .map(|(k, d)| {
            let detail = |c: &&str| match &d.source {
                HierarchySource::Prefix { levels, .. } => levels.last() == Some(&c.len()),
                HierarchySource::Flat { root } => c != root,
                HierarchySource::Known(_) => false,
            };
            let mut leaves: Vec<&str> = rows
                .iter()
                .map(|r| r.codes[k].as_str())
                .filter(detail)
                .collect();
            leaves.sort_unstable();
            leaves.dedup();
            d.source.tree(Path::new(&d.name), leaves)
        })
        .collect()
}

/// A cell's running sums while the detail is added up.
#[derive(Default)]
struct Sum {
    value: i64,
    frequency: u32,
    top: SmallVec<[i64; 2]>,
}

/// One table from its rows: given cells as given, missing aggregates from
/// the detail, every given aggregate checked against its detail.
fn table_of(
    path: &Path,
    split: Vec<String>,
    rows: Vec<Row>,
    dims: &[Arc<Hierarchy>],
    top_needed: usize,
) -> Result<Table> {
    let name = format!("{split:?}");
    let too_large = || {
        Error::usage(format!(
            "table {name} has too many coordinates for one table"
        ))
    };
    let strides = Table::strides(dims).map_err(|_| too_large())?;
    let mut diags = Diagnostics::default();
    let mut given: FxHashMap<u64, Row> = FxHashMap::default();
    let mut leaf_keys: Vec<(u64, [NodeId; MAX_DIMS])> = Vec::new();
    for r in rows {
        let mut coords = [0 as NodeId; MAX_DIMS];
        let mut ok = true;
        for (k, h) in dims.iter().enumerate() {
            match h.lookup(&r.codes[k]) {
                Some(n) => coords[k] = n,
                None => {
                    diags.push(
                        path,
                        Some(r.line),
                        format!("code '{}' is not in the hierarchy", r.codes[k]),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        let key: u64 = (0..dims.len()).map(|k| coords[k] as u64 * strides[k]).sum();
        if (0..dims.len()).all(|k| dims[k].is_leaf(coords[k])) {
            leaf_keys.push((key, coords));
        }
        if let Some(first) = given.get(&key) {
            diags.push(
                path,
                Some(r.line),
                format!("the same cell as line {}", first.line),
            );
            continue;
        }
        given.insert(key, r);
    }
    std::mem::take(&mut diags).into_result()?;
    // Every detailed cell adds to itself and all its ancestors.
    let mut sums: FxHashMap<u64, Sum> = FxHashMap::default();
    leaf_keys.sort_unstable_by_key(|k| k.0);
    let anc = ancestor_lists(dims);
    let (mut keys, mut next) = (Vec::new(), Vec::new());
    for (key, coords) in &leaf_keys {
        let r = &given[key];
        cell_keys(coords, &anc, &strides, &mut keys, &mut next);
        for &k in &keys {
            let s = sums.entry(k).or_default();
            s.value = s.value.checked_add(r.value).ok_or_else(too_large)?;
            s.frequency = s.frequency.saturating_add(r.frequency);
            s.top.extend(r.top.iter().copied());
            s.top.sort_unstable_by(|a, b| b.cmp(a));
            s.top.truncate(top_needed.max(1));
        }
    }
    let mut cells = Vec::with_capacity(sums.len().max(given.len()));
    let mut keys: Vec<u64> = sums.keys().chain(given.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let (value, contributors, top) = match (given.get(&key), sums.get(&key)) {
            (Some(r), Some(s)) => {
                if r.value != s.value {
                    diags.push(
                        path,
                        Some(r.line),
                        "the cell's value is not the sum of its detailed cells in the file",
                    );
                    continue;
                }
                (r.value, r.frequency, r.top.clone())
            }
            (Some(r), None) => {
                diags.push(
                    path,
                    Some(r.line),
                    "an aggregate with no detailed cell in the file",
                );
                continue;
            }
            (None, Some(s)) => (s.value, s.frequency, s.top.clone()),
            (None, None) => unreachable!("keys come from the two maps"),
        };
        let mut top = top;
        top.truncate(top_needed);
        cells.push(Cell {
            key,
            value,
            contributors,
            top,
            status: Status::Published,
            rules: RuleSet::default(),
            lower_protection: 0,
            upper_protection: 0,
            audit: None,
        });
    }
    diags.into_result()?;
    Table::new(split, dims.to_vec(), cells).map_err(|_| too_large())
}
