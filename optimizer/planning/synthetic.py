"""Small synthetic studies for the siting model: tests, examples and benchmarks.

Everything here is **synthetic** (seeded random numbers shaped like the real inputs), never a
real-world fact. :func:`synthetic_study` returns a :class:`gridcap.schema.StudyInputs` and a
Monte Carlo outcomes Dataset with exactly the names of docs/data-model.md §2, sized by
arguments so a benchmark can scale the model from 10⁴ to 10⁶ variables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from gridcap.schema import StudyInputs

__all__ = ["DEFAULT_TECHS", "DETERMINISTIC_TECHS", "deterministic_study", "synthetic_study",
           "technologies_table"]

#: name: (lead_time_years, needs_queue, first_year_available, capex $/kW, FOM $/kW-yr,
#: VOM $/MWh, lifetime yr, availability, profile)
DEFAULT_TECHS: dict[str, tuple] = {
    "gas_ct": (3.0, True, 2000, 1100.0, 20.0, 60.0, 30.0, 0.90, "firm"),
    "solar": (1.25, True, 2000, 1300.0, 22.0, 0.0, 30.0, 1.0, "solar"),
    "wind": (3.0, True, 2000, 1600.0, 40.0, 0.0, 30.0, 1.0, "wind"),
    "battery": (1.0, False, 2000, 1400.0, 30.0, 2.0, 15.0, 0.95, "storage"),
    "smr": (6.0, True, 2030, 9000.0, 120.0, 10.0, 60.0, 0.95, "firm"),
}


def technologies_table(techs: dict[str, tuple] | None = None) -> xr.Dataset:
    """Technologies Dataset (dim ``tech``) from a ``{name: (fields…)}`` dict (see
    :data:`DEFAULT_TECHS` for the field order)."""
    techs = DEFAULT_TECHS if techs is None else techs
    names = list(techs)
    cols = list(zip(*techs.values(), strict=True)) if names else [()] * 9
    spec = [("lead_time_years", "yr", float), ("needs_queue", "", bool),
            ("first_year_available", "year", int), ("capex_usd_per_kw", "$/kW", float),
            ("fixed_om_usd_per_kw_yr", "$/kW-yr", float),
            ("variable_om_usd_per_mwh", "$/MWh", float), ("lifetime_years", "yr", float),
            ("availability", "1", float), ("profile", "", str)]
    ds = xr.Dataset(coords={"tech": np.array(names, dtype=str)})
    for (name, unit, typ), col in zip(spec, cols, strict=True):
        ds[name] = xr.DataArray(np.array(col, dtype=typ), dims=("tech",), attrs={"units": unit})
    ds["co2_kg_per_mwh"] = xr.DataArray(np.zeros(len(names)), dims=("tech",),
                                        attrs={"units": "kg/MWh"})
    return ds


def _within_horizon(tech: xr.Dataset, years: int) -> xr.Dataset:
    """Technologies whose lead time fits the horizon (the planner rejects the others)."""
    keep = np.asarray(tech["lead_time_years"].values, float) <= years
    return tech.isel(tech=np.flatnonzero(keep))


def synthetic_study(*, regions: int = 2, scenarios: int = 8, slices: int = 12,
                    years: int = 3, sites: int = 2, start_year: int = 2026, seed: int = 0,
                    techs: dict[str, tuple] | None = None, discount_rate: float = 0.07,
                    queue_years: float = 1.0, ai_demand_mw: float = 300.0,
                    events: int = 4) -> tuple[StudyInputs, xr.Dataset]:
    """A seeded synthetic study and its Monte Carlo outcomes.

    Parameters
    ----------
    regions, scenarios, slices, years, sites : int
        Sizes; one flexibility pool per region.
    start_year : int
        First planning year [year].
    seed : int
        RNG seed.
    techs : dict, optional
        Technologies (default :data:`DEFAULT_TECHS`).
    discount_rate : float
        ``finance.discount_rate`` [1/yr].
    queue_years : float
        Interconnection queue of every region [yr].
    ai_demand_mw : float
        AI demand by the last year per region, growing linearly from 20 % [MW].
    events : int
        Flexibility events per pool and scenario.

    Returns
    -------
    inputs : gridcap.schema.StudyInputs
    outcomes : xarray.Dataset
    """
    rng = np.random.default_rng(seed)
    yrs = np.arange(start_year, start_year + years)
    reg = np.array([f"R{i}" for i in range(regions)])
    peak0 = 5000.0 + 1000.0 * np.arange(regions)
    site_names = np.array([f"mine{i}" for i in range(sites)])
    inputs = _synthetic_inputs(yrs, reg, peak0, site_names, techs=techs,
                               discount_rate=discount_rate, queue_years=queue_years,
                               ai_demand_mw=ai_demand_mw)
    outcomes = _synthetic_outcomes(rng, yrs, reg, peak0, site_names, scenarios=scenarios,
                                   slices=slices, events=events)
    return inputs, outcomes


def _synthetic_inputs(yrs: np.ndarray, reg: np.ndarray, peak0: np.ndarray,
                      site_names: np.ndarray, *, techs: dict[str, tuple] | None,
                      discount_rate: float, queue_years: float,
                      ai_demand_mw: float) -> StudyInputs:
    """Regions [MW], sites [MW], technologies and finance terms of :func:`synthetic_study`."""
    from gridcap.schema import StudyInputs

    R, Y, S = reg.size, yrs.size, site_names.size
    regions_ds = xr.Dataset(
        {
            "iso": ("region", np.array(["SYN"] * R)),
            "lat": ("region", np.full(R, 32.0)), "lon": ("region", np.full(R, -97.0)),
            "timezone": ("region", np.array(["America/Chicago"] * R)),
            "peak_load_mw": ("region", peak0),
            "firm_capacity_mw": ("region", peak0 * 1.02),
            "load_growth_per_year": ("region", np.full(R, 0.02)),
            "queue_years": ("region", np.full(R, queue_years)),
            "price_mean_usd_per_mwh": ("region", np.full(R, 45.0)),
            "ai_demand_mw": (("region", "year"),
                             ai_demand_mw * np.linspace(0.2, 1.0, Y)[None, :].repeat(R, 0)),
            "ai_site_limit_mw": ("region", np.full(R, ai_demand_mw * 0.6)),
        },
        coords={"region": reg, "year": yrs},
    )
    sites_ds = xr.Dataset(
        {
            "operator": ("site", np.array(["syn"] * S)), "name": ("site", site_names),
            "state": ("site", np.array(["TX"] * S)),
            "region": ("site", reg[np.arange(S) % R]),
            "lat": ("site", np.full(S, 31.0)), "lon": ("site", np.full(S, -100.0)),
            "interconnection_mw": ("site", 50.0 + 50.0 * np.arange(S)),
            "mining_load_mw": ("site", 40.0 + 40.0 * np.arange(S)),
            "conversion_months": ("site", np.full(S, 9.0)),
            "conversion_capex_usd_per_kw": ("site", np.full(S, 2500.0)),
            "hashprice_breakeven_usd_per_mwh": ("site", np.full(S, 70.0)),
            "announced_conversion": ("site", np.zeros(S, bool)),
            "capacity_is_estimate": ("site", np.zeros(S, bool)),
        },
        coords={"site": site_names},
    )
    finance = xr.Dataset(
        {"rate": ("tranche", [0.06, 0.1]), "dscr_target": ("tranche", [1.35, 1.15]),
         "tenor_years": ("tranche", [15, 10]), "pd_target": ("tranche", [0.001, 0.02]),
         "discount_rate": discount_rate, "equity_irr_target": 0.12, "dsra_months": 6.0,
         "lockup_dscr": 1.1, "max_gearing": 0.8, "unit_size_usd": 1000.0,
         "min_ticket_usd": 100.0, "settlement_lag_hours": 0.1},
        coords={"tranche": ["senior", "mezzanine"]},
    )
    fleet = xr.Dataset(coords={"der": np.arange(0)})
    return StudyInputs(fleet=fleet, sites=sites_ds, regions=regions_ds,
                       technologies=_within_horizon(technologies_table(techs), Y),
                       finance=finance, years=yrs)


def _synthetic_outcomes(rng: np.random.Generator, yrs: np.ndarray, reg: np.ndarray,
                        peak0: np.ndarray, site_names: np.ndarray, *, scenarios: int,
                        slices: int, events: int) -> xr.Dataset:
    """Seeded Monte Carlo outcomes of :func:`synthetic_study` (docs/data-model.md §2)."""
    R, W, H, Y, S = reg.size, scenarios, slices, yrs.size, site_names.size
    hour_of_day = (np.arange(H) * 24 // max(H, 1)) % 24
    shape = 0.75 + 0.25 * np.sin((hour_of_day - 9) / 24 * 2 * np.pi)          # [H]
    growth = (1.02 ** np.arange(Y))                                            # [Y]
    noise = 1.0 + 0.05 * rng.standard_normal((W, R, 1, 1))
    peak = peak0[None, :, None, None] * shape[None, None, None, :] * growth[None, None, :, None]
    peak = peak * noise * (1.0 + 0.02 * rng.standard_normal((W, R, Y, H)))
    mean = peak * 0.8
    price = 40.0 + 30.0 * (peak / peak.max()) + 5.0 * rng.standard_normal((W, R, Y, H))
    sun = np.clip(np.sin((hour_of_day - 6) / 12 * np.pi), 0, None)
    solar = np.clip(sun[None, None, :] * (0.7 + 0.2 * rng.random((W, R, 1))), 0, 1)
    wind = np.clip(0.35 + 0.15 * rng.standard_normal((W, R, H)), 0, 1)
    P = R
    pools = np.array([f"{r}/home_battery" for r in reg])
    delivery = np.clip(0.85 + 0.1 * rng.standard_normal((W, P, H)), 0, 1)
    E = events
    committed = np.full((W, P, E), 1000.0)
    delivered = committed * np.clip(0.85 + 0.1 * rng.standard_normal((W, P, E)), 0, 1.2)
    outcomes = xr.Dataset(
        {
            "peak_net_load_mw": (("scenario", "region", "year", "slice"), peak),
            "mean_net_load_mw": (("scenario", "region", "year", "slice"), mean),
            "price_usd_per_mwh": (("scenario", "region", "year", "slice"), price),
            "solar_cf": (("scenario", "region", "slice"), solar * 0.9),
            "wind_cf": (("scenario", "region", "slice"), wind),
            "solar_cf_at_peak": (("scenario", "region", "slice"), solar),
            "wind_cf_at_peak": (("scenario", "region", "slice"), wind * 0.9),
            "flex_potential_kw": (("pool",), np.full(P, 50_000.0)),
            "flex_committed_kw": (("pool",), np.full(P, 20_000.0)),
            "flex_delivery_ratio": (("scenario", "pool", "slice"), delivery),
            "event_committed_kw": (("scenario", "pool", "event"), committed),
            "event_delivered_kw": (("scenario", "pool", "event"), delivered),
            "site_mining_cfads_usd": (("scenario", "site", "year"),
                                      1e6 * (1 + 0.3 * rng.standard_normal((W, S, Y)))),
            "ai_utilization": (("scenario", "year"), np.clip(
                0.7 + 0.1 * rng.standard_normal((W, Y)), 0.3, 1.0)),
        },
        coords={"scenario": np.arange(W), "region": reg, "year": yrs, "slice": np.arange(H),
                "slice_hours": ("slice", np.full(H, 8760.0 / H)), "pool": pools,
                "pool_region": ("pool", reg), "site": site_names, "event": np.arange(E)},
    )
    units = {"peak_net_load_mw": "MW", "mean_net_load_mw": "MW", "price_usd_per_mwh": "$/MWh",
             "flex_potential_kw": "kW", "flex_committed_kw": "kW", "event_committed_kw": "kW",
             "event_delivered_kw": "kW", "site_mining_cfads_usd": "$"}
    for v in outcomes.data_vars:
        outcomes[v].attrs["units"] = units.get(str(v), "1")
    outcomes["slice_hours"].attrs["units"] = "h"
    return outcomes


#: Technologies of :func:`deterministic_study` (no lead times; field order of
#: :data:`DEFAULT_TECHS`).
DETERMINISTIC_TECHS: dict[str, tuple] = {
    "gas": (0.0, False, 2000, 900.0, 15.0, 70.0, 30.0, 1.0, "firm"),
    "solar": (0.0, False, 2000, 900.0, 15.0, 0.0, 25.0, 1.0, "solar"),
    "wind": (0.0, False, 2000, 1300.0, 35.0, 0.0, 25.0, 1.0, "wind"),
    "battery": (0.0, False, 2000, 800.0, 10.0, 0.0, 15.0, 1.0, "storage"),
}


def deterministic_study(*, hours: int = 8760, start_hour: int = 0, year: int = 2026,
                        seed: int = 1,
                        discount_rate: float = 0.07, backstop_usd_per_mwh: float = 2000.0,
                        storage_efficiency: float = 0.9, storage_hours: float = 4.0,
                        techs: dict[str, tuple] | None = None) -> tuple[StudyInputs, xr.Dataset]:
    """The plain deterministic capacity-expansion case posed through the plan API.

    One region, one scenario, ``hours`` chronological one-hour slices from ``start_hour`` of
    the year (a whole year by default; a shorter window has its capital and fixed costs
    scaled by ``hours/8760`` so it keeps a year's economics); extendable
    technologies with no lead time (gas, solar, wind, a battery with a chronological state of
    charge) and a backstop supply at ``backstop_usd_per_mwh`` (the planner's market variable,
    ``PlanOptions.market = "price"``; ``"off"`` removes it). Existing firm capacity is large,
    so the adequacy rows do not bind and the LP is the textbook "greenfield" problem that
    PyPSA and linopy pose.

    Returns
    -------
    inputs : gridcap.schema.StudyInputs
    outcomes : xarray.Dataset
        With ``slice_hours = 1`` and the load as both peak and mean net load [MW].
    """
    rng = np.random.default_rng(seed)
    t = np.arange(start_hour, start_hour + hours)
    hod = t % 24
    doy = t // 24
    load = (1000.0 + 250.0 * np.sin((hod - 8) / 24 * 2 * np.pi)
            + 150.0 * np.cos(doy / 365 * 2 * np.pi) + 30.0 * rng.standard_normal(hours))
    solar = np.clip(np.sin((hod - 6) / 12 * np.pi), 0, None) * (
        0.75 + 0.2 * np.sin(doy / 365 * 2 * np.pi - 1.4)) * (0.6 + 0.4 * rng.random(hours))
    solar = np.clip(solar, 0, 1)
    z = np.zeros(hours)
    e = rng.standard_normal(hours)
    for i in range(1, hours):
        z[i] = 0.97 * z[i - 1] + 0.24 * e[i]
    wind = np.clip(0.38 + 0.25 * z, 0, 1)
    if techs is None:
        share = hours / 8760.0
        techs = {k: (v[0], v[1], v[2], v[3] * share, v[4] * share, *v[5:])
                 for k, v in DETERMINISTIC_TECHS.items()}
    inputs, _ = synthetic_study(regions=1, scenarios=1, slices=1, years=1, sites=0,
                                start_year=year, techs=techs, discount_rate=discount_rate,
                                ai_demand_mw=0.0)
    tech_ds = inputs.technologies
    K = tech_ds.sizes["tech"]
    tech_ds["storage_duration_hours"] = xr.DataArray(np.full(K, storage_hours), dims=("tech",),
                                                     attrs={"units": "h"})
    tech_ds["storage_efficiency"] = xr.DataArray(np.full(K, storage_efficiency), dims=("tech",),
                                                 attrs={"units": "1"})
    inputs.regions["firm_capacity_mw"][:] = 1e5
    four = ("scenario", "region", "year", "slice")
    three = ("scenario", "region", "slice")
    outcomes = xr.Dataset(
        {
            "peak_net_load_mw": (four, load[None, None, None, :]),
            "mean_net_load_mw": (four, load[None, None, None, :]),
            "price_usd_per_mwh": (four, np.full((1, 1, 1, hours), backstop_usd_per_mwh)),
            "solar_cf": (three, solar[None, None, :]),
            "wind_cf": (three, wind[None, None, :]),
            "solar_cf_at_peak": (three, solar[None, None, :]),
            "wind_cf_at_peak": (three, wind[None, None, :]),
        },
        coords={"scenario": [0], "region": inputs.regions["region"].values, "year": [year],
                "slice": np.arange(hours), "slice_hours": ("slice", np.ones(hours))},
    )
    return inputs, outcomes
