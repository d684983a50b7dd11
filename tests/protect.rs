//! `cellmask protect` driven as a user would: files in, exit code and files out.

mod common;

use common::*;
use predicates::prelude::*;

fn protect(input: &str, out: &std::path::Path) -> assert_cmd::assert::Assert {
    protect_cmd(&data("tiny.toml"), &data(input), out).assert()
}

#[test]
fn table_without_secrets_is_published() {
    let dir = tempfile::tempdir().unwrap();
    protect("safe.csv", dir.path()).success();
    assert_eq!(
        files_in(dir.path()),
        [
            "cells.csv",
            "certificate.json",
            "published.csv",
            "report.html",
            "report.json"
        ]
    );
    let published = std::fs::read_to_string(dir.path().join("published.csv")).unwrap();
    let expected = "flow,product,country,value,status\n\
        I,TOTAL,WORLD,470.50,published\n\
        I,TOTAL,EU,440.50,published\n\
        I,TOTAL,DE,300.00,published\n\
        I,TOTAL,IT,140.50,published\n\
        I,TOTAL,US,30.00,published\n\
        I,01,WORLD,470.50,published\n\
        I,01,EU,440.50,published\n\
        I,01,DE,300.00,published\n\
        I,01,IT,140.50,published\n\
        I,01,US,30.00,published\n\
        I,0101,WORLD,470.50,published\n\
        I,0101,EU,440.50,published\n\
        I,0101,DE,300.00,published\n\
        I,0101,IT,140.50,published\n\
        I,0101,US,30.00,published\n";
    assert_eq!(published, expected);
    let report = report_without_timings(dir.path());
    assert_eq!(report["verdict"], "protected");
    assert_eq!(report["totals"]["cells"], 15);
}

