//! The audit's intervals: hand-computed on tiny tables, and checked on
//! random tables against an independent formulation (a dense LP over all
//! cells built with good_lp).

use cellmask::audit::{audit_table, FailureKind};
use cellmask::table::{RuleSet, Status, Table};
use rand::{Rng, SeedableRng};

mod common;
use common::tables::{index, random_table, table, tree};

fn mask(t: &mut Table, cells: &[&[&str]]) {
    for c in cells {
        let i = index(t, c);
        t.cells[i].status = Status::Secondary;
    }
}

fn interval(t: &Table, codes: &[&str]) -> (f64, f64) {
    t.cells[index(t, codes)].audit.expect("audited")
}

fn assert_interval(t: &Table, codes: &[&str], low: f64, high: f64) {
    let (l, h) = interval(t, codes);
    assert!((l - low).abs() < 1e-6, "{codes:?}: low {l}, expected {low}");
    assert!(
        (h - high).abs() < 1e-6 || (h.is_infinite() && high.is_infinite()),
        "{codes:?}: high {h}, expected {high}"
    );
}

fn two_by_two() -> Table {
    let rows = tree("T,\nA,T\nB,T\n");
    let cols = tree("W,\nX,W\nY,W\n");
    table(
        &[rows, cols],
        &[
            (&["A", "X"], 10),
            (&["A", "Y"], 20),
            (&["B", "X"], 30),
            (&["B", "Y"], 40),
        ],
    )
}

#[test]
fn two_by_two_interior_hand_computed() {
    let mut t = two_by_two();
    mask(
        &mut t,
        &[&["A", "X"], &["A", "Y"], &["B", "X"], &["B", "Y"]],
    );
    let a = audit_table(&mut t, false).unwrap();
    // AX = s: AY = 30 - s, BX = 40 - s, BY = 30 + s, all >= 0: s in [0, 30].
    assert_interval(&t, &["A", "X"], 0.0, 30.0);
    assert_interval(&t, &["A", "Y"], 0.0, 30.0);
    assert_interval(&t, &["B", "X"], 10.0, 40.0);
    assert_interval(&t, &["B", "Y"], 30.0, 60.0);
    assert!(a.passed());
    assert_eq!((a.components, a.largest_component, a.masked), (1, 4, 4));
}

#[test]
fn lone_primary_in_a_row_is_disclosed() {
    let mut t = two_by_two();
    let ax = index(&t, &["A", "X"]);
    t.cells[ax].status = Status::Primary;
    t.cells[ax].rules = RuleSet::FREQUENCY;
    t.cells[ax].upper_protection = 1;
    t.cells[ax].lower_protection = 1;
    let a = audit_table(&mut t, true).unwrap();
    assert_interval(&t, &["A", "X"], 10.0, 10.0);
    assert_eq!(a.exact_without_lp, 1);
    assert_eq!(a.failures.len(), 1);
    assert_eq!(a.failures[0].kind, FailureKind::ExactDisclosure);
}

#[test]
fn under_protection_and_published_primary_are_caught() {
    let mut t = two_by_two();
    mask(
        &mut t,
        &[&["A", "X"], &["A", "Y"], &["B", "X"], &["B", "Y"]],
    );
    // AX = 10 in [0, 30]: an upper level of 25 needs 35 > 30.
    let ax = index(&t, &["A", "X"]);
    t.cells[ax].status = Status::Primary;
    t.cells[ax].rules = RuleSet::DOMINANCE;
    t.cells[ax].upper_protection = 25;
    t.cells[ax].lower_protection = 5;
    // A primary left published.
    let a_total = index(&t, &["A", "W"]);
    t.cells[a_total].rules = RuleSet::FREQUENCY;
    let a = audit_table(&mut t, true).unwrap();
    let kinds: Vec<FailureKind> = a.failures.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [FailureKind::PrimaryPublished, FailureKind::UnderProtected]
    );
    // 20 is enough: 10 + 20 = 30 <= 30.
    t.cells[ax].upper_protection = 20;
    t.cells[a_total].rules = RuleSet::default();
    assert!(audit_table(&mut t, true).unwrap().passed());
}

