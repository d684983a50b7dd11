//! Regional files as customs publish them: NC8 records tabulated at A129
//! (or CPF4) through the shipped tree cut at a level, or through a
//! correspondence file; labels in the outputs; codes the correspondence
//! lacks are input errors.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{
    assert_verified_with, audit_cmd, cellmask, generate, protect_cmd, read_csv, repo,
    report_without_timings, verify_cmd,
};
use predicates::prelude::*;

/// Five NC8 records over two departments: beer 22030001 and wine
/// 22042111 (A129 C11Z), beef carcasses 02011000 (C10A), both under A38
/// CA and A17 C1; medicines 30049000 (C21Z < CF < C5).
const RECORDS: &str = "operator,flow,department,product,country,value
a1,I,13,22030001,ES,100.00
a2,I,13,22042111,ES,200.00
a3,I,13,02011000,ES,300.00
a4,I,59,30049000,DE,400.00
a5,I,59,22030001,DE,50.00
";

fn cells_by_codes(out: &Path) -> HashMap<String, HashMap<String, String>> {
    read_csv(&out.join("cells.csv"))
        .into_iter()
        .map(|r| {
            let key = format!("{}|{}|{}", r["department"], r["product"], r["country"]);
            (key, r)
        })
        .collect()
}

fn protect_records(rules: &str, dir: &Path) -> std::path::PathBuf {
    let records = dir.join("records.csv");
    std::fs::write(&records, RECORDS).unwrap();
    let out = dir.join("out");
    protect_cmd(&repo(rules), &records, &out)
        .arg("-q")
        .assert()
        .success();
    out
}

#[test]
fn regional_rules_count_nc8_records_in_a129_with_hand_checked_totals() {
    let dir = tempfile::tempdir().unwrap();
    let out = protect_records("rules/regional.toml", dir.path());
    let c = cells_by_codes(&out);
    let value = |k: &str| c.get(k).map(|r| r["value"].as_str()).unwrap_or("absent");
    // Department 13 (region R93): beer + wine in C11Z, beef in C10A.
    assert_eq!(value("13|C11Z|ES"), "300.00");
    assert_eq!(value("13|C10A|ES"), "300.00");
    assert_eq!(value("13|CA|ES"), "600.00");
    assert_eq!(value("13|C1|ES"), "600.00");
    assert_eq!(value("R93|C1|EU27"), "600.00");
    // France: every record.
    assert_eq!(value("FR|TOTAL|WORLD"), "1050.00");
    assert_eq!(value("FR|C1|WORLD"), "650.00");
    assert_eq!(value("FR|CA|DE"), "50.00");
    assert_eq!(value("FR|C5|DE"), "400.00");
    assert_eq!(value("59|C21Z|DE"), "400.00");
    // Never an NC8 or CPF4 code.
    for r in read_csv(&out.join("cells.csv")) {
        let p = &r["product"];
        assert!(!p.chars().all(|ch| ch.is_ascii_digit() || ch == '.'), "{p}");
    }
    // Labels beside the codes, from the shipped files.
    let beer = &c["13|C11Z|ES"];
    assert_eq!(beer["product_label"], "Fabrication de boissons");
    assert_eq!(beer["department_label"], "Bouches-du-Rhône");
    let published = read_csv(&out.join("published.csv"));
    assert!(published[0].contains_key("product_label"));
    assert!(!published[0].contains_key("country_label"));
}

#[test]
fn cpf4_rules_count_nc8_records_in_cpf4_classes() {
    let dir = tempfile::tempdir().unwrap();
    let out = protect_records("rules/regional-cpf4.toml", dir.path());
    let c = cells_by_codes(&out);
    let value = |k: &str| c.get(k).map(|r| r["value"].as_str()).unwrap_or("absent");
    assert_eq!(value("13|11.05|ES"), "100.00"); // beer
    assert_eq!(value("13|11.02|ES"), "200.00"); // wine
    assert_eq!(value("13|C11Z|ES"), "300.00");
    assert_eq!(value("13|10.11|ES"), "300.00"); // beef
    assert_eq!(value("FR|TOTAL|WORLD"), "1050.00");
    assert_eq!(c["13|11.05|ES"]["product_label"], "Bière");
}

