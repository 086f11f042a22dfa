"""Input schemas: every kind of bad input gets its own plain-words message, all at once."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gridcap.config import parse_config
from gridcap.errors import SchemaError
from gridcap.pipeline import finance_terms
from gridcap.schema import (
    FLEET_SCHEMA,
    SITES_SCHEMA,
    StudyInputs,
    validate_finance,
    validate_fleet,
    validate_inputs,
    validate_regions,
    validate_sites,
    validate_technologies,
)


def _table(schema, dim: str, n: int, values: dict) -> xr.Dataset:
    data = {}
    for var in schema:
        data[var.name] = (var.dims, np.asarray(values[var.name]), {"units": var.units})
    return xr.Dataset(data, coords={dim: [f"{dim}{i}" for i in range(n)]})


FLEET_VALUES = {
    "kind": ["rooftop_pv", "pv_battery"],
    "region": ["A", "A"],
    "pool": ["A/pv", "A/pvb"],
    "lat": [30.0, 30.1],
    "lon": [-97.0, -97.1],
    "base_load_kw": [1.2, 1.0],
    "pv_kw": [7.0, 6.0],
    "battery_kwh": [0.0, 13.5],
    "battery_kw": [0.0, 5.0],
    "battery_efficiency": [0.9, 0.9],
    "soc_min": [0.1, 0.2],
    "soc_max": [1.0, 0.95],
    "ev_kw": [0.0, 7.2],
    "ev_kwh_per_day": [0.0, 10.0],
    "ev_arrival_hour": [18, 18],
    "ev_departure_hour": [7, 7],
    "flex_kw": [0.0, 0.0],
    "flex_rebound": [0.5, 0.5],
    "committed_kw": [0.0, 4.0],
    "weight": [350.0, 350.0],
}
SITE_VALUES = {
    "operator": ["Op"],
    "name": ["Site"],
    "state": ["TX"],
    "region": ["A"],
    "lat": [31.0],
    "lon": [-97.0],
    "interconnection_mw": [300.0],
    "mining_load_mw": [250.0],
    "conversion_months": [6.0],
    "conversion_capex_usd_per_kw": [2000.0],
    "hashprice_breakeven_usd_per_mwh": [60.0],
    "announced_conversion": [True],
    "capacity_is_estimate": [False],
}


@pytest.fixture
def fleet() -> xr.Dataset:
    return _table(FLEET_SCHEMA, "der", 2, FLEET_VALUES)


@pytest.fixture
def sites() -> xr.Dataset:
    return _table(SITES_SCHEMA, "site", 1, SITE_VALUES)


def _regions(years=(2026, 2027)) -> xr.Dataset:
    attrs = {
        "iso": ("region", ["ERCOT"], {"units": ""}),
        "lat": ("region", [31.0], {"units": "degrees_north"}),
        "lon": ("region", [-97.0], {"units": "degrees_east"}),
        "timezone": ("region", ["America/Chicago"], {"units": ""}),
        "peak_load_mw": ("region", [85000.0], {"units": "MW"}),
        "firm_capacity_mw": ("region", [95000.0], {"units": "MW"}),
        "load_growth_per_year": ("region", [0.03], {"units": "1/yr"}),
        "queue_years": ("region", [4.0], {"units": "yr"}),
        "price_mean_usd_per_mwh": ("region", [45.0], {"units": "$/MWh"}),
        "ai_demand_mw": (("region", "year"), [[1000.0] * len(years)], {"units": "MW"}),
        "ai_site_limit_mw": ("region", [5000.0], {"units": "MW"}),
    }
    return xr.Dataset(attrs, coords={"region": ["A"], "year": list(years)})


def _technologies() -> xr.Dataset:
    return xr.Dataset(
        {
            "lead_time_years": ("tech", [4.0, 1.5], {"units": "yr"}),
            "needs_queue": ("tech", [True, True], {"units": ""}),
            "first_year_available": ("tech", [2026, 2026], {"units": "year"}),
            "capex_usd_per_kw": ("tech", [1000.0, 1500.0], {"units": "$/kW"}),
            "fixed_om_usd_per_kw_yr": ("tech", [20.0, 25.0], {"units": "$/kW-yr"}),
            "variable_om_usd_per_mwh": ("tech", [40.0, 0.0], {"units": "$/MWh"}),
            "lifetime_years": ("tech", [30.0, 30.0], {"units": "yr"}),
            "availability": ("tech", [0.95, 0.4], {"units": "1"}),
            "profile": ("tech", ["firm", "solar"], {"units": ""}),
            "co2_kg_per_mwh": ("tech", [550.0, 0.0], {"units": "kg/MWh"}),
        },
        coords={"tech": ["gas_ct", "solar"]},
    )


def _finance() -> xr.Dataset:
    cfg = parse_config(
        {
            "study": {"name": "t", "start_year": 2026, "horizon_years": 2, "regions": ["A"]},
            "finance": {"senior": {"tenor_years": 2}, "mezzanine": {"tenor_years": 2}},
        }
    )
    return finance_terms(cfg)


def test_valid_tables_pass(fleet, sites):
    validate_fleet(fleet, regions=["A"])
    validate_sites(sites, regions=["A"])
    validate_regions(_regions())
    validate_technologies(_technologies())
    validate_finance(_finance(), horizon_years=2)


def test_fleet_reports_every_problem_with_variable_value_and_expectation(fleet):
    bad = fleet.copy(deep=True)
    bad["battery_efficiency"].values[1] = 1.4
    bad["pv_kw"].values[0] = -3.0
    bad["base_load_kw"].values[1] = np.nan
    bad["kind"].values[0] = "windmill"
    bad["soc_min"].values[1] = 0.99
    bad = bad.drop_vars("committed_kw")
    with pytest.raises(SchemaError) as info:
        validate_fleet(bad, regions=["A"])
    text = str(info.value)
    assert len(info.value.problems) == 6
    assert "fleet.battery_efficiency[der=der1] = 1.4: expected a value in (0, 1]" in text
    assert "fleet.pv_kw[der=der0] = -3: expected a value >= 0" in text
    assert "fleet.base_load_kw[der=der1] is NaN" in text
    assert "'windmill'" in text and "rooftop_pv" in text
    assert "soc_min" in text and "expected soc_min < soc_max" in text
    assert "missing variable 'committed_kw'" in text


def test_wrong_dimension_and_units_are_named(fleet):
    bad = fleet.copy()
    bad["pv_kw"] = xr.DataArray(np.ones((2, 2)), dims=("der", "x"), attrs={"units": "kW"})
    bad["battery_kwh"].attrs["units"] = "MWh"
    with pytest.raises(SchemaError) as info:
        validate_fleet(bad)
    text = str(info.value)
    assert "fleet.pv_kw has dims ('der', 'x'): expected ('der',)" in text
    assert "fleet.battery_kwh has units 'MWh': expected 'kWh'" in text


def test_sites_mining_load_cannot_exceed_interconnection(sites):
    bad = sites.copy(deep=True)
    bad["mining_load_mw"].values[0] = 400.0
    bad["region"].values[0] = "Z"
    with pytest.raises(SchemaError) as info:
        validate_sites(bad, regions=["A"])
    text = str(info.value)
    assert "exceeds interconnection_mw = 300 MW" in text
    assert "sites.region has value(s) ['Z']" in text


def test_finance_tenor_longer_than_horizon_and_bad_targets():
    bad = _finance()
    bad["tenor_years"].values[:] = [5, 2]
    bad["pd_target"].values[:] = [0.0, 1.2]
    bad["rate"].values[0] = -0.01
    with pytest.raises(SchemaError) as info:
        validate_finance(bad, horizon_years=2)
    text = str(info.value)
    assert "finance.tenor_years[tranche=senior] = 5: expected at most the study horizon" in text
    assert "finance.pd_target[tranche=senior] = 0: expected a value in (0, 1)" in text
    assert "finance.pd_target[tranche=mezzanine] = 1.2" in text
    assert "finance.rate[tranche=senior] = -0.01" in text


def test_validate_inputs_collects_problems_of_all_tables(fleet, sites):
    bad_tech = _technologies()
    bad_tech["availability"].values[0] = 0.0
    inputs = StudyInputs(
        fleet=fleet,
        sites=sites,
        regions=_regions(),
        technologies=bad_tech,
        finance=_finance(),
        years=np.array([2026, 2028]),
    )
    with pytest.raises(SchemaError) as info:
        validate_inputs(inputs)
    text = str(info.value)
    assert "technologies.availability[tech=gas_ct] = 0" in text
    assert "expected consecutive calendar years" in text


def test_not_a_dataset_is_reported():
    with pytest.raises(SchemaError, match="expected an xarray.Dataset"):
        validate_regions({"peak_load_mw": 1})
