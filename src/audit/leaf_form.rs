//! The attacker's system over its leaves: every masked aggregate replaced
//! by the sum of the masked cells it adds up, so that the LP holds only the
//! cells no equation totals and the rows of published aggregates.
//!
//! A row `x_t - sum x_parts = rhs` with `rhs >= 0` (its published parts)
//! defines its total: `x_t = rhs + sum x_parts`, nonnegative whenever its
//! parts are. Expanded down to the variables that total no such row (the
//! leaves), every variable is an affine function of the leaves with
//! nonnegative terms, and every other row becomes a row over the leaves;
//! on hierarchical tables the rows of masked aggregates along their other
//! dimensions cancel to `0 = 0` and drop. The leaf system and the original
//! have the same points (lifted by the expansions), hence the same
//! extremes: on the national 0.1 exports table, 81,757 variables and
//! their equations become 33,410 leaves and 18,625 rows.
//!
//! # Complexity
//! O(sum of the expansions' sizes): each leaf counted once for each
//! variable above it (the hierarchies' depths multiplied), capped at
//! [`MAX_TERMS_PER_VAR`] per variable on average.
//!
//! ```
//! use cellmask::audit::leaf_form::LeafForm;
//! use cellmask::audit::lp::System;
//! // x0 = x1 + x2 (x0 masked, its parts masked), x0 + x3 = 10 (published total).
//! let sys = System {
//!     vars: 4,
//!     rows: vec![(vec![(0, 1), (1, -1), (2, -1)], 0), (vec![(0, -1), (3, -1)], -10)],
//! };
//! let f = LeafForm::of(&sys).unwrap();
//! assert_eq!(f.kept, vec![1, 2, 3]); // x0 is x1 + x2
//! assert_eq!(f.sys.rows, vec![(vec![(0, 1), (1, 1), (2, 1)], 10)]);
//! ```

use std::collections::HashMap;

use super::exact::Point;
use super::lp::{LocalWitness, System};

/// Expansions stop (no leaf form) beyond this many terms per variable on
/// average: hierarchies hold a leaf under a few dozen aggregates at most.
pub const MAX_TERMS_PER_VAR: usize = 64;

/// A system over its leaves, and how each variable of the original is
/// made of them.
#[derive(Debug, Clone)]
pub struct LeafForm {
    /// The system over the leaves (variable `k` is original `kept[k]`).
    pub sys: System,
    /// The original variable of each leaf.
    pub kept: Vec<usize>,
    /// Per original variable, its terms `(leaf, coefficient)` in
    /// `terms[start[v]..start[v + 1]]` and its constant.
    start: Vec<usize>,
    terms: Vec<(u32, i64)>,
    constant: Vec<i128>,
    /// Per leaf, the original variables holding it (`users[ustart[k]..]`).
    ustart: Vec<usize>,
    users: Vec<(u32, i64)>,
}

