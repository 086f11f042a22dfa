"""Curtailment-enabled headroom: how much constant new load a system absorbs if it may curtail.

The method of Norris et al. (2025), "Rethinking Load Growth" (Duke University, Nicholas
Institute), §"Analysis of curtailment-enabled headroom" and Appendix C, on any hourly demand
series (historical EIA-930 balancing-authority demand, or the Monte Carlo's load years):

1. **Seasonal peak thresholds** [MW]: the maximum summer peak (June–August) and the maximum
   winter peak (December–February) over *all* years of the data; where a system's seasonal
   peak falls within one month of those windows the paper uses it (footnote 20), which is the
   maximum over May–September and November–March (``peak_window_months=1``). The summer
   threshold caps April–October, the winter threshold November–March.
2. **Curtailment** of a constant new load ``L`` [MW] in hour *t*:
   ``max(0, demand_t + L − threshold_t)`` [MWh].
3. **Curtailment rate** of year *y*: curtailed MWh over the new load's maximum potential
   energy ``L · 8,760`` [MWh]; the rates are **averaged over the years** (not pooled).
4. **Headroom**: the ``L`` at which the average rate equals the limit (0.25, 0.5, 1 or 5 %),
   found in the paper by goal seek (``scipy.optimize.root_scalar``); here the same root is
   found exactly (see :func:`headroom`, Notes).
5. **Metrics at the headroom**: hours of curtailment per year, mean duration of a curtailment
   event (a run of consecutive curtailed hours), and the share of curtailment hours in which
   at least 50 / 75 / 90 % of the new load keeps running.

Pure numpy, vectorised over regions and limits; no application-layer imports.

References
----------
Norris, T. H., T. Profeta, D. Patino-Echeverri and A. Cowie-Haskell (2025). *Rethinking Load
Growth: Assessing the Potential for Integration of Large Flexible Loads in US Power Systems.*
NI R 25-01, Nicholas Institute for Energy, Environment & Sustainability, Duke University,
11 February 2025. https://nicholasinstitute.duke.edu/publications/rethinking-load-growth ,
https://hdl.handle.net/10161/32077 (retrieved 2026-12-03).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridcap.errors import GridcapInputError

__all__ = [
    "DUKE_2025",
    "KEEP_RUNNING_SHARES",
    "HeadroomResult",
    "curtailment_rate",
    "headroom",
    "headroom_by_year",
    "seasonal_thresholds",
]

#: The published method's parameters (Norris et al. 2025, "Data and Method", footnotes 20-21,
#: Appendix C). Months are calendar months 1-12 of the hour's local time.
DUKE_2025: dict[str, Any] = {
    # months whose maximum demand is the season's peak threshold [MW]
    "summer_peak_months": (6, 7, 8),
    "winter_peak_months": (12, 1, 2),
    # months to which each threshold applies (shoulder months take the nearer season's)
    "summer_applies_to": (4, 5, 6, 7, 8, 9, 10),
    "winter_applies_to": (11, 12, 1, 2, 3),
    # footnote 20: a seasonal peak within one month of the window counts as the season's peak
    "peak_window_months": 1,
    # Appendix C: the new load's maximum potential annual energy is L · 8,760 h
    "hours_per_year": 8760.0,
    # limits studied [% of the new load's maximum potential annual energy]
    "limits_pct": (0.25, 0.5, 1.0, 5.0),
    "source": "Norris et al. (2025), Rethinking Load Growth, Nicholas Institute, Duke "
              "University, NI R 25-01, https://hdl.handle.net/10161/32077",
}

#: Shares of the new load still running in a curtailment hour that the paper reports [1].
KEEP_RUNNING_SHARES: tuple[float, ...] = (0.5, 0.75, 0.9)


@dataclass(frozen=True)
class HeadroomResult:
    """Headroom and curtailment metrics per region and limit (arrays of shape (R, K)).

    Attributes
    ----------
    limits_pct : numpy.ndarray
        Curtailment limits [% of the new load's maximum potential annual energy], shape (K,).
    headroom_mw : numpy.ndarray
        Largest constant new load [MW] whose year-averaged curtailment rate stays within the
        limit; ``inf`` if no load reaches it.
    curtailment_rate_pct : numpy.ndarray
        Year-averaged curtailment rate at the headroom [%] (equals the limit up to rounding
        unless the headroom is 0 or infinite).
    curtailed_mwh_per_year : numpy.ndarray
        Mean over years of the new load's curtailed energy [MWh/yr].
    curtailed_hours_per_year : numpy.ndarray
        Mean over years of the hours with any curtailment [h/yr].
    mean_event_duration_h : numpy.ndarray
        Mean length of a curtailment event, a run of consecutive curtailed hours within one
        year [h]; NaN where no hour is curtailed.
    share_hours_keep_running : numpy.ndarray
        Shape (R, K, len(keep_running)): share of curtailment hours in which at least that
        share of the new load keeps running [1]; NaN where no hour is curtailed.
    keep_running : numpy.ndarray
        The shares of the last axis above [1] (0.5, 0.75, 0.9).
    season_share_hours : numpy.ndarray
        Shape (R, K, 3): share of curtailment hours in winter (Dec–Feb), summer (Jun–Aug)
        and the shoulder months [1]; NaN where no hour is curtailed.
    threshold_summer_mw, threshold_winter_mw : numpy.ndarray
        Seasonal peak thresholds [MW], shape (R,).
    peak_mw : numpy.ndarray
        Maximum demand over the data [MW], shape (R,).
    n_years : int
        Number of years averaged.
    """

    limits_pct: np.ndarray
    headroom_mw: np.ndarray
    curtailment_rate_pct: np.ndarray
    curtailed_mwh_per_year: np.ndarray
    curtailed_hours_per_year: np.ndarray
    mean_event_duration_h: np.ndarray
    share_hours_keep_running: np.ndarray
    keep_running: np.ndarray
    season_share_hours: np.ndarray
    threshold_summer_mw: np.ndarray
    threshold_winter_mw: np.ndarray
    peak_mw: np.ndarray
    n_years: int


# ---------------------------------------------------------------------------------------------
# input checks


def _as_demand(demand: Any) -> np.ndarray:
    d = np.asarray(demand, dtype=np.float64)
    if d.ndim == 1:
        d = d[None, :]
    if d.ndim != 2 or d.shape[1] == 0:
        raise GridcapInputError(f"demand: shape {np.shape(demand)}; expected (hours,) or "
                                "(regions, hours) with at least one hour [MW]")
    bad = ~np.isfinite(d)
    if bad.any():
        r, t = np.argwhere(bad)[0]
        raise GridcapInputError(
            f"demand: {int(bad.sum())} missing or non-finite value(s), first at region row "
            f"{int(r)}, hour {int(t)} (value {d[r, t]}); expected finite MW in every hour "
            "(fill or drop gaps first, e.g. read_eia930(..., max_gap_hours=N))")
    return d


def _as_labels(name: str, values: Any, n: int) -> np.ndarray:
    a = np.asarray(values)
    if a.shape != (n,):
        raise GridcapInputError(f"{name}: shape {a.shape}; expected ({n},), one label per hour")
    if not np.issubdtype(a.dtype, np.integer):
        raise GridcapInputError(f"{name}: dtype {a.dtype}; expected integers")
    return a.astype(np.int64)


def _check_months(month: np.ndarray) -> None:
    if month.min() < 1 or month.max() > 12:
        bad = month[(month < 1) | (month > 12)][0]
        raise GridcapInputError(f"month: value {int(bad)}; expected calendar months 1-12")


def _as_limits(limits_pct: Any) -> np.ndarray:
    lim = np.atleast_1d(np.asarray(limits_pct, dtype=np.float64))
    bad = ~((lim > 0.0) & (lim < 100.0))
    if lim.ndim != 1 or lim.size == 0 or bad.any():
        raise GridcapInputError(
            f"curtailment limits {list(np.atleast_1d(limits_pct))}: expected one or more "
            "percentages of the new load's annual energy in (0, 100), e.g. 0.25,0.5,1,5")
    return lim


def _months_around(months: Sequence[int], window: int) -> set[int]:
    out: set[int] = set()
    for m in months:
        for k in range(-window, window + 1):
            out.add((m - 1 + k) % 12 + 1)
    return out


# ---------------------------------------------------------------------------------------------
# thresholds


def seasonal_thresholds(
    demand: Any, month: Any, *, method: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seasonal peak thresholds and the threshold that applies in each hour.

    Parameters
    ----------
    demand : array_like
        Hourly demand [MW], shape (hours,) or (regions, hours), all years together.
    month : array_like of int
        Calendar month 1-12 of each hour (local time), shape (hours,).
    method : dict, optional
        Overrides of :data:`DUKE_2025` (``summer_peak_months``, ``winter_peak_months``,
        ``summer_applies_to``, ``winter_applies_to``, ``peak_window_months``).

    Returns
    -------
    summer, winter : numpy.ndarray
        Thresholds per region [MW], shape (R,): maximum demand over the summer (winter) peak
        months widened by ``peak_window_months`` on each side, over all years.
    per_hour : numpy.ndarray
        The threshold applying in each hour [MW], shape (R, hours).

    Notes
    -----
    For data shorter than a year with no hour in a season's peak months (short simulated
    years), that season's threshold is the maximum over the months it applies to, or NaN if
    there are none (it then caps no hour).

    Raises
    ------
    GridcapInputError
        A month covered by neither or both thresholds, or non-finite demand.
    """
    d = _as_demand(demand)
    mon = _as_labels("month", month, d.shape[1])
    _check_months(mon)
    m = {**DUKE_2025, **(method or {})}
    window = int(m["peak_window_months"])
    summer_m, winter_m = _applies(mon, m)
    thr = {}
    for season, applies in (("summer", summer_m), ("winter", winter_m)):
        months = _months_around(m[f"{season}_peak_months"], window)
        mask = np.isin(mon, sorted(months))
        if not mask.any():  # data shorter than a year: the months the threshold caps
            mask = applies
        thr[season] = d[:, mask].max(axis=1) if mask.any() else np.full(d.shape[0], np.nan)
    per_hour = _per_hour(thr["summer"], thr["winter"], summer_m)
    return thr["summer"], thr["winter"], per_hour


def _applies(mon: np.ndarray, m: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the hours the summer and the winter threshold apply to."""
    summer_m = np.isin(mon, list(m["summer_applies_to"]))
    winter_m = np.isin(mon, list(m["winter_applies_to"]))
    if (summer_m & winter_m).any() or not (summer_m | winter_m).all():
        raise GridcapInputError(
            f"method: summer_applies_to {m['summer_applies_to']} and winter_applies_to "
            f"{m['winter_applies_to']} must cover each month of the data exactly once")
    return summer_m, winter_m


def _per_hour(summer: np.ndarray, winter: np.ndarray, summer_m: np.ndarray) -> np.ndarray:
    return np.where(summer_m[None, :], summer[:, None], winter[:, None])


def _year_weights(year: np.ndarray, hours_per_year: float | None) -> tuple[np.ndarray, int]:
    """Weight of each hour in the year-averaged rate: 1 / (N · H_y) [1/h]."""
    labels, inverse, counts = np.unique(year, return_inverse=True, return_counts=True)
    n_years = labels.size
    h = counts.astype(np.float64) if hours_per_year is None else np.full(n_years,
                                                                         float(hours_per_year))
    if hours_per_year is not None and not hours_per_year > 0:
        raise GridcapInputError(f"hours_per_year = {hours_per_year}: expected > 0 [h]")
    return 1.0 / (n_years * h[inverse]), n_years


# ---------------------------------------------------------------------------------------------
# the rate and its root


def curtailment_rate(
    demand: Any, threshold: Any, year: Any, load_mw: Any, *, hours_per_year: float | None = 8760.0,
) -> np.ndarray:
    """Year-averaged curtailment rate of constant new loads (the paper's goal-seek function).

    Parameters
    ----------
    demand : array_like
        Hourly demand [MW], shape (hours,) or (R, hours).
    threshold : array_like
        Threshold applying in each hour [MW], broadcastable to the demand (see
        :func:`seasonal_thresholds`).
    year : array_like of int
        Year label of each hour, shape (hours,).
    load_mw : array_like
        Constant new loads [MW], shape (L,), each > 0.
    hours_per_year : float or None, default 8760
        Hours of the new load's maximum potential annual energy [h]; ``None`` counts the hours
        of each year present in the data (for simulated years shorter than a calendar year).

    Returns
    -------
    numpy.ndarray
        Rate [% of the new load's maximum potential annual energy], shape (R, L).

    Notes
    -----
    With slack :math:`s_t = \\max(0, \\mathrm{threshold}_t - \\mathrm{demand}_t)`,

    .. math:: r(L) = \\frac{100}{N}\\sum_y \\frac{\\sum_{t \\in y} \\min(L, \\max(0, L - s_t))}
              {L\\, H_y}.

    The ``min(L, ·)`` only matters in an hour where demand already exceeds its threshold (a
    shoulder-month hour above the season's peak); the new load is then curtailed fully, not
    by more than itself. Elsewhere it equals the paper's ``max(0, demand + L − threshold)``.
    """
    d = _as_demand(demand)
    yr = _as_labels("year", year, d.shape[1])
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), d.shape)
    loads = np.atleast_1d(np.asarray(load_mw, dtype=np.float64))
    if (loads <= 0).any() or not np.isfinite(loads).all():
        raise GridcapInputError(f"load_mw: {loads.tolist()}; expected finite loads > 0 [MW]")
    w, _ = _year_weights(yr, hours_per_year)
    slack = np.maximum(thr - d, 0.0)
    out = np.empty((d.shape[0], loads.size))
    for j, load in enumerate(loads):  # one vectorised pass per load level
        out[:, j] = (np.maximum(load - slack, 0.0) * w).sum(axis=1) / load
    return 100.0 * out


def _solve_rows(slack: np.ndarray, w: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Largest L with Σ_t w_t max(0, 1 − s_t/L) ≤ limit, per row; exact, shape (R, K).

    Sorting the slacks makes the rate piecewise of the form ``W_k − S_k / L`` between
    consecutive slacks; the segment holding the root is found by a binary search over the
    (monotone) rates at the breakpoints, and the root inside it in closed form.
    """
    order = np.argsort(slack, axis=1, kind="stable")
    s = np.take_along_axis(slack, order, axis=1)
    ws = w[order]
    cw = np.cumsum(ws, axis=1)
    cs = np.cumsum(ws * s, axis=1)
    n_r = s.shape[0]
    zero = np.zeros((n_r, 1))
    w_before = np.concatenate([zero, cw[:, :-1]], axis=1)  # W over hours sorted before t
    s_before = np.concatenate([zero, cs[:, :-1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_at = np.where(s > 0.0, w_before - s_before / np.where(s > 0.0, s, 1.0), 0.0)
    rate_at = np.maximum.accumulate(rate_at, axis=1)  # monotone despite rounding
    out = np.empty((n_r, limits.size))
    for r in range(n_r):  # loop over regions only; each solve is a vectorised search
        m = np.searchsorted(rate_at[r], limits, side="right")  # breakpoints with rate ≤ limit
        wm = np.where(m > 0, cw[r, np.maximum(m - 1, 0)], 0.0)
        sm = np.where(m > 0, cs[r, np.maximum(m - 1, 0)], 0.0)
        with np.errstate(divide="ignore"):
            root = np.where(wm > limits, sm / np.where(wm > limits, wm - limits, 1.0), np.inf)
        out[r] = root
    return out


#: Curtailment below this share of the load [1] is the root's rounding, not a curtailed hour.
_ROUNDING = 1e-9


def _events(curtailed: np.ndarray, year: np.ndarray) -> np.ndarray:
    """Number of runs of consecutive curtailed hours (runs never cross a year) along axis −1."""
    prev = np.zeros_like(curtailed)
    prev[..., 1:] = curtailed[..., :-1]
    same_year = np.ones(year.shape, dtype=bool)
    same_year[1:] = year[1:] == year[:-1]
    same_year[0] = False
    starts = curtailed & ~(prev & same_year)
    return starts.sum(axis=-1)


def _metrics(slack: np.ndarray, month: np.ndarray, year: np.ndarray, w: np.ndarray,
             n_years: int, load: np.ndarray, keep: np.ndarray) -> dict[str, np.ndarray]:
    """Curtailment metrics at given loads; slack (R, T), load (R, K) -> arrays (R, K[, ·])."""
    finite = np.where(np.isfinite(load), load, 0.0)
    c = np.maximum(finite[:, :, None] - slack[:, None, :], 0.0)  # (R, K, T) [MWh]
    on = c > _ROUNDING * finite[:, :, None]  # the root's rounding is no curtailment hour
    hours = on.sum(axis=-1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(finite > 0, 100.0 * (c * w).sum(axis=-1) / finite, 0.0)
        n_ev = _events(on, year)
        dur = np.where(hours > 0, hours / np.where(n_ev > 0, n_ev, 1), np.nan)
        keep_sh = np.stack(
            [(on & (c <= (1.0 - q) * finite[:, :, None] + 1e-12 * finite[:, :, None]))
             .sum(axis=-1) / hours for q in keep], axis=-1)
        seasons = [np.isin(month, [12, 1, 2]), np.isin(month, [6, 7, 8])]
        seasons.append(~(seasons[0] | seasons[1]))
        season_sh = np.stack([(on & s).sum(axis=-1) / hours for s in seasons], axis=-1)
    inf = ~np.isfinite(load)
    for a in (rate, dur):
        a[inf] = np.nan
    return {"rate": np.where(inf, np.nan, rate), "mwh": c.sum(axis=-1) / n_years,
            "hours": hours / n_years, "duration": dur, "keep": keep_sh, "season": season_sh}


def headroom(
    demand: Any,
    month: Any,
    year: Any,
    limits_pct: Any = DUKE_2025["limits_pct"],
    *,
    thresholds: tuple[Any, Any] | None = None,
    hours_per_year: float | None = DUKE_2025["hours_per_year"],
    method: dict[str, Any] | None = None,
    keep_running: Sequence[float] = KEEP_RUNNING_SHARES,
) -> HeadroomResult:
    """Curtailment-enabled headroom per region (Norris et al. 2025).

    Parameters
    ----------
    demand : array_like
        Hourly demand [MW], shape (hours,) or (regions, hours): every hour of every year, in
        time order, no gaps (consecutive hours of one year form curtailment events).
    month : array_like of int
        Calendar month 1-12 of each hour (local time), shape (hours,).
    year : array_like of int
        Year of each hour, shape (hours,); rates are computed per year and averaged.
    limits_pct : array_like, default (0.25, 0.5, 1, 5)
        Curtailment limits [% of the new load's maximum potential annual energy], each in
        (0, 100).
    thresholds : (summer, winter), optional
        Seasonal peak thresholds per region [MW], shape (R,) each; default: from this demand
        by :func:`seasonal_thresholds` (the paper's definition).
    hours_per_year : float or None, default 8760
        Hours in the denominator ``L · H`` [h] (the paper's 8,760); ``None`` uses the number
        of hours of each year present (simulated years shorter than a calendar year).
    method : dict, optional
        Overrides of :data:`DUKE_2025` for the seasons.
    keep_running : sequence of float, default (0.5, 0.75, 0.9)
        Shares of the new load [1] for ``share_hours_keep_running``.

    Returns
    -------
    HeadroomResult
        Headroom [MW] and the curtailment metrics at it, per region and limit.

    Notes
    -----
    The headroom is the root of the paper's goal-seek equation (Appendix C)

    .. math:: \\frac{1}{N}\\sum_{y=1}^{N}\\frac{\\sum_{t\\in T_y}\\max(0, D_t + L -
              \\mathrm{Thr}_t)}{L \\cdot 8760} - \\mathrm{CurtailLimit} = 0 .

    The paper solves it with ``scipy.optimize.root_scalar``. Since the left side is
    ``Σ_t w_t max(0, 1 − s_t/L)`` (slack ``s_t = Thr_t − D_t``, weight ``w_t = 1/(N·8760)``),
    it is ``W_k − S_k/L`` between consecutive sorted slacks and non-decreasing in ``L``: the
    root is found exactly, by a binary search over the sorted slacks and a closed form in the
    segment, in O(T log T) per region. The root is unique where the rate is increasing; if the
    rate already exceeds the limit for an infinitesimal load (demand at the threshold in too
    many hours) the headroom is 0.

    References
    ----------
    Norris, T. H., T. Profeta, D. Patino-Echeverri and A. Cowie-Haskell (2025). Rethinking
    Load Growth: Assessing the Potential for Integration of Large Flexible Loads in US Power
    Systems. NI R 25-01, Nicholas Institute, Duke University.
    https://hdl.handle.net/10161/32077

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2 * 8760)
    >>> month = (t % 8760) // 730 + 1
    >>> demand = 1000.0 + 100.0 * np.cos(2 * np.pi * t / 24)
    >>> res = headroom(demand, month, t // 8760, [1.0])
    >>> float(res.headroom_mw[0, 0]) > 0
    True
    """
    d = _as_demand(demand)
    n_t = d.shape[1]
    mon = _as_labels("month", month, n_t)
    _check_months(mon)
    yr = _as_labels("year", year, n_t)
    lim = _as_limits(limits_pct)
    keep = np.asarray(keep_running, dtype=np.float64)
    if thresholds is None:
        thr_s, thr_w, per_hour = seasonal_thresholds(d, mon, method=method)
    else:
        thr_s, thr_w = (np.broadcast_to(np.asarray(x, np.float64), (d.shape[0],)).copy()
                        for x in thresholds)
        summer_m, _ = _applies(mon, {**DUKE_2025, **(method or {})})
        per_hour = _per_hour(thr_s, thr_w, summer_m)
    w, n_years = _year_weights(yr, hours_per_year)
    slack = np.maximum(per_hour - d, 0.0)
    load = _solve_rows(slack, w, lim / 100.0)
    met = _metrics(slack, mon, yr, w, n_years, load, keep)
    return HeadroomResult(
        limits_pct=lim, headroom_mw=load, curtailment_rate_pct=met["rate"],
        curtailed_mwh_per_year=met["mwh"], curtailed_hours_per_year=met["hours"],
        mean_event_duration_h=met["duration"], share_hours_keep_running=met["keep"],
        keep_running=keep, season_share_hours=met["season"], threshold_summer_mw=thr_s,
        threshold_winter_mw=thr_w, peak_mw=d.max(axis=1), n_years=n_years,
    )


def headroom_by_year(
    demand: Any,
    month: Any,
    year: Any,
    limits_pct: Any = DUKE_2025["limits_pct"],
    *,
    hours_per_year: float | None = DUKE_2025["hours_per_year"],
    method: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, HeadroomResult]:
    """Headroom of each year alone, against thresholds set by all years together.

    The thresholds are the paper's (maximum seasonal peaks over all years); each year's
    headroom is the load whose curtailment rate *in that year* equals the limit. Over the
    Monte Carlo's simulated load years this gives a distribution of headroom (P10/P50/P90).

    Parameters
    ----------
    demand, month, year, limits_pct, hours_per_year, method
        As in :func:`headroom`.

    Returns
    -------
    years : numpy.ndarray
        Year labels, shape (Y,).
    headroom_mw : numpy.ndarray
        Headroom of each year [MW], shape (R, Y, K).
    pooled : HeadroomResult
        The paper's headroom over all years (rates averaged over years).
    """
    pooled = headroom(demand, month, year, limits_pct, hours_per_year=hours_per_year,
                      method=method)
    d = _as_demand(demand)
    mon = np.asarray(month, dtype=np.int64)
    yr = np.asarray(year, dtype=np.int64)
    labels = np.unique(yr)
    out = np.empty((d.shape[0], labels.size, pooled.limits_pct.size))
    thr = (pooled.threshold_summer_mw, pooled.threshold_winter_mw)
    for i, y in enumerate(labels):  # loop over years; each solve is vectorised over hours
        sel = yr == y
        out[:, i, :] = headroom(d[:, sel], mon[sel], yr[sel], pooled.limits_pct,
                                thresholds=thr, hours_per_year=hours_per_year,
                                method=method).headroom_mw
    return labels, out, pooled
