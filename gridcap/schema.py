"""Input data model: documented xarray schemas and their validators.

Each input table of a study is an :class:`xarray.Dataset` with one entity dimension
(``der``, ``site``, ``region``, ``tech``, ``tranche``) and units in every variable's
``attrs["units"]``. The schemas below are data (PyPSA-style component attribute tables), so
the docs, the validators and the tests read the same source. See ``docs/data-model.md``.

Every validator reports *every* problem it finds — a missing variable, a wrong dimension, a
NaN, a negative capacity, an efficiency outside (0, 1] — naming the variable, the offending
value (with its index label) and what was expected, then raises :class:`SchemaError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from gridcap.errors import SchemaError

# A bound check: (predicate on a float array, text saying what was expected).
Check = tuple[Callable[[np.ndarray], np.ndarray], str]

NONNEG: Check = (lambda v: v >= 0, "a value >= 0")
POSITIVE: Check = (lambda v: v > 0, "a value > 0")
UNIT_OPEN_CLOSED: Check = (lambda v: (v > 0) & (v <= 1), "a value in (0, 1]")
UNIT_CLOSED: Check = (lambda v: (v >= 0) & (v <= 1), "a value in [0, 1]")
UNIT_OPEN: Check = (lambda v: (v > 0) & (v < 1), "a value in (0, 1)")
HOUR_OF_DAY: Check = (
    lambda v: (v >= 0) & (v <= 23) & (v == np.round(v)),
    "an integer hour in [0, 23]",
)
LATITUDE: Check = (lambda v: (v >= -90) & (v <= 90), "a latitude in [-90, 90] degrees")
LONGITUDE: Check = (lambda v: (v >= -180) & (v <= 180), "a longitude in [-180, 180] degrees")
YEAR: Check = (lambda v: (v >= 1900) & (v <= 2200) & (v == np.round(v)), "a calendar year")
GROWTH: Check = (lambda v: (v > -0.5) & (v < 1.0), "an annual growth rate in (-0.5, 1.0)")
RATE: Check = (lambda v: (v >= 0) & (v < 1.0), "an annual rate in [0, 1)")


def plausible(lo: float, hi: float, units: str, slip: str) -> Check:
    """A plausibility range that catches values entered in the wrong unit.

    The bounds are generous — at least twice the extremes of the shipped tables (a test
    checks this) — so a real value never trips them, while a capacity in kW in an MW column
    (1,000× too large) or a price in $/kWh in a $/MWh column (1,000× too small) does.

    Parameters
    ----------
    lo, hi : float
        Plausible range, inclusive [``units``].
    units : str
        Unit of the column, for the message.
    slip : str
        The unit mistake the range guards against, for the message (e.g. ``"kW"``).
    """
    return (
        lambda v: (v >= lo) & (v <= hi),
        f"a plausible value in [{lo:g}, {hi:g}] {units} (is it in {slip} instead of {units}?)",
    )


# Plausibility ranges per unit (see :func:`plausible`).
SITE_MW = plausible(0, 10_000, "MW", "kW")
GRID_MW = plausible(0, 2_000_000, "MW", "kW")
USD_PER_KW = plausible(0, 100_000, "$/kW", "$/MW")
USD_PER_KW_YR = plausible(0, 10_000, "$/kW-yr", "$/MW-yr")
USD_PER_MWH_OPEX = plausible(0, 10_000, "$/MWh", "$/GWh")
USD_PER_MWH_PRICE = plausible(1, 10_000, "$/MWh", "$/kWh")
MONTHS = plausible(0, 240, "month", "days")
YEARS_SPAN = plausible(0, 100, "yr", "months")
KG_PER_MWH = plausible(0, 5_000, "kg/MWh", "g/MWh")


@dataclass(frozen=True)
class Var:
    """One variable of a schema.

    Parameters
    ----------
    name : str
        Variable name in the Dataset.
    dims : tuple of str
        Expected dimensions, in order.
    units : str
        Expected ``attrs["units"]`` (``"1"`` for dimensionless, ``""`` for labels).
    kind : str
        ``"float"``, ``"int"``, ``"bool"`` or ``"str"``.
    checks : tuple of Check
        Value checks applied elementwise (NaN is always an error for numeric variables).
    doc : str
        What the variable means.
    required : bool
        Whether a missing variable is an error.
    """

    name: str
    dims: tuple[str, ...]
    units: str
    kind: str
    checks: tuple[Check, ...] = ()
    doc: str = ""
    required: bool = True


DER_KINDS = ("rooftop_pv", "home_battery", "pv_battery", "ev_charger", "flexible_load")
TECH_PROFILES = ("firm", "solar", "wind", "storage")
INTERCONNECTION_PATHS = ("queue", "surplus", "behind_the_meter", "fast_track", "none")
TRANCHES = ("senior", "mezzanine")

FLEET_SCHEMA: tuple[Var, ...] = (
    Var("kind", ("der",), "", "str", doc=f"DER kind, one of {DER_KINDS}"),
    Var("region", ("der",), "", "str", doc="grid region id"),
    Var("pool", ("der",), "", "str", doc="aggregator pool contracting its flexibility"),
    Var("lat", ("der",), "degrees_north", "float", (LATITUDE,), "latitude"),
    Var("lon", ("der",), "degrees_east", "float", (LONGITUDE,), "longitude"),
    Var("base_load_kw", ("der",), "kW", "float", (NONNEG,), "average household load"),
    Var("pv_kw", ("der",), "kW", "float", (NONNEG,), "PV DC nameplate"),
    Var("battery_kwh", ("der",), "kWh", "float", (NONNEG,), "usable battery energy"),
    Var("battery_kw", ("der",), "kW", "float", (NONNEG,), "battery power limit"),
    Var("battery_efficiency", ("der",), "1", "float", (UNIT_OPEN_CLOSED,), "round-trip efficiency"),
    Var("soc_min", ("der",), "1", "float", (UNIT_CLOSED,), "minimum state of charge"),
    Var("soc_max", ("der",), "1", "float", (UNIT_CLOSED,), "maximum state of charge"),
    Var("ev_kw", ("der",), "kW", "float", (NONNEG,), "EV charger power"),
    Var("ev_kwh_per_day", ("der",), "kWh", "float", (NONNEG,), "EV energy need per day"),
    Var("ev_arrival_hour", ("der",), "h", "int", (HOUR_OF_DAY,), "EV plug-in hour"),
    Var("ev_departure_hour", ("der",), "h", "int", (HOUR_OF_DAY,), "EV plug-out hour"),
    Var("flex_kw", ("der",), "kW", "float", (NONNEG,), "sheddable flexible load"),
    Var("flex_rebound", ("der",), "1", "float", (UNIT_CLOSED,), "share of shed energy recovered"),
    Var("committed_kw", ("der",), "kW", "float", (NONNEG,), "flexibility committed"),
    Var("weight", ("der",), "1", "float", (NONNEG,),
        "enrolled premises the sample stands for [premises per sample]; one value per region",
        required=False),
)

SITES_SCHEMA: tuple[Var, ...] = (
    Var("operator", ("site",), "", "str", doc="operating company"),
    Var("name", ("site",), "", "str", doc="site name"),
    Var("state", ("site",), "", "str", doc="US state"),
    Var("region", ("site",), "", "str", doc="grid region id"),
    Var("lat", ("site",), "degrees_north", "float", (LATITUDE,), "approximate latitude"),
    Var("lon", ("site",), "degrees_east", "float", (LONGITUDE,), "approximate longitude"),
    Var("interconnection_mw", ("site",), "MW", "float", (POSITIVE, SITE_MW),
        "interconnection capacity"),
    Var("mining_load_mw", ("site",), "MW", "float", (NONNEG, SITE_MW), "current mining load"),
    Var("conversion_months", ("site",), "month", "float", (POSITIVE, MONTHS),
        "conversion downtime"),
    Var("conversion_capex_usd_per_kw", ("site",), "$/kW", "float", (NONNEG, USD_PER_KW),
        "conversion cost"),
    Var(
        "hashprice_breakeven_usd_per_mwh",
        ("site",),
        "$/MWh",
        "float",
        (POSITIVE, USD_PER_MWH_PRICE),
        "power price above which mining is curtailed",
    ),
    Var("announced_conversion", ("site",), "", "bool", doc="AI/HPC conversion announced"),
    Var("capacity_is_estimate", ("site",), "", "bool", doc="capacity figure is an estimate"),
)

REGIONS_SCHEMA: tuple[Var, ...] = (
    Var("iso", ("region",), "", "str", doc="ISO/RTO name"),
    Var("lat", ("region",), "degrees_north", "float", (LATITUDE,), "representative latitude"),
    Var("lon", ("region",), "degrees_east", "float", (LONGITUDE,), "representative longitude"),
    Var("timezone", ("region",), "", "str", doc="IANA time zone"),
    Var("peak_load_mw", ("region",), "MW", "float", (POSITIVE, GRID_MW), "annual peak load"),
    Var("firm_capacity_mw", ("region",), "MW", "float", (NONNEG, GRID_MW),
        "existing firm capacity"),
    Var("load_growth_per_year", ("region",), "1/yr", "float", (GROWTH,), "load growth rate"),
    Var("queue_years", ("region",), "yr", "float", (NONNEG, YEARS_SPAN),
        "interconnection queue duration"),
    Var("price_mean_usd_per_mwh", ("region",), "$/MWh", "float", (POSITIVE, USD_PER_MWH_PRICE),
        "mean energy price"),
    Var("ai_demand_mw", ("region", "year"), "MW", "float", (NONNEG, GRID_MW),
        "AI load seeking a home"),
    Var("ai_site_limit_mw", ("region",), "MW", "float", (NONNEG, GRID_MW), "max new-build AI MW"),
)

TECHNOLOGIES_SCHEMA: tuple[Var, ...] = (
    Var("lead_time_years", ("tech",), "yr", "float", (NONNEG, YEARS_SPAN), "order-to-online time"),
    Var("needs_queue", ("tech",), "", "bool", doc="interconnection queue applies"),
    Var("interconnection_path", ("tech",), "", "str", required=False,
        doc=f"how the technology connects, one of {INTERCONNECTION_PATHS}"),
    Var("first_year_available", ("tech",), "year", "int", (YEAR,), "earliest online year"),
    Var("capex_usd_per_kw", ("tech",), "$/kW", "float", (NONNEG, USD_PER_KW),
        "overnight capital cost"),
    Var("fixed_om_usd_per_kw_yr", ("tech",), "$/kW-yr", "float", (NONNEG, USD_PER_KW_YR),
        "fixed O&M"),
    Var("variable_om_usd_per_mwh", ("tech",), "$/MWh", "float", (NONNEG, USD_PER_MWH_OPEX),
        "variable O&M + fuel"),
    Var("lifetime_years", ("tech",), "yr", "float", (POSITIVE, YEARS_SPAN), "economic life"),
    Var("availability", ("tech",), "1", "float", (UNIT_OPEN_CLOSED,), "accredited fraction"),
    Var("profile", ("tech",), "", "str", doc=f"capacity-factor profile, one of {TECH_PROFILES}"),
    Var("co2_kg_per_mwh", ("tech",), "kg/MWh", "float", (NONNEG, KG_PER_MWH), "emission factor"),
)

FINANCE_SCHEMA: tuple[Var, ...] = (
    Var("rate", ("tranche",), "1/yr", "float", (RATE,), "loan interest rate"),
    Var("dscr_target", ("tranche",), "1", "float", (POSITIVE,), "sculpting DSCR"),
    Var("tenor_years", ("tranche",), "yr", "int", (POSITIVE,), "loan tenor"),
    Var("pd_target", ("tranche",), "1", "float", (UNIT_OPEN,), "target probability of default"),
    Var("discount_rate", (), "1/yr", "float", (RATE,), "WACC for annualizing capital"),
    Var("equity_irr_target", (), "1/yr", "float", (RATE,), "equity hurdle rate"),
    Var("dsra_months", (), "month", "float", (NONNEG,), "debt-service reserve target"),
    Var("lockup_dscr", (), "1", "float", (POSITIVE,), "cash lock-up covenant DSCR"),
    Var("max_gearing", (), "1", "float", (UNIT_OPEN_CLOSED,), "debt / capex cap"),
    Var("unit_size_usd", (), "$", "float", (POSITIVE,), "token unit face value"),
    Var("min_ticket_usd", (), "$", "float", (POSITIVE,), "minimum investment"),
    Var("settlement_lag_hours", (), "h", "float", (NONNEG,), "settlement lag"),
)

SCHEMAS: dict[str, tuple[Var, ...]] = {
    "fleet": FLEET_SCHEMA,
    "sites": SITES_SCHEMA,
    "regions": REGIONS_SCHEMA,
    "technologies": TECHNOLOGIES_SCHEMA,
    "finance": FINANCE_SCHEMA,
}


def _label(da: xr.DataArray, flat_index: int) -> str:
    """Describe the position of element ``flat_index`` of ``da`` by its coordinate labels."""
    if da.ndim == 0:
        return ""
    pos = np.unravel_index(flat_index, da.shape)
    parts = []
    for dim, i in zip(da.dims, pos, strict=True):
        label = da[dim].values[i] if dim in da.coords else i
        parts.append(f"{dim}={label}")
    return "[" + ", ".join(parts) + "]"


def _format(value: object) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_values(table: str, var: Var, da: xr.DataArray, limit: int = 5) -> list[str]:
    """Return problems with the values of one variable (NaN, kind, bounds)."""
    problems: list[str] = []
    values = np.asarray(da.values)
    where = f"{table}.{var.name}"
    if var.kind == "str":
        if values.dtype.kind not in "UOS":
            return [f"{where} has dtype {values.dtype}: expected text labels"]
        empty = np.array(
            [
                v is None or (isinstance(v, float) and np.isnan(v)) or str(v) == ""
                for v in values.ravel()
            ],
            dtype=bool,
        )
        for i in np.flatnonzero(empty)[:limit]:
            problems.append(f"{where}{_label(da, int(i))} is empty: expected a label")
        return problems
    if var.kind == "bool":
        if values.dtype.kind != "b" and not np.isin(values, [0, 1]).all():
            problems.append(f"{where} has values {np.unique(values)[:5]}: expected true/false")
        return problems
    if values.dtype.kind not in "iuf":
        return [f"{where} has dtype {values.dtype}: expected numbers ({var.kind})"]
    values = values.astype(float)
    nan = np.isnan(values).ravel()
    for i in np.flatnonzero(nan)[:limit]:
        problems.append(f"{where}{_label(da, int(i))} is NaN: expected a number")
    if nan.sum() > limit:
        problems.append(f"{where}: {int(nan.sum()) - limit} more NaN value(s)")
    inf = np.isinf(values).ravel()
    for i in np.flatnonzero(inf)[:limit]:
        problems.append(
            f"{where}{_label(da, int(i))} = {_format(values.ravel()[i])}: expected a finite number"
        )
    if inf.sum() > limit:
        problems.append(f"{where}: {int(inf.sum()) - limit} more infinite value(s)")
    finite = ~nan & ~inf
    for predicate, expected in var.checks:
        with np.errstate(invalid="ignore"):
            bad = finite & ~predicate(values.ravel())
        for i in np.flatnonzero(bad)[:limit]:
            problems.append(
                f"{where}{_label(da, int(i))} = {_format(values.ravel()[i])}: expected {expected}"
            )
        if bad.sum() > limit:
            problems.append(f"{where}: {int(bad.sum()) - limit} more value(s) not {expected}")
    return problems


def check_dataset(table: str, ds: xr.Dataset, schema: Iterable[Var]) -> list[str]:
    """Check ``ds`` against ``schema`` and return every problem found (empty when valid).

    Parameters
    ----------
    table : str
        Name of the table used in messages (``"fleet"``, ``"sites"`` …).
    ds : xarray.Dataset
        The dataset to check.
    schema : iterable of Var
        The expected variables.

    Returns
    -------
    list of str
        One plain-words sentence per problem.
    """
    if not isinstance(ds, xr.Dataset):
        return [f"{table} is a {type(ds).__name__}: expected an xarray.Dataset"]
    problems: list[str] = []
    for var in schema:
        if var.name not in ds.variables:
            if var.required:
                problems.append(
                    f"{table} is missing variable '{var.name}' [{var.units or 'label'}] "
                    f"with dims {var.dims}: {var.doc}"
                )
            continue
        da = ds[var.name]
        if tuple(da.dims) != var.dims:
            problems.append(f"{table}.{var.name} has dims {tuple(da.dims)}: expected {var.dims}")
            continue
        units = da.attrs.get("units")
        if var.units and units != var.units:
            problems.append(f"{table}.{var.name} has units {units!r}: expected {var.units!r}")
        problems.extend(_check_values(table, var, da))
    return problems


def _values_in(table: str, ds: xr.Dataset, name: str, allowed: Iterable[str]) -> list[str]:
    if name not in ds.variables:
        return []
    allowed_set = set(allowed)
    bad = sorted({str(v) for v in np.asarray(ds[name].values).ravel()} - allowed_set)
    if not bad:
        return []
    return [f"{table}.{name} has value(s) {bad}: expected one of {sorted(allowed_set)}"]


def _raise_if(table: str, problems: list[str]) -> None:
    if problems:
        raise SchemaError(table, problems)


def validate_fleet(ds: xr.Dataset, regions: Iterable[str] | None = None) -> None:
    """Validate a DER fleet (dim ``der``) against :data:`FLEET_SCHEMA`.

    Parameters
    ----------
    ds : xarray.Dataset
        The fleet.
    regions : iterable of str, optional
        Known region ids; when given, every ``region`` label must be one of them.

    Raises
    ------
    SchemaError
        Listing every problem found.
    """
    problems = check_dataset("fleet", ds, FLEET_SCHEMA)
    if isinstance(ds, xr.Dataset):
        problems += _values_in("fleet", ds, "kind", DER_KINDS)
        if regions is not None:
            problems += _values_in("fleet", ds, "region", regions)
        problems += _weight_per_region(ds)
        if {"soc_min", "soc_max"} <= set(ds.variables):
            bad = np.flatnonzero(np.asarray(ds.soc_min >= ds.soc_max))
            for i in bad[:5]:
                problems.append(
                    f"fleet.soc_min{_label(ds.soc_min, int(i))} = "
                    f"{_format(ds.soc_min.values[i])} >= soc_max = "
                    f"{_format(ds.soc_max.values[i])}: expected soc_min < soc_max"
                )
    _raise_if("fleet", problems)


def _weight_per_region(ds: xr.Dataset) -> list[str]:
    """Fleet weights must be one value per region: the Monte Carlo kernel reduces per region
    and per pool, and the weights are applied to those reductions, not per sample."""
    if "weight" not in ds or "region" not in ds or ds.sizes.get("der", 0) == 0:
        return []
    w = np.asarray(ds["weight"].values, dtype=float)
    reg = np.asarray(ds["region"].values).astype(str)
    out = []
    for r in np.unique(reg):
        wr = w[reg == r]
        if np.all(np.isfinite(wr)) and wr.max() - wr.min() > 1e-9 * max(1.0, abs(wr.max())):
            out.append(
                f"fleet.weight varies within region {r} ({_format(wr.min())} to "
                f"{_format(wr.max())}): expected one weight per region (N_r / n_r premises per "
                "sample; weights are applied to the kernel's per-region and per-pool sums)")
    return out


def validate_sites(ds: xr.Dataset, regions: Iterable[str] | None = None) -> None:
    """Validate mine-conversion sites (dim ``site``) against :data:`SITES_SCHEMA`.

    Also checks ``mining_load_mw <= interconnection_mw`` [MW].

    Raises
    ------
    SchemaError
        Listing every problem found.
    """
    problems = check_dataset("sites", ds, SITES_SCHEMA)
    if isinstance(ds, xr.Dataset):
        if regions is not None:
            problems += _values_in("sites", ds, "region", regions)
        if {"mining_load_mw", "interconnection_mw"} <= set(ds.variables):
            over = np.flatnonzero(np.asarray(ds.mining_load_mw > ds.interconnection_mw))
            for i in over[:5]:
                problems.append(
                    f"sites.mining_load_mw{_label(ds.mining_load_mw, int(i))} = "
                    f"{_format(ds.mining_load_mw.values[i])} MW exceeds interconnection_mw = "
                    f"{_format(ds.interconnection_mw.values[i])} MW: expected mining load <= "
                    "interconnection"
                )
    _raise_if("sites", problems)


def validate_regions(ds: xr.Dataset) -> None:
    """Validate regions (dim ``region``; ``ai_demand_mw`` also over ``year``).

    Raises
    ------
    SchemaError
        Listing every problem found.
    """
    problems = check_dataset("regions", ds, REGIONS_SCHEMA)
    if isinstance(ds, xr.Dataset) and "timezone" in ds.variables:
        problems += _time_zone_problems(ds["timezone"])
    _raise_if("regions", problems)


def _time_zone_problems(da: xr.DataArray) -> list[str]:
    """Labels of ``regions.timezone`` that are not time zones pandas (and so the Monte
    Carlo's solar model) can use."""
    import pandas as pd

    problems = []
    for i, tz in enumerate(np.asarray(da.values).ravel().tolist()):
        if not str(tz):
            continue  # reported as an empty label
        try:
            pd.Timestamp("2026-01-15 12:00", tz=str(tz))
        except Exception:  # unknown zone: pytz, zoneinfo and dateutil raise different types
            problems.append(
                f"regions.timezone{_label(da, i)} = {str(tz)[:100]!r}: expected an IANA time "
                "zone name such as 'America/Chicago'"
            )
    return problems


def validate_technologies(ds: xr.Dataset) -> None:
    """Validate technologies (dim ``tech``) against :data:`TECHNOLOGIES_SCHEMA`.

    Raises
    ------
    SchemaError
        Listing every problem found.
    """
    problems = check_dataset("technologies", ds, TECHNOLOGIES_SCHEMA)
    if isinstance(ds, xr.Dataset):
        problems += _values_in("technologies", ds, "profile", TECH_PROFILES)
        if "interconnection_path" in ds:
            problems += _values_in("technologies", ds, "interconnection_path",
                                   INTERCONNECTION_PATHS)
    _raise_if("technologies", problems)


def validate_finance(ds: xr.Dataset, horizon_years: int | None = None) -> None:
    """Validate finance terms (scalars and dim ``tranche``) against :data:`FINANCE_SCHEMA`.

    Parameters
    ----------
    ds : xarray.Dataset
        Finance terms.
    horizon_years : int, optional
        Study horizon [yr]; when given, every ``tenor_years`` must not exceed it.

    Raises
    ------
    SchemaError
        Listing every problem found.
    """
    problems = check_dataset("finance", ds, FINANCE_SCHEMA)
    if isinstance(ds, xr.Dataset):
        if "tranche" in ds.dims:
            problems += _values_in("finance", ds, "tranche", TRANCHES)
        if horizon_years is not None and "tenor_years" in ds.variables:
            tenor = ds["tenor_years"]
            for i in np.flatnonzero(np.asarray(tenor > horizon_years))[:5]:
                problems.append(
                    f"finance.tenor_years{_label(tenor, int(i))} = {_format(tenor.values[i])}: "
                    f"expected at most the study horizon of {horizon_years} years"
                )
    _raise_if("finance", problems)


@dataclass
class StudyInputs:
    """Every input of a study, as validated xarray Datasets.

    Attributes
    ----------
    fleet : xarray.Dataset
        DER fleet, dim ``der`` (see :data:`FLEET_SCHEMA`).
    sites : xarray.Dataset
        Mine-conversion candidates, dim ``site``.
    regions : xarray.Dataset
        Grid regions, dim ``region`` (``ai_demand_mw`` over ``region`` × ``year``).
    technologies : xarray.Dataset
        New-build options, dim ``tech``.
    finance : xarray.Dataset
        Finance terms, scalars and dim ``tranche``.
    years : numpy.ndarray
        Planning years [year], consecutive.
    provenance : dict
        Source metadata of each table (from the loaders).
    hourly : xarray.Dataset or None
        The user's own hourly series (``load_mw`` [MW], ``solar_cf`` [1], ``wind_cf`` [1]
        over ``region`` × ``hour`` 0-8759 of the local standard year; NaN where a region
        keeps its synthetic series), which replace the Monte Carlo's synthetic drivers
        (:mod:`gridcap.datasets.series`); None: every series synthetic.
    """

    fleet: xr.Dataset
    sites: xr.Dataset
    regions: xr.Dataset
    technologies: xr.Dataset
    finance: xr.Dataset
    years: np.ndarray
    provenance: dict = field(default_factory=dict)
    hourly: xr.Dataset | None = None


def validate_inputs(inputs: StudyInputs) -> None:
    """Validate every table of a study and their cross-references at once.

    Raises
    ------
    SchemaError
        Listing every problem of every table (prefixed by the table name).
    """
    problems: list[str] = []
    region_ids = None
    if isinstance(inputs.regions, xr.Dataset) and "region" in inputs.regions.coords:
        region_ids = [str(r) for r in inputs.regions.region.values]
    checks: list[tuple[Callable[..., None], tuple]] = [
        (validate_regions, (inputs.regions,)),
        (validate_fleet, (inputs.fleet, region_ids)),
        (validate_sites, (inputs.sites, region_ids)),
        (validate_technologies, (inputs.technologies,)),
        # tenors are checked against the finance horizon (contract terms) by finance()
        (validate_finance, (inputs.finance,)),
    ]
    for func, args in checks:
        try:
            func(*args)
        except SchemaError as err:
            problems.extend(err.problems)
    years = np.asarray(inputs.years)
    if years.ndim != 1 or years.size == 0 or np.any(np.diff(years) != 1):
        problems.append(f"years = {years.tolist()}: expected consecutive calendar years")
    elif isinstance(inputs.regions, xr.Dataset) and "year" in inputs.regions.coords:
        missing = sorted(set(years.tolist()) - set(inputs.regions.year.values.tolist()))
        if missing:
            problems.append(f"regions.ai_demand_mw has no data for year(s) {missing}")
    _raise_if("study inputs", problems)
