//! The audit (SPEC section 5): the attacker's intervals of every masked
//! cell, and the verdict.
//!
//! The attacker knows every published value, every additivity equation,
//! that cells are >= 0 and which cells exist. Masked cells interact only
//! through equations holding two or more of them, so the table splits into
//! independent components, solved apart and in parallel. A masked cell
//! alone among published cells in an equation is disclosed exactly, found
//! without any LP.

pub mod command;
pub mod equations;
pub mod exact;
pub mod hypercube;
pub mod leaf_form;
pub mod lp;
pub mod neighbourhood;
pub mod sifting;
pub mod slices;
pub mod ties;

use rayon::prelude::*;

use crate::certify::witness::{Proofs, Witness, Q};
use crate::table::{Cell, Table};
use equations::{components, equations, Component, Equation};
use exact::Point;
use lp::{intervals_for, Found, LpError, Search, System, Target};

/// How a masking fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A masked cell whose interval is narrower than one unit.
    ExactDisclosure,
    /// A masked primary cell whose interval misses its protection levels.
    UnderProtected,
    /// A primary cell left published.
    PrimaryPublished,
    /// No exact point of the attacker's system was found for the cell's
    /// component: nothing about it could be proven.
    Unproven,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::ExactDisclosure => "exact_disclosure",
            FailureKind::UnderProtected => "under_protected",
            FailureKind::PrimaryPublished => "primary_published",
            FailureKind::Unproven => "unproven",
        }
    }
}

/// One failing cell (a position in [`Table::cells`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub cell: u32,
    pub kind: FailureKind,
}

/// What the audit of one table found.
#[derive(Debug, Clone, Default)]
pub struct TableAudit {
    pub masked: usize,
    pub components: usize,
    pub largest_component: usize,
    /// Cells disclosed by one equation, found without LP.
    pub exact_without_lp: usize,
    pub lp_solves: usize,
    pub failures: Vec<Failure>,
    /// Whether the intervals are the attacker's extremes; otherwise each
    /// is a range the attacker's interval contains (see [`check_table`]).
    pub exact: bool,
    /// The exact evidence behind every range (the certificate's witnesses).
    pub proofs: Proofs,
}

impl TableAudit {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// What a masked cell must withstand (SPEC section 5): an interval at least
/// one unit wide; for a primary cell when its levels are known, reaching
/// `T + upper` and `T - lower`, in the cell's own units.
pub fn target_of(cell: &Cell, levels: bool) -> Target {
    if levels && !cell.rules.is_empty() {
        let t = cell.value as i128;
        Target {
            up: Some(t + cell.upper_protection as i128),
            down: Some(t - cell.lower_protection as i128),
        }
    } else {
        Target::default()
    }
}

/// Audits a table: sets each masked cell's `audit` interval (the
/// attacker's extremes) and returns the failures. Cells whose `rules` are
/// not empty are primary secrets; their protection levels are checked when
/// `check_protection` is true (it needs the true values, so not for a
/// published file audited alone).
pub fn audit_table(table: &mut Table, check_protection: bool) -> Result<TableAudit, LpError> {
    let depth = if check_protection {
        Depth::Exact
    } else {
        Depth::ExactNoLevels
    };
    audit_impl(table, depth, None)
}

/// [`check_table`] for a final verdict: failing cells also get the
/// attacker's exact extremes, which say by how much they fail.
pub fn check_table_explained(table: &mut Table) -> Result<TableAudit, LpError> {
    audit_impl(
        table,
        Depth::Check {
            slice_from: slices::slice_from(table),
            explain: true,
        },
        None,
    )
}

/// The audit of a published file without its records: no exact
/// disclosure, proven with exact witnesses, as fast as the verdict allows
/// (intervals are ranges the attacker's interval contains, not its
/// extremes; [`audit_table`] solves those).
pub fn check_table_no_levels(table: &mut Table) -> Result<TableAudit, LpError> {
    audit_impl(table, Depth::CheckNoLevels, None)
}

/// How far an audit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Exact intervals; protection levels not checked (no true values).
    ExactNoLevels,
    /// Exact intervals, protection levels checked.
    Exact,
    /// The verdict, proven; exact intervals for failing cells only;
    /// components bigger than `slice_from` cells first proven on slices.
    Check { slice_from: usize, explain: bool },
    /// Witnesses only, from the small slices of components bigger than
    /// `slice_from` cells (see [`head_start`]); verdicts not searched.
    HeadStart { slice_from: usize },
    /// No exact disclosure, proven (levels not checked: no true values);
    /// each interval a range the attacker's contains, at least a unit wide
    /// where it passes.
    CheckNoLevels,
}

