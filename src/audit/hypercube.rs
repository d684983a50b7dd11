//! Hypercubes: exact witnesses made by construction, without any LP, for
//! tables of three dimensions or more, where LPs over whole components
//! cost too much (issue 15).
//!
//! In one dimension, a vector `v` over the nodes of the tree keeps every
//! equation of that tree (`v(parent) = sum v(children)`) when it is a
//! *pair*: `+1` on the node, `-1` on another node (a sibling of it or of
//! its nearest ancestor with one), each with one path down to a leaf, zero
//! above where they meet; or a *path*: `+1` on the node, a path down to a
//! leaf and every ancestor up to the root. The tensor product `v_1 x ... x
//! v_D` of one such vector per dimension keeps *every* equation of the
//! table, whatever its other cells, as long as each cell it moves exists.
//! Scaled, it is an exact witness in whole units, checked like any other
//! by the certificate. For a detailed cell of a three-dimensional table
//! with siblings in every dimension it is the classic cube of 8 cells
//! (GHMITER, τ-ARGUS's hypercube method), here with the table's
//! hierarchies and its empty cells taken into account.
//!
//! A *pattern* moving a cell by what it needs is a sum of such products,
//! each scaled by what its cells can give (a cell moved down stays `>=
//! 0`), chosen greedily by cost per unit ([`pattern`]). The [`Prices`] say
//! which published cells a pattern may mask and at what cost: secondary
//! suppression masks the cells of the patterns it keeps
//! (`secondary::hypercube`); the audit's check lets them through masked
//! cells only ([`MaskedOnly`], [`masked_only_witnesses`]), which proves
//! most verdicts of a masking made this way before any LP.
//!
//! # Complexity
//! Per cell and direction, at most [`MAX_PIECES`] branch and bounds over
//! [`ANCHORS`] corners and at most [`MAX_CANDIDATES`] vectors per dimension
//! ([`MAX_PRODUCTS`] products), each product checked by hash look-ups of
//! its cells (8 for a detailed cell of a 3-dimensional table): linear in
//! the number of masked cells, no LP.
//!
//! # Example
//! ```
//! use cellmask::audit::hypercube::pattern_goals;
//! use cellmask::certify::witness::Q;
//! // A primary cell of value 100, levels 30 up and 40 down, nothing proven
//! // yet: it needs a pattern up by 30 and one down by 40.
//! let goals = pattern_goals(Some((30, 40)), Q::int(100), (Q::int(100), Q::int(100)));
//! assert_eq!(goals, vec![vec![(1, 30)], vec![(-1, 40)]]);
//! ```

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::certify::witness::{Proofs, Witness, Q};
use crate::hierarchy::NodeId;
use crate::read::MAX_DIMS;
use crate::table::{Cell, Status, Table};

use super::target_of;

/// The patterns a cell needs: for each, the `(sign, units)` options tried
/// in turn.
pub type Goals = Vec<Vec<(i8, i64)>>;

/// A pattern's moves: `(cell, units)`, by cell, no zero.
pub type Moves = Vec<(u32, i128)>;

/// Which published cells a pattern may mask, and at what cost.
pub trait Prices: Sync {
    /// The cost of masking cell `d` (also orders the vectors tried, so it
    /// is asked of masked cells too).
    fn cost(&self, d: usize) -> f64;
    /// Whether published cell `d` may be masked.
    fn maskable(&self, table: &Table, d: usize) -> bool;
}

/// Patterns through masked cells only: what an attacker's points are
/// made of (every published cell counted alike in ordering the vectors).
pub struct MaskedOnly;

impl Prices for MaskedOnly {
    fn cost(&self, _: usize) -> f64 {
        1.0
    }
    fn maskable(&self, _: &Table, _: usize) -> bool {
        false
    }
}

/// Vectors tried per dimension (the cheapest first): bounds the search.
pub const MAX_CANDIDATES: usize = 12;

