"""Scenario decomposition of the planner (progressive hedging on mpi-sppy, issue 19).

Each decomposed plan is checked against the extensive form of the same study solved by HiGHS:
the extensive optimum must lie between the decomposition's certified bounds, the plan's cost
within the reported gap (≤ 1e-4), and the first-stage decisions must agree.
"""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from gridcap.errors import DecompositionUnavailableError, GridcapInputError
from gridcap.optimizer.planning.siting import SCENARIO_FIELDS, PlanOptions, plan, prepare_data
from gridcap.optimizer.planning.synthetic import DEFAULT_TECHS, synthetic_study

pytest.importorskip("mpisppy", reason="mpi-sppy is in the dev/mpi extras")
pytest.importorskip("mpi4py", reason="mpi4py is in the dev/mpi extras")

from gridcap.optimizer.planning.decomposition import scenario_data

GAP = 1e-4
FIRM = {k: DEFAULT_TECHS[k] for k in ("gas_ct", "battery")}


def _study(seed: int = 1, scenarios: int = 4, sites: int = 2):
    return synthetic_study(regions=2, scenarios=scenarios, slices=3, years=3, sites=sites,
                           seed=seed, techs=FIRM)


def _options(**kw) -> PlanOptions:
    base = dict(cvar_lambda=0.5, scenarios_in_model=None, time_limit_s=None, mip_gap=1e-7)
    base.update(kw)
    return PlanOptions(**base)


def _first_stage_cost(ds) -> float:
    return float(sum(ds[f"cost_{c}_usd"] for c in ("capital", "fixed_om", "conversion",
                                                     "flex")))


def _check_against_extensive(ds, ref) -> None:
    lower = ds.attrs["decomposition_lower_bound_usd"]
    upper = ds.attrs["decomposition_upper_bound_usd"]
    gap = ds.attrs["decomposition_gap"]
    opt = float(ref["objective_usd"])
    assert gap <= GAP
    assert gap == pytest.approx((upper - lower) / abs(upper), rel=1e-9)
    # the extensive optimum lies between the certified bounds (HiGHS's own tolerance aside)
    assert lower <= opt * (1 + 1e-7)
    assert opt <= upper * (1 + 1e-7)
    # the decomposed plan's cost equals the optimum within the reported gap
    assert abs(float(ds["objective_usd"]) - opt) <= gap * abs(opt) + 1e-6 * abs(opt)
    # first-stage decisions agree: the same sites converted in the same years, the same AI
    # placement, and the same first-stage spend
    np.testing.assert_array_equal(ds["converted"].values, ref["converted"].values)
    np.testing.assert_array_equal(ds["conversion_year"].values, ref["conversion_year"].values)
    np.testing.assert_allclose(ds["ai_placed_mw"].values, ref["ai_placed_mw"].values, atol=0.5)
    assert _first_stage_cost(ds) == pytest.approx(_first_stage_cost(ref), rel=2e-3)
    assert int(ds.attrs["scenarios_in_model"]) == int(ref.attrs["scenarios_in_model"])
    assert np.all(np.isfinite(ds["capacity_value_usd_per_kw_yr"].values))
    assert np.all(ds["capacity_value_usd_per_kw_yr"].values >= -1e-9)


def test_scenario_data_slices_every_scenario_field():
    """A scenario's model data has exactly its own slice of every scenario-indexed field (7
    scenarios: no other dimension has length 7, so a new field missing from SCENARIO_FIELDS
    is caught here)."""
    inputs, out = synthetic_study(regions=2, scenarios=7, slices=3, years=2, sites=1, seed=2)
    data = prepare_data(inputs, out, _options())
    for f in fields(data):
        value = getattr(data, f.name)
        if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == 7 and (
                f.name != "all_scenarios"):
            assert f.name in SCENARIO_FIELDS, f"PlanData.{f.name} is scenario-indexed"
    one = scenario_data(data, 3)
    for name in SCENARIO_FIELDS:
        assert getattr(one, name).shape[0] == 1
        if name != "weights":
            np.testing.assert_array_equal(getattr(one, name)[0], getattr(data, name)[3])
    assert one.weights.tolist() == [1.0]


@pytest.fixture(scope="module")
def study():
    """Three mine sites, the optimum converts at least one: the conversions are decided."""
    return _study(seed=3, sites=3)


@pytest.fixture(scope="module")
def reference(study):
    """The extensive form's plan (one HiGHS MILP over all scenarios)."""
    ref = plan(*study, options=_options())
    assert ref["converted"].values.sum() >= 1  # the tests need a conversion to decide
    return ref


@pytest.mark.parametrize("engine", ["mpisppy", "matrix"])
def test_ph_matches_extensive_form(study, reference, engine):
    """PH (one rank; mpi-sppy's PH object, or the same PH on the matrix path) certifies the
    extensive form's MILP optimum within 1e-4; the binary conversions are rounded from the
    relaxation's average or taken from the L-shaped master, and verified."""
    ds = plan(*study, options=_options(decomposition="ph", decomposition_gap=GAP,
                                       decomposition_engine=engine))
    assert ds.attrs["decomposition_engine"] == engine
    _check_against_extensive(ds, reference)
    assert ds.attrs["decomposition"] == "ph"
    assert ds.attrs["decomposition_stop_reason"] == "gap"
    assert ds.attrs["decomposition_iterations"] >= 1
    assert ds.attrs["decomposition_wall_s"] > 0
    assert set(np.unique(ds["converted"].values).tolist()) <= {0, 1}
    # the wait-and-see bound of iteration 0 (relaxed conversions) is below the optimum
    assert ds.attrs["decomposition_trivial_bound_usd"] <= float(
        reference["objective_usd"]) * (1 + 1e-9)