impl Depth {
    /// Whether the true values and protection levels are known.
    fn levels(self) -> bool {
        matches!(
            self,
            Depth::Exact | Depth::Check { .. } | Depth::HeadStart { .. }
        )
    }

    /// Whether every extreme is solved.
    fn exact(self) -> bool {
        matches!(self, Depth::Exact | Depth::ExactNoLevels)
    }
}

/// A pass/fail check with protection levels: the same verdicts as
/// [`audit_table`], but LPs stop as soon as exact witnesses show a cell
/// passes, so intervals are exact only for failing cells; a passing cell's
/// interval is a range the attacker's interval contains, each end reached
/// by an exact witness (which is what proves it passes).
/// Secondary suppression uses it between its rounds, and `protect` as its
/// final audit unless exact intervals are asked for.
pub fn check_table(table: &mut Table) -> Result<TableAudit, LpError> {
    let slice_from = slices::slice_from(table);
    check_table_sliced(table, None, slice_from)
}

/// [`check_table`] (or [`check_table_after`] with `earlier`), proving
/// components bigger than `slice_from` cells on slices first (see
/// [`slices`]); the verdicts do not depend on it (tests use small values).
pub fn check_table_sliced(
    table: &mut Table,
    earlier: Option<Proofs>,
    slice_from: usize,
) -> Result<TableAudit, LpError> {
    audit_impl(
        table,
        Depth::Check {
            slice_from,
            explain: false,
        },
        earlier,
    )
}

/// [`check_table`] starting from the evidence of an earlier check (or of
/// patterns): every witness moving only cells masked now still holds, so
/// only what those do not prove is searched again.
pub fn check_table_after(
    table: &mut Table,
    earlier: Option<Proofs>,
) -> Result<TableAudit, LpError> {
    let slice_from = slices::slice_from(table);
    check_table_sliced(table, earlier, slice_from)
}

/// Witnesses for the table's masking found on the small slices of its big
/// components only (no LP over a whole component, no verdict). They stay
/// valid for any masking that masks at least these cells, so they give a
/// later check a head start, and can be searched while the masking is
/// still growing (the fast method: while lone cells get their patterns).
pub fn head_start(table: &mut Table) -> Result<Proofs, LpError> {
    head_start_sliced(table, slices::slice_from(table))
}

/// [`head_start`] on components bigger than `slice_from` cells (tests use
/// small values).
pub fn head_start_sliced(table: &mut Table, slice_from: usize) -> Result<Proofs, LpError> {
    Ok(audit_impl(table, Depth::HeadStart { slice_from }, None)?.proofs)
}

/// Whether [`head_start`] can prove anything here: the table has more
/// cells than a component needs to be sliced.
pub fn head_start_pays(table: &Table) -> bool {
    table.cells.len() > slices::slice_from(table)
}

/// Told how many more masked cells an audit has settled (each once).
pub type Tick<'a> = &'a (dyn Fn(u64) + Sync);

