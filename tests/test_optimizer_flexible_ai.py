"""Flexible interconnection of AI load in the siting model: limits, bounds, duals."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.optimizer.planning.flexible_ai import FlexibleAIOptions
from gridcap.optimizer.planning.siting import PlanModel, PlanOptions, plan
from gridcap.optimizer.planning.synthetic import synthetic_study

BASE = {"relax_integers": True, "cvar_lambda": 0.3, "scenarios_in_model": None,
        "time_limit_s": None, "mip_gap": 1e-6}


@pytest.fixture(scope="module")
def study():
    return synthetic_study(regions=2, scenarios=4, slices=6, years=5, sites=2, seed=11)


@pytest.fixture(scope="module")
def all_firm(study):
    inputs, out = study
    return plan(inputs, out, options=PlanOptions(**BASE))


def _solve(study, **flex):
    inputs, out = study
    pm = PlanModel(inputs, out, PlanOptions(**BASE, flexible_ai=FlexibleAIOptions(**flex)))
    return pm, pm.solve()


def test_infinite_curtailment_cost_gives_the_all_firm_plan(study, all_firm):
    _, ds = _solve(study, curtailment_cost_usd_per_mwh=1e7)
    assert_allclose(float(ds.objective_usd), float(all_firm.objective_usd), rtol=1e-9)
    assert np.abs(ds.ai_flexible_new_build_mw.values).max() < 1e-6
    assert np.nansum(ds.ai_curtailed_mwh.values) < 1e-6
    assert_allclose(ds.ai_placed_mw.values, all_firm.ai_placed_mw.values, atol=1e-6)
    assert_allclose(ds.online_mw.values, all_firm.online_mw.values, atol=1e-6)
    assert abs(float(ds.value_of_flexibility_usd)) <= 1e-9 * float(all_firm.objective_usd)


@pytest.mark.parametrize(
    "flex",
    [{}, {"curtailment_cost_usd_per_mwh": 50.0}, {"max_curtailment_pct": 0.25},
     {"max_curtailment_pct": 5.0, "lead_years": 0.0}, {"site_curtailable_share": 0.0},
     {"limit_basis": "hours", "max_curtailment_pct": 0.5}],
)
def test_flexibility_never_increases_the_objective(study, all_firm, flex):
    _, ds = _solve(study, **flex)
    firm = float(all_firm.objective_usd)
    assert float(ds.objective_usd) <= firm * (1 + 1e-9)
    assert_allclose(float(ds.objective_all_firm_usd), firm, rtol=1e-7)
    assert_allclose(float(ds.value_of_flexibility_usd), firm - float(ds.objective_usd),
                    rtol=1e-9, atol=1e-6)
    # placement still balances demand
    demand = study[0].regions["ai_demand_mw"].transpose("region", "year").values
    assert_allclose(ds.ai_placed_mw.values + ds.unserved_ai_mw.values, demand, atol=1e-6)
    assert_allclose(ds.ai_firm_mw.values + ds.ai_flexible_mw.values, ds.ai_placed_mw.values,
                    atol=1e-6)


def test_flexible_load_connects_earlier_and_is_curtailed_within_its_limits(study, all_firm):
    pm, ds = _solve(study, max_curtailment_pct=0.5)
    assert float(ds.value_of_flexibility_usd) > 0 and (ds.ai_mw_years_gained > 0).any()
    # online before the firm new-build lead (3 yr) could place it
    assert ds.ai_flexible_new_build_mw.isel(year=1).sum() > 0
    assert all_firm.ai_new_build_mw.isel(year=1).sum() == 0
    x = pm.last_result.x
    fam = pm.model.b.var_families["curtail_flex"]
    c = fam.coords
    cur = x[fam.cols]
    flex = ds.ai_flexible_new_build_mw.values[c["region"], c["year"]]
    peak = pm.data.peak
    thr = peak.max(axis=(0, 3))[c["region"], c["year"]]
    slack = thr - peak[c["scenario"], c["region"], c["year"], c["slice"]]
    assert np.all(cur >= flex - slack - 1e-6)       # curtailed above the planning peak
    assert np.all(cur <= flex + 1e-6)
    assert (cur > 1e-6).any(), "the case must curtail for the test to bite"
    share = ds.ai_curtailment_pct.values
    assert np.nanmax(share) <= 0.5 + 1e-6


def test_hours_limit_counts_slices_with_curtailment(study):
    inputs, out = study
    pm = PlanModel(inputs, out, PlanOptions(**{**BASE, "relax_integers": False}, flexible_ai=(
        FlexibleAIOptions(limit_basis="hours", max_curtailment_pct=0.2))))
    pm.solve()
    x = pm.last_result.x
    z = pm.model.b.var_families["curtail_flex_on"]
    assert_allclose(x[z.cols], np.round(x[z.cols]), atol=1e-6)  # binaries (fixed for duals)
    dur = np.minimum(pm.data.slice_hours, pm.options.peak_shortfall_hours)
    hours = np.zeros((4, 2, 5))
    c = z.coords
    np.add.at(hours, (c["scenario"], c["region"], c["year"]),
              np.round(x[z.cols]) * dur[c["slice"]])
    assert hours.max() <= 0.002 * 8760 + 1e-6


def test_converted_sites_curtail_at_most_their_share(study):
    pm, ds = _solve(study, curtailment_cost_usd_per_mwh=1.0, site_curtailable_share=0.25)
    fam = pm.model.b.var_families.get("curtail_site")
    assert fam is not None
    x = pm.last_result.x
    c = fam.coords
    site = np.zeros((2, 5))
    np.add.at(site, pm.data.site_region, ds.ai_site_mw.values)
    assert np.all(x[fam.cols] <= 0.25 * site[c["region"], c["year"]] + 1e-6)


def test_duals_still_equal_finite_differences(study):
    inputs, out = study
    pm = PlanModel(inputs, out, PlanOptions(**BASE, flexible_ai=FlexibleAIOptions(
        value_of_flexibility=False)))
    ds0 = pm.solve()
    cv = ds0["capacity_value_usd_per_kw_yr"].sel(region="R0").values
    disc = (1 + 0.07) ** -np.arange(5.0)
    firm = float(inputs.regions["firm_capacity_mw"].sel(region="R0"))
    delta = 1e-3
    pm.set_param("firm_capacity_mw:R0", firm + delta)
    ds1 = pm.solve()
    fd = (float(ds1["objective_usd"]) - float(ds0["objective_usd"])) / delta
    assert abs(fd) > 1.0, "the perturbation must matter"
    assert_allclose(fd, -(disc * cv).sum() * 1000.0, rtol=1e-5)
    assert_allclose(ds0.flex_ai_value_usd_per_kw_yr, ds0.capacity_value_usd_per_kw_yr)


@pytest.mark.parametrize(
    ("flex", "match"),
    [({"max_curtailment_pct": 0.0}, "max_curtailment_pct"),
     ({"limit_basis": "days"}, "limit_basis"),
     ({"site_curtailable_share": 1.5}, "site_curtailable_share"),
     ({"lead_years": -1.0}, "lead_years"),
     ({"curtailment_cost_usd_per_mwh": float("inf")}, "curtailment_cost")],
)
def test_bad_options_name_the_field(study, flex, match):
    inputs, out = study
    with pytest.raises(GridcapInputError, match=match):
        plan(inputs, out, options=PlanOptions(**BASE, flexible_ai=FlexibleAIOptions(**flex)))
