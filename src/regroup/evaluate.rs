//! What one way of publishing a unit would give: its cells with their
//! distinct contributors, the primary secrets left, the partner moves into
//! residual partner codes, and the loss that ranks the candidates.
//!
//! A candidate is evaluated on a small table of its own: the unit as root of
//! the regrouped dimension with the candidate's blocks as children, crossed
//! with the other dimensions. Cells are aggregated from the contributions
//! (so a merged cell counts the distinct contributors of the union, never a
//! sum of counts) and the primary rules are applied as in the full table.

use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::aggregate::aggregate;
use crate::hierarchy::{Edge, Hierarchy, NodeId};
use crate::primary;
use crate::read::{Contribution, TableData};
use crate::rules::{PrimaryRules, ProtectionRules, RegroupPlan};
use crate::table::{Status, Table};

/// A published code of the regrouped dimension and the detailed codes it
/// covers (node ids of the original hierarchy, ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub code: String,
    pub leaves: Vec<NodeId>,
}

impl Block {
    /// Whether the block merges several detailed codes (detail is lost).
    pub fn merged(&self) -> bool {
        self.leaves.len() > 1
    }
}

/// Everything an evaluation needs besides the candidate.
pub struct Context<'a> {
    pub dims: &'a [Arc<Hierarchy>],
    pub plan: &'a RegroupPlan,
    pub rules: &'a PrimaryRules,
    pub prot: &'a ProtectionRules,
    /// How many largest contributions the rules need.
    pub top: usize,
    /// For each node of the partner dimension, the residual partner code it
    /// may be moved into (its sibling), if any.
    pub partner_residual: Vec<Option<NodeId>>,
}

impl<'a> Context<'a> {
    pub fn new(
        dims: &'a [Arc<Hierarchy>],
        plan: &'a RegroupPlan,
        rules: &'a PrimaryRules,
        prot: &'a ProtectionRules,
    ) -> Context<'a> {
        let partner_residual = match &plan.partner {
            None => Vec::new(),
            Some(p) => {
                let h = &dims[p.dim];
                let mut out = vec![None; h.len()];
                for code in &p.codes {
                    let Some(r) = h.lookup(code) else { continue };
                    let Some(parent) = h.parent(r) else { continue };
                    for &sib in h.children(parent) {
                        if sib != r && h.is_leaf(sib) && out[sib as usize].is_none() {
                            out[sib as usize] = Some(r);
                        }
                    }
                }
                out
            }
        };
        Context {
            dims,
            plan,
            rules,
            prot,
            top: rules.top_needed(),
            partner_residual,
        }
    }
}

/// A move of a secret partner of one block into a residual partner code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Move {
    pub block: usize,
    pub from: NodeId,
    pub to: NodeId,
}

/// The outcome of publishing a unit one way.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Detail lost plus masked value plus the estimated complements (see
    /// [`loss`]), in value units.
    pub loss: i128,
    /// Primary cells left in the unit's small table.
    pub primaries: usize,
    /// Per block: primary cells left among its cells.
    pub block_primaries: Vec<usize>,
    /// Per block: whether its cell at the totals of the other dimensions is
    /// a primary secret.
    pub margin_secret: Vec<bool>,
    pub moves: Vec<Move>,
}

/// What each detailed code of a unit would publish at its finest: for each
/// (detailed code, cell of the other dimensions), the value when the cell
/// is not a primary secret. Merging such a cell loses that detail; merging
/// a secret one loses nothing that could have been published.
#[derive(Debug, Default)]
pub struct Detail(FxHashMap<(NodeId, u64), i64>);

/// The publishable detail of a unit's codes (no partner moves: the
/// reference is the table as the records give it).
pub fn detail(ctx: &Context, contribs: &[Contribution], leaves: &[NodeId]) -> Detail {
    let dim = ctx.plan.dim;
    let blocks: Vec<Block> = leaves
        .iter()
        .map(|&l| Block {
            code: String::new(),
            leaves: vec![l],
        })
        .collect();
    let (data, dims) = small_data(ctx, contribs, &blocks);
    let table = small_table(ctx, &data, &dims);
    let mut out = FxHashMap::default();
    for cell in &table.cells {
        let coords = table.coords(cell.key);
        let p = coords[dim] as usize;
        if p > 0 && cell.status != Status::Primary {
            out.insert((leaves[p - 1], other_key(ctx, &coords)), cell.value);
        }
    }
    Detail(out)
}

