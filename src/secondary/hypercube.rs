//! Hypercubes: each masked cell's protecting pattern chosen without any
//! LP, on tables of three dimensions or more, where LPs over whole
//! components cost too much (issue 15).
//!
//! In one dimension, a vector `v` over the nodes of the tree keeps every
//! equation of that tree (`v(parent) = sum v(children)`) when it is a
//! *pair*: `+1` on the node, `-1` on another node (a sibling of it or of
//! its nearest ancestor with one), each with one path down to a leaf, zero
//! above where they meet; or a *path*: `+1` on the node, a path down to a
//! leaf and every ancestor up to the root. The tensor product `v_1 x ... x
//! v_D` of one such vector per dimension keeps *every* equation of the
//! table, whatever its other cells, as long as each cell it moves exists.
//! Scaled by the cell's protection level, it is an exact witness in whole
//! units, made by construction and checked like any other by the
//! certificate. For a detailed cell of a three-dimensional table with
//! siblings in every dimension it is the classic cube of 8 cells (GHMITER,
//! τ-ARGUS's hypercube method), here with the table's hierarchies and its
//! empty cells taken into account.
//!
//! [`cover`] gives each primary cell (aggregates first), in each direction,
//! a *pattern*: a sum of such products, each scaled by what its cells can
//! give (a cell moved down stays `>= 0`), chosen greedily by cost per unit
//! of the level met, whose cells all exist and may be masked; it masks
//! them. A big level thus spreads over several small cells rather than
//! masking one big one, as the LP patterns do. Masked cells that are not
//! primary get one moving them by a unit. What it cannot cover goes on to
//! the LP-based steps of `fast`.
//!
//! # Complexity
//! Per cell and direction, at most [`MAX_PIECES`] branch and bounds over
//! [`ANCHORS`] corners and at most [`MAX_CANDIDATES`] vectors per dimension
//! ([`MAX_PRODUCTS`] products), each product checked by hash look-ups of
//! its cells (8 for a detailed cell of a 3-dimensional table): linear in
//! the number of masked cells, no LP.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::audit::target_of;
use crate::certify::witness::{Proofs, Witness, Q};
use crate::hierarchy::NodeId;
use crate::read::MAX_DIMS;
use crate::table::{Status, Table};

use super::instance::Instance;

/// Vectors tried per dimension (the cheapest first): bounds the search.
pub const MAX_CANDIDATES: usize = 12;

/// Products evaluated per piece before the best one so far is taken (a
/// count, so that the masking never depends on the machine).
pub const MAX_PRODUCTS: usize = 4_000;

/// Leaf cells under a target tried as the corner its product grows from.
pub const ANCHORS: usize = 3;

/// Products summed into one pattern at most.
pub const MAX_PIECES: usize = 64;

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
    /// Through masked cells only.
    free_only: bool,
}

impl Goal<'_> {
    /// What cell `d` can still be lowered by.
    fn room(&self, table: &Table, d: usize) -> i64 {
        table.cells[d].value - self.used.get(&(d as u32)).copied().unwrap_or(0)
    }

    fn masked(&self, table: &Table, d: usize) -> bool {
        table.cells[d].status.is_masked() || self.here.contains(&(d as u32))
    }
}

/// What [`cover`] did.
#[derive(Debug, Default)]
pub struct Covered {
    /// Patterns kept (each one witness: whole units, anchored at the truth).
    pub witnesses: usize,
    /// Cells it masked (net of those it published again).
    pub masked: usize,
    /// Cells it published again: their patterns went through masked cells.
    pub thinned: usize,
    /// Cells it could not cover (left to the LP-based steps).
    pub left: usize,
}

/// One cell's pattern in one direction.
struct Pat {
    target: u32,
    sign: i8,
    units: i64,
    moves: Vec<(u32, i128)>,
}

/// The patterns found, and which patterns move each cell.
struct Patterns {
    list: Vec<Option<Pat>>,
    uses: Vec<Vec<u32>>,
}

impl Patterns {
    fn push(&mut self, p: Pat) {
        let id = self.list.len() as u32;
        for &(d, _) in &p.moves {
            self.uses[d as usize].push(id);
        }
        self.list.push(Some(p));
    }

    fn remove(&mut self, id: u32) -> Pat {
        let p = self.list[id as usize].take().expect("a live pattern");
        for &(d, _) in &p.moves {
            self.uses[d as usize].retain(|&x| x != id);
        }
        p
    }

