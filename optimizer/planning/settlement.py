"""Proof-of-flexibility settlement: pay for what was delivered, penalize shortfall.

For every flexibility event e of pool p in scenario w, with committed kW ``c`` and delivered
kW ``d`` measured by the Monte Carlo (or, in operation, by meters):

.. math::

    \\text{paid} = \\min(\\max(d, 0), c), \\qquad \\text{shortfall} = \\max(c - d, 0),

    \\text{payment} = \\pi_e\\,\\text{paid}, \\qquad
    \\text{penalty} = m\\,\\pi_e\\,\\text{shortfall}, \\qquad
    \\text{net} = \\text{payment} − \\text{penalty},

with the per-event price ``π_e`` = the pool's flexibility price [$/kW-yr] divided by its
expected number of events per year (mean over scenarios), so a pool that delivers in full on
every event earns its annual price, and ``m`` the penalty multiple. The ledger keeps every
event (per pool and scenario) and its per-pool totals; by construction
``Σ net = Σ payment − Σ penalty`` and ``paid + shortfall = committed`` for every event.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["ledger", "settle"]


def settle(committed_kw: np.ndarray, delivered_kw: np.ndarray, price_usd_per_kw_event: np.ndarray,
           penalty_multiple: float) -> dict[str, np.ndarray]:
    """Settle events elementwise (NaN events stay NaN in kW and count 0 in $).

    Parameters
    ----------
    committed_kw, delivered_kw : numpy.ndarray
        Committed and delivered flexibility per event [kW].
    price_usd_per_kw_event : numpy.ndarray
        Price per kW delivered in one event, broadcastable [$/kW].
    penalty_multiple : float
        Penalty per kW of shortfall as a multiple of the price [1].

    Returns
    -------
    dict of str to numpy.ndarray
        ``paid_kw``, ``shortfall_kw`` [kW]; ``payment_usd``, ``penalty_usd``, ``net_usd`` [$].

    Examples
    --------
    >>> out = settle(np.array([10.0]), np.array([7.0]), np.array([2.0]), 1.5)
    >>> float(out["payment_usd"][0]), float(out["penalty_usd"][0]), float(out["net_usd"][0])
    (14.0, 9.0, 5.0)
    """
    c = np.asarray(committed_kw, dtype=float)
    d = np.asarray(delivered_kw, dtype=float)
    price = np.asarray(price_usd_per_kw_event, dtype=float)
    valid = np.isfinite(c) & np.isfinite(d)
    paid = np.where(valid, np.minimum(np.maximum(d, 0.0), c), np.nan)
    short = np.where(valid, np.maximum(c - d, 0.0), np.nan)
    pr = np.where(np.isfinite(price), price, 0.0)
    payment = np.where(valid, pr * np.nan_to_num(paid), 0.0)
    penalty = np.where(valid, penalty_multiple * pr * np.nan_to_num(short), 0.0)
    return {"paid_kw": paid, "shortfall_kw": short, "payment_usd": payment,
            "penalty_usd": penalty, "net_usd": payment - penalty}


def ledger(outcomes: xr.Dataset, flex_price_usd_per_kw_yr: np.ndarray, *,
           pools: np.ndarray, penalty_multiple: float) -> xr.Dataset:
    """Per-event and per-pool settlement ledger over the Monte Carlo events.

    Parameters
    ----------
    outcomes : xarray.Dataset
        Monte Carlo outcomes with ``event_committed_kw`` and ``event_delivered_kw``
        (scenario, pool, event); without them the ledger is empty.
    flex_price_usd_per_kw_yr : numpy.ndarray
        Flexibility price per pool (one year) [$/kW-yr].
    pools : numpy.ndarray
        Pool labels matching the price.
    penalty_multiple : float
        Penalty multiple of the per-event price [1].

    Returns
    -------
    xarray.Dataset
        ``settlement_price_usd_per_kw_event`` (pool), ``settlement_events_per_year`` (pool),
        per event ``settlement_paid_kw``, ``settlement_shortfall_kw``,
        ``settlement_payment_usd``, ``settlement_penalty_usd``, ``settlement_net_usd``
        (scenario, pool, event), and per pool ``settlement_pool_payment_usd``,
        ``settlement_pool_penalty_usd``, ``settlement_pool_net_usd`` (scenario, pool).
    """
    if (len(pools) == 0 or "event_committed_kw" not in outcomes
            or "event_delivered_kw" not in outcomes):
        return xr.Dataset()
    o = outcomes.sel(pool=pools)
    c = o["event_committed_kw"].transpose("scenario", "pool", "event")
    dl = o["event_delivered_kw"].transpose("scenario", "pool", "event")
    cv = np.asarray(c.values, dtype=float)
    events = (np.isfinite(cv) & (cv > 0)).sum(axis=2)                     # [W,P]
    per_year = events.mean(axis=0)                                        # [P]
    price = np.asarray(flex_price_usd_per_kw_yr, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_event = np.where(per_year > 0, price / np.where(per_year > 0, per_year, 1.0), np.nan)
    out = settle(cv, np.asarray(dl.values, dtype=float), per_event[None, :, None],
                 penalty_multiple)
    dims = ("scenario", "pool", "event")
    coords = {k: c.coords[k] for k in dims if k in c.coords}
    ds = xr.Dataset(coords=coords)
    ds["settlement_price_usd_per_kw_event"] = xr.DataArray(
        per_event, dims=("pool",), attrs={"units": "$/kW", "long_name": "price per kW-event"})
    ds["settlement_events_per_year"] = xr.DataArray(
        per_year, dims=("pool",), attrs={"units": "1/yr", "long_name": "mean events per year"})
    units = {"paid_kw": "kW", "shortfall_kw": "kW", "payment_usd": "$", "penalty_usd": "$",
             "net_usd": "$"}
    for k, v in out.items():
        ds[f"settlement_{k}"] = xr.DataArray(v, dims=dims, attrs={"units": units[k]})
    for k in ("payment_usd", "penalty_usd", "net_usd"):
        ds[f"settlement_pool_{k}"] = xr.DataArray(
            out[k].sum(axis=2), dims=("scenario", "pool"),
            attrs={"units": "$", "long_name": f"per-pool {k[:-4]} over the year's events"})
    return ds
