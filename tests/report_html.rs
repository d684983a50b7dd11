//! `report.html` as a release team opens it: self-contained, the same bytes
//! on every run, charts that render in a browser (headless Chromium), and
//! nothing a release must not hold.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn demo(out: &Path, jobs: &str) {
    cellmask()
        .args(["demo", "--quiet", "--jobs", jobs, "--out"])
        .arg(out)
        .assert()
        .success();
}

#[test]
fn self_contained_deterministic_and_without_secrets() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    demo(a.path(), "1");
    demo(b.path(), "2");
    for flow in ["imports", "exports"] {
        let page = std::fs::read_to_string(a.path().join(flow).join("report.html")).unwrap();
        assert_eq!(
            page,
            std::fs::read_to_string(b.path().join(flow).join("report.html")).unwrap(),
            "{flow}: the same bytes whatever --jobs"
        );
        // Nothing fetched: no script, stylesheet link, image source or URL.
        for banned in ["<script", "<link", "src=", "url(", "<img", "https://"] {
            assert!(!page.contains(banned), "{flow}: {banned}");
        }
        assert!(page.matches("<svg").count() >= 4, "{flow}: charts");
        assert!(page.contains("Fact sheets") && page.contains("<h3>RE</h3>"));
        // No masked value (each as the release would print it), no
        // contributor id, no contributor count.
        let cells = read_csv(&a.path().join(flow).join("cells.csv"));
        let mut checked = 0;
        for c in cells.iter().filter(|c| c["status"] != "published") {
            let v = &c["value"];
            if v.len() >= 7 {
                assert!(
                    !page.contains(v.as_str()),
                    "{flow}: masked value {v} in the report"
                );
                checked += 1;
            }
        }
        assert!(checked > 100, "{checked}");
        let records = read_csv(&a.path().join("records.csv"));
        for r in records.iter().step_by(97) {
            assert!(!page.contains(&r["operator"]), "{flow}: an operator id");
        }
        assert!(!page.to_lowercase().contains("contributor"));
    }
}

/// Headless Chromium (a prerequisite, see the README) loads the page and
/// lays out its charts: every chart an SVG with drawn bars.
#[test]
fn charts_render_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path(), "2");
    let page = dir.path().join("imports").join("report.html");
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .expect("headless Chromium is needed for this test (apt-get install chromium)");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("Release report"),
        "the page loaded: {dom:.200}"
    );
    let svgs: Vec<&str> = dom.split("<svg").skip(1).collect();
    assert!(svgs.len() >= 4, "{} charts", svgs.len());
    for svg in &svgs {
        // Bars: filled rectangles with a positive width and height.
        let bars = svg
            .split("<rect")
            .skip(1)
            .filter(|r| {
                let num = |key: &str| -> f64 {
                    r.split(&format!(" {key}=\""))
                        .nth(1)
                        .and_then(|s| s.split('"').next())
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0.0)
                };
                num("width") > 0.0 && num("height") > 0.0 && !r.contains("fill=\"#FFFFFF\"")
            })
            .count();
        assert!(bars >= 2, "a chart without bars");
    }
}

#[test]
fn a_batch_has_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("drom.csv");
    generate("drom", "3", "0.02", &input);
    let out = dir.path().join("out");
    cellmask()
        .args(["batch", "--quiet", "--rules"])
        .arg(repo("rules/drom-exports.toml"))
        .arg("--out")
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains("<td>drom</td><td>protected</td>"),
        "{page:.400}"
    );
    assert!(page.contains("<svg"));
    assert!(out.join("drom").join("report.html").exists());
}

/// `cellmask report` puts a DROM year's imports and exports (two releases,
/// two rule sets) on one page: each territory's fact sheet has both flows,
/// built from the releases alone.
#[test]
fn fact_sheets_over_imports_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path(), "2");
    let out = dir.path().join("sheets");
    cellmask()
        .args(["report", "--quiet", "--out"])
        .arg(&out)
        .arg(dir.path().join("imports"))
        .arg(dir.path().join("exports"))
        .assert()
        .success();
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    for territory in ["GP", "MQ", "RE"] {
        let at = page
            .find(&format!("<section><h3>{territory}</h3>"))
            .unwrap_or_else(|| panic!("no sheet for {territory}"));
        let sheet = &page[at..at + page[at..].find("</section>").unwrap()];
        assert!(
            sheet.contains("<h4>imports</h4>") && sheet.contains("<h4>exports</h4>"),
            "{sheet}"
        );
        assert!(sheet.contains("top partners") && sheet.contains("top product groups"));
    }
    for flow in ["imports", "exports"] {
        let cells = read_csv(&dir.path().join(flow).join("cells.csv"));
        for c in cells.iter().filter(|c| c["status"] != "published") {
            let v = &c["value"];
            assert!(
                v.len() < 7 || !page.contains(v.as_str()),
                "masked value {v}"
            );
        }
    }
    assert!(!page.to_lowercase().contains("contributor"));
    assert!(!page.contains("<script"));
    // The same bytes again; a --rules per release or none.
    let again = dir.path().join("again");
    cellmask()
        .args([
            "report",
            "--quiet",
            "--rules",
            "drom-imports",
            "--rules",
            "drom-exports",
            "--out",
        ])
        .arg(&again)
        .arg(dir.path().join("imports"))
        .arg(dir.path().join("exports"))
        .assert()
        .success();
    assert_eq!(
        page,
        std::fs::read_to_string(again.join("report.html")).unwrap()
    );
    cellmask()
        .args(["report", "--quiet", "--rules", "drom-imports", "--out"])
        .arg(&again)
        .arg(dir.path().join("imports"))
        .arg(dir.path().join("exports"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("2 release(s) but 1 --rules"));
}
