//! The optimal method: the cell suppression model of Fischetti and
//! Salazar-González, solved by Benders-style constraint generation.
//!
//! Master (a MILP, HiGHS): a binary `m_j` per cell (1 = masked), primary
//! cells fixed to 1, cells forced published to 0, minimum total cost. It
//! starts with the constraints every protected masking meets: no masked
//! cell alone among published cells in an equation, and no equation whose
//! only masked cells are two single-contributor primaries (the singleton
//! problem). Then, until the audit passes:
//!
//! 1. the master's masking is audited (the attacker's LPs of SPEC 5);
//! 2. for every failing cell and direction, the dual of the attacker's LP
//!    `max s·d_c` (`d` a deviation keeping every equation, zero on
//!    published cells, `d_j >= -value_j`) gives multipliers `λ` per
//!    equation; with `g_j = (Mᵀλ)_j - s·[j = c]`, every masking `m` has
//!    `max s·d_c <= sum_j coef_j m_j` where `coef_j = value_j·g_j` when
//!    `g_j >= 0` and `+inf` otherwise (weak duality; an unbounded upward
//!    move costs nothing to the attacker). So a masking protecting `c` by
//!    `r` must meet `sum_j min(r, coef_j) m_j >= r` — the cut added to the
//!    master. A cell disclosed exactly needs a width of
//!    one unit up *or* down, and only when masked: both
//!    cuts, conditional on `m_c`, with a binary choosing the direction.
//!
//! The master's optimum is a lower bound of every protected masking; when
//! it passes the audit it is optimal. Each round's check starts from the
//! witnesses of the rounds before (the first from hypercubes), and a
//! master masking failing on few cells is finished into a protected one,
//! the incumbent: the method also stops when the cheapest incumbent is
//! within the budget's gap of the bound, and returns it, with that gap,
//! when the budget runs out.

use std::collections::HashMap;
use std::time::Instant;

use highs::{Col, HighsModelStatus, Model, RowProblem, Sense};

use crate::audit::lp::{quiet_model, LpError};
use crate::audit::{check_table_after, hypercube, FailureKind, TableAudit};
use crate::certify::witness::{Pool, Proofs};
use crate::table::{Status, Table};

use super::instance::{singleton_company, Forced, Instance};

/// Coefficients below this (relative to the right-hand side) are dropped.
const COEF_TOL: f64 = 1e-9;
/// How much work the method may do before it returns its best masking.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    /// Wall-clock deadline (results then depend on the machine).
    pub deadline: Option<Instant>,
    /// Branch-and-bound nodes per master solve (deterministic).
    pub max_nodes: Option<i32>,
    /// Master solves (deterministic; `None`: until done).
    pub max_rounds: Option<usize>,
    /// Relative gap between the best protected masking found and the bound
    /// at which the method stops (0: until the optimum is proven).
    pub gap: f64,
}

/// Rounds whose master masking fails on at most this many cells are
/// finished into a protected masking (the incumbent): the bound is then
/// usually close, and finishing costs a few pattern LPs.
pub const FINISH_FAILURES: usize = 20;

/// Turns the failing masking on the table into a protected one, given
/// evidence valid for it; returns the check that passed it (None when it
/// could not).
pub type Finish<'a> = dyn FnMut(&mut Table, Proofs) -> Result<Option<TableAudit>, LpError> + 'a;

/// What the exact method found.
#[derive(Debug, Clone, Copy)]
pub struct Solution {
    /// The master's best bound on the cost of secondary cells.
    pub lower_bound: f64,
    /// Whether the masking left on the table is proven optimal.
    pub proven: bool,
    /// Master solves (Benders rounds).
    pub rounds: usize,
    /// Cuts added from the attacker's duals.
    pub cuts: usize,
}

/// Why the exact method stopped without a protected masking.
#[derive(Debug)]
pub enum Stop {
    /// The budget ran out first; the table holds the master's last masking
    /// (maybe unprotected) and the bound so far.
    Deadline(Solution),
    Lp(LpError),
}

impl From<LpError> for Stop {
    fn from(e: LpError) -> Stop {
        Stop::Lp(e)
    }
}

/// The best protected masking found so far: its cost, every cell's
/// status and proven range, and the check that passed it.
struct Incumbent {
    cost: f64,
    cells: Vec<(Status, Option<(f64, f64)>)>,
    audit: TableAudit,
}

