//! Certified releases (SPEC section 5): verdicts decided to the cent,
//! certificates that `cellmask verify` checks in exact arithmetic, and
//! tampered certificates that it rejects.

mod common;

use std::path::Path;

use common::*;
use predicates::prelude::*;
use serde_json::Value;

const RULES: &str = "[input]\ncontributor='op'\nvalue='value'\n[[dimension]]\nname='r'\nflat=true\nroot='T'\n[[dimension]]\nname='c'\nflat=true\nroot='W'\n";

/// Records where cell A x X (one operator, 100.00) is a primary secret
/// (levels 17.65 up and down), rows C hold 2 x 10^9 euros (the table's
/// total is above 10^11 cents), and the masking of the A/B x X/Y block
/// lets the attacker reach 117.64 at most (A x X + B x X, column X's
/// published part): one cent short of 117.65.
fn one_cent_short(dir: &Path) {
    let mut rec = String::from("op,r,c,value\np,A,X,100.00\n");
    for (r, c, vals) in [
        ("A", "Y", ["20.00", "20.00", "10.00"]),
        ("B", "X", ["6.00", "6.00", "5.64"]),
        ("B", "Y", ["20.00", "20.00", "10.00"]),
        ("C", "X", ["400000000.00", "400000000.00", "200000000.00"]),
        ("C", "Y", ["400000000.00", "400000000.00", "200000000.00"]),
    ] {
        for (i, v) in vals.iter().enumerate() {
            rec.push_str(&format!("o{r}{c}{i},{r},{c},{v}\n"));
        }
    }
    std::fs::write(dir.join("records.csv"), rec).unwrap();
    std::fs::write(dir.join("rules.toml"), RULES).unwrap();
    // Every cell published but the block A/B x X/Y.
    let published = "r,c,value,status\nT,W,2000000217.64,published\nT,X,1000000117.64,published\nT,Y,1000000100.00,published\nA,W,150.00,published\nA,X,,masked\nA,Y,,masked\nB,W,67.64,published\nB,X,,masked\nB,Y,,masked\nC,W,2000000000.00,published\nC,X,1000000000.00,published\nC,Y,1000000000.00,published\n";
    std::fs::write(dir.join("masked.csv"), published).unwrap();
}

fn audit_with_records(dir: &Path) -> assert_cmd::Command {
    let mut cmd = cellmask();
    cmd.args(["audit", "--rules"])
        .arg(dir.join("rules.toml"))
        .arg("--published")
        .arg(dir.join("masked.csv"))
        .arg("--input")
        .arg(dir.join("records.csv"))
        .arg("--out")
        .arg(dir.join("out"));
    cmd
}

/// The tolerance of old (1e-7 of the component's largest published value,
/// here 2 x 10^4 cents) would have passed it; the rule is to the cent.
#[test]
fn one_cent_short_under_a_huge_total_fails() {
    let dir = tempfile::tempdir().unwrap();
    one_cent_short(dir.path());
    audit_with_records(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("[A x X]: under_protected"));
    let rows = read_csv(&dir.path().join("out/audit.csv"));
    let ax = rows
        .iter()
        .find(|r| r["r"] == "A" && r["c"] == "X")
        .unwrap();
    assert_eq!(ax["verdict"], "under_protected");
    assert_eq!(ax["audit_high"], "117.64");
    assert_eq!(ax["shortfall"], "0.01");
    // The certificate the audit wrote fails on that cell only, in verify too.
    let mut v = cellmask();
    v.args(["verify", "--rules"])
        .arg(dir.path().join("rules.toml"))
        .arg("--published")
        .arg(dir.path().join("masked.csv"))
        .arg("--certificate")
        .arg(dir.path().join("out/certificate.json"))
        .arg("--input")
        .arg(dir.path().join("records.csv"));
    v.assert()
        .code(1)
        .stdout(predicate::str::contains(
            "[A x X]: upper protection not reached",
        ))
        .stdout(predicate::str::contains("1 claim(s) fail"));
    // One more cent in B x X lets the attacker reach 117.65: it passes.
    let text = std::fs::read_to_string(dir.path().join("records.csv"))
        .unwrap()
        .replace("5.64", "5.65");
    std::fs::write(dir.path().join("records.csv"), text).unwrap();
    let text = std::fs::read_to_string(dir.path().join("masked.csv"))
        .unwrap()
        .replace("217.64", "217.65")
        .replace("117.64", "117.65")
        .replace("67.64", "67.65");
    std::fs::write(dir.path().join("masked.csv"), text).unwrap();
    audit_with_records(dir.path()).assert().success();
}

