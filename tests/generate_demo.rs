//! `generate` and `demo` as a user runs them, and the properties every run
//! must keep: determinism whatever `--jobs`, and no contributor id or count
//! in a release file or a log.

mod common;

use common::*;

#[test]
fn generate_is_deterministic_and_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.csv"),
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
    );
    generate("drom", "7", "0.05", &a);
    generate("drom", "7", "0.05", &b);
    generate("drom", "8", "0.05", &c);
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn drom_profile_has_territories_interdom_and_space() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("d.csv");
    generate("drom", "1", "0.2", &f);
    let rows = read_csv(&f);
    let has =
        |pred: &dyn Fn(&std::collections::HashMap<String, String>) -> bool| rows.iter().any(pred);
    for t in ["GP", "MQ", "GF", "RE", "YT"] {
        for flow in ["I", "E"] {
            assert!(
                has(&|r| r["territory"] == t && r["flow"] == flow),
                "{t} {flow}"
            );
        }
    }
    assert!(
        has(&|r| r["territory"] == "GP" && r["flow"] == "E" && r["country"] == "MQ"),
        "Interdom GP -> MQ"
    );
    assert!(
        has(&|r| r["territory"] == "MQ" && r["flow"] == "E" && r["country"] == "GP"),
        "Interdom MQ -> GP"
    );
    assert!(
        has(&|r| r["territory"] == "GF" && r["product"] == "88079021"),
        "space products in GF"
    );
    assert!(
        has(&|r| r["country"] == "FR"),
        "metropolitan France as partner"
    );
    // Several declarations per operator and cell.
    let mut seen = std::collections::HashSet::new();
    let repeated = rows
        .iter()
        .filter(|r| !seen.insert((&r["operator"], &r["flow"], &r["product"], &r["country"])))
        .count();
    assert!(
        repeated > rows.len() / 10,
        "{repeated} repeated declarations of {}",
        rows.len()
    );
}

/// Every profile's file is read by its rule sets without an input error,
/// and most detailed cells are secret.
#[test]
fn generated_files_fit_the_shipped_rule_sets() {
    let dir = tempfile::tempdir().unwrap();
    for (profile, rules) in [
        ("drom", vec!["drom-imports.toml", "drom-exports.toml"]),
        ("national", vec!["national.toml"]),
        ("regional", vec!["regional.toml"]),
    ] {
        let input = dir.path().join(format!("{profile}.csv"));
        // Regional tables are three-dimensional: kept small here.
        let scale = match profile {
            "drom" => "0.02",
            "regional" => "0.0003",
            _ => "0.001",
        };
        generate(profile, "3", scale, &input);
        for r in rules {
            let out = dir.path().join(r);
            let code = cellmask()
                .args(["protect", "--quiet", "--rules"])
                .arg(repo("rules").join(r))
                .arg("--input")
                .arg(&input)
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap();
            assert!(
                code.status.code() == Some(0) || code.status.code() == Some(1),
                "{r}: {:?}",
                code
            );
            let cells = read_csv(&out.join("cells.csv"));
            assert!(!cells.is_empty());
            let primary = cells.iter().filter(|c| c["status"] == "primary").count();
            assert!(
                primary * 2 > cells.len(),
                "{r}: {primary} primary of {}",
                cells.len()
            );
        }
    }
}

