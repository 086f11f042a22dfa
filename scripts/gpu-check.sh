#!/usr/bin/env bash
# gridcap on a CUDA machine, verified in one call: install, GPU tests, GPU benchmarks,
# flagship on the GPU backends, cross-backend agreement; every record and log under OUTDIR.
#
# Usage:
#   bash scripts/gpu-check.sh OUTDIR            on the GPU machine (no internet needed)
#   bash scripts/gpu-check.sh OUTDIR --dry-run  here, on a CPU machine: checks the wheelhouse,
#                                               installs it (cp312 tags) and gridcap into
#                                               throwaway folders with --no-index, and runs
#                                               every step, which then skip or report
#                                               "unavailable" for lack of a GPU
#
# Prepare once, on a machine with PyPI (the wheels the GPU image lacks, ~48 MiB, gitignored):
#   bash scripts/gpu-wheels.sh                  -> wheelhouse/
# Then, through the workplace's device tool:
#   run(command="bash scripts/gpu-check.sh $OUT", carry=["wheelhouse"], timeout_s=540)
# and commit what comes back under benchmarks/results/ (the bench-*/ records).
#
# Steps (each under `timeout`, all within GPU_CHECK_BUDGET_S, default 460 s, so the whole call
# ends inside 8 minutes; a step that would start with under 15 s left is recorded as skipped):
#   env          nvidia-smi, python, versions of cupy / numba / numba-cuda / numpy
#   wheels       scripts/gpu_wheels.py check wheelhouse (closure, tags, one version, size)
#   install      pip install --no-index --no-deps --target SITE wheelhouse/*.whl, then gridcap
#                from the working tree (--no-build-isolation; setuptools from the image)
#   backends     gridcap info: which backends are available and why not
#   pytest-gpu   pytest -m gpu (GPU kernels and the CuPy waterfall against numpy)
#   bench-kernels  gridcap bench --only kernels --skip-largest (kernel throughput per backend,
#                numba-cuda included when a device answers)
#   agree        quickstart Monte Carlo (4 representative weeks) on numpy, numba-cpu,
#                numba-cuda and cupy: integers equal, floats within 1e-12 of the larger of
#                the value and the variable's largest magnitude
#   flagship-numba-cuda, flagship-cupy   gridcap run us-ai-power-2030 --backend B (wall, stages)
#   bench-waterfall  gridcap bench --only waterfall (CuPy waterfall vs numpy / Python)
# OUTDIR gets: steps.tsv (name, status, exit code, seconds), summary.md, one log per step,
# pytest-gpu.xml, bench-*/ records (JSON + Markdown with the machine), agree.json,
# flagship-*/results.nc + timings.
set -uo pipefail

OUT=${1:?usage: bash scripts/gpu-check.sh OUTDIR [--dry-run]}
DRY=0
[ "${2:-}" = "--dry-run" ] && DRY=1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$ROOT" || exit 1

BUDGET=${GPU_CHECK_BUDGET_S:-460}
HOUSE=${GPU_CHECK_WHEELHOUSE:-$ROOT/wheelhouse}
WORK=${GPU_CHECK_WORK:-$(mktemp -d /tmp/gridcap-gpu-check.XXXXXX)}
START=$(date +%s)
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg NUMBA_CACHE_DIR="$WORK/numba-cache"
if [ "$DRY" = 1 ]; then
  PY=${PYTHON:-$ROOT/.venv/bin/python}
  NUMBA_CACHE_DIR="$ROOT/.cache/numba"  # here: the dev cache, so the dry run stays short
else
  PY=${PYTHON:-python3}
fi
SITE="$WORK/site"      # the carried wheels (on the GPU machine: on PYTHONPATH)
GCSITE="$WORK/gridcap" # gridcap installed from the working tree
printf 'step\tstatus\texit\tseconds\n' > "$OUT/steps.tsv"

# seconds since T0_NS (nanoseconds), one decimal, without bc (the GPU image may lack it)
since() {
  local ms=$(( ($(date +%s%N) - $1) / 1000000 ))
  printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100))
}

# step NAME LIMIT_S CMD...  — runs CMD with its output in OUT/NAME.log, under a timeout that is
# the smaller of LIMIT_S and what is left of the budget; records the outcome in steps.tsv.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - ($(date +%s) - START)))
  if [ "$left" -lt 15 ]; then
    printf '%s\tskipped\t-\t0\n' "$name" >> "$OUT/steps.tsv"
    echo "== $name: skipped (budget spent)"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (limit ${limit}s)"
  local t0 rc status
  t0=$(date +%s%N)
  # a child bash runs the step, so that shell functions (exported below) work under timeout
  timeout --kill-after=10 "$limit" bash -c '"$@"' _ "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  case $rc in
    0) status=ok ;;
    124|137) status="timed out" ;;
    *) status=failed ;;
  esac
  # a GPU backend that is not there (the dry run, or a broken device) is no script failure
  if [ "$rc" = 2 ] && grep -q "is not available here" "$OUT/$name.log"; then
    status=unavailable
  fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$(since "$t0")" >> "$OUT/steps.tsv"
  tail -n 3 "$OUT/$name.log" | sed 's/^/   /'
  return 0
}

