"""Debt sizing: DSCR sculpting and risk-targeted sizing over Monte Carlo scenarios.

Conventions (project finance): annual periods, payments at the end of each year, the first
payment at the end of year 1; present values at the loan rate with the loan drawn at t = 0.

* :func:`size_debt` sculpts debt to a DSCR target on one CFADS path (debt service
  ``DS_t = CFADS_t / DSCR``, size = PV of ``DS``), senior first, then mezzanine against what
  is left (combined-DSCR convention: ``DS_mezz_t = CFADS_t / DSCR_mezz - DS_senior_t``).
* :func:`size_to_risk` finds the largest tranche whose probability of default (or expected
  loss) over all scenarios stays within a target, built on the planner's
  :class:`~gridcap.optimizer.planning.solver.ModelBuilder` and solved by HiGHS in memory:
  a chance-constrained MILP with big-M (``method="milp"``), its CVaR convex approximation as
  an LP (``method="cvar"``, Nemirovski & Shapiro 2006) or an expected-loss LP
  (``method="el"``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridcap.errors import GridcapInputError, ModelInfeasibleError
from gridcap.optimizer.planning.solver import (
    INF,
    HighsSolver,
    LinearProgram,
    ModelBuilder,
    paused_gc,
)


@dataclass
class DebtSchedule:
    """A sized, sculpted loan and its annual schedule.

    Attributes
    ----------
    tranche : str
        ``"senior"`` or ``"mezzanine"``.
    size_usd : float
        Loan amount drawn at t = 0 [$].
    rate : float
        Loan interest rate [1/yr].
    dscr : float
        DSCR the debt is sculpted to, after any gearing cap [1] (NaN for risk-sized debt
        with a free profile).
    tenor_years : int
        Number of annual payments [yr].
    debt_service_usd, interest_usd, principal_usd, balance_usd : numpy.ndarray, shape (T,)
        Debt service, interest, principal and closing balance per year [$].
    info : dict
        How the size was found (method, solver status, gap, binding constraint).
    """

    tranche: str
    size_usd: float
    rate: float
    dscr: float
    tenor_years: int
    debt_service_usd: np.ndarray
    interest_usd: np.ndarray
    principal_usd: np.ndarray
    balance_usd: np.ndarray
    info: dict = field(default_factory=dict)


def discount_factors(rate: float, periods: int) -> np.ndarray:
    """End-of-year discount factors ``1 / (1 + rate)^t`` for t = 1..periods [1]."""
    return (1.0 + rate) ** -np.arange(1, periods + 1, dtype=float)


def check_rate(rate: float, name: str) -> float:
    """Validate an annual rate in [0, 1) [1/yr]; raise naming ``name`` otherwise."""
    r = float(rate)
    if not np.isfinite(r) or r < 0 or r >= 1:
        raise GridcapInputError(f"{name} = {rate!r}: expected an annual rate in [0, 1)")
    return r


def check_positive(value: float, name: str) -> float:
    """Validate a finite value > 0; raise naming ``name`` otherwise."""
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise GridcapInputError(f"{name} = {value!r}: expected a value > 0")
    return v


def check_tenor(tenor: Any, horizon: int, name: str) -> int:
    """Validate a tenor as an integer in [1, horizon] [yr]."""
    if tenor is None:
        return horizon
    t = float(tenor)
    if not np.isfinite(t) or t != round(t) or t < 1 or t > horizon:
        shown = int(t) if np.isfinite(t) and t == round(t) else tenor
        raise GridcapInputError(
            f"{name} = {shown!r}: expected an integer number of years in [1, {horizon}] "
            f"(the CFADS horizon)"
        )
    return int(t)


def check_probability(value: float, name: str) -> float:
    """Validate a probability target in the open interval (0, 1)."""
    v = float(value)
    if not np.isfinite(v) or v <= 0 or v >= 1:
        raise GridcapInputError(f"{name} = {value!r}: expected a value in (0, 1)")
    return v


#: How the senior amortisation tenor is set: ``fixed`` (``tenor_years`` for the whole
#: project) or ``lease`` (each contracted site's CFADS counts for sizing only to the end of
#: its firm contract term; ``tenor_years`` is then a cap).
TENOR_BASES = ("fixed", "lease")


def firm_term_weights(firm_end_years: Any, periods: int) -> np.ndarray:
    """Share of each finance year inside a site's firm contract term [1].

    Parameters
    ----------
    firm_end_years : array_like, shape (K,)
        End of each site's firm (base) contract term, in years from financial close [yr]:
        rent commencement + initial term. ``inf`` for a site without a contract (no limit).
    periods : int
        Finance years T (year t covers ``[t-1, t)`` years from close, t = 1..T).

    Returns
    -------
    numpy.ndarray, shape (K, T)
        ``w_kt = clip(E_k - (t - 1), 0, 1)``: 1 for years wholly inside the firm term, the
        fraction of the year for the year it ends in, 0 after.

    Notes
    -----
    Lenders to contracted data centers size senior debt on the contracted cash flows:
    renewal options are the tenant's and a re-let is not contracted, so sizing CFADS is
    ``w_kt x CFADS_kt``; the waterfall still receives the whole CFADS. Sculpting the
    service to that CFADS amortises the notes over the lease, and a legal maturity before
    the lease end leaves a balloon refinanced against the rest of the lease (the deals
    table: 3-5-year notes and loans against 10-15-year leases).

    Examples
    --------
    >>> firm_term_weights([2.5, np.inf], 4).tolist()
    [[1.0, 1.0, 0.5, 0.0], [1.0, 1.0, 1.0, 1.0]]
    """
    e = np.asarray(firm_end_years, dtype=float).reshape(-1)
    if np.isnan(e).any() or (e < 0).any():
        raise GridcapInputError(
            f"firm_end_years = {e.tolist()}: expected years from close >= 0 (inf: no contract)"
        )
    t0 = np.arange(int(periods), dtype=float)[None, :]
    return np.clip(np.where(np.isinf(e), np.inf, e)[:, None] - t0, 0.0, 1.0)


def schedule_from_service(
    tranche: str,
    service: np.ndarray,
    rate: float,
    dscr: float,
    tenor: int,
    info: dict | None = None,
) -> DebtSchedule:
    """Build the loan schedule repaid exactly by ``service`` [$/yr] at ``rate`` [1/yr].

    Notes
    -----
    ``size = sum_t DS_t / (1 + r)^t``; ``interest_t = r B_{t-1}``;
    ``principal_t = DS_t - interest_t``; ``B_t = B_{t-1} - principal_t`` (so ``B_T = 0``).
    """
    service = np.asarray(service, dtype=float)
    size = float(service @ discount_factors(rate, len(service)))
    interest = np.zeros_like(service)
    principal = np.zeros_like(service)
    balance = np.zeros_like(service)
    b = size
    for t in range(len(service)):
        interest[t] = rate * b
        principal[t] = service[t] - interest[t]
        b -= principal[t]
        balance[t] = b if abs(b) > 1e-9 * max(size, 1.0) else 0.0
    return DebtSchedule(
        tranche, size, rate, dscr, tenor, service, interest, principal, balance, dict(info or {})
    )


def size_debt(
    cfads: Any,
    dscr: float,
    rate: float,
    *,
    tenor_years: int | None = None,
    gearing_cap: float | None = None,
    capex: float | None = None,
    senior_service_usd: Any = None,
    senior_size_usd: float = 0.0,
    tranche: str | None = None,
) -> DebtSchedule:
    """Size sculpted debt to a DSCR target on one CFADS path.

    Parameters
    ----------
    cfads : array_like, shape (T,)
        Cash flow available for debt service per year, years 1..T [$].
    dscr : float
        Target debt service coverage ratio (> 0) [1].
    rate : float
        Loan interest rate, in [0, 1) [1/yr].
    tenor_years : int, optional
        Number of annual payments, 1..T [yr]; default T.
    gearing_cap : float, optional
        Maximum total debt / capex, in (0, 1] [1]; needs ``capex``. When binding, the DSCR
        is raised uniformly until the debt fits.
    capex : float, optional
        Project capital cost [$].
    senior_service_usd : array_like, shape (T,), optional
        Senior debt service already sculpted [$/yr]. When given, this is a mezzanine tranche
        sculpted on the combined DSCR: ``DS_t = max(0, CFADS_t / dscr - senior_t)``, and the
        gearing cap applies to senior + mezzanine.
    senior_size_usd : float
        Senior size already drawn [$], counted against the gearing cap of a mezzanine.
    tranche : str, optional
        Name recorded on the schedule (default ``"senior"``, or ``"mezzanine"`` when
        ``senior_service_usd`` is given).

    Returns
    -------
    DebtSchedule
        Size [$] and the interest/principal/balance schedule [$].

    Notes
    -----
    Debt service ``DS_t = max(CFADS_t, 0) / DSCR`` for ``t <= tenor``, 0 after; size
    ``D = sum_t DS_t (1 + r)^-t``. A gearing cap ``g`` replaces the DSCR by
    ``DSCR * D / (g * capex)`` when ``D > g * capex`` (size is proportional to 1/DSCR).
    Years of negative CFADS carry no debt service (sculpting cannot make them pay).

    References
    ----------
    E. R. Yescombe, *Principles of Project Finance*, 2nd ed., Academic Press, 2014, ch. 12
    (debt sculpting and cover ratios).

    Examples
    --------
    >>> s = size_debt([1.3e6] * 3, 1.3, 0.05)
    >>> round(s.size_usd)  # 1e6 * (1/1.05 + 1/1.05**2 + 1/1.05**3)
    2723248
    """
    c = np.asarray(cfads, dtype=float)
    if c.ndim != 1 or len(c) == 0 or not np.all(np.isfinite(c)):
        raise GridcapInputError(
            f"cfads: shape {c.shape}: expected a 1-D array of finite CFADS per year [$]"
        )
    T = len(c)
    mezz = senior_service_usd is not None
    name = tranche or ("mezzanine" if mezz else "senior")
    dscr = check_positive(dscr, f"{name}.dscr_target")
    rate = check_rate(rate, f"{name}.rate")
    tenor = check_tenor(tenor_years, T, f"{name}.tenor_years")
    on = np.arange(T) < tenor
    sen = np.zeros(T) if not mezz else np.asarray(senior_service_usd, dtype=float)
    if sen.shape != (T,):
        raise GridcapInputError(
            f"senior_service_usd: shape {sen.shape}: expected ({T},) like cfads"
        )
    df = discount_factors(rate, T)

    def service(d: float) -> np.ndarray:
        return np.where(on, np.maximum(np.maximum(c, 0.0) / d - sen, 0.0), 0.0)

    ds = service(dscr)
    size = float(ds @ df)
    info: dict[str, Any] = {"method": "dscr", "dscr_target": dscr, "binding": "dscr"}
    if gearing_cap is not None:
        g = float(gearing_cap)
        if not np.isfinite(g) or g <= 0 or g > 1:
            raise GridcapInputError(f"max_gearing = {gearing_cap!r}: expected a value in (0, 1]")
        if capex is None:
            raise GridcapInputError("capex = None: a gearing cap needs the project capex [$]")
        room = g * check_positive(capex, "capex") - float(senior_size_usd)
        if size > room:
            dscr = dscr * size / room if not mezz else _bisect_dscr(service, df, room, dscr)
            ds = service(dscr) if np.isfinite(dscr) and room > 0 else np.zeros(T)
            size = float(ds @ df)
            info["binding"] = "gearing"
    return schedule_from_service(name, ds, rate, dscr, tenor, info)


def _bisect_dscr(service: Any, df: np.ndarray, room: float, lo: float) -> float:
    """Smallest DSCR >= ``lo`` whose sculpted size fits in ``room`` [$] (bisection)."""
    if room <= 0:
        return np.inf
    hi = lo * 2.0
    while float(service(hi) @ df) > room:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if float(service(mid) @ df) > room:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return hi


def size_stack(
    cfads: Any,
    dscr: tuple[float, float],
    rate: tuple[float, float],
    *,
    tenor_years: tuple[int | None, int | None] = (None, None),
    gearing_cap: float | None = None,
    capex: float | None = None,
) -> tuple[DebtSchedule, DebtSchedule]:
    """Sculpt senior then mezzanine debt on one CFADS path.

    Parameters
    ----------
    cfads : array_like, shape (T,)
        CFADS per year [$].
    dscr : (float, float)
        Senior DSCR on CFADS and mezzanine DSCR on combined senior + mezzanine service [1];
        the mezzanine one should be below the senior one for the mezzanine to get any cash.
    rate : (float, float)
        Senior and mezzanine loan rates [1/yr].
    tenor_years : (int or None, int or None)
        Tenors [yr].
    gearing_cap : float, optional
        Maximum (senior + mezzanine) / capex [1].
    capex : float, optional
        Project capex [$].

    Returns
    -------
    (DebtSchedule, DebtSchedule)
        Senior and mezzanine schedules [$].
    """
    senior = size_debt(
        cfads, dscr[0], rate[0], tenor_years=tenor_years[0], gearing_cap=gearing_cap, capex=capex
    )
    mezz = size_debt(
        cfads,
        dscr[1],
        rate[1],
        tenor_years=tenor_years[1],
        gearing_cap=gearing_cap,
        capex=capex,
        senior_service_usd=senior.debt_service_usd,
        senior_size_usd=senior.size_usd,
    )
    return senior, mezz


# --------------------------------------------------------------------------------------
# Risk-targeted sizing (the planner's ModelBuilder + HiGHS)
# --------------------------------------------------------------------------------------
SIZING_METHODS = ("milp", "cvar", "el")
PROFILES = ("sculpted", "free")


@dataclass
class _SizingData:
    """Numbers the sizing model is built from (already scaled to O(1))."""

    head: np.ndarray  # (S, T) scaled headroom max(CFADS - committed senior service, 0)
    profile: np.ndarray  # (T,) sculpting shape (sculpted) or ones (free)
    active: np.ndarray  # (T,) bool, years within the tenor with a positive profile
    df: np.ndarray  # (T,) discount factors at the loan rate
    room: float  # max PV of this tranche (gearing), inf if none
    scale: float  # $ per model unit


@dataclass
class _SizingModel:
    """A sizing model on a :class:`~gridcap.optimizer.planning.solver.ModelBuilder`.

    The tranche's service in active year ``act[i]`` is ``coef[i] * x[col[i]]`` [model units]:
    one scale column ``a`` times the profile (sculpted), or one column per year (free).
    """

    b: ModelBuilder
    act: np.ndarray  # (n,) active years
    col: np.ndarray  # (n,) service column of each active year
    coef: np.ndarray  # (n,) its coefficient
    free: bool

    def size_terms(self, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Columns and coefficients of the tranche's PV ``sum_t df_t y_t`` [model units]."""
        cols, inv = np.unique(self.col, return_inverse=True)
        vals = np.zeros(cols.size)
        np.add.at(vals, inv, df[self.act] * self.coef)
        return cols, vals


