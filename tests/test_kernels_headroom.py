"""Curtailment-enabled headroom (Norris et al. 2025): closed forms and an independent loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.kernels.headroom import (
    curtailment_rate,
    headroom,
    headroom_by_year,
    seasonal_thresholds,
)

BASE, H, J = 50_000.0, 4_000.0, 8  # flat demand [MW], spike height [MW], half-width [h]


def _calendar(year: int) -> tuple[np.ndarray, np.ndarray]:
    idx = pd.date_range(f"{year}-01-01", periods=8760, freq="h")
    return idx.month.to_numpy(), np.full(8760, year)


def _spiky_year(year: int, days: list[int]) -> np.ndarray:
    """Flat demand plus triangular spikes of height H, half-width J h, peaking at 17:00."""
    d = np.full(8760, BASE)
    for day in days:
        c = 24 * day + 17
        for j in range(-J, J + 1):
            d[c + j] = BASE + H * (1.0 - abs(j) / J)
    return d


# January (winter) and July (summer) spike days: both seasons peak at BASE + H
DAYS_A = [5, 12, 190, 195, 200, 205]
DAYS_B = [8, 20, 25, 185, 199, 210, 220, 230]


def test_closed_form_triangular_spikes():
    """Load a·H/J curtails a² H/J MWh and 2a−1 hours per spike: rate = n·a/8760 exactly."""
    month, year = _calendar(2023)
    d = _spiky_year(2023, DAYS_A)
    n = len(DAYS_A)
    for a in (1, 2, 3, 5):
        limit_pct = 100.0 * n * a / 8760.0
        res = headroom(d, month, year, [limit_pct])
        load = a * H / J
        assert_allclose(res.headroom_mw[0, 0], load, rtol=1e-12)
        assert_allclose(res.curtailed_mwh_per_year[0, 0], n * a * a * H / J, rtol=1e-9)
        assert res.curtailed_hours_per_year[0, 0] == n * (2 * a - 1)
        assert res.mean_event_duration_h[0, 0] == 2 * a - 1
        assert_allclose(res.curtailment_rate_pct[0, 0], limit_pct, rtol=1e-12)
        # hours keeping ≥ q of the load: curtailment (a − |j|)H/J ≤ (1 − q)·aH/J
        for qi, q in enumerate((0.5, 0.75, 0.9)):
            js = [j for j in range(-(a - 1), a) if (a - abs(j)) <= (1 - q) * a + 1e-12]
            assert_allclose(res.share_hours_keep_running[0, 0, qi], len(js) / (2 * a - 1))
        # two January spikes, four July spikes
        assert_allclose(res.season_share_hours[0, 0], [2 / 6, 4 / 6, 0.0])
    assert_allclose(res.threshold_summer_mw, BASE + H)
    assert_allclose(res.threshold_winter_mw, BASE + H)


def test_rates_are_averaged_over_years_not_pooled():
    """Two years of different length (hours_per_year=None): the mean of the yearly rates."""
    m1, y1 = _calendar(2023)
    d1 = _spiky_year(2023, DAYS_A)
    keep = 24 * 300  # a shorter second year: the first 300 days
    d2 = _spiky_year(2024, DAYS_B)[:keep]
    m2, y2 = m1[:keep], np.full(keep, 2024)
    d = np.concatenate([d1, d2])
    month, year = np.concatenate([m1, m2]), np.concatenate([y1, y2])
    a = 3
    load = a * H / J
    per_spike = a * a * H / J
    expected = 0.5 * (len(DAYS_A) * per_spike / (load * 8760) + len(DAYS_B) * per_spike
                      / (load * keep))
    rate = curtailment_rate(d, seasonal_thresholds(d, month)[2], year, [load],
                            hours_per_year=None)
    assert_allclose(rate[0, 0], 100 * expected, rtol=1e-12)
    res = headroom(d, month, year, [100 * expected], hours_per_year=None)
    assert_allclose(res.headroom_mw[0, 0], load, rtol=1e-12)
    pooled = 100 * (len(DAYS_A) + len(DAYS_B)) * per_spike / (load * (8760 + keep))
    assert not math.isclose(pooled, 100 * expected, rel_tol=1e-3)


def test_paper_thresholds_and_shoulder_months():
    """Summer threshold = max over May–Sep (June–Aug ± 1 month), applied April–October."""
    month, _ = _calendar(2023)
    d = np.full(8760, 100.0)
    d[month == 9] = 130.0  # a September peak (within one month of summer) sets the threshold
    d[month == 2] = 120.0
    d[month == 4] = 110.0  # April does not set it
    s, w, per_hour = seasonal_thresholds(d, month)
    assert (s[0], w[0]) == (130.0, 120.0)
    assert set(per_hour[0, month == 10]) == {130.0}
    assert set(per_hour[0, month == 11]) == {120.0}
    s0, _, _ = seasonal_thresholds(d, month, method={"peak_window_months": 0})
    assert s0[0] == 100.0


def _loop_headroom(demand, month, year, limit_pct):
    """Independent implementation: plain loops over hours, bisection on the paper's equation."""
    n = len(demand)
    summer_peak = max(demand[t] for t in range(n) if month[t] in (5, 6, 7, 8, 9))
    winter_peak = max(demand[t] for t in range(n) if month[t] in (11, 12, 1, 2, 3))
    thr = [summer_peak if 4 <= month[t] <= 10 else winter_peak for t in range(n)]
    years = sorted(set(year))

    def rate(load):
        total = 0.0
        for y in years:
            cur = 0.0
            for t in range(n):
                if year[t] == y:
                    cur += min(load, max(0.0, demand[t] + load - thr[t]))
            total += cur / (load * 8760.0)
        return total / len(years)

    target = limit_pct / 100.0
    lo, hi = 0.0, 1.0
    while rate(hi) <= target:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid == lo or mid == hi:
            break
        if rate(mid) <= target:
            lo = mid
        else:
            hi = mid
    return lo


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agrees_with_an_independent_loop(seed):
    rng = np.random.default_rng(seed)
    n_y, per = 3, 600  # three short "years", months 1..12 in blocks of 50 hours
    t = np.arange(n_y * per)
    month = (t % per) // 50 + 1
    year = 2000 + t // per
    demand = (1000.0 + 150.0 * np.cos(2 * np.pi * t / 24) + 120.0 * np.cos(2 * np.pi * t / per)
              + rng.gamma(2.0, 40.0, t.size))
    limits = [0.25, 0.5, 1.0, 5.0]
    res = headroom(demand, month, year, limits)
    for k, lim in enumerate(limits):
        ref = _loop_headroom(demand.tolist(), month.tolist(), year.tolist(), lim)
        assert abs(res.headroom_mw[0, k] - ref) <= 1e-9 * ref


