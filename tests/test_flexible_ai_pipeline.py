"""``gridcap run`` with [flexible_ai]: headroom stage, firm/flexible plan, summary and report."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gridcap.config import load_config
from gridcap.pipeline import run_study
from gridcap.report import FIGURES, fig_firm_flexible, fig_headroom_curve
from gridcap.summary import summary_tables


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("flex")
    cfg = load_config("quickstart").with_overrides({
        "monte_carlo.scenarios": 4, "monte_carlo.batch_size": 4, "monte_carlo.hours": 672,
        "optimizer.scenarios_in_model": 4, "flexible_ai.enabled": True,
        "flexible_ai.headroom": True, "flexible_ai.headroom_limits_pct": [0.5, 5],
    })
    return run_study(cfg, out_dir=out), out


def test_results_carry_headroom_and_firm_flexible_split(results):
    ds, out = results
    assert ds["headroom__headroom_mw"].dims == ("region", "curtailment_limit_pct")
    assert ds.sizes["headroom_scenario"] == 4
    assert (ds["headroom__headroom_mw"].diff("curtailment_limit_pct") > 0).all()
    placed = ds["ai_placed_mw"].values
    np.testing.assert_allclose(ds["ai_firm_mw"].values + ds["ai_flexible_mw"].values, placed,
                               atol=1e-6)
    assert float(ds["value_of_flexibility_usd"]) >= -1e-6 * abs(float(ds["objective_usd"]))
    on_disk = xr.open_dataset(out / "results.nc")
    assert "headroom__headroom_p50_mw" in on_disk and "ai_flexible_mw" in on_disk
    cfg_attr = on_disk.attrs["config"]
    assert '"flexible_ai"' in cfg_attr


def test_summary_and_report_show_headroom_curve_and_split(results):
    ds, _ = results
    titles = [str(t.title) for t in summary_tables(ds)]
    assert any("Curtailment-enabled headroom" in t for t in titles)
    assert any("firm vs flexible" in t for t in titles)
    split = next(t for t in summary_tables(ds) if "firm vs flexible" in str(t.title))
    assert "–" not in list(split.columns[1].cells)  # final *plan* year, not a finance year
    assert fig_headroom_curve in FIGURES and fig_firm_flexible in FIGURES
    for make in (fig_headroom_curve, fig_firm_flexible):
        fig = make(ds)
        assert fig.png is not None and fig.png[:4] == b"\x89PNG", fig.note
    # without the variables the figures say what is missing instead of failing
    bare = ds.drop_vars([v for v in ds.data_vars if str(v).startswith("headroom__")])
    assert "headroom = true" in fig_headroom_curve(bare).note
