"""The Python package against the command line: same release, same audit."""

import math
import random
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import cellmask

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "release" / "cellmask"

RULES = {
    "name": "py-test",
    "input": {"contributor": "operator", "value": "value", "decimals": 2, "split": ["flow"]},
    "dimension": [
        {"name": "product", "prefix": [2, 4], "root": "TOTAL"},
        {"name": "country", "flat": True, "root": "WORLD"},
    ],
    "primary": {"min_contributors": 3, "dominance": [{"n": 1, "k": 85}]},
    "protection": {"safety_range": 10, "lower_factor": 1.0},
    "secondary": {"method": "auto", "cost": "value"},
}

RULES_TOML = """name = "py-test"
[input]
contributor = "operator"
value = "value"
decimals = 2
split = ["flow"]
[[dimension]]
name = "product"
prefix = [2, 4]
root = "TOTAL"
[[dimension]]
name = "country"
flat = true
root = "WORLD"
[primary]
min_contributors = 3
dominance = [{ n = 1, k = 85 }]
[protection]
safety_range = 10
lower_factor = 1.0
[secondary]
method = "auto"
cost = "value"
"""


def records(n=400, seed=7):
    """Synthetic declarations: 12 products in 3 chapters, 6 partners, 40 operators."""
    rng = random.Random(seed)
    products = [f"{c:02d}{h:02d}" for c in (1, 27, 84) for h in (1, 2, 3, 4)]
    rows = []
    for _ in range(n):
        rows.append(
            {
                "flow": rng.choice("IE"),
                "product": rng.choice(products),
                "country": rng.choice(["DE", "ES", "IT", "US", "CN", "BE"]),
                "operator": f"OP{rng.randrange(40):03d}",
                "value": f"{rng.lognormvariate(8, 2):.2f}",
            }
        )
    return pd.DataFrame(rows, dtype=str)


def cli_protect(tmp_path, *options):
    """`cellmask protect` on records() with RULES_TOML; returns its output folder."""
    csv = tmp_path / "records.csv"
    records().to_csv(csv, index=False)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES_TOML)
    out = tmp_path / "out"
    subprocess.run(
        [BINARY, "protect", "--quiet", *options, "--rules", rules, "--input", csv, "--out", out],
        check=True,
    )
    return out


@pytest.fixture(scope="module")
def release():
    return cellmask.protect(records(), RULES)


def masked(df):
    return df[df["status"] != "published"]


def test_protect_returns_the_release_as_dataframes(release):
    assert release.protected
    assert release.report["verdict"] == "protected"
    pub = release.published
    assert list(pub.columns) == ["flow", "product", "country", "value", "status"]
    # Codes stay text ("01" keeps its zero); masked cells have no value.
    assert "01" in set(pub["product"])
    assert len(masked(pub)) > 0
    assert masked(pub)["value"].isna().all()
    assert pub[pub["status"] == "published"]["value"].notna().all()
    # Nothing of the contributors in the release.
    assert not {"operator", "contributors"} & set(pub.columns)
    assert set(release.cells["status"]) >= {"primary", "secondary", "published"}
    assert release.cells["contributors"].min() >= 0


@pytest.mark.skipif(not BINARY.exists(), reason="the release binary is built by cargo test --release")
def test_same_release_as_the_command_line(release, tmp_path):
    out = cli_protect(tmp_path)
    cli = pd.read_csv(out / "published.csv", dtype=str, keep_default_na=False)
    ours = release.published
    assert list(cli["status"]) == list(ours["status"])
    assert list(cli["product"]) == list(ours["product"])
    values = pd.to_numeric(cli["value"].replace("", None))
    assert values.fillna(-1).tolist() == ours["value"].fillna(-1).tolist()


def test_rules_file_and_kept_files(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES_TOML)
    out = tmp_path / "kept"
    r = cellmask.protect(records(), str(rules), out=out)
    assert r.protected
    assert {"published.csv", "cells.csv", "certificate.json", "report.json", "report.html"} <= set(r.files)
    assert (out / "published.csv").exists()


def test_polars_in_polars_out(release):
    pl = pytest.importorskip("polars")
    r = cellmask.protect(pl.DataFrame(records().to_dict("list")), RULES)
    assert isinstance(r.published, pl.DataFrame)
    assert r.published["status"].to_list() == release.published["status"].to_list()
    assert r.published.filter(pl.col("status") != "published")["value"].null_count() == len(
        masked(release.published)
    )


def test_arrow_in(release):
    pa = pytest.importorskip("pyarrow")
    r = cellmask.protect(pa.Table.from_pandas(records(), preserve_index=False), RULES)
    assert r.published["status"].tolist() == release.published["status"].tolist()


def test_input_errors_name_the_dataframe_row():
    df = records()
    df.loc[5, "value"] = "-12.00"
    df.loc[9, "product"] = "999"
    with pytest.raises(cellmask.InputError) as e:
        cellmask.protect(df, RULES)
    problems = e.value.problems
    assert [(p.file, p.line, p.row) for p in problems] == [("<records>", 7, 5), ("<records>", 11, 9)]
    assert "negative" in problems[0].reason
    assert "999" in problems[1].reason
    assert "<records>:7: " in str(e.value)


