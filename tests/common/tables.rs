//! Small tables built in memory for the math tests.

use std::path::Path;
use std::sync::Arc;

use cellmask::aggregate::aggregate;
use cellmask::hierarchy::Hierarchy;
use cellmask::read::{Contribution, TableData, MAX_DIMS};
use cellmask::table::Table;
use rand::Rng;

pub fn tree(text: &str) -> Arc<Hierarchy> {
    Arc::new(Hierarchy::from_csv_text(Path::new("h.csv"), text).unwrap())
}

/// A table from detailed values: one contributor per detailed cell.
pub fn table(dims: &[Arc<Hierarchy>], leaves: &[(&[&str], i64)]) -> Table {
    let contributions = leaves
        .iter()
        .enumerate()
        .map(|(u, (codes, v))| {
            let mut leaf = [0; MAX_DIMS];
            for (k, c) in codes.iter().enumerate() {
                leaf[k] = dims[k].lookup(c).unwrap();
            }
            Contribution {
                unit: u as u32,
                leaf,
                value: *v,
            }
        })
        .collect();
    aggregate(
        &TableData {
            split: vec![],
            contributions,
        },
        dims,
        1,
    )
    .unwrap()
}

pub fn index(t: &Table, codes: &[&str]) -> usize {
    let coords: Vec<u32> = codes
        .iter()
        .enumerate()
        .map(|(k, c)| t.dims[k].lookup(c).unwrap())
        .collect();
    t.find(t.key(&coords))
        .unwrap_or_else(|| panic!("no cell {codes:?}"))
}

/// A random hierarchy of leaves under groups under a root.
pub fn random_tree(rng: &mut impl Rng, name: &str) -> Arc<Hierarchy> {
    let mut text = format!("{name},\n");
    let groups = rng.gen_range(1..=3);
    for g in 0..groups {
        text.push_str(&format!("{name}{g},{name}\n"));
        for l in 0..rng.gen_range(1..=3) {
            text.push_str(&format!("{name}{g}_{l},{name}{g}\n"));
        }
    }
    tree(&text)
}

/// A random table of 2 or 3 random dimensions, with `leaves` detailed
/// records (one contributor each) valued by `value`.
pub fn random_table<R: Rng>(
    rng: &mut R,
    leaves: std::ops::Range<usize>,
    mut value: impl FnMut(&mut R) -> i64,
) -> Table {
    let dims: Vec<Arc<Hierarchy>> = (0..rng.gen_range(2..=3))
        .map(|k| random_tree(rng, &format!("d{k}")))
        .collect();
    let leaf_lists: Vec<Vec<String>> = dims
        .iter()
        .map(|h| {
            (0..h.len() as u32)
                .filter(|&n| h.is_leaf(n))
                .map(|n| h.code(n).to_string())
                .collect()
        })
        .collect();
    let mut records: Vec<(Vec<&str>, i64)> = Vec::new();
    for _ in 0..rng.gen_range(leaves) {
        let codes = leaf_lists
            .iter()
            .map(|l| l[rng.gen_range(0..l.len())].as_str())
            .collect();
        let v = value(rng);
        records.push((codes, v));
    }
    let refs: Vec<(&[&str], i64)> = records.iter().map(|(c, v)| (c.as_slice(), *v)).collect();
    table(&dims, &refs)
}
