//! The certificate file (`certificate.json`): a release's evidence, sparse
//! witnesses shared between cells, checkable without any LP.
//!
//! Layout (JSON; one witness a line):
//!
//! ```text
//! {"format":"cellmask-certificate","version":1,"rules":"national","decimals":2,
//!  "split":["flow"],"dimensions":["product","country"],"tables":[
//! {"split":["I"],
//!  "cells":[["0101","FR"],...],     the masked cells, codes per dimension
//!  "anchor_den":1,"anchor":[1250,...], per masked cell: anchor = anchor[i] / anchor_den units
//!  "low":[-1,0,...],"high":[3,-1,...], per masked cell: the witness reaching its claimed
//!                                       lowest / highest value (-1: the anchor itself)
//!  "witnesses":[
//! {"den":1,"cells":[0,4,7],"moves":[125,-125,125]},  cell i moves by moves[k] / den units
//! ...]}]}
//! ```
//!
//! The anchor is a point of the attacker's polyhedron: the true values of
//! the masked cells when `protect` (or `audit --input`) wrote it, so the
//! certificate is an internal file, never to be published. A witness keeps
//! every equation, every cell >= 0, and leaves published cells alone;
//! a claim says which witness reaches a cell's lowest and highest value.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use num_integer::Integer;
use serde::{Deserialize, Serialize};

use crate::audit::TableAudit;
use crate::certify::witness::By;
use crate::error::{Error, Result};
use crate::table::Table;

/// The format's name and version, as written in every certificate.
pub const FORMAT: &str = "cellmask-certificate";
pub const VERSION: u32 = 1;

/// A certificate: the evidence of every table of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub format: String,
    pub version: u32,
    pub rules: String,
    pub decimals: u32,
    pub split: Vec<String>,
    pub dimensions: Vec<String>,
    pub tables: Vec<TableCertificate>,
}

/// The evidence of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableCertificate {
    pub split: Vec<String>,
    /// The masked cells, codes per dimension, in table order.
    pub cells: Vec<Vec<String>>,
    pub anchor_den: i64,
    pub anchor: Vec<i64>,
    pub low: Vec<i64>,
    pub high: Vec<i64>,
    pub witnesses: Vec<WitnessRecord>,
}

/// One witness: masked cell `cells[k]` moves by `moves[k] / den` units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessRecord {
    pub den: i64,
    pub cells: Vec<u32>,
    pub moves: Vec<i64>,
}

/// Why a table's evidence cannot be written as a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table {0:?}: a witness or the anchor does not fit in 64-bit integers")]
pub struct TooBig(pub Vec<String>);

impl Certificate {
    /// The certificate of audited tables (each audit's proofs).
    pub fn build(
        rules: &str,
        decimals: u32,
        split: &[String],
        dimensions: &[String],
        tables: &[Table],
        audits: &[TableAudit],
    ) -> std::result::Result<Certificate, TooBig> {
        let tables = tables
            .iter()
            .zip(audits)
            .map(|(t, a)| TableCertificate::build(t, a).ok_or_else(|| TooBig(t.split.clone())))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Certificate {
            format: FORMAT.into(),
            version: VERSION,
            rules: rules.into(),
            decimals,
            split: split.to_vec(),
            dimensions: dimensions.to_vec(),
            tables,
        })
    }

    /// Writes the certificate: its header, then a table's fields and its
    /// witnesses one a line.
    pub fn write(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let j = |v: &dyn erased::Json| v.json();
        write!(
            w,
            "{{\"format\":{},\"version\":{},\"rules\":{},\"decimals\":{},\"split\":{},\"dimensions\":{},\"tables\":[",
            j(&self.format),
            self.version,
            j(&self.rules),
            self.decimals,
            j(&self.split),
            j(&self.dimensions)
        )?;
        for (i, t) in self.tables.iter().enumerate() {
            if i > 0 {
                write!(w, ",")?;
            }
            write!(
                w,
                "\n{{\"split\":{},\n\"cells\":{},\n\"anchor_den\":{},\n\"anchor\":{},\n\"low\":{},\n\"high\":{},\n\"witnesses\":[",
                j(&t.split),
                j(&t.cells),
                t.anchor_den,
                j(&t.anchor),
                j(&t.low),
                j(&t.high)
            )?;
            for (k, wr) in t.witnesses.iter().enumerate() {
                let sep = if k > 0 { "," } else { "" };
                write!(w, "{sep}\n{}", j(wr))?;
            }
            write!(w, "]}}")?;
        }
        writeln!(w, "]}}")
    }

    /// Reads a certificate file.
    pub fn read(path: &Path) -> Result<Certificate> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let c: Certificate =
            serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
                Error::at(
                    path,
                    Some(e.line() as u64),
                    format!("not a certificate: {e}"),
                )
            })?;
        if c.format != FORMAT || c.version != VERSION {
            return Err(Error::at(
                path,
                None,
                format!(
                    "format '{}' version {}: this cellmask reads '{FORMAT}' version {VERSION}",
                    c.format, c.version
                ),
            ));
        }
        Ok(c)
    }

    /// Witnesses and moves over all tables.
    pub fn size(&self) -> (usize, usize) {
        let w = self.tables.iter().map(|t| t.witnesses.len()).sum();
        let m = self
            .tables
            .iter()
            .flat_map(|t| &t.witnesses)
            .map(|w| w.cells.len())
            .sum();
        (w, m)
    }
}

