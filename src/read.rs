//! Reading records (SPEC section 3): CSV with a header, delimiter detected,
//! every bad row reported as `FILE:LINE: reason`.
//!
//! Rows are folded as they are read into one sum per (table, contributor,
//! detailed cell): a contributor's declarations to a cell are summed before
//! any rule, and memory follows the number of distinct contributions, not
//! the number of rows.
//!
//! The file is cut into blocks at record boundaries and the blocks are
//! parsed and folded in parallel; ids are renumbered canonically at the end
//! (codes by hierarchy, contributors by name), so the result does not depend
//! on the number of threads.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, RwLock};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::correspondence::{CodeList, Correspondence};
use crate::csv_input::{detect_delimiter, Config};
use crate::error::{Diagnostics, Error, Result};
use crate::hierarchy::{Hierarchy, NodeId};
use crate::money::parse_amount;
use crate::rules::{HierarchySource, Rules, TreatmentKind};

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
    /// What the rules' record treatments did, per table and treatment.
    pub treated: Vec<Treated>,
}

/// Rows and value a record treatment touched in one table (rows left out,
/// copied or changed), sorted by split values then treatment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Treated {
    pub split: Vec<String>,
    pub name: String,
    pub kind: TreatmentKind,
    pub rows: u64,
    pub value: i64,
}

/// A treatment with its columns resolved.
struct Compiled {
    kind: TreatmentKind,
    name: String,
    when: Vec<(usize, Vec<String>)>,
    /// (column if present, its name, bound).
    since: Vec<(Option<usize>, String, i64)>,
    until: Vec<(Option<usize>, String, i64)>,
    set: Vec<(usize, String)>,
}

