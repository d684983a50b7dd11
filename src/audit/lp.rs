//! The attacker's linear programs with HiGHS: for each masked cell of a
//! component, the minimum and maximum of its value over
//! `{x >= 0 : every equation holds with the published values}`.
//!
//! One model per component is built once, solved first with HiGHS's
//! presolve and dual simplex, then re-solved with a changed objective from
//! its basis (warm start, primal simplex), so that each further solve costs
//! a few simplex iterations; only rounds changing the objective of many
//! cells of a big model start over (20,000 variables, 50 cells; see
//! `COLD_VARS` for the measurements).
//!
//! The solver only searches: every solution it returns is made exact
//! ([`super::exact`]) and kept as a witness, and what a search proves is
//! read off those exact points alone, in the cells' own units.

use std::num::NonZeroU32;
use std::sync::Arc;

use highs::{HighsModelStatus, Model, RowProblem, Sense};
use num_integer::Integer;
use rayon::prelude::*;

use super::exact::{self, Point};
use super::leaf_form::LeafForm;
use super::sifting::{Sifted, Sifter};
use super::ties::Ties;
use crate::certify::witness::Q;
use crate::table::Table;

/// Why an attacker LP could not be solved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LpError {
    /// The published values contradict the equations: the table is not additive.
    #[error("the published values are not additive (the attacker's system has no solution)")]
    Infeasible,
    #[error("HiGHS could not solve an attacker LP ({0})")]
    Solver(String),
}

/// A linear system `sum coef * x = rhs` over `vars` unknowns, `x >= 0`,
/// exact: coefficients are small integers, right-hand sides value units.
#[derive(Debug, Clone, Default)]
pub struct System {
    pub vars: usize,
    /// Rows: (terms (variable, coefficient), right-hand side).
    pub rows: Vec<(Vec<(usize, i64)>, i128)>,
}

/// What a masked cell must withstand (SPEC section 5), in exact units: its
/// interval at least one unit wide, reaching `up` and `down` when given.
/// The single place that says when a range passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Target {
    pub up: Option<i128>,
    pub down: Option<i128>,
}

impl Target {
    /// Whether a range `[lo, hi]` (each end reached) passes.
    pub fn met_by(self, lo: Q, hi: Q) -> bool {
        self.max_met(lo, hi) && self.min_met(lo, hi)
    }

    /// Whether the upper end needs nothing more.
    fn max_met(self, lo: Q, hi: Q) -> bool {
        hi.exceeds_by(lo, 1) && self.up.is_none_or(|u| hi >= Q::int(u))
    }

    /// Whether the lower end needs nothing more.
    fn min_met(self, lo: Q, hi: Q) -> bool {
        hi.exceeds_by(lo, 1) && self.down.is_none_or(|d| lo <= Q::int(d))
    }
}

/// A witness over the variables of a system: variable `v` moves from the
/// base by `num / den`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalWitness {
    pub den: i128,
    pub moves: Vec<(usize, i128)>,
}

/// An end of a variable's range: its value and the witness reaching it
/// (`None`: the seed's, or the base).
#[derive(Debug, Clone, Copy)]
pub struct End {
    pub value: Q,
    pub by: Option<u32>,
}

/// What a search found: exact ends per variable, each reached by the base
/// (the seed) or by one of `witnesses` (deviations from `base`).
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The point the witnesses deviate from; None when no exact point of
    /// the system was found (then nothing is proven).
    pub base: Option<Point>,
    pub witnesses: Vec<LocalWitness>,
    pub low: Vec<End>,
    pub high: Vec<End>,
    /// Variables whose maximum is unbounded.
    pub unbounded: Vec<bool>,
    pub solves: usize,
    /// An exact search's extremes, values only (a witness is kept only
    /// while it helps some variable meet its target: an extreme per cell,
    /// each a whole vertex, would take memory as cells x cells).
    pub shown: Option<Vec<(Q, Q)>>,
}

impl Found {
    /// Keeps a witness (deviating from `base`) when it widens some range.
    pub fn add(&mut self, base: &Point, w: LocalWitness) -> bool {
        self.add_where(base, w, |_| true)
    }

    /// [`Found::add`], widening only the ranges of the variables `open`
    /// names.
    fn add_where(&mut self, base: &Point, w: LocalWitness, open: impl Fn(usize) -> bool) -> bool {
        let id = self.witnesses.len() as u32;
        let mut used = false;
        for &(v, m) in &w.moves {
            if !open(v) {
                continue;
            }
            let Some(val) = Q::new(base.nums[v], base.den).plus(m, w.den) else {
                continue;
            };
            if val < self.low[v].value {
                self.low[v] = End {
                    value: val,
                    by: Some(id),
                };
                used = true;
            }
            if val > self.high[v].value {
                self.high[v] = End {
                    value: val,
                    by: Some(id),
                };
                used = true;
            }
        }
        if used {
            self.witnesses.push(w);
        }
        used
    }

    /// The range proven for each variable.
    pub fn ranges(&self) -> Vec<(Q, Q)> {
        self.low
            .iter()
            .zip(&self.high)
            .map(|(l, h)| (l.value, h.value))
            .collect()
    }
}

/// How far [`intervals_for`] goes.
#[derive(Clone, Copy, Default)]
pub struct Search<'a> {
    /// Per variable, what passes (`None`: width only).
    pub targets: Option<&'a [Target]>,
    /// Whether every extreme is solved (exact intervals); otherwise a
    /// variable's search stops once its target is met.
    pub exact: bool,
    /// A point of the system (exact), when known (the true values): the
    /// witnesses deviate from it. Otherwise the first point found.
    pub base: Option<&'a Point>,
    /// Ranges already proven (exact, each end reached by a known witness).
    pub seeds: Option<&'a [(Q, Q)]>,
    /// Only the rounds over many variables at once, no LP per variable.
    pub rounds_only: bool,
    /// Only these extremes are searched, per variable `[maximum,
    /// minimum]` (the others count as done); None: all.
    pub pending: Option<&'a [[bool; 2]]>,
    /// Told of variables whose search is over (each once, `vars` in all).
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Every round after the first starts from scratch, whatever the
    /// model's size (see [`warm_starts_pay`]).
    pub cold_rounds: bool,
}

/// Whether re-solving from the last basis pays on the LPs of `table`
/// (from its number of dimensions and of cells only). On two-dimensional tables a
/// re-solve after a change of objective or of one cell's bounds costs a
/// few times less than a cold solve (national 0.01: whole-table patterns
/// 66 ms warm, 3 times that cold). On big three-dimensional tables the
/// same warm re-solves wander for thousands of degenerate pivots and cost
/// 5 to 10 times a cold solve (regional 0.003, 8,456 cells: whole-table
/// patterns 0.5-3 s warm, 60-250 ms cold; benches/README.md), so there
/// rounds and whole-table patterns start cold (and components are sliced
/// sooner, [`super::slices::slice_from`]); smaller ones (under
/// [`COLD_3D_FROM`] cells) stay warm.
pub fn warm_starts_pay(table: &Table) -> bool {
    table.dims.len() < 3 || table.cells.len() < COLD_3D_FROM
}

/// See [`warm_starts_pay`] (regional 0.001, tables of about 3,000 cells:
/// 37 s warm, 41 s cold).
pub const COLD_3D_FROM: usize = 5_000;

/// The scale that brings `sys`'s values to about 1 (the solver's
/// tolerances are then relative), and the distance from a bound within
/// which a solver value is read as at it (nonbasic values are exact; a
/// wrong guess only costs a retry at 0).
fn scale_of(sys: &System) -> (f64, f64) {
    let scale = sys
        .rows
        .iter()
        .map(|(_, r)| r.unsigned_abs() as f64)
        .fold(1.0, f64::max);
    (scale, 1e-11 * scale)
}

/// A goal's move below this many times the solver's noise `tol` (see
/// [`scale_of`]) cannot be made exact: [`Each::run`] asks for the larger
/// moves [`SEEN_MOVES`] instead (figures: benches/README.md, session 21).
const SEEN_FROM: f64 = 10.0;

/// The moves, in multiples of `tol`, asked for an unseen goal: largest
/// first, each reaching the goal too.
const SEEN_MOVES: [f64; 2] = [1e3, 1e1];

/// Vertices [`spread_point`] averages at most.
pub const SPREAD_VERTICES: usize = 6;

/// A point of `sys` with room in as many variables as a few vertices give,
/// for patterns that move cells down from it (see
/// [`super::hypercube::masked_only_witnesses_at`]): the mean of the vertex
/// that maximises the sum of each variable over its bound and of those
/// that then maximise the variables every earlier one left at 0 (at most
/// [`SPREAD_VERTICES`]). Exact and checked; None when the solver's
/// vertices cannot be made exact.
pub fn spread_point(sys: &System) -> Result<Option<Point>, LpError> {
    let n = sys.vars;
    let (scale, tol) = scale_of(sys);
    let bounds = Bounds::new(sys);
    let nonneg = exact::Box::nonnegative(n);
    let weight = |v: usize| {
        let h = bounds.hi[v];
        (
            v,
            1.0 / (h.map_or(f64::INFINITY, |h| h as f64) / scale).max(1e-3),
            None,
        )
    };
    let mut lp = AttackerLp::new(sys, scale, None, None);
    let mut vertex = |weights: &[(usize, f64, Option<i128>)]| -> Result<Option<Point>, LpError> {
        Ok(match lp.solve(Sense::Maximise, weights)? {
            Some(Approx::Values(z)) => exact::recover(sys, &z, &nonneg, tol),
            _ => None,
        })
    };
    let all: Vec<_> = (0..n).map(weight).collect();
    let Some(first) = vertex(&all)? else {
        return Ok(None);
    };
    // The sum of the vertices so far, over `den`.
    let mut sum = first.clone();
    let mut count: i128 = 1;
    let mut zero: Vec<bool> = first.nums.iter().map(|&x| x == 0).collect();
    // Weights left on earlier cells would pull them back: reset to 0.
    let mut last: Vec<(usize, f64, Option<i128>)> = all;
    while (count as usize) < SPREAD_VERTICES {
        let mut weights: Vec<_> = last.iter().map(|&(v, _, c)| (v, 0.0, c)).collect();
        let wanted: Vec<_> = (0..n)
            .filter(|&v| zero[v] && bounds.hi[v] != Some(0))
            .map(weight)
            .collect();
        if wanted.is_empty() {
            break;
        }
        weights.extend(wanted.iter().copied());
        let Some(p) = vertex(&weights)? else { break };
        last = wanted;
        let before = zero.iter().filter(|&&z| z).count();
        for (z, &x) in zero.iter_mut().zip(&p.nums) {
            *z &= x == 0;
        }
        let Some(next) = add_points(&sum, &p) else {
            break;
        };
        sum = next;
        count += 1;
        // A vertex that fills less than a hundredth of what is left: stop.
        if (before - zero.iter().filter(|&&z| z).count()) * 100 < before {
            break;
        }
    }
    let mean = sum
        .den
        .checked_mul(count)
        .map(|den| reduced(den, sum.nums.clone()));
    Ok(Some(match mean {
        Some(p) if exact::check(sys, &nonneg, &p) => p,
        _ => first,
    }))
}

