//! The audit (SPEC section 5): the attacker's intervals of every masked
//! cell, and the verdict.
//!
//! The attacker knows every published value, every additivity equation,
//! that cells are >= 0 and which cells exist. Masked cells interact only
//! through equations holding two or more of them, so the table splits into
//! independent components, solved apart and in parallel. A masked cell
//! alone among published cells in an equation is disclosed exactly, found
//! without any LP.

pub mod command;
pub mod equations;
pub mod lp;
pub mod slices;

use rayon::prelude::*;

use crate::table::Table;
use equations::{components, equations, Component, Equation};
use lp::{intervals_for, Goal, Interval, LpError, Search, System};

/// Relative tolerance of comparisons with LP results: intervals are exact
/// up to the solver's precision on values scaled to about 1.
pub const REL_TOL: f64 = 1e-7;

/// How a masking fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A masked cell whose interval has zero width.
    ExactDisclosure,
    /// A masked primary cell whose interval misses its protection levels.
    UnderProtected,
    /// A primary cell left published.
    PrimaryPublished,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::ExactDisclosure => "exact_disclosure",
            FailureKind::UnderProtected => "under_protected",
            FailureKind::PrimaryPublished => "primary_published",
        }
    }
}

/// One failing cell (a position in [`Table::cells`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub cell: u32,
    pub kind: FailureKind,
}

/// What the audit of one table found.
#[derive(Debug, Clone, Default)]
pub struct TableAudit {
    pub masked: usize,
    pub components: usize,
    pub largest_component: usize,
    /// Cells disclosed by one equation, found without LP.
    pub exact_without_lp: usize,
    pub lp_solves: usize,
    pub failures: Vec<Failure>,
    /// Whether the intervals are the attacker's exact extremes; otherwise
    /// each is a range the attacker's interval contains (see [`check_table`]).
    pub exact: bool,
}

impl TableAudit {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Audits a table: sets each masked cell's `audit` interval and returns the
/// failures. Cells whose `rules` are not empty are primary secrets; their
/// protection levels are checked when `check_protection` is true (it needs
/// the true values, so not for a published file audited alone).
pub fn audit_table(table: &mut Table, check_protection: bool) -> Result<TableAudit, LpError> {
    let depth = if check_protection {
        Depth::Exact
    } else {
        Depth::ExactNoLevels
    };
    audit_impl(table, depth, None)
}

/// How far an audit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Exact intervals; protection levels not checked (no true values).
    ExactNoLevels,
    /// Exact intervals, protection levels checked.
    Exact,
    /// The verdict, proven; exact intervals for failing cells only;
    /// components bigger than `slice_from` cells first proven on slices.
    Check { slice_from: usize },
}

/// A pass/fail check with protection levels: the same verdicts as
/// [`audit_table`], but LPs stop as soon as solutions show a cell passes,
/// so intervals are exact only for failing cells; a passing cell's interval
/// is a range the attacker's interval contains, each end reached by a
/// solution of the attacker's system (which is what proves it passes).
/// Secondary suppression uses it between its rounds, and `protect` as its
/// final audit unless exact intervals are asked for.
pub fn check_table(table: &mut Table) -> Result<TableAudit, LpError> {
    check_table_sliced(table, None, slices::SLICE_FROM)
}

/// [`check_table`] (or [`check_table_after`] with `earlier`), proving
/// components bigger than `slice_from` cells on slices first (see
/// [`slices`]); the verdicts do not depend on it (tests use small values).
pub fn check_table_sliced(
    table: &mut Table,
    earlier: Option<&[Earlier]>,
    slice_from: usize,
) -> Result<TableAudit, LpError> {
    let seeds = earlier.and_then(|e| seeds_from(table, e));
    audit_impl(table, Depth::Check { slice_from }, seeds.as_deref())
}

/// [`check_table`] reusing the intervals of an earlier check of a masking
/// that this one contains (`earlier`: each cell's status and interval
/// then; `None`: a plain check). Any solution of the earlier attacker system, with the cells
/// masked since at their true values, solves this one, so the ranges seen
/// then still hold and only what they do not prove is solved again. When
/// a cell masked then is published now, nothing is reused.
pub fn check_table_after(
    table: &mut Table,
    earlier: Option<&[Earlier]>,
) -> Result<TableAudit, LpError> {
    check_table_sliced(table, earlier, slices::SLICE_FROM)
}

