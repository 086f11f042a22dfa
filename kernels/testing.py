"""Small hand-built study inputs for tests, examples and benchmarks of the kernels.

Built directly as xarray Datasets with the units of docs/data-model.md §1, independent of the
shipped data files, so kernel tests do not move when the data do.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["tiny_inputs"]

_KINDS = ("rooftop_pv", "home_battery", "pv_battery", "ev_charger", "flexible_load")


def _ds(dim: str, values: dict, units: dict, coord: list) -> xr.Dataset:
    return xr.Dataset(
        {k: xr.DataArray(np.asarray(v), dims=(dim,), attrs={"units": units.get(k, "")})
         for k, v in values.items()},
        coords={dim: coord},
    )


def tiny_inputs(n_der: int = 20, *, seed: int = 0, n_regions: int = 2,
                years: tuple[int, ...] = (2026, 2027, 2028)):
    """A small study: up to 3 regions, ``n_der`` DERs of every kind, 3 mine sites.

    Parameters
    ----------
    n_der : int
        Number of DERs [1] (kinds cycle through all five).
    seed : int
        Seed of the parameter jitter [1].
    n_regions : int
        Regions [1], 1 to 3 (Texas-, Virginia- and California-like locations).
    years : tuple of int
        Planning years [yr].

    Returns
    -------
    gridcap.schema.StudyInputs
        Inputs accepted by :func:`gridcap.kernels.simulate`.
    """
    from gridcap.schema import StudyInputs

    rng = np.random.default_rng(seed)
    reg_all = {
        "TX": (31.0, -97.5, "America/Chicago", 80000.0, 0.02, 30.0),
        "VA": (38.9, -77.4, "America/New_York", 150000.0, 0.015, 35.0),
        "CA": (36.8, -119.4, "America/Los_Angeles", 45000.0, 0.01, 50.0),
    }
    names = list(reg_all)[:n_regions]
    yrs = list(years)
    regions = _ds("region", {
        "iso": [f"ISO-{r}" for r in names],
        "lat": [reg_all[r][0] for r in names],
        "lon": [reg_all[r][1] for r in names],
        "timezone": [reg_all[r][2] for r in names],
        "peak_load_mw": [reg_all[r][3] for r in names],
        "firm_capacity_mw": [1.1 * reg_all[r][3] for r in names],
        "load_growth_per_year": [reg_all[r][4] for r in names],
        "queue_years": [4.0] * len(names),
        "price_mean_usd_per_mwh": [reg_all[r][5] for r in names],
        "ai_site_limit_mw": [5000.0] * len(names),
    }, {"lat": "degrees_north", "lon": "degrees_east", "peak_load_mw": "MW",
        "firm_capacity_mw": "MW", "load_growth_per_year": "1/yr", "queue_years": "yr",
        "price_mean_usd_per_mwh": "$/MWh", "ai_site_limit_mw": "MW"}, names)
    regions["ai_demand_mw"] = xr.DataArray(
        np.outer(np.full(len(names), 500.0), np.arange(1, len(yrs) + 1)),
        dims=("region", "year"), coords={"year": yrs}, attrs={"units": "MW"})

    kind = [_KINDS[i % 5] for i in range(n_der)]
    region = [names[i % len(names)] for i in range(n_der)]
    has_pv = np.array([k in ("rooftop_pv", "pv_battery") for k in kind])
    has_b = np.array([k in ("home_battery", "pv_battery") for k in kind])
    has_ev = np.array([k == "ev_charger" for k in kind])
    has_fl = np.array([k == "flexible_load" for k in kind])
    j = rng.uniform(0.8, 1.2, size=(8, n_der))
    batt_kw = np.where(has_b, 5.0 * j[2], 0.0)
    ev_kw = np.where(has_ev, 7.2, 0.0)
    flex_kw = np.where(has_fl, 2.0 * j[3], 0.0)
    fleet = _ds("der", {
        "kind": np.array(kind, dtype=str), "region": np.array(region, dtype=str),
        "pool": np.array([f"{r}/{k}" for r, k in zip(region, kind, strict=True)], dtype=str),
        "lat": [reg_all[r][0] for r in region], "lon": [reg_all[r][1] for r in region],
        "base_load_kw": 1.2 * j[0],
        "pv_kw": np.where(has_pv, 7.0 * j[1], 0.0),
        "battery_kwh": np.where(has_b, 13.5, 0.0),
        "battery_kw": batt_kw,
        "battery_efficiency": np.where(has_b, 0.9, 1.0),
        "soc_min": np.full(n_der, 0.1), "soc_max": np.full(n_der, 0.95),
        "ev_kw": ev_kw, "ev_kwh_per_day": np.where(has_ev, 12.0 * j[4], 0.0),
        "ev_arrival_hour": rng.integers(16, 20, n_der),
        "ev_departure_hour": rng.integers(6, 9, n_der),
        "flex_kw": flex_kw, "flex_rebound": np.where(has_fl, 0.5, 0.0),
        "committed_kw": np.where(np.arange(n_der) % 7 == 6, 0.0,
                                 0.7 * (batt_kw + 0.5 * ev_kw + flex_kw)),
    }, {"lat": "degrees_north", "lon": "degrees_east", "base_load_kw": "kW", "pv_kw": "kW",
        "battery_kwh": "kWh", "battery_kw": "kW", "battery_efficiency": "1", "soc_min": "1",
        "soc_max": "1", "ev_kw": "kW", "ev_kwh_per_day": "kWh", "ev_arrival_hour": "h",
        "ev_departure_hour": "h", "flex_kw": "kW", "flex_rebound": "1", "committed_kw": "kW"},
        list(range(n_der)))
    site_names = ["mine_a", "mine_b", "mine_c"]
    sreg = [names[i % len(names)] for i in range(3)]
    sites = _ds("site", {
        "operator": ["Op A", "Op B", "Op C"], "name": site_names, "state": ["TX", "VA", "TX"],
        "region": sreg, "lat": [reg_all[r][0] for r in sreg],
        "lon": [reg_all[r][1] for r in sreg],
        "interconnection_mw": [300.0, 100.0, 50.0], "mining_load_mw": [250.0, 60.0, 0.0],
        "conversion_months": [12.0, 6.0, 18.0],
        "conversion_capex_usd_per_kw": [8000.0, 9000.0, 7000.0],
        "hashprice_breakeven_usd_per_mwh": [95.0, 60.0, 80.0],
        "announced_conversion": [True, False, False],
        "capacity_is_estimate": [False, True, False],
    }, {"lat": "degrees_north", "lon": "degrees_east", "interconnection_mw": "MW",
        "mining_load_mw": "MW", "conversion_months": "month",
        "conversion_capex_usd_per_kw": "$/kW", "hashprice_breakeven_usd_per_mwh": "$/MWh"},
        site_names)
    return StudyInputs(fleet=fleet, sites=sites, regions=regions, technologies=xr.Dataset(),
                       finance=xr.Dataset(), years=np.asarray(yrs))