def test_usage_errors():
    with pytest.raises(cellmask.UsageError):
        cellmask.protect(records(), RULES, method="bogus")
    with pytest.raises(cellmask.UsageError, match="no such file"):
        cellmask.protect(records(), "no-such-rules")
    with pytest.raises(TypeError):
        cellmask.protect(records(), 42)


def test_audit_passes_the_release_and_fails_a_tampered_one(release):
    ok = cellmask.audit(release.published, RULES, records=records())
    assert ok.passed
    assert ok.report["verdict"] == "protected"
    assert len(ok.cells) == len(masked(release.published))
    # Without the records: no exact disclosure only.
    assert cellmask.audit(release.published, RULES).passed
    # Publish every secondary cell's true value: primaries become recoverable.
    tampered = release.published.copy()
    cells = release.cells.set_index(["flow", "product", "country"])
    for i, row in tampered.iterrows():
        key = (row["flow"], row["product"], row["country"])
        if cells.loc[key, "status"] == "secondary":
            tampered.loc[i, "status"] = "published"
            tampered.loc[i, "value"] = cells.loc[key, "value"]
    bad = cellmask.audit(tampered, RULES, records=records())
    assert not bad.passed
    assert bad.report["verdict"] != "protected"


def test_audit_reads_peer_status_codes(release):
    # τ-ARGUS's status letters: S safe, M secondary (any masked letter reads as masked).
    peer = release.published.copy()
    peer["status"] = peer["status"].map({"published": "S", "masked": "M"})
    assert not peer["status"].isna().any()
    assert cellmask.audit(peer, RULES, records=records()).passed


def test_dict_rules_resolve_files_against_rules_dir(tmp_path):
    (tmp_path / "countries.csv").write_text(
        "code,parent\nWORLD,\nEU,WORLD\nDE,EU\nES,EU\nIT,EU\nBE,EU\nXX,WORLD\nUS,XX\nCN,XX\n"
    )
    rules = dict(RULES)
    rules["dimension"] = [RULES["dimension"][0], {"name": "country", "file": "countries.csv"}]
    r = cellmask.protect(records(), rules, rules_dir=tmp_path)
    assert r.protected
    assert "EU" in set(r.published["country"])
    with pytest.raises(OSError):
        cellmask.protect(records(), rules, rules_dir=tmp_path / "elsewhere")


def test_values_are_exact_cents(release):
    pub = release.published.dropna(subset=["value"])
    for v in pub["value"]:
        assert math.isclose(round(v * 100), v * 100, abs_tol=1e-6)


@pytest.mark.skipif(not BINARY.exists(), reason="the release binary is built by cargo test --release")
def test_tau_argus_reads_the_tables_we_write(tmp_path, monkeypatch):
    """τ-ARGUS's engine (pytauargus) opens `--tau-argus`'s tau_<table>.tab
    with its .rda as tabular input, protects it with Modular and writes
    back exactly cellmask's cells, each with its value (or x, masked)."""
    engine = pytest.importorskip("pytauargus.engine")
    out = cli_protect(tmp_path, "--tau-argus")
    cells = pd.read_csv(out / "cells.csv", dtype=str, keep_default_na=False)
    monkeypatch.chdir(tmp_path)
    for flow in ("I", "E"):
        written = tmp_path / f"tau-{flow}.csv"
        arb = tmp_path / f"{flow}.arb"
        arb.write_text(
            f'<OPENTABLEDATA> "{out}/tau_{flow}.tab"\n'
            f'<OPENMETADATA> "{out}/tau_{flow}.rda"\n'
            '<SPECIFYTABLE> "product""country"|"value"||\n'
            "<SAFETYRULE> FREQ(3,10)\n"
            "<READTABLE> 1\n"
            "<SUPPRESS> MOD(1,5,1,1,1)\n"
            f'<WRITETABLE> (1,2,,"{written}")\n'
        )
        engine.run_batch(str(arb))
        theirs = pd.read_csv(written, dtype=str, keep_default_na=False)
        theirs = theirs[theirs["value"] != ""]
        ours = cells[cells["flow"] == flow]
        ours = dict(zip(zip(ours["product"], ours["country"]), ours["value"]))
        got = {(p, c): v for p, c, v in zip(theirs["product"], theirs["country"], theirs["value"])}
        # τ-ARGUS writes its own suppressions as x, empty cells as -.
        shown = {k: v for k, v in got.items() if v != "-"}
        assert shown.keys() == ours.keys()
        assert any(v == "x" for v in shown.values())
        for k, v in shown.items():
            assert v == "x" or float(v) == float(ours[k]), k


def test_verify_checks_the_certificate(tmp_path):
    r = cellmask.protect(records(), RULES, out=tmp_path / "rel")
    cert = r.files["certificate.json"]
    assert cellmask.verify(r.published, RULES, cert)
    assert cellmask.verify(r.published, RULES, cert, records=records())
    # One published value changed by a cent: the certificate no longer fits.
    tampered = r.published.copy()
    i = tampered.index[tampered["status"] == "published"][-1]
    tampered.loc[i, "value"] = round(tampered.loc[i, "value"] + 0.01, 2)
    assert not cellmask.verify(tampered, RULES, cert)
    # With the records, a published value that is not the records' is bad input.
    with pytest.raises(cellmask.InputError, match="differs from the records"):
        cellmask.verify(tampered, RULES, cert, records=records())
