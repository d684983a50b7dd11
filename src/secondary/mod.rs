//! Secondary suppression (SPEC sections 4 and 5): further cells to mask so
//! that every primary secret keeps its protection interval, at a low loss
//! of information.
//!
//! This first version has one method, [`repair`]: close the equations that
//! would disclose a cell by subtraction, audit, and mask the cheapest
//! published neighbour of every failing cell, until the audit passes. It
//! always ends with a protected table (at worst everything near a secret is
//! masked). `--method optimal` (the exact Fischetti–Salazar model) is issue 4's
//! next step; until then every method runs `repair` and the report says so.

pub mod repair;

use crate::rules::Cost;
use crate::table::Cell;

/// What secondary suppression did on one table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Outcome {
    /// The method that ran.
    pub method: &'static str,
    /// Audit-and-repair rounds.
    pub rounds: usize,
    /// Cells masked by this stage.
    pub secondary: usize,
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
