//! Record codes finer than the published leaves: records carry NC8 codes,
//! the table is published at A129 or CPF4. A dimension reads each record
//! code through a correspondence (`record code -> leaf code`): a file, or
//! the codes below the cut of a deeper tree
//! ([`Hierarchy::from_csv_text_cut`]). A record code it lacks is an input
//! error, never dropped.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use crate::csv_input::{strip_bom, Config};
use crate::error::{Diagnostics, Error, Result};
use crate::hierarchy::{Hierarchy, NodeId};

/// Record codes and the published leaf each one is counted in.
#[derive(Debug, Clone)]
pub struct Correspondence {
    source: PathBuf,
    map: FxHashMap<String, NodeId>,
}

impl Correspondence {
    /// From `(record code, leaf code)` pairs whose leaves are `tree`'s (a
    /// cut tree's own pairs).
    pub fn from_pairs(
        source: &Path,
        tree: &Hierarchy,
        pairs: Vec<(String, String)>,
    ) -> Result<Correspondence> {
        let mut map = FxHashMap::with_capacity_and_hasher(pairs.len(), Default::default());
        for (code, leaf) in pairs {
            let n = tree
                .lookup(&leaf)
                .filter(|&n| tree.is_leaf(n))
                .ok_or_else(|| Error::at(source, None, format!("'{leaf}' is not a leaf")))?;
            map.insert(code, n);
        }
        Ok(Correspondence {
            source: source.to_path_buf(),
            map,
        })
    }

    /// Reads a CSV text with a header row and two columns, the record code
    /// and the leaf of `tree` it is counted in. Errors name the line: a
    /// leaf that is not one of `tree`'s leaves, a record code given twice
    /// with different leaves.
    pub fn from_csv_text(source: &Path, text: &str, tree: &Hierarchy) -> Result<Correspondence> {
        let mut rdr = Config::new().flexible().text(text);
        let mut map: FxHashMap<String, NodeId> = FxHashMap::default();
        let mut first: FxHashMap<String, u64> = FxHashMap::default();
        let mut diags = Diagnostics::default();
        for (i, row) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    diags.push(source, Some(line), format!("unreadable row: {e}"));
                    continue;
                }
            };
            let code = row.get(0).unwrap_or("").trim();
            let leaf = row.get(1).unwrap_or("").trim();
            if row.len() == 1 && code.is_empty() {
                continue; // blank line
            }
            if code.is_empty() || leaf.is_empty() {
                diags.push(source, Some(line), "expected 'record code,leaf code'");
                continue;
            }
            let n = match tree.lookup(leaf) {
                Some(n) if tree.is_leaf(n) => n,
                Some(_) => {
                    diags.push(
                        source,
                        Some(line),
                        format!("'{leaf}' is an aggregate of the hierarchy, not a leaf"),
                    );
                    continue;
                }
                None => {
                    diags.push(
                        source,
                        Some(line),
                        format!("'{leaf}' is not a code of the hierarchy"),
                    );
                    continue;
                }
            };
            match map.get(code) {
                Some(&m) if m != n => diags.push(
                    source,
                    Some(line),
                    format!(
                        "'{code}' is already counted in '{}' (line {})",
                        tree.code(m),
                        first[code]
                    ),
                ),
                Some(_) => {}
                None => {
                    map.insert(code.to_string(), n);
                    first.insert(code.to_string(), line);
                }
            }
        }
        diags.into_result()?;
        if map.is_empty() {
            return Err(Error::at(source, None, "the correspondence is empty"));
        }
        Ok(Correspondence {
            source: source.to_path_buf(),
            map,
        })
    }

    /// The published leaf a record code is counted in: through the
    /// correspondence, or the code itself when it is one of `tree`'s leaves.
    pub fn leaf(&self, tree: &Hierarchy, code: &str) -> std::result::Result<NodeId, String> {
        if let Some(&n) = self.map.get(code) {
            return Ok(n);
        }
        match tree.lookup(code) {
            Some(n) if tree.is_leaf(n) => Ok(n),
            Some(_) => Err("is an aggregate of the hierarchy; records need detailed codes".into()),
            None => Err(format!(
                "unknown code (neither in the hierarchy nor in its correspondence {})",
                self.source.display()
            )),
        }
    }

    /// How many record codes it maps.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it maps no code.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The valid record codes of a dimension (`codes = "file"` in the rules):
/// a text file, one code a line; a record code outside it is an input
/// error, so that an invented code is never published.
#[derive(Debug, Clone)]
pub struct CodeList {
    source: PathBuf,
    codes: rustc_hash::FxHashSet<String>,
}

impl CodeList {
    /// Reads the list; blank lines and lines starting with `#` are skipped.
    pub fn from_text(source: &Path, text: &str) -> Result<CodeList> {
        let codes: rustc_hash::FxHashSet<String> = strip_bom(text)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        if codes.is_empty() {
            return Err(Error::at(source, None, "the code list is empty"));
        }
        Ok(CodeList {
            source: source.to_path_buf(),
            codes,
        })
    }

    /// Whether a record may carry `code`; the error says which list.
    pub fn check(&self, code: &str) -> std::result::Result<(), String> {
        if self.codes.contains(code) {
            Ok(())
        } else {
            Err(format!(
                "not a valid code (not in the code list {})",
                self.source.display()
            ))
        }
    }
}
