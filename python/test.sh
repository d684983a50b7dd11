#!/bin/sh
# Builds the Python package from this checkout and runs its tests (the second half of the
# README's test command). maturin builds in the workspace's target/ with the release profile,
# so HiGHS, compiled by `cargo test --release`, is not compiled again. Python tools go into a
# virtual environment under target/ (maturin, pytest, pandas, polars, pyarrow and pytauargus, τ-ARGUS's engine, from PyPI).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/target/python-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.5,<2" pytest pandas polars pyarrow pytauargus
rm -f "$root"/target/wheels/cellmask-*.whl
"$venv/bin/maturin" build --release --quiet --manifest-path "$root/python/Cargo.toml" \
    --out "$root/target/wheels" --interpreter "$venv/bin/python"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps \
    "$root"/target/wheels/cellmask-*.whl
cd "$root"
"$venv/bin/pytest" -q -p no:cacheprovider python/tests