#[test]
fn three_by_three_block_hand_computed() {
    let rows = tree("T,\nA,T\nB,T\nC,T\n");
    let cols = tree("W,\nX,W\nY,W\nZ,W\n");
    let mut leaves: Vec<(&[&str], i64)> = Vec::new();
    let codes: [[&str; 2]; 9] = [
        ["A", "X"],
        ["A", "Y"],
        ["A", "Z"],
        ["B", "X"],
        ["B", "Y"],
        ["B", "Z"],
        ["C", "X"],
        ["C", "Y"],
        ["C", "Z"],
    ];
    let values = [5, 10, 15, 10, 20, 30, 15, 30, 45];
    for (c, v) in codes.iter().zip(values) {
        leaves.push((c, v));
    }
    let mut t = table(&[rows, cols], &leaves);
    mask(
        &mut t,
        &[&["A", "X"], &["A", "Y"], &["B", "X"], &["B", "Y"]],
    );
    audit_table(&mut t, false).unwrap();
    // AX = s, AY = 15 - s, BX = 15 - s, BY = 15 + s: s in [0, 15].
    assert_interval(&t, &["A", "X"], 0.0, 15.0);
    assert_interval(&t, &["A", "Y"], 0.0, 15.0);
    assert_interval(&t, &["B", "X"], 0.0, 15.0);
    assert_interval(&t, &["B", "Y"], 15.0, 30.0);
}

#[test]
fn three_dimensions_with_a_single_child_node() {
    let d1 = tree("T1,\nu,T1\nv,T1\n");
    let d2 = tree("T2,\ng,T2\n"); // g is the only child: (x, T2, y) = (x, g, y)
    let d3 = tree("T3,\nm,T3\nn,T3\n");
    let mut t = table(
        &[d1, d2, d3],
        &[
            (&["u", "g", "m"], 1),
            (&["u", "g", "n"], 2),
            (&["v", "g", "m"], 3),
            (&["v", "g", "n"], 4),
        ],
    );
    assert_eq!(t.cells.len(), 3 * 2 * 3);
    let block: Vec<[&str; 3]> = ["g", "T2"]
        .iter()
        .flat_map(|&g| [["u", g, "m"], ["u", g, "n"], ["v", g, "m"], ["v", g, "n"]])
        .collect();
    let refs: Vec<&[&str]> = block.iter().map(|c| &c[..]).collect();
    mask(&mut t, &refs);
    let a = audit_table(&mut t, false).unwrap();
    assert_eq!(a.components, 1);
    for g in ["g", "T2"] {
        // um = s, un = 3 - s, vm = 4 - s, vn = 3 + s: s in [0, 3].
        assert_interval(&t, &["u", g, "m"], 0.0, 3.0);
        assert_interval(&t, &["u", g, "n"], 0.0, 3.0);
        assert_interval(&t, &["v", g, "m"], 1.0, 4.0);
        assert_interval(&t, &["v", g, "n"], 3.0, 6.0);
    }
    // Masking a cell but not its single-child twin discloses it.
    let mut t2 = t.clone();
    for c in &mut t2.cells {
        c.status = Status::Published;
    }
    mask(&mut t2, &[&["u", "g", "m"]]);
    let a = audit_table(&mut t2, false).unwrap();
    assert_eq!(a.failures[0].kind, FailureKind::ExactDisclosure);
}

#[test]
fn unbounded_maximum_when_the_total_is_masked() {
    let rows = tree("T,\na,T\nb,T\n");
    let mut t = table(&[rows], &[(&["a"], 3), (&["b"], 5)]);
    mask(&mut t, &[&["T"], &["a"]]);
    let a = audit_table(&mut t, false).unwrap();
    assert_interval(&t, &["a"], 0.0, f64::INFINITY);
    assert_interval(&t, &["T"], 5.0, f64::INFINITY);
    assert!(a.passed());
}

