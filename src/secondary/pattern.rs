//! The fast method's step: one small LP per under-protected cell and
//! direction, finding the cheapest *protecting pattern* around it.
//!
//! A pattern is a deviation `d` of the cell values that keeps every
//! equation true, moves the primary cell by its protection level and moves
//! no published cell. If such a `d` exists among the masked cells, the
//! attacker cannot exclude `x + d`, so the primary is protected in that
//! direction; every cell `d` moves is masked, and each of them gets a
//! non-zero interval too. Masking more cells later only widens intervals,
//! so patterns found early stay valid.
//!
//! The LP (after Fischetti and Salazar-González's heuristic): variables
//! `u_j, w_j >= 0` (up and down moves, `w_j <= value_j` as cells stay
//! non-negative), `sum coef (u - w) = 0` on every equation, the primary
//! moved by its level, cost `cost_j` per unit of move through a published
//! cell and almost nothing through masked ones. The support is masked.
//!
//! Lone cells: a masked cell alone among published cells in an equation is
//! disclosed by subtraction. Before any check, [`mask_lone`] gives each one
//! the cheapest pattern of the smallest width the audit accepts, looked for
//! in its neighbourhood, then in the whole table: a cheaper choice than
//! masking the cheapest cell of the equation and going on from there (the
//! closure of [`super::repair`], which left `fast` 20–42% above the optimum
//! on the regrouped DROM tables). Aggregates go first: their patterns,
//! through the big cells, give their detail company. On tables too big for
//! a whole-table model, what no neighbourhood settles goes to the closure.
//!
//! Decomposition: the LP of a cell only spans its neighbourhood — in
//! every dimension, the subtree of the node's parent down to the depth of
//! the node's own detail, then grown one dimension at a time (the one
//! keeping it smallest) up to the roots, then the whole table; cells
//! outside are held fixed, so a pattern found there is a pattern of the
//! whole table. A neighbourhood of more than [`WHOLE_FROM`] cells is left
//! to one model of the whole table kept warm between solves (tables up to
//! [`WHOLE_MAX_CELLS`]), for lone cells and failing cells alike. Tables
//! too are independent and solved in parallel; on bigger tables the
//! failing cells' patterns are searched in fixed groups of branches side
//! by side ([`split_by_branch`]).

use highs::{Col, HighsModelStatus, RowProblem};
use rayon::prelude::*;

use crate::audit::equations::Equation;
use crate::audit::exact::{self, Point};
use crate::audit::lp::{self, quiet_model, LpError, System};
use crate::audit::neighbourhood::Neighbourhood;
use crate::audit::{target_of, Failure, FailureKind};
use crate::certify::witness::{Proofs, Witness, Q};
use crate::table::{Status, Table};

use super::instance::{aim, Forced, Instance};

/// A move smaller than this (relative to the level) is solver noise.
const SUPPORT_TOL: f64 = 1e-7;

/// Direction of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// Masks a protecting pattern for each failing cell of an audit, in
/// decreasing order of protection level: in the directions where its
/// interval falls short (upwards only for a secondary cell disclosed
/// exactly); neighbourhoods grown past [`WHOLE_FROM`] cells are handed to
/// the whole table's warm model, as in [`mask_lone`] (the 4-year DROM batch
/// 142 s -> 108 s). Returns the cells masked and the LPs solved.
///
/// Each pattern found, made exact, is a witness once its cells are
/// masked: it goes to `proofs`, so that the next check need not prove
/// what it moves again.
pub fn mask_patterns(
    table: &mut Table,
    inst: &Instance,
    failures: &[Failure],
    proofs: &mut Proofs,
) -> Result<(usize, usize), LpError> {
    let mut cells: Vec<u32> = failures
        .iter()
        .filter(|f| f.kind != FailureKind::PrimaryPublished)
        .map(|f| f.cell)
        .collect();
    cells.dedup();
    let level = |c: u32| {
        let cell = &table.cells[c as usize];
        cell.upper_protection.max(cell.lower_protection)
    };
    cells.sort_by(|&a, &b| level(b).cmp(&level(a)).then(a.cmp(&b)));
    if table.cells.len() <= WHOLE_MAX_CELLS || cells.len() < SPLIT_FROM {
        return pattern_pass(table, inst, &cells, proofs);
    }
    // Big tables: cells under no branch first, then the branches in
    // groups side by side, each from the masking before them.
    let (first, groups) = split_by_branch(table, &cells);
    let (mut masked, mut solves) = pattern_pass(table, inst, &first, proofs)?;
    let known = proofs.witnesses.len();
    let results: Vec<Result<Group, LpError>> = groups
        .par_iter()
        .map(|cells| {
            let (mut t, mut p) = (table.clone(), proofs.clone());
            let (_, solves) = pattern_pass(&mut t, inst, cells, &mut p)?;
            let newly = (0..t.cells.len() as u32)
                .filter(|&c| {
                    t.cells[c as usize].status.is_masked()
                        && !table.cells[c as usize].status.is_masked()
                })
                .collect();
            Ok(Group {
                newly,
                witnesses: p.witnesses.split_off(known),
                solves,
            })
        })
        .collect();
    // Every group's masks and witnesses, in group order.
    for g in results {
        let g = g?;
        solves += g.solves;
        for c in g.newly {
            let cell = &mut table.cells[c as usize];
            if !cell.status.is_masked() {
                cell.status = Status::Secondary;
                masked += 1;
            }
        }
        for w in g.witnesses {
            proofs.add(w);
        }
    }
    Ok((masked, solves))
}

