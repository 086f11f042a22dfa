#!/usr/bin/env bash
# The test command (README "Run the tests"; .ci/run calls exactly this).
# Installs gridcap with its dev extras into ./.venv if needed, then runs ruff and mypy and the
# whole suite: first everything on the CPU, then the Numba CUDA kernels under the CUDA simulator,
# then the core tests again at the dependency floors (scripts/floors.sh).
# Extra arguments go to the first pytest call (e.g. `bash scripts/test.sh -k config`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}"
export MPLBACKEND=Agg
# pytest exits 5 when it collected no test: with `set -e` that fails the run, as it must.
if [ "$#" -gt 0 ]; then
    exec .venv/bin/python -m pytest -q "$@"
fi
# Step 0: lint and types; a style or type error fails the run like a failing test.
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -q -m "not cudasim"
# Step 2: the Numba CUDA kernels on a machine without a GPU, under the CUDA simulator (the
# same kernel source the GPU compiles). GPU tests (-m gpu) skip with the reason when no
# device is visible; run `pytest -m gpu` on a GPU machine.
NUMBA_ENABLE_CUDASIM=1 .venv/bin/python -m pytest -q -m cudasim
# Step 3: the dependency floors. The lowest version of every core dependency that
# pyproject.toml allows, installed into .cache/floors/venv, runs the quickstart end to end and
# the core tests (scripts/floors.sh). GRIDCAP_SKIP_FLOORS=1 skips it on a developer's machine;
# CI (CI=true) always runs it.
if [ "${GRIDCAP_SKIP_FLOORS:-0}" = 1 ] && [ "${CI:-}" != true ]; then
    echo "dependency floors: skipped (GRIDCAP_SKIP_FLOORS=1)"
else
    PYTHON="$PYTHON" bash scripts/floors.sh
fi
