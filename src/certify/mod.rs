//! Certification (SPEC section 5): the exact evidence behind a verdict,
//! written beside the release, and its check.
//!
//! The audit's search ([`crate::audit`]) finds *witnesses*: exact
//! deviations of the masked cells that keep every equation and every cell
//! non-negative while leaving published cells alone ([`witness`]). [`certificate`]
//! turns a table's witnesses and claims into the certificate file;
//! [`verify`] checks a certificate against a table in integer arithmetic
//! only — no floating point, no LP, no code of the search — and `protect`
//! writes a release only once that check has passed.

pub mod witness;

pub mod certificate;
pub mod command;
pub mod verify;