impl LeafForm {
    /// The leaf form of `sys`; None when it would not be smaller or would
    /// have no row, when the rows defining totals form a cycle, when
    /// expansions grow past [`MAX_TERMS_PER_VAR`], or when the rows
    /// contradict each other (the original system then tells the solver so).
    pub fn of(sys: &System) -> Option<LeafForm> {
        let n = sys.vars;
        // The row defining each variable: the first where it is the total.
        let mut def: Vec<Option<usize>> = vec![None; n];
        for (r, (t, rhs)) in sys.rows.iter().enumerate() {
            if *rhs < 0 {
                continue;
            }
            let mut total = None;
            let mut ok = true;
            for &(v, a) in t {
                match a {
                    1 if total.is_none() => total = Some(v),
                    -1 => {}
                    _ => ok = false,
                }
            }
            if let Some(v) = total.filter(|&v| ok && t.iter().filter(|x| x.0 == v).count() == 1) {
                if def[v].is_none() {
                    def[v] = Some(r);
                }
            }
        }
        let kept: Vec<usize> = (0..n).filter(|&v| def[v].is_none()).collect();
        if kept.len() == n {
            return None;
        }
        let mut leaf_of = vec![u32::MAX; n];
        for (k, &v) in kept.iter().enumerate() {
            leaf_of[v] = k as u32;
        }
        // Expansions, depth first with an explicit stack.
        let mut exp: Vec<Option<(i128, Vec<(u32, i64)>)>> = vec![None; n];
        let mut state = vec![0u8; n]; // 0 new, 1 open, 2 done
        let mut size = 0usize;
        let cap = MAX_TERMS_PER_VAR * n + 1_000;
        for root in 0..n {
            if state[root] == 2 {
                continue;
            }
            let mut stack = vec![root];
            while let Some(&v) = stack.last() {
                if state[v] == 2 {
                    stack.pop();
                    continue;
                }
                let Some(r) = def[v] else {
                    exp[v] = Some((0, vec![(leaf_of[v], 1)]));
                    state[v] = 2;
                    size += 1;
                    stack.pop();
                    continue;
                };
                let (terms, rhs) = &sys.rows[r];
                if state[v] == 0 {
                    state[v] = 1;
                    for &(p, _) in terms {
                        if p != v {
                            match state[p] {
                                0 => stack.push(p),
                                1 => return None, // a cycle
                                _ => {}
                            }
                        }
                    }
                    continue;
                }
                // Every part done: v = rhs + sum of the parts.
                let mut c = *rhs;
                let mut acc: Vec<(u32, i64)> = Vec::new();
                for &(p, _) in terms {
                    if p != v {
                        let (pc, pt) = exp[p].as_ref().expect("part expanded");
                        c = c.checked_add(*pc)?;
                        acc.extend_from_slice(pt);
                    }
                }
                let acc = merged(acc)?;
                size += acc.len();
                if size > cap {
                    return None;
                }
                exp[v] = Some((c, acc));
                state[v] = 2;
                stack.pop();
            }
        }
        // Every other row, over the leaves; duplicates once.
        let mut rows: Vec<(Vec<(usize, i64)>, i128)> = Vec::new();
        let mut seen: HashMap<Vec<(usize, i64)>, i128> = HashMap::new();
        let defining: Vec<bool> = {
            let mut d = vec![false; sys.rows.len()];
            for r in def.iter().flatten() {
                d[*r] = true;
            }
            d
        };
        for (r, (t, rhs)) in sys.rows.iter().enumerate() {
            if defining[r] {
                continue;
            }
            let mut c = *rhs;
            let mut acc: Vec<(u32, i64)> = Vec::new();
            for &(v, a) in t {
                let (vc, vt) = exp[v].as_ref().expect("expanded");
                c = c.checked_sub(vc.checked_mul(a as i128)?)?;
                for &(l, e) in vt {
                    acc.push((l, e.checked_mul(a)?));
                }
            }
            let mut acc = merged(acc)?;
            if acc.is_empty() {
                if c != 0 {
                    return None; // contradictory: left to the original system
                }
                continue;
            }
            if acc[0].1 < 0 {
                for t in &mut acc {
                    t.1 = -t.1;
                }
                c = -c;
            }
            let key: Vec<(usize, i64)> = acc.iter().map(|&(l, e)| (l as usize, e)).collect();
            match seen.get(&key) {
                Some(&other) if other == c => continue,
                Some(_) => return None,
                None => {
                    seen.insert(key.clone(), c);
                    rows.push((key, c));
                }
            }
        }
        if rows.is_empty() {
            // Nothing published binds the leaves (HiGHS takes no model
            // without rows): the original system says so.
            return None;
        }
        let mut start = Vec::with_capacity(n + 1);
        let mut terms = Vec::with_capacity(size);
        let mut constant = Vec::with_capacity(n);
        start.push(0);
        for e in exp {
            let (c, t) = e.expect("expanded");
            constant.push(c);
            terms.extend(t);
            start.push(terms.len());
        }
        // The transpose: which variables each leaf is part of.
        let nk = kept.len();
        let mut count = vec![0usize; nk + 1];
        for &(l, _) in &terms {
            count[l as usize + 1] += 1;
        }
        for k in 0..nk {
            count[k + 1] += count[k];
        }
        let ustart = count.clone();
        let mut users = vec![(0u32, 0i64); terms.len()];
        for v in 0..n {
            for &(l, e) in &terms[start[v]..start[v + 1]] {
                let at = &mut count[l as usize];
                users[*at] = (v as u32, e);
                *at += 1;
            }
        }
        Some(LeafForm {
            sys: System { vars: nk, rows },
            kept,
            start,
            terms,
            constant,
            ustart,
            users,
        })
    }