def _add_service_variables(d: _SizingData, free: bool) -> _SizingModel:
    """Debt service y_t = floor_t + a * profile_t (sculpted) or free y_t >= floor_t."""
    b = ModelBuilder()
    act = np.flatnonzero(d.active)
    if free:
        fam = b.add_variables("service", {"year": act}, 0.0, d.head[:, act].max(axis=0),
                              doc="tranche debt service per year [model units/yr]")
        return _SizingModel(b, act, fam.cols, np.ones(act.size), True)
    fam = b.add_variables("scale", {"unit": np.zeros(1, np.int64)}, 0.0, INF,
                          doc="service per unit of the sculpting profile [1]")
    return _SizingModel(b, act, np.full(act.size, fam.start), d.profile[act].astype(float), False)


def _objective(m: _SizingModel, d: _SizingData) -> np.ndarray:
    """Maximise the tranche's present value (its size) at the loan rate: ``c`` of ``min -PV``;
    with a gearing cap, the row ``PV <= room``."""
    cols, vals = m.size_terms(d.df)
    if np.isfinite(d.room):
        m.b.add_constraints("gearing", {"unit": np.zeros(1, np.int64)}, np.zeros(cols.size, int),
                            cols, vals, -INF, float(d.room), doc="tranche PV <= gearing room")
    c = np.zeros(m.b.n_cols)
    c[cols] = -vals
    return c


