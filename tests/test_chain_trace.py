"""Tests of trace_chain / chain_ledger on small hand-made stage outputs (docs/data-model.md)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.kernels import sites as ks
from gridcap.optimizer.chain.trace import (
    COSTS,
    HEDGES,
    LINKS,
    chain_ledger,
    chain_summary_rows,
    representative_scenarios,
    trace_chain,
    variance_shares,
    write_chain_ledger,
)

YEARS = np.array([2026, 2027, 2028])
REGIONS = ["ERCOT", "PJM"]
SITES = ["s1", "s2", "s3"]
SITE_REGION = ["ERCOT", "ERCOT", "PJM"]
IT_MW = np.array([40.0, 80.0, 60.0])
POOLS = ["ERCOT/home_battery", "PJM/ev_charger"]
TECHS = ["solar_utility", "gas_cc", "battery_4h", "mine_conversion"]
SLICE_HOURS = np.array([5000.0, 3760.0])
MC_PUE = 1.2
NEW_MW = np.array([[0.0, 0.0, 0.0], [0.0, 50.0, 50.0]])  # facility MW (region, year)
EF = {"grid": {"ERCOT": 350.0, "PJM": 380.0, "US": 373.0},
      "technology": {"solar_utility": 0.0, "gas_cc": 340.0, "battery_4h": 0.0}}
COMPUTE = {"tokens_per_gpu_hour": 1.0e7, "gpus_per_mw": 780.0, "gpu_capex_usd": 35_000.0,
           "gpu_life_years": 5.0, "ppa_price_usd_per_mwh": 0.0, "pue": 1.3,
           "model_class": "test"}


def make_case(S: int = 40, seed: int = 0, price_sd: float = 0.3, util_sd: float = 0.1,
              gpu_sd: float = 0.2):
    """Outcomes, plan, finance and inputs built by hand with the contract's names."""
    rng = np.random.default_rng(seed)
    Y, R, P, E = len(YEARS), len(REGIONS), len(POOLS), 3
    util = np.clip(0.75 + util_sd * rng.standard_normal((S, Y)), 0.3, 0.98)
    gpu = 2.0 * np.exp(gpu_sd * rng.standard_normal((S, Y)))
    price = 40.0 * np.exp(price_sd * rng.standard_normal((S, R, Y, 2)))
    mean_price = (price * SLICE_HOURS).sum(-1) / SLICE_HOURS.sum()          # (S, R, Y)
    sreg = np.array([REGIONS.index(r) for r in SITE_REGION])
    energy = IT_MW[None, :, None] * util[:, None, :] * 8760.0 * MC_PUE
    power = energy * mean_price[:, sreg, :]
    gpus = IT_MW * ks.GPUS_PER_MW_IT
    revenue = gpus[None, :, None] * util[:, None, :] * gpu[:, None, :] * 8760.0
    charge = (gpus * ks.GPU_COST_USD_PER_GPU_HOUR * 8760.0)[None, :, None]
    opex = (ks.AI_OPEX_USD_PER_MW_YR * IT_MW)[None, :, None]
    cfads = revenue - power - charge - opex
    committed = np.full((S, P, E), 1000.0)
    committed[:, :, 2] = np.nan                                             # padding
    ratio = rng.uniform(0.5, 1.0, (S, P, E))
    delivered = committed * ratio
    duration = np.full((S, R, E), 2.0)
    duration[:, :, 2] = 0.0
    sxy = ("scenario", "site", "year")
    outcomes = xr.Dataset(
        {
            "site_ai_energy_mwh": (sxy, energy, {"units": "MWh"}),
            "site_power_cost_usd": (sxy, power, {"units": "$"}),
            "site_revenue_usd": (sxy, revenue, {"units": "$"}),
            "site_cfads_usd": (sxy, cfads, {"units": "$"}),
            "ai_utilization": (("scenario", "year"), util, {"units": "1"}),
            "gpu_price_usd_per_gpu_hour": (("scenario", "year"), gpu, {"units": "$/GPU-h"}),
            "price_usd_per_mwh": (("scenario", "region", "year", "slice"), price,
                                  {"units": "$/MWh"}),
            "solar_cf": (("scenario", "region", "slice"), rng.uniform(0.1, 0.3, (S, R, 2))),
            "wind_cf": (("scenario", "region", "slice"), rng.uniform(0.2, 0.4, (S, R, 2))),
            "event_committed_kw": (("scenario", "pool", "event"), committed),
            "event_delivered_kw": (("scenario", "pool", "event"), delivered),
            "event_duration_h": (("scenario", "region", "event"), duration),
        },
        coords={"scenario": np.arange(S), "site": SITES, "year": YEARS, "region": REGIONS,
                "slice": ["a", "b"], "slice_hours": ("slice", SLICE_HOURS),
                "pool": POOLS, "pool_region": ("pool", np.array(["ERCOT", "PJM"], object)),
                "event": np.arange(E)},
        attrs={"hours": 8760},
    )
    online = np.zeros((R, len(TECHS), Y))
    online[0, 0] = [0.0, 20.0, 20.0]       # ERCOT solar: less than the AI load
    online[1, 1] = [0.0, 300.0, 300.0]     # PJM gas: more than the AI load
    online[1, 2] = [10.0, 10.0, 10.0]      # PJM storage: shifts, generates nothing
    online[0, 3] = [120.0, 120.0, 120.0]   # a mine conversion is not generation
    plan = xr.Dataset(
        {
            "converted": ("site", np.array([1, 1, 0], np.int8)),
            "conversion_year": ("site", np.array([2026, 2027, -1])),
            "online_mw": (("region", "tech", "year"), online),
            "ai_new_build_mw": (("region", "year"), NEW_MW),
            "flex_contracted_kw": (("pool", "year"), np.array([[5000.0] * 3, [2000.0] * 3])),
            "flex_price_usd_per_kw_yr": (("pool", "year"), np.full((P, Y), 50.0)),
            "capacity_value_usd_per_kw_yr": (("region", "year"), np.full((R, Y), 80.0)),
        },
        coords={"site": SITES, "region": REGIONS, "tech": TECHS, "pool": POOLS, "year": YEARS},
    )
    cash = np.stack([np.full((S, Y), 3e6), np.full((S, Y), 1e6),
                     np.maximum(cfads[:, :2].sum(1) - 4e6, 0)], axis=1)
    finance = xr.Dataset(
        {"tranche_cash_usd": (("scenario", "tranche", "year"), cash),
         "unit_count": ("tranche", np.array([20_000.0, 5_000.0, 10_000.0])),
         "tranche_size_usd": ("tranche", np.array([20.0e6, 5.0e6, 10.0e6 + 500.0])),
         "unit_size_usd": 1000.0},
        coords={"scenario": np.arange(S), "tranche": ["senior", "mezzanine", "equity"],
                "year": YEARS},
    )
    inputs = SimpleNamespace(
        sites=xr.Dataset({"region": ("site", SITE_REGION)}, coords={"site": SITES}),
        technologies=xr.Dataset(
            {"profile": ("tech", ["solar", "firm", "storage", "firm"]),
             "availability": ("tech", [0.14, 0.74, 0.9, 1.0]),
             "co2_kg_per_mwh": ("tech", [0.0, 340.0, 0.0, 0.0])},
            coords={"tech": TECHS}),
        finance=xr.Dataset({"discount_rate": 0.08}),
    )
    return inputs, outcomes, plan, finance


