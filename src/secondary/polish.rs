//! The fast method's last step: a protected masking made cheaper region by
//! region, each region re-solved exactly with the rest of the table held
//! as it is (a large neighbourhood search over the exact model of
//! [`super::optimal`]).
//!
//! A region is a set of subtrees of one dimension (all cells whose
//! coordinate there lies in them). Its free cells are those it may mask
//! or publish: not primary, not forced. The master MILP has one binary per
//! free cell; every other cell is a constant, masked or published. Its
//! rows are those of the exact method: no masked cell alone in an
//! equation, the singleton rule, and the attacker's dual cuts of every
//! failing cell, the fixed cells' terms moved to the right-hand side.
//! Rounds go on until the master's masking passes the check (it replaces
//! the old one: cheaper by construction), or its optimum is no cheaper
//! than what the region has (the old masking is then optimal for the
//! region, and stays). Either way the table stays protected: a region's
//! masking is kept only once the whole table's check has passed it.
//!
//! # Complexity
//! Per region, a few master solves (MILPs over the region's free cells)
//! and one check of the whole table per round; the check starts from the
//! last passing masking's witnesses, so only the cells whose witnesses
//! moved an unmasked cell are searched again.

use std::collections::{BTreeMap, HashMap};

use highs::{Col, HighsModelStatus, Model, RowProblem, Sense};

use crate::audit::lp::{quiet_model, warm_starts_pay, LpError};
use crate::audit::{check_table_after, TableAudit};
use crate::certify::witness;
use crate::hierarchy::NodeId;
use crate::table::{Status, Table};

use super::instance::{singleton_company, Forced, Instance};
use super::optimal::{add_rows, cut_terms, needed, Needed};

/// Tables polished: up to this many cells, on tables whose LPs start warm
/// ([`warm_starts_pay`]). Each round checks the whole table, which on
/// bigger ones costs more than the loss it saves is worth (DROM full-scale
/// tables of 9,000-12,000 cells: 12-28 s each for 8-10% less loss;
/// benches/README.md).
pub const POLISH_MAX_CELLS: usize = 5_000;
/// Most cells in one region: its master stays a small MILP.
pub const REGION_MAX: usize = 4_000;
/// Master solves per region before it is left as it was.
const MAX_ROUNDS: usize = 40;
/// Branch-and-bound nodes per master solve (deterministic).
const MAX_NODES: i32 = 5_000;

/// What every region's search may reuse: witnesses (each one valid for
/// any masking that masks every cell it moves) and cuts (valid for every
/// protected masking).
struct Pool {
    witnesses: witness::Pool,
    /// Unconditional cuts: `sum k_j m_j >= 1`, coefficients capped at 1.
    cuts: Vec<Vec<(u32, f64)>>,
}

/// What the polish did on one table.
#[derive(Debug, Clone, Copy, Default)]
pub struct Polished {
    /// Regions whose master was solved.
    pub regions: usize,
    /// Regions given a cheaper masking.
    pub improved: usize,
    /// Master solves.
    pub rounds: usize,
}

/// Makes the protected masking of `table` (passed by `audit`) cheaper,
/// region after region, in a fixed order; returns the check of the
/// masking left on the table.
pub fn polish(
    table: &mut Table,
    inst: &Instance,
    mut audit: TableAudit,
) -> Result<(TableAudit, Polished), LpError> {
    debug_assert!(audit.passed());
    let mut done = Polished::default();
    let mut pool = Pool {
        witnesses: witness::Pool::at(audit.proofs.anchor.clone()),
        cuts: Vec::new(),
    };
    pool.witnesses.add(&audit.proofs);
    for region in regions(table) {
        let free: Vec<u32> = region
            .into_iter()
            .filter(|&c| is_free(table, inst, c))
            .collect();
        if !free
            .iter()
            .any(|&c| table.cells[c as usize].status == Status::Secondary)
        {
            continue;
        }
        done.regions += 1;
        if let Some(better) = resolve(table, inst, &free, &mut pool, &mut done.rounds)? {
            done.improved += 1;
            audit = better;
        }
    }
    Ok((audit, done))
}

/// Whether [`polish`] runs on this table (see [`POLISH_MAX_CELLS`]).
pub fn pays(table: &Table) -> bool {
    table.cells.len() <= POLISH_MAX_CELLS && warm_starts_pay(table)
}

/// Whether a method may change this cell's status.
fn is_free(table: &Table, inst: &Instance, c: u32) -> bool {
    let cell = &table.cells[c as usize];
    match cell.status {
        Status::Secondary => inst.forced[c as usize] != Forced::Masked,
        Status::Published => inst.forced[c as usize] != Forced::Published,
        _ => false,
    }
}