def _chance_groups(m: _SizingModel, d: _SizingData) -> list[tuple[np.ndarray, int]]:
    """(headroom per scenario, service column) of each group sharing one service variable."""
    if m.free:
        return [(d.head[:, t], int(j)) for t, j in zip(m.act, m.col, strict=True)]
    return [((d.head[:, m.act] / d.profile[m.act]).min(axis=1), int(m.col[0]))]


def _add_chance_constraints(m: _SizingModel, d: _SizingData, pd_target: float) -> int:
    """Chance constraint with binaries: z_s = 1 lets scenario s miss its debt service.

    Per year t (free profile; the sculpted profile has one group on the scale ``a`` with
    ``h_s = min_t H_st / profile_t``): ``y_t <= H_st + g_st z_s`` with the headroom
    ``H_st = max(CFADS_st - floor_t, 0)``, ``sum_s z_s <= k = floor(pd S)``. The big-M is
    tight: at most k scenarios can be dropped, so ``y_t <= u_t`` = the (k+1)-th smallest
    ``H_st`` always holds, ``g_st = u_t - H_st`` and only scenarios with ``H_st < u_t`` (at
    most k per year) need a row. Each year also gets the strengthened star inequality of
    Luedtke, Ahmed & Nemhauser (2010) over those rows, sorted by ``g`` descending::

        (u_t - y_t) + sum_i (g_(i) - g_(i+1)) z_(i) >= g_(1),   g_(n+1) = 0

    Returns k, the number of scenarios allowed to default.

    References
    ----------
    J. Luedtke, S. Ahmed and G. L. Nemhauser, "An integer programming approach for linear
    programs with probabilistic constraints", Math. Program. 122, 247-272, 2010.
    """
    b = m.b
    S = d.head.shape[0]
    k = int(np.floor(pd_target * S + 1e-9))
    z = b.add_variables("default", {"scenario": np.arange(S)}, 0.0, 1.0, integer=True,
                        doc="1: the scenario may miss its debt service [1]")
    b.add_constraints("pd_budget", {"unit": np.zeros(1, np.int64)}, np.zeros(S, int), z.cols,
                      np.ones(S), -INF, float(k), doc="scenarios allowed to default")
    short: list[tuple[np.ndarray, ...]] = []   # (scenario, column, g, h) per group
    star: list[tuple[int, np.ndarray, np.ndarray, float, float]] = []
    for h, col in _chance_groups(m, d):
        u = float(np.partition(h, k)[k])
        b.set_bounds(np.array([col]), upper=max(u, 0.0))
        low = np.flatnonzero(h < u - 1e-12)
        if len(low) == 0:
            continue
        g = u - h[low]
        short.append((low, np.full(low.size, col), g, h[low]))
        order = np.argsort(-g, kind="stable")
        gd = g[order]
        star.append((col, low[order], gd - np.append(gd[1:], 0.0), u, float(gd[0])))
    if short:   # y - g_s z_s <= H_s
        s_idx, cols, g, hs = (np.concatenate(x) for x in zip(*short, strict=True))
        n = s_idx.size
        r = np.arange(n)
        b.add_constraints("shortfall", {"row": r, "scenario": s_idx}, np.r_[r, r],
                          np.r_[cols, z.cols[s_idx]], np.r_[np.ones(n), -g], -INF, hs,
                          doc="service within headroom unless the scenario defaults")
    if star:    # -y + sum_i c_i z_(i) >= g_(1) - u
        rows = np.concatenate([np.full(len(sc) + 1, i) for i, (_, sc, *_r) in enumerate(star)])
        cols = np.concatenate([np.r_[col, z.cols[sc]] for col, sc, *_r in star])
        vals = np.concatenate([np.r_[-1.0, c] for _, _, c, *_r in star])
        lo = np.array([g1 - u for *_r, u, g1 in star])
        b.add_constraints("star", {"group": np.arange(len(star))}, rows, cols, vals, lo, INF,
                          doc="strengthened star inequality (Luedtke et al. 2010)")
    return k


