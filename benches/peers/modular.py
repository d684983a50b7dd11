#!/usr/bin/env python3
"""cellmask against τ-ARGUS Modular (pytauargus), side by side (issue 16).

For each scale: generate a national file (`cellmask generate`), keep one flow,
then run in turn, RUNS times each, `cellmask protect` and τ-ARGUS Modular
(`pytauargus.protect` in a child process, so both are timed the same way:
whole processes started from here). Records both times (median), secondary
counts and values, and each masking's exact audit (`cellmask audit` with the
records). τ-ARGUS gets the same rules at holding level (the operator), so
both find the same primary cells.

    python3 benches/peers/modular.py --cellmask target/release/cellmask \\
        --scales 0.01,0.03 --runs 3

Needs `pip install pytauargus` (into the Python that runs this script); without
it the script says so and exits 0. Not run by the tests. Figures go to
benches/README.md by hand, with the machine and the date.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# τ-ARGUS's safety rules at holding level: the third NK slot and the second
# FREQ slot are its holding rules (cellmask counts operators).
TAU_RULES = "NK(1,85)|NK(0,0)|NK(1,85)|FREQ(0,0)|FREQ(3,10)"
TAU_SUPPRESS = "MOD(1,5,1,1,1)"

CHILD = r"""
import csv, sys, pytauargus
src, flow, work, prod_hrc, country_hrc = sys.argv[1:6]
rows = {"product": [], "country": [], "operator": [], "value": []}
for r in csv.DictReader(open(src)):
    if r["flow"] != flow:
        continue
    rows["product"].append(r["product"]); rows["country"].append(r["country"])
    rows["operator"].append(r["operator"]); rows["value"].append(float(r["value"]))
pytauargus.protect(rows, ["product", "country"], "value", safety_rules=sys.argv[6],
                   suppress=sys.argv[7], holding_var="operator",
                   hrc={"product": prod_hrc, "country": country_hrc},
                   hierleadstring="@", totcode="TOTAL", decimals=2, workdir=work)
"""


def timed(cmd, **kw):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.monotonic() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cellmask", default="target/release/cellmask")
    ap.add_argument("--scales", default="0.01")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--flow", default="I")
    ap.add_argument("--rules", default="rules/national.toml")
    a = ap.parse_args()
    try:
        import pytauargus  # noqa: F401
    except ImportError:
        print("pytauargus is not installed (pip install pytauargus): nothing to compare")
        return 0
    cm = os.path.abspath(a.cellmask)
    rules_dir = os.path.abspath(os.path.dirname(a.rules))
    print("| scale | cells | primary | Modular s | cellmask s | ratio | Modular secondary / value |"
          " cellmask secondary / value | Modular audit | cellmask audit |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for scale in a.scales.split(","):
        with tempfile.TemporaryDirectory() as d:
            recs = os.path.join(d, "records.csv")
            subprocess.run([cm, "generate", "--profile", "national", "--seed", "7", "--scale",
                            scale, "--out", recs, "-q"], check=True)
            # One flow, no split: a rules file keeping it.
            text = open(a.rules).read()
            text = text.replace('split = ["flow"]', f'keep = {{ flow = ["{a.flow}"] }}')
            text = text.replace('"codes/', f'"{rules_dir}/codes/').replace(
                '"hierarchies/', f'"{rules_dir}/hierarchies/')
            rules = os.path.join(d, "flow.toml")
            open(rules, "w").write(text)
            out = os.path.join(d, "cm")
            ours, theirs = [], []
            for _ in range(a.runs):
                ours.append(timed([cm, "protect", "--rules", rules, "--input", recs, "--out", out,
                                   "-q", "--tau-argus"]))
                work = os.path.join(d, "tau")
                # τ-ARGUS writes its scratch files (HiTaS.log, sdc.lp...) in its
                # working folder: a fresh one each run (stale ones crash it).
                shutil.rmtree(work, ignore_errors=True)
                os.makedirs(work)
                try:
                    theirs.append(timed([sys.executable, "-c", CHILD, recs, a.flow, work,
                                         os.path.join(out, "tau_product.hrc"),
                                         os.path.join(out, "tau_country.hrc"),
                                         TAU_RULES, TAU_SUPPRESS], stderr=subprocess.DEVNULL,
                                        cwd=work))
                except subprocess.CalledProcessError:
                    theirs.append(None)
            cells = list(csv.DictReader(open(os.path.join(out, "cells.csv"))))
            sec = [c for c in cells if c["status"] == "secondary"]
            prim = sum(c["status"] == "primary" for c in cells)
            report = json.load(open(os.path.join(out, "report.json")))
            t_cm = statistics.median(ours)
            if None in theirs:
                print(f"| {scale} | {len(cells)} | {prim} | failed | {t_cm:.1f} | - | - | {len(sec)} / "
                      f"{sum(float(c['value']) for c in sec) / 1e6:.1f}M | - | {report['verdict']} |")
                continue
            # τ-ARGUS's table: country totals under its one total code.
            tab = os.path.join(d, "tau.tab")
            m_cells, m_value = 0, 0.0
            with open(os.path.join(d, "tau", "tab1.tab")) as f, open(tab, "w") as g:
                for line in f:
                    fields = line.rstrip("\n").split(";")
                    if fields[1] == '"TOTAL"':
                        fields[1] = '"WORLD"'
                    if fields[5] == "M":
                        m_cells += 1
                        m_value += float(fields[2])
                    g.write(";".join(fields) + "\n")
            aud = subprocess.run([cm, "audit", "--rules", rules, "--published", tab, "--input",
                                  recs, "--out", os.path.join(d, "aud"), "-q"])
            verdicts = [r["verdict"] for r in csv.DictReader(open(os.path.join(d, "aud", "audit.csv")))]
            failing = sum(v != "ok" for v in verdicts)
            t_tau = statistics.median(theirs)
            print(f"| {scale} | {len(cells)} | {prim} | {t_tau:.1f} | {t_cm:.1f} | {t_cm / t_tau:.2f} | "
                  f"{m_cells} / {m_value / 1e6:.1f}M | {len(sec)} / "
                  f"{sum(float(c['value']) for c in sec) / 1e6:.1f}M | "
                  f"{'passes' if aud.returncode == 0 else f'{failing} cells fail'} | "
                  f"{report['verdict']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
