//! Reading records (SPEC section 3): CSV with a header, delimiter detected,
//! every bad row reported as `FILE:LINE: reason`.
//!
//! Rows are folded as they are read into one sum per (table, contributor,
//! detailed cell): a contributor's declarations to a cell are summed before
//! any rule, and memory follows the number of distinct contributions, not
//! the number of rows.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::error::{Diagnostics, Error, Result};
use crate::hierarchy::{Hierarchy, NodeId};
use crate::money::parse_amount;
use crate::rules::{HierarchySource, Rules};

/// Most dimensions a table may have. Keys are fixed arrays so that folding
/// millions of rows allocates nothing per row.
pub const MAX_DIMS: usize = 6;

/// Detailed (leaf) coordinates of a contribution, one node per dimension.
pub type Leaf = [NodeId; MAX_DIMS];

/// One contributor's summed value in one detailed cell of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contribution {
    pub unit: u32,
    pub leaf: Leaf,
    pub value: i64,
}

/// The detailed contributions of one table (one combination of split values).
#[derive(Debug, Clone)]
pub struct TableData {
    pub split: Vec<String>,
    /// Sorted by contributor, then leaf.
    pub contributions: Vec<Contribution>,
}

/// Everything read from one records file, ready to aggregate.
#[derive(Debug, Clone)]
pub struct Microdata {
    pub split_names: Vec<String>,
    pub dim_names: Vec<String>,
    pub hierarchies: Vec<Arc<Hierarchy>>,
    /// Tables in the order of their split values.
    pub tables: Vec<TableData>,
    /// Rows used, and rows left out by the `keep` filter.
    pub rows: u64,
    pub rows_filtered: u64,
}

/// Picks the delimiter of a header line: the most frequent of tab, `;`, `,`.
pub fn detect_delimiter(header: &[u8]) -> u8 {
    let count = |d: u8| header.iter().filter(|&&b| b == d).count();
    let mut best = b',';
    let mut best_n = count(b',');
    for d in [b';', b'\t'] {
        let n = count(d);
        if n > best_n {
            best = d;
            best_n = n;
        }
    }
    best
}

/// How a dimension's codes are checked and numbered while reading.
enum CodeBook {
    /// The tree is known: codes must be its leaves; ids are node ids.
    Known(Arc<Hierarchy>),
    /// The tree is built after reading from the codes seen.
    Collect {
        codes: Vec<Box<str>>,
        index: HashMap<Box<str>, u32>,
        prefix: Option<(usize, bool)>,
    },
}

/// Reads and folds a records file according to `rules`.
pub fn read_records(path: &Path, rules: &Rules) -> Result<Microdata> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    read_from(path, BufReader::with_capacity(1 << 20, file), rules)
}