def _service_rows(m: _SizingModel, d: _SizingData, extra: np.ndarray,
                  extra_coef: float) -> tuple[np.ndarray, ...]:
    """Triplets of rows ``w[s] - y_t (+ extra) >= -H_st`` over (s, active t), row-major.

    ``w`` is the column block ``extra`` indexed by scenario (``(S,)``) or by row (``(S·n,)``).
    """
    S, n = d.head.shape[0], m.act.size
    r = np.arange(S * n)
    s_of, i_of = np.divmod(r, n)
    wcol = extra[s_of] if extra.size == S else extra
    rows = np.r_[r, r]
    cols = np.r_[wcol, m.col[i_of]]
    vals = np.r_[np.full(r.size, extra_coef), -m.coef[i_of]]
    return rows, cols, vals, -d.head[s_of, m.act[i_of]], s_of, i_of


def _add_cvar_constraints(m: _SizingModel, d: _SizingData, pd_target: float) -> None:
    """CVaR approximation of the chance constraint (an LP).

    ``CVaR_{1-eps}(g) <= 0`` with ``g_s = max_t (y_t - H_st)``, in the
    Rockafellar–Uryasev form ``eta + sum_s u_s / (eps S) <= 0``, ``u_s >= g_st - eta``,
    ``u_s >= 0``. It implies ``P(g > 0) <= eps`` (a conservative inner approximation).
    """
    b = m.b
    S = d.head.shape[0]
    eta = b.add_variables("eta", {"unit": np.zeros(1, np.int64)}, -INF, INF,
                          doc="CVaR threshold [model units/yr]")
    u = b.add_variables("excess", {"scenario": np.arange(S)}, 0.0, INF,
                        doc="excess of service over headroom beyond eta [model units/yr]")
    rows, cols, vals, lo, s_of, i_of = _service_rows(m, d, u.cols, 1.0)
    nr = s_of.size
    b.add_constraints("excess_def", {"scenario": s_of, "year": m.act[i_of]},
                      np.r_[rows, np.arange(nr)], np.r_[cols, np.full(nr, eta.start)],
                      np.r_[vals, np.ones(nr)], lo, INF,
                      doc="u_s >= y_t - H_st - eta")
    b.add_constraints("cvar", {"unit": np.zeros(1, np.int64)}, np.zeros(S + 1, int),
                      np.r_[eta.start, u.cols], np.r_[1.0, np.full(S, 1.0 / (pd_target * S))],
                      -INF, 0.0, doc="CVaR of the shortfall <= 0")