#[test]
fn primary_secrets_hand_computed() {
    let dir = tempfile::tempdir().unwrap();
    // Secondary suppression then the audit: protected, released.
    protect("secret.csv", dir.path())
        .success()
        .stdout(predicate::str::contains("protected: audit passed"));
    assert_eq!(
        files_in(dir.path()),
        [
            "cells.csv",
            "certificate.json",
            "published.csv",
            "report.html",
            "report.json"
        ]
    );
    let cells = read_csv(&dir.path().join("cells.csv"));
    assert_eq!(cells.len(), 16 + 9);
    let get = |flow: &str, p: &str, c: &str| {
        cells
            .iter()
            .find(|r| r["flow"] == flow && r["product"] == p && r["country"] == c)
            .unwrap_or_else(|| panic!("no cell {flow} {p} {c}"))
    };
    // delta holds 170 of 180 (two declarations summed): dominance, upper = 100/85*170 - 180 = 20.
    let de = get("I", "0101", "DE");
    assert_eq!(
        (de["value"].as_str(), de["contributors"].as_str()),
        ("180.00", "3")
    );
    assert_eq!(
        (de["status"].as_str(), de["rule"].as_str()),
        ("primary", "dominance")
    );
    assert_eq!(
        (
            de["lower_protection"].as_str(),
            de["upper_protection"].as_str()
        ),
        ("20.00", "20.00")
    );
    // One operator: frequency and dominance; the larger level is dominance's
    // 100/85*12.5 - 12.5 = 2.2059 (rounded up), above frequency's 1.25.
    let us = get("I", "0102", "US");
    assert_eq!(
        (us["status"].as_str(), us["rule"].as_str()),
        ("primary", "frequency+dominance")
    );
    assert_eq!(us["upper_protection"], "2.21");
    // Single-child aggregate 0102 x WORLD equals its child and is a cell too.
    assert_eq!(get("I", "0102", "WORLD")["value"], "12.50");
    assert_eq!(get("I", "0102", "WORLD")["status"], "primary");
    // 60% at the world level: safe (secondary suppression may still mask it).
    let w = get("I", "01", "WORLD");
    assert_eq!(
        (w["value"].as_str(), w["contributors"].as_str()),
        ("282.50", "4")
    );
    assert_ne!(w["status"], "primary");
    assert_eq!(w["rule"], "");
    let primaries: Vec<String> = cells
        .iter()
        .filter(|r| r["status"] == "primary")
        .map(|r| format!("{} {} {}", r["flow"], r["product"], r["country"]))
        .collect();
    assert_eq!(
        primaries,
        [
            "I TOTAL DE",
            "I TOTAL US",
            "I 01 DE",
            "I 01 US",
            "I 0101 DE",
            "I 0102 WORLD",
            "I 0102 US"
        ]
    );
    // Every primary is masked in the release file, with its secondaries.
    let published = read_csv(&dir.path().join("published.csv"));
    for p in cells.iter().filter(|r| r["status"] == "primary") {
        let row = published
            .iter()
            .find(|r| {
                r["flow"] == p["flow"]
                    && r["product"] == p["product"]
                    && r["country"] == p["country"]
            })
            .unwrap();
        assert_eq!(
            (row["value"].as_str(), row["status"].as_str()),
            ("", "masked")
        );
        // The audit interval reaches the protection levels.
        let (lo, hi): (f64, f64) = (
            p["audit_low"].parse().unwrap(),
            p["audit_high"].parse().unwrap(),
        );
        let (v, l, u): (f64, f64, f64) = (
            p["value"].parse().unwrap(),
            p["lower_protection"].parse().unwrap(),
            p["upper_protection"].parse().unwrap(),
        );
        assert!(hi >= v + u && lo <= v - l, "{p:?}");
    }
    let report = report_without_timings(dir.path());
    assert_eq!(report["verdict"], "protected");
    assert_eq!(report["totals"]["primary"], 7);
    assert!(report["totals"]["secondary"].as_u64().unwrap() >= 1);
    assert_eq!(report["totals"]["primary_by_rule"]["dominance"], 7);
    assert_eq!(report["totals"]["primary_by_rule"]["frequency"], 4);
    assert_eq!(report["tables"].as_array().unwrap().len(), 2);
    // Tables in split order: E (no secret) then I.
    assert_eq!(report["tables"][0]["split"]["flow"], "E");
    assert_eq!(report["tables"][0]["secondary"]["secondary"], 0);
    assert_eq!(report["tables"][1]["protected"], true);
    // A small table: `auto` ran the exact method and proved its optimum.
    assert_eq!(report["tables"][1]["secondary"]["method"], "optimal");
    assert_eq!(report["tables"][1]["secondary"]["gap"], 0.0);
}

#[test]
fn rerun_replaces_outputs_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    protect("safe.csv", dir.path()).success();
    let first = std::fs::read(dir.path().join("published.csv")).unwrap();
    protect("secret.csv", dir.path()).success();
    assert_ne!(
        std::fs::read(dir.path().join("published.csv")).unwrap(),
        first
    );
    assert_eq!(
        files_in(dir.path()),
        [
            "cells.csv",
            "certificate.json",
            "published.csv",
            "report.html",
            "report.json"
        ]
    );
}

#[test]
fn every_bad_row_is_reported_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let assert = protect("bad.csv", &out).code(2);
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    for (line, reason) in [
        (3, "empty contributor"),
        (4, "country 'XX': unknown code"),
        (5, "negative value"),
        (6, "not a number"),
        (7, "product '01': has 2 characters"),
        (8, "country 'EU': is an aggregate"),
        (9, "expected 5 fields, found 4"),
        (10, "more than 2 decimal place"),
    ] {
        let needle = format!("bad.csv:{line}: ");
        let hit = err
            .lines()
            .find(|l| l.contains(&needle))
            .unwrap_or_else(|| panic!("no message for line {line} in:\n{err}"));
        assert!(
            hit.contains(reason),
            "line {line}: expected '{reason}' in '{hit}'"
        );
    }
    assert!(!err.contains("bad.csv:2:"), "line 2 is good:\n{err}");
    assert!(files_in(&out).is_empty(), "nothing may be written");
}

