"""Measuring machinery of the benchmark suite: slopes, child-process memory, units, machine."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gridcap.benchmarks import machine, measure, scaling
from gridcap.errors import GridcapInputError


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0, 2.0])
def test_loglog_slope_recovers_power_law(k: float) -> None:
    x = np.array([10.0, 30.0, 100.0, 1000.0])
    y = 3.7 * x**k
    assert_allclose(measure.loglog_slope(x, y), k, atol=1e-12)
    assert_allclose(measure.local_slopes(x, y), [k] * 3, atol=1e-12)


def test_loglog_slope_matches_polyfit_on_noisy_data() -> None:
    rng = np.random.default_rng(3)
    x = np.geomspace(1e2, 1e4, 7)
    y = x**1.1 * np.exp(rng.normal(0, 0.1, x.size))
    expected = np.polyfit(np.log(x), np.log(y), 1)[0]
    assert_allclose(measure.loglog_slope(x, y), expected, rtol=1e-10)


@pytest.mark.parametrize(
    ("x", "y"), [([1.0], [1.0]), ([1.0, 2.0], [1.0, 0.0]), ([2.0, 2.0], [1.0, 3.0])]
)
def test_loglog_slope_rejects_bad_input(x: list[float], y: list[float]) -> None:
    with pytest.raises(GridcapInputError, match="loglog_slope"):
        measure.loglog_slope(x, y)


def test_linearity_notes_name_the_nonlinear_segment() -> None:
    x = [100, 1000, 10000, 100000]
    # constant (fixed cost) then linear then quadratic
    y = [1.0, 1.0, 10.0, 1000.0]
    notes = measure.linearity_notes(x, y, axis="DERs")
    assert len(notes) == 2
    assert "sub-linear between 100 and 1000" in notes[0]
    assert "super-linear between 10000 and 100000" in notes[1]
    assert measure.linearity_notes(x, [2.0 * v for v in x], axis="DERs") == []


def test_run_child_measures_its_own_peak_memory() -> None:
    """A child allocating and touching 200 MiB must report a peak above that; a second,
    small child right after must not inherit the first one's high-water mark."""
    big = "import numpy as np; a = np.ones(200 * 2**20 // 8); print(a.sum())"
    small = "print(1)"
    res_big = measure.run_child([sys.executable, "-c", big], timeout_s=60)
    res_small = measure.run_child([sys.executable, "-c", small], timeout_s=60)
    assert res_big.returncode == 0, res_big.stderr
    assert res_big.peak_rss_mib > 200
    assert res_small.returncode == 0
    assert res_small.peak_rss_mib < 100
    assert float(res_big.stdout) == 200 * 2**20 // 8


