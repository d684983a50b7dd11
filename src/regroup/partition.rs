//! How one unit (an SH4 heading) is published: the candidate partitions of
//! its detailed codes into published blocks, from the finest to the whole
//! unit, and the choice of the one with the least loss.
//!
//! Candidates, each built from the previous one level by level:
//!
//! 1. every detailed code on its own (the finest publication);
//! 2. *residuals*: at each coarser level (SH6, then the unit), the secret
//!    blocks below one code merged into its residual code (`870321XX`),
//!    with non-secret siblings added until it is safe: as few as possible,
//!    or the smallest first (two candidates);
//! 3. *coarser codes*: at each intermediate level, every code holding a
//!    secret published whole (the SH6 instead of its NC8 codes), then a
//!    residual of what stays secret;
//! 4. the whole unit (the SH4 alone), when the plan allows it.
//!
//! "Secret" is taken two ways, each giving its candidates: a block with any
//! primary cell, and a block whose margin (other dimensions at their
//! totals) is primary. The least loss ([`Evaluation::loss`]) wins; ties go
//! to fewer primary secrets left, then to the finer candidate.

use std::collections::BTreeMap;

use crate::hierarchy::NodeId;
use crate::read::Contribution;

use super::evaluate::{detail, evaluate, Block, Context, Detail, Evaluation};

/// The chosen publication of a unit.
#[derive(Debug, Clone)]
pub struct UnitChoice {
    pub blocks: Vec<Block>,
    pub evaluation: Evaluation,
}

/// Which non-secret siblings a residual takes in until it is safe.
#[derive(Debug, Clone, Copy)]
enum Grow {
    /// As few as possible: each time the sibling removing the most primary
    /// cells of the residual.
    Fewest,
    /// The smallest first (least value merged), until the residual is safe.
    Smallest,
}

/// Which blocks count as secret when building residuals.
#[derive(Debug, Clone, Copy)]
enum Secret {
    AnyCell,
    Margin,
}

impl Secret {
    fn flags(self, e: &Evaluation) -> Vec<bool> {
        match self {
            Secret::AnyCell => e.block_primaries.iter().map(|&n| n > 0).collect(),
            Secret::Margin => e.margin_secret.clone(),
        }
    }
}

/// Chooses how to publish one unit. `leaves` are its detailed codes (ids
/// ascending), `contribs` its contributions.
pub fn choose(
    ctx: &Context,
    unit_code: &str,
    leaves: &[NodeId],
    contribs: &[Contribution],
) -> UnitChoice {
    let h = &ctx.dims[ctx.plan.dim];
    let finest: Vec<Block> = leaves
        .iter()
        .map(|&l| Block {
            code: h.code(l).to_string(),
            leaves: vec![l],
        })
        .collect();
    // The finest publication merges nothing, so its loss needs no detail.
    let first = evaluate(ctx, contribs, &finest, &Detail::default());
    if leaves.len() == 1 || first.block_primaries.iter().all(|&n| n == 0) {
        return UnitChoice {
            blocks: finest,
            evaluation: first,
        };
    }
    let reference = detail(ctx, contribs, leaves);
    let b = Builder {
        ctx,
        unit_code,
        contribs,
    };
    let mut candidates: Vec<Vec<Block>> = vec![finest.clone()];
    let mut evals: Vec<Evaluation> = vec![first.clone()];
    let push =
        |blocks: Vec<Block>, candidates: &mut Vec<Vec<Block>>, evals: &mut Vec<Evaluation>| {
            if candidates.contains(&blocks) {
                let i = candidates
                    .iter()
                    .position(|c| *c == blocks)
                    .expect("present");
                return evals[i].clone();
            }
            let e = evaluate(ctx, contribs, &blocks, &reference);
            candidates.push(blocks);
            evals.push(e.clone());
            e
        };
    let inter = ctx.plan.intermediate();
    for secret in [Secret::AnyCell, Secret::Margin] {
        // 2. Residuals, level by level.
        for grow in [Grow::Fewest, Grow::Smallest] {
            let (mut cur, mut eval) = (finest.clone(), first.clone());
            for &len in inter.iter().chain([&ctx.plan.unit]) {
                let next = b.residual_step(&cur, len, &secret.flags(&eval), grow);
                if next != cur {
                    eval = push(next.clone(), &mut candidates, &mut evals);
                    cur = next;
                }
            }
        }
        // 3. Coarser codes at each intermediate level, then a residual.
        for &len in &inter {
            let whole = b.whole_step(&finest, len, &secret.flags(&first));
            if whole == finest {
                continue;
            }
            let eval = push(whole.clone(), &mut candidates, &mut evals);
            let next = b.residual_step(&whole, ctx.plan.unit, &secret.flags(&eval), Grow::Fewest);
            if next != whole {
                push(next, &mut candidates, &mut evals);
            }
        }
    }
    // 4. The whole unit.
    if ctx.plan.whole_unit() {
        push(
            vec![Block {
                code: unit_code.to_string(),
                leaves: leaves.to_vec(),
            }],
            &mut candidates,
            &mut evals,
        );
    }
    let best = (0..candidates.len())
        .min_by_key(|&i| (evals[i].loss, evals[i].primaries, i))
        .expect("at least the finest candidate");
    UnitChoice {
        blocks: candidates.swap_remove(best),
        evaluation: evals.swap_remove(best),
    }
}