/// Products evaluated per piece before the best one so far is taken (a
/// count, so that the masking never depends on the machine).
pub const MAX_PRODUCTS: usize = 4_000;

/// Leaf cells under a target tried as the corner its product grows from.
pub const ANCHORS: usize = 3;

/// Products summed into one pattern at most.
pub const MAX_PIECES: usize = 64;

/// How far one pattern search goes (counts, so that results never depend
/// on the machine).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub candidates: usize,
    pub products: usize,
    pub anchors: usize,
    pub pieces: usize,
}

impl Limits {
    /// Every pattern's first search.
    pub const DEFAULT: Limits = Limits {
        candidates: MAX_CANDIDATES,
        products: MAX_PRODUCTS,
        anchors: ANCHORS,
        pieces: MAX_PIECES,
    };
    /// The audit's second search through masked cells, for the few cells
    /// the first leaves (each such cell costs LPs over its whole component).
    pub const WIDE: Limits = Limits {
        candidates: 4 * MAX_CANDIDATES,
        products: 10 * MAX_PRODUCTS,
        anchors: 4 * ANCHORS,
        pieces: 4 * MAX_PIECES,
    };
}

/// A signed vector of one dimension: `(node, +1 | -1)`, the cell's own
/// chain first.
type Vector = Vec<(NodeId, i8)>;

/// Coordinates of a cell, one node per dimension.
type Coords = [NodeId; MAX_DIMS];

/// A product chosen: its cells (positions) with their signs, the cost of
/// masking those still published, and how far it can move the target.
struct Product {
    cells: Vec<(u32, i8)>,
    cost: f64,
    capacity: i64,
}

/// What one pattern is being built for, and what it has used so far.
struct Goal<'a> {
    /// `+1`: the target moves up; `-1`: down.
    sign: i8,
    /// What is left to move.
    remaining: i64,
    /// Units each cell has been lowered by the pieces so far.
    used: &'a FxHashMap<u32, i64>,
    /// Cells the pieces so far mask (free for the next ones).
    here: &'a FxHashSet<u32>,
    /// Each cell's value at the point the patterns move from.
    values: &'a [i64],
    limits: Limits,
}

impl Goal<'_> {
    /// What cell `d` can still be lowered by.
    fn room(&self, d: usize) -> i64 {
        self.values[d] - self.used.get(&(d as u32)).copied().unwrap_or(0)
    }

    fn masked(&self, table: &Table, d: usize) -> bool {
        table.cells[d].status.is_masked() || self.here.contains(&(d as u32))
    }
}

/// What a primary cell's patterns must move it by, up and down (a unit at
/// least upwards, so that its interval is a unit wide; never below 0);
/// None for a cell that is not primary (a unit either way will do).
pub fn levels(cell: &Cell) -> Option<(i64, i64)> {
    (cell.status == Status::Primary && !cell.rules.is_empty()).then(|| {
        (
            cell.upper_protection.max(1),
            cell.lower_protection.min(cell.value).max(0),
        )
    })
}

/// The patterns a cell of true value `value` still needs, given its
/// [`levels`] and the range `(lo, hi)` proven so far: one entry per
/// pattern, each the `(sign, units)` options tried in turn (a cell that
/// is not primary: a unit up, or else down).
pub fn pattern_goals(levels: Option<(i64, i64)>, value: Q, (lo, hi): (Q, Q)) -> Goals {
    match levels {
        Some((up, down)) => {
            let mut g = Vec::new();
            if !hi.exceeds_by(value, up as i128) {
                g.push(vec![(1, up)]);
            }
            if down > 0 && !value.exceeds_by(lo, down as i128) {
                g.push(vec![(-1, down)]);
            }
            g
        }
        None => vec![vec![(1, 1), (-1, 1)]],
    }
}

