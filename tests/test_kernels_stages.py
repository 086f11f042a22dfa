"""The compiled CPU loops around the dispatch kernel give NumPy's array code's exact bits."""

from __future__ import annotations

import numpy as np
import pytest

from gridcap.kernels.drivers import clear_sky_pv, hourly_drivers
from gridcap.kernels.numba_stages import pairwise_sum
from gridcap.kernels.periods import time_axis
from gridcap.kernels.sites import site_economics

LAT = np.array([31.0, 38.9, 36.8])
LON = np.array([-97.5, -77.4, -119.4])
TZ = ["America/Chicago", "America/New_York", "America/Los_Angeles"]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("n", [*range(0, 20), 127, 128, 129, 136, 255, 256, 257, 672, 1000,
                               1024, 1025, 2016, 8736, 8760, 100_003])
def test_pairwise_sum_is_numpys_sum(n):
    """Same tree of additions as NumPy's pairwise summation: equal bits, any length/offset."""
    rng = np.random.default_rng(n)
    # magnitudes over 9 decades, so a different summation order would show in the last bits
    x = rng.standard_normal(n + 3) * 10.0 ** rng.uniform(-3, 6, n + 3)
    for lo in (0, 3):
        assert pairwise_sum(x, lo, n) == x[lo:lo + n].sum()
    # and it is not a naive left-to-right sum (the test could fail)
    if n >= 1000:
        naive = 0.0
        for v in x[:n]:
            naive += v
        assert naive != x[:n].sum() or n == 0


@pytest.fixture(scope="module", params=[(8760, "weeks"), (672, "weeks"), (96, "days")])
def axis(request):
    return time_axis(*request.param)


def _drivers(axis, compiled):
    cs = clear_sky_pv(LAT, LON, TZ, 2026, axis.hours, hour_of_year=axis.hour_of_year)
    return hourly_drivers(np, seed=11, scenarios=np.arange(40, 43), lat=LAT,
                          price_mean=np.array([30.0, 35.0, 50.0]), cs=cs, hours=axis.hours,
                          hour_of_year=axis.hour_of_year, period_hours=axis.period_hours,
                          compiled=compiled)


def test_compiled_drivers_equal_array_code_bit_for_bit(axis):
    got, want = _drivers(axis, True), _drivers(axis, False)
    assert set(got) == set(want)
    for k in want:
        assert _same(got[k], want[k]), k
    # price spikes happened, so the spike branch was compared too
    assert (got["price"] > 3.0 * np.array([30.0, 35.0, 50.0])[None, :, None]).any() or \
        axis.hours < 8760


def test_compiled_site_economics_equal_array_code_bit_for_bit(axis):
    from gridcap.kernels.drivers import annual_drivers

    drv = _drivers(axis, True)
    ann = annual_drivers(np, seed=11, scenarios=np.arange(40, 43),
                         years=np.arange(2026, 2034))
    kw = {"price": drv["price"], "temp": drv["temp"], "site_region": np.array([0, 2, 2, 1]),
          "interconnection_mw": np.array([100.0, 250.0, 40.0, 75.5]),
          "mining_mw": np.array([90.0, 200.0, 35.0, 60.0]),
          "breakeven": np.array([45.0, 38.0, 60.0, 52.0]),
          # 0 months: online all year (the cached all-year sums); 30: online from year 3
          "conversion_months": np.array([0.0, 6.0, 18.5, 30.0]), "annual": ann,
          "hours": axis.hours, "hour_of_year": axis.hour_of_year, "gpu_life_years": 5.0}
    got = site_economics(np, compiled=True, **kw)
    want = site_economics(np, compiled=False, **kw)
    assert set(got) == set(want)
    for k in want:
        assert got[k].shape == (3, 4, 8)
        assert _same(got[k], want[k]), k
    # GPUs retire after 5 years: no revenue at a site converted at once in the last years
    assert (got["revenue"][:, 0, 5:] == 0).all() and (got["revenue"][:, 0, :5] > 0).all()


@pytest.mark.parametrize(("n_s", "n_r"), [(3, 2), (1, 1)])
def test_compiled_slice_statistics_equal_array_code_bit_for_bit(n_s, n_r):
    """Peak/mean net load per slice and year, weather at the peak hour, slice means; with
    one row NumPy sums pairwise, with several hour by hour: both reproduced."""
    import importlib

    from gridcap.kernels.dispatch import DispatchOut

    sim = importlib.import_module("gridcap.kernels.simulate")
    rng = np.random.default_rng(4)
    n_t = 24 * 40
    drv = {k: rng.uniform(0.0, 1.0, (n_s, n_r, n_t)) for k in ("price", "solar_cf", "wind_cf")}
    drv["price"] *= 10.0 ** rng.uniform(0, 4, (n_s, n_r, n_t))
    load = rng.uniform(500.0, 900.0, (n_s, n_r, n_t))
    load[0, 0, 100] = load[0, 0, 101] = 2000.0  # a tie at the maximum: the first hour wins
    out = DispatchOut.zeros(np, n_s, n_r, n_t, 4, 3)
    out.injection[:] = rng.uniform(0.0, 3e5, (n_s, n_r))[..., None]
    ann = {"price_level": rng.uniform(0.8, 1.3, (n_s, 5))}
    hours = np.arange(n_t)
    # irregular slices, one empty (NaN), one longer than a pairwise block of 128
    slices = [hours[hours % 7 == 0], hours[:0], hours[(hours % 24) >= 12], hours[100:102]]
    growth, years = np.array([0.02, 0.035])[:n_r], np.arange(2026, 2031)
    got = sim._slice_outputs(np, drv, out, ann, load, growth, years, slices)
    inj = out.injection / 1000.0
    g = np.stack([(1.0 + growth) ** float(y - years[0]) for y in years])
    want_nl = sim._net_load_slices_xp(np, drv, load, inj, g, slices)
    for key, w in zip(("peak", "mean", "solar_at_peak", "wind_at_peak"), want_nl, strict=True):
        assert _same(got[key], w), key
    for key in ("solar_cf", "wind_cf"):
        assert _same(got[key], sim._slice_reduce(drv[key], slices, "mean", np)), key
    assert np.isnan(got["peak"][:, :, :, 1]).all()
    assert got["solar_at_peak"][0, 0, 3] == drv["solar_cf"][0, 0, 100]


def test_event_thresholds_equal_separate_selections():
    """One partition at three ranks gives each rank's separate order statistic."""
    from gridcap.kernels.events import ARBITRAGE, EVENTS, event_thresholds, order_statistic

    rng = np.random.default_rng(9)
    f = rng.standard_normal((4, 3, 672)) * 100.0
    p = np.round(rng.lognormal(3.0, 0.5, (4, 3, 672)), 1)  # ties in the price
    got = event_thresholds(np, f, p)
    assert set(got) == {"net_load", "price", "p_lo", "p_hi"}
    assert _same(got["p_lo"], order_statistic(np, p, ARBITRAGE["low"]))
    assert _same(got["p_hi"], order_statistic(np, p, ARBITRAGE["high"]))
    n_top = round((1.0 - EVENTS["price_quantile"]) * 672)  # the top n hours are critical
    assert _same(got["price"], np.sort(p, axis=-1)[..., 672 - max(1, n_top)])
    assert _same(got["net_load"], np.sort(f, axis=-1)[..., 672 - 2])  # 0.3% of 672 h -> 2
    assert (got["p_lo"] < got["p_hi"]).all()
