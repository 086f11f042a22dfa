"""Capacity values beside market prices: cited clearing prices on the plan's grid."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gridcap.datasets.markets import market_prices, read_capacity_prices, read_scarcity_pricing
from gridcap.pipeline import with_market_prices
from gridcap.summary import capacity_market_table


def test_published_pjm_prices_and_the_conversion():
    frame, _ = read_capacity_prices()
    pjm = frame[frame.market == "PJM"].set_index("delivery_year")["price_usd_per_mw_day"]
    assert pjm.to_dict() == {2024: 28.92, 2025: 269.92, 2026: 329.17, 2027: 333.44}
    kw = frame[frame.market == "PJM"].set_index("delivery_year")["price_usd_per_kw_yr"]
    assert kw[2026] == pytest.approx(329.17 * 365 / 1000)        # $/MW-day -> $/kW-yr
    for col in ("source", "source_url", "source_date", "status"):
        assert frame[col].str.strip().astype(bool).all()


def test_market_prices_on_the_region_year_grid():
    ds = market_prices(["ERCOT", "PJM", "MISO", "SERC"], range(2026, 2031))
    pjm = ds.capacity_market_price_usd_per_kw_yr.sel(region="PJM")
    assert float(pjm.sel(year=2026)) == pytest.approx(120.147, rel=1e-4)
    assert float(pjm.sel(year=2027)) == pytest.approx(121.706, rel=1e-4)
    assert np.isnan(float(pjm.sel(year=2028)))          # no auction published for 2028/29
    assert str(ds.capacity_market_label.sel(region="PJM", year=2027).values) == \
        "PJM Base Residual Auction 2027/28"
    # MISO's only shipped auction (2025/26) is before the horizon: latest, not on the grid
    assert np.isnan(ds.capacity_market_price_usd_per_kw_yr.sel(region="MISO")).all()
    assert int(ds.capacity_market_latest_year.sel(region="MISO")) == 2025
    # ERCOT is energy-only: offer cap and net CONE instead of a clearing price
    scar, _ = read_scarcity_pricing()
    cap = scar.set_index("parameter").loc["high_system_offer_cap", "value"]
    assert float(ds.scarcity_cap_usd_per_mwh.sel(region="ERCOT")) == cap == 5000
    assert float(ds.net_cone_usd_per_kw_yr.sel(region="ERCOT")) == pytest.approx(105.0)
    assert int(ds.capacity_market_latest_year.sel(region="SERC")) == -1


def test_plan_gets_market_figures_and_the_summary_shows_them_side_by_side():
    years = [2026, 2027]
    plan = xr.Dataset(
        {"capacity_value_usd_per_kw_yr": (("region", "year"), [[40.0, 45.0], [5.0, 6.0]]),
         "flex_price_usd_per_kw_yr": (("pool", "year"), [[30.0, 33.0], [4.0, 4.5]])},
        coords={"region": ["PJM", "ERCOT"], "year": years, "pool": ["PJM/a", "ERCOT/b"],
                "pool_region": ("pool", ["PJM", "ERCOT"])})
    out = with_market_prices(plan)
    assert "capacity_market_price_usd_per_kw_yr" in out
    table = capacity_market_table(out)
    assert table is not None
    cells = [[str(c) for c in col.cells] for col in table.columns]
    rows = list(zip(*cells, strict=True))
    assert ("PJM", "2026", "40", "30", "120", "PJM Base Residual Auction 2026/27") in rows
    ercot = [r for r in rows if r[0] == "ERCOT"]
    assert len(ercot) == 1 and ercot[0][4] == "105" and "energy-only" in ercot[0][5]


def test_report_headline_rows_put_the_dual_beside_the_auction_price():
    from gridcap.report import _capacity_market_rows

    plan = xr.Dataset(
        {"capacity_value_usd_per_kw_yr": (("region", "year"), [[40.0, 45.0]])},
        coords={"region": ["PJM"], "year": [2026, 2027]})
    rows = dict(_capacity_market_rows(with_market_prices(plan)))
    assert rows["capacity value vs market, PJM 2027"] == (
        "$45.0/kW-yr (model dual) vs $121.7/kW-yr (PJM Base Residual Auction 2027/28)")
