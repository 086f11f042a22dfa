"""Tests of flexibility pricing and proof-of-flexibility settlement."""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.testing import assert_allclose

from gridcap.optimizer.planning.flexibility import (
    alternative_cost,
    delivery_ratios,
    flex_price,
    reliability,
)
from gridcap.optimizer.planning.settlement import ledger, settle
from gridcap.optimizer.planning.siting import (
    PlanOptions,
    capital_recovery_factor,
    plan,
    prepare_data,
)
from gridcap.optimizer.planning.synthetic import synthetic_study


def events(committed, delivered):
    c = np.asarray(committed, float)
    d = np.asarray(delivered, float)
    W, P, E = c.shape
    return xr.Dataset(
        {"event_committed_kw": (("scenario", "pool", "event"), c),
         "event_delivered_kw": (("scenario", "pool", "event"), d)},
        coords={"scenario": np.arange(W), "pool": [f"p{i}" for i in range(P)],
                "event": np.arange(E)},
    )


def test_delivery_ratio_caps_overdelivery_and_skips_padding():
    ds = events([[[10, 10, np.nan]]], [[[12, 5, np.nan]]])
    # min(12, 10) + min(5, 10) over 20 committed
    assert_allclose(delivery_ratios(ds), [[0.75]])


def test_reliability_is_the_lower_quantile_over_scenarios():
    ratios = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0])
    c = np.full((10, 1, 1), 100.0)
    ds = events(c, c * ratios[:, None, None])
    # 90 % confidence: delivered at least this well in 9 of 10 scenarios → 0.5
    assert_allclose(reliability(ds, 0.9), [0.5])
    assert_allclose(reliability(ds, 0.5), [np.sort(ratios)[4]])


def test_flex_price_is_capacity_value_times_reliability():
    cv = np.array([[100.0, 200.0], [50.0, 0.0]])
    price = flex_price(cv, np.array([0.8, 0.5, 1.0]), np.array([0, 1, 0]))
    assert_allclose(price, [[80.0, 160.0], [25.0, 0.0], [100.0, 200.0]])


def test_alternative_cost_closed_form():
    inputs, out = synthetic_study(regions=1, scenarios=2, slices=4, years=6, sites=0)
    d = prepare_data(inputs, out, PlanOptions())
    lag = np.ceil(d.lead[None, :] + d.needs_queue[None, :] * d.queue_years[:, None] - 1e-9)
    cost, tech = alternative_cost(d, lag.astype(int))
    assert np.isnan(cost[0, 0])                      # nothing online in the first year
    t = inputs.technologies
    k = list(t["tech"].values).index("battery")      # lag 1, firm-like accreditation
    crf = capital_recovery_factor(0.07, float(t["lifetime_years"][k]))
    expect = (crf * float(t["capex_usd_per_kw"][k]) + float(t["fixed_om_usd_per_kw_yr"][k])) / \
        float(t["availability"][k])
    assert tech[0, 1] == "battery"
    assert_allclose(cost[0, 1], expect)
    assert np.all(np.diff(cost[0, 1:]) <= 1e-9)     # more options later never cost more


def test_settlement_hand_values_and_identities():
    c = np.array([10.0, 10.0, 10.0, np.nan])
    d = np.array([7.0, 12.0, -1.0, np.nan])
    out = settle(c, d, np.array(2.0), 1.5)
    assert_allclose(out["paid_kw"][:3], [7.0, 10.0, 0.0])
    assert_allclose(out["shortfall_kw"][:3], [3.0, 0.0, 11.0])
    assert_allclose(out["payment_usd"], [14.0, 20.0, 0.0, 0.0])
    assert_allclose(out["penalty_usd"], [9.0, 0.0, 33.0, 0.0])
    assert np.isnan(out["paid_kw"][3])
    # paid + shortfall = committed where delivery is non-negative
    assert_allclose(out["paid_kw"][:2] + out["shortfall_kw"][:2], c[:2])
    assert_allclose(out["net_usd"], out["payment_usd"] - out["penalty_usd"])


def test_ledger_per_pool_totals_and_annual_price():
    rng = np.random.default_rng(0)
    c = np.full((3, 2, 4), 100.0)
    c[1, 1, 3] = np.nan                                # padding
    d = c * rng.uniform(0.5, 1.1, c.shape)
    ds = ledger(events(c, d), np.array([40.0, 60.0]), pools=np.array(["p0", "p1"]),
                penalty_multiple=2.0)
    per_year = np.array([4.0, (4 + 3 + 4) / 3])
    assert_allclose(ds["settlement_events_per_year"], per_year)
    assert_allclose(ds["settlement_price_usd_per_kw_event"], [40.0, 60.0] / per_year)
    assert_allclose(ds["settlement_pool_net_usd"],
                    ds["settlement_pool_payment_usd"] - ds["settlement_pool_penalty_usd"])
    assert_allclose(ds["settlement_pool_payment_usd"], ds["settlement_payment_usd"].sum("event"))
    # a pool delivering in full on every event earns exactly its annual price per kW
    full = ledger(events(c, c), np.array([40.0, 60.0]), pools=np.array(["p0", "p1"]),
                  penalty_multiple=2.0)
    assert_allclose(full["settlement_pool_payment_usd"].mean("scenario") / 100.0, [40.0, 60.0])


def test_plan_reports_price_alternative_and_ledger():
    inputs, out = synthetic_study(regions=2, scenarios=4, slices=6, years=4, sites=1, seed=3)
    ds = plan(inputs, out, options=PlanOptions(relax_integers=True, flex_confidence=0.8))
    rel = ds["flex_reliability"].values
    assert np.all((rel > 0) & (rel <= 1))
    expect = ds["capacity_value_usd_per_kw_yr"].values[[0, 1]] * rel[:, None]
    assert_allclose(ds["flex_price_usd_per_kw_yr"].values, expect)
    assert "alternative_cost_usd_per_kw_yr" in ds and "settlement_pool_net_usd" in ds
    assert ds["settlement_paid_kw"].dims == ("scenario", "pool", "event")