/// The attacker's interval of cell `target` by a dense LP over every cell
/// (published ones fixed by their bounds), built with good_lp: a
/// formulation independent of the audit's components and shortcuts.
fn dense_interval(t: &Table, target: usize) -> (f64, f64) {
    use good_lp::{
        constraint, variable, Expression, ProblemVariables, ResolutionError, Solution, SolverModel,
    };
    let eqs = cellmask::audit::equations::equations(t);
    let solve = |maximise: bool| -> f64 {
        let mut vars = ProblemVariables::new();
        let x: Vec<_> = t
            .cells
            .iter()
            .map(|c| {
                if c.status.is_masked() {
                    vars.add(variable().min(0))
                } else {
                    vars.add(variable().min(c.value as f64).max(c.value as f64))
                }
            })
            .collect();
        let objective: Expression = x[target].into();
        let mut model = if maximise {
            vars.maximise(objective)
        } else {
            vars.minimise(objective)
        }
        .using(good_lp::highs);
        for e in &eqs {
            let parts: Expression = e.parts.iter().map(|&p| x[p as usize]).sum();
            model = model.with(constraint!(x[e.total as usize] == parts));
        }
        match model.solve() {
            Ok(s) => s.value(x[target]),
            Err(ResolutionError::Unbounded) => f64::INFINITY,
            Err(e) => panic!("dense LP: {e}"),
        }
    };
    (solve(false), solve(true))
}