/// `a + b`, exact; None on overflow.
fn add_points(a: &Point, b: &Point) -> Option<Point> {
    let l = a.den.lcm(&b.den);
    let (fa, fb) = (l / a.den, l / b.den);
    let nums = a
        .nums
        .iter()
        .zip(&b.nums)
        .map(|(&x, &y)| x.checked_mul(fa)?.checked_add(y.checked_mul(fb)?))
        .collect::<Option<Vec<i128>>>()?;
    Some(reduced(l, nums))
}

/// `nums / den` in lowest terms.
fn reduced(den: i128, nums: Vec<i128>) -> Point {
    let g = nums.iter().fold(den, |g, &x| g.gcd(&x));
    Point {
        den: den / g,
        nums: nums.into_iter().map(|x| x / g).collect(),
    }
}

/// Solves min and max of every variable of `sys`.
pub fn intervals(sys: &System) -> Result<Found, LpError> {
    intervals_for(
        sys,
        Search {
            exact: true,
            ..Search::default()
        },
    )
}

/// The exact search: LP rounds and per-variable LPs whose solutions are
/// made exact ([`exact::recover`]) and kept as witnesses when they widen a
/// range; every range returned is reached at both ends by exact points.
pub fn intervals_for(sys: &System, search: Search) -> Result<Found, LpError> {
    intervals_chunked(sys, search, Chunking::DEFAULT, Via::DEFAULT)
}

/// [`intervals_for`] with the per-cell LPs split by `chunking`, over the
/// leaf form when `leaves` and the search is exact.
fn intervals_chunked(
    sys: &System,
    search: Search,
    chunking: Chunking,
    via: Via,
) -> Result<Found, LpError> {
    let Search {
        targets,
        exact: solve_all,
        base,
        seeds,
        rounds_only,
        pending,
        progress,
        cold_rounds,
    } = search;
    let n = sys.vars;
    let target = |v: usize| targets.map_or(Target::default(), |t| t[v]);
    let (scale, tol) = scale_of(sys);
    // With an integer base (the true values), the LP is over moves from it.
    let truth = base.filter(|b| b.den == 1);
    // Exact searches (no caps) solve over the leaves: the same extremes
    // from a model a third to a fifth the size.
    let form = (solve_all && via.leaves)
        .then(|| LeafForm::of(sys))
        .flatten()
        .map(Arc::new);
    let mut lp = AttackerLp::new(sys, scale, truth, form.as_ref());
    // A check stops each move at what its target needs.
    let capped = truth.is_some() && !solve_all;
    let mut bounds = Bounds::new(sys);
    let mut st = State {
        base: base.cloned(),
        base_leaves: base.zip(form.as_ref()).map(|(b, f)| f.restrict(b)),
        form: form.clone(),
        found: Found {
            low: Vec::new(),
            high: Vec::new(),
            unbounded: vec![false; n],
            ..Found::default()
        },
        solved_max: vec![false; n],
        solved_min: vec![false; n],
        targets: (0..n).map(target).collect(),
        met: vec![false; n],
    };
    if solve_all {
        st.found.shown = Some(Vec::new());
    }
    if let Some(b) = base {
        st.init_ends(b, seeds);
    }
    let done = Done { pending, solve_all };
    // Only maxima still to prove need to know whether they are unbounded.
    let wanted: Vec<bool> = (0..n).map(|v| !done.max(&st, &bounds, v)).collect();
    let (unbounded, rays) = unbounded_set(sys, &wanted)?;
    st.found.unbounded = unbounded;
    let mut solves = 0;
    // Extremes the rounds leave go to sifted LPs (see `Each::run`).
    let sifts = via.sift && solve_all && !capped;
    let lp_vars = form.as_ref().map_or(n, |f| f.sys.vars);

    // Rounds over all unproven cells at once: maximise the sum of x/bound
    // (minimise the sum of x); each solution proves many extremes together.
    let big_check = capped && n >= COLD_VARS;
    // A big check's second model (its minima's rounds), for goal searches.
    let mut spare: Option<AttackerLp> = None;
    // Up to `most` rounds of one sense; `before`: LPs solved before;
    // `fresh`: `lp` is new. Returns the LPs solved and whether the rounds
    // stopped before `most`.
    let rounds = |st: &mut State,
                  lp: &mut AttackerLp,
                  sense: Sense,
                  before: usize,
                  mut fresh: bool,
                  most: usize|
     -> Result<(usize, bool), LpError> {
        let maximise = sense == Sense::Maximise;
        let mut solves = 0;
        for _round in 0..most {
            let targets_now: Vec<usize> = (0..n)
                .filter(|&v| !done.of(st, &bounds, v, maximise))
                .collect();
            if targets_now.len() < 2 && st.base.is_some() {
                return Ok((solves, true));
            }
            let earlier = before + solves > 0;
            if earlier && big_check && targets_now.len() < FEW_TARGETS {
                // Left to goal searches, one cell at a time.
                return Ok((solves, true));
            }
            if !fresh
                && earlier
                && (cold_rounds
                    || n >= COLD_VARS && (targets_now.len() >= COLD_TARGETS || n >= COLD_ALWAYS))
            {
                // A new objective over many cells of a big model: from scratch.
                *lp = AttackerLp::new(sys, scale, truth, form.as_ref());
            }
            let weights: Vec<(usize, f64, Option<i128>)> = targets_now
                .iter()
                .map(|&v| {
                    let w = if maximise {
                        // Capped: a 1e12 weight on a zero bound stalls the simplex.
                        let h = bounds.hi[v];
                        1.0 / (h.map_or(f64::INFINITY, |h| h as f64) / scale).max(1e-3)
                    } else {
                        1.0
                    };
                    (v, w, st.cap(v, sense, &target, capped))
                })
                .collect();
            let x = lp.solve(sense, &weights)?;
            solves += 1;
            fresh = false;
            if let Some(x) = x {
                st.take(sys, &x, tol, seeds, &bounds_of(&weights, sense));
            }
            let proven = targets_now
                .iter()
                .filter(|&&v| done.of(st, &bounds, v, maximise))
                .count();
            // On the biggest models a round costs seconds (cold) and the
            // per-cell LPs that follow tens of ms: rounds stop once one
            // proves less than half of what it aimed at; a big check's,
            // once one proves fewer than FEW_TARGETS.
            if proven < 3
                || (big_check && proven < FEW_TARGETS)
                || (n >= COLD_ALWAYS && 2 * proven < targets_now.len())
                || (cold_rounds && proven * COLD_ROUND_SHARE < targets_now.len())
                || (sifts && proven * LEAVES_PER_SIFT_ROUND < lp_vars)
            {
                return Ok((solves, true));
            }
        }
        Ok((solves, false))
    };
    if big_check {
        // A big check: the maxima's first round (its point settles most
        // minima too), then the maxima's and the minima's rounds side by
        // side, each on its own model, merged maxima first (the same
        // whatever the threads).
        let (first, stopped) = rounds(&mut st, &mut lp, Sense::Maximise, solves, true, 1)?;
        solves += first;
        let common = st.found.witnesses.len();
        let mut low = st.clone();
        let (high_run, low_run) = rayon::join(
            || {
                if stopped {
                    return Ok((0, true));
                }
                let mut lp = AttackerLp::new(sys, scale, truth, form.as_ref());
                rounds(&mut st, &mut lp, Sense::Maximise, solves, true, 200)
            },
            || {
                let mut lp = AttackerLp::new(sys, scale, truth, form.as_ref());
                let run = rounds(&mut low, &mut lp, Sense::Minimise, solves, true, 200)?;
                Ok((run, lp))
            },
        );
        let (low_run, low_lp) = low_run?;
        solves += high_run?.0 + low_run.0;
        st.merge(low, common);
        // Kept warm for the goal searches.
        spare = Some(low_lp);
    } else {
        for sense in [Sense::Maximise, Sense::Minimise] {
            solves += rounds(&mut st, &mut lp, sense, solves, solves == 0, 200)?.0;
        }
    }
    st.take_rays(sys, &rays, &target);

    // Progress: each variable once, when both its extremes are settled.
    let tick = |count: usize| {
        if let Some(p) = progress {
            p(count as u64);
        }
    };
    // What is left, one cell and one direction at a time: in a check, the
    // fewest moves reaching the goal (or none: the cell fails); otherwise
    // the extreme.
    let left: Vec<usize> = (0..n)
        .filter(|&v| !(done.max(&st, &bounds, v) && done.min(&st, &bounds, v)))
        .collect();
    tick(n - left.len());
    if rounds_only || left.is_empty() {
        tick(left.len());
    } else {
        let ties = Ties::of(sys);
        let each = Each {
            sys,
            ties: &ties,
            done: &done,
            capped,
            sift: sifts,
            tol,
            seeds,
            tick: &tick,
        };
        // Only exact intervals have many per-cell LPs; a check's are few
        // short goal searches, on one model, or on a big check's two warm
        // ones (national 0.1 imports: 61 searches 3.5 -> 2.2 s); on new
        // models they cost more (0.1: 26 s -> 46 s).
        let chunks = if solve_all {
            chunking.split(&left, lp.cols.len())
        } else {
            vec![&left[..]]
        };
        // A run of goal searches from the state the rounds left, on its own
        // state (merged afterwards in run order: the same whatever the threads).
        let run_part = |lp: &mut AttackerLp, cells: &[usize]| -> Result<(State, usize), LpError> {
            let (mut st, mut bounds) = (st.clone(), bounds.clone());
            let solves = each.run(&mut st, &mut bounds, lp, cells)?;
            Ok((st, solves))
        };
        let common = st.found.witnesses.len();
        let two = spare.take().filter(|_| {
            chunks.len() == 1 && st.base.is_some() && left.len() >= 2 * GOALS_PER_MODEL
        });
        let runs: Vec<Result<(State, usize), LpError>> = if let Some(mut other) = two {
            // A big check's goal searches, in two halves side by side on
            // its two warm models.
            let first: Vec<usize> = left.iter().step_by(2).copied().collect();
            let second: Vec<usize> = left.iter().skip(1).step_by(2).copied().collect();
            let (a, b) = rayon::join(
                || run_part(&mut lp, &first),
                || run_part(&mut other, &second),
            );
            vec![a, b]
        } else if chunks.len() == 1 || st.base.is_none() {
            solves += each.run(&mut st, &mut bounds, &mut lp, &left)?;
            Vec::new()
        } else {
            // Chunks of cells side by side, each on its own model.
            drop(lp);
            chunks
                .par_iter()
                .map(|cells| {
                    run_part(
                        &mut AttackerLp::new(sys, scale, truth, form.as_ref()),
                        cells,
                    )
                })
                .collect()
        };
        for run in runs {
            let (part, part_solves) = run?;
            solves += part_solves;
            st.merge(part, common);
        }
    }
    st.found.solves = solves;
    st.found.base = st.base.take();
    Ok(st.found)
}

