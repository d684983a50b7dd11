//! Exact points from the solver's floating-point solutions.
//!
//! HiGHS returns a vertex of the attacker's polyhedron (or of a pattern
//! LP) known only up to its tolerances, which are relative: on a table
//! whose total is 10^11 cents, an error of a few hundred cents is within
//! them. What the solver gets right is the vertex's structure: which
//! variables sit at one of their bounds. Fixing those exactly and solving
//! the equations for the others in integers (rows left with one unknown
//! first, which on hierarchical tables usually solves everything), then
//! over the rationals for what is left (a core where each row holds two
//! unknowns or more, by Gaussian elimination), gives the exact vertex. The
//! result is checked against every row and bound in exact arithmetic; a
//! point that fails is dropped (the LP solution then proves nothing).
//!
//! # Complexity
//! O(non-zeros) for the integer part; the core, if any, costs what sparse
//! elimination over big rationals costs and is capped at [`CORE_MAX`]
//! unknowns and [`CORE_FILL_MAX`] non-zeros.
//!
//! ```
//! use cellmask::audit::exact::{recover, Box};
//! use cellmask::audit::lp::System;
//! // x0 + x1 = 10, x0 - x2 = 0 (x >= 0): the vertex x1 = 0 read with noise.
//! let sys = System { vars: 3, rows: vec![(vec![(0, 1), (1, 1)], 10), (vec![(0, 1), (2, -1)], 0)] };
//! let p = recover(&sys, &[10.000001, 0.0, 9.9999], &Box::nonnegative(3), 1e-6).unwrap();
//! assert_eq!((p.den, p.nums), (1, vec![10, 0, 10]));
//! ```

use std::collections::HashMap;

use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::lp::System;

/// Cores of more unknowns than this are not solved (the point is dropped).
/// Rounds over big three-dimensional components leave cores of 5,000-9,000
/// unknowns (regional 0.01: 14,279 variables, 13,627 moved), solved in
/// 0.1-0.6 s; at 4,000 their points were all dropped and each round
/// proved nothing.
pub const CORE_MAX: usize = 50_000;

/// The elimination gives up (the point is dropped) once its rows hold more
/// non-zeros than this: fill-in, not the core's size, is what costs.
pub const CORE_FILL_MAX: usize = 5_000_000;

/// The bounds of each variable, in exact units; values also snap to 0
/// when `snap_zero` (pattern moves: a cell a pattern leaves alone), and to
/// a variable's `pin` (a bound the LP had that validity does not need).
#[derive(Debug, Clone)]
pub struct Box {
    pub lo: Vec<i128>,
    pub hi: Vec<Option<i128>>,
    pub snap_zero: bool,
    pub pins: Vec<(usize, i128)>,
}

impl Box {
    /// `x >= 0` for `n` variables.
    pub fn nonnegative(n: usize) -> Box {
        Box {
            lo: vec![0; n],
            hi: vec![None; n],
            snap_zero: false,
            pins: Vec::new(),
        }
    }
}

/// An exact point: variable `v` is `nums[v] / den`, `den > 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub den: i128,
    pub nums: Vec<i128>,
}

/// The exact point of `sys` whose structure `approx` shows (values in
/// units, within `tol` units of a bound or snap value counting as at it),
/// checked exactly against every row and bound; None when there is none.
/// Tries the tolerance given, then exact equality with the bounds.
pub fn recover(sys: &System, approx: &[f64], bounds: &Box, tol: f64) -> Option<Point> {
    [tol, 0.0]
        .into_iter()
        .find_map(|t| recover_rows(sys, approx, bounds, t).filter(|p| check(sys, bounds, p)))
}

