"""Population-scale DER flexibility: weighted samples, sampling errors, enrollment path."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gridcap.datasets.enrollment import enrolled_premises, read_der_enrollment
from gridcap.datasets.fleet import allocate_samples, synthetic_fleet
from gridcap.errors import GridcapInputError, SchemaError
from gridcap.kernels import simulate
from gridcap.kernels.simulate import _group_se, prepare_fleet
from gridcap.kernels.testing import tiny_inputs
from gridcap.schema import validate_fleet

REGIONS = xr.Dataset(
    {"lat": ("region", [31.0, 40.0]), "lon": ("region", [-97.0, -77.0]),
     "peak_load_mw": ("region", [85_508.0, 160_000.0])},
    coords={"region": ["ERCOT", "PJM"]})


def _with_weight(fleet: xr.Dataset, w: float) -> xr.Dataset:
    out = fleet.copy()
    out["weight"] = ("der", np.full(fleet.sizes["der"], float(w)), {"units": "1"})
    return out


def _replicate(fleet: xr.Dataset, k: int) -> xr.Dataset:
    """Each sample repeated k times, each copy of weight 1."""
    idx = np.repeat(np.arange(fleet.sizes["der"]), k)
    rep = fleet.isel(der=idx).assign_coords(der=np.arange(idx.size))
    rep["weight"] = ("der", np.ones(idx.size), {"units": "1"})
    return rep


def test_n_samples_of_weight_w_equal_n_times_w_unit_samples():
    fleet = tiny_inputs(30, seed=3).fleet
    regions = sorted({str(r) for r in fleet.region.values})
    _, m_w = prepare_fleet(_with_weight(fleet, 4), regions)
    _, m_1 = prepare_fleet(_replicate(fleet, 4), regions)
    for key in ("committed_kw", "potential_kw", "population"):
        np.testing.assert_allclose(m_w[key], m_1[key], rtol=1e-12)
    # and the weighted totals are 4x the unit-weight sample's own
    _, m_s = prepare_fleet(_with_weight(fleet, 1), regions)
    np.testing.assert_allclose(m_w["committed_kw"], 4 * m_s["committed_kw"], rtol=1e-12)


def test_simulated_pool_aggregates_scale_with_the_weight():
    """Delivered kW per event, cash flows and energy scale by w; ratios do not change."""
    inp = tiny_inputs(20, seed=2)
    base = simulate(inp, scenarios=2, seed=5, backend="numpy", hours=96, representative="days")
    inp.fleet = _with_weight(inp.fleet, 250.0)
    big = simulate(inp, scenarios=2, seed=5, backend="numpy", hours=96, representative="days")
    np.testing.assert_allclose(big.flex_committed_kw, 250 * base.flex_committed_kw, rtol=1e-12)
    np.testing.assert_allclose(big.event_delivered_kw, 250 * base.event_delivered_kw,
                               rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(big.pool_cfads_usd, 250 * base.pool_cfads_usd, rtol=1e-9)
    np.testing.assert_allclose(big.energy_by_source_mwh, 250 * base.energy_by_source_mwh,
                               rtol=1e-12)
    np.testing.assert_allclose(big.flex_delivery_ratio, base.flex_delivery_ratio, rtol=1e-12)
    np.testing.assert_allclose(big.flex_population, 250 * big.flex_samples)
    # unit weights: the sample is the population, no sampling error; weights: some
    assert float(base.flex_committed_kw_se.max()) == 0.0
    assert float(big.flex_committed_kw_se.max()) > 0.0
    assert float(np.nanmax(big.event_delivered_kw_se.values)) >= 0.0


def test_group_se_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    est = rng.normal(10.0, 2.0, size=(1, 1, 8))
    centre = est.mean(axis=2)
    se = _group_se(est, centre, np.ones_like(est, bool), np.array([1.0]), np)
    expected = np.sqrt(((est - centre[..., None]) ** 2).sum() / (8 * 7))
    np.testing.assert_allclose(se, expected, rtol=1e-12)


def test_sampling_error_shrinks_as_one_over_sqrt_n():
    pop = {"ERCOT": 1_000_000.0, "PJM": 2_000_000.0}
    ses = []
    for n in (500, 8000):
        fleet = synthetic_fleet(n, REGIONS, seed=11, population=pop)
        _, meta = prepare_fleet(fleet, ["ERCOT", "PJM"])
        tot = meta["committed_kw"].sum()
        ses.append(np.sqrt((meta["committed_kw_se"] ** 2).sum()) / tot)
    # 16x the samples: a quarter of the relative error (up to the noise of s^2)
    assert ses[0] / ses[1] == pytest.approx(4.0, rel=0.2)


def test_weighted_fleet_stands_for_the_population():
    pop = {"ERCOT": 974_155.0, "PJM": 1_822_908.0}
    fleet = synthetic_fleet(1000, REGIONS, seed=4, population=pop)
    validate_fleet(fleet, ["ERCOT", "PJM"])
    for r, n in pop.items():
        w = fleet.weight.values[fleet.region.values == r]
        assert w.sum() == pytest.approx(n, rel=1e-12)
        assert np.ptp(w) == 0.0
    # samples in proportion to the population (largest remainder)
    counts = allocate_samples(1000, np.array(list(pop.values())), np.array(list(pop)))
    assert counts.sum() == 1000 and abs(counts[0] - 1000 * 974_155 / 2_797_063) < 1


def test_negative_weight_is_rejected_with_a_clear_error():
    fleet = _with_weight(tiny_inputs(10, seed=1).fleet, 5.0)
    fleet["weight"].values[3] = -2.0
    with pytest.raises(SchemaError, match=r"fleet\.weight.*-2.*expected a value >= 0"):
        validate_fleet(fleet)
    with pytest.raises(GridcapInputError, match=r"population\[region=PJM\] = -1"):
        synthetic_fleet(10, REGIONS, seed=1, population={"ERCOT": 5.0, "PJM": -1.0})


def test_weights_varying_within_a_region_are_rejected():
    fleet = tiny_inputs(10, seed=1).fleet
    fleet["weight"] = ("der", np.arange(1.0, 11.0), {"units": "1"})
    with pytest.raises(SchemaError, match="fleet.weight varies within region"):
        validate_fleet(fleet)


def test_enrollment_path_is_cited_and_below_doe_high_case():
    anchors, _ = read_der_enrollment()
    for name in anchors.data_vars:
        assert anchors[name].attrs["source"] and anchors[name].attrs["status"]
    peak = xr.DataArray([759_180.0], dims="region", coords={"region": ["US"]})
    n = enrolled_premises(peak, [2025, 2030], anchors)
    # the whole-US share reproduces the national path: 9.3 M x 93% in 2025, x 1.14^5 by 2030
    assert float(n.sel(year=2025).item()) == pytest.approx(9.3e6 * 0.93, rel=1e-6)
    assert float((n.sel(year=2030) / n.sel(year=2025)).item()) == pytest.approx(1.14**5, rel=1e-6)
    implied_gw = float(anchors["us_vpp_capacity_gw"]) * 1.14**5
    assert float(anchors["doe_vpp_2030_gw_low"]) * 0.8 < implied_gw
    assert implied_gw < float(anchors["doe_vpp_2030_gw_high"])


def test_weighted_aggregates_and_errors_agree_across_backends():
    inp = tiny_inputs(40, seed=1)
    inp.fleet = _with_weight(inp.fleet, 300.0)
    kw = dict(scenarios=3, seed=1, hours=96, representative="days")
    a = simulate(inp, backend="numpy", **kw)
    b = simulate(inp, backend="numba-cpu", **kw)
    for name in ("event_delivered_kw", "event_delivered_kw_se", "flex_delivery_ratio_se",
                 "pool_cfads_usd", "pool_cfads_usd_se", "energy_by_source_mwh"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-6, atol=1e-6,
                                   equal_nan=True, err_msg=name)
    assert float(np.nanmax(a.event_delivered_kw_se.values)) > 0.0