/// What one group of [`split_by_branch`] masked and proved.
struct Group {
    newly: Vec<u32>,
    witnesses: Vec<Witness>,
    solves: usize,
}

/// Groups of branches a big table's patterns are searched in (a fixed
/// number: the masking must not depend on the threads).
const GROUPS: usize = 4;

/// Failing cells from which a big table's patterns are searched in
/// groups side by side (see [`split_by_branch`]).
const SPLIT_FROM: usize = 64;

/// Splits cells (in order) by their branch: the node just under the root
/// of the dimension with the most such branches among them. Cells at that
/// dimension's root come first (their patterns span branches); the
/// branches go to [`GROUPS`] groups of about equal counts. A pattern moves
/// cells near its own, so the groups seldom meet; when they do, each only
/// misses the others' masks (safe: more masked cells never void a
/// pattern). The split depends on the cells alone, never on the threads.
fn split_by_branch(table: &Table, cells: &[u32]) -> (Vec<u32>, Vec<Vec<u32>>) {
    let branch =
        |c: u32, k: usize| table.dims[k].branch(table.coords(table.cells[c as usize].key)[k]);
    let dim = (0..table.dims.len())
        .max_by_key(|&k| {
            let mut b: Vec<u32> = cells.iter().filter_map(|&c| branch(c, k)).collect();
            b.sort_unstable();
            b.dedup();
            (b.len(), std::cmp::Reverse(k))
        })
        .unwrap_or(0);
    let mut counts: std::collections::BTreeMap<u32, usize> = Default::default();
    for &c in cells {
        if let Some(b) = branch(c, dim) {
            *counts.entry(b).or_default() += 1;
        }
    }
    let mut order: Vec<(u32, usize)> = counts.into_iter().collect();
    order.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let mut group_of: std::collections::BTreeMap<u32, usize> = Default::default();
    let mut sizes = [0usize; GROUPS];
    for (b, n) in order {
        let g = (0..GROUPS).min_by_key(|&g| (sizes[g], g)).expect("groups");
        sizes[g] += n;
        group_of.insert(b, g);
    }
    let mut first = Vec::new();
    let mut groups = vec![Vec::new(); GROUPS];
    for &c in cells {
        match branch(c, dim) {
            None => first.push(c),
            Some(b) => groups[group_of[&b]].push(c),
        }
    }
    (first, groups)
}

