//! The check of a certificate, in integer arithmetic only.
//!
//! Independent of the search that produced the witnesses: no floating
//! point, no LP, not even the audit's equations. For each table:
//!
//! 1. the certificate's cells are the table's masked cells;
//! 2. the anchor is >= 0 and, with the published values, meets every
//!    equation (each aggregate equals the sum of its existing children,
//!    along each dimension) exactly;
//! 3. each witness moves masked cells only, keeps every equation (its
//!    moves sum to zero in each) and keeps every cell it moves >= 0;
//! 4. each masked cell's claimed range, read from the witnesses its claims
//!    name, is at least one unit wide; with the records (levels known),
//!    each primary cell's range reaches `T + upper` and `T - lower`, and
//!    no primary cell is published.
//!
//! # Complexity
//! O(cells x dimensions + total moves x dimensions) integer operations.
//!
//! ```
//! use cellmask::certify::verify::ceil_div;
//! assert_eq!(ceil_div(7, 2), 4);
//! ```

use std::collections::HashMap;

use crate::certify::certificate::{Certificate, TableCertificate, WitnessRecord};
use crate::table::Table;

/// What fails in a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A masked cell the certificate says nothing about.
    NoClaim,
    /// A claim names a witness that is missing or does not hold (why).
    BadWitness(String),
    /// The claimed range is narrower than one unit.
    Narrow,
    /// A primary cell's range misses a level by this many units (rounded
    /// up), upwards or downwards.
    Short { up: bool, by: i128 },
    /// A primary cell is published.
    PrimaryPublished,
    /// The certificate does not describe this table (why).
    Structure(String),
}

impl Problem {
    /// A short description for messages and logs: kinds only, never an
    /// amount (a shortfall with the attacker's published extreme gives
    /// back `T + upper`, and so the cell's value; amounts stay in the
    /// internal `audit.csv`).
    pub fn describe(&self) -> String {
        match self {
            Problem::NoClaim => "no claim in the certificate".into(),
            Problem::BadWitness(why) => format!("its witness does not hold: {why}"),
            Problem::Narrow => "range narrower than one unit (exact disclosure)".into(),
            Problem::Short { up: true, .. } => "upper protection not reached".into(),
            Problem::Short { up: false, .. } => "lower protection not reached".into(),
            Problem::PrimaryPublished => "primary cell published".into(),
            Problem::Structure(why) => why.clone(),
        }
    }
}

/// One failing claim: the table (position), the cell (position in its
/// cells; None for the table as a whole) and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub table: usize,
    pub cell: Option<u32>,
    pub problem: Problem,
}

/// `ceil(a / b)` for `b > 0`.
pub fn ceil_div(a: i128, b: i128) -> i128 {
    -((-a).div_euclid(b))
}

/// Checks `cert` against `tables` (cells, statuses, published values;
/// with `levels`, also the true values, primary rules and levels).
/// Returns every failing claim; empty when all hold.
pub fn verify(tables: &[Table], cert: &Certificate, levels: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        match cert.tables.iter().find(|c| c.split == t.split) {
            Some(tc) => check_table(ti, t, tc, levels, &mut out),
            None => out.push(Finding {
                table: ti,
                cell: None,
                problem: Problem::Structure("the certificate has no such table".into()),
            }),
        }
        if levels {
            for (i, c) in t.cells.iter().enumerate() {
                if !c.status.is_masked() && !c.rules.is_empty() {
                    out.push(Finding {
                        table: ti,
                        cell: Some(i as u32),
                        problem: Problem::PrimaryPublished,
                    });
                }
            }
        }
    }
    for tc in &cert.tables {
        if !tables.iter().any(|t| t.split == tc.split) {
            out.push(Finding {
                table: usize::MAX,
                cell: None,
                problem: Problem::Structure(format!(
                    "the certificate's table {:?} is not in the release",
                    tc.split
                )),
            });
        }
    }
    out
}