/// Messages that say what to do: thousands separators, a Latin-1 file,
/// an empty file, a file given as `--out` (said before any work).
#[test]
fn messages_give_the_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let header = "op,flow,product,country,value\n";
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "thousands.csv",
            format!("{header}a,I,0101,DE,1 234.50\n").into_bytes(),
            "thousands.csv:2: value: value '1 234.50' is not a number (write it without \
             thousands separators, e.g. 1234.50)",
        ),
        (
            "latin1.csv",
            [header.as_bytes(), b"\xe9a,I,0101,DE,1.00\n"].concat(),
            "latin1.csv:2: column 'op' is not valid UTF-8 (a Windows-1252 or Latin-1 \
             extract? say so in the rules: encoding = \"windows-1252\" under [input])",
        ),
        (
            "empty.csv",
            Vec::new(),
            "empty.csv:1: the file is empty: records need a header line",
        ),
    ];
    for (name, bytes, message) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        let out = dir.path().join("out");
        let assert = protect_cmd(&data("tiny.toml"), &input, &out)
            .assert()
            .code(2);
        let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert!(err.contains(message), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: one message: {err}");
        assert!(!out.exists());
    }
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    protect_cmd(&data("tiny.toml"), &data("safe.csv"), &file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a file; --out names a folder"));
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

/// Invented codes are input errors under the national rules (the CN8
/// list of the year), never published as chapters `99` or `AB`.
#[test]
fn codes_outside_the_list_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("records.csv");
    std::fs::write(
        &input,
        "operator,flow,product,country,value\n\
         a,I,01012100,DE,10.00\n\
         b,I,99999999,DE,10.00\n\
         c,I,ABCDEFGH,DE,10.00\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    protect_cmd(&repo("rules/national.toml"), &input, &out)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(
                "records.csv:3: product '99999999': not a valid code (not in the code list",
            )
            .and(predicate::str::contains(
                "records.csv:4: product 'ABCDEFGH': not a valid code",
            ))
            .and(predicate::str::contains("cn8_2025.txt"))
            .and(predicate::str::contains("records.csv:2").not()),
        );
    assert!(!out.exists());
}

/// The printed summary in statisticians' words: rows read, primary
/// secrets counted once each (rules no cell breaks not shown), masked
/// share of cells and of value, a warning where over half a table is masked.
#[test]
fn summary_in_statisticians_words() {
    let dir = tempfile::tempdir().unwrap();
    let text = |input: &str| {
        let out = protect(input, &dir.path().join(input)).success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let safe = text("safe.csv");
    assert!(
        safe.contains("tiny: 9 rows read, 1 table(s), 15 cells; 0 primary secrets; 0 secondary"),
        "{safe}"
    );
    assert!(safe.contains("masked 0 of 15 cells (0.0%)"), "{safe}");
    assert!(!safe.contains("warning"), "{safe}");
    let secret = text("secret.csv");
    assert!(
        secret.contains("7 primary secrets: 4 by frequency, 3 more by dominance;"),
        "{secret}"
    );
    assert!(!secret.contains("p-percent"), "{secret}");
    assert!(
        secret.contains("masked 12 of 25 cells (48.0%), 56.28% of the value"),
        "{secret}"
    );
    assert!(
        secret.contains("warning: over half masked in 1 table(s): [flow=I] 75% of cells, 57% of value; publish at a coarser level"),
        "{secret}"
    );
}

#[test]
fn semicolon_with_decimal_comma_and_tab_with_bom() {
    for file in ["semicolon.csv", "tab_bom.csv"] {
        let dir = tempfile::tempdir().unwrap();
        protect(file, dir.path()).success();
        let cells = read_csv(&dir.path().join("cells.csv"));
        assert_eq!(cells[0]["value"], "300.00", "{file}");
        assert_eq!(cells[0]["contributors"], "3", "{file}");
    }
}

#[test]
fn unknown_rules_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.toml");
    let text = std::fs::read_to_string(data("tiny.toml"))
        .unwrap()
        .replace("safety_range", "safety_rnage");
    // Reported on the key's own line, not its section's.
    let line = text
        .lines()
        .position(|l| l.contains("safety_rnage"))
        .unwrap()
        + 1;
    std::fs::write(&rules, text).unwrap();
    std::fs::copy(data("countries.csv"), dir.path().join("countries.csv")).unwrap();
    protect_cmd(&rules, &data("safe.csv"), &dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("safety_rnage").and(predicate::str::contains(format!(
                "r.toml:{line}: unknown field"
            ))),
        );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn hierarchy_cycle_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("tiny.toml"), dir.path().join("r.toml")).unwrap();
    std::fs::write(
        dir.path().join("countries.csv"),
        "code,parent\nWORLD,\nEU,DE\nDE,EU\n",
    )
    .unwrap();
    protect_cmd(
        &dir.path().join("r.toml"),
        &data("safe.csv"),
        &dir.path().join("out"),
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("cycle"));
}

