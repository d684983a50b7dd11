//! The fast method's step: one small LP per under-protected cell and
//! direction, finding the cheapest *protecting pattern* around it.
//!
//! A pattern is a deviation `d` of the cell values that keeps every
//! equation true, moves the primary cell by its protection level and moves
//! no published cell. If such a `d` exists among the masked cells, the
//! attacker cannot exclude `x + d`, so the primary is protected in that
//! direction; every cell `d` moves is masked, and each of them gets a
//! non-zero interval too. Masking more cells later only widens intervals,
//! so patterns found early stay valid.
//!
//! The LP (after Fischetti and Salazar-González's heuristic): variables
//! `u_j, w_j >= 0` (up and down moves, `w_j <= value_j` as cells stay
//! non-negative), `sum coef (u - w) = 0` on every equation, the primary
//! moved by its level, cost `cost_j` per unit of move through a published
//! cell and almost nothing through masked ones. The support is masked.
//!
//! Decomposition: the LP of a cell only spans its neighbourhood — in
//! every dimension, the subtree of the node's parent down to the depth of
//! the node's own detail, then grown one dimension at a time (the one
//! keeping it smallest) up to the roots, then the whole table; cells
//! outside are held fixed, so a pattern found there is a pattern of the
//! whole table. Tables too are independent and solved in parallel.

use highs::{HighsModelStatus, RowProblem};

use crate::audit::lp::LpError;
use crate::audit::{Earlier, Failure, FailureKind};
use crate::hierarchy::NodeId;
use crate::table::{Status, Table};

use super::instance::{Forced, Instance};

/// Relative margin on protection levels so that the audit's check, made
/// with the solver's tolerances, is met with room.
const MARGIN: f64 = 1e-6;

/// A move smaller than this (relative to the level) is solver noise.
const SUPPORT_TOL: f64 = 1e-7;

/// Direction of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// Masks a protecting pattern for each failing cell of an audit, in
/// decreasing order of protection level: in the directions where its
/// interval falls short (upwards only for a secondary cell disclosed
/// exactly). Returns the cells masked and the LPs solved.
///
/// Each pattern found is a solution of the attacker's system once its cells
/// are masked: `proofs` records, per cell moved, the value it
/// reaches there, so that the next check need not prove it again.
pub fn mask_patterns(
    table: &mut Table,
    inst: &Instance,
    failures: &[Failure],
    proofs: &mut [Earlier],
) -> Result<(usize, usize), LpError> {
    let mut cells: Vec<u32> = failures
        .iter()
        .filter(|f| f.kind != FailureKind::PrimaryPublished)
        .map(|f| f.cell)
        .collect();
    cells.dedup();
    let level = |c: u32| {
        let cell = &table.cells[c as usize];
        cell.upper_protection.max(cell.lower_protection)
    };
    cells.sort_by(|&a, &b| level(b).total_cmp(&level(a)).then(a.cmp(&b)));
    let mut slot = vec![u32::MAX; table.cells.len()];
    let (mut masked, mut solves) = (0, 0);
    for p in cells {
        let cell = &table.cells[p as usize];
        let t = cell.value as f64;
        let (low, high) = cell.audit.unwrap_or((t, t));
        let up = cell.upper_protection.max(inst.min_width) * (1.0 + MARGIN);
        let down = (cell.lower_protection * (1.0 + MARGIN)).min(t);
        let mut wanted = Vec::new();
        if high < t + up || high - low < inst.min_width {
            wanted.push((Direction::Up, up));
        }
        if down > 0.0 && low > t - down {
            wanted.push((Direction::Down, down));
        }
        for (dir, amount) in wanted {
            let mut around = Neighbourhood::new(table, p);
            loop {
                let cells = around.cells(table);
                solves += 1;
                match solve_pattern(table, inst, &cells, &mut slot, p, dir, amount)? {
                    Some(moves) => {
                        for (c, m) in moves {
                            let cell = &mut table.cells[c as usize];
                            if cell.status == Status::Published {
                                cell.status = Status::Secondary;
                                masked += 1;
                            }
                            proofs[c as usize].extend(cell.value, cell.value as f64 + m * amount);
                        }
                        break;
                    }
                    // No pattern even in the whole table: repair and the audit decide.
                    None if !around.grow(table) => break,
                    None => {}
                }
            }
        }
    }
    Ok((masked, solves))
}

