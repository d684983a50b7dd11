//! Peer datasets: cellmask's primary rules against rtauargus' own flags,
//! and `protect` end to end on GaussSuppression's and sdcTable's data.

mod common;

use common::*;

use cellmask::primary::assess;
use cellmask::rules::{PrimaryRules, ProtectionRules};
use cellmask::table::RuleSet;

/// rtauargus' `datatest1` flags each cell with the frequency rule (< 3
/// observations) and the dominance rule (1, 85); cellmask must agree on
/// every cell with a non-negative total (cellmask values are >= 0).
#[test]
fn rtauargus_datatest1_primary_flags() {
    let rows = common::read_csv(&common::data("peers/rtauargus_datatest1.csv"));
    let (rules, prot) = (PrimaryRules::customs(), ProtectionRules::customs());
    let units = |s: &str| (s.parse::<f64>().unwrap_or(0.0) * 1e6).round() as i64;
    let mut checked = 0;
    for r in &rows {
        let total = units(&r["pizzas_tot"]);
        if total < 0 {
            continue;
        }
        // Weighted counts: fewer than 3 observations means below 3.
        let n = r["nb_obs"].parse::<f64>().unwrap().floor() as u32;
        let (broken, _) = assess(total, n, &[units(&r["pizzas_max"])], &rules, &prot);
        let line = format!(
            "{} {} {} {}",
            r["treff"], r["cj"], r["type_distrib"], r["A10"]
        );
        assert_eq!(
            broken.contains(RuleSet::FREQUENCY),
            r["is_secret_freq"] == "TRUE",
            "frequency: {line}"
        );
        assert_eq!(
            broken.contains(RuleSet::DOMINANCE),
            r["is_secret_dom"] == "TRUE",
            "dominance: {line}"
        );
        checked += 1;
    }
    assert!(checked > 680, "{checked}");
}