/// Runs the method; on success the table holds a protected masking (optimal
/// when `proven`, else within the budget's gap or the best found when the
/// budget ran out) with the check that passed it. Masters failing on few
/// cells are handed to `finish` for an incumbent.
pub fn run(
    table: &mut Table,
    inst: &Instance,
    budget: Budget,
    finish: &mut Finish,
) -> Result<(Solution, TableAudit), Stop> {
    let deadline = budget.deadline;
    let n = table.cells.len();
    let norm = inst
        .costs
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    // Cells fixed masked: primaries and forced; they cost nothing here.
    let fixed_masked: Vec<bool> = (0..n).map(|c| table.cells[c].status.is_masked()).collect();
    let mut pb = RowProblem::default();
    let cols: Vec<Col> = (0..n)
        .map(|c| {
            if fixed_masked[c] {
                pb.add_integer_column(0.0, 1.0..=1.0)
            } else if inst.forced[c] == Forced::Published {
                pb.add_integer_column(0.0, 0.0..=0.0)
            } else {
                pb.add_integer_column(inst.costs[c] / norm, 0.0..=1.0)
            }
        })
        .collect();
    for e in &inst.eqs {
        let cells: Vec<u32> = e.terms().map(|(c, _)| c).collect();
        // No masked cell alone in an equation, in O(|e|) non-zeros: with
        // y_e >= m_i for every cell, sum m >= 2 y_e (y_e = 1 as soon as one
        // cell is masked; continuous, since the m are binary).
        let y = pb.add_column(0.0, 0.0..=1.0);
        for &i in &cells {
            if inst.forced[i as usize] != Forced::Published {
                pb.add_row(0.0.., [(y, 1.0), (cols[i as usize], -1.0)]);
            }
        }
        pb.add_row(
            0.0..,
            cells
                .iter()
                .map(|&j| (cols[j as usize], 1.0))
                .chain(std::iter::once((y, -2.0))),
        );
        // The singleton problem.
        if let Some(others) = singleton_company(table, &cells) {
            pb.add_row(1.0.., others.iter().map(|&j| (cols[j as usize], 1.0)));
        }
    }
    let mut model = quiet_model(pb, Sense::Minimise);
    model.set_option("mip_rel_gap", 0.0);
    model.set_option("mip_abs_gap", 1e-9);
    if let Some(n) = budget.max_nodes {
        model.set_option("mip_max_nodes", n);
    }
    // The binary choosing the direction of each width cut's cell.
    let mut choice: HashMap<u32, Col> = HashMap::new();
    // The witnesses of every round's check seed the next one's.
    let mut pool = Pool::at(Proofs::at_truth(table).anchor);
    let mut sol = Solution {
        lower_bound: 0.0,
        proven: false,
        rounds: 0,
        cuts: 0,
    };
    let mut best: Option<Incumbent> = None;
    // The best masking found when the search stops short of its goal.
    let end = |table: &mut Table, sol: Solution, best: Option<Incumbent>| match best {
        Some(b) => {
            for (c, (status, range)) in table.cells.iter_mut().zip(b.cells) {
                c.status = status;
                c.audit = range;
            }
            Ok((sol, b.audit))
        }
        None => Err(Stop::Deadline(sol)),
    };
    while sol.rounds < budget.max_rounds.unwrap_or(usize::MAX) {
        sol.rounds += 1;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now()).as_secs_f64();
            if left <= 0.0 {
                return end(table, sol, best);
            }
            model.set_option("time_limit", left);
        }
        let solved = model
            .try_solve()
            .map_err(|e| LpError::Solver(format!("master MILP: {e:?}")))?;
        let status = solved.status();
        let has_solution = matches!(
            solved.primal_solution_status(),
            highs::HighsSolutionStatus::Feasible
        );
        // Out of time or nodes: the best masking so far and the bound.
        let limited = matches!(
            status,
            HighsModelStatus::ReachedTimeLimit
                | HighsModelStatus::ReachedIterationLimit
                | HighsModelStatus::ReachedSolutionLimit
        );
        match status {
            HighsModelStatus::Optimal => {}
            _ if limited && has_solution => {}
            _ if limited => return end(table, sol, best),
            HighsModelStatus::Infeasible => {
                return Err(Stop::Lp(LpError::Solver(
                    "no masking meets the rules (cells forced published leave a secret exposed)"
                        .into(),
                )))
            }
            s => {
                return Err(Stop::Lp(LpError::Solver(format!(
                    "master MILP ended with {s:?}"
                ))))
            }
        }
        let bound = if status == HighsModelStatus::Optimal {
            solved.objective_value()
        } else {
            solved.double_info_value(c"mip_dual_bound").unwrap_or(0.0)
        };
        sol.lower_bound = sol.lower_bound.max(bound * norm);
        let m: Vec<bool> = solved
            .get_solution()
            .columns()
            .iter()
            .map(|&v| v > 0.5)
            .collect();
        for c in 0..n {
            if !fixed_masked[c] {
                table.cells[c].status = if m[c] {
                    Status::Secondary
                } else {
                    Status::Published
                };
            }
        }
        if status != HighsModelStatus::Optimal {
            return end(table, sol, best);
        }
        let mut proofs = pool.proofs_for(table);
        if sol.rounds == 1 {
            // The first check: hypercubes through masked cells prove most
            // cells before any LP (on tables with huge totals its LPs are
            // slow).
            hypercube::masked_only_witnesses(table, &mut proofs);
        }
        let audit = check_table_after(table, Some(proofs))?;
        pool.add(&audit.proofs);
        if audit.passed() {
            sol.proven = true;
            return Ok((sol, audit));
        }
        let mut model_next: Model = solved.into();
        let (needs, _) = needed(table, inst, &audit.failures)?;
        if audit.failures.len() <= FINISH_FAILURES {
            if let Some(done) = finish(table, pool.proofs_for(table))? {
                pool.add(&done.proofs);
                let cost = super::cost_of(table, inst);
                if best.as_ref().is_none_or(|b| cost < b.cost) {
                    best = Some(Incumbent {
                        cost,
                        cells: table.cells.iter().map(|c| (c.status, c.audit)).collect(),
                        audit: done,
                    });
                }
            }
            let b = best.as_ref().map_or(f64::INFINITY, |b| b.cost);
            if b - sol.lower_bound <= budget.gap * b + 1e-9 * b.max(1.0) {
                sol.proven = b - sol.lower_bound <= 1e-9 * b.max(1.0);
                return end(table, sol, best);
            }
        }
        let (added, _) = add_rows(&mut model_next, &needs, &mut choice, |k, cond| {
            cut_terms(k, cond, |j| Some(cols[j as usize]), |_| false)
        });
        sol.cuts += added;
        if added == 0 {
            // The audit fails where the duals see no violation (tolerances):
            // the best masking found, or the caller repairs this one; not proven.
            return end(table, sol, best);
        }
        model = model_next;
    }
    end(table, sol, best)
}

