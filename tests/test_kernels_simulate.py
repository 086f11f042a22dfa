"""simulate(): outcomes contract, backend agreement, batching/chunk/thread invariance, errors."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import xarray as xr

from gridcap.errors import BackendUnavailableError, GridcapInputError
from gridcap.kernels import available_backends, backend_status, resolve_backend, simulate
from gridcap.kernels.periods import time_axis
from gridcap.kernels.sites import (
    DESIGN_PUE,
    GPU_COST_USD_PER_GPU_HOUR,
    GPUS_PER_MW_IT,
    HOURS_PER_MONTH,
)
from gridcap.kernels.testing import tiny_inputs

HOURS = 24 * 14
REP = "days"  # 14 representative days (gridcap.kernels.periods)
S4 = ("scenario",)
#: docs/data-model.md §2: variable -> (dims, units)
CONTRACT = {
    "peak_net_load_mw": ((*S4, "region", "year", "slice"), "MW"),
    "mean_net_load_mw": ((*S4, "region", "year", "slice"), "MW"),
    "price_usd_per_mwh": ((*S4, "region", "year", "slice"), "$/MWh"),
    "solar_cf": ((*S4, "region", "slice"), "1"),
    "wind_cf": ((*S4, "region", "slice"), "1"),
    "solar_cf_at_peak": ((*S4, "region", "slice"), "1"),
    "wind_cf_at_peak": ((*S4, "region", "slice"), "1"),
    "flex_potential_kw": (("pool",), "kW"),
    "flex_committed_kw": (("pool",), "kW"),
    "flex_delivery_ratio": ((*S4, "pool", "slice"), "1"),
    "event_committed_kw": ((*S4, "pool", "event"), "kW"),
    "event_delivered_kw": ((*S4, "pool", "event"), "kW"),
    "event_hour": ((*S4, "region", "event"), "h"),
    "site_cfads_usd": ((*S4, "site", "year"), "$"),
    "site_mining_cfads_usd": ((*S4, "site", "year"), "$"),
    "site_ai_energy_mwh": ((*S4, "site", "year"), "MWh"),
    "site_power_cost_usd": ((*S4, "site", "year"), "$"),
    "site_revenue_usd": ((*S4, "site", "year"), "$"),
    "pool_cfads_usd": ((*S4, "pool", "year"), "$"),
    "energy_by_source_mwh": ((*S4, "region", "source"), "MWh"),
    "ai_utilization": ((*S4, "year"), "1"),
    "gpu_price_usd_per_gpu_hour": ((*S4, "year"), "$/GPU-h"),
    "price_level": ((*S4, "year"), "1"),
}


@pytest.fixture(scope="module")
def inputs():
    return tiny_inputs(30, seed=1, n_regions=2)


@pytest.fixture(scope="module")
def ref(inputs):
    return simulate(inputs, scenarios=4, seed=42, backend="numpy", hours=HOURS, representative=REP)


@pytest.fixture(scope="module")
def nb(inputs):
    return simulate(inputs, scenarios=4, seed=42, backend="numba-cpu", hours=HOURS, representative=REP)


def _assert_same(a: xr.Dataset, b: xr.Dataset, rtol: float) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for k in a.data_vars:
        x, y = a[k].values, b[k].values
        if np.issubdtype(x.dtype, np.integer):
            assert np.array_equal(x, y), k
        else:
            np.testing.assert_allclose(x, y, rtol=rtol, atol=0, equal_nan=True, err_msg=k)


def test_outcomes_contract(ref, inputs):
    for name, (dims, units) in CONTRACT.items():
        assert ref[name].dims == dims, name
        assert ref[name].attrs["units"] == units, name
    assert list(ref.scenario.values) == [0, 1, 2, 3]
    assert list(ref.region.values) == list(inputs.regions.region.values)
    assert list(ref.year.values) == [2026, 2027, 2028]
    assert ref.slice.size == 12 and ref.slice_hours.attrs["units"] == "h"
    assert ref.slice_hours.sum() == pytest.approx(8760.0)
    assert set(ref.pool_region.values) <= set(ref.region.values)
    assert list(ref.source.values) == ["pv", "battery_discharge", "grid_import", "flex_shed"]
    assert {"seed", "backend", "hours", "gridcap_version"} <= set(ref.attrs)
    assert ref.attrs["seed"] == 42 and ref.attrs["hours"] == HOURS


def test_numba_cpu_agrees_with_numpy(ref, nb):
    assert nb.attrs["backend"] == "numba-cpu"
    _assert_same(ref, nb, rtol=1e-12)
    assert (ref.event_hour >= 0).any()


def test_scenario_batches_concatenate_exactly(inputs, nb):
    a = simulate(inputs, scenarios=2, seed=42, backend="numba-cpu", hours=HOURS, representative=REP)
    b = simulate(inputs, scenarios=2, seed=42, backend="numba-cpu", hours=HOURS, representative=REP,
                 scenario_offset=2)
    both = xr.concat([a, b], dim="scenario", data_vars="minimal", coords="minimal",
                     compat="override")
    assert list(both.scenario.values) == [0, 1, 2, 3]
    for k in nb.data_vars:
        assert np.array_equal(both[k].values, nb[k].values, equal_nan=True), k


def test_chunk_size_and_threads_do_not_change_results(inputs, nb):
    c1 = simulate(inputs, scenarios=4, seed=42, backend="numba-cpu", hours=HOURS, representative=REP, chunk_size=1)
    prev = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        t1 = simulate(inputs, scenarios=4, seed=42, backend="numba-cpu", hours=HOURS, representative=REP)
    finally:
        numba.set_num_threads(prev)
    for k in nb.data_vars:
        assert np.array_equal(c1[k].values, nb[k].values, equal_nan=True), k
        assert np.array_equal(t1[k].values, nb[k].values, equal_nan=True), k


def test_seed_changes_scenarios(inputs, nb):
    other = simulate(inputs, scenarios=4, seed=43, backend="numba-cpu", hours=HOURS, representative=REP)
    assert not np.allclose(other.price_usd_per_mwh, nb.price_usd_per_mwh)


def test_physical_consistency(ref, inputs):
    peak, mean = ref.peak_net_load_mw, ref.mean_net_load_mw
    simulated = ref.slice_hours > 0  # 14 representative days cover every slice
    assert bool(simulated.all())
    assert bool(peak.where(~simulated).isnull().all())
    assert bool((peak >= mean - 1e-9).where(simulated, True).all())
    r = ref.flex_delivery_ratio
    assert float(r.min()) >= 0.0 and float(r.max()) <= 1.0 + 1e-12
    d, c = ref.event_delivered_kw, ref.event_committed_kw
    assert bool((d.isnull() == c.isnull()).all())
    assert bool((d <= c + 1e-9).where(c.notnull(), True).all())
    assert bool((d.where(c.notnull()) >= 0).where(c.notnull(), True).all())
    has_event = ref.event_hour >= 0
    assert bool(((ref.event_duration_h > 0) == has_event).all())
    # potential >= committed for every pool (the tiny fleet commits 70 % of its potential)
    assert bool((ref.flex_potential_kw >= ref.flex_committed_kw).all())
    e = ref.energy_by_source_mwh
    assert bool((e >= 0).all()) and float(e.sel(source="pv").sum()) > 0
    # load growth scales the regional peak (DER output is tiny next to regional load)
    g = inputs.regions.load_growth_per_year
    ratio = ref.peak_net_load_mw.isel(year=2) / ref.peak_net_load_mw.isel(year=0)
    expect = ((1 + g) ** 2).broadcast_like(ratio)
    np.testing.assert_allclose(ratio.where(simulated).values, expect.where(simulated).values,
                               rtol=1e-4)
    pl = ref.price_level
    assert np.all(pl.isel(year=0) == 1.0) and float(pl.std()) > 0


def test_site_revenue_closed_form(ref, inputs):
    sites = inputs.sites
    it_mw = sites.interconnection_mw / DESIGN_PUE
    # online hours per year: the simulated hours of year past the downtime, each standing
    # for 8760 / HOURS hours (closed form)
    t = time_axis(HOURS, REP).hour_of_year.astype(float)
    on = xr.DataArray(
        [[(t + 8760.0 * y >= m * HOURS_PER_MONTH).sum() * 8760.0 / HOURS for y in range(3)]
         for m in sites.conversion_months.values],
        dims=("site", "year"), coords={"year": ref.year})
    assert float(on[0, 1]) == 8760.0 and 0 < float(on[2, 1]) < 8760.0  # 12 and 18 months
    expect = it_mw * GPUS_PER_MW_IT * ref.ai_utilization * ref.gpu_price_usd_per_gpu_hour * on
    np.testing.assert_allclose(ref.site_revenue_usd, expect.transpose(*ref.site_revenue_usd.dims),
                               rtol=1e-12)
    # a site without mining load earns nothing by mining; energy > 0 once online
    assert np.all(ref.site_mining_cfads_usd.sel(site="mine_c") == 0.0)
    assert np.all(ref.site_ai_energy_mwh.isel(year=1) > 0)
    # pools that commit nothing cost only the aggregator opex
    zero = ref.flex_committed_kw == 0
    if bool(zero.any()):
        assert bool((ref.pool_cfads_usd.where(zero, -1.0) < 0).all())


def test_backend_registry_and_errors(inputs):
    avail = available_backends()
    assert "numpy" in avail and "numba-cpu" in avail
    status = backend_status()
    assert set(status) == {"numpy", "numba-cpu", "numba-cuda", "cupy"}
    assert status["numpy"] == "available"
    if "cupy" not in avail:
        assert "cupy" in status["cupy"]
        with pytest.raises(BackendUnavailableError, match="cupy"):
            simulate(inputs, scenarios=1, seed=0, backend="cupy", hours=24, representative="chronological")
    with pytest.raises(BackendUnavailableError, match="numba-cpu"):
        simulate(inputs, scenarios=1, seed=0, backend="fortran", hours=24, representative="chronological")
    assert resolve_backend("auto").name == avail[0] or avail[0] == "numba-cuda"


def test_site_gpu_assumptions_come_from_the_caller(ref, inputs):
    """GPUs per MW scale revenue and the GPU charge; the charge enters CFADS per GPU-hour."""
    assert ref.attrs["site_gpus_per_mw"] == GPUS_PER_MW_IT
    assert ref.attrs["site_gpu_charge_usd_per_gpu_hour"] == GPU_COST_USD_PER_GPU_HOUR
    # defaults are the config's [compute] defaults: $35,000 over 5 years, 780 GPU/MW
    assert GPU_COST_USD_PER_GPU_HOUR == pytest.approx(35_000 / (5 * 8760))
    other = simulate(inputs, scenarios=4, seed=42, backend="numpy", hours=HOURS, representative=REP,
                     gpus_per_mw=2 * GPUS_PER_MW_IT, gpu_cost_usd_per_gpu_hour=0.0)
    assert other.attrs["site_gpu_charge_usd_per_gpu_hour"] == 0.0
    np.testing.assert_allclose(other.site_revenue_usd, 2 * ref.site_revenue_usd, rtol=1e-12)
    np.testing.assert_array_equal(other.site_power_cost_usd, ref.site_power_cost_usd)
    # CFADS = revenue − power − charge × GPU-hours online − opex, with GPU-hours online =
    # revenue / (utilization × $/GPU-h): the difference is closed form
    gpu_hours_ref = ref.site_revenue_usd / (ref.ai_utilization * ref.gpu_price_usd_per_gpu_hour)
    expect = (other.site_revenue_usd - ref.site_revenue_usd
              + GPU_COST_USD_PER_GPU_HOUR * gpu_hours_ref)
    np.testing.assert_allclose(other.site_cfads_usd - ref.site_cfads_usd, expect,
                               rtol=1e-9, atol=1e-3)


@pytest.mark.parametrize(("kw", "match"), [
    ({"gpus_per_mw": 0.0}, "gpus_per_mw = 0.0: expected a finite number > 0"),
    ({"gpu_cost_usd_per_gpu_hour": -1}, "gpu_cost_usd_per_gpu_hour = -1"),
    ({"gpu_cost_usd_per_gpu_hour": float("nan")}, "gpu_cost_usd_per_gpu_hour"),
    ({"scenarios": 0}, "scenarios"),
    ({"scenarios": 1.5}, "scenarios"),
    ({"seed": -1}, "seed"),
    ({"hours": 25}, "hours"),
    ({"hours": 9000}, "hours"),
    ({"hours": 720, "representative": "weeks"}, r"hours = 720 with representative = 'weeks'"),
    ({"hours": 24, "representative": "days"}, r"multiple of 24 in \[96, 8736\]"),
    ({"hours": 168, "representative": "months"}, "representative = 'months'"),
    ({"scenario_offset": -2}, "scenario_offset"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_bad_arguments_are_named(inputs, kw, match):
    args = {"scenarios": 1, "seed": 0, "backend": "numpy", "hours": 24,
            "representative": "chronological"} | kw
    with pytest.raises(GridcapInputError, match=match):
        simulate(inputs, **args)


def test_bad_inputs_are_reported(inputs):
    from gridcap.errors import SchemaError

    bad = tiny_inputs(10)
    bad.fleet["battery_efficiency"][3] = 1.4
    with pytest.raises(SchemaError, match="battery_efficiency"):
        simulate(bad, scenarios=1, seed=0, backend="numpy", hours=24, representative="chronological")
    mixed = tiny_inputs(10)
    mixed.fleet["pool"][:] = "one-pool"
    with pytest.raises(GridcapInputError, match="one-pool"):
        simulate(mixed, scenarios=1, seed=0, backend="numpy", hours=24, representative="chronological")


def test_study_setup_is_reused_only_for_the_same_inputs(inputs):
    """Batches of one study share one set-up (validation, fleet, contracts, clear sky); a
    changed input is set up afresh, and changing a returned Dataset cannot reach the cache."""
    import importlib

    sim_mod = importlib.import_module("gridcap.kernels.simulate")
    kw = {"scenarios": 2, "seed": 5, "backend": "numba-cpu", "hours": HOURS,
          "representative": REP}
    sim_mod._SETUP_CACHE.clear()
    first = simulate(inputs, **kw)
    (key, setup), = sim_mod._SETUP_CACHE
    again = simulate(inputs, scenario_offset=2, **kw)
    assert sim_mod._SETUP_CACHE[0][1] is setup  # reused
    # the caller changes a returned variable that came from the set-up
    committed = first["flex_committed_kw"].values.copy()
    assert committed.max() > 0
    first["flex_committed_kw"].values[:] = -1.0
    third = simulate(inputs, **kw)
    assert np.array_equal(third["flex_committed_kw"].values, committed)
    xr.testing.assert_identical(third.drop_vars("flex_committed_kw"),
                                first.drop_vars("flex_committed_kw"))
    assert again.sizes["scenario"] == 2
    # a copy with one DER's PV changed in place is other inputs: a new set-up, new results
    changed = type(inputs)(**{**vars(inputs), "fleet": inputs.fleet.copy(deep=True)})
    changed.fleet["pv_kw"].values[0] += 3.0
    out = simulate(changed, **kw)
    assert sim_mod._SETUP_CACHE[0][0] != key
    assert not np.array_equal(out["energy_by_source_mwh"].values,
                              third["energy_by_source_mwh"].values)


def test_flexibility_payment_enters_pool_cfads_linearly(ref, inputs):
    """The pools' credit F·C·ρ (kernels.sites.pool_economics): CFADS is affine in the
    payment F, rises with it only where flexibility is committed, and nothing else moves."""
    from dataclasses import replace

    from gridcap.kernels.options import SimulateOptions
    from gridcap.kernels.periods import PeriodSampling
    from gridcap.kernels.sites import FLEX_PAYMENT_USD_PER_KW_YR as F

    base = SimulateOptions(scenarios=4, seed=42, backend="numpy",
                           periods=PeriodSampling(HOURS, REP))
    zero = simulate(inputs, replace(base, flex_payment_usd_per_kw_yr=0.0))
    double = simulate(inputs, replace(base, flex_payment_usd_per_kw_yr=2 * F))
    np.testing.assert_array_equal(zero.site_cfads_usd, ref.site_cfads_usd)
    np.testing.assert_array_equal(zero.flex_delivery_ratio, ref.flex_delivery_ratio)
    assert ref.attrs["pool_flex_payment_usd_per_kw_yr"] == F
    assert double.attrs["pool_flex_payment_usd_per_kw_yr"] == 2 * F
    d1 = (ref.pool_cfads_usd - zero.pool_cfads_usd).values
    d2 = (double.pool_cfads_usd - ref.pool_cfads_usd).values
    np.testing.assert_allclose(d2, d1, rtol=1e-9, atol=1e-6)
    assert d1.min() >= -1e-6 and d1.max() > 0
    # at most F per committed kW per year (delivery ratio <= 1, enrolment index <= 1)
    com = ref.flex_committed_kw.values[None, :, None]
    assert np.all(d1 <= F * com * (1 + 1e-9) + 1e-6)