/// Patterns for `cells`, one after the other in that order (see
/// [`mask_patterns`]); a cell an earlier pattern protects is skipped.
fn pattern_pass(
    table: &mut Table,
    inst: &Instance,
    cells: &[u32],
    proofs: &mut Proofs,
) -> Result<(usize, usize), LpError> {
    let mut lps = Lps::new(table);
    let (mut masked, mut solves) = (0, 0);
    for &p in cells {
        let cell = &table.cells[p as usize];
        let t = cell.value as f64;
        let target = target_of(cell, true);
        let (low, high) = proofs.range(p as usize);
        // Aims past the levels (see `aim`), in whole units.
        let up = aim(cell.upper_protection.max(inst.min_width as i64));
        let down = aim(cell.lower_protection).min(t);
        let mut wanted = Vec::new();
        let reached = |to: Option<i128>, above: bool| {
            to.is_none_or(|v| {
                if above {
                    high >= Q::int(v)
                } else {
                    low <= Q::int(v)
                }
            })
        };
        if !reached(target.up, true) || !high.exceeds_by(low, 1) {
            wanted.push((Direction::Up, up));
        }
        if cell.lower_protection > 0 && !reached(target.down, false) {
            wanted.push((Direction::Down, down));
        }
        for (dir, amount) in wanted {
            let mut around = Neighbourhood::new(table, p);
            let found = loop {
                let cells = around.cells(table);
                solves += 1;
                if cells.len() > WHOLE_FROM && whole_fits(table) {
                    break lps.whole(table, inst, p, dir, amount)?;
                }
                if cells.len() > WHOLE_MAX_CELLS_COLD && !lp::warm_starts_pay(table) {
                    // Left to repair and the audit (see WHOLE_MAX_CELLS_COLD).
                    break None;
                }
                match lps.part(table, inst, &cells, p, dir, amount)? {
                    Some(moves) => break Some(moves),
                    // No pattern even in the whole table: repair and the audit decide.
                    None if !around.grow(table) => break None,
                    None => {}
                }
            };
            if let Some(moves) = found {
                masked += lps.take(table, inst, &moves, p, dir, amount, proofs);
            }
        }
    }
    Ok((masked, solves))
}

/// Gives every lone cell (alone among published cells in one of its
/// equations) a pattern moving it up by the smallest width the audit
/// accepts, aggregates first (by depth in the hierarchies, then table
/// order), each with the cells masked so far free; a cell given company by
/// an earlier pattern is skipped. Each neighbourhood bigger than
/// [`WHOLE_FROM`] cells, or without a pattern, is handed to one model of the
/// whole table kept warm between solves (tables up to [`WHOLE_MAX_CELLS`]).
/// Adds each pattern, made exact, to `proofs`; returns the cells masked,
/// the LPs solved and the lone cells left without a pattern.
pub fn mask_lone(
    table: &mut Table,
    inst: &Instance,
    proofs: &mut Proofs,
) -> Result<(usize, usize, usize), LpError> {
    let depth = |c: u32| -> u32 {
        let coords = table.coords(table.cells[c as usize].key);
        table
            .dims
            .iter()
            .enumerate()
            .map(|(k, h)| u32::from(h.depth(coords[k])))
            .sum()
    };
    let mut cells = lone_cells(table, inst);
    cells.sort_by_key(|&c| (depth(c), c));
    let amount = unit(inst);
    let mut lps = Lps::new(table);
    let (whole, part_max) = (whole_fits(table), part_max(table));
    let (mut masked, mut solves, mut left) = (0, 0, 0);
    for p in cells {
        if !is_lone(table, inst, p) {
            continue;
        }
        // Grown while it stays small, where the whole table's model is the
        // alternative: a cold LP over a few hundred cells costs a tenth of a
        // warm whole-table solve (national 0.01).
        let mut around = Neighbourhood::new(table, p);
        let mut found = None;
        while let Some(mut cells) = around.cells_upto(table, Some, part_max) {
            cells.sort_unstable();
            solves += 1;
            found = lps.part(table, inst, &cells, p, Direction::Up, amount)?;
            if found.is_some() || !whole || !around.grow(table) || around.span() > LONE_SPAN {
                break;
            }
        }
        if found.is_none() && whole {
            solves += 1;
            found = lps.whole(table, inst, p, Direction::Up, amount)?;
        }
        let Some(moves) = found else {
            left += 1;
            continue;
        };
        masked += lps.take(table, inst, &moves, p, Direction::Up, amount, proofs);
    }
    Ok((masked, solves, left))
}

/// The smallest amount a pattern moves a cell by: the smallest width the
/// audit accepts, with the margin. The whole-table model's unit.
fn unit(inst: &Instance) -> f64 {
    inst.min_width
}

/// Whether the table is small enough for a whole-table model (warm up to
/// [`WHOLE_MAX_CELLS`] cells; cold, where warm re-solves do not pay, up to
/// [`WHOLE_MAX_CELLS_COLD`]).
fn whole_fits(table: &Table) -> bool {
    let n = table.cells.len();
    if lp::warm_starts_pay(table) {
        n <= WHOLE_MAX_CELLS
    } else {
        n <= WHOLE_MAX_CELLS_COLD
    }
}

