//! Proving a giant component's goals on small slices of it.
//!
//! Hold every masked cell outside a slice at its true value: the attacker's
//! system of the slice is the component's with those cells published. Any
//! solution of it, completed by the true values, solves the component's
//! system, so a range seen on a slice lies inside the cell's interval in
//! the whole table. A check (goals, see [`super::check_table`]) therefore
//! proves most cells on slices of a few hundred or thousand cells, each
//! LP small and the slices in parallel; only what no slice proves goes to
//! the whole component. Used only where the true values are known (the
//! check of a protect run), never for intervals an auditor reads.

use rayon::prelude::*;

use super::exact::Point;
use super::hypercube;
use super::lp::{intervals_for, Found, LocalWitness, LpError, Search, System, Target};
use crate::certify::witness::Q;
use crate::hierarchy::NodeId;
use crate::read::MAX_DIMS;
use crate::table::Table;

/// Components up to this many cells are solved whole (two-dimensional
/// tables).
pub const SLICE_FROM: usize = 10_000;

/// The same for tables of three dimensions or more, whose LPs cost far more
/// per cell (regional 0.003: the check of an 8,456-cell table 40 s with
/// slices from 2,000 cells, 63 s without; benches/README.md).
pub const SLICE_FROM_3D: usize = 2_000;

/// From how many cells a component of `table` is proven on slices first.
pub fn slice_from(table: &Table) -> usize {
    if super::lp::warm_starts_pay(table) {
        SLICE_FROM
    } else {
        SLICE_FROM_3D
    }
}

/// Largest slice of the successive passes, for components bigger than
/// `slice_from` cells: a tenth of it, most of it, three times it.
fn passes(slice_from: usize) -> [usize; 3] {
    [
        (slice_from / 10).max(1),
        (slice_from * 4 / 5).max(1),
        slice_from.saturating_mul(3),
    ]
}

/// Adds what a part's search found (its variables `vars` of the whole
/// system) to `found`; returns the LPs it solved.
fn absorb(found: &mut Found, truth: &Point, vars: &[usize], part: Found) -> usize {
    for w in part.witnesses {
        let moves = w.moves.iter().map(|&(i, m)| (vars[i], m)).collect();
        found.add(truth, LocalWitness { den: w.den, moves });
    }
    part.solves
}

/// Each variable's rows.
fn rows_of(sys: &System) -> Vec<Vec<u32>> {
    let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); sys.vars];
    for (r, (terms, _)) in sys.rows.iter().enumerate() {
        for &(v, _) in terms {
            rows_of[v].push(r as u32);
        }
    }
    rows_of
}

/// Witnesses proven on slices of `sys` (the other variables held at
/// `truth`, an integer point of `sys`), starting from what `found` holds, added
/// to it (whose base is `truth`); returns the LPs solved. `cells` are
/// the table positions of the variables: slices are boxes of the table's
/// hierarchies. With `hypercubes`, see [`prove_by_hypercubes`]; with
/// `small_only`, the passes smaller than `slice_from` only.
#[allow(clippy::too_many_arguments)]
pub fn prove_on_slices(
    table: &Table,
    cells: &[u32],
    sys: &System,
    truth: &Point,
    targets: &[Target],
    found: &mut Found,
    slice_from: usize,
    hypercubes: bool,
    small_only: bool,
) -> Result<usize, LpError> {
    let n = sys.vars;
    let rows_of = rows_of(sys);
    let coords: Vec<[NodeId; MAX_DIMS]> = cells
        .iter()
        .map(|&c| table.coords(table.cells[c as usize].key))
        .collect();
    let mut solves = 0;
    let passes = passes(slice_from);
    let run = if small_only { 2 } else { passes.len() };
    for (pass, size) in passes.into_iter().enumerate().take(run) {
        // Only where the last pass would be the whole component (national
        // scale 1: 8 s more for the year on components of 100,000+ cells).
        if hypercubes && pass == 2 && n <= size {
            prove_by_hypercubes(table, cells, truth, targets, found);
        }
        let ranges = found.ranges();
        let pending: Vec<bool> = (0..n)
            .map(|v| !targets[v].met_by(ranges[v].0, ranges[v].1))
            .collect();
        if !pending.contains(&true) {
            break;
        }
        let mut slices = Vec::new();
        let whole = Slice {
            top: std::array::from_fn(|k| table.dims.get(k).map_or(0, |h| h.root())),
            shallow: [false; MAX_DIMS],
        };
        split(table, &coords, whole, (0..n).collect(), size, &mut slices);
        slices.retain(|vars| vars.iter().any(|&v| pending[v]));
        let solved: Vec<Result<Proven, LpError>> = slices
            .into_par_iter()
            .map(|vars| {
                // Each slice also tries each cell its rounds leave: a goal
                // reached within a few thousand cells needs no LP over the
                // whole component.
                let range = |v: usize| ranges[v];
                let f = solve_slice(sys, &rows_of, truth, targets, &range, &vars)?;
                Ok((vars, f))
            })
            .collect();
        for res in solved {
            let (vars, f) = res?;
            solves += absorb(found, truth, &vars, f);
        }
    }
    Ok(solves)
}