def _add_el_constraints(m: _SizingModel, d: _SizingData, el_target: float) -> None:
    """Expected-loss LP: mean PV of unpaid tranche service <= ``el_target`` x size.

    Loss proxy: tranche service not covered by the year's headroom is lost:
    ``v_st >= y_t - H_st``, ``v_st >= 0``; loss_s = ``sum_t df_t v_st``.
    """
    b = m.b
    S, n = d.head.shape[0], m.act.size
    s_all, i_all = np.divmod(np.arange(S * n), n)
    v = b.add_variables("lost", {"scenario": s_all, "year": m.act[i_all]}, 0.0, INF,
                        doc="service not covered by the year's headroom [model units/yr]")
    rows, cols, vals, lo, s_of, i_of = _service_rows(m, d, v.cols, 1.0)
    b.add_constraints("short", {"scenario": s_of, "year": m.act[i_of]}, rows, cols, vals, lo,
                      INF, doc="v_st >= y_t - H_st")
    scols, svals = m.size_terms(d.df)
    cols = np.r_[v.cols, scols]
    vals = np.r_[d.df[m.act[i_all]] / S, -el_target * svals]
    b.add_constraints("el", {"unit": np.zeros(1, np.int64)}, np.zeros(cols.size, int), cols,
                      vals, -INF, 0.0, doc="expected loss <= target x size")


