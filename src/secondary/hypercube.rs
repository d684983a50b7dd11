//! Hypercubes in secondary suppression: each masked cell's protecting
//! patterns chosen without any LP, on tables of three dimensions or more
//! (issue 15; the witnesses and their search are in
//! [`crate::audit::hypercube`]).
//!
//! [`cover`] gives each primary cell (aggregates first), in each direction,
//! a pattern whose cells all exist and may be masked, the cheapest the
//! greedy search finds, and masks them. A big level thus spreads over
//! several small cells rather than masking one big one, as the LP patterns
//! do. Masked cells that are not primary get one moving them by a unit.
//! What it cannot cover goes on to the LP-based steps of `fast`.
//!
//! # Complexity
//! One pattern search per masked cell and direction (see
//! [`crate::audit::hypercube`]), then one per pattern through a cell
//! [`thin`] tries to publish again: linear in the number of masked cells,
//! no LP.

use crate::audit::hypercube::{levels, pattern, pattern_goals, proven, Limits, Moves, Prices};
use crate::certify::witness::{Proofs, Witness, Q};
use crate::table::{Status, Table};

use super::instance::Instance;

impl Prices for Instance {
    fn cost(&self, d: usize) -> f64 {
        self.costs[d]
    }
    fn maskable(&self, table: &Table, d: usize) -> bool {
        Instance::maskable(self, table, d as u32)
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
    moves: Moves,
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

/// Gives every masked cell of `table` that `proofs` (anchored at the true
/// values) does not already cover a pattern of hypercubes in each
/// direction it needs (see the module docs), masking the cells they need
/// and adding their witnesses to `proofs`; cells masked along the way are
/// covered too. Then [`thin`] publishes again what it can.
pub fn cover(table: &mut Table, inst: &Instance, proofs: &mut Proofs) -> Covered {
    let mut out = Covered::default();
    // The patterns move from the true values.
    let values: Vec<i64> = table.cells.iter().map(|c| c.value).collect();
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
            // What earlier patterns already prove is not searched again.
            if proven(table, proofs, c as usize, true) {
                continue;
            }
            let cell = &table.cells[c as usize];
            let goals = pattern_goals(
                levels(cell),
                Q::int(cell.value as i128),
                proofs.range(c as usize),
            );
            // The cell's pattern one way, reversed and scaled, often moves
            // it the other way too, masking nothing more.
            let mut first: Option<(i64, Moves)> = None;
            for options in goals {
                let reversed = first.as_ref().and_then(|(u0, m)| {
                    let &(sign, units) = options.first()?;
                    reverse(m, *u0, units, &values).map(|m| ((m, Vec::new()), sign, units))
                });
                let found = reversed.or_else(|| {
                    options.iter().find_map(|&(sign, units)| {
                        pattern(table, inst, &values, c, sign, units, Limits::DEFAULT)
                            .map(|p| (p, sign, units))
                    })
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
                if first.is_none() {
                    first = Some((units, moves.clone()));
                }
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
        out.thinned = thin(table, inst, &values, &mut pats, &kept, &before);
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

/// The instance's costs, through masked cells only.
struct Free<'a>(&'a Instance);

impl Prices for Free<'_> {
    fn cost(&self, d: usize) -> f64 {
        self.0.costs[d]
    }
    fn maskable(&self, _: &Table, _: usize) -> bool {
        false
    }
}

/// The moves `-moves * units / u0` (a pattern that moved its target by
/// `u0` one way, moving it by `units` the other), when they are whole
/// units and leave every cell `>= 0` from `values`.
fn reverse(moves: &[(u32, i128)], u0: i64, units: i64, values: &[i64]) -> Option<Moves> {
    moves
        .iter()
        .map(|&(d, m)| {
            let scaled = m.checked_mul(units as i128)?;
            if scaled % u0 as i128 != 0 {
                return None;
            }
            let r = -scaled / u0 as i128;
            (values[d as usize] as i128 + r >= 0).then_some((d, r))
        })
        .collect()
}

/// Publishes again, most costly first, each cell [`cover`] masked whose
/// patterns all find another way through cells masked already (and whose
/// publication leaves no two single-contributor primaries alone in an
/// equation), while every masked cell keeps what it needs. Returns the
/// cells published again.
fn thin(
    table: &mut Table,
    inst: &Instance,
    values: &[i64],
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
            match pattern(
                table,
                &Free(inst),
                values,
                p.target,
                p.sign,
                p.units,
                Limits::DEFAULT,
            ) {
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::aggregate::aggregate;
    use crate::hierarchy::Hierarchy;
    use crate::read::MAX_DIMS;
    use crate::read::{Contribution, TableData};
    use crate::rules::Cost;
    use crate::table::RuleSet;
    use rustc_hash::FxHashMap;

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

    /// The audit's hypercubes through masked cells only find again, from
    /// the true values alone, what a cover proved; with one cell of the
    /// cube published they prove nothing about the cells it cut off.
    #[test]
    fn masked_only_hypercubes_prove_a_cover_again() {
        use crate::audit::hypercube::{masked_only_witnesses, proven};
        let mut t = table(2, |_| 100);
        let (_, x) = covered(&mut t, [1, 1, 1], 30);
        let inst = instance(&mut t);
        let mut again = Proofs::at_truth(&t);
        assert!(masked_only_witnesses(&t, &mut again) > 0);
        assert_valid(&t, &inst, &again);
        for c in 0..t.cells.len() {
            if t.cells[c].status.is_masked() {
                assert!(proven(&t, &again, c, true), "cell {c} not proven");
            }
        }
        let (lo, hi) = again.range(x as usize);
        assert_eq!((lo, hi), (Q::int(70), Q::int(130)));
        // Publish the cube's far corner: no pattern through masked cells
        // is left for the target.
        let far = t.find(t.key(&[2, 2, 2])).unwrap();
        t.cells[far].status = Status::Published;
        let mut cut = Proofs::at_truth(&t);
        masked_only_witnesses(&t, &mut cut);
        assert_valid(&t, &inst, &cut);
        assert!(!proven(&t, &cut, x as usize, true));
    }
}