impl Compiled {
    /// Whether a row matches; a bound on a column that is not an integer is
    /// an error (a year must be readable for the rule to be applied).
    fn matches(&self, fields: &[&str], columns: &[String]) -> std::result::Result<bool, String> {
        if !self
            .when
            .iter()
            .all(|(c, v)| v.iter().any(|x| x == fields[*c]))
        {
            return Ok(false);
        }
        for (bounds, lower) in [(&self.since, true), (&self.until, false)] {
            for (c, name, b) in bounds {
                let (c, b) = match c {
                    Some(c) => (*c, *b),
                    None => {
                        return Err(format!(
                            "'{}' needs a '{name}' column to decide this row",
                            self.name
                        ))
                    }
                };
                let v: i64 = fields[c].parse().map_err(|_| {
                    format!(
                        "column '{}': '{}' is not an integer (needed by '{}')",
                        columns[c], fields[c], self.name
                    )
                })?;
                if (lower && v < b) || (!lower && v > b) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// Reads and folds a records file according to `rules`.
pub fn read_records(path: &Path, rules: &Rules) -> Result<Microdata> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_from(path, file, rules)
}

/// A string interner shared by the reading threads. Ids depend on thread
/// timing, so they are renumbered canonically after reading.
#[derive(Default)]
struct Interner(RwLock<FxHashMap<Box<str>, u32>>);

impl Interner {
    fn id(&self, s: &str) -> u32 {
        if let Some(&id) = self.0.read().expect("interner lock").get(s) {
            return id;
        }
        let mut w = self.0.write().expect("interner lock");
        let n = w.len() as u32;
        *w.entry(s.into()).or_insert(n)
    }

    /// Strings by id.
    fn into_names(self) -> Vec<Box<str>> {
        let map = self.0.into_inner().expect("interner lock");
        let mut names = vec![Box::<str>::from(""); map.len()];
        for (s, id) in map {
            names[id as usize] = s;
        }
        names
    }
}

/// A thread's cache in front of a shared [`Interner`].
#[derive(Default)]
struct Cache(FxHashMap<Box<str>, u32>);

impl Cache {
    fn id(&mut self, shared: &Interner, s: &str) -> u32 {
        if let Some(&id) = self.0.get(s) {
            return id;
        }
        let id = shared.id(s);
        self.0.insert(s.into(), id);
        id
    }
}

/// How a dimension's codes are checked while reading.
enum CodeCheck {
    /// The tree is known: codes must be its leaves; ids are node ids.
    Known(Arc<Hierarchy>),
    /// The tree is known and record codes are read through a
    /// correspondence to its leaves.
    Through(Arc<Hierarchy>, Arc<Correspondence>),
    /// Structured codes of a fixed length (longer ones cut when `truncate`).
    Prefix { len: usize, truncate: bool },
    /// Any code.
    Any,
}

/// What every reading thread shares.
struct Shared<'a> {
    path: &'a Path,
    delimiter: u8,
    comma_decimal: bool,
    decimals: u32,
    columns: Vec<String>,
    c_contrib: usize,
    c_value: usize,
    c_holding: Option<usize>,
    c_split: Vec<usize>,
    c_keep: Vec<(usize, Vec<String>)>,
    c_dims: Vec<usize>,
    /// Columns the rules read (the others are never checked).
    used: Vec<bool>,
    treat: Vec<Compiled>,
    dim_names: Vec<String>,
    checks: Vec<CodeCheck>,
    /// Per dimension, the valid record codes when the rules list them.
    lists: Vec<Option<Arc<CodeList>>>,
    codes: Vec<Interner>,
    units: Interner,
    split_values: Vec<Interner>,
    /// Combinations of split value ids, as `a,b,...` of ids.
    split_keys: Interner,
}

type FoldKey = (u32, u32, Leaf);

/// One thread's part of the work.
#[derive(Default)]
struct Partial {
    folded: FxHashMap<FoldKey, i64>,
    diags: Diagnostics,
    rows: u64,
    rows_filtered: u64,
    /// (treatment, split values joined by `\u{1f}`) -> (rows, value).
    treated: FxHashMap<(u16, String), (u64, i64)>,
}

/// A piece of the file holding whole records, and its first line number.
struct Block {
    first_line: u64,
    bytes: Vec<u8>,
}

const BLOCK: usize = 4 << 20;

/// As [`read_records`], from any reader; `path` names the source in messages.
pub fn read_from<R: Read>(path: &Path, mut reader: R, rules: &Rules) -> Result<Microdata> {
    if let Some(rda) = &rules.input.rda {
        // A τ-ARGUS data file, turned into CSV rows through its metadata
        // (each record numbered: the `record` column).
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(path, e))?;
        let csv = rda
            .asc_to_csv(&bytes)
            .map_err(|(line, m)| Error::at(path, Some(line as u64), m))?;
        let csv = to_utf8(csv, rules.input.encoding);
        // The converted copy has a header line the data file lacks.
        return read_utf8(path, std::io::Cursor::new(csv), rules).map_err(|e| match e {
            Error::Input(mut d) => {
                d.shift_lines(-1);
                Error::Input(d)
            }
            other => other,
        });
    }
    let encoding = rules.input.encoding;
    if encoding == encoding_rs::UTF_8 {
        read_utf8(path, reader, rules)
    } else {
        // Decoded to UTF-8 as it is read (a byte order mark still wins).
        let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .build(reader);
        read_utf8(path, decoded, rules)
    }
}

/// What to do about text that is not UTF-8 (said by every reader that
/// meets some).
pub const ENCODING_HINT: &str = "say so in the rules: encoding = \"windows-1252\" under [input]";

/// A whole file's bytes in `encoding` (the rules' `encoding`), as UTF-8;
/// a byte order mark wins, as for records read as a stream.
pub fn to_utf8(bytes: Vec<u8>, encoding: &'static encoding_rs::Encoding) -> Vec<u8> {
    if encoding == encoding_rs::UTF_8 {
        return bytes;
    }
    encoding.decode(&bytes).0.into_owned().into_bytes()
}

/// [`read_from`] on UTF-8 text.
fn read_utf8<R: Read>(path: &Path, reader: R, rules: &Rules) -> Result<Microdata> {
    let dims = &rules.dimensions;
    if dims.len() > MAX_DIMS {
        return Err(Error::usage(format!(
            "at most {MAX_DIMS} dimensions are supported, the rules give {}",
            dims.len()
        )));
    }
    let mut buf = BufReader::with_capacity(1 << 20, reader);
    let io = |e| Error::io(path, e);
    // Skip a UTF-8 byte order mark, then read the header line.
    if buf.fill_buf().map_err(io)?.starts_with(b"\xEF\xBB\xBF") {
        buf.consume(3);
    }
    let mut header = Vec::new();
    buf.read_until(b'\n', &mut header).map_err(io)?;
    if header.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::at(
            path,
            Some(1),
            "the file is empty: records need a header line, then one row per record",
        ));
    }
    let delimiter = detect_delimiter(&header);
    let columns: Vec<String> = Config::new()
        .delimiter(delimiter)
        .no_headers()
        .reader(header.as_slice())
        .records()
        .next()
        .and_then(|r| r.ok())
        .map(|r| r.iter().map(|h| h.trim().to_string()).collect())
        .unwrap_or_default();

    let mut missing = Diagnostics::default();
    let mut col = |name: &str| -> usize {
        match columns.iter().position(|c| c == name) {
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
    let c_keep: Vec<(usize, Vec<String>)> = rules
        .input
        .keep
        .iter()
        .map(|(k, v)| (col(k), v.clone()))
        .collect();
    let c_dims: Vec<usize> = dims.iter().map(|d| col(&d.column)).collect();
    missing.into_result()?;
    // A treatment's columns may be absent: a `when` column that is missing
    // never matches; a missing bound column makes matching rows errors.
    let opt_col = |name: &str| columns.iter().position(|c| c == name);
    let mut treat: Vec<Compiled> = Vec::new();
    for t in &rules.treatments {
        let when: Option<Vec<(usize, Vec<String>)>> = t
            .when
            .iter()
            .map(|(c, v)| opt_col(c).map(|i| (i, v.clone())))
            .collect();
        let Some(when) = when else { continue };
        let bound = |list: &[(String, i64)]| -> Vec<(Option<usize>, String, i64)> {
            list.iter()
                .map(|(c, v)| (opt_col(c), c.clone(), *v))
                .collect()
        };
        let set: Option<Vec<(usize, String)>> = t
            .set
            .iter()
            .map(|(c, v)| opt_col(c).map(|i| (i, v.clone())))
            .collect();
        let Some(set) = set else {
            return Err(Error::at(
                path,
                Some(1),
                format!("'{}' sets a column that the header lacks", t.name),
            ));
        };
        treat.push(Compiled {
            kind: t.kind,
            name: t.name.clone(),
            when,
            since: bound(&t.since),
            until: bound(&t.until),
            set,
        });
    }

    let used = {
        let mut used = vec![false; columns.len()];
        let named = [c_contrib, c_value]
            .into_iter()
            .chain(c_holding)
            .chain(c_split.iter().copied())
            .chain(c_keep.iter().map(|k| k.0))
            .chain(c_dims.iter().copied())
            .chain(treat.iter().flat_map(|t| {
                t.when
                    .iter()
                    .map(|w| w.0)
                    .chain(t.since.iter().filter_map(|w| w.0))
                    .chain(t.until.iter().filter_map(|w| w.0))
                    .chain(t.set.iter().map(|w| w.0))
                    .collect::<Vec<_>>()
            }));
        for c in named {
            used[c] = true;
        }
        used
    };
    let shared = Shared {
        path,
        delimiter,
        comma_decimal: delimiter == b';',
        decimals: rules.input.decimals,
        c_contrib,
        c_value,
        c_holding,
        c_split,
        c_keep,
        used,
        c_dims,
        treat,
        dim_names: dims.iter().map(|d| d.name.clone()).collect(),
        checks: dims
            .iter()
            .map(|d| match (&d.source, &d.through) {
                (HierarchySource::Known(h), Some(c)) => CodeCheck::Through(h.clone(), c.clone()),
                (HierarchySource::Known(h), None) => CodeCheck::Known(h.clone()),
                (
                    HierarchySource::Prefix {
                        levels, truncate, ..
                    },
                    _,
                ) => CodeCheck::Prefix {
                    len: *levels.last().expect("levels are not empty"),
                    truncate: *truncate,
                },
                (HierarchySource::Flat { .. }, _) => CodeCheck::Any,
            })
            .collect(),
        lists: dims.iter().map(|d| d.valid.clone()).collect(),
        codes: dims.iter().map(|_| Interner::default()).collect(),
        units: Interner::default(),
        split_values: rules
            .input
            .split
            .iter()
            .map(|_| Interner::default())
            .collect(),
        split_keys: Interner::default(),
        columns,
    };

    // One thread cuts the file into blocks of whole records; the others fold them.
    let workers = rayon::current_num_threads().max(1);
    let (tx, rx) = mpsc::sync_channel::<Block>(workers * 2);
    let rx = Mutex::new(rx);
    let (partials, cut) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut part = Partial::default();
                    let mut caches = Caches::new(&shared);
                    loop {
                        let block = match rx.lock().expect("block queue").recv() {
                            Ok(b) => b,
                            Err(_) => break,
                        };
                        fold_block(&shared, &mut caches, &block, &mut part);
                    }
                    part
                })
            })
            .collect();
        let cut = cut_blocks(&mut buf, &tx);
        drop(tx);
        let parts: Vec<Partial> = handles
            .into_iter()
            .map(|h| h.join().expect("reading thread"))
            .collect();
        (parts, cut)
    });
    cut.map_err(io)?;

    let diags = Diagnostics::merge_by_line(partials.iter().map(|p| p.diags.clone()));
    diags.into_result()?;
    let rows: u64 = partials.iter().map(|p| p.rows).sum();
    let mut treated: std::collections::BTreeMap<(Vec<String>, u16), (u64, i64)> =
        Default::default();
    for p in &partials {
        for ((t, split), (n, v)) in &p.treated {
            let split: Vec<String> = split.split('\u{1f}').map(String::from).collect();
            let e = treated.entry((split, *t)).or_default();
            e.0 += n;
            e.1 += v;
        }
    }
    let treated: Vec<Treated> = treated
        .into_iter()
        .map(|((split, t), (rows, value))| Treated {
            split,
            name: shared.treat[t as usize].name.clone(),
            kind: shared.treat[t as usize].kind,
            rows,
            value,
        })
        .collect();
    let rows_filtered: u64 = partials.iter().map(|p| p.rows_filtered).sum();
    if rows == 0 {
        let why = if rows_filtered > 0 {
            " (all rows were left out by the rules' keep filter)"
        } else {
            ""
        };
        return Err(Error::at(path, None, format!("no records{why}")));
    }
    // Merge the threads' sums into the largest.
    let mut partials = partials;
    partials.sort_by_key(|p| std::cmp::Reverse(p.folded.len()));
    let mut folded = std::mem::take(&mut partials[0].folded);
    for p in &mut partials[1..] {
        for (k, v) in p.folded.drain() {
            let slot = folded.entry(k).or_insert(0);
            *slot = slot
                .checked_add(v)
                .ok_or_else(|| Error::at(path, None, "sum of values overflows"))?;
        }
    }
    let Shared {
        codes,
        units,
        split_values,
        split_keys,
        ..
    } = shared;
    let split_keys: Vec<SmallVec<[u32; 4]>> = split_keys
        .into_names()
        .iter()
        .map(|k| {
            k.split(',')
                .filter(|v| !v.is_empty())
                .map(|v| v.parse().expect("ids"))
                .collect()
        })
        .collect();
    finish(
        path,
        rules,
        codes,
        units,
        split_values,
        &split_keys,
        folded,
        rows,
        rows_filtered,
        treated,
    )
}

