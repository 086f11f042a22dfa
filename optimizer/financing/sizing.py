"""Debt sizing: DSCR sculpting and risk-targeted sizing over Monte Carlo scenarios.

Conventions (project finance): annual periods, payments at the end of each year, the first
payment at the end of year 1; present values at the loan rate with the loan drawn at t = 0.

* :func:`size_debt` sculpts debt to a DSCR target on one CFADS path (debt service
  ``DS_t = CFADS_t / DSCR``, size = PV of ``DS``), senior first, then mezzanine against what
  is left (combined-DSCR convention: ``DS_mezz_t = CFADS_t / DSCR_mezz - DS_senior_t``).
* :func:`size_to_risk` finds the largest tranche whose probability of default (or expected
  loss) over all scenarios stays within a target, as a Pyomo model solved by HiGHS:
  a chance-constrained MILP with big-M (``method="milp"``), its CVaR convex approximation as
  an LP (``method="cvar"``, Nemirovski & Shapiro 2006) or an expected-loss LP
  (``method="el"``).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridcap.errors import GridcapInputError, ModelInfeasibleError


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
# Risk-targeted sizing (Pyomo + HiGHS)
# --------------------------------------------------------------------------------------
SIZING_METHODS = ("milp", "cvar", "el")
PROFILES = ("sculpted", "free")


@dataclass
class _SizingData:
    """Numbers the Pyomo model is built from (already scaled to O(1))."""

    head: np.ndarray  # (S, T) scaled headroom max(CFADS - committed senior service, 0)
    profile: np.ndarray  # (T,) sculpting shape (sculpted) or ones (free)
    active: np.ndarray  # (T,) bool, years within the tenor with a positive profile
    df: np.ndarray  # (T,) discount factors at the loan rate
    room: float  # max PV of this tranche (gearing), inf if none
    scale: float  # $ per model unit


def _add_service_variables(m: Any, d: _SizingData, free: bool) -> None:
    """Debt service y_t = floor_t + a * profile_t (sculpted) or free y_t >= floor_t."""
    import pyomo.environ as pyo

    act = [int(t) for t in np.flatnonzero(d.active)]
    m.T = pyo.Set(initialize=act, ordered=True)
    if free:
        ub = {t: float(d.head[:, t].max()) for t in act}
        m.x = pyo.Var(m.T, bounds=lambda _m, t: (0.0, ub[t]))
    else:
        m.a = pyo.Var(bounds=(0.0, None))
    m._free = free


def _service_expr(m: Any, d: _SizingData, t: int) -> Any:
    """Tranche service in year t (model units)."""
    return m.x[t] if m._free else m.a * float(d.profile[t])


def _add_objective(m: Any, d: _SizingData) -> None:
    """Maximise the tranche's present value (its size) at the loan rate."""
    import pyomo.environ as pyo

    m.size = pyo.Expression(expr=sum(float(d.df[t]) * _service_expr(m, d, t) for t in m.T))
    m.obj = pyo.Objective(expr=m.size, sense=pyo.maximize)
    if np.isfinite(d.room):
        m.gearing = pyo.Constraint(expr=m.size <= float(d.room))


def _add_chance_constraints(m: Any, d: _SizingData, pd_target: float) -> int:
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
    import pyomo.environ as pyo

    S = d.head.shape[0]
    k = int(np.floor(pd_target * S + 1e-9))
    act = [int(t) for t in np.flatnonzero(d.active)]
    m.S = pyo.RangeSet(0, S - 1)
    m.z = pyo.Var(m.S, domain=pyo.Binary)
    m.pd_budget = pyo.Constraint(expr=sum(m.z[s] for s in m.S) <= k)
    m.shortfall = pyo.ConstraintList()
    m.star = pyo.ConstraintList()
    if m._free:
        groups = [(d.head[:, t], m.x[t]) for t in act]
    else:
        groups = [((d.head[:, act] / d.profile[act]).min(axis=1), m.a)]
    for h, var in groups:
        u = float(np.partition(h, k)[k])
        var.setub(max(u, 0.0))
        low = np.flatnonzero(h < u - 1e-12)
        if len(low) == 0:
            continue
        g = u - h[low]
        for s, gs in zip(low, g, strict=True):
            m.shortfall.add(var - float(h[s]) <= float(gs) * m.z[int(s)])
        order = np.argsort(-g, kind="stable")
        gd = g[order]
        coef = gd - np.append(gd[1:], 0.0)
        m.star.add(
            (u - var) + sum(float(c) * m.z[int(low[o])] for c, o in zip(coef, order, strict=True))
            >= float(gd[0])
        )
    return k