/// A cut the attacker's duals give for a failing cell, as (cell,
/// coefficient / amount) pairs (`inf` allowed).
pub(super) enum Needed {
    /// `sum_j min(1, k_j) m_j >= 1`: a primary's level in one direction.
    Cover(Vec<(u32, f64)>),
    /// A unit of width for `cell`, needed only where it is masked:
    /// upwards, or either way (a binary chooses).
    Width {
        cell: u32,
        up: Vec<(u32, f64)>,
        down: Option<Vec<(u32, f64)>>,
    },
}

/// The cuts for a check's failures on the table's masking, and whether
/// some failure has none (a primary published, a component unproven).
pub(super) fn needed(
    table: &Table,
    inst: &Instance,
    failures: &[crate::audit::Failure],
) -> Result<(Vec<Needed>, bool), LpError> {
    let mut duals = Duals::new(table, inst);
    let mut out = Vec::new();
    let mut without = false;
    for f in failures {
        let c = f.cell;
        let cell = &table.cells[c as usize];
        let t = cell.value as f64;
        match f.kind {
            FailureKind::UnderProtected => {
                // The levels themselves: the master's optimum is the
                // optimum under SPEC's rule (the check is exact).
                let up = (cell.upper_protection as f64).max(1.0);
                let down = (cell.lower_protection as f64).min(t);
                for (s, r) in [(1.0, up), (-1.0, down)] {
                    if r <= 0.0 {
                        continue;
                    }
                    if let Some(k) = duals.cut(table, inst, c, s, r)? {
                        out.push(Needed::Cover(k));
                    }
                }
            }
            FailureKind::ExactDisclosure => {
                let w = 1.0;
                let up = duals.cut(table, inst, c, 1.0, w)?;
                let down = if t >= w {
                    Some(duals.cut(table, inst, c, -1.0, w)?)
                } else {
                    None
                };
                match (up, down) {
                    (Some(up), None) => out.push(Needed::Width {
                        cell: c,
                        up,
                        down: None,
                    }),
                    (Some(up), Some(Some(d))) => out.push(Needed::Width {
                        cell: c,
                        up,
                        down: Some(d),
                    }),
                    // The duals see a move the audit's tolerance did not: no cut.
                    _ => {}
                }
            }
            FailureKind::PrimaryPublished | FailureKind::Unproven => without = true,
        }
    }
    Ok((out, without))
}

