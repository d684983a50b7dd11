//! Hierarchical tables: every cell, detailed or aggregate, with its value,
//! its number of contributors, its largest contributions and its status.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::hierarchy::{Hierarchy, NodeId};
use crate::read::MAX_DIMS;

/// Publication status of a cell (SPEC section 3, `cells.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Published,
    Primary,
    Secondary,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Published => "published",
            Status::Primary => "primary",
            Status::Secondary => "secondary",
        }
    }

    pub fn is_masked(self) -> bool {
        self != Status::Published
    }
}

/// Which primary rules a cell breaks (a small bit set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RuleSet(u8);

impl RuleSet {
    pub const FREQUENCY: RuleSet = RuleSet(1);
    pub const DOMINANCE: RuleSet = RuleSet(2);
    pub const P_PERCENT: RuleSet = RuleSet(4);
    const NAMES: [(RuleSet, &'static str); 3] = [
        (Self::FREQUENCY, "frequency"),
        (Self::DOMINANCE, "dominance"),
        (Self::P_PERCENT, "p-percent"),
    ];

    pub fn insert(&mut self, r: RuleSet) {
        self.0 |= r.0;
    }

    pub fn contains(self, r: RuleSet) -> bool {
        self.0 & r.0 == r.0 && r.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The rules broken, as written in `cells.csv` (`frequency+dominance`).
    pub fn names(self) -> String {
        Self::NAMES
            .iter()
            .filter(|(r, _)| self.contains(*r))
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join("+")
    }

    pub fn all() -> impl Iterator<Item = (RuleSet, &'static str)> {
        Self::NAMES.into_iter()
    }
}

/// One cell of a table. Values are fixed-point units (see [`crate::money`]).
#[derive(Debug, Clone)]
pub struct Cell {
    /// Mixed-radix code of the cell's coordinates (see [`Table::coords`]).
    pub key: u64,
    pub value: i64,
    /// Distinct contributors (or holdings, when the rules count holdings).
    pub contributors: u32,
    /// The largest contributions, largest first, as many as the rules need.
    pub top: SmallVec<[i64; 2]>,
    pub status: Status,
    pub rules: RuleSet,
    /// Protection levels in exact units: how far below and above its
    /// value an attacker's interval must reach.
    pub lower_protection: i64,
    pub upper_protection: i64,
    /// The attacker's interval, once audited.
    pub audit: Option<(f64, f64)>,
}

/// One table: a combination of split values and all its cells, sorted by
/// coordinates (each dimension in hierarchy preorder).
#[derive(Debug, Clone)]
pub struct Table {
    pub split: Vec<String>,
    pub dims: Vec<Arc<Hierarchy>>,
    strides: Vec<u64>,
    pub cells: Vec<Cell>,
    index: FxHashMap<u64, u32>,
}

/// Why a table cannot be indexed: too many coordinates for 64-bit keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge;

impl Table {
    /// Strides of the mixed-radix cell key for these dimensions.
    pub fn strides(dims: &[Arc<Hierarchy>]) -> Result<Vec<u64>, TooLarge> {
        let mut strides = vec![1u64; dims.len()];
        let mut acc: u128 = 1;
        for k in (0..dims.len()).rev() {
            strides[k] = acc as u64;
            acc *= dims[k].len() as u128;
            if acc > u64::MAX as u128 {
                return Err(TooLarge);
            }
        }
        Ok(strides)
    }

    /// Builds a table from cells (any order); they are sorted by key.
    pub fn new(
        split: Vec<String>,
        dims: Vec<Arc<Hierarchy>>,
        mut cells: Vec<Cell>,
    ) -> Result<Table, TooLarge> {
        let strides = Self::strides(&dims)?;
        cells.sort_unstable_by_key(|c| c.key);
        let index = cells
            .iter()
            .enumerate()
            .map(|(i, c)| (c.key, i as u32))
            .collect();
        Ok(Table {
            split,
            dims,
            strides,
            cells,
            index,
        })
    }

    pub fn key(&self, coords: &[NodeId]) -> u64 {
        coords
            .iter()
            .zip(&self.strides)
            .map(|(&n, &s)| n as u64 * s)
            .sum()
    }

    /// The node of each dimension of a cell key.
    pub fn coords(&self, key: u64) -> [NodeId; MAX_DIMS] {
        let mut out = [0; MAX_DIMS];
        let mut rest = key;
        for (k, &s) in self.strides.iter().enumerate() {
            out[k] = (rest / s) as NodeId;
            rest %= s;
        }
        out
    }

    /// Position of a cell in [`Table::cells`], if the cell exists.
    pub fn find(&self, key: u64) -> Option<usize> {
        self.index.get(&key).map(|&i| i as usize)
    }

    /// The codes of a cell, one per dimension.
    pub fn codes(&self, key: u64) -> Vec<&str> {
        let c = self.coords(key);
        self.dims
            .iter()
            .enumerate()
            .map(|(k, h)| h.code(c[k]))
            .collect()
    }

    pub fn stride(&self, dim: usize) -> u64 {
        self.strides[dim]
    }

    /// Counts of cells by status.
    pub fn count(&self, status: Status) -> usize {
        self.cells.iter().filter(|c| c.status == status).count()
    }

    /// The grand total (all dimensions at their root), if the table has data.
    pub fn total(&self) -> i64 {
        self.find(0).map_or(0, |i| self.cells[i].value)
    }
}
