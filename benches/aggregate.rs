//! Read + aggregate throughput on the national profile.
//!
//! `cargo bench --bench aggregate` generates national records at scale
//! `CELLMASK_BENCH_SCALE` (default 0.1, about 400,000 records) once, then
//! times reading and folding them and building every cell of both tables.
//! Figures and targets: benches/README.md.

use cellmask::generate::national_file;
use cellmask::protect::aggregate_all;
use cellmask::read::read_records;
use cellmask::rules::Rules;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let scale: f64 = std::env::var("CELLMASK_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("national.csv");
    let written = national_file(scale, &path).unwrap();
    let rules = Rules::builtin("national.toml").unwrap();

    let mut g = c.benchmark_group("national");
    g.sample_size(10);
    g.throughput(Throughput::Elements(written.records));
    g.bench_function(format!("read+aggregate scale {scale}"), |b| {
        b.iter(|| {
            let data = read_records(&path, &rules).unwrap();
            let tables = aggregate_all(&data, &rules).unwrap();
            assert!(!tables.is_empty());
            tables
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
