//! `cellmask batch` end to end: several files, one of them bad, folders and
//! patterns, the summary, reruns into the same folder.

mod common;

use std::path::Path;

use common::{cellmask, files_in, generate, read_csv, repo};

fn batch(out: &Path, inputs: &[&Path]) -> assert_cmd::assert::Assert {
    let mut cmd = cellmask();
    cmd.args(["batch", "--rules"])
        .arg(repo("rules/drom-exports.toml"))
        .arg("--out")
        .arg(out);
    for i in inputs {
        cmd.arg(i);
    }
    cmd.assert()
}

#[test]
fn a_bad_file_is_reported_and_the_others_are_protected() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for seed in ["1", "2"] {
        generate(
            "drom",
            seed,
            "0.01",
            &input.join(format!("drom-{seed}.csv")),
        );
    }
    std::fs::write(
        input.join("broken.csv"),
        "operator,territory,flow,product,country,value,year\nx,GP,E,01012100,FR,-5,2025\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = batch(&out, &[&input]).code(2);
    let text = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    assert!(text.contains("2 of 3 file(s) protected"), "{text}");
    assert!(text.contains("broken.csv:2"), "{text}");
    assert_eq!(
        files_in(&out),
        ["drom-1", "drom-2", "report.html", "summary.csv"]
    );
    for name in ["drom-1", "drom-2"] {
        assert_eq!(
            files_in(&out.join(name)),
            [
                "cells.csv",
                "certificate.json",
                "published.csv",
                "regroup.csv",
                "report.html",
                "report.json"
            ]
        );
        // Every release passes the audit again.
        cellmask()
            .args(["audit", "-q", "--rules"])
            .arg(repo("rules/drom-exports.toml"))
            .arg("--published")
            .arg(out.join(name).join("published.csv"))
            .arg("--regroup")
            .arg(out.join(name).join("regroup.csv"))
            .arg("--input")
            .arg(input.join(format!("{name}.csv")))
            .assert()
            .success();
    }
    let summary = read_csv(&out.join("summary.csv"));
    let verdicts: Vec<(&str, &str)> = summary
        .iter()
        .map(|r| (r["output"].as_str(), r["verdict"].as_str()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("broken", "failed"),
            ("drom-1", "protected"),
            ("drom-2", "protected")
        ]
    );
    assert!(summary[0]["reason"].contains("negative") || summary[0]["reason"].contains("-5"));
    assert_eq!(summary[1]["tables"], "5");
    // One unit for masked_share: the fraction of report.json.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("drom-1/report.json")).unwrap())
            .unwrap();
    let share = report["totals"]["masked_share"].as_f64().unwrap();
    assert!(share > 0.0 && share < 1.0);
    assert_eq!(summary[1]["masked_share"], format!("{share:.6}"));
    assert!(summary[1]["regrouped_codes"].parse::<u32>().unwrap() > 0);
    // The same outputs as `protect` on each file alone.
    let alone = dir.path().join("alone");
    common::protect_cmd(
        &repo("rules/drom-exports.toml"),
        &input.join("drom-1.csv"),
        &alone,
    )
    .arg("-q")
    .assert()
    .success();
    for f in ["published.csv", "regroup.csv", "cells.csv"] {
        assert_eq!(
            std::fs::read(alone.join(f)).unwrap(),
            std::fs::read(out.join("drom-1").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn patterns_reruns_and_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    generate("drom", "3", "0.01", &a);
    let out = dir.path().join("out");
    let pattern = dir.path().join("*.csv");
    batch(&out, &[&pattern]).success();
    let first = std::fs::read(out.join("a").join("published.csv")).unwrap();
    // A rerun replaces the outputs; a file that has become bad loses its
    // stale release, and the batch says so with a non-zero exit code.
    batch(&out, &[&pattern]).success();
    assert_eq!(
        std::fs::read(out.join("a").join("published.csv")).unwrap(),
        first
    );
    std::fs::write(&a, "operator,territory\n").unwrap();
    batch(&out, &[&pattern]).code(2);
    assert!(!out.join("a").join("published.csv").exists());
    assert_eq!(read_csv(&out.join("summary.csv"))[0]["verdict"], "failed");
    // A pattern matching nothing and two inputs with one name are usage errors.
    batch(&dir.path().join("out2"), &[&dir.path().join("*.txt")]).code(2);
    let b = dir.path().join("sub");
    std::fs::create_dir(&b).unwrap();
    std::fs::copy(&a, b.join("a.csv")).unwrap();
    batch(&dir.path().join("out3"), &[&a, &b.join("a.csv")]).code(2);
    assert!(!dir.path().join("out3").exists());
}