/// The pattern LPs of one step: cold LPs over parts of the table (their
/// cells' positions in `slot`), and the whole table's warm model, built at
/// its first use and told of every cell masked since.
struct Lps {
    slot: Vec<u32>,
    whole: Option<WholeModel>,
}

impl Lps {
    fn new(table: &Table) -> Lps {
        Lps {
            slot: vec![u32::MAX; table.cells.len()],
            whole: None,
        }
    }

    /// The cheapest pattern moving `p` by `amount` in `dir` within `cells`.
    fn part(
        &mut self,
        table: &Table,
        inst: &Instance,
        cells: &[u32],
        p: u32,
        dir: Direction,
        amount: f64,
    ) -> Result<Option<Vec<(u32, f64)>>, LpError> {
        solve_pattern(table, inst, cells, &mut self.slot, p, dir, amount)
    }

    /// The same over the whole table (see [`whole_fits`]): with its warm
    /// model, or cold where warm re-solves do not pay
    /// ([`lp::warm_starts_pay`]: tables of three dimensions).
    fn whole(
        &mut self,
        table: &Table,
        inst: &Instance,
        p: u32,
        dir: Direction,
        amount: f64,
    ) -> Result<Option<Vec<(u32, f64)>>, LpError> {
        if !lp::warm_starts_pay(table) {
            let all: Vec<u32> = (0..table.cells.len() as u32).collect();
            return self.part(table, inst, &all, p, dir, amount);
        }
        self.whole
            .get_or_insert_with(|| WholeModel::new(table, inst, unit(inst)))
            .solve(p, dir, amount)
    }

    /// Takes a pattern moving `p` by `amount` in `dir`: masks the cells
    /// it moves and adds it, made exact, to `proofs` (once they are
    /// masked, it is a witness). Returns how many it newly masked.
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        table: &mut Table,
        inst: &Instance,
        moves: &[(u32, f64)],
        p: u32,
        dir: Direction,
        amount: f64,
        proofs: &mut Proofs,
    ) -> usize {
        let mut newly = 0;
        for &(c, _) in moves {
            let cell = &mut table.cells[c as usize];
            if cell.status == Status::Published {
                cell.status = Status::Secondary;
                newly += 1;
                if let Some(model) = self.whole.as_mut() {
                    model.masked(c);
                }
            }
        }
        if let Some(w) = exact_pattern(table, inst, moves, p, dir, amount) {
            proofs.add(w);
        }
        newly
    }
}

/// A pattern made exact: its cells' moves solved in integers (or
/// rationals) from its structure, `p` moved by exactly `amount` (a whole
/// number of units), every other cell of the table left where it is;
/// None when no exact pattern has that structure.
fn exact_pattern(
    table: &Table,
    inst: &Instance,
    moves: &[(u32, f64)],
    p: u32,
    dir: Direction,
    amount: f64,
) -> Option<Witness> {
    let cells: Vec<u32> = {
        let mut c: Vec<u32> = moves.iter().map(|m| m.0).collect();
        c.sort_unstable();
        c
    };
    let var = |c: u32| cells.binary_search(&c).ok();
    let rows = inst.equations_of(&cells);
    let sys = System {
        vars: cells.len(),
        rows: rows
            .iter()
            .map(|&e| {
                let terms = inst.eqs[e as usize]
                    .terms()
                    .filter_map(|(c, coef)| var(c).map(|v| (v, coef as i64)))
                    .collect();
                (terms, 0)
            })
            .collect(),
    };
    let amount = amount.round() as i128;
    let signed = if dir == Direction::Up {
        amount
    } else {
        -amount
    };
    let mut approx = vec![0.0; cells.len()];
    for &(c, m) in moves {
        approx[var(c)?] = m * amount as f64;
    }
    let lo: Vec<i128> = cells
        .iter()
        .map(|&c| -(table.cells[c as usize].value as i128))
        .collect();
    let mut hi: Vec<Option<i128>> = vec![None; cells.len()];
    let pv = var(p)?;
    approx[pv] = signed as f64;
    hi[pv] = None;
    let bounds = exact::Box {
        lo,
        hi,
        snap_zero: true,
        pins: vec![(pv, signed)],
    };
    let scale = approx.iter().fold(1.0f64, |a, &b| a.max(b.abs()));
    // The solver may overshoot a bound by its tolerance: back towards the
    // truth (moves 0), just enough; `p` then moves a little less.
    let Point { den, nums } = [1e-11 * scale, 0.0].into_iter().find_map(|tol| {
        let p = exact::recover_rows(&sys, &approx, &bounds, tol)?;
        let p = exact::shrink_to_bounds(&bounds, &p)?;
        exact::check(&sys, &bounds, &p).then_some(p)
    })?;
    let moves: Vec<(u32, i128)> = cells
        .iter()
        .zip(nums)
        .filter(|(_, n)| *n != 0)
        .map(|(&c, n)| (c, n))
        .collect();
    Some(Witness { den, moves })
}

