//! `cellmask audit` on masked tables written by hand, as another tool would.

mod common;

use common::*;
use predicates::prelude::*;

const RULES: &str = "[input]\ncontributor='op'\nvalue='value'\n[[dimension]]\nname='r'\nflat=true\nroot='T'\n[[dimension]]\nname='c'\nflat=true\nroot='W'\n";

fn setup(published: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), RULES).unwrap();
    std::fs::write(dir.path().join("masked.csv"), published).unwrap();
    dir
}

fn audit(dir: &std::path::Path) -> assert_cmd::assert::Assert {
    cellmask()
        .args(["audit", "--rules"])
        .arg(dir.join("rules.toml"))
        .arg("--published")
        .arg(dir.join("masked.csv"))
        .arg("--out")
        .arg(dir.join("out"))
        .assert()
}

/// The 2 x 2 interior masked, margins published, markers instead of a status column.
#[test]
fn interior_block_passes_with_hand_computed_intervals() {
    let dir =
        setup("r,c,value\nT,W,100\nT,X,40\nT,Y,60\nA,W,30\nA,X,x\nA,Y,x\nB,W,70\nB,X,x\nB,Y,x\n");
    audit(dir.path())
        .success()
        .stdout(predicate::str::contains("protected: audit passed"));
    let rows = read_csv(&dir.path().join("out/audit.csv"));
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}{} {} {} {}",
                r["r"], r["c"], r["audit_low"], r["audit_high"], r["verdict"]
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "AX 0.00 30.00 ok",
            "AY 0.00 30.00 ok",
            "BX 10.00 40.00 ok",
            "BY 30.00 60.00 ok"
        ]
    );
    let report = report_without_timings(&dir.path().join("out"));
    assert_eq!(report["verdict"], "protected");
    assert_eq!(report["tables"][0]["audit"]["largest_component"], 4);
}

/// Only one cell of a row masked: recovered by subtraction.
#[test]
fn lone_masked_cell_is_an_exact_disclosure() {
    let dir = setup("r,c,value,status\nT,W,100,published\nT,X,40,published\nT,Y,60,published\nA,W,30,published\nA,X,,D\nA,Y,20,published\nB,W,70,published\nB,X,30,published\nB,Y,40,published\n");
    audit(dir.path())
        .code(1)
        .stdout(predicate::str::contains("[A x X]: exact_disclosure"));
    let rows = read_csv(&dir.path().join("out/audit.csv"));
    assert_eq!(
        (
            rows[0]["audit_low"].as_str(),
            rows[0]["audit_high"].as_str(),
            rows[0]["verdict"].as_str()
        ),
        ("10.00", "10.00", "exact_disclosure")
    );
}

#[test]
fn non_additive_table_is_bad_input() {
    let dir = setup(
        "r,c,value\nT,W,100\nT,X,40\nT,Y,60\nA,W,30\nA,X,x\nA,Y,50\nB,W,70\nB,X,30\nB,Y,40\n",
    );
    audit(dir.path())
        .code(2)
        .stderr(predicate::str::contains("not additive"));
}

/// With the records, primary cells' protection levels are checked too.
#[test]
fn with_records_a_published_primary_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("tiny.toml"), dir.path().join("rules.toml")).unwrap();
    std::fs::copy(data("countries.csv"), dir.path().join("countries.csv")).unwrap();
    // Everything published, although secret.csv has primary cells.
    let out = dir.path().join("p");
    cellmask()
        .args(["protect", "--quiet", "--rules"])
        .arg(data("tiny.toml"))
        .arg("--input")
        .arg(data("safe.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let published = std::fs::read_to_string(out.join("published.csv")).unwrap();
    let records = dir.path().join("records.csv");
    // Same table values, but one operator holds 95%: primary by dominance.
    std::fs::write(&records, "op,flow,product,country,value\na,I,0101,DE,290\nb,I,0101,DE,5\nc,I,0101,DE,5\nalpha,I,0101,IT,50.5\nbeta,I,0101,IT,50\ngamma,I,0101,IT,40\nalpha,I,0101,US,10\nbeta,I,0101,US,10\ngamma,I,0101,US,10\n").unwrap();
    std::fs::write(dir.path().join("masked.csv"), published).unwrap();
    cellmask()
        .args(["audit", "--rules"])
        .arg(dir.path().join("rules.toml"))
        .arg("--published")
        .arg(dir.path().join("masked.csv"))
        .arg("--input")
        .arg(&records)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("[0101 x DE]: primary_published"));
}
