//! `report.json`: counts per status, masked value and share, per table and
//! in all, time per stage and the verdict. Everything in it is
//! deterministic except the `timings_ms` objects (run and per table).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audit::{FailureKind, TableAudit};
use crate::money::format_amount;
use crate::table::{RuleSet, Status, Table};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cellmask: &'static str,
    pub command: &'static str,
    pub rules: String,
    pub input: String,
    pub verdict: Verdict,
    pub message: String,
    pub rows: u64,
    pub rows_filtered: u64,
    pub totals: Counts,
    /// What regrouping did, over all tables (when it ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regroup: Option<crate::regroup::Stats>,
    /// What the rules' record treatments did, over the whole file.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub treatments: BTreeMap<String, TreatedCount>,
    pub tables: Vec<TableReport>,
    /// The certificate written beside the release, and its check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateReport>,
    /// Wall-clock time per stage, milliseconds (the only varying part).
    pub timings_ms: BTreeMap<&'static str, u64>,
}

/// The certificate's size and what its check found.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateReport {
    pub file: &'static str,
    pub witnesses: usize,
    pub moves: usize,
    /// Claims the exact check rejected (0: every claim holds).
    pub rejected_claims: usize,
}

impl CertificateReport {
    pub fn of(
        c: &crate::certify::certificate::Certificate,
        findings: &[crate::certify::verify::Finding],
    ) -> CertificateReport {
        let (witnesses, moves) = c.size();
        CertificateReport {
            file: "certificate.json",
            witnesses,
            moves,
            rejected_claims: findings.len(),
        }
    }
}

/// The outcome of a run, as in SPEC section 2's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Protected,
    NotProtected,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub tables: usize,
    pub cells: usize,
    pub published: usize,
    pub primary: usize,
    pub secondary: usize,
    /// Primary cells by rule broken (a cell breaking two rules counts in both).
    pub primary_by_rule: BTreeMap<&'static str, usize>,
    /// Primary cells by the first rule they break (frequency, then
    /// dominance, then p%): each cell counted once, for the summary.
    #[serde(skip)]
    pub primary_first_rule: Vec<(&'static str, usize)>,
    /// Masked cells (primary and secondary).
    #[serde(skip)]
    pub masked_cells: usize,
    pub total_value: String,
    pub masked_value: String,
    /// Masked value over total value, both taken at the grand totals'
    /// level: the sum over masked cells of every level, divided by the sum
    /// over all cells.
    pub masked_share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub split: BTreeMap<String, String>,
    pub protected: bool,
    #[serde(flatten)]
    pub counts: Counts,
    /// What the rules' record treatments did to this table's records.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub treatments: BTreeMap<String, TreatedCount>,
    /// What regrouping did (protect with a regrouping plan only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regroup: Option<crate::regroup::Stats>,
    /// What secondary suppression did (protect only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary: Option<crate::secondary::Outcome>,
    pub audit: AuditReport,
    /// Wall-clock time of this table's stages, ms (solver time; varies).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub timings_ms: BTreeMap<&'static str, u64>,
}

/// Rows and value a record treatment left out, copied or changed.
#[derive(Debug, Clone, Serialize)]
pub struct TreatedCount {
    pub kind: crate::rules::TreatmentKind,
    pub rows: u64,
    pub value: String,
}

/// Treatment counts by name, summed over `items`.
pub fn treated_by_name<'a>(
    items: impl IntoIterator<Item = &'a crate::read::Treated>,
    decimals: u32,
) -> BTreeMap<String, TreatedCount> {
    let mut sums: BTreeMap<String, (crate::rules::TreatmentKind, u64, i64)> = BTreeMap::new();
    for t in items {
        let e = sums.entry(t.name.clone()).or_insert((t.kind, 0, 0));
        e.1 += t.rows;
        e.2 += t.value;
    }
    sums.into_iter()
        .map(|(name, (kind, rows, value))| {
            (
                name,
                TreatedCount {
                    kind,
                    rows,
                    value: format_amount(value, decimals),
                },
            )
        })
        .collect()
}