/// Before the last pass, when it is the whole component and the table's
/// hypercube step has not run ([`super::hypercubes_first`]): each
/// variable still short of its target gets the hypercubes through masked
/// cells of [`hypercube::masked_only_patterns`], from the true values,
/// added to `found` (national 0.01 imports: they prove 663 of the 1,213
/// cells left by the smaller slices, most of them chapters, before LP
/// rounds over the whole component).
fn prove_by_hypercubes(
    table: &Table,
    cells: &[u32],
    truth: &Point,
    targets: &[Target],
    found: &mut Found,
) {
    let ranges = found.ranges();
    let todo: Vec<(u32, i64, hypercube::Goals)> = (0..cells.len())
        .filter(|&v| !targets[v].met_by(ranges[v].0, ranges[v].1))
        .map(|v| {
            let cell = &table.cells[cells[v] as usize];
            let goals =
                hypercube::pattern_goals(hypercube::levels(cell), Q::int(truth.nums[v]), ranges[v]);
            (cells[v], 1, goals)
        })
        .collect();
    if todo.is_empty() {
        return;
    }
    let values: Vec<i64> = table.cells.iter().map(|c| c.value).collect();
    let var_of: rustc_hash::FxHashMap<u32, usize> =
        cells.iter().enumerate().map(|(v, &c)| (c, v)).collect();
    let patterns =
        hypercube::masked_only_patterns(table, &values, &todo, hypercube::Limits::DEFAULT);
    for w in patterns.into_iter().flatten() {
        // A pattern's cells are linked by equations: all in the component.
        let moves: Option<Vec<(usize, i128)>> = w
            .moves
            .iter()
            .map(|&(c, m)| var_of.get(&c).map(|&v| (v, m)))
            .collect();
        if let Some(moves) = moves {
            found.add(truth, LocalWitness { den: w.den, moves });
        }
    }
}

/// Boxes with the variables they hold.
type Parts = Vec<(Slice, Vec<usize>)>;

/// A slice's variables and what its search found.
type Proven = (Vec<usize>, Found);

/// A box of the table: per dimension, the subtree under `top`, or with
/// `shallow`, only `top` and its children.
#[derive(Debug, Clone, Copy)]
struct Slice {
    top: [NodeId; MAX_DIMS],
    shallow: [bool; MAX_DIMS],
}

/// Splits a box holding `vars` until each part holds at most `size`, as
/// HiTaS splits a hierarchical table: along one dimension, into the
/// subtree of each child of the box's top, and the top with its children
/// (which links them). The dimension chosen leaves the largest part
/// smallest; a box no dimension splits stays whole. Parts are sorted.
///
/// A box's top cells are held by their parents' equations (outside it),
/// so they are proven only in bigger boxes: the next pass, or the whole
/// component.
fn split(
    table: &Table,
    coords: &[[NodeId; MAX_DIMS]],
    b: Slice,
    vars: Vec<usize>,
    size: usize,
    out: &mut Vec<Vec<usize>>,
) {
    if vars.len() <= size {
        if !vars.is_empty() {
            out.push(vars);
        }
        return;
    }
    // The best split so far: its largest part, and the parts with their boxes.
    let mut best: Option<(usize, Parts)> = None;
    for (k, h) in table.dims.iter().enumerate() {
        let top = b.top[k];
        if b.shallow[k] || h.children(top).is_empty() {
            continue;
        }
        let kids = h.children(top);
        // Parts: one per child subtree, then the top with its children.
        let mut parts: Vec<Vec<usize>> = vec![Vec::new(); kids.len() + 1];
        for &v in &vars {
            let n = coords[v][k];
            if n == top {
                parts[kids.len()].push(v);
                continue;
            }
            // The child of `top` above (or at) n.
            let mut c = n;
            while let Some(p) = h.parent(c) {
                if p == top {
                    break;
                }
                c = p;
            }
            let i = kids.iter().position(|&x| x == c).expect("n under top");
            parts[i].push(v);
            if c == n {
                parts[kids.len()].push(v);
            }
        }
        let largest = parts.iter().map(Vec::len).max().unwrap_or(0);
        if largest < vars.len() && best.as_ref().is_none_or(|b| largest < b.0) {
            let boxes = parts
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut s = b;
                    if i < kids.len() {
                        s.top[k] = kids[i];
                    } else {
                        s.shallow[k] = true;
                    }
                    (s, p)
                })
                .collect();
            best = Some((largest, boxes));
        }
    }
    match best {
        Some((_, boxes)) => {
            for (s, p) in boxes {
                split(table, coords, s, p, size, out);
            }
        }
        None => out.push(vars),
    }
}

/// What one slice proves: the rows touching its variables, the others'
/// terms moved to the right-hand side at their true values.
pub(crate) fn solve_slice(
    sys: &System,
    rows_of: &[Vec<u32>],
    truth: &Point,
    targets: &[Target],
    range: &(dyn Fn(usize) -> (Q, Q) + Sync),
    vars: &[usize],
) -> Result<Found, LpError> {
    let local = |v: usize| vars.binary_search(&v).ok();
    let mut rows: Vec<u32> = vars
        .iter()
        .flat_map(|&v| rows_of[v].iter().copied())
        .collect();
    rows.sort_unstable();
    rows.dedup();
    let mut sub = System {
        vars: vars.len(),
        rows: Vec::with_capacity(rows.len()),
    };
    for r in rows {
        let (terms, rhs) = &sys.rows[r as usize];
        let mut kept = Vec::with_capacity(terms.len());
        let mut b = *rhs;
        for &(v, c) in terms {
            match local(v) {
                Some(i) => kept.push((i, c)),
                None => b -= c as i128 * truth.nums[v],
            }
        }
        sub.rows.push((kept, b));
    }
    let targets: Vec<Target> = vars.iter().map(|&v| targets[v]).collect();
    let seeds: Vec<(Q, Q)> = vars.iter().map(|&v| range(v)).collect();
    let base = Point {
        den: 1,
        nums: vars.iter().map(|&v| truth.nums[v]).collect(),
    };
    intervals_for(
        &sub,
        Search {
            targets: Some(&targets),
            exact: false,
            base: Some(&base),
            seeds: Some(&seeds),
            rounds_only: false,
            pending: None,
            progress: None,
            cold_rounds: false,
        },
    )
}
