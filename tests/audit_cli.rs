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

/// `cellmask audit` of `dir/masked.csv` with `dir/rules.toml` into `dir/out`.
fn audit_cmd(dir: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = cellmask();
    cmd.args(["audit", "--exact-intervals", "--rules"])
        .arg(dir.join("rules.toml"))
        .arg("--published")
        .arg(dir.join("masked.csv"))
        .arg("--out")
        .arg(dir.join("out"));
    cmd
}

fn audit(dir: &std::path::Path) -> assert_cmd::assert::Assert {
    audit_cmd(dir).assert()
}

/// The 2 x 2 interior masked, margins published, markers instead of a status column.
#[test]
fn interior_block_passes_with_hand_computed_intervals() {
    let dir =
        setup("r,c,value\nT,W,100\nT,X,40\nT,Y,60\nA,W,30\nA,X,x\nA,Y,x\nB,W,70\nB,X,x\nB,Y,x\n");
    audit(dir.path()).success().stdout(predicate::str::contains(
        "no exact disclosure: no masked cell of the 1 table(s) can be recovered to the unit; \
             protection levels were not checked",
    ));
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

/// By default (no `--exact-intervals`) the audit proves the verdict only:
/// each range lies inside the exact interval, at least a unit wide.
#[test]
fn default_audit_proves_ranges_inside_the_exact_intervals() {
    let dir =
        setup("r,c,value\nT,W,100\nT,X,40\nT,Y,60\nA,W,30\nA,X,x\nA,Y,x\nB,W,70\nB,X,x\nB,Y,x\n");
    let mut cmd = cellmask();
    cmd.args(["audit", "--rules"])
        .arg(dir.path().join("rules.toml"))
        .arg("--published")
        .arg(dir.path().join("masked.csv"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "protection levels were not checked",
        ));
    let report = report_without_timings(&dir.path().join("out"));
    assert_eq!(report["tables"][0]["audit"]["intervals"], "proven");
    // Without the records, what the masked cells hold is unknown, not 0.
    for k in ["primary", "masked_value", "masked_share", "total_value"] {
        assert!(
            report["totals"][k].is_null(),
            "{k}: {}",
            report["totals"][k]
        );
        assert!(report["tables"][0][k].is_null(), "{k}");
    }
    assert_eq!(report["totals"]["cells"], 9);
    let exact = [
        ("AX", 0.0, 30.0),
        ("AY", 0.0, 30.0),
        ("BX", 10.0, 40.0),
        ("BY", 30.0, 60.0),
    ];
    let rows = read_csv(&dir.path().join("out/audit.csv"));
    assert_eq!(rows.len(), 4);
    for (r, (cell, lo, hi)) in rows.iter().zip(exact) {
        assert_eq!(format!("{}{}", r["r"], r["c"]), cell);
        let (l, h): (f64, f64) = (
            r["audit_low"].parse().unwrap(),
            r["audit_high"].parse().unwrap(),
        );
        assert!(lo <= l && h <= hi && h - l >= 1.0, "{cell}: {l}..{h}");
        assert_eq!(r["verdict"], "ok");
    }
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

/// Writes a published table in cellmask's form from a peer's masked table.
fn convert(
    src: &std::path::Path,
    dst: &std::path::Path,
    dims: &[&str],
    value: &str,
    masked: &dyn Fn(&str) -> bool,
    status: &str,
) {
    let rows = read_csv(src);
    let mut w = csv::Writer::from_path(dst).unwrap();
    let mut header: Vec<&str> = dims.to_vec();
    header.extend(["value", "status"]);
    w.write_record(&header).unwrap();
    for r in rows {
        let mut out: Vec<String> = dims.iter().map(|d| r[*d].clone()).collect();
        out.push(r[value].clone());
        out.push(
            if masked(&r[status]) {
                "masked"
            } else {
                "published"
            }
            .into(),
        );
        w.write_record(&out).unwrap();
    }
    w.flush().unwrap();
}

/// GaussSuppression's masking of magnitude1 (sector4 x geo, (1, 85) and at
/// least 3 contributors) passes cellmask's audit, protection levels
/// included, and cellmask finds the same 9 primary cells.
#[test]
fn peer_gausssuppression_masking_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), GAUSS_MAGNITUDE1_RULES).unwrap();
    convert(
        &data("peers/gauss_magnitude1_sector4xgeo_n1k85_minContr3.csv"),
        &dir.path().join("masked.csv"),
        &["sector4", "geo"],
        "value",
        &|s| s == "TRUE",
        "suppressed",
    );
    audit_cmd(dir.path())
        .arg("--input")
        .arg(data("peers/gauss_magnitude1.csv"))
        .assert()
        .success();
    let report = report_without_timings(&dir.path().join("out"));
    let peer_primary = read_csv(&data(
        "peers/gauss_magnitude1_sector4xgeo_n1k85_minContr3.csv",
    ))
    .iter()
    .filter(|r| r["primary"] == "TRUE")
    .count();
    assert_eq!(peer_primary, 9);
    assert_eq!(report["totals"]["primary"], 9);
    assert_eq!(report["totals"]["secondary"], 3);
    let rows = read_csv(&dir.path().join("out/audit.csv"));
    assert!(rows.iter().all(|r| r["verdict"] == "ok"));
}