/// The audit the commands end with, reporting its progress to `tick`:
/// every exact extreme (`exact`), or the verdict proven ([`check_table`],
/// failing cells explained); protection levels checked when `levels` (the
/// true values are known), else exact disclosure only.
pub fn final_audit(
    table: &mut Table,
    exact: bool,
    levels: bool,
    tick: Tick,
) -> Result<TableAudit, LpError> {
    let depth = match (exact, levels) {
        (true, true) => Depth::Exact,
        (true, false) => Depth::ExactNoLevels,
        (false, true) => Depth::Check {
            slice_from: slices::slice_from(table),
            explain: true,
        },
        (false, false) => Depth::CheckNoLevels,
    };
    audit_impl_with(table, depth, None, tick)
}

fn audit_impl(
    table: &mut Table,
    depth: Depth,
    earlier: Option<Proofs>,
) -> Result<TableAudit, LpError> {
    audit_impl_with(table, depth, earlier, &|_| {})
}

fn audit_impl_with(
    table: &mut Table,
    depth: Depth,
    earlier: Option<Proofs>,
    tick: Tick,
) -> Result<TableAudit, LpError> {
    let levels = depth.levels();
    // Intervals are those of this masking only.
    for c in &mut table.cells {
        c.audit = None;
    }
    let eqs = equations(table);
    let comps = components(table, &eqs);
    // With the true values, they are the anchor and earlier witnesses
    // still valid seed the search.
    let mut start: Option<Proofs> = levels.then(|| {
        earlier
            .filter(|p| p.fits(table))
            .map(|p| p.valid_for(table))
            .unwrap_or_else(|| Proofs::at_truth(table))
    });
    // Big tables of three dimensions or more: hypercubes through masked
    // cells prove most verdicts before any LP over a whole component (a
    // masking made of them, nearly all): from the true values, or without
    // them from a point of each component with room in most cells.
    let mut spread: Vec<Option<Point>> = vec![None; comps.len()];
    let mut spread_proofs: Option<Proofs> = None;
    if hypercubes_first(table) {
        match (depth, start.as_mut()) {
            (Depth::Check { .. }, Some(p)) => {
                hypercube::masked_only_witnesses(table, p);
            }
            (Depth::CheckNoLevels, _) => {
                spread = comps
                    .par_iter()
                    .map(|c| {
                        if c.cells.len() < 2 {
                            return Ok(None);
                        }
                        lp::spread_point(&system_of(table, &eqs, c))
                    })
                    .collect::<Result<_, LpError>>()?;
                spread_proofs = Some(spread_witnesses(table, &comps, &mut spread));
            }
            _ => {}
        }
    }
    let seeds: Option<Vec<(Q, Q)>> = start
        .as_ref()
        .or(spread_proofs.as_ref())
        .map(|p| (0..table.cells.len()).map(|c| p.range(c)).collect());
    let solved: Vec<Result<Solved, LpError>> = comps
        .par_iter()
        .zip(&spread)
        .map(|(c, given)| {
            solve_component(
                table,
                &eqs,
                c,
                depth,
                seeds.as_deref(),
                given.as_ref(),
                tick,
            )
        })
        .collect();
    let mut report = TableAudit {
        exact: depth.exact(),
        masked: comps.iter().map(|c| c.cells.len()).sum(),
        components: comps.len(),
        largest_component: comps.iter().map(|c| c.cells.len()).max().unwrap_or(0),
        ..TableAudit::default()
    };
    let solved: Vec<Solved> = solved.into_iter().collect::<Result<_, _>>()?;
    let mut proofs = match start {
        Some(p) => p,
        None => {
            // The anchor: each component's base, published cells at their value.
            let mut anchor: Vec<Q> = table
                .cells
                .iter()
                .map(|c| Q::int(c.value as i128))
                .collect();
            for (comp, (found, _)) in comps.iter().zip(&solved) {
                if let Some(b) = &found.base {
                    for (v, &c) in comp.cells.iter().enumerate() {
                        anchor[c as usize] = Q::new(b.nums[v], b.den);
                    }
                }
            }
            Proofs::at(anchor)
        }
    };
    if let Some(sp) = spread_proofs {
        // Each witness holds from its component's point: kept only where
        // the search ended on that same point.
        let mut same = vec![false; table.cells.len()];
        for ((comp, (found, _)), point) in comps.iter().zip(&solved).zip(&spread) {
            if point.is_some() && found.base == *point {
                for &c in &comp.cells {
                    same[c as usize] = true;
                }
            }
        }
        for w in sp.witnesses {
            if w.moves.iter().all(|&(c, _)| same[c as usize]) {
                proofs.add(w);
            }
        }
    }
    let mut unproven = Vec::new();
    let mut shown: std::collections::HashMap<u32, (Q, Q)> = Default::default();
    for (comp, (found, without_lp)) in comps.iter().zip(solved) {
        report.lp_solves += found.solves;
        if without_lp {
            report.exact_without_lp += comp.cells.len();
        }
        if found.base.is_none() {
            unproven.extend(comp.cells.iter().copied());
            continue;
        }
        for w in found.witnesses {
            let moves = w.moves.iter().map(|&(v, m)| (comp.cells[v], m)).collect();
            proofs.add(Witness { den: w.den, moves });
        }
        if let Some(s) = found.shown {
            shown.extend(comp.cells.iter().copied().zip(s));
        }
        for (v, &c) in comp.cells.iter().enumerate() {
            proofs.unbounded[c as usize] = found.unbounded[v];
        }
    }
    proofs.prune();
    for comp in &comps {
        for &c in &comp.cells {
            let (lo, hi) = proofs.range(c as usize);
            // Shown: an exact search's extremes (where one ran), else the
            // proven range (which they contain).
            let (slo, shi) = shown
                .get(&c)
                .map(|&(a, b)| (a.min(lo), b.max(hi)))
                .unwrap_or((lo, hi));
            let cell = &mut table.cells[c as usize];
            let high = if proofs.unbounded[c as usize] {
                f64::INFINITY
            } else {
                shi.floor() as f64
            };
            cell.audit = Some((slo.ceil() as f64, high));
            let kind = if unproven.contains(&c) {
                Some(FailureKind::Unproven)
            } else if !hi.exceeds_by(lo, 1) {
                Some(FailureKind::ExactDisclosure)
            } else if !target_of(cell, levels).met_by(lo, hi) {
                Some(FailureKind::UnderProtected)
            } else {
                None
            };
            if let Some(kind) = kind {
                report.failures.push(Failure { cell: c, kind });
            }
        }
    }
    for (i, cell) in table.cells.iter().enumerate() {
        if !cell.status.is_masked() && !cell.rules.is_empty() {
            report.failures.push(Failure {
                cell: i as u32,
                kind: FailureKind::PrimaryPublished,
            });
        }
    }
    report.failures.sort_by_key(|f| (f.cell, f.kind));
    report.proofs = proofs;
    Ok(report)
}