@pytest.fixture(scope="module")
def case():
    inputs, outcomes, plan, finance = make_case()
    ds = trace_chain(inputs, outcomes, plan, finance, COMPUTE, emission_factors=EF)
    return inputs, outcomes, plan, finance, ds


def test_data_centers_follow_the_plan(case):
    _, outcomes, _, _, ds = case
    assert ds.dc.values.tolist() == ["s1", "s2", "newbuild/PJM"]    # s3 not converted
    assert ds.chain_source.values.tolist() == [*TECHS[:3], "der_flex", "grid"]
    e = ds.chain_energy_mwh
    assert_allclose(e.sel(dc="s1"), outcomes.site_ai_energy_mwh.sel(site="s1"), rtol=0)
    assert (e.sel(dc="s2", year=2026) == 0).all()                   # converted in 2027:
    assert_allclose(e.sel(dc="s2", year=[2027, 2028]),              # timeline one year late
                    outcomes.site_ai_energy_mwh.sel(site="s2", year=[2026, 2027]), rtol=0)
    nb = e.sel(dc="newbuild/PJM").values
    assert_allclose(nb, NEW_MW[1][None] * 8760.0 * outcomes.ai_utilization.values, rtol=1e-14)


def test_running_conversion_indicator_matches_conversion_year(case):
    inputs, outcomes, plan, finance, ds = case
    running = plan.drop_vars(["converted", "conversion_year"])
    running["converted"] = (("site", "year"), np.array([[1, 1, 1], [0, 1, 1], [0, 0, 0]]))
    ds2 = trace_chain(inputs, outcomes, running, finance, COMPUTE, emission_factors=EF)
    assert ds2.dc.values.tolist() == ds.dc.values.tolist()
    assert_allclose(ds2.chain_cost_usd, ds.chain_cost_usd, rtol=1e-14)