/// Neighbourhoods of more cells than this are left to the whole table's
/// model: one warm solve there (~25 ms at 12,500 cells) costs less than a
/// cold one on a big part.
pub const WHOLE_FROM: usize = 2_000;

/// The most cells a lone cell's neighbourhood LP may hold before the
/// whole table's model takes over: [`WHOLE_FROM`], or an eighth of a big
/// table, where a warm whole-table solve costs more (national 0.01 imports,
/// 31,498 cells: 65 ms warm against 10-20 ms cold over 3,000 cells).
fn part_max(table: &Table) -> usize {
    if whole_fits(table) {
        WHOLE_FROM.max(table.cells.len() / 8)
    } else {
        WHOLE_FROM
    }
}

/// A lone cell's neighbourhood is grown while it spans at most this many
/// coordinates (listing them costs a few ms; national 0.01 imports: the
/// patterns of 26 of the 69 lone cells sent to the whole table lie within
/// a few hundred cells one or two steps up).
const LONE_SPAN: f64 = 200_000.0;

/// Tables of more cells than this have no whole-table model: a warm solve
/// takes ~25 ms at 12,500 cells (full-scale DROM) but ~200 ms at 117,000
/// (national scale 0.1), and big lone cells are many there; their lone
/// cells without a pattern in their neighbourhood go to the closure.
pub const WHOLE_MAX_CELLS: usize = 50_000;

/// The same for tables whose whole-table LPs are solved cold (big
/// three-dimensional ones), and the largest part of them a pattern is
/// searched in: a cold pattern LP over the 8,456 cells of regional 0.003's
/// imports takes 60-250 ms, over the 16,527 of regional 0.01's 0.1-20 s and
/// sometimes minutes (degenerate pivots). Lone cells without a pattern
/// nearer go to the closure, failing cells to repair and the audit.
pub const WHOLE_MAX_CELLS_COLD: usize = 10_000;

