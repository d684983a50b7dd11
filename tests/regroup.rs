//! Regrouping (treatment 1) on hand-built files whose right answer is
//! obvious, driven through the binary; every release is re-audited from
//! `regroup.csv`, with and without the records.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{audit_cmd, cellmask, data, protect_cmd, read_csv};

/// Protects `tests/data/NAME.csv` with `NAME.toml` into `out` of a new
/// temporary folder; returns the folder, the rules and the records.
fn protected(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (rules, records) = (data(&format!("{name}.toml")), data(&format!("{name}.csv")));
    protect_cmd(&rules, &records, &dir.path().join("out"))
        .arg("-q")
        .assert()
        .success();
    (dir, rules, records)
}

/// `regroup.csv` of a run as (dimension, code, within) -> published.
fn regroup_map(out: &Path) -> BTreeMap<(String, String, String), String> {
    read_csv(&out.join("regroup.csv"))
        .into_iter()
        .map(|r| {
            (
                (
                    r["dimension"].clone(),
                    r["code"].clone(),
                    r["within"].clone(),
                ),
                r["published"].clone(),
            )
        })
        .collect()
}

fn product(map: &BTreeMap<(String, String, String), String>, code: &str) -> String {
    map[&("product".to_string(), code.to_string(), String::new())].clone()
}

/// Re-audits a release with `cellmask audit --regroup`, from the release
/// alone and with the records (protection levels checked).
fn reaudit(rules: &Path, records: &Path, out: &Path) {
    for with_records in [false, true] {
        let mut cmd = audit_cmd(rules, &out.join("published.csv"));
        cmd.arg("--regroup").arg(out.join("regroup.csv"));
        if with_records {
            cmd.arg("--input").arg(records);
        }
        cmd.assert().success();
    }
}

