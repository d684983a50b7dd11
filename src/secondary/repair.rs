//! The audit-and-repair method: cheap, always ends protected.
//!
//! 1. Closure: an equation with a single masked cell discloses it by
//!    subtraction, and one whose only two masked cells are both primary
//!    secrets of a single contributor lets each contributor recover the
//!    other (the singleton problem, handled as τ-ARGUS does): in both
//!    cases the cheapest published cell of the equation is masked too,
//!    until no equation is left so.
//! 2. Audit with the attacker's LPs.
//! 3. Every failing cell gets, in each equation holding it, the cheapest
//!    published cell masked (when none is left, the nearest published cell
//!    further out through masked cells), and back to 1.
//! Every round masks at least one more cell, so it ends; a table with
//! every cell masked passes (all maxima unbounded, minima 0).

use crate::audit::equations::{equations, Equation};
use crate::audit::lp::LpError;
use crate::audit::{check_table, FailureKind};
use crate::rules::Cost;
use crate::table::{Status, Table};

use super::{cost, Outcome};

/// Runs the method on one table whose primary cells are marked.
pub fn run(table: &mut Table, cost_kind: Cost) -> Result<Outcome, LpError> {
    let eqs = equations(table);
    let mut eqs_of: Vec<Vec<u32>> = vec![Vec::new(); table.cells.len()];
    for (i, e) in eqs.iter().enumerate() {
        for (c, _) in e.terms() {
            eqs_of[c as usize].push(i as u32);
        }
    }
    let costs: Vec<f64> = table.cells.iter().map(|c| cost(c, cost_kind)).collect();
    let mut out = Outcome {
        method: "repair",
        ..Outcome::default()
    };
    loop {
        out.rounds += 1;
        out.secondary += close(table, &eqs, &costs);
        let audit = check_table(table)?;
        if audit.passed() {
            return Ok(out);
        }
        let mut to_mask: Vec<u32> = Vec::new();
        for f in &audit.failures {
            if f.kind == FailureKind::PrimaryPublished {
                continue; // cannot happen here: primary cells are masked
            }
            // One published cell per equation around the failing cell: more
            // slack at once, fewer rounds.
            let mut found = false;
            for &e in &eqs_of[f.cell as usize] {
                if let Some(c) = cheapest(table, &costs, eqs[e as usize].terms().map(|(c, _)| c)) {
                    to_mask.push(c);
                    found = true;
                }
            }
            if !found {
                if let Some(c) = cheapest_near(table, &eqs, &eqs_of, &costs, f.cell) {
                    to_mask.push(c);
                }
            }
        }
        to_mask.sort_unstable();
        to_mask.dedup();
        if to_mask.is_empty() {
            // Nothing published near any failing cell: mask the cheapest published cell left.
            match cheapest(table, &costs, 0..table.cells.len() as u32) {
                Some(c) => to_mask.push(c),
                None => return Ok(out), // everything is masked: the audit will judge
            }
        }
        for c in to_mask {
            table.cells[c as usize].status = Status::Secondary;
            out.secondary += 1;
        }
    }
}

/// Masks cells until no equation discloses one by subtraction or leaves two
/// single-contributor primaries alone together; returns how many it masked.
fn close(table: &mut Table, eqs: &[Equation], costs: &[f64]) -> usize {
    let mut added = 0;
    loop {
        let mut changed = false;
        for e in eqs {
            let masked: Vec<u32> = e
                .terms()
                .map(|(c, _)| c)
                .filter(|&c| table.cells[c as usize].status.is_masked())
                .collect();
            let singleton = masked.len() == 2
                && masked.iter().all(|&c| {
                    let cell = &table.cells[c as usize];
                    cell.status == Status::Primary && cell.contributors == 1
                });
            if masked.len() == 1 || singleton {
                if let Some(c) = cheapest(table, costs, e.terms().map(|(c, _)| c)) {
                    table.cells[c as usize].status = Status::Secondary;
                    added += 1;
                    changed = true;
                }
            }
        }
        if !changed {
            return added;
        }
    }
}

/// The cheapest published cell among `cells` (ties: the first in table order).
fn cheapest(table: &Table, costs: &[f64], cells: impl Iterator<Item = u32>) -> Option<u32> {
    cells
        .filter(|&c| !table.cells[c as usize].status.is_masked())
        .min_by(|&a, &b| {
            costs[a as usize]
                .total_cmp(&costs[b as usize])
                .then(a.cmp(&b))
        })
}

/// The cheapest published cell in the equations around `cell`, searching
/// outwards through masked cells, a few equations deep.
fn cheapest_near(
    table: &Table,
    eqs: &[Equation],
    eqs_of: &[Vec<u32>],
    costs: &[f64],
    cell: u32,
) -> Option<u32> {
    let mut frontier = vec![cell];
    let mut seen_cells = std::collections::HashSet::new();
    seen_cells.insert(cell);
    for _depth in 0..4 {
        let mut around: Vec<u32> = Vec::new();
        for &c in &frontier {
            for &e in &eqs_of[c as usize] {
                around.extend(eqs[e as usize].terms().map(|(d, _)| d));
            }
        }
        around.sort_unstable();
        around.dedup();
        if let Some(best) = cheapest(table, costs, around.iter().copied()) {
            return Some(best);
        }
        frontier = around
            .into_iter()
            .filter(|&d| seen_cells.insert(d))
            .collect();
        if frontier.is_empty() {
            return None;
        }
    }
    None
}
