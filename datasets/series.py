"""The user's own hourly series per region: load [MW], solar and wind availability [1].

A study normally draws its hourly drivers from the Monte Carlo's synthetic weather (pvlib
clear sky × a stochastic cloud index, a temperature-driven load shape, a stochastic wind
capacity factor; :mod:`gridcap.kernels.drivers`). A user who has measured or modelled series
for a region gives them here, the way PyPSA users attach ``loads_t.p_set`` [MW] and
``generators_t.p_max_pu`` [1] to their components, and they replace that region's synthetic
series in every scenario.

File layout (CSV, one file per quantity, PyPSA's ``loads-p_set.csv`` shape): the first column
is the clock, every other column is a region id of the regions table, one row per hour::

    time,ERCOT,PJM
    2023-01-01T00:00Z,39120.5,88213.0
    2023-01-01T01:00Z,38211.0,86150.2
    ...

- ``time``: ISO 8601 timestamps **with a UTC offset** (``Z``, ``+00:00``, ``-06:00``), 8760
  consecutive hours (8784 in a leap year: 29 February is dropped); each is moved to the
  region's local standard time (its time zone's offset in January, no daylight saving: the
  kernel's clock), and a year that does not start on 1 January wraps round.
- or ``hour``: the hour of year 0-8759 in the region's local standard time, hour beginning
  (0 = 1 January 00:00-01:00), each hour once.

NetCDF files hold one variable (or the quantity's name, ``load_mw`` …) over dims
(``time`` or ``hour``, ``region``), read with xarray; a CF ``time`` coordinate is UTC.
Regions of the regions table that the study does not use are ignored; a column that names no
region is an error. The values are checked (finite, no gaps, a capacity factor within [0, 1],
load ≥ 0 and within a factor of :data:`LOAD_PEAK_RANGE` of the region's ``peak_load_mw``)
and every error names the file, column, row, value and what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import xarray as xr

from gridcap.errors import GridcapInputError

__all__ = [
    "HOURLY",
    "HOURS_PER_YEAR",
    "LOAD_PEAK_RANGE",
    "hourly_series",
    "read_hourly_series",
]

#: Hours of the kernel's year [h] (365 days; a leap year's 29 February is dropped).
HOURS_PER_YEAR = 8760

#: A load series' maximum must lie within ``[peak / f, peak * f]`` of the region's
#: ``peak_load_mw`` [1]: wider than any real year-to-year change of a region's peak, narrow
#: enough to catch kW (×1000) or GW (÷1000) in an MW column. Give your own regions table
#: (``[datasets] regions``) when your load is for another system size.
LOAD_PEAK_RANGE = 4.0


@dataclass(frozen=True)
class Quantity:
    """One hourly quantity a user can give: its variable name, unit and allowed range."""

    name: str
    units: str
    lo: float
    hi: float
    doc: str


#: The quantities, by ``[datasets]`` key.
HOURLY: dict[str, Quantity] = {
    "load": Quantity("load_mw", "MW", 0.0, np.inf,
                     "regional load before DER output (balancing-authority demand) [MW]"),
    "solar": Quantity("solar_cf", "1", 0.0, 1.0,
                      "utility-scale PV output per unit of installed capacity [1] "
                      "(PyPSA p_max_pu)"),
    "wind": Quantity("wind_cf", "1", 0.0, 1.0,
                     "wind output per unit of installed capacity [1] (PyPSA p_max_pu)"),
}

_OFFSET = re.compile(r"(Z|[+-]\d\d(:?\d\d)?)$", re.IGNORECASE)


def _fail(where: str, message: str) -> GridcapInputError:
    return GridcapInputError(f"{where}: {message}")


def _read_table(path: Path, quantity: str) -> pd.DataFrame:
    """The file as a frame: the clock column first (``time`` or ``hour``), then regions."""
    if path.suffix.lower() in (".nc", ".nc4", ".netcdf"):
        return _netcdf_frame(path, quantity)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # pandas raises several parser error types
        raise _fail(str(path), f"cannot be read as CSV ({exc})") from exc
    return frame


def _netcdf_frame(path: Path, quantity: str) -> pd.DataFrame:
    try:
        ds = xr.load_dataset(path)
    except Exception as exc:  # netCDF4/h5 raise several error types
        raise _fail(str(path), f"cannot be read as NetCDF ({exc})") from exc
    name = HOURLY[quantity].name
    names = [str(v) for v in ds.data_vars]
    if name in names:
        da = ds[name]
    elif len(names) == 1:
        da = ds[names[0]]
    else:
        raise _fail(str(path), f"variables {names}: expected one variable or one named "
                               f"{name!r}")
    clock = [d for d in ("time", "hour") if d in da.dims]
    if not clock or "region" not in da.dims or da.ndim != 2:
        raise _fail(f"{path}: variable {da.name!r}", f"dims {list(da.dims)}: expected "
                    "('time' or 'hour', 'region')")
    wide = da.transpose(clock[0], "region").to_pandas()
    wide.columns = [str(c) for c in wide.columns]
    if clock[0] == "time" and isinstance(wide.index, pd.DatetimeIndex) and wide.index.tz is None:
        # CF time coordinates are UTC (xarray decodes them without a zone)
        wide.index = wide.index.strftime("%Y-%m-%dT%H:%MZ")
    return wide.rename_axis(clock[0]).reset_index()


def _std_offset(tz: str, year: int) -> timedelta:
    """The time zone's standard (non-daylight) UTC offset in ``year``."""
    jan = datetime(year, 1, 15, 12, tzinfo=ZoneInfo(tz))
    return (jan.utcoffset() or timedelta(0)) - (jan.dst() or timedelta(0))