/// `protect` on the same records releases a masking that `verify` accepts
/// from the files alone, with the records too, and every primary cell's
/// printed range reaches its printed levels.
#[test]
fn protect_writes_a_certificate_that_verify_accepts() {
    let dir = tempfile::tempdir().unwrap();
    one_cent_short(dir.path());
    let out = dir.path().join("out");
    protect_cmd(
        &dir.path().join("rules.toml"),
        &dir.path().join("records.csv"),
        &out,
    )
    .assert()
    .success();
    let rules = dir.path().join("rules.toml");
    let cert = out.join("certificate.json");
    verify_cmd(&rules, &out, &cert)
        .assert()
        .success()
        .stdout(predicate::str::contains("protection levels not checked"));
    verify_cmd(&rules, &out, &cert)
        .arg("--input")
        .arg(dir.path().join("records.csv"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "every primary cell's protection levels reached",
        ));
    levels_reached(&out.join("cells.csv"));
}

/// Every primary cell of `cells.csv` has `audit_high >= value + upper` and
/// `audit_low <= value - lower`, compared in cents.
fn levels_reached(cells: &Path) -> usize {
    let cents = |s: &str| -> i64 {
        if s == "inf" {
            return i64::MAX;
        }
        let (i, f) = s.split_once('.').unwrap_or((s, "0"));
        i.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
    };
    let mut n = 0;
    for r in read_csv(cells) {
        if r["status"] != "primary" {
            continue;
        }
        let (t, up, lo) = (
            cents(&r["value"]),
            cents(&r["upper_protection"]),
            cents(&r["lower_protection"]),
        );
        assert!(
            cents(&r["audit_high"]) >= t + up && cents(&r["audit_low"]) <= t - lo,
            "{r:?}"
        );
        n += 1;
    }
    n
}

/// A protected DROM file, its certificate, and a way to tamper with it.
struct Protected {
    dir: tempfile::TempDir,
    rules: std::path::PathBuf,
}

impl Protected {
    fn new() -> Protected {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("drom.csv");
        generate("drom", "7", "0.02", &input);
        let rules = repo("rules/drom-imports.toml");
        protect_cmd(&rules, &input, &dir.path().join("out"))
            .arg("--no-regroup")
            .assert()
            .success();
        Protected { dir, rules }
    }

    fn out(&self) -> std::path::PathBuf {
        self.dir.path().join("out")
    }

    fn certificate(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.out().join("certificate.json")).unwrap())
            .unwrap()
    }

    /// Writes a changed certificate and runs verify (with the records) on it.
    fn verify_tampered(&self, cert: &Value) -> assert_cmd::assert::Assert {
        let path = self.dir.path().join("tampered.json");
        std::fs::write(&path, serde_json::to_string(cert).unwrap()).unwrap();
        verify_cmd(&self.rules, &self.out(), &path)
            .arg("--input")
            .arg(self.dir.path().join("drom.csv"))
            .assert()
    }

    /// The first table and witness with a move.
    fn first_witness(cert: &mut Value) -> &mut Value {
        cert["tables"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .flat_map(|t| t["witnesses"].as_array_mut().unwrap().iter_mut())
            .find(|w| w["cells"].as_array().unwrap().len() >= 2)
            .expect("a witness moving two cells")
    }
}

