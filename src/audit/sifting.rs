//! One cell's extreme from a small LP around it, priced against the whole
//! system (sifting).
//!
//! Given a point `p` of `{x >= 0 : A x = b}`, every variable outside a set
//! `S` is fixed at `p` and the cell's objective is optimised over `S`
//! alone, on the rows touching `S`. Its optimum is a point of the whole
//! system (the fixed part is `p`'s), and LP duality says when it is the
//! whole system's optimum: the restricted LP's row duals `y` (zero on the
//! other rows) price every variable outside `S`; none may improve the
//! objective from 0 (reduced cost of the wrong sign) or, when `p` holds it
//! above 0, in either direction. Those that do join `S` and the small LP is
//! solved again, from its last optimal basis: the LP is over moves from
//! `p`, so joining variables enter at 0 (nonbasic) and the
//! primal simplex goes on where it stopped. Hierarchical tables keep `S`
//! to the cell's neighbourhood: a few hundred variables where the whole
//! system has tens of thousands, and the point differs from `p` only on
//! `S` (sparse moves, not a dense vertex).
//!
//! The solver only searches here as elsewhere: the moves it returns are
//! made exact by the caller and checked in exact arithmetic.
//!
//! # Complexity
//! Each round adds the joining columns and their new rows to the LP over
//! `S`, re-solves it from its basis, and prices the columns of the rows
//! with a non-zero dual: O(their non-zeros). Rounds stop when nothing is
//! priced in, or give up once `S` passes the caller's limit (the whole
//! model is then the better tool).
//!
//! ```
//! use cellmask::audit::exact::Point;
//! use cellmask::audit::lp::System;
//! use cellmask::audit::sifting::{Sifted, Sifter};
//! // x0 + x1 = 10 and x2 + x3 = 6, from the point (4, 6, 3, 3): x0's
//! // maximum moves x0 and x1 only.
//! let sys = System { vars: 4, rows: vec![(vec![(0, 1), (1, 1)], 10), (vec![(2, 1), (3, 1)], 6)] };
//! let sifter = Sifter::new(&sys, &Point { den: 1, nums: vec![4, 6, 3, 3] }, 10.0);
//! let Ok(Sifted::Moves(m)) = sifter.extreme(&[(0, 1.0)], true, 4) else { panic!() };
//! let m: Vec<(usize, i64)> = m.iter().map(|&(v, d)| (v, d.round() as i64)).collect();
//! assert_eq!(m, vec![(0, 6), (1, -6)]);
//! ```

use highs::{HighsModelStatus, Model, RowProblem, Sense};

use super::exact::Point;
use rustc_hash::{FxHashMap as HashMap, FxHashSet};

use super::lp::{quiet_model, LpError, System};

/// Rows of at most this many variables bring all of theirs into the first
/// `S` (a cell's own margins); longer ones only through pricing.
const SEED_ROW: usize = 64;

/// Pricing rounds before giving up.
const ROUNDS: usize = 40;

/// A reduced cost beyond this (scaled units) prices a variable in: far
/// above the solver's noise, far below what a vertex's duals (small
/// rationals over unit coefficients) can be when not zero.
const PRICE_TOL: f64 = 1e-7;

/// What [`Sifter::extreme`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Sifted {
    /// The optimum, as moves from the base point (variable, move in
    /// units), sorted by variable; variables not listed stay.
    Moves(Vec<(usize, f64)>),
    /// The objective is unbounded.
    Unbounded,
    /// `S` grew past the limit (or the small LP was not solved): use the
    /// whole model.
    GaveUp,
}

/// A system, its columns and a point of it, for cell-by-cell extremes.
pub struct Sifter<'a> {
    sys: &'a System,
    /// Per variable: its rows and coefficients.
    rows_of: Vec<Vec<(u32, i64)>>,
    /// The point, scaled (units / `scale`).
    base: Vec<f64>,
    /// Whether the point holds the variable above 0.
    positive: Vec<bool>,
    scale: f64,
}