/// The exact point of the structure `approx` shows at tolerance `tol`,
/// meeting every row exactly; its bounds are not checked (see
/// [`shrink_to_bounds`]).
pub fn recover_rows(sys: &System, approx: &[f64], bounds: &Box, tol: f64) -> Option<Point> {
    let n = sys.vars;
    let near = |a: f64, b: i128| (a - b as f64).abs() <= tol;
    let mut val: Vec<Option<i128>> = (0..n)
        .map(|v| {
            let a = approx[v];
            if near(a, bounds.lo[v]) {
                Some(bounds.lo[v])
            } else if let Some(h) = bounds.hi[v].filter(|&h| near(a, h)) {
                Some(h)
            } else if bounds.snap_zero && near(a, 0) {
                Some(0)
            } else {
                None
            }
        })
        .collect();
    for &(v, p) in &bounds.pins {
        if val[v].is_none() && near(approx[v], p) {
            val[v] = Some(p);
        }
    }
    let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut residual: Vec<i128> = Vec::with_capacity(sys.rows.len());
    let mut nfree: Vec<u32> = Vec::with_capacity(sys.rows.len());
    for (r, (terms, rhs)) in sys.rows.iter().enumerate() {
        let mut res = *rhs;
        let mut k = 0;
        for &(v, a) in terms {
            match val[v] {
                Some(x) => res = res.checked_sub((a as i128).checked_mul(x)?)?,
                None => {
                    k += 1;
                    rows_of[v].push(r as u32);
                }
            }
        }
        residual.push(res);
        nfree.push(k);
    }
    // Peeling: a row with one unknown left fixes it.
    let mut queue: Vec<u32> = (0..sys.rows.len() as u32)
        .filter(|&r| nfree[r as usize] == 1)
        .collect();
    while let Some(r) = queue.pop() {
        let r = r as usize;
        if nfree[r] != 1 {
            continue;
        }
        let (terms, _) = &sys.rows[r];
        let &(v, a) = terms.iter().find(|&&(v, _)| val[v].is_none())?;
        if a.abs() != 1 {
            continue; // left to the core
        }
        let x = residual[r] * a as i128;
        val[v] = Some(x);
        for &r2 in &rows_of[v] {
            let r2 = r2 as usize;
            let a2 = sys.rows[r2]
                .0
                .iter()
                .find(|&&(w, _)| w == v)
                .map_or(0, |&(_, c)| c);
            residual[r2] = residual[r2].checked_sub((a2 as i128).checked_mul(x)?)?;
            nfree[r2] -= 1;
            if nfree[r2] == 1 {
                queue.push(r2 as u32);
            }
        }
    }
    let core: Vec<usize> = (0..n).filter(|&v| val[v].is_none()).collect();
    let point = if core.is_empty() {
        Point {
            den: 1,
            nums: val.iter().map(|x| x.expect("all known")).collect(),
        }
    } else {
        solve_core(&Core {
            sys,
            approx,
            val: &val,
            core: &core,
            rows_of: &rows_of,
        })?
    };
    rows_hold(sys, &point).then_some(point)
}

/// What peeling leaves to solve: the values it fixed (`val`), the
/// unknowns left (`core`), the rows of each variable holding unknowns.
#[derive(Clone, Copy)]
struct Core<'a> {
    sys: &'a System,
    approx: &'a [f64],
    val: &'a [Option<i128>],
    core: &'a [usize],
    rows_of: &'a [Vec<u32>],
}

/// The largest denominator [`rounded_core`] reads off one approximate
/// value (vertices of hierarchical tables are mostly integral, halves or
/// quarters).
const ROUNDED_DEN_MAX: i128 = 64;

/// The core's unknowns at their approximate values rounded to a multiple
/// of `1/den`, `den` the least common multiple of the denominators each
/// value shows, when that meets every row holding them exactly. A core
/// whose rows fix it has one solution: then this is it, found without
/// any elimination.
fn rounded_core(c: &Core) -> Option<Point> {
    use num_integer::Integer;
    let Core { approx, core, .. } = *c;
    // Integers first: free unknowns then take integer values, as in the
    // elimination.
    if let Some(p) = rounded_at(c, 1) {
        return Some(p);
    }
    let mut den: i128 = 1;
    for &v in core {
        let a = approx[v];
        let d = (1..=ROUNDED_DEN_MAX).find(|&d| {
            let x = a * d as f64;
            (x - x.round()).abs() < 1e-4
        })?;
        den = den.lcm(&d);
        if den > 1 << 20 {
            return None;
        }
    }
    if den == 1 {
        return None;
    }
    rounded_at(c, den)
}

