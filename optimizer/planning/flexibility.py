"""Flexibility price: what a committed kW of DER flexibility is worth, and its alternative.

The value of one committed kW of flexibility in region r and year y is the marginal capacity
value of the region-year (the adequacy duals of the siting model, [$/kW-yr]) times the
flexibility's *reliability*: the ratio delivered/committed that the pool achieves with the
chosen confidence over the Monte Carlo scenarios (an ELCC-like derate). It is shown next to
the cost of the cheapest new-build alternative that can be online by that year.

Notes
-----
Reliability of pool p at confidence c:

.. math:: \\rho_p = Q_{1-c}\\Big(\\frac{\\sum_e \\min(\\text{delivered}_{w,p,e},
          \\text{committed}_{w,p,e})}{\\sum_e \\text{committed}_{w,p,e}}\\Big)_{w}

the (1−c) quantile over scenarios w of the event-weighted delivery ratio (only delivered kW up
to the commitment count). Without event data, the slice delivery ratios
``flex_delivery_ratio`` averaged over slices stand in.

Alternative cost of region r in year y, over technologies k that can be online by y:

.. math:: A_{r,y} = \\min_k \\frac{\\mathrm{CRF}_k\\,\\mathrm{capex}_k + \\mathrm{FOM}_k}{a_{k,r,y}}

with ``a`` the accredited fraction: availability (firm, storage), or the mean over scenarios of
the solar/wind capacity factor at the hour of the year's highest peak net load.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import xarray as xr

__all__ = ["alternative_cost", "delivery_ratios", "flex_price", "reliability"]


#: Quantile convention of the reliability (a decision figure): the empirical, non-interpolated
#: quantile (an observed delivery ratio, never above one the scenarios showed). Descriptive
#: P10/P50/P90 (chain costs, IRR bands, report bands) interpolate linearly (numpy's default);
#: anything that restates the reliability (the report's marker) uses this one.
RELIABILITY_QUANTILE: Final = "inverted_cdf"


def delivery_ratios(outcomes: xr.Dataset, pools: np.ndarray | None = None) -> np.ndarray:
    """Delivered/committed per scenario and pool (capped at 1 per event) [1].

    Parameters
    ----------
    outcomes : xarray.Dataset
        Monte Carlo outcomes with ``event_committed_kw`` / ``event_delivered_kw`` (scenario,
        pool, event) or ``flex_delivery_ratio`` (scenario, pool, slice).
    pools : numpy.ndarray, optional
        Pool labels in the wanted order (default: the outcomes' order).

    Returns
    -------
    numpy.ndarray
        Shape (scenario, pool); NaN where a scenario has no event for the pool and no slice
        ratios exist [1].
    """
    if "pool" not in outcomes.dims:
        return np.zeros((outcomes.sizes.get("scenario", 0), 0))
    o = outcomes if pools is None else outcomes.sel(pool=pools)
    S = o.sizes["scenario"]
    P = o.sizes["pool"]
    ratio = np.full((S, P), np.nan)
    if "event_committed_kw" in o and "event_delivered_kw" in o:
        c = np.asarray(o["event_committed_kw"].transpose("scenario", "pool", "event").values,
                       dtype=float)
        dlv = np.asarray(o["event_delivered_kw"].transpose("scenario", "pool", "event").values,
                         dtype=float)
        valid = np.isfinite(c) & np.isfinite(dlv) & (c > 0)
        paid = np.where(valid, np.clip(np.minimum(dlv, c), 0.0, None), 0.0)
        com = np.where(valid, c, 0.0).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(com > 0, paid.sum(axis=2) / np.where(com > 0, com, 1.0), np.nan)
    if "flex_delivery_ratio" in o:
        fr = np.asarray(o["flex_delivery_ratio"].transpose("scenario", "pool", "slice").values,
                        dtype=float)
        fallback = np.clip(np.nanmean(fr, axis=2), 0.0, 1.0)
        ratio = np.where(np.isfinite(ratio), ratio, fallback)
    return ratio


def reliability(outcomes: xr.Dataset, confidence: float,
                pools: np.ndarray | None = None) -> np.ndarray:
    """Delivery ratio of each pool at the ``1 - confidence`` quantile over scenarios [1].

    Parameters
    ----------
    outcomes : xarray.Dataset
        Monte Carlo outcomes (see :func:`delivery_ratios`).
    confidence : float
        Confidence level in (0, 1) [1]; 0.9 means "delivered at least this well in 90 % of
        scenarios".
    pools : numpy.ndarray, optional
        Pool order.

    Returns
    -------
    numpy.ndarray
        Reliability per pool in [0, 1] (NaN without any data) [1].
    """
    r = delivery_ratios(outcomes, pools)
    if r.shape[1] == 0:
        return np.zeros(0)
    out = np.full(r.shape[1], np.nan)
    for p in range(r.shape[1]):
        v = r[:, p][np.isfinite(r[:, p])]
        if v.size:
            out[p] = float(np.quantile(v, 1.0 - confidence, method=RELIABILITY_QUANTILE))
    return out


def flex_price(capacity_value: np.ndarray, reliability_: np.ndarray,
               pool_region: np.ndarray) -> np.ndarray:
    """Value of a committed kW per pool and year [$/kW-yr].

    Parameters
    ----------
    capacity_value : numpy.ndarray
        Marginal capacity value per region and year [$/kW-yr].
    reliability_ : numpy.ndarray
        Reliability per pool [1].
    pool_region : numpy.ndarray
        Region position of each pool.

    Returns
    -------
    numpy.ndarray
        ``capacity_value[region(p), y] × reliability[p]``, shape (pool, year) [$/kW-yr].
    """
    cv = np.asarray(capacity_value, dtype=float)
    if len(pool_region) == 0:
        return np.zeros((0, cv.shape[1]))
    return cv[np.asarray(pool_region)] * np.asarray(reliability_, dtype=float)[:, None]


def alternative_cost(d: Any, lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest accredited new-build kW online by each year, and which technology it is.

    Parameters
    ----------
    d : gridcap.optimizer.planning.siting.PlanData
        Aligned model data (technology costs, CRF, profiles, capacity factors, years).
    lags : numpy.ndarray
        Order-to-online lag per region and technology [yr].

    Returns
    -------
    cost : numpy.ndarray
        Shape (region, year) [$/kW-yr]; NaN where nothing can be online in time.
    tech : numpy.ndarray
        Technology label (``""`` where none), shape (region, year).
    """
    R, Y, K = d.regions.size, d.years.size, d.techs.size
    cost = np.full((R, Y), np.nan)
    tech = np.full((R, Y), "", dtype=object)
    if K == 0:
        return cost, tech.astype(str)
    first_idx = d.first_year - d.years[0]
    earliest = np.maximum(lags, first_idx[None, :])                    # [R,K]
    annual = d.crf * d.capex + d.fom                                    # [K] $/kW-yr
    hpk = np.argmax(d.peak, axis=3)                                     # [W,R,Y]
    W = d.peak.shape[0]
    wi, ri, _yi = np.meshgrid(np.arange(W), np.arange(R), np.arange(Y), indexing="ij")
    sol = d.solar_cf_peak[wi, ri, hpk].mean(axis=0)                     # [R,Y]
    wnd = d.wind_cf_peak[wi, ri, hpk].mean(axis=0)
    acc = np.empty((R, K, Y))
    for k in range(K):
        prof = d.profile[k]
        acc[:, k, :] = sol if prof == "solar" else wnd if prof == "wind" else d.availability[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_acc = np.where(acc > 0, annual[None, :, None] / acc, np.inf)
    ok = earliest[:, :, None] <= np.arange(Y)[None, None, :]
    per_acc = np.where(ok, per_acc, np.inf)
    best = np.argmin(per_acc, axis=1)                                   # [R,Y]
    val = np.take_along_axis(per_acc, best[:, None, :], axis=1)[:, 0, :]
    finite = np.isfinite(val)
    cost[finite] = val[finite]
    tech[finite] = d.techs[best[finite]]
    return cost, tech.astype(str)
