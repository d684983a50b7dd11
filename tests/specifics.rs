//! Rule-set specifics (SPEC section 6) on hand-built files with the shipped
//! rule sets: Guyane's space products left out by year, Interdom dispatches
//! mirrored as imports, natural gas and electricity attributed to Paris;
//! each reported in `report.json`.

mod common;

use std::path::Path;

use common::{data, protect_cmd, read_csv, repo};

/// The cells of `cells.csv` as (codes joined by `|`) -> value.
fn cells(out: &Path, columns: &[&str]) -> std::collections::HashMap<String, String> {
    read_csv(&out.join("cells.csv"))
        .into_iter()
        .map(|r| {
            let key: Vec<&str> = columns.iter().map(|c| r[*c].as_str()).collect();
            (key.join("|"), r["value"].clone())
        })
        .collect()
}

/// `drom_specifics.csv` protected with the DROM imports rules, codes kept
/// (`--no-regroup`) so that cells are found by their NC8 codes.
fn drom_imports_without_regrouping() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    protect_cmd(
        &repo("rules/drom-imports.toml"),
        &data("drom_specifics.csv"),
        &out,
    )
    .args(["-q", "--no-regroup"])
    .assert()
    .success();
    (dir, out)
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

#[test]
fn guyane_space_products_are_left_out_by_year() {
    let (_dir, out) = drom_imports_without_regrouping();
    let c = cells(&out, &["territory", "product", "country"]);
    // 88026011 always; 88039021 up to 2021; 88079021 from 2022.
    assert!(!c.contains_key("GF|88026011|FR"));
    assert!(!c.contains_key("GF|8802|FR"));
    assert_eq!(
        c["GF|88039021|FR"], "300.00",
        "2022's row of the old code stays"
    );
    assert_eq!(
        c["GF|88079021|FR"], "700.00",
        "2021's row of the new code stays"
    );
    let r = report(&out);
    let gf = r["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["split"]["territory"] == "GF")
        .unwrap();
    let space = &gf["treatments"]["Guyane space products"];
    assert_eq!(space["kind"], "exclude");
    assert_eq!(space["rows"], 3);
    assert_eq!(space["value"], "1900.00");
    assert_eq!(r["treatments"]["Guyane space products"]["rows"], 3);
}

#[test]
fn interdom_dispatches_are_mirrored_as_imports() {
    let (dir, out) = drom_imports_without_regrouping();
    let c = cells(&out, &["territory", "product", "country"]);
    // GP's export to MQ is MQ's import from GP (same value), and the reverse.
    assert_eq!(c["MQ|22030001|GP"], "250.00");
    assert_eq!(c["GP|22030001|MQ"], "80.00");
    // Only the imports and the mirror: MQ's own export to FR is not counted.
    assert_eq!(c["MQ|22030001|WORLD"], "550.00");
    // Same operator: MQ's import from GP has one contributor (g1).
    let mq_gp = read_csv(&out.join("cells.csv"))
        .into_iter()
        .find(|r| r["territory"] == "MQ" && r["product"] == "22030001" && r["country"] == "GP")
        .unwrap();
    assert_eq!(mq_gp["contributors"], "1");
    assert_eq!(mq_gp["status"], "primary");
    let r = report(&out);
    assert_eq!(r["treatments"]["Interdom GP to MQ"]["rows"], 1);
    assert_eq!(r["treatments"]["Interdom GP to MQ"]["value"], "250.00");
    assert_eq!(r["treatments"]["Interdom MQ to GP"]["value"], "80.00");
    // The exports rule set has no mirror: nothing added there.
    let exports = dir.path().join("exports");
    protect_cmd(
        &repo("rules/drom-exports.toml"),
        &data("drom_specifics.csv"),
        &exports,
    )
    .args(["-q", "--no-regroup"])
    .assert()
    .success();
    assert!(report(&exports)["treatments"]
        .get("Interdom GP to MQ")
        .is_none());
}

#[test]
fn natural_gas_and_electricity_go_to_paris() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    protect_cmd(
        &repo("rules/regional.toml"),
        &data("regional_energy.csv"),
        &out,
    )
    .arg("-q")
    .assert()
    .success();
    let c = cells(&out, &["department", "product", "country"]);
    // Records carry NC8; the table is at A129: electricity (27160000) is
    // in D35A, natural gas (27112100) in B06Z, beer (22030001) in C11Z.
    assert_eq!(c["75|D35A|ES"], "500.00");
    assert_eq!(c["75|B06Z|NO"], "1000.00");
    assert!(!c.contains_key("13|D35A|ES"));
    assert!(!c.contains_key("59|B06Z|NO"));
    // Other products keep their department.
    assert_eq!(c["13|C11Z|ES"], "300.00");
    let r = report(&out);
    let t = &r["treatments"]["natural gas and electricity to Paris"];
    assert_eq!(
        (t["kind"].as_str(), t["rows"].as_u64()),
        (Some("recode"), Some(3))
    );
}

#[test]
fn a_bound_on_a_column_that_is_not_a_year_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    let out = dir.path().join("out");
    // The error message of protecting `text` (exit 2, nothing written).
    let error_of = |text: &str| {
        std::fs::write(&bad, text).unwrap();
        let o = protect_cmd(&repo("rules/drom-imports.toml"), &bad, &out)
            .assert()
            .code(2)
            .get_output()
            .stderr
            .clone();
        String::from_utf8_lossy(&o).into_owned()
    };
    let err = error_of(
        "operator,territory,flow,product,country,value,year\ns1,GF,I,88039021,FR,500,soon\n",
    );
    assert!(err.contains("bad.csv:2") && err.contains("'soon'"), "{err}");
    assert!(!out.exists());
    // Without a year column (SPEC's DROM columns), only the rows a year
    // would decide are errors; the always-excluded codes are left out.
    let err = error_of(
        "operator,territory,flow,product,country,value\ns1,GF,I,88026011,FR,500\ns1,GF,I,88039021,FR,500\n",
    );
    assert!(!out.exists());
    assert!(err.contains("bad.csv:3") && err.contains("'year'"), "{err}");
    assert!(!err.contains("bad.csv:2"), "{err}");
}

/// `generate --profile drom` writes what the treatments act on: Interdom
/// dispatches both ways and Guyane's space products of the year's codes.
#[test]
fn generated_drom_files_hold_interdom_and_space_records() {
    let dir = tempfile::tempdir().unwrap();
    for (year, old, new) in [("2021", true, false), ("2023", false, true)] {
        let f = dir.path().join(format!("drom-{year}.csv"));
        common::cellmask()
            .args([
                "generate",
                "--profile",
                "drom",
                "--seed",
                "1",
                "--scale",
                "0.05",
                "--year",
                year,
                "--out",
            ])
            .arg(&f)
            .assert()
            .success();
        let rows = read_csv(&f);
        let has = |t: &str, flow: &str, country: &str| {
            rows.iter()
                .any(|r| r["territory"] == t && r["flow"] == flow && r["country"] == country)
        };
        assert!(has("GP", "E", "MQ") && has("MQ", "E", "GP"));
        let code = |c: &str| {
            rows.iter()
                .any(|r| r["territory"] == "GF" && r["product"] == c)
        };
        assert!(code("88026011"));
        assert_eq!(
            code("88039021") || code("88039029") || code("88039030"),
            old,
            "{year}"
        );
        assert_eq!(
            code("88079021") || code("88079029") || code("88079030"),
            new,
            "{year}"
        );
        assert!(rows.iter().all(|r| r["year"] == year));
    }
}
