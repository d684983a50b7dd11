//! Errors and exit codes.
//!
//! cellmask distinguishes three outcomes for the user (SPEC section 2):
//! exit 0 when the work is done and the audit passed, exit 1 when a
//! protection failure was found, exit 2 for bad input or usage. Bad input is
//! reported as a list of `FILE:LINE: reason` diagnostics, all of them up to a
//! cap, so that a user can fix a file in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

/// How many diagnostics are printed before the rest are only counted.
pub const MAX_DIAGNOSTICS: usize = 50;

/// Everything that stops a command before it has written anything.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more problems in user-supplied files (records, rules, hierarchies).
    #[error("{0}")]
    Input(Diagnostics),
    /// A command line or configuration that cannot work.
    #[error("{0}")]
    Usage(String),
    /// A file that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code for this error (SPEC section 2: 2 = bad input or usage).
    pub fn exit_code(&self) -> i32 {
        2
    }

    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A single input problem at a place in a file.
    pub fn at(file: impl AsRef<Path>, line: Option<u64>, reason: impl Into<String>) -> Self {
        let mut d = Diagnostics::default();
        d.push(file, line, reason);
        Error::Input(d)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One input problem: where it is and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line of the file, when the problem has one.
    pub line: Option<u64>,
    pub reason: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match self.line {
            Some(l) => write!(f, "{file}:{l}: {}", self.reason),
            None => write!(f, "{file}: {}", self.reason),
        }
    }
}

/// A list of input problems, each `FILE:LINE: reason`. Only the first
/// [`MAX_DIAGNOSTICS`] are kept; the others are counted.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    /// In the order found.
    shown: Vec<Diagnostic>,
    total: usize,
}

impl Diagnostics {
    pub fn push(&mut self, file: impl AsRef<Path>, line: Option<u64>, reason: impl Into<String>) {
        self.total += 1;
        if self.shown.len() < MAX_DIAGNOSTICS {
            self.shown.push(Diagnostic {
                file: file.as_ref().to_path_buf(),
                line,
                reason: reason.into(),
            });
        }
    }

    /// Moves every problem's line by `by` (a file read through a converted
    /// copy with extra lines names the original's lines).
    pub fn shift_lines(&mut self, by: i64) {
        for d in &mut self.shown {
            d.line = d.line.map(|l| l.saturating_add_signed(by).max(1));
        }
    }

    /// The problems kept (the first [`MAX_DIAGNOSTICS`]), in order.
    pub fn kept(&self) -> &[Diagnostic] {
        &self.shown
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn len(&self) -> usize {
        self.total
    }

    /// Merges lists found in parts of one file, in line order.
    pub fn merge_by_line(parts: impl IntoIterator<Item = Diagnostics>) -> Diagnostics {
        let mut all = Diagnostics::default();
        for p in parts {
            all.total += p.total;
            all.shown.extend(p.shown);
        }
        all.shown.sort_by_key(|d| d.line);
        all.shown.truncate(MAX_DIAGNOSTICS);
        all
    }

    /// `Ok(())` when empty, the input error otherwise.
    pub fn into_result(self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Input(self))
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.shown.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        let hidden = self.total - self.shown.len();
        if hidden > 0 {
            write!(f, "\n... and {hidden} more problem(s)")?;
        }
        Ok(())
    }
}