def test_attribution_balances_exactly(case):
    ds = case[4]
    total = ds.chain_energy_by_source_mwh.sum("chain_source")
    assert_allclose(total, ds.chain_energy_mwh, rtol=1e-13, atol=1e-9)
    assert float(ds.chain_energy_by_source_mwh.min()) > -1e-6
    p = ds.chain_portfolio_energy_by_source_mwh.sum("chain_source")
    assert_allclose(p, ds.chain_energy_mwh.sum("dc"), rtol=1e-13)


def test_attribution_against_hand_computed_supply(case):
    _, outcomes, _, _, ds = case
    src = ds.chain_energy_by_source_mwh
    # ERCOT 2027: 20 MW solar at the hour-weighted solar CF, all claimed by s1 + s2.
    cf = (outcomes.solar_cf.sel(region="ERCOT") * outcomes.slice_hours).sum("slice") / 8760.0
    solar = 20.0 * cf.values * 8760.0
    ercot = src.sel(dc=["s1", "s2"], year=2027).sum("dc")
    assert_allclose(ercot.sel(chain_source="solar_utility"), solar, rtol=1e-12)
    # flexibility delivered: contracted kW x sum_e ratio x 2 h / 1000
    ratio = (outcomes.event_delivered_kw / outcomes.event_committed_kw).fillna(0)
    flex = (ratio.sel(pool="ERCOT/home_battery") * 2.0).sum("event").values * 5000.0 / 1000.0
    assert_allclose(ercot.sel(chain_source="der_flex"), flex, rtol=1e-12)
    # shares pro rata consumption
    e = ds.chain_energy_mwh.sel(year=2027)
    s1 = src.sel(dc="s1", year=2027, chain_source="solar_utility")
    assert_allclose(s1, solar * e.sel(dc="s1") / e.sel(dc=["s1", "s2"]).sum("dc"), rtol=1e-12)
    # PJM 2027: 300 MW of gas generates more than the new build consumes -> no grid, no storage
    pjm = src.sel(dc="newbuild/PJM", year=2027)
    assert_allclose(pjm.sel(chain_source="grid"), 0.0, atol=1e-6)
    assert_allclose(pjm.sel(chain_source="battery_4h"), 0.0, atol=0)
    # PJM 2026: no new build yet -> nothing consumed
    assert_allclose(ds.chain_energy_mwh.sel(dc="newbuild/PJM", year=2026), 0.0)