/// Proofs anchored at each component's point in `spread` (published
/// cells at their values), with the hypercubes through masked cells from
/// there; a point too big for the search's units is dropped.
fn spread_witnesses(table: &Table, comps: &[Component], spread: &mut [Option<Point>]) -> Proofs {
    let n = table.cells.len();
    let mut anchor: Vec<Q> = table
        .cells
        .iter()
        .map(|c| Q::int(c.value as i128))
        .collect();
    let mut values: Vec<i64> = vec![0; n];
    let mut den: Vec<i64> = vec![0; n];
    for (comp, point) in comps.iter().zip(spread.iter_mut()) {
        let Some(p) = point.as_ref() else { continue };
        let fits = i64::try_from(p.den).is_ok()
            && p.nums
                .iter()
                .all(|&x| i64::try_from(x).is_ok_and(|x| x < i64::MAX / 4));
        if !fits {
            *point = None;
            continue;
        }
        for (v, &c) in comp.cells.iter().enumerate() {
            anchor[c as usize] = Q::new(p.nums[v], p.den);
            values[c as usize] = p.nums[v] as i64;
            den[c as usize] = p.den as i64;
        }
    }
    let mut proofs = Proofs::at(anchor);
    hypercube::masked_only_witnesses_at(table, &values, &den, &mut proofs);
    proofs
}