def _add_cvar_constraints(m: Any, d: _SizingData, pd_target: float) -> None:
    """CVaR approximation of the chance constraint (an LP).

    ``CVaR_{1-eps}(g) <= 0`` with ``g_s = max_t (y_t - H_st)``, in the
    Rockafellar–Uryasev form ``eta + sum_s u_s / (eps S) <= 0``, ``u_s >= g_st - eta``,
    ``u_s >= 0``. It implies ``P(g > 0) <= eps`` (a conservative inner approximation).
    """
    import pyomo.environ as pyo

    S = d.head.shape[0]
    act = [int(t) for t in np.flatnonzero(d.active)]
    m.S = pyo.RangeSet(0, S - 1)
    m.eta = pyo.Var()
    m.u = pyo.Var(m.S, bounds=(0.0, None))
    m.R = pyo.Set(initialize=[(s, t) for s in range(S) for t in act], dimen=2)
    m.excess = pyo.Constraint(
        m.R, rule=lambda _m, s, t: _m.u[s] >= _service_expr(_m, d, t) - float(d.head[s, t]) - _m.eta
    )
    m.cvar = pyo.Constraint(expr=m.eta + sum(m.u[s] for s in m.S) / (pd_target * S) <= 0)


def _add_el_constraints(m: Any, d: _SizingData, el_target: float) -> None:
    """Expected-loss LP: mean PV of unpaid tranche service <= ``el_target`` x size.

    Loss proxy: tranche service not covered by the year's headroom is lost:
    ``v_st >= y_t - H_st``, ``v_st >= 0``; loss_s = ``sum_t df_t v_st``.
    """
    import pyomo.environ as pyo

    S = d.head.shape[0]
    act = [int(t) for t in np.flatnonzero(d.active)]
    m.R = pyo.Set(initialize=[(s, t) for s in range(S) for t in act], dimen=2)
    m.v = pyo.Var(m.R, bounds=(0.0, None))
    m.short = pyo.Constraint(
        m.R, rule=lambda _m, s, t: _m.v[s, t] >= _service_expr(_m, d, t) - float(d.head[s, t])
    )
    loss = sum(float(d.df[t]) * m.v[s, t] for (s, t) in m.R) / S
    m.el = pyo.Constraint(expr=loss <= el_target * m.size)


def _solve(m: Any, *, time_limit: float, mip_gap: float, what: str) -> dict:
    """Solve with HiGHS through Pyomo's in-memory interface; return status and timings."""
    import pyomo.environ as pyo
    from pyomo.contrib.solver.common.factory import SolverFactory

    from gridcap.optimizer.planning.solver import mute_highs_banner

    mute_highs_banner()

    opt = SolverFactory("highs")
    if not opt.available():
        raise GridcapInputError("HiGHS is not available to Pyomo: pip install highspy")
    t0 = time.perf_counter()
    res = opt.solve(
        m,
        time_limit=time_limit,
        rel_gap=mip_gap,
        raise_exception_on_nonoptimal_result=False,
        load_solutions=False,
    )
    wall = time.perf_counter() - t0
    status = str(res.termination_condition).split(".")[-1]
    if res.incumbent_objective is None:
        raise ModelInfeasibleError(
            f"{what}: HiGHS found no feasible sizing ({status}); constraint families: "
            "shortfall/excess (per scenario and year), pd_budget/cvar/el, gearing"
        )
    res.solution_loader.load_vars()
    inc = float(res.incumbent_objective)
    bound = res.objective_bound
    gap = abs(float(bound) - inc) / max(abs(inc), 1e-12) if bound is not None else np.nan
    return {
        "status": status,
        "solve_s": wall,
        "objective": inc,
        "bound": float(bound) if bound is not None else np.nan,
        "gap": gap,
        "value": pyo.value,
    }


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
    import pyomo.environ as pyo

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
    gc_was = gc.isenabled()
    gc.disable()
    t0 = time.perf_counter()
    try:
        m = pyo.ConcreteModel(name=f"size_{name}_{method}")
        _add_service_variables(m, d, free)
        _add_objective(m, d)
        if method == "milp":
            info["defaults_allowed"] = _add_chance_constraints(m, d, target)
        elif method == "cvar":
            _add_cvar_constraints(m, d, target)
        else:
            _add_el_constraints(m, d, target)
    finally:
        if gc_was:
            gc.enable()
    info["build_s"] = time.perf_counter() - t0
    sol = _solve(
        m,
        time_limit=time_limit,
        mip_gap=mip_gap if method == "milp" else 0.0,
        what=f"{name} {method} sizing",
    )
    value = sol.pop("value")
    info.update(sol)
    y = np.zeros(T)
    for t in m.T:
        y[t] = max(float(value(_service_expr(m, d, t))), 0.0)
    service, short = _clean_service(y * scale, head * scale, tenor, scale)
    info["proxy_pd"] = float(short.mean())
    if np.isfinite(room) and float(service @ d.df) >= room * scale * (1 - 1e-7):
        info["binding"] = "gearing"
        if free:  # any schedule worth the room is optimal: take the sculpted one
            service = _sculpt_to_room(head * scale, short, tenor, d.df, float(service @ d.df))
    else:
        info["binding"] = method
    dscr = np.nan
    if not free and m.a.value and m.a.value > 0:
        dscr = 1.0 / float(m.a.value)  # on the median CFADS left after senior service
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