/// Whether cell `c`'s range in `proofs` already meets its target (its
/// protection levels checked when `levels`: the true values are known).
pub fn proven(table: &Table, proofs: &Proofs, c: usize, levels: bool) -> bool {
    let (lo, hi) = proofs.range(c);
    target_of(&table.cells[c], levels).met_by(lo, hi)
}

/// Adds to `proofs` (anchored at the true values) the patterns through
/// masked cells only of every masked cell whose range does not meet its
/// target yet (a wider search for those the first leaves). Returns the
/// witnesses added.
pub fn masked_only_witnesses(table: &Table, proofs: &mut Proofs) -> usize {
    let values: Vec<i64> = table.cells.iter().map(|c| c.value).collect();
    let todo = |proofs: &Proofs| -> Vec<(u32, i64, Goals)> {
        (0..table.cells.len() as u32)
            .filter(|&c| {
                table.cells[c as usize].status.is_masked()
                    && !proven(table, proofs, c as usize, true)
            })
            .map(|c| {
                let cell = &table.cells[c as usize];
                let value = Q::int(cell.value as i128);
                (
                    c,
                    1,
                    pattern_goals(levels(cell), value, proofs.range(c as usize)),
                )
            })
            .collect()
    };
    through_masked(table, &values, todo, proofs)
}

/// [`masked_only_witnesses`] without the true values: from a point of the
/// attacker's system where cell `d` is `values[d] / den[d]` (`proofs` is
/// anchored there), a unit either way for every masked cell whose range
/// is not a unit wide yet. Returns the witnesses added.
pub fn masked_only_witnesses_at(
    table: &Table,
    values: &[i64],
    den: &[i64],
    proofs: &mut Proofs,
) -> usize {
    let todo = |proofs: &Proofs| -> Vec<(u32, i64, Goals)> {
        (0..table.cells.len() as u32)
            .filter(|&c| {
                table.cells[c as usize].status.is_masked()
                    && den[c as usize] > 0
                    && !proven(table, proofs, c as usize, false)
            })
            .map(|c| {
                let d = den[c as usize];
                (c, d, vec![vec![(1, d), (-1, d)]])
            })
            .collect()
    };
    through_masked(table, values, todo, proofs)
}

/// The patterns through masked cells of each `(cell, den, goals)` that
/// `todo` lists, from `values` (in units of `1 / den`), searched apart and
/// in parallel and added to `proofs` in the order listed; then again with
/// [`Limits::WIDE`] for what `todo` still lists.
fn through_masked(
    table: &Table,
    values: &[i64],
    todo: impl Fn(&Proofs) -> Vec<(u32, i64, Goals)>,
    proofs: &mut Proofs,
) -> usize {
    let mut added = 0;
    for limits in [Limits::DEFAULT, Limits::WIDE] {
        for w in masked_only_patterns(table, values, &todo(proofs), limits)
            .into_iter()
            .flatten()
        {
            if proofs.add(w) {
                added += 1;
            }
        }
    }
    added
}

/// The patterns through masked cells of each `(cell, den, goals)` of
/// `todo`, from `values` (in units of `1 / den`), searched apart and in
/// parallel: for each cell, one witness per goal met.
pub fn masked_only_patterns(
    table: &Table,
    values: &[i64],
    todo: &[(u32, i64, Goals)],
    limits: Limits,
) -> Vec<Vec<Witness>> {
    todo.par_iter()
        .map(|(c, den, goals)| {
            goals
                .iter()
                .filter_map(|options| {
                    options
                        .iter()
                        .find_map(|&(sign, units)| {
                            pattern(table, &MaskedOnly, values, *c, sign, units, limits)
                        })
                        .map(|(moves, _)| Witness {
                            den: *den as i128,
                            moves,
                        })
                })
                .collect()
        })
        .collect()
}