/// Protects a peer dataset with both methods: exit 0, a release file, the
/// audit passed; returns (primary, secondary, cost) per method.
fn protect_both(rules: &str, input: &std::path::Path) -> Vec<(u64, u64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), rules).unwrap();
    ["optimal", "fast"]
        .iter()
        .map(|method| {
            let out = dir.path().join(method);
            protect_cmd(&dir.path().join("rules.toml"), input, &out)
                .args(["--method", method])
                .assert()
                .success();
            assert!(out.join("published.csv").exists());
            let report = report_without_timings(&out);
            assert_eq!(report["verdict"], "protected");
            let t = &report["tables"][0];
            assert_eq!(t["secondary"]["method"], *method);
            (
                t["primary"].as_u64().unwrap(),
                t["secondary"]["secondary"].as_u64().unwrap(),
                t["secondary"]["cost"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// GaussSuppression's magnitude1, sector4 x geo with (1, 85) and at least
/// 3 contributors: cellmask finds its 9 primary cells and masks no more
/// value than GaussSuppression's own 3 secondary cells do.
#[test]
fn gausssuppression_magnitude1_end_to_end() {
    let results = protect_both(GAUSS_MAGNITUDE1_RULES, &data("peers/gauss_magnitude1.csv"));
    let peer = read_csv(&data(
        "peers/gauss_magnitude1_sector4xgeo_n1k85_minContr3.csv",
    ));
    let peer_cost: f64 = peer
        .iter()
        .filter(|r| r["suppressed"] == "TRUE" && r["primary"] == "FALSE")
        .map(|r| r["value"].parse::<f64>().unwrap())
        .sum();
    let (primary, _, optimal) = results[0];
    assert_eq!(primary, 9);
    // Costs are in units of 0.1 (decimals = 1).
    assert!(
        optimal / 10.0 <= peer_cost + 1e-6,
        "cellmask {} vs GaussSuppression {peer_cost}",
        optimal / 10.0
    );
    assert!(results[1].2 >= optimal - 1e-6);
}

/// sdcTable's vignette microdata: three dimensions (V1 with a B group),
/// 1,000 contributors, cells of fewer than 12 secret (about a third of
/// the detailed cells); both methods protect it.
#[test]
fn sdctable_vignette_three_dimensions_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.csv");
    std::fs::write(
        &v1,
        "code,parent\nTot,\nA,Tot\nB,Tot\nBa,B\nBb,B\nBc,B\nC,Tot\nD,Tot\n",
    )
    .unwrap();
    let rules = format!(
        "[input]\ncontributor='id'\nvalue='numVal1'\n[[dimension]]\nname='V1'\nfile={v1:?}\n[[dimension]]\nname='V2'\nflat=true\nroot='Tot'\n[[dimension]]\nname='V3'\nflat=true\nroot='Tot'\n[primary]\nmin_contributors=12\n"
    );
    let results = protect_both(&rules, &data("peers/sdctable_vignette_microdat.csv"));
    eprintln!("sdcTable vignette (primary, secondary, cost): {results:?}");
    assert!(results[0].0 > 10, "some primary cells");
    assert!(
        results[0].2 <= results[1].2 + 1e-6,
        "optimal {:?} vs fast {:?}",
        results[0],
        results[1]
    );
}

/// τ-ARGUS's own result (checkTauArgus "Simple2D": Size x Region, Modular,
/// code-value output with status numbers, no header) audited directly:
/// the 9 unsafe (3) and 12 secondary (11) cells are the masked ones, the
/// 43 empty cells (14) are no cells, and no masked cell is disclosed.
#[test]
fn tauargus_simple2d_result_is_audited_as_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        data("peers/tauargus_region2.hrc"),
        dir.path().join("region2.hrc"),
    )
    .unwrap();
    let rules = dir.path().join("simple2d.toml");
    std::fs::write(
        &rules,
        "name = \"simple2d\"\n[input]\ncontributor = \"id\"\nvalue = \"Var2\"\n\
         [[dimension]]\nname = \"size\"\nflat = true\nroot = \"Total\"\n\
         [[dimension]]\nname = \"region\"\nhrc = \"region2.hrc\"\nroot = \"Total\"\n\
         [primary]\nmin_contributors = 0\np_percent = 15\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    audit_cmd(&rules, &data("peers/tauargus_simple2d.txt"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let audit = read_csv(&out.join("audit.csv"));
    assert_eq!(audit.len(), 9 + 12);
    assert!(audit.iter().all(|r| r["verdict"] == "ok"));
    // " 2" x Nr (5.00, unsafe) is among them, its interval at least a unit wide.
    let c = audit
        .iter()
        .find(|r| r["size"] == "2" && r["region"] == "Nr")
        .unwrap();
    let (lo, hi): (f64, f64) = (
        c["audit_low"].parse().unwrap(),
        c["audit_high"].parse().unwrap(),
    );
    assert!(lo <= 5.0 && hi >= 5.0 && hi - lo >= 0.01);
}

/// `--tau-argus` writes each table in τ-ARGUS's layouts: status numbers
/// that say what cells.csv says, and a code-value file cellmask audit
/// reads back with the release's masked cells.
#[test]
fn tauargus_files_out_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    protect_cmd(&data("tiny.toml"), &data("secret.csv"), &out)
        .arg("--tau-argus")
        .assert()
        .success();
    let cells = read_csv(&out.join("cells.csv"));
    let txt = std::fs::read_to_string(out.join("tau_I.txt")).unwrap();
    let mut masked = 0;
    for line in txt.lines() {
        let f: Vec<&str> = line.split(',').collect();
        let (p, c, status) = (f[0].trim_matches('"'), f[1].trim_matches('"'), f[3]);
        let cell = cells
            .iter()
            .find(|r| r["flow"] == "I" && r["product"] == p && r["country"] == c)
            .unwrap();
        let expected = match (cell["status"].as_str(), cell["rule"].as_str()) {
            ("published", _) => "1",
            ("secondary", _) => "11",
            ("primary", "frequency") => "5",
            ("primary", _) => "3",
            other => panic!("{other:?}"),
        };
        assert_eq!(status, expected, "{line}");
        masked += (status != "1") as usize;
    }
    for f in [
        "tau_I.tab",
        "tau_I.rda",
        "tau_product.hrc",
        "tau_country.hrc",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let rda = std::fs::read_to_string(out.join("tau_I.rda")).unwrap();
    assert!(rda.contains("<TOTCODE> \"TOTAL\"") && rda.contains("<STATUS>"));
    audit_cmd(&data("tiny.toml"), &out.join("tau_I.txt"))
        .arg("--out")
        .arg(dir.path().join("a"))
        .assert()
        .success();
    assert_eq!(
        read_csv(&dir.path().join("a").join("audit.csv")).len(),
        masked
    );
    // A rerun without the option leaves no stale τ-ARGUS file.
    protect_cmd(&data("tiny.toml"), &data("secret.csv"), &out)
        .assert()
        .success();
    assert!(!files_in(&out).iter().any(|f| f.starts_with("tau_")));
}

/// Statuses as each tool writes them.
#[test]
fn peer_status_codes() {
    use cellmask::published::{status_means, Meaning};
    for s in ["published", "safe", "1", "2", "10", "V", "s", "z", "FALSE"] {
        assert_eq!(status_means(s), Meaning::Published, "{s}");
    }
    for s in [
        "masked",
        "primary",
        "secondary",
        "3",
        "5",
        "11",
        "12",
        "A",
        "B",
        "D",
        "u",
        "x",
        "TRUE",
        "U",
        "M",
    ] {
        assert_eq!(status_means(s), Meaning::Masked, "{s}");
    }
    for s in ["13", "14", "E"] {
        assert_eq!(status_means(s), Meaning::Empty, "{s}");
    }
}

/// τ-ARGUS microdata in: `rules-from-rda` turns τ-ARGUS's metadata into a
/// rules file, `protect` reads the fixed-width `.asc` through it, and with
/// the Simple2D settings (p% rule, p = 15, nothing else) cellmask finds the
/// same table (119 non-empty cells) and exactly τ-ARGUS's 9 unsafe cells;
/// τ-ARGUS's own masking of it passes cellmask's exact audit with the
/// records.
#[test]
fn tauargus_microdata_through_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let zip = std::fs::File::open(data("peers/tauargus_testW.zip")).unwrap();
    zip::ZipArchive::new(zip).unwrap().extract(d).unwrap();
    std::fs::copy(
        data("peers/tauargus_Tau_TestW.rda"),
        d.join("Tau_TestW.rda"),
    )
    .unwrap();
    std::fs::copy(data("peers/tauargus_region2.hrc"), d.join("region2.hrc")).unwrap();
    let toml = size_region_rules(&d.join("Tau_TestW.rda"));
    assert!(toml.contains("hrc = \"region2.hrc\"") && toml.contains("flat = true"));
    let toml = toml
        .replace("min_contributors = 3", "min_contributors = 0")
        .replace("dominance = [{ n = 1, k = 85 }]", "dominance = []")
        .replace("# p_percent = 15", "p_percent = 15");
    let rules = d.join("simple2d.toml");
    std::fs::write(&rules, toml).unwrap();
    let asc = d.join("tau_testW.asc");
    let out = d.join("out");
    protect_cmd(&rules, &asc, &out).assert().success();
    let cells = read_csv(&out.join("cells.csv"));
    let reference = std::fs::read_to_string(data("peers/tauargus_simple2d.txt")).unwrap();
    let tau: Vec<(String, String, String)> = reference
        .lines()
        .map(|l| {
            let f: Vec<String> = l
                .split(',')
                .map(|s| s.trim().trim_matches('"').trim().to_string())
                .collect();
            (f[0].clone(), f[1].clone(), f[3].clone())
        })
        .collect();
    assert_eq!(cells.len(), tau.iter().filter(|t| t.2 != "14").count());
    let mut ours: Vec<(String, String)> = cells
        .iter()
        .filter(|c| c["status"] == "primary")
        .map(|c| (c["Size"].clone(), c["Region"].clone()))
        .collect();
    let mut theirs: Vec<(String, String)> = tau
        .iter()
        .filter(|t| t.2 == "3")
        .map(|t| (t.0.clone(), t.1.clone()))
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 9);
    audit_cmd(&rules, &data("peers/tauargus_simple2d.txt"))
        .arg("--input")
        .arg(&asc)
        .assert()
        .success();
    // pytauargus' Modular on the same table, as τ-ARGUS writes a table
    // (SO+: status letters S/U/M/E among other fields), audited as written.
    let out = d.join("modular");
    audit_cmd(&rules, &data("peers/pytauargus_modular_simple2d.tab"))
        .arg("--input")
        .arg(&asc)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(read_csv(&out.join("audit.csv")).len(), 9 + 12);
}