/// sdcTable's test problem: two suppressed cells in every equation, yet
/// (w, b) = (230 + 250) - (89 + 124 + 31) - ((1012 + 779) - (92 + 59 + 800 + 651)) = 47.
#[test]
fn peer_sdctable_testproblem_disclosure_is_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.toml"),
        "[input]\ncontributor='id'\nvalue='value'\ndecimals=0\n[[dimension]]\nname='v1'\nflat=true\nroot='tot'\n[[dimension]]\nname='v2'\nflat=true\nroot='tot'\n",
    )
    .unwrap();
    convert(
        &data("peers/sdctable_testproblem.csv"),
        &dir.path().join("masked.csv"),
        &["v1", "v2"],
        "freq",
        &|s| s == "u",
        "status",
    );
    audit(dir.path())
        .code(1)
        .stdout(predicate::str::contains("[w x b]: exact_disclosure"));
    let rows = read_csv(&dir.path().join("out/audit.csv"));
    let wb = rows
        .iter()
        .find(|r| r["v1"] == "w" && r["v2"] == "b")
        .unwrap();
    assert_eq!(
        (wb["audit_low"].as_str(), wb["audit_high"].as_str()),
        ("47", "47")
    );
    let exact = rows
        .iter()
        .filter(|r| r["verdict"] == "exact_disclosure")
        .count();
    assert_eq!(exact, 1, "{rows:?}");
}

/// The audit's intervals do not depend on the number of threads.
#[test]
fn audit_output_is_the_same_whatever_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.csv");
    common::generate("drom", "4", "0.02", &records);
    // cellmask's own masking (primary and secondary cells), audited again from the file.
    let out = dir.path().join("p");
    cellmask()
        .args(["protect", "--quiet", "--rules"])
        .arg(repo("rules/drom-exports.toml"))
        .arg("--input")
        .arg(&records)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let cells = read_csv(&out.join("cells.csv"));
    let masked = dir.path().join("masked.csv");
    let mut w = csv::Writer::from_path(&masked).unwrap();
    w.write_record(["territory", "flow", "product", "country", "value", "status"])
        .unwrap();
    for c in &cells {
        let m = c["status"] != "published";
        w.write_record([
            c["territory"].as_str(),
            c["flow"].as_str(),
            c["product"].as_str(),
            c["country"].as_str(),
            if m { "" } else { c["value"].as_str() },
            if m { "masked" } else { "published" },
        ])
        .unwrap();
    }
    w.flush().unwrap();
    let mut outputs = Vec::new();
    for jobs in ["1", "2"] {
        let o = dir.path().join(format!("a{jobs}"));
        cellmask()
            .args(["audit", "--quiet", "--jobs", jobs, "--rules"])
            .arg(repo("rules/drom-exports.toml"))
            .arg("--published")
            .arg(&masked)
            .arg("--regroup")
            .arg(out.join("regroup.csv"))
            .arg("--input")
            .arg(&records)
            .arg("--out")
            .arg(&o)
            .assert()
            .success();
        outputs.push((
            std::fs::read(o.join("audit.csv")).unwrap(),
            report_without_timings(&o),
        ));
    }
    assert!(outputs[0] == outputs[1]);
    assert!(outputs[0].0.len() > 500);
}