/// A big check's goal searches are split over its two models from twice
/// this many cells (below, one model's witnesses settle most of the rest).
const GOALS_PER_MODEL: usize = 8;

/// Which extremes a search still has to find.
struct Done<'a> {
    pending: Option<&'a [[bool; 2]]>,
    solve_all: bool,
}

impl Done<'_> {
    /// Whether `v`'s maximum is settled: unbounded, solved, not asked,
    /// reaching its propagated bound, or (a check) meeting its target.
    fn max(&self, st: &State, bounds: &Bounds, v: usize) -> bool {
        if st.found.unbounded[v] || st.solved_max[v] || self.pending.is_some_and(|p| !p[v][0]) {
            return true;
        }
        let Some((lo, hi)) = st.range(v) else {
            return false;
        };
        bounds.hi[v].is_some_and(|h| hi >= Q::int(h))
            || (!self.solve_all && st.targets[v].max_met(lo, hi))
    }

    /// [`Done::max`] for the minimum.
    fn min(&self, st: &State, bounds: &Bounds, v: usize) -> bool {
        if st.solved_min[v] || self.pending.is_some_and(|p| !p[v][1]) {
            return true;
        }
        let Some((lo, hi)) = st.range(v) else {
            return false;
        };
        lo <= Q::int(bounds.lo[v]) || (!self.solve_all && st.targets[v].min_met(lo, hi))
    }

    /// [`Done::max`] or [`Done::min`].
    fn of(&self, st: &State, bounds: &Bounds, v: usize, maximise: bool) -> bool {
        if maximise {
            self.max(st, bounds, v)
        } else {
            self.min(st, bounds, v)
        }
    }
}

/// How the cells left to an exact search's per-cell LPs are split into runs, each solved on
/// its own model side by side: at most `most` runs of at least `cells`
/// cells, on models of at least `from_cols` columns (below, a cold start
/// costs more than it spares). From the counts only, never from the
/// threads, so the result is the same whatever `--jobs`.
#[derive(Debug, Clone, Copy)]
struct Chunking {
    from_cols: usize,
    cells: usize,
    most: usize,
}

impl Chunking {
    /// Off (one model for every size) until the failure below is
    /// understood. With runs from 20,000 columns, national 0.01's exact
    /// intervals went 209 s -> 182 s, but the national 0.1 release's exact
    /// audit stopped after 22 minutes on an LP HiGHS left `Unknown`; the
    /// binary before never finished that audit here, so whether the runs
    /// cause it is not known (benches/README.md, session 13).
    const DEFAULT: Chunking = Chunking {
        from_cols: usize::MAX,
        cells: 250,
        most: 4,
    };

    fn split<'a>(&self, left: &'a [usize], cols: usize) -> Vec<&'a [usize]> {
        if cols < self.from_cols || left.is_empty() {
            return vec![left];
        }
        let k = (left.len() / self.cells.max(1)).clamp(1, self.most);
        left.chunks(left.len().div_ceil(k)).collect()
    }
}

/// How an exact search solves (both on by default; tests compare).
#[derive(Debug, Clone, Copy)]
struct Via {
    /// Over the leaf form ([`LeafForm`]).
    leaves: bool,
    /// Each cell's extreme from a small LP around it ([`Sifter`]).
    sift: bool,
}

impl Via {
    const DEFAULT: Via = Via {
        leaves: true,
        sift: true,
    };
}

/// The per-cell phase of [`intervals_for`]: what every run shares.
struct Each<'a> {
    sys: &'a System,
    ties: &'a Ties,
    done: &'a Done<'a>,
    capped: bool,
    /// Extremes from small LPs ([`Sifter`]): exact searches without
    /// caps, decided once in [`intervals_chunked`] (its rounds stop early
    /// for it).
    sift: bool,
    tol: f64,
    seeds: Option<&'a [(Q, Q)]>,
    tick: &'a (dyn Fn(usize) + Sync),
}

impl Each<'_> {
    /// Solves what is left of `cells`' extremes, one LP a cell and
    /// direction, on `lp`; the number of solves.
    fn run(
        &self,
        st: &mut State,
        bounds: &mut Bounds,
        lp: &mut AttackerLp,
        cells: &[usize],
    ) -> Result<usize, LpError> {
        let Each {
            sys,
            ties,
            done,
            capped,
            sift,
            tol,
            seeds,
            tick,
        } = *self;
        let mut solves = 0;
        // An exact search's extremes from small LPs around each cell, priced
        // against the whole system (the LP's own: leaves or all cells).
        let form = st.form.clone();
        let lsys = form.as_ref().map_or(sys, |f| &f.sys);
        let base = if form.is_some() {
            st.base_leaves.clone()
        } else {
            st.base.clone()
        };
        let sifter = base
            .filter(|_| sift)
            .map(|b| Sifter::new(lsys, &b, lp.scale));
        for &v in cells {
            for sense in [Sense::Maximise, Sense::Minimise] {
                let maximised = sense == Sense::Maximise;
                if done.of(st, bounds, v, maximised) {
                    continue;
                }
                let target = |u: usize| st.targets[u];
                let cap = st.cap(v, sense, &target, capped);
                if let Some(need) = cap {
                    // A move the solver cannot see (`SEEN_FROM`): larger
                    // ones it can, which reach `need` too.
                    let unseen = (need as f64) < SEEN_FROM * tol;
                    let amounts: Vec<i128> = if unseen {
                        let larger = SEEN_MOVES.iter().map(|&k| (k * tol).ceil() as i128);
                        larger.filter(|&m| m > need).collect()
                    } else {
                        vec![need]
                    };
                    for amount in amounts {
                        let x = lp.reach(v, sense, amount)?;
                        solves += 1;
                        let Some(x) = x else { continue };
                        let pin = if maximised {
                            (v, None, Some(amount))
                        } else {
                            (v, Some(-amount), None)
                        };
                        let before = st.range(v);
                        st.take(sys, &x, tol, seeds, &[pin]);
                        if st.range(v) != before {
                            break;
                        }
                    }
                    if maximised {
                        st.solved_max[v] = true;
                    } else {
                        st.solved_min[v] = true;
                    }
                    continue;
                }
                let weights = [(v, 1.0, cap)];
                let x = match &sifter {
                    Some(sf) => {
                        let costs = match &form {
                            Some(f) => f.costs([(v, 1.0)].into_iter()),
                            None => vec![(v, 1.0)],
                        };
                        // No size limit: past a quarter of the system, the
                        // whole model cost the `--input` exact audit of
                        // national 0.01 305 s against 83 s (its base, the
                        // truth, holds every cell above 0, so `S` grows).
                        match sf.extreme(&costs, maximised, lsys.vars)? {
                            Sifted::Moves(m) => {
                                let mut d = vec![0.0; lsys.vars];
                                for (u, x) in m {
                                    d[u] = x;
                                }
                                Some(Approx::Moves(d))
                            }
                            Sifted::Unbounded => None,
                            Sifted::GaveUp => lp.solve(sense, &weights)?,
                        }
                    }
                    None => lp.solve(sense, &weights)?,
                };
                solves += 1;
                let optimal = x.is_some();
                // The solver's value of v, to check the exact point against.
                let solver_v = x.as_ref().map(|x| st.solver_value(v, x));
                if let Some(x) = x {
                    st.take(sys, &x, tol, seeds, &bounds_of(&weights, sense));
                }
                if optimal {
                    // The point reaching v's extreme reaches its tied cells' too.
                    let mut reached = vec![(v, maximised)];
                    for &u in ties.members(v) {
                        let u = u as usize;
                        let up = maximised == ties.same_direction(u, v);
                        if up {
                            st.solved_max[u] = true;
                        } else {
                            st.solved_min[u] = true;
                        }
                        if u != v {
                            reached.push((u, up));
                        }
                    }
                    // Each extreme now a bound for the others, when the
                    // exact point kept reaches the solver's optimum.
                    let at_optimum = st.range(v).zip(solver_v).is_some_and(|((lo, hi), s)| {
                        let e = if maximised { hi } else { lo };
                        (e.to_f64() - s).abs() <= tol + 1e-6
                    });
                    if at_optimum {
                        for (u, up) in reached {
                            let (lo, hi) = st.range(u).expect("a base");
                            let bound = if up { hi.ceil() } else { lo.floor() };
                            bounds.tighten(sys, u, up, bound);
                        }
                    }
                }
                if maximised {
                    st.solved_max[v] = true;
                } else {
                    st.solved_min[v] = true;
                }
            }
            tick(1);
        }
        Ok(solves)
    }
}

/// The search's state: the base once known, ends and witnesses found.
#[derive(Clone)]
struct State {
    base: Option<Point>,
    /// The base's leaves, when the LP is over the leaf form.
    base_leaves: Option<Point>,
    /// The leaf form the LP solutions are over, if any.
    form: Option<Arc<LeafForm>>,
    found: Found,
    solved_max: Vec<bool>,
    solved_min: Vec<bool>,
    /// Per variable, what passes (exact searches keep witnesses for it).
    targets: Vec<Target>,
    /// Per variable, whether its proven range is known to meet its target
    /// (filled as found: ranges only widen).
    met: Vec<bool>,
}

