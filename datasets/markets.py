"""Capacity-market clearing prices and energy-only scarcity parameters, by region.

A model's capacity value (the dual of its adequacy constraint, $/kW-yr) means little on its
own: the markets that procure capacity publish clearing prices, and the energy-only market
(ERCOT) publishes the scarcity parameters that pay for capacity through energy prices. This
module owns those cited figures (``data/capacity_prices.csv``, ``data/scarcity_pricing.csv``,
one citation per row) and puts them on the planner's (region, year) grid, so every capacity
value and flexibility price can sit beside its market figure. Why the two differ is explained
in ``docs/capacity-prices.md``.

Conversions: ``$/kW-yr = $/MW-day × 365 / 1000``; a delivery year ``2026`` is June 2026 to
May 2027 and is shown against planning year 2026.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError

__all__ = ["DAYS_PER_YEAR", "market_prices", "read_capacity_prices", "read_scarcity_pricing"]

#: Days per year used to annualize a $/MW-day price [day/yr].
DAYS_PER_YEAR = 365.0


def read_capacity_prices(path: str | Path | None = None) -> tuple[Any, dict[str, Any]]:
    """Capacity-auction clearing prices (one row per market and delivery year).

    Parameters
    ----------
    path : str or Path, optional
        A CSV with the columns of ``datasets/data/capacity_prices.csv``; default the shipped
        file.

    Returns
    -------
    pandas.DataFrame
        ``market, delivery_year, region, price_usd_per_mw_day`` [$/MW-day],
        ``price_usd_per_kw_yr`` [$/kW-yr] (added), ``product``, ``source``, ``source_url``,
        ``source_date``, ``status``.
    dict
        Metadata: file, SHA-256, rows.

    Raises
    ------
    GridcapInputError
        A missing column, a non-numeric or negative price, a non-integer delivery year.
    """
    from gridcap.datasets.loaders import _csv_path, _meta, _read_frame, _to_number

    p, shipped = _csv_path("capacity_prices.csv", path)
    frame = _read_frame(p)
    need = ["market", "delivery_year", "region", "price_usd_per_mw_day", "product", "source",
            "source_url", "source_date", "status"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise GridcapInputError(
            f"{p} is missing column(s) {', '.join(missing)}: expected {', '.join(need)}")
    price = _to_number(frame["price_usd_per_mw_day"], f"{p.name}.price_usd_per_mw_day",
                       "float")
    bad = np.flatnonzero(~np.isfinite(price) | (price < 0))
    if bad.size:
        i = int(bad[0])
        raise GridcapInputError(
            f"{p.name}.price_usd_per_mw_day[row {i}] = {frame['price_usd_per_mw_day'][i]!r}: "
            "expected a price >= 0 [$/MW-day]")
    frame = frame.assign(
        delivery_year=_to_number(frame["delivery_year"], f"{p.name}.delivery_year", "int"),
        price_usd_per_mw_day=price, price_usd_per_kw_yr=price * DAYS_PER_YEAR / 1000.0)
    return frame, _meta("capacity_prices.csv", p, shipped, len(frame))


def read_scarcity_pricing(path: str | Path | None = None) -> tuple[Any, dict[str, Any]]:
    """Scarcity-pricing parameters of energy-only markets (ERCOT).

    Returns
    -------
    pandas.DataFrame
        ``market, parameter, region, value, unit, source, source_url, source_date, status``.
    dict
        Metadata.
    """
    from gridcap.datasets.loaders import _csv_path, _meta, _read_frame, _to_number

    p, shipped = _csv_path("scarcity_pricing.csv", path)
    frame = _read_frame(p)
    frame = frame.assign(value=_to_number(frame["value"], f"{p.name}.value", "float"))
    return frame, _meta("scarcity_pricing.csv", p, shipped, len(frame))


def market_prices(regions: Any, years: Any) -> xr.Dataset:
    """The market figure beside each region-year capacity value.

    Parameters
    ----------
    regions : sequence of str
        Region ids.
    years : sequence of int
        Planning years [year].

    Returns
    -------
    xarray.Dataset
        ``capacity_market_price_usd_per_kw_yr`` (region, year) [$/kW-yr]: the clearing price
        of the delivery year starting in that year (NaN where none was published);
        ``capacity_market_latest_usd_per_kw_yr`` (region) [$/kW-yr] and
        ``capacity_market_latest_year`` (region) [year]: the latest published one;
        ``capacity_market_product`` (region): what was cleared, or the energy-only design;
        ``scarcity_cap_usd_per_mwh`` (region) [$/MWh] and ``net_cone_usd_per_kw_yr`` (region)
        [$/kW-yr] for energy-only markets (NaN elsewhere). Sources in ``attrs``.
    """
    names = [str(r) for r in regions]
    yrs = np.asarray(list(years), dtype=np.int64)
    caps, _ = read_capacity_prices()
    scar, _ = read_scarcity_pricing()
    R, Y = len(names), yrs.size
    grid = np.full((R, Y), np.nan)
    label = np.full((R, Y), "", dtype=object)
    latest = np.full(R, np.nan)
    latest_year = np.full(R, -1, dtype=np.int64)
    product = np.full(R, "no capacity market or scarcity figure shipped", dtype=object)
    cap = np.full(R, np.nan)
    cone = np.full(R, np.nan)
    sources: list[str] = []
    for r, name in enumerate(names):
        rows = caps[caps["region"].str.strip() == name].sort_values("delivery_year")
        for _, row in rows.iterrows():
            hit = np.flatnonzero(yrs == int(row["delivery_year"]))
            grid[r, hit] = float(row["price_usd_per_kw_yr"])
            dy = int(row["delivery_year"])
            label[r, hit] = (f"{row['market']} {str(row['product']).split(',')[0]} "
                             f"{dy}/{(dy + 1) % 100:02d}")
            sources.append(f"{name} {int(row['delivery_year'])}: {row['source']} "
                           f"({row['source_url']})")
        if len(rows):
            last = rows.iloc[-1]
            latest[r] = float(last["price_usd_per_kw_yr"])
            latest_year[r] = int(last["delivery_year"])
            product[r] = str(last["product"])
        s = scar[scar["region"].str.strip() == name].set_index("parameter")
        if len(s):
            if "high_system_offer_cap" in s.index:
                cap[r] = float(s.loc["high_system_offer_cap", "value"])
            if "net_cone" in s.index:
                cone[r] = float(s.loc["net_cone", "value"]) / 1000.0
            product[r] = (f"energy-only: offer cap ${cap[r]:,.0f}/MWh (ORDC); market column = "
                          "a peaker's net cost of new entry")
            sources += [f"{name} {k}: {v['source']} ({v['source_url']})"
                        for k, v in s.iterrows()]
    src = "; ".join(sources)
    return xr.Dataset(
        {"capacity_market_price_usd_per_kw_yr": (("region", "year"), grid, {
            "units": "$/kW-yr", "long_name": "capacity-auction clearing price of the delivery "
            "year starting in June of the year ($/MW-day x 365 / 1000)", "source": src}),
         "capacity_market_label": (("region", "year"), label.astype(str), {
             "units": "", "long_name": "market, product and delivery year of the price"}),
         "capacity_market_latest_usd_per_kw_yr": ("region", latest, {
             "units": "$/kW-yr", "long_name": "latest published clearing price"}),
         "capacity_market_latest_year": ("region", latest_year, {
             "units": "year", "long_name": "delivery year of the latest price (-1: none)"}),
         "capacity_market_product": ("region", product.astype(str), {"units": ""}),
         "scarcity_cap_usd_per_mwh": ("region", cap, {
             "units": "$/MWh", "long_name": "energy-only market: system-wide offer cap"}),
         "net_cone_usd_per_kw_yr": ("region", cone, {
             "units": "$/kW-yr", "long_name": "energy-only market: peaker net cost of new "
             "entry the scarcity prices are meant to recover"})},
        coords={"region": names, "year": yrs})