def test_opex_uses_the_gpu_charge_the_outcomes_were_simulated_with():
    """Outcomes simulated with another [compute] GPU cost carry it in attrs; the chain must
    back out that charge (not the kernel default) to recover the data-hall opex."""
    inputs, outcomes, plan, finance = make_case()
    charge = 1.1                                                      # [$/GPU-h]
    gpus = IT_MW * ks.GPUS_PER_MW_IT
    delta = (gpus * (charge - ks.GPU_COST_USD_PER_GPU_HOUR) * 8760.0)[None, :, None]
    outcomes = outcomes.assign(site_cfads_usd=outcomes.site_cfads_usd - delta)
    outcomes.attrs["site_gpu_charge_usd_per_gpu_hour"] = charge
    ds = trace_chain(inputs, outcomes, plan, finance, COMPUTE, emission_factors=EF)
    assert_allclose(ds.chain_cost_usd.sel(dc="s1", chain_cost="opex"),
                    ks.AI_OPEX_USD_PER_MW_YR * IT_MW[0], rtol=1e-9)


def test_tokens_and_gpu_hours(case):
    _, outcomes, _, _, ds = case
    assert_allclose(ds.chain_tokens, ds.chain_gpu_hours * COMPUTE["tokens_per_gpu_hour"],
                    rtol=1e-15)
    u = outcomes.ai_utilization.values
    s1 = IT_MW[0] * ks.GPUS_PER_MW_IT * u * 8760.0                  # the site model's GPU-hours
    assert_allclose(ds.chain_gpu_hours.sel(dc="s1"), s1, rtol=1e-12)
    nb = NEW_MW[1][None] / COMPUTE["pue"] * COMPUTE["gpus_per_mw"] * u * 8760.0
    assert_allclose(ds.chain_gpu_hours.sel(dc="newbuild/PJM"), nb, rtol=1e-12)


def test_cost_stack_sums_and_closed_forms(case):
    _, outcomes, _, finance, ds = case
    cost = ds.chain_cost_usd
    assert cost.chain_cost.values.tolist() == list(COSTS)
    assert_allclose(cost.sum("chain_cost"), ds.chain_cost_total_usd, rtol=1e-13)
    per = ds.chain_usd_per_mtok.sum("chain_cost")
    live = ds.chain_tokens > 0
    assert_allclose(per.where(live), ds.chain_usd_per_mtok_total.where(live), rtol=1e-12)
    assert_allclose(ds.chain_usd_per_mtok_total.where(live),
                    (ds.chain_cost_total_usd / ds.chain_tokens * 1e6).where(live), rtol=1e-13)
    # opex = the site model's data-hall opex; GPU depreciation = GPUs x capex / life
    assert_allclose(cost.sel(dc="s1", chain_cost="opex"), ks.AI_OPEX_USD_PER_MW_YR * IT_MW[0],
                    rtol=1e-9)
    gpus = IT_MW[0] * ks.GPUS_PER_MW_IT
    assert_allclose(cost.sel(dc="s1", chain_cost="gpu_depreciation"), gpus * 35_000.0 / 5.0,
                    rtol=1e-12)
    assert_allclose(cost.sel(dc="s1", chain_cost="energy"),
                    outcomes.site_power_cost_usd.sel(site="s1"), rtol=0)
    # tranche cash is allocated over the data centers without loss
    for t in ("senior", "mezzanine", "equity"):
        assert_allclose(cost.sel(chain_cost=t).sum("dc"),
                        finance.tranche_cash_usd.sel(tranche=t), rtol=1e-12)
    # capacity/flexibility: PJM new build, no flexibility covers it... ERCOT sites: closed form
    life = ds.chain_lifetime_usd_per_mtok.sum("chain_cost")
    assert_allclose(life, ds.chain_lifetime_usd_per_mtok_total, rtol=1e-12)
    q = np.quantile(ds.chain_lifetime_usd_per_mtok_total.values, [0.1, 0.5, 0.9])
    assert_allclose(ds.chain_usd_per_mtok_total_quantiles, q, rtol=1e-12)


