"""A 3 × 3 sweep on the quickstart: structure, shared stages, equality with single runs,
resume after SIGKILL, and a two-worker Dask cluster — all identical to the plain run.

Each of these runs the real pipeline nine times over (≈40 s idle, minutes on a loaded 2-core
machine), so they are marked slow; the machinery itself is covered fast in
``test_batch_machinery.py`` and ``test_batch_chain.py``."""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gridcap.batch import VARIANT_STORE, sweep, variant_name
from gridcap.checkpoint import INTEGRITY_DIR, read_group
from gridcap.io import read_results
from gridcap.pipeline import run_study

SCENARIOS = 4
PARAMS = {
    "optimizer.cvar_lambda": [0.1, 0.5, 1.0],
    "finance.senior.dscr_target": [1.25, 1.35, 1.5],
}
PARAM_FLAGS = ["--param", "optimizer.cvar_lambda=0.1,0.5,1",
               "--param", "finance.senior.dscr_target=1.25,1.35,1.5"]


def base_config():
    """The quickstart exactly as ``gridcap sweep quickstart --scenarios 4`` loads it."""
    from gridcap.cli import load_study

    return load_study(argparse.Namespace(study="quickstart", scenarios=SCENARIOS, backend=None,
                                         seed=None))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep-ref")
    calls: list[tuple[str, int, int | None]] = []
    results = sweep(base_config(), PARAMS, out, progress=lambda *a: calls.append(a))
    return results, out, calls


def _plan_and_finance(ds: xr.Dataset) -> list[str]:
    """Variables computed by plan/finance (not inputs or Monte Carlo copies)."""
    return [v for v in ds.data_vars if "__" not in v]


@pytest.mark.slow
def test_sweep_structure_and_shared_monte_carlo(reference):
    results, out, calls = reference
    assert results.sizes["variant"] == 9
    lam = results["optimizer.cvar_lambda"].values.tolist()
    dscr = results["finance.senior.dscr_target"].values.tolist()
    assert lam == [0.1] * 3 + [0.5] * 3 + [1.0] * 3
    assert dscr == [1.25, 1.35, 1.5] * 3
    assert json.loads(results["variant_config"].values[4]) == {
        "optimizer.cvar_lambda": 0.5, "finance.senior.dscr_target": 1.35}
    # one Monte Carlo for the nine variants: it is stored once, without a variant dim
    assert [c for c in calls if c[0] == "monte carlo"][-1] == ("monte carlo", SCENARIOS,
                                                               SCENARIOS)
    assert len([c for c in calls if c[0] == "monte carlo" and c[1] == 0]) == 1
    assert len(list((out / "montecarlo").iterdir())) == 1
    assert "variant" not in results["mc__peak_net_load_mw"].dims
    assert [c for c in calls if c[0] == "sweep"][-1] == ("sweep", 9, 9)
    # the plan depends on λ only: equal within a λ, different across λ
    cost = results["objective_usd"].values
    assert cost[0] == cost[1] == cost[2]
    assert len({cost[0], cost[3], cost[6]}) == 3
    # the finance terms of each variant are its own
    senior = results["finance__dscr_target"].sel(tranche="senior").values
    np.testing.assert_array_equal(senior, dscr)
    assert (out / "results.nc").is_file()
    xr.testing.assert_identical(read_results(out / "results.nc")["objective_usd"],
                                results["objective_usd"])


