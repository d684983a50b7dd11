//! Treatment 1 (SPEC section 6): before any cell is masked, publish secret
//! codes at a coarser level or merged into a residual code, unit by unit
//! (SH4 heading by SH4 heading), and secret partners in the undetermined
//! country, so that secondary suppression only has what grouping cannot
//! clear.
//!
//! [`partition`] chooses each unit's published codes, [`evaluate`] judges a
//! candidate on its own small table (distinct contributors of merged cells,
//! primary rules, loss), [`mapping`] turns the choices into `regroup.csv`
//! and into the published records and hierarchy.

pub mod evaluate;
pub mod mapping;
pub mod partition;

use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::hierarchy::{Hierarchy, NodeId};
use crate::read::{Contribution, TableData};
use crate::rules::{PrimaryRules, ProtectionRules, RegroupPlan};

use evaluate::Context;
pub use mapping::TableMap;

/// What regrouping did to one table (`report.json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Detailed codes of the regrouped dimension in the table.
    pub codes: usize,
    /// Of which published under another code (coarser or residual).
    pub codes_regrouped: usize,
    /// Units published without their detail.
    pub units_whole: usize,
    /// Residual codes created.
    pub residual_codes: usize,
    /// Partner codes moved into a residual partner code (per published code).
    pub partner_moves: usize,
    /// Primary secrets at the original codes.
    pub primary_before: usize,
    /// Primary secrets left at the published codes: these go to secondary
    /// suppression.
    pub primary_after: usize,
    /// `primary_before - primary_after` (net; 0 if regrouping added some).
    pub primary_cleared: usize,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.codes += o.codes;
        self.codes_regrouped += o.codes_regrouped;
        self.units_whole += o.units_whole;
        self.residual_codes += o.residual_codes;
        self.partner_moves += o.partner_moves;
        self.primary_before += o.primary_before;
        self.primary_after += o.primary_after;
        self.primary_cleared += o.primary_cleared;
    }
}

/// A table's regrouping: its map (for `regroup.csv`), its records at the
/// published codes and its published trees.
pub struct Regrouped {
    pub map: TableMap,
    pub data: TableData,
    pub dims: Vec<Arc<Hierarchy>>,
    pub stats: Stats,
}

/// Regroups one table: chooses each unit's published codes (units in
/// parallel, results in unit order, so the outcome never depends on
/// threads) and rewrites its records.
pub fn regroup_table(
    data: &TableData,
    dims: &[Arc<Hierarchy>],
    plan: &RegroupPlan,
    unit_depth: u16,
    rules: &PrimaryRules,
    prot: &ProtectionRules,
) -> Result<Regrouped, String> {
    let ctx = Context::new(dims, plan, rules, prot);
    let h = &dims[plan.dim];
    // The unit above each detailed code, and each unit's contributions.
    let mut unit_of: Vec<NodeId> = vec![0; h.len()];
    for n in 0..h.len() as NodeId {
        if h.depth(n) > unit_depth {
            unit_of[n as usize] = h
                .ancestors(n)
                .into_iter()
                .find(|&a| h.depth(a) == unit_depth)
                .expect("below a unit");
        }
    }
    let mut by_unit: FxHashMap<NodeId, Vec<Contribution>> = FxHashMap::default();
    for c in &data.contributions {
        by_unit
            .entry(unit_of[c.leaf[plan.dim] as usize])
            .or_default()
            .push(*c);
    }
    let mut units: Vec<(NodeId, Vec<Contribution>)> = by_unit.into_iter().collect();
    units.sort_unstable_by_key(|u| u.0);
    let choices: Vec<partition::UnitChoice> = units
        .par_iter()
        .map(|(u, contribs)| {
            let mut leaves: Vec<NodeId> = contribs.iter().map(|c| c.leaf[plan.dim]).collect();
            leaves.sort_unstable();
            leaves.dedup();
            partition::choose(&ctx, h.code(*u), &leaves, contribs)
        })
        .collect();
    let mut map = TableMap {
        split: data.split.clone(),
        ..TableMap::default()
    };
    let mut stats = Stats::default();
    for ((u, _), choice) in units.iter().zip(&choices) {
        for b in &choice.blocks {
            for &l in &b.leaves {
                map.codes.insert(h.code(l).to_string(), b.code.clone());
            }
            stats.codes += b.leaves.len();
            if b.merged() {
                stats.codes_regrouped += b.leaves.len();
                if b.code == h.code(*u) {
                    stats.units_whole += 1;
                } else if !b.leaves.iter().any(|&l| h.code(l).starts_with(&b.code)) {
                    stats.residual_codes += 1;
                }
            }
        }
        if let Some(p) = &plan.partner {
            let ph = &dims[p.dim];
            for m in &choice.evaluation.moves {
                map.partners.insert(
                    (
                        choice.blocks[m.block].code.clone(),
                        ph.code(m.from).to_string(),
                    ),
                    ph.code(m.to).to_string(),
                );
            }
        }
    }
    stats.partner_moves = map.partners.len();
    let (data, dims) = map.apply(data, dims, plan, unit_depth)?;
    Ok(Regrouped {
        map,
        data,
        dims,
        stats,
    })
}