#[test]
fn holdings_are_counted_as_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.toml"),
        "[input]\ncontributor='op'\nvalue='value'\nholding='group'\n[[dimension]]\nname='product'\nflat=true\nroot='T'\n",
    )
    .unwrap();
    // a and b belong to group G: 2 holdings in A (frequency), 3 in B.
    std::fs::write(
        dir.path().join("in.csv"),
        "op,group,product,value\na,G,A,10\nb,G,A,10\nc,,A,10\na,G,B,10\nc,,B,10\nd,H,B,10\n",
    )
    .unwrap();
    protect_cmd(
        &dir.path().join("r.toml"),
        &dir.path().join("in.csv"),
        &dir.path().join("out"),
    )
    .assert()
    .success();
    let cells = read_csv(&dir.path().join("out/cells.csv"));
    let a = cells.iter().find(|r| r["product"] == "A").unwrap();
    assert_eq!(
        (
            a["contributors"].as_str(),
            a["status"].as_str(),
            a["rule"].as_str()
        ),
        ("2", "primary", "frequency")
    );
    let b = cells.iter().find(|r| r["product"] == "B").unwrap();
    assert_eq!(
        (b["contributors"].as_str(), b["status"].as_str()),
        ("3", "secondary") // not primary; masked to protect A (T = A + B)
    );
}

#[test]
fn hrc_hierarchy_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.toml"),
        "[input]\ncontributor='op'\nvalue='value'\ndecimals=0\n[[dimension]]\nname='region'\nhrc='region.hrc'\nroot='Total'\n[primary]\nmin_contributors=1\ndominance=[]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("region.hrc"),
        "North\n@N1\n@N2\nSouth\n@S1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("in.csv"),
        "op,region,value\na,N1,1\nb,N2,2\nc,S1,4\n",
    )
    .unwrap();
    protect_cmd(
        &dir.path().join("r.toml"),
        &dir.path().join("in.csv"),
        &dir.path().join("out"),
    )
    .assert()
    .success();
    let published = std::fs::read_to_string(dir.path().join("out/published.csv")).unwrap();
    assert_eq!(
        published,
        "region,value,status\nTotal,7,published\nNorth,3,published\nN1,1,published\nN2,2,published\nSouth,4,published\nS1,4,published\n"
    );
}

/// Rules forcing the grand total and `01 x WORLD` published and, through a
/// force file, `0101 x IT` masked: the masking respects both and passes.
#[test]
fn forced_cells_are_respected() {
    let dir = tempfile::tempdir().unwrap();
    protect_cmd(&data("forced.toml"), &data("secret.csv"), dir.path())
        .assert()
        .success();
    let cells = read_csv(&dir.path().join("cells.csv"));
    let status = |flow: &str, p: &str, c: &str| {
        cells
            .iter()
            .find(|r| r["flow"] == flow && r["product"] == p && r["country"] == c)
            .map(|r| r["status"].clone())
            .unwrap()
    };
    for flow in ["I", "E"] {
        assert_eq!(status(flow, "TOTAL", "WORLD"), "published");
        assert_eq!(status(flow, "01", "WORLD"), "published");
    }
    assert_eq!(status("I", "0101", "IT"), "secondary");
    let report = report_without_timings(dir.path());
    assert_eq!(report["verdict"], "protected");
}