/// Each masked cell's range proven by an earlier check, when the masking
/// has only grown since (see [`check_table_after`]).
fn seeds_from(table: &Table, earlier: &[Earlier]) -> Option<Vec<Option<Interval>>> {
    let grown = earlier.len() == table.cells.len()
        && earlier
            .iter()
            .zip(&table.cells)
            .all(|(e, c)| !e.masked || c.status.is_masked());
    grown.then(|| {
        earlier
            .iter()
            .zip(&table.cells)
            .map(|(e, c)| match e.audit {
                Some((low, high)) if c.status.is_masked() => Some(Interval { low, high }),
                // Newly masked: its true value is one solution.
                _ if c.status.is_masked() => Some(Interval {
                    low: c.value as f64,
                    high: c.value as f64,
                }),
                _ => None,
            })
            .collect()
    })
}

/// What [`check_table_after`] needs of an earlier check, per cell: whether
/// the cell was masked, and a range its interval contains, each end
/// reached by a solution of the attacker's system of every masking that
/// contains the earlier one (the check's ranges; a protecting pattern may
/// extend them, see [`Earlier::extend`]).
#[derive(Debug, Clone, Copy)]
pub struct Earlier {
    pub masked: bool,
    pub audit: Option<(f64, f64)>,
}

impl Earlier {
    /// Widens the range of a cell with value `value` to `reached`, a value
    /// some solution reaches once the cells it moves are masked (they must
    /// be, before the next check).
    pub fn extend(&mut self, value: i64, reached: f64) {
        let (low, high) = self.audit.unwrap_or((value as f64, value as f64));
        self.audit = Some((low.min(reached), high.max(reached)));
    }

    /// Nothing masked, nothing proven: a start for ranges that patterns
    /// alone prove (valid for any masking holding their cells).
    pub fn none(cells: usize) -> Vec<Earlier> {
        vec![
            Earlier {
                masked: false,
                audit: None
            };
            cells
        ]
    }

    /// Each cell's masking and interval now.
    pub fn of(table: &Table) -> Vec<Earlier> {
        table
            .cells
            .iter()
            .map(|c| Earlier {
                masked: c.status.is_masked(),
                audit: c.audit,
            })
            .collect()
    }
}

fn audit_impl(
    table: &mut Table,
    depth: Depth,
    seeds: Option<&[Option<Interval>]>,
) -> Result<TableAudit, LpError> {
    let check_protection = depth != Depth::ExactNoLevels;
    // Intervals are those of this masking only (an earlier one may have
    // masked cells that are published now).
    for c in &mut table.cells {
        c.audit = None;
    }
    let eqs = equations(table);
    let comps = components(table, &eqs);
    let solved: Vec<Result<Solved, LpError>> = comps
        .par_iter()
        .map(|c| solve_component(table, &eqs, c, depth, seeds))
        .collect();
    let mut report = TableAudit {
        exact: matches!(depth, Depth::Exact | Depth::ExactNoLevels),
        masked: comps.iter().map(|c| c.cells.len()).sum(),
        components: comps.len(),
        largest_component: comps.iter().map(|c| c.cells.len()).max().unwrap_or(0),
        ..TableAudit::default()
    };
    for (comp, res) in comps.iter().zip(solved) {
        let (ivs, without_lp, solves) = res?;
        report.lp_solves += solves;
        if without_lp {
            report.exact_without_lp += comp.cells.len();
        }
        let scale = component_scale(table, &eqs, comp);
        for (&c, iv) in comp.cells.iter().zip(ivs) {
            table.cells[c as usize].audit = Some((iv.low, iv.high));
            let tol = REL_TOL * scale + 1e-6;
            let cell = &table.cells[c as usize];
            if iv.high - iv.low <= tol.max(0.5) {
                report.failures.push(Failure {
                    cell: c,
                    kind: FailureKind::ExactDisclosure,
                });
            } else if check_protection && !cell.rules.is_empty() {
                let t = cell.value as f64;
                if iv.high < t + cell.upper_protection - tol
                    || iv.low > t - cell.lower_protection + tol
                {
                    report.failures.push(Failure {
                        cell: c,
                        kind: FailureKind::UnderProtected,
                    });
                }
            }
        }
    }
    for (i, cell) in table.cells.iter().enumerate() {
        if !cell.status.is_masked() && !cell.rules.is_empty() {
            report.failures.push(Failure {
                cell: i as u32,
                kind: FailureKind::PrimaryPublished,
            });
        }
    }
    report.failures.sort_by_key(|f| (f.cell, f.kind));
    Ok(report)
}

