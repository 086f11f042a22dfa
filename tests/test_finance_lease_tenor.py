"""Senior tenor tied to the lease: lenders size each site on its CFADS to the end of its firm
contract term (finance.senior_tenor_basis = "lease"), with finance.senior.tenor_years a cap."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.optimizer.financing.project import FinanceTerms, finance_terms
from gridcap.optimizer.financing.sizing import discount_factors, firm_term_weights

DSCR = 1.35
COMM, TERM, H = 6.0, 8.0, 14  # commencement [month], firm term [yr], finance horizon [yr]


def test_firm_term_weights_closed_form():
    w = firm_term_weights([8.5, 3.0, np.inf, 0.0], 10)
    assert_allclose(w[0], [1] * 8 + [0.5, 0])
    assert_allclose(w[1], [1, 1, 1] + [0] * 7)
    assert_allclose(w[2], np.ones(10))
    assert_allclose(w[3], np.zeros(10))
    with pytest.raises(GridcapInputError, match=r"firm_end_years = \[-1.0\]: expected"):
        firm_term_weights([-1.0], 3)


@pytest.fixture(scope="module")
def lease_site():
    """One leased site: rent from month 6 for 8 years, renewed for 5 (so cash continues
    after the firm term), no credit or delay risk: every scenario is the same path."""
    from gridcap.kernels.contracts import REVENUE_MODES, SiteContracts, contract_cashflows

    c = SiteContracts(
        site=["s"], mode=[REVENUE_MODES["colocation_lease"]], contracted_mw=[100.0],
        rent_usd_per_mw_yr=[1.8e6], term_years=[TERM], escalator=[0.03],
        owner_opex_share=[0.15], commencement_months=[COMM], ramp_years=[0.0],
        renewal_probability=[1.0], renewal_years=[5.0], renewal_rent_factor=[1.0],
        void_months=[12.0], relet_haircut=[0.25], delay_probability=[0.0],
        delay_months=[0.0], tenant_hazard=[0.0], guarantor_hazard=[0.0], backstop_usd=[0.0],
        prepayment_share=[0.0], gpu_cost_usd_per_mw_yr=[0.0], gpu_life_years=[5.0])
    S = 4
    cc = contract_cashflows(np, c, seed=1, scenarios=np.arange(S), finance_years=H)
    y = np.arange(2026, 2026 + H)
    out = xr.Dataset(
        {"site_cfads_usd": (("scenario", "site", "year"), cc["cfads"]),
         "site_contract_cfads_usd": (("scenario", "site", "finance_year"), cc["cfads"]),
         "site_commencement_month": (("scenario", "site"), cc["commencement_month"]),
         "site_contract_mode": (("site",), c.mode),
         "site_contract_term_years": (("site",), c.term_years),
         "site_contract_mw": (("site",), c.contracted_mw),
         "site_contract_capex_usd": (("site",), [1e12])},  # gearing never binds
        coords={"scenario": np.arange(S), "site": ["s"], "year": y, "finance_year": y},
        attrs={"site_contracts": '{"tenant_rating": ["A"], "guarantor_rating": [""]}'})
    plan = xr.Dataset({"converted": ("site", [1])}, coords={"site": ["s"]})
    return out, plan, cc["cfads"][0, 0]


def _fin(lease_site, **kw):
    from gridcap.optimizer import finance

    out, plan, _ = lease_site
    terms = finance_terms(mezzanine_tranche="off", **kw)
    return finance(plan, out, terms, sizing="dscr")


def test_lease_tenor_sizes_on_the_firm_term_closed_form(lease_site):
    _, _, cf = lease_site
    assert cf[int(TERM) + 1] > 0  # the renewal pays after the firm term
    fin = _fin(lease_site, senior_tenor_basis="lease", tenor_years=(25, 5))
    w = np.clip(COMM / 12 + TERM - np.arange(H), 0, 1)  # firm term ends 8.5 years from close
    # portfolio senior: sculpted on the contracted CFADS at the senior rate
    rate = float(fin["tranche_rate"].sel(tranche="senior"))
    expect = (cf * w / DSCR) @ discount_factors(rate, H)
    assert_allclose(float(fin["tranche_size_usd"].sel(tranche="senior")), expect, rtol=1e-9)
    assert_allclose(fin["debt_service_usd"].sel(tranche="senior").values, cf * w / DSCR,
                    rtol=1e-9, atol=1e-3)
    assert fin.attrs["senior_tenor_basis"] == "lease"
    # the per-site market check sizes the same way at the site's priced coupon
    site = fin.sel(financed_site="s")
    c = float(site["site_coupon"])
    assert_allclose(float(site["site_senior_usd"]),
                    (cf * w / DSCR) @ discount_factors(c, H), rtol=1e-9)
    assert int(site["site_tenor_years"]) == 9


def test_fixed_tenor_counts_the_renewal_and_lease_tenor_is_capped(lease_site):
    lease = _fin(lease_site, senior_tenor_basis="lease", tenor_years=(25, 5))
    fixed = _fin(lease_site, senior_tenor_basis="fixed", tenor_years=(H, 5))
    size = lambda ds: float(ds["tranche_size_usd"].sel(tranche="senior"))  # noqa: E731
    assert size(fixed) > size(lease)  # the fixed tenor lends against the renewal years
    # a cap below the firm term binds: the same as a fixed tenor of that length
    capped = _fin(lease_site, senior_tenor_basis="lease", tenor_years=(5, 5))
    five = _fin(lease_site, senior_tenor_basis="fixed", tenor_years=(5, 5))
    assert_allclose(size(capped), size(five), rtol=1e-12)
    assert int(capped.sel(financed_site="s")["site_tenor_years"]) == 5


def test_lease_tenor_terms_checked():
    # with the lease basis the senior tenor is a cap, cut to the finance horizon
    t = FinanceTerms(finance_terms(senior_tenor_basis="lease", tenor_years=(25, 5)), 10)
    assert t.tenor[0] == 10 and t.tenor_basis == "lease"
    with pytest.raises(GridcapInputError, match=r"finance.senior.tenor_years = 25: expected"):
        FinanceTerms(finance_terms(senior_tenor_basis="fixed", tenor_years=(25, 5)), 10)
    with pytest.raises(GridcapInputError,
                       match=r"finance.senior_tenor_basis = 'term': expected 'fixed'"):
        FinanceTerms(finance_terms(senior_tenor_basis="term"), 10)


def test_lease_tenor_needs_the_contract_term(lease_site):
    from gridcap.optimizer import finance

    out, plan, _ = lease_site
    old = out.drop_vars("site_contract_term_years")  # outcomes from before the lease tenor
    terms = finance_terms(mezzanine_tranche="off", senior_tenor_basis="lease",
                          tenor_years=(25, 5))
    with pytest.raises(GridcapInputError, match=r"site_contract_term_years is missing"):
        finance(plan, old, terms, sizing="dscr")
    fixed = finance(plan, old, finance_terms(mezzanine_tranche="off"), sizing="dscr")
    assert float(fixed["tranche_size_usd"].sel(tranche="senior")) > 0
