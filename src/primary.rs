//! Primary secrets and protection levels (SPEC section 4).
//!
//! Rule tests are exact: dominance and p% compare integers, so a cell whose
//! largest contributor holds exactly 85% is secret under (1, 85), whatever
//! the size of the values.

use crate::rules::{DominanceRule, PrimaryRules, ProtectionRules};
use crate::table::{Cell, RuleSet, Status, Table};

/// A percentage as an exact integer ratio: `pct = num / 10^6`.
fn micro(pct: f64) -> i128 {
    (pct * 1e6).round() as i128
}

/// Whether the `n` largest contributions hold at least `k`% of `total`.
fn dominated(top: &[i64], total: i64, rule: &DominanceRule) -> bool {
    if total <= 0 {
        return false;
    }
    let sum: i128 = top.iter().take(rule.n).map(|&v| v as i128).sum();
    sum * 100 * 1_000_000 >= micro(rule.k) * total as i128
}

/// Whether the p% rule fails: the rest of the cell (`T - x1 - x2`) is less
/// than `p`% of the largest contribution, so the second largest contributor
/// could estimate the largest within `p`%.
fn p_sensitive(top: &[i64], total: i64, p: f64) -> bool {
    let x1 = top.first().copied().unwrap_or(0) as i128;
    let x2 = top.get(1).copied().unwrap_or(0) as i128;
    let rest = total as i128 - x1 - x2;
    rest * 100 * 1_000_000 < micro(p) * x1
}

/// `ceil(num / den)` for `den > 0`.
fn ceil_div(num: i128, den: i128) -> i128 {
    -((-num).div_euclid(den))
}

/// Rules broken by a cell and its upper protection level, in value units,
/// exact: the real level rounded up to the unit (never weaker).
pub fn assess(
    value: i64,
    contributors: u32,
    top: &[i64],
    rules: &PrimaryRules,
    prot: &ProtectionRules,
) -> (RuleSet, i64) {
    const M: i128 = 100 * 1_000_000; // percentages in millionths
    let t = value as i128;
    let mut broken = RuleSet::default();
    let mut upper: i128 = 0;
    if contributors < rules.min_contributors {
        broken.insert(RuleSet::FREQUENCY);
        upper = upper.max(ceil_div(micro(prot.safety_range) * t, M));
    }
    for rule in &rules.dominance {
        if dominated(top, value, rule) {
            broken.insert(RuleSet::DOMINANCE);
            let sum: i128 = top.iter().take(rule.n).map(|&v| v as i128).sum();
            let k = micro(rule.k);
            // (100 / k) * sum - t = (M * sum - k * t) / k.
            upper = upper.max(ceil_div(M * sum - k * t, k));
        }
    }
    if let Some(p) = rules.p_percent {
        if p_sensitive(top, value, p) {
            broken.insert(RuleSet::P_PERCENT);
            let x1 = top.first().copied().unwrap_or(0) as i128;
            let x2 = top.get(1).copied().unwrap_or(0) as i128;
            // (p / 100) * x1 - (t - x1 - x2).
            upper = upper.max(ceil_div(micro(p) * x1 - M * (t - x1 - x2), M));
        }
    }
    (broken, upper.clamp(0, i64::MAX as i128) as i64)
}

/// Marks a cell primary when it breaks a rule, with its protection levels
/// (exact units; the lower level is `lower_factor` times the upper one,
/// rounded up, and never above the value).
pub fn apply_to_cell(cell: &mut Cell, rules: &PrimaryRules, prot: &ProtectionRules) {
    let (broken, upper) = assess(cell.value, cell.contributors, &cell.top, rules, prot);
    if broken.is_empty() {
        return;
    }
    cell.status = Status::Primary;
    cell.rules = broken;
    cell.upper_protection = upper;
    let lower = ceil_div(micro(prot.lower_factor) * upper as i128, 1_000_000);
    cell.lower_protection = lower.min(cell.value as i128) as i64;
}