/// Masked cells alone among published cells in some equation, in table order.
fn lone_cells(table: &Table, inst: &Instance) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for e in &inst.eqs {
        let mut masked = e
            .terms()
            .map(|(c, _)| c)
            .filter(|&c| table.cells[c as usize].status.is_masked());
        if let (Some(c), None) = (masked.next(), masked.next()) {
            out.push(c);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether masked cell `p` is alone among published cells in one of its equations.
fn is_lone(table: &Table, inst: &Instance, p: u32) -> bool {
    inst.eqs_of[p as usize].iter().any(|&e| {
        inst.eqs[e as usize]
            .terms()
            .all(|(c, _)| c == p || !table.cells[c as usize].status.is_masked())
    })
}

/// The cheapest pattern moving `p` by `amount` in `dir` within `cells`:
/// the cells it moves and how far (in units of `amount`, signed), or None
/// when no pattern exists there.
fn solve_pattern(
    table: &Table,
    inst: &Instance,
    cells: &[u32],
    slot: &mut [u32],
    p: u32,
    dir: Direction,
    amount: f64,
) -> Result<Option<Vec<(u32, f64)>>, LpError> {
    let lp = PatternLp::new(table, inst, cells, slot, amount, Some((p, dir)));
    let result = super::solve_lp(lp.pb).and_then(|solved| read(&solved, &lp.movable, 1.0));
    for &c in &lp.movable {
        slot[c as usize] = u32::MAX;
    }
    result
}

/// The pattern LP over some cells (the others held fixed): variables
/// `u_j, w_j >= 0` per cell that may move (masked or not forced published),
/// `w_j` bounded by the cell's value, one balance row per equation.
struct PatternLp {
    pb: RowProblem,
    /// The cells in the LP; column pair `(u, w)` of the cell at position
    /// `i` is `(2i, 2i + 1)`, and `slot` gives each cell's position.
    movable: Vec<u32>,
    cols: Vec<(Col, Col)>,
    /// Per position: the bound of `w` (cells stay non-negative).
    caps: Vec<f64>,
}

impl PatternLp {
    /// The LP of `cells`, moves in units of `amount`; `fixed`: the cell
    /// moved by one unit and its direction. Fills `slot` (per table cell:
    /// its position, or `u32::MAX`); the caller clears it.
    fn new(
        table: &Table,
        inst: &Instance,
        cells: &[u32],
        slot: &mut [u32],
        amount: f64,
        fixed: Option<(u32, Direction)>,
    ) -> PatternLp {
        // The moved cell is masked, so it is always in.
        let movable: Vec<u32> = cells
            .iter()
            .copied()
            .filter(|&c| {
                table.cells[c as usize].status.is_masked()
                    || inst.forced[c as usize] != Forced::Published
            })
            .collect();
        let norm = norm(inst, &movable);
        let mut pb = RowProblem::default();
        let mut cols = Vec::with_capacity(movable.len());
        let mut caps = Vec::with_capacity(movable.len());
        for (i, &c) in movable.iter().enumerate() {
            slot[c as usize] = i as u32;
            let cost = unit_cost(table, inst, c, norm);
            let cap = table.cells[c as usize].value as f64 / amount;
            let pair = match fixed {
                Some((p, Direction::Up)) if p == c => {
                    (pb.add_column(0.0, 1.0..=1.0), pb.add_column(0.0, 0.0..=0.0))
                }
                Some((p, Direction::Down)) if p == c => {
                    (pb.add_column(0.0, 0.0..=0.0), pb.add_column(0.0, 1.0..=1.0))
                }
                _ => (pb.add_column(cost, 0.0..), pb.add_column(cost, 0.0..=cap)),
            };
            cols.push(pair);
            caps.push(cap);
        }
        for e in inst.equations_of(&movable) {
            pb.add_row(0.0..=0.0, balance(&inst.eqs[e as usize], slot, &cols));
        }
        PatternLp {
            pb,
            movable,
            cols,
            caps,
        }
    }
}

/// A solved pattern LP's answer: the cells moved and how far, in units of
/// the fixed cell's move (`scale` of the LP's units), or None when no
/// pattern exists.
fn read(
    solved: &highs::SolvedModel,
    movable: &[u32],
    scale: f64,
) -> Result<Option<Vec<(u32, f64)>>, LpError> {
    match solved.status() {
        HighsModelStatus::Optimal => Ok(Some(support(solved, movable, scale))),
        HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => Ok(None),
        s => Err(LpError::Solver(format!("pattern LP ended with {s:?}"))),
    }
}

/// The pattern LP of a whole table, moves in one unit, kept between solves
/// (any amount is a multiple of the unit: same LP, scaled):
/// only the moved cell's bounds and the costs of newly masked cells change,
/// and each solve starts from the last one's basis (a warm whole-table
/// solve costs a few times less than a cold one).
struct WholeModel {
    /// None only while a solve holds it.
    model: Option<highs::Model>,
    /// The amount one unit of the LP's moves stands for.
    unit: f64,
    /// Per table cell: its position in the LP, or `u32::MAX`.
    slot: Vec<u32>,
    /// What [`PatternLp`] says of the LP built.
    movable: Vec<u32>,
    cols: Vec<(Col, Col)>,
    caps: Vec<f64>,
}

impl WholeModel {
    /// The LP of [`solve_pattern`] over the whole table, moves in units of
    /// `unit`, no cell fixed yet.
    fn new(table: &Table, inst: &Instance, unit: f64) -> WholeModel {
        let n = table.cells.len();
        let all: Vec<u32> = (0..n as u32).collect();
        let mut slot = vec![u32::MAX; n];
        let lp = PatternLp::new(table, inst, &all, &mut slot, unit, None);
        let mut model = quiet_model(lp.pb, highs::Sense::Minimise);
        // Warm re-solves without the dual simplex's cost perturbation:
        // national 0.01 imports, settling the lone cells 3.4 -> 2.6 s, the
        // same patterns (perturbed, about a fifth of these solves' time
        // went to the primal simplex cleaning up after the dual).
        model.set_option("dual_simplex_cost_perturbation_multiplier", 0.0);
        WholeModel {
            model: Some(model),
            unit,
            slot,
            movable: lp.movable,
            cols: lp.cols,
            caps: lp.caps,
        }
    }

    /// Cell `c` was masked: moving it costs almost nothing from now on.
    fn masked(&mut self, c: u32) {
        let i = self.slot[c as usize];
        if i != u32::MAX {
            let (u, w) = self.cols[i as usize];
            let model = self.model.as_mut().expect("a model between solves");
            model.change_column_cost(u, EPS);
            model.change_column_cost(w, EPS);
        }
    }

    /// The cheapest pattern moving `p` by `amount` in `dir` (the moves in
    /// units of `amount`): the model's LP with `p` fixed, a multiple of its unit.
    fn solve(
        &mut self,
        p: u32,
        dir: Direction,
        amount: f64,
    ) -> Result<Option<Vec<(u32, f64)>>, LpError> {
        let i = self.slot[p as usize] as usize;
        let (u, w) = self.cols[i];
        let mut model = self.model.take().expect("a model between solves");
        let k = amount / self.unit;
        let (up, down) = match dir {
            Direction::Up => (k, 0.0),
            Direction::Down => (0.0, k),
        };
        model.change_column_bounds(u, up..=up);
        model.change_column_bounds(w, down..=down);
        let solved = model
            .try_solve()
            .map_err(|e| LpError::Solver(format!("{e:?}")))?;
        let result = read(&solved, &self.movable, k);
        let mut model: highs::Model = solved.into();
        model.change_column_bounds(u, 0.0..);
        model.change_column_bounds(w, 0.0..=self.caps[i]);
        self.model = Some(model);
        result
    }
}

/// Each cell costs a little even when masked: fewer, shorter patterns.
const EPS: f64 = 1e-6;

/// An equation's row in a pattern LP: the moves of its cells in the model
/// (`slot`: position in `cols`, or `u32::MAX` for a cell held fixed) sum to 0.
fn balance(e: &Equation, slot: &[u32], cols: &[(Col, Col)]) -> Vec<(Col, f64)> {
    e.terms()
        .filter(|&(c, _)| slot[c as usize] != u32::MAX)
        .flat_map(|(c, coef)| {
            let (u, w) = cols[slot[c as usize] as usize];
            [(u, coef), (w, -coef)]
        })
        .collect()
}

/// The costs of the cells of an LP are divided by their largest.
fn norm(inst: &Instance, movable: &[u32]) -> f64 {
    movable
        .iter()
        .map(|&c| inst.costs[c as usize])
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE)
}

/// What moving cell `c` by the pattern's amount costs in the LP.
fn unit_cost(table: &Table, inst: &Instance, c: u32, norm: f64) -> f64 {
    if table.cells[c as usize].status.is_masked() {
        EPS
    } else {
        inst.costs[c as usize] / norm + EPS
    }
}

/// The cells a solved pattern LP moves, and how far in units of the fixed
/// cell's move (`scale` of the LP's units), column pairs in the order of
/// `movable`.
fn support(solved: &highs::SolvedModel, movable: &[u32], scale: f64) -> Vec<(u32, f64)> {
    let x = solved.get_solution();
    let x = x.columns();
    movable
        .iter()
        .enumerate()
        .filter(|&(i, _)| x[2 * i] + x[2 * i + 1] > SUPPORT_TOL * scale)
        .map(|(i, &c)| (c, (x[2 * i] - x[2 * i + 1]) / scale))
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::aggregate::aggregate;
    use crate::hierarchy::Hierarchy;
    use crate::read::{Contribution, TableData, MAX_DIMS};
    use crate::rules::Cost;

    /// A 2-dimension table of 6 x 10 leaves per dimension (4,489 cells),
    /// one contributor per detailed cell, values 1..=997 (no zero).
    pub(in crate::secondary) fn big_table() -> Table {
        let tree = |name: &str| {
            let mut text = format!("{name},\n");
            for g in 0..6 {
                text.push_str(&format!("{name}{g},{name}\n"));
                for l in 0..10 {
                    text.push_str(&format!("{name}{g}_{l},{name}{g}\n"));
                }
            }
            Arc::new(Hierarchy::from_csv_text(Path::new("h.csv"), &text).unwrap())
        };
        let dims = [tree("a"), tree("b")];
        let leaves =
            |h: &Hierarchy| -> Vec<u32> { (0..h.len() as u32).filter(|&n| h.is_leaf(n)).collect() };
        let (la, lb) = (leaves(&dims[0]), leaves(&dims[1]));
        let mut contributions = Vec::new();
        for &a in &la {
            for &b in &lb {
                let mut leaf = [0; MAX_DIMS];
                leaf[0] = a;
                leaf[1] = b;
                let unit = contributions.len() as u32;
                contributions.push(Contribution {
                    unit,
                    leaf,
                    value: 1 + (i64::from(unit) * 7919) % 997,
                });
            }
        }
        let data = TableData {
            split: vec![],
            contributions,
        };
        aggregate(&data, &dims, 1).unwrap()
    }

    /// Cells go to groups by branch of one dimension: every cell of a
    /// branch in the same group, in the order given, cells at that
    /// dimension's root first; each cell exactly once.
    #[test]
    fn branches_split_into_groups() {
        let table = big_table();
        let cells: Vec<u32> = (0..table.cells.len() as u32).rev().step_by(7).collect();
        let (first, groups) = split_by_branch(&table, &cells);
        assert_eq!(groups.len(), GROUPS);
        let mut all: Vec<u32> = first
            .iter()
            .chain(groups.iter().flatten())
            .copied()
            .collect();
        all.sort_unstable();
        let mut want = cells.clone();
        want.sort_unstable();
        assert_eq!(all, want);
        let pos = |c: &u32| cells.iter().position(|x| x == c).unwrap();
        for g in groups.iter().chain([&first]) {
            assert!(g.windows(2).all(|w| pos(&w[0]) < pos(&w[1])), "order kept");
        }
        // The split dimension: the one whose branch a group's cells share.
        let branch = |c: u32, k: usize| {
            let h = &table.dims[k];
            let n = table.coords(table.cells[c as usize].key)[k];
            h.ancestors(n).into_iter().find(|&a| h.depth(a) == 1)
        };
        let dim = (0..2)
            .find(|&k| first.iter().all(|&c| branch(c, k).is_none()))
            .expect("first holds the root's cells");
        for (i, g) in groups.iter().enumerate() {
            for (j, h) in groups.iter().enumerate().filter(|(j, _)| *j != i) {
                for &c in g {
                    assert!(
                        h.iter().all(|&d| branch(d, dim) != branch(c, dim)),
                        "{i} {j}"
                    );
                }
            }
        }
        assert!(groups.iter().all(|g| !g.is_empty()));
    }

    /// The whole-table model at any amount is the pattern LP of the whole
    /// table at that amount: same optimal cost, and the cell moved by
    /// exactly one unit of the amount (its moves are read in those units).
    #[test]
    fn whole_model_scales_to_any_amount() {
        let mut table = big_table();
        assert!(table.cells.len() > WHOLE_FROM);
        let names = vec!["a".to_string(), "b".to_string()];
        // A few masked cells, so that masked and published costs differ.
        for i in [5, 700, 1400, 2100, 2800] {
            table.cells[i].status = Status::Primary;
        }
        let inst = Instance::new(&mut table, &names, Cost::Value, &[], &[]).unwrap();
        let mut whole = WholeModel::new(&table, &inst, unit(&inst));
        let all: Vec<u32> = (0..table.cells.len() as u32).collect();
        let mut slot = vec![u32::MAX; table.cells.len()];
        let norm = norm(&inst, &all);
        let cost = |moves: &[(u32, f64)]| -> f64 {
            moves
                .iter()
                .map(|&(c, m)| unit_cost(&table, &inst, c, norm) * m.abs())
                .sum()
        };
        let mut checked = 0;
        for (p, dir) in [
            (700u32, Direction::Up),
            (1400, Direction::Down),
            (0, Direction::Up),
            (2800, Direction::Up),
        ] {
            let value = table.cells[p as usize].value as f64;
            let unit = unit(&inst);
            for amount in [unit, 3.0 * unit, 0.4 * value] {
                if dir == Direction::Down && amount > value {
                    continue;
                }
                let warm = whole.solve(p, dir, amount).unwrap().expect("a pattern");
                let cold = solve_pattern(&table, &inst, &all, &mut slot, p, dir, amount)
                    .unwrap()
                    .expect("a pattern");
                let moved = warm.iter().find(|&&(c, _)| c == p).expect("p moves").1;
                let sign = if dir == Direction::Up { 1.0 } else { -1.0 };
                assert!((moved - sign).abs() < 1e-9, "p moved by {moved} units");
                let (w, c) = (cost(&warm), cost(&cold));
                assert!((w - c).abs() <= 1e-6 * c.max(1.0), "warm {w}, cold {c}");
                checked += 1;
            }
        }
        assert!(checked >= 10);
    }
}
