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
//! Decomposition: the LP of a primary only spans its neighbourhood — in
//! every dimension, the subtree of the node's parent down to the node's
//! depth (level 1), then of its grandparent (level 2), and so on; cells
//! outside are held fixed, so a pattern found there is a pattern of the
//! whole table. Tables too are independent and solved in parallel.

use highs::{HighsModelStatus, RowProblem};

use crate::audit::lp::LpError;
use crate::audit::{Failure, FailureKind};
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
pub fn mask_patterns(
    table: &mut Table,
    inst: &Instance,
    failures: &[Failure],
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
            let mut level = 1;
            loop {
                let (cells, whole) = neighbourhood(table, p, level);
                solves += 1;
                match solve_pattern(table, inst, &cells, &mut slot, p, dir, amount)? {
                    Some(support) => {
                        for c in support {
                            if table.cells[c as usize].status == Status::Published {
                                table.cells[c as usize].status = Status::Secondary;
                                masked += 1;
                            }
                        }
                        break;
                    }
                    // No pattern even in the whole table: repair and the audit decide.
                    None if whole => break,
                    None => level += 1,
                }
            }
        }
    }
    Ok((masked, solves))
}

/// The cells of a primary's neighbourhood at a level (positions, sorted),
/// and whether it is the whole table.
fn neighbourhood(table: &Table, p: u32, level: usize) -> (Vec<u32>, bool) {
    let coords = table.coords(table.cells[p as usize].key);
    let ndims = table.dims.len();
    let mut all_at_root = true;
    let mut per_dim: Vec<Vec<NodeId>> = Vec::with_capacity(ndims);
    for (k, h) in table.dims.iter().enumerate() {
        let node = coords[k];
        let up = h.ancestors(node);
        // Past the root on every dimension: the whole table.
        if level < up.len() {
            all_at_root = false;
        }
        let top = up[level.min(up.len() - 1)];
        let max_depth = h.depth(node);
        let mut nodes = Vec::new();
        let mut stack = vec![top];
        while let Some(n) = stack.pop() {
            nodes.push(n);
            stack.extend(h.children(n).iter().filter(|&&c| h.depth(c) <= max_depth));
        }
        per_dim.push(nodes);
    }
    if all_at_root {
        return ((0..table.cells.len() as u32).collect(), true);
    }
    let mut out = Vec::new();
    let mut idx = vec![0usize; ndims];
    'product: loop {
        let key: u64 = (0..ndims)
            .map(|k| per_dim[k][idx[k]] as u64 * table.stride(k))
            .sum();
        if let Some(c) = table.find(key) {
            out.push(c as u32);
        }
        for k in (0..ndims).rev() {
            idx[k] += 1;
            if idx[k] < per_dim[k].len() {
                continue 'product;
            }
            idx[k] = 0;
        }
        break;
    }
    out.sort_unstable();
    (out, false)
}

/// The cheapest pattern moving `p` by `amount` in `dir` within `cells`:
/// the cells it moves, or None when no pattern exists there.
fn solve_pattern(
    table: &Table,
    inst: &Instance,
    cells: &[u32],
    slot: &mut [u32],
    p: u32,
    dir: Direction,
    amount: f64,
) -> Result<Option<Vec<u32>>, LpError> {
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
                    .map(|(_, &c)| c)
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