def test_capacity_flex_cost_closed_form(case):
    _, outcomes, _, _, ds = case
    # ERCOT 2027: peak kW of s1 + s2; 5000 kW flexibility at delivery ratio rho.
    # s2 converts a year late: its 2027 runs the first-year timeline (2026 utilization)
    u = outcomes.ai_utilization.sel(year=[2027, 2026]).values
    e = ds.chain_energy_mwh.sel(year=2027)
    peak = e.sel(dc=["s1", "s2"]) / (8760.0 * u) * 1000.0                    # kW
    peak_r = peak.sum("dc").values
    cover = np.minimum(1.0, 5000.0 / peak_r)
    com = outcomes.event_committed_kw.sel(pool="ERCOT/home_battery").fillna(0).sum("event")
    dlv = outcomes.event_delivered_kw.sel(pool="ERCOT/home_battery").fillna(0).sum("event")
    rho = (dlv / com).values
    expect = peak.values * cover[:, None] * 50.0 + (
        peak.values - peak.values * cover[:, None] * rho[:, None]) * 80.0
    got = ds.chain_cost_usd.sel(dc=["s1", "s2"], year=2027, chain_cost="capacity_flex").values
    assert_allclose(got, expect, rtol=1e-12)


def test_emissions_from_the_source_mix(case):
    ds = case[4]
    f = np.array([EF["technology"].get(s, 0.0) if s not in ("grid", "der_flex") else 0.0
                  for s in ds.chain_source.values])
    mwh = ds.chain_energy_by_source_mwh.sel(dc="s1").values
    kg = (mwh * f).sum(-1) + mwh[..., -1] * EF["grid"]["ERCOT"]
    assert_allclose(ds.chain_co2_kg.sel(dc="s1"), kg, rtol=1e-12)
    g = ds.chain_gco2_per_mtok.sel(dc="s1").values
    assert_allclose(g, kg * 1000.0 / ds.chain_tokens.sel(dc="s1").values * 1e6, rtol=1e-12)


def test_risk_shares_sum_to_one_and_equity_is_the_link_sum(case):
    ds = case[4]
    assert ds.chain_link.values.tolist() == list(LINKS)
    assert ds.chain_hedge.values.tolist() == list(HEDGES)
    assert_allclose(ds.chain_risk_share.sum("chain_link"), 1.0, rtol=1e-10)
    assert_allclose(ds.chain_equity_value_usd, ds.chain_link_value_usd.sum("chain_link"),
                    rtol=1e-12)
    assert_allclose(ds.chain_equity_variance,
                    ds.chain_equity_value_usd.var("scenario"), rtol=1e-10)
    # a firm flexibility contract removes the grid/flexibility link's variance
    gf = ds.chain_link_value_usd.sel(chain_link="grid_flex")
    assert float(gf.sel(chain_hedge="none").std()) > 0
    assert float(gf.sel(chain_hedge="flex_contract").std()) < 1e-6 * float(
        abs(gf.sel(chain_hedge="flex_contract")).mean())


def test_risk_map_covers_the_financed_equity(case):
    ds = case[4]
    assert ds.attrs["chain_risk_scope"].startswith("financed")
    df = 1.08 ** -np.arange(1, 4)
    fin = ["s1", "s2"]                                   # the new build is not financed
    energy = -(ds.chain_cost_usd.sel(dc=fin, chain_cost="energy").sum("dc") * df).sum("year")
    assert_allclose(ds.chain_link_value_usd.sel(chain_link="energy", chain_hedge="none"), energy,
                    rtol=1e-12)
    debt = ds.chain_cost_usd.sel(dc=fin, chain_cost=["senior", "mezzanine"]).sum(
        ["dc", "chain_cost"])
    assert_allclose(ds.chain_link_value_usd.sel(chain_link="financing", chain_hedge="none"),
                    -(debt * df).sum("year"), rtol=1e-12)


def test_equity_irr_regression_shares():
    inputs, outcomes, plan, finance = make_case(S=60, seed=7)
    ds0 = trace_chain(inputs, outcomes, plan, finance, COMPUTE, emission_factors=EF)
    value = ds0.chain_equity_value_usd.sel(chain_hedge="none").values
    irr = 0.1 + 1e-11 * (value - value.mean())
    irr[0] = np.nan                                           # an IRR that does not exist
    finance["irr"] = (("scenario", "tranche"), np.column_stack([np.full(60, 0.06),
                                                               np.full(60, 0.1), irr]))
    ds = trace_chain(inputs, outcomes, plan, finance, COMPUTE, emission_factors=EF)
    assert ds.attrs["chain_irr_r2"] == pytest.approx(1.0, rel=1e-9)
    assert_allclose(ds.chain_irr_risk_share.sum(), 1.0, rtol=1e-9)
    keep = slice(1, None)                                     # same scenarios as the IRR fit
    expect, _ = variance_shares(ds.chain_link_value_usd.sel(chain_hedge="none").values[keep])
    assert_allclose(ds.chain_irr_risk_share, expect, rtol=1e-6, atol=1e-9)


