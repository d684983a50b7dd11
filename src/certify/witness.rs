//! Witnesses: exact deviations of the masked cells that the attacker
//! cannot rule out, and the best ones found for each cell.
//!
//! A witness moves some masked cells from the table's *anchor* (a point of
//! the attacker's polyhedron: the true values when they are known) by
//! exact rationals, keeping every equation and every cell >= 0. Each cell
//! it moves reaches `anchor + move`: a value the attacker's interval
//! contains. One witness serves every cell it moves. [`Proofs`] keeps,
//! per cell, the lowest and highest values reached and the witness that
//! reaches each: the claims of the certificate.

use std::cmp::Ordering;
use std::collections::HashSet;

use num_integer::Integer;

use crate::table::Table;

/// An exact rational number of value units, `num / den` with `den > 0`.
#[derive(Debug, Clone, Copy)]
pub struct Q {
    pub num: i128,
    pub den: i128,
}

impl Q {
    pub fn int(v: i128) -> Q {
        Q { num: v, den: 1 }
    }

    /// `num / den` reduced (`den > 0`).
    pub fn new(num: i128, den: i128) -> Q {
        if den == 1 {
            return Q { num, den };
        }
        let g = num.gcd(&den).max(1);
        Q {
            num: num / g,
            den: den / g,
        }
    }

    /// `self + num / den`, or None on overflow.
    pub fn plus(self, num: i128, den: i128) -> Option<Q> {
        if self.den == den {
            // Integers (the usual case) need no gcd at all.
            return Some(Q::new(self.num.checked_add(num)?, den));
        }
        let l = self.den.lcm(&den);
        let a = self.num.checked_mul(l / self.den)?;
        let b = num.checked_mul(l / den)?;
        Some(Q::new(a.checked_add(b)?, l))
    }

    /// The largest integer not above it.
    pub fn floor(self) -> i128 {
        Integer::div_floor(&self.num, &self.den)
    }

    /// The smallest integer not below it.
    pub fn ceil(self) -> i128 {
        -Integer::div_floor(&-self.num, &self.den)
    }

    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// `self - other >= k` for an integer `k`.
    pub fn exceeds_by(self, other: Q, k: i128) -> bool {
        match other.plus(k, 1) {
            Some(o) => self >= o,
            None => false,
        }
    }
}

impl PartialEq for Q {
    fn eq(&self, o: &Q) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Q {}
impl PartialOrd for Q {
    fn partial_cmp(&self, o: &Q) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Q {
    fn cmp(&self, o: &Q) -> Ordering {
        match (self.num.checked_mul(o.den), o.num.checked_mul(self.den)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => {
                use num_bigint::BigInt;
                (BigInt::from(self.num) * BigInt::from(o.den))
                    .cmp(&(BigInt::from(o.num) * BigInt::from(self.den)))
            }
        }
    }
}

/// A deviation of masked cells from the anchor: cell `c` (a position in
/// [`Table::cells`]) moves by `num / den` units; cells not listed stay.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Witness {
    pub den: i128,
    /// `(cell, num)`, by cell, no zero.
    pub moves: Vec<(u32, i128)>,
}

/// Where a claimed end comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The anchor itself (the cell does not move).
    Anchor,
    /// A witness of [`Proofs::witnesses`].
    Witness(u32),
}

/// A value a cell reaches, and what reaches it.
#[derive(Debug, Clone, Copy)]
pub struct Reach {
    pub value: Q,
    pub by: By,
}

/// The exact evidence found for one table's masking.
#[derive(Debug, Clone, Default)]
pub struct Proofs {
    /// Per cell: the anchor's value (published cells: their value).
    pub anchor: Vec<Q>,
    pub witnesses: Vec<Witness>,
    /// Per cell: the lowest and highest values reached (masked cells).
    pub low: Vec<Reach>,
    pub high: Vec<Reach>,
    /// Per cell: whether the attacker's maximum is unbounded (for the
    /// intervals shown; a witness still backs the claim).
    pub unbounded: Vec<bool>,
}

impl Proofs {
    /// No witness yet, the anchor at `anchor`.
    pub fn at(anchor: Vec<Q>) -> Proofs {
        let at = |&v: &Q| Reach {
            value: v,
            by: By::Anchor,
        };
        Proofs {
            low: anchor.iter().map(at).collect(),
            high: anchor.iter().map(at).collect(),
            unbounded: vec![false; anchor.len()],
            anchor,
            witnesses: Vec::new(),
        }
    }

    /// No witness yet, the anchor at the table's true values.
    pub fn at_truth(table: &Table) -> Proofs {
        Proofs::at(
            table
                .cells
                .iter()
                .map(|c| Q::int(c.value as i128))
                .collect(),
        )
    }

    /// Whether this evidence is of this table (same cells).
    pub fn fits(&self, table: &Table) -> bool {
        self.anchor.len() == table.cells.len()
    }

    /// Whether cell `c` has a range here.
    pub fn fits_len(&self, c: usize) -> bool {
        c < self.anchor.len()
    }

    /// The range of a cell proven so far.
    pub fn range(&self, c: usize) -> (Q, Q) {
        (self.low[c].value, self.high[c].value)
    }