/// JSON text of any serialisable value.
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).expect("plain data serialises")
        }
    }
}

impl TableCertificate {
    /// One table's evidence; None if a number does not fit in 64 bits.
    fn build(table: &Table, audit: &TableAudit) -> Option<TableCertificate> {
        let p = &audit.proofs;
        let masked: Vec<u32> = (0..table.cells.len() as u32)
            .filter(|&c| table.cells[c as usize].status.is_masked())
            .collect();
        let index: HashMap<u32, u32> = masked
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        let cells = masked
            .iter()
            .map(|&c| {
                table
                    .codes(table.cells[c as usize].key)
                    .into_iter()
                    .map(String::from)
                    .collect()
            })
            .collect();
        let fits = p.fits(table);
        let anchor_of = |c: u32| {
            if fits {
                p.anchor[c as usize]
            } else {
                crate::certify::witness::Q::int(table.cells[c as usize].value as i128)
            }
        };
        let den = masked.iter().fold(1i128, |d, &c| d.lcm(&anchor_of(c).den));
        let anchor = masked
            .iter()
            .map(|&c| {
                let q = anchor_of(c);
                i64::try_from(q.num.checked_mul(den / q.den)?).ok()
            })
            .collect::<Option<Vec<i64>>>()?;
        let claim = |by: By| match by {
            By::Anchor => -1,
            By::Witness(w) => w as i64,
        };
        let (low, high) = if fits {
            (
                masked
                    .iter()
                    .map(|&c| claim(p.low[c as usize].by))
                    .collect(),
                masked
                    .iter()
                    .map(|&c| claim(p.high[c as usize].by))
                    .collect(),
            )
        } else {
            (vec![-1; masked.len()], vec![-1; masked.len()])
        };
        let witnesses = if fits {
            p.witnesses
                .iter()
                .map(|w| {
                    let mut pairs: Vec<(u32, i64)> = w
                        .moves
                        .iter()
                        .map(|&(c, m)| Some((*index.get(&c)?, i64::try_from(m).ok()?)))
                        .collect::<Option<_>>()?;
                    pairs.sort_unstable();
                    Some(WitnessRecord {
                        den: i64::try_from(w.den).ok()?,
                        cells: pairs.iter().map(|p| p.0).collect(),
                        moves: pairs.iter().map(|p| p.1).collect(),
                    })
                })
                .collect::<Option<Vec<_>>>()?
        } else {
            Vec::new()
        };
        Some(TableCertificate {
            split: table.split.clone(),
            cells,
            anchor_den: i64::try_from(den).ok()?,
            anchor,
            low,
            high,
            witnesses,
        })
    }
}
