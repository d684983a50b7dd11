//! Helpers shared by the plain-harness benches (included with `mod common;`).

/// Comma-separated scales from an environment variable, or the default.
pub fn scales(var: &str, default: &str) -> Vec<f64> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}
