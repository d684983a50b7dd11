//! Secondary suppression (SPEC sections 4 and 5): further cells to mask so
//! that every primary secret keeps its protection interval, at the least
//! loss of information.
//!
//! Three methods share one [`Instance`] per table:
//! - [`optimal`]: the exact Fischetti–Salazar model, a MILP master with
//!   cuts from the attacker's LP duals (small tables);
//! - [`pattern`] then [`repair`] (`fast`): the cheapest protecting pattern
//!   of each primary in its neighbourhood, then audit-and-repair until the
//!   audit passes (any size); on small tables, [`polish`] then re-solves
//!   the masking exactly region by region;
//! - `auto`: optimal when the table is small, fast otherwise.
//!
//! Every method ends with a masking the audit passes, or says why not.

pub mod hypercube;
pub mod instance;
pub mod optimal;
pub mod pattern;
pub mod polish;
pub mod repair;

use std::time::{Duration, Instant};

use crate::audit::lp::{quiet_model, warm_starts_pay, LpError};
use crate::audit::{self, check_table_after, head_start_pays, TableAudit};
use crate::certify::witness::Proofs;
use crate::rules::{Method, SecondaryRules};
use crate::table::{Status, Table};

pub use instance::{cost, Forced, Instance};
pub use optimal::Budget;

/// Tables with at most this many cells go to `optimal` under `auto`,
/// unless the rules say otherwise (`secondary.auto_optimal_max_cells`).
pub const AUTO_MAX_CELLS: usize = 5_000;

/// Work `auto` gives the exact method on a table before it falls back to
/// `fast` (deterministic limits: the output never depends on the machine).
pub const AUTO_MAX_NODES: i32 = 20_000;
pub const AUTO_MAX_ROUNDS: usize = 100;
/// On tables bigger than [`AUTO_MAX_CELLS`] (when the rules give `optimal`
/// bigger ones), `auto` stops the exact method once its best protected
/// masking is within this share of the bound; smaller ones are solved to
/// the proof.
pub const AUTO_GAP: f64 = 0.01;

/// What secondary suppression did on one table (in `report.json`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Outcome {
    /// The method that produced the masking: `optimal` or `fast`.
    pub method: &'static str,
    /// Cells masked by this stage (secondary cells, forced ones included).
    pub secondary: usize,
    /// Their total cost under the rules' cost (forced ones excluded).
    pub cost: f64,
    /// A lower bound on that cost (the exact method's), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_bound: Option<f64>,
    /// `(cost - lower_bound) / cost`: 0 when the masking is proven optimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<f64>,
    /// Pattern LPs (fast) or master rounds (optimal).
    pub solves: usize,
    /// Audit rounds of `fast` (and of the repair that may finish a method).
    pub repair_rounds: usize,
    /// Wall-clock time, ms (varies between runs, like `timings_ms`).
    #[serde(skip)]
    pub millis: u64,
    /// The method's last check (protection checked, intervals proven, see
    /// [`crate::audit::check_table`]) when it is that of the masking returned and of the
    /// intervals left on the cells: the pipeline's final audit unless exact
    /// intervals are asked for, not to be solved twice.
    #[serde(skip)]
    pub audit: Option<TableAudit>,
}