def _build(d: _SizingData, method: str, target: float, free: bool,
           info: dict[str, Any]) -> tuple[_SizingModel, LinearProgram]:
    """The sizing model of one method as a :class:`LinearProgram` (``min -PV``)."""
    with paused_gc():
        m = _add_service_variables(d, free)
        c_size = _objective(m, d)
        if method == "milp":
            info["defaults_allowed"] = _add_chance_constraints(m, d, target)
        elif method == "cvar":
            _add_cvar_constraints(m, d, target)
        else:
            _add_el_constraints(m, d, target)
        c = np.zeros(m.b.n_cols)
        c[:c_size.size] = c_size
        m.b.set_objective(c)
        return m, m.b.compile()


def _solve(lp: LinearProgram, *, time_limit: float, mip_gap: float, what: str
           ) -> tuple[dict, np.ndarray]:
    """Solve with HiGHS in memory; return status, objective (the size), gap and timings."""
    solver = HighsSolver(lp, time_limit_s=time_limit, mip_gap=mip_gap)
    res = solver.solve()
    if not res.optimal:
        raise ModelInfeasibleError(
            f"{what}: HiGHS found no feasible sizing ({res.status}); constraint families: "
            "shortfall/excess_def/short (per scenario and year), pd_budget/cvar/el, gearing"
        )
    inc = -res.objective
    bound = -float(res.extra.get("mip_dual_bound", res.objective))
    gap = abs(bound - inc) / max(abs(inc), 1e-12) if np.isfinite(bound) else np.nan
    return {"status": res.status, "solve_s": res.solve_s, "objective": inc,
            "bound": bound if np.isfinite(bound) else np.nan, "gap": gap}, res.x