/// Adds the rows of `needs` to a master: `terms` gives a cut's terms over
/// the master's binaries (the cell of a conditional cut subtracted) and the
/// constant the cells it holds fixed add; `choice` holds the direction
/// binary of each cell given width cuts. Returns the rows added, and
/// whether a cover cut had no term to meet it with.
pub(super) fn add_rows(
    model: &mut Model,
    needs: &[Needed],
    choice: &mut HashMap<u32, Col>,
    terms: impl Fn(&[(u32, f64)], Option<u32>) -> (Vec<(Col, f64)>, f64),
) -> (usize, bool) {
    let (mut added, mut stuck) = (0, false);
    for need in needs {
        match need {
            Needed::Cover(k) => {
                let (t, constant) = terms(k, None);
                stuck |= t.is_empty();
                model.add_row(1.0 - constant.., t);
                added += 1;
            }
            Needed::Width {
                cell,
                up,
                down: None,
            } => {
                let (t, constant) = terms(up, Some(*cell));
                model.add_row(-constant.., t);
                added += 1;
            }
            // Upwards or downwards, whichever the master prefers (the
            // binary z; one per cell, shared by its cuts).
            Needed::Width {
                cell,
                up,
                down: Some(down),
            } => {
                let z = *choice
                    .entry(*cell)
                    .or_insert_with(|| model.add_integer_column(0.0, 0.0..=1.0, Vec::new()));
                let (mut ru, cu) = terms(up, Some(*cell));
                ru.push((z, -1.0));
                model.add_row(-1.0 - cu.., ru);
                let (mut rd, cd) = terms(down, Some(*cell));
                rd.push((z, 1.0));
                model.add_row(-cd.., rd);
                added += 2;
            }
        }
    }
    (added, stuck)
}

/// A cut's row terms, coefficients capped at 1 (the right-hand side); for
/// a conditional cut on cell `i` (`... >= m_i`), `m_i` moved to the left.
/// `col` gives a cell's binary in the master; a cell without one is held,
/// and adds its coefficient to the returned constant when `held_masked`
/// says it is masked (the polish's regions; the exact method has a binary
/// for every cell).
pub(super) fn cut_terms(
    cut: &[(u32, f64)],
    i: Option<u32>,
    col: impl Fn(u32) -> Option<Col>,
    held_masked: impl Fn(u32) -> bool,
) -> (Vec<(Col, f64)>, f64) {
    let mut terms = Vec::new();
    let mut constant = 0.0;
    let mut add = |j: u32, k: f64| {
        if k.abs() <= COEF_TOL {
            return;
        }
        match col(j) {
            Some(m) => terms.push((m, k)),
            None if held_masked(j) => constant += k,
            None => {}
        }
    };
    for &(j, k) in cut {
        add(j, k.min(1.0) - if Some(j) == i { 1.0 } else { 0.0 });
    }
    if let Some(i) = i {
        if !cut.iter().any(|&(j, _)| j == i) {
            add(i, -1.0);
        }
    }
    (terms, constant)
}

/// The dual of the attacker's LP on one masking, kept between the cuts of
/// its failing cells: only the right-hand side of the moved cell's row
/// changes from one to the next, so each solve starts from the last basis
/// (a cold model per cut made most of the polish's time).
///
/// Columns `λ_e` (one per equation holding a masked cell), cost
/// `sum over masked j of value_j · M_ej`; a row per masked cell `j`:
/// `(Mᵀλ)_j >= s·[j = c]`.
pub(super) struct Duals {
    /// None only while a solve holds it, or after a solve that did not
    /// end optimal (then rebuilt).
    model: Option<Model>,
    /// Per equation: its column, or `u32::MAX`.
    lambda_of: Vec<u32>,
    /// Per table cell: its row, or `u32::MAX` (published cells).
    row_of: Vec<u32>,
    /// The largest cell value, by which the costs are divided.
    scale: f64,
}