#[test]
fn random_tables_match_a_dense_formulation() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut checked = 0;
    for round in 0..30 {
        // Zero values too: cells exist with value 0.
        let mut t = random_table(&mut rng, 3..12, |rng| {
            if rng.gen_bool(0.1) {
                0
            } else {
                rng.gen_range(1..1000)
            }
        });
        for c in &mut t.cells {
            if rng.gen_bool(0.4) {
                c.status = Status::Secondary;
            }
        }
        audit_table(&mut t, false).unwrap();
        for i in 0..t.cells.len() {
            if !t.cells[i].status.is_masked() {
                assert!(t.cells[i].audit.is_none());
                continue;
            }
            // Intervals are written rounded inwards to the unit.
            let (low, high) = t.cells[i].audit.unwrap();
            let (dl, dh) = dense_interval(&t, i);
            let (dl, dh) = ((dl - 1e-6).ceil(), (dh + 1e-6).floor());
            assert!(
                (low - dl).abs() < 1e-6,
                "round {round} cell {:?}: low {low} vs {dl}",
                t.codes(t.cells[i].key)
            );
            assert!(
                (high - dh).abs() < 1e-6 || (high.is_infinite() && dh.is_infinite()),
                "round {round} cell {:?}: high {high} vs {dh}",
                t.codes(t.cells[i].key)
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

/// Makes `c` a primary secret by dominance, protected by 30% of its value.
fn dominant(c: &mut cellmask::table::Cell) {
    c.status = Status::Primary;
    c.rules = RuleSet::DOMINANCE;
    c.upper_protection = (c.value * 3 / 10).max(1);
    c.lower_protection = (c.value * 3 / 10).min(c.value);
}

/// A head start (witnesses from the small slices of a masking, searched
/// while it still grows) holds only exact deviations of cells masked then;
/// a check of the grown masking from it has the exact audit's verdicts.
#[test]
fn head_start_witnesses_hold_and_keep_the_verdicts() {
    use cellmask::audit::equations::equations;
    use cellmask::audit::{check_table_sliced, head_start_sliced};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut witnesses = 0;
    for round in 0..30 {
        let mut t = random_table(&mut rng, 30..80, |rng| rng.gen_range(0..1000));
        for c in &mut t.cells {
            if rng.gen_bool(0.7) {
                dominant(c);
            }
        }
        let masked_then: Vec<bool> = t.cells.iter().map(|c| c.status.is_masked()).collect();
        // Components of more than 40 cells; real runs slice from 10,000.
        let head = head_start_sliced(&mut t, 40).unwrap();
        let eqs = equations(&t);
        for (k, w) in head.witnesses.iter().enumerate() {
            witnesses += 1;
            let mut moved = vec![0i128; t.cells.len()];
            for &(c, m) in &w.moves {
                assert!(
                    masked_then[c as usize],
                    "round {round} witness {k}: cell {c} was published"
                );
                moved[c as usize] = m;
                let v = t.cells[c as usize].value as i128 * w.den + m;
                assert!(v >= 0, "round {round} witness {k}: cell {c} below 0");
            }
            for e in &eqs {
                let sum: i128 = e
                    .terms()
                    .map(|(c, coef)| coef as i128 * moved[c as usize])
                    .sum();
                assert_eq!(sum, 0, "round {round} witness {k}: an equation breaks");
            }
        }
        for c in &mut t.cells {
            if c.status == Status::Published && rng.gen_bool(0.25) {
                c.status = Status::Secondary;
            }
        }
        let after = check_table_sliced(&mut t, Some(head), 40).unwrap();
        let fresh = check_table_sliced(&mut t, None, 40).unwrap();
        let exact = audit_table(&mut t, true).unwrap();
        assert_eq!(
            after.failures, exact.failures,
            "round {round}: after the head start"
        );
        assert_eq!(fresh.failures, exact.failures, "round {round}: fresh");
    }
    assert!(witnesses > 15, "{witnesses}");
}

/// A check after the masking grew reuses the earlier check's ranges: same
/// verdicts as a fresh check and as the exact audit, and every interval it
/// writes lies inside the attacker's exact one. When a cell was unmasked
/// since, nothing is reused (and the verdicts still agree).
#[test]
fn check_after_a_grown_masking_agrees_with_the_exact_audit() {
    use cellmask::audit::{check_table, check_table_after, check_table_sliced};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut compared = 0;
    for round in 0..40 {
        let mut t = random_table(&mut rng, 4..14, |rng| rng.gen_range(0..1000));
        for c in &mut t.cells {
            if rng.gen_bool(0.3) {
                dominant(c);
            } else if rng.gen_bool(0.4) {
                c.status = Status::Secondary;
            }
        }
        let earlier = check_table(&mut t).unwrap().proofs;
        // Grow; one round in two, also publish half of the earlier secondary cells.
        let shrink = round % 2 == 1;
        for c in &mut t.cells {
            match c.status {
                Status::Published if rng.gen_bool(0.2) => c.status = Status::Secondary,
                Status::Secondary if shrink && rng.gen_bool(0.5) => c.status = Status::Published,
                _ => {}
            }
        }
        let after = check_table_after(&mut t, Some(earlier.clone())).unwrap();
        let proven: Vec<Option<(f64, f64)>> = t.cells.iter().map(|c| c.audit).collect();
        // Components of more than 4 cells proven on slices first (real runs slice from 10,000).
        let sliced = check_table_sliced(&mut t, Some(earlier), 4).unwrap();
        let proven_sliced: Vec<Option<(f64, f64)>> = t.cells.iter().map(|c| c.audit).collect();
        let sliced_fresh = check_table_sliced(&mut t, None, 4).unwrap();
        let fresh = check_table(&mut t).unwrap();
        let exact = audit_table(&mut t, true).unwrap();
        for (name, a) in [
            ("after", &after),
            ("sliced", &sliced),
            ("sliced fresh", &sliced_fresh),
            ("fresh", &fresh),
        ] {
            assert_eq!(a.failures, exact.failures, "round {round}: {name}");
            assert!(!a.exact);
        }
        assert!(exact.exact);
        for (i, c) in t.cells.iter().enumerate() {
            for p in [proven[i], proven_sliced[i]] {
                match (p, c.audit) {
                    (None, None) => {}
                    (Some((pl, ph)), Some((el, eh))) => {
                        let tol = 1e-6 * eh.abs().clamp(1.0, 1e9) + 1e-6;
                        assert!(
                            pl >= el - tol && ph <= eh + tol,
                            "round {round} cell {i}: [{pl}, {ph}] not in [{el}, {eh}]"
                        );
                        compared += 1;
                    }
                    other => panic!("round {round} cell {i}: {other:?}"),
                }
            }
        }
    }
    assert!(compared > 400, "{compared}");
}

/// Progress counts every masked cell exactly once, whichever audit runs
/// (exact or the verdict, with or without levels): a bar that reaches its
/// end says nothing is left.
#[test]
fn progress_counts_each_masked_cell_once() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for round in 0..12 {
        let mut t = random_table(&mut rng, 3..12, |rng| rng.gen_range(1..1000));
        for c in &mut t.cells {
            if rng.gen_bool(0.4) {
                c.status = Status::Secondary;
            }
        }
        let masked = t.cells.iter().filter(|c| c.status.is_masked()).count() as u64;
        for (exact, levels) in [(true, true), (true, false), (false, true), (false, false)] {
            let settled = AtomicU64::new(0);
            let tick = |n: u64| {
                settled.fetch_add(n, Ordering::Relaxed);
            };
            cellmask::audit::final_audit(&mut t.clone(), exact, levels, &tick).unwrap();
            assert_eq!(
                settled.load(Ordering::Relaxed),
                masked,
                "round {round}, exact {exact}, levels {levels}"
            );
        }
    }
}