/// Per-thread caches of the shared interners.
struct Caches {
    codes: Vec<Cache>,
    units: Cache,
    split_values: Vec<Cache>,
    split_keys: FxHashMap<SmallVec<[u32; 4]>, u32>,
}

impl Caches {
    fn new(s: &Shared) -> Caches {
        Caches {
            codes: s.codes.iter().map(|_| Cache::default()).collect(),
            units: Cache::default(),
            split_values: s.split_values.iter().map(|_| Cache::default()).collect(),
            split_keys: FxHashMap::default(),
        }
    }
}

/// Reads the rest of the file into blocks that end on a record boundary: a
/// newline outside quotes (an even number of `"` since the block start, as
/// doubled quotes inside fields count twice).
fn cut_blocks<R: Read>(r: &mut R, tx: &mpsc::SyncSender<Block>) -> std::io::Result<()> {
    let mut line = 2u64; // the header was line 1
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut bytes = std::mem::take(&mut carry);
        let start = bytes.len();
        bytes.resize(start + BLOCK, 0);
        let mut filled = start;
        while filled < bytes.len() {
            let n = r.read(&mut bytes[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let eof = filled < bytes.len();
        bytes.truncate(filled);
        if bytes.is_empty() {
            return Ok(());
        }
        let cut = if eof {
            bytes.len()
        } else {
            let mut in_quotes = false;
            let mut last = None;
            for (i, &b) in bytes.iter().enumerate() {
                if b == b'"' {
                    in_quotes = !in_quotes;
                } else if b == b'\n' && !in_quotes {
                    last = Some(i + 1);
                }
            }
            last.unwrap_or(bytes.len())
        };
        carry = bytes.split_off(cut);
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        if tx
            .send(Block {
                first_line: line,
                bytes,
            })
            .is_err()
        {
            return Ok(());
        }
        line += lines;
        if eof && carry.is_empty() {
            return Ok(());
        }
    }
}

/// A row's fields, trimmed.
type Fields<'a> = SmallVec<[&'a str; 16]>;

/// Parses one block and folds its rows into `part`.
fn fold_block(s: &Shared, caches: &mut Caches, block: &Block, part: &mut Partial) {
    let path = s.path;
    let mut rdr = Config::new()
        .delimiter(s.delimiter)
        .flexible()
        .no_headers()
        .reader(block.bytes.as_slice());
    let mut record = csv::ByteRecord::new();
    loop {
        let pos_line = rdr.position().line();
        let ok = rdr.read_byte_record(&mut record);
        let line = block.first_line + record.position().map_or(pos_line, |p| p.line()) - 1;
        match ok {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                part.diags
                    .push(path, Some(line), format!("unreadable row: {e}"));
                continue;
            }
        }
        if record.len() != s.columns.len() {
            if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
                continue; // blank line
            }
            part.diags.push(
                path,
                Some(line),
                format!(
                    "expected {} fields, found {}",
                    s.columns.len(),
                    record.len()
                ),
            );
            continue;
        }
        let mut fields: Fields = SmallVec::new();
        let mut utf8_ok = true;
        for i in 0..record.len() {
            match std::str::from_utf8(&record[i]) {
                Ok(v) => fields.push(v.trim()),
                // Columns the rules do not read are ignored, whatever they hold.
                Err(_) if !s.used[i] => fields.push(""),
                Err(_) => {
                    part.diags.push(
                        path,
                        Some(line),
                        format!(
                            "column '{}' is not valid UTF-8 (a Windows-1252 or Latin-1 \
                             extract? {ENCODING_HINT})",
                            s.columns[i]
                        ),
                    );
                    utf8_ok = false;
                    break;
                }
            }
        }
        if !utf8_ok {
            continue;
        }
        if s.treat.is_empty() {
            fold_row(s, caches, part, line, &fields, &[]);
            continue;
        }
        // Recodes change the row, then mirrors copy it (treatments are in
        // that order); each copy folds as a row of its own.
        let mut tags: SmallVec<[u16; 4]> = SmallVec::new();
        let mut copies: SmallVec<[(Fields, u16); 2]> = SmallVec::new();
        let mut failed = false;
        for (i, t) in s.treat.iter().enumerate() {
            if t.kind == TreatmentKind::Exclude {
                continue;
            }
            match t.matches(&fields, &s.columns) {
                Ok(false) => {}
                Ok(true) => {
                    let mut row = fields.clone();
                    for (c, v) in &t.set {
                        row[*c] = v;
                    }
                    if t.kind == TreatmentKind::Recode {
                        fields = row;
                        tags.push(i as u16);
                    } else {
                        copies.push((row, i as u16));
                    }
                }
                Err(m) => {
                    part.diags.push(path, Some(line), m);
                    failed = true;
                }
            }
        }
        if failed {
            continue;
        }
        fold_row(s, caches, part, line, &fields, &tags);
        for (copy, tag) in &copies {
            fold_row(s, caches, part, line, copy, std::slice::from_ref(tag));
        }
    }
}

