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
//! solved again. Hierarchical tables keep `S` to the cell's neighbourhood:
//! a few hundred variables where the whole system has tens of thousands,
//! and the point differs from `p` only on `S` (sparse moves, not a dense
//! vertex).
//!
//! The solver only searches here as elsewhere: the moves it returns are
//! made exact by the caller and checked in exact arithmetic.
//!
//! # Complexity
//! Each round builds and solves an LP over `S` and the rows touching it,
//! and prices the columns of the rows with a non-zero dual: O(their
//! non-zeros). Rounds stop when nothing is priced in, or give up once `S`
//! passes the caller's limit (the whole model is then the better tool).
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

use highs::{HighsModelStatus, RowProblem, Sense};

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
        let mut local: HashMap<usize, usize> = HashMap::default();
        let mut free: Vec<usize> = Vec::new();
        let join = |v: usize, local: &mut HashMap<usize, usize>, free: &mut Vec<usize>| {
            local.entry(v).or_insert_with(|| {
                free.push(v);
                free.len() - 1
            });
        };
        for &(v, _) in costs {
            join(v, &mut local, &mut free);
            for &(r, _) in &self.rows_of[v] {
                let terms = &self.sys.rows[r as usize].0;
                if terms.len() <= SEED_ROW {
                    for &(u, _) in terms {
                        join(u, &mut local, &mut free);
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
        for _ in 0..ROUNDS {
            if free.len() > limit {
                return Ok(Sifted::GaveUp);
            }
            // The rows touching S, in order of first touch, each over S
            // with the base's activity there as right-hand side (the rest
            // of the row is fixed).
            let mut row_at: HashMap<u32, usize> = HashMap::default();
            let mut rows: Vec<u32> = Vec::new();
            for &v in &free {
                for &(r, _) in &self.rows_of[v] {
                    row_at.entry(r).or_insert_with(|| {
                        rows.push(r);
                        rows.len() - 1
                    });
                }
            }
            let mut pb = RowProblem::default();
            let cols: Vec<_> = free
                .iter()
                .map(|v| pb.add_column(cost.get(v).copied().unwrap_or(0.0), 0.0..))
                .collect();
            for &r in &rows {
                let mut at = 0.0;
                let mut row = Vec::new();
                for &(v, c) in &self.sys.rows[r as usize].0 {
                    if let Some(&i) = local.get(&v) {
                        at += c as f64 * self.base[v];
                        row.push((cols[i], c as f64));
                    }
                }
                pb.add_row(at..=at, row);
            }
            let mut model = quiet_model(pb, sense);
            model.set_option("primal_feasibility_tolerance", 1e-10);
            // Small LPs: presolve costs more than it spares. (Growing one
            // model round after round, its basis kept, was slower: national
            // 0.01's sifted LPs 7.3 -> 8.6 ms median.)
            model.set_option("presolve", "off");
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
            let mut joining: Vec<usize> = Vec::new();
            for (i, &r) in rows.iter().enumerate() {
                if y[i].abs() <= f64::EPSILON {
                    continue;
                }
                for &(u, _) in &self.sys.rows[r as usize].0 {
                    if local.contains_key(&u) || !priced.insert(u) {
                        continue;
                    }
                    // Reduced cost c - a^T y, with c = 0 outside S.
                    let d: f64 = -self.rows_of[u]
                        .iter()
                        .filter_map(|&(q, c)| row_at.get(&q).map(|&k| c as f64 * y[k]))
                        .sum::<f64>();
                    if sign * d > PRICE_TOL || (self.positive[u] && d.abs() > PRICE_TOL) {
                        joining.push(u);
                    }
                }
            }
            if joining.is_empty() {
                let mut moves: Vec<(usize, f64)> = free
                    .iter()
                    .zip(x)
                    .map(|(&v, &xv)| (v, (xv - self.base[v]) * self.scale))
                    .filter(|&(_, d)| d != 0.0)
                    .collect();
                moves.sort_unstable_by_key(|m| m.0);
                return Ok(Sifted::Moves(moves));
            }
            // Only what pricing asks for: bringing in the joining
            // variables' short rows too halved the rounds on national 0.01
            // (56 -> 49 s) but made 0.1 slower (179 -> 208 s).
            joining.sort_unstable();
            for u in joining {
                join(u, &mut local, &mut free);
            }
        }
        Ok(Sifted::GaveUp)
    }
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
