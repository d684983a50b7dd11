//! Command line: argument parsing and dispatch to the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::generate::{self, Profile, Settings};
use crate::protect::{self, Options};
use crate::rules::{Method, Rules};
use crate::write::{AtomicDir, ReleaseFormat};

/// Confidentiality control for hierarchical trade tables: primary secrets,
/// regrouping, secondary suppression with HiGHS, and the audit.
#[derive(Debug, Parser)]
#[command(name = "cellmask", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline on a built-in DROM-like example.
    Demo {
        /// Folder for the example's records and outputs (default: a new temporary folder).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Protect a records file: primary secrets, regrouping, secondary suppression, audit, outputs.
    Protect {
        /// Rules file (TOML), e.g. rules/national.toml.
        #[arg(long)]
        rules: PathBuf,
        /// Records file (CSV).
        #[arg(long)]
        input: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Protect many records files, each into its own folder under --out, in
    /// parallel; a summary table at the end (also summary.csv).
    Batch {
        /// Rules file (TOML), e.g. rules/drom-imports.toml.
        #[arg(long)]
        rules: PathBuf,
        /// Output folder: one subfolder per file (named after it) and summary.csv.
        #[arg(long)]
        out: PathBuf,
        /// Records files, folders (every .csv inside) or patterns such as 'data/*.csv'.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// One page of fact sheets over several releases of the same
    /// territories or departments (a DROM year's imports and exports).
    Report {
        /// Release folders (made by protect or batch).
        #[arg(required = true)]
        releases: Vec<PathBuf>,
        /// The rules of each release, in the same order (default: the
        /// shipped rule set each release's report.json names).
        #[arg(long)]
        rules: Vec<PathBuf>,
        /// Output folder for report.html.
        #[arg(long)]
        out: PathBuf,
        /// No message at the end.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Audit a masked table (from cellmask or another tool): the attacker's
    /// interval of every masked cell, exact disclosures, and with the
    /// records, the protection of every primary cell.
    Audit {
        /// Rules file (TOML) describing the table.
        #[arg(long)]
        rules: PathBuf,
        /// The masked table (CSV): split and dimension columns, value, optional status.
        #[arg(long)]
        published: PathBuf,
        /// The original records, to check primary cells' protection levels.
        #[arg(long)]
        input: Option<PathBuf>,
        /// The `regroup.csv` of a regrouped release: which codes were
        /// published under which code (needed when the release has regrouped codes).
        #[arg(long)]
        regroup: Option<PathBuf>,
        /// Folder for audit.csv and report.json.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Solve the attacker's exact interval of every masked cell (one or
        /// two LPs per cell: slow on big tables); by default the audit
        /// proves the verdict and writes, per masked cell, a range the
        /// attacker's interval contains (exact for failing cells when the
        /// records are given).
        #[arg(long)]
        exact_intervals: bool,
        /// Worker threads (default: all cores). Results never depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check a release's certificate in exact arithmetic (no LP solver):
    /// exit 0 when every claim holds, 1 naming the cells whose claim fails.
    Verify {
        /// Rules file (TOML) describing the table.
        #[arg(long)]
        rules: PathBuf,
        /// The release (published.csv).
        #[arg(long)]
        published: PathBuf,
        /// The certificate written beside it (certificate.json).
        #[arg(long)]
        certificate: PathBuf,
        /// The original records: recompute primary cells and their levels and
        /// check every protection claim (without: exact disclosure only).
        #[arg(long)]
        input: Option<PathBuf>,
        /// The `regroup.csv` of a regrouped release.
        #[arg(long)]
        regroup: Option<PathBuf>,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write realistic synthetic records.
    Generate {
        #[arg(long, value_enum)]
        profile: Profile,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Size relative to a real year (1.0); 0.01 makes a small file.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Reference year written in DROM records.
        #[arg(long, default_value_t = 2025)]
        year: u32,
        /// Output CSV file.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Print a rules file equivalent to a τ-ARGUS metadata file (.rda) for
    /// a table, to edit and use with the .asc data file as --input.
    RulesFromRda {
        /// The τ-ARGUS metadata file.
        #[arg(long)]
        rda: PathBuf,
        /// The table's spanning variables, in order (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        dimensions: Vec<String>,
        /// The response variable (the value of the cells).
        #[arg(long)]
        value: String,
    },
}

/// Options every protecting command takes (SPEC section 2).
#[derive(Debug, Args)]
pub struct Common {
    /// Secondary suppression method (default: the rules', `auto` if unset):
    /// `optimal` (exact, small tables), `fast` (any size), `auto` (by size).
    #[arg(long, value_enum)]
    pub method: Option<Method>,
    /// Worker threads (default: all cores). Results never depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Seconds the exact method may spend per table; past it, the best
    /// protected masking found is kept and its optimality gap reported.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Skip regrouping (treatment 1) even when the rules plan it: secrets go
    /// straight to secondary suppression (to compare).
    #[arg(long)]
    pub no_regroup: bool,
    /// Write the attacker's exact interval of every masked cell in
    /// cells.csv (one or two LPs per cell); by default the audit proves the
    /// verdict and writes, per masked cell, a range the attacker's interval
    /// contains.
    #[arg(long)]
    pub exact_intervals: bool,
    /// How the release is written: `csv` (`,` and `.`), `csv-fr`
    /// (`published.csv` with `;`, decimal comma and a byte order mark, as
    /// French Excel opens it), `xlsx` (`published.csv` and
    /// `published.xlsx`, a sheet per table, codes as text).
    #[arg(long, value_enum, default_value = "csv")]
    pub release_format: ReleaseFormat,
    /// Also write every table in τ-ARGUS's layouts (internal files, like
    /// cells.csv): tau_<table>.txt (code-value with τ-ARGUS status numbers:
    /// 1 safe, 3 or 5 primary, 11 secondary), tau_<table>.tab and .rda
    /// (tabular input) and tau_<dimension>.hrc.
    #[arg(long)]
    pub tau_argus: bool,
}

impl Common {
    fn apply(&self) -> Result<Options> {
        set_jobs(self.jobs)?;
        if let Some(t) = self.time_limit {
            if t.is_nan() || t <= 0.0 {
                return Err(Error::usage("--time-limit must be positive"));
            }
        }
        Ok(Options {
            quiet: self.quiet,
            method: self.method,
            time_limit: self.time_limit,
            no_regroup: self.no_regroup,
            exact_intervals: self.exact_intervals,
            release: self.release_format,
            tau_argus: self.tau_argus,
        })
    }
}

/// Sizes the worker pool (`--jobs`); all cores when not given.
fn set_jobs(jobs: Option<usize>) -> Result<()> {
    if let Some(j) = jobs {
        if j == 0 {
            return Err(Error::usage("--jobs must be at least 1"));
        }
        // Only the first call in a process sets the pool; later calls keep it.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(j)
            .build_global();
    }
    Ok(())
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    // A bad --out is said before any work.
    let out = match &cli.command {
        Command::Demo { out, .. } | Command::Audit { out, .. } => out.clone(),
        Command::Protect { out, .. } | Command::Batch { out, .. } | Command::Report { out, .. } => {
            Some(out.clone())
        }
        _ => None,
    };
    if let Some(out) = out {
        crate::write::check_out_dir(&out)?;
    }
    match cli.command {
        Command::Demo { out, common } => {
            let opts = common.apply()?;
            crate::demo::run(out.as_deref(), &opts)
        }
        Command::Protect {
            rules,
            input,
            out,
            common,
        } => {
            let opts = common.apply()?;
            let rules = Rules::load(&rules)?;
            let mut run = protect::run(&rules, &input, &opts)?;
            protect::write_outputs(
                &mut run,
                &out,
                rules.input.decimals,
                opts.release,
                opts.tau_argus,
            )?;
            if !opts.quiet {
                println!("{}", protect::summary(&run));
            }
            Ok(if run.protected() { 0 } else { 1 })
        }
        Command::Batch {
            rules,
            out,
            inputs,
            common,
        } => {
            let opts = common.apply()?;
            let rules = Rules::load(&rules)?;
            let outcomes = crate::batch::run(&rules, &inputs, &out, &opts)?;
            if !opts.quiet {
                println!("{}", crate::batch::summary_text(&outcomes));
            }
            Ok(crate::batch::exit_code(&outcomes))
        }
        Command::Report {
            releases,
            rules,
            out,
            quiet,
        } => crate::sheets::run(&releases, &rules, &out, quiet),
        Command::Audit {
            rules,
            published,
            input,
            regroup,
            out,
            exact_intervals,
            jobs,
            quiet,
        } => {
            set_jobs(jobs)?;
            let rules = Rules::load(&rules)?;
            crate::audit::command::run(
                &rules,
                &published,
                input.as_deref(),
                regroup.as_deref(),
                out.as_deref(),
                exact_intervals,
                quiet,
            )
        }
        Command::Verify {
            rules,
            published,
            certificate,
            input,
            regroup,
            quiet,
        } => {
            let rules = Rules::load(&rules)?;
            crate::certify::command::run(
                &rules,
                &published,
                &certificate,
                input.as_deref(),
                regroup.as_deref(),
                quiet,
            )
        }
        Command::RulesFromRda {
            rda,
            dimensions,
            value,
        } => {
            let text = std::fs::read_to_string(&rda).map_err(|e| Error::io(&rda, e))?;
            let meta = crate::tau::Rda::parse(&text)
                .map_err(|(line, m)| Error::at(&rda, Some(line as u64), m))?;
            let name = rda
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let toml = meta
                .rules_toml(&name, &dimensions, &value)
                .map_err(|m| Error::at(&rda, None, m))?;
            print!("{toml}");
            Ok(0)
        }
        Command::Generate {
            profile,
            seed,
            scale,
            year,
            out,
            quiet,
        } => {
            if scale.is_nan() || scale <= 0.0 {
                return Err(Error::usage("--scale must be positive"));
            }
            let settings = Settings {
                profile,
                seed,
                scale,
                year,
            };
            let parent = out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let name = out
                .file_name()
                .ok_or_else(|| Error::usage("--out must name a file"))?
                .to_string_lossy()
                .into_owned();
            let mut dir = AtomicDir::new(parent)?;
            let mut written = generate::Written::default();
            dir.write(&name, |w| {
                written = generate::generate(&settings, w)?;
                Ok(())
            })?;
            dir.commit()?;
            if !quiet {
                println!("{} records written to {}", written.records, out.display());
            }
            Ok(0)
        }
    }
}