/// Folds one row (after recodes; a mirror's copy is a row of its own):
/// the `keep` filter, exclusions, checks, then its value into its cell.
/// `tags` are the treatments that made or changed the row, counted per
/// table once the row is kept.
fn fold_row(
    s: &Shared,
    caches: &mut Caches,
    part: &mut Partial,
    line: u64,
    fields: &[&str],
    tags: &[u16],
) {
    let path = s.path;
    // Rows outside the rule set's scope are not errors: they are skipped.
    if !s
        .c_keep
        .iter()
        .all(|(i, allowed)| allowed.iter().any(|a| a == fields[*i]))
    {
        part.rows_filtered += 1;
        return;
    }
    let mut bad = false;
    let contributor = fields[s.c_contrib];
    if contributor.is_empty() {
        part.diags.push(
            path,
            Some(line),
            format!("empty contributor ('{}')", s.columns[s.c_contrib]),
        );
        bad = true;
    }
    let value = match parse_amount(fields[s.c_value], s.decimals, s.comma_decimal) {
        Ok(v) => v,
        Err(m) => {
            part.diags
                .push(path, Some(line), format!("{}: {m}", s.columns[s.c_value]));
            bad = true;
            0
        }
    };
    let split_text = || {
        s.c_split
            .iter()
            .map(|&i| fields[i])
            .collect::<Vec<_>>()
            .join("\u{1f}")
    };
    for (i, t) in s.treat.iter().enumerate() {
        if t.kind != TreatmentKind::Exclude {
            continue;
        }
        match t.matches(fields, &s.columns) {
            Ok(true) if !bad => {
                let e = part.treated.entry((i as u16, split_text())).or_default();
                e.0 += 1;
                e.1 += value;
                return;
            }
            Ok(_) => {}
            Err(m) => {
                part.diags.push(path, Some(line), m);
                return;
            }
        }
    }
    let mut split_key: SmallVec<[u32; 4]> = SmallVec::new();
    for (k, &i) in s.c_split.iter().enumerate() {
        let v = fields[i];
        if v.is_empty() {
            part.diags.push(
                path,
                Some(line),
                format!("empty split variable '{}'", s.columns[i]),
            );
            bad = true;
        }
        split_key.push(caches.split_values[k].id(&s.split_values[k], v));
    }
    let mut leaf: Leaf = [0; MAX_DIMS];
    for (k, &i) in s.c_dims.iter().enumerate() {
        let code = fields[i];
        let listed = match &s.lists[k] {
            Some(list) if !code.is_empty() => list.check(code),
            _ => Ok(()),
        };
        match listed.and_then(|()| check_code(&s.checks[k], code)) {
            Ok(Some(node)) => leaf[k] = node,
            Ok(None) => {
                let code = match s.checks[k] {
                    CodeCheck::Prefix { len, .. } => &code[..len],
                    _ => code,
                };
                leaf[k] = caches.codes[k].id(&s.codes[k], code);
            }
            Err(m) => {
                part.diags.push(
                    path,
                    Some(line),
                    format!("{} '{}': {m}", s.dim_names[k], code),
                );
                bad = true;
            }
        }
    }
    if bad {
        return;
    }
    let unit = match s.c_holding {
        Some(h) => {
            let g = fields[h];
            if g.is_empty() {
                caches.units.id(&s.units, &format!("c\u{1f}{contributor}"))
            } else {
                caches.units.id(&s.units, &format!("h\u{1f}{g}"))
            }
        }
        None => caches.units.id(&s.units, contributor),
    };
    let split = match caches.split_keys.get(&split_key) {
        Some(&id) => id,
        None => {
            let text: Vec<String> = split_key.iter().map(|v| v.to_string()).collect();
            let id = s.split_keys.id(&text.join(","));
            caches.split_keys.insert(split_key.clone(), id);
            id
        }
    };
    let slot = part.folded.entry((split, unit, leaf)).or_insert(0);
    match slot.checked_add(value) {
        Some(v) => *slot = v,
        None => {
            part.diags.push(path, Some(line), "sum of values overflows");
            return;
        }
    }
    part.rows += 1;
    for &t in tags {
        let e = part.treated.entry((t, split_text())).or_default();
        e.0 += 1;
        e.1 += value;
    }
}

