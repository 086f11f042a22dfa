"""Smoke test of benchmarks/bench_kernels.py in its quick form (figures are not asserted)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_bench_kernels_quick_runs_and_reports_every_figure():
    from gridcap.benchmarks import bench_kernels

    r = bench_kernels.run(quick=True)
    (case,) = r["sizes"].values()
    c = case["numba_cpu"]
    assert c["der_scenario_hours_per_s"] > 0 and c["philox_der_scenario_hours_per_s"] > 0
    assert c["kernel_vs_philox"] == pytest.approx(c["philox_alone_s"] / c["dispatch_s"])
    assert c["philox_words_der_scenario_hours_per_s"] > 0
    assert c["kernel_vs_words"] == pytest.approx(c["philox_words_s"] / c["dispatch_s"])
    assert c["cpu_time_kernel_vs_words"] > 0
    assert r["tiny"]["numpy_vs_python"] > 1.0
    assert r["memory"]["ok"] and r["memory"]["peak_rss_mib"] > 0