def test_run_child_kills_at_the_time_limit_and_reports_errors() -> None:
    slow = measure.run_child([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=1)
    assert slow.timed_out
    assert slow.returncode is None
    assert math.isnan(slow.peak_rss_mib)  # a killed child's peak is unknown, not guessed
    assert slow.wall_s < 10
    bad = measure.run_child([sys.executable, "-c", "raise KeyError('nope')"], timeout_s=30)
    assert bad.returncode == 1
    assert bad.reason().startswith("KeyError: 'nope'")


@pytest.mark.parametrize(
    ("key", "unit"),
    [
        ("solve_s", "s"),
        ("sizes.100000.build_seconds", "s"),
        ("peak_rss_mib", "MiB"),
        ("der_scenario_hours_per_s", "DER-scenario-h/s"),
        ("throughput", "1/s"),
        ("philox_ratio", "1"),
        ("persistent_speedup", "×"),
        ("n_variables", "variables"),
        ("mystery", "?"),
        ("numpy_vs_python", "×"),
        ("python_s_per_scenario", "s/scenario"),
        ("python_subset_scenarios", "scenarios"),
        ("years", "years"),
        ("senior_pd", "1"),
    ],
)
def test_unit_from_key(key: str, unit: str) -> None:
    assert measure.unit_from_key(key) == unit


def test_jsonable_converts_numpy_and_nonfinite() -> None:
    out = measure.jsonable({"a": np.float32(1.5), "b": np.arange(3), "c": (math.inf,), 4: None})
    assert out == {"a": 1.5, "b": [0, 1, 2], "c": ["inf"], "4": None}


def test_machine_info_describes_this_machine() -> None:
    info = machine.machine_info()
    import os

    assert info["cpu"]["logical_cores"] == os.cpu_count()
    assert 1 <= info["cpu"]["usable_cores"] <= info["cpu"]["logical_cores"]
    assert info["memory_gib"] > 0
    assert info["versions"]["numpy"] == np.__version__
    assert info["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert info["date"].endswith("+00:00")
    assert isinstance(info["gpus"], list)
    assert info["slug"] and set(info["slug"]) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert "numpy" in info["backends"] or "registry" in info["backends"]


def test_machine_slug_prefers_the_gpu() -> None:
    info = {
        "cpu": {"model": "AMD EPYC 9454 48-Core Processor", "usable_cores": 16},
        "gpus": [{"name": "NVIDIA H100 80GB HBM3"}],
    }
    assert machine.machine_slug(info) == "nvidia-h100-16c"
    info["gpus"] = []
    assert machine.machine_slug(info) == "amd-epyc-9454-16c"


def test_scaling_curves_on_a_known_cost_workload(tmp_path) -> None:
    """The synthetic workload allocates 8 bytes per 1,000 DER-scenario-hours: the measured
    peak increase must match that closed form, and memory must grow linearly with DERs."""
    axes = {"ders": {"values": [2000, 8000, 32000], "fixed": {"scenarios": 10, "hours": 8760}}}
    out = scaling.run(False, workload="synthetic", axes=axes, plot_path=tmp_path / "s.png")
    points = out["axes"]["ders"]["points"]
    assert [p["status"] for p in points] == ["ok"] * 3
    expected_mib = 32000 * 10 * 8760 // 1000 * 8 / 2**20  # 21.4 MiB
    assert points[-1]["rss_increase_mib"] == pytest.approx(expected_mib, rel=0.15)
    assert out["axes"]["ders"]["memory_slope"] == pytest.approx(1.0, abs=0.25)
    assert (tmp_path / "s.png").stat().st_size > 10_000
    assert out["plot"] == str(tmp_path / "s.png")


def test_scaling_rejects_unknown_workload() -> None:
    with pytest.raises(GridcapInputError, match="workload"):
        scaling.run(True, workload="nope")


def test_run_child_streams_stdout_lines_while_running() -> None:
    seen: list[str] = []
    code = "import time; print('first', flush=True); time.sleep(0.5); print('second', end='')"
    res = measure.run_child([sys.executable, "-c", code], timeout_s=30, echo=seen.append)
    assert res.returncode == 0
    assert seen == ["first", "second"]
    assert res.stdout == "first\nsecond"


def test_extrapolated_peak_follows_the_power_laws() -> None:
    """Memory linear in DERs and scenarios, flat in hours: 1 MiB at 100 x 10 becomes
    1 MiB x 100 x 100 at 10,000 x 1,000 (closed form), on top of the baseline."""
    point = {
        "ders": 100,
        "scenarios": 10,
        "hours": 8760,
        "status": "ok",
        "rss_increase_mib": 1.0,
        "baseline_rss_mib": 100.0,
    }
    axes = {
        "ders": {"memory_slope": 1.0, "points": [point]},
        "scenarios": {"memory_slope": 1.0, "points": []},
        "hours": {"memory_slope": 0.0, "points": []},
    }
    out = scaling.extrapolate_peak(axes, scaling.LARGE_CASE)
    assert out["increase_gib"] == pytest.approx(1.0 * 100 * 100 / 1024)
    assert out["peak_rss_gib"] == pytest.approx((100.0 + 10_000.0) / 1024)
    axes["hours"]["memory_slope"] = None
    assert scaling.extrapolate_peak(axes, scaling.LARGE_CASE) is None
