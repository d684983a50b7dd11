//! Secondary suppression: the exact method against the exhaustive optimum
//! on tiny tables (every cost), the singleton rule, and random
//! hierarchical tables where every method's masking passes the audit and
//! `optimal` never costs more than `fast`.

use cellmask::audit::audit_table;
use cellmask::audit::equations::equations;
use cellmask::rules::{Cost, Method, SecondaryRules};
use cellmask::secondary::{cost, protect_table, Outcome};
use cellmask::table::{RuleSet, Status, Table};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

mod common;
use common::tables::{index, random_table, table, tree};

fn rules(cost: Cost) -> SecondaryRules {
    SecondaryRules {
        method: Method::Auto,
        cost,
        time_limit: None,
        auto_optimal_max_cells: cellmask::secondary::AUTO_MAX_CELLS,
        publish: vec![],
        mask: vec![],
    }
}

fn make_primary(t: &mut Table, i: usize, level: f64) {
    let c = &mut t.cells[i];
    c.status = Status::Primary;
    c.rules = RuleSet::DOMINANCE;
    c.upper_protection = level.ceil() as i64;
    c.lower_protection = (level.ceil() as i64).min(c.value);
}

/// A random table of 2 or 3 dimensions (single-child nodes and zero
/// cells included); values are multiples of 10 so that attacker intervals
/// are never narrower than the exact method's minimum width.
fn random_case(seed: u64, zeros: f64) -> Table {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut t = random_table(&mut rng, 3..9, |rng| {
        if rng.gen_bool(zeros) {
            0
        } else {
            10 * rng.gen_range(1..100)
        }
    });
    let n = t.cells.len();
    for _ in 0..rng.gen_range(1..=2) {
        let i = rng.gen_range(0..n);
        let level = (0.2 * t.cells[i].value as f64).max(10.0);
        make_primary(&mut t, i, level);
    }
    t
}

/// The singleton rule as the methods apply it: no equation of more than
/// two cells whose only masked cells are two single-contributor primaries.
fn singleton_ok(t: &Table) -> bool {
    equations(t).iter().all(|e| {
        let masked: Vec<u32> = e
            .terms()
            .map(|(c, _)| c)
            .filter(|&c| t.cells[c as usize].status.is_masked())
            .collect();
        let single = |c: u32| {
            let cell = &t.cells[c as usize];
            cell.status == Status::Primary && cell.contributors == 1
        };
        e.parts.len() < 2 || !(masked.len() == 2 && masked.iter().all(|&c| single(c)))
    })
}

/// The cheapest masking that passes the audit and the singleton rule,
/// over all subsets of the non-primary cells.
fn exhaustive_optimum(t: &Table, kind: Cost) -> f64 {
    let free: Vec<usize> = (0..t.cells.len())
        .filter(|&i| t.cells[i].status != Status::Primary)
        .collect();
    assert!(free.len() <= 12, "too many candidates: {}", free.len());
    let mut best = f64::INFINITY;
    for subset in 0u32..(1 << free.len()) {
        let c: f64 = free
            .iter()
            .enumerate()
            .filter(|(b, _)| subset >> b & 1 == 1)
            .map(|(_, &i)| cost(&t.cells[i], kind))
            .sum();
        if c >= best {
            continue;
        }
        let mut u = t.clone();
        for (b, &i) in free.iter().enumerate() {
            if subset >> b & 1 == 1 {
                u.cells[i].status = Status::Secondary;
            }
        }
        if singleton_ok(&u) && audit_table(&mut u, true).unwrap().passed() {
            best = c;
        }
    }
    best
}

