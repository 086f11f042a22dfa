#!/usr/bin/env bash
# Download the wheels the lent GPU machine lacks into a gitignored folder (default
# wheelhouse/), for scripts/gpu-check.sh to install there with no internet.
#
# The GPU image (Python 3.12, CuPy for CUDA 13, numba-cuda, numpy, scipy, pandas, xarray, ...;
# the list is scripts/gpu-image-packages.txt) lacks Pyomo, highspy, pvlib, zarr and netCDF4 and
# a few of their needs. This fetches exactly those, as CPython 3.12 manylinux x86-64 wheels,
# with --no-deps (so nothing the image already has travels), then checks the closure, the
# tags, one version each and the size budget (scripts/gpu_wheels.py). Versions are the ones the
# test suite runs against here (inside pyproject.toml's ranges).
#
# Usage:  bash scripts/gpu-wheels.sh [DEST]        (needs PyPI; run on the CPU machine)
# Then:   the device tool's `run` with carry ["wheelhouse"] and
#         command `bash scripts/gpu-check.sh $OUT`  (see scripts/gpu-check.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-wheelhouse}
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3

WHEELS=(
  pyomo==6.10.1 highspy==1.16.0 pvlib==0.16.1 zarr==3.1.6 netCDF4==1.7.5.1.post1
  # their needs that the image lacks
  cftime==1.6.6.1 numcodecs==0.16.6 donfig==0.8.1.post1 google-crc32c==1.9.0
  pytz==2026.6 tzdata==2026.6
)
PLATFORMS=()
for p in manylinux_2_39_x86_64 manylinux_2_35_x86_64 manylinux_2_34_x86_64 \
         manylinux_2_31_x86_64 manylinux_2_28_x86_64 manylinux_2_27_x86_64 \
         manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  PLATFORMS+=(--platform "$p")
done
mkdir -p "$DEST"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${PLATFORMS[@]}" -d "$DEST" "${WHEELS[@]}"
"$PY" scripts/gpu_wheels.py check "$DEST"