def test_ph_stops_at_the_iteration_limit_with_its_bounds(study):
    ds = plan(*study, options=_options(decomposition="ph", decomposition_gap=1e-12,
                                            decomposition_max_iterations=3))
    assert ds.attrs["decomposition_stop_reason"] == "iteration_limit"
    assert ds.attrs["decomposition_iterations"] == 3
    assert ds.attrs["decomposition_lower_bound_usd"] <= ds.attrs["decomposition_upper_bound_usd"]


def test_missing_mpi_is_a_clear_error(monkeypatch):
    real = builtins.__import__

    def no_mpi(name, *args, **kwargs):
        if name.startswith(("mpi4py", "mpisppy")):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mpi)
    inputs, out = _study()
    with pytest.raises(DecompositionUnavailableError, match=r"gridcap\[mpi\].*extensive"):
        plan(inputs, out, options=_options(decomposition="ph"))


def test_bad_decomposition_option_names_the_value():
    with pytest.raises(GridcapInputError, match="decomposition"):
        _options(decomposition="benders").validate()


TWO_RANKS = """
import json, sys
from mpi4py import MPI
from gridcap.optimizer.planning.siting import PlanOptions, plan
from gridcap.optimizer.planning.synthetic import DEFAULT_TECHS, synthetic_study
techs = {k: DEFAULT_TECHS[k] for k in ("gas_ct", "battery")}
inputs, out = synthetic_study(regions=2, scenarios=4, slices=3, years=3, sites=3, seed=3,
                              techs=techs)
ds = plan(inputs, out, options=PlanOptions(cvar_lambda=0.5, scenarios_in_model=None,
          time_limit_s=None, decomposition="ph", decomposition_gap=1e-4))
rec = {"rank": MPI.COMM_WORLD.Get_rank(), "objective": float(ds["objective_usd"]),
       "converted": ds["converted"].values.tolist(),
       "ai_placed": ds["ai_placed_mw"].values.tolist(),
       **{k: v for k, v in ds.attrs.items() if k.startswith("decomposition_")}}
with open(sys.argv[1] + f".{rec['rank']}", "w") as f:
    json.dump(rec, f)
"""


def test_two_ranks_under_pip_mpich(tmp_path, reference):
    """`mpiexec -n 2` of the MPICH wheel: both ranks return the same certified plan, equal to
    the extensive form's optimum within the gap."""
    mpiexec = Path(sys.executable).parent / "mpiexec"
    if not mpiexec.exists():
        pytest.skip(f"{mpiexec} missing: install the mpi extra (pip install mpich)")
    script = tmp_path / "two_ranks.py"
    script.write_text(TWO_RANKS)
    out_prefix = tmp_path / "rank"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([str(mpiexec), "-n", "2", sys.executable, str(script),
                           str(out_prefix)], capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    recs = [json.loads((tmp_path / f"rank.{r}").read_text()) for r in (0, 1)]
    assert recs[0]["decomposition_ranks"] == 2
    assert recs[0]["objective"] == recs[1]["objective"]
    ref = reference
    opt = float(ref["objective_usd"])
    r = recs[0]
    assert r["decomposition_gap"] <= GAP
    assert r["decomposition_lower_bound_usd"] <= opt * (1 + 1e-7)
    assert opt <= r["decomposition_upper_bound_usd"] * (1 + 1e-7)
    assert abs(r["objective"] - opt) <= (GAP + 1e-6) * abs(opt)
    assert r["converted"] == ref["converted"].values.tolist()
    np.testing.assert_allclose(r["ai_placed"], ref["ai_placed_mw"].values, atol=0.5)


def test_cli_mpi_flag_spawns_mpiexec_without_the_flag(monkeypatch):
    """`gridcap run STUDY --mpi 3 ...` reruns itself under the venv's mpiexec with 3 ranks and
    without --mpi; the ranks then see an MPI launch (decomposition on, all scenarios)."""
    import subprocess as sp

    from gridcap import cli

    seen = {}

    def fake_run(cmd, env, check):
        seen["cmd"], seen["env"] = cmd, env
        return sp.CompletedProcess(cmd, 0)

    monkeypatch.setattr(sp, "run", fake_run)
    for v in ("GRIDCAP_MPI_RANKS", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(v, raising=False)
    assert cli.mpi_launch() is None
    assert cli.main(["run", "quickstart", "--mpi", "3", "--out", "x", "-q"]) == 0
    cmd = seen["cmd"]
    assert cmd[1:3] == ["-n", "3"] and cmd[0].endswith("mpiexec")
    assert cmd[3:] == [sys.executable, "-m", "gridcap", "run", "quickstart", "--out", "x", "-q"]
    assert seen["env"]["GRIDCAP_MPI_RANKS"] == "3"
    monkeypatch.setenv("PMI_SIZE", "3")
    monkeypatch.setenv("PMI_RANK", "0")
    assert cli.mpi_launch() == (0, 3)
    monkeypatch.setattr(sys, "argv", ["gridcap"])
    args = cli.build_parser().parse_args(["run", "quickstart"])
    cfg = cli.load_study(args)
    assert cfg.optimizer.decomposition == "ph"
    assert cfg.optimizer.scenarios_in_model == cfg.monte_carlo.scenarios
