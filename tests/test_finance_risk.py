"""Tranche risk and price: Vasicek large-pool EL, IRR/NPV conventions, par spread, WAL,
duration and the rating table."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import norm

from gridcap.optimizer.financing.sizing import schedule_from_service
from gridcap.optimizer.financing.tranche_risk import (
    IDEALIZED_PD_1Y,
    WORST_BUCKET,
    irr,
    npv,
    rating_bucket,
    tranche_metrics,
    vasicek_tranche_el,
)
from gridcap.optimizer.financing.waterfall import run_waterfall, structure_from_schedules, to_cents


@pytest.mark.parametrize(
    ("p", "rho", "k1", "k2"), [(0.05, 0.2, 0.05, 0.15), (0.02, 0.3, 0.03, 0.10)]
)
def test_tranche_el_from_waterfall_matches_vasicek(
    p: float, rho: float, k1: float, k2: float
) -> None:
    """A one-year pool of many loans (large-pool limit): pool cash = N (1+r)(1 - L(Z)).

    Senior attaches at k2, mezzanine at k1 (equity below); both pay rate r, one bullet
    payment. The waterfall's tranche EL must equal the Vasicek closed form.
    """
    S, N, r = 60_000, 1e9, 0.05
    z = norm.ppf((np.arange(S) + 0.5) / S)  # stratified: quadrature over Z
    loss = norm.cdf((norm.ppf(p) - np.sqrt(rho) * z) / np.sqrt(1 - rho))
    cash = N * (1 + r) * (1 - loss)
    sen = schedule_from_service("senior", np.array([N * (1 - k2) * (1 + r)]), r, np.nan, 1)
    mez = schedule_from_service("mezzanine", np.array([N * (k2 - k1) * (1 + r)]), r, np.nan, 1)
    st = structure_from_schedules(sen, mez, periods=1, grace_years=0)
    res = run_waterfall(to_cents(cash[:, None]), st)
    fin = np.asarray(res.final_states_cents) / 100.0
    for j, (a, d, sched) in enumerate(((k2, 1.0, sen), (k1, k2, mez))):
        m = tranche_metrics(
            res.tranche_cash_cents[j] / 100.0,
            res.tranche_cash_cents[3 + j] / 100.0,
            sched.size_usd,
            r,
            default_period=res.default_period[j],
            outstanding_usd=fin[2 * j] + fin[2 * j + 1],
            maturity_years=1,
            risk_free_rate=0.03,
        )
        closed = vasicek_tranche_el(p, rho, a, d)
        assert closed > 1e-4
        assert_allclose(m["expected_loss"], closed, rtol=5e-3)
        # PD of the tranche = P(L > attachment) in the large pool
        pd_closed = norm.cdf((norm.ppf(p) - np.sqrt(1 - rho) * norm.ppf(a)) / np.sqrt(rho))
        assert_allclose(m["pd"], pd_closed, atol=2 / S + 1e-4)
        assert_allclose(m["lgd"] * m["pd"], m["expected_loss"])


def test_vasicek_closed_form_against_quadrature() -> None:
    from scipy.integrate import quad

    p, rho, a, d = 0.04, 0.25, 0.06, 0.2

    def lz(z: float) -> float:
        return norm.cdf((norm.ppf(p) - np.sqrt(rho) * z) / np.sqrt(1 - rho))

    def tr(z: float) -> float:
        return (min(max(lz(z) - a, 0.0), d - a)) * norm.pdf(z)

    num = quad(tr, -10, 10, limit=400, points=[0.0])[0] / (d - a)
    assert_allclose(vasicek_tranche_el(p, rho, a, d), num, rtol=1e-5)
    assert_allclose(vasicek_tranche_el(p, rho, 0.0, 1.0), p, rtol=1e-9)


def test_irr_and_npv_conventions() -> None:
    flows = [[-100.0, 110.0], [-100.0, 0.0], [-100.0, 10.0, 110.0], [-1000.0, 0.0, 0.0, 1331.0]]
    width = max(len(f) for f in flows)
    padded = np.array([np.pad(f, (0, width - len(f))) for f in flows])
    r = irr(padded)
    assert_allclose(r, [0.10, -1.0, 0.10, 0.10], atol=1e-10)
    assert_allclose(npv(0.10, padded), [0, -100, 0, 0], atol=1e-9)
    # annuity: 5 payments of 1 at the rate that makes PV = 4
    ann = np.concatenate([[-4.0], np.ones(5)])[None, :]
    y = irr(ann)[0]
    assert_allclose((1 - (1 + y) ** -5) / y, 4.0, rtol=1e-10)


def test_price_of_a_loan_that_never_defaults() -> None:
    r, rf, T = 0.07, 0.04, 5
    sched = schedule_from_service("senior", np.full(T, 2.5e6), r, np.nan, T)
    cash = np.tile(sched.debt_service_usd, (50, 1))
    principal = np.tile(sched.principal_usd, (50, 1))
    m = tranche_metrics(
        cash,
        principal,
        sched.size_usd,
        r,
        default_period=np.zeros(50),
        outstanding_usd=np.zeros(50),
        maturity_years=T,
        risk_free_rate=rf,
    )
    assert m["pd"] == 0 and m["expected_loss"] == 0 and m["rating"] == "Aaa"
    assert_allclose(m["irr_mean"], r, atol=1e-10)
    assert_allclose(m["spread_bps"], (r - rf) * 1e4, atol=1e-6)
    t = np.arange(1, T + 1)
    assert_allclose(m["wal_years"], (t * sched.principal_usd).sum() / sched.size_usd)
    pv = sched.debt_service_usd / (1 + r) ** t
    assert_allclose(m["duration_years"], (t * pv).sum() / pv.sum())
    # a zero-coupon bullet has duration = WAL = maturity
    zc = np.zeros((1, T))
    zc[0, -1] = 1.4e6
    m2 = tranche_metrics(
        zc,
        zc,
        1e6,
        r,
        default_period=np.zeros(1),
        outstanding_usd=np.zeros(1),
        maturity_years=T,
        risk_free_rate=rf,
    )
    assert_allclose([m2["wal_years"], m2["duration_years"]], [T, T])


def test_expected_loss_lowers_the_par_yield() -> None:
    r, T = 0.08, 3
    sched = schedule_from_service("senior", np.full(T, 1e6), r, np.nan, T)
    cash = np.tile(sched.debt_service_usd, (10, 1))
    cash[0, -1] = 0.0  # one scenario loses the last payment
    m = tranche_metrics(
        cash,
        None,
        sched.size_usd,
        r,
        default_period=np.r_[3, np.zeros(9)],
        outstanding_usd=np.r_[1e6, np.zeros(9)],
        maturity_years=T,
        risk_free_rate=0.0,
    )
    assert_allclose(m["pd"], 0.1)
    assert_allclose(m["expected_loss"], 0.1 * 1e6 / (1 + r) ** T / sched.size_usd)
    assert m["yield_expected"] < r
    ecf = cash.mean(0)
    assert_allclose(npv(m["yield_expected"], np.r_[-sched.size_usd, ecf]), 0.0, atol=1e-4)


def test_rating_table_is_monotone_and_maps_pd() -> None:
    bounds = list(IDEALIZED_PD_1Y.values())
    assert all(a < b for a, b in itertools.pairwise(bounds))
    assert rating_bucket(0.0, 5) == "Aaa"
    assert rating_bucket(0.0017, 1) == "Baa2"
    assert rating_bucket(0.0018, 1) == "Baa3"
    assert rating_bucket(0.5, 1) == WORST_BUCKET
    # cumulative PD over 10 years of a Ba2-like 1-year rate
    assert rating_bucket(1 - (1 - 0.015) ** 10, 10) == "Ba2"
    assert rating_bucket(float("nan"), 5) == "n/a"