/// A pattern moving cell `c` by `sign * units` from the point where each
/// cell `d` is `values[d]` (units; no cell goes below 0): the moves (by
/// cell, no zero) of a sum of products and the published cells it needs
/// masked, or None when the pieces run out first.
pub fn pattern<P: Prices>(
    table: &Table,
    prices: &P,
    values: &[i64],
    c: u32,
    sign: i8,
    units: i64,
    limits: Limits,
) -> Option<(Moves, Vec<u32>)> {
    let mut used: FxHashMap<u32, i64> = FxHashMap::default();
    let mut here: FxHashSet<u32> = FxHashSet::default();
    let mut total: FxHashMap<u32, i128> = FxHashMap::default();
    let mut remaining = units;
    for _ in 0..limits.pieces {
        let goal = Goal {
            sign,
            remaining,
            used: &used,
            here: &here,
            values,
            limits,
        };
        let p = best(table, prices, c, &goal)?;
        let step = p.capacity.min(remaining);
        for &(d, s) in &p.cells {
            let m = (sign * s) as i64 * step;
            *total.entry(d).or_default() += m as i128;
            if m < 0 {
                *used.entry(d).or_default() += -m;
            }
            if !table.cells[d as usize].status.is_masked() {
                here.insert(d);
            }
        }
        remaining -= step;
        if remaining == 0 {
            let mut moves: Vec<(u32, i128)> = total.into_iter().filter(|&(_, m)| m != 0).collect();
            moves.sort_unstable();
            // Cells a later piece moved back to zero are masked all the same.
            let mut mask: Vec<u32> = here.into_iter().collect();
            mask.sort_unstable();
            return Some((moves, mask));
        }
    }
    None
}

/// The best product for the next piece of `goal`: the least cost per unit
/// moved (ties: the most units), if any.
fn best<P: Prices>(table: &Table, prices: &P, c: u32, goal: &Goal) -> Option<Product> {
    let dims = table.dims.len();
    let target = table.coords(table.cells[c as usize].key);
    let mut found: Option<Product> = None;
    for anchor in anchors(table, &target, goal) {
        let mut cands: Vec<Vec<Vector>> = (0..dims)
            .map(|k| candidates(table, prices, &target, &anchor, k, goal))
            .collect();
        if cands.iter().any(|v| v.is_empty()) {
            continue;
        }
        // Fewest candidates first: the deepest pruning.
        let mut order: Vec<usize> = (0..dims).collect();
        order.sort_by_key(|&k| (cands[k].len(), k));
        let own: Vec<Vector> = (0..dims)
            .map(|k| own_chain(table, &target, &anchor, k))
            .collect();
        let mut search = Search {
            table,
            prices,
            goal,
            order,
            chosen: own.clone(),
            own,
            best: found.take(),
            evaluated: 0,
        };
        search.dfs(&mut cands, 0);
        found = search.best;
        if found.as_ref().is_some_and(|b| search_done(b, goal)) {
            break;
        }
    }
    found
}

/// Nothing can beat a free product that moves all that is left.
fn search_done(b: &Product, goal: &Goal) -> bool {
    b.cost == 0.0 && b.capacity >= goal.remaining
}

/// Cost per unit moved, and units moved (more is better), of a product.
fn score(p: &Product, goal: &Goal) -> (f64, i64) {
    let units = p.capacity.min(goal.remaining);
    (p.cost / units as f64, units)
}

/// Whether `a` is at least as good as `b` (deeper products are never
/// better than their part: cost only grows, capacity only shrinks).
fn no_worse(a: (f64, i64), b: (f64, i64)) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 >= b.1)
}

/// The target's node and the nodes below it down to the anchor's leaf,
/// all `+1`.
fn own_chain(table: &Table, target: &Coords, anchor: &Coords, k: usize) -> Vector {
    let h = &table.dims[k];
    let mut v: Vector = Vec::new();
    let mut m = anchor[k];
    while m != target[k] {
        v.push((m, 1));
        m = h.parent(m).expect("the anchor lies under the target");
    }
    v.push((m, 1));
    v.reverse();
    v
}