/// A component's search result (variables in component order), and
/// whether it came without LP.
type Solved = (Found, bool);

/// The attacker's system of one component: its masked cells are the
/// variables (in component order), published cells moved to the right.
fn system_of(table: &Table, eqs: &[Equation], comp: &Component) -> System {
    let masked = |c: u32| table.cells[c as usize].status.is_masked();
    let var_of = |c: u32| {
        comp.cells
            .binary_search(&c)
            .expect("masked cell of this component")
    };
    let mut sys = System {
        vars: comp.cells.len(),
        rows: Vec::with_capacity(comp.equations.len()),
    };
    for &e in &comp.equations {
        let mut terms = Vec::new();
        let mut rhs: i128 = 0;
        for (c, coef) in eqs[e].terms() {
            let coef = coef as i64;
            if masked(c) {
                terms.push((var_of(c), coef));
            } else {
                rhs -= coef as i128 * table.cells[c as usize].value as i128;
            }
        }
        sys.rows.push((terms, rhs));
    }
    sys
}

/// Whether a check starts with hypercubes through masked cells over the
/// whole table, before any LP: on big tables of three dimensions, where LPs
/// over whole components cost most ([`lp::warm_starts_pay`]). Elsewhere the
/// slices give them only the cells their smaller passes leave.
fn hypercubes_first(table: &Table) -> bool {
    !lp::warm_starts_pay(table)
}

/// The exact search of one component (from `given`, a point of its
/// system, when there are no true values).
fn solve_component(
    table: &Table,
    eqs: &[Equation],
    comp: &Component,
    depth: Depth,
    seeds: Option<&[(Q, Q)]>,
    given: Option<&Point>,
    tick: Tick,
) -> Result<Solved, LpError> {
    let levels = depth.levels();
    let sys = system_of(table, eqs, comp);
    // A lone cell fixed by its equations: no LP needed.
    if comp.cells.len() == 1 && !sys.rows.is_empty() {
        let (terms, rhs) = &sys.rows[0];
        let a = terms[0].1 as i128;
        if rhs % a != 0 {
            return Err(LpError::Infeasible);
        }
        let v = rhs / a;
        if v < 0 || sys.rows.iter().any(|(t, r)| *r != v * t[0].1 as i128) {
            return Err(LpError::Infeasible);
        }
        let at = lp::End {
            value: Q::int(v),
            by: None,
        };
        let found = Found {
            base: Some(Point {
                den: 1,
                nums: vec![v],
            }),
            low: vec![at],
            high: vec![at],
            unbounded: vec![false],
            ..Found::default()
        };
        tick(1);
        return Ok((found, true));
    }
    let targets: Vec<Target> = comp
        .cells
        .iter()
        .map(|&c| target_of(&table.cells[c as usize], levels))
        .collect();
    // The point the search starts from: the true values, or `given`.
    let base: Option<Point> = if levels {
        Some(Point {
            den: 1,
            nums: comp
                .cells
                .iter()
                .map(|&c| table.cells[c as usize].value as i128)
                .collect(),
        })
    } else {
        given.cloned()
    };
    let mut seeds: Option<Vec<(Q, Q)>> =
        seeds.map(|s| comp.cells.iter().map(|&c| s[c as usize]).collect());
    // Big three-dimensional tables: rounds from scratch (see lp::warm_starts_pay).
    let cold_rounds = !lp::warm_starts_pay(table);
    let (slice_from, head_start) = match depth {
        Depth::Check { slice_from, .. } => (slice_from, false),
        Depth::HeadStart { slice_from } => (slice_from, true),
        _ => (usize::MAX, false),
    };
    let mut sliced: Option<Found> = None;
    let checks = matches!(
        depth,
        Depth::Check { .. } | Depth::CheckNoLevels | Depth::HeadStart { .. }
    );
    if let (Some(base), Some(s), true) = (&base, &seeds, checks) {
        // Earlier witnesses (a check before, patterns, hypercubes) may
        // prove every verdict already.
        if targets.iter().zip(s).all(|(t, r)| t.met_by(r.0, r.1)) {
            let found = seeded(base, s);
            tick(comp.cells.len() as u64);
            return Ok((found, false));
        }
        if head_start && comp.cells.len() <= slice_from {
            return Ok((seeded(base, s), false));
        }
    }
    if let (Some(base), Some(s)) = (&base, &seeds) {
        if comp.cells.len() > slice_from {
            let mut found = seeded(base, s);
            found.solves = slices::prove_on_slices(
                table,
                &comp.cells,
                &sys,
                base,
                &targets,
                &mut found,
                slice_from,
                levels && !hypercubes_first(table),
                head_start,
            )?;
            let all_met = |f: &Found| {
                targets
                    .iter()
                    .zip(f.ranges())
                    .all(|(t, r)| t.met_by(r.0, r.1))
            };
            if all_met(&found) || head_start {
                tick(comp.cells.len() as u64);
                return Ok((found, false));
            }
            // Only what the slices leave goes to LPs over the whole
            // component: searching each such cell's neighbourhood first
            // proved none of them on national 0.01 to scale 1.
            seeds = Some(found.ranges());
            sliced = Some(found);
        }
    }
    let mut found = intervals_for(
        &sys,
        Search {
            targets: Some(&targets),
            exact: depth.exact(),
            base: base.as_ref(),
            seeds: seeds.as_deref(),
            rounds_only: false,
            pending: None,
            progress: Some(tick),
            cold_rounds,
        },
    )?;
    if let Some(mut s) = sliced {
        // The slices' witnesses and the whole component's, on one base.
        let on = s.base.clone().expect("the true values");
        s.solves += found.solves;
        s.unbounded = std::mem::take(&mut found.unbounded);
        for w in found.witnesses {
            s.add(&on, w);
        }
        found = s;
    }
    if matches!(
        depth,
        Depth::Check { explain: true, .. } | Depth::CheckNoLevels
    ) {
        explain_failures(&sys, &targets, &mut found, cold_rounds)?;
    }
    Ok((found, false))
}

