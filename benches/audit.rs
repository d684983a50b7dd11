//! Audit speed on masked national-profile tables at growing scales.
//!
//! `cargo bench --bench audit` (plain harness: one timed run per case, the
//! large cases take tens of seconds). Two maskings per scale:
//! - `primary`: every primary cell masked (about half the cells: giant
//!   components, the worst case);
//! - `sparse`: 16% of the cells masked at random (seeded): small
//!   components, the case of a table after secondary suppression.
//!
//! Prints masked cells, components, largest component, LP solves, seconds
//! and masked cells per second. Scales (comma-separated):
//! `CELLMASK_BENCH_PRIMARY` (default `0.001,0.002,0.005,0.01`) and
//! `CELLMASK_BENCH_SPARSE` (default `0.01,0.1,1`). Figures in
//! benches/README.md.

mod common;
use common::scales;

use std::time::Instant;

use cellmask::generate::national_file;
use cellmask::primary;
use cellmask::protect::{aggregate_all, audit_all};
use cellmask::read::read_records;
use cellmask::rules::Rules;
use cellmask::table::{Status, Table};
use rand::{Rng, SeedableRng};

fn tables_at(scale: f64, rules: &Rules) -> Vec<Table> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("national.csv");
    national_file(scale, &path).unwrap();
    let data = read_records(&path, rules).unwrap();
    let mut tables = aggregate_all(&data, rules).unwrap();
    for t in &mut tables {
        primary::apply(t, &rules.primary, &rules.protection);
    }
    tables
}

fn run(label: &str, scale: f64, mut tables: Vec<Table>) {
    let start = Instant::now();
    let audits = audit_all(&mut tables, false, true, true).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let masked: usize = audits.iter().map(|a| a.masked).sum();
    let comps: usize = audits.iter().map(|a| a.components).sum();
    let largest = audits
        .iter()
        .map(|a| a.largest_component)
        .max()
        .unwrap_or(0);
    let solves: usize = audits.iter().map(|a| a.lp_solves).sum();
    println!(
        "{label:8} scale {scale:<6} masked {masked:>7}  components {comps:>6}  largest {largest:>6}  LP solves {solves:>6}  {secs:>8.2} s  {:>9.0} masked/s",
        masked as f64 / secs
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let rules = Rules::builtin("national.toml").unwrap();
    for scale in scales("CELLMASK_BENCH_SPARSE", "0.01,0.1,1") {
        let mut tables = tables_at(scale, &rules);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for t in &mut tables {
            for c in &mut t.cells {
                c.rules = Default::default();
                c.status = if rng.gen_bool(0.16) {
                    Status::Secondary
                } else {
                    Status::Published
                };
            }
        }
        run("sparse", scale, tables);
    }
    for scale in scales("CELLMASK_BENCH_PRIMARY", "0.001,0.002,0.005,0.01") {
        run("primary", scale, tables_at(scale, &rules));
    }
}