    /// Whether the patterns moving cell `c` still give it what it needs.
    fn covers(&self, table: &Table, c: u32) -> bool {
        let (mut up, mut down) = (0i128, 0i128);
        for &id in &self.uses[c as usize] {
            let p = self.list[id as usize].as_ref().expect("live");
            let m = p.moves.iter().find(|&&(d, _)| d == c).map_or(0, |x| x.1);
            up = up.max(m);
            down = down.max(-m);
        }
        match levels(&table.cells[c as usize]) {
            Some((need_up, need_down)) => up >= need_up as i128 && down >= need_down as i128,
            None => up >= 1 || down >= 1,
        }
    }
}

/// What a primary cell's patterns must move it by, up and down (a unit at
/// least upwards, so that its interval is a unit wide; never below 0);
/// None for a cell that is not primary (a unit either way will do).
fn levels(cell: &crate::table::Cell) -> Option<(i64, i64)> {
    (cell.status == Status::Primary && !cell.rules.is_empty()).then(|| {
        (
            cell.upper_protection.max(1),
            cell.lower_protection.min(cell.value).max(0),
        )
    })
}

/// Gives every masked cell of `table` that `proofs` (anchored at the true
/// values) does not already cover a pattern of hypercubes in each
/// direction it needs (see the module docs), masking the cells they need
/// and adding their witnesses to `proofs`; cells masked along the way are
/// covered too. Then [`thin`] publishes again what it can.
pub fn cover(table: &mut Table, inst: &Instance, proofs: &mut Proofs) -> Covered {
    let mut out = Covered::default();
    let start = proofs.clone();
    let before: Vec<bool> = table.cells.iter().map(|c| c.status.is_masked()).collect();
    let mut pats = Patterns {
        list: Vec::new(),
        uses: vec![Vec::new(); table.cells.len()],
    };
    // Cells the singleton closure masked: kept.
    let mut kept = vec![false; table.cells.len()];
    let mut done = vec![false; table.cells.len()];
    loop {
        // Aggregates first (their patterns mask the cells the detail
        // then reuses), then table order: deterministic.
        let mut todo: Vec<u32> = (0..table.cells.len() as u32)
            .filter(|&c| !done[c as usize] && table.cells[c as usize].status.is_masked())
            .collect();
        if todo.is_empty() {
            break;
        }
        let depth = |c: u32| -> u32 {
            let co = table.coords(table.cells[c as usize].key);
            (0..table.dims.len())
                .map(|k| table.dims[k].depth(co[k]) as u32)
                .sum()
        };
        todo.sort_by_key(|&c| (depth(c), c));
        for c in todo {
            done[c as usize] = true;
            let cell = &table.cells[c as usize];
            let value = Q::int(cell.value as i128);
            let (lo, hi) = proofs.range(c as usize);
            // What earlier patterns already prove is not searched again.
            if hi.exceeds_by(lo, 1) && target_of(cell, true).met_by(lo, hi) {
                continue;
            }
            // (sign, units) to reach, beyond what is proven.
            let goals: Vec<Vec<(i8, i64)>> = if let Some((up, down)) = levels(cell) {
                let mut g = Vec::new();
                if !hi.exceeds_by(value, up as i128) {
                    g.push(vec![(1, up)]);
                }
                if down > 0 && !value.exceeds_by(lo, down as i128) {
                    g.push(vec![(-1, down)]);
                }
                g
            } else {
                // A unit either way.
                vec![vec![(1, 1), (-1, 1)]]
            };
            for options in goals {
                let found = options.iter().find_map(|&(sign, units)| {
                    pattern(table, inst, c, sign, units, false).map(|p| (p, sign, units))
                });
                let Some(((moves, mask), sign, units)) = found else {
                    out.left += 1;
                    break;
                };
                for d in mask {
                    table.cells[d as usize].status = Status::Secondary;
                }
                proofs.add(Witness {
                    den: 1,
                    moves: moves.clone(),
                });
                pats.push(Pat {
                    target: c,
                    sign,
                    units,
                    moves,
                });
            }
        }
        // The singleton problem's closure may mask more: those get
        // patterns in the next pass.
        let masked_now: Vec<bool> = table.cells.iter().map(|c| c.status.is_masked()).collect();
        super::repair::close_singletons(table, inst);
        for (i, c) in table.cells.iter().enumerate() {
            if c.status.is_masked() && !masked_now[i] {
                kept[i] = true;
            }
        }
    }
    if out.left == 0 {
        out.thinned = thin(table, inst, &mut pats, &kept, &before);
    }
    *proofs = start;
    for p in pats.list.into_iter().flatten() {
        if proofs.add(Witness {
            den: 1,
            moves: p.moves,
        }) {
            out.witnesses += 1;
        }
    }
    out.masked = table
        .cells
        .iter()
        .zip(&before)
        .filter(|(c, &b)| c.status.is_masked() && !b)
        .count();
    out
}