#[test]
fn a_code_the_tree_lacks_is_an_input_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.csv");
    std::fs::write(
        &records,
        "operator,flow,department,product,country,value\n\
         a1,I,13,22030001,ES,1.00\n\
         a2,I,13,99999999,ES,1.00\n\
         a3,I,13,C11Z,ES,1.00\n\
         a4,I,13,C1,ES,1.00\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    protect_cmd(&repo("rules/regional.toml"), &records, &out)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("records.csv:3: product '99999999': unknown code")
                .and(predicate::str::contains(
                    "records.csv:5: product 'C1': is an aggregate",
                ))
                // A record already at the published level is accepted.
                .and(predicate::str::contains("records.csv:4").not()),
        );
    assert!(!out.exists());
}

/// A tree A > {a1, a2} and a correspondence file from record codes.
fn correspondence_case(dir: &Path, map: &str, records: &str) -> assert_cmd::Command {
    std::fs::write(
        dir.join("tree.csv"),
        "code,parent,label\nA,,All\na1,A,One\na2,A,Two\n",
    )
    .unwrap();
    std::fs::write(dir.join("map.csv"), map).unwrap();
    std::fs::write(dir.join("records.csv"), records).unwrap();
    std::fs::write(
        dir.join("rules.toml"),
        "[input]\ncontributor = 'op'\nvalue = 'v'\ndecimals = 0\n\
         [[dimension]]\nname = 'p'\nfile = 'tree.csv'\ncorrespondence = 'map.csv'\nlabels = true\n\
         [[dimension]]\nname = 'c'\nflat = true\nroot = 'T'\n",
    )
    .unwrap();
    let mut cmd = cellmask();
    cmd.args(["protect", "-q", "--rules"])
        .arg(dir.join("rules.toml"))
        .arg("--input")
        .arg(dir.join("records.csv"))
        .arg("--out")
        .arg(dir.join("out"));
    cmd
}

#[test]
fn a_correspondence_file_maps_record_codes_to_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let records = "op,p,c,v\n\
                   o1,x1,X,10\no2,x1,X,10\no3,x2,X,10\n\
                   o4,x3,X,10\no5,x3,X,10\no6,x3,X,10\n\
                   o7,x1,Y,10\no8,x2,Y,10\no9,x2,Y,10\n";
    correspondence_case(dir.path(), "record,leaf\nx1,a1\nx2,a1\nx3,a2\n", records)
        .assert()
        .success();
    let c: HashMap<String, String> = read_csv(&dir.path().join("out/cells.csv"))
        .into_iter()
        .map(|r| {
            (
                format!("{}|{}|{}", r["p"], r["p_label"], r["c"]),
                r["value"].clone(),
            )
        })
        .collect();
    assert_eq!(c["a1|One|X"], "30");
    assert_eq!(c["a2|Two|X"], "30");
    assert_eq!(c["a1|One|Y"], "30");
    assert_eq!(c["A|All|T"], "90");

    // A record code it lacks: FILE:LINE.
    let dir = tempfile::tempdir().unwrap();
    correspondence_case(
        dir.path(),
        "record,leaf\nx1,a1\n",
        "op,p,c,v\no1,x1,X,1\no2,x9,X,1\n",
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains(
        "records.csv:3: p 'x9': unknown code (neither in the hierarchy nor in its correspondence",
    ));
    assert!(!dir.path().join("out").exists());

    // Its own errors name its lines: an aggregate or unknown leaf, a code
    // counted in two leaves.
    let dir = tempfile::tempdir().unwrap();
    correspondence_case(
        dir.path(),
        "record,leaf\nx1,a1\nx2,A\nx3,zz\nx1,a2\n",
        "op,p,c,v\no1,x1,X,1\n",
    )
    .assert()
    .code(2)
    .stderr(
        predicate::str::contains("map.csv:3: 'A' is an aggregate of the hierarchy, not a leaf")
            .and(predicate::str::contains(
                "map.csv:4: 'zz' is not a code of the hierarchy",
            ))
            .and(predicate::str::contains(
                "map.csv:5: 'x1' is already counted in 'a1' (line 2)",
            )),
    );
}

