//! The audit-and-repair method: cheap, always ends protected.
//!
//! 1. Closure: an equation with a single masked cell discloses it by
//!    subtraction (a *lone* cell), and one whose only two masked cells are
//!    both primary secrets of a single contributor lets each contributor
//!    recover the other (the singleton problem, handled as τ-ARGUS does): in both
//!    cases the cheapest published cell of the equation is masked too,
//!    until no equation is left so.
//! 2. Audit with the attacker's LPs.
//! 3. Every failing cell gets, in each equation holding it, the cheapest
//!    published cell masked (when none is left, the nearest published cell
//!    further out through masked cells), and back to 1.
//!
//! Every round masks at least one more cell, so it ends; a table with
//! every cell masked passes (all maxima unbounded, minima 0).

use crate::audit::lp::LpError;
use crate::audit::{check_table_after, FailureKind, TableAudit};
use crate::certify::witness::Proofs;
use crate::table::{Status, Table};

use super::instance::{is_singleton, Instance};

/// What a repair did: rounds of audit, cells masked, and the check that
/// passed its masking.
#[derive(Debug, Clone, Default)]
pub struct Repaired {
    pub rounds: usize,
    pub masked: usize,
    pub audit: Option<TableAudit>,
}

/// Runs the method on one table whose primary cells (and maybe some
/// secondary ones) are marked, until the audit passes.
pub fn run(table: &mut Table, inst: &Instance) -> Result<Repaired, LpError> {
    let (eqs, eqs_of) = (&inst.eqs, &inst.eqs_of);
    let mut out = Repaired::default();
    let mut earlier: Option<Proofs> = None;
    loop {
        out.rounds += 1;
        out.masked += close(table, inst);
        let mut audit = check_table_after(table, earlier.take())?;
        if audit.passed() {
            out.audit = Some(audit);
            return Ok(out);
        }
        earlier = Some(std::mem::take(&mut audit.proofs));
        let mut to_mask: Vec<u32> = Vec::new();
        for f in &audit.failures {
            if f.kind == FailureKind::PrimaryPublished {
                continue; // cannot happen here: primary cells are masked
            }
            // One published cell per equation around the failing cell: more
            // slack at once, fewer rounds.
            let mut found = false;
            for &e in &eqs_of[f.cell as usize] {
                if let Some(c) = inst.cheapest(table, eqs[e as usize].terms().map(|(c, _)| c)) {
                    to_mask.push(c);
                    found = true;
                }
            }
            if !found {
                if let Some(c) = cheapest_near(table, inst, f.cell) {
                    to_mask.push(c);
                }
            }
        }
        to_mask.sort_unstable();
        to_mask.dedup();
        if to_mask.is_empty() {
            // Nothing published near any failing cell: mask the cheapest published cell left.
            match inst.cheapest(table, 0..table.cells.len() as u32) {
                Some(c) => to_mask.push(c),
                None => return Ok(out), // everything is masked: the audit will judge
            }
        }
        for c in to_mask {
            table.cells[c as usize].status = Status::Secondary;
            out.masked += 1;
        }
    }
}

/// Masks cells until no equation discloses one by subtraction or leaves two
/// single-contributor primaries alone together; returns how many it masked.
pub fn close(table: &mut Table, inst: &Instance) -> usize {
    close_with(table, inst, true)
}

/// Masks cells until no equation leaves two single-contributor primaries
/// alone together (the fast method gives lone cells patterns instead, see
/// [`super::pattern::mask_lone`]); returns how many it masked.
pub fn close_singletons(table: &mut Table, inst: &Instance) -> usize {
    close_with(table, inst, false)
}

fn close_with(table: &mut Table, inst: &Instance, lone: bool) -> usize {
    let mut added = 0;
    loop {
        let mut changed = false;
        for e in &inst.eqs {
            let masked: Vec<u32> = e
                .terms()
                .map(|(c, _)| c)
                .filter(|&c| table.cells[c as usize].status.is_masked())
                .collect();
            let singleton = masked.len() == 2
                && masked
                    .iter()
                    .all(|&c| is_singleton(&table.cells[c as usize]));
            if (lone && masked.len() == 1) || singleton {
                if let Some(c) = inst.cheapest(table, e.terms().map(|(c, _)| c)) {
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

/// The cheapest published cell in the equations around `cell`, searching
/// outwards through masked cells, a few equations deep.
fn cheapest_near(table: &Table, inst: &Instance, cell: u32) -> Option<u32> {
    let (eqs, eqs_of) = (&inst.eqs, &inst.eqs_of);
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
        if let Some(best) = inst.cheapest(table, around.iter().copied()) {
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
