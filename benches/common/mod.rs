//! Helpers shared by the plain-harness benches (included with `mod common;`).

/// Comma-separated scales from an environment variable, or the default.
pub fn scales(var: &str, default: &str) -> Vec<f64> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// A DROM records file with the demo's settings at `scale`, in `dir`.
#[allow(dead_code)]
pub fn drom_file(dir: &std::path::Path, scale: f64) -> std::path::PathBuf {
    let path = dir.join(format!("drom-{scale}.csv"));
    cellmask::generate::generate_file(
        &cellmask::generate::Settings {
            scale,
            ..cellmask::demo::DEMO_SETTINGS
        },
        &path,
    )
    .expect("records written");
    path
}