/// The rules `cellmask rules-from-rda` prints for Size x Region on Var2.
fn size_region_rules(rda: &std::path::Path) -> String {
    let made = cellmask()
        .args([
            "rules-from-rda",
            "--dimensions",
            "Size,Region",
            "--value",
            "Var2",
            "--rda",
        ])
        .arg(rda)
        .output()
        .unwrap();
    assert!(made.status.success());
    String::from_utf8(made.stdout).unwrap()
}

/// A broken τ-ARGUS metadata file is named with its line, nothing written.
#[test]
fn broken_rda_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let rda = dir.path().join("m.rda");
    std::fs::write(
        &rda,
        "Size 9 2 99\n  <RECODEABLE>\nVar2 x 10\n  <NUMERIC>\n",
    )
    .unwrap();
    cellmask()
        .args([
            "rules-from-rda",
            "--dimensions",
            "Size",
            "--value",
            "Var2",
            "--rda",
        ])
        .arg(&rda)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("m.rda:3:"));
}

/// τ-ARGUS tabular input: `pp.tab` (no microdata: each cell's value,
/// frequency and two largest contributions) read through `pp.rda`, as
/// `rules-from-rda` writes the rules. Its `Var2` is not additive (a total
/// differs from its detail by one unit: named by line, nothing written);
/// `Var2_Shadow` is, and cellmask's primary cells under NK(1,85) and at
/// least 3 contributors are exactly the file's 9 unsafe (U) cells.
#[test]
fn tauargus_tabular_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(data("peers/tauargus_pp.tab"), d.join("pp.tab")).unwrap();
    std::fs::copy(data("peers/tauargus_pp.rda"), d.join("pp.rda")).unwrap();
    std::fs::copy(data("peers/tauargus_region2.hrc"), d.join("region2.hrc")).unwrap();
    let toml = size_region_rules(&d.join("pp.rda"));
    assert!(toml.contains("frequency = \"FreqVar\""), "{toml}");
    assert!(toml.contains("top = [\"Top1\", \"Top2\"]"), "{toml}");
    assert!(!toml.contains("contributor ="), "{toml}");
    let rules = d.join("pp.toml");
    std::fs::write(&rules, &toml).unwrap();
    let tab = d.join("pp.tab");
    let out = d.join("out");
    let bad = protect_cmd(&rules, &tab, &out).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    for line in [1, 6, 7, 37] {
        assert!(
            err.contains(&format!("pp.tab:{line}: the cell's value is not the sum")),
            "{err}"
        );
    }
    assert!(!out.exists());

    std::fs::write(
        &rules,
        toml.replace("value = \"Var2\"", "value = \"Var2_Shadow\""),
    )
    .unwrap();
    protect_cmd(&rules, &tab, &out).assert().success();
    let cells = read_csv(&out.join("cells.csv"));
    // 153 rows, 34 of them empty (frequency 0): 119 cells, as from the microdata.
    assert_eq!(cells.len(), 119);
    let text = std::fs::read_to_string(&tab).unwrap();
    let field = |s: &str| s.trim().trim_matches('"').trim().to_string();
    let mut theirs: Vec<(String, String)> = text
        .lines()
        .map(|l| l.split(';').collect::<Vec<_>>())
        .filter(|f| f[8] == "U")
        .map(|f| (field(f[0]), field(f[1])))
        .collect();
    let mut ours: Vec<(String, String)> = cells
        .iter()
        .filter(|c| c["status"] == "primary")
        .map(|c| (c["Size"].clone(), c["Region"].clone()))
        .collect();
    theirs.sort();
    ours.sort();
    assert_eq!(ours.len(), 9);
    assert_eq!(ours, theirs);
    // The grand total as the file gives it (frequency included).
    let total = cells
        .iter()
        .find(|c| c["Size"] == "Total" && c["Region"] == "Total")
        .unwrap();
    assert_eq!(
        (total["value"].as_str(), total["contributors"].as_str()),
        ("16847646.84", "42723")
    );
    // The release audited with the table of cells as its "records".
    audit_cmd(&rules, &out.join("published.csv"))
        .arg("--input")
        .arg(&tab)
        .assert()
        .success();
}