/// A cell's coordinates on the dimensions other than the regrouped one, as
/// one number that does not depend on the regrouped dimension's tree.
fn other_key(ctx: &Context, coords: &[NodeId]) -> u64 {
    let mut key = 0u64;
    for (k, h) in ctx.dims.iter().enumerate() {
        if k != ctx.plan.dim {
            key = key * h.len() as u64 + coords[k] as u64;
        }
    }
    key
}

/// The small table's records (leaves replaced by block ids `1..=n`) and trees.
fn small_data(
    ctx: &Context,
    contribs: &[Contribution],
    blocks: &[Block],
) -> (TableData, Vec<Arc<Hierarchy>>) {
    let dim = ctx.plan.dim;
    let mut block_of: FxHashMap<NodeId, NodeId> = FxHashMap::default();
    for (b, block) in blocks.iter().enumerate() {
        for &l in &block.leaves {
            block_of.insert(l, b as NodeId + 1);
        }
    }
    let mut dims = ctx.dims.to_vec();
    dims[dim] = Arc::new(block_tree(blocks.len()));
    let data = TableData {
        split: Vec::new(),
        contributions: contribs
            .iter()
            .filter_map(|c| {
                let b = *block_of.get(&c.leaf[dim])?;
                let mut c = *c;
                c.leaf[dim] = b;
                Some(c)
            })
            .collect(),
    };
    (data, dims)
}

/// Evaluates publishing a unit as `blocks`, from the unit's contributions
/// (sorted by contributor) and its publishable [`detail`].
pub fn evaluate(
    ctx: &Context,
    contribs: &[Contribution],
    blocks: &[Block],
    detail: &Detail,
) -> Evaluation {
    let dim = ctx.plan.dim;
    let (mut data, dims) = small_data(ctx, contribs, blocks);
    let mut table = small_table(ctx, &data, &dims);
    let moves = match &ctx.plan.partner {
        Some(p) => partner_moves(ctx, &table, &data, p.dim),
        None => Vec::new(),
    };
    if !moves.is_empty() {
        let p = ctx
            .plan
            .partner
            .as_ref()
            .expect("moves need a partner plan")
            .dim;
        let moved: FxHashMap<(NodeId, NodeId), NodeId> = moves
            .iter()
            .map(|m| ((m.block as NodeId + 1, m.from), m.to))
            .collect();
        for c in &mut data.contributions {
            if let Some(&to) = moved.get(&(c.leaf[dim], c.leaf[p])) {
                c.leaf[p] = to;
            }
        }
        table = small_table(ctx, &data, &dims);
    }
    let (loss, block_primaries, margin_secret) = loss(ctx, &table, blocks, detail);
    Evaluation {
        loss,
        primaries: table.count(Status::Primary),
        block_primaries,
        margin_secret,
        moves,
    }
}

/// The regrouped dimension of a small table: a root and `n` blocks, which
/// get node ids `1..=n` in order.
fn block_tree(n: usize) -> Hierarchy {
    let mut edges = vec![Edge {
        code: "unit".into(),
        parent: None,
        label: String::new(),
        line: None,
    }];
    edges.extend((0..n).map(|b| Edge {
        code: b.to_string(),
        parent: Some("unit".into()),
        label: String::new(),
        line: None,
    }));
    Hierarchy::from_edges(Path::new("regroup"), edges).expect("a two-level tree is valid")
}

fn small_table(ctx: &Context, data: &TableData, dims: &[Arc<Hierarchy>]) -> Table {
    let mut t = aggregate(data, dims, ctx.top).expect("a unit's table fits when its table does");
    primary::apply(&mut t, ctx.rules, ctx.prot);
    t
}