fn run(t: &Table, kind: Cost, method: Method) -> (Table, Outcome) {
    let mut u = t.clone();
    let names: Vec<String> = (0..u.dims.len()).map(|k| format!("d{k}")).collect();
    let out = protect_table(&mut u, &names, &rules(kind), method, None).unwrap();
    let audit = audit_table(&mut u, true).unwrap();
    assert!(
        audit.passed(),
        "{method:?} masking fails the audit: {:?}",
        audit.failures
    );
    assert!(
        singleton_ok(&u),
        "{method:?} masking breaks the singleton rule"
    );
    (u, out)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn optimal_equals_the_exhaustive_optimum_for_every_cost() {
    let mut compared = 0;
    for seed in 0..3000u64 {
        let kind =
            [Cost::Value, Cost::Unity, Cost::Contributors, Cost::LogValue][seed as usize % 4];
        let t = random_case(seed, 0.0);
        let free = t
            .cells
            .iter()
            .filter(|c| c.status != Status::Primary)
            .count();
        if !(4..=12).contains(&free) {
            continue;
        }
        let best = exhaustive_optimum(&t, kind);
        let (_, opt) = run(&t, kind, Method::Optimal);
        assert_eq!(opt.method, "optimal");
        assert!(
            close(opt.cost, best),
            "seed {seed} {kind:?}: optimal {} vs exhaustive {best}",
            opt.cost
        );
        assert_eq!(opt.gap, Some(0.0), "seed {seed}");
        // Fast's polish ends with a table this small re-solved whole: the optimum.
        let (_, fast) = run(&t, kind, Method::Fast);
        assert!(
            close(fast.cost, best),
            "seed {seed} {kind:?}: fast {} vs exhaustive {best}",
            fast.cost
        );
        compared += 1;
        if compared == 16 {
            break;
        }
    }
    assert_eq!(compared, 16, "not enough small cases");
}

/// Rows A, B under T; columns X, Y, Z under W. The two single-contributor
/// primaries A.X and A.Y: the cheapest rectangle (A.X, A.Y, B.X, B.Y)
/// would leave them alone in row A, where each contributor could subtract
/// its own value to find the other's. One more cell of row A is masked.
#[test]
fn singleton_primaries_never_share_an_equation_alone() {
    let rows = tree("T,\nA,T\nB,T\n");
    let cols = tree("W,\nX,W\nY,W\nZ,W\n");
    let leaves: Vec<(&[&str], i64)> = vec![
        (&["A", "X"], 100),
        (&["A", "Y"], 100),
        (&["A", "Z"], 500),
        (&["A", "Z"], 500),
        (&["B", "X"], 300),
        (&["B", "X"], 300),
        (&["B", "Y"], 300),
        (&["B", "Y"], 300),
        (&["B", "Z"], 400),
        (&["B", "Z"], 400),
    ];
    let mut t = table(&[rows, cols], &leaves);
    for codes in [["A", "X"], ["A", "Y"]] {
        let i = index(&t, &codes);
        assert_eq!(t.cells[i].contributors, 1);
        make_primary(&mut t, i, 10.0);
    }
    let best = exhaustive_optimum(&t, Cost::Value);
    for method in [Method::Optimal, Method::Fast] {
        let (u, out) = run(&t, Cost::Value, method);
        let row_a = ["X", "Y", "Z", "W"]
            .iter()
            .filter(|c| u.cells[index(&u, &["A", c])].status.is_masked())
            .count();
        assert!(row_a >= 3, "{method:?}: {row_a} masked cells in row A");
        if method == Method::Optimal {
            assert!(close(out.cost, best), "optimal {} vs {best}", out.cost);
        }
    }
    // Without the rule the rectangle would do: the optimum is dearer with it.
    assert!(best > 1200.0, "{best}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Random hierarchical tables, 2 or 3 dimensions, zero cells (and so
    /// zero totals) included: both methods pass the audit, and the exact
    /// method never costs more than the fast one.
    #[test]
    fn every_method_passes_and_optimal_is_never_dearer(seed in 0u64..1_000_000, zeros in 0.0f64..0.5) {
        let t = random_case(seed, zeros);
        let (_, fast) = run(&t, Cost::Value, Method::Fast);
        let (_, opt) = run(&t, Cost::Value, Method::Optimal);
        prop_assert!(opt.cost <= fast.cost + 1e-6 * fast.cost.max(1.0),
            "optimal {} > fast {}", opt.cost, fast.cost);
    }
}

/// A deadline that has already passed: the exact method still returns a
/// protected masking (its fallback) and reports how far from its bound.
#[test]
fn exact_method_past_its_deadline_still_protects() {
    for seed in 0..6u64 {
        let t = random_case(seed, 0.1);
        let mut u = t.clone();
        let names: Vec<String> = (0..u.dims.len()).map(|k| format!("d{k}")).collect();
        let out = protect_table(
            &mut u,
            &names,
            &rules(Cost::Value),
            Method::Optimal,
            Some(1e-9),
        )
        .unwrap();
        assert!(audit_table(&mut u, true).unwrap().passed(), "seed {seed}");
        let gap = out.gap.expect("a gap is reported");
        assert!((0.0..=1.0).contains(&gap), "seed {seed}: gap {gap}");
        assert_eq!(out.lower_bound, Some(0.0), "no master solved: bound 0");
    }
}

/// Given a gap, the exact method may stop at an incumbent (a failing
/// master masking finished by another method, here the repair): the
/// masking is protected, the bound is never above the proven optimum, and
/// the masking costs at most the bound plus the gap.
#[test]
fn exact_method_stops_within_its_gap() {
    use cellmask::certify::witness::Proofs;
    use cellmask::secondary::optimal::{self, Budget, Stop};
    use cellmask::secondary::{repair, Instance};
    let (mut finished, mut early) = (0, 0);
    for seed in 0..40u64 {
        let t = random_case(seed, 0.1);
        let (_, opt) = run(&t, Cost::Value, Method::Optimal);
        assert_eq!(opt.gap, Some(0.0), "seed {seed}");
        let best = opt.cost;
        let mut u = t.clone();
        let names: Vec<String> = (0..u.dims.len()).map(|k| format!("d{k}")).collect();
        let inst = Instance::new(&mut u, &names, Cost::Value, &[], &[]).unwrap();
        let mut calls = 0;
        let mut finish = |t: &mut Table, _: Proofs| {
            calls += 1;
            repair::run(t, &inst).map(|r| r.audit)
        };
        let budget = Budget {
            gap: 0.5,
            ..Budget::default()
        };
        let sol = match optimal::run(&mut u, &inst, budget, &mut finish) {
            Ok((sol, _)) => sol,
            Err(Stop::Deadline(_)) => panic!("seed {seed}: no masking within the gap"),
            Err(Stop::Lp(e)) => panic!("seed {seed}: {e}"),
        };
        assert!(audit_table(&mut u, true).unwrap().passed(), "seed {seed}");
        assert!(singleton_ok(&u), "seed {seed}");
        let c: f64 = u
            .cells
            .iter()
            .filter(|c| c.status == Status::Secondary)
            .map(|c| cost(c, Cost::Value))
            .sum();
        let tol = 1e-6 * best.max(1.0);
        assert!(
            sol.lower_bound <= best + tol,
            "seed {seed}: bound {} above the optimum {best}",
            sol.lower_bound
        );
        assert!(c >= best - tol, "seed {seed}: {c} below the optimum {best}");
        assert!(
            c - sol.lower_bound <= 0.5 * c + tol,
            "seed {seed}: {c} vs bound {}",
            sol.lower_bound
        );
        finished += usize::from(calls > 0);
        early += usize::from(!close(c, best));
    }
    assert!(finished > 0, "no master masking was finished");
    assert!(early > 0, "no stop above the optimum");
}