impl State {
    /// Takes in what a run of per-cell LPs found from a copy of this state
    /// taken when it held `common` witnesses (same base, same witnesses
    /// before the run's own).
    fn merge(&mut self, part: State, common: usize) {
        for (mine, theirs) in [
            (&mut self.solved_max, &part.solved_max),
            (&mut self.solved_min, &part.solved_min),
        ] {
            for (a, &b) in mine.iter_mut().zip(theirs) {
                *a |= b;
            }
        }
        if let (Some(mine), Some(theirs)) = (self.found.shown.as_mut(), &part.found.shown) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a = (a.0.min(b.0), a.1.max(b.1));
            }
        }
        for w in part.found.witnesses.into_iter().skip(common) {
            self.add(w);
        }
    }

    /// Ends start at the seeds (or the base).
    fn init_ends(&mut self, base: &Point, seeds: Option<&[(Q, Q)]>) {
        let at = |v: usize| Q::new(base.nums[v], base.den);
        let n = base.nums.len();
        let (low, high) = match seeds {
            Some(s) => (
                s.iter().map(|r| r.0).collect::<Vec<_>>(),
                s.iter().map(|r| r.1).collect::<Vec<_>>(),
            ),
            None => ((0..n).map(at).collect(), (0..n).map(at).collect()),
        };
        if self.found.shown.is_some() {
            self.found.shown = Some(low.iter().copied().zip(high.iter().copied()).collect());
        }
        self.found.low = low
            .into_iter()
            .map(|value| End { value, by: None })
            .collect();
        self.found.high = high
            .into_iter()
            .map(|value| End { value, by: None })
            .collect();
    }

    /// How far (units) variable `v` must move from the base in `sense` to
    /// meet its target, when `capped`.
    fn cap(
        &self,
        v: usize,
        sense: Sense,
        target: &dyn Fn(usize) -> Target,
        capped: bool,
    ) -> Option<i128> {
        if !capped {
            return None;
        }
        let (lo, hi) = self.range(v)?;
        let b = self.base.as_ref()?;
        if b.den != 1 {
            return None;
        }
        let x = b.nums[v];
        let t = target(v);
        Some(if sense == Sense::Maximise {
            // Up to max(up, lo + 1).
            let want = t.up.unwrap_or(i128::MIN).max(lo.plus(1, 1)?.ceil());
            want - x
        } else {
            // Down to min(down, hi - 1).
            let want = t.down.unwrap_or(i128::MAX).min(hi.plus(-1, 1)?.floor());
            x - want
        })
    }

    fn range(&self, v: usize) -> Option<(Q, Q)> {
        self.base.as_ref()?;
        if let Some(shown) = &self.found.shown {
            return Some(shown[v]);
        }
        Some((self.found.low[v].value, self.found.high[v].value))
    }

    /// Makes an LP solution exact and keeps it as a witness when it widens
    /// a range; the first exact point becomes the base if none. `approx`:
    /// values in units, or moves from the base in deviation form.
    fn take(
        &mut self,
        sys: &System,
        approx: &Approx,
        tol: f64,
        seeds: Option<&[(Q, Q)]>,
        caps: &[(usize, Option<i128>, Option<i128>)],
    ) {
        if let Some(form) = self.form.clone() {
            return self.take_leaves(sys, &form, approx, tol, seeds);
        }
        let approx = match approx {
            Approx::Moves(d) => {
                let base = self.base.as_ref().expect("moves need the base");
                if let Some(w) = exact_moves(sys, base, d, tol, caps) {
                    self.add(w);
                }
                return;
            }
            Approx::Values(z) => z,
        };
        let nonneg = exact::Box::nonnegative(sys.vars);
        let base = self.base.as_ref().filter(|b| b.den == 1);
        let Some(p) = exact::recover(sys, approx, &nonneg, tol)
            .or_else(|| base.and_then(|b| shrunk(sys, b, approx, tol)))
        else {
            return;
        };
        self.take_point(p, seeds);
    }

    /// [`State::take`] for a solution over the leaves of `form`: made
    /// exact there (a smaller system), then lifted to every variable.
    fn take_leaves(
        &mut self,
        sys: &System,
        form: &LeafForm,
        approx: &Approx,
        tol: f64,
        seeds: Option<&[(Q, Q)]>,
    ) {
        match approx {
            Approx::Moves(d) => {
                let base = self.base_leaves.as_ref().expect("moves need the base");
                if let Some(w) =
                    exact_moves(&form.sys, base, d, tol, &[]).and_then(|w| form.lift_moves(&w))
                {
                    self.add(w);
                }
            }
            Approx::Values(y) => {
                let nonneg = exact::Box::nonnegative(form.sys.vars);
                let base = self.base_leaves.as_ref().filter(|b| b.den == 1);
                let p = exact::recover(&form.sys, y, &nonneg, tol)
                    .or_else(|| base.and_then(|b| shrunk(&form.sys, b, y, tol)));
                let p = p.and_then(|p| form.lift(&p));
                if let Some(p) = p {
                    // The lift meets every row and bound by construction
                    // (the certificate's check is what proves it).
                    debug_assert!(exact::check(sys, &exact::Box::nonnegative(sys.vars), &p));
                    self.take_point(p, seeds);
                }
            }
        }
    }

    /// The solver's value of `v` in a solution.
    fn solver_value(&self, v: usize, x: &Approx) -> f64 {
        match (x, &self.form) {
            (Approx::Values(z), None) => z[v],
            (Approx::Values(y), Some(f)) => f.value(v, y),
            (Approx::Moves(d), form) => {
                let b = self.base.as_ref().expect("moves need the base");
                let m = form.as_ref().map_or_else(|| d[v], |f| f.moved(v, d));
                b.nums[v] as f64 / b.den as f64 + m
            }
        }
    }

    /// Keeps an exact point of the system: the base if none yet, else a
    /// witness when it widens a range.
    fn take_point(&mut self, p: Point, seeds: Option<&[(Q, Q)]>) {
        if self.base.is_none() {
            self.init_ends(&p, seeds.filter(|_| false));
            self.base_leaves = self.form.as_ref().map(|f| f.restrict(&p));
            self.base = Some(p);
            return;
        }
        let exact = self.found.shown.is_some();
        if exact && !self.widens_shown(&p) {
            return;
        }
        let base = self.base.as_ref().expect("base");
        let l = base.den.lcm(&p.den);
        let (fb, fp) = (l / base.den, l / p.den);
        let moves: Vec<(usize, i128)> = p
            .nums
            .iter()
            .zip(&base.nums)
            .enumerate()
            .filter_map(|(v, (&a, &b))| {
                let d = a.checked_mul(fp)?.checked_sub(b.checked_mul(fb)?)?;
                (d != 0).then_some((v, d))
            })
            .collect();
        let w = LocalWitness { den: l, moves };
        if exact {
            // Shown already widened by it.
            self.keep_for_short(w);
        } else {
            self.add(w);
        }
    }

    /// An exact search's point: its values widen the extremes shown;
    /// whether it moves (from the base) a cell short of its target, for
    /// which it is kept as a witness. Without building its moves.
    fn widens_shown(&mut self, p: &Point) -> bool {
        let State {
            base,
            found,
            met,
            targets,
            ..
        } = self;
        let base = base.as_ref().expect("base");
        let shown = found.shown.as_mut().expect("an exact search");
        let mut needed = false;
        for (v, (&a, &b)) in p.nums.iter().zip(&base.nums).enumerate() {
            let moved = if p.den == base.den {
                a != b
            } else {
                a.checked_mul(base.den) != b.checked_mul(p.den)
            };
            if moved {
                widen(&mut shown[v], Q::new(a, p.den));
                needed |= short_of_target(met, targets, &found.low, &found.high, v);
            }
        }
        needed
    }

    /// Keeps a witness of an exact search as an end of the cells it moves
    /// that are short of their target (`met` fresh for each): the others'
    /// proofs stay as they are (the extremes are in `shown`), so that few
    /// witnesses are kept.
    fn keep_for_short(&mut self, w: LocalWitness) {
        let base = self.base.as_ref().expect("base");
        let met = &self.met;
        self.found.add_where(base, w, |v| !met[v]);
    }

    fn add(&mut self, w: LocalWitness) {
        let Some(base) = self.base.as_ref() else {
            return;
        };
        if let Some(shown) = self.found.shown.as_mut() {
            // Extremes as values; the witness only if some cell it moves
            // has not met its target yet.
            let mut needed = false;
            for &(v, m) in &w.moves {
                let Some(val) = Q::new(base.nums[v], base.den).plus(m, w.den) else {
                    continue;
                };
                widen(&mut shown[v], val);
                needed |= short_of_target(
                    &mut self.met,
                    &self.targets,
                    &self.found.low,
                    &self.found.high,
                    v,
                );
            }
            if needed {
                self.keep_for_short(w);
            }
            return;
        }
        self.found.add(base, w);
    }

    /// Rays of the recession cone as witnesses: a ray scaled far enough
    /// that every variable it raises meets its target (and moves a unit).
    fn take_rays(&mut self, sys: &System, rays: &[Vec<f64>], target: &dyn Fn(usize) -> Target) {
        if self.base.is_none() {
            return;
        }
        for r in rays {
            let bounds = exact::Box {
                lo: vec![0; sys.vars],
                hi: vec![Some(1); sys.vars],
                snap_zero: false,
                pins: Vec::new(),
            };
            let cone = System {
                vars: sys.vars,
                rows: sys.rows.iter().map(|(t, _)| (t.clone(), 0)).collect(),
            };
            let Some(p) = exact::recover(&cone, r, &bounds, 1e-9) else {
                continue;
            };
            // The smallest integer multiple t reaching every target: the
            // ray's move of v is t * nums[v] / den.
            let mut t: i128 = 1;
            for (v, &num) in p.nums.iter().enumerate() {
                if num <= 0 {
                    continue;
                }
                let (lo, hi) = (self.found.low[v].value, self.found.high[v].value);
                let goal = Q::int(target(v).up.unwrap_or(i128::MIN))
                    .max(lo.plus(1, 1).unwrap_or(hi))
                    .max(hi);
                let base = Q::new(
                    self.base.as_ref().expect("base").nums[v],
                    self.base.as_ref().expect("base").den,
                );
                let Some(need) = goal.plus(-base.num, base.den) else {
                    continue;
                };
                // need <= t * num / den  <=>  t >= need * den / num.
                let k = Q::new(need.num.saturating_mul(p.den), need.den.saturating_mul(num)).ceil();
                t = t.max(k);
            }
            let moves: Vec<(usize, i128)> = p
                .nums
                .iter()
                .enumerate()
                .filter(|(_, &x)| x != 0)
                .filter_map(|(v, &x)| Some((v, x.checked_mul(t)?)))
                .collect();
            self.add(LocalWitness { den: p.den, moves });
        }
    }
}

/// Rounds over at least [`COLD_TARGETS`] cells of a model of at least
/// [`COLD_VARS`] variables are solved from scratch rather than from the last
/// basis: such an objective change costs the warm primal simplex far more
/// than a cold solve (national scale 1, 160,000 variables: 84 targets
/// 12.5 s warm, ~2.7 s cold; the whole run 295 s -> 144 s). On smaller
/// models warm re-solves win (the full-scale DROM year took twice as long
/// with every such round cold).
const COLD_VARS: usize = 20_000;
const COLD_TARGETS: usize = 50;

