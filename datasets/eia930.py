"""Reader for EIA-930 hourly balancing-authority demand (the six-month "BALANCE" CSV files).

EIA publishes Form EIA-930 (Hourly and Daily Balancing Authority Operations Report) as
six-month files, ``EIA930_BALANCE_<year>_Jan_Jun.csv`` and ``..._Jul_Dec.csv``, at
https://www.eia.gov/electricity/gridmonitor/sixMonthFiles/ (Hourly Electric Grid Monitor,
U.S. Energy Information Administration; public domain, U.S. Government data). One row per
balancing authority and hour; the columns this reader uses are

``Balancing Authority``
    EIA's BA code (``PJM``, ``MISO``, ``ERCO``, ``CISO``, ``SWPP``, ...).
``Local Time at End of Hour``, ``UTC Time at End of Hour``
    ``MM/DD/YYYY h:mm:ss AM`` wall clock and UTC at the *end* of the hour.
``Demand (MW)``, ``Demand (MW) (Adjusted)``, ``Demand (MW) (Imputed)``
    Demand as the BA reported it, as adjusted by EIA for pseudo-ties and dynamic schedules,
    and with EIA's own imputation [MW]; numbers may carry thousands separators (``"25,123"``).

How the data are handled (each step is reported in the returned dataset's attrs):

- **Index by UTC** (end of hour). Local clocks repeat an hour when daylight saving ends and
  skip one when it starts; UTC does neither, so both transitions are ordinary hours here.
  A UTC hour that appears twice for one BA with *different* demand is an error (a
  daylight-saving duplicate written on the wrong clock, or two disagreeing files); exact
  repeats (the same file twice, overlapping downloads) are dropped and counted.
- **Demand column**: ``"adjusted"`` (default) takes ``Demand (MW) (Adjusted)`` where present
  and ``Demand (MW)`` otherwise, as Norris et al. (2025, Appendix B) did; ``"reported"`` and
  ``"imputed"`` take those columns only. Zero or negative demand counts as missing
  (Appendix B treats zeros as missing).
- **Gaps**: a missing value or a missing hour between a BA's first and last value. Runs of
  up to ``max_gap_hours`` hours are filled by linear interpolation in time and flagged in
  ``filled``; a longer run is an error naming the BA, the first and last UTC hour and its
  length, unless ``long_gaps="interpolate"`` (fill it anyway) or ``long_gaps="keep"`` (leave
  NaN). Hours before a BA's first or after its last value (when other BAs' records span
  longer) stay NaN and are no gap.
- **Local time** of each hour is the file's local clock; for a filled hour, UTC plus the UTC
  offset of the BA's nearest earlier reported hour.
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

__all__ = ["EIA930_COLUMNS", "EIA930_SOURCE", "local_calendar", "read_eia930"]

#: Columns of the six-month BALANCE files this reader uses (the files carry many more:
#: ``Data Date``, ``Hour Number``, ``Demand Forecast (MW)``, ``Net Generation (MW)``, ...).
EIA930_COLUMNS: dict[str, str] = {
    "ba": "Balancing Authority",
    "local": "Local Time at End of Hour",
    "utc": "UTC Time at End of Hour",
    "reported": "Demand (MW)",
    "adjusted": "Demand (MW) (Adjusted)",
    "imputed": "Demand (MW) (Imputed)",
}

#: Where the files come from (recorded in every dataset this module returns).
EIA930_SOURCE: dict[str, str] = {
    "source": "U.S. Energy Information Administration, Form EIA-930 Hourly Electric Grid "
              "Monitor, six-month BALANCE files",
    "source_url": "https://www.eia.gov/electricity/gridmonitor/sixMonthFiles/",
    "licence": "public domain (U.S. Government data)",
    "units": "MW",
}

_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
_DEMAND_CHOICES = ("adjusted", "reported", "imputed")
_LONG_GAPS = ("error", "interpolate", "keep")


def _parse_times(values: pd.Series, path: Path, column: str) -> pd.Series:
    t = pd.to_datetime(values, format=_TIME_FORMAT, errors="coerce")
    bad = t.isna() & values.notna()
    if bad.any() or values.isna().any():
        i = int(np.flatnonzero(bad | values.isna())[0])
        raise GridcapInputError(
            f"{path}: column {column!r}, data row {i + 1}: {values.iloc[i]!r} is not a time "
            "like '01/01/2024 1:00:00 AM' (EIA-930 MM/DD/YYYY h:mm:ss AM/PM)")
    return t


def _read_one(path: Path, demand: str, bas: Sequence[str] | None = None,
              seen: set[str] | None = None) -> pd.DataFrame:
    if not path.is_file():
        raise GridcapInputError(f"EIA-930 file {str(path)!r}: not found; expected a six-month "
                                "BALANCE CSV such as EIA930_BALANCE_2024_Jan_Jun.csv")
    wanted = set(EIA930_COLUMNS.values())
    try:  # only the columns used: a six-month file of every BA has ~40 columns, ~300k rows
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                          usecols=lambda c: c.strip() in wanted)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise GridcapInputError(f"EIA-930 file {path}: not a readable CSV ({exc})") from exc
    raw.columns = [c.strip() for c in raw.columns]
    need = ["ba", "local", "utc", "reported"] + (["adjusted"] if demand == "adjusted" else [])
    if demand == "imputed":
        need.append("imputed")
    cols = {k: EIA930_COLUMNS[k] for k in need}
    missing = [c for k, c in cols.items() if c not in raw.columns and k != "adjusted"]
    if missing:
        raise GridcapInputError(
            f"EIA-930 file {path}: missing column(s) {missing}; expected EIA's BALANCE header "
            f"with {list(cols.values())} (found {list(raw.columns)} of those)")
    raw[cols["ba"]] = raw[cols["ba"]].str.strip()
    if seen is not None:
        seen.update(raw[cols["ba"]].dropna().unique().tolist())
    if bas is not None:  # drop other BAs before parsing times and numbers
        raw = raw[raw[cols["ba"]].isin(list(bas))].reset_index(drop=True)
    out = pd.DataFrame({
        "ba": raw[cols["ba"]],
        "utc": _parse_times(raw[cols["utc"]], path, cols["utc"]),
        "local": _parse_times(raw[cols["local"]], path, cols["local"]),
    })

    def number(col: str) -> pd.Series:
        if col not in raw.columns:
            return pd.Series(np.nan, index=raw.index)
        s = raw[col].str.replace(",", "", regex=False).str.strip()
        v = pd.to_numeric(s, errors="coerce")
        bad = v.isna() & s.notna() & (s != "")
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise GridcapInputError(f"{path}: column {col!r}, data row {i + 1}: "
                                    f"{raw[col].iloc[i]!r} is not a number [MW]")
        return v

    if demand == "adjusted":
        adj = number(EIA930_COLUMNS["adjusted"])
        out["demand"] = adj.where(adj.notna(), number(EIA930_COLUMNS["reported"]))
    else:
        out["demand"] = number(EIA930_COLUMNS[demand])
    out.loc[out["demand"] <= 0, "demand"] = np.nan  # zeros are missing (Appendix B)
    out["file"] = path.name
    return out


def _dedupe(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    exact = frame.duplicated(subset=["ba", "utc", "demand"], keep="first")
    n_exact = int(exact.sum())
    frame = frame[~exact]
    dup = frame.duplicated(subset=["ba", "utc"], keep=False)
    if dup.any():
        rows = frame[dup].sort_values(["ba", "utc"]).head(2)
        a, b = rows.iloc[0], rows.iloc[1]
        raise GridcapInputError(
            f"EIA-930: BA {a['ba']!r}, UTC hour ending {a['utc']:%Y-%m-%d %H:%M} appears "
            f"{int(dup.sum())} times in all with different demand ({a['demand']} MW at local "
            f"{a['local']:%m/%d/%Y %I:%M %p} in {a['file']}, {b['demand']} MW at local "
            f"{b['local']:%m/%d/%Y %I:%M %p} in {b['file']}): a daylight-saving duplicate "
            "on the wrong clock or two disagreeing files; each UTC hour must appear once")
    return frame, n_exact


def _runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of runs of True."""
    m = np.concatenate([[False], missing, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def _fill(values: np.ndarray, max_gap: int, long_gaps: str, ba: str,
          times: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    if np.isnan(values).all():
        raise GridcapInputError(f"EIA-930: BA {ba!r} has no demand value in the files")
    ok_idx = np.flatnonzero(~np.isnan(values))
    inside = np.zeros(values.size, dtype=bool)
    inside[ok_idx[0]:ok_idx[-1] + 1] = True  # outside the BA's own record: NaN, not a gap
    miss = np.isnan(values) & inside
    runs = _runs(miss)
    gaps = [{"ba": ba, "first_utc": str(times[a]), "last_utc": str(times[b - 1]),
             "hours": int(b - a)} for a, b in runs]
    long = [g for g, (a, b) in zip(gaps, runs, strict=True) if b - a > max_gap]
    if long and long_gaps == "error":
        g = long[0]
        raise GridcapInputError(
            f"EIA-930: BA {ba!r} has {len(long)} gap(s) longer than max_gap_hours = {max_gap} "
            f"h, the first {g['hours']} h from UTC {g['first_utc']} to {g['last_utc']} "
            "(missing hours or empty demand); pass a larger max_gap_hours, or "
            "long_gaps='interpolate' to fill or 'keep' to leave NaN")
    out = values.copy()
    fill = miss.copy()
    if long_gaps == "keep":
        for a, b in runs:
            if b - a > max_gap:
                fill[a:b] = False
    x = np.arange(values.size, dtype=np.float64)
    ok = ~miss
    out[fill] = np.interp(x[fill], x[ok], values[ok])
    return out, fill, gaps


def read_eia930(
    paths: str | Path | Iterable[str | Path],
    bas: Sequence[str] | None = None,
    *,
    demand: str = "adjusted",
    max_gap_hours: int = 3,
    long_gaps: str = "error",
) -> xr.Dataset:
    """Read EIA-930 six-month BALANCE CSV files into hourly demand per balancing authority.

    Parameters
    ----------
    paths : path or iterable of paths
        One or more ``EIA930_BALANCE_<year>_<Jan_Jun|Jul_Dec>.csv`` files, any years, any
        order (rows are sorted by UTC).
    bas : sequence of str, optional
        EIA balancing-authority codes to keep (e.g. ``["PJM", "ERCO"]``); default all.
    demand : {"adjusted", "reported", "imputed"}, default "adjusted"
        Which demand column (see the module docstring) [MW].
    max_gap_hours : int, default 3
        Longest run of missing hours filled by linear interpolation [h].
    long_gaps : {"error", "interpolate", "keep"}, default "error"
        What to do with longer runs.

    Returns
    -------
    xarray.Dataset
        ``demand_mw`` (ba, time) [MW] and ``filled`` (ba, time) [bool]; coordinates ``time``
        (UTC at the end of the hour, hourly, the union of all files' hours), ``ba`` and
        ``local_time`` (ba, time) (local wall clock at the end of the hour). ``attrs``: files,
        their SHA-256, source, the gaps found (``gaps`` as JSON-able text), exact duplicate
        rows dropped, and the choices above.

    Raises
    ------
    GridcapInputError
        A missing file or column, an unparsable time or number (file, column, row), an
        unknown BA (listing those present), a UTC hour repeated with different demand, or a
        gap longer than ``max_gap_hours`` (BA, first and last hour, length).

    Examples
    --------
    >>> ds = read_eia930(["EIA930_BALANCE_2024_Jan_Jun.csv",
    ...                   "EIA930_BALANCE_2024_Jul_Dec.csv"], ["PJM"])  # doctest: +SKIP
    >>> ds.demand_mw.sel(ba="PJM").max()  # doctest: +SKIP
    """
    if demand not in _DEMAND_CHOICES:
        raise GridcapInputError(f"demand = {demand!r}: expected one of {list(_DEMAND_CHOICES)}")
    if long_gaps not in _LONG_GAPS:
        raise GridcapInputError(f"long_gaps = {long_gaps!r}: expected one of {list(_LONG_GAPS)}")
    if isinstance(max_gap_hours, bool) or not isinstance(max_gap_hours, int | np.integer) \
            or max_gap_hours < 0:
        raise GridcapInputError(f"max_gap_hours = {max_gap_hours!r}: expected an integer ≥ 0 [h]")
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not files:
        raise GridcapInputError("EIA-930: no files given; expected one or more BALANCE CSVs")
    want = None if bas is None else [str(b).strip() for b in bas]
    seen: set[str] = set()
    frame = pd.concat([_read_one(p, demand, want, seen) for p in files], ignore_index=True)
    present = sorted(frame["ba"].unique())
    if want is not None:
        unknown = [b for b in want if b not in seen]
        if unknown:
            raise GridcapInputError(f"EIA-930: balancing authority {unknown} not in the files; "
                                    f"present: {sorted(seen)}")
        frame = frame[frame["ba"].isin(want)]
        present = want
    frame, n_exact = _dedupe(frame)
    times = pd.date_range(frame["utc"].min(), frame["utc"].max(), freq="h")
    n_t = times.size
    demand_mw = np.full((len(present), n_t), np.nan)
    filled = np.zeros((len(present), n_t), dtype=bool)
    local = np.empty((len(present), n_t), dtype="datetime64[ns]")
    gaps: list[dict[str, Any]] = []
    for i, ba in enumerate(present):
        sub = frame[frame["ba"] == ba].set_index("utc").sort_index()
        sub = sub.reindex(times)
        demand_mw[i], filled[i], g = _fill(sub["demand"].to_numpy(np.float64), max_gap_hours,
                                           long_gaps, ba, times)
        gaps += g
        offset = (sub["local"] - sub.index.to_series()).ffill().bfill()
        local[i] = (times + pd.to_timedelta(offset.to_numpy())).to_numpy()
    attrs = {
        **EIA930_SOURCE,
        "files": [str(p) for p in files],
        "sha256": [hashlib.sha256(p.read_bytes()).hexdigest() for p in files],
        "demand_column": demand, "max_gap_hours": int(max_gap_hours), "long_gaps": long_gaps,
        "gaps": repr(gaps), "n_gaps": len(gaps), "hours_filled": int(filled.sum()),
        "exact_duplicate_rows_dropped": n_exact,
        "time_convention": "UTC at the end of the hour",
    }
    return xr.Dataset(
        {"demand_mw": (("ba", "time"), demand_mw,
                       {"units": "MW", "long_name": f"demand ({demand}), gaps filled"}),
         "filled": (("ba", "time"), filled, {"units": "1",
                                             "long_name": "hour filled by interpolation"})},
        coords={"ba": present, "time": times.to_numpy(),
                "local_time": (("ba", "time"), local,
                               {"long_name": "local wall clock at the end of the hour"})},
        attrs=attrs,
    )


def local_calendar(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Local calendar month and year of each hour, per BA (for seasons and annual rates).

    An hour belongs to the day of its *start* (the hour ending at local midnight is the last
    hour of the previous day), as EIA's ``Data Date`` / ``Hour Number`` count it.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`read_eia930`.

    Returns
    -------
    month, year : numpy.ndarray of int
        Shape (ba, time).
    """
    start = pd.DatetimeIndex(np.asarray(ds["local_time"].values).ravel()) - pd.Timedelta(hours=1)
    shape = ds["local_time"].shape
    return (np.asarray(start.month, np.int64).reshape(shape),
            np.asarray(start.year, np.int64).reshape(shape))