/// Secret partners of each block moved into their residual partner code,
/// when the residual cell of that block (its own records and the moved
/// ones, distinct contributors) is then safe. Secrecy is judged at the
/// totals of the other dimensions.
fn partner_moves(ctx: &Context, table: &Table, data: &TableData, pdim: usize) -> Vec<Move> {
    let dim = ctx.plan.dim;
    // Secret partners grouped by (block, residual).
    let mut groups: std::collections::BTreeMap<(NodeId, NodeId), Vec<NodeId>> = Default::default();
    for cell in &table.cells {
        if cell.status != Status::Primary {
            continue;
        }
        let coords = table.coords(cell.key);
        let others_at_root = (0..table.dims.len()).all(|k| k == dim || k == pdim || coords[k] == 0);
        if coords[dim] == 0 || !others_at_root {
            continue;
        }
        if let Some(r) = ctx.partner_residual[coords[pdim] as usize] {
            groups
                .entry((coords[dim], r))
                .or_default()
                .push(coords[pdim]);
        }
    }
    let mut moves = Vec::new();
    for ((b, r), from) in groups {
        // Per contributor, its sum over the residual and the moved partners.
        let mut sums: FxHashMap<u32, i64> = FxHashMap::default();
        for c in &data.contributions {
            if c.leaf[dim] == b && (c.leaf[pdim] == r || from.contains(&c.leaf[pdim])) {
                *sums.entry(c.unit).or_default() += c.value;
            }
        }
        let value: i64 = sums.values().sum();
        let mut top: Vec<i64> = sums.values().copied().collect();
        top.sort_unstable_by(|a, b| b.cmp(a));
        top.truncate(ctx.top);
        let (broken, _) = primary::assess(value, sums.len() as u32, &top, ctx.rules, ctx.prot);
        if broken.is_empty() {
            moves.extend(from.into_iter().map(|f| Move {
                block: b as usize - 1,
                from: f,
                to: r,
            }));
        }
    }
    moves.sort_unstable();
    moves
}

