//! Secondary suppression, speed and information loss: `protect` end to
//! end (read -> ... -> audit) on generated files.
//!
//! `cargo bench --bench secondary` (plain harness, one timed run per case).
//! - DROM profile, all five territories, imports and exports, with
//!   `optimal`, `fast` and `auto` at the scales of `CELLMASK_BENCH_DROM`
//!   (default `0.05`, the demo's): time, secondary cells, their cost
//!   (value), masked value share, and fast's cost over optimal's.
//! - National profile with `fast` at the scales of
//!   `CELLMASK_BENCH_NATIONAL` (default `0.001`; empty to skip).
//!
//! Peak memory: run the same files through the CLI under `/usr/bin/time`
//! (benches/README.md). Figures in benches/README.md.

mod common;
use common::scales;

use std::path::Path;
use std::time::Instant;

use cellmask::generate::national_file;
use cellmask::protect::{self, Options};
use cellmask::rules::{Method, Rules};

struct Figures {
    secs: f64,
    cells: usize,
    primary: usize,
    secondary: usize,
    cost: f64,
    share: f64,
    protected: bool,
    methods: String,
    worst_gap: f64,
    /// Secondary cost per table.
    costs: Vec<f64>,
}

fn protect_file(rules: &Rules, input: &Path, method: Method) -> Figures {
    let opts = Options {
        quiet: true,
        method: Some(method),
        ..Options::default()
    };
    let start = Instant::now();
    let run = protect::run(rules, input, &opts).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let r = &run.report;
    let outcomes: Vec<_> = r
        .tables
        .iter()
        .filter_map(|t| t.secondary.as_ref())
        .collect();
    let mut methods: Vec<&str> = outcomes.iter().map(|o| o.method).collect();
    methods.sort_unstable();
    methods.dedup();
    Figures {
        secs,
        cells: r.totals.cells,
        primary: r.totals.primary,
        secondary: r.totals.secondary,
        cost: outcomes.iter().map(|o| o.cost).sum(),
        share: r.totals.masked_share,
        protected: run.protected(),
        methods: methods.join("+"),
        worst_gap: outcomes.iter().filter_map(|o| o.gap).fold(0.0, f64::max),
        costs: outcomes.iter().map(|o| o.cost).collect(),
    }
}

fn print(label: &str, method: Method, f: &Figures) {
    println!(
        "{label:24} {:8} {:>8.2} s  cells {:>7}  primary {:>7}  secondary {:>6}  cost {:>16.0}  share {:>6.2}%  {}  ran {}  worst gap {:.4}",
        format!("{method:?}").to_lowercase(),
        f.secs,
        f.cells,
        f.primary,
        f.secondary,
        f.cost,
        f.share * 100.0,
        if f.protected { "protected" } else { "NOT PROTECTED" },
        f.methods,
        f.worst_gap,
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    for scale in scales("CELLMASK_BENCH_DROM", "0.05") {
        let path = common::drom_file(dir.path(), scale);
        let mut total = [0.0f64; 3];
        for flow in ["imports", "exports"] {
            let rules = Rules::builtin(&format!("drom-{flow}.toml")).unwrap();
            let mut cost = [0.0f64; 2];
            let mut per_table: Vec<Vec<f64>> = Vec::new();
            for (i, method) in [Method::Optimal, Method::Fast, Method::Auto]
                .into_iter()
                .enumerate()
            {
                let f = protect_file(&rules, &path, method);
                print(&format!("drom {scale} {flow}"), method, &f);
                total[i] += f.secs;
                if i < 2 {
                    cost[i] = f.cost;
                    per_table.push(f.costs);
                }
            }
            // Per table: fast's excess over the optimum (tables with a cost).
            let excess: Vec<f64> = per_table[0]
                .iter()
                .zip(&per_table[1])
                .filter(|(o, _)| **o > 0.0)
                .map(|(o, f)| f / o - 1.0)
                .collect();
            let mean = excess.iter().sum::<f64>() / excess.len().max(1) as f64;
            let worst = excess.iter().copied().fold(0.0, f64::max);
            println!(
                "drom {scale} {flow}: fast costs {:+.1}% over optimal in all; per table mean {:+.1}%, worst {:+.1}%",
                (cost[1] / cost[0] - 1.0) * 100.0,
                mean * 100.0,
                worst * 100.0
            );
        }
        println!(
            "drom {scale} all territories and flows: optimal {:.2} s, fast {:.2} s, auto {:.2} s",
            total[0], total[1], total[2]
        );
    }
    let rules = Rules::builtin("national.toml").unwrap();
    for scale in scales("CELLMASK_BENCH_NATIONAL", "0.001") {
        let path = dir.path().join(format!("national-{scale}.csv"));
        national_file(scale, &path).unwrap();
        let f = protect_file(&rules, &path, Method::Fast);
        print(&format!("national {scale}"), Method::Fast, &f);
    }
}