/// The regions, dimension by dimension: in each, the highest subtrees of at
/// most [`REGION_MAX`] cells (a leaf when even it is bigger), consecutive
/// ones packed together up to that size; cells at coordinates above them
/// belong to no region of that dimension. A table of at most that size
/// ends with itself whole.
fn regions(table: &Table) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let coords: Vec<_> = table.cells.iter().map(|c| table.coords(c.key)).collect();
    for (k, h) in table.dims.iter().enumerate() {
        // Cells under each node (the node's own included).
        let mut under = vec![0usize; h.len()];
        for xs in &coords {
            for a in h.ancestors(xs[k]) {
                under[a as usize] += 1;
            }
        }
        // Each cell's region root: its highest ancestor below the root small enough.
        let mut by_root: BTreeMap<NodeId, Vec<u32>> = BTreeMap::new();
        for (c, xs) in coords.iter().enumerate() {
            let line = h.ancestors(xs[k]);
            // line: the node first, the root last.
            let root = line
                .iter()
                .rev()
                .skip(1)
                .copied()
                .find(|&a| under[a as usize] <= REGION_MAX || h.is_leaf(a));
            if let Some(r) = root {
                by_root.entry(r).or_default().push(c as u32);
            }
        }
        let mut current: Vec<u32> = Vec::new();
        for (_, cells) in by_root {
            if !current.is_empty() && current.len() + cells.len() > REGION_MAX {
                out.push(std::mem::take(&mut current));
            }
            current.extend(cells);
        }
        if !current.is_empty() {
            out.push(current);
        }
    }
    // A small table last as one region: what sits at the roots and what
    // the regions of one dimension could not trade between them.
    if table.cells.len() <= REGION_MAX {
        out.push((0..table.cells.len() as u32).collect());
    }
    out
}

/// The region's master: a binary per free cell, the rest constants.
struct Master {
    model: Option<Model>,
    /// Per table cell: its column, for free cells.
    col: HashMap<u32, Col>,
    /// The direction binary of each cell given width cuts.
    choice: HashMap<u32, Col>,
    /// The largest cost, by which the objective is divided.
    norm: f64,
}

impl Master {
    /// The master over `free` (their binaries first, in that order).
    fn new(table: &Table, inst: &Instance, free: &[u32]) -> Master {
        let norm = free
            .iter()
            .map(|&c| inst.costs[c as usize])
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let mut pb = RowProblem::default();
        let mut col = HashMap::with_capacity(free.len());
        for &c in free {
            col.insert(
                c,
                pb.add_integer_column(inst.costs[c as usize] / norm, 0.0..=1.0),
            );
        }
        let masked_fixed =
            |j: u32| !col.contains_key(&j) && table.cells[j as usize].status.is_masked();
        for e in inst.equations_of(free) {
            let cells: Vec<u32> = inst.eqs[e as usize].terms().map(|(c, _)| c).collect();
            let here: Vec<Col> = cells.iter().filter_map(|j| col.get(j).copied()).collect();
            let fixed = cells.iter().filter(|&&j| masked_fixed(j)).count();
            // No masked cell alone in the equation.
            match fixed {
                0 => {
                    let y = pb.add_column(0.0, 0.0..=1.0);
                    for &m in &here {
                        pb.add_row(0.0.., [(y, 1.0), (m, -1.0)]);
                    }
                    pb.add_row(
                        0.0..,
                        here.iter()
                            .map(|&m| (m, 1.0))
                            .chain(std::iter::once((y, -2.0))),
                    );
                }
                1 => pb.add_row(1.0.., here.iter().map(|&m| (m, 1.0))),
                _ => {}
            }
            // The singleton problem.
            if let Some(others) = singleton_company(table, &cells) {
                if !others.iter().any(|&j| masked_fixed(j)) {
                    pb.add_row(
                        1.0..,
                        others.iter().filter_map(|j| col.get(j)).map(|&m| (m, 1.0)),
                    );
                }
            }
        }
        let mut model = quiet_model(pb, Sense::Minimise);
        model.set_option("mip_rel_gap", 0.0);
        model.set_option("mip_abs_gap", 1e-9);
        model.set_option("mip_max_nodes", MAX_NODES);
        Master {
            model: Some(model),
            col,
            choice: HashMap::new(),
            norm,
        }
    }