def test_dominant_energy_risk_and_ppa_hedge():
    inputs, outcomes, plan, finance = make_case(S=200, seed=3, price_sd=1.2, util_sd=0.0, gpu_sd=0.005)
    ds = trace_chain(inputs, outcomes, plan, finance, COMPUTE, emission_factors=EF)
    shares = ds.chain_risk_share
    none = shares.sel(chain_hedge="none")
    assert str(none.chain_link.values[int(np.argmax(none.values))]) == "energy"
    ppa = shares.sel(chain_hedge="ppa", chain_link="energy")
    assert float(ppa) < float(none.sel(chain_link="energy")) - 0.2
    assert float(ds.chain_equity_variance.sel(chain_hedge="ppa")) < float(
        ds.chain_equity_variance.sel(chain_hedge="none"))


def test_ppa_price_sets_the_energy_cost():
    inputs, outcomes, plan, finance = make_case(S=8)
    ds = trace_chain(inputs, outcomes, plan, finance, {**COMPUTE, "ppa_price_usd_per_mwh": 55.0},
                     emission_factors=EF)
    assert_allclose(ds.chain_cost_usd.sel(chain_cost="energy"), ds.chain_energy_mwh * 55.0,
                    rtol=1e-14)
    assert ds.attrs["chain_ppa_price_in_risk_map"] == 55.0