env_report() {
  date -u
  uname -a
  command -v nvidia-smi > /dev/null && nvidia-smi || echo "nvidia-smi: not found (no GPU here)"
  "$PY" -V
  "$PY" -m pip --version
  "$PY" - <<'PYEOF'
import importlib.metadata as md
for name in ("cupy-cuda13x", "cupy-cuda12x", "numba", "numba-cuda", "numpy", "scipy",
             "pandas", "xarray", "setuptools", "pytest"):
    try:
        print(f"{name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name} -")
PYEOF
  echo "dry run: $DRY"
}

install_wheels() {
  local extra=()
  if [ "$DRY" = 1 ]; then  # here: prove the cp312 wheels install with no index, unpack only
    extra=(--only-binary=:all: --python-version 3.12 --implementation cp --platform
           manylinux_2_39_x86_64 --platform manylinux_2_28_x86_64 --platform
           manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform
           manylinux2014_x86_64 --platform manylinux1_x86_64)
  fi
  "$PY" -m pip install --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "${extra[@]}" "$HOUSE"/*.whl || return 1
  # gridcap itself, non-editable, from the working tree (package-dir mapping needs a build)
  if ! "$PY" -m pip install --no-index --no-deps --no-build-isolation --no-compile \
      --no-cache-dir --target "$GCSITE" "$ROOT"; then
    # no usable setuptools/wheel to build with: lay the package out as pyproject.toml's
    # package-dir maps it (gridcap/, gridcap/kernels, gridcap/optimizer, ...), pure Python
    echo "pip could not build gridcap; installing the package layout by copy instead"
    rm -rf "$GCSITE" && mkdir -p "$GCSITE"
    cp -r "$ROOT/gridcap" "$GCSITE/gridcap"
    for d in kernels optimizer datasets benchmarks; do
      cp -r "$ROOT/$d" "$GCSITE/gridcap/$d"
    done
    find "$GCSITE" -name __pycache__ -prune -exec rm -rf {} +
  fi
  ls "$SITE" "$GCSITE" "$GCSITE/gridcap"
  (cd "$WORK" && gpy -c "import gridcap, gridcap.kernels, gridcap.optimizer, gridcap.datasets; \
print('gridcap', gridcap.__version__, 'from', gridcap.__file__)")
}

# Python with the installed copies first: gridcap from GCSITE, the carried wheels from SITE
# (on the dry run the wheels are cp312 and this interpreter is the dev one: not on the path).
gpy() {
  if [ "$DRY" = 1 ]; then
    PYTHONPATH="$GCSITE" "$PY" "$@"
  else
    PYTHONPATH="$GCSITE:$SITE" "$PY" "$@"
  fi
}

pytest_gpu() {
  # only the modules that hold GPU tests: an unrelated module that cannot import here (e.g.
  # mpi4py without an MPI library) must not stop the GPU tests at collection
  local files
  files=$(cd "$ROOT/tests" && grep -l "mark.gpu" test_*.py)
  echo "modules with GPU tests:" $files
  # from tests/ so the repository's own gridcap/ folder does not shadow the installed package
  (cd "$ROOT/tests" && gpy -m pytest -m gpu -q -rs -p no:cacheprovider \
    --junitxml="$OUT/pytest-gpu.xml" $files)
}

bench() {  # bench SECTION [flags...]
  local section=$1 budget=$2
  shift 2
  # --budget makes the suite end its section in time to write the record
  (cd "$WORK" && gpy -m gridcap.benchmarks --only "$section" --out "$OUT/bench-$section" \
    --budget "$budget" \
    --note "scripts/gpu-check.sh$([ "$DRY" = 1 ] && echo ' --dry-run')" "$@")
}

agree() {
  (cd "$WORK" && gpy - "$OUT/agree.json" <<'PYEOF'
"""Quickstart Monte Carlo (4 representative weeks) on every available backend vs numpy."""
import json
import sys

import numpy as np

from gridcap.config import load_config
from gridcap.kernels import backend_status, simulate
from gridcap.pipeline import build_inputs

cfg = load_config("quickstart")
inputs = build_inputs(cfg)
kw = {"scenarios": 16, "seed": cfg.study.seed, "hours": 672, "representative": "weeks"}
ref = simulate(inputs, backend="numpy", **kw)
report = {"reference": "numpy", "case": "quickstart inputs, 16 scenarios, 4 weeks",
          "status": backend_status(), "backends": {}}
bad = False
for be in ("numba-cpu", "numba-cuda", "cupy"):
    if report["status"].get(be) != "available":
        report["backends"][be] = {"run": False, "reason": report["status"].get(be)}
        continue
    out = simulate(inputs, backend=be, **kw)
    worst, mismatched = 0.0, []
    for k in ref.data_vars:
        x, y = ref[k].values, out[k].values
        if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
            if not np.array_equal(x, y):
                mismatched.append(k)
            continue
        if not x.size:
            continue
        # relative to the value, with the variable's own scale as the floor: values at
        # round-off zero (a standard error of identical groups, 1e-17) carry no digits
        both_nan = np.isnan(x) & np.isnan(y)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            mismatched.append(k + " (NaN pattern)")
        floor = float(np.nanmax(np.abs(x))) if np.isfinite(x).any() else 0.0
        scale = np.maximum(np.abs(x), floor)
        scale = np.where(scale > 0, scale, 1.0)
        d = np.where(both_nan, 0.0, np.abs(x - y) / scale)
        worst = max(worst, float(np.nanmax(d)))
    ok = not mismatched and worst <= 1e-12
    bad |= not ok
    report["backends"][be] = {"run": True, "integers_equal": not mismatched,
                              "mismatched_integer_vars": mismatched,
                              "max_scaled_diff_floats": worst, "within_1e-12": ok}
json.dump(report, open(sys.argv[1], "w"), indent=2)
print(json.dumps(report["backends"], indent=2))
sys.exit(1 if bad else 0)
PYEOF
  )
}

flagship() {  # flagship BACKEND
  local be=$1 dir="$OUT/flagship-$1"
  local study=us-ai-power-2030 extra=()
  if [ "$DRY" = 1 ]; then  # the control flow only: a quick study, which the missing GPU stops
    study=quickstart
    extra=(--scenarios 4 --hours 672)
  fi
  local t0 rc
  t0=$(date +%s%N)
  (cd "$WORK" && gpy -m gridcap run "$study" --backend "$be" --out "$dir" -q "${extra[@]}")
  rc=$?
  gpy - "$dir" "$be" "$study" "$rc" "$(since "$t0")" <<'PYEOF'
import json
import sys
from pathlib import Path

d, be, study, rc, wall = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
rec = {"study": study, "backend": be, "exit": rc, "wall_s": round(wall, 2)}
nc = d / "results.nc"
if nc.is_file():
    import xarray as xr

    with xr.open_dataset(nc) as ds:
        rec["stage_seconds"] = json.loads(ds.attrs.get("stage_seconds", "{}"))
        rec["monte_carlo_attrs"] = json.loads(ds.attrs.get("monte_carlo", "{}"))
d.mkdir(parents=True, exist_ok=True)
(d / "timing.json").write_text(json.dumps(rec, indent=2))
print(json.dumps(rec, indent=2)[:2000])
PYEOF
  return $rc
}

summary() {
  {
    echo "# gridcap GPU check ($([ "$DRY" = 1 ] && echo dry run || echo device run))"
    echo
    echo "$(date -u) on $(hostname); $(command -v nvidia-smi > /dev/null \
      && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
      || echo 'no GPU visible')"
    echo
    echo "| step | status | exit | seconds |"
    echo "|---|---|---|---|"
    tail -n +2 "$OUT/steps.tsv" | awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}'
    echo
    echo "Total: $(( $(date +%s) - START )) s of a ${BUDGET} s budget. Logs: <step>.log;"
    echo "records: bench-*/; agreement: agree.json; flagship timings: flagship-*/timing.json."
  } > "$OUT/summary.md"
  cat "$OUT/summary.md"
}

export OUT DRY ROOT HOUSE WORK PY SITE GCSITE
export -f since env_report install_wheels gpy pytest_gpu bench agree flagship
echo "gridcap GPU check -> $OUT (work $WORK, budget ${BUDGET}s, dry run $DRY)"
step env 20 env_report
step wheels 20 "$PY" "$ROOT/scripts/gpu_wheels.py" check "$HOUSE"
step install 120 install_wheels
step backends 60 gpy -m gridcap info
step pytest-gpu 150 pytest_gpu
if [ "$DRY" = 1 ]; then
  step bench-kernels 200 bench kernels 180 --quick  # cold Numba compile of the installed copy
else
  step bench-kernels 160 bench kernels 140 --skip-largest
fi
step agree 90 agree
step flagship-numba-cuda 90 flagship numba-cuda
step flagship-cupy 90 flagship cupy
if [ "$DRY" = 1 ]; then
  step bench-waterfall 60 bench waterfall 50 --quick
else
  step bench-waterfall 60 bench waterfall 50
fi
summary
# exit 0 when every step that ran finished; the step table says what happened
awk -F'\t' 'NR > 1 && ($2 == "failed" || $2 == "timed out") {bad = 1} END {exit bad}' \
  "$OUT/steps.tsv"