#[test]
fn a_cut_at_a_level_the_tree_lacks_is_a_rules_error() {
    let dir = tempfile::tempdir().unwrap();
    let rules = std::fs::read_to_string(repo("rules/regional.toml"))
        .unwrap()
        .replace("cut = \"a129\"", "cut = \"a130\"")
        .replace(
            "hierarchies/",
            &format!("{}/", repo("rules/hierarchies").display()),
        );
    std::fs::write(dir.path().join("rules.toml"), rules).unwrap();
    std::fs::write(dir.path().join("records.csv"), RECORDS).unwrap();
    cellmask()
        .args(["protect", "--rules"])
        .arg(dir.path().join("rules.toml"))
        .arg("--input")
        .arg(dir.path().join("records.csv"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no node of level 'a130' to cut the tree at: its levels are total, a17, a38, a129, cpf4, cn8",
        ));
}

/// A generated regional file, protected at A129 and audited again from the
/// release and the records; the audit without records checks exact
/// disclosure only and says so.
#[test]
fn a_generated_regional_file_is_protected_and_audited_again() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("regional.csv");
    generate("regional", "3", "0.0003", &records);
    let out = dir.path().join("out");
    protect_cmd(&repo("rules/regional.toml"), &records, &out)
        .arg("-q")
        .assert()
        .success();
    let audit = |input: bool| {
        let mut cmd = cellmask();
        cmd.args(["audit", "--rules"])
            .arg(repo("rules/regional.toml"))
            .arg("--published")
            .arg(out.join("published.csv"));
        if input {
            cmd.arg("--input").arg(&records);
        }
        cmd.assert()
    };
    audit(true).success().stdout(predicate::str::contains(
        "protected: audit passed on 2 table(s)",
    ));
    audit(false).success().stdout(predicate::str::contains(
        "protection levels were not checked (they need the records: --input)",
    ));
    // The report's fact sheets: one per department with data, both flows.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let published = read_csv(&out.join("published.csv"));
    let mut departments: Vec<&str> = published
        .iter()
        .map(|r| r["department"].as_str())
        .filter(|d| {
            d.len() <= 3 && *d != "FR" && d.chars().next().is_some_and(|c| c.is_ascii_digit())
        })
        .collect();
    departments.sort();
    departments.dedup();
    assert!(departments.len() > 5, "{departments:?}");
    for d in &departments {
        assert!(
            page.contains(&format!("<section><h3>{d}</h3>")),
            "no sheet for {d}"
        );
    }
    assert!(page.contains("<h4>imports</h4>") && page.contains("<h4>exports</h4>"));
    // Product groups are the A17 sections (C1, ..., not HS chapters).
    assert!(
        (1..=5).any(|k| page.contains(&format!(">\nC{k}\n</text>"))),
        "A17 bars"
    );
}

/// A three-dimensional table of over 5,000 cells, where rounds and
/// whole-table patterns start cold and components are proven on slices
/// from 2,000 cells (`audit::lp::warm_starts_pay`): protected, and its
/// certificate verified with the records. (Generated regional 0.002,
/// imports: 5,284 cells.)
#[test]
fn a_big_three_dimensional_table_is_protected_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.csv");
    generate("regional", "7", "0.002", &all);
    let text = std::fs::read_to_string(&all).unwrap();
    let imports: String = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.split(',').nth(1) == Some("I"))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let records = dir.path().join("imports.csv");
    std::fs::write(&records, imports).unwrap();
    let rules = repo("rules/regional.toml");
    let out = dir.path().join("out");
    protect_cmd(&rules, &records, &out)
        .args(["-q", "--jobs", "2"])
        .assert()
        .success();
    let cells = read_csv(&out.join("cells.csv"));
    assert!(cells.len() > 5_000, "{} cells", cells.len());
    assert_verified_with(&rules, &out, &records);
}