impl<'a> Sifter<'a> {
    /// The sifter of `sys` around `base` (a point of it), values divided by
    /// `scale` in the LPs.
    pub fn new(sys: &'a System, base: &Point, scale: f64) -> Sifter<'a> {
        let mut rows_of = vec![Vec::new(); sys.vars];
        for (r, (terms, _)) in sys.rows.iter().enumerate() {
            for &(v, c) in terms {
                rows_of[v].push((r as u32, c));
            }
        }
        let den = base.den as f64 * scale;
        Sifter {
            sys,
            rows_of,
            base: base.nums.iter().map(|&n| n as f64 / den).collect(),
            positive: base.nums.iter().map(|&n| n > 0).collect(),
            scale,
        }
    }

    /// Optimises `sum cost * x` (`maximise` or not) over the system, from
    /// the base point, with at most `limit` variables free.
    pub fn extreme(
        &self,
        costs: &[(usize, f64)],
        maximise: bool,
        limit: usize,
    ) -> Result<Sifted, LpError> {
        let mut seed: Vec<usize> = Vec::new();
        let mut seen: FxHashSet<usize> = FxHashSet::default();
        for &(v, _) in costs {
            if seen.insert(v) {
                seed.push(v);
            }
            for &(r, _) in &self.rows_of[v] {
                let terms = &self.sys.rows[r as usize].0;
                if terms.len() <= SEED_ROW {
                    for &(u, _) in terms {
                        if seen.insert(u) {
                            seed.push(u);
                        }
                    }
                }
            }
        }
        let cost: HashMap<usize, f64> = costs.iter().copied().collect();
        let sense = if maximise {
            Sense::Maximise
        } else {
            Sense::Minimise
        };
        let sign = if maximise { 1.0 } else { -1.0 };
        let mut lp = Restricted {
            model: Some(quiet_model(RowProblem::default(), sense)),
            free: Vec::new(),
            cols: HashMap::default(),
            ncols: 0,
            rows: Vec::new(),
            row_at: HashMap::default(),
        };
        {
            let m = lp.model.as_mut().expect("a model");
            m.set_option("primal_feasibility_tolerance", 1e-10);
            m.set_option("presolve", "off");
        }
        let mut joining = seed;
        for round in 0..ROUNDS {
            if lp.free.len() + joining.len() > limit {
                return Ok(Sifted::GaveUp);
            }
            lp.join(self, &joining, &cost)?;
            let mut model = lp.model.take().expect("a model");
            if round > 0 {
                // From the last optimal basis, still feasible: primal
                // simplex (the dual simplex there: national 0.01's sifted
                // LPs 27.6 -> 47.3 s; primal from the slack basis: 29.8 s).
                model.set_option("simplex_strategy", 4);
            }
            let solved = model
                .try_solve()
                .map_err(|e| LpError::Solver(format!("{e:?}")))?;
            match solved.status() {
                HighsModelStatus::Optimal => {}
                HighsModelStatus::Unbounded => return Ok(Sifted::Unbounded),
                _ => return Ok(Sifted::GaveUp),
            }
            let sol = solved.get_solution();
            let (x, y) = (sol.columns(), sol.dual_rows());
            // Price the variables outside S in the rows with a dual.
            let mut priced: FxHashSet<usize> = FxHashSet::default();
            joining = Vec::new();
            for (i, &r) in lp.rows.iter().enumerate() {
                if y[i].abs() <= f64::EPSILON {
                    continue;
                }
                for &(u, _) in &self.sys.rows[r as usize].0 {
                    if lp.cols.contains_key(&u) || !priced.insert(u) {
                        continue;
                    }
                    // Reduced cost c - a^T y, with c = 0 outside S.
                    let d: f64 = -self.rows_of[u]
                        .iter()
                        .filter_map(|&(q, c)| lp.row_at.get(&q).map(|&k| c as f64 * y[k]))
                        .sum::<f64>();
                    if sign * d > PRICE_TOL || (self.positive[u] && d.abs() > PRICE_TOL) {
                        joining.push(u);
                    }
                }
            }
            if joining.is_empty() {
                let mut moves: Vec<(usize, f64)> = lp
                    .free
                    .iter()
                    .map(|&v| {
                        let (u, w) = lp.cols[&v];
                        let d = x[u] - w.map_or(0.0, |w| x[w]);
                        (v, d * self.scale)
                    })
                    .filter(|&(_, d)| d != 0.0)
                    .collect();
                moves.sort_unstable_by_key(|m| m.0);
                return Ok(Sifted::Moves(moves));
            }
            joining.sort_unstable();
            lp.model = Some(Model::from(solved));
        }
        Ok(Sifted::GaveUp)
    }
}

/// The LP over `S`, in moves from the base: per variable `u - w`, `u >= 0`,
/// `0 <= w <= base` (no `w` at a zero base), every row `sum c (u - w) = 0`.
/// The base is then the slack basis, and variables joining `S` enter at
/// 0, nonbasic: the last optimal basis stays feasible and the primal
/// simplex goes on from it.
struct Restricted {
    model: Option<Model>,
    /// The variables of `S`, in order of joining.
    free: Vec<usize>,
    /// Per variable of `S`: its `u` and `w` columns.
    cols: HashMap<usize, (usize, Option<usize>)>,
    ncols: usize,
    /// The rows touching `S`, in order of first touch.
    rows: Vec<u32>,
    row_at: HashMap<u32, usize>,
}

impl Restricted {
    /// Adds `vars` (none in `S` yet) and the rows they touch.
    fn join(
        &mut self,
        sf: &Sifter,
        vars: &[usize],
        cost: &HashMap<usize, f64>,
    ) -> Result<(), LpError> {
        let before = self.rows.len();
        for &v in vars {
            for &(r, _) in &sf.rows_of[v] {
                if !self.row_at.contains_key(&r) {
                    self.row_at.insert(r, self.rows.len());
                    self.rows.push(r);
                }
            }
        }
        let model = self.model.as_mut().expect("a model");
        let new_rows = self.rows.len() - before;
        if new_rows > 0 {
            let zeros = vec![0.0; new_rows];
            // SAFETY: the pointer is the live model's own HiGHS instance;
            // the arrays hold `new_rows` bounds and no entries.
            let status = unsafe {
                highs_sys::Highs_addRows(
                    model.as_mut_ptr(),
                    new_rows as highs_sys::HighsInt,
                    zeros.as_ptr(),
                    zeros.as_ptr(),
                    0,
                    std::ptr::null(),
                    std::ptr::null(),
                    std::ptr::null(),
                )
            };
            added(status, "rows")?;
        }
        let (mut costs, mut lower, mut upper) = (Vec::new(), Vec::new(), Vec::new());
        let (mut starts, mut index, mut value) = (Vec::new(), Vec::new(), Vec::new());
        for &v in vars {
            let c = cost.get(&v).copied().unwrap_or(0.0);
            let b = sf.base[v];
            let u = self.ncols;
            let w = sf.positive[v].then_some(u + 1);
            self.cols.insert(v, (u, w));
            self.free.push(v);
            for (sgn, hi) in [(1.0, f64::INFINITY), (-1.0, b)] {
                if sgn < 0.0 && w.is_none() {
                    continue;
                }
                costs.push(sgn * c);
                lower.push(0.0);
                upper.push(hi);
                starts.push(index.len() as highs_sys::HighsInt);
                for &(r, k) in &sf.rows_of[v] {
                    index.push(self.row_at[&r] as highs_sys::HighsInt);
                    value.push(sgn * k as f64);
                }
                self.ncols += 1;
            }
        }
        // SAFETY: as above; `costs`, `lower`, `upper` and `starts` hold one
        // entry per new column, `index` and `value` their entries.
        let status = unsafe {
            highs_sys::Highs_addCols(
                model.as_mut_ptr(),
                costs.len() as highs_sys::HighsInt,
                costs.as_ptr(),
                lower.as_ptr(),
                upper.as_ptr(),
                index.len() as highs_sys::HighsInt,
                starts.as_ptr(),
                index.as_ptr(),
                value.as_ptr(),
            )
        };
        added(status, "columns")
    }
}

/// HiGHS's status of an addition, as a result.
fn added(status: highs_sys::HighsInt, what: &str) -> Result<(), LpError> {
    if status == highs_sys::STATUS_ERROR {
        return Err(LpError::Solver(format!("HiGHS could not add {what}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3 x 3 table with margins, all interior cells free: the maximum of
    /// a cell is min(row total, column total) when the others allow it.
    #[test]
    fn a_table_cell_reaches_its_margin() {
        // Cells x[i][j] = 3i + j; rows sum to R, columns to C.
        let vals = [[1i128, 2, 3], [4, 5, 6], [7, 8, 9]];
        let mut rows = Vec::new();
        for i in 0..3 {
            rows.push((
                (0..3).map(|j| (3 * i + j, 1)).collect(),
                vals[i].iter().sum(),
            ));
        }
        for j in 0..3 {
            rows.push((
                (0..3).map(|i| (3 * i + j, 1)).collect(),
                (0..3).map(|i| vals[i][j]).sum(),
            ));
        }
        let sys = System { vars: 9, rows };
        let base = Point {
            den: 1,
            nums: vals.iter().flatten().copied().collect(),
        };
        let s = Sifter::new(&sys, &base, 24.0);
        // x00 <= min(6, 12) = 6, reachable: +5 from 1.
        let Sifted::Moves(m) = s.extreme(&[(0, 1.0)], true, 9).unwrap() else {
            panic!()
        };
        let up: f64 = m.iter().filter(|t| t.0 == 0).map(|t| t.1).sum();
        assert!((up - 5.0).abs() < 1e-6, "{m:?}");
        // x22 down to 0 (x20 = 12, x21 = 12, x02 = 6, x11 = 3, x12 = 12).
        let Sifted::Moves(m) = s.extreme(&[(8, 1.0)], false, 9).unwrap() else {
            panic!()
        };
        let down: f64 = m.iter().filter(|t| t.0 == 8).map(|t| t.1).sum();
        assert!((down + 9.0).abs() < 1e-6, "{m:?}");
        // Too small a limit gives up.
        assert_eq!(s.extreme(&[(0, 1.0)], true, 2).unwrap(), Sifted::GaveUp);
    }

    /// The whole system's optimum of `sum cost * x`, by HiGHS directly.
    fn whole(sys: &System, costs: &[(usize, f64)], maximise: bool) -> f64 {
        let mut pb = RowProblem::default();
        let cols: Vec<_> = (0..sys.vars)
            .map(|v| {
                pb.add_column(
                    costs.iter().filter(|c| c.0 == v).map(|c| c.1).sum::<f64>(),
                    0.0..,
                )
            })
            .collect();
        for (t, r) in &sys.rows {
            pb.add_row(
                *r as f64..=*r as f64,
                t.iter().map(|&(v, c)| (cols[v], c as f64)),
            );
        }
        let sense = if maximise {
            Sense::Maximise
        } else {
            Sense::Minimise
        };
        let solved = quiet_model(pb, sense).solve();
        assert_eq!(solved.status(), HighsModelStatus::Optimal);
        solved
            .get_solution()
            .columns()
            .iter()
            .enumerate()
            .map(|(v, x)| x * costs.iter().filter(|c| c.0 == v).map(|c| c.1).sum::<f64>())
            .sum()
    }

    /// Long rows (beyond the seed's) reach the cell only through pricing:
    /// a 3 x 90 table with a second-level column total over pairs, every
    /// cell's extremes as the whole LP's.
    #[test]
    fn pricing_finds_the_whole_systems_extremes() {
        let (h, w) = (3usize, 90usize);
        let val =
            |i: usize, j: usize| ((i * 37 + j * 11) % 17) as i128 * i128::from((i + j) % 3 == 0);
        let mut rows: Vec<(Vec<(usize, i64)>, i128)> = Vec::new();
        for i in 0..h {
            rows.push((
                (0..w).map(|j| (i * w + j, 1)).collect(),
                (0..w).map(|j| val(i, j)).sum(),
            ));
        }
        for j in (0..w).step_by(2) {
            let t = (0..h)
                .flat_map(|i| [(i * w + j, 1), (i * w + j + 1, 1)])
                .collect();
            let s = (0..h).map(|i| val(i, j) + val(i, j + 1)).sum();
            rows.push((t, s));
        }
        let sys = System { vars: h * w, rows };
        let base = Point {
            den: 1,
            nums: (0..h * w).map(|v| val(v / w, v % w)).collect(),
        };
        let s = Sifter::new(&sys, &base, 100.0);
        for v in (0..h * w).step_by(7) {
            for maximise in [true, false] {
                let Sifted::Moves(m) = s.extreme(&[(v, 1.0)], maximise, h * w).unwrap() else {
                    panic!("cell {v}");
                };
                let got =
                    base.nums[v] as f64 + m.iter().filter(|t| t.0 == v).map(|t| t.1).sum::<f64>();
                let want = whole(&sys, &[(v, 1.0)], maximise);
                assert!(
                    (got - want).abs() < 1e-6,
                    "cell {v} max {maximise}: {got} vs {want}"
                );
            }
        }
    }
}