    /// A cut's terms over the free cells and the constant the masked held
    /// cells add (see [`cut_terms`]).
    fn terms(
        &self,
        table: &Table,
        cut: &[(u32, f64)],
        cond: Option<u32>,
    ) -> (Vec<(Col, f64)>, f64) {
        cut_terms(
            cut,
            cond,
            |j| self.col.get(&j).copied(),
            |j| table.cells[j as usize].status.is_masked(),
        )
    }
}

/// One region re-solved: the check of the cheaper masking left on the
/// table, or None (the table as it was) when the master finds none within
/// its rounds. Counts the master's solves in `rounds`.
fn resolve(
    table: &mut Table,
    inst: &Instance,
    free: &[u32],
    pool: &mut Pool,
    rounds: &mut usize,
) -> Result<Option<TableAudit>, LpError> {
    let before: Vec<(u32, Status)> = free
        .iter()
        .map(|&c| (c, table.cells[c as usize].status))
        .collect();
    let current: f64 = before
        .iter()
        .filter(|(_, s)| *s == Status::Secondary)
        .map(|&(c, _)| inst.costs[c as usize])
        .sum();
    // A check writes its intervals on the cells: those of the masking
    // kept come back with it.
    let intervals: Vec<Option<(f64, f64)>> = table.cells.iter().map(|c| c.audit).collect();
    let restore = |table: &mut Table| {
        for &(c, s) in &before {
            table.cells[c as usize].status = s;
        }
        for (cell, &a) in table.cells.iter_mut().zip(&intervals) {
            cell.audit = a;
        }
    };
    let mut master = Master::new(table, inst, free);
    let rows: Vec<_> = pool
        .cuts
        .iter()
        .map(|k| {
            cut_terms(
                k,
                None,
                |j| master.col.get(&j).copied(),
                |j| table.cells[j as usize].status.is_masked(),
            )
        })
        .filter(|(terms, constant)| !terms.is_empty() && *constant < 1.0 - 1e-9)
        .collect();
    let model = master.model.as_mut().expect("a new model");
    for (terms, constant) in rows {
        model.add_row(1.0 - constant.., terms);
    }
    for _ in 0..MAX_ROUNDS {
        *rounds += 1;
        let model = master.model.take().expect("a model between solves");
        let solved = model
            .try_solve()
            .map_err(|e| LpError::Solver(format!("polish master MILP: {e:?}")))?;
        if solved.status() != HighsModelStatus::Optimal
            || solved.objective_value() * master.norm >= current * (1.0 - 1e-9)
        {
            restore(table);
            return Ok(None);
        }
        let m: Vec<f64> = solved.get_solution().columns().to_vec();
        for (i, &(c, _)) in before.iter().enumerate() {
            // The free cells' binaries are the master's first columns.
            table.cells[c as usize].status = if m[i] > 0.5 {
                Status::Secondary
            } else {
                Status::Published
            };
        }
        let check = check_table_after(table, Some(pool.witnesses.proofs_for(table)))?;
        pool.witnesses.add(&check.proofs);
        if check.passed() {
            return Ok(Some(check));
        }
        let mut model: Model = solved.into();
        let (needs, without) = needed(table, inst, &check.failures)?;
        let mut choice = std::mem::take(&mut master.choice);
        let (added, stuck) = add_rows(&mut model, &needs, &mut choice, |k, cond| {
            master.terms(table, k, cond)
        });
        master.choice = choice;
        if without || stuck || added == 0 {
            restore(table);
            return Ok(None);
        }
        for need in needs {
            if let Needed::Cover(k) = need {
                pool.cuts
                    .push(k.iter().map(|&(j, x)| (j, x.min(1.0))).collect());
            }
        }
        master.model = Some(model);
    }
    restore(table);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secondary::pattern::tests::big_table;

    /// 67 x 67 cells, six branches of 11 nodes per dimension: each
    /// branch's subtree (737 cells) is a region root, five packed into one
    /// region, the sixth alone; cells at a dimension's root belong to no
    /// region of it; the table is too big to end whole.
    #[test]
    fn regions_pack_subtrees_of_each_dimension() {
        let table = big_table();
        let regions = regions(&table);
        let sizes: Vec<usize> = regions.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5 * 737, 737, 5 * 737, 737]);
        for (k, pair) in regions.chunks(2).enumerate() {
            let mut seen = vec![false; table.cells.len()];
            for &c in pair.iter().flatten() {
                assert!(!std::mem::replace(&mut seen[c as usize], true), "twice");
            }
            for (c, cell) in table.cells.iter().enumerate() {
                let at_root = table.coords(cell.key)[k] == table.dims[k].root();
                assert_eq!(seen[c], !at_root, "cell {c}, dimension {k}");
            }
        }
    }
}
