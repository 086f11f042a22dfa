"""Loaders for the shipped data files, returning labelled, validated xarray Datasets.

Every ``read_*`` function returns ``(dataset, metadata)``:

- ``dataset`` follows its table in ``docs/data-model.md`` (variable names, dims, units in
  ``attrs["units"]``) and is checked by the matching ``gridcap.schema.validate_*``;
  each variable holding a real-world fact carries its provenance in its attrs (``source``,
  ``source_url``, ``source_date``, ``licence``, ``status``);
- ``metadata`` is a plain dict: the file read, its SHA-256, the row count and the
  provenance rows of its columns (from ``datasets/data/provenance.csv``).

Every loader accepts ``path=`` to read a user CSV with the same columns instead of the
shipped one; its variables are then labelled ``source = "user file <path>"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcap.errors import GridcapInputError

__all__ = [
    "DATA_DIR",
    "STUDIES_DIR",
    "list_studies",
    "read_demand",
    "read_emission_factors",
    "read_mine_sites",
    "read_provenance",
    "read_regions",
    "read_technologies",
    "study_path",
]

#: Folder holding the shipped CSV files.
DATA_DIR = Path(__file__).resolve().parent / "data"
#: Folder holding the shipped study TOML files.
STUDIES_DIR = Path(__file__).resolve().parent / "studies"

#: Identifier columns per shipped file (labels, not real-world facts; no provenance needed).
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "mine_sites.csv": ("site",),
    "regions.csv": ("region",),
    "technologies.csv": ("tech",),
    "demand.csv": ("variable", "region", "year"),
    "emission_factors.csv": ("kind", "key"),
    "financings.csv": ("deal",),
    "der_enrollment.csv": ("anchor",),
    "interconnection_paths.csv": ("path", "region"),
    "capacity_prices.csv": ("market", "delivery_year"),
    "scarcity_pricing.csv": ("market", "parameter"),
}

_PROVENANCE_FIELDS = ("source", "source_url", "date", "unit", "licence", "status", "notes")

# column -> (kind, units); kind in float/int/bool/str
_SITES_COLUMNS: dict[str, tuple[str, str]] = {
    "operator": ("str", ""),
    "name": ("str", ""),
    "state": ("str", ""),
    "region": ("str", ""),
    "lat": ("float", "degrees_north"),
    "lon": ("float", "degrees_east"),
    "interconnection_mw": ("float", "MW"),
    "mining_load_mw": ("float", "MW"),
    "mining_load_is_estimate": ("bool", ""),
    "capacity_is_estimate": ("bool", ""),
    "announced_conversion": ("bool", ""),
    "conversion_months": ("float", "month"),
    "conversion_capex_usd_per_kw": ("float", "$/kW"),
    "capex_is_estimate": ("bool", ""),
    "fleet_efficiency_j_per_th": ("float", "J/TH"),
    "hashprice_breakeven_usd_per_mwh": ("float", "$/MWh"),
    "ai_conversion_note": ("str", ""),
    "source": ("str", ""),
    "source_url": ("str", ""),
    "source_date": ("str", ""),
}
_SITES_OPTIONAL = {
    "mining_load_is_estimate", "capex_is_estimate", "fleet_efficiency_j_per_th",
    "ai_conversion_note",
    "source", "source_url", "source_date",
}

_REGIONS_COLUMNS: dict[str, tuple[str, str]] = {
    "iso": ("str", ""),
    "lat": ("float", "degrees_north"),
    "lon": ("float", "degrees_east"),
    "timezone": ("str", ""),
    "peak_load_mw": ("float", "MW"),
    "peak_load_year": ("int", "year"),
    "firm_capacity_mw": ("float", "MW"),
    "load_growth_per_year": ("float", "1/yr"),
    "queue_years": ("float", "yr"),
    "price_mean_usd_per_mwh": ("float", "$/MWh"),
    "ai_site_limit_mw": ("float", "MW"),
}
_REGIONS_OPTIONAL = {"peak_load_year"}

_TECH_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("str", ""),
    "lead_time_years": ("float", "yr"),
    "lead_time_basis": ("str", ""),
    "needs_queue": ("bool", ""),
    "interconnection_path": ("str", ""),
    "first_year_available": ("int", "year"),
    "capex_usd_per_kw": ("float", "$/kW"),
    "fixed_om_usd_per_kw_yr": ("float", "$/kW-yr"),
    "variable_om_usd_per_mwh": ("float", "$/MWh"),
    "heat_rate_mmbtu_per_mwh": ("float", "MMBtu/MWh"),
    "lifetime_years": ("float", "yr"),
    "availability": ("float", "1"),
    "profile": ("str", ""),
    "co2_kg_per_mwh": ("float", "kg/MWh"),
    "cost_year": ("int", "year"),
    "cost_status": ("str", ""),
    "cost_source": ("str", ""),
}
_TECH_OPTIONAL = {
    "name", "lead_time_basis", "interconnection_path", "heat_rate_mmbtu_per_mwh", "cost_year",
    "cost_status",
    "cost_source",
}


# --------------------------------------------------------------------------- helpers
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _csv_path(name: str, path: str | Path | None) -> tuple[Path, bool]:
    if path is None:
        return DATA_DIR / name, True
    p = Path(path)
    if not p.is_file():
        raise GridcapInputError(f"path = {str(path)!r}: expected an existing CSV file")
    return p, False


def _read_frame(p: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # pandas raises several parser error types
        raise GridcapInputError(f"{p}: cannot be read as CSV ({exc})") from exc


def _to_bool(values: pd.Series, where: str) -> np.ndarray:
    table = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
    out = []
    for i, v in enumerate(values):
        key = str(v).strip().lower()
        if key not in table:
            raise GridcapInputError(f"{where}[row {i}] = {v!r}: expected true or false")
        out.append(table[key])
    return np.array(out, dtype=bool)


def _to_number(values: pd.Series, where: str, kind: str) -> np.ndarray:
    out = pd.to_numeric(values.replace("", np.nan), errors="coerce").to_numpy(dtype=float)
    bad = [i for i, (raw, v) in enumerate(zip(values, out, strict=True))
           if (np.isnan(v) and str(raw).strip() != "") or np.isinf(v)]
    if bad:
        i = bad[0]
        raise GridcapInputError(
            f"{where}[row {i}] = {values.iloc[i]!r}: expected a finite number"
        )
    if kind == "int":
        wrong = np.isnan(out) | (out != np.round(out)) | (np.abs(out) > 2.0**53)
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise GridcapInputError(
                f"{where}[row {i}] = {values.iloc[i]!r}: expected an integer"
            )
        return out.astype(np.int64)
    return out


def read_provenance() -> pd.DataFrame:
    """The shipped provenance table.

    Returns
    -------
    pandas.DataFrame
        One row per (file, column) of the shipped data files holding a real-world fact, with
        ``source``, ``source_url``, ``date``, ``unit``, ``licence``, ``status``
        (``reported``, ``estimate``, ``derived``, ``assumption`` or ``metadata``) and
        ``notes``.
    """
    return _read_frame(DATA_DIR / "provenance.csv")


def _provenance_for(name: str) -> dict[str, dict[str, str]]:
    prov = read_provenance()
    rows = prov[prov["file"] == name]
    return {r["column"]: {f: r[f] for f in _PROVENANCE_FIELDS} for _, r in rows.iterrows()}


def _build(
    frame: pd.DataFrame,
    *,
    file_label: str,
    dim: str,
    key: str,
    columns: dict[str, tuple[str, str]],
    optional: set[str],
    prov: dict[str, dict[str, str]] | None,
    user_path: Path | None,
) -> xr.Dataset:
    if key not in frame.columns:
        raise GridcapInputError(f"{file_label} has no '{key}' column: expected one id per row")
    missing = [c for c in columns if c not in frame.columns and c not in optional]
    if missing:
        raise GridcapInputError(
            f"{file_label} is missing column(s) {', '.join(missing)}: expected "
            f"{', '.join([key, *columns])}"
        )
    ids = frame[key].str.strip()
    dup = ids[ids.duplicated()].tolist()
    if dup:
        raise GridcapInputError(f"{file_label}.{key} has duplicate id(s) {dup}: expected unique")
    if (ids == "").any():
        raise GridcapInputError(f"{file_label}.{key} has an empty id: expected a label per row")
    data_vars: dict[str, Any] = {}
    for col, (kind, units) in columns.items():
        if col not in frame.columns:
            continue
        where = f"{file_label}.{col}"
        raw = frame[col]
        if kind == "bool":
            values: np.ndarray = _to_bool(raw, where)
        elif kind in ("float", "int"):
            values = _to_number(raw, where, kind)
        else:
            values = raw.str.strip().to_numpy(dtype=str)
        attrs: dict[str, str] = {"units": units}
        if user_path is not None:
            attrs["source"] = f"user file {user_path}"
        elif prov is not None and col in prov:
            p = prov[col]
            attrs.update(
                source=p["source"], source_url=p["source_url"], source_date=p["date"],
                licence=p["licence"], status=p["status"],
            )
            if p["notes"]:
                attrs["provenance_notes"] = p["notes"]
        data_vars[col] = (dim, values, attrs)
    return xr.Dataset(data_vars, coords={dim: ids.to_numpy(dtype=str)})


def _read_table(
    name: str, path: str | Path | None, dim: str, columns: Any, optional: Any
) -> tuple[xr.Dataset, Path, bool]:
    """Read a shipped (or user) CSV into a Dataset along ``dim`` with its provenance.

    Returns the Dataset, the file path read and whether it is the shipped file.
    """
    p, shipped = _csv_path(name, path)
    ds = _build(
        _read_frame(p), file_label=name if shipped else str(p), dim=dim, key=dim,
        columns=columns, optional=optional,
        prov=_provenance_for(name) if shipped else None,
        user_path=None if shipped else p,
    )
    return ds, p, shipped


def _meta(file_label: str, p: Path, shipped: bool, rows: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "file": str(p),
        "sha256": _sha256(p),
        "rows": rows,
        "shipped": shipped,
    }
    if shipped:
        meta["provenance"] = _provenance_for(file_label)
        meta["provenance_table"] = str(DATA_DIR / "provenance.csv")
    return meta


def _attrs(ds: xr.Dataset, title: str, meta: dict[str, Any]) -> None:
    ds.attrs.update(
        title=title,
        source_file=Path(meta["file"]).name if meta["shipped"] else meta["file"],
        sha256=meta["sha256"],
        shipped="true" if meta["shipped"] else "false",
        provenance_table="gridcap/datasets/data/provenance.csv" if meta["shipped"] else "",
    )


def _schema() -> Any:
    try:
        import gridcap.schema as schema
    except ImportError:  # pragma: no cover - schema ships with gridcap
        return None
    return schema


def _shipped_region_ids() -> list[str]:
    frame = _read_frame(DATA_DIR / "regions.csv")
    return [str(r).strip() for r in frame["region"]]


# --------------------------------------------------------------------------- loaders
def read_mine_sites(path: str | Path | None = None) -> tuple[xr.Dataset, dict[str, Any]]:
    """Real US Bitcoin-mining sites as AI-conversion candidates.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with the columns of ``datasets/data/mine_sites.csv``; default the shipped file.

    Returns
    -------
    xarray.Dataset
        Dim ``site`` with the data model's sites table: ``operator``, ``name``, ``state``,
        ``region``, ``lat`` [degrees_north], ``lon`` [degrees_east], ``interconnection_mw``
        [MW], ``mining_load_mw`` [MW], ``conversion_months`` [month],
        ``conversion_capex_usd_per_kw`` [$/kW], ``hashprice_breakeven_usd_per_mwh`` [$/MWh],
        ``announced_conversion``, ``capacity_is_estimate``; plus ``mining_load_is_estimate``,
        ``capex_is_estimate``,
        ``fleet_efficiency_j_per_th`` [J/TH], ``ai_conversion_note`` and the per-row citation
        ``source``, ``source_url``, ``source_date``.
    dict
        Metadata: ``file``, ``sha256``, ``rows``, ``shipped``, ``provenance``.

    Raises
    ------
    GridcapInputError
        If the file is missing columns or holds unparsable values;
        :class:`gridcap.errors.SchemaError` if it breaks the sites schema.

    Examples
    --------
    >>> sites, meta = read_mine_sites()
    >>> bool((sites.interconnection_mw > 0).all())
    True
    """
    ds, p, shipped = _read_table("mine_sites.csv", path, "site", _SITES_COLUMNS, _SITES_OPTIONAL)
    meta = _meta("mine_sites.csv", p, shipped, ds.sizes["site"])
    _attrs(ds, "Bitcoin-mine AI-conversion candidate sites (real, cited)", meta)
    schema = _schema()
    if schema is not None:
        schema.validate_sites(ds, regions=_shipped_region_ids() if shipped else None)
    return ds, meta


def read_technologies(path: str | Path | None = None) -> tuple[xr.Dataset, dict[str, Any]]:
    """New-build and conversion technologies with costs, lead times and accreditation.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with the columns of ``datasets/data/technologies.csv``; default the shipped
        file.

    Returns
    -------
    xarray.Dataset
        Dim ``tech``: ``lead_time_years`` [yr], ``needs_queue``, ``first_year_available``
        [year], ``capex_usd_per_kw`` [$/kW], ``fixed_om_usd_per_kw_yr`` [$/kW-yr],
        ``variable_om_usd_per_mwh`` [$/MWh, incl. fuel], ``lifetime_years`` [yr],
        ``availability`` [1], ``profile``, ``co2_kg_per_mwh`` [kg/MWh], plus ``name``,
        ``lead_time_basis``, ``heat_rate_mmbtu_per_mwh`` [MMBtu/MWh] and ``cost_year``
        [year] (the dollar year of the cost columns), ``cost_status`` (``reported`` or
        ``estimate``) and ``cost_source`` (the per-row citation).
    dict
        Metadata as for :func:`read_mine_sites`.

    Examples
    --------
    >>> techs, _ = read_technologies()
    >>> float(techs.lead_time_years.sel(tech="mine_conversion")) < 1
    True
    """
    ds, p, shipped = _read_table("technologies.csv", path, "tech", _TECH_COLUMNS, _TECH_OPTIONAL)
    meta = _meta("technologies.csv", p, shipped, ds.sizes["tech"])
    _attrs(ds, "Generation, storage and mine-conversion technologies", meta)
    if "cost_year" in ds:
        ds.attrs["cost_year"] = ", ".join(
            f"{t}={int(y)}" for t, y in zip(ds.tech.values, ds.cost_year.values, strict=True)
        )
        ds.attrs["dollar_basis"] = "overnight cost in dollars of cost_year (no interest during "
        ds.attrs["dollar_basis"] += "construction)"
    schema = _schema()
    if schema is not None:
        schema.validate_technologies(ds)
    return ds, meta


def read_demand(path: str | Path | None = None) -> tuple[xr.Dataset, dict[str, Any]]:
    """National generation-gap figures and AI data-center demand paths by region.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``variable, region, year, value, unit``; default the shipped
        ``datasets/data/demand.csv``.

    Returns
    -------
    xarray.Dataset
        Scalars ``needed_generation_gw_per_yr``, ``added_generation_gw_per_yr_low``,
        ``added_generation_gw_per_yr_high``, ``generation_gap_gw_per_yr`` [GW/yr],
        ``data_center_twh_2023``, ``data_center_twh_2028_low/high`` [TWh],
        ``data_center_gw_2028_low/high`` [GW]; ``ai_demand_mw`` (region, year) [MW]
        cumulative AI data-center load seeking a home; ``ai_demand_share`` (region) [1];
        ``ai_demand_us_mw`` (year) [MW] the national path. Region ``US`` is the nation.
    dict
        Metadata as for :func:`read_mine_sites`.

    Notes
    -----
    ``ai_demand_mw[r, y] = ai_demand_share[r] * ai_demand_us_mw[y]`` (rounded to 1 MW).
    """
    p, shipped = _csv_path("demand.csv", path)
    frame = _read_frame(p)
    need = ["variable", "region", "year", "value", "unit"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise GridcapInputError(
            f"{p} is missing column(s) {', '.join(missing)}: expected {', '.join(need)}"
        )
    values = _to_number(frame["value"], f"{p.name}.value", "float")
    prov = _provenance_for("demand.csv") if shipped else None
    attrs_base: dict[str, str] = {}
    if prov and "value" in prov:
        pv = prov["value"]
        attrs_base = dict(source=pv["source"], source_url=pv["source_url"],
                          source_date=pv["date"], licence=pv["licence"], status=pv["status"])
    elif not shipped:
        attrs_base = {"source": f"user file {p}"}
    frame = frame.assign(value=values)
    scalars = frame[~frame["variable"].isin(["ai_demand_mw", "ai_demand_share"])]
    data_vars: dict[str, Any] = {}
    for _, r in scalars.iterrows():
        data_vars[r["variable"]] = ((), float(r["value"]), {"units": r["unit"], **attrs_base})
    ai = frame[frame["variable"] == "ai_demand_mw"].copy()
    if ai.empty:
        raise GridcapInputError(f"{p} has no ai_demand_mw rows: expected region-year values")
    ai["year"] = _to_number(ai["year"], f"{p.name}.year", "int")
    us = ai[ai["region"] == "US"]
    reg = ai[ai["region"] != "US"]
    table = reg.pivot(index="region", columns="year", values="value")
    if table.isna().any().any():
        raise GridcapInputError(f"{p}: ai_demand_mw is missing some region-year values")
    data_vars["ai_demand_mw"] = (
        ("region", "year"), table.to_numpy(float), {"units": "MW", **attrs_base}
    )
    coords = {"region": table.index.to_numpy(dtype=str),
              "year": table.columns.to_numpy(dtype=np.int64)}
    share = frame[frame["variable"] == "ai_demand_share"].set_index("region")["value"]
    if not share.empty:
        data_vars["ai_demand_share"] = (
            "region", share.reindex(coords["region"]).to_numpy(float), {"units": "1", **attrs_base}
        )
    if not us.empty:
        s = us.set_index("year")["value"].reindex(coords["year"])
        data_vars["ai_demand_us_mw"] = ("year", s.to_numpy(float), {"units": "MW", **attrs_base})
    ds = xr.Dataset(data_vars, coords=coords)
    meta = _meta("demand.csv", p, shipped, len(frame))
    _attrs(ds, "US generation gap and AI data-center demand paths", meta)
    return ds, meta


def read_regions(
    years: Sequence[int] | Iterable[int] | None = None,
    path: str | Path | None = None,
    *,
    demand_path: str | Path | None = None,
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Grid regions (ISOs) with peak load, firm capacity, queues, prices and AI demand.

    Parameters
    ----------
    years : sequence of int, optional
        Planning years [year] to keep for ``ai_demand_mw``; default every year shipped
        (2026-2035).
    path : str or Path, optional
        A CSV with the columns of ``datasets/data/regions.csv``; default the shipped file.
    demand_path : str or Path, optional
        Demand CSV for ``ai_demand_mw`` (see :func:`read_demand`); default the shipped one.

    Returns
    -------
    xarray.Dataset
        Dim ``region`` (and ``year`` for ``ai_demand_mw``) with the data model's regions
        table: ``iso``, ``lat``, ``lon``, ``timezone``, ``peak_load_mw`` [MW],
        ``firm_capacity_mw`` [MW], ``load_growth_per_year`` [1/yr], ``queue_years`` [yr],
        ``price_mean_usd_per_mwh`` [$/MWh], ``ai_demand_mw`` [MW], ``ai_site_limit_mw``
        [MW]; plus ``peak_load_year`` [year].
    dict
        Metadata as for :func:`read_mine_sites`, with ``demand`` holding the demand file's.

    Raises
    ------
    GridcapInputError
        If a requested year or a region has no AI demand data.

    Examples
    --------
    >>> regions, _ = read_regions(years=[2026, 2027])
    >>> regions.ai_demand_mw.dims
    ('region', 'year')
    """
    ds, p, shipped = _read_table("regions.csv", path, "region", _REGIONS_COLUMNS, _REGIONS_OPTIONAL)
    demand, demand_meta = read_demand(demand_path)
    ai = demand["ai_demand_mw"]
    missing = sorted(set(ds.region.values.tolist()) - set(ai.region.values.tolist()))
    if missing:
        raise GridcapInputError(
            f"region(s) {missing} have no ai_demand_mw rows in the demand file: expected "
            f"one of {sorted(ai.region.values.tolist())}"
        )
    if years is not None:
        wanted = [int(y) for y in years]
        available = set(ai.year.values.tolist())
        absent = [y for y in wanted if y not in available]
        if absent:
            raise GridcapInputError(
                f"years = {wanted}: no AI demand data for {absent}; expected years in "
                f"{min(available)}-{max(available)}"
            )
        ai = ai.sel(year=wanted)
    ds["ai_demand_mw"] = ai.sel(region=ds.region.values)
    meta = _meta("regions.csv", p, shipped, ds.sizes["region"])
    meta["demand"] = demand_meta
    _attrs(ds, "US grid regions (ISOs/RTOs) with AI data-center demand paths", meta)
    schema = _schema()
    if schema is not None:
        schema.validate_regions(ds)
    return ds, meta


