//! Certification (SPEC section 5): the exact evidence behind a verdict,
//! written beside the release, and its check.
//!
//! The audit's search ([`crate::audit`]) finds *witnesses*: exact
//! deviations of the masked cells that keep every equation and every cell
//! non-negative while leaving published cells alone ([`witness`]). [`certificate`]
//! turns a table's witnesses and claims into the certificate file;
//! [`verify`](mod@verify) checks a certificate against a table in integer arithmetic
//! only — no floating point, no LP, no code of the search — and `protect`
//! writes a release only once that check has passed.

pub mod witness;

pub mod certificate;
pub mod command;
pub mod verify;
pub mod why;

use crate::audit::TableAudit;
use crate::table::Table;
use certificate::Certificate;
use verify::{verify, Finding, Problem};

/// The certify stage: the certificate of audited tables (each audit's
/// witnesses) and every claim its exact check rejects (`levels`: the true
/// values, primary cells and levels are known). A certificate that cannot
/// be written is itself a rejection.
pub fn certify(
    rules: &str,
    decimals: u32,
    split_names: &[String],
    dim_names: &[String],
    tables: &[Table],
    audits: &[TableAudit],
    levels: bool,
) -> (Option<Certificate>, Vec<Finding>) {
    match Certificate::build(rules, decimals, split_names, dim_names, tables, audits) {
        Ok(c) => {
            let f = verify(tables, &c, levels);
            (Some(c), f)
        }
        Err(e) => (
            None,
            vec![Finding {
                table: 0,
                cell: None,
                problem: Problem::Structure(e.to_string()),
            }],
        ),
    }
}
