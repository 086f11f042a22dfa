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