def _assert_same(a: xr.Dataset, b: xr.Dataset, names: list[str], rtol: float, what: str):
    """``a[name] == b[name]`` on ``b``'s labels (a sweep pads labels other variants have —
    e.g. a data center only one plan builds — with NaN: those must be all-NaN here)."""
    for name in names:
        x, y = a[name], b[name]
        labels = {d: b[d].values for d in y.dims if d in b.coords}
        if any(x.sizes[d] != y.sizes[d] for d in labels):
            extra = x.drop_sel({d: labels[d] for d in labels})
            assert bool(extra.isnull().all()), f"{what}: {name} has values on extra labels"
        if any(not np.array_equal(a[d].values, labels[d]) for d in labels):
            x = x.sel(labels)  # the union of labels over variants may be in another order
        xv, yv = np.asarray(x.values), np.asarray(y.values)
        if xv.dtype.kind in "fc" and rtol > 0:
            np.testing.assert_allclose(xv, yv.astype(xv.dtype), rtol=rtol, atol=0,
                                       err_msg=f"{what}: {name}")
        else:
            np.testing.assert_array_equal(xv, yv, err_msg=f"{what}: {name}")


@pytest.mark.slow
def test_each_variant_equals_its_own_full_run(reference):
    """Second method: the sweep's variant == ``run_study`` of that variant's config (a cold
    solve; the sweep re-solves warm, which may differ in the last bits: rtol 1e-9)."""
    results, _out, _ = reference
    for index in (0, 8):  # a cold solve, and the last warm re-solve
        overrides = json.loads(str(results["variant_config"].values[index]))
        single = run_study(base_config().with_overrides(overrides))
        one = results.isel(variant=index)
        names = _plan_and_finance(single)
        assert set(names) <= set(one.data_vars)
        _assert_same(one, single, names, 1e-9, f"variant {index}")


# --------------------------------------------------------------------------- kill / resume


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gridcap", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _variant_records(out: Path) -> list[Path]:
    return sorted((out / VARIANT_STORE / INTEGRITY_DIR).glob("variant_*.json"))


@pytest.mark.slow
def test_sweep_killed_at_random_point_resumes_identically(reference, tmp_path):
    _results, ref_out, _ = reference
    out = tmp_path / "killed"
    rng = random.Random()
    target = rng.randint(1, 7)  # kill after this many finished variants (+ a random jitter)
    jitter = rng.uniform(0.0, 0.3)
    proc = _cli("sweep", "quickstart", "--scenarios", str(SCENARIOS), *PARAM_FLAGS,
                "--out", str(out), "-q")
    deadline = time.monotonic() + 400
    while len(_variant_records(out)) < target:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "sweep too slow"
        time.sleep(0.02)
    time.sleep(jitter)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    survivors = {p.stem: p.stat().st_mtime_ns for p in _variant_records(out)}
    assert target <= len(survivors) < 9, f"target {target}, jitter {jitter:.2f}"
    assert not (out / "results.nc").exists()

    resumed = _cli("sweep", "quickstart", "--scenarios", str(SCENARIOS), *PARAM_FLAGS,
                   "--out", str(out), "--resume", "-q")
    stdout, stderr = resumed.communicate(timeout=400)
    assert resumed.returncode == 0, stderr[-3000:]
    assert "results written" in stdout
    # the finished variants were reused, not recomputed
    for name, mtime in survivors.items():
        assert (out / VARIANT_STORE / INTEGRITY_DIR / f"{name}.json").stat().st_mtime_ns == mtime
    assert len(_variant_records(out)) == 9
    xr.testing.assert_identical(read_results(out / "results.nc"),
                                read_results(ref_out / "results.nc"))
    for i in range(9):
        a, _ = read_group(out / VARIANT_STORE, variant_name(i))
        b, _ = read_group(ref_out / VARIANT_STORE, variant_name(i))
        assert a is not None and b is not None
        for name in _plan_and_finance(a):
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.slow
def test_sweep_on_two_dask_workers_is_identical(reference, tmp_path):
    pytest.importorskip("distributed")
    from gridcap.batch import dask_client

    results, _, _ = reference
    with dask_client(workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        on_dask = sweep(base_config(), PARAMS, tmp_path / "dask", client=client)
    xr.testing.assert_identical(on_dask.drop_attrs(), results.drop_attrs())
    assert on_dask.attrs["sweep"] == results.attrs["sweep"]
