//! Peer datasets: cellmask's primary rules against rtauargus' own flags.

mod common;

use cellmask::primary::assess;
use cellmask::rules::{DominanceRule, PrimaryRules, ProtectionRules};
use cellmask::table::RuleSet;

/// rtauargus' `datatest1` flags each cell with the frequency rule (< 3
/// observations) and the dominance rule (1, 85); cellmask must agree on
/// every cell with a non-negative total (cellmask values are >= 0).
#[test]
fn rtauargus_datatest1_primary_flags() {
    let rows = common::read_csv(&common::data("peers/rtauargus_datatest1.csv"));
    let rules = PrimaryRules {
        min_contributors: 3,
        dominance: vec![DominanceRule { n: 1, k: 85.0 }],
        p_percent: None,
    };
    let prot = ProtectionRules {
        safety_range: 10.0,
        lower_factor: 1.0,
    };
    let units = |s: &str| (s.parse::<f64>().unwrap_or(0.0) * 1e6).round() as i64;
    let mut checked = 0;
    for r in &rows {
        let total = units(&r["pizzas_tot"]);
        if total < 0 {
            continue;
        }
        // Weighted counts: fewer than 3 observations means below 3.
        let n = r["nb_obs"].parse::<f64>().unwrap().floor() as u32;
        let (broken, _) = assess(total, n, &[units(&r["pizzas_max"])], &rules, &prot);
        let line = format!(
            "{} {} {} {}",
            r["treff"], r["cj"], r["type_distrib"], r["A10"]
        );
        assert_eq!(
            broken.contains(RuleSet::FREQUENCY),
            r["is_secret_freq"] == "TRUE",
            "frequency: {line}"
        );
        assert_eq!(
            broken.contains(RuleSet::DOMINANCE),
            r["is_secret_dom"] == "TRUE",
            "dominance: {line}"
        );
        checked += 1;
    }
    assert!(checked > 680, "{checked}");
}
