//! Why a secondary cell is masked, read from the checked evidence: the
//! primary cells whose claims rest on a witness that moves it. Such a
//! witness is a deviation the attacker cannot exclude while the cell is
//! masked, and it is what gives those primaries their proven ranges. Of
//! them, the ones closest in the table are named: per dimension, the
//! deepest common ancestor (a sibling before a cousin), summed. A cell that no primary's claim moves is named after the nearest
//! primary through witnesses (cell - witness - cell - ... - primary).
//!
//! # Complexity
//! `O(sum over witnesses of cells moved x primaries claiming it)`, plus a
//! breadth-first walk over the cell-witness graph.
//!
//! ```
//! use cellmask::certify::certificate::{TableCertificate, WitnessRecord};
//! use cellmask::certify::why::protected;
//! // Masked cells 0 (primary), 1 and 2 (secondary). Witness 0 moves 0 and
//! // 1 and is the primary's upper claim; witness 1 moves 1 and 2.
//! let cert = TableCertificate {
//!     split: vec![], cells: vec![vec![]; 3], anchor_den: 1, anchor: vec![5, 5, 5],
//!     low: vec![-1, 1, 1], high: vec![0, 0, 1],
//!     witnesses: vec![
//!         WitnessRecord { den: 1, cells: vec![0, 1], moves: vec![1, -1] },
//!         WitnessRecord { den: 1, cells: vec![1, 2], moves: vec![1, -1] },
//!     ],
//! };
//! // One dimension: root 9 with children 0, 1, 2 (paths from the root).
//! let paths = vec![vec![vec![9, 0]], vec![vec![9, 1]], vec![vec![9, 2]]];
//! let why = protected(&cert, &[true, false, false], &paths);
//! assert_eq!(why[1].cells, vec![0]); // in the primary's claim
//! assert!(why[1].direct);
//! assert_eq!(why[2].cells, vec![0]); // through cell 1
//! assert!(!why[2].direct);
//! ```

use std::collections::VecDeque;

use rayon::prelude::*;

use super::certificate::{Certificate, TableCertificate};
use crate::table::{Status, Table};

/// At most this many primary cells are named per secondary cell.
pub const NAMED: usize = 3;

/// The primary cells a masked cell protects (indices among the
/// certificate's masked cells).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protects {
    /// [`NAMED`] of them at most: the closest in the table first (deepest
    /// common ancestors, then table order).
    pub cells: Vec<u32>,
    /// How many in all.
    pub total: usize,
    /// Whether a primary's claim moves this cell (otherwise: the nearest
    /// primary through witnesses).
    pub direct: bool,
}

/// Per masked cell of `cert` (`primary[i]`: whether masked cell `i` is a
/// primary secret; `paths[i][k]`: its node in dimension `k` and the
/// node's ancestors, root first), the primaries it protects; empty for
/// primary cells and for cells no witness links to a primary.
pub fn protected(
    cert: &TableCertificate,
    primary: &[bool],
    paths: &[Vec<Vec<u32>>],
) -> Vec<Protects> {
    let n = cert.cells.len();
    let is_primary = |p: usize| primary.get(p).copied().unwrap_or(false);
    let mut out = vec![Protects::default(); n];
    // Per witness, the primaries whose claims it is.
    let mut claimed_by: Vec<Vec<u32>> = vec![Vec::new(); cert.witnesses.len()];
    for p in (0..n).filter(|&p| is_primary(p)) {
        for w in [cert.low[p], cert.high[p]] {
            if let Some(list) = usize::try_from(w).ok().and_then(|w| claimed_by.get_mut(w)) {
                if list.last() != Some(&(p as u32)) {
                    list.push(p as u32);
                }
            }
        }
    }
    // Per masked cell, the witnesses moving it.
    let mut by_cell: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (w, rec) in cert.witnesses.iter().enumerate() {
        for &c in &rec.cells {
            if let Some(list) = by_cell.get_mut(c as usize) {
                list.push(w as u32);
            }
        }
    }
    // Closeness: per dimension, how long the two paths from the root agree.
    let common = |a: usize, b: usize| -> usize {
        match (paths.get(a), paths.get(b)) {
            (Some(x), Some(y)) => x
                .iter()
                .zip(y)
                .map(|(u, v)| u.iter().zip(v).take_while(|(p, q)| p == q).count())
                .sum(),
            _ => 0,
        }
    };
    for c in (0..n).filter(|&c| !is_primary(c)) {
        let mut ps: Vec<u32> = by_cell[c]
            .iter()
            .flat_map(|&w| claimed_by[w as usize].iter().copied())
            .collect();
        ps.sort_unstable();
        ps.dedup();
        let total = ps.len();
        ps.sort_by_key(|&p| (std::cmp::Reverse(common(c, p as usize)), p));
        ps.truncate(NAMED);
        out[c] = Protects {
            cells: ps,
            total,
            direct: true,
        };
    }
    // The others: the nearest primary, by a walk from every primary at once
    // (in table order, so the first to reach a cell is fixed by the
    // certificate alone).
    let mut nearest: Vec<Option<u32>> = (0..n).map(|c| is_primary(c).then_some(c as u32)).collect();
    let mut seen_w = vec![false; cert.witnesses.len()];
    let mut queue: VecDeque<u32> = (0..n as u32).filter(|&c| is_primary(c as usize)).collect();
    while let Some(c) = queue.pop_front() {
        let from = nearest[c as usize];
        for &w in &by_cell[c as usize] {
            if std::mem::replace(&mut seen_w[w as usize], true) {
                continue;
            }
            for &d in &cert.witnesses[w as usize].cells {
                if nearest[d as usize].is_none() {
                    nearest[d as usize] = from;
                    queue.push_back(d);
                }
            }
        }
    }
    for c in (0..n).filter(|&c| !is_primary(c)) {
        if out[c].total == 0 {
            if let Some(p) = nearest[c] {
                out[c] = Protects {
                    cells: vec![p],
                    total: 1,
                    direct: false,
                };
            }
        }
    }
    out
}

/// [`protected`] for every table of a release and its certificate (tables
/// in the same order).
pub fn of_tables(tables: &[Table], cert: &Certificate) -> Vec<Vec<Protects>> {
    tables
        .par_iter()
        .zip(&cert.tables)
        .map(|(t, c)| {
            let masked = t.cells.iter().filter(|c| c.status.is_masked());
            let primary: Vec<bool> = masked
                .clone()
                .map(|c| c.status == Status::Primary)
                .collect();
            let paths: Vec<Vec<Vec<u32>>> = masked
                .map(|c| {
                    let k = t.coords(c.key);
                    (0..t.dims.len())
                        .map(|d| {
                            let mut up = t.dims[d].ancestors(k[d]);
                            up.reverse();
                            up
                        })
                        .collect()
                })
                .collect();
            protected(c, &primary, &paths)
        })
        .collect()
}