/// A component's intervals, whether they came without LP, and the LPs solved.
type Solved = (Vec<Interval>, bool, usize);

/// The magnitude of a component's published side, for tolerances.
fn component_scale(table: &Table, eqs: &[Equation], comp: &Component) -> f64 {
    let mut s: f64 = 1.0;
    for &e in &comp.equations {
        for (c, _) in eqs[e].terms() {
            let cell = &table.cells[c as usize];
            if !cell.status.is_masked() {
                s = s.max(cell.value as f64);
            }
        }
    }
    s
}

/// Intervals of a component's cells; also whether they were found without
/// LP, and how many LPs were solved.
fn solve_component(
    table: &Table,
    eqs: &[Equation],
    comp: &Component,
    depth: Depth,
    seeds: Option<&[Option<Interval>]>,
) -> Result<Solved, LpError> {
    let goals_only = matches!(depth, Depth::Check { .. });
    let masked = |c: u32| table.cells[c as usize].status.is_masked();
    let var_of = |c: u32| {
        comp.cells
            .binary_search(&c)
            .expect("masked cell of this component")
    };
    let mut sys = System {
        vars: comp.cells.len(),
        rows: Vec::with_capacity(comp.equations.len()),
    };
    for &e in &comp.equations {
        let mut terms = Vec::new();
        let mut rhs = 0.0;
        for (c, coef) in eqs[e].terms() {
            if masked(c) {
                terms.push((var_of(c), coef));
            } else {
                rhs -= coef * table.cells[c as usize].value as f64;
            }
        }
        sys.rows.push((terms, rhs));
    }
    // A lone cell fixed by one equation, or free of any: no LP needed.
    if comp.cells.len() == 1 {
        if let Some((terms, rhs)) = sys.rows.first() {
            let v = rhs / terms[0].1;
            if v < -0.5
                || sys
                    .rows
                    .iter()
                    .any(|(t, r)| (r / t[0].1 - v).abs() > REL_TOL * v.abs().max(1.0) + 1e-6)
            {
                return Err(LpError::Infeasible);
            }
            return Ok((vec![Interval { low: v, high: v }], true, 0));
        }
        return Ok((
            vec![Interval {
                low: 0.0,
                high: f64::INFINITY,
            }],
            false,
            0,
        ));
    }
    let goals: Option<Vec<Goal>> = goals_only.then(|| {
        // Goals a little beyond the pass criteria of audit_impl, so that a met goal passes.
        let tol = (REL_TOL * component_scale(table, eqs, comp) + 1e-6).max(0.5) * 1.01 + 1e-6;
        comp.cells
            .iter()
            .map(|&c| {
                let cell = &table.cells[c as usize];
                if cell.rules.is_empty() {
                    Goal::Width(tol)
                } else {
                    let t = cell.value as f64;
                    Goal::Reach {
                        up: t + cell.upper_protection.max(tol) + tol,
                        down: t - cell.lower_protection.max(tol) - tol,
                    }
                }
            })
            .collect()
    });
    // Seeds only where every cell of the component has one.
    let mut seeds: Option<Vec<Interval>> =
        seeds.and_then(|s| comp.cells.iter().map(|&c| s[c as usize]).collect());
    let mut sliced = 0;
    let slice_from = match depth {
        Depth::Check { slice_from } => slice_from,
        _ => usize::MAX,
    };
    if let Some(goals) = goals.as_deref().filter(|_| comp.cells.len() > slice_from) {
        let truth: Vec<f64> = comp
            .cells
            .iter()
            .map(|&c| table.cells[c as usize].value as f64)
            .collect();
        let (ranges, solves) = slices::prove_on_slices(
            table,
            &comp.cells,
            &sys,
            &truth,
            goals,
            seeds.as_deref(),
            slice_from,
        )?;
        sliced = solves;
        let all_met = goals.iter().zip(&ranges).all(|(&g, &r)| g.met_by(r));
        if all_met {
            return Ok((ranges, false, sliced));
        }
        seeds = Some(ranges);
    }
    let (ivs, solves) = intervals_for(
        &sys,
        Search {
            goals: goals.as_deref(),
            seeds: seeds.as_deref(),
            rounds_only: false,
        },
    )?;
    Ok((ivs, false, sliced + solves))
}
