"""Firm AI load is shed at the value of lost load, not at its lost margin (issue 14 follow-up).

Placed *firm* AI load (``shed_ai``) is an outage priced at
``PlanOptions.firm_ai_shed_usd_per_mwh``; only flexible AI MW and the retained curtailable
share of converted sites (``[flexible_ai]``) curtail at the AI lost margin.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gridcap.optimizer.planning.flexible_ai import FlexibleAIOptions
from gridcap.optimizer.planning.siting import PlanModel, PlanOptions, capital_recovery_factor
from gridcap.optimizer.planning.synthetic import synthetic_study
from gridcap.params import param_table

GAS = {"gas": (0.0, False, 2000, 1000.0, 20.0, 100.0, 20.0, 0.8, "firm")}
AI_MW = 100.0


def _family_total(pm: PlanModel, name: str) -> np.ndarray:
    fam = pm.model.b.var_families.get(name)
    return np.zeros(0) if fam is None else pm.last_result.x[fam.cols]


def _firm_ai_case():
    """One region, year, scenario and 8760-h slice: the existing fleet exactly covers the
    non-AI peak, so the 100 MW of placed AI load needs new capacity or must be shed."""
    inputs, out = synthetic_study(regions=1, scenarios=1, slices=1, years=1, sites=0,
                                  techs=GAS, discount_rate=0.05, ai_demand_mw=AI_MW)
    inputs.regions["ai_demand_mw"][:] = AI_MW
    inputs.regions["ai_site_limit_mw"][:] = 10 * AI_MW
    inputs.regions["firm_capacity_mw"][:] = 1000.0
    out["peak_net_load_mw"][:] = 1000.0
    out["mean_net_load_mw"][:] = 700.0
    out["price_usd_per_mwh"][:] = 50.0
    return inputs, out.drop_dims("pool")


@pytest.mark.parametrize("shed_cost", [400.0, 20_000.0, None])
def test_firm_ai_load_is_served_by_capacity_when_it_is_cheaper_than_an_outage(shed_cost):
    inputs, out = _firm_ai_case()
    kw = {} if shed_cost is None else {"firm_ai_shed_usd_per_mwh": shed_cost}
    opts = PlanOptions(voll_usd_per_mwh=None, cvar_lambda=0.0, new_build_lead_years=0.0,
                       scenarios_in_model=None, **kw)
    pm = PlanModel(inputs, out, opts)
    ds = pm.solve()
    shed_cost = opts.firm_ai_shed_usd_per_mwh
    # an accredited kW of gas costs (K·CRF + FOM)/availability per year; shedding a kW of
    # firm AI load at the peak costs shed_cost × peak_shortfall_hours / 1000 per year
    gas_kw_yr = (1000.0 * float(capital_recovery_factor(0.05, 20)) + 20.0) / 0.8
    shed_kw_yr = shed_cost * opts.peak_shortfall_hours / 1000.0
    assert_allclose(ds["ai_placed_mw"].item(), AI_MW, rtol=1e-9)   # placed, not left unserved
    shed = _family_total(pm, "shed_ai").sum()
    gas = ds["online_mw"].sel(tech="gas").item()
    if shed_kw_yr > gas_kw_yr:                  # the shipped default: ERCOT VOLL 35,685 $/MWh
        assert shed == pytest.approx(0.0, abs=1e-6)
        assert_allclose(gas, AI_MW / 0.8, rtol=1e-9)
        assert_allclose(ds["capacity_value_usd_per_kw_yr"].item(), gas_kw_yr, rtol=1e-7)
    else:                                       # the old $400/MWh lost margin (or 20,000)
        assert_allclose(shed, AI_MW, rtol=1e-9)
        assert gas == pytest.approx(0.0, abs=1e-6)
        assert_allclose(ds["capacity_value_usd_per_kw_yr"].item(), shed_kw_yr, rtol=1e-7)


def test_the_default_shed_cost_is_a_cited_value_of_lost_load():
    row = {p.name: p for p in param_table(PlanOptions)}["firm_ai_shed_usd_per_mwh"]
    assert row.unit == "$/MWh" and "35,685" in row.source and row.config
    opts = PlanOptions()
    assert opts.firm_ai_shed_usd_per_mwh == row.default
    # an outage of firm load costs far more than the AI load's lost margin it replaced
    assert opts.firm_ai_shed_usd_per_mwh > 10 * opts.ai_lost_margin_usd_per_mwh


@pytest.fixture(scope="module")
def study():
    return synthetic_study(regions=2, scenarios=4, slices=6, years=5, sites=2, seed=11)


# new-build AI capex off: these tests isolate the shed/curtailment prices from the cost of
# building a campus (with it on, converting a site and shedding a little of its firm load in
# the first years can be the cheaper plan, which is the optimizer's right answer, not a bug)
BASE = {"relax_integers": True, "cvar_lambda": 0.3, "scenarios_in_model": None,
        "time_limit_s": None, "mip_gap": 1e-6, "voll_usd_per_mwh": 1e5,
        "new_build_ai_capex_usd_per_kw": 0.0}


def _solve(study, **kw):
    pm = PlanModel(*study, PlanOptions(**BASE, **kw))
    return pm, pm.solve()


def test_with_flexible_ai_only_flexible_mw_are_curtailed(study):
    share = 0.25
    pm, ds = _solve(study, flexible_ai=FlexibleAIOptions(site_curtailable_share=share))
    # no firm AI MW is shed: every curtailed MW is flexible (or a converted site's share)
    assert np.abs(_family_total(pm, "shed_ai")).max() < 1e-6
    x = pm.last_result.x
    cf = pm.model.b.var_families["curtail_flex"]
    c = cf.coords
    assert x[cf.cols].sum() > 1.0                # curtailment does happen, on flexible MW
    flex_mw = ds["ai_flexible_new_build_mw"].values[c["region"], c["year"]]
    assert np.all(x[cf.cols] <= flex_mw + 1e-6)
    site = pm.model.b.var_families.get("curtail_site")
    if site is not None:
        s = site.coords
        conv = ds["ai_placed_mw"].values - ds["ai_new_build_mw"].values \
            - ds["ai_flexible_new_build_mw"].values       # AI MW at converted sites
        assert np.all(x[site.cols] <= share * conv[s["region"], s["year"]] + 1e-6)
    # reported curtailment = flexible + site curtailment only
    assert float(np.nansum(ds["ai_curtailed_mwh"].values)) > 0


def test_flexible_curtailment_replaces_firm_outages_where_nothing_else_is_online(study):
    # all firm: in the first years no new capacity can be online yet, so a firm MW is shed
    # (an outage at the value of lost load, the cheaper of the two shortfall prices here);
    # with flexible AI the same shortfall is met by curtailing flexible MW, never firm ones
    pm_firm, _ = _solve(study)
    pm_flex, _ = _solve(study, flexible_ai=FlexibleAIOptions())
    assert _family_total(pm_firm, "shed_ai").sum() > 1.0
    assert np.abs(_family_total(pm_flex, "shed_ai")).max() < 1e-6
