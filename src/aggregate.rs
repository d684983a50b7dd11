//! Aggregation: from detailed contributions to every cell of a table, along
//! every dimension's hierarchy (SPEC section 1: every node is a cell).
//!
//! Contributions are processed one contributor at a time: its values are
//! first summed into each cell it reaches, then each cell takes that sum as
//! one contribution. So a cell counts distinct contributors and keeps its
//! largest contributions exactly, with memory proportional to the cells.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::hierarchy::{Hierarchy, NodeId};
use crate::read::TableData;
use crate::table::{Cell, RuleSet, Status, Table, TooLarge};

/// Running statistics of one cell.
#[derive(Debug, Clone, Default)]
struct Acc {
    value: i64,
    contributors: u32,
    top: SmallVec<[i64; 2]>,
}

impl Acc {
    fn add(&mut self, v: i64, keep: usize) {
        self.value += v;
        self.contributors += 1;
        let pos = self
            .top
            .iter()
            .position(|&t| v > t)
            .unwrap_or(self.top.len());
        if pos < keep {
            self.top.insert(pos, v);
            self.top.truncate(keep);
        }
    }
}

/// For each dimension and node, the node and its ancestors.
pub(crate) fn ancestor_lists(dims: &[Arc<Hierarchy>]) -> Vec<Vec<Vec<NodeId>>> {
    dims.iter()
        .map(|h| (0..h.len() as NodeId).map(|n| h.ancestors(n)).collect())
        .collect()
}

/// Builds every cell of one table. `top` is how many of the largest
/// contributions each cell keeps for the primary rules.
pub fn aggregate(data: &TableData, dims: &[Arc<Hierarchy>], top: usize) -> Result<Table, TooLarge> {
    let strides = Table::strides(dims)?;
    let anc = ancestor_lists(dims);
    // Tables have about as many cells as half their detailed contributions: grow once or twice, not twenty times.
    let mut cells: FxHashMap<u64, Acc> =
        FxHashMap::with_capacity_and_hasher(data.contributions.len() / 2, Default::default());
    let mut per_unit: FxHashMap<u64, i64> = FxHashMap::default();
    let mut keys: Vec<u64> = Vec::new();
    let mut next: Vec<u64> = Vec::new();
    for group in data.contributions.chunk_by(|a, b| a.unit == b.unit) {
        if let [c] = group {
            // One detailed cell: its ancestors are distinct cells, no summing needed.
            cell_keys(&c.leaf, &anc, &strides, &mut keys, &mut next);
            for &k in &keys {
                cells.entry(k).or_default().add(c.value, top);
            }
            continue;
        }
        per_unit.clear();
        for c in group {
            cell_keys(&c.leaf, &anc, &strides, &mut keys, &mut next);
            for &k in &keys {
                *per_unit.entry(k).or_insert(0) += c.value;
            }
        }
        for (&k, &v) in &per_unit {
            cells.entry(k).or_default().add(v, top);
        }
    }
    let cells = cells
        .into_iter()
        .map(|(key, a)| Cell {
            key,
            value: a.value,
            contributors: a.contributors,
            top: a.top,
            status: Status::Published,
            rules: RuleSet::default(),
            lower_protection: 0,
            upper_protection: 0,
            audit: None,
        })
        .collect();
    Table::new(data.split.clone(), dims.to_vec(), cells)
}

/// Keys of all cells a detailed cell at `leaf` adds to: the cartesian
/// product of its coordinates' ancestors (`anc`: [`ancestor_lists`]).
pub(crate) fn cell_keys(
    leaf: &[NodeId],
    anc: &[Vec<Vec<NodeId>>],
    strides: &[u64],
    keys: &mut Vec<u64>,
    next: &mut Vec<u64>,
) {
    keys.clear();
    keys.push(0);
    for (k, lists) in anc.iter().enumerate() {
        next.clear();
        for &partial in keys.iter() {
            for &n in &lists[leaf[k] as usize] {
                next.push(partial + n as u64 * strides[k]);
            }
        }
        std::mem::swap(keys, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{Contribution, Leaf, MAX_DIMS};
    use std::path::Path;

    fn leaf(a: u32, b: u32) -> Leaf {
        let mut l = [0; MAX_DIMS];
        l[0] = a;
        l[1] = b;
        l
    }

    #[test]
    fn sums_distinct_contributors_and_tops() {
        // Rows: T > {A, B}; columns: W > {X}.
        let rows = Arc::new(Hierarchy::from_csv_text(Path::new("r"), "T,\nA,T\nB,T\n").unwrap());
        let cols = Arc::new(Hierarchy::from_csv_text(Path::new("c"), "W,\nX,W\n").unwrap());
        let (a, b, x) = (
            rows.lookup("A").unwrap(),
            rows.lookup("B").unwrap(),
            cols.lookup("X").unwrap(),
        );
        let data = TableData {
            split: vec![],
            contributions: vec![
                Contribution {
                    unit: 0,
                    leaf: leaf(a, x),
                    value: 10,
                },
                Contribution {
                    unit: 0,
                    leaf: leaf(b, x),
                    value: 5,
                },
                Contribution {
                    unit: 1,
                    leaf: leaf(b, x),
                    value: 7,
                },
            ],
        };
        let t = aggregate(&data, &[rows.clone(), cols.clone()], 2).unwrap();
        assert_eq!(t.cells.len(), 6);
        let cell = |r: &str, c: &str| {
            let k = t.key(&[rows.lookup(r).unwrap(), cols.lookup(c).unwrap()]);
            &t.cells[t.find(k).unwrap()]
        };
        let total = cell("T", "W");
        assert_eq!((total.value, total.contributors), (22, 2));
        // Unit 0 contributes 10 + 5 = 15 to the total: one contribution, not two.
        assert_eq!(total.top.as_slice(), &[15, 7]);
        let bx = cell("B", "X");
        assert_eq!(
            (bx.value, bx.contributors, bx.top.as_slice()),
            (12, 2, &[7, 5][..])
        );
        assert_eq!(cell("A", "W").value, 10);
        assert_eq!(t.codes(total.key), ["T", "W"]);
        // Sorted by key: the grand total first.
        assert_eq!(t.cells[0].key, 0);
    }
}