impl Duals {
    /// The dual LP of the table's masking now.
    pub(super) fn new(table: &Table, inst: &Instance) -> Duals {
        let masked = |j: u32| table.cells[j as usize].status.is_masked();
        let scale = table
            .cells
            .iter()
            .map(|x| x.value as f64)
            .fold(1.0, f64::max);
        let mut lambda_of = vec![u32::MAX; inst.eqs.len()];
        let mut row_of = vec![u32::MAX; table.cells.len()];
        let mut pb = RowProblem::default();
        let mut lambda = Vec::new();
        for (e, eq) in inst.eqs.iter().enumerate() {
            if !eq.terms().any(|(j, _)| masked(j)) {
                continue;
            }
            lambda_of[e] = lambda.len() as u32;
            let cost: f64 = eq
                .terms()
                .filter(|&(j, _)| masked(j))
                .map(|(j, coef)| coef * table.cells[j as usize].value as f64 / scale)
                .sum();
            lambda.push(pb.add_column(cost, f64::NEG_INFINITY..));
        }
        let mut rows = 0u32;
        for j in 0..table.cells.len() as u32 {
            if !masked(j) {
                continue;
            }
            let terms: Vec<_> = multipliers_of(inst, &lambda_of, j)
                .map(|(i, coef)| (lambda[i], coef))
                .collect();
            pb.add_row(0.0.., terms);
            row_of[j as usize] = rows;
            rows += 1;
        }
        Duals {
            model: Some(quiet_model(pb, Sense::Minimise)),
            lambda_of,
            row_of,
            scale,
        }
    }

    /// The cut protecting masked cell `c` by `amount` in direction `s`
    /// (+1 up, -1 down), as (cell, coefficient / amount) pairs (`inf`
    /// allowed); None when the masking already protects it.
    pub(super) fn cut(
        &mut self,
        table: &Table,
        inst: &Instance,
        c: u32,
        s: f64,
        amount: f64,
    ) -> Result<Option<Vec<(u32, f64)>>, LpError> {
        let row = self.row_of[c as usize];
        debug_assert!(row != u32::MAX, "a failing cell is masked");
        let mut model = match self.model.take() {
            Some(m) => m,
            None => Duals::new(table, inst).model.expect("a new model"),
        };
        set_row_lower(&mut model, row, s);
        let solved = model
            .try_solve()
            .map_err(|e| LpError::Solver(format!("attacker dual LP: {e:?}")))?;
        let status = solved.status();
        let out = match status {
            HighsModelStatus::Optimal => self.read(table, inst, &solved, c, s, amount),
            // No multipliers: the attacker's move is unbounded, c is protected.
            HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => None,
            st => {
                return Err(LpError::Solver(format!(
                    "attacker dual LP ended with {st:?}"
                )))
            }
        };
        if status == HighsModelStatus::Optimal {
            let mut model: Model = solved.into();
            set_row_lower(&mut model, row, 0.0);
            self.model = Some(model);
        }
        Ok(out)
    }

    /// The cut of an optimal dual solution, None when it is not violated.
    fn read(
        &self,
        table: &Table,
        inst: &Instance,
        solved: &highs::SolvedModel,
        c: u32,
        s: f64,
        amount: f64,
    ) -> Option<Vec<(u32, f64)>> {
        let scale = self.scale;
        let reach =
            (solved.objective_value() - s * table.cells[c as usize].value as f64 / scale) * scale;
        if reach >= amount * (1.0 - 1e-9) {
            return None;
        }
        let lam = solved.get_solution();
        let lam = lam.columns();
        let mut out = Vec::new();
        for j in 0..table.cells.len() as u32 {
            let mut g: f64 = multipliers_of(inst, &self.lambda_of, j)
                .map(|(i, coef)| coef * lam[i])
                .sum();
            if j == c {
                g -= s;
            }
            let coef = if g < -1e-9 {
                f64::INFINITY
            } else {
                table.cells[j as usize].value as f64 * g.max(0.0) / amount
            };
            if coef > COEF_TOL {
                out.push((j, coef));
            }
        }
        Some(out)
    }
}

/// Sets the lower bound of a row of `(Mᵀλ)_j >= ...` (no upper bound).
fn set_row_lower(model: &mut Model, row: u32, lower: f64) {
    // SAFETY: the pointer is the live model's, the row one of its rows.
    let status = unsafe {
        highs_sys::Highs_changeRowBounds(
            model.as_mut_ptr(),
            row as highs_sys::HighsInt,
            lower,
            f64::INFINITY,
        )
    };
    debug_assert_eq!(status, 0, "Highs_changeRowBounds");
}

/// The multipliers of the equations holding cell `j`, as (column index,
/// coefficient of `j` in the equation).
fn multipliers_of<'a>(
    inst: &'a Instance,
    lambda_of: &'a [u32],
    j: u32,
) -> impl Iterator<Item = (usize, f64)> + 'a {
    inst.eqs_of[j as usize]
        .iter()
        .filter(|&&e| lambda_of[e as usize] != u32::MAX)
        .map(move |&e| {
            let coef = inst.eqs[e as usize]
                .terms()
                .find(|&(x, _)| x == j)
                .map_or(0.0, |(_, k)| k);
            (lambda_of[e as usize] as usize, coef)
        })
}
