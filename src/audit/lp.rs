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

use std::num::NonZeroU32;

use highs::{HighsModelStatus, Model, RowProblem, Sense};

/// The attacker's interval of one cell, in value units; `high` is
/// `f64::INFINITY` when the maximum is unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Why an attacker LP could not be solved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LpError {
    /// The published values contradict the equations: the table is not additive.
    #[error("the published values are not additive (the attacker's system has no solution)")]
    Infeasible,
    #[error("HiGHS could not solve an attacker LP ({0})")]
    Solver(String),
}

/// A linear system `sum coef * x = rhs` over `vars` unknowns, `x >= 0`.
#[derive(Debug, Clone, Default)]
pub struct System {
    pub vars: usize,
    /// Rows: (terms (variable, coefficient), right-hand side).
    pub rows: Vec<(Vec<(usize, f64)>, f64)>,
}

/// Solves min and max of every variable of `sys`.
pub fn intervals(sys: &System) -> Result<(Vec<Interval>, usize), LpError> {
    intervals_for(sys, Search::default())
}

/// What a check needs to know of a variable's interval (values in units).
/// Once a goal is met by solutions found, no LP is solved for that cell,
/// and its interval is only the range seen (an inner bound); when it is not
/// met, the extremes are solved exactly. A goal must imply that the cell
/// passes, so that only exact intervals can fail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// The exact interval.
    Exact,
    /// An interval reaching at least `up` and at most `down`.
    Reach { up: f64, down: f64 },
    /// An interval wider than this.
    Width(f64),
}

impl Goal {
    /// Whether a range seen meets the goal.
    pub fn met_by(self, iv: Interval) -> bool {
        match self {
            Goal::Exact => false,
            Goal::Reach { up, down } => iv.high >= up && iv.low <= down,
            Goal::Width(w) => iv.high - iv.low > w,
        }
    }

    /// Whether a range seen meets the goal's upper side (all of a width).
    fn max_met_by(self, iv: Interval) -> bool {
        match self {
            Goal::Exact => false,
            Goal::Reach { up, .. } => iv.high >= up,
            Goal::Width(w) => iv.high - iv.low > w,
        }
    }
}

/// How far [`intervals_for`] goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Search<'a> {
    /// Per variable, what is enough (`None`: the exact interval of every one).
    pub goals: Option<&'a [Goal]>,
    /// Ranges (in value units) already known to lie inside each variable's
    /// interval, each end reached by some solution of the system: they
    /// count as solutions seen.
    pub seeds: Option<&'a [Interval]>,
    /// Only the rounds over many variables at once, no LP per variable:
    /// what they leave unproven keeps the range seen (an inner bound).
    pub rounds_only: bool,
}

