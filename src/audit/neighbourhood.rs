//! A cell's neighbourhood in the table: per dimension, the subtree of
//! one of its node's ancestors, grown one dimension at a time. Patterns
//! protecting a cell (`secondary::pattern`) are usually found there, in an
//! LP of a few hundred cells instead of the whole table.
//!
//! # Complexity
//! [`Neighbourhood::cells`] visits the product of the subtrees' sizes.

use crate::hierarchy::NodeId;
use crate::table::Table;

/// A failing cell's neighbourhood: per dimension, the subtree of one of
/// the node's ancestors, down to the depth of the node's own detail; grown
/// one dimension at a time, the one that keeps it smallest, until every
/// dimension is at its root, and then the whole table.
pub struct Neighbourhood {
    /// Per dimension: the node's ancestors, nearest first (the node itself at 0).
    ancestors: Vec<Vec<NodeId>>,
    /// Per dimension: the nodes of the current subtree.
    nodes: Vec<Vec<NodeId>>,
    /// Per dimension: how far up the current subtree's top is.
    level: Vec<usize>,
    /// Per dimension: the depth of the node's deepest descendant (moving an
    /// aggregate moves some of its detail, so that detail must be in).
    max_depth: Vec<u16>,
    whole: bool,
}

impl Neighbourhood {
    /// The neighbourhood of cell `p` (a position in [`Table::cells`]).
    pub fn new(table: &Table, p: u32) -> Neighbourhood {
        let coords = table.coords(table.cells[p as usize].key);
        let ancestors: Vec<Vec<NodeId>> = table
            .dims
            .iter()
            .enumerate()
            .map(|(k, h)| h.ancestors(coords[k]))
            .collect();
        let max_depth = table
            .dims
            .iter()
            .enumerate()
            .map(|(k, h)| {
                let mut deepest = h.depth(coords[k]);
                let mut stack = vec![coords[k]];
                while let Some(n) = stack.pop() {
                    deepest = deepest.max(h.depth(n));
                    stack.extend_from_slice(h.children(n));
                }
                deepest
            })
            .collect();
        let mut n = Neighbourhood {
            nodes: vec![Vec::new(); ancestors.len()],
            level: vec![1; ancestors.len()],
            ancestors,
            max_depth,
            whole: false,
        };
        for k in 0..n.level.len() {
            n.nodes[k] = n.subtree(table, k, 1);
        }
        n
    }

    /// Nodes of dimension `k` under the ancestor `level` steps up, down to
    /// the depth of the node's detail.
    fn subtree(&self, table: &Table, k: usize, level: usize) -> Vec<NodeId> {
        let h = &table.dims[k];
        let up = &self.ancestors[k];
        let top = up[level.min(up.len() - 1)];
        let max_depth = self.max_depth[k];
        let mut nodes = Vec::new();
        let mut stack = vec![top];
        while let Some(n) = stack.pop() {
            nodes.push(n);
            stack.extend(h.children(n).iter().filter(|&&c| h.depth(c) <= max_depth));
        }
        nodes
    }

    /// Grows by one step; false when it already is the whole table.
    pub fn grow(&mut self, table: &Table) -> bool {
        if self.whole {
            return false;
        }
        // Candidates: dimensions not yet at their root; the smallest product wins.
        let size = |nodes: &[Vec<NodeId>]| nodes.iter().map(|n| n.len() as f64).product::<f64>();
        let mut best: Option<(f64, usize, Vec<NodeId>)> = None;
        for k in 0..self.level.len() {
            if self.level[k] >= self.ancestors[k].len() - 1 {
                continue;
            }
            let grown = self.subtree(table, k, self.level[k] + 1);
            let mut nodes = self.nodes.clone();
            nodes[k] = grown.clone();
            let s = size(&nodes);
            if best.as_ref().is_none_or(|b| s < b.0) {
                best = Some((s, k, grown));
            }
        }
        match best {
            Some((_, k, grown)) => {
                self.level[k] += 1;
                self.nodes[k] = grown;
            }
            None => self.whole = true,
        }
        true
    }

    /// How many coordinates the box spans (existing cells or not): an
    /// upper bound of [`Neighbourhood::cells`]'s length, known at no cost.
    pub fn span(&self) -> f64 {
        if self.whole {
            return f64::INFINITY;
        }
        self.nodes.iter().map(|n| n.len() as f64).product()
    }

    /// Of the existing cells, the values `keep` gives (in the box's order),
    /// or None as soon as there are more than `max` of them: a box too big
    /// to use costs only what it takes to find that out.
    pub fn cells_upto<T>(
        &self,
        table: &Table,
        keep: impl Fn(u32) -> Option<T>,
        max: usize,
    ) -> Option<Vec<T>> {
        let mut out = Vec::new();
        let mut push = |c: u32| {
            if let Some(t) = keep(c) {
                out.push(t);
            }
            out.len() <= max
        };
        if self.whole {
            return (0..table.cells.len() as u32).all(&mut push).then_some(out);
        }
        let ndims = self.nodes.len();
        let mut idx = vec![0usize; ndims];
        'product: loop {
            let key: u64 = (0..ndims)
                .map(|k| self.nodes[k][idx[k]] as u64 * table.stride(k))
                .sum();
            if let Some(c) = table.find(key) {
                if !push(c as u32) {
                    return None;
                }
            }
            for k in (0..ndims).rev() {
                idx[k] += 1;
                if idx[k] < self.nodes[k].len() {
                    continue 'product;
                }
                idx[k] = 0;
            }
            break;
        }
        Some(out)
    }

    /// Positions of the existing cells, sorted.
    pub fn cells(&self, table: &Table) -> Vec<u32> {
        let mut out = self.cells_upto(table, Some, usize::MAX).expect("no limit");
        out.sort_unstable();
        out
    }
}