#[test]
fn hand_built_headings_regroup_as_expected() {
    let (dir, rules, records) = protected("regroup");
    let out = dir.path().join("out");
    let map = regroup_map(&out);

    // Two secret NC8 codes that are all of their SH6, and whose union
    // (3 distinct operators, none dominant) is safe: the SH6 is published.
    assert_eq!(product(&map, "01011010"), "010110");
    assert_eq!(product(&map, "01011020"), "010110");
    assert_eq!(product(&map, "01012100"), "01012100");
    assert_eq!(product(&map, "01012900"), "01012900");

    // Three single-operator codes in three SH6: any two are still secret,
    // only the heading itself (SH4) clears them.
    for c in ["02021000", "02022000", "02023000"] {
        assert_eq!(product(&map, c), "0202", "{c}");
    }

    // Two secret codes whose residual would still be dominated (100 of
    // 110): the smallest safe sibling joins them in the residual; the big
    // safe codes stay published at NC8.
    for c in ["03031010", "03031020", "03031030"] {
        assert_eq!(product(&map, c), "030310XX", "{c}");
    }
    assert_eq!(product(&map, "03031040"), "03031040");
    assert_eq!(product(&map, "03031050"), "03031050");

    // Two secret codes held by the same two operators: their union still
    // has 2 distinct contributors (not 4), so a residual of the two alone
    // would be secret; the safe sibling joins and the whole SH6 is published.
    for c in ["04041010", "04041020", "04041030"] {
        assert_eq!(product(&map, c), "040410", "{c}");
    }
    assert_eq!(product(&map, "04042000"), "04042000");

    // The release uses the published codes and hierarchy, and nothing is left
    // to mask: every secret was cleared by regrouping.
    let published = read_csv(&out.join("published.csv"));
    let codes: Vec<&str> = published
        .iter()
        .filter(|r| r["country"] == "DE")
        .map(|r| r["product"].as_str())
        .collect();
    assert!(codes.contains(&"030310XX") && codes.contains(&"0202"));
    assert!(!codes.contains(&"02021000") && !codes.contains(&"03031010"));
    assert!(published.iter().all(|r| r["status"] == "published"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let r = &report["regroup"];
    assert_eq!(r["codes"], 16);
    assert_eq!(r["codes_regrouped"], 11);
    assert_eq!(r["primary_after"], 0);
    assert!(r["primary_before"].as_u64().unwrap() > 0);
    assert_eq!(r["primary_cleared"], r["primary_before"]);
    reaudit(&rules, &records, &out);
}

#[test]
fn no_regroup_keeps_the_codes_and_masks_instead() {
    let dir = tempfile::tempdir().unwrap();
    let (with, without) = (dir.path().join("with"), dir.path().join("without"));
    let (rules, records) = (data("regroup.toml"), data("regroup.csv"));
    protect_cmd(&rules, &records, &with)
        .arg("-q")
        .assert()
        .success();
    protect_cmd(&rules, &records, &without)
        .args(["-q", "--no-regroup"])
        .assert()
        .success();
    assert!(!without.join("regroup.csv").exists());
    let cells = read_csv(&without.join("cells.csv"));
    assert!(cells
        .iter()
        .any(|r| r["product"] == "02021000" && r["status"] == "primary"));
    let masked = |dir: &Path| {
        read_csv(&dir.join("published.csv"))
            .iter()
            .filter(|r| r["status"] == "masked")
            .count()
    };
    assert_eq!(masked(&with), 0);
    assert!(masked(&without) >= 8, "{}", masked(&without));
}

#[test]
fn secret_partners_go_to_the_undetermined_country() {
    let (dir, rules, records) = protected("regroup_qu");
    let out = dir.path().join("out");
    let map = regroup_map(&out);
    let moved: Vec<(&str, &str, &str)> = map
        .iter()
        .filter(|(k, _)| k.0 == "country")
        .map(|(k, v)| (k.1.as_str(), k.2.as_str(), v.as_str()))
        .collect();
    // US and CN are secret for 05051010 (one operator each) and siblings of
    // QU: together with QU's own operator they make a safe cell. IT is secret
    // too but QU is not its sibling (EU totals must keep their value), so it
    // stays for secondary suppression. Nothing moves for 05052020.
    assert_eq!(moved, [("CN", "05051010", "QU"), ("US", "05051010", "QU")]);
    let published = read_csv(&out.join("published.csv"));
    let cell = |p: &str, c: &str| {
        published
            .iter()
            .find(|r| r["product"] == p && r["country"] == c)
            .map(|r| (r["value"].clone(), r["status"].clone()))
    };
    assert_eq!(
        cell("05051010", "QU"),
        Some(("300.00".into(), "published".into()))
    );
    assert_eq!(cell("05051010", "US"), None);
    assert_eq!(cell("05052020", "US").unwrap().1, "published");
    assert_eq!(cell("05051010", "IT").unwrap().1, "masked");
    // Zone totals keep their value.
    assert_eq!(cell("05051010", "OTHER").unwrap().0, "300.00");
    reaudit(&rules, &records, &out);
}

#[test]
fn audit_of_a_regrouped_release_needs_its_regroup_file() {
    let (dir, rules, records) = protected("regroup");
    let out = dir.path().join("out");
    let err = audit_cmd(&rules, &out.join("published.csv"))
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&err);
    assert!(err.contains("--regroup"), "{err}");
    // A regroup file that does not match the records is an input error.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "flow,dimension,code,published,within\nI,product,01011010,0101XXXX,\n",
    )
    .unwrap();
    audit_cmd(&rules, &out.join("published.csv"))
        .arg("--regroup")
        .arg(&bad)
        .arg("--input")
        .arg(&records)
        .assert()
        .code(2);
}

#[test]
fn regroup_plan_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(data("regroup.toml")).unwrap();
    std::fs::copy(data("countries.csv"), dir.path().join("countries.csv")).unwrap();
    for (from, to, expect) in [
        (
            "levels = [8, 6, 4]",
            "levels = [6, 4]",
            "finest code length",
        ),
        ("unit = 4", "unit = 6", "coarser level"),
        ("residual = \"X\"", "residual = \"7\"", "not a digit"),
        (
            "dimension = \"product\"\nlevels",
            "dimension = \"country\"\nlevels",
            "prefix hierarchy",
        ),
    ] {
        let rules = dir.path().join("r.toml");
        std::fs::write(&rules, base.replace(from, to)).unwrap();
        let out = cellmask()
            .args(["protect", "--rules"])
            .arg(&rules)
            .arg("--input")
            .arg(data("regroup.csv"))
            .arg("--out")
            .arg(dir.path().join("o"))
            .assert()
            .code(2)
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8_lossy(&out);
        assert!(err.contains(expect), "{to}: {err}");
        assert!(!dir.path().join("o").exists());
    }
}