/// As [`intervals`], stopping early per variable where `search` allows;
/// every interval returned is reached at both ends by solutions of `sys`.
pub fn intervals_for(sys: &System, search: Search) -> Result<(Vec<Interval>, usize), LpError> {
    let Search {
        goals,
        seeds,
        rounds_only,
    } = search;
    // Scale values to about 1 so that the solver's tolerances are relative.
    let scale = sys.rows.iter().map(|(_, r)| r.abs()).fold(1.0, f64::max);
    let (mut model, cols) = attacker_model(sys, scale);
    // Only maxima still to prove need to know whether they are unbounded.
    let wanted: Vec<bool> = (0..sys.vars)
        .map(|v| match (goals, seeds) {
            (Some(g), Some(s)) => !g[v].max_met_by(s[v]),
            _ => true,
        })
        .collect();
    let unbounded = unbounded_set(sys, &wanted)?;
    let (lo, hi) = propagate_bounds(sys, scale);
    let n = sys.vars;
    let mut seen = Seen {
        min: vec![f64::INFINITY; n],
        max: vec![f64::NEG_INFINITY; n],
    };
    for (v, s) in seeds.into_iter().flatten().enumerate() {
        seen.min[v] = s.low / scale;
        seen.max[v] = s.high / scale;
    }
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    // An extreme is proven when a solution reaches a propagated bound.
    let goal = |v: usize| goals.map_or(Goal::Exact, |g| g[v]);
    let max_done = |seen: &Seen, v: usize| {
        unbounded[v]
            || seen.max[v] >= hi[v]
            || near(seen.max[v], hi[v])
            || match goal(v) {
                Goal::Exact => false,
                Goal::Reach { up, .. } => seen.max[v] * scale >= up,
                Goal::Width(w) => (seen.max[v] - seen.min[v]) * scale > w,
            }
    };
    let min_done = |seen: &Seen, v: usize| {
        seen.min[v] <= lo[v]
            || near(seen.min[v], lo[v])
            || match goal(v) {
                Goal::Exact => false,
                Goal::Reach { down, .. } => seen.min[v] * scale <= down,
                Goal::Width(w) => (seen.max[v] - seen.min[v]) * scale > w,
            }
    };
    let mut solves = 0;

    // Rounds over all unproven cells at once: maximise the sum of x/bound
    // (minimise the sum of x); each solution proves many extremes together.
    for sense in [Sense::Maximise, Sense::Minimise] {
        for _round in 0..200 {
            let done = |seen: &Seen, v: usize| {
                if sense == Sense::Maximise {
                    max_done(seen, v)
                } else {
                    min_done(seen, v)
                }
            };
            let targets: Vec<usize> = (0..n).filter(|&v| !done(&seen, v)).collect();
            if targets.len() < 2 {
                break;
            }
            if solves > 0 && n >= COLD_VARS && targets.len() >= COLD_TARGETS {
                // A new objective over many cells of a big model: from scratch.
                model = attacker_model(sys, scale).0;
            }
            for &v in &targets {
                let w = if sense == Sense::Maximise {
                    // Capped: a 1e12 weight on a zero bound stalls the simplex.
                    1.0 / hi[v].max(1e-3)
                } else {
                    1.0
                };
                model.change_column_cost(cols[v], w);
            }
            let (_, m) = solve(model, sense, &mut seen)?;
            model = m;
            solves += 1;
            for &v in &targets {
                model.change_column_cost(cols[v], 0.0);
            }
            let proven = targets.iter().filter(|&&v| done(&seen, v)).count();
            if proven < 3 {
                break;
            }
        }
    }

    // What is left, one cell and one direction at a time.
    for (v, &col) in cols.iter().enumerate().filter(|_| !rounds_only) {
        if !max_done(&seen, v) || !min_done(&seen, v) {
            model.change_column_cost(col, 1.0);
            if !max_done(&seen, v) {
                let (_, m) = solve(model, Sense::Maximise, &mut seen)?;
                model = m;
                solves += 1;
            }
            if !min_done(&seen, v) {
                let (_, m) = solve(model, Sense::Minimise, &mut seen)?;
                model = m;
                solves += 1;
            }
            model.change_column_cost(col, 0.0);
        }
    }
    let out = (0..n)
        .map(|v| Interval {
            low: seen.min[v].max(0.0) * scale,
            high: if unbounded[v] {
                f64::INFINITY
            } else {
                seen.max[v] * scale
            },
        })
        .collect();
    Ok((out, solves))
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
        let r = rhs / scale;
        pb.add_row(r..=r, terms.iter().map(|&(v, c)| (cols[v], c)));
    }
    (quiet_model(pb, Sense::Minimise), cols)
}

/// A HiGHS model that prints nothing and uses one thread (components and
/// tables are already solved in parallel).
pub(crate) fn quiet_model(pb: RowProblem, sense: Sense) -> Model {
    let mut model = pb.optimise(sense);
    model.make_quiet();
    model.set_threads(NonZeroU32::new(1).expect("1 > 0"));
    model
}