#[test]
fn tampered_certificates_fail_verify() {
    let p = Protected::new();
    let original = p.certificate();
    // Untouched: it holds.
    p.verify_tampered(&original).success();

    // One move changed by one cent: an equation breaks.
    let mut cert = original.clone();
    let w = Protected::first_witness(&mut cert);
    let m = w["moves"][0].as_i64().unwrap();
    w["moves"][0] = Value::from(m + 1);
    p.verify_tampered(&cert)
        .code(1)
        .stdout(predicate::str::contains("its witness does not hold"));

    // One cell dropped from a witness.
    let mut cert = original.clone();
    let w = Protected::first_witness(&mut cert);
    w["cells"].as_array_mut().unwrap().remove(0);
    w["moves"].as_array_mut().unwrap().remove(0);
    p.verify_tampered(&cert).code(1);

    // One masked cell dropped from the certificate: it has no claim.
    let mut cert = original.clone();
    let t = &mut cert["tables"][0];
    for key in ["cells", "anchor", "low", "high"] {
        t[key].as_array_mut().unwrap().pop();
    }
    p.verify_tampered(&cert)
        .code(1)
        .stdout(predicate::str::contains("no claim in the certificate"));

    // A published cell moved: listed as if masked.
    let published = read_csv(&p.out().join("published.csv"));
    let open = published
        .iter()
        .find(|r| r["status"] == "published" && r["territory"] == "GF")
        .unwrap();
    let mut cert = original.clone();
    let t = cert["tables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["split"][0] == "GF")
        .unwrap();
    t["cells"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!([open["product"], open["country"]]));
    for key in ["anchor", "low", "high"] {
        t[key].as_array_mut().unwrap().push(Value::from(0));
    }
    p.verify_tampered(&cert)
        .code(1)
        .stdout(predicate::str::contains("is not a masked cell"));

    // A protection claim moved to the anchor: the cell no longer moves.
    let mut cert = original.clone();
    let t = &mut cert["tables"][0];
    let n = t["high"].as_array().unwrap().len();
    for i in 0..n {
        t["high"][i] = Value::from(-1);
    }
    p.verify_tampered(&cert).code(1);

    // Not a certificate: bad input.
    let path = p.dir.path().join("garbage.json");
    std::fs::write(&path, "{\"format\":\"other\"}").unwrap();
    verify_cmd(&p.rules, &p.out(), &path).assert().code(2);
}

/// The DROM seed-7 imports (the issue's second case, at a smaller scale):
/// protected with regrouping, verified with the records, every primary
/// cell's printed range reaching its printed levels.
#[test]
fn drom_seed_7_imports_are_certified() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("drom.csv");
    generate("drom", "7", "0.05", &input);
    let rules = repo("rules/drom-imports.toml");
    let out = dir.path().join("out");
    protect_cmd(&rules, &input, &out)
        .arg("-q")
        .assert()
        .success();
    assert!(levels_reached(&out.join("cells.csv")) > 100);
    verify_cmd(&rules, &out, &out.join("certificate.json"))
        .arg("--regroup")
        .arg(out.join("regroup.csv"))
        .arg("--input")
        .arg(&input)
        .assert()
        .success();
}

mod properties {
    use std::collections::BTreeSet;

    use cellmask::audit::{audit_table, check_table};
    use cellmask::certify::certificate::Certificate;
    use cellmask::certify::verify::verify;
    use cellmask::rules::{Cost, Method, SecondaryRules};
    use cellmask::secondary::protect_table;
    use cellmask::table::{RuleSet, Status, Table};
    use rand::{Rng, SeedableRng};

    use super::common::tables::random_table;

    fn rules() -> SecondaryRules {
        SecondaryRules {
            method: Method::Auto,
            cost: Cost::Value,
            time_limit: None,
            auto_optimal_max_cells: cellmask::secondary::AUTO_MAX_CELLS,
            publish: vec![],
            mask: vec![],
        }
    }