/// A failing cell's neighbourhood: per dimension, the subtree of one of
/// the node's ancestors, down to the depth of the node's own detail; grown
/// one dimension at a time, the one that keeps it smallest, until every
/// dimension is at its root, and then the whole table.
struct Neighbourhood {
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
    fn new(table: &Table, p: u32) -> Neighbourhood {
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
    fn grow(&mut self, table: &Table) -> bool {
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

    /// Positions of the existing cells, sorted.
    fn cells(&self, table: &Table) -> Vec<u32> {
        if self.whole {
            return (0..table.cells.len() as u32).collect();
        }
        let ndims = self.nodes.len();
        let mut out = Vec::new();
        let mut idx = vec![0usize; ndims];
        'product: loop {
            let key: u64 = (0..ndims)
                .map(|k| self.nodes[k][idx[k]] as u64 * table.stride(k))
                .sum();
            if let Some(c) = table.find(key) {
                out.push(c as u32);
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
        out.sort_unstable();
        out
    }
}

/// The cheapest pattern moving `p` by `amount` in `dir` within `cells`:
/// the cells it moves and how far (in units of `amount`, signed), or None
/// when no pattern exists there.
fn solve_pattern(
    table: &Table,
    inst: &Instance,
    cells: &[u32],
    slot: &mut [u32],
    p: u32,
    dir: Direction,
    amount: f64,
) -> Result<Option<Vec<(u32, f64)>>, LpError> {
    // Cells that may move: the neighbourhood less the forced-published ones.
    let movable: Vec<u32> = cells
        .iter()
        .copied()
        .filter(|&c| c == p || inst.forced[c as usize] != Forced::Published)
        .collect();
    let norm = movable
        .iter()
        .map(|&c| inst.costs[c as usize])
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    // Each cell costs a little even when masked: fewer, shorter patterns.
    let eps = 1e-6;
    let mut pb = RowProblem::default();
    let mut cols = Vec::with_capacity(movable.len());
    for (i, &c) in movable.iter().enumerate() {
        slot[c as usize] = i as u32;
        let cell = &table.cells[c as usize];
        let unit = if cell.status.is_masked() {
            eps
        } else {
            inst.costs[c as usize] / norm + eps
        };
        let cap = cell.value as f64 / amount;
        let (u, w) = if c == p {
            match dir {
                Direction::Up => (pb.add_column(0.0, 1.0..=1.0), pb.add_column(0.0, 0.0..=0.0)),
                Direction::Down => (pb.add_column(0.0, 0.0..=0.0), pb.add_column(0.0, 1.0..=1.0)),
            }
        } else {
            (pb.add_column(unit, 0.0..), pb.add_column(unit, 0.0..=cap))
        };
        cols.push((u, w));
    }
    let mut rows: Vec<u32> = movable
        .iter()
        .flat_map(|&c| inst.eqs_of[c as usize].iter().copied())
        .collect();
    rows.sort_unstable();
    rows.dedup();
    for e in rows {
        let terms: Vec<_> = inst.eqs[e as usize]
            .terms()
            .filter(|&(c, _)| slot[c as usize] != u32::MAX)
            .flat_map(|(c, coef)| {
                let (u, w) = cols[slot[c as usize] as usize];
                [(u, coef), (w, -coef)]
            })
            .collect();
        pb.add_row(0.0..=0.0, terms);
    }
    let solved = super::solve_lp(pb)?;
    let result = match solved.status() {
        HighsModelStatus::Optimal => {
            let x = solved.get_solution();
            let x = x.columns();
            Some(
                movable
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| x[2 * i] + x[2 * i + 1] > SUPPORT_TOL)
                    .map(|(i, &c)| (c, x[2 * i] - x[2 * i + 1]))
                    .collect(),
            )
        }
        HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => None,
        s => {
            for &c in &movable {
                slot[c as usize] = u32::MAX;
            }
            return Err(LpError::Solver(format!("pattern LP ended with {s:?}")));
        }
    };
    for &c in &movable {
        slot[c as usize] = u32::MAX;
    }
    Ok(result)
}