def _hour_of_year(local: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Hour of a 365-day year of naive local times, and a mask of 29 February."""
    leap = np.asarray(local.is_leap_year, bool)
    feb29 = (np.asarray(local.month) == 2) & (np.asarray(local.day) == 29)
    after = leap & (np.asarray(local.month) > 2)
    doy = np.asarray(local.day_of_year) - 1 - after.astype(np.int64)
    return doy * 24 + np.asarray(local.hour), feb29


def _parse_times(values: Sequence[Any], where: str) -> pd.DatetimeIndex:
    """UTC timestamps; a value without a UTC offset is an error naming its row."""
    if isinstance(values, pd.DatetimeIndex):
        if values.tz is None:
            raise _fail(where, "timestamps without a time zone: expected UTC times (e.g. "
                               "index.tz_localize('UTC')) or an 'hour' index 0-8759")
        return values.tz_convert("UTC")
    text = [str(v).strip() for v in values]
    for i, v in enumerate(text):
        if not _OFFSET.search(v):
            raise _fail(f"{where}, row {i}", f"{v!r}: expected an ISO 8601 time with a UTC "
                        "offset (2023-01-01T00:00Z or 2023-01-01T00:00-06:00), or use an "
                        "'hour' column 0-8759 in local standard time")
    try:
        return pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        for i, v in enumerate(text):  # name the first row pandas cannot parse
            try:
                pd.Timestamp(v)
            except (ValueError, TypeError):
                raise _fail(f"{where}, row {i}", f"{v!r}: expected an ISO 8601 time") from None
        raise _fail(where, f"cannot be read as times ({exc})") from None


def _hours_from_clock(clock: str, values: Any, tz: str, where: str) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """Hour of year of every row in the region's local standard time, and the rows kept."""
    if clock == "hour":
        hours = _numbers(pd.Series(list(values)), where, integer=True)
        return hours.astype(np.int64), np.ones(hours.size, bool)
    utc = _parse_times(values, where)
    local = (utc + _std_offset(tz, int(utc[0].year))).tz_localize(None)
    hoy, feb29 = _hour_of_year(pd.DatetimeIndex(local))
    return hoy, ~feb29


def _check_year(hoy: np.ndarray, rows: np.ndarray, where: str, raw: Sequence[Any]) -> np.ndarray:
    """The row order that sorts the kept rows into hours 0..8759, each exactly once."""
    kept = np.flatnonzero(rows)
    h = hoy[kept]
    outside = np.flatnonzero((h < 0) | (h >= HOURS_PER_YEAR))
    if outside.size:
        i = int(kept[outside[0]])
        raise _fail(f"{where}, row {i}", f"{raw[i]!r}: expected an hour of year in 0-8759")
    seen = np.full(HOURS_PER_YEAR, -1, np.int64)
    for i, hour in zip(kept.tolist(), h.tolist(), strict=True):
        if seen[hour] >= 0:
            raise _fail(f"{where}, row {i}", f"{raw[i]!r} is hour {hour} of the year again "
                        f"(first at row {seen[hour]}): expected each hour once (8760 "
                        "consecutive hours; a daylight-saving repeat? use UTC times)")
        seen[hour] = i
    missing = np.flatnonzero(seen < 0)
    if missing.size:
        raise _fail(where, f"{missing.size} hour(s) of the year missing (first: hour "
                           f"{int(missing[0])}, day {int(missing[0]) // 24 + 1}): expected "
                           "8760 consecutive hours, one year")
    return seen


def _numbers(values: pd.Series, where: str, *, integer: bool = False) -> np.ndarray:
    """Floats parsed exactly (Python's round-trip parser, as numpy's ``astype(float)``); the
    first value that is not a finite number (or not an integer) is named by its row."""
    raw = np.asarray(values, dtype=object)
    try:
        out = raw.astype(np.float64)
    except (TypeError, ValueError):
        out = np.array([_float_or_nan(v) for v in raw], dtype=np.float64)
    bad = ~np.isfinite(out)
    if integer:
        bad |= np.where(bad, False, out != np.round(np.where(bad, 0.0, out)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a finite number in every hour (fill gaps first)"
        raise _fail(f"{where}, row {i}", f"{values.iloc[i]!r}: expected {kind}")
    return out


def _float_or_nan(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _check_values(x: np.ndarray, q: Quantity, where: str, order: np.ndarray,
                  peak: float | None) -> None:
    bad = np.flatnonzero((x < q.lo) | (x > q.hi))
    if bad.size:
        i = int(order[bad[0]])
        rng = f">= {q.lo:g}" if np.isinf(q.hi) else f"in [{q.lo:g}, {q.hi:g}]"
        raise _fail(f"{where}, row {i}", f"{x[bad[0]]!r}: expected {q.name} {rng} "
                    f"[{q.units}]")
    if peak and peak > 0 and q.name == "load_mw":
        top = float(x.max())
        f = LOAD_PEAK_RANGE
        if not peak / f <= top <= peak * f:
            i = int(order[int(np.argmax(x))])
            raise _fail(f"{where}, row {i}", f"maximum {top:g} MW: expected within "
                        f"{f:g}x of the region's peak_load_mw = {peak:g} MW (is it in kW or "
                        "GW instead of MW? for another system size, give your own regions "
                        "table: [datasets] regions)")


def _frame_to_hourly(frame: pd.DataFrame, quantity: str, regions: xr.Dataset,
                     known: Sequence[str], where: str) -> xr.DataArray:
    """Validated (region, hour) array of one quantity; NaN for study regions not given."""
    q = HOURLY[quantity]
    if frame.shape[1] < 2 or str(frame.columns[0]).strip().lower() not in ("time", "hour"):
        raise _fail(where, f"columns {[str(c) for c in frame.columns][:6]}: expected a first "
                           "column 'time' (UTC timestamps) or 'hour' (0-8759) and one column "
                           "per region id")
    clock = str(frame.columns[0]).strip().lower()
    study = [str(r) for r in regions.region.values]
    out = np.full((len(study), HOURS_PER_YEAR), np.nan)
    given: list[str] = []
    for col in frame.columns[1:]:
        name = str(col).strip()
        if name not in known and name not in study:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _fail(f"{where}, column {name!r}", f"not a region id{hint}: expected one of "
                        f"{sorted(set(known) | set(study))}")
        if name not in study:
            continue  # a region of the table that this study does not use
        r = study.index(name)
        cw = f"{where}, column {name!r}"
        tz = str(regions["timezone"].values[r])
        hoy, rows = _hours_from_clock(clock, frame.iloc[:, 0], tz, cw)
        order = _check_year(hoy, rows, cw, list(frame.iloc[:, 0]))
        values = _numbers(frame[col].reset_index(drop=True), cw)[order]
        peak = float(regions["peak_load_mw"].values[r]) if "peak_load_mw" in regions else None
        _check_values(values, q, cw, order, peak)
        out[r] = values
        given.append(name)
    if not given:
        raise _fail(where, f"no column names a region of this study {study}")
    return xr.DataArray(out, dims=("region", "hour"),
                        coords={"region": study, "hour": np.arange(HOURS_PER_YEAR)},
                        name=q.name, attrs={"units": q.units, "long_name": q.doc,
                                            "regions_given": given})


def read_hourly_series(path: str | Path, quantity: str, regions: xr.Dataset,
                       known: Sequence[str] | None = None) -> tuple[xr.DataArray, dict[str, Any]]:
    """Read one quantity's hourly series per region from a CSV or NetCDF file.

    Parameters
    ----------
    path : str or Path
        The file (layout in the module docstring).
    quantity : str
        ``"load"`` [MW], ``"solar"`` or ``"wind"`` [1] (:data:`HOURLY`).
    regions : xarray.Dataset
        The study's regions (``region``, ``timezone``, ``peak_load_mw``).
    known : sequence of str, optional
        Every region id of the regions table (columns of other known regions are ignored);
        default: the study's regions.

    Returns
    -------
    series : xarray.DataArray
        Dims (``region``, ``hour``) over the study's regions and hours 0-8759 of the local
        standard year; NaN rows for regions the file does not give.
    meta : dict
        ``file``, ``sha256`` and ``regions`` given.

    Raises
    ------
    GridcapInputError
        Naming the file, column, row, value and what was expected.
    """
    if quantity not in HOURLY:
        raise GridcapInputError(f"quantity = {quantity!r}: expected one of {list(HOURLY)}")
    p = Path(path)
    if not p.is_file():
        raise GridcapInputError(f"path = {str(path)!r}: expected an existing CSV or NetCDF file")
    frame = _read_table(p, quantity)
    da = _frame_to_hourly(frame, quantity, regions, list(known or []), str(p))
    da.attrs["source"] = f"user file {p}"
    meta = {"file": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "regions": list(da.attrs["regions_given"]), "units": da.attrs["units"]}
    return da, meta


def _as_frame(data: Any, where: str) -> pd.DataFrame:
    """A user's pandas/xarray object as the file layout (clock column, region columns)."""
    if isinstance(data, xr.DataArray):
        clock = [d for d in ("time", "hour") if d in data.dims]
        if not clock or "region" not in data.dims or data.ndim != 2:
            raise _fail(where, f"dims {list(data.dims)}: expected ('time' or 'hour', 'region')")
        data = data.transpose(clock[0], "region").to_pandas()
        data.index.name = clock[0]
    if not isinstance(data, pd.DataFrame):
        raise _fail(where, f"{type(data).__name__}: expected a pandas DataFrame (index: UTC "
                           "DatetimeIndex or hour 0-8759; one column per region) or an xarray "
                           "DataArray over ('time' or 'hour', 'region')")
    clocks = [c for c in data.columns if str(c).strip().lower() in ("time", "hour")]
    if clocks:  # the clock as a column, as in the files
        data = data.set_index(clocks[0])
        if str(clocks[0]).strip().lower() == "time" and not isinstance(data.index,
                                                                        pd.DatetimeIndex):
            return _frame_with_clock(data, "time", data.index.to_numpy())
    index = data.index
    if isinstance(index, pd.DatetimeIndex):
        clock = pd.Series(_parse_times(index, where).strftime("%Y-%m-%dT%H:%MZ"))
        first = "time"
    else:
        clock, first = pd.Series(np.asarray(index)), "hour"
    return _frame_with_clock(data, first, clock.to_numpy())


def _frame_with_clock(data: pd.DataFrame, first: str, clock: Any) -> pd.DataFrame:
    frame = data.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    frame.insert(0, first, clock)
    return frame


def hourly_series(regions: xr.Dataset, *, load: Any = None, solar: Any = None,
                  wind: Any = None, known: Sequence[str] | None = None) -> xr.Dataset:
    """The user's hourly series from pandas/xarray objects, validated like the files.

    Parameters
    ----------
    regions : xarray.Dataset
        The study's regions (``inputs.regions``).
    load : pandas.DataFrame or xarray.DataArray, optional
        Regional load [MW]: one column per region id; index a UTC ``DatetimeIndex`` of 8760
        consecutive hours (tz-aware; 29 February of a leap year is dropped) or the hour of
        year 0-8759 in the region's local standard time; or a ``time`` / ``hour`` column as
        in the files. A DataArray has dims (``time`` or ``hour``, ``region``).
    solar, wind : pandas.DataFrame or xarray.DataArray, optional
        Output per unit of installed capacity [1], same layout.
    known : sequence of str, optional
        Every region id of the regions table (columns of other known regions are ignored).

    Returns
    -------
    xarray.Dataset
        ``load_mw``, ``solar_cf``, ``wind_cf`` (those given) over (``region``, ``hour``),
        NaN for regions without a series; :attr:`gridcap.schema.StudyInputs.hourly`.

    Raises
    ------
    GridcapInputError
        Naming the argument, column, row, value and what was expected.
    """
    given: dict[str, xr.DataArray] = {}
    for quantity, data in (("load", load), ("solar", solar), ("wind", wind)):
        if data is None:
            continue
        frame = _as_frame(data, quantity)
        da = _frame_to_hourly(frame, quantity, regions, list(known or []), quantity)
        da.attrs["source"] = "user data (Python)"
        given[HOURLY[quantity].name] = da
    return xr.Dataset(given)