    /// A random 2- or 3-dimensional table (single-child nodes, zero cells)
    /// with a few primary cells of random integer levels.
    fn random_case(rng: &mut rand_chacha::ChaCha8Rng, leaves: std::ops::Range<usize>) -> Table {
        let mut t = random_table(rng, leaves, |rng| {
            if rng.gen_bool(0.1) {
                0
            } else {
                rng.gen_range(1..100_000)
            }
        });
        let n = t.cells.len();
        for _ in 0..rng.gen_range(1..=3) {
            let c = &mut t.cells[rng.gen_range(0..n)];
            c.status = Status::Primary;
            c.rules = RuleSet::DOMINANCE;
            c.upper_protection = rng.gen_range(0..=c.value / 3 + 1);
            c.lower_protection = c.upper_protection.min(c.value);
        }
        t
    }

    fn certificate(t: &Table, a: &cellmask::audit::TableAudit) -> Certificate {
        let dims: Vec<String> = (0..t.dims.len()).map(|k| format!("d{k}")).collect();
        Certificate::build(
            "test",
            2,
            &[],
            &dims,
            std::slice::from_ref(t),
            std::slice::from_ref(a),
        )
        .unwrap()
    }

    /// Both methods protect random tables, and the certificate of their
    /// masking holds in the exact check.
    #[test]
    fn protected_random_tables_verify() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
        let mut checked = 0;
        for round in 0..40 {
            let mut t = random_case(&mut rng, 3..12);
            let names: Vec<String> = (0..t.dims.len()).map(|k| format!("d{k}")).collect();
            let method = if round % 2 == 0 {
                Method::Fast
            } else {
                Method::Optimal
            };
            let out = protect_table(&mut t, &names, &rules(), method, None).unwrap();
            let audit = match out.audit {
                Some(a) => a,
                None => check_table(&mut t).unwrap(),
            };
            assert!(audit.passed(), "round {round}: {:?}", audit.failures);
            let cert = certificate(&t, &audit);
            let findings = verify(std::slice::from_ref(&t), &cert, true);
            assert!(findings.is_empty(), "round {round}: {findings:?}");
            checked += t.cells.iter().filter(|c| c.status.is_masked()).count();
        }
        assert!(checked > 200, "{checked}");
    }

    /// On random maskings, the cells whose claims fail in the exact check
    /// of the certificate the audit builds are the audit's failing cells.
    #[test]
    fn verify_fails_where_the_exact_audit_fails() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
        let (mut failing, mut passing) = (0, 0);
        for round in 0..60 {
            // Enough detail that many maskings leave room to move.
            let mut t = random_case(&mut rng, 60..150);
            for c in &mut t.cells {
                if c.status == Status::Published && rng.gen_bool(0.5) {
                    c.status = Status::Secondary;
                }
            }
            // Now and then, a primary left published.
            if round % 7 == 0 {
                if let Some(c) = t.cells.iter_mut().find(|c| c.status == Status::Primary) {
                    c.status = Status::Published;
                }
            }
            let audit = audit_table(&mut t, true).unwrap();
            let cert = certificate(&t, &audit);
            let findings = verify(std::slice::from_ref(&t), &cert, true);
            assert!(findings.iter().all(|f| f.cell.is_some()), "{findings:?}");
            let by_verify: BTreeSet<u32> = findings.iter().filter_map(|f| f.cell).collect();
            let by_audit: BTreeSet<u32> = audit.failures.iter().map(|f| f.cell).collect();
            assert_eq!(by_verify, by_audit, "round {round}");
            failing += by_audit.len();
            passing += (0..t.cells.len() as u32)
                .filter(|&c| t.cells[c as usize].status.is_masked() && !by_audit.contains(&c))
                .count();
        }
        eprintln!("{failing} failing, {passing} passing");
        assert!(failing > 30 && passing > 100, "{failing} {passing}");
    }
}