/// A search result holding only the ranges earlier witnesses proved, on
/// the true values.
fn seeded(truth: &Point, seeds: &[(Q, Q)]) -> Found {
    let end = |value: Q| lp::End { value, by: None };
    Found {
        base: Some(truth.clone()),
        low: seeds.iter().map(|r| end(r.0)).collect(),
        high: seeds.iter().map(|r| end(r.1)).collect(),
        unbounded: vec![false; seeds.len()],
        ..Found::default()
    }
}

/// After a check, the attacker's exact extremes of the cells that fail
/// (a check stops at the goals, so its ranges do not say by how much a
/// cell misses them): in `found.shown`, the others at their ranges.
fn explain_failures(
    sys: &System,
    targets: &[Target],
    found: &mut Found,
    cold_rounds: bool,
) -> Result<(), LpError> {
    let ranges = found.ranges();
    let failing: Vec<[bool; 2]> = targets
        .iter()
        .zip(&ranges)
        .map(|(t, &(lo, hi))| {
            // `met_by` holds the whole rule, the unit of width included.
            let f = !t.met_by(lo, hi);
            [f, f]
        })
        .collect();
    if found.base.is_none() || !failing.iter().any(|f| f[0]) {
        return Ok(());
    }
    let extremes = intervals_for(
        sys,
        Search {
            targets: Some(targets),
            exact: true,
            base: found.base.as_ref(),
            seeds: Some(&ranges),
            rounds_only: false,
            pending: Some(&failing),
            progress: None,
            cold_rounds,
        },
    )?;
    found.solves += extremes.solves;
    found.shown = extremes.shown;
    // Their witnesses too: the shortfall is measured on proven ranges.
    let base = found.base.clone().expect("checked above");
    for w in extremes.witnesses {
        found.add(&base, w);
    }
    Ok(())
}