/// As [`read_records`], from any reader; `path` names the source in messages.
pub fn read_from<R: Read>(path: &Path, reader: R, rules: &Rules) -> Result<Microdata> {
    let dims = &rules.dimensions;
    if dims.len() > MAX_DIMS {
        return Err(Error::usage(format!(
            "at most {MAX_DIMS} dimensions are supported, the rules give {}",
            dims.len()
        )));
    }
    let mut buf = BufReader::with_capacity(1 << 20, reader);
    // Skip a UTF-8 byte order mark, then look at the header to pick the delimiter.
    let head = buf.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        buf.consume(3);
    }
    let head = buf.fill_buf().map_err(|e| Error::io(path, e))?;
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let delimiter = detect_delimiter(first_line);
    let comma_decimal = delimiter == b';';

    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(buf);
    let headers = rdr
        .headers()
        .map_err(|e| Error::at(path, Some(1), format!("unreadable header: {e}")))?
        .clone();
    let columns: Vec<&str> = headers.iter().map(|h| h.trim()).collect();
    let mut missing = Diagnostics::default();
    let mut col = |name: &str| -> usize {
        match columns.iter().position(|c| *c == name) {
            Some(i) => i,
            None => {
                missing.push(
                    path,
                    Some(1),
                    format!(
                        "missing column '{name}' (the header has: {})",
                        columns.join(", ")
                    ),
                );
                0
            }
        }
    };
    let c_contrib = col(&rules.input.contributor);
    let c_value = col(&rules.input.value);
    let c_holding = rules.input.holding.as_deref().map(&mut col);
    let c_split: Vec<usize> = rules.input.split.iter().map(|s| col(s)).collect();
    let c_keep: Vec<(usize, &Vec<String>)> =
        rules.input.keep.iter().map(|(k, v)| (col(k), v)).collect();
    let c_dims: Vec<usize> = dims.iter().map(|d| col(&d.column)).collect();
    missing.into_result()?;

    let mut books: Vec<CodeBook> = dims
        .iter()
        .map(|d| match &d.source {
            HierarchySource::Known(h) => CodeBook::Known(h.clone()),
            HierarchySource::Prefix {
                levels, truncate, ..
            } => CodeBook::Collect {
                codes: Vec::new(),
                index: HashMap::new(),
                prefix: Some((*levels.last().expect("levels are not empty"), *truncate)),
            },
            HierarchySource::Flat { .. } => CodeBook::Collect {
                codes: Vec::new(),
                index: HashMap::new(),
                prefix: None,
            },
        })
        .collect();
    let mut units: HashMap<Box<str>, u32> = HashMap::new();
    let mut splits: HashMap<Vec<Box<str>>, u32> = HashMap::new();
    let mut folded: FxHashMap<(u32, u32, Leaf), i64> = FxHashMap::default();
    let mut diags = Diagnostics::default();
    let mut rows = 0u64;
    let mut rows_filtered = 0u64;
    let decimals = rules.input.decimals;
    let mut record = csv::ByteRecord::new();
    let mut split_key: Vec<Box<str>> = Vec::with_capacity(c_split.len());
    loop {
        let line = rdr.position().line() + 1;
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                diags.push(path, Some(line), format!("unreadable row: {e}"));
                if diags.len() > 10 * crate::error::MAX_DIAGNOSTICS {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.len() != columns.len() {
            if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
                continue; // blank line
            }
            diags.push(
                path,
                Some(line),
                format!("expected {} fields, found {}", columns.len(), record.len()),
            );
            continue;
        }
        let field = |i: usize| -> std::result::Result<&str, String> {
            std::str::from_utf8(&record[i])
                .map(str::trim)
                .map_err(|_| format!("column '{}' is not valid UTF-8", columns[i]))
        };
        macro_rules! get {
            ($i:expr) => {
                match field($i) {
                    Ok(s) => s,
                    Err(m) => {
                        diags.push(path, Some(line), m);
                        continue;
                    }
                }
            };
        }
        // Rows outside the rule set's scope are not errors: they are skipped.
        let mut kept = true;
        for (i, allowed) in &c_keep {
            let v = get!(*i);
            if !allowed.iter().any(|a| a == v) {
                kept = false;
            }
        }
        if !kept {
            rows_filtered += 1;
            continue;
        }
        let mut bad = false;
        let contributor = get!(c_contrib);
        if contributor.is_empty() {
            diags.push(
                path,
                Some(line),
                format!("empty contributor ('{}')", columns[c_contrib]),
            );
            bad = true;
        }
        let value = match parse_amount(get!(c_value), decimals, comma_decimal) {
            Ok(v) => v,
            Err(m) => {
                diags.push(path, Some(line), format!("{}: {m}", columns[c_value]));
                bad = true;
                0
            }
        };
        split_key.clear();
        for &i in &c_split {
            let v = get!(i);
            if v.is_empty() {
                diags.push(
                    path,
                    Some(line),
                    format!("empty split variable '{}'", columns[i]),
                );
                bad = true;
            }
            split_key.push(v.into());
        }
        let mut leaf: Leaf = [0; MAX_DIMS];
        for (k, &i) in c_dims.iter().enumerate() {
            let code = get!(i);
            match intern_code(&mut books[k], code) {
                Ok(id) => leaf[k] = id,
                Err(m) => {
                    diags.push(
                        path,
                        Some(line),
                        format!("{} '{}': {m}", dims[k].name, code),
                    );
                    bad = true;
                }
            }
        }
        if bad {
            continue;
        }
        let unit_key: Box<str> = match c_holding {
            Some(h) => {
                let g = get!(h);
                if g.is_empty() {
                    format!("c\u{1f}{contributor}").into()
                } else {
                    format!("h\u{1f}{g}").into()
                }
            }
            None => contributor.into(),
        };
        let next_unit = units.len() as u32;
        let unit = *units.entry(unit_key).or_insert(next_unit);
        let next_split = splits.len() as u32;
        let split = match splits.get(&split_key) {
            Some(&s) => s,
            None => {
                splits.insert(split_key.clone(), next_split);
                next_split
            }
        };
        let slot = folded.entry((split, unit, leaf)).or_insert(0);
        match slot.checked_add(value) {
            Some(v) => *slot = v,
            None => {
                diags.push(path, Some(line), "sum of values overflows");
                continue;
            }
        }
        rows += 1;
    }
    diags.into_result()?;
    if rows == 0 {
        let why = if rows_filtered > 0 {
            " (all rows were left out by the rules' keep filter)"
        } else {
            ""
        };
        return Err(Error::at(path, None, format!("no records{why}")));
    }

    // Build the trees known only from the data, and renumber codes as nodes.
    let mut hierarchies = Vec::with_capacity(dims.len());
    let mut remap: Vec<Option<Vec<NodeId>>> = Vec::with_capacity(dims.len());
    for (d, book) in dims.iter().zip(books) {
        match book {
            CodeBook::Known(h) => {
                hierarchies.push(h);
                remap.push(None);
            }
            CodeBook::Collect { codes, .. } => {
                let src = Path::new(&d.name);
                let h = match &d.source {
                    HierarchySource::Prefix { levels, root, .. } => {
                        Hierarchy::from_prefix(src, codes.iter().map(|c| &**c), levels, root)?
                    }
                    HierarchySource::Flat { root } => {
                        Hierarchy::flat(src, codes.iter().map(|c| &**c), root)?
                    }
                    HierarchySource::Known(_) => unreachable!(),
                };
                remap.push(Some(
                    codes
                        .iter()
                        .map(|c| h.lookup(c).expect("code is in its tree"))
                        .collect(),
                ));
                hierarchies.push(Arc::new(h));
            }
        }
    }
    let mut split_list: Vec<(Vec<Box<str>>, u32)> = splits.into_iter().collect();
    split_list.sort();
    let mut table_of = vec![0usize; split_list.len()];
    for (t, (_, s)) in split_list.iter().enumerate() {
        table_of[*s as usize] = t;
    }
    let mut tables: Vec<TableData> = split_list
        .into_iter()
        .map(|(key, _)| TableData {
            split: key.into_iter().map(String::from).collect(),
            contributions: Vec::new(),
        })
        .collect();
    for ((split, unit, mut leaf), value) in folded {
        for (k, m) in remap.iter().enumerate() {
            if let Some(m) = m {
                leaf[k] = m[leaf[k] as usize];
            }
        }
        tables[table_of[split as usize]]
            .contributions
            .push(Contribution { unit, leaf, value });
    }
    for t in &mut tables {
        t.contributions.sort_unstable_by_key(|c| (c.unit, c.leaf));
    }
    // Contributor numbers follow first appearance in the file; that is
    // deterministic for a given file, and never leaves the process.
    Ok(Microdata {
        split_names: rules.input.split.clone(),
        dim_names: dims.iter().map(|d| d.name.clone()).collect(),
        hierarchies,
        tables,
        rows,
        rows_filtered,
    })
}