/// Regional 0.01 (36,455 records, tables of about 15,000 cells, 80%
/// primary): big three-dimensional tables get their patterns from
/// hypercubes, without LPs over whole components (which did not finish in
/// 26 minutes before). Protected with the shipped rules, the certificate
/// verified with the records; the same bytes with one thread and with two.
#[test]
fn regional_tables_are_protected_by_hypercubes_verified_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("regional.csv");
    generate("regional", "1", "0.01", &records);
    let rules = repo("rules/regional.toml");
    let run = |jobs: &str| {
        let out = dir.path().join(format!("out{jobs}"));
        protect_cmd(&rules, &records, &out)
            .args(["-q", "--jobs", jobs])
            .assert()
            .success();
        out
    };
    let (one, two) = (run("1"), run("2"));
    for f in ["published.csv", "cells.csv", "certificate.json"] {
        let a = std::fs::read(one.join(f)).unwrap();
        let b = std::fs::read(two.join(f)).unwrap();
        assert!(a == b, "{f} differs with --jobs 1 and 2");
    }
    let cells = read_csv(&one.join("cells.csv"));
    assert!(cells.len() > 30_000, "{} cells", cells.len());
    assert_verified_with(&rules, &one, &records);
    // Re-audited from the release and the records alone (the check's
    // hypercubes through masked cells), its own certificate verified.
    audited_and_verified(&rules, &one, Some(&records));
}

/// `cellmask audit` of the release in `out` (with the records when
/// given) passes, and its own certificate verifies; its report.
fn audited_and_verified(rules: &Path, out: &Path, records: Option<&Path>) -> serde_json::Value {
    let audited = out.with_extension("audited");
    let mut audit = audit_cmd(rules, &out.join("published.csv"));
    let mut verify = verify_cmd(rules, out, &audited.join("certificate.json"));
    if let Some(r) = records {
        audit.arg("--input").arg(r);
        verify.arg("--input").arg(r);
    }
    audit.arg("--out").arg(&audited).assert().success();
    let report = report_without_timings(&audited);
    assert_eq!(report["verdict"], "protected");
    verify.assert().success();
    report
}

/// A shipped rule set may be named instead of given as a file; a name
/// that is neither lists the shipped ones.
#[test]
fn shipped_rule_sets_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.csv");
    std::fs::write(&records, RECORDS).unwrap();
    let run = |rules: &str, out: &str| {
        let mut cmd = cellmask();
        cmd.current_dir(dir.path())
            .args(["protect", "-q", "--rules", rules, "--input"])
            .arg(&records)
            .arg("--out")
            .arg(dir.path().join(out));
        cmd.assert()
    };
    run("regional", "by-name").success();
    let by_file = dir.path().join("by-file");
    protect_cmd(&repo("rules/regional.toml"), &records, &by_file)
        .arg("-q")
        .assert()
        .success();
    assert_eq!(
        std::fs::read(dir.path().join("by-name/published.csv")).unwrap(),
        std::fs::read(by_file.join("published.csv")).unwrap()
    );
    run("regionl", "typo")
        .code(2)
        .stderr(predicate::str::contains(
            "rules 'regionl': no such file, nor a shipped rule set (national, drom-imports, \
         drom-exports, regional, regional-cpf4)",
        ));
}

/// An auditor without the records: a regional release (tables of three
/// dimensions, over 5,000 cells: hypercubes from a spread point of the
/// attacker's system) audited for exact disclosure, its certificate
/// verified.
#[test]
fn a_regional_release_is_audited_without_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("regional.csv");
    generate("regional", "1", "0.003", &records);
    let rules = repo("rules/regional.toml");
    let out = dir.path().join("out");
    protect_cmd(&rules, &records, &out)
        .arg("-q")
        .assert()
        .success();
    let report = audited_and_verified(&rules, &out, None);
    assert!(report["tables"][0]["cells"].as_u64().unwrap() > 5_000);
}