def size_to_risk(
    cfads: Any,
    rate: float,
    *,
    target: float,
    method: str = "milp",
    profile: str = "sculpted",
    tenor_years: int | None = None,
    senior_service_usd: Any = None,
    max_size_usd: float | None = None,
    tranche: str | None = None,
    time_limit: float = 60.0,
    mip_gap: float = 1e-4,
) -> DebtSchedule:
    """Largest tranche whose default probability (or expected loss) meets a target.

    Parameters
    ----------
    cfads : array_like, shape (S, T)
        CFADS per scenario and year [$]; scenarios equally likely.
    rate : float
        Loan rate [1/yr].
    target : float
        PD target (``milp``, ``cvar``) or expected-loss target as a fraction of the tranche
        size (``el``), in (0, 1) [1].
    method : {"milp", "cvar", "el"}
        ``milp``: chance constraint with binaries and big-M (exact for the default proxy);
        ``cvar``: its CVaR inner approximation (LP, conservative); ``el``: expected-loss LP.
    profile : {"sculpted", "free"}
        ``sculpted``: service proportional to the median CFADS left after senior service
        (one scale variable: the implied DSCR on the median path); ``free``: one service
        variable per year.
    tenor_years : int, optional
        Tenor [yr], 1..T; default T.
    senior_service_usd : array_like, shape (T,), optional
        Committed senior service [$/yr] when sizing the mezzanine: the mezzanine defaults in
        a scenario when CFADS misses senior + mezzanine service in some year.
    max_size_usd : float, optional
        Largest size allowed [$] (gearing cap room).
    tranche : str, optional
        Name for messages and the schedule.
    time_limit : float
        HiGHS time limit [s].
    mip_gap : float
        Relative MIP gap [1].

    Returns
    -------
    DebtSchedule
        The sized tranche [$]; ``info`` holds the method, solver status, gap, the number of
        scenarios defaulting under the proxy and the solve time [s].

    Notes
    -----
    Default proxy in scenario s: ``y_t > H_st = max(CFADS_st - floor_t, 0)`` in some year
    t <= tenor (the year's cash left after the committed senior service ``floor_t`` misses
    the tranche's service, before any reserve or grace; a year without service cannot
    default). The waterfall's own default rule (interest unpaid beyond grace, or balance
    left at maturity) is looser, so its senior PD is at most the proxy's.
    Chance-constrained MILP::

        max  sum_t df_t y_t
        s.t. y_t - H_st <= M_st z_s                    (all s, t)
             sum_s z_s <= floor(pd * S),  z_s in {0, 1}

    References
    ----------
    A. Nemirovski and A. Shapiro, "Convex approximations of chance constrained programs",
    SIAM J. Optim. 17(4), 969-996, 2006. R. T. Rockafellar and S. Uryasev, "Optimization of
    conditional value-at-risk", J. Risk 2(3), 21-41, 2000.
    """
    c = np.asarray(cfads, dtype=float)
    if c.ndim != 2 or c.shape[0] < 1 or not np.all(np.isfinite(c)):
        raise GridcapInputError(
            f"cfads: shape {c.shape}: expected finite CFADS [$] with dims (scenario, year)"
        )
    S, T = c.shape
    name = tranche or ("mezzanine" if senior_service_usd is not None else "senior")
    if method not in SIZING_METHODS:
        raise GridcapInputError(f"method = {method!r}: expected one of {SIZING_METHODS}")
    if profile not in PROFILES:
        raise GridcapInputError(f"profile = {profile!r}: expected one of {PROFILES}")
    target = check_probability(target, f"{name}.{'el' if method == 'el' else 'pd'}_target")
    rate = check_rate(rate, f"{name}.rate")
    tenor = check_tenor(tenor_years, T, f"{name}.tenor_years")
    floor = (
        np.zeros(T) if senior_service_usd is None else np.asarray(senior_service_usd, dtype=float)
    )
    scale = float(max(np.abs(c).max(), 1.0))
    free = profile == "free"
    shape = np.maximum(np.median(c, axis=0) - floor, 0.0) / scale
    active = (np.arange(T) < tenor) & ((shape > 1e-12) | free)
    room = np.inf if max_size_usd is None else max(float(max_size_usd), 0.0) / scale
    head = np.maximum(c - floor[None, :], 0.0) / scale
    d = _SizingData(
        head, shape if not free else np.ones(T), active, discount_factors(rate, T), room, scale
    )
    info: dict[str, Any] = {"method": method, "profile": profile, "target": target, "scenarios": S}
    if not active.any() or room <= 0:
        sched = schedule_from_service(
            name, np.zeros(T), rate, np.nan, tenor, {**info, "status": "empty"}
        )
        return sched
    t0 = time.perf_counter()
    m, lp = _build(d, method, target, free, info)
    info["build_s"] = time.perf_counter() - t0
    sol, x = _solve(lp, time_limit=time_limit, mip_gap=mip_gap if method == "milp" else 0.0,
                    what=f"{name} {method} sizing")
    info.update(sol)
    y = np.zeros(T)
    y[m.act] = np.maximum(m.coef * x[m.col], 0.0)
    service, short = _clean_service(y * scale, head * scale, tenor, scale)
    info["proxy_pd"] = float(short.mean())
    if np.isfinite(room) and float(service @ d.df) >= room * scale * (1 - 1e-7):
        info["binding"] = "gearing"
        if free:  # any schedule worth the room is optimal: take the sculpted one
            service = _sculpt_to_room(head * scale, short, tenor, d.df, float(service @ d.df))
    else:
        info["binding"] = method
    dscr = np.nan
    if not free and x[m.col[0]] > 0:
        dscr = 1.0 / float(x[m.col[0]])  # on the median CFADS left after senior service
    return schedule_from_service(name, service, rate, dscr, tenor, info)