/// Leaf cells under the target (the target itself when it is one), each
/// reached by stepping down, one dimension at a time, to the existing
/// child cell with the most room; the first step tries the [`ANCHORS`]
/// roomiest. The anchor moves with the target, so when it moves down it
/// needs room.
fn anchors(table: &Table, target: &Coords, goal: &Goal) -> Vec<Coords> {
    let dims = table.dims.len();
    // Masked children first (they cost nothing), then the roomiest.
    let children = |co: &Coords| -> Vec<((bool, i64), Coords)> {
        let mut out = Vec::new();
        for k in 0..dims {
            for &ch in table.dims[k].children(co[k]) {
                let mut next = *co;
                next[k] = ch;
                if let Some(i) = table.find(table.key(&next[..dims])) {
                    out.push(((goal.masked(table, i), goal.room(i)), next));
                }
            }
        }
        out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        out
    };
    let first = children(target);
    if first.is_empty() {
        return vec![*target];
    }
    let mut out = Vec::new();
    for (_, start) in first.into_iter().take(goal.limits.anchors) {
        let mut co = start;
        while let Some(&(_, next)) = children(&co).first() {
            co = next;
        }
        let leaf = table
            .find(table.key(&co[..dims]))
            .expect("an existing cell");
        if (goal.sign > 0 || goal.room(leaf) > 0) && !out.contains(&co) {
            out.push(co);
        }
    }
    out
}

struct Search<'a, P> {
    table: &'a Table,
    prices: &'a P,
    goal: &'a Goal<'a>,
    order: Vec<usize>,
    /// Per dimension, the vector chosen so far (the target's own chain
    /// for dimensions not chosen yet: part of every candidate).
    chosen: Vec<Vector>,
    own: Vec<Vector>,
    best: Option<Product>,
    evaluated: usize,
}

impl<P: Prices> Search<'_, P> {
    fn dfs(&mut self, cands: &mut [Vec<Vector>], depth: usize) {
        if depth == self.order.len() {
            return;
        }
        let k = self.order[depth];
        let list = std::mem::take(&mut cands[k]);
        for v in &list {
            if self.evaluated >= self.goal.limits.products
                || self
                    .best
                    .as_ref()
                    .is_some_and(|b| search_done(b, self.goal))
            {
                break;
            }
            self.chosen[k] = v.clone();
            self.evaluated += 1;
            let Some(p) = self.product() else {
                continue;
            };
            let s = score(&p, self.goal);
            if self
                .best
                .as_ref()
                .is_some_and(|b| no_worse(score(b, self.goal), s))
            {
                continue; // a bound: deeper products hold these cells
            }
            if depth + 1 == self.order.len() {
                self.best = Some(p);
            } else {
                self.dfs(cands, depth + 1);
            }
        }
        self.chosen[k] = self.own[k].clone();
        cands[k] = list;
    }

    /// The cells of the product of the vectors chosen, if each exists, may
    /// be masked and has room to go down when it must (at least a unit);
    /// with the cost of masking them and the units it can move.
    fn product(&self) -> Option<Product> {
        let (table, goal) = (self.table, self.goal);
        let dims = self.chosen.len();
        let mut cells = Vec::new();
        let mut cost = 0.0;
        let mut capacity = i64::MAX;
        let mut idx = [0usize; MAX_DIMS];
        loop {
            let mut key = 0u64;
            let mut sign = 1i8;
            for k in 0..dims {
                let (n, s) = self.chosen[k][idx[k]];
                key += n as u64 * table.stride(k);
                sign *= s;
            }
            let d = table.find(key)?;
            if sign * goal.sign < 0 {
                capacity = capacity.min(goal.room(d));
                if capacity < 1 {
                    return None;
                }
            }
            if !goal.masked(table, d) {
                if !self.prices.maskable(table, d) {
                    return None;
                }
                cost += self.prices.cost(d);
            }
            cells.push((d as u32, sign));
            // Next index (odometer).
            let mut k = dims;
            loop {
                if k == 0 {
                    return Some(Product {
                        cells,
                        cost,
                        capacity,
                    });
                }
                k -= 1;
                idx[k] += 1;
                if idx[k] < self.chosen[k].len() {
                    break;
                }
                idx[k] = 0;
            }
        }
    }
}

