//! `cellmask._cellmask`: the crate's commands for the Python package.
//!
//! A thin layer: each function runs the same library code as the command
//! line (`protect::run` then `write_outputs`, `audit::command::run`,
//! `certify::command::run`) on
//! files, without the GIL; `cellmask/__init__.py` turns DataFrames into
//! those files and the outputs back into DataFrames. Input errors become
//! `InputError(message, [(file, line, reason), ...])`.

use std::path::{Path, PathBuf};

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use cellmask::error::Error;
use cellmask::protect::{self as pipeline, Options};
use cellmask::rules::{Method, Rules};
use cellmask::write::ReleaseFormat;

create_exception!(
    _cellmask,
    InputError,
    PyValueError,
    "Bad input: FILE:LINE: reason each."
);
create_exception!(
    _cellmask,
    UsageError,
    PyValueError,
    "Settings that cannot work."
);

/// The Python exception for a cellmask error.
fn py_err(e: Error) -> PyErr {
    match &e {
        Error::Input(d) => {
            let problems: Vec<(String, Option<u64>, String)> = d
                .kept()
                .iter()
                .map(|p| (p.file.display().to_string(), p.line, p.reason.clone()))
                .collect();
            InputError::new_err((e.to_string(), problems))
        }
        Error::Usage(m) => UsageError::new_err(m.clone()),
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
    }
}

/// Rules from a file or shipped name (`rules`), or from TOML text with
/// hierarchy files resolved against `base`.
fn load_rules(
    rules: Option<PathBuf>,
    text: Option<String>,
    base: Option<PathBuf>,
) -> PyResult<Rules> {
    match (rules, text) {
        (Some(path), None) => Rules::load(&path).map_err(py_err),
        (None, Some(text)) => {
            let base = base.unwrap_or_else(|| PathBuf::from("."));
            Rules::from_text(Path::new("<rules>"), &text, &base).map_err(py_err)
        }
        _ => Err(UsageError::new_err(
            "give the rules as a path or as text, not both",
        )),
    }
}

/// A rules dict (as JSON text) as TOML text, for [`load_rules`].
#[pyfunction]
fn rules_toml(json: &str) -> PyResult<String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| UsageError::new_err(format!("rules: {e}")))?;
    toml::to_string(&value).map_err(|e| UsageError::new_err(format!("rules: {e}")))
}

/// Runs `protect` on a records file into folder `out`; returns whether the
/// release is protected (its files are written only then).
#[pyfunction]
#[pyo3(signature = (input, out, rules=None, rules_text=None, rules_base=None, method=None, regroup=true, exact_intervals=false))]
#[allow(clippy::too_many_arguments)]
fn protect(
    py: Python<'_>,
    input: PathBuf,
    out: PathBuf,
    rules: Option<PathBuf>,
    rules_text: Option<String>,
    rules_base: Option<PathBuf>,
    method: Option<String>,
    regroup: bool,
    exact_intervals: bool,
) -> PyResult<bool> {
    let rules = load_rules(rules, rules_text, rules_base)?;
    let method = match method.as_deref() {
        None => None,
        Some("auto") => Some(Method::Auto),
        Some("optimal") => Some(Method::Optimal),
        Some("fast") => Some(Method::Fast),
        Some(m) => {
            return Err(UsageError::new_err(format!(
                "method '{m}': expected auto, optimal or fast"
            )))
        }
    };
    let opts = Options {
        quiet: true,
        method,
        no_regroup: !regroup,
        exact_intervals,
        release: ReleaseFormat::Csv,
        ..Options::default()
    };
    py.allow_threads(|| {
        cellmask::write::check_out_dir(&out)?;
        let mut run = pipeline::run(&rules, &input, &opts)?;
        pipeline::write_outputs(&mut run, &out, rules.input.decimals, opts.release, false)?;
        Ok(run.protected())
    })
    .map_err(py_err)
}

/// Runs `audit` on a published file into folder `out`; returns whether the
/// masking passed.
#[pyfunction]
#[pyo3(signature = (published, out, rules=None, rules_text=None, rules_base=None, input=None, regroup=None, exact_intervals=false))]
#[allow(clippy::too_many_arguments)]
fn audit(
    py: Python<'_>,
    published: PathBuf,
    out: PathBuf,
    rules: Option<PathBuf>,
    rules_text: Option<String>,
    rules_base: Option<PathBuf>,
    input: Option<PathBuf>,
    regroup: Option<PathBuf>,
    exact_intervals: bool,
) -> PyResult<bool> {
    let rules = load_rules(rules, rules_text, rules_base)?;
    py.allow_threads(|| {
        cellmask::write::check_out_dir(&out)?;
        cellmask::audit::command::run(
            &rules,
            &published,
            input.as_deref(),
            regroup.as_deref(),
            Some(&out),
            exact_intervals,
            true,
        )
    })
    .map(|code| code == 0)
    .map_err(py_err)
}

/// Runs `verify` on a published file and its certificate, in exact
/// arithmetic and without any LP; returns whether every claim holds.
#[pyfunction]
#[pyo3(signature = (published, certificate, rules=None, rules_text=None, rules_base=None, input=None, regroup=None))]
#[allow(clippy::too_many_arguments)]
fn verify(
    py: Python<'_>,
    published: PathBuf,
    certificate: PathBuf,
    rules: Option<PathBuf>,
    rules_text: Option<String>,
    rules_base: Option<PathBuf>,
    input: Option<PathBuf>,
    regroup: Option<PathBuf>,
) -> PyResult<bool> {
    let rules = load_rules(rules, rules_text, rules_base)?;
    py.allow_threads(|| {
        cellmask::certify::command::run(
            &rules,
            &published,
            &certificate,
            input.as_deref(),
            regroup.as_deref(),
            true,
        )
    })
    .map(|code| code == 0)
    .map_err(py_err)
}

/// The module: `protect`, `audit`, `verify`, `rules_toml` and the two exceptions.
#[pymodule]
fn _cellmask(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(protect, m)?)?;
    m.add_function(wrap_pyfunction!(audit, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(rules_toml, m)?)?;
    m.add("InputError", m.py().get_type::<InputError>())?;
    m.add("UsageError", m.py().get_type::<UsageError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