/// What the audit of a table did and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    pub masked: usize,
    pub components: usize,
    pub largest_component: usize,
    pub exact_without_lp: usize,
    pub lp_solves: usize,
    /// `exact`: `audit_low`/`audit_high` are the attacker's extremes;
    /// `proven`: each is a value some solution of the attacker's system
    /// reaches, so the attacker's interval contains them (enough for the
    /// verdict, far fewer LPs).
    pub intervals: &'static str,
    /// Failing cells by kind.
    pub failures: BTreeMap<&'static str, usize>,
}

impl AuditReport {
    pub fn of(a: &TableAudit) -> AuditReport {
        let mut failures = BTreeMap::new();
        for k in [
            FailureKind::ExactDisclosure,
            FailureKind::UnderProtected,
            FailureKind::PrimaryPublished,
            FailureKind::Unproven,
        ] {
            failures.insert(
                k.as_str(),
                a.failures.iter().filter(|f| f.kind == k).count(),
            );
        }
        AuditReport {
            masked: a.masked,
            components: a.components,
            largest_component: a.largest_component,
            exact_without_lp: a.exact_without_lp,
            lp_solves: a.lp_solves,
            intervals: if a.exact { "exact" } else { "proven" },
            failures,
        }
    }
}

/// One report row per table: split values, verdict, counts and audit.
pub fn table_reports(
    tables: &[Table],
    audits: &[TableAudit],
    split_names: &[String],
    decimals: u32,
) -> Vec<TableReport> {
    tables
        .iter()
        .zip(audits)
        .map(|(t, a)| TableReport {
            split: split_names
                .iter()
                .cloned()
                .zip(t.split.iter().cloned())
                .collect(),
            protected: a.passed(),
            counts: Counts::of([t], decimals),
            treatments: BTreeMap::new(),
            regroup: None,
            secondary: None,
            audit: AuditReport::of(a),
            timings_ms: BTreeMap::new(),
        })
        .collect()
}

impl Counts {
    /// Counts for some tables.
    pub fn of<'a>(tables: impl IntoIterator<Item = &'a Table>, decimals: u32) -> Counts {
        let mut c = Counts::default();
        let (mut all, mut masked) = (0i128, 0i128);
        for (_, name) in RuleSet::all() {
            c.primary_by_rule.insert(name, 0);
            c.primary_first_rule.push((name, 0));
        }
        for t in tables {
            c.tables += 1;
            for cell in &t.cells {
                c.cells += 1;
                all += cell.value as i128;
                match cell.status {
                    Status::Published => c.published += 1,
                    Status::Primary => c.primary += 1,
                    Status::Secondary => c.secondary += 1,
                }
                if cell.status.is_masked() {
                    masked += cell.value as i128;
                }
                if cell.status.is_masked() {
                    c.masked_cells += 1;
                }
                for (r, name) in RuleSet::all() {
                    if cell.rules.contains(r) {
                        *c.primary_by_rule.get_mut(name).expect("all rules listed") += 1;
                    }
                }
                if let Some(k) = RuleSet::all().position(|(r, _)| cell.rules.contains(r)) {
                    c.primary_first_rule[k].1 += 1;
                }
            }
        }
        c.total_value = format_amount(all.min(i64::MAX as i128) as i64, decimals);
        c.masked_value = format_amount(masked.min(i64::MAX as i128) as i64, decimals);
        c.masked_share = if all > 0 {
            ((masked as f64 / all as f64) * 1e6).round() / 1e6
        } else {
            0.0
        };
        c
    }
}

impl Report {
    /// The report of a published file audited alone, as JSON: which
    /// masked cells are primary and what they hold are unknown without
    /// the records, so those figures are null, not 0.
    pub fn without_records(&self) -> serde_json::Value {
        const UNKNOWN: [&str; 6] = [
            "primary",
            "secondary",
            "primary_by_rule",
            "total_value",
            "masked_value",
            "masked_share",
        ];
        let unknown = |c: &mut serde_json::Value| {
            if let Some(obj) = c.as_object_mut() {
                for k in UNKNOWN {
                    if let Some(v) = obj.get_mut(k) {
                        *v = serde_json::Value::Null;
                    }
                }
            }
        };
        let mut json = serde_json::to_value(self).expect("a report serializes");
        unknown(&mut json["totals"]);
        // Tables' counts are flattened into each table's object.
        if let Some(tables) = json["tables"].as_array_mut() {
            tables.iter_mut().for_each(unknown);
        }
        json
    }
}