    /// Variable `v`'s terms over the leaves.
    pub fn terms(&self, v: usize) -> &[(u32, i64)] {
        &self.terms[self.start[v]..self.start[v + 1]]
    }

    /// Variable `v`'s value at leaf values `y` (units).
    pub fn value(&self, v: usize, y: &[f64]) -> f64 {
        self.constant[v] as f64
            + self
                .terms(v)
                .iter()
                .map(|&(l, e)| e as f64 * y[l as usize])
                .sum::<f64>()
    }

    /// Variable `v`'s move when the leaves move by `d` (units).
    pub fn moved(&self, v: usize, d: &[f64]) -> f64 {
        self.terms(v)
            .iter()
            .map(|&(l, e)| e as f64 * d[l as usize])
            .sum()
    }

    /// The leaves' part of a point of the original system.
    pub fn restrict(&self, p: &Point) -> Point {
        Point {
            den: p.den,
            nums: self.kept.iter().map(|&v| p.nums[v]).collect(),
        }
    }

    /// The point of the original system a point of the leaves is.
    pub fn lift(&self, p: &Point) -> Option<Point> {
        let nums = (0..self.constant.len())
            .map(|v| {
                let mut s = self.constant[v].checked_mul(p.den)?;
                for &(l, e) in self.terms(v) {
                    s = s.checked_add((e as i128).checked_mul(p.nums[l as usize])?)?;
                }
                Some(s)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Point { den: p.den, nums })
    }

    /// The original variables' moves when the leaves move by `w`.
    pub fn lift_moves(&self, w: &LocalWitness) -> Option<LocalWitness> {
        let mut acc: HashMap<usize, i128> = HashMap::new();
        for &(l, m) in &w.moves {
            for &(v, e) in &self.users[self.ustart[l]..self.ustart[l + 1]] {
                let s = acc.entry(v as usize).or_insert(0);
                *s = s.checked_add((e as i128).checked_mul(m)?)?;
            }
        }
        let mut moves: Vec<(usize, i128)> = acc.into_iter().filter(|&(_, m)| m != 0).collect();
        moves.sort_unstable();
        Some(LocalWitness { den: w.den, moves })
    }

    /// Per-variable weights as costs of the leaves (sorted by leaf).
    pub fn costs(&self, weights: impl Iterator<Item = (usize, f64)>) -> Vec<(usize, f64)> {
        let mut acc: HashMap<usize, f64> = HashMap::new();
        for (v, w) in weights {
            for &(l, e) in self.terms(v) {
                *acc.entry(l as usize).or_insert(0.0) += w * e as f64;
            }
        }
        let mut out: Vec<(usize, f64)> = acc.into_iter().collect();
        out.sort_unstable_by_key(|t| t.0);
        out
    }
}

/// Terms sorted by leaf, coefficients of a leaf added, zeros dropped.
fn merged(mut acc: Vec<(u32, i64)>) -> Option<Vec<(u32, i64)>> {
    acc.sort_unstable_by_key(|t| t.0);
    let mut out: Vec<(u32, i64)> = Vec::with_capacity(acc.len());
    for (l, e) in acc {
        match out.last_mut() {
            Some(last) if last.0 == l => last.1 = last.1.checked_add(e)?,
            _ => out.push((l, e)),
        }
        if out.last().is_some_and(|t| t.1 == 0) {
            out.pop();
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::exact;

    /// A 2 x 2 table with both margins and the total, every cell masked
    /// but the total (10): leaves a, b, c, d; rows r1 = a + b, r2 = c + d,
    /// c1 = a + c, c2 = b + d, t = r1 + r2 = c1 + c2.
    fn two_by_two() -> System {
        // vars: 0 a, 1 b, 2 c, 3 d, 4 r1, 5 r2, 6 c1, 7 c2 (t published = 10).
        System {
            vars: 8,
            rows: vec![
                (vec![(4, 1), (0, -1), (1, -1)], 0),
                (vec![(5, 1), (2, -1), (3, -1)], 0),
                (vec![(6, 1), (0, -1), (2, -1)], 0),
                (vec![(7, 1), (1, -1), (3, -1)], 0),
                (vec![(4, -1), (5, -1)], -10),
                (vec![(6, -1), (7, -1)], -10),
            ],
        }
    }

    #[test]
    fn margins_become_sums_of_the_leaves() {
        let f = LeafForm::of(&two_by_two()).unwrap();
        assert_eq!(f.kept, vec![0, 1, 2, 3]);
        // Both published rows are a + b + c + d = 10: one row.
        assert_eq!(f.sys.rows, vec![(vec![(0, 1), (1, 1), (2, 1), (3, 1)], 10)]);
        assert_eq!(f.terms(6), &[(0, 1), (2, 1)]);
        // A leaf point lifts to a point of the original, exactly.
        let p = Point {
            den: 2,
            nums: vec![3, 5, 7, 5],
        };
        let lifted = f.lift(&p).unwrap();
        assert_eq!(lifted.nums, vec![3, 5, 7, 5, 8, 12, 10, 10]);
        assert!(exact::check(
            &two_by_two(),
            &exact::Box::nonnegative(8),
            &lifted
        ));
        assert_eq!(f.restrict(&lifted), p);
        let w = LocalWitness {
            den: 1,
            moves: vec![(0, 2), (3, -2)],
        };
        let lw = f.lift_moves(&w).unwrap();
        assert_eq!(
            lw.moves,
            vec![(0, 2), (3, -2), (4, 2), (5, -2), (6, 2), (7, -2)]
        );
        assert_eq!(
            f.costs([(6, 1.0), (0, 0.5)].into_iter()),
            vec![(0, 1.5), (2, 1.0)]
        );
    }

    #[test]
    fn published_parts_are_constants() {
        // x0 = x1 + 4 (a published part of 4): x0 is no leaf, its constant 4.
        let sys = System {
            vars: 2,
            rows: vec![(vec![(0, 1), (1, -1)], 4), (vec![(0, -1)], -9)],
        };
        let f = LeafForm::of(&sys).unwrap();
        assert_eq!(f.kept, vec![1]);
        assert_eq!(f.sys.rows, vec![(vec![(0, 1)], 5)]);
        assert_eq!(f.value(0, &[5.0]), 9.0);
    }

    #[test]
    fn contradictions_and_cycles_keep_the_original() {
        // x0 = x1 and x1 = x0 define each other: no leaf form.
        let cycle = System {
            vars: 2,
            rows: vec![(vec![(0, 1), (1, -1)], 0), (vec![(1, 1), (0, -1)], 0)],
        };
        assert!(LeafForm::of(&cycle).is_none());
        // x0 = x1 + x2, and x1 + x2 published as both 3 and 4.
        let contradiction = System {
            vars: 3,
            rows: vec![
                (vec![(0, 1), (1, -1), (2, -1)], 0),
                (vec![(0, -1)], -3),
                (vec![(1, -1), (2, -1)], -4),
            ],
        };
        assert!(LeafForm::of(&contradiction).is_none());
        // A negative published part: x0 >= 0 would not follow, x0 stays.
        let negative = System {
            vars: 2,
            rows: vec![(vec![(0, 1), (1, -1)], -1)],
        };
        assert!(LeafForm::of(&negative).is_none());
        // Nothing published: no rows over the leaves.
        let free = System {
            vars: 3,
            rows: vec![(vec![(0, 1), (1, -1), (2, -1)], 0)],
        };
        assert!(LeafForm::of(&free).is_none());
    }
}