/// [`rounded_core`] at one denominator.
fn rounded_at(c: &Core, den: i128) -> Option<Point> {
    use num_integer::Integer;
    let (sys, approx) = (c.sys, c.approx);
    let mut nums: Vec<i128> = Vec::with_capacity(c.val.len());
    for (v, known) in c.val.iter().enumerate() {
        nums.push(match known {
            Some(k) => k.checked_mul(den)?,
            None => {
                let x = approx[v] * den as f64;
                if !(x.is_finite() && x.abs() < 1e30) {
                    return None;
                }
                x.round() as i128
            }
        });
    }
    for &v in c.core {
        for &r in &c.rows_of[v] {
            let (terms, rhs) = &sys.rows[r as usize];
            let mut s: i128 = 0;
            for &(u, a) in terms {
                s = s.checked_add((a as i128).checked_mul(nums[u])?)?;
            }
            if Some(s) != rhs.checked_mul(den) {
                return None;
            }
        }
    }
    // In lowest terms, as the elimination would give it.
    let g = nums.iter().fold(den, |g, &n| g.gcd(&n)).max(1);
    Some(Point {
        den: den / g,
        nums: nums.into_iter().map(|n| n / g).collect(),
    })
}

/// Solves the unknowns left by peeling over the rationals; unknowns the
/// rows leave free take their rounded approximate value.
fn solve_core(c: &Core) -> Option<Point> {
    let Core {
        sys,
        approx,
        val,
        core,
        rows_of,
    } = *c;
    if let Some(p) = rounded_core(c) {
        return Some(p);
    }
    if core.len() > CORE_MAX {
        return None;
    }
    let local: HashMap<usize, usize> = core.iter().enumerate().map(|(i, &v)| (v, i)).collect();
    let mut rows: Vec<u32> = core
        .iter()
        .flat_map(|&v| rows_of[v].iter().copied())
        .collect();
    rows.sort_unstable();
    rows.dedup();
    // Each row: sparse coefficients over core unknowns, and its right-hand side.
    let mut eqs: Vec<(Vec<(usize, BigRational)>, BigRational)> = Vec::with_capacity(rows.len());
    for r in rows {
        let (terms, rhs) = &sys.rows[r as usize];
        let mut b = BigInt::from(*rhs);
        let mut coefs: Vec<(usize, BigRational)> = Vec::new();
        for &(v, a) in terms {
            match val[v] {
                Some(x) => b -= BigInt::from(a) * BigInt::from(x),
                None => coefs.push((local[&v], BigRational::from_integer(BigInt::from(a)))),
            }
        }
        coefs.sort_by_key(|c| c.0);
        eqs.push((coefs, BigRational::from_integer(b)));
    }
    // Gauss-Jordan on sparse rows: each pivot row eliminates its pivot
    // from every other row holding it.
    let m = core.len();
    let mut pivot_of: Vec<Option<usize>> = vec![None; m];
    let mut col_rows: Vec<Vec<usize>> = vec![Vec::new(); m];
    for (i, (coefs, _)) in eqs.iter().enumerate() {
        for (c, _) in coefs {
            col_rows[*c].push(i);
        }
    }
    let mut order: Vec<usize> = (0..eqs.len()).collect();
    order.sort_by_key(|&i| eqs[i].0.len());
    let mut used = vec![false; eqs.len()];
    let mut fill: usize = eqs.iter().map(|e| e.0.len()).sum();
    for &i in &order {
        if used[i] || eqs[i].0.is_empty() {
            continue;
        }
        // Pivot: the unknown of this row held by the fewest rows.
        let (pc, _) = eqs[i]
            .0
            .iter()
            .min_by_key(|(c, _)| (col_rows[*c].len(), *c))
            .cloned()?;
        used[i] = true;
        pivot_of[pc] = Some(i);
        let pv = eqs[i].0.iter().find(|(c, _)| *c == pc)?.1.clone();
        // Normalise the pivot row.
        let (coefs, rhs) = &mut eqs[i];
        for (_, a) in coefs.iter_mut() {
            *a = &*a / &pv;
        }
        *rhs = &*rhs / &pv;
        let prow = eqs[i].clone();
        let holders: Vec<usize> = col_rows[pc].iter().copied().filter(|&j| j != i).collect();
        for j in holders {
            let Some(f) = eqs[j].0.iter().find(|(c, _)| *c == pc).map(|x| x.1.clone()) else {
                continue;
            };
            let mut merged: Vec<(usize, BigRational)> = Vec::new();
            let (a, b) = (&eqs[j].0, &prow.0);
            let (mut x, mut y) = (0, 0);
            while x < a.len() || y < b.len() {
                let take_a = y >= b.len() || (x < a.len() && a[x].0 < b[y].0);
                let take_b = x >= a.len() || (y < b.len() && b[y].0 < a[x].0);
                if take_a {
                    merged.push(a[x].clone());
                    x += 1;
                } else if take_b {
                    let c = b[y].0;
                    merged.push((c, -(&f * &b[y].1)));
                    if !col_rows[c].contains(&j) {
                        col_rows[c].push(j);
                    }
                    y += 1;
                } else {
                    let v = &a[x].1 - &f * &b[y].1;
                    if !v.is_zero() {
                        merged.push((a[x].0, v));
                    }
                    x += 1;
                    y += 1;
                }
            }
            let new_rhs = &eqs[j].1 - &f * &prow.1;
            fill = fill + merged.len() - eqs[j].0.len();
            if fill > CORE_FILL_MAX {
                return None;
            }
            eqs[j] = (merged, new_rhs);
        }
        col_rows[pc] = vec![i];
    }
    // Consistency: rows left without unknowns must read 0 = 0.
    for (i, (coefs, rhs)) in eqs.iter().enumerate() {
        if !used[i] && coefs.is_empty() && !rhs.is_zero() {
            return None;
        }
    }
    // Unknowns without a pivot are free: their rounded approximation.
    let mut x: Vec<Option<BigRational>> = vec![None; m];
    for c in 0..m {
        if pivot_of[c].is_none() {
            x[c] = Some(BigRational::from_integer(BigInt::from(
                approx[core[c]].round() as i128,
            )));
        }
    }
    for c in 0..m {
        if let Some(i) = pivot_of[c] {
            let (coefs, rhs) = &eqs[i];
            let mut v = rhs.clone();
            for (k, a) in coefs {
                if *k != c {
                    v -= a * x[*k].as_ref()?;
                }
            }
            x[c] = Some(v);
        }
    }
    // A common denominator for everything.
    let mut den = BigInt::one();
    for v in x.iter().flatten() {
        den = den.lcm(v.denom());
    }
    let den_i = den.to_i128()?;
    let mut nums = Vec::with_capacity(val.len());
    let mut core_i = 0;
    for (v, known) in val.iter().enumerate() {
        match known {
            Some(k) => nums.push(k.checked_mul(den_i)?),
            None => {
                debug_assert_eq!(core[core_i], v);
                let q = x[core_i].as_ref()?;
                let num = q.numer() * (&den / q.denom());
                nums.push(num.to_i128()?);
                core_i += 1;
            }
        }
    }
    if den.is_negative() {
        return None;
    }
    Some(Point { den: den_i, nums })
}