/// The vectors of dimension `k` through the target's own chain (down to
/// the anchor's leaf), cheapest first, at most [`MAX_CANDIDATES`]: pairs
/// with a leaf under a sibling of the node (or of its nearest ancestors),
/// whose corner at the anchor's other coordinates exists (with room, when
/// it goes down); and the path up to the root. Only vectors whose cells at
/// the anchor's and at the target's other coordinates (cells of every
/// product through them) all exist and are masked or maskable.
fn candidates<P: Prices>(
    table: &Table,
    prices: &P,
    target: &Coords,
    anchor: &Coords,
    k: usize,
    goal: &Goal,
) -> Vec<Vector> {
    let h = &table.dims[k];
    let dims = table.dims.len();
    let at = |m: NodeId| -> Option<usize> {
        let mut co = *anchor;
        co[k] = m;
        table.find(table.key(&co[..dims]))
    };
    let at_target = |m: NodeId| -> Option<usize> {
        let mut co = *target;
        co[k] = m;
        table.find(table.key(&co[..dims]))
    };
    // What a vector costs at the anchor's and at the target's other
    // coordinates (cells every product through it holds); None when one
    // of those cells is missing or may not be masked: no product through
    // it exists.
    let cost_of = |v: &Vector| -> Option<f64> {
        let price = |i: Option<usize>| -> Option<f64> {
            let i = i?;
            if goal.masked(table, i) {
                Some(0.0)
            } else {
                prices.maskable(table, i).then(|| prices.cost(i))
            }
        };
        let mut sum = 0.0;
        for &(m, _) in v {
            sum += price(at(m))?;
            if anchor != target {
                sum += price(at_target(m))?;
            }
        }
        Some(sum)
    };
    let own = own_chain(table, target, anchor, k);
    let mut out: Vec<(f64, Vector)> = Vec::new();
    // Pairs, nearest levels first.
    let mut m = target[k];
    let mut up_part: Vec<NodeId> = Vec::new();
    while let Some(p) = h.parent(m) {
        for &s in h.children(p) {
            if s == m {
                continue;
            }
            let mut stack = vec![s];
            while let Some(x) = stack.pop() {
                if !h.is_leaf(x) {
                    stack.extend(h.children(x).iter().rev());
                    continue;
                }
                // The partner's corner goes the other way.
                let ok = at(x).is_some_and(|i| goal.sign < 0 || goal.room(i) > 0);
                if ok {
                    let mut v = own.clone();
                    v.extend(up_part.iter().map(|&u| (u, 1)));
                    let mut b = x;
                    while b != s {
                        v.push((b, -1));
                        b = h.parent(b).expect("under s");
                    }
                    v.push((s, -1));
                    if let Some(c) = cost_of(&v) {
                        out.push((c, v));
                    }
                }
            }
        }
        if out.len() >= goal.limits.candidates {
            break;
        }
        up_part.push(p);
        m = p;
    }
    // The path up to the root.
    let mut v = own.clone();
    v.extend(h.ancestors(target[k]).into_iter().skip(1).map(|u| (u, 1)));
    if let Some(c) = cost_of(&v) {
        out.push((c, v));
    }
    // Cheapest first (ties: the order built, deterministic).
    let mut keyed: Vec<(f64, usize, Vector)> = out
        .into_iter()
        .enumerate()
        .map(|(i, (c, v))| (c, i, v))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    keyed
        .into_iter()
        .take(goal.limits.candidates)
        .map(|(_, _, v)| v)
        .collect()
}