/// Publishes again, most costly first, each cell [`cover`] masked whose
/// patterns all find another way through cells masked already (and whose
/// publication leaves no two single-contributor primaries alone in an
/// equation), while every masked cell keeps what it needs. Returns the
/// cells published again.
fn thin(
    table: &mut Table,
    inst: &Instance,
    pats: &mut Patterns,
    kept: &[bool],
    before: &[bool],
) -> usize {
    let mut order: Vec<u32> = (0..table.cells.len() as u32)
        .filter(|&c| {
            let i = c as usize;
            table.cells[i].status == Status::Secondary && !before[i] && !kept[i]
        })
        .collect();
    order.sort_by(|&a, &b| {
        inst.costs[b as usize]
            .total_cmp(&inst.costs[a as usize])
            .then(a.cmp(&b))
    });
    let mut thinned = 0;
    'cells: for s in order {
        table.cells[s as usize].status = Status::Published;
        let singleton_problem = inst.eqs_of[s as usize].iter().any(|&e| {
            let masked: Vec<u32> = inst.eqs[e as usize]
                .terms()
                .map(|(c, _)| c)
                .filter(|&c| table.cells[c as usize].status.is_masked())
                .collect();
            masked.len() == 2
                && masked
                    .iter()
                    .all(|&c| super::instance::is_singleton(&table.cells[c as usize]))
        });
        if singleton_problem {
            table.cells[s as usize].status = Status::Secondary;
            continue;
        }
        let affected: Vec<u32> = pats.uses[s as usize].clone();
        let mut fresh = Vec::with_capacity(affected.len());
        for &id in &affected {
            let p = pats.list[id as usize].as_ref().expect("live");
            if p.target == s {
                continue; // published, it needs none
            }
            match pattern(table, inst, p.target, p.sign, p.units, true) {
                Some((moves, _)) => fresh.push(Pat {
                    target: p.target,
                    sign: p.sign,
                    units: p.units,
                    moves,
                }),
                None => {
                    table.cells[s as usize].status = Status::Secondary;
                    continue 'cells;
                }
            }
        }
        let old: Vec<Pat> = affected.iter().map(|&id| pats.remove(id)).collect();
        let first_new = pats.list.len() as u32;
        for p in fresh {
            pats.push(p);
        }
        let touched: Vec<u32> = old
            .iter()
            .flat_map(|p| p.moves.iter().map(|&(d, _)| d))
            .filter(|&d| table.cells[d as usize].status.is_masked())
            .collect();
        if touched.iter().all(|&d| pats.covers(table, d)) {
            thinned += 1;
            continue;
        }
        // Undo.
        for id in first_new..pats.list.len() as u32 {
            pats.remove(id);
        }
        for p in old {
            pats.push(p);
        }
        table.cells[s as usize].status = Status::Secondary;
    }
    thinned
}

