"""Public AI-campus and mine-conversion financings: the market check of every finance run.

``datasets/data/financings.csv`` holds one row per public deal (lease or debt raise) with its
site, tenant, guarantor, critical-IT MW, contract value, term, debt, coupon and a per-row
citation (title, publisher, date, URL); values that are derived or assumed are flagged in
``is_estimate`` / ``estimate_note``. :func:`market_range` condenses it into the ranges a
finance result is compared with (debt per MW-IT, coupon, loan-to-cost, rent per MW-IT-yr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcap.errors import GridcapInputError

__all__ = ["FINANCINGS_FILE", "MARKET_METRICS", "market_check", "market_range",
           "read_financings"]

#: The shipped deals table.
FINANCINGS_FILE = Path(__file__).resolve().parent / "data" / "financings.csv"

#: Metrics of the market check: name -> (unit, description).
MARKET_METRICS: dict[str, tuple[str, str]] = {
    "debt_per_mw_usd": ("$/MW-IT", "debt raised / critical-IT MW it funds"),
    "coupon": ("1/yr", "annual coupon of the senior secured debt"),
    "loan_to_cost": ("1", "debt / project cost"),
    "rent_usd_per_mw_yr": ("$/MW-IT-yr", "contract value / (MW-IT x initial term)"),
}

_NUMERIC = ("backstop_usd", "mw_it", "contract_value_usd", "term_years", "escalator",
            "financed_mw_it", "debt_usd", "coupon", "maturity_year", "loan_to_cost")


def read_financings(path: str | Path | None = None) -> pd.DataFrame:
    """The deals table with numeric columns parsed (blank -> NaN).

    Parameters
    ----------
    path : path, optional
        A CSV with the shipped columns (default: the shipped table).

    Returns
    -------
    pandas.DataFrame
        One row per deal; money in [$], MW in [MW], term in [yr], coupon and escalator in
        [1/yr], loan-to-cost in [1].
    """
    p = Path(path) if path is not None else FINANCINGS_FILE
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises several parser error types
        raise GridcapInputError(f"{p}: cannot be read as CSV ({exc})") from exc
    missing = [c for c in ("deal", "source_url", *_NUMERIC) if c not in df.columns]
    if missing:
        raise GridcapInputError(f"{p}: missing columns {missing}")
    for c in _NUMERIC:
        df[c] = pd.to_numeric(df[c].replace("", np.nan), errors="coerce")
    return df


def _metrics(df: pd.DataFrame) -> dict[str, pd.Series]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "debt_per_mw_usd": df["debt_usd"] / df["financed_mw_it"],
            "coupon": df["coupon"],
            "loan_to_cost": df["loan_to_cost"],
            "rent_usd_per_mw_yr": np.where(
                df["mode"] == "colocation_lease",
                df["contract_value_usd"] / (df["mw_it"] * df["term_years"]), np.nan),
        }


def market_range(df: pd.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    """Market range of each metric over the deals that disclose it.

    Parameters
    ----------
    df : pandas.DataFrame, optional
        Output of :func:`read_financings` (default: the shipped table).

    Returns
    -------
    dict
        ``{metric: {"min", "median", "max", "n", "deals", "units"}}`` with the metrics of
        :data:`MARKET_METRICS`; ``deals`` lists the rows used.

    Examples
    --------
    >>> r = market_range()
    >>> 5e6 < r["debt_per_mw_usd"]["min"] < r["debt_per_mw_usd"]["max"] < 15e6
    True
    """
    d = read_financings() if df is None else df
    out: dict[str, dict[str, Any]] = {}
    for name, values in _metrics(d).items():
        v = np.asarray(values, dtype=float)
        ok = np.isfinite(v)
        out[name] = {
            "min": float(v[ok].min()) if ok.any() else float("nan"),
            "median": float(np.median(v[ok])) if ok.any() else float("nan"),
            "max": float(v[ok].max()) if ok.any() else float("nan"),
            "n": int(ok.sum()),
            "deals": [str(x) for x in d["deal"][ok]],
            "units": MARKET_METRICS[name][0],
        }
    return out


def market_check(values: dict[str, float], *, tolerance: float = 0.25,
                 ranges: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Compare a financed site's metrics with the market range.

    Parameters
    ----------
    values : dict
        Metric name (see :data:`MARKET_METRICS`) -> value in the metric's unit; NaN or a
        missing key is reported as ``"n/a"``.
    tolerance : float
        Relative margin outside ``[min, max]`` still reported ``"near"`` [1]; beyond it the
        value is ``"far outside"``.
    ranges : dict, optional
        Output of :func:`market_range` (default: the shipped table).

    Returns
    -------
    dict
        ``{metric: {"value", "min", "max", "status"}}``; status is ``"inside"``, ``"near"``
        (within ``tolerance`` of the range), ``"far outside"`` or ``"n/a"``.
    """
    rng = market_range() if ranges is None else ranges
    out: dict[str, dict[str, Any]] = {}
    for name in MARKET_METRICS:
        v = float(values.get(name, float("nan")))
        lo, hi = rng[name]["min"], rng[name]["max"]
        if not np.isfinite(v) or not np.isfinite(lo):
            status = "n/a"
        elif lo <= v <= hi:
            status = "inside"
        elif lo * (1 - tolerance) <= v <= hi * (1 + tolerance):
            status = "near"
        else:
            status = "far outside"
        out[name] = {"value": v, "min": lo, "max": hi, "status": status,
                     "units": MARKET_METRICS[name][0]}
    return out
