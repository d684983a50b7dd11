//! The whole DROM batch: five territories x two flows x four years, through
//! `cellmask batch`'s library entry (both rule sets over the four yearly
//! files), every table audited.
//!
//! `cargo bench --bench batch` (plain harness, one timed run) at the scale
//! of `CELLMASK_BENCH_BATCH` (default `0.05`; `1` is a real year). Years
//! 2022 to 2025, seed = year. Figures in benches/README.md.

use std::time::Instant;

use cellmask::batch;
use cellmask::generate::{generate_file, Profile, Settings};
use cellmask::protect::Options;
use cellmask::rules::Rules;

fn main() {
    let scale: f64 = std::env::var("CELLMASK_BENCH_BATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.05);
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for year in 2022..=2025u32 {
        let path = dir.path().join(format!("drom-{year}.csv"));
        generate_file(
            &Settings {
                profile: Profile::Drom,
                seed: year as u64,
                scale,
                year,
            },
            &path,
        )
        .unwrap();
        files.push(path);
    }
    let opts = Options {
        quiet: true,
        ..Options::default()
    };
    let start = Instant::now();
    let mut tables = 0;
    let mut all_protected = true;
    for flow in ["imports", "exports"] {
        let rules = Rules::builtin(&format!("drom-{flow}.toml")).unwrap();
        let t = Instant::now();
        let outcomes = batch::run(&rules, &files, &dir.path().join(flow), &opts).unwrap();
        println!("{}", batch::summary_text(&outcomes));
        println!(
            "drom batch {scale} {flow}: {:.2} s",
            t.elapsed().as_secs_f64()
        );
        for o in &outcomes {
            match &o.result {
                Ok(r) => tables += r.totals.tables,
                Err(_) => all_protected = false,
            }
            all_protected &= o.verdict() == "protected";
        }
    }
    println!(
        "drom batch {scale}: 4 years x 2 flows, {tables} tables, {:.2} s, {}",
        start.elapsed().as_secs_f64(),
        if all_protected {
            "all protected"
        } else {
            "NOT ALL PROTECTED"
        }
    );
}
