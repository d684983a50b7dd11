//! What every secondary method needs to know about one table: its
//! equations, the equations of each cell, the cost of masking each cell,
//! the cells forced either way, and what each masked cell must withstand.

use crate::audit::equations::{equations, Equation};
use crate::hierarchy::NodeId;
use crate::rules::{Cost, Selector};
use crate::table::{Cell, Status, Table};

/// A cell the rules force one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    Free,
    /// Must stay published: no method may mask it.
    Published,
    /// Must be masked (it is marked secondary before any method runs).
    Masked,
}

/// One table's secondary suppression problem.
#[derive(Debug, Clone)]
pub struct Instance {
    pub eqs: Vec<Equation>,
    /// For each cell, the equations holding it.
    pub eqs_of: Vec<Vec<u32>>,
    /// The information lost by masking each cell.
    pub costs: Vec<f64>,
    pub forced: Vec<Forced>,
    /// The interval width the methods give a masked cell, in units: the
    /// audit's one unit, and a unit of margin (see [`aim`]).
    pub min_width: f64,
}

/// A forced-published cell that is a primary secret: the rules contradict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cell [{0}] is a primary secret but the rules force it to be published")]
pub struct ForcedConflict(pub String);

impl Instance {
    /// Builds the problem of a table whose primary cells are marked, and
    /// marks the cells forced masked as secondary.
    pub fn new(
        table: &mut Table,
        dim_names: &[String],
        cost_kind: Cost,
        publish: &[Selector],
        mask: &[Selector],
    ) -> Result<Instance, ForcedConflict> {
        let eqs = equations(table);
        let mut eqs_of: Vec<Vec<u32>> = vec![Vec::new(); table.cells.len()];
        for (i, e) in eqs.iter().enumerate() {
            for (c, _) in e.terms() {
                eqs_of[c as usize].push(i as u32);
            }
        }
        let costs = table.cells.iter().map(|c| cost(c, cost_kind)).collect();
        let mut forced = vec![Forced::Free; table.cells.len()];
        for c in selected(table, dim_names, publish) {
            if table.cells[c].status == Status::Primary {
                return Err(ForcedConflict(table.codes(table.cells[c].key).join(" x ")));
            }
            forced[c] = Forced::Published;
        }
        for c in selected(table, dim_names, mask) {
            if forced[c] == Forced::Free {
                forced[c] = Forced::Masked;
                if table.cells[c].status == Status::Published {
                    table.cells[c].status = Status::Secondary;
                }
            }
        }
        let min_width = aim(1);
        Ok(Instance {
            eqs,
            eqs_of,
            costs,
            forced,
            min_width,
        })
    }

    /// The equations holding any of `cells`, each once, in order.
    pub fn equations_of(&self, cells: &[u32]) -> Vec<u32> {
        let mut out: Vec<u32> = cells
            .iter()
            .flat_map(|&c| self.eqs_of[c as usize].iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether a method may mask this published cell.
    pub fn maskable(&self, table: &Table, c: u32) -> bool {
        !table.cells[c as usize].status.is_masked() && self.forced[c as usize] != Forced::Published
    }

    /// The cheapest cell a method may mask among `cells` (ties: table order).
    pub fn cheapest(&self, table: &Table, cells: impl Iterator<Item = u32>) -> Option<u32> {
        cells.filter(|&c| self.maskable(table, c)).min_by(|&a, &b| {
            self.costs[a as usize]
                .total_cmp(&self.costs[b as usize])
                .then(a.cmp(&b))
        })
    }
}

/// How far the methods move a cell to meet a level of `level` units: one
/// unit past it, in whole units, so that no verdict rests on solver noise
/// (patterns are made exact, and the audit decides to the unit).
pub fn aim(level: i64) -> f64 {
    level as f64 + 1.0
}

/// A primary cell of a single contributor: the singleton rule's subject
/// (that contributor knows the cell's value).
pub fn is_singleton(cell: &Cell) -> bool {
    cell.status == Status::Primary && cell.contributors == 1
}

/// The singleton problem in one equation (its cells): two
/// single-contributor primaries need company, one more masked cell among
/// the others given back. Only with exactly two (a third would be company)
/// and not in a single-child equation (both would be one cell's figure).
pub fn singleton_company(table: &Table, cells: &[u32]) -> Option<Vec<u32>> {
    let singles: Vec<u32> = cells
        .iter()
        .copied()
        .filter(|&c| is_singleton(&table.cells[c as usize]))
        .collect();
    (cells.len() > 2 && singles.len() == 2).then(|| {
        cells
            .iter()
            .copied()
            .filter(|j| !singles.contains(j))
            .collect()
    })
}

/// The information lost by masking a cell, under the rules' cost.
pub fn cost(cell: &Cell, cost: Cost) -> f64 {
    match cost {
        Cost::Value => cell.value as f64,
        Cost::Unity => 1.0,
        Cost::Contributors => cell.contributors as f64,
        Cost::LogValue => (1.0 + cell.value as f64).ln(),
    }
}

/// Positions of the cells matched by any of the selectors, in table order.
fn selected(table: &Table, dim_names: &[String], selectors: &[Selector]) -> Vec<usize> {
    let mut out = Vec::new();
    for sel in selectors {
        // Per dimension: a node, or None for any code.
        let mut want: Vec<Option<NodeId>> = Vec::new();
        let mut matches_nothing = false;
        for (h, name) in table.dims.iter().zip(dim_names) {
            match sel.get(name).map(|s| s.as_str()) {
                None => want.push(Some(h.root())),
                Some("*") => want.push(None),
                Some(code) => match h.lookup(code) {
                    Some(n) => want.push(Some(n)),
                    None => matches_nothing = true,
                },
            }
        }
        if matches_nothing {
            continue;
        }
        for (i, cell) in table.cells.iter().enumerate() {
            let coords = table.coords(cell.key);
            if want
                .iter()
                .enumerate()
                .all(|(k, w)| w.is_none_or(|n| coords[k] == n))
            {
                out.push(i);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