/// A check's rounds over a model of [`COLD_VARS`] variables or more stop
/// once fewer cells than this are left, or once one proves fewer: there a
/// round costs as much as about 20 goal searches of one cell (national 0.01
/// imports, 28,699 variables: 300-450 ms against 15-25 ms; 0.1, 88,170
/// variables: 0.5-1.6 s against 50 ms).
const FEW_TARGETS: usize = 20;
/// From this many variables every round starts from scratch (national
/// scale 1's 156,000-variable component: rounds over 33 and 49 cells took
/// 6.4-6.8 s warm, rounds over 57-89 cells 1.7-1.9 s cold).
const COLD_ALWAYS: usize = 100_000;
/// Cold rounds (see [`warm_starts_pay`]) stop once one proves less than
/// one of its targets in this many: on regional 0.01's 13,000-14,000-variable
/// components the last rounds took 30-46 s each and proved 0-7 of about 110.
const COLD_ROUND_SHARE: usize = 10;

/// An LP solution in units: the values, or the moves from the base.
enum Approx {
    Values(Vec<f64>),
    Moves(Vec<f64>),
}

/// Exact moves from a base with the structure of `d` (moves in units):
/// cells it leaves alone stay, cells it empties go to 0.
fn exact_moves(
    sys: &System,
    base: &Point,
    d: &[f64],
    tol: f64,
    caps: &[(usize, Option<i128>, Option<i128>)],
) -> Option<LocalWitness> {
    [tol, 0.0]
        .into_iter()
        .find_map(|t| exact_moves_at(sys, base, d, t, caps))
}

fn exact_moves_at(
    sys: &System,
    base: &Point,
    d: &[f64],
    tol: f64,
    caps: &[(usize, Option<i128>, Option<i128>)],
) -> Option<LocalWitness> {
    // Only the moved cells and their rows: the others stay.
    let moved: Vec<usize> = (0..sys.vars).filter(|&v| d[v].abs() > tol).collect();
    if moved.is_empty() {
        return None;
    }
    let mut local = vec![usize::MAX; sys.vars];
    for (i, &v) in moved.iter().enumerate() {
        local[v] = i;
    }
    let rows: Vec<(Vec<(usize, i64)>, i128)> = sys
        .rows
        .iter()
        .filter(|(t, _)| t.iter().any(|&(v, _)| local[v] != usize::MAX))
        .map(|(t, _)| {
            let terms = t
                .iter()
                .filter(|&&(v, _)| local[v] != usize::MAX)
                .map(|&(v, a)| (local[v], a))
                .collect();
            (terms, 0)
        })
        .collect();
    let sub = System {
        vars: moved.len(),
        rows,
    };
    // Validity needs every cell >= 0; the caps only say where the solver
    // stopped a move. Moves are solved in units of the base's denominator
    // (the rows are homogeneous).
    let mut bounds = exact::Box {
        lo: moved.iter().map(|&v| -base.nums[v]).collect(),
        hi: vec![None; moved.len()],
        snap_zero: true,
        pins: Vec::new(),
    };
    for &(v, lo, hi) in caps {
        if local[v] != usize::MAX {
            if let Some(p) = lo.or(hi) {
                bounds.pins.push((local[v], p.checked_mul(base.den)?));
            }
        }
    }
    let k = base.den as f64;
    let approx: Vec<f64> = moved.iter().map(|&v| d[v] * k).collect();
    let p = exact::recover_rows(&sub, &approx, &bounds, tol * k)?;
    // The solver may overshoot a bound by its tolerance: back towards the
    // truth (moves 0), just enough.
    let p = exact::shrink_to_bounds(&bounds, &p)?;
    if !exact::check(&sub, &bounds, &p) {
        return None;
    }
    let moves: Vec<(usize, i128)> = moved
        .iter()
        .zip(p.nums)
        .filter(|(_, m)| *m != 0)
        .map(|(&v, m)| (v, m))
        .collect();
    let den = p.den.checked_mul(base.den)?;
    (!moves.is_empty()).then_some(LocalWitness { den, moves })
}

/// Widens a shown range to a value.
fn widen(range: &mut (Q, Q), val: Q) {
    range.0 = range.0.min(val);
    range.1 = range.1.max(val);
}

/// Whether `v`'s proven range is still short of its target; `met` caches
/// the variables known to meet theirs (ranges only widen: once met,
/// always met).
fn short_of_target(
    met: &mut [bool],
    targets: &[Target],
    low: &[End],
    high: &[End],
    v: usize,
) -> bool {
    if !met[v] {
        met[v] = targets[v].met_by(low[v].value, high[v].value);
    }
    !met[v]
}

/// A solution overshooting `x >= 0` by the solver's tolerance, made
/// exact on its rows and scaled back towards an integer base just
/// enough (the base is a point of the system, inside the bounds).
fn shrunk(sys: &System, base: &Point, approx: &[f64], tol: f64) -> Option<Point> {
    debug_assert_eq!(base.den, 1);
    let nonneg = exact::Box::nonnegative(sys.vars);
    let p = [tol, 0.0]
        .into_iter()
        .find_map(|t| exact::recover_rows(sys, approx, &nonneg, t))?;
    // The move from the base, its bounds -base, scaled back.
    let d = offset(&p, base, -1)?;
    let moves = exact::Box {
        lo: base.nums.iter().map(|&b| -b).collect(),
        hi: vec![None; sys.vars],
        snap_zero: false,
        pins: Vec::new(),
    };
    let d = exact::shrink_to_bounds(&moves, &d)?;
    let out = offset(&d, base, 1)?;
    exact::check(sys, &nonneg, &out).then_some(out)
}

/// `p + sign * base` for an integer `base`, on `p`'s denominator.
fn offset(p: &Point, base: &Point, sign: i128) -> Option<Point> {
    let nums = p
        .nums
        .iter()
        .zip(&base.nums)
        .map(|(&a, &b)| a.checked_add(sign * b.checked_mul(p.den)?))
        .collect::<Option<_>>()?;
    Some(Point { den: p.den, nums })
}

/// The moves' bounds that caps set: `(variable, lowest, highest)`.
fn bounds_of(
    weights: &[(usize, f64, Option<i128>)],
    sense: Sense,
) -> Vec<(usize, Option<i128>, Option<i128>)> {
    weights
        .iter()
        .filter_map(|&(v, _, cap)| {
            let c = cap?.max(0);
            Some(if sense == Sense::Maximise {
                (v, None, Some(c))
            } else {
                (v, Some(-c), None)
            })
        })
        .collect()
}

/// When extremes left are sifted, rounds stop once one proves fewer than
/// one extreme per this many variables of the LP: a round over the whole
/// model then costs more than sifting them (national 0.1: a round 0.7-1.1 s
/// over 33,000-39,000 leaves, a sifted LP 16 ms on average).
const LEAVES_PER_SIFT_ROUND: usize = 600;

/// Rounds over moves on systems of at least this many variables are solved
/// afresh, with HiGHS's presolve and dual simplex (national scale 0.03:
/// its 15 rounds over 50,000-cell components 31.7 s -> 10.2 s).
const FRESH_FROM: usize = 2_000;

/// What each unit of move costs in the deviation form (scaled units): far
/// below any target's weight, so that extremes are still reached, but
/// enough for the solver to move no cell it need not: sparse witnesses.
const MOVE_COST: f64 = 1e-5;

/// The attacker's LP of a system. Over the values (`z >= 0`), or, when
/// the true values are known, over the moves from them (`u - w`, `u >= 0`,
/// `0 <= w <= value`), each unit of move costing [`MOVE_COST`]: the same
/// extremes, reached by solutions that move few cells.
struct AttackerLp {
    model: Option<Model>,
    /// Per variable: its column, or its `(u, w)` pair in deviation form.
    cols: Vec<highs::Col>,
    deviation: bool,
    scale: f64,
    /// Deviation form: per variable, its truth and the upper bounds of its
    /// `(u, w)` columns (scaled).
    caps: Vec<(i128, [f64; 2])>,
    /// The leaf form the model is over (its variables are the leaves,
    /// solutions come over them; weights are given over the original's).
    form: Option<Arc<LeafForm>>,
}

// SAFETY: a HiGHS instance owns its data and keeps no tie to the thread
// that built it (and these run single-threaded: `quiet_model`). An
// `AttackerLp` built on one core is handed to a search on the other, never
// shared (it is not `Sync`): one thread at a time calls into it.
unsafe impl Send for AttackerLp {}

impl AttackerLp {
    fn new(
        sys: &System,
        scale: f64,
        truth: Option<&Point>,
        form: Option<&Arc<LeafForm>>,
    ) -> AttackerLp {
        let leaves_truth = form.zip(truth).map(|(f, t)| f.restrict(t));
        let (sys, truth) = match form {
            Some(f) => (&f.sys, leaves_truth.as_ref()),
            None => (sys, truth),
        };
        let mut lp = AttackerLp::over(sys, scale, truth);
        lp.form = form.cloned();
        lp
    }

    fn over(sys: &System, scale: f64, truth: Option<&Point>) -> AttackerLp {
        match truth {
            None => {
                let (model, cols) = attacker_model(sys, scale);
                AttackerLp {
                    model: Some(model),
                    cols,
                    deviation: false,
                    scale,
                    caps: Vec::new(),
                    form: None,
                }
            }
            Some(t) => {
                let mut pb = RowProblem::default();
                let mut cols = Vec::with_capacity(2 * sys.vars);
                for v in 0..sys.vars {
                    cols.push(pb.add_column(-MOVE_COST, 0.0..));
                    cols.push(pb.add_column(-MOVE_COST, 0.0..=(t.nums[v] as f64 / scale)));
                }
                for (terms, _) in &sys.rows {
                    pb.add_row(
                        0.0..=0.0,
                        terms.iter().flat_map(|&(v, c)| {
                            [(cols[2 * v], c as f64), (cols[2 * v + 1], -(c as f64))]
                        }),
                    );
                }
                let mut model = quiet_model(pb, Sense::Maximise);
                model.set_option("primal_feasibility_tolerance", 1e-10);
                AttackerLp {
                    model: Some(model),
                    cols,
                    deviation: true,
                    scale,
                    caps: t
                        .nums
                        .iter()
                        .map(|&x| (x, [f64::INFINITY, x as f64 / scale]))
                        .collect(),
                    form: None,
                }
            }
        }
    }