/// Why a table could not be given a masking.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SecondaryError {
    #[error(transparent)]
    Forced(#[from] instance::ForcedConflict),
    #[error(transparent)]
    Lp(#[from] LpError),
}

/// Solves a minimisation LP quietly on one thread (the caller reads the status).
fn solve_lp(pb: highs::RowProblem) -> Result<highs::SolvedModel, LpError> {
    quiet_model(pb, highs::Sense::Minimise)
        .try_solve()
        .map_err(|e| LpError::Solver(format!("{e:?}")))
}

/// Chooses and runs the method on one table whose primary cells are marked.
pub fn protect_table(
    table: &mut Table,
    dim_names: &[String],
    rules: &SecondaryRules,
    method: Method,
    time_limit: Option<f64>,
) -> Result<Outcome, SecondaryError> {
    let start = Instant::now();
    let before = statuses(table);
    let inst = Instance::new(table, dim_names, rules.cost, &rules.publish, &rules.mask)?;
    let mut out = match method {
        Method::Fast => fast(table, &inst)?,
        Method::Optimal => exact(table, &inst, time_limit, Budget::default())?,
        Method::Auto if table.cells.len() <= rules.auto_optimal_max_cells => {
            let budget = Budget {
                max_nodes: Some(AUTO_MAX_NODES),
                max_rounds: Some(AUTO_MAX_ROUNDS),
                gap: if table.cells.len() <= AUTO_MAX_CELLS {
                    0.0
                } else {
                    AUTO_GAP
                },
                ..Budget::default()
            };
            exact(table, &inst, time_limit, budget)?
        }
        Method::Auto => fast(table, &inst)?,
    };
    out.secondary = table
        .cells
        .iter()
        .zip(&before)
        .filter(|(c, &b)| c.status == Status::Secondary && b != Status::Secondary)
        .count();
    out.cost = cost_of(table, &inst);
    if let Some(lb) = out.lower_bound {
        let gap = if out.cost > 0.0 {
            (out.cost - lb) / out.cost
        } else {
            0.0
        };
        // Below the solver's precision the gap is zero.
        out.gap = Some(if gap < 1e-9 { 0.0 } else { gap });
    }
    out.millis = start.elapsed().as_millis() as u64;
    Ok(out)
}

/// Every cell's status, to come back to.
fn statuses(table: &Table) -> Vec<Status> {
    table.cells.iter().map(|c| c.status).collect()
}

fn set_statuses(table: &mut Table, statuses: &[Status]) {
    for (c, &s) in table.cells.iter_mut().zip(statuses) {
        c.status = s;
    }
}

/// The cost of the secondary cells a method chose (forced ones excluded).
pub(super) fn cost_of(table: &Table, inst: &Instance) -> f64 {
    table
        .cells
        .iter()
        .enumerate()
        .filter(|(i, c)| c.status == Status::Secondary && inst.forced[*i] != Forced::Masked)
        .fold(0.0, |acc, (i, _)| acc + inst.costs[i])
}

/// Rounds of: give lone cells patterns (and close the singleton problem),
/// check, mask a protecting pattern for every failing cell; the
/// audit-and-repair heuristic takes over if patterns stop making progress.
/// The masking only grows, so each check reuses what the one before proved.
fn fast(table: &mut Table, inst: &Instance) -> Result<Outcome, LpError> {
    fast_from(table, inst, None, true)
}

/// [`fast`]'s rounds from the masking on the table, given evidence valid
/// for it (`earlier`); `polish`: whether a small table's passing masking
/// is then polished.
fn fast_from(
    table: &mut Table,
    inst: &Instance,
    mut earlier: Option<Proofs>,
    polish: bool,
) -> Result<Outcome, LpError> {
    let mut out = Outcome {
        method: "fast",
        ..Outcome::default()
    };
    // Big tables of three dimensions or more: hypercubes first, no LP.
    if earlier.is_none() && !warm_starts_pay(table) {
        let mut proofs = Proofs::at_truth(table);
        hypercube::cover(table, inst, &mut proofs);
        earlier = Some(proofs);
    }
    loop {
        out.repair_rounds += 1;
        out.solves += if earlier.is_none() && head_start_pays(table) {
            settle_beside_head_start(table, inst, &mut earlier)?
        } else {
            settle(table, inst, &mut earlier)?
        };
        let mut audit = check_table_after(table, earlier.take())?;
        if audit.passed() {
            let audit = if polish && polish::pays(table) {
                let (audit, polished) = polish::polish(table, inst, audit)?;
                out.solves += polished.rounds;
                audit
            } else {
                audit
            };
            out.audit = Some(audit);
            return Ok(out);
        }
        let mut proofs = std::mem::take(&mut audit.proofs);
        let (masked, solves) = pattern::mask_patterns(table, inst, &audit.failures, &mut proofs)?;
        earlier = Some(proofs);
        out.solves += solves;
        if masked == 0 {
            let r = repair::run(table, inst)?;
            out.repair_rounds += r.rounds;
            out.audit = r.audit;
            return Ok(out);
        }
    }
}

/// Leaves no cell disclosed by subtraction and no singleton problem:
/// patterns for lone cells, the closure for the singleton problem (and for
/// a lone cell no pattern can move), until neither changes anything.
/// Patterns widen `earlier` (ranges valid for the masking that holds them);
/// returns the LPs solved.
fn settle(
    table: &mut Table,
    inst: &Instance,
    earlier: &mut Option<Proofs>,
) -> Result<usize, LpError> {
    let mut solves = 0;
    loop {
        let closed = repair::close_singletons(table, inst);
        // Before any check, nothing is proven: the patterns' values only.
        let proofs = earlier.get_or_insert_with(|| Proofs::at_truth(table));
        let (masked, n, left) = pattern::mask_lone(table, inst, proofs)?;
        solves += n;
        let forced = if left > 0 {
            repair::close(table, inst)
        } else {
            0
        };
        if closed + masked + forced == 0 {
            return Ok(solves);
        }
    }
}

/// [`settle`] from the masking on the table, nothing proven yet, while the
/// other core searches that masking's small slices
/// ([`audit::head_start`]): their witnesses stay valid for the settled
/// masking, which masks more, so the check after it searches only what
/// they leave. Settling is one LP after the other (one core busy); on
/// national 0.01 imports, the check after it went from 4.1 to 2.5 s.
fn settle_beside_head_start(
    table: &mut Table,
    inst: &Instance,
    earlier: &mut Option<Proofs>,
) -> Result<usize, LpError> {
    let mut before = table.clone();
    let (settled, head) = rayon::join(
        || settle(table, inst, earlier),
        || audit::head_start(&mut before),
    );
    let solves = settled?;
    let head = head?;
    let proofs = earlier.get_or_insert_with(|| Proofs::at_truth(table));
    debug_assert!(head.anchor == proofs.anchor, "both at the true values");
    for w in head.witnesses {
        proofs.add(w);
    }
    Ok(solves)
}

/// The exact method; past its budget without an incumbent, the cheaper of
/// its last masking repaired and the fast method's, with the bound it
/// proved.
fn exact(
    table: &mut Table,
    inst: &Instance,
    time_limit: Option<f64>,
    budget: Budget,
) -> Result<Outcome, LpError> {
    let start = statuses(table);
    let budget = Budget {
        deadline: time_limit.map(|t| Instant::now() + Duration::from_secs_f64(t)),
        ..budget
    };
    // A failing master masking is finished by fast's rounds (no polish).
    let mut finish = |t: &mut Table, p: Proofs| fast_from(t, inst, Some(p), false).map(|o| o.audit);
    match optimal::run(table, inst, budget, &mut finish) {
        Ok((sol, audit)) => Ok(Outcome {
            method: "optimal",
            lower_bound: Some(sol.lower_bound),
            solves: sol.rounds,
            audit: Some(audit),
            ..Outcome::default()
        }),
        Err(optimal::Stop::Lp(e)) => Err(e),
        Err(optimal::Stop::Deadline(sol)) => {
            let r = repair::run(table, inst)?;
            let repaired = statuses(table);
            let repaired_cost = cost_of(table, inst);
            set_statuses(table, &start);
            let fast_out = fast(table, inst)?;
            let out = if cost_of(table, inst) <= repaired_cost {
                fast_out
            } else {
                // The cells' intervals are now fast's: no check handed over.
                set_statuses(table, &repaired);
                Outcome {
                    method: "optimal",
                    repair_rounds: r.rounds,
                    ..Outcome::default()
                }
            };
            Ok(Outcome {
                lower_bound: Some(sol.lower_bound),
                solves: sol.rounds,
                ..out
            })
        }
    }
}
