"""Flexibility events and the optimizer's time slices.

Events are called per (scenario, region) from the drivers, before DER dispatch (the
aggregator calls them from its forecast, which is what a real programme does): an hour is
*critical* when the forecast regional net load (load minus the fleet's expected PV at the
regional cloud index) reaches its :data:`EVENTS` ``net_load_quantile`` over the simulated
year, or the price reaches its ``price_quantile``. At most one event per day: it starts at
the day's first critical hour and lasts while hours stay critical, at most ``max_hours``.
Events are numbered chronologically; at most :data:`MAX_EVENTS` per region-year (later ones
are dropped). Batteries of committed DERs hold a reserve (charge to full) during the
``notice_hours`` before an event starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "ARBITRAGE",
    "DAY_BLOCKS",
    "EVENTS",
    "MAX_EVENTS",
    "SEASONS",
    "SLICE_NAMES",
    "event_thresholds",
    "find_events",
    "order_statistic",
    "slice_of_hour",
]

#: Event rules: quantiles [1] of forecast net load and price over the year, maximum length
#: [h], notice window for the battery reserve [h].
EVENTS: dict[str, float] = {
    "net_load_quantile": 0.997, "price_quantile": 0.999, "max_hours": 4, "notice_hours": 6,
}
#: Maximum number of events per region and simulated year [1]; the ``event`` dimension of
#: the outcomes always has this length (NaN / -1 padded), so scenario batches concatenate.
MAX_EVENTS = 40
#: Arbitrage thresholds as price quantiles over the year [1]: batteries charge at or below
#: ``low`` and discharge at or above ``high``.
ARBITRAGE: dict[str, float] = {"low": 0.25, "high": 0.85}

#: Seasons by calendar month (1-12) of a 365-day year.
SEASONS: dict[str, tuple[int, ...]] = {
    "winter": (12, 1, 2), "spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11),
}
#: Daily blocks by local standard hour of day: (first hour, last hour + 1).
DAY_BLOCKS: dict[str, tuple[int, int]] = {
    "night": (0, 7), "day": (7, 16), "evening": (16, 24),
}
#: Slice names ``"{season}-{block}"``, 4 seasons × 3 blocks = 12 slices.
SLICE_NAMES: tuple[str, ...] = tuple(f"{s}-{b}" for s in SEASONS for b in DAY_BLOCKS)

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def slice_of_hour(hours: int = 8760) -> np.ndarray:
    """Slice index of each hour of the year.

    Parameters
    ----------
    hours : int
        Hours from 1 January 00:00 local standard time [h], ≤ 8760.

    Returns
    -------
    numpy.ndarray of int64
        Shape (hours,), index into :data:`SLICE_NAMES`.
    """
    month = np.repeat(np.arange(1, 13), _MONTH_DAYS)  # (365,)
    season_of_month = {m: i for i, ms in enumerate(SEASONS.values()) for m in ms}
    season = np.array([season_of_month[int(m)] for m in month])
    block_of_hour = np.empty(24, dtype=np.int64)
    for i, (a, b) in enumerate(DAY_BLOCKS.values()):
        block_of_hour[a:b] = i
    t = np.arange(hours)
    return season[t // 24] * len(DAY_BLOCKS) + block_of_hour[t % 24]


def order_statistic(xp, x, q: float):
    """Empirical quantile along the last axis as an order statistic (no interpolation).

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    x : array
        Values, shape (..., T) [any unit].
    q : float
        Quantile [1] in [0, 1].

    Returns
    -------
    array
        ``sort(x)[..., floor(q (T - 1))]``, shape (...) [unit of x].
    """
    return _kth(xp, x, _order_rank(x.shape[-1], q))


def _top_share_threshold(xp, x, share: float):
    """The n-th largest value along the last axis, n = max(1, round(share · T)).

    The critical hours are then the same share of the simulated hours whatever T is, so a
    run on representative periods calls as many event hours per year (after weighting) as a
    full year (an order statistic at ``floor(q (T - 1))`` would call ``(1 - q)(T - 1) + 1``
    or more hours: 28 instead of 26 at q = 0.997 over 8,760 h, but 4 instead of 2 over 672 h).
    """
    return _kth(xp, x, _top_share_rank(x.shape[-1], share))


def _top_share_rank(n_t: int, share: float) -> int:
    return n_t - max(1, round(share * n_t))


def _order_rank(n_t: int, q: float) -> int:
    return int(np.floor(q * (n_t - 1)))


def event_thresholds(xp, forecast_net_load, price) -> dict[str, Any]:
    """The order statistics a batch needs: event thresholds and arbitrage prices.

    The three price statistics come from one partition at all three ranks (an order statistic
    is a unique value, so this equals three separate selections).

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    forecast_net_load, price : array
        (S, R, T) forecast net load [MW] and price [$/MWh].

    Returns
    -------
    dict of (S, R) arrays
        ``net_load`` and ``price``: the critical-hour thresholds of :func:`find_events`
        [MW], [$/MWh]; ``p_lo`` / ``p_hi``: :func:`order_statistic` of the price at
        :data:`ARBITRAGE` ``low`` / ``high`` [$/MWh].
    """
    n_t = price.shape[-1]
    k_f = _top_share_rank(n_t, 1.0 - EVENTS["net_load_quantile"])
    k_p = (_top_share_rank(n_t, 1.0 - EVENTS["price_quantile"]),
           _order_rank(n_t, ARBITRAGE["low"]), _order_rank(n_t, ARBITRAGE["high"]))
    part = xp.partition(price, sorted(set(k_p)), axis=-1)
    out = {"net_load": _kth(xp, forecast_net_load, k_f)}
    for name, k in zip(("price", "p_lo", "p_hi"), k_p, strict=True):
        out[name] = xp.ascontiguousarray(part[..., k])
    return out


def _kth(xp, x, k: int):
    return xp.ascontiguousarray(xp.partition(x, k, axis=-1)[..., k])


def find_events(xp, forecast_net_load, price, thresholds: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """Flexibility events per (scenario, region).

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    forecast_net_load : array
        Forecast regional net load, shape (S, R, T) [MW]; T a multiple of 24.
    price : array
        Hourly price, shape (S, R, T) [$/MWh].
    thresholds : dict, optional
        :func:`event_thresholds` of these arrays (computed here when omitted).

    Returns
    -------
    dict
        ``event_id`` (S, R, T) int32, event number of the hour or -1; ``in_event`` and
        ``pre_event`` (S, R, T) bool; ``event_hour`` (S, R, MAX_EVENTS) int64, start hour of
        year or -1; ``event_len`` (S, R, MAX_EVENTS) int64 [h], 0 for padding.
    """
    n_s, n_r, n_t = forecast_net_load.shape
    n_d = n_t // 24
    if thresholds is None:
        thr_f = _top_share_threshold(xp, forecast_net_load, 1.0 - EVENTS["net_load_quantile"])
        thr_p = _top_share_threshold(xp, price, 1.0 - EVENTS["price_quantile"])
    else:
        thr_f, thr_p = thresholds["net_load"], thresholds["price"]
    crit = (forecast_net_load >= thr_f[..., None]) | (price >= thr_p[..., None])
    crit = crit.reshape(n_s, n_r, n_d, 24)
    has = crit.any(axis=-1)
    h0 = xp.argmax(crit, axis=-1)  # first critical hour of the day
    length = xp.zeros((n_s, n_r, n_d), dtype=xp.int64)
    going = has.copy()
    max_h = int(EVENTS["max_hours"])
    for k in range(max_h):
        hk = h0 + k
        ok = hk < 24
        val = xp.take_along_axis(crit, xp.minimum(hk, 23)[..., None], axis=-1)[..., 0]
        going = going & ok & val
        length += going
    number = xp.cumsum(has, axis=-1) - 1
    keep = has & (number < MAX_EVENTS)
    hod = xp.arange(24)
    in_ev = keep[..., None] & (hod >= h0[..., None]) & (hod < (h0 + length)[..., None])
    pre = (keep[..., None] & (hod < h0[..., None])
           & (hod >= (h0 - int(EVENTS["notice_hours"]))[..., None]))
    event_id = xp.where(in_ev, number[..., None], -1).astype(xp.int32).reshape(n_s, n_r, n_t)
    event_hour = xp.full((n_s, n_r, MAX_EVENTS), -1, dtype=xp.int64)
    event_len = xp.zeros((n_s, n_r, MAX_EVENTS), dtype=xp.int64)
    s_i, r_i, d_i = xp.nonzero(keep)
    num = number[s_i, r_i, d_i]
    event_hour[s_i, r_i, num] = d_i * 24 + h0[s_i, r_i, d_i]
    event_len[s_i, r_i, num] = length[s_i, r_i, d_i]
    return {
        "event_id": event_id, "in_event": in_ev.reshape(n_s, n_r, n_t),
        "pre_event": pre.reshape(n_s, n_r, n_t), "event_hour": event_hour,
        "event_len": event_len,
    }