/// Checks a code against its dimension and returns its id.
fn intern_code(book: &mut CodeBook, code: &str) -> std::result::Result<NodeId, String> {
    if code.is_empty() {
        return Err("empty code".into());
    }
    match book {
        CodeBook::Known(h) => match h.lookup(code) {
            None => Err("unknown code (not in the hierarchy)".into()),
            Some(n) if !h.is_leaf(n) => {
                Err("is an aggregate of the hierarchy; records need detailed codes".into())
            }
            Some(n) => Ok(n),
        },
        CodeBook::Collect {
            codes,
            index,
            prefix,
        } => {
            let code = match *prefix {
                Some((len, truncate)) => {
                    if !code.is_ascii() {
                        return Err("structured (prefix) codes must be ASCII".into());
                    }
                    if code.len() == len
                        || (truncate && code.len() > len && code.is_char_boundary(len))
                    {
                        &code[..len]
                    } else if code.len() > len {
                        return Err(format!(
                            "has {} characters, the hierarchy's codes have {len}",
                            code.len()
                        ));
                    } else {
                        return Err(format!(
                            "has {} characters, the hierarchy's detailed codes have {len}",
                            code.len()
                        ));
                    }
                }
                None => code,
            };
            if let Some(&id) = index.get(code) {
                return Ok(id);
            }
            let id = codes.len() as u32;
            codes.push(code.into());
            index.insert(code.into(), id);
            Ok(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_detection() {
        assert_eq!(detect_delimiter(b"a,b,c"), b',');
        assert_eq!(detect_delimiter(b"a;b;c"), b';');
        assert_eq!(detect_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(detect_delimiter(b"a;b,c;d"), b';');
        assert_eq!(detect_delimiter(b"abc"), b',');
    }
}