/// Checks a code against its dimension: `Some(node)` for a known tree,
/// `None` when the code is to be interned (prefix and flat trees).
fn check_code(check: &CodeCheck, code: &str) -> std::result::Result<Option<NodeId>, String> {
    if code.is_empty() {
        return Err("empty code".into());
    }
    match check {
        CodeCheck::Known(h) => match h.lookup(code) {
            None => Err("unknown code (not in the hierarchy)".into()),
            Some(n) if !h.is_leaf(n) => {
                Err("is an aggregate of the hierarchy; records need detailed codes".into())
            }
            Some(n) => Ok(Some(n)),
        },
        CodeCheck::Through(h, c) => c.leaf(h, code).map(Some),
        CodeCheck::Prefix { len, truncate } => {
            let len = *len;
            if !code.is_ascii() {
                Err("structured (prefix) codes must be ASCII".into())
            } else if code.len() == len || (*truncate && code.len() > len) {
                Ok(None)
            } else {
                Err(format!(
                    "has {} characters, the hierarchy's detailed codes have {len}",
                    code.len()
                ))
            }
        }
        CodeCheck::Any => Ok(None),
    }
}

/// Builds the trees known only from the data, renumbers every id
/// canonically and splits the sums into tables.
#[allow(clippy::too_many_arguments)]
fn finish(
    path: &Path,
    rules: &Rules,
    codes: Vec<Interner>,
    units: Interner,
    split_values: Vec<Interner>,
    split_keys: &[SmallVec<[u32; 4]>],
    folded: FxHashMap<FoldKey, i64>,
    rows: u64,
    rows_filtered: u64,
    treated: Vec<Treated>,
) -> Result<Microdata> {
    let dims = &rules.dimensions;
    let mut hierarchies = Vec::with_capacity(dims.len());
    let mut remap: Vec<Option<Vec<NodeId>>> = Vec::with_capacity(dims.len());
    for (d, interner) in dims.iter().zip(codes) {
        let names = interner.into_names();
        let h = d
            .source
            .tree(Path::new(&d.name), names.iter().map(|c| &**c))?;
        // Codes of a known tree are its node ids already.
        let known = matches!(d.source, HierarchySource::Known(_));
        remap.push((!known).then(|| {
            names
                .iter()
                .map(|c| h.lookup(c).expect("code is in its tree"))
                .collect()
        }));
        hierarchies.push(h);
    }
    // Contributors numbered in name order; tables in split-value order.
    let unit_names = units.into_names();
    let mut order: Vec<u32> = (0..unit_names.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| unit_names[a as usize].cmp(&unit_names[b as usize]));
    let mut unit_id = vec![0u32; order.len()];
    for (rank, &u) in order.iter().enumerate() {
        unit_id[u as usize] = rank as u32;
    }
    let value_names: Vec<Vec<Box<str>>> =
        split_values.into_iter().map(Interner::into_names).collect();
    let named = |key: &SmallVec<[u32; 4]>| -> Vec<String> {
        key.iter()
            .enumerate()
            .map(|(k, &id)| value_names[k][id as usize].to_string())
            .collect()
    };
    let mut by_name: Vec<(Vec<String>, usize)> = split_keys
        .iter()
        .enumerate()
        .map(|(id, k)| (named(k), id))
        .collect();
    by_name.sort();
    let mut table_of = vec![0usize; split_keys.len()];
    for (t, (_, id)) in by_name.iter().enumerate() {
        table_of[*id] = t;
    }
    let mut tables: Vec<TableData> = by_name
        .into_iter()
        .map(|(split, _)| TableData {
            split,
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
            .push(Contribution {
                unit: unit_id[unit as usize],
                leaf,
                value,
            });
    }
    tables
        .par_iter_mut()
        .for_each(|t| t.contributions.sort_unstable_by_key(|c| (c.unit, c.leaf)));
    let _ = path;
    Ok(Microdata {
        split_names: rules.input.split.clone(),
        dim_names: dims.iter().map(|d| d.name.clone()).collect(),
        hierarchies,
        tables,
        rows,
        rows_filtered,
        treated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_files_decoded_from_the_rules_encoding() {
        let latin = encoding_rs::WINDOWS_1252;
        assert_eq!(to_utf8(b"R\xE9union".to_vec(), latin), "Réunion".as_bytes());
        // A UTF-8 byte order mark wins over the rules (and is dropped).
        assert_eq!(
            to_utf8(b"\xEF\xBB\xBFR\xC3\xA9".to_vec(), latin),
            "Ré".as_bytes()
        );
        // UTF-8 input is left as it is, invalid bytes included (its readers report them).
        assert_eq!(to_utf8(b"R\xE9".to_vec(), encoding_rs::UTF_8), b"R\xE9");
    }

    #[test]
    fn blocks_end_outside_quotes() {
        let (tx, rx) = mpsc::sync_channel(100);
        let mut text = Vec::new();
        for i in 0..(BLOCK / 8) {
            text.extend_from_slice(format!("a,\"x\ny{i}\",1\n").as_bytes());
        }
        cut_blocks(&mut text.as_slice(), &tx).unwrap();
        drop(tx);
        let blocks: Vec<Block> = rx.iter().collect();
        assert!(blocks.len() > 1);
        let mut line = 2;
        for b in &blocks {
            assert_eq!(b.first_line, line);
            assert!(b.bytes.ends_with(b",1\n"));
            assert_eq!(b.bytes.iter().filter(|&&c| c == b'"').count() % 2, 0);
            line += b.bytes.iter().filter(|&&c| c == b'\n').count() as u64;
        }
        assert_eq!(
            blocks.iter().map(|b| b.bytes.len()).sum::<usize>(),
            text.len()
        );
    }
}
