//! cellmask: statistical disclosure control for hierarchical trade tables.
//!
//! The `protect` pipeline, one module a stage:
//!
//! 1. [`read`]: records to per-contributor detailed sums;
//! 2. [`aggregate`]: every cell of every table along the hierarchies;
//! 3. [`primary`]: primary secrets and protection levels;
//! 4. regrouping, secondary suppression and the audit (next stages);
//! 5. [`write`]: release and internal files, written atomically.
//!
//! [`protect`] runs the stages in order; [`rules`] and [`hierarchy`] describe
//! the tables; [`generate`] makes synthetic records; [`demo`] shows it all.

pub mod aggregate;
pub mod audit;
pub mod cli;
pub mod demo;
pub mod error;
pub mod generate;
pub mod hierarchy;
pub mod money;
pub mod primary;
pub mod progress;
pub mod protect;
pub mod published;
pub mod read;
pub mod report;
pub mod rules;
pub mod secondary;
pub mod table;
pub mod write;
