"""cellmask from Python: protect and audit trade tables with the Rust engine.

``protect(records, rules)`` runs the same pipeline as ``cellmask protect``
(primary secrets, regrouping, secondary suppression, exact audit, checked
certificate) and returns the release as DataFrames; ``audit(published,
rules)`` runs ``cellmask audit`` on a masking, from cellmask or another tool;
``verify(published, rules, certificate)`` checks a release's certificate.

Records and published tables may be pandas or polars DataFrames, pyarrow
Tables or paths to CSV files; results come back as the same kind of
DataFrame (pandas for paths and Arrow). Rules are a rules file, the name of
a shipped rule set (``"national"``, ``"drom-imports"``, ...) or a dict laid
out as the TOML file (relative hierarchy files resolved against
``rules_dir``, by default the current folder).

Code columns are read and returned as text: read your files with
``dtype=str`` (pandas) so that codes such as ``"01"`` keep their zeros.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import _cellmask

__all__ = ["protect", "audit", "verify", "Release", "Audit", "InputError", "UsageError", "Problem"]
__version__ = _cellmask.__version__

#: Settings that cannot work (an unknown method, a rules dict that is no TOML).
UsageError = _cellmask.UsageError

# Columns of the outputs that hold numbers (the others are codes and text).
_NUMERIC = {
    "value",
    "contributors",
    "lower_protection",
    "upper_protection",
    "audit_low",
    "audit_high",
    "published_low",
    "published_high",
    "low",
    "high",
    "shortfall",
}


@dataclass(frozen=True)
class Problem:
    """One input problem: the file (``"<records>"``/``"<published>"`` for a
    DataFrame), its 1-based line, the DataFrame row (0-based, header
    excluded) when the input was one, and the reason."""

    file: str
    line: Optional[int]
    row: Optional[int]
    reason: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.reason}"


class InputError(ValueError):
    """Bad input (records, rules, hierarchies, published table): nothing
    was produced. ``problems`` lists each as a :class:`Problem`."""

    def __init__(self, problems: list, more: str = ""):
        self.problems = problems
        text = "\n".join(str(p) for p in problems) + more
        super().__init__(text)


@dataclass
class Release:
    """What ``protect`` produced. ``published`` is the release table (masked
    cells without value); ``cells`` is internal (contributor counts,
    protection levels: never publish it); ``report`` is ``report.json``."""

    protected: bool
    published: Any
    cells: Any
    report: dict
    regroup: Any = None
    files: dict = field(default_factory=dict)


@dataclass
class Audit:
    """What ``audit`` found: ``passed``, ``cells`` (``audit.csv``: every
    masked cell's interval and verdict) and ``report`` (``report.json``)."""

    passed: bool
    cells: Any
    report: dict
    files: dict = field(default_factory=dict)


def protect(
    records,
    rules,
    *,
    method: Optional[str] = None,
    regroup: bool = True,
    exact_intervals: bool = False,
    rules_dir=None,
    out=None,
) -> Release:
    """Protects records: returns a :class:`Release`.

    ``method``: ``"auto"``, ``"optimal"`` or ``"fast"`` (default: the
    rules'). ``regroup=False`` skips the rules' regrouping. ``out``: a
    folder to keep the output files in (``published.csv``, ``cells.csv``,
    ``certificate.json``, ``report.html``, ...); by default they live in a
    temporary folder, removed once read. When the release is not protected,
    ``published`` is None (no release file is written) and ``report`` says
    why.
    """
    with _Work(out) as work:
        kind = _kind(records)
        input_path = work.table_file(records, "records.csv")
        protected = _call(
            _cellmask.protect,
            {input_path: "<records>"},
            input=str(input_path),
            out=str(work.out),
            method=method,
            regroup=regroup,
            exact_intervals=exact_intervals,
            **_rules_args(rules, rules_dir),
        )
        files = work.files()
        return Release(
            protected=protected,
            published=_read(files.get("published.csv"), kind),
            cells=_read(files.get("cells.csv"), kind),
            report=_read_json(files.get("report.json")),
            regroup=_read(files.get("regroup.csv"), kind),
            files=files if out is not None else {},
        )


def audit(
    published,
    rules,
    *,
    records=None,
    regroup=None,
    exact_intervals: bool = False,
    rules_dir=None,
    out=None,
) -> Audit:
    """Audits a masked table: returns an :class:`Audit`.

    ``published``: the table as released (masked cells with no value, or a
    ``status`` column with cellmask's, τ-ARGUS's or sdcTable's codes).
    With ``records`` every primary cell's protection is checked, otherwise
    only that no masked cell can be recovered exactly. ``regroup``: the
    release's ``regroup.csv`` (a DataFrame or path) when codes were regrouped.
    """
    with _Work(out) as work:
        kind = _kind(published)
        names, args = work.tables(published, records, regroup)
        args.update(out=str(work.out), exact_intervals=exact_intervals, **_rules_args(rules, rules_dir))
        passed = _call(_cellmask.audit, names, **args)
        files = work.files()
        return Audit(
            passed=passed,
            cells=_read(files.get("audit.csv"), kind),
            report=_read_json(files.get("report.json")),
            files=files if out is not None else {},
        )


def verify(published, rules, certificate, *, records=None, regroup=None, rules_dir=None) -> bool:
    """Checks a release's certificate (``certificate.json``, a path) in
    exact arithmetic, without any LP, as ``cellmask verify``: True when
    every claim holds. Without ``records`` only the no-exact-disclosure
    claims and the structure are checked; with them, every protection claim.
    """
    with _Work(None) as work:
        names, args = work.tables(published, records, regroup)
        args.update(certificate=str(certificate), **_rules_args(rules, rules_dir))
        return _call(_cellmask.verify, names, **args)


class _Work:
    """A folder for one call: inputs written there, outputs in ``out``
    (the user's folder, or a subfolder removed at the end)."""

    def __init__(self, out):
        self.tmp = tempfile.mkdtemp(prefix="cellmask-")
        self.out = Path(out) if out is not None else Path(self.tmp) / "out"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def table_file(self, table, name) -> Path:
        """A CSV file of ``table``: the path itself, or the DataFrame written."""
        if isinstance(table, (str, os.PathLike)):
            return Path(table)
        path = Path(self.tmp) / name
        _write_csv(table, path)
        return path

    def tables(self, published, records, regroup):
        """Files of a published table and of the optional records and
        regroup table: what each is called in messages, and the engine's
        arguments."""
        names, args = {}, {}
        for key, table, file, name in (
            ("published", published, "published-in.csv", "<published>"),
            ("input", records, "records.csv", "<records>"),
            ("regroup", regroup, "regroup-in.csv", "<regroup>"),
        ):
            if table is not None:
                path = self.table_file(table, file)
                names[path] = name
                args[key] = str(path)
        return names, args

    def files(self) -> dict:
        if not self.out.is_dir():
            return {}
        return {p.name: p for p in sorted(self.out.iterdir()) if p.is_file()}


def _rules_args(rules, rules_dir) -> dict:
    if isinstance(rules, dict):
        text = _cellmask.rules_toml(json.dumps(rules))
        base = str(rules_dir) if rules_dir is not None else os.getcwd()
        return {"rules_text": text, "rules_base": base}
    if isinstance(rules, (str, os.PathLike)):
        return {"rules": str(rules)}
    raise TypeError("rules: a path, a shipped rule set's name or a dict")


def _call(fn, names: dict, **kwargs):
    """Calls the engine; its input errors name the DataFrames, not our files."""
    try:
        return fn(**kwargs)
    except _cellmask.InputError as e:
        message, problems = e.args
        shown = {str(p): n for p, n in names.items()}
        out = []
        for file, line, reason in problems:
            name = shown.get(file)
            row = line - 2 if name is not None and line is not None and line >= 2 else None
            out.append(Problem(name or file, line, row, reason))
        more = ""
        tail = message.rsplit("\n", 1)[-1]
        if tail.startswith("... and "):
            more = "\n" + tail
        raise InputError(out, more) from None


def _kind(table) -> str:
    module = type(table).__module__.split(".")[0]
    return "polars" if module == "polars" else "pandas"


def _write_csv(table, path: Path) -> None:
    module = type(table).__module__.split(".")[0]
    if module == "pandas":
        table.to_csv(path, index=False)
    elif module == "polars":
        table.write_csv(path)
    elif module == "pyarrow":
        import pyarrow.csv

        pyarrow.csv.write_csv(table, str(path))
    else:
        raise TypeError(
            f"expected a pandas or polars DataFrame, a pyarrow Table or a path, not {type(table).__name__}"
        )


def _read(path, kind):
    """An output CSV as a DataFrame: codes as text, numbers as floats
    (missing where the file has none, as for masked values)."""
    if path is None:
        return None
    if kind == "polars":
        import polars as pl

        df = pl.read_csv(path, infer_schema_length=0)
        return df.with_columns(
            [pl.col(c).cast(pl.Float64, strict=False) for c in df.columns if c in _NUMERIC]
        )
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in df.columns:
        if c in _NUMERIC:
            df[c] = pd.to_numeric(df[c].replace("", None), errors="coerce")
    return df


def _read_json(path):
    if path is None:
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)