/// A CSV of cells with a header: totals the file leaves out are summed from
/// its detail (frequencies added, largest contributions merged); bad rows
/// are named by line.
#[test]
fn csv_of_cells() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rules = d.join("cells.toml");
    std::fs::write(
        &rules,
        "[input]\nfrequency = 'n'\ntop = ['t1']\nvalue = 'v'\n\
         [[dimension]]\nname = 'a'\nflat = true\nroot = 'T'\n\
         [[dimension]]\nname = 'b'\nflat = true\nroot = 'T'\n",
    )
    .unwrap();
    let input = d.join("cells.csv");
    std::fs::write(
        &input,
        "a,b,v,n,t1\nx,p,100.00,5,30.00\nx,q,50.00,2,40.00\ny,p,80.00,4,20.00\ny,q,70.00,6,15.00\nT,T,300.00,12,40.00\n",
    )
    .unwrap();
    let out = d.join("out");
    protect_cmd(&rules, &input, &out).assert().success();
    let cells = read_csv(&out.join("cells.csv"));
    assert_eq!(cells.len(), 9);
    let cell = |a: &str, b: &str| {
        cells
            .iter()
            .find(|c| c["a"] == a && c["b"] == b)
            .unwrap()
            .clone()
    };
    // Computed: x's total 150 with 5 + 2 contributors; given: T,T keeps its 12.
    assert_eq!(
        (
            cell("x", "T")["value"].as_str(),
            cell("x", "T")["contributors"].as_str()
        ),
        ("150.00", "7")
    );
    assert_eq!(cell("T", "T")["contributors"], "12");
    assert_eq!(cell("x", "q")["status"], "primary");
    assert_eq!(cell("x", "q")["rule"], "frequency");

    std::fs::write(
        &input,
        "a,b,v,n,t1\nx,p,100.00,5,30.00\nz,q,50.00,2,40.00\ny,p,80.00,0,20.00\ny,q,70.00,6,90.00\nx,p,1.00,1,1.00\n",
    )
    .unwrap();
    let out = d.join("bad");
    let bad = protect_cmd(&rules, &input, &out).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("cells.csv:4: a value without contributors"),
        "{err}"
    );
    assert!(
        err.contains("cells.csv:5: largest contributions above the cell's value"),
        "{err}"
    );
    assert!(!out.exists());
    std::fs::write(
        &input,
        "a,b,v,n,t1\nx,p,100.00,5,30.00\nz,q,50.00,2,40.00\nx,p,1.00,1,1.00\n",
    )
    .unwrap();
    let bad = protect_cmd(&rules, &input, &out).output().unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("cells.csv:4: the same cell as line 2"),
        "{err}"
    );
    // Records' rules keys that a file of cells cannot have.
    std::fs::write(
        &rules,
        "[input]\nfrequency = 'n'\nvalue = 'v'\n[[dimension]]\nname = 'a'\nflat = true\nroot = 'T'\n",
    )
    .unwrap();
    let bad = protect_cmd(&rules, &input, &out).output().unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("largest contribution(s): input.top names 0"),
        "{err}"
    );
}

