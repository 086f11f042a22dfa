"""Public AI-campus and mine-conversion financings: the market check of every finance run.

``datasets/data/financings.csv`` holds one row per public deal (lease or debt raise) with its
site, tenant, guarantor, critical-IT MW, contract value, term, debt, coupon and a per-row
citation (title, publisher, date, URL); values that are derived or assumed are flagged in
``is_estimate`` / ``estimate_note``. :func:`market_range` condenses it into the ranges a
finance result is compared with (debt per MW-IT, coupon, loan-to-cost, rent per MW-IT-yr).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridcap.errors import GridcapInputError

if TYPE_CHECKING:
    from gridcap.kernels.contracts import SiteContracts

__all__ = ["FINANCINGS_FILE", "MARKET_METRICS", "deal_debt_per_mw", "market_check",
           "market_range", "read_financings"]

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
        elif lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):  # a value sized at the bound is inside
            status = "inside"
        elif lo * (1 - tolerance) <= v <= hi * (1 + tolerance):
            status = "near"
        else:
            status = "far outside"
        out[name] = {"value": v, "min": lo, "max": hi, "status": status,
                     "units": MARKET_METRICS[name][0]}
    return out


def deal_debt_per_mw(site: str, deals: pd.DataFrame | None = None) -> float:
    """Debt per MW-IT the site actually raised: its deals' debt / the MW-IT they fund [$/MW].

    Sums every row of the deals table for ``site`` that discloses both ``debt_usd`` and
    ``financed_mw_it`` (a note and its tap count together); NaN when none does (a lease
    without debt, or a loan whose MW are not disclosed, like Galaxy Helios').

    Examples
    --------
    >>> round(deal_debt_per_mw("wulf_lake_mariner") / 1e6, 2)  # $3.2B of notes on 360 MW
    8.89
    """
    d = read_financings() if deals is None else deals
    rows = d[(d["site"] == site) & d["debt_usd"].notna() & d["financed_mw_it"].notna()
             & (d["financed_mw_it"] > 0)]
    if rows.empty:
        return float("nan")
    return float(rows["debt_usd"].sum() / rows["financed_mw_it"].sum())


def _deal_for_site(df: pd.DataFrame, site: str) -> pd.Series | None:
    """The site's largest contract row (by MW-IT) with value, term and mode, if any."""
    rows = df[(df["site"] == site) & df["contract_value_usd"].notna() & df["term_years"].notna()
              & df["mw_it"].notna()]
    if rows.empty:
        return None
    return rows.sort_values("mw_it", ascending=False).iloc[0]


def site_contracts(sites: Any, *, gpu_life_years: float, gpu_capex_usd_per_mw: float,
                   gpu_cost_usd_per_mw_yr: Any, deals: pd.DataFrame | None = None,
                   ) -> tuple[SiteContracts, dict[str, Any]]:
    """Contract terms of the study's sites: its public deal where one exists, else defaults.

    Parameters
    ----------
    sites : xarray.Dataset
        Site inputs (dim ``site``): ``interconnection_mw`` [MW], ``conversion_months``
        [month], ``conversion_capex_usd_per_kw`` [$/kW]. Optional per-site overrides as
        variables named like the terms (``revenue_mode``, ``tenant_rating``,
        ``guarantor_rating``, ``backstop_usd``, ``rent_usd_per_mw_yr``, ``term_years``,
        ``escalator``, ``lease_form`` and the other keys of
        :data:`gridcap.kernels.contracts.LEASE_DEFAULTS`).
    gpu_life_years : float
        GPU life [yr] (``gpu_contract`` revenue and costs end there).
    gpu_capex_usd_per_mw : float
        GPU capex of a ``gpu_contract`` site [$/MW-IT].
    gpu_cost_usd_per_mw_yr : float or array (K,)
        Power and data-hall opex of a ``gpu_contract`` owner [$/MW-IT-yr].
    deals : pandas.DataFrame, optional
        Deals table (default: the shipped one).

    Returns
    -------
    (SiteContracts, info)
        Terms; ``info`` has per-site ``deal`` (row id or ""), ``capex_usd`` [$] (conversion
        capex of the contracted MW + GPUs of a gpu_contract), ``contracted_mw`` [MW] and
        ``tenant_rating`` / ``guarantor_rating`` labels.
    """
    from gridcap.kernels.contracts import LEASE_DEFAULTS, REVENUE_MODES
    from gridcap.kernels.sites import DESIGN_PUE

    d = read_financings() if deals is None else deals
    ids = [str(s) for s in sites["site"].values]
    it_mw = np.asarray(sites["interconnection_mw"].values, float) / DESIGN_PUE
    terms: dict[str, list[Any]] = {name: [] for name in LEASE_DEFAULTS}
    mw: list[float] = []
    deal_ids: list[str] = []
    for i, s in enumerate(ids):
        row = _deal_for_site(d, s)
        t, cap = _deal_terms(row, float(it_mw[i]))
        deal_ids.append("" if row is None else str(row["deal"]))
        t = _with_site_overrides(t, sites, i)
        for name in LEASE_DEFAULTS:
            terms[name].append(t[name])
        mw.append(cap)
    modes, forms = _checked_labels(terms)
    c = _contracts_from_terms(
        ids, terms, modes, forms, mw,
        commencement_months=np.asarray(sites["conversion_months"].values, float),
        gpu_cost_usd_per_mw_yr=gpu_cost_usd_per_mw_yr, gpu_life_years=gpu_life_years)
    per_kw = np.asarray(sites["conversion_capex_usd_per_kw"].values, float)
    capex = per_kw * c.contracted_mw * 1000.0 + gpu_capex_usd_per_mw * c.contracted_mw * (
        c.mode == REVENUE_MODES["gpu_contract"])
    info = {"deal": deal_ids, "capex_usd": capex, "contracted_mw": c.contracted_mw,
            "tenant_rating": [str(r) for r in terms["tenant_rating"]],
            "guarantor_rating": [str(r) for r in terms["guarantor_rating"]],
            "mode": modes}
    return c, info


def _deal_terms(row: pd.Series | None, it_mw: float) -> tuple[dict[str, Any], float]:
    """One site's terms from its public deal, defaults where the deal is silent.

    Parameters
    ----------
    row : pandas.Series, optional
        The site's deal (:func:`_deal_for_site`); None: every term at its default
        (:data:`gridcap.kernels.contracts.LEASE_DEFAULTS`).
    it_mw : float
        The site's critical-IT capacity [MW-IT] (interconnection / design PUE).

    Returns
    -------
    (dict, float)
        Term name -> value (rent [$/MW-IT-yr], term [yr], escalator [1/yr], backstop [$]
        scaled to the contracted MW, ...), and the contracted capacity [MW-IT]: the site's,
        capped at the deal's.
    """
    from gridcap.kernels.contracts import LEASE_DEFAULTS, LEASE_FORMS

    t = {name: v[0] for name, v in LEASE_DEFAULTS.items()}
    if row is None:
        return t, it_mw
    deal_mw = float(row["mw_it"])
    cap = min(it_mw, deal_mw)
    t["mode"] = str(row["mode"]) or t["mode"]
    t["rent_usd_per_mw_yr"] = float(row["contract_value_usd"]) / (
        deal_mw * float(row["term_years"]))
    t["term_years"] = float(row["term_years"])
    if np.isfinite(row["escalator"]):
        t["escalator"] = float(row["escalator"])
    if str(row["lease_form"]) in LEASE_FORMS:
        t["lease_form"] = str(row["lease_form"])
    t["tenant_rating"] = str(row["tenant_rating"]) or t["tenant_rating"]
    t["guarantor_rating"] = str(row["guarantor_rating"])
    if np.isfinite(row["backstop_usd"]) and t["guarantor_rating"]:
        t["backstop_usd"] = float(row["backstop_usd"]) * cap / deal_mw
    if t["mode"] == "gpu_contract":
        t["prepayment_share"] = 0.2  # IREN-Microsoft 20% prepayment (deals table)
        t["escalator"] = 0.0
        t["renewal_probability"] = 0.0
    return t, cap


def _with_site_overrides(t: dict[str, Any], sites: Any, i: int) -> dict[str, Any]:
    """Terms ``t`` with site ``i``'s own values where the sites table gives one.

    A sites variable named like a term (``revenue_mode`` for ``mode``) overrides it; a NaN
    or empty string there leaves the deal's or default value.
    """
    from gridcap.kernels.contracts import LEASE_DEFAULTS

    out = dict(t)
    for name in LEASE_DEFAULTS:
        key = "revenue_mode" if name == "mode" else name
        if key in sites:
            v = sites[key].values[i]
            if not (isinstance(v, float) and np.isnan(v)) and str(v) != "":
                out[name] = v
    return out


def _checked_labels(terms: dict[str, list[Any]]) -> tuple[list[str], list[str]]:
    """The sites' revenue modes and lease forms, each checked against its known names.

    Raises
    ------
    GridcapInputError
        Naming ``sites.revenue_mode`` or ``sites.lease_form``, the first unknown value and
        the valid ones.
    """
    from gridcap.kernels.contracts import LEASE_FORMS, REVENUE_MODES

    modes = [str(m) for m in terms["mode"]]
    bad = [m for m in modes if m not in REVENUE_MODES]
    if bad:
        raise GridcapInputError(f"sites.revenue_mode = {bad[0]!r}: expected one of "
                                f"{sorted(REVENUE_MODES)}")
    forms = [str(f) for f in terms["lease_form"]]
    badf = [f for f in forms if f not in LEASE_FORMS]
    if badf:
        raise GridcapInputError(f"sites.lease_form = {badf[0]!r}: expected one of "
                                f"{sorted(LEASE_FORMS)}")
    return modes, forms


def _contracts_from_terms(
    ids: list[str], terms: dict[str, list[Any]], modes: list[str], forms: list[str],
    mw: list[float], *, commencement_months: np.ndarray, gpu_cost_usd_per_mw_yr: Any,
    gpu_life_years: float,
) -> SiteContracts:
    """The per-site term lists as a :class:`gridcap.kernels.contracts.SiteContracts`.

    Parameters
    ----------
    ids : list of str
        Site ids (K,).
    terms : dict of str to list
        Term name -> per-site values (K,) (keys of ``LEASE_DEFAULTS``; units there).
    modes, forms : list of str
        Checked revenue modes and lease forms (K,) (:func:`_checked_labels`).
    mw : list of float
        Contracted capacity (K,) [MW-IT].
    commencement_months : numpy.ndarray
        Months to rent commencement (K,) [month] (the sites' conversion time).
    gpu_cost_usd_per_mw_yr : float or array (K,)
        Power and data-hall opex of a ``gpu_contract`` owner [$/MW-IT-yr].
    gpu_life_years : float
        GPU life [yr].

    Returns
    -------
    SiteContracts
        Arrays (K,); ratings turned into annual default hazards [1/yr].
    """
    from gridcap.kernels.contracts import (
        LEASE_FORMS,
        REVENUE_MODES,
        SiteContracts,
        hazard_of_rating,
    )

    k = len(ids)
    f = np.asarray
    return SiteContracts(
        site=ids,
        mode=f([REVENUE_MODES[m] for m in modes]),
        contracted_mw=f(mw),
        rent_usd_per_mw_yr=f(terms["rent_usd_per_mw_yr"], float),
        term_years=f(terms["term_years"], float),
        escalator=f(terms["escalator"], float),
        owner_opex_share=f([LEASE_FORMS[x] for x in forms]),
        commencement_months=commencement_months,
        ramp_years=f(terms["ramp_years"], float),
        renewal_probability=f(terms["renewal_probability"], float),
        renewal_years=f(terms["renewal_years"], float),
        renewal_rent_factor=f(terms["renewal_rent_factor"], float),
        void_months=f(terms["void_months"], float),
        relet_haircut=f(terms["relet_haircut"], float),
        delay_probability=f(terms["delay_probability"], float),
        delay_months=f(terms["delay_months"], float),
        tenant_hazard=f([hazard_of_rating(r) for r in terms["tenant_rating"]]),
        guarantor_hazard=f([hazard_of_rating(r) for r in terms["guarantor_rating"]]),
        backstop_usd=f(terms["backstop_usd"], float),
        prepayment_share=f(terms["prepayment_share"], float),
        gpu_cost_usd_per_mw_yr=np.broadcast_to(
            np.asarray(gpu_cost_usd_per_mw_yr, float), (k,)).copy(),
        gpu_life_years=np.full(k, float(gpu_life_years)),
    )