struct Builder<'a> {
    ctx: &'a Context<'a>,
    unit_code: &'a str,
    contribs: &'a [Contribution],
}

impl Builder<'_> {
    /// The code of length `len` above a block (all its leaves share it).
    fn prefix(&self, block: &Block, len: usize) -> String {
        let leaf = self.ctx.dims[self.ctx.plan.dim].code(block.leaves[0]);
        leaf[..len.min(leaf.len())].to_string()
    }

    /// Blocks grouped by their code of length `len`, in code order.
    fn groups(&self, blocks: &[Block], len: usize) -> BTreeMap<String, Vec<usize>> {
        let mut g: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, b) in blocks.iter().enumerate() {
            g.entry(self.prefix(b, len)).or_default().push(i);
        }
        g
    }

    /// The block covering several blocks below `parent` (of length `len`):
    /// the parent's code when they are all of its blocks, else its residual.
    fn merge(&self, blocks: &[&Block], parent: &str, all: bool) -> Option<Block> {
        let mut leaves: Vec<NodeId> = blocks
            .iter()
            .flat_map(|b| b.leaves.iter().copied())
            .collect();
        leaves.sort_unstable();
        let code = if all {
            let is_unit = parent == self.unit_code;
            if is_unit && !self.ctx.plan.whole_unit() {
                return None;
            }
            parent.to_string()
        } else {
            self.ctx.plan.residual_code(parent)?
        };
        Some(Block { code, leaves })
    }

    /// Within each code of length `len`, the secret blocks merged into its
    /// residual with non-secret siblings added as `grow` says. A residual
    /// holding every block is the code itself; without residual codes, a
    /// code holding a secret block is published whole.
    fn residual_step(
        &self,
        blocks: &[Block],
        len: usize,
        secret: &[bool],
        grow: Grow,
    ) -> Vec<Block> {
        let mut out: Vec<Block> = Vec::new();
        for (parent, members) in self.groups(blocks, len) {
            let (sec, mut rest): (Vec<usize>, Vec<usize>) =
                members.iter().partition(|&&i| secret[i]);
            if sec.is_empty() || members.len() < 2 {
                out.extend(members.iter().map(|&i| blocks[i].clone()));
                continue;
            }
            let mut chosen = sec.clone();
            if self.ctx.plan.residual.is_some() {
                match grow {
                    Grow::Fewest => self.grow_fewest(blocks, &mut chosen, &mut rest),
                    Grow::Smallest => self.grow_smallest(blocks, &mut chosen, &mut rest),
                }
            } else {
                chosen = members.clone();
                rest.clear();
            }
            let all = rest.is_empty();
            let merged = if chosen.len() >= 2 {
                let refs: Vec<&Block> = chosen.iter().map(|&i| &blocks[i]).collect();
                self.merge(&refs, &parent, all)
            } else {
                None
            };
            match merged {
                Some(m) => {
                    out.extend(rest.iter().map(|&i| blocks[i].clone()));
                    out.push(m);
                }
                None => out.extend(members.iter().map(|&i| blocks[i].clone())),
            }
        }
        out.sort_by(|a, b| a.leaves[0].cmp(&b.leaves[0]));
        out
    }

    /// Adds the sibling removing the most primary cells of the residual
    /// (first in code order on ties) while that removes some.
    fn grow_fewest(&self, blocks: &[Block], chosen: &mut Vec<usize>, rest: &mut Vec<usize>) {
        let mut cur = self.primaries_of(blocks, chosen);
        while cur > 0 && !rest.is_empty() {
            let (pos, best) = rest
                .iter()
                .enumerate()
                .map(|(pos, &i)| {
                    let mut trial = chosen.clone();
                    trial.push(i);
                    (pos, self.primaries_of(blocks, &trial))
                })
                .min_by_key(|&(pos, n)| (n, pos))
                .expect("rest is not empty");
            if best >= cur {
                break;
            }
            chosen.push(rest.remove(pos));
            cur = best;
        }
    }

    /// Adds siblings smallest value first until the residual is safe, and
    /// keeps the shortest prefix of them that left the fewest primary cells.
    fn grow_smallest(&self, blocks: &[Block], chosen: &mut Vec<usize>, rest: &mut Vec<usize>) {
        let mut order = rest.clone();
        order.sort_by_key(|&i| (self.value_of(&blocks[i]), i));
        let mut best = (self.primaries_of(blocks, chosen), 0);
        let mut trial = chosen.clone();
        for (k, &i) in order.iter().enumerate() {
            if best.0 == 0 {
                break;
            }
            trial.push(i);
            let n = self.primaries_of(blocks, &trial);
            if n < best.0 {
                best = (n, k + 1);
            }
        }
        chosen.extend_from_slice(&order[..best.1]);
        rest.retain(|i| !order[..best.1].contains(i));
    }

    /// Total value of a block's contributions.
    fn value_of(&self, block: &Block) -> i64 {
        let dim = self.ctx.plan.dim;
        self.contribs
            .iter()
            .filter(|c| block.leaves.binary_search(&c.leaf[dim]).is_ok())
            .map(|c| c.value)
            .sum()
    }

    /// Every code of length `len` holding a secret block published whole.
    fn whole_step(&self, blocks: &[Block], len: usize, secret: &[bool]) -> Vec<Block> {
        let mut out = Vec::new();
        for (parent, members) in self.groups(blocks, len) {
            if members.len() >= 2 && members.iter().any(|&i| secret[i]) {
                let refs: Vec<&Block> = members.iter().map(|&i| &blocks[i]).collect();
                if let Some(m) = self.merge(&refs, &parent, true) {
                    out.push(m);
                    continue;
                }
            }
            out.extend(members.iter().map(|&i| blocks[i].clone()));
        }
        out.sort_by(|a, b| a.leaves[0].cmp(&b.leaves[0]));
        out
    }

    /// Primary cells of the block merging `chosen` blocks, on its own.
    fn primaries_of(&self, blocks: &[Block], chosen: &[usize]) -> usize {
        let mut leaves: Vec<NodeId> = chosen
            .iter()
            .flat_map(|&i| blocks[i].leaves.iter().copied())
            .collect();
        leaves.sort_unstable();
        let contribs: Vec<Contribution> = self
            .contribs
            .iter()
            .filter(|c| leaves.binary_search(&c.leaf[self.ctx.plan.dim]).is_ok())
            .copied()
            .collect();
        let block = Block {
            code: String::new(),
            leaves,
        };
        evaluate(
            self.ctx,
            &contribs,
            std::slice::from_ref(&block),
            &Detail::default(),
        )
        .block_primaries[0]
    }
}