/// A file of cells in the encoding the rules name (Windows-1252, as
/// τ-ARGUS files from Windows often are) is read as such; without
/// `encoding`, the same file is an input error that says what to do.
#[test]
fn cells_in_windows_1252() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rules = d.join("cells.toml");
    let toml = "frequency = 'n'\ntop = ['t1']\nvalue = 'v'\n\
                [[dimension]]\nname = 'a'\nflat = true\nroot = 'T'\n\
                [[dimension]]\nname = 'b'\nflat = true\nroot = 'T'\n";
    std::fs::write(
        &rules,
        format!("[input]\nencoding = 'windows-1252'\n{toml}"),
    )
    .unwrap();
    let input = d.join("cells.csv");
    // "Réunion" and "Guyane" in Windows-1252: é is the single byte 0xE9.
    let mut bytes = b"a,b,v,n,t1\nR".to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"union,p,100.00,5,30.00\nR");
    bytes.push(0xE9);
    bytes.extend_from_slice(
        b"union,q,50.00,4,20.00\nGuyane,p,80.00,4,20.00\nGuyane,q,70.00,6,15.00\n",
    );
    std::fs::write(&input, &bytes).unwrap();
    let out = d.join("out");
    protect_cmd(&rules, &input, &out).assert().success();
    let cells = read_csv(&out.join("cells.csv"));
    let reunion: Vec<_> = cells.iter().filter(|c| c["a"] == "Réunion").collect();
    assert_eq!(reunion.len(), 3, "{cells:?}");
    assert!(reunion
        .iter()
        .any(|c| c["b"] == "T" && c["value"] == "150.00"));

    std::fs::write(&rules, format!("[input]\n{toml}")).unwrap();
    let out = d.join("bad");
    let bad = protect_cmd(&rules, &input, &out).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("cells.csv: not UTF-8 text"), "{err}");
    assert!(err.contains("encoding = \"windows-1252\""), "{err}");
    assert!(!out.exists());
}

