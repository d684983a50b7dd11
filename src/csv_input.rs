//! The one place CSV readers are set up (as xsv's `Config`): records,
//! published tables, hierarchies, correspondences, regroup, force and
//! tabular files all read through a [`Config`], so delimiters, a byte order
//! mark, header handling, ragged rows and trimming mean the same everywhere.
//!
//! ```
//! use cellmask::csv_input::{detect_delimiter, Config};
//!
//! let text = "\u{feff}code;parent\nA; TOTAL\n";
//! let mut rdr = Config::new()
//!     .delimiter(detect_delimiter(b"code;parent"))
//!     .trim()
//!     .text(text);
//! assert_eq!(rdr.headers().unwrap().get(0), Some("code"));
//! let row = rdr.records().next().unwrap().unwrap();
//! assert_eq!(row.get(1), Some("TOTAL"));
//! ```

use std::io::Read;

/// How a CSV input is read. [`Config::new`]: `,`, a header line, every row
/// as wide as the header, fields as written.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    delimiter: u8,
    headers: bool,
    flexible: bool,
    trim: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

impl Config {
    /// `,`, a header line, rows as wide as the header, fields untrimmed.
    pub fn new() -> Config {
        Config {
            delimiter: b',',
            headers: true,
            flexible: false,
            trim: false,
        }
    }

    /// Fields separated by `delimiter`.
    pub fn delimiter(self, delimiter: u8) -> Config {
        Config { delimiter, ..self }
    }

    /// The first line is a row like the others (the caller reads headers
    /// itself, or there are none).
    pub fn no_headers(self) -> Config {
        Config {
            headers: false,
            ..self
        }
    }

    /// Rows may have more or fewer fields than the first.
    pub fn flexible(self) -> Config {
        Config {
            flexible: true,
            ..self
        }
    }

    /// Spaces around every field (and header) are dropped.
    pub fn trim(self) -> Config {
        Config { trim: true, ..self }
    }

    /// A reader over `reader` (a byte order mark already skipped).
    pub fn reader<R: Read>(&self, reader: R) -> csv::Reader<R> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(self.headers)
            .flexible(self.flexible)
            .trim(if self.trim {
                csv::Trim::All
            } else {
                csv::Trim::None
            })
            .from_reader(reader)
    }

    /// A reader over text in memory, its byte order mark skipped.
    pub fn text<'a>(&self, text: &'a str) -> csv::Reader<&'a [u8]> {
        self.reader(strip_bom(text).as_bytes())
    }
}

/// `text` without a leading UTF-8 byte order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The delimiter of a header line: whichever of `,`, `;` and tab it
/// holds most (`,` when none).
pub fn detect_delimiter(header: &[u8]) -> u8 {
    let count = |d: u8| header.iter().filter(|&&b| b == d).count();
    let mut best = b',';
    let mut best_n = count(b',');
    for d in [b';', b'\t'] {
        let n = count(d);
        if n > best_n {
            best = d;
            best_n = n;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_detected() {
        assert_eq!(detect_delimiter(b"a,b,c"), b',');
        assert_eq!(detect_delimiter(b"a;b;c"), b';');
        assert_eq!(detect_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(detect_delimiter(b"a;b,c;d"), b';');
        assert_eq!(detect_delimiter(b"abc"), b',');
    }

    #[test]
    fn ragged_rows_only_when_flexible() {
        let text = "a,b\n1,2,3\n";
        assert!(Config::new().text(text).records().next().unwrap().is_err());
        let row = Config::new().flexible().text(text).records().next();
        assert_eq!(row.unwrap().unwrap().len(), 3);
    }
}