/// `tiny.toml` plus `extra`, written as `r.toml` in `dir` (its hierarchy
/// file still found in tests/data).
fn tiny_rules_with(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(data("tiny.toml")).unwrap().replace(
        "file = \"countries.csv\"",
        &format!("file = {:?}", data("countries.csv")),
    );
    let rules = dir.join("r.toml");
    std::fs::write(&rules, format!("{text}\n{extra}")).unwrap();
    rules
}

/// Forcing a primary secret to be published contradicts the rules: exit 2,
/// the cell named, nothing written.
#[test]
fn forcing_a_secret_published_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let rules = tiny_rules_with(
        dir.path(),
        "[secondary]\npublish = [{ product = \"0101\", country = \"DE\" }]\n",
    );
    let out = dir.path().join("out");
    protect_cmd(&rules, &data("secret.csv"), &out)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("0101 x DE")
                .and(predicate::str::contains("force it to be published")),
        );
    assert!(!out.exists());
}

/// `--method` chooses the method; the report says which ran, its cost and,
/// for the exact method, the gap (0: proven optimal).
#[test]
fn method_and_gap_are_reported() {
    for (method, gap) in [("fast", None), ("optimal", Some(0.0)), ("auto", Some(0.0))] {
        let dir = tempfile::tempdir().unwrap();
        protect_cmd(&data("tiny.toml"), &data("secret.csv"), dir.path())
            .args(["--method", method, "--time-limit", "30"])
            .assert()
            .success();
        let report = report_without_timings(dir.path());
        let s = &report["tables"][1]["secondary"];
        let expected = if method == "fast" { "fast" } else { "optimal" };
        assert_eq!(s["method"], expected, "{method}");
        assert_eq!(s["gap"].as_f64(), gap, "{method}");
        assert!(s["cost"].as_f64().unwrap() > 0.0);
        assert!(s["secondary"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn bad_force_file_status_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = tiny_rules_with(dir.path(), "[secondary]\nforce_file = \"f.csv\"\n");
    std::fs::write(
        dir.path().join("f.csv"),
        "product,status\n0101,published\n01,hidden\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    protect_cmd(&rules, &data("secret.csv"), &out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("f.csv:3").and(predicate::str::contains("hidden")));
    assert!(!out.exists());
}

/// By default the final audit proves the verdict and writes, per masked
/// cell, a range inside the attacker's interval; `--exact-intervals`
/// writes the exact extremes, those `cellmask audit` finds. Same release.
#[test]
fn proven_intervals_lie_inside_the_exact_ones() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.csv");
    generate("drom", "5", "0.02", &records);
    let rules = repo("rules/drom-exports.toml");
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        protect_cmd(&rules, &records, &out)
            .args(["--method", "fast"])
            .args(extra)
            .assert()
            .success();
        out
    };
    let proven = run("proven", &[]);
    let exact = run("exact", &["--exact-intervals"]);
    assert_eq!(
        std::fs::read(proven.join("published.csv")).unwrap(),
        std::fs::read(exact.join("published.csv")).unwrap()
    );
    for (out, kind) in [(&proven, "proven"), (&exact, "exact")] {
        let report = report_without_timings(out);
        for t in report["tables"].as_array().unwrap() {
            assert_eq!(t["audit"]["intervals"], kind);
        }
    }
    // The exact intervals are those of `cellmask audit` on the release.
    let audited = dir.path().join("audited");
    cellmask()
        .args(["audit", "--quiet", "--exact-intervals", "--rules"])
        .arg(&rules)
        .arg("--published")
        .arg(exact.join("published.csv"))
        .arg("--input")
        .arg(&records)
        .arg("--regroup")
        .arg(exact.join("regroup.csv"))
        .arg("--out")
        .arg(&audited)
        .assert()
        .success();
    let key = |r: &std::collections::HashMap<String, String>| {
        ["territory", "flow", "product", "country"].map(|k| r[k].clone())
    };
    let bound = |s: &str| -> f64 {
        if s == "inf" {
            f64::INFINITY
        } else {
            s.parse().unwrap()
        }
    };
    let audit: std::collections::HashMap<_, _> = read_csv(&audited.join("audit.csv"))
        .into_iter()
        .map(|r| (key(&r), (r["audit_low"].clone(), r["audit_high"].clone())))
        .collect();
    let (p, e) = (
        read_csv(&proven.join("cells.csv")),
        read_csv(&exact.join("cells.csv")),
    );
    assert_eq!(p.len(), e.len());
    let mut masked = 0;
    for (p, e) in p.iter().zip(&e) {
        assert_eq!(key(p), key(e));
        if e["status"] == "published" {
            assert_eq!(p["audit_low"], "");
            continue;
        }
        masked += 1;
        assert_eq!(
            audit[&key(e)],
            (e["audit_low"].clone(), e["audit_high"].clone()),
            "{:?}",
            key(e)
        );
        let (pl, ph) = (bound(&p["audit_low"]), bound(&p["audit_high"]));
        let (el, eh) = (bound(&e["audit_low"]), bound(&e["audit_high"]));
        assert!(
            pl >= el - 0.01 && ph <= eh + 0.01,
            "{:?}: [{pl}, {ph}] not in [{el}, {eh}]",
            key(e)
        );
    }
    assert!(masked > 100, "{masked}");
}

#[test]
fn each_secondary_cell_names_the_primaries_it_protects() {
    let dir = tempfile::tempdir().unwrap();
    protect("secret.csv", dir.path()).success();
    let cells = read_csv(&dir.path().join("cells.csv"));
    let name = |r: &std::collections::HashMap<String, String>| {
        format!("{} x {}", r["product"], r["country"])
    };
    let primaries: Vec<String> = cells
        .iter()
        .filter(|r| r["flow"] == "I" && r["status"] == "primary")
        .map(name)
        .collect();
    let secondaries: Vec<_> = cells
        .iter()
        .filter(|r| r["status"] == "secondary")
        .collect();
    assert!(!secondaries.is_empty());
    for s in secondaries {
        // At least one primary, each a primary cell of the same table.
        let field = s["protects"].trim_start_matches("via ");
        let named: Vec<&str> = field.split(" (+").next().unwrap().split("; ").collect();
        assert!(!field.is_empty(), "{s:?}");
        for n in named {
            assert!(
                primaries.iter().any(|p| p == n),
                "{n} is not a primary: {s:?}"
            );
        }
    }
    // Published and primary cells name none.
    assert!(cells
        .iter()
        .filter(|r| r["status"] != "secondary")
        .all(|r| r["protects"].is_empty()));
}

#[test]
fn release_for_french_excel_and_as_a_workbook() {
    // `;`, decimal comma and a byte order mark; cellmask reads it back.
    let dir = tempfile::tempdir().unwrap();
    protect_cmd(&data("tiny.toml"), &data("secret.csv"), dir.path())
        .args(["--release-format", "csv-fr"])
        .assert()
        .success();
    let bytes = std::fs::read(dir.path().join("published.csv")).unwrap();
    assert!(bytes.starts_with("\u{feff}flow;product;country;value;status\n".as_bytes()));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("\nE;TOTAL;WORLD;"), "{text}");
    assert!(text
        .lines()
        .any(|l| l.ends_with(";published") && l.contains(',')));
    assert!(!dir.path().join("published.xlsx").exists());
    assert_verified_with(&data("tiny.toml"), dir.path(), &data("secret.csv"));

    // A workbook: a sheet per table, codes as text, values as numbers,
    // masked cells `s`; the same bytes on every run.
    let books: Vec<Vec<u8>> = (0..2)
        .map(|jobs| {
            let dir = tempfile::tempdir().unwrap();
            protect_cmd(&data("tiny.toml"), &data("secret.csv"), dir.path())
                .args([
                    "--release-format",
                    "xlsx",
                    "--jobs",
                    &(jobs + 1).to_string(),
                ])
                .assert()
                .success();
            assert!(dir.path().join("published.csv").exists());
            std::fs::read(dir.path().join("published.xlsx")).unwrap()
        })
        .collect();
    assert_eq!(books[0], books[1]);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&books[0])).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut s).unwrap();
        s
    };
    let workbook = read("xl/workbook.xml");
    assert!(workbook.contains(r#"<sheet name="E""#) && workbook.contains(r#"<sheet name="I""#));
    let strings = read("xl/sharedStrings.xml");
    // Codes as text (0101 keeps its zero); the masked mark; no figure a
    // release must not hold (the 0101 x DE cell's contributors: 3).
    assert!(strings.contains("<t>0101</t>") && strings.contains("<t>s</t>"));
    // Table I (the second sheet): one `s` in the value column per masked
    // cell of the CSV release, and its total as a number.
    let sheet = read("xl/worksheets/sheet2.xml");
    let s_index = strings
        .split("<si>")
        .skip(1)
        .position(|si| si.starts_with("<t>s</t>"))
        .unwrap();
    let marks = sheet.matches(&format!(r#"t="s"><v>{s_index}</v>"#)).count();
    let dir = tempfile::tempdir().unwrap();
    protect("secret.csv", dir.path()).success();
    let published = read_csv(&dir.path().join("published.csv"));
    let masked = published
        .iter()
        .filter(|r| r["flow"] == "I" && r["status"] == "masked")
        .count();
    assert!(masked > 0);
    assert_eq!(marks, masked);
    let total = published
        .iter()
        .find(|r| r["flow"] == "I" && r["product"] == "TOTAL" && r["country"] == "WORLD")
        .unwrap();
    if total["status"] == "published" {
        let v: f64 = total["value"].parse().unwrap();
        assert!(sheet.contains(&format!("<v>{v}</v>")), "{v} as a number");
    }
}

/// A Windows-1252 extract, said so in the rules, gives the release its
/// UTF-8 twin gives; an encoding cellmask does not know is named.
#[test]
fn windows_1252_records_when_the_rules_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let rules = tiny_rules_with(dir.path(), "");
    let text = std::fs::read_to_string(&rules).unwrap();
    let cp1252 = dir.path().join("cp1252.toml");
    std::fs::write(
        &cp1252,
        text.replace("[input]\n", "[input]\nencoding = \"windows-1252\"\n"),
    )
    .unwrap();
    let rows = |e: &[u8]| -> Vec<u8> {
        let mut out = b"op,flow,product,country,value\n".to_vec();
        for (i, op) in [b"a".as_slice(), b"b", b"c"].iter().enumerate() {
            for (p, c) in [("0101", "DE"), ("0101", "IT"), ("0102", "DE")] {
                out.extend_from_slice(e);
                out.extend_from_slice(op);
                out.extend_from_slice(format!(",I,{p},{c},{}.00\n", 10 + i).as_bytes());
            }
        }
        out
    };
    let utf8 = dir.path().join("utf8.csv");
    let latin = dir.path().join("latin.csv");
    std::fs::write(&utf8, rows("\u{e9}".as_bytes())).unwrap();
    std::fs::write(&latin, rows(b"\xe9")).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    protect_cmd(&rules, &utf8, &a).assert().success();
    protect_cmd(&cp1252, &latin, &b).assert().success();
    for f in ["published.csv", "cells.csv"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    // Three operators (é-a, é-b, é-c), not one unreadable id.
    let cells = read_csv(&b.join("cells.csv"));
    assert!(cells.iter().any(|r| r["contributors"] == "3"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replace("[input]\n", "[input]\nencoding = \"klingon\"\n"),
    )
    .unwrap();
    protect_cmd(&bad, &latin, &dir.path().join("c"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "encoding = \"klingon\" is not an encoding",
        ));
}

/// `protect` of `records` under `rules` (and `args`) with `--jobs 1` and
/// `--jobs 2`, into `d/out1` and `d/out2`; asserts that the release, its
/// cells and its certificate are the same bytes, and returns `d/out1`.
fn protect_same_bytes_whatever_jobs(
    rules: &std::path::Path,
    records: &std::path::Path,
    d: &std::path::Path,
    args: &[&str],
) -> std::path::PathBuf {
    let outs: Vec<std::path::PathBuf> = ["1", "2"]
        .iter()
        .map(|jobs| {
            let out = d.join(format!("out{jobs}"));
            protect_cmd(rules, records, &out)
                .args(args)
                .args(["--jobs", jobs])
                .assert()
                .success();
            out
        })
        .collect();
    for f in ["published.csv", "cells.csv", "certificate.json"] {
        assert!(
            std::fs::read(outs[0].join(f)).unwrap() == std::fs::read(outs[1].join(f)).unwrap(),
            "{f} differs between --jobs 1 and 2"
        );
    }
    outs[0].clone()
}

/// A table over 50,000 cells: `fast` searches the failing cells' patterns
/// in groups of product branches side by side (national 0.03 imports:
/// 62,866 cells, hundreds of failing cells after the first check). The
/// release, its cells and its certificate are the same bytes whatever
/// `--jobs`, and the certificate verifies.
#[test]
fn big_table_same_bytes_whatever_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let records = d.join("national.csv");
    generate("national", "7", "0.03", &records);
    let rules = d.join("imports.toml");
    write_shipped_rules(
        "national.toml",
        "split = [\"flow\"]",
        "keep = { flow = [\"I\"] }",
        &rules,
    );
    let out = protect_same_bytes_whatever_jobs(&rules, &records, d, &["--method", "fast"]);
    let cells = read_csv(&out.join("cells.csv"));
    assert!(cells.len() > 50_000, "{}", cells.len());
    assert!(cells.iter().filter(|c| c["status"] == "secondary").count() > 1_000);
    assert_verified_with(&rules, &out, &records);
}

/// A DROM table of over 5,000 cells under `auto`: the exact method stops
/// within its gap of the bound (an incumbent, not proven optimal), the
/// release is certified, and the bytes do not depend on `--jobs`.
#[test]
fn exact_method_within_its_gap_same_bytes_whatever_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let records = d.join("drom.csv");
    generate("drom", "5", "0.5", &records);
    let rules = d.join("re.toml");
    write_shipped_rules(
        "drom-imports.toml",
        "keep = { flow = [\"I\"] }",
        "keep = { flow = [\"I\"], territory = [\"RE\"] }",
        &rules,
    );
    let out = protect_same_bytes_whatever_jobs(&rules, &records, d, &[]);
    let report = report_without_timings(&out);
    let tables = report["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 1);
    let t = &tables[0];
    let cells = t["published"].as_u64().unwrap()
        + t["primary"].as_u64().unwrap()
        + t["secondary"]["secondary"].as_u64().unwrap();
    assert!(cells > 5_000, "{cells} cells");
    assert_eq!(t["secondary"]["method"], "optimal");
    let gap = t["secondary"]["gap"].as_f64().unwrap();
    assert!(gap > 0.0 && gap <= 0.01, "gap {gap}");
    verify_cmd(&rules, &out, &out.join("certificate.json"))
        .arg("--input")
        .arg(&records)
        .arg("--regroup")
        .arg(out.join("regroup.csv"))
        .assert()
        .success();
}

/// `secondary.auto_optimal_max_cells` moves `auto`'s choice: with a limit
/// of one cell every table gets `fast`, with the default the small ones
/// `optimal`; both releases pass the audit that `protect` ends with.
#[test]
fn auto_optimal_max_cells_chooses_the_method() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.csv");
    generate("drom", "5", "0.02", &records);
    let limited = dir.path().join("limited.toml");
    write_shipped_rules(
        "drom-exports.toml",
        "auto_optimal_max_cells = 15000\n",
        "auto_optimal_max_cells = 1\n",
        &limited,
    );
    let methods = |rules: &std::path::Path, name: &str| -> Vec<String> {
        let out = dir.path().join(name);
        protect_cmd(rules, &records, &out).assert().success();
        let report = report_without_timings(&out);
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["secondary"]["method"].as_str().map(String::from))
            .collect()
    };
    let limited = methods(&limited, "limited");
    let default = methods(&repo("rules/drom-exports.toml"), "default");
    assert!(!limited.is_empty());
    assert!(limited.iter().all(|m| m == "fast"), "{limited:?}");
    assert!(default.iter().all(|m| m == "optimal"), "{default:?}");
}