def test_vectorised_over_regions_equals_one_at_a_time():
    rng = np.random.default_rng(7)
    month, year = _calendar(2023)
    d = 500.0 + rng.gamma(3.0, 30.0, (3, 8760))
    all_ = headroom(d, month, year)
    for r in range(3):
        one = headroom(d[r], month, year)
        assert_allclose(all_.headroom_mw[r], one.headroom_mw[0], rtol=0, atol=0)


def test_headroom_zero_and_monotone_in_limit():
    month, year = _calendar(2023)
    d = np.full(8760, 100.0)  # every hour at the threshold: any new load is curtailed fully
    res = headroom(d, month, year, [1.0])
    assert res.headroom_mw[0, 0] == 0.0
    rng = np.random.default_rng(3)
    d = 500.0 + rng.gamma(3.0, 30.0, 8760)
    res = headroom(d, month, year, [0.1, 0.25, 0.5, 1, 2, 5, 20])
    assert (np.diff(res.headroom_mw[0]) > 0).all()


def test_headroom_by_year_uses_common_thresholds():
    m1, _ = _calendar(2023)
    d = np.concatenate([_spiky_year(2023, DAYS_A), _spiky_year(2024, DAYS_B)])
    month, year = np.concatenate([m1, m1]), np.repeat([2023, 2024], 8760)
    a = 2
    lim = 100.0 * len(DAYS_A) * a / 8760.0
    labels, each, pooled = headroom_by_year(d, month, year, [lim])
    assert labels.tolist() == [2023, 2024]
    assert_allclose(each[0, 0, 0], a * H / J, rtol=1e-12)
    # year B: n_B·a'/8760 = lim → a' = a·n_A/n_B (inside one segment: closed form)
    a_b = a * len(DAYS_A) / len(DAYS_B)  # 1.5: between breakpoints 1 and 2
    # rate_B(L) = n_B·Σ_{|j|<a'} (L − jH/J)/(8760 L), with L = x·H/J and 1 < x ≤ 2
    # → n_B (3x − 2)/(8760 x) = lim/100 → x = 2 n_B/(3 n_B − 8760·lim/100)
    x = 2 * len(DAYS_B) / (3 * len(DAYS_B) - 8760 * lim / 100)
    assert 1 < x <= 2 and a_b > 1
    assert_allclose(each[0, 1, 0], x * H / J, rtol=1e-12)
    assert each[0, 1, 0] < pooled.headroom_mw[0, 0] < each[0, 0, 0]  # rates are averaged


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"limits_pct": [0.0]}, "curtailment limits"),
        ({"limits_pct": [120.0]}, "curtailment limits"),
        ({"demand": np.r_[np.nan, np.ones(8759)]}, "missing or non-finite"),
        ({"month": np.zeros(8760, int)}, "month"),
        ({"year": np.zeros(10, int)}, "year"),
    ],
)
def test_bad_input_names_it(kwargs, match):
    month, year = _calendar(2023)
    args = {"demand": np.ones(8760), "month": month, "year": year, "limits_pct": [1.0]}
    args.update(kwargs)
    with pytest.raises(GridcapInputError, match=match):
        headroom(args["demand"], args["month"], args["year"], args["limits_pct"])