    /// Adds a witness; keeps it when it widens some cell's range.
    pub fn add(&mut self, w: Witness) -> bool {
        let id = self.witnesses.len() as u32;
        let mut used = false;
        for &(c, m) in &w.moves {
            let c = c as usize;
            let Some(v) = self.anchor[c].plus(m, w.den) else {
                continue;
            };
            if v < self.low[c].value {
                self.low[c] = Reach {
                    value: v,
                    by: By::Witness(id),
                };
                used = true;
            }
            if v > self.high[c].value {
                self.high[c] = Reach {
                    value: v,
                    by: By::Witness(id),
                };
                used = true;
            }
        }
        if used {
            self.witnesses.push(w);
        }
        used
    }

    /// The evidence still valid for the table's masking now: witnesses
    /// moving only masked cells (masking more keeps every witness valid;
    /// publishing a cell a witness moves voids it).
    pub fn valid_for(self, table: &Table) -> Proofs {
        let masked = |c: u32| table.cells[c as usize].status.is_masked();
        let mut out = Proofs::at(self.anchor);
        out.unbounded = self.unbounded;
        for w in self.witnesses {
            if w.moves.iter().all(|&(c, _)| masked(c)) {
                out.add(w);
            }
        }
        for (c, u) in out.unbounded.iter_mut().enumerate() {
            *u &= masked(c as u32);
        }
        out
    }

    /// Drops the witnesses no claim refers to.
    pub fn prune(&mut self) {
        let mut keep = vec![false; self.witnesses.len()];
        for r in self.low.iter().chain(&self.high) {
            if let By::Witness(i) = r.by {
                keep[i as usize] = true;
            }
        }
        let mut new_id = vec![u32::MAX; keep.len()];
        let mut next = 0u32;
        for (i, k) in keep.iter().enumerate() {
            if *k {
                new_id[i] = next;
                next += 1;
            }
        }
        let old = std::mem::take(&mut self.witnesses);
        self.witnesses = old
            .into_iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(w, _)| w)
            .collect();
        for r in self.low.iter_mut().chain(self.high.iter_mut()) {
            if let By::Witness(i) = r.by {
                r.by = By::Witness(new_id[i as usize]);
            }
        }
    }
}

/// Witnesses gathered over checks of different maskings of one table, for
/// searches whose masking also shrinks (the exact method's rounds, the
/// polish): each stays valid for any masking that masks every cell it moves.
#[derive(Debug, Clone)]
pub struct Pool {
    /// The anchor of every check (the true values).
    anchor: Vec<Q>,
    witnesses: Vec<Witness>,
    seen: HashSet<Witness>,
}

impl Pool {
    /// An empty pool for checks anchored at `anchor`.
    pub fn at(anchor: Vec<Q>) -> Pool {
        Pool {
            anchor,
            witnesses: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// Adds the witnesses of `proofs` not pooled yet (in their order).
    pub fn add(&mut self, proofs: &Proofs) {
        for w in &proofs.witnesses {
            if self.seen.insert(w.clone()) {
                self.witnesses.push(w.clone());
            }
        }
    }

    /// The evidence for the table's masking now: every pooled witness
    /// moving masked cells only. No maximum is taken as unbounded: cells
    /// published since may bound it.
    pub fn proofs_for(&self, table: &Table) -> Proofs {
        let masked = |c: u32| table.cells[c as usize].status.is_masked();
        let mut proofs = Proofs::at(self.anchor.clone());
        for w in &self.witnesses {
            if w.moves.iter().all(|&(c, _)| masked(c)) {
                proofs.add(w.clone());
            }
        }
        proofs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rationals_compare_and_round() {
        assert!(Q::new(1, 3) < Q::new(1, 2));
        assert_eq!(Q::new(2, 4), Q::new(1, 2));
        assert_eq!(Q::new(7, 2).floor(), 3);
        assert_eq!(Q::new(7, 2).ceil(), 4);
        assert_eq!(Q::new(-7, 2).floor(), -4);
        assert_eq!(Q::new(-7, 2).ceil(), -3);
        assert_eq!(Q::int(5).plus(1, 2).unwrap(), Q::new(11, 2));
        assert!(Q::int(10).exceeds_by(Q::int(9), 1));
        assert!(!Q::new(19, 2).exceeds_by(Q::int(9), 1));
    }

    #[test]
    fn keeps_the_best_witness_per_cell() {
        let mut p = Proofs::at(vec![Q::int(10), Q::int(20)]);
        assert!(p.add(Witness {
            den: 1,
            moves: vec![(0, 3), (1, -3)]
        }));
        assert!(!p.add(Witness {
            den: 1,
            moves: vec![(0, 1), (1, -1)]
        }));
        assert!(p.add(Witness {
            den: 2,
            moves: vec![(0, -1), (1, 1)]
        }));
        assert_eq!(p.range(0), (Q::new(19, 2), Q::int(13)));
        assert_eq!(p.range(1), (Q::int(17), Q::new(41, 2)));
        p.prune();
        assert_eq!(p.witnesses.len(), 2);
    }
}
