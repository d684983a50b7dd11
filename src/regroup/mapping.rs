//! A table's regrouping as codes (`regroup.csv`): every original code of the
//! regrouped dimension with its published code, and every partner moved into
//! a residual partner code. From it and the rules the published hierarchy
//! and the published records follow, so `cellmask audit` can rebuild the
//! regrouped table from the original records or from the release alone.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::csv_input::Config;
use crate::error::{Diagnostics, Error, Result};
use crate::hierarchy::{Edge, Hierarchy, NodeId};
use crate::read::{Contribution, TableData};
use crate::rules::{HierarchySource, RegroupPlan, Rules};

/// How one table is published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableMap {
    pub split: Vec<String>,
    /// Original detailed code -> published code, regrouped dimension.
    pub codes: BTreeMap<String, String>,
    /// (published code of the regrouped dimension, original partner code)
    /// -> residual partner code.
    pub partners: BTreeMap<(String, String), String>,
}

/// Depth of the unit level in the regrouped dimension's tree (the root is 0).
pub fn unit_depth(rules: &Rules, plan: &RegroupPlan) -> u16 {
    match &rules.dimensions[plan.dim].source {
        HierarchySource::Prefix { levels, .. } => {
            levels
                .iter()
                .position(|&l| l == plan.unit)
                .expect("validated") as u16
                + 1
        }
        _ => unreachable!("the plan's dimension is a prefix tree (validated)"),
    }
}

impl TableMap {
    /// The published tree of the regrouped dimension: the original tree down
    /// to the units, then under each unit its published codes (none when
    /// the unit is published whole).
    pub fn published_tree(
        &self,
        original: &Hierarchy,
        unit_depth: u16,
    ) -> std::result::Result<Hierarchy, String> {
        let mut edges = Vec::new();
        let mut kept = BTreeSet::new();
        let mut blocks: BTreeMap<String, String> = BTreeMap::new();
        for n in 0..original.len() as NodeId {
            if original.depth(n) <= unit_depth {
                let code = original.code(n);
                kept.insert(code.to_string());
                edges.push(Edge {
                    code: code.to_string(),
                    parent: original.parent(n).map(|p| original.code(p).to_string()),
                    label: original.label(n).to_string(),
                    line: None,
                });
            }
        }
        for (code, published) in &self.codes {
            let n = original
                .lookup(code)
                .filter(|&n| original.is_leaf(n) && original.depth(n) > unit_depth)
                .ok_or_else(|| format!("'{code}' is not a detailed code"))?;
            let unit = original
                .ancestors(n)
                .into_iter()
                .find(|&a| original.depth(a) == unit_depth)
                .expect("a detailed code lies below a unit");
            let unit_code = original.code(unit);
            if published == unit_code {
                continue;
            }
            match blocks.get(published) {
                Some(u) if u != unit_code => {
                    return Err(format!(
                        "published code '{published}' lies under both '{u}' and '{unit_code}'"
                    ))
                }
                _ => {
                    blocks.insert(published.clone(), unit_code.to_string());
                }
            }
        }
        for (code, unit) in blocks {
            if kept.contains(&code) {
                return Err(format!(
                    "published code '{code}' is already a code of a coarser level"
                ));
            }
            edges.push(Edge {
                code,
                parent: Some(unit),
                label: String::new(),
                line: None,
            });
        }
        Hierarchy::from_edges(Path::new("regroup.csv"), edges).map_err(|e| e.to_string())
    }

