//! Rules files (TOML): how to read records, the dimensions and their
//! hierarchies, primary rules, protection levels and the secondary method.
//!
//! Unknown keys are errors that name the key (SPEC section 3): a typo in a
//! confidentiality rule must never be silently ignored. Sections added by
//! later features are optional tables, so older files keep working.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::correspondence::{CodeList, Correspondence};
use crate::csv_input::Config;
use crate::error::{Error, Result};
use crate::hierarchy::Hierarchy;

/// The rule sets shipped in `rules/`, compiled into the binary so that
/// `demo` needs no file. Paths are relative to `rules/`.
const BUILTIN: &[(&str, &str)] = &[
    ("national.toml", include_str!("../rules/national.toml")),
    (
        "drom-imports.toml",
        include_str!("../rules/drom-imports.toml"),
    ),
    (
        "drom-exports.toml",
        include_str!("../rules/drom-exports.toml"),
    ),
    ("regional.toml", include_str!("../rules/regional.toml")),
    (
        "regional-cpf4.toml",
        include_str!("../rules/regional-cpf4.toml"),
    ),
    (
        "hierarchies/products_na.csv",
        include_str!("../rules/hierarchies/products_na.csv"),
    ),
    (
        "hierarchies/partners.csv",
        include_str!("../rules/hierarchies/partners.csv"),
    ),
    (
        "hierarchies/departments.csv",
        include_str!("../rules/hierarchies/departments.csv"),
    ),
    (
        "codes/cn8_2025.txt",
        include_str!("../rules/codes/cn8_2025.txt"),
    ),
];

/// Text of a built-in file of `rules/`, by relative path.
pub fn builtin_file(rel: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(p, _)| *p == rel).map(|(_, t)| *t)
}

// ---------------------------------------------------------------- file form

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    name: Option<String>,
    #[serde(default)]
    description: String,
    input: InputFile,
    #[serde(rename = "dimension")]
    dimensions: Vec<DimensionFile>,
    #[serde(default)]
    primary: PrimaryFile,
    #[serde(default)]
    protection: ProtectionFile,
    #[serde(default)]
    secondary: SecondaryFile,
    regroup: Option<RegroupFile>,
    #[serde(default)]
    exclude: Vec<TreatmentFile>,
    #[serde(default)]
    mirror: Vec<TreatmentFile>,
    #[serde(default)]
    recode: Vec<TreatmentFile>,
}

/// A rule-set specific treatment of records (`[[exclude]]`, `[[mirror]]`,
/// `[[recode]]`): rows matching `when` (column -> accepted values) and the
/// optional year-like bounds `since` / `until` (column -> integer,
/// inclusive) are left out, copied with `set` applied, or changed by `set`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TreatmentFile {
    name: String,
    when: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    since: BTreeMap<String, i64>,
    #[serde(default)]
    until: BTreeMap<String, i64>,
    #[serde(default)]
    set: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    contributor: Option<String>,
    /// Cells instead of records: the column of each cell's contributor count.
    frequency: Option<String>,
    /// With `frequency`: the columns of each cell's largest contributions.
    #[serde(default)]
    top: Vec<String>,
    value: String,
    #[serde(default = "default_decimals")]
    decimals: u32,
    holding: Option<String>,
    #[serde(default)]
    split: Vec<String>,
    #[serde(default)]
    keep: BTreeMap<String, Vec<String>>,
    encoding: Option<String>,
    rda: Option<String>,
}