/// Generated DROM files (several seeds), both rule sets: every release
/// passes the audit again from `regroup.csv` (with and without the records),
/// every published code of the regrouped dimension covers codes of one
/// heading only, a residual code is its parent followed by X, and partner
/// moves only go to QU from extra-EU partners.
#[test]
fn generated_drom_files_regroup_and_pass_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let partners = std::fs::read_to_string(common::repo("rules/hierarchies/partners.csv")).unwrap();
    let zone = |c: &str| {
        partners
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{c},")))
            .and_then(|rest| rest.split(',').next())
            .unwrap_or("")
            .to_string()
    };
    for seed in ["11", "12"] {
        let records = dir.path().join(format!("drom-{seed}.csv"));
        common::generate("drom", seed, "0.01", &records);
        for flow in ["imports", "exports"] {
            let rules = common::repo(&format!("rules/drom-{flow}.toml"));
            let out = dir.path().join(format!("{seed}-{flow}"));
            protect_cmd(&rules, &records, &out)
                .arg("-q")
                .assert()
                .success();
            reaudit(&rules, &records, &out);
            let detail = if flow == "imports" { 8 } else { 6 };
            for r in read_csv(&out.join("regroup.csv")) {
                let (code, published) = (&r["code"], &r["published"]);
                if r["dimension"] == "product" {
                    assert_eq!(code.len(), detail);
                    assert_eq!(&published[..4], &code[..4], "{code} -> {published}");
                    let stem = published.trim_end_matches('X');
                    assert!(code.starts_with(stem), "{code} -> {published}");
                    assert!(published.len() == stem.len() || published.len() == detail);
                } else {
                    assert_eq!(published, "QU");
                    assert_eq!(zone(code), "EXTRA_EU27", "{code}");
                }
            }
        }
    }
}

mod random {
    //! Random small files through `protect` with a regrouping plan (codes
    //! in two headings, partners with QU): every run is protected, the map
    //! is a partition of each heading's codes into well-formed published
    //! codes, partner moves only go to a sibling QU, and the release passes
    //! the audit again from `regroup.csv` and the records.

    use super::*;
    use proptest::prelude::*;

    const CODES: [&str; 8] = [
        "01011010", "01011020", "01012010", "01012020", "02021010", "02021020", "02022010",
        "02022020",
    ];
    const PARTNERS: [&str; 5] = ["DE", "IT", "CN", "US", "QU"];

    fn records() -> impl Strategy<Value = Vec<(u8, usize, usize, u32)>> {
        prop::collection::vec(
            (0u8..8, 0..CODES.len(), 0..PARTNERS.len(), 1u32..1000),
            6..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        #[test]
        fn regrouped_releases_are_well_formed_and_protected(rows in records()) {
            let dir = tempfile::tempdir().unwrap();
            let records = dir.path().join("r.csv");
            let mut text = String::from("op,flow,product,country,value\n");
            for (op, c, p, v) in &rows {
                text.push_str(&format!("o{op},I,{},{},{v}\n", CODES[*c], PARTNERS[*p]));
            }
            std::fs::write(&records, text).unwrap();
            let rules = data("regroup_qu.toml");
            let out = dir.path().join("out");
            protect_cmd(&rules, &records, &out).arg("-q").assert().success();
            reaudit(&rules, &records, &out);
            let mut products = 0;
            for r in read_csv(&out.join("regroup.csv")) {
                let (code, published) = (&r["code"], &r["published"]);
                if r["dimension"] == "product" {
                    products += 1;
                    let stem = published.trim_end_matches('X');
                    prop_assert!(code.starts_with(stem), "{} -> {}", code, published);
                    prop_assert!([4, 6, 8].contains(&stem.len()));
                    prop_assert!(published.len() == stem.len() || published.len() == 8);
                    prop_assert!(stem.len() >= 4);
                } else {
                    prop_assert_eq!(published.as_str(), "QU");
                    prop_assert!(code == "CN" || code == "US", "{}", code);
                }
            }
            let distinct: std::collections::BTreeSet<&str> =
                rows.iter().map(|r| CODES[r.1]).collect();
            prop_assert_eq!(products, distinct.len());
        }
    }
}
