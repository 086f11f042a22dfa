#!/usr/bin/env bash
# Dependency floors (a step of scripts/test.sh, so CI runs it): install the lowest version of
# every core dependency that pyproject.toml allows (scripts/floors.py turns each `>=` bound into
# an `==` pin) into a throwaway venv under .cache/floors/, check that those versions are the
# ones installed, and run a fast, meaningful subset of the tests there: the quickstart end to
# end, the study config, the Monte Carlo (numpy backend and the compiled kernels), the shipped
# datasets and the user's own series. Wheels only: a floor with no wheel for this Python fails
# here instead of compiling from source on a user's machine.
# A floor on a yanked release fails too. The venv is reused while the constraints and
# pyproject.toml are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DIR=.cache/floors
mkdir -p "$DIR"
"$PYTHON" scripts/floors.py > "$DIR/constraints.txt"
stamp=$(cat "$DIR/constraints.txt" pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$DIR/venv/bin/python" ] || [ "$(cat "$DIR/stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$DIR/venv" "$DIR/stamp"
    "$PYTHON" -m venv "$DIR/venv"
    "$DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --only-binary=:all: -c "$DIR/constraints.txt" -e . "pytest>=8,<10" "pytest-timeout>=2.3" \
        > "$DIR/install.log" 2>&1 || { tail -40 "$DIR/install.log"; exit 1; }
    # a floor on a yanked release is no floor: pip skips yanked releases for a `>=` range
    if grep -i "yanked version" "$DIR/install.log"; then
        echo "dependency floors: a floor in pyproject.toml is a yanked release (above)" >&2
        exit 1
    fi
    echo "$stamp" > "$DIR/stamp"
fi
"$DIR/venv/bin/python" scripts/floors.py --check
# numba's cache is per numba version: keep the floors' apart from the main venv's
export NUMBA_CACHE_DIR="$PWD/.cache/numba-floors"
export MPLBACKEND=Agg
"$DIR/venv/bin/python" -m pytest -q -p no:cacheprovider \
    tests/test_e2e.py tests/test_config.py tests/test_kernels_simulate.py \
    tests/test_kernels_drivers.py tests/test_datasets_loaders.py tests/test_datasets_series.py \
    tests/test_optimizer_solver.py \
    --deselect tests/test_e2e.py::test_same_seed_same_results \
    --deselect tests/test_kernels_drivers.py::test_median_simulated_annual_peak_matches_peak_load
