"""Tests of the siting model: closed-form optima, lead times, duals, CVaR, persistence."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError, ModelInfeasibleError
from gridcap.optimizer.planning.scenario_selection import empirical_cvar
from gridcap.optimizer.planning.siting import (
    COST_SCALE,
    PlanModel,
    PlanOptions,
    capital_recovery_factor,
    first_stage_cost_vector,
    plan,
)
from gridcap.optimizer.planning.synthetic import synthetic_study

GAS = {"gas": (0.0, False, 2000, 1000.0, 20.0, 100.0, 20.0, 0.8, "firm")}


def one_region_case(*, peak: float = 1000.0, mean: float = 700.0, price: float = 50.0,
                    firm: float = 800.0, rate: float = 0.05, techs: dict | None = None):
    """One region, one year, one scenario, one slice of 8760 h — optimum by hand."""
    inputs, out = synthetic_study(regions=1, scenarios=1, slices=1, years=1, sites=0,
                                  techs=techs or GAS, discount_rate=rate, ai_demand_mw=0.0)
    inputs.regions["firm_capacity_mw"][:] = firm
    for v in ("peak_net_load_mw", "mean_net_load_mw", "price_usd_per_mwh"):
        out[v][:] = {"peak_net_load_mw": peak, "mean_net_load_mw": mean,
                     "price_usd_per_mwh": price}[v]
    out = out.drop_dims("pool")
    return inputs, out


def test_capital_recovery_factor_closed_form_and_annuity_identity():
    r, n = 0.07, 30
    crf = float(capital_recovery_factor(r, n))
    assert_allclose(crf, r * (1 + r) ** n / ((1 + r) ** n - 1))
    # present value of n annuity payments of CRF equals 1 $ of overnight cost
    assert_allclose(sum(crf / (1 + r) ** t for t in range(1, n + 1)), 1.0, rtol=1e-12)
    assert_allclose(capital_recovery_factor(0.0, 20), 1 / 20)


def test_hand_computable_single_firm_build():
    inputs, out = one_region_case()
    ds = plan(inputs, out, options=PlanOptions(voll_usd_per_mwh=None, cvar_lambda=0.0))
    crf = float(capital_recovery_factor(0.05, 20))
    need = (1000.0 - 800.0) / 0.8                      # MW of gas at 0.8 availability
    assert_allclose(ds["online_mw"].sel(tech="gas").item(), need, rtol=1e-9)
    annual = 1000.0 * (1000.0 * crf + 20.0)          # $/MW-yr
    energy = 8760.0 * 50.0 * 700.0                    # market cheaper than gas VOM
    assert_allclose(float(ds["objective_usd"]), need * annual + energy, rtol=1e-9)
    assert_allclose(float(ds["cost_capital_usd"]), need * 1e6 * crf, rtol=1e-9)
    assert_allclose(float(ds["cost_energy_usd"]), energy, rtol=1e-9)
    # the adequacy dual: one more MW of firm capacity saves annual/0.8 $/MW-yr
    assert_allclose(ds["capacity_value_usd_per_kw_yr"].item(), (1000.0 * crf + 20.0) / 0.8,
                    rtol=1e-9)
    assert ds.attrs["solver_status"] == "Optimal"


def test_cheap_generation_displaces_market():
    # gas VOM 100 < price 150 and each MW earns 0.8·8760·50 $/yr > its annual cost: gas is
    # built until it carries the whole mean load (700 MW at 0.8 availability)
    inputs, out = one_region_case(price=150.0)
    ds = plan(inputs, out, options=PlanOptions(voll_usd_per_mwh=None, cvar_lambda=0.0))
    crf = float(capital_recovery_factor(0.05, 20))
    annual = 1000.0 * (1000.0 * crf + 20.0)
    assert 0.8 * 8760.0 * 50.0 > annual
    cap = 700.0 / 0.8
    assert_allclose(ds["online_mw"].sel(tech="gas").item(), cap, rtol=1e-9)
    expect = cap * annual + 8760.0 * 100.0 * 700.0
    assert_allclose(float(ds["objective_usd"]), expect, rtol=1e-9)
    # adequacy no longer binds: capacity value 0
    assert_allclose(ds["capacity_value_usd_per_kw_yr"].item(), 0.0, atol=1e-9)


@pytest.fixture(scope="module")
def six_year_plan():
    inputs, out = synthetic_study(regions=2, scenarios=4, slices=8, years=6, sites=2, seed=5)
    ds = plan(inputs, out, options=PlanOptions(cvar_lambda=0.2))
    return inputs, out, ds


def test_lead_times_respected(six_year_plan):
    inputs, _, ds = six_year_plan
    tech = inputs.technologies
    years = ds["year"].values
    q = float(inputs.regions["queue_years"][0])
    online = ds["online_mw"].values
    build = ds["build_mw"].values
    assert online.sum() > 1.0, "the case must build something for the test to bite"
    for k, name in enumerate(ds["tech"].values):
        lag = int(np.ceil(float(tech["lead_time_years"].sel(tech=name))
                          + q * bool(tech["needs_queue"].sel(tech=name)) - 1e-9))
        first = int(tech["first_year_available"].sel(tech=name))
        too_early = (np.arange(years.size) < lag) | (years < first)
        assert np.all(online[:, k, too_early] == 0.0), name
        # orders arriving after the horizon or before first availability do not exist
        arrival = years + lag
        bad = (arrival > years[-1]) | (arrival < first)
        assert np.all(build[:, k, bad] == 0.0), name
        # online capacity is the sum of arrived orders
        for y in range(years.size):
            arrived = build[:, k, : max(y - lag + 1, 0)].sum(axis=1)
            assert_allclose(online[:, k, y], arrived, atol=1e-6)
    # conversions: AI load only after the conversion time
    months = inputs.sites["conversion_months"].values
    for s in range(ds.sizes["site"]):
        ai = ds["ai_site_mw"].values[s]
        if ds["converted"].values[s]:
            on = int(ds["conversion_online_year"].values[s])
            assert on >= int(ds["conversion_year"].values[s]) + np.ceil(months[s] / 12)
            assert np.all(ai[years < on] == 0.0)
        else:
            assert np.all(ai == 0.0)
    assert np.all(ds["converted"].values <= 1)


def test_ai_balance_and_units(six_year_plan):
    inputs, _, ds = six_year_plan
    demand = inputs.regions["ai_demand_mw"].transpose("region", "year").values
    assert_allclose(ds["ai_placed_mw"].values + ds["unserved_ai_mw"].values, demand, atol=1e-6)
    for v in ds.data_vars:
        assert "units" in ds[v].attrs, v
    assert ds["flex_contracted_kw"].attrs["units"] == "kW"
    capex = inputs.sites["conversion_capex_usd_per_kw"].values * 1000.0
    assert_allclose(ds["capex_usd"].values, capex * ds["ai_site_mw"].max("year").values)
    # placed AI load never shrinks (the synthetic demand path grows)
    assert np.all(np.diff(ds["ai_new_build_mw"].values, axis=1) >= -1e-6)
    assert np.all(np.diff(ds["ai_site_mw"].values, axis=1) >= -1e-6)
    assert np.all(ds["flex_contracted_kw"].values <= 50_000.0 + 1e-6)


def test_duals_equal_finite_differences():
    inputs, out = synthetic_study(regions=2, scenarios=4, slices=6, years=3, sites=1, seed=11)
    opts = PlanOptions(relax_integers=True, cvar_lambda=0.3)
    pm = PlanModel(inputs, out, opts)
    ds0 = pm.solve()
    cv = ds0["capacity_value_usd_per_kw_yr"].sel(region="R0").values      # [$/kW-yr]
    disc = (1 + 0.07) ** -np.arange(3.0)
    delta = 1e-3                                                          # MW
    firm = float(inputs.regions["firm_capacity_mw"].sel(region="R0"))
    pm.set_param("firm_capacity_mw:R0", firm + delta)
    ds1 = pm.solve()
    fd = (float(ds1["objective_usd"]) - float(ds0["objective_usd"])) / delta   # $/MW
    assert abs(fd) > 1.0, "the perturbation must matter"
    assert_allclose(fd, -(disc * cv).sum() * 1000.0, rtol=1e-5)
    # and the persistent perturbation equals a rebuilt model with the changed input
    inputs2 = copy.deepcopy(inputs)
    inputs2.regions["firm_capacity_mw"].loc["R0"] = firm + delta
    ds2 = plan(inputs2, out, options=opts)
    assert_allclose(float(ds2["objective_usd"]), float(ds1["objective_usd"]), rtol=1e-9)


def test_cvar_term_equals_empirical_cvar():
    inputs, out = synthetic_study(regions=1, scenarios=8, slices=4, years=2, sites=1, seed=2)
    alpha = 0.75
    pm = PlanModel(inputs, out, PlanOptions(cvar_lambda=1.0, cvar_alpha=alpha))
    ds = pm.solve()
    x = pm.last_result.x
    b = pm.model.b
    eta = x[b.var_families["cvar_eta"].start]
    u = x[b.var_families["cvar_excess"].cols]
    w = pm.data.weights
    sc = ds["scenario_cost_usd"].values
    # RU value of the second-stage part + first-stage cost = CVaR of total scenario cost
    fs = float(first_stage_cost_vector(pm.model) @ x) / COST_SCALE
    ru = fs + (eta + w @ u / (1 - alpha)) / COST_SCALE
    emp = empirical_cvar(sc, w, alpha)
    assert_allclose(ru, emp, rtol=1e-8)
    assert_allclose(float(ds["cvar_cost_usd"]), emp, rtol=1e-12)
    # the empirical CVaR is the minimum of the RU function (kinks at the scenario costs)
    ru_fun = [eta_ + w @ np.maximum(sc - eta_, 0) / (1 - alpha) for eta_ in sc]
    assert_allclose(min(ru_fun), emp, rtol=1e-12)
    assert float(ds["cvar_cost_usd"]) >= float(ds["expected_cost_usd"]) - 1e-6
    assert_allclose(float(ds["objective_usd"]),
                    float(ds["expected_cost_usd"]) + 1.0 * float(ds["cvar_cost_usd"]),
                    rtol=1e-8)


@pytest.mark.parametrize(
    ("name", "value"),
    [("cvar_lambda", 1.5), ("voll", 3000.0), ("ai_lost_margin", 900.0),
     ("firm_ai_shed", 50.0), ("capex:battery", 500.0), ("flex_cost", 5.0)],
)
def test_persistent_resolve_equals_rebuild(name, value):
    inputs, out = synthetic_study(regions=2, scenarios=4, slices=6, years=4, sites=1, seed=4)
    # Shortfall priced over whole slices so that every parameter here moves the optimum.
    opts = PlanOptions(relax_integers=True, cvar_lambda=0.5, peak_shortfall_hours=1e4)
    pm = PlanModel(inputs, out, opts)
    before = float(pm.solve()["objective_usd"])
    pm.set_param(name, value)
    after = float(pm.solve()["objective_usd"])
    fresh_inputs = copy.deepcopy(inputs)
    fresh_opts = copy.deepcopy(opts)
    if name == "cvar_lambda":
        fresh_opts.cvar_lambda = value
    elif name == "voll":
        fresh_opts.voll_usd_per_mwh = value
    elif name == "ai_lost_margin":
        fresh_opts.ai_lost_margin_usd_per_mwh = value
    elif name == "firm_ai_shed":
        fresh_opts.firm_ai_shed_usd_per_mwh = value
    elif name == "flex_cost":
        fresh_opts.flex_cost_usd_per_kw_yr = value
    else:
        fresh_inputs.technologies["capex_usd_per_kw"].loc[name.split(":")[1]] = value
    rebuilt = float(plan(fresh_inputs, out, options=fresh_opts)["objective_usd"])
    assert_allclose(after, rebuilt, rtol=1e-8)
    assert not np.isclose(after, before, rtol=1e-9), "the change must move the optimum"


def test_mip_with_integers_fixed_gives_duals_and_binary_conversions(six_year_plan):
    _, _, ds = six_year_plan
    assert ds.attrs["dual_source"] == "lp_with_integers_fixed"
    assert ds.attrs["n_integer"] > 0
    assert set(np.unique(ds["converted"].values)) <= {0, 1}
    assert np.all(np.isfinite(ds["capacity_value_usd_per_kw_yr"].values))


def test_infeasible_when_nothing_can_be_online_in_time():
    slow = {"gas": (3.0, True, 2000, 1000.0, 20.0, 100.0, 20.0, 0.8, "firm")}
    inputs, out = one_region_case(firm=100.0, techs=slow)
    with pytest.raises(ModelInfeasibleError) as err:
        plan(inputs, out, options=PlanOptions(voll_usd_per_mwh=None, cvar_lambda=0.0))
    msg = str(err.value)
    assert "adequacy" in msg
    assert "regions.firm_capacity_mw" in msg
    assert "outcomes.peak_net_load_mw" in msg
    assert "adequacy" in err.value.families
    assert isinstance(err.value, GridcapInputError)          # → CLI exit code 2


def test_time_limit_and_gap_reported():
    inputs, out = synthetic_study(regions=1, scenarios=2, slices=4, years=3, sites=2)
    ds = plan(inputs, out, options=PlanOptions(time_limit_s=30.0, mip_gap=0.02))
    assert ds.attrs["time_limit_s"] == 30.0
    assert ds.attrs["mip_gap_target"] == 0.02
    assert 0.0 <= ds.attrs["mip_gap"] <= 0.02
    for key in ("build_s", "handoff_s", "solve_s", "n_variables", "annualization"):
        assert key in ds.attrs


def test_matches_independent_linopy_model():
    from gridcap.benchmarks.bench_optimizer import linopy_model
    from gridcap.optimizer.planning.siting import prepare_data

    inputs, out = synthetic_study(regions=2, scenarios=3, slices=6, years=5, sites=2, seed=8)
    opts = PlanOptions(relax_integers=True, cvar_lambda=0.7, cvar_alpha=0.6)
    ds = plan(inputs, out, options=opts)
    m = linopy_model(prepare_data(inputs, out, opts), opts)
    h = m.to_highspy()
    h.setOptionValue("output_flag", False)
    h.run()
    lin = h.getInfo().objective_function_value / COST_SCALE
    assert_allclose(float(ds["objective_usd"]), lin, rtol=1e-9)


def test_scenario_selection_weights_and_errors_reported():
    inputs, out = synthetic_study(regions=1, scenarios=12, slices=4, years=2, sites=1, seed=9)
    ds = plan(inputs, out, options=PlanOptions(scenarios_in_model=4, relax_integers=True))
    w = ds["scenario_weight"].values
    assert (w > 0).sum() == 4
    assert_allclose(w.sum(), 1.0)
    assert np.isnan(ds["scenario_cost_usd"].values[w == 0]).all()
    assert ds.attrs["scenario_selection"] == "fast_forward"
    assert ds.attrs["scenario_selection_kantorovich"] > 0
    assert "scenario_selection_cvar_stress_rel_error" in ds.attrs


def test_selection_out_of_sample_evaluation_with_all_scenarios_is_exact():
    inputs, out = synthetic_study(regions=1, scenarios=6, slices=4, years=3, sites=1, seed=12)
    opts = PlanOptions(relax_integers=True, cvar_lambda=0.5, evaluate_selection=True)
    reduced = plan(inputs, out, options=replace(opts, scenarios_in_model=3))
    assert reduced.attrs["scenario_selection_expected_cost_rel_error"] >= 0.0
    # the plan evaluated on all scenarios costs at least the all-scenario optimum
    full = plan(inputs, out, options=opts)
    assert (reduced.attrs["scenario_selection_full_expected_cost_usd"]
            + 0.5 * reduced.attrs["scenario_selection_full_cvar_cost_usd"]
            >= float(full["objective_usd"]) * (1 - 1e-9))
    # keeping every scenario is no selection: nothing to evaluate, the full model itself
    same = plan(inputs, out, options=replace(opts, scenarios_in_model=6))
    assert "scenario_selection_full_expected_cost_usd" not in same.attrs
    assert_allclose(float(same["objective_usd"]), float(full["objective_usd"]), rtol=1e-9)


def test_bad_inputs_raise_input_errors():
    inputs, out = synthetic_study(regions=1, scenarios=2, slices=2, years=2, sites=0)
    with pytest.raises(GridcapInputError, match="cvar_alpha"):
        plan(inputs, out, options=PlanOptions(cvar_alpha=1.0))
    with pytest.raises(GridcapInputError, match="peak_net_load_mw"):
        plan(inputs, out.drop_vars("peak_net_load_mw"))
    bad = out.copy(deep=True)
    bad["price_usd_per_mwh"][0, 0, 1, 0] = np.nan
    with pytest.raises(GridcapInputError, match=r"outcomes.price_usd_per_mwh.*year=2027"):
        plan(inputs, bad)
    pm = PlanModel(inputs, out, PlanOptions(relax_integers=True))
    with pytest.raises(GridcapInputError, match="unknown parameter"):
        pm.set_param("nonsense", 1.0)
    with pytest.raises(GridcapInputError, match="unknown region"):
        pm.set_param("firm_capacity_mw:nowhere", 1.0)


def test_outcomes_without_optional_variables():
    inputs, out = synthetic_study(regions=1, scenarios=2, slices=3, years=2, sites=1)
    lean = out.drop_vars(["ai_utilization", "site_mining_cfads_usd", "event_committed_kw",
                          "event_delivered_kw"])
    ds = plan(inputs, lean, options=PlanOptions(relax_integers=True))
    assert "settlement_net_usd" not in ds
    assert isinstance(ds, xr.Dataset)


def test_new_build_ai_capex_is_annualized_like_a_conversion_and_competes_with_it():
    """New-build AI MW pay the cited greenfield capex (closed form); conversions win on cost."""
    inputs, out = synthetic_study(regions=1, scenarios=2, slices=4, years=5, sites=2, seed=3)
    rate = 0.07
    base = PlanOptions(cvar_lambda=0.0, relax_integers=True, new_build_lead_years=0.0)
    ds = plan(inputs, out, options=base)
    years = ds["year"].values
    disc = (1 + rate) ** -(years - years[0]).astype(float)
    crf = float(capital_recovery_factor(rate, base.conversion_lifetime_years))
    expect = (ds["ai_new_build_mw"].values * disc).sum() * 1000.0 * \
        base.new_build_ai_capex_usd_per_kw * crf
    assert_allclose(float(ds["cost_new_build_ai_usd"]), expect, rtol=1e-9)
    # a free new build (the old model) never places more on conversions than a costed one
    free = plan(inputs, out, options=replace(base, new_build_ai_capex_usd_per_kw=0.0))
    assert float(free["cost_new_build_ai_usd"]) == 0.0
    assert ds["ai_site_mw"].values.sum() >= free["ai_site_mw"].values.sum() - 1e-6
    # and with new builds dearer than every conversion, conversions carry all they can
    dear = plan(inputs, out, options=replace(base, new_build_ai_capex_usd_per_kw=1e5))
    assert dear["ai_site_mw"].values.sum() >= ds["ai_site_mw"].values.sum() - 1e-6
    assert dear["ai_site_mw"].values.sum() > free["ai_site_mw"].values.sum()