/// A point of the rows whose deviation from a feasible point (`0`: the
/// origin, inside the box) overshoots some bound, scaled back towards it
/// just enough to meet every bound: `lambda * p` with the largest
/// `lambda <= 1` that fits (the solver's tolerances let a vertex overshoot
/// by a few units on big tables). None when it would not move at all.
pub fn shrink_to_bounds(bounds: &Box, p: &Point) -> Option<Point> {
    // lambda = min over overshooting v of bound / value (same sign).
    let mut best: Option<(i128, i128)> = None; // (num, den) of lambda
    for (v, &num) in p.nums.iter().enumerate() {
        let lo = bounds.lo[v].checked_mul(p.den)?;
        let ratio = if num < lo {
            (lo, num) // both <= 0
        } else if let Some(h) = bounds.hi[v] {
            let h = h.checked_mul(p.den)?;
            if num > h {
                (h, num)
            } else {
                continue;
            }
        } else {
            continue;
        };
        let (a, b) = if ratio.1 < 0 {
            (-ratio.0, -ratio.1)
        } else {
            ratio
        };
        if a <= 0 {
            return None;
        }
        if best.is_none_or(|(bn, bd)| {
            a.checked_mul(bd)
                .zip(bn.checked_mul(b))
                .is_some_and(|(x, y)| x < y)
        }) {
            best = Some((a, b));
        }
    }
    let Some((ln, ld)) = best else {
        return Some(p.clone());
    };
    // lambda * num / den = num * ln / (den * ld).
    let den = p.den.checked_mul(ld)?;
    let nums = p
        .nums
        .iter()
        .map(|&n| n.checked_mul(ln))
        .collect::<Option<Vec<_>>>()?;
    let g = nums.iter().fold(den, |g, &n| g.gcd(&n)).max(1);
    let out = Point {
        den: den / g,
        nums: nums.into_iter().map(|n| n / g).collect(),
    };
    debug_assert!(out
        .nums
        .iter()
        .enumerate()
        .all(|(v, &n)| n >= bounds.lo[v] * out.den));
    Some(out)
}