    /// Deviation form: the fewest moves that take `v` exactly `need` units
    /// up (`Maximise`) or down, by the dual simplex from the all-zero
    /// basis (dual feasible: every move costs; a pattern search rather
    /// than a climb); None when no solution moves it that far.
    fn reach(&mut self, v: usize, sense: Sense, need: i128) -> Result<Option<Approx>, LpError> {
        debug_assert!(self.deviation && self.form.is_none());
        let mut model = self.model.take().expect("a model between solves");
        let k = usize::from(sense != Sense::Maximise);
        let (moved, other) = (self.cols[2 * v + k], self.cols[2 * v + 1 - k]);
        let amount = need.max(0) as f64 / self.scale;
        model.change_column_bounds(moved, amount..=amount);
        model.change_column_bounds(other, 0.0..=0.0);
        // SAFETY: the pointer is the live model's own HiGHS instance.
        unsafe {
            highs_sys::Highs_setLogicalBasis(model.as_mut_ptr());
        }
        model.set_option("simplex_strategy", 1);
        model.set_sense(Sense::Maximise);
        let solved = model
            .try_solve()
            .map_err(|e| LpError::Solver(format!("{e:?}")))?;
        let x = match solved.status() {
            HighsModelStatus::Optimal => Some(solved.get_solution().columns().to_vec()),
            HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => None,
            s => return Err(LpError::Solver(format!("attacker LP ended with {s:?}"))),
        };
        let mut model = Model::from(solved);
        model.set_option("simplex_strategy", 4);
        let [hu, hw] = self.caps[v].1;
        model.change_column_bounds(self.cols[2 * v], 0.0..=hu);
        model.change_column_bounds(self.cols[2 * v + 1], 0.0..=hw);
        self.model = Some(model);
        let scale = self.scale;
        Ok(x.map(|x| Approx::Moves(x.chunks(2).map(|p| (p[0] - p[1]) * scale).collect())))
    }

    /// Optimises `sum weight * x_v` in `sense`, each weighted variable
    /// moving at most its cap in that direction (deviation form: a search
    /// that only needs a goal stops there, with few cells moved); the
    /// solution in units (over the leaves with a leaf form), or None when
    /// unbounded.
    fn solve(
        &mut self,
        sense: Sense,
        weights: &[(usize, f64, Option<i128>)],
    ) -> Result<Option<Approx>, LpError> {
        let round = weights.len() > 1;
        let leaf_weights: Vec<(usize, f64, Option<i128>)>;
        let weights = match &self.form {
            Some(f) => {
                debug_assert!(
                    weights.iter().all(|w| w.2.is_none()),
                    "caps need the original"
                );
                leaf_weights = f
                    .costs(weights.iter().map(|&(v, c, _)| (v, c)))
                    .into_iter()
                    .map(|(l, c)| (l, c, None))
                    .collect();
                &leaf_weights[..]
            }
            None => weights,
        };
        let mut model = self.model.take().expect("a model between solves");
        let sign = if sense == Sense::Maximise { 1.0 } else { -1.0 };
        let (u_or_w, scale) = (usize::from(sense != Sense::Maximise), self.scale);
        for &(v, c, cap) in weights {
            if self.deviation {
                model.change_column_cost(self.cols[2 * v], sign * c - MOVE_COST);
                model.change_column_cost(self.cols[2 * v + 1], -sign * c - MOVE_COST);
                if let Some(cap) = cap {
                    let col = self.cols[2 * v + u_or_w];
                    let hi = (cap.max(0) as f64 / scale).min(self.caps[v].1[u_or_w]);
                    model.change_column_bounds(col, 0.0..=hi);
                }
            } else {
                model.change_column_cost(self.cols[v], c);
            }
        }
        let solve_sense = if self.deviation {
            Sense::Maximise
        } else {
            sense
        };
        let fresh = self.deviation && round && self.cols.len() >= 2 * FRESH_FROM;
        if fresh {
            model.set_option("presolve", "on");
            model.set_option("simplex_strategy", 1);
        } else if self.deviation {
            // One cell's move: from the truth (all moves 0, a feasible basis),
            // a few pivots away, rather than from the last solution's many moves.
            // SAFETY: the pointer is the live model's own HiGHS instance.
            unsafe {
                highs_sys::Highs_setLogicalBasis(model.as_mut_ptr());
            }
        }
        let (x, mut model) = solve(model, solve_sense, self.deviation)?;
        for &(v, _, cap) in weights {
            if self.deviation {
                model.change_column_cost(self.cols[2 * v], -MOVE_COST);
                model.change_column_cost(self.cols[2 * v + 1], -MOVE_COST);
                if cap.is_some() {
                    let hi = self.caps[v].1[u_or_w];
                    model.change_column_bounds(self.cols[2 * v + u_or_w], 0.0..=hi);
                }
            } else {
                model.change_column_cost(self.cols[v], 0.0);
            }
        }
        self.model = Some(model);
        let scale = self.scale;
        Ok(x.map(|x| {
            if self.deviation {
                Approx::Moves(x.chunks(2).map(|p| (p[0] - p[1]) * scale).collect())
            } else {
                Approx::Values(x.iter().map(|v| v * scale).collect())
            }
        }))
    }
}

/// The attacker's model of `sys` (values divided by `scale`), zero
/// objective, no basis yet: its first solve uses HiGHS's defaults
/// (presolve, dual simplex), which find an optimum far faster than the
/// primal simplex from the slack basis (1 s instead of 28 s on a
/// 90,000-cell national component); [`solve`] then switches the model to
/// re-solves from its basis.
fn attacker_model(sys: &System, scale: f64) -> (Model, Vec<highs::Col>) {
    let mut pb = RowProblem::default();
    let cols: Vec<_> = (0..sys.vars).map(|_| pb.add_column(0.0, 0.0..)).collect();
    for (terms, rhs) in &sys.rows {
        let r = *rhs as f64 / scale;
        pb.add_row(r..=r, terms.iter().map(|&(v, c)| (cols[v], c as f64)));
    }
    let mut model = quiet_model(pb, Sense::Minimise);
    // Vertices that break an equation by a unit are not vertices at all.
    model.set_option("primal_feasibility_tolerance", 1e-10);
    (model, cols)
}

/// A HiGHS model that prints nothing and uses one thread (components and
/// tables are already solved in parallel).
pub(crate) fn quiet_model(pb: RowProblem, sense: Sense) -> Model {
    let mut model = pb.optimise(sense);
    model.make_quiet();
    model.set_threads(NonZeroU32::new(1).expect("1 > 0"));
    model
}

/// Rays of the recession cone.
type Rays = Vec<Vec<f64>>;

/// Which variables have an unbounded maximum: those that can be positive
/// in the recession cone `{r >= 0 : A r = 0}`. Each round maximises the
/// sum of the `wanted` variables not yet known positive over the cone cut
/// to the unit box, and adds those positive in the solution; a round that
/// adds none proves the rest of the wanted ones bounded (the others are
/// reported bounded unless seen positive: only wanted ones are asked).
/// Usually one or two LPs replace as many maximisations as there are
/// unbounded variables. Also returns each round's ray (solver values).
fn unbounded_set(sys: &System, wanted: &[bool]) -> Result<(Vec<bool>, Rays), LpError> {
    if !wanted.contains(&true) {
        return Ok((vec![false; sys.vars], Vec::new()));
    }
    let mut pb = RowProblem::default();
    let cols: Vec<_> = (0..sys.vars)
        .map(|v| pb.add_column(if wanted[v] { 1.0 } else { 0.0 }, 0.0..=1.0))
        .collect();
    for (terms, _) in &sys.rows {
        pb.add_row(0.0..=0.0, terms.iter().map(|&(v, c)| (cols[v], c as f64)));
    }
    let mut model = quiet_model(pb, Sense::Maximise);
    model.set_option("presolve", "off");
    let mut positive = vec![false; sys.vars];
    let mut rays = Vec::new();
    loop {
        let solved = model
            .try_solve()
            .map_err(|e| LpError::Solver(format!("{e:?}")))?;
        if solved.status() != HighsModelStatus::Optimal {
            return Err(LpError::Solver(format!(
                "recession cone: {:?}",
                solved.status()
            )));
        }
        let mut added = false;
        let x = solved.get_solution().columns().to_vec();
        model = Model::from(solved);
        for (v, &xv) in x.iter().enumerate() {
            if xv > 1e-9 && !positive[v] {
                positive[v] = true;
                added = true;
                model.change_column_cost(cols[v], 0.0);
            }
        }
        if !added {
            return Ok((positive, rays));
        }
        rays.push(x);
    }
}

/// A sum of terms some of which may be infinite (all of one sign).
#[derive(Default)]
struct EndSum {
    finite: i128,
    infinite: usize,
}

impl EndSum {
    fn add(&mut self, t: Option<i128>) {
        match t {
            Some(t) => self.finite += t,
            None => self.infinite += 1,
        }
    }

    /// The sum without one of its terms (None: infinite).
    fn without(&self, t: Option<i128>) -> Option<i128> {
        match (t, self.infinite) {
            (None, 1) => Some(self.finite),
            (Some(t), 0) => Some(self.finite - t),
            _ => None,
        }
    }
}

/// Whether every coefficient of `sys` is +-1 (what bound propagation needs).
fn unit_coefficients(sys: &System) -> bool {
    sys.rows
        .iter()
        .all(|(t, _)| t.iter().all(|&(_, a)| a.abs() == 1))
}

/// Tightens the bounds of one row's variables from the others' (`a*x_v =
/// rhs - the others`), telling `changed` each variable whose bound moved;
/// whether any did.
fn tighten_row(
    terms: &[(usize, i64)],
    rhs: i128,
    lo: &mut [i128],
    hi: &mut [Option<i128>],
    changed: &mut dyn FnMut(usize),
) -> bool {
    // Range of a*x for x in [lo, hi] (None: infinite).
    let term = |a: i64, l: i128, h: Option<i128>| -> (Option<i128>, Option<i128>) {
        if a > 0 {
            (Some(l), h)
        } else {
            (h.map(|h| -h), Some(-l))
        }
    };
    let mut low = EndSum::default();
    let mut high = EndSum::default();
    for &(v, a) in terms {
        let (l, h) = term(a, lo[v], hi[v]);
        // A lower end is never -inf here: x >= 0.
        low.add(l);
        high.add(h);
    }
    let mut any = false;
    for &(v, a) in terms {
        let (l, h) = term(a, lo[v], hi[v]);
        // a*x_v = rhs - (the others) in [rhs - others_max, rhs - others_min].
        let others_max = high.without(h);
        let others_min = low.without(l);
        let ax_lo = others_max.map(|m| rhs - m);
        let ax_hi = others_min.map(|m| rhs - m);
        let (new_lo, new_hi) = if a > 0 {
            (ax_lo, ax_hi)
        } else {
            (ax_hi.map(|x| -x), ax_lo.map(|x| -x))
        };
        let mut moved = false;
        if let Some(nh) = new_hi {
            if hi[v].is_none_or(|h| nh < h) {
                hi[v] = Some(nh.max(lo[v]));
                moved = true;
            }
        }
        if let Some(nl) = new_lo {
            if nl > lo[v] {
                lo[v] = hi[v].map_or(nl, |h| nl.min(h));
                moved = true;
            }
        }
        if moved {
            any = true;
            changed(v);
        }
    }
    any
}

