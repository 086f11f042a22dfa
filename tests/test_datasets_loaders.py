"""Shipped data: loaders validate, provenance is complete, values agree across files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from gridcap.config import load_config
from gridcap.datasets import loaders
from gridcap.errors import GridcapInputError
from gridcap.schema import (
    REGIONS_SCHEMA,
    SITES_SCHEMA,
    TECHNOLOGIES_SCHEMA,
    validate_regions,
    validate_sites,
    validate_technologies,
)

DATA_FILES = sorted(loaders.KEY_COLUMNS)


# --------------------------------------------------------------------------- provenance
@pytest.mark.parametrize("name", DATA_FILES)
def test_every_real_world_column_has_provenance(name):
    frame = pd.read_csv(loaders.DATA_DIR / name, dtype=str, keep_default_na=False)
    prov = loaders.read_provenance()
    rows = prov[prov["file"] == name].set_index("column")
    fact_columns = [c for c in frame.columns if c not in loaders.KEY_COLUMNS[name]]
    missing = [c for c in fact_columns if c not in rows.index]
    assert not missing, f"{name}: columns without a provenance row: {missing}"
    for col in fact_columns:
        row = rows.loc[col]
        for field in ("source", "date", "unit", "licence", "status"):
            assert str(row[field]).strip(), f"{name}.{col} has an empty provenance {field}"
        assert row["status"] in {"reported", "estimate", "derived", "assumption", "metadata"}
    stale = sorted(set(rows.index) - set(frame.columns))
    assert not stale, f"{name}: provenance rows for columns that do not exist: {stale}"


def test_provenance_names_only_shipped_files():
    prov = loaders.read_provenance()
    assert set(prov["file"]) == set(DATA_FILES)
    assert not prov.duplicated(["file", "column"]).any()


def test_data_files_stay_small():
    total = sum(p.stat().st_size for p in loaders.DATA_DIR.glob("*.csv"))
    assert total < 100_000


# --------------------------------------------------------------------------- sites
@pytest.fixture(scope="module")
def sites():
    return loaders.read_mine_sites()


def test_sites_conform_and_are_real(sites):
    ds, meta = sites
    validate_sites(ds, regions=loaders.read_regions()[0].region.values.tolist())
    for var in SITES_SCHEMA:
        assert ds[var.name].attrs["units"] == var.units
        assert ds[var.name].attrs.get("source"), f"{var.name} lacks provenance attrs"
    assert ds.sizes["site"] >= 12
    assert meta["rows"] == ds.sizes["site"] and len(meta["sha256"]) == 64
    operators = set(ds.operator.values.tolist())
    for op in ("Core Scientific", "Riot Platforms", "IREN", "TeraWulf", "Cipher Mining",
               "Galaxy Digital", "Bitdeer", "Hut 8", "MARA Holdings"):
        assert op in operators, op
    assert float(ds.interconnection_mw.sel(site="corz_denton")) == 394.0
    assert float(ds.interconnection_mw.sel(site="riot_rockdale")) == 700.0
    assert bool(ds.announced_conversion.sel(site="riot_rockdale"))
    for url, date in zip(ds.source_url.values, ds.source_date.values, strict=True):
        assert url.startswith("http")
        assert re.fullmatch(r"20\d\d-\d\d(-\d\d)?", date), date
    assert (ds.mining_load_mw <= ds.interconnection_mw).all()
    assert ((ds.lat > 24) & (ds.lat < 50) & (ds.lon > -125) & (ds.lon < -66)).all()  # CONUS


def test_hashprice_breakeven_follows_stated_formula(sites):
    ds, _ = sites
    # breakeven [$/MWh] = hashprice [$/PH/day] / (efficiency [J/TH] * 0.024 [MWh per PH-day])
    expected = 50.0 / (ds.fleet_efficiency_j_per_th * 0.024)
    np.testing.assert_allclose(ds.hashprice_breakeven_usd_per_mwh, expected, atol=1.0)


def test_conversion_capex_matches_cited_filings(sites):
    ds, _ = sites
    capex = ds.conversion_capex_usd_per_kw
    est = ds.capex_is_estimate.values.astype(bool)
    # company-disclosed all-in cost per MW of critical IT: TeraWulf $8-10M, Cipher $9-11M
    assert 8000 <= float(capex.sel(site="wulf_lake_mariner")) <= 10000
    assert 9000 <= float(capex.sel(site="cifr_barber_lake")) <= 11000
    assert not bool(ds.capex_is_estimate.sel(site="wulf_lake_mariner"))
    # every other row is the cited market default (JLL 2025 global average $10.7M/MW),
    # inside the Cushman & Wakefield 2025 range of 19 US markets ($9.3-15.0M/MW)
    assert est.sum() == ds.sizes["site"] - 2
    np.testing.assert_array_equal(capex.values[est], 10700.0)
    assert ((capex >= 8000) & (capex <= 15000)).all()
    # Riot's 8-K $3.6M/MW is the 25 MW retrofit of existing halls only: not the site's cost
    assert bool(ds.capex_is_estimate.sel(site="riot_rockdale"))


# --------------------------------------------------------------------------- technologies
@pytest.fixture(scope="module")
def techs():
    return loaders.read_technologies()


def test_technologies_conform(techs):
    ds, _ = techs
    validate_technologies(ds)
    for var in TECHNOLOGIES_SCHEMA:
        assert ds[var.name].attrs["units"] == var.units
        assert ds[var.name].attrs.get("source")
    assert set(ds.tech.values) == {
        "gas_ct", "gas_cc", "gas_recip", "gas_aero", "wind_onshore", "solar_utility",
        "battery_4h", "smr", "mine_conversion",
    }
    assert "cost_year" in ds.attrs and "dollar_basis" in ds.attrs


def test_lead_times_follow_the_seed_article(techs):
    lt = techs[0].lead_time_years.to_series()
    assert lt["mine_conversion"] < 1.0  # a few months
    assert 1.0 <= lt["solar_utility"] <= 1.5  # 12-18 months
    assert lt["battery_4h"] < 2.0
    assert 3.0 <= lt["wind_onshore"] <= 4.0
    assert 3.0 <= lt["gas_ct"] <= 5.0 and 3.0 <= lt["gas_cc"] <= 5.0
    assert 1.0 <= lt["gas_recip"] <= 1.5 and 1.0 <= lt["gas_aero"] <= 2.0  # small gas 1-2 yr
    first = techs[0].first_year_available.to_series()
    assert 2030 <= first["smr"] <= 2035
    assert 2029 <= first["gas_cc"] <= 2030  # frame turbines sold out to ~2029-30
    path = techs[0].interconnection_path.to_series()
    assert path["mine_conversion"] == "none" and path["gas_recip"] == "behind_the_meter"
    assert path["battery_4h"] == "surplus" and path["wind_onshore"] == "queue"
    queue = techs[0].needs_queue.to_series()
    btm = path[path == "behind_the_meter"].index
    assert not queue[["mine_conversion", *btm]].any()
    assert queue.drop(["mine_conversion", *btm]).all()


def test_gas_emissions_follow_heat_rate(techs):
    ds = techs[0]
    for t in ("gas_ct", "gas_cc", "gas_recip", "gas_aero"):
        expected = 53.06 * float(ds.heat_rate_mmbtu_per_mwh.sel(tech=t))  # EPA kg CO2/MMBtu
        assert float(ds.co2_kg_per_mwh.sel(tech=t)) == pytest.approx(expected, rel=0.01)


def test_emission_factor_file_agrees_with_technologies(techs):
    ef, _ = loaders.read_emission_factors()
    tech_ds = techs[0]
    np.testing.assert_allclose(
        ef.tech_co2_kg_per_mwh.sel(tech=tech_ds.tech.values), tech_ds.co2_kg_per_mwh
    )
    regions, _ = loaders.read_regions()
    assert set(regions.region.values) <= set(ef.region.values)
    assert (ef.grid_co2_kg_per_mwh > 100).all() and (ef.grid_co2_kg_per_mwh < 1000).all()


# --------------------------------------------------------------------------- regions/demand
def test_regions_conform_and_select_years():
    ds, meta = loaders.read_regions(years=[2026, 2027, 2028])
    validate_regions(ds)
    for var in REGIONS_SCHEMA:
        assert ds[var.name].attrs["units"] == var.units
    assert ds.ai_demand_mw.dims == ("region", "year")
    assert ds.year.values.tolist() == [2026, 2027, 2028]
    assert (ds.ai_demand_mw.diff("year") >= 0).all()  # cumulative
    assert ((ds.queue_years >= 2) & (ds.queue_years <= 8)).all()
    assert "demand" in meta and meta["demand"]["shipped"]
    assert {"ERCOT", "PJM", "MISO", "SPP", "CAISO", "NYISO"} <= set(ds.region.values)
    with pytest.raises(GridcapInputError, match="2040"):
        loaders.read_regions(years=[2026, 2040])


def test_demand_regions_add_up_to_national_path():
    d, _ = loaders.read_demand()
    assert float(d.ai_demand_share.sum()) == pytest.approx(1.0)
    total = d.ai_demand_mw.sum("region")
    np.testing.assert_allclose(total, d.ai_demand_us_mw, atol=d.sizes["region"])  # rounding
    gap = float(d.needed_generation_gw_per_yr - d.added_generation_gw_per_yr_high)
    assert gap == float(d.generation_gap_gw_per_yr)
    assert float(d.data_center_twh_2023) == 176.0  # LBNL 2024
    assert float(d.data_center_gw_2028_low) < float(d.data_center_gw_2028_high)


# --------------------------------------------------------------------------- user files
def test_user_csv_replaces_shipped_and_is_labelled(tmp_path):
    frame = pd.read_csv(loaders.DATA_DIR / "technologies.csv")
    frame.loc[frame.tech == "gas_ct", "capex_usd_per_kw"] = 999
    p = tmp_path / "techs.csv"
    frame.to_csv(p, index=False)
    ds, meta = loaders.read_technologies(path=p)
    assert float(ds.capex_usd_per_kw.sel(tech="gas_ct")) == 999
    assert ds.capex_usd_per_kw.attrs["source"].startswith("user file")
    assert meta["shipped"] is False


def test_user_csv_errors_name_the_problem(tmp_path):
    frame = pd.read_csv(loaders.DATA_DIR / "mine_sites.csv")
    p = tmp_path / "sites.csv"
    frame.drop(columns=["interconnection_mw"]).to_csv(p, index=False)
    with pytest.raises(GridcapInputError, match="interconnection_mw"):
        loaders.read_mine_sites(path=p)
    bad = frame.astype({"announced_conversion": str})
    bad.loc[0, "announced_conversion"] = "maybe"
    bad.to_csv(p, index=False)
    with pytest.raises(GridcapInputError, match=r"announced_conversion\[row 0\] = 'maybe'"):
        loaders.read_mine_sites(path=p)
    with pytest.raises(GridcapInputError, match="existing CSV"):
        loaders.read_regions(path=tmp_path / "nope.csv")


# --------------------------------------------------------------------------- studies
def test_shipped_studies_validate():
    assert {"quickstart", "us-ai-power-2030"} <= set(loaders.list_studies())
    quick = load_config(loaders.study_path("quickstart"))
    assert len(quick.study.regions) == 2 and quick.monte_carlo.scenarios == 32
    assert 3 <= quick.study.horizon_years <= 5 and quick.fleet.n_der == 200
    flag = load_config(loaders.study_path("us-ai-power-2030"))
    assert flag.years == list(range(2026, 2036))  # to 2035: new builds compete with conversions
    assert flag.fleet.n_der == 10_000 and flag.monte_carlo.scenarios >= 200
    assert 5 <= len(flag.study.regions) <= 6
    sites, _ = loaders.read_mine_sites()
    assert set(sites.region.values) <= set(flag.study.regions)  # every real site in play
    with pytest.raises(GridcapInputError, match="quickstart"):
        loaders.study_path("nope")


def test_technology_costs_tie_to_cited_figures(techs):
    ds = techs[0]
    capex = ds.capex_usd_per_kw.to_series()
    assert capex["battery_4h"] == pytest.approx(436 * 4)  # S&L 2024: $436/kWh x 4 h
    assert capex["smr"] == pytest.approx(8937 * 1.10, rel=1e-3)  # AEO2026 base x optimism
    assert 2200 <= capex["gas_cc"] <= 2500  # GridLab 2025 observed range
    assert capex["mine_conversion"] == pytest.approx(89.8e6 / 25e3, rel=0.01)
    assert set(ds.cost_status.values) <= {"reported", "estimate"}
    assert all(len(s) > 20 for s in ds.cost_source.values)


def test_regions_are_internally_plausible():
    ds, _ = loaders.read_regions()
    margin = ds.firm_capacity_mw / ds.peak_load_mw - 1.0  # reserve margin [1]
    assert (margin >= 0.0).all() and (margin <= 0.5).all(), margin.to_series()
    assert (ds.peak_load_year <= 2026).all() and (ds.peak_load_year >= 2000).all()
    # queues: the seed's 4-7 years, ERCOT (connect-and-manage) shortest
    q = ds.queue_years.to_series()
    assert q.idxmin() == "ERCOT" and q.drop("ERCOT").between(4.0, 7.0).all()