/// Whether a point meets every row exactly.
pub fn rows_hold(sys: &System, p: &Point) -> bool {
    if p.den <= 0 || p.nums.len() != sys.vars {
        return false;
    }
    for (terms, rhs) in &sys.rows {
        let mut s: i128 = 0;
        for &(v, a) in terms {
            match (a as i128)
                .checked_mul(p.nums[v])
                .and_then(|t| s.checked_add(t))
            {
                Some(x) => s = x,
                None => return false,
            }
        }
        if Some(s) != rhs.checked_mul(p.den) {
            return false;
        }
    }
    true
}

/// Whether a point meets every row and bound exactly.
pub fn check(sys: &System, bounds: &Box, p: &Point) -> bool {
    if !rows_hold(sys, p) {
        return false;
    }
    (0..sys.vars).all(|v| {
        let lo_ok = bounds.lo[v]
            .checked_mul(p.den)
            .is_some_and(|l| p.nums[v] >= l);
        let hi_ok =
            bounds.hi[v].is_none_or(|h| h.checked_mul(p.den).is_some_and(|h| p.nums[v] <= h));
        lo_ok && hi_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sys(vars: usize, rows: Vec<(Vec<(usize, i64)>, i128)>) -> System {
        System { vars, rows }
    }

    /// A core of 6,000 unknowns (every row holds two, no bound fixes any):
    /// `x_i + x_(i+1) = 2` along a chain closed by `x_0 = x_(n-1)`, whose
    /// only solution is all ones. Big rounds over three-dimensional tables
    /// leave cores of this size; they are solved, not dropped.
    /// A triangle of two-unknown rows, `x0 + x1 = x1 + x2 = x0 + x2 = 3`:
    /// no row peels, the one solution is 3/2 each; read off the noisy
    /// values by rounding to halves, and the same as the elimination's.
    #[test]
    fn half_integral_cores_are_read_off() {
        let sys = System {
            vars: 3,
            rows: vec![
                (vec![(0, 1), (1, 1)], 3),
                (vec![(1, 1), (2, 1)], 3),
                (vec![(0, 1), (2, 1)], 3),
            ],
        };
        let noisy = [1.5000001, 1.4999998, 1.50000003];
        let p = recover(&sys, &noisy, &Box::nonnegative(3), 1e-9).unwrap();
        assert_eq!((p.den, p.nums.clone()), (2, vec![3, 3, 3]));
        // Too noisy to read: the elimination still finds it.
        let far = [1.3, 1.7, 1.45];
        let q = recover(&sys, &far, &Box::nonnegative(3), 1e-9).unwrap();
        assert_eq!(q, p);
    }

    #[test]
    fn big_cores_are_solved() {
        let n = 6_000;
        let mut rows: Vec<(Vec<(usize, i64)>, i128)> =
            (0..n - 1).map(|i| (vec![(i, 1), (i + 1, 1)], 2)).collect();
        rows.push((vec![(0, 1), (n - 1, -1)], 0));
        let s = sys(n, rows);
        let approx: Vec<f64> = (0..n).map(|i| 1.0 + 1e-9 * (i % 7) as f64).collect();
        let p = recover(&s, &approx, &Box::nonnegative(n), 1e-6).expect("solved");
        assert_eq!(p.den, 1);
        assert!(p.nums.iter().all(|&x| x == 1));
    }

    #[test]
    fn peels_a_noisy_vertex_to_integers() {
        // A 2 x 2 table, margins 10/20 and 12/18, total 30: the vertex
        // x00 = 0 read with large noise (as at a big table's scale).
        let s = sys(
            4,
            vec![
                (vec![(0, 1), (1, 1)], 10),
                (vec![(2, 1), (3, 1)], 20),
                (vec![(0, 1), (2, 1)], 12),
                (vec![(1, 1), (3, 1)], 18),
            ],
        );
        let approx = [0.0, 10.3, 11.8, 7.9];
        let p = recover(&s, &approx, &Box::nonnegative(4), 1e-9).unwrap();
        assert_eq!(p.den, 1);
        assert_eq!(p.nums, vec![0, 10, 12, 8]);
    }

    #[test]
    fn solves_a_fractional_core() {
        // x0 + x1 = 1, x1 + x2 = 1, x0 + x2 = 1: the only solution is 1/2 each.
        let s = sys(
            3,
            vec![
                (vec![(0, 1), (1, 1)], 1),
                (vec![(1, 1), (2, 1)], 1),
                (vec![(0, 1), (2, 1)], 1),
            ],
        );
        let p = recover(&s, &[0.49, 0.51, 0.5], &Box::nonnegative(3), 1e-9).unwrap();
        assert_eq!(p.den, 2);
        assert_eq!(p.nums, vec![1, 1, 1]);
    }

    #[test]
    fn rejects_what_breaks_a_bound() {
        // x0 - x1 = 5 with x1 read at 0 but x0 bounded by 3: no point.
        let s = sys(2, vec![(vec![(0, 1), (1, -1)], 5)]);
        let b = Box {
            lo: vec![0, 0],
            hi: vec![Some(3), None],
            snap_zero: false,
            pins: Vec::new(),
        };
        assert!(recover(&s, &[3.0, 0.0], &b, 1e-9).is_none());
    }

    #[test]
    fn underdetermined_unknowns_take_rounded_values() {
        // x0 + x1 + x2 = 10 with nothing at a bound: two unknowns are free.
        let s = sys(3, vec![(vec![(0, 1), (1, 1), (2, 1)], 10)]);
        let p = recover(&s, &[3.2, 3.3, 3.5], &Box::nonnegative(3), 1e-9).unwrap();
        assert_eq!(p.den, 1);
        assert_eq!(p.nums.iter().sum::<i128>(), 10);
        assert!(check(&s, &Box::nonnegative(3), &p));
    }
}
