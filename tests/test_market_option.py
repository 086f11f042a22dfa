"""The planner's market backstop is explicit: priced from the outcomes, or switched off."""

from __future__ import annotations

from numpy.testing import assert_allclose

from gridcap.config import parse_config
from gridcap.optimizer import PlanOptions, capital_recovery_factor, plan
from gridcap.optimizer.planning.synthetic import synthetic_study

#: one gas technology: lead 0, no ITC, from 2000, $1000/kW, $20/kW-yr FOM, $100/MWh VOM,
#: 20-yr life, availability 0.8 (tests/test_optimizer_siting.py GAS)
GAS = {"gas": (0.0, False, 2000, 1000.0, 20.0, 100.0, 20.0, 0.8, "firm")}


def one_region_case(price: float):
    """One region, year, scenario and 8760-h slice: peak 1000 MW, mean 700 MW, 800 MW firm."""
    inputs, out = synthetic_study(regions=1, scenarios=1, slices=1, years=1, sites=0,
                                  techs=GAS, discount_rate=0.05, ai_demand_mw=0.0)
    inputs.regions["firm_capacity_mw"][:] = 800.0
    out["peak_net_load_mw"][:] = 1000.0
    out["mean_net_load_mw"][:] = 700.0
    out["price_usd_per_mwh"][:] = price
    return inputs, out.drop_dims("pool")


def test_market_off_makes_the_plan_carry_every_mwh():
    # at 50 $/MWh the market undercuts gas (VOM 100): with it the plan builds only for the
    # adequacy gap (test_hand_computable_single_firm_build); without it, gas must carry the
    # mean load of 700 MW at 0.8 availability, and every MWh pays the gas VOM
    inputs, out = one_region_case(price=50.0)
    opts = PlanOptions(voll_usd_per_mwh=None, cvar_lambda=0.0, market="off")
    ds = plan(inputs, out, opts)
    crf = float(capital_recovery_factor(0.05, 20))
    cap = 700.0 / 0.8
    assert_allclose(ds["online_mw"].sel(tech="gas").item(), cap, rtol=1e-9)
    annual = 1000.0 * (1000.0 * crf + 20.0)
    assert_allclose(float(ds["objective_usd"]), cap * annual + 8760.0 * 100.0 * 700.0,
                    rtol=1e-9)
    priced = plan(inputs, out, PlanOptions(voll_usd_per_mwh=None, cvar_lambda=0.0))
    assert float(priced["objective_usd"]) < float(ds["objective_usd"])


def test_market_is_a_documented_study_key():
    raw = {"study": {"name": "t", "start_year": 2026, "horizon_years": 1, "regions": ["ERCOT"]},
           "optimizer": {"market": "off"}}
    assert parse_config(raw).plan_options().market == "off"
