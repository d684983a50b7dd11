//! Output files (SPEC section 3), written atomically: every file goes to a
//! temporary file in the output folder first, and all are renamed into
//! place only once all were written, so a failed run leaves no partial file.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::certify::why::Protects;
use crate::error::{Error, Result};
use crate::money::{format_amount, format_bound};
use crate::table::Table;

/// A set of files to replace together in one folder.
pub struct AtomicDir {
    dir: PathBuf,
    pending: Vec<(PathBuf, NamedTempFile)>,
    remove: Vec<PathBuf>,
}

impl AtomicDir {
    /// Prepares `dir`, creating it if needed.
    pub fn new(dir: &Path) -> Result<AtomicDir> {
        check_out_dir(dir)?;
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(AtomicDir {
            dir: dir.to_path_buf(),
            pending: Vec::new(),
            remove: Vec::new(),
        })
    }

    /// Writes `name` through `fill` into a temporary file.
    pub fn write(
        &mut self,
        name: &str,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let target = self.dir.join(name);
        let tmp = NamedTempFile::with_prefix_in(format!(".{name}."), &self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        let mut w = BufWriter::with_capacity(1 << 16, tmp);
        fill(&mut w).map_err(|e| Error::io(&target, e))?;
        let tmp = w
            .into_inner()
            .map_err(|e| Error::io(&target, e.into_error()))?;
        // Temporary files are private; outputs get the usual permissions.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
                .map_err(|e| Error::io(&target, e))?;
        }
        self.pending.push((target, tmp));
        Ok(())
    }

    /// Removes `name` at commit time (a stale release file from an earlier run).
    pub fn remove(&mut self, name: &str) {
        self.remove.push(self.dir.join(name));
    }

    /// Marks for removal every file of the folder whose name starts with
    /// `prefix` and that this run does not write (stale outputs of an
    /// option not given this time).
    pub fn remove_stale(&mut self, prefix: &str) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut stale: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
                    && !self.pending.iter().any(|(t, _)| t == p)
            })
            .collect();
        stale.sort();
        self.remove.extend(stale);
    }

    /// Renames every written file into place and removes the stale ones.
    pub fn commit(self) -> Result<()> {
        for p in &self.remove {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(p, e)),
            }
        }
        for (target, tmp) in self.pending {
            tmp.persist(&target)
                .map_err(|e| Error::io(&target, e.error))?;
        }
        Ok(())
    }
}

/// Which dimensions' columns the outputs hold: names, and whether each
/// has a `<name>_label` column beside its codes.
#[derive(Debug, Clone, Copy)]
pub struct DimColumns<'a> {
    pub names: &'a [String],
    pub labels: &'a [bool],
}

impl DimColumns<'_> {
    /// The dimension columns of the header.
    fn header(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (k, n) in self.names.iter().enumerate() {
            out.push(n.clone());
            if self.labels.get(k).copied().unwrap_or(false) {
                out.push(format!("{n}_label"));
            }
        }
        out
    }

    /// A cell's dimension fields: codes, and labels where asked.
    fn fields(&self, t: &Table, key: u64) -> Vec<String> {
        let coords = t.coords(key);
        let mut out = Vec::new();
        for (k, h) in t.dims.iter().enumerate() {
            out.push(h.code(coords[k]).to_string());
            if self.labels.get(k).copied().unwrap_or(false) {
                out.push(h.label(coords[k]).to_string());
            }
        }
        out
    }
}

/// Whether `dir` can be an output folder (it is not a file): checked by
/// the commands before any work, and again when writing.
pub fn check_out_dir(dir: &Path) -> Result<()> {
    if dir.is_file() {
        return Err(Error::usage(format!(
            "--out {}: is a file; --out names a folder (created if needed)",
            dir.display()
        )));
    }
    Ok(())
}

fn header(names: &[String], dims: DimColumns, rest: &[&str]) -> Vec<String> {
    names
        .iter()
        .cloned()
        .chain(dims.header())
        .chain(rest.iter().map(|s| s.to_string()))
        .collect()
}

/// `cells.csv`: the internal file, every cell with its status, rules,
/// protection levels and audit interval, and for a secondary cell the
/// primary cells it protects (`why`: per table, per masked cell in table
/// order, from [`crate::certify::why`]; None without a certificate).
pub fn cells_csv(
    w: &mut dyn Write,
    split_names: &[String],
    dim_names: DimColumns,
    tables: &[Table],
    decimals: u32,
    why: Option<&[Vec<Protects>]>,
) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(header(
        split_names,
        dim_names,
        &[
            "value",
            "contributors",
            "status",
            "rule",
            "lower_protection",
            "upper_protection",
            "audit_low",
            "audit_high",
            "protects",
        ],
    ))?;
    for (i, t) in tables.iter().enumerate() {
        let masked: Vec<u32> = (0..t.cells.len() as u32)
            .filter(|&c| t.cells[c as usize].status.is_masked())
            .collect();
        let mut m = 0;
        for c in &t.cells {
            let mut row: Vec<String> = t.split.clone();
            row.extend(dim_names.fields(t, c.key));
            row.push(format_amount(c.value, decimals));
            row.push(c.contributors.to_string());
            row.push(c.status.as_str().into());
            row.push(c.rules.names());
            if c.rules.is_empty() {
                row.extend([String::new(), String::new()]);
            } else {
                row.push(format_amount(c.lower_protection, decimals));
                row.push(format_amount(c.upper_protection, decimals));
            }
            match c.audit {
                Some((lo, hi)) => {
                    row.push(format_bound(lo, decimals, true));
                    row.push(format_bound(hi, decimals, false));
                }
                None => row.extend([String::new(), String::new()]),
            }
            let mut protects = String::new();
            if c.status.is_masked() {
                if let Some(p) = why.and_then(|w| w.get(i)).and_then(|w| w.get(m)) {
                    protects = protects_field(t, &masked, p);
                }
                m += 1;
            }
            row.push(protects);
            out.write_record(&row)?;
        }
    }
    out.flush()
}

