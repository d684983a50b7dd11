//! cellmask: statistical disclosure control for hierarchical trade tables.
//!
//! The `protect` pipeline, one module a stage:
//!
//! 1. [`read`]: records to per-contributor detailed sums (or [`tabular`]:
//!    tables given cell by cell, read straight into tables);
//! 2. [`aggregate`]: every cell of every table along the hierarchies;
//! 3. [`primary`]: primary secrets and protection levels;
//! 4. [`regroup`]: secret codes published at a coarser level or in
//!    residual codes (treatment 1);
//! 5. [`secondary`]: complementary cells masked (treatment 2);
//! 6. [`audit`]: the attacker's linear programs, their solutions made
//!    exact: witnesses that decide the verdict to the unit;
//! 7. [`certify`]: the witnesses as a certificate, checked in exact
//!    arithmetic by code separate from the search;
//! 8. [`write`]: release and internal files, written atomically (the
//!    release only once its certificate is checked).
//!
//! [`protect`] runs the stages in order ([`batch`] over many files); [`rules`] and [`hierarchy`] describe
//! the tables; [`csv_input`] sets up every CSV reader; [`generate`] makes synthetic records;
//! [`demo`] shows it all.

pub mod aggregate;
pub mod audit;
pub mod batch;
pub mod certify;
pub mod cli;
pub mod correspondence;
pub mod csv_input;
pub mod demo;
pub mod error;
pub mod generate;
pub mod hierarchy;
pub mod html;
pub mod money;
pub mod primary;
pub mod progress;
pub mod protect;
pub mod published;
pub mod read;
pub mod regroup;
pub mod report;
pub mod rules;
pub mod schedule;
pub mod secondary;
pub mod sheets;
pub mod table;
pub mod tabular;
pub mod tau;
pub mod write;