/// rtauargus' table of cells (sector x size: companies, turnover, largest
/// contribution; the A10 > A21 > A88 tree from its correspondence table)
/// protected as a file of cells: the primary cells are those the rules
/// give on the file's own figures, and the release is certified.
#[test]
fn rtauargus_table_of_cells() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut tree = String::from("code,parent\nTotal,\n");
    let mut seen = std::collections::HashSet::new();
    for r in read_csv(&data("peers/rtauargus_activity_corr_table.csv")) {
        for (c, p) in [
            (&r["A10"], "Total"),
            (&r["A21"], &r["A10"]),
            (&r["A88"], &r["A21"]),
        ] {
            if seen.insert(c.clone()) {
                tree.push_str(&format!("{c},{p}\n"));
            }
        }
    }
    std::fs::write(d.join("activity.csv"), tree).unwrap();
    let rules = d.join("turnover.toml");
    std::fs::write(
        &rules,
        "[input]\nfrequency = 'N_OBS'\ntop = ['MAX']\nvalue = 'TOT'\ndecimals = 4\n\
         [[dimension]]\nname = 'ACTIVITY'\nfile = 'activity.csv'\n\
         [[dimension]]\nname = 'SIZE'\nflat = true\nroot = 'Total'\n\
         [primary]\nmin_contributors = 3\ndominance = [{ n = 1, k = 85 }]\n",
    )
    .unwrap();
    let input = data("peers/rtauargus_turnover_act_size.csv");
    let out = d.join("out");
    protect_cmd(&rules, &input, &out).assert().success();
    let cells = read_csv(&out.join("cells.csv"));
    let rows = read_csv(&input);
    let expected: std::collections::BTreeSet<(String, String)> = rows
        .iter()
        .filter(|r| {
            let n: u32 = r["N_OBS"].parse().unwrap();
            let (tot, max): (f64, f64) = (r["TOT"].parse().unwrap(), r["MAX"].parse().unwrap());
            n > 0 && (n < 3 || max >= 0.85 * tot)
        })
        .map(|r| (r["ACTIVITY"].clone(), r["SIZE"].clone()))
        .collect();
    let primary: std::collections::BTreeSet<(String, String)> = cells
        .iter()
        .filter(|c| c["status"] == "primary")
        .map(|c| (c["ACTIVITY"].clone(), c["SIZE"].clone()))
        .collect();
    assert_eq!(primary, expected);
    assert_eq!(
        cells.len(),
        rows.iter().filter(|r| r["N_OBS"] != "0").count()
    );
    assert_verified_with(&rules, &out, &input);
}

/// Errors in a τ-ARGUS data file name its own lines (blank lines
/// counted), for records (`.asc`) and for cells (`.tab`).
#[test]
fn tauargus_data_errors_name_the_files_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("m.rda"),
        "<SEPARATOR> \",\"\nSize 1\n  <RECODEABLE>\n  <TOTCODE> \"Total\"\nVar2 2\n  <NUMERIC>\n  <DECIMALS> 2\n",
    )
    .unwrap();
    std::fs::write(
        d.join("m.toml"),
        "[input]\nrda = 'm.rda'\ncontributor = 'record'\nvalue = 'Var2'\n\
         [[dimension]]\nname = 'Size'\nflat = true\nroot = 'Total'\n",
    )
    .unwrap();
    std::fs::write(d.join("m.asc"), "1,10.00\n\n2,x\n3,-1\n").unwrap();
    let bad = protect_cmd(&d.join("m.toml"), &d.join("m.asc"), &d.join("out"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("m.asc:3: ") && err.contains("m.asc:4: "),
        "{err}"
    );
    // The same data as cells: frequency and largest contribution added.
    std::fs::write(
        d.join("c.rda"),
        "<SEPARATOR> \";\"\nSize 1\n  <RECODEABLE>\n  <TOTCODE> \"Total\"\n\
         Var2 2\n  <NUMERIC>\n  <DECIMALS> 2\nFreq 1\n  <FREQUENCY>\nTop1 1\n  <MAXSCORE>\n",
    )
    .unwrap();
    std::fs::write(
        d.join("c.toml"),
        "[input]\nrda = 'c.rda'\nfrequency = 'Freq'\ntop = ['Top1']\nvalue = 'Var2'\n\
         [[dimension]]\nname = 'Size'\nflat = true\nroot = 'Total'\n",
    )
    .unwrap();
    std::fs::write(d.join("c.tab"), "\"1\";10,00;4;3,00\n\n\"2\";x;2;1,00\n").unwrap();
    let bad = protect_cmd(&d.join("c.toml"), &d.join("c.tab"), &d.join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("c.tab:3: Var2"), "{err}");
}
