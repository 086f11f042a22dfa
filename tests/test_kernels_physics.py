"""One DER-hour (der_hour_step) and the dispatch trace: energy balance, bounds, deliveries."""

from __future__ import annotations

import numpy as np
import pytest

from gridcap.kernels.dispatch import DispatchDrivers, DispatchOut, dispatch_xp
from gridcap.kernels.drivers import clear_sky_pv, hourly_drivers
from gridcap.kernels.events import MAX_EVENTS, find_events, order_statistic
from gridcap.kernels.simulate import prepare_fleet
from gridcap.kernels.targets import get_ops
from gridcap.kernels.testing import tiny_inputs


def _random_case(n: int, seed: int = 0) -> tuple:
    g = np.random.default_rng(seed)
    e_kwh = g.choice([0.0, 10.0, 13.5], n)
    e_min, e_max = 0.1 * e_kwh, 0.95 * e_kwh
    state = (g.uniform(e_min, e_max), g.uniform(0, 15, n), g.uniform(0, 3, n))
    eta = g.uniform(0.7, 1.0, n)
    params = (
        g.uniform(0, 10, n), g.uniform(0, 3, n), e_min, e_max, np.where(e_kwh > 0, 5.0, 0.0),
        eta, 1.0 / eta, g.choice([0.0, 7.2], n), g.uniform(0, 20, n),
        g.integers(0, 24, n), g.integers(0, 24, n), g.uniform(0, 3, n), g.uniform(0, 1, n),
        g.choice([0.0, 2.0, 10.0], n),
    )
    drivers = (
        g.uniform(0, 0.9, n), g.uniform(0.05, 1, n), g.uniform(0.5, 1.5, n),
        g.uniform(-10, 40, n), g.uniform(0, 300, n), np.full(n, 25.0), np.full(n, 60.0),
        g.random(n) < 0.3, g.random(n) < 0.2, g.integers(0, 24, n),
    )
    rand = (g.normal(size=n), g.normal(size=n), g.random(n))
    return state, params, drivers, rand


def test_step_energy_balance_bounds_and_deliveries():
    n = 200_000
    state, params, drivers, rand = _random_case(n)
    ops = get_ops("numpy")
    soc0 = state[0]
    soc, ev_need, debt, pv, c, d, inj, imp, shed, deliv = ops.der_hour_step(
        *state, *params, *drivers, *rand)
    pv_kw, base_kw, e_min, e_max, p_batt, eta, _inv_eta, ev_kw = params[:8]
    flex_kw, committed = params[11], params[13]
    cs, in_event = drivers[0], drivers[7]
    # battery energy balance: charge x efficiency - discharge = change of SoC
    np.testing.assert_allclose(soc - soc0, c * eta - d, rtol=0, atol=1e-12)
    assert np.all(soc >= e_min - 1e-12)
    assert np.all(soc <= e_max + 1e-12)
    assert np.all((c >= 0) & (c <= p_batt)) and np.all((d >= 0) & (d <= p_batt))
    assert not np.any((c > 0) & (d > 0))
    # delivered flexibility is physically possible and only in events of committed DERs
    assert np.all(deliv <= p_batt + ev_kw + flex_kw + 1e-12)
    assert np.all(deliv >= 0)
    assert np.all(deliv[~in_event] == 0) and np.all(deliv[committed == 0] == 0)
    assert np.any(deliv > 0)
    assert np.all((pv >= 0) & (pv <= pv_kw * cs + 1e-12))
    assert np.all(ev_need >= -1e-12) and np.all(debt >= -1e-12)
    assert np.all(shed >= 0) and np.all(imp >= 0)
    del base_kw, inj


def test_step_is_bit_identical_on_numba():
    n = 3000
    state, params, drivers, rand = _random_case(n, seed=1)
    ref = get_ops("numpy").der_hour_step(*state, *params, *drivers, *rand)
    nb = get_ops("numba-cpu").der_hour_step
    for i in range(0, n, 7):
        args = [a[i] for a in (*state, *params, *drivers, *rand)]
        got = nb(*args)
        assert got == tuple(r[i] for r in ref)


@pytest.fixture(scope="module")
def trace():
    inputs = tiny_inputs(25, seed=3)
    regions = [str(r) for r in inputs.regions.region.values]
    fleet, _meta = prepare_fleet(inputs.fleet, regions)
    hours = 24 * 21
    reg = inputs.regions
    cs = clear_sky_pv(reg.lat.values, reg.lon.values, [str(z) for z in reg.timezone.values],
                      2026, hours)
    scen = np.arange(3, dtype=np.uint64)
    drv = hourly_drivers(np, seed=5, scenarios=scen, lat=reg.lat.values,
                         price_mean=reg.price_mean_usd_per_mwh.values, cs=cs, hours=hours)
    ev = find_events(np, drv["load_pu"], drv["price"])
    dd = DispatchDrivers(scen, cs, drv["kreg"], drv["house"], drv["temp"], drv["price"],
                         order_statistic(np, drv["price"], 0.25),
                         order_statistic(np, drv["price"], 0.85), ev["in_event"],
                         ev["pre_event"], ev["event_id"])
    out = DispatchOut.zeros(np, 3, len(regions), hours, fleet.n_pools, MAX_EVENTS)
    tr: dict = {}
    dispatch_xp(np, fleet, dd, out, seed=5, trace=tr)
    return fleet, dd, out, tr


def test_trace_battery_balance_and_soc_bounds(trace):
    fleet, _dd, out, tr = trace
    e_min, e_max, eta = fleet.fparams[2], fleet.fparams[3], fleet.fparams[5]
    soc = tr["soc"]
    dsoc = soc[1:] - soc[:-1]
    np.testing.assert_allclose(dsoc, tr["charge"][:-1] * eta - tr["discharge"][:-1], atol=1e-11)
    assert np.all(soc >= e_min - 1e-9) and np.all(soc <= e_max + 1e-9)
    has_batt = fleet.fparams[4] > 0
    assert np.ptp(soc[:, :, has_batt], axis=0).min() > 1.0  # batteries actually cycle
    # regional injection sums and totals are consistent with the lanes
    assert np.isclose(out.source[..., 1].sum(), tr["discharge"].sum())
    assert np.isclose(out.source[..., 0].sum(), tr["pv"].sum())


def test_trace_deliveries_only_in_events_and_within_commitment(trace):
    fleet, dd, out, tr = trace
    region = fleet.iparams[2]
    in_ev = dd.in_event[:, region, :].transpose(2, 0, 1)  # (T, S, N)
    assert in_ev.any()
    assert np.all(tr["delivered"][~in_ev] == 0)
    physical = fleet.fparams[4] + fleet.fparams[6] + fleet.fparams[8]
    assert np.all(tr["delivered"] <= physical + 1e-12)
    settled = np.minimum(tr["delivered"], fleet.fparams[10])
    assert np.isclose(out.event.sum(), settled.sum())
    # PV never exceeds clear-sky output of its nameplate
    cs_l = dd.cs[region, :].T[:, None, :]
    assert np.all(tr["pv"] <= fleet.fparams[0] * cs_l + 1e-12)