/// Flags the primary secrets of a table; returns how many were found.
pub fn apply(table: &mut Table, rules: &PrimaryRules, prot: &ProtectionRules) -> usize {
    for c in &mut table.cells {
        apply_to_cell(c, rules, prot);
    }
    table.count(Status::Primary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customs() -> (PrimaryRules, ProtectionRules) {
        (PrimaryRules::customs(), ProtectionRules::customs())
    }

    #[test]
    fn frequency_rule() {
        let (r, p) = customs();
        // 2 contributors, 60 + 40: frequency only; upper = 10% of 100.
        let (b, up) = assess(100, 2, &[60], &r, &p);
        assert_eq!(b, RuleSet::FREQUENCY);
        assert_eq!(up, 10);
        // 3 contributors, 50/30/20: safe.
        assert!(assess(100, 3, &[50], &r, &p).0.is_empty());
    }

    #[test]
    fn dominance_at_exactly_85_percent() {
        let (r, p) = customs();
        // 85 of 100 with 3 contributors: secret, upper = 100/85*85 - 100 = 0.
        let (b, up) = assess(100, 3, &[85], &r, &p);
        assert_eq!(b, RuleSet::DOMINANCE);
        assert_eq!(up, 0);
        // 84.99 of 100.00 (in cents): safe.
        assert!(assess(10_000, 3, &[8_499], &r, &p).0.is_empty());
        // 90 of 100: upper = 100/85*90 - 100 = 5.882..., rounded up.
        let (_, up) = assess(100, 4, &[90], &r, &p);
        assert_eq!(up, 6);
        // 9,000 of 10,000 cents: 588.235... -> 589.
        assert_eq!(assess(10_000, 4, &[9_000], &r, &p).1, 589);
        // Exact on large values, where floats would round.
        let t: i64 = 9_007_199_254_740_993 / 100 * 100; // near 2^53
        assert!(!assess(t, 3, &[t / 100 * 85 - 1], &r, &p)
            .0
            .contains(RuleSet::DOMINANCE));
        assert!(assess(t, 3, &[t / 100 * 85], &r, &p)
            .0
            .contains(RuleSet::DOMINANCE));
    }

    #[test]
    fn general_n_k_rule() {
        let r = PrimaryRules {
            min_contributors: 0,
            dominance: vec![DominanceRule { n: 2, k: 90.0 }],
            p_percent: None,
        };
        let p = ProtectionRules {
            safety_range: 10.0,
            lower_factor: 1.0,
        };
        // 50 + 45 = 95 >= 90% of 100: upper = 100/90*95 - 100 = 5.555... -> 6.
        let (b, up) = assess(100, 5, &[50, 45], &r, &p);
        assert_eq!(b, RuleSet::DOMINANCE);
        assert_eq!(up, 6);
        assert!(assess(100, 5, &[50, 39], &r, &p).0.is_empty());
    }

    #[test]
    fn p_percent_rule() {
        let r = PrimaryRules {
            min_contributors: 0,
            dominance: vec![],
            p_percent: Some(10.0),
        };
        let p = ProtectionRules {
            safety_range: 10.0,
            lower_factor: 1.0,
        };
        // x1 = 80, x2 = 15, rest = 5 < 10% of 80 = 8: secret, upper = 8 - 5 = 3.
        let (b, up) = assess(100, 4, &[80, 15], &r, &p);
        assert_eq!(b, RuleSet::P_PERCENT);
        assert_eq!(up, 3);
        // rest = 8 exactly: not below 8, safe.
        assert!(assess(100, 4, &[80, 12], &r, &p).0.is_empty());
    }

    #[test]
    fn several_rules_take_the_largest_level() {
        let (mut r, p) = customs();
        r.p_percent = Some(10.0);
        // Two contributors 95 + 5: frequency (10), dominance (100/85*95-100 = 11.76),
        // p% (9.5 - 0 = 9.5): the largest is dominance's.
        let (b, up) = assess(100, 2, &[95, 5], &r, &p);
        assert_eq!(b.names(), "frequency+dominance+p-percent");
        assert_eq!(up, 12); // 11.76... rounded up
    }

    #[test]
    fn lower_level_never_exceeds_the_value() {
        let (r, _) = customs();
        let p = ProtectionRules {
            safety_range: 150.0,
            lower_factor: 1.0,
        };
        let mut cell = Cell {
            key: 0,
            value: 100,
            contributors: 1,
            top: smallvec::smallvec![100],
            status: Status::Published,
            rules: RuleSet::default(),
            lower_protection: 0,
            upper_protection: 0,
            audit: None,
        };
        apply_to_cell(&mut cell, &r, &p);
        assert_eq!(cell.status, Status::Primary);
        assert_eq!(cell.upper_protection, 150);
        assert_eq!(cell.lower_protection, 100);
    }

    #[test]
    fn zero_cells_fall_only_under_frequency() {
        let (mut r, p) = customs();
        r.p_percent = Some(10.0);
        assert!(assess(0, 5, &[0, 0], &r, &p).0.is_empty());
        assert_eq!(assess(0, 1, &[0], &r, &p), (RuleSet::FREQUENCY, 0));
    }
}