def test_ledger_reconciles_with_the_dataset(case, tmp_path):
    _, _, _, finance, ds = case
    led = chain_ledger(ds, finance)
    S, D, Y = ds.sizes["scenario"], ds.sizes["dc"], ds.sizes["year"]
    assert len(led) == S * (D + 1) * Y
    row = led[(led.scenario == 5) & (led.year == 2027) & (led.dc == "s1")].iloc[0]
    sel = {"scenario": 5, "year": 2027, "dc": "s1"}
    assert row.energy_mwh == pytest.approx(float(ds.chain_energy_mwh.sel(sel)), rel=1e-15)
    assert row.tokens == pytest.approx(float(ds.chain_tokens.sel(sel)), rel=1e-15)
    assert row.cost_senior_usd == pytest.approx(
        float(ds.chain_cost_usd.sel({**sel, "chain_cost": "senior"})), rel=1e-15)
    mwh_cols = [c for c in led.columns if c.startswith("mwh_")]
    assert_allclose(led[mwh_cols].sum(axis=1), led.energy_mwh, rtol=1e-12, atol=1e-9)
    cost_cols = [f"cost_{c}_usd" for c in COSTS]
    assert_allclose(led[cost_cols].sum(axis=1), led.cost_total_usd, rtol=1e-12)
    port = led[led.dc == "portfolio"].set_index(["scenario", "year"]).sort_index()
    parts = led[led.dc != "portfolio"].groupby(["scenario", "year"]).sum(numeric_only=True)
    for col in ["energy_mwh", "gpu_hours", "tokens", "cost_total_usd", "co2_kg", *mwh_cols]:
        assert_allclose(port[col], parts[col], rtol=1e-12)
    for t in ("senior", "mezzanine", "equity"):   # finance convention: cash x unit / size
        per = led[f"cost_{t}_usd"] * 1000.0 / float(finance.tranche_size_usd.sel(tranche=t))
        assert_allclose(led[f"usd_per_unit_{t}"], per, rtol=1e-12)
    path = write_chain_ledger(led, tmp_path / "chain_ledger.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == list(led.columns)
    assert_allclose(back.energy_mwh, led.energy_mwh, rtol=1e-9)
    assert not list(tmp_path.glob(".*tmp"))


def test_tranche_cash_shared_with_the_rest_of_the_financed_project():
    inputs, outcomes, plan, finance = make_case(S=6)
    own = _shifted_site_cfads(outcomes)                              # s1 + s2, as financed
    pools = np.full(own.shape, 7.0e6)
    finance["cfads_usd"] = (("scenario", "year"), own + pools)
    ds = trace_chain(inputs, outcomes, plan, finance, COMPUTE, emission_factors=EF)
    cf = np.maximum(_shifted_per_site(outcomes), 0)                  # (S, 2, Y)
    share = cf.sum(1) / (cf.sum(1) + pools)
    for t in ("senior", "mezzanine", "equity"):
        got = ds.chain_cost_usd.sel(chain_cost=t)
        assert_allclose(got.sel(dc=["s1", "s2"]).sum("dc"),
                        finance.tranche_cash_usd.sel(tranche=t) * share, rtol=1e-12)
        assert_allclose(got.sel(dc="newbuild/PJM"), 0.0)             # not in the financed project


def _shifted_per_site(outcomes):
    cf = outcomes.site_cfads_usd.sel(site=["s1", "s2"]).values.copy()
    cf[:, 1, 1:] = cf[:, 1, :-1].copy()                               # s2 converted in 2027
    cf[:, 1, 0] = 0.0
    return cf


def _shifted_site_cfads(outcomes):
    return _shifted_per_site(outcomes).sum(axis=1)


def test_representative_ledger(case):
    _, _, _, finance, ds = case
    picks = representative_scenarios(ds)
    total = ds.chain_lifetime_usd_per_mtok_total
    med = float(np.median(total))
    p50 = picks[1]
    assert abs(float(total.sel(scenario=p50)) - med) == pytest.approx(
        float(abs(total - med).min()), rel=1e-12)
    assert float(total.sel(scenario=picks[0])) < float(total.sel(scenario=picks[2]))
    led = chain_ledger(ds, finance, scenarios="representative")
    assert sorted(set(led.scenario)) == sorted(picks)
    with pytest.raises(GridcapInputError, match="representative"):
        chain_ledger(ds, finance, scenarios="median")


def test_summary_rows(case):
    rows = dict(chain_summary_rows(case[4]))
    assert "AI cost per M tokens, P10 / P50 / P90" in rows
    assert rows["AI cost per M tokens, P10 / P50 / P90"].count("$") == 3
    assert "gCO2 per M tokens, P10 / P50 / P90" in rows
    top = rows["top equity-risk link (share of variance)"]
    assert top.split()[0] in LINKS


def test_results_merge_and_netcdf_round_trip(case, tmp_path):
    from gridcap.io import read_results, write_netcdf

    _, outcomes, plan, _, ds = case
    merged = xr.merge([outcomes, plan, ds], compat="override", join="outer")
    assert merged.sizes["scenario"] == outcomes.sizes["scenario"]
    path = write_netcdf(ds, tmp_path / "chain.nc")
    back = read_results(path)
    assert_allclose(back.chain_energy_by_source_mwh, ds.chain_energy_by_source_mwh)
    assert back.dc_kind.values.tolist() == ds.dc_kind.values.tolist()


def test_missing_outcomes_and_no_plan_or_finance():
    inputs, outcomes, plan, finance = make_case(S=4)
    with pytest.raises(GridcapInputError, match="site_revenue_usd"):
        trace_chain(inputs, outcomes.drop_vars("site_revenue_usd"), plan, finance, COMPUTE,
                    emission_factors=EF)
    ds = trace_chain(inputs, outcomes, None, None, COMPUTE)           # shipped factors
    assert ds.dc.values.tolist() == SITES                            # all converted, all grid
    assert_allclose(ds.chain_energy_by_source_mwh.sel(chain_source="grid"), ds.chain_energy_mwh)
    assert_allclose(ds.chain_cost_usd.sel(chain_cost=["senior", "mezzanine", "equity"]), 0.0)
    assert_allclose(ds.chain_risk_share.sum("chain_link"), 1.0, rtol=1e-10)
