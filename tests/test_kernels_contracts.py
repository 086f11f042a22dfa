"""Contracted site revenue: lease closed forms, tenant credit against its hazard, guarantor."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.kernels.contracts import (
    DEFAULT_RATE_1Y,
    LEASE_DEFAULTS,
    SiteContracts,
    contract_cashflows,
    hazard_of_rating,
)

MW, RENT, G = 100.0, 1.8e6, 0.03


def terms(**kw):
    d = dict(site=["a"], mode=[1], contracted_mw=[MW], rent_usd_per_mw_yr=[RENT],
             term_years=[10.0], escalator=[G], owner_opex_share=[0.15],
             commencement_months=[0.0], ramp_years=[0.0], renewal_probability=[0.0],
             renewal_years=[5.0], renewal_rent_factor=[1.0], void_months=[12.0],
             relet_haircut=[0.25], delay_probability=[0.0], delay_months=[6.0],
             tenant_hazard=[0.0], guarantor_hazard=[0.0], backstop_usd=[0.0],
             prepayment_share=[0.0], gpu_cost_usd_per_mw_yr=[0.0], gpu_life_years=[5.0])
    d.update(kw)
    return SiteContracts(**d)


def run(c, s=4, h=20, seed=3):
    return contract_cashflows(np, c, seed=seed, scenarios=np.arange(s), finance_years=h)


def test_lease_escalator_and_commencement_closed_form():
    out = run(terms(relet_haircut=[1.0]))  # re-let worth nothing: only the base term pays
    rev = out["revenue"][0, 0]
    assert_allclose(rev[:10], MW * RENT * (1 + G) ** np.arange(10), rtol=1e-12)
    assert_allclose(rev[10:], 0.0)
    # owner costs continue after the term (dark hall): CFADS = rent x (1 - opex share) in term
    assert_allclose(out["cfads"][0, 0, :10], 0.85 * rev[:10], rtol=1e-12)
    # commencement after 6 months: half a year of rent in year 1, lease anniversaries mid-year
    out6 = run(terms(commencement_months=[6.0], relet_haircut=[1.0]))["revenue"][0, 0]
    assert_allclose(out6[0], MW * RENT / 2, rtol=1e-12)
    assert_allclose(out6[1], MW * RENT / 2 * (1 + (1 + G)), rtol=1e-12)
    total = MW * RENT * ((1 + G) ** 10 - 1) / G
    assert_allclose(out6.sum(), total, rtol=1e-12)


def test_renewal_and_relet_closed_form():
    ren = run(terms(renewal_probability=[1.0], renewal_rent_factor=[0.9]))["revenue"][0, 0]
    assert_allclose(ren[10:15], 0.9 * MW * RENT * (1 + G) ** np.arange(10, 15), rtol=1e-12)
    # after the renewal: 12 dark months, then re-let at 75% of the escalated rent
    assert_allclose(ren[15], 0.0)
    assert_allclose(ren[16:20], 0.75 * MW * RENT * (1 + G) ** np.arange(16, 20), rtol=1e-12)
    ramp = run(terms(ramp_years=[1.0], relet_haircut=[1.0]))["revenue"][0, 0]
    assert_allclose(ramp[0], MW * RENT / 12 * sum((j + 1) / 12 for j in range(12)), rtol=1e-12)


def test_default_rates_are_the_sp_2024_table():
    # S&P 2024 annual global corporate study (2025-03-27), Table 24, year-1 column [%]
    table = {"AAA": 0.00, "AA": 0.02, "A": 0.05, "BBB": 0.14, "BB": 0.56, "B": 2.93,
             "CCC/C": 26.12}
    for k, pct in table.items():
        assert DEFAULT_RATE_1Y[k] == pytest.approx(pct / 100, abs=1e-12), k
    assert DEFAULT_RATE_1Y["NR"] == DEFAULT_RATE_1Y["B"]  # assumption: unrated as B
    # worse rating, higher one-year rate (the table's rank order)
    order = [DEFAULT_RATE_1Y[k] for k in ("AAA", "AA", "A", "BBB", "BB", "B", "CCC/C")]
    assert (np.diff(order) > 0).all()
    assert hazard_of_rating("BB-") == pytest.approx(-math.log(1 - 0.0056), rel=1e-12)


def test_tenant_default_rate_matches_hazard():
    h = hazard_of_rating("B")
    assert_allclose(1 - math.exp(-h), DEFAULT_RATE_1Y["B"], rtol=1e-12)
    s = 20000
    out = run(terms(tenant_hazard=[h]), s=s, h=12)
    hit = (out["tenant_default_month"][:, 0] >= 0).mean()
    p = 1 - math.exp(-h * 10)  # default before the 10-year term ends (commencement at 0)
    assert abs(hit - p) < 4 * math.sqrt(p * (1 - p) / s)
    # defaulted scenarios lose rent; the rest keep the closed form
    rev = out["revenue"][:, 0, :10].sum(axis=1)
    full = MW * RENT * ((1 + G) ** 10 - 1) / G
    ok = out["tenant_default_month"][:, 0] < 0
    assert_allclose(rev[ok], full, rtol=1e-12)
    assert (rev[~ok] < full).all()


def test_guarantor_covers_the_stated_amount():
    backstop = 0.4 * MW * RENT * 10
    c = terms(tenant_hazard=[1e4], backstop_usd=[backstop], void_months=[120.0])
    out = run(c, s=16, h=10)
    assert (out["tenant_default_month"][:, 0] == 0).all()  # default in the first month
    assert_allclose(out["guarantor_paid"][:, 0].sum(axis=1), backstop, rtol=1e-12)
    assert_allclose(out["revenue"][:, 0].sum(axis=1), backstop, rtol=1e-12)
    # a guarantor that never runs out pays the whole base term
    full = run(terms(tenant_hazard=[1e4], backstop_usd=[MW * RENT * 10 * 1.03 ** 9]), h=10)
    assert_allclose(full["revenue"][:, 0].sum(axis=1), MW * RENT * ((1 + G) ** 10 - 1) / G)


def test_construction_delay_draws():
    out = run(terms(delay_probability=[0.3], commencement_months=[12.0]), s=4000, h=15)
    late = (out["commencement_month"][:, 0] == 18).mean()
    assert set(np.unique(out["commencement_month"][:, 0])) <= {12.0, 18.0}
    assert abs(late - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 4000)
    # draws depend only on (seed, scenario): a shifted batch reproduces the same scenarios
    a = contract_cashflows(np, terms(delay_probability=[0.3]), seed=5,
                           scenarios=np.arange(10, 20), finance_years=12)
    b = contract_cashflows(np, terms(delay_probability=[0.3]), seed=5,
                           scenarios=np.arange(0, 20), finance_years=12)
    assert_allclose(a["cfads"], b["cfads"][10:], rtol=0, atol=0)


@pytest.mark.parametrize(("kw", "match"), [
    ({"rent_usd_per_mw_yr": [-1.0]}, r"rent_usd_per_mw_yr = -1: expected a value in \[0"),
    ({"escalator": [1.0]}, r"escalator = 1: expected a value in \[-0.5, 1\)"),
    ({"backstop_usd": [1e12]}, r"backstop_usd = 1e\+12: exceeds the base-term lease"),
    ({"mode": [2], "term_years": [7.0]}, r"term_years = 7: a gpu_contract cannot outlast"),
])
def test_bad_terms_rejected(kw, match):
    with pytest.raises(GridcapInputError, match=match):
        terms(**kw)


def test_unknown_rating_and_horizon_rejected():
    with pytest.raises(GridcapInputError, match=r"rating = 'ZZ': expected an S&P-scale"):
        hazard_of_rating("ZZ")
    assert hazard_of_rating("BB-") == hazard_of_rating("BB") > hazard_of_rating("BBB+")
    with pytest.raises(GridcapInputError, match=r"term_years = 10: .* beyond the finance"):
        terms(commencement_months=[12.0]).check_horizon(10)


def test_lease_defaults_agree_with_the_deals_table():
    from gridcap.datasets.financings import market_range, read_financings

    r = market_range()
    assert_allclose(LEASE_DEFAULTS["rent_usd_per_mw_yr"][0], r["rent_usd_per_mw_yr"]["median"],
                    rtol=0.02)
    df = read_financings()
    leases = df[df["mode"] == "colocation_lease"]
    assert LEASE_DEFAULTS["term_years"][0] == float(np.median(leases["term_years"]))


def test_merchant_gpu_charge_and_revenue_stop_at_end_of_life():
    from gridcap.kernels.sites import site_economics

    s, t, y = 2, 24, 4
    ann = {"price_level": np.ones((s, y)), "ai_utilization": np.full((s, y), 0.8),
           "gpu_price": np.full((s, y), 2.0), "hashprice_level": np.ones((s, y))}
    common = dict(price=np.full((s, 1, t), 40.0), temp=np.full((s, 1, t), 10.0),
                  site_region=np.array([0]), interconnection_mw=np.array([130.0]),
                  mining_mw=np.array([0.0]), breakeven=np.array([50.0]),
                  conversion_months=np.array([0.0]), annual=ann, hours=t)
    two = site_economics(np, **common, gpu_life_years=2.0)
    ten = site_economics(np, **common, gpu_life_years=10.0)
    assert_allclose(two["cfads"][:, 0, :2], ten["cfads"][:, 0, :2], rtol=1e-12)
    assert (ten["revenue"][:, 0, 2:] > 0).all()
    # after two years the GPUs are gone: no revenue, no GPU charge, no power, no opex
    assert_allclose(two["revenue"][:, 0, 2:], 0.0)
    assert_allclose(two["cfads"][:, 0, 2:], 0.0)
    assert_allclose(two["ai_energy_mwh"][:, 0, 2:], 0.0)