    /// The table's records at the published codes, and its published trees.
    pub fn apply(
        &self,
        data: &TableData,
        dims: &[Arc<Hierarchy>],
        plan: &RegroupPlan,
        unit_depth: u16,
    ) -> std::result::Result<(TableData, Vec<Arc<Hierarchy>>), String> {
        let dim = plan.dim;
        let original = &dims[dim];
        let tree = Arc::new(self.published_tree(original, unit_depth)?);
        let mut new_id: Vec<NodeId> = vec![NodeId::MAX; original.len()];
        for (code, published) in &self.codes {
            if let (Some(n), Some(id)) = (original.lookup(code), tree.lookup(published)) {
                new_id[n as usize] = id;
            }
        }
        let mut moves: FxHashMap<(NodeId, NodeId), NodeId> = FxHashMap::default();
        if let Some(p) = &plan.partner {
            let ph = &dims[p.dim];
            for ((product, from), to) in &self.partners {
                let look = |h: &Hierarchy, c: &str| {
                    h.lookup(c).ok_or_else(|| format!("unknown code '{c}'"))
                };
                moves.insert((look(&tree, product)?, look(ph, from)?), look(ph, to)?);
            }
        }
        let mut contributions: Vec<Contribution> = Vec::with_capacity(data.contributions.len());
        for c in &data.contributions {
            let mut c = *c;
            let id = new_id[c.leaf[dim] as usize];
            if id == NodeId::MAX {
                return Err(format!(
                    "code '{}' has no published code",
                    original.code(c.leaf[dim])
                ));
            }
            c.leaf[dim] = id;
            if let Some(p) = &plan.partner {
                if let Some(&to) = moves.get(&(id, c.leaf[p.dim])) {
                    c.leaf[p.dim] = to;
                }
            }
            contributions.push(c);
        }
        contributions.sort_unstable_by_key(|a| (a.unit, a.leaf));
        contributions.dedup_by(|next, kept| {
            if next.unit == kept.unit && next.leaf == kept.leaf {
                kept.value += next.value;
                true
            } else {
                false
            }
        });
        let mut out = dims.to_vec();
        out[dim] = tree;
        Ok((
            TableData {
                split: data.split.clone(),
                contributions,
            },
            out,
        ))
    }
}

const COLUMNS: [&str; 4] = ["dimension", "code", "published", "within"];

/// Writes `regroup.csv`: split values, `dimension`, `code` (original),
/// `published`, and `within` (for partner moves: the published code of the
/// regrouped dimension the move applies to).
pub fn write_csv(
    w: &mut dyn Write,
    split_names: &[String],
    dim_names: &[String],
    plan: &RegroupPlan,
    maps: &[TableMap],
) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let header: Vec<&str> = split_names
        .iter()
        .map(String::as_str)
        .chain(COLUMNS)
        .collect();
    out.write_record(&header)?;
    for m in maps {
        for (code, published) in &m.codes {
            let mut row = m.split.clone();
            row.extend([
                dim_names[plan.dim].clone(),
                code.clone(),
                published.clone(),
                String::new(),
            ]);
            out.write_record(&row)?;
        }
        if let Some(p) = &plan.partner {
            for ((within, from), to) in &m.partners {
                let mut row = m.split.clone();
                row.extend([
                    dim_names[p.dim].clone(),
                    from.clone(),
                    to.clone(),
                    within.clone(),
                ]);
                out.write_record(&row)?;
            }
        }
    }
    out.flush()
}

/// Reads a `regroup.csv` written by [`write_csv`] (tables in split order).
pub fn read_csv(path: &Path, rules: &Rules, plan: &RegroupPlan) -> Result<Vec<TableMap>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = Config::new().text(&text);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::at(path, Some(1), format!("unreadable header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let expected: Vec<String> = rules
        .input
        .split
        .iter()
        .cloned()
        .chain(COLUMNS.map(String::from))
        .collect();
    if header != expected {
        return Err(Error::at(
            path,
            Some(1),
            format!("expected the columns {}", expected.join(",")),
        ));
    }
    let ns = rules.input.split.len();
    let dim_name = &rules.dimensions[plan.dim].name;
    let partner_name = plan.partner.as_ref().map(|p| &rules.dimensions[p.dim].name);
    let mut maps: BTreeMap<Vec<String>, TableMap> = BTreeMap::new();
    let mut diags = Diagnostics::default();
    for rec in rdr.records() {
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
        let line = rec.position().map(|p| p.line());
        let f: Vec<String> = rec.iter().map(|s| s.trim().to_string()).collect();
        let split = f[..ns].to_vec();
        let (dim, code, published, within) = (&f[ns], &f[ns + 1], &f[ns + 2], &f[ns + 3]);
        if code.is_empty() || published.is_empty() {
            diags.push(path, line, "empty code");
            continue;
        }
        let m = maps.entry(split.clone()).or_insert_with(|| TableMap {
            split,
            ..TableMap::default()
        });
        let clash = if dim == dim_name && within.is_empty() {
            m.codes.insert(code.clone(), published.clone()).is_some()
        } else if Some(dim) == partner_name && !within.is_empty() {
            m.partners
                .insert((within.clone(), code.clone()), published.clone())
                .is_some()
        } else {
            diags.push(
                path,
                line,
                format!("dimension '{dim}' is neither the regrouped one nor the partner one, or 'within' does not fit it"),
            );
            continue;
        };
        if clash {
            diags.push(path, line, format!("'{code}' is listed twice"));
        }
    }
    diags.into_result()?;
    Ok(maps.into_values().collect())
}