#: Cushion taken off every year's risk-sized service [$]: absorbs the solver's feasibility
#: tolerance and the cent rounding of the waterfall, so that a scenario the sizing lets pay
#: is never short by a cent in the waterfall.
SERVICE_CUSHION_USD = 1.0


def _clean_service(
    service: np.ndarray, head: np.ndarray, tenor: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Make the solver's service exactly feasible for the scenarios it lets pay.

    Scenarios short by more than the solver tolerance (``1e-6 * scale``) in some year form
    the default set D (for the MILP, the z_s = 1 ones); every year's service is then capped
    at ``min_{s not in D} H_st - SERVICE_CUSHION_USD`` (and at 0).

    Returns
    -------
    (service, short) : numpy.ndarray (T,) [$], numpy.ndarray of bool (S,)
    """
    short = np.asarray((service[None, :tenor] > head[:, :tenor] + 1e-6 * scale).any(axis=1))
    out = service.copy()
    if (~short).any():
        cap = head[~short].min(axis=0) - SERVICE_CUSHION_USD
        out = np.where(out > 0, np.maximum(np.minimum(out, cap), 0.0), 0.0)
    out[tenor:] = 0.0
    return out, short


def _sculpt_to_room(head: np.ndarray, short: np.ndarray, tenor: int, df: np.ndarray,
                    size: float) -> np.ndarray:
    """The gearing-capped free-profile service, made unique: sculpted to the headroom.

    When the gearing cap binds, every service path ``y_t <= c_t`` (``c_t`` = the smallest
    headroom among the scenarios that pay, less :data:`SERVICE_CUSHION_USD`) whose present
    value equals the cap is optimal, and the solver returns one of them arbitrarily (it may
    leave a year without service), which then moves equity returns. A lender sculpts:
    ``y_t = lambda c_t`` with ``lambda = size / sum_t df_t c_t <= 1``, the same size, the same
    scenarios paying, service in proportion to the cash that can carry it [$/yr].
    """
    T = head.shape[1]
    pay = ~short
    cap = np.zeros(T)
    if pay.any():
        cap[:tenor] = np.maximum(head[pay, :tenor].min(axis=0) - SERVICE_CUSHION_USD, 0.0)
    pv = float(cap @ df)
    if pv <= 0:
        return cap
    return cap * min(size / pv, 1.0)


def chance_size_closed_form(
    cfads: Any, rate: float, pd_target: float, tenor_years: int | None = None
) -> float:
    """Chance-constrained senior size for the sculpted profile, by order statistics [$].

    With service ``a * m_t`` (``m`` = median CFADS), scenario s pays in full iff
    ``a <= r_s = min_t max(CFADS_st, 0) / m_t``; the largest ``a`` with at most ``floor(pd S)``
    defaults is the ``(k+1)``-th smallest ``r_s``. Used to check the MILP.
    """
    c = np.asarray(cfads, dtype=float)
    S, T = c.shape
    tenor = check_tenor(tenor_years, T, "tenor_years")
    m = np.maximum(np.median(c, axis=0), 0.0)
    act = (np.arange(T) < tenor) & (m > 0)
    r = (np.maximum(c[:, act], 0.0) / m[act]).min(axis=1)
    k = int(np.floor(pd_target * S + 1e-9))
    a = max(float(np.sort(r)[k]), 0.0)
    return float(a * (m * act) @ discount_factors(rate, T))
