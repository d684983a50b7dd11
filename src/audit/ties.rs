//! Masked cells tied by two-term rows. A row `a x_u + b x_v = c` makes
//! `x_u` an affine function of `x_v`: the point that maximises one also
//! maximises (same sign) or minimises (opposite signs) the other. Chains of
//! such rows tie whole classes, so an exact-interval audit solves one LP
//! per class and direction instead of one per cell and direction.
//!
//! # Complexity
//! `O(rows + vars)`: one pass over the rows, one breadth-first walk.
//!
//! ```
//! use cellmask::audit::lp::System;
//! use cellmask::audit::ties::Ties;
//! // x0 + x1 = 10 and x1 - x2 = 3: x2 = 7 - x0 (opposite), x1 = 10 - x0.
//! let sys = System { vars: 3, rows: vec![(vec![(0, 1), (1, 1)], 10), (vec![(1, 1), (2, -1)], 3)] };
//! let t = Ties::of(&sys);
//! assert_eq!(t.class(2), t.class(0));
//! assert!(!t.same_direction(0, 2));
//! assert!(t.same_direction(1, 2));
//! ```

use super::lp::System;

/// Classes of variables tied by chains of two-term rows, each variable's
/// direction relative to its class's first variable.
#[derive(Debug, Clone)]
pub struct Ties {
    class: Vec<u32>,
    /// `true`: moves with the class's first variable; `false`: against it.
    along: Vec<bool>,
    members: Vec<Vec<u32>>,
}

impl Ties {
    /// The classes of `sys`: variables joined by every row with exactly
    /// two terms, directions taken along a spanning tree of those rows
    /// (each step is an equation of the system, so every relation holds).
    pub fn of(sys: &System) -> Ties {
        let n = sys.vars;
        let mut adj: Vec<Vec<(u32, bool)>> = vec![Vec::new(); n];
        for (terms, _) in &sys.rows {
            if let [(u, a), (v, b)] = terms[..] {
                if u != v && a != 0 && b != 0 {
                    // a x_u + b x_v = c: x_u rises with x_v iff a, b differ in sign.
                    let same = (a > 0) != (b > 0);
                    adj[u].push((v as u32, same));
                    adj[v].push((u as u32, same));
                }
            }
        }
        let mut class = vec![u32::MAX; n];
        let mut along = vec![true; n];
        let mut members = Vec::new();
        let mut queue = std::collections::VecDeque::new();
        for s in 0..n {
            if class[s] != u32::MAX {
                continue;
            }
            let id = members.len() as u32;
            let mut list = vec![s as u32];
            class[s] = id;
            queue.push_back(s);
            while let Some(u) = queue.pop_front() {
                for &(v, same) in &adj[u] {
                    let v = v as usize;
                    if class[v] == u32::MAX {
                        class[v] = id;
                        along[v] = along[u] == same;
                        list.push(v as u32);
                        queue.push_back(v);
                    }
                }
            }
            members.push(list);
        }
        Ties {
            class,
            along,
            members,
        }
    }

    /// The class of variable `v`.
    pub fn class(&self, v: usize) -> u32 {
        self.class[v]
    }

    /// Whether `u` and `v` (of one class) reach their maxima together.
    pub fn same_direction(&self, u: usize, v: usize) -> bool {
        self.along[u] == self.along[v]
    }

    /// The variables of `v`'s class, `v` included.
    pub fn members(&self, v: usize) -> &[u32] {
        &self.members[self.class[v] as usize]
    }

    /// How many classes.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no variables.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rectangle_is_one_class() {
        // 2x2 masked rectangle: rows x0 + x1 = 5, x2 + x3 = 7,
        // columns x0 + x2 = 4, x1 + x3 = 8.
        let sys = System {
            vars: 4,
            rows: vec![
                (vec![(0, 1), (1, 1)], 5),
                (vec![(2, 1), (3, 1)], 7),
                (vec![(0, 1), (2, 1)], 4),
                (vec![(1, 1), (3, 1)], 8),
            ],
        };
        let t = Ties::of(&sys);
        assert_eq!(t.len(), 1);
        assert!(t.same_direction(0, 3));
        assert!(!t.same_direction(0, 1));
        assert!(!t.same_direction(0, 2));
        assert_eq!(t.members(2).len(), 4);
    }

    #[test]
    fn longer_rows_do_not_tie() {
        let sys = System {
            vars: 3,
            rows: vec![(vec![(0, 1), (1, 1), (2, -1)], 0)],
        };
        assert_eq!(Ties::of(&sys).len(), 3);
    }
}