/// Runs `cellmask demo --out DIR`; returns what it printed.
fn demo(dir: &std::path::Path) -> String {
    let out = cellmask()
        .args(["demo", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn demo_runs_with_no_argument_and_writes_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let text = demo(dir.path());
    assert!(
        text.contains("drom-imports") && text.contains("drom-exports"),
        "{text}"
    );
    assert!(text.contains("primary secrets"), "{text}");
    for sub in ["imports", "exports"] {
        assert!(dir.path().join(sub).join("cells.csv").exists());
        assert!(dir.path().join(sub).join("report.json").exists());
    }
}

#[test]
fn same_output_whatever_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    generate("drom", "5", "0.02", &input);
    let mut outputs = Vec::new();
    for jobs in ["1", "2", "1"] {
        let out = dir.path().join(format!("out{}", outputs.len()));
        cellmask()
            .args(["protect", "--quiet", "--jobs", jobs, "--rules"])
            .arg(repo("rules/drom-imports.toml"))
            .arg("--input")
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        outputs.push((
            std::fs::read(out.join("published.csv")).unwrap(),
            std::fs::read(out.join("regroup.csv")).unwrap(),
            report_without_timings(&out),
        ));
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
}

/// No contributor id, contributor count or contributor value in the release
/// file, the report or the log.
#[test]
fn no_contributor_in_release_files_or_logs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = cellmask()
        .args(["protect", "--rules"])
        .arg(data("tiny.toml"))
        .arg("--input")
        .arg(data("safe.csv"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success());
    let published = std::fs::read_to_string(out.join("published.csv")).unwrap();
    let report = std::fs::read_to_string(out.join("report.json")).unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    for text in [&published, &report, &log] {
        for id in ["alpha", "beta", "gamma"] {
            assert!(!text.contains(id), "contributor id {id} leaked");
        }
        assert!(
            !text.to_lowercase().contains("contributors"),
            "contributor counts leaked"
        );
        // alpha's 50.50 in 0101 x IT is a single contributor's value.
        assert!(!text.contains("50.50"), "a contributor's value leaked");
    }
    assert_eq!(
        published.lines().next().unwrap(),
        "flow,product,country,value,status"
    );
    // The internal file does carry counts (SPEC section 3), never ids.
    let cells = std::fs::read_to_string(out.join("cells.csv")).unwrap();
    assert!(!cells.contains("alpha"));
}

/// The demo's release files, audited again by `cellmask audit` from the
/// published values and the records: every masked cell passes.
#[test]
fn demo_release_files_pass_an_independent_audit() {
    let dir = tempfile::tempdir().unwrap();
    let text = demo(dir.path());
    assert_eq!(text.matches("protected: audit passed").count(), 2, "{text}");
    for (sub, rules) in [
        ("imports", "drom-imports.toml"),
        ("exports", "drom-exports.toml"),
    ] {
        let audited = dir.path().join(format!("audit-{sub}"));
        cellmask()
            .args(["audit", "--quiet", "--rules"])
            .arg(repo(&format!("rules/{rules}")))
            .arg("--published")
            .arg(dir.path().join(sub).join("published.csv"))
            .arg("--regroup")
            .arg(dir.path().join(sub).join("regroup.csv"))
            .arg("--input")
            .arg(dir.path().join("records.csv"))
            .arg("--out")
            .arg(&audited)
            .assert()
            .success();
        let rows = read_csv(&audited.join("audit.csv"));
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r["verdict"] == "ok"), "{sub}");
    }
}

/// The regional profile: a few departments hold most of the value, most
/// trade little, and each operator declares in one or a few departments.
#[test]
fn regional_profile_concentrates_trade_in_a_few_departments() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("regional.csv");
    generate("regional", "1", "0.01", &input);
    let rows = read_csv(&input);
    assert!(rows.len() > 20_000, "{}", rows.len());
    let mut by_dept: std::collections::HashMap<String, f64> = Default::default();
    let mut depts_of: std::collections::HashMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for r in &rows {
        *by_dept.entry(r["department"].clone()).or_default() += r["value"].parse::<f64>().unwrap();
        depts_of
            .entry(r["operator"].clone())
            .or_default()
            .insert(r["department"].clone());
    }
    let total: f64 = by_dept.values().sum();
    let mut values: Vec<f64> = by_dept.values().copied().collect();
    values.sort_by(|a, b| b.total_cmp(a));
    let share = |n: usize| values.iter().take(n).sum::<f64>() / total;
    assert!(by_dept.len() >= 60, "{} departments", by_dept.len());
    assert!(
        share(5) > 0.4 && share(20) > 0.7,
        "{} {}",
        share(5),
        share(20)
    );
    // Half the departments hold under a tenth of the value together.
    let small: f64 = values.iter().skip(values.len() / 2).sum::<f64>() / total;
    assert!(small < 0.1, "{small}");
    let spread: Vec<usize> = depts_of.values().map(|d| d.len()).collect();
    assert!(spread.iter().all(|&n| n <= 4));
    assert!(spread.iter().any(|&n| n > 1));
}
