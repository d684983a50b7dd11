//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// Rules for GaussSuppression's `magnitude1` example: sector4 x geo, flat.
pub const GAUSS_MAGNITUDE1_RULES: &str = "[input]\ncontributor='company'\nvalue='value'\ndecimals=1\n[[dimension]]\nname='sector4'\nflat=true\nroot='Total'\n[[dimension]]\nname='geo'\nflat=true\nroot='Total'\n";

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn repo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// The text of a shipped rule set (`rules/NAME`), its relative `codes/`
/// and `hierarchies/` paths made absolute, to be edited and written
/// elsewhere.
pub fn shipped_rules(name: &str) -> String {
    let dir = repo("rules");
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .replace("\"codes/", &format!("\"{}/codes/", dir.display()))
        .replace(
            "\"hierarchies/",
            &format!("\"{}/hierarchies/", dir.display()),
        )
}

/// A shipped rule set with `from` replaced by `to`, written to `path`;
/// panics unless the rewritten text holds `to`.
pub fn write_shipped_rules(name: &str, from: &str, to: &str, path: &Path) {
    let text = shipped_rules(name).replace(from, to);
    assert!(text.contains(to), "{name}: {from:?} not found");
    std::fs::write(path, text).unwrap();
}

pub fn cellmask() -> Command {
    Command::cargo_bin("cellmask").expect("binary built")
}

/// Rows of a CSV file as maps from column name to value.
pub fn read_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|row| {
            let row = row.unwrap();
            headers
                .iter()
                .map(String::from)
                .zip(row.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Names of the files in a folder, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    };
    v.sort();
    v
}

/// `report.json` without its timings (the only part that may vary).
pub fn report_without_timings(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("timings_ms");
    if let Some(tables) = v["tables"].as_array_mut() {
        for t in tables {
            t.as_object_mut().unwrap().remove("timings_ms");
        }
    }
    v
}

/// `cellmask generate --profile P --seed S --scale X --out F`, asserted to succeed.
pub fn generate(profile: &str, seed: &str, scale: &str, out: &Path) {
    cellmask()
        .args([
            "generate",
            "--profile",
            profile,
            "--seed",
            seed,
            "--scale",
            scale,
            "--out",
        ])
        .arg(out)
        .assert()
        .success();
}

/// `cellmask protect --rules R --input F --out D`, more arguments to add.
pub fn protect_cmd(rules: &Path, input: &Path, out: &Path) -> Command {
    let mut cmd = cellmask();
    cmd.args(["protect", "--rules"])
        .arg(rules)
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out);
    cmd
}
pub mod tables;

/// `cellmask audit -q --rules R --published P`, more arguments to add.
pub fn audit_cmd(rules: &Path, published: &Path) -> Command {
    let mut cmd = cellmask();
    cmd.args(["audit", "-q", "--rules"])
        .arg(rules)
        .arg("--published")
        .arg(published);
    cmd
}

/// Asserts that `cellmask verify --input records` passes on the release in
/// `out` with its own certificate.json.
pub fn assert_verified_with(rules: &Path, out: &Path, records: &Path) {
    verify_cmd(rules, out, &out.join("certificate.json"))
        .arg("--input")
        .arg(records)
        .assert()
        .success();
}

/// `cellmask verify` of the release in `out` (its published.csv) against
/// the certificate `cert`, more arguments to add.
pub fn verify_cmd(rules: &Path, out: &Path, cert: &Path) -> Command {
    let mut cmd = cellmask();
    cmd.args(["verify", "--rules"])
        .arg(rules)
        .arg("--published")
        .arg(out.join("published.csv"))
        .arg("--certificate")
        .arg(cert);
    cmd
}