def read_emission_factors(path: str | Path | None = None) -> tuple[xr.Dataset, dict[str, Any]]:
    """CO2 emission factors by technology and grid-average by region.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``kind`` (``technology`` or ``grid``), ``key``,
        ``co2_kg_per_mwh``; default the shipped ``datasets/data/emission_factors.csv``.

    Returns
    -------
    xarray.Dataset
        ``tech_co2_kg_per_mwh`` (tech) and ``grid_co2_kg_per_mwh`` (region) [kg/MWh];
        region ``US`` is the national average.
    dict
        Metadata as for :func:`read_mine_sites`.
    """
    p, shipped = _csv_path("emission_factors.csv", path)
    frame = _read_frame(p)
    need = ["kind", "key", "co2_kg_per_mwh"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise GridcapInputError(
            f"{p} is missing column(s) {', '.join(missing)}: expected {', '.join(need)}"
        )
    kinds = set(frame["kind"]) - {"technology", "grid"}
    if kinds:
        raise GridcapInputError(f"{p}.kind has {sorted(kinds)}: expected 'technology' or 'grid'")
    co2 = _to_number(frame["co2_kg_per_mwh"], f"{p.name}.co2_kg_per_mwh", "float")
    if np.isnan(co2).any() or (co2 < 0).any():
        raise GridcapInputError(f"{p}.co2_kg_per_mwh: expected values >= 0 [kg/MWh], no blanks")
    prov = _provenance_for("emission_factors.csv") if shipped else None
    attrs: dict[str, str] = {"units": "kg/MWh"}
    if prov and "co2_kg_per_mwh" in prov:
        pv = prov["co2_kg_per_mwh"]
        attrs.update(source=pv["source"], source_url=pv["source_url"], source_date=pv["date"],
                     licence=pv["licence"], status=pv["status"])
    elif not shipped:
        attrs["source"] = f"user file {p}"
    tech = frame["kind"].to_numpy() == "technology"
    keys = frame["key"].to_numpy(dtype=str)
    ds = xr.Dataset(
        {
            "tech_co2_kg_per_mwh": ("tech", co2[tech], dict(attrs)),
            "grid_co2_kg_per_mwh": ("region", co2[~tech], dict(attrs)),
        },
        coords={"tech": keys[tech], "region": keys[~tech]},
    )
    meta = _meta("emission_factors.csv", p, shipped, len(frame))
    _attrs(ds, "CO2 emission factors (technology and grid average)", meta)
    return ds, meta


# --------------------------------------------------------------------------- studies
def list_studies() -> list[str]:
    """Names of the shipped studies (``datasets/studies/*.toml``), sorted.

    Examples
    --------
    >>> "quickstart" in list_studies()
    True
    """
    return sorted(p.stem for p in STUDIES_DIR.glob("*.toml"))


def study_path(name: str) -> Path:
    """Path of a shipped study TOML.

    Parameters
    ----------
    name : str
        Study name, e.g. ``"quickstart"`` or ``"us-ai-power-2030"``.

    Returns
    -------
    pathlib.Path
        The TOML file.

    Raises
    ------
    GridcapInputError
        If no shipped study has that name (the message lists them).
    """
    p = STUDIES_DIR / f"{name}.toml"
    if not p.is_file():
        raise GridcapInputError(
            f"study = {name!r}: expected one of the shipped studies {list_studies()}"
        )
    return p