/// Propagated bounds that tighten as exact extremes are solved: an
/// extreme the solver proved is a bound, and the equations carry it to the
/// other cells (a total's maximum bounds its children's), so that a later
/// cell whose reached value meets its bound needs no LP of its own.
#[derive(Clone)]
struct Bounds {
    lo: Vec<i128>,
    hi: Vec<Option<i128>>,
    /// The rows holding each variable (empty when bounds do not propagate).
    rows_of: Vec<Vec<u32>>,
}

/// Row visits one tightening may cost (a count, not a time: the same
/// bounds on every machine).
const TIGHTEN_VISITS: usize = 20_000;

impl Bounds {
    /// Valid bounds of every variable by propagating bounds through the
    /// equations, starting from `0 <= x < inf`, in exact units (only when
    /// every coefficient is +-1; otherwise those starting bounds). Outer
    /// bounds only: a solution that reaches one proves it is the extreme.
    fn new(sys: &System) -> Bounds {
        let n = sys.vars;
        let mut bounds = Bounds {
            lo: vec![0; n],
            hi: vec![None; n],
            rows_of: vec![Vec::new(); n],
        };
        if !unit_coefficients(sys) {
            return bounds;
        }
        let Bounds { lo, hi, rows_of } = &mut bounds;
        for _round in 0..30 {
            let mut changed = false;
            for (terms, rhs) in &sys.rows {
                changed |= tighten_row(terms, *rhs, lo, hi, &mut |_| {});
            }
            if !changed {
                break;
            }
        }
        for (r, (terms, _)) in sys.rows.iter().enumerate() {
            for &(v, _) in terms {
                rows_of[v].push(r as u32);
            }
        }
        bounds
    }

    /// `x_v <= hi` (`upper`) or `x_v >= lo`, then propagated.
    fn tighten(&mut self, sys: &System, v: usize, upper: bool, bound: i128) {
        if self.rows_of[v].is_empty() {
            return;
        }
        if upper {
            if self.hi[v].is_some_and(|h| h <= bound) || bound < self.lo[v] {
                return;
            }
            self.hi[v] = Some(bound);
        } else {
            if bound <= self.lo[v] || self.hi[v].is_some_and(|h| bound > h) {
                return;
            }
            self.lo[v] = bound;
        }
        let mut queued = rustc_hash::FxHashSet::default();
        let mut queue = std::collections::VecDeque::new();
        for &r in &self.rows_of[v] {
            if queued.insert(r) {
                queue.push_back(r);
            }
        }
        let mut visits = 0;
        while let Some(r) = queue.pop_front() {
            queued.remove(&r);
            visits += 1;
            if visits > TIGHTEN_VISITS {
                break;
            }
            let (terms, rhs) = &sys.rows[r as usize];
            let rows_of = &self.rows_of;
            tighten_row(terms, *rhs, &mut self.lo, &mut self.hi, &mut |u| {
                for &q in &rows_of[u] {
                    if q != r && queued.insert(q) {
                        queue.push_back(q);
                    }
                }
            });
        }
    }
}