/// Which variables have an unbounded maximum: those that can be positive
/// in the recession cone `{r >= 0 : A r = 0}`. Each round maximises the
/// sum of the `wanted` variables not yet known positive over the cone cut
/// to the unit box, and adds those positive in the solution; a round that
/// adds none proves the rest of the wanted ones bounded (the others are
/// reported bounded unless seen positive: only wanted ones are asked).
/// Usually one or two LPs replace as many maximisations as there are
/// unbounded variables.
fn unbounded_set(sys: &System, wanted: &[bool]) -> Result<Vec<bool>, LpError> {
    if !wanted.contains(&true) {
        return Ok(vec![false; sys.vars]);
    }
    let mut pb = RowProblem::default();
    let cols: Vec<_> = (0..sys.vars)
        .map(|v| pb.add_column(if wanted[v] { 1.0 } else { 0.0 }, 0.0..=1.0))
        .collect();
    for (terms, _) in &sys.rows {
        pb.add_row(0.0..=0.0, terms.iter().map(|&(v, c)| (cols[v], c)));
    }
    let mut model = quiet_model(pb, Sense::Maximise);
    model.set_option("presolve", "off");
    let mut positive = vec![false; sys.vars];
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
            return Ok(positive);
        }
    }
}

/// One solve; returns the optimum (infinite when unbounded) and the model
/// for the next solve.
/// The smallest and largest value of each variable over the solutions
/// found so far: bounds of its extremes from inside.
struct Seen {
    min: Vec<f64>,
    max: Vec<f64>,
}

/// A sum of terms some of which may be infinite (all of one sign).
#[derive(Default)]
struct EndSum {
    finite: f64,
    infinite: usize,
}

impl EndSum {
    fn add(&mut self, t: f64) {
        if t.is_infinite() {
            self.infinite += 1;
        } else {
            self.finite += t;
        }
    }

    /// The sum without one of its terms; `inf` is the sum's infinite value.
    fn without(&self, t: f64, inf: f64) -> f64 {
        match (t.is_infinite(), self.infinite) {
            (true, 1) => self.finite,
            (false, 0) => self.finite - t,
            _ => inf,
        }
    }
}