fn default_decimals() -> u32 {
    2
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DimensionFile {
    name: String,
    column: Option<String>,
    prefix: Option<Vec<usize>>,
    file: Option<String>,
    hrc: Option<String>,
    #[serde(default)]
    flat: bool,
    root: Option<String>,
    #[serde(default)]
    truncate: bool,
    /// Records carry codes below the published leaves: the file tree is
    /// cut at the nodes of this level (its `level` column).
    cut: Option<String>,
    /// Records carry codes mapped to the published leaves by this CSV
    /// file (`record code,leaf code`, with a header).
    correspondence: Option<String>,
    /// Write a `<name>_label` column beside the codes in the outputs.
    #[serde(default)]
    labels: bool,
    /// The valid record codes, one a line: any other is an input error.
    codes: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrimaryFile {
    #[serde(default = "default_min_contributors")]
    min_contributors: u32,
    #[serde(default = "default_dominance")]
    dominance: Vec<DominanceRule>,
    p_percent: Option<f64>,
}

impl Default for PrimaryFile {
    fn default() -> Self {
        PrimaryFile {
            min_contributors: default_min_contributors(),
            dominance: default_dominance(),
            p_percent: None,
        }
    }
}

fn default_min_contributors() -> u32 {
    3
}

fn default_dominance() -> Vec<DominanceRule> {
    vec![DominanceRule { n: 1, k: 85.0 }]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtectionFile {
    #[serde(default = "default_safety_range")]
    safety_range: f64,
    #[serde(default = "default_lower_factor")]
    lower_factor: f64,
}

impl Default for ProtectionFile {
    fn default() -> Self {
        ProtectionFile {
            safety_range: default_safety_range(),
            lower_factor: default_lower_factor(),
        }
    }
}

fn default_safety_range() -> f64 {
    10.0
}

fn default_lower_factor() -> f64 {
    1.0
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecondaryFile {
    #[serde(default)]
    method: Method,
    #[serde(default)]
    cost: Cost,
    time_limit: Option<f64>,
    /// Tables up to this many cells go to `optimal` under `auto`.
    auto_optimal_max_cells: Option<usize>,
    #[serde(default)]
    publish: Vec<Selector>,
    #[serde(default)]
    mask: Vec<Selector>,
    /// A CSV of cells to force: dimension columns and `status`.
    force_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegroupFile {
    dimension: String,
    levels: Vec<usize>,
    unit: usize,
    residual: Option<String>,
    partner: Option<PartnerFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerFile {
    dimension: String,
    codes: Vec<String>,
}

/// Cells chosen by their codes: dimension name -> code, or `*` for every
/// code of that dimension; a dimension left out stands for its root (the
/// total), so an empty selector `{}` is the grand total.
pub type Selector = BTreeMap<String, String>;

// ---------------------------------------------------------------- resolved form

/// A rules file, validated, with its hierarchy files loaded.
#[derive(Debug, Clone)]
pub struct Rules {
    pub name: String,
    pub description: String,
    pub input: InputRules,
    pub dimensions: Vec<Dimension>,
    pub primary: PrimaryRules,
    pub protection: ProtectionRules,
    pub secondary: SecondaryRules,
    /// Treatment 1 (SPEC section 6); `None` when the rules have no plan.
    pub regroup: Option<RegroupPlan>,
    /// Record treatments (SPEC section 6), in the order they apply:
    /// recodes, then mirrors, then exclusions.
    pub treatments: Vec<Treatment>,
}

/// What a [`Treatment`] does to a matching record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TreatmentKind {
    /// Its columns are changed (`set`), e.g. energy flows to Paris.
    Recode,
    /// A copy with `set` applied is added, e.g. Interdom dispatches as
    /// imports of the receiving territory (same value, same contributor).
    Mirror,
    /// It is left out, e.g. Guyane's space products.
    Exclude,
}

/// A rule-set specific treatment of records, applied while reading.
#[derive(Debug, Clone)]
pub struct Treatment {
    pub name: String,
    pub kind: TreatmentKind,
    /// Column -> accepted values (all must hold).
    pub when: Vec<(String, Vec<String>)>,
    /// Column -> lowest accepted integer (a year), inclusive.
    pub since: Vec<(String, i64)>,
    /// Column -> highest accepted integer, inclusive.
    pub until: Vec<(String, i64)>,
    /// Column -> new value (recode and mirror).
    pub set: Vec<(String, String)>,
}

/// Which columns of the records hold what.
#[derive(Debug, Clone)]
pub struct InputRules {
    /// The contributor's column (records; empty when the input is cells).
    pub contributor: String,
    /// When set, the input is a table given cell by cell, not records
    /// (see [`crate::tabular`]).
    pub cells: Option<CellColumns>,
    pub value: String,
    /// Fixed-point scale of values: amounts are integers of `10^-decimals`.
    pub decimals: u32,
    /// When set, the rules count holdings (groups of contributors) instead of contributors.
    pub holding: Option<String>,
    /// Each distinct combination of these columns is a separate table.
    pub split: Vec<String>,
    /// Only rows whose column holds one of the listed values are used.
    pub keep: BTreeMap<String, Vec<String>>,
    /// The input's character encoding, records or cells, τ-ARGUS data
    /// files included (`encoding` in the rules; UTF-8 unless said, e.g.
    /// `windows-1252` for customs extracts).
    pub encoding: &'static encoding_rs::Encoding,
    /// τ-ARGUS metadata (`rda` in the rules): records are then a τ-ARGUS
    /// data file (`.asc`, fixed width or separated) read through it.
    pub rda: Option<Arc<crate::tau::Rda>>,
}

/// The columns of a file of cells (`frequency` and `top` under `[input]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellColumns {
    /// Each cell's number of contributors.
    pub frequency: String,
    /// Each cell's largest contributions (τ-ARGUS's `<MAXSCORE>` fields).
    pub top: Vec<String>,
}

/// One classification of the table and where its tree comes from.
#[derive(Debug, Clone)]
pub struct Dimension {
    pub name: String,
    pub column: String,
    pub source: HierarchySource,
    /// How record codes finer than the leaves are counted (`cut` or
    /// `correspondence` in the rules).
    pub through: Option<Arc<Correspondence>>,
    /// Whether outputs carry a `<name>_label` column.
    pub labels: bool,
    /// The valid record codes (`codes` in the rules), when listed.
    pub valid: Option<Arc<CodeList>>,
}

/// The four kinds of SPEC section 3. Prefix and flat trees are built from the
/// codes the records carry; file trees are loaded with the rules.
#[derive(Debug, Clone)]
pub enum HierarchySource {
    Prefix {
        levels: Vec<usize>,
        root: String,
        truncate: bool,
    },
    Known(Arc<Hierarchy>),
    Flat {
        root: String,
    },
}

impl HierarchySource {
    /// The dimension's tree: a known one as it is; a prefix or flat one
    /// built from the detailed codes seen (`src` names it in messages).
    pub fn tree<'a>(
        &self,
        src: &Path,
        leaves: impl IntoIterator<Item = &'a str>,
    ) -> Result<Arc<Hierarchy>> {
        Ok(match self {
            HierarchySource::Known(h) => h.clone(),
            HierarchySource::Prefix { levels, root, .. } => {
                Arc::new(Hierarchy::from_prefix(src, leaves, levels, root)?)
            }
            HierarchySource::Flat { root } => Arc::new(Hierarchy::flat(src, leaves, root)?),
        })
    }
}

/// A dominance rule: a cell is secret when its `n` largest contributions
/// hold at least `k` percent of its value.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DominanceRule {
    pub n: usize,
    pub k: f64,
}

#[derive(Debug, Clone)]
pub struct PrimaryRules {
    /// Frequency rule: a cell with fewer distinct contributors is secret (0 = off).
    pub min_contributors: u32,
    pub dominance: Vec<DominanceRule>,
    pub p_percent: Option<f64>,
}

impl PrimaryRules {
    /// The customs rules of SPEC section 4: fewer than 3 contributors, or
    /// one holding at least 85% of the value.
    pub fn customs() -> PrimaryRules {
        PrimaryRules {
            min_contributors: default_min_contributors(),
            dominance: default_dominance(),
            p_percent: None,
        }
    }

    /// How many of the largest contributions per cell the rules need.
    pub fn top_needed(&self) -> usize {
        let n = self.dominance.iter().map(|d| d.n).max().unwrap_or(0);
        let p = if self.p_percent.is_some() { 2 } else { 0 };
        n.max(p).max(1)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ProtectionRules {
    /// Frequency rule safety range `s`, in percent of the cell value.
    pub safety_range: f64,
    /// Lower protection = `lower_factor` x upper protection (never above the value).
    pub lower_factor: f64,
}

impl ProtectionRules {
    /// The customs levels: 10% safety range, lower level equal to the upper.
    pub fn customs() -> ProtectionRules {
        ProtectionRules {
            safety_range: default_safety_range(),
            lower_factor: default_lower_factor(),
        }
    }
}

/// Secondary suppression method (SPEC section 2, `--method`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    #[default]
    Auto,
    Optimal,
    Fast,
}

/// What a masked cell costs (information loss) in secondary suppression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cost {
    #[default]
    Value,
    Unity,
    Contributors,
    LogValue,
}

#[derive(Debug, Clone)]
pub struct SecondaryRules {
    pub method: Method,
    pub cost: Cost,
    /// Seconds the `optimal` method may spend on one table.
    pub time_limit: Option<f64>,
    /// Tables up to this many cells go to `optimal` under `auto` (with its
    /// node and round budget), bigger ones to `fast`.
    pub auto_optimal_max_cells: usize,
    /// Cells that must stay published (secondary suppression never picks them).
    pub publish: Vec<Selector>,
    /// Cells that must be masked whatever their value.
    pub mask: Vec<Selector>,
}

/// The regrouping plan (`[regroup]`): which codes may be published at a
/// coarser level, within which unit the choice is made, and where secret
/// codes may be merged.
#[derive(Debug, Clone)]
pub struct RegroupPlan {
    /// Index of the regrouped dimension (a prefix hierarchy).
    pub dim: usize,
    /// Code lengths that may be published, finest first (for example
    /// `[8, 6, 4]`: NC8, SH6, SH4).
    pub levels: Vec<usize>,
    /// Code length of the unit within which the choice is made (4: the SH4
    /// heading). The unit may be published whole only when it is a level.
    pub unit: usize,
    /// Marker of residual codes: secret codes of a parent may be merged
    /// into the parent's code followed by this marker repeated up to the
    /// finest length (`870321XX`). `None`: no residual codes.
    pub residual: Option<char>,
    /// Partner residuals (the undetermined country, QU).
    pub partner: Option<PartnerPlan>,
}

/// Secret partners of a published product code may be moved into a residual
/// partner code that is their sibling (same parent), so that every
/// published aggregate of the partner dimension keeps its value.
#[derive(Debug, Clone)]
pub struct PartnerPlan {
    pub dim: usize,
    pub codes: Vec<String>,
}

impl RegroupPlan {
    /// Code lengths strictly between the unit and the finest level that may
    /// be published, finest first: the intermediate groupings (SH6).
    pub fn intermediate(&self) -> Vec<usize> {
        self.levels
            .iter()
            .copied()
            .filter(|&l| l > self.unit && l < self.levels[0])
            .collect()
    }

    /// Whether a unit may be published alone, without its detail.
    pub fn whole_unit(&self) -> bool {
        self.levels.contains(&self.unit)
    }

    /// The residual code of a parent code: `8703` -> `8703XXXX`.
    pub fn residual_code(&self, parent: &str) -> Option<String> {
        let m = self.residual?;
        let mut code = parent.to_string();
        while code.chars().count() < self.levels[0] {
            code.push(m);
        }
        Some(code)
    }
}

impl Rules {
    /// Loads a rules file; hierarchy files are resolved against its folder.
    pub fn load(path: &Path) -> Result<Rules> {
        // A bare name that is no file: a shipped rule set (`--rules regional`).
        if !path.exists() {
            if let Some(name) = path.to_str().filter(|n| !n.contains(['/', '\\'])) {
                let file = if name.ends_with(".toml") {
                    name.to_string()
                } else {
                    format!("{name}.toml")
                };
                if builtin_file(&file).is_some() {
                    return Self::builtin(&file);
                }
                let shipped: Vec<&str> = BUILTIN
                    .iter()
                    .filter_map(|(f, _)| f.strip_suffix(".toml"))
                    .collect();
                return Err(Error::usage(format!(
                    "rules '{name}': no such file, nor a shipped rule set ({})",
                    shipped.join(", ")
                )));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_text(path, &text, path.parent().unwrap_or(Path::new("")))
    }

    /// Parses rules held in memory (named `shown` in messages); hierarchy
    /// files are resolved against `base` (the Python package's rules dicts).
    pub fn from_text(shown: &Path, text: &str, base: &Path) -> Result<Rules> {
        Self::parse(shown, text, &|rel| {
            let p = base.join(rel);
            let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
            Ok((p, text))
        })
    }

    /// One of the rule sets shipped in `rules/`, from the binary itself.
    pub fn builtin(file_name: &str) -> Result<Rules> {
        let text = builtin_file(file_name)
            .ok_or_else(|| Error::usage(format!("no built-in rules '{file_name}'")))?;
        let shown = Path::new("rules").join(file_name);
        Self::parse(&shown, text, &|rel| {
            let p = Path::new("rules").join(rel);
            builtin_file(rel)
                .map(|t| (p.clone(), t.to_string()))
                .ok_or_else(|| Error::io(&p, std::io::Error::from(std::io::ErrorKind::NotFound)))
        })
    }

    fn parse(
        path: &Path,
        text: &str,
        open: &dyn Fn(&str) -> Result<(PathBuf, String)>,
    ) -> Result<Rules> {
        let bad = |msg: String| Error::at(path, None, msg);
        let f: RulesFile = toml::from_str(text).map_err(|e| {
            // The line the span starts on (the offending key's own).
            let line = e
                .span()
                .map(|s| text[..s.start].matches('\n').count() as u64 + 1);
            Error::at(path, line, e.message().to_string())
        })?;
        if f.dimensions.is_empty() {
            return Err(bad("at least one [[dimension]] is needed".into()));
        }
        let rda = match &f.input.rda {
            None => None,
            Some(rel) => {
                let (p, text) = open(rel)?;
                let rda = crate::tau::Rda::parse(&text)
                    .map_err(|(line, m)| Error::at(&p, Some(line as u64), m))?;
                Some(Arc::new(rda))
            }
        };
        let encoding = match &f.input.encoding {
            None => encoding_rs::UTF_8,
            Some(label) => encoding_rs::Encoding::for_label(label.trim().as_bytes())
                .filter(|e| e.output_encoding() == *e)
                .ok_or_else(|| {
                    bad(format!(
                        "[input] encoding = {label:?} is not an encoding cellmask reads \
                         (utf-8, windows-1252, iso-8859-15, ...)"
                    ))
                })?,
        };
        let mut dimensions = Vec::new();
        for d in f.dimensions {
            let column = d.column.clone().unwrap_or_else(|| d.name.clone());
            let kinds = d.prefix.is_some() as u8
                + d.file.is_some() as u8
                + d.hrc.is_some() as u8
                + d.flat as u8;
            if kinds != 1 {
                return Err(bad(format!(
                    "dimension '{}': give exactly one of prefix, file, hrc, flat",
                    d.name
                )));
            }
            if d.truncate && d.prefix.is_none() {
                return Err(bad(format!(
                    "dimension '{}': truncate needs a prefix hierarchy",
                    d.name
                )));
            }
            if (d.cut.is_some() || d.correspondence.is_some())
                && d.file.is_none()
                && d.hrc.is_none()
            {
                return Err(bad(format!(
                    "dimension '{}': cut and correspondence need a file or hrc hierarchy",
                    d.name
                )));
            }
            if d.cut.is_some() && d.correspondence.is_some() {
                return Err(bad(format!(
                    "dimension '{}': give cut or correspondence, not both",
                    d.name
                )));
            }
            if d.cut.is_some() && d.file.is_none() {
                return Err(bad(format!(
                    "dimension '{}': cut needs a file hierarchy with a level column",
                    d.name
                )));
            }
            let mut through = None;
            let root = d.root.clone();
            let need_root = || {
                root.clone()
                    .ok_or_else(|| bad(format!("dimension '{}': root is required", d.name)))
            };
            let source = if let Some(levels) = d.prefix {
                if levels.is_empty() || levels[0] == 0 || levels.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(bad(format!(
                        "dimension '{}': prefix lengths must be positive and increasing",
                        d.name
                    )));
                }
                HierarchySource::Prefix {
                    levels,
                    root: need_root()?,
                    truncate: d.truncate,
                }
            } else if let Some(rel) = d.file {
                if root.is_some() {
                    return Err(bad(format!(
                        "dimension '{}': a file hierarchy names its own root",
                        d.name
                    )));
                }
                let (p, text) = open(&rel)?;
                let tree = match &d.cut {
                    Some(level) => {
                        let (tree, pairs) = Hierarchy::from_csv_text_cut(&p, &text, level)?;
                        through = Some(Arc::new(Correspondence::from_pairs(&p, &tree, pairs)?));
                        tree
                    }
                    None => Hierarchy::from_csv_text(&p, &text)?,
                };
                HierarchySource::Known(Arc::new(tree))
            } else if let Some(rel) = d.hrc {
                let (p, text) = open(&rel)?;
                HierarchySource::Known(Arc::new(Hierarchy::from_hrc_text(
                    &p,
                    &text,
                    &need_root()?,
                )?))
            } else {
                HierarchySource::Flat { root: need_root()? }
            };
            if let (Some(rel), HierarchySource::Known(tree)) = (&d.correspondence, &source) {
                let (p, text) = open(rel)?;
                through = Some(Arc::new(Correspondence::from_csv_text(&p, &text, tree)?));
            }
            let valid = match &d.codes {
                Some(rel) => {
                    let (p, text) = open(rel)?;
                    Some(Arc::new(CodeList::from_text(&p, &text)?))
                }
                None => None,
            };
            dimensions.push(Dimension {
                name: d.name,
                column,
                source,
                through,
                labels: d.labels,
                valid,
            });
        }
        let mut names: Vec<&str> = dimensions.iter().map(|d| d.name.as_str()).collect();
        names.extend(f.input.split.iter().map(|s| s.as_str()));
        let mut sorted = names.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad(format!(
                "'{}' is named twice among dimensions and split variables",
                w[0]
            )));
        }
        for (i, r) in f.primary.dominance.iter().enumerate() {
            if r.n == 0 || !(r.k > 0.0 && r.k <= 100.0) {
                return Err(bad(format!(
                    "primary.dominance[{i}]: need n >= 1 and 0 < k <= 100"
                )));
            }
        }
        if let Some(p) = f.primary.p_percent {
            if !(p > 0.0 && p <= 100.0) {
                return Err(bad("primary.p_percent must be in (0, 100]".into()));
            }
        }
        for (what, list) in [
            ("publish", &f.secondary.publish),
            ("mask", &f.secondary.mask),
        ] {
            for sel in list {
                if let Some(k) = sel
                    .keys()
                    .find(|k| !dimensions.iter().any(|d| &d.name == *k))
                {
                    return Err(bad(format!(
                        "secondary.{what}: '{k}' is not a dimension name"
                    )));
                }
            }
        }
        let (mut publish, mut mask) = (f.secondary.publish, f.secondary.mask);
        if let Some(rel) = &f.secondary.force_file {
            let (p, text) = open(rel)?;
            let names: Vec<&str> = dimensions.iter().map(|d| d.name.as_str()).collect();
            for (sel, status) in force_file(&p, &text, &names)? {
                if status == "published" {
                    publish.push(sel);
                } else {
                    mask.push(sel);
                }
            }
        }
        if let Some(t) = f.secondary.time_limit {
            if t.is_nan() || t <= 0.0 {
                return Err(bad("secondary.time_limit must be positive".into()));
            }
        }
        let (s, l) = (f.protection.safety_range, f.protection.lower_factor);
        if s.is_nan() || s < 0.0 || l.is_nan() || l < 0.0 {
            return Err(bad("protection levels must be >= 0".into()));
        }
        if f.input.decimals > 6 {
            return Err(bad("input.decimals must be at most 6".into()));
        }
        let regroup = f
            .regroup
            .map(|r| regroup_plan(r, &dimensions))
            .transpose()
            .map_err(bad)?;
        let mut treatments = Vec::new();
        for (kind, list) in [
            (TreatmentKind::Recode, f.recode),
            (TreatmentKind::Mirror, f.mirror),
            (TreatmentKind::Exclude, f.exclude),
        ] {
            for t in list {
                let what = format!("{kind:?}").to_lowercase();
                if t.when.is_empty() {
                    return Err(bad(format!("{what} '{}': 'when' names no column", t.name)));
                }
                if (kind == TreatmentKind::Exclude) != t.set.is_empty() {
                    return Err(bad(format!(
                        "{what} '{}': {}",
                        t.name,
                        if kind == TreatmentKind::Exclude {
                            "an exclusion takes no 'set'"
                        } else {
                            "'set' must give the new values"
                        }
                    )));
                }
                treatments.push(Treatment {
                    name: t.name,
                    kind,
                    when: t.when.into_iter().collect(),
                    since: t.since.into_iter().collect(),
                    until: t.until.into_iter().collect(),
                    set: t.set.into_iter().collect(),
                });
            }
        }
        let cells = match (&f.input.contributor, &f.input.frequency) {
            (Some(_), None) if !f.input.top.is_empty() => {
                return Err(bad(
                    "input.top goes with input.frequency (a file of cells)".into()
                ))
            }
            (Some(_), None) => None,
            (None, Some(frequency)) => {
                let needed = PrimaryRules {
                    min_contributors: f.primary.min_contributors,
                    dominance: f.primary.dominance.clone(),
                    p_percent: f.primary.p_percent,
                }
                .top_needed();
                let why = if f.input.holding.is_some() {
                    Some("input.holding: a file of cells has no contributors to group".to_string())
                } else if regroup.is_some() || !treatments.is_empty() {
                    Some("[regroup] and record treatments need records, not a file of cells".into())
                } else if f.input.top.len() < needed {
                    Some(format!(
                        "the primary rules need each cell's {needed} largest contribution(s): \
                         input.top names {} column(s)",
                        f.input.top.len()
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    return Err(bad(why));
                }
                Some(CellColumns {
                    frequency: frequency.clone(),
                    top: f.input.top.clone(),
                })
            }
            (Some(_), Some(_)) => {
                return Err(bad(
                    "input.contributor (records) or input.frequency (a file of cells), not both"
                        .into(),
                ))
            }
            (None, None) => {
                return Err(bad(
                    "input.contributor is missing (the records' contributor column; or \
                     input.frequency for a file of cells)"
                        .into(),
                ))
            }
        };
        let name = f.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Ok(Rules {
            name,
            description: f.description,
            input: InputRules {
                contributor: f.input.contributor.unwrap_or_default(),
                cells,
                value: f.input.value,
                decimals: f.input.decimals,
                holding: f.input.holding,
                split: f.input.split,
                keep: f.input.keep,
                encoding,
                rda,
            },
            dimensions,
            primary: PrimaryRules {
                min_contributors: f.primary.min_contributors,
                dominance: f.primary.dominance,
                p_percent: f.primary.p_percent,
            },
            protection: ProtectionRules {
                safety_range: f.protection.safety_range,
                lower_factor: f.protection.lower_factor,
            },
            secondary: SecondaryRules {
                method: f.secondary.method,
                cost: f.secondary.cost,
                time_limit: f.secondary.time_limit,
                auto_optimal_max_cells: f
                    .secondary
                    .auto_optimal_max_cells
                    .unwrap_or(crate::secondary::AUTO_MAX_CELLS),
                publish,
                mask,
            },
            regroup,
            treatments,
        })
    }

    /// Parses rules from text; hierarchy files are looked up with `open`.
    #[doc(hidden)]
    pub fn from_str_with(
        path: &Path,
        text: &str,
        open: &dyn Fn(&str) -> Result<(PathBuf, String)>,
    ) -> Result<Rules> {
        Self::parse(path, text, open)
    }
}

/// Validates a `[regroup]` section against the dimensions.
fn regroup_plan(r: RegroupFile, dims: &[Dimension]) -> std::result::Result<RegroupPlan, String> {
    let find = |name: &str| {
        dims.iter()
            .position(|d| d.name == name)
            .ok_or_else(|| format!("regroup: '{name}' is not a dimension name"))
    };
    let dim = find(&r.dimension)?;
    let HierarchySource::Prefix { levels: tree, .. } = &dims[dim].source else {
        return Err(format!(
            "regroup: dimension '{}' needs a prefix hierarchy (codes structured by length)",
            r.dimension
        ));
    };
    let finest = *tree.last().expect("prefix levels");
    if r.levels.is_empty() || r.levels.windows(2).any(|w| w[0] <= w[1]) {
        return Err("regroup.levels: code lengths, finest first, strictly decreasing".into());
    }
    if r.levels[0] != finest {
        return Err(format!(
            "regroup.levels must start with the finest code length of '{}' ({finest})",
            r.dimension
        ));
    }
    if !tree.contains(&r.unit) || r.unit >= finest {
        return Err(format!(
            "regroup.unit must be a coarser level of '{}' (one of {:?})",
            r.dimension,
            &tree[..tree.len() - 1]
        ));
    }
    if let Some(l) = r.levels.iter().find(|&&l| l < r.unit) {
        return Err(format!(
            "regroup.levels: {l} is coarser than the unit ({})",
            r.unit
        ));
    }
    let residual = match r.residual.as_deref() {
        None => None,
        Some(m) => {
            let mut chars = m.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_ascii_digit() && c != ',' && !c.is_whitespace() => Some(c),
                _ => {
                    return Err(format!(
                        "regroup.residual must be one character that is not a digit, not '{m}'"
                    ))
                }
            }
        }
    };
    let partner = match r.partner {
        None => None,
        Some(p) => {
            let pdim = find(&p.dimension)?;
            if pdim == dim {
                return Err("regroup.partner: a dimension other than the regrouped one".into());
            }
            let HierarchySource::Known(h) = &dims[pdim].source else {
                return Err(format!(
                    "regroup.partner: dimension '{}' needs a file or hrc hierarchy",
                    p.dimension
                ));
            };
            if p.codes.is_empty() {
                return Err("regroup.partner.codes: give at least one residual code".into());
            }
            for c in &p.codes {
                match h.lookup(c) {
                    Some(n) if h.is_leaf(n) && n != h.root() => {}
                    _ => {
                        return Err(format!(
                            "regroup.partner.codes: '{c}' is not a detailed code of '{}'",
                            p.dimension
                        ))
                    }
                }
            }
            Some(PartnerPlan {
                dim: pdim,
                codes: p.codes,
            })
        }
    };
    Ok(RegroupPlan {
        dim,
        levels: r.levels,
        unit: r.unit,
        residual,
        partner,
    })
}

/// Reads a force file: a header naming dimensions (any subset) and
/// `status`, then one selector per row with `published` or `masked`.
fn force_file(path: &Path, text: &str, dims: &[&str]) -> Result<Vec<(Selector, String)>> {
    let mut rdr = Config::new().trim().text(text);
    let header = rdr
        .headers()
        .map_err(|e| Error::at(path, Some(1), e.to_string()))?
        .clone();
    let status_col = header
        .iter()
        .position(|h| h == "status")
        .ok_or_else(|| Error::at(path, Some(1), "no 'status' column"))?;
    if let Some(h) = header
        .iter()
        .enumerate()
        .find(|&(i, h)| i != status_col && !dims.contains(&h))
    {
        return Err(Error::at(
            path,
            Some(1),
            format!("'{}' is not a dimension name", h.1),
        ));
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::at(path, None, e.to_string()))?;
        let line = rec.position().map(|p| p.line());
        let status = rec.get(status_col).unwrap_or("").to_string();
        if status != "published" && status != "masked" {
            return Err(Error::at(
                path,
                line,
                format!("status must be 'published' or 'masked', not '{status}'"),
            ));
        }
        let sel: Selector = header
            .iter()
            .zip(rec.iter())
            .enumerate()
            .filter(|&(i, (_, v))| i != status_col && !v.is_empty())
            .map(|(_, (h, v))| (h.to_string(), v.to_string()))
            .collect();
        out.push((sel, status));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Rules> {
        Rules::from_str_with(Path::new("r.toml"), text, &|rel| {
            Ok((PathBuf::from(rel), "W,\nA,W\n".into()))
        })
    }

    const MIN: &str =
        "[input]\ncontributor='op'\nvalue='v'\n[[dimension]]\nname='p'\nprefix=[2,4]\nroot='T'\n";

    #[test]
    fn defaults_are_the_customs_rules() {
        let r = parse(MIN).unwrap();
        assert_eq!(r.primary.min_contributors, 3);
        assert_eq!(r.primary.dominance, vec![DominanceRule { n: 1, k: 85.0 }]);
        assert_eq!(r.protection.safety_range, 10.0);
        assert_eq!(r.input.decimals, 2);
        assert_eq!(r.dimensions[0].column, "p");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse(&format!("{MIN}[primary]\nmin_contributor = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("min_contributor"), "{e}");
        assert!(e.starts_with("r.toml:"), "{e}");
        let e = parse(&format!("{MIN}colour = 1\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn dimension_needs_one_kind() {
        let e = parse("[input]\ncontributor='op'\nvalue='v'\n[[dimension]]\nname='p'\nflat=true\nprefix=[2]\nroot='T'\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("exactly one"), "{e}");
    }

    #[test]
    fn builtin_rule_sets_load() {
        for f in [
            "national.toml",
            "drom-imports.toml",
            "drom-exports.toml",
            "regional.toml",
        ] {
            Rules::builtin(f).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }
}