fn check_table(ti: usize, t: &Table, tc: &TableCertificate, levels: bool, out: &mut Vec<Finding>) {
    let whole = |why: String| Finding {
        table: ti,
        cell: None,
        problem: Problem::Structure(why),
    };
    let n = tc.cells.len();
    if tc.anchor.len() != n || tc.low.len() != n || tc.high.len() != n || tc.anchor_den <= 0 {
        out.push(whole(
            "cells, anchor, low and high differ in length, or anchor_den <= 0".into(),
        ));
        return;
    }
    // 1. The certificate's cells: masked cells of the table, once each.
    let mut pos: Vec<u32> = Vec::with_capacity(n);
    let mut of_cell: HashMap<u32, u32> = HashMap::with_capacity(n);
    for (i, codes) in tc.cells.iter().enumerate() {
        let found = (codes.len() == t.dims.len())
            .then(|| {
                let nodes: Option<Vec<_>> = codes
                    .iter()
                    .zip(&t.dims)
                    .map(|(c, h)| h.lookup(c))
                    .collect();
                t.find(t.key(&nodes?))
            })
            .flatten();
        match found {
            Some(c) if t.cells[c].status.is_masked() && !of_cell.contains_key(&(c as u32)) => {
                of_cell.insert(c as u32, i as u32);
                pos.push(c as u32);
            }
            _ => {
                out.push(whole(format!(
                    "certificate cell {:?} is not a masked cell of the table (or is listed twice)",
                    codes
                )));
                return;
            }
        }
    }
    for (c, cell) in t.cells.iter().enumerate() {
        if cell.status.is_masked() && !of_cell.contains_key(&(c as u32)) {
            out.push(Finding {
                table: ti,
                cell: Some(c as u32),
                problem: Problem::NoClaim,
            });
        }
    }
    // 2. The anchor: >= 0 and meeting every equation, in units of 1/aden.
    let aden = tc.anchor_den as i128;
    let point: Vec<i128> = t
        .cells
        .iter()
        .enumerate()
        .map(|(c, cell)| match of_cell.get(&(c as u32)) {
            Some(&i) => tc.anchor[i as usize] as i128,
            None => cell.value as i128 * aden,
        })
        .collect();
    if let Some(i) = tc.anchor.iter().position(|&a| a < 0) {
        out.push(whole(format!(
            "the anchor of cell {:?} is negative",
            tc.cells[i]
        )));
        return;
    }
    for (c, cell) in t.cells.iter().enumerate() {
        let coords = t.coords(cell.key);
        for (k, h) in t.dims.iter().enumerate() {
            let node = coords[k];
            let kids = h.children(node);
            if kids.is_empty() {
                continue;
            }
            let base = cell.key - node as u64 * t.stride(k);
            let sum: i128 = kids
                .iter()
                .filter_map(|&kid| t.find(base + kid as u64 * t.stride(k)))
                .map(|p| point[p])
                .sum();
            if sum != point[c] {
                out.push(whole(format!(
                    "the anchor and published values break the equation of {:?} along {}",
                    t.codes(cell.key),
                    k + 1
                )));
                return;
            }
        }
    }
    // 3. Each witness.
    let bad: Vec<Option<String>> = tc
        .witnesses
        .iter()
        .map(|w| witness_problem(t, &pos, &point, aden, w))
        .collect();
    // 4. Claims.
    let value = |i: usize, claim: i64| -> Result<(i128, i128), String> {
        let a = tc.anchor[i] as i128;
        if claim == -1 {
            return Ok((a, aden));
        }
        let w = usize::try_from(claim)
            .ok()
            .and_then(|k| tc.witnesses.get(k).map(|w| (k, w)));
        let Some((k, w)) = w else {
            return Err(format!("witness {claim} does not exist"));
        };
        if let Some(why) = &bad[k] {
            return Err(format!("witness {k}: {why}"));
        }
        let m = match w.cells.binary_search(&(i as u32)) {
            Ok(j) => w.moves[j] as i128,
            Err(_) => 0,
        };
        let d = w.den as i128;
        let num = a
            .checked_mul(d)
            .zip(m.checked_mul(aden))
            .and_then(|(x, y)| x.checked_add(y));
        match (num, aden.checked_mul(d)) {
            (Some(n), Some(dd)) => Ok((n, dd)),
            _ => Err(format!("witness {k}: numbers too large")),
        }
    };
    // a * b - c * d, None on overflow.
    let cross = |a: i128, b: i128, c: i128, d: i128| -> Option<i128> {
        a.checked_mul(b)?.checked_sub(c.checked_mul(d)?)
    };
    for (i, &c) in pos.iter().enumerate() {
        let cell = Some(c);
        let (lo, hi) = match (value(i, tc.low[i]), value(i, tc.high[i])) {
            (Ok(lo), Ok(hi)) => (lo, hi),
            (Err(e), _) | (_, Err(e)) => {
                out.push(Finding {
                    table: ti,
                    cell,
                    problem: Problem::BadWitness(e),
                });
                continue;
            }
        };
        // hi - lo >= 1  <=>  hi.n * lo.d - lo.n * hi.d >= lo.d * hi.d.
        let wide = cross(hi.0, lo.1, lo.0, hi.1)
            .zip(lo.1.checked_mul(hi.1))
            .map(|(a, b)| a >= b);
        if wide != Some(true) {
            out.push(Finding {
                table: ti,
                cell,
                problem: Problem::Narrow,
            });
            continue;
        }
        let x = &t.cells[c as usize];
        if levels && !x.rules.is_empty() {
            let up = x.value as i128 + x.upper_protection as i128;
            let down = x.value as i128 - x.lower_protection as i128;
            // Shortfalls, in units of 1/den of the range's ends.
            let short_up = cross(up, hi.1, hi.0, 1);
            let short_down = cross(lo.0, 1, down, lo.1);
            match (short_up, short_down) {
                (Some(s), _) if s > 0 => out.push(Finding {
                    table: ti,
                    cell,
                    problem: Problem::Short {
                        up: true,
                        by: ceil_div(s, hi.1),
                    },
                }),
                (_, Some(s)) if s > 0 => out.push(Finding {
                    table: ti,
                    cell,
                    problem: Problem::Short {
                        up: false,
                        by: ceil_div(s, lo.1),
                    },
                }),
                (Some(_), Some(_)) => {}
                _ => out.push(Finding {
                    table: ti,
                    cell,
                    problem: Problem::BadWitness("numbers too large".into()),
                }),
            }
        }
    }
}