/// The `protects` field: primary cells by codes (` x ` between
/// dimensions, `; ` between cells), how many more, and `via` when no
/// witness moves them with the cell itself.
fn protects_field(t: &Table, masked: &[u32], p: &Protects) -> String {
    if p.total == 0 {
        return String::new();
    }
    let names: Vec<String> = p
        .cells
        .iter()
        .map(|&i| {
            t.codes(t.cells[masked[i as usize] as usize].key)
                .join(" x ")
        })
        .collect();
    let mut out = names.join("; ");
    if p.total > p.cells.len() {
        out.push_str(&format!(" (+{} more)", p.total - p.cells.len()));
    }
    if !p.direct {
        out = format!("via {out}");
    }
    out
}

/// How the release is written (`--release-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReleaseFormat {
    /// `published.csv`: `,` and `.` decimals, UTF-8.
    #[default]
    Csv,
    /// `published.csv` as French Excel opens it: `;`, decimal comma, UTF-8
    /// with a byte order mark (cellmask audit and verify read it as is).
    CsvFr,
    /// `published.csv`, and `published.xlsx`: a sheet per table, codes as
    /// text, values as numbers, masked cells marked `s`.
    Xlsx,
}

/// The mark of a masked cell in `published.xlsx` (`s`: secret
/// statistique, as French official statistics mark secret cells).
pub const MASKED_MARK: &str = "s";

/// `published.csv`: the release file. Masked cells have an empty value and
/// status `masked`; it never says which are primary, and holds no
/// contributor id or count. `french`: `;`, decimal comma, byte order mark.
pub fn published_csv(
    w: &mut dyn Write,
    split_names: &[String],
    dim_names: DimColumns,
    tables: &[Table],
    decimals: u32,
    french: bool,
) -> std::io::Result<()> {
    if french {
        w.write_all("\u{feff}".as_bytes())?;
    }
    let mut out = csv::WriterBuilder::new()
        .delimiter(if french { b';' } else { b',' })
        .from_writer(w);
    out.write_record(header(split_names, dim_names, &["value", "status"]))?;
    for t in tables {
        for c in &t.cells {
            let mut row: Vec<String> = t.split.clone();
            row.extend(dim_names.fields(t, c.key));
            if c.status.is_masked() {
                row.extend([String::new(), "masked".into()]);
            } else {
                let v = format_amount(c.value, decimals);
                let v = if french { v.replace('.', ",") } else { v };
                row.extend([v, "published".into()]);
            }
            out.write_record(&row)?;
        }
    }
    out.flush()
}

/// `published.xlsx`: the release as a workbook, a sheet per table (named
/// by its split values), the same columns as `published.csv`; codes as
/// text (a leading zero stays), values as numbers with their decimals,
/// masked cells `s`. Deterministic: the creation date is fixed.
pub fn published_xlsx(
    dim_names: DimColumns,
    tables: &[Table],
    decimals: u32,
) -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let created = ExcelDateTime::from_ymd(2000, 1, 1)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    let zeros = "0".repeat(decimals as usize);
    let number = Format::new().set_num_format(if decimals == 0 {
        "#,##0".to_string()
    } else {
        format!("#,##0.{zeros}")
    });
    let scale = 10f64.powi(decimals as i32);
    let head = header(&[], dim_names, &["value", "status"]);
    let mut used: Vec<String> = Vec::new();
    for t in tables {
        let sheet = book.add_worksheet();
        sheet.set_name(sheet_name(&t.split, &mut used))?;
        for (j, h) in head.iter().enumerate() {
            sheet.write_string_with_format(0, j as u16, h, &bold)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        let value_col = (head.len() - 2) as u16;
        for (i, c) in t.cells.iter().enumerate() {
            let r = i as u32 + 1;
            for (j, f) in dim_names.fields(t, c.key).iter().enumerate() {
                sheet.write_string_with_format(r, j as u16, f, &text)?;
            }
            if c.status.is_masked() {
                sheet.write_string(r, value_col, MASKED_MARK)?;
                sheet.write_string(r, value_col + 1, "masked")?;
            } else {
                sheet.write_number_with_format(r, value_col, c.value as f64 / scale, &number)?;
                sheet.write_string(r, value_col + 1, "published")?;
            }
        }
        sheet.set_column_width(value_col, 16)?;
    }
    book.save_to_buffer()
}

/// A sheet's name: the table's split values (`I`, `RE-I`), made valid for
/// Excel (31 characters, no `[]:*?/\`) and unique.
fn sheet_name(split: &[String], used: &mut Vec<String>) -> String {
    let base: String = if split.is_empty() {
        "release".to_string()
    } else {
        split.join("-")
    };
    let clean: String = base
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(28)
        .collect();
    let mut name = clean.clone();
    let mut k = 2;
    while used.iter().any(|u| u.eq_ignore_ascii_case(&name)) {
        name = format!("{clean}~{k}");
        k += 1;
    }
    used.push(name.clone());
    name
}

/// Writes a value as pretty JSON with a final newline.
pub fn json<T: serde::Serialize>(w: &mut dyn Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, value)?;
    writeln!(w)
}
