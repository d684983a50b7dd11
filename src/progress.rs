//! Progress bars on a terminal, nothing when output is not a terminal or
//! `--quiet` is given (SPEC section 2).

use std::io::{IsTerminal, Read};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that draws only on a terminal.
pub struct Progress(ProgressBar);

impl Progress {
    fn hidden_unless_terminal(bar: ProgressBar, quiet: bool) -> ProgressBar {
        if quiet || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar
    }

    /// A bar over bytes read.
    pub fn bytes(len: u64, what: &str, quiet: bool) -> Progress {
        let bar = Self::hidden_unless_terminal(ProgressBar::new(len), quiet);
        bar.set_style(
            ProgressStyle::with_template("{msg:10} [{bar:30}] {bytes}/{total_bytes} {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        Progress(bar)
    }

    /// A bar over a count of items; its elapsed time keeps running between
    /// items (one table's secondary suppression can take minutes).
    pub fn items(len: u64, what: &str, quiet: bool) -> Progress {
        let bar = Self::hidden_unless_terminal(ProgressBar::new(len), quiet);
        bar.set_style(
            ProgressStyle::with_template("{msg:10} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(500));
        Progress(bar)
    }

    /// A bar over masked cells settled, with the elapsed time (long
    /// audits). No time left is guessed: the last cells, each with its own
    /// LPs, are the slow ones, so a rate-based guess misleads.
    pub fn cells(len: u64, what: &str, quiet: bool) -> Progress {
        let bar = Self::hidden_unless_terminal(ProgressBar::new(len), quiet);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:10} [{bar:30}] {pos}/{len} masked cells settled, {elapsed}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(500));
        Progress(bar)
    }

    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    pub fn wrap_read<R: Read>(&self, r: R) -> impl Read {
        self.0.wrap_read(r)
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress {
    /// A bar over files, with a message (tables done) after the count.
    pub fn files(len: u64, quiet: bool) -> Progress {
        let bar = Self::hidden_unless_terminal(ProgressBar::new(len), quiet);
        bar.set_style(
            ProgressStyle::with_template("files [{bar:30}] {pos}/{len}  {msg}  {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(500));
        Progress(bar)
    }

    pub fn set_message(&self, msg: String) {
        self.0.set_message(msg);
    }
}