/// The loss of a candidate, in value units, over the cells of its small
/// table:
///
/// - a primary secret (it will be masked) counts its value;
/// - a published cell of a block merging several codes counts the detail it
///   hides: the values the merged codes would have published on their own
///   (their non-secret cells; a secret code's detail was never publishable);
/// - a row of blocks (the unit's blocks at one cell of the other
///   dimensions) that secondary suppression must complete counts its
///   cheapest other block cell (its detail, or nothing if already counted):
///   rows with one primary secret among two or more blocks, or with two
///   that are both single-contributor cells (the singleton rule).
///
/// Partner moves count no detail: they only merge secret cells into the
/// residual partner code. Also returns, per block, its primary cells and
/// whether its margin (the other dimensions at their totals) is primary.
fn loss(
    ctx: &Context,
    table: &Table,
    blocks: &[Block],
    detail: &Detail,
) -> (i128, Vec<usize>, Vec<bool>) {
    let dim = ctx.plan.dim;
    let stride = table.stride(dim);
    let mut block_primaries = vec![0; blocks.len()];
    let mut margin_secret = vec![false; blocks.len()];
    let mut total: i128 = 0;
    // Row (key without the block) -> (primaries, singletons, cells, cheapest extra).
    let mut rows: FxHashMap<u64, (u32, u32, u32, i128)> = FxHashMap::default();
    for cell in &table.cells {
        let coords = table.coords(cell.key);
        let p = coords[dim] as usize;
        let primary = cell.status == Status::Primary;
        let lost: i128 = if primary {
            cell.value as i128
        } else if p > 0 && blocks[p - 1].merged() {
            let o = other_key(ctx, &coords);
            blocks[p - 1]
                .leaves
                .iter()
                .map(|&l| detail.0.get(&(l, o)).copied().unwrap_or(0) as i128)
                .sum()
        } else {
            0
        };
        total += lost;
        if p == 0 {
            continue;
        }
        if primary {
            block_primaries[p - 1] += 1;
            if (0..table.dims.len()).all(|k| k == dim || coords[k] == 0) {
                margin_secret[p - 1] = true;
            }
        }
        let row = rows
            .entry(cell.key - coords[dim] as u64 * stride)
            .or_insert((0, 0, 0, i128::MAX));
        row.2 += 1;
        if primary {
            row.0 += 1;
            row.1 += (cell.contributors == 1) as u32;
        } else {
            let extra = if lost > 0 { 0 } else { cell.value as i128 };
            row.3 = row.3.min(extra);
        }
    }
    for (primaries, singles, cells, cheapest) in rows.into_values() {
        let incomplete = primaries == 1 || (primaries == 2 && singles == 2);
        if incomplete && cells >= 2 && cheapest < i128::MAX {
            total += cheapest;
        }
    }
    (total, block_primaries, margin_secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::MAX_DIMS;

    /// The README's worked example: heading 0303, one partner (DE > EU > WORLD).
    #[test]
    fn worked_example_losses() {
        let codes = ["03031010", "03031020", "03031030", "03031040", "03031050"];
        let product =
            Arc::new(Hierarchy::from_prefix(Path::new("p"), codes, &[4, 8], "TOTAL").unwrap());
        let country = Arc::new(
            Hierarchy::from_csv_text(Path::new("c"), "WORLD,\nEU,WORLD\nDE,EU\n").unwrap(),
        );
        let dims = [product.clone(), country.clone()];
        let plan = RegroupPlan {
            dim: 0,
            levels: vec![8, 6, 4],
            unit: 4,
            residual: Some('X'),
            partner: None,
        };
        let (rules, prot) = (PrimaryRules::customs(), ProtectionRules::customs());
        let ctx = Context::new(&dims, &plan, &rules, &prot);
        // (operator, code index, value)
        let rows = [
            (0, 0, 100),
            (1, 1, 10),
            (2, 2, 10),
            (3, 2, 10),
            (4, 2, 10),
            (5, 3, 1000),
            (6, 3, 1000),
            (7, 3, 1000),
            (8, 4, 1000),
            (9, 4, 1000),
            (10, 4, 1000),
        ];
        let leaf = |i: usize| product.lookup(codes[i]).unwrap();
        let de = country.lookup("DE").unwrap();
        let contribs: Vec<Contribution> = rows
            .iter()
            .map(|&(unit, i, value)| {
                let mut l = [0; MAX_DIMS];
                l[0] = leaf(i);
                l[1] = de;
                Contribution {
                    unit,
                    leaf: l,
                    value,
                }
            })
            .collect();
        let leaves: Vec<NodeId> = (0..5).map(leaf).collect();
        let reference = detail(&ctx, &contribs, &leaves);
        let block = |code: &str, idx: &[usize]| Block {
            code: code.into(),
            leaves: idx.iter().map(|&i| leaf(i)).collect(),
        };
        let finest: Vec<Block> = (0..5).map(|i| block(codes[i], &[i])).collect();
        let e = evaluate(&ctx, &contribs, &finest, &reference);
        assert_eq!((e.loss, e.primaries), (420, 6));
        let residual = [
            block("030310XX", &[0, 1, 2]),
            block("03031040", &[3]),
            block("03031050", &[4]),
        ];
        let e = evaluate(&ctx, &contribs, &residual, &reference);
        assert_eq!((e.loss, e.primaries), (90, 0));
        // The two secrets alone: still dominated (100 of 110), masked.
        let dominated = [
            block("030310XX", &[0, 1]),
            block("03031030", &[2]),
            block("03031040", &[3]),
            block("03031050", &[4]),
        ];
        let e = evaluate(&ctx, &contribs, &dominated, &reference);
        assert_eq!(e.block_primaries[0], 3);
        assert_eq!(
            e.loss,
            110 * 3 + 30 * 3,
            "masked 110 and one complement per row"
        );
        let whole = [block("030310", &[0, 1, 2, 3, 4])];
        let e = evaluate(&ctx, &contribs, &whole, &reference);
        assert_eq!((e.loss, e.primaries), (6030 * 3, 0));
    }
}