/// Valid bounds of every variable (scaled units) by propagating bounds
/// through the equations, starting from `0 <= x < inf`. Outer bounds only:
/// a solution that reaches one proves it is the extreme.
fn propagate_bounds(sys: &System, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let n = sys.vars;
    let mut lo = vec![0.0f64; n];
    let mut hi = vec![f64::INFINITY; n];
    // Range of a*x for x in [lo, hi].
    let term = |a: f64, l: f64, h: f64| {
        if a > 0.0 {
            (a * l, a * h)
        } else {
            (a * h, a * l)
        }
    };
    for _round in 0..30 {
        let mut changed = false;
        for (terms, rhs) in &sys.rows {
            let b = rhs / scale;
            // Range of the row's sum: finite parts and counts of infinite ends.
            let mut low = EndSum::default();
            let mut high = EndSum::default();
            for &(v, a) in terms {
                let (l, h) = term(a, lo[v], hi[v]);
                low.add(l);
                high.add(h);
            }
            for &(v, a) in terms {
                let (l, h) = term(a, lo[v], hi[v]);
                // a*x_v = b - (the others), the others' range without v's own term.
                let others_max = high.without(h, f64::INFINITY);
                let others_min = low.without(l, f64::NEG_INFINITY);
                // a*x_v in [b - others_max, b - others_min].
                let (ax_lo, ax_hi) = (b - others_max, b - others_min);
                let (new_lo, new_hi) = if a > 0.0 {
                    (ax_lo / a, ax_hi / a)
                } else {
                    (ax_hi / a, ax_lo / a)
                };
                if new_hi < hi[v] - 1e-12 * new_hi.abs().max(1.0) {
                    hi[v] = new_hi.max(lo[v]);
                    changed = true;
                }
                if new_lo > lo[v] + 1e-12 * new_lo.abs().max(1.0) && new_lo.is_finite() {
                    lo[v] = new_lo.min(hi[v]);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    (lo, hi)
}

fn solve(mut model: Model, sense: Sense, seen: &mut Seen) -> Result<(f64, Model), LpError> {
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
    let value = match solved.status() {
        HighsModelStatus::Optimal => {
            for (v, &x) in solved.get_solution().columns().iter().enumerate() {
                seen.min[v] = seen.min[v].min(x);
                seen.max[v] = seen.max[v].max(x);
            }
            solved.objective_value()
        }
        HighsModelStatus::Unbounded if sense == Sense::Maximise => f64::INFINITY,
        HighsModelStatus::Infeasible => return Err(LpError::Infeasible),
        HighsModelStatus::UnboundedOrInfeasible if sense == Sense::Maximise => f64::INFINITY,
        s => return Err(LpError::Solver(format!("attacker LP ended with {s:?}"))),
    };
    let mut model = Model::from(solved);
    // Re-solves after a cost change start from this optimal basis, which
    // stays primal feasible: primal simplex, no presolve (it would drop the basis).
    model.set_option("simplex_strategy", 4);
    model.set_option("presolve", "off");
    Ok((value, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_unknowns_summing_to_ten() {
        // x0 + x1 = 10, x >= 0: both in [0, 10].
        let sys = System {
            vars: 2,
            rows: vec![(vec![(0, 1.0), (1, 1.0)], 10.0)],
        };
        let iv = intervals(&sys).unwrap().0;
        for i in iv {
            assert!(
                (i.low - 0.0).abs() < 1e-9 && (i.high - 10.0).abs() < 1e-9,
                "{i:?}"
            );
        }
    }

    #[test]
    fn unbounded_maximum() {
        // x0 - x1 = 3: x0 in [3, inf), x1 in [0, inf).
        let sys = System {
            vars: 2,
            rows: vec![(vec![(0, 1.0), (1, -1.0)], 3.0)],
        };
        let iv = intervals(&sys).unwrap().0;
        assert!((iv[0].low - 3.0).abs() < 1e-9);
        assert!(iv[0].high.is_infinite() && iv[1].high.is_infinite());
    }

    /// A fully masked r x c table with published margins: each cell's exact
    /// interval is given by its Fréchet bounds, `[max(0, R_i + C_j - T),
    /// min(R_i, C_j)]`. Big enough (over [`COLD_VARS`] cells) for rounds
    /// solved from scratch; two rows, so that rounds prove most extremes.
    #[test]
    fn frechet_bounds_of_a_big_masked_table() {
        use rand::{Rng, SeedableRng};
        let (r, c) = (2usize, 10_050usize);
        assert!(r * c >= COLD_VARS);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // Skewed values, a fifth of them zero.
        let x: Vec<f64> = (0..r * c)
            .map(|_| {
                if rng.gen_bool(0.2) {
                    0.0
                } else {
                    rng.gen_range(1..1000u32).pow(2) as f64
                }
            })
            .collect();
        let row: Vec<f64> = (0..r).map(|i| (0..c).map(|j| x[i * c + j]).sum()).collect();
        let col: Vec<f64> = (0..c).map(|j| (0..r).map(|i| x[i * c + j]).sum()).collect();
        let total: f64 = row.iter().sum();
        let mut rows: Vec<(Vec<(usize, f64)>, f64)> = (0..r)
            .map(|i| ((0..c).map(|j| (i * c + j, 1.0)).collect(), row[i]))
            .collect();
        rows.extend((0..c).map(|j| ((0..r).map(|i| (i * c + j, 1.0)).collect(), col[j])));
        let sys = System { vars: r * c, rows };
        let (iv, _) = intervals(&sys).unwrap();
        let tol = 1e-7 * total;
        for i in 0..r {
            for j in 0..c {
                let got = iv[i * c + j];
                let low = (row[i] + col[j] - total).max(0.0);
                let high = row[i].min(col[j]);
                assert!(
                    (got.low - low).abs() <= tol && (got.high - high).abs() <= tol,
                    "cell ({i}, {j}): {got:?}, Fréchet [{low}, {high}]"
                );
            }
        }
    }

    #[test]
    fn contradiction_is_infeasible() {
        // x0 = -1 with x0 >= 0.
        let sys = System {
            vars: 1,
            rows: vec![(vec![(0, 1.0)], -1.0)],
        };
        assert_eq!(intervals(&sys).map(|r| r.0), Err(LpError::Infeasible));
    }
}