/// One solve; returns the solution (scaled values; None when unbounded)
/// and the model for the next solve.
fn solve(
    mut model: Model,
    sense: Sense,
    deviation: bool,
) -> Result<(Option<Vec<f64>>, Model), LpError> {
    model.set_sense(sense);
    let mut solved = model
        .try_solve()
        .map_err(|e| LpError::Solver(format!("{e:?}")))?;
    let retried = solved.status() == HighsModelStatus::Unknown;
    if retried {
        // The warm-started primal simplex sometimes gives up on degenerate
        // (zero-valued) systems: solve again with HiGHS's defaults.
        let mut retry = Model::from(solved);
        retry.set_option("simplex_strategy", 1);
        retry.set_option("presolve", "on");
        solved = retry
            .try_solve()
            .map_err(|e| LpError::Solver(format!("{e:?}")))?;
    }
    if deviation && solved.status() == HighsModelStatus::Infeasible {
        // Moves from the truth: no move at all is a solution, so this is
        // the solver's numerical trouble (seen on a 9,000-cell DROM table
        // under the exact method). Again from that solution, by the primal
        // simplex, which never leaves feasibility.
        let mut retry = Model::from(solved);
        // SAFETY: the pointer is the live model's own HiGHS instance.
        unsafe {
            highs_sys::Highs_setLogicalBasis(retry.as_mut_ptr());
        }
        retry.set_option("simplex_strategy", 4);
        retry.set_option("presolve", "off");
        solved = retry
            .try_solve()
            .map_err(|e| LpError::Solver(format!("{e:?}")))?;
    }
    let x = match solved.status() {
        HighsModelStatus::Optimal => Some(solved.get_solution().columns().to_vec()),
        HighsModelStatus::Unbounded if sense == Sense::Maximise => None,
        HighsModelStatus::Infeasible => return Err(LpError::Infeasible),
        HighsModelStatus::UnboundedOrInfeasible if sense == Sense::Maximise => None,
        s => return Err(LpError::Solver(format!("attacker LP ended with {s:?}"))),
    };
    let mut model = Model::from(solved);
    // Re-solves after a cost change start from this optimal basis, which
    // stays primal feasible: primal simplex, no presolve (it would drop the basis).
    model.set_option("simplex_strategy", 4);
    model.set_option("presolve", "off");
    Ok((x, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x0 + x1 = 10`, `x1 + x2 = 10`: the vertices leave cells at 0, the
    /// spread point holds every cell strictly inside, exactly.
    #[test]
    fn the_spread_point_has_room_where_vertices_have_none() {
        let sys = System {
            vars: 3,
            rows: vec![(vec![(0, 1), (1, 1)], 10), (vec![(1, 1), (2, 1)], 10)],
        };
        let p = spread_point(&sys).unwrap().unwrap();
        assert!(exact::check(&sys, &exact::Box::nonnegative(3), &p));
        assert!(p.nums.iter().all(|&x| x > 0), "{p:?}");
    }

    fn ends(f: &Found) -> Vec<(f64, f64)> {
        let shown = f
            .shown
            .as_ref()
            .expect("an exact search shows its extremes");
        (0..f.low.len())
            .map(|v| {
                let hi = if f.unbounded[v] {
                    f64::INFINITY
                } else {
                    shown[v].1.to_f64()
                };
                (shown[v].0.to_f64(), hi)
            })
            .collect()
    }

    /// A 2 x 2 block of cells worth cents under a row of 10^12 cents: the
    /// solver's noise (1e-11 of the largest value, 10 cents) is above the
    /// one-cent moves the width goals ask for. Each cell can move 100
    /// cents both ways, and the check must prove it (it used to report
    /// them exactly disclosed).
    #[test]
    fn width_goals_under_a_huge_total() {
        let huge: i128 = 1_000_000_000_000;
        let x = [100i128, 200, 300, 400, huge];
        let rows = vec![
            (vec![(0, 1), (1, 1)], 300),
            (vec![(2, 1), (3, 1)], 700),
            (vec![(0, 1), (2, 1)], 400),
            (vec![(1, 1), (3, 1)], 600),
            (vec![(4, 1), (0, 1), (1, 1)], huge + 300),
        ];
        let sys = System { vars: 5, rows };
        let truth = Point {
            den: 1,
            nums: x.to_vec(),
        };
        let targets = vec![
            Target {
                up: None,
                down: None
            };
            5
        ];
        let found = intervals_for(
            &sys,
            Search {
                targets: Some(&targets),
                base: Some(&truth),
                ..Search::default()
            },
        )
        .unwrap();
        let ranges = found.ranges();
        for (v, &(lo, hi)) in ranges.iter().enumerate().take(4) {
            assert!(hi.exceeds_by(lo, 1), "cell {v}: {lo:?} {hi:?}");
        }
        assert_eq!(ranges[4], (Q::int(huge), Q::int(huge)));
    }

    #[test]
    fn two_unknowns_summing_to_ten() {
        // x0 + x1 = 10, x >= 0: both in [0, 10].
        let sys = System {
            vars: 2,
            rows: vec![(vec![(0, 1), (1, 1)], 10)],
        };
        for (lo, hi) in ends(&intervals(&sys).unwrap()) {
            assert_eq!((lo, hi), (0.0, 10.0));
        }
    }

    #[test]
    fn tied_cells_share_their_extremes() {
        // x0 + x1 = 5, x0 + x2 = 4 tie x1 and x2 to x0; x1 + x2 + x3 = 6
        // gives x3 = 2 x0 - 3 >= 0. By hand: x0 in [1.5, 4], x1 in
        // [1, 3.5], x2 in [0, 2.5], x3 in [0, 5].
        let sys = System {
            vars: 4,
            rows: vec![
                (vec![(0, 1), (1, 1)], 5),
                (vec![(0, 1), (2, 1)], 4),
                (vec![(1, 1), (2, 1), (3, 1)], 6),
            ],
        };
        let iv = ends(&intervals(&sys).unwrap());
        assert_eq!(iv, vec![(1.5, 4.0), (1.0, 3.5), (0.0, 2.5), (0.0, 5.0)]);
    }

    #[test]
    fn unbounded_maximum() {
        // x0 - x1 = 3: x0 in [3, inf), x1 in [0, inf).
        let sys = System {
            vars: 2,
            rows: vec![(vec![(0, 1), (1, -1)], 3)],
        };
        let f = intervals(&sys).unwrap();
        let iv = ends(&f);
        assert_eq!(iv[0].0, 3.0);
        assert!(iv[0].1.is_infinite() && iv[1].1.is_infinite());
        // A ray witness moves both up.
        assert!(f.high[0].value > Q::int(3) && f.high[1].value > Q::int(0));
    }

    /// A fully masked r x c table with published margins: each cell's exact
    /// interval is given by its Fréchet bounds, `[max(0, R_i + C_j - T),
    /// min(R_i, C_j)]`. Big enough (over [`COLD_VARS`] cells) for rounds
    /// solved from scratch; two rows, so that rounds prove most extremes.
    /// Exact: every end equals its bound to the unit.
    #[test]
    #[allow(clippy::needless_range_loop)]
    fn frechet_bounds_of_a_big_masked_table() {
        use rand::{Rng, SeedableRng};
        let (r, c) = (2usize, 10_050usize);
        assert!(r * c >= COLD_VARS);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // Skewed values, a fifth of them zero.
        let x: Vec<i128> = (0..r * c)
            .map(|_| {
                if rng.gen_bool(0.2) {
                    0
                } else {
                    rng.gen_range(1..1000i128).pow(2)
                }
            })
            .collect();
        let row: Vec<i128> = (0..r).map(|i| (0..c).map(|j| x[i * c + j]).sum()).collect();
        let col: Vec<i128> = (0..c).map(|j| (0..r).map(|i| x[i * c + j]).sum()).collect();
        let total: i128 = row.iter().sum();
        let mut rows: Vec<(Vec<(usize, i64)>, i128)> = (0..r)
            .map(|i| ((0..c).map(|j| (i * c + j, 1)).collect(), row[i]))
            .collect();
        rows.extend((0..c).map(|j| ((0..r).map(|i| (i * c + j, 1)).collect(), col[j])));
        let sys = System { vars: r * c, rows };
        let f = intervals(&sys).unwrap();
        let shown = f.shown.as_ref().unwrap();
        for i in 0..r {
            for j in 0..c {
                let v = i * c + j;
                let low = (row[i] + col[j] - total).max(0);
                let high = row[i].min(col[j]);
                assert!(
                    shown[v].0 == Q::int(low) && shown[v].1 == Q::int(high),
                    "cell ({i}, {j}): {:?}, Fréchet [{low}, {high}]",
                    shown[v]
                );
            }
        }
    }

    #[test]
    fn a_solved_total_bounds_its_children() {
        // x0 = x1 + x2, x0 + x3 = 10: every bound 10 until x0 <= 6 is known.
        let sys = System {
            vars: 4,
            rows: vec![
                (vec![(0, 1), (1, -1), (2, -1)], 0),
                (vec![(0, 1), (3, 1)], 10),
            ],
        };
        let mut b = Bounds::new(&sys);
        assert_eq!(b.hi, vec![Some(10); 4]);
        b.tighten(&sys, 0, true, 6);
        assert_eq!(b.hi[..3], [Some(6); 3]);
        // x3 = 10 - x0 >= 4.
        assert_eq!(b.lo, vec![0, 0, 0, 4]);
        assert_eq!(b.hi[3], Some(10));
    }

    #[test]
    fn chunks_are_fixed_by_the_counts() {
        let left: Vec<usize> = (0..1_001).collect();
        let c = Chunking {
            from_cols: 20_000,
            ..Chunking::DEFAULT
        };
        assert_eq!(c.split(&left, 19_999).len(), 1);
        let runs = c.split(&left, 20_000);
        assert_eq!(
            runs.iter().map(|r| r.len()).collect::<Vec<_>>(),
            [251, 251, 251, 248]
        );
        assert_eq!(c.split(&left[..499], 50_000).len(), 1);
    }

    /// Per-cell LPs split into runs on their own models find the same
    /// exact extremes as one model, and every range is witnessed: a
    /// masked 3 x 4 x 5 table whose line sums are published (rounds leave
    /// cells to per-cell LPs there).
    #[test]
    fn runs_side_by_side_find_the_same_extremes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (g, r, c) = (3usize, 4usize, 5usize);
        let at = |k: usize, i: usize, j: usize| (k * r + i) * c + j;
        let x: Vec<i128> = (0..g * r * c).map(|_| rng.gen_range(0..50i128)).collect();
        let mut rows = Vec::new();
        let mut line = |t: Vec<usize>| {
            let sum = t.iter().map(|&v| x[v]).sum();
            rows.push((t.into_iter().map(|v| (v, 1)).collect(), sum));
        };
        for k in 0..g {
            for i in 0..r {
                line((0..c).map(|j| at(k, i, j)).collect());
            }
            for j in 0..c {
                line((0..r).map(|i| at(k, i, j)).collect());
            }
        }
        for i in 0..r {
            for j in 0..c {
                line((0..g).map(|k| at(k, i, j)).collect());
            }
        }
        let sys = System {
            vars: g * r * c,
            rows,
        };
        let search = Search {
            exact: true,
            ..Search::default()
        };
        let one = intervals_chunked(
            &sys,
            search,
            Chunking {
                from_cols: usize::MAX,
                ..Chunking::DEFAULT
            },
            Via::DEFAULT,
        )
        .unwrap();
        let split = Chunking {
            from_cols: 0,
            cells: 1,
            most: 4,
        };
        let four = intervals_chunked(&sys, search, split, Via::DEFAULT).unwrap();
        assert_eq!(one.shown, four.shown);
        let (a, b) = (one.shown.unwrap(), four.shown.clone().unwrap());
        assert!(a.iter().any(|&(lo, hi)| hi.exceeds_by(lo, 1)));
        // Each range the witnesses prove reaches a unit of width where the
        // extremes do.
        for (v, (lo, hi)) in four.ranges().into_iter().enumerate() {
            assert_eq!(
                hi.exceeds_by(lo, 1),
                b[v].1.exceeds_by(b[v].0, 1),
                "cell {v}"
            );
        }
    }

    /// A masked two-dimensional table with hierarchies in both dimensions
    /// (total > 2 groups > 5 leaves each way), its system and true values.
    fn hierarchical(seed: u64, masked_share: f64) -> (System, Point) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        // Node 0 the total, 1-2 groups, 3-7 leaves (3, 4, 5 under 1).
        let kids = |n: usize| -> Vec<usize> {
            match n {
                0 => vec![1, 2],
                1 => vec![3, 4, 5],
                2 => vec![6, 7],
                _ => vec![],
            }
        };
        let under = |n: usize| -> Vec<usize> {
            let mut out = vec![];
            let mut stack = vec![n];
            while let Some(m) = stack.pop() {
                let k = kids(m);
                if k.is_empty() {
                    out.push(m);
                }
                stack.extend(k);
            }
            out
        };
        let leaf: Vec<Vec<i128>> = (0..8)
            .map(|_| (0..8).map(|_| rng.gen_range(0..40i128)).collect())
            .collect();
        let value = |a: usize, b: usize| -> i128 {
            under(a)
                .iter()
                .flat_map(|&i| under(b).into_iter().map(move |j| (i, j)))
                .map(|(i, j)| leaf[i][j])
                .sum()
        };
        let mut var = vec![[usize::MAX; 8]; 8];
        let mut truth = vec![];
        for a in 0..8 {
            for b in 0..8 {
                if (a, b) != (0, 0) && rng.gen_bool(masked_share) {
                    var[a][b] = truth.len();
                    truth.push(value(a, b));
                }
            }
        }
        let mut rows = vec![];
        for a in 0..8 {
            for b in 0..8 {
                let lines = [
                    kids(a).into_iter().map(|c| (c, b)).collect::<Vec<_>>(),
                    kids(b).into_iter().map(|c| (a, c)).collect(),
                ];
                for parts in lines.into_iter().filter(|p| !p.is_empty()) {
                    let (mut terms, mut rhs) = (vec![], 0i128);
                    for (k, (i, j)) in
                        std::iter::once((1i64, (a, b))).chain(parts.into_iter().map(|c| (-1, c)))
                    {
                        match var[i][j] {
                            usize::MAX => rhs -= k as i128 * value(i, j),
                            v => terms.push((v, k)),
                        }
                    }
                    if !terms.is_empty() {
                        rows.push((terms, rhs));
                    }
                }
            }
        }
        let sys = System {
            vars: truth.len(),
            rows,
        };
        (
            sys,
            Point {
                den: 1,
                nums: truth,
            },
        )
    }

    #[test]
    fn the_leaf_form_finds_the_same_extremes() {
        let one_model = Chunking {
            from_cols: usize::MAX,
            ..Chunking::DEFAULT
        };
        let mut reduced = 0;
        for seed in 0..24 {
            let (sys, truth) = hierarchical(seed, [0.6, 0.85, 1.0][seed as usize % 3]);
            let form = LeafForm::of(&sys);
            reduced += usize::from(form.as_ref().is_some_and(|f| f.sys.vars < sys.vars));
            for base in [None, Some(&truth)] {
                let search = Search {
                    exact: true,
                    base,
                    ..Search::default()
                };
                let with = intervals_chunked(&sys, search, one_model, Via::DEFAULT).unwrap();
                let without = intervals_chunked(
                    &sys,
                    search,
                    one_model,
                    Via {
                        leaves: false,
                        ..Via::DEFAULT
                    },
                )
                .unwrap();
                assert_eq!(with.shown, without.shown, "seed {seed}");
                assert_eq!(with.unbounded, without.unbounded);
                // The truth lies in every extreme range.
                for (v, &(lo, hi)) in with.shown.as_ref().unwrap().iter().enumerate() {
                    assert!(lo <= Q::int(truth.nums[v]) && Q::int(truth.nums[v]) <= hi);
                }
            }
        }
        assert!(
            reduced >= 20,
            "the leaf form reduced {reduced} systems only"
        );
    }

    /// Sifted extremes (small LPs priced against the whole system) are
    /// the whole model's, over the leaves and over every cell, with and
    /// without the truth as base.
    #[test]
    fn sifting_finds_the_whole_models_extremes() {
        let one_model = Chunking {
            from_cols: usize::MAX,
            ..Chunking::DEFAULT
        };
        for seed in 0..24 {
            let (sys, truth) = hierarchical(100 + seed, [0.6, 0.85, 1.0][seed as usize % 3]);
            for base in [None, Some(&truth)] {
                let search = Search {
                    exact: true,
                    base,
                    ..Search::default()
                };
                for leaves in [true, false] {
                    let run = |sift| {
                        intervals_chunked(&sys, search, one_model, Via { leaves, sift }).unwrap()
                    };
                    let (sifted, whole) = (run(true), run(false));
                    assert_eq!(sifted.shown, whole.shown, "seed {seed} leaves {leaves}");
                    assert_eq!(sifted.unbounded, whole.unbounded);
                }
            }
        }
    }

    #[test]
    fn contradiction_is_infeasible() {
        // x0 = -1 with x0 >= 0.
        let sys = System {
            vars: 1,
            rows: vec![(vec![(0, 1)], -1)],
        };
        assert_eq!(intervals(&sys).map(|r| r.solves), Err(LpError::Infeasible));
    }
}