/// Why a witness does not hold, or None when it does: cells are certificate
/// cells in increasing order, moves are not zero, every equation's moves
/// sum to zero, and every cell it moves stays >= 0.
fn witness_problem(
    t: &Table,
    pos: &[u32],
    point: &[i128],
    aden: i128,
    w: &WitnessRecord,
) -> Option<String> {
    if w.den <= 0 || w.cells.len() != w.moves.len() {
        return Some("den <= 0, or cells and moves differ in length".into());
    }
    if w.cells.windows(2).any(|p| p[0] >= p[1])
        || w.cells.last().is_some_and(|&i| i as usize >= pos.len())
    {
        return Some("cells out of order or out of range".into());
    }
    if w.moves.contains(&0) {
        return Some("a zero move".into());
    }
    let d = w.den as i128;
    // Each equation's moves, keyed by (aggregate cell, dimension).
    let mut sums: HashMap<(u32, u8), i128> = HashMap::new();
    for (&i, &m) in w.cells.iter().zip(&w.moves) {
        let c = pos[i as usize];
        let m = m as i128;
        // anchor + m / d >= 0  <=>  anchor_num * d + m * aden >= 0.
        let at = point[c as usize]
            .checked_mul(d)
            .zip(m.checked_mul(aden))
            .and_then(|(a, b)| a.checked_add(b));
        if at.is_none_or(|v| v < 0) {
            return Some(format!(
                "cell {:?} would be negative",
                t.codes(t.cells[c as usize].key)
            ));
        }
        let key = t.cells[c as usize].key;
        let coords = t.coords(key);
        for (k, h) in t.dims.iter().enumerate() {
            let node = coords[k];
            if !h.children(node).is_empty() {
                *sums.entry((c, k as u8)).or_insert(0) += m;
            }
            if let Some(parent) = h.parent(node) {
                let pkey = key - node as u64 * t.stride(k) + parent as u64 * t.stride(k);
                match t.find(pkey) {
                    Some(p) => *sums.entry((p as u32, k as u8)).or_insert(0) -= m,
                    None => return Some("a cell without its aggregate".into()),
                }
            }
        }
    }
    let mut broken: Vec<(u32, u8)> = sums
        .iter()
        .filter(|(_, &s)| s != 0)
        .map(|(&k, _)| k)
        .collect();
    broken.sort_unstable();
    broken.first().map(|&(c, k)| {
        format!(
            "it breaks the equation of {:?} along dimension {}",
            t.codes(t.cells[c as usize].key),
            k + 1
        )
    })
}