/// A pattern moving cell `c` by `sign * units`: the moves (by cell, no
/// zero) of a sum of products and the published cells it needs masked, or
/// None when the pieces run out first.
fn pattern(
    table: &Table,
    inst: &Instance,
    c: u32,
    sign: i8,
    units: i64,
    free_only: bool,
) -> Option<(Vec<(u32, i128)>, Vec<u32>)> {
    let mut used: FxHashMap<u32, i64> = FxHashMap::default();
    let mut here: FxHashSet<u32> = FxHashSet::default();
    let mut total: FxHashMap<u32, i128> = FxHashMap::default();
    let mut remaining = units;
    for _ in 0..MAX_PIECES {
        let goal = Goal {
            sign,
            remaining,
            used: &used,
            here: &here,
            free_only,
        };
        let p = best(table, inst, c, &goal)?;
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
fn best(table: &Table, inst: &Instance, c: u32, goal: &Goal) -> Option<Product> {
    let dims = table.dims.len();
    let target = table.coords(table.cells[c as usize].key);
    let mut found: Option<Product> = None;
    for anchor in anchors(table, &target, goal) {
        let mut cands: Vec<Vec<Vector>> = (0..dims)
            .map(|k| candidates(table, inst, &target, &anchor, k, goal))
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
            inst,
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
    (p.cost, units)
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
                    out.push(((goal.masked(table, i), goal.room(table, i)), next));
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
    for (_, start) in first.into_iter().take(ANCHORS) {
        let mut co = start;
        while let Some(&(_, next)) = children(&co).first() {
            co = next;
        }
        let leaf = table
            .find(table.key(&co[..dims]))
            .expect("an existing cell");
        if (goal.sign > 0 || goal.room(table, leaf) > 0) && !out.contains(&co) {
            out.push(co);
        }
    }
    out
}

struct Search<'a> {
    table: &'a Table,
    inst: &'a Instance,
    goal: &'a Goal<'a>,
    order: Vec<usize>,
    /// Per dimension, the vector chosen so far (the target's own chain
    /// for dimensions not chosen yet: part of every candidate).
    chosen: Vec<Vector>,
    own: Vec<Vector>,
    best: Option<Product>,
    evaluated: usize,
}

impl Search<'_> {
    fn dfs(&mut self, cands: &mut [Vec<Vector>], depth: usize) {
        if depth == self.order.len() {
            return;
        }
        let k = self.order[depth];
        let list = std::mem::take(&mut cands[k]);
        for v in &list {
            if self.evaluated >= MAX_PRODUCTS
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
                capacity = capacity.min(goal.room(table, d));
                if capacity < 1 {
                    return None;
                }
            }
            if !goal.masked(table, d) {
                if goal.free_only || !self.inst.maskable(table, d as u32) {
                    return None;
                }
                cost += self.inst.costs[d];
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
/// it goes down); and the path up to the root.
fn candidates(
    table: &Table,
    inst: &Instance,
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
    let own = own_chain(table, target, anchor, k);
    let mut out: Vec<Vector> = Vec::new();
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
                let ok = at(x).is_some_and(|i| goal.sign < 0 || goal.room(table, i) > 0);
                if ok {
                    let mut v = own.clone();
                    v.extend(up_part.iter().map(|&u| (u, 1)));
                    let mut b = x;
                    while b != s {
                        v.push((b, -1));
                        b = h.parent(b).expect("under s");
                    }
                    v.push((s, -1));
                    out.push(v);
                }
            }
        }
        if out.len() >= MAX_CANDIDATES {
            break;
        }
        up_part.push(p);
        m = p;
    }
    // The path up to the root.
    let mut v = own.clone();
    v.extend(h.ancestors(target[k]).into_iter().skip(1).map(|u| (u, 1)));
    out.push(v);
    // Cheapest first, by what they cost at the target's and at the
    // anchor's other coordinates (ties: the order built, deterministic).
    let at_target = |m: NodeId| -> Option<usize> {
        let mut co = *target;
        co[k] = m;
        table.find(table.key(&co[..dims]))
    };
    let cost_of = |v: &Vector| -> f64 {
        let price = |i: Option<usize>| match i {
            Some(i) if !goal.masked(table, i) => inst.costs[i],
            _ => 0.0,
        };
        v.iter()
            .map(|&(m, _)| {
                price(at(m))
                    + if anchor == target {
                        0.0
                    } else {
                        price(at_target(m))
                    }
            })
            .sum()
    };
    let mut keyed: Vec<(f64, usize, Vector)> = out
        .into_iter()
        .enumerate()
        .map(|(i, v)| (cost_of(&v), i, v))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    keyed
        .into_iter()
        .take(MAX_CANDIDATES)
        .map(|(_, _, v)| v)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::aggregate::aggregate;
    use crate::hierarchy::Hierarchy;
    use crate::read::{Contribution, TableData};
    use crate::rules::Cost;
    use crate::table::RuleSet;

    /// A three-dimensional table, `leaves` leaves under each root, every
    /// detailed cell present with its own contributor, value `value(leaf)`.
    fn table(leaves: u32, value: impl Fn([u32; 3]) -> i64) -> Table {
        let tree = |name: &str| {
            let mut text = format!("{name},\n");
            for l in 0..leaves {
                text.push_str(&format!("{name}{l},{name}\n"));
            }
            Arc::new(Hierarchy::from_csv_text(Path::new("h.csv"), &text).unwrap())
        };
        let dims = [tree("a"), tree("b"), tree("c")];
        let mut contributions = Vec::new();
        for a in 1..=leaves {
            for b in 1..=leaves {
                for c in 1..=leaves {
                    let mut leaf = [0; MAX_DIMS];
                    leaf[..3].copy_from_slice(&[a, b, c]);
                    contributions.push(Contribution {
                        unit: contributions.len() as u32,
                        leaf,
                        value: value([a, b, c]),
                    });
                }
            }
        }
        let data = TableData {
            split: vec![],
            contributions,
        };
        aggregate(&data, &dims, 1).unwrap()
    }

    fn make_primary(t: &mut Table, coords: [u32; 3], level: i64) -> u32 {
        let c = t.find(t.key(&coords)).unwrap();
        let cell = &mut t.cells[c];
        cell.status = Status::Primary;
        cell.rules = RuleSet::FREQUENCY;
        cell.upper_protection = level;
        cell.lower_protection = level;
        c as u32
    }

    fn instance(t: &mut Table) -> Instance {
        Instance::new(
            t,
            &["a".into(), "b".into(), "c".into()],
            Cost::Value,
            &[],
            &[],
        )
        .unwrap()
    }

    /// Cell `at` made primary with levels `level`, then covered: the
    /// proofs, checked valid, with the cell's position.
    fn covered(t: &mut Table, at: [u32; 3], level: i64) -> (Proofs, u32) {
        let x = make_primary(t, at, level);
        let inst = instance(t);
        let mut proofs = Proofs::at_truth(t);
        let out = cover(t, &inst, &mut proofs);
        assert_eq!(out.left, 0);
        assert_valid(t, &inst, &proofs);
        (proofs, x)
    }

    /// Every witness keeps every equation exactly, moves masked cells only
    /// and keeps them `>= 0`.
    fn assert_valid(t: &Table, inst: &Instance, proofs: &Proofs) {
        for w in &proofs.witnesses {
            let moved: FxHashMap<u32, i128> = w.moves.iter().copied().collect();
            for &(c, m) in &w.moves {
                assert!(
                    t.cells[c as usize].status.is_masked(),
                    "moves a published cell"
                );
                assert!(t.cells[c as usize].value as i128 + m >= 0, "a cell below 0");
            }
            for e in &inst.eqs {
                let sum: i128 = e
                    .terms()
                    .map(|(c, coef)| coef as i128 * moved.get(&c).copied().unwrap_or(0))
                    .sum();
                assert_eq!(sum, 0, "an equation broken");
            }
        }
    }

    /// A detailed primary cell among published cells, all of value 100:
    /// its pattern is the cube of 8 detailed cells around it, moving it
    /// up and down by its level, and no total is masked.
    #[test]
    fn a_detailed_cell_gets_the_cube_of_eight() {
        let mut t = table(2, |_| 100);
        let (proofs, x) = covered(&mut t, [1, 1, 1], 30);
        let masked: Vec<[u32; 3]> = t
            .cells
            .iter()
            .filter(|c| c.status.is_masked())
            .map(|c| {
                let co = t.coords(c.key);
                [co[0], co[1], co[2]]
            })
            .collect();
        assert_eq!(masked.len(), 8, "{masked:?}");
        assert!(
            masked.iter().all(|co| co.iter().all(|&n| n != 0)),
            "a total masked"
        );
        let (lo, hi) = proofs.range(x as usize);
        assert_eq!((lo, hi), (Q::int(70), Q::int(130)));
    }

    /// A level bigger than any one neighbour can give is spread over
    /// several cubes (a pattern of pieces), each cell staying `>= 0`.
    #[test]
    fn a_big_level_spreads_over_pieces() {
        let mut t = table(3, |l| if l == [1, 1, 1] { 100 } else { 10 });
        let (proofs, x) = covered(&mut t, [1, 1, 1], 25);
        let (lo, hi) = proofs.range(x as usize);
        assert!(hi >= Q::int(125) && lo <= Q::int(75), "{lo:?} {hi:?}");
        assert!(t.cells.iter().filter(|c| c.status.is_masked()).count() > 8);
    }

    /// An aggregate primary (a margin of the first dimension) is moved
    /// against another margin, down to detailed cells, equations kept.
    #[test]
    fn an_aggregate_is_covered_with_its_detail() {
        let mut t = table(2, |_| 50);
        let (proofs, x) = covered(&mut t, [1, 0, 0], 20);
        let (lo, hi) = proofs.range(x as usize);
        let v = t.cells[x as usize].value as i128;
        assert!(hi >= Q::int(v + 20) && lo <= Q::int(v - 20));
        assert!(
            !t.cells[0].status.is_masked(),
            "the grand total stays published"
        );
    }
}
