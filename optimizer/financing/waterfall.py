"""Project-finance cash-flow waterfall, run for every scenario at once, in integer cents.

The waterfall distributes each period's cash of every Monte Carlo scenario in a fixed order
of priority::

    1. operating costs            (any shortfall is met by an equity injection)
    2. senior interest            (DSRA drawn first if cash is short of senior debt service)
    3. senior principal           (scheduled: down to the sculpted closing balance)
    4. DSRA top-up / release      (target = ``dsra_months``/12 of next period's senior service)
    5. mezzanine interest
    6. mezzanine principal
    7. covenant                   (DSCR < ``lockup_dscr``: sweep ``sweep_fraction`` of what is
                                   left to prepay senior, then mezzanine; lock up the rest)
    8. equity distribution        (plus the lock-up account once the covenant is met again)

**Money is integer cents** (``int64``) throughout, so cash is conserved *exactly* in every
period of every scenario, and a plain-Python/Decimal re-implementation (see
:func:`gridcap.optimizer.financing.tokens.replay_ledger`) reproduces every payment to the cent.
Rates and fractions are fixed-point integers (:data:`RATE_SCALE` = 1e-5 units, DSCR in 1e-4 units).
Interest is ``round_half_up(balance * rate)`` at the cent.

Default rule (stated, per tranche): a tranche **defaults** in the first period in which

* its interest has been left (partly) unpaid for more than ``grace_years`` consecutive
  periods, or
* any balance or accrued interest remains at the end of its maturity period.

Due amounts follow the sculpted schedule: in period t the tranche owes
``max(accrued, balance + accrued + interest - target_balance_t)`` (everything once
accelerated or at maturity), interest first. Where the schedule's service is below the
interest (a sculpted year of little cash), the difference is *capitalized* into the balance
as the schedule foresees, not past due. Unpaid due interest accrues (arrears) and itself
bears interest at the loan rate. After a default the
tranche is accelerated (its whole balance is due), equity distributions stop while any debt
is outstanding, the lock-up account is released to the lenders and all remaining cash sweeps
senior then mezzanine. Whatever is still owed at the end of the horizon is the loss.

Three implementations of the same rules, which the tests hold to identical results:

* :func:`run_waterfall` with ``method="xp"`` — vectorised over scenarios against an array
  namespace ``xp`` (``numpy``; ``cupy`` arrays run on the GPU unchanged);
* ``method="numba"`` — the scalar per-scenario function :func:`_scenario` compiled with
  ``numba.njit`` and run in a ``prange`` over scenarios;
* ``method="python"`` — the very same scalar function run by the Python interpreter on
  Python lists of ints (the reference and the benchmark baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from gridcap.errors import GridcapInputError

#: Fixed-point scale of rates and fractions: 0.065 -> 6_500 (0.1 bp resolution).
RATE_SCALE = 100_000
#: Fixed-point scale of DSCR thresholds: 1.10 -> 11_000.
DSCR_SCALE = 10_000
#: Fixed-point scale of DSRA months: 6 months -> 6_000.
MONTH_SCALE = 1_000
#: Largest amount [cents] accepted, so that ``amount * RATE_SCALE`` fits in int64.
MAX_CENTS = 90_000_000_000_000  # $900 bn

#: Per-period flows recorded by the waterfall, in this order (first axis of ``flows``).
#: Sources of cash are the first five, uses the rest; sources == uses exactly.
FLOWS: tuple[str, ...] = (
    "cash_in",  # operating cash before operating costs (source; may be < 0)
    "equity_injection",  # equity funding of an operating shortfall (source)
    "dsra_draw",  # drawn from the DSRA for senior debt service (source)
    "dsra_release",  # DSRA balance above target released (source)
    "lockup_release",  # lock-up account released (source)
    "opex",  # operating costs paid (use)
    "senior_interest",  # scheduled senior interest + arrears paid (use)
    "senior_principal",  # scheduled senior principal paid (use)
    "dsra_topup",  # paid into the DSRA (use)
    "mezzanine_interest",
    "mezzanine_principal",
    "senior_sweep",  # covenant/default sweep to senior: arrears first, then balance
    "mezzanine_sweep",
    "lockup_deposit",  # cash trapped in the lock-up account (use)
    "equity",  # distributions to equity (use)
)
SOURCES: tuple[str, ...] = FLOWS[:5]
USES: tuple[str, ...] = FLOWS[5:]
#: Closing states per period (first axis of ``states``).
STATES: tuple[str, ...] = (
    "senior_balance",
    "senior_accrued",
    "mezzanine_balance",
    "mezzanine_accrued",
    "dsra_balance",
    "lockup_balance",
)
#: Per-tranche cash rows of ``tranche_cash_cents`` (first axis).
TRANCHE_CASH: tuple[str, ...] = (
    "senior",
    "mezzanine",
    "equity",
    "senior_principal",
    "mezzanine_principal",
    "senior_capitalized",  # non-cash: scheduled interest added to the balance
    "mezzanine_capitalized",
)
_NT = len(TRANCHE_CASH)
_F = {name: i for i, name in enumerate(FLOWS)}
_NF = len(FLOWS)
_NS = len(STATES)


@dataclass(frozen=True)
class WaterfallStructure:
    """Contract terms of the waterfall in integer cents and fixed-point integers.

    Build one from sized debt with :func:`structure_from_schedules`.

    Parameters
    ----------
    size_cents : numpy.ndarray of int64, shape (2,)
        Opening balance of the senior and mezzanine tranche [cents].
    target_balance_cents : numpy.ndarray of int64, shape (2, T)
        Scheduled closing balance after each period's scheduled principal [cents].
    scheduled_service_cents : numpy.ndarray of int64, shape (2, T)
        Scheduled debt service (interest + principal) per period [cents]; drives the DSCR
        covenant test and the DSRA target.
    rate_e5 : numpy.ndarray of int64, shape (2,)
        Loan rate per period in units of 1e-5 [1/yr].
    maturity : numpy.ndarray of int64, shape (2,)
        Period number (1-based) of the last scheduled payment [yr].
    dsra_months_e3 : int
        DSRA target in 1e-3 months of next period's senior debt service [month].
    dsra_initial_cents : int
        DSRA balance funded at financial close [cents].
    lockup_dscr_e4 : int
        Lock-up covenant DSCR in units of 1e-4 [1]; 0 disables the covenant.
    sweep_e5 : int
        Share of trapped cash swept to prepay debt, in 1e-5 units [1]; the rest is locked up.
    grace_years : int
        Consecutive periods of unpaid interest tolerated before default [yr].
    """

    size_cents: np.ndarray
    target_balance_cents: np.ndarray
    scheduled_service_cents: np.ndarray
    rate_e5: np.ndarray
    maturity: np.ndarray
    dsra_months_e3: int = 0
    dsra_initial_cents: int = 0
    lockup_dscr_e4: int = 0
    sweep_e5: int = 0
    grace_years: int = 1
    names: tuple[str, str] = field(default=("senior", "mezzanine"))

    @property
    def periods(self) -> int:
        """Number of periods T the schedules cover [yr]."""
        return int(self.target_balance_cents.shape[1])

    def params(self) -> tuple[int, ...]:
        """Scalar terms as a tuple of Python ints (the kernels' calling convention)."""
        return (
            int(self.size_cents[0]),
            int(self.size_cents[1]),
            int(self.rate_e5[0]),
            int(self.rate_e5[1]),
            int(self.maturity[0]),
            int(self.maturity[1]),
            int(self.dsra_months_e3),
            int(self.dsra_initial_cents),
            int(self.lockup_dscr_e4),
            int(self.sweep_e5),
            int(self.grace_years),
        )


@dataclass
class WaterfallResult:
    """Waterfall output for S scenarios and T periods (all amounts integer cents).

    Attributes
    ----------
    tranche_cash_cents : array of int64, shape (7, S, T)
        Per period (:data:`TRANCHE_CASH`): cash received by senior and mezzanine (interest
        + principal + sweep), by equity (distributions minus injections), the principal
        part of the senior and mezzanine receipts, and the (non-cash) interest capitalized
        into their balances where the schedule's service is below the interest [cents].
    default_period : array of int64, shape (2, S)
        Period number (1-based) of senior / mezzanine default, 0 if none [yr].
    final_states_cents : array of int64, shape (6, S)
        Closing states (:data:`STATES`) after the last period [cents].
    flows_cents : array of int64, shape (15, S, T) or None
        Every flow (:data:`FLOWS`), when run with ``detail=True`` [cents].
    states_cents : array of int64, shape (6, S, T) or None
        Closing states per period, when run with ``detail=True`` [cents].
    """

    tranche_cash_cents: Any
    default_period: Any
    final_states_cents: Any
    flows_cents: Any = None
    states_cents: Any = None

    def flow(self, name: str) -> Any:
        """One flow by name, shape (S, T) [cents]."""
        if self.flows_cents is None:
            raise GridcapInputError("flow(): the waterfall was run with detail=False")
        return self.flows_cents[_F[name]]


def _to_fixed(value: float, scale: int, name: str, lo: float, hi: float) -> int:
    """Convert ``value`` to a fixed-point int after checking it lies in [lo, hi]."""
    v = float(value)
    if not np.isfinite(v) or v < lo or v > hi:
        raise GridcapInputError(f"{name} = {value!r}: expected a value in [{lo}, {hi}]")
    return round(v * scale)


def to_cents(amount_usd: Any, name: str = "amount") -> np.ndarray:
    """Round dollar amounts to int64 cents (half away from zero), checking the range.

    Parameters
    ----------
    amount_usd : array_like
        Amounts [$].
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray of int64
        Amounts [cents].
    """
    a = np.asarray(amount_usd, dtype=float)
    if not np.all(np.isfinite(a)):
        raise GridcapInputError(f"{name}: expected finite amounts [$], found NaN or inf")
    if np.any(np.abs(a) * 100 > MAX_CENTS):
        raise GridcapInputError(
            f"{name}: max |amount| = {np.abs(a).max():.4g} $: expected at most "
            f"{MAX_CENTS / 100:.3g} $ per period (int64-cent arithmetic)"
        )
    return (np.sign(a) * np.floor(np.abs(a) * 100 + 0.5)).astype(np.int64)


def _rate_interest(x: int, r: int) -> int:
    """Interest on ``x`` cents at ``r`` (1e-5 units), rounded half up to the cent."""
    return (x * r + 50_000) // 100_000


def schedule_cents(size_cents: int, service_cents: np.ndarray, rate_e5: int) -> np.ndarray:
    """Scheduled closing balances [cents] of a loan repaid by the given debt service.

    Applies the waterfall's own interest rule (``round_half_up(B * r)``) so that a scenario
    whose cash exactly covers the schedule pays it off to the cent; the last balance is
    forced to 0 (the final service absorbs rounding).

    Parameters
    ----------
    size_cents : int
        Opening balance [cents].
    service_cents : numpy.ndarray of int64, shape (T,)
        Sculpted debt service per period [cents]; zero after maturity.
    rate_e5 : int
        Loan rate in 1e-5 units [1/yr].

    Returns
    -------
    numpy.ndarray of int64, shape (T,)
        Closing balance per period [cents] (never below 0, 0 from the last payment on).
    """
    T = len(service_cents)
    nz = np.flatnonzero(np.asarray(service_cents) > 0)
    last = int(nz[-1]) if len(nz) else -1
    out = np.zeros(T, dtype=np.int64)
    b = int(size_cents)
    for t in range(T):
        if t >= last:
            b = 0
        else:
            interest = _rate_interest(b, rate_e5)
            b = max(0, b + interest - int(service_cents[t]))
        out[t] = b
    return out


def structure_from_schedules(
    senior: Any,
    mezzanine: Any | None,
    *,
    periods: int,
    dsra_months: float = 0.0,
    lockup_dscr: float = 0.0,
    sweep_fraction: float = 0.0,
    grace_years: int = 1,
    dsra_funded_at_close: bool = True,
) -> WaterfallStructure:
    """Turn sized debt (:class:`~gridcap.optimizer.financing.project.DebtSchedule`) into cents.

    Parameters
    ----------
    senior, mezzanine : DebtSchedule or None
        Sized tranches (``size_usd`` [$], ``rate`` [1/yr], ``debt_service_usd`` [$] per
        period). ``None`` means a zero tranche.
    periods : int
        Number of waterfall periods T [yr]; schedules are padded with zeros or must fit.
    dsra_months : float
        DSRA target [month] of next period's senior debt service, in [0, 36].
    lockup_dscr : float
        Lock-up covenant DSCR [1] (0 disables), in [0, 10].
    sweep_fraction : float
        Share of trapped cash swept to prepay debt [1], in [0, 1].
    grace_years : int
        Consecutive periods of unpaid interest tolerated before default [yr].
    dsra_funded_at_close : bool
        Whether the first period's DSRA target is funded at close (from sources outside the
        waterfall, e.g. equity), else the DSRA starts empty.

    Returns
    -------
    WaterfallStructure
    """
    if int(grace_years) < 0:
        raise GridcapInputError(f"default_grace_years = {grace_years}: expected an integer >= 0")
    sizes = np.zeros(2, dtype=np.int64)
    rates = np.zeros(2, dtype=np.int64)
    mats = np.ones(2, dtype=np.int64)
    services = np.zeros((2, periods), dtype=np.int64)
    targets = np.zeros((2, periods), dtype=np.int64)
    for k, sched in enumerate((senior, mezzanine)):
        if sched is None:
            continue
        ds = np.asarray(sched.debt_service_usd, dtype=float)
        if len(ds) > periods:
            if np.any(ds[periods:] > 0):
                raise GridcapInputError(
                    f"{sched.tranche}.tenor_years = {sched.tenor_years}: expected at most the "
                    f"{periods}-period horizon of the waterfall"
                )
            ds = ds[:periods]
        svc = np.zeros(periods, dtype=np.int64)
        svc[: len(ds)] = to_cents(ds, f"{sched.tranche}.debt_service_usd")
        rates[k] = _to_fixed(sched.rate, RATE_SCALE, f"{sched.tranche}.rate", 0.0, 0.99999)
        sizes[k] = int(to_cents(sched.size_usd, f"{sched.tranche}.size_usd"))
        tb = schedule_cents(int(sizes[k]), svc, int(rates[k]))
        # Scheduled service consistent with the cent schedule: interest + principal.
        opening = np.concatenate([[sizes[k]], tb[:-1]])
        interest = (opening * rates[k] + 50_000) // 100_000
        services[k] = np.where(opening > 0, interest + opening - tb, 0)
        targets[k] = tb
        nz = np.flatnonzero(services[k] > 0)
        mats[k] = int(nz[-1]) + 1 if len(nz) else 1
        if sizes[k] == 0:
            services[k] = 0
    dsra_e3 = _to_fixed(dsra_months, MONTH_SCALE, "dsra_months", 0.0, 36.0)
    dsra0 = int((int(services[0, 0]) * dsra_e3 + 6_000) // 12_000) if dsra_funded_at_close else 0
    return WaterfallStructure(
        size_cents=sizes,
        target_balance_cents=targets,
        scheduled_service_cents=services,
        rate_e5=rates,
        maturity=mats,
        dsra_months_e3=dsra_e3,
        dsra_initial_cents=dsra0,
        lockup_dscr_e4=_to_fixed(lockup_dscr, DSCR_SCALE, "lockup_dscr", 0.0, 10.0),
        sweep_e5=_to_fixed(sweep_fraction, RATE_SCALE, "sweep_fraction", 0.0, 1.0),
        grace_years=int(grace_years),
    )


# --------------------------------------------------------------------------------------
# Scalar per-scenario implementation: run by Python (lists of ints) or compiled by numba.
# --------------------------------------------------------------------------------------
def _scenario(cash_in, opex, tb0, tb1, sd0, sd1, params, flows, states, tcash, dflt):
    """Run the waterfall of one scenario over all periods (scalar reference).

    ``cash_in``, ``opex`` are length-T sequences of ints [cents]; ``tb*`` scheduled closing
    balances and ``sd*`` scheduled services [cents]; ``params`` as
    :meth:`WaterfallStructure.params`. Writes ``flows[f][t]`` (15 × T), ``states[k][t]``
    (6 × T), ``tcash[j][t]`` (7 × T) and ``dflt[k]`` (2) in place. Works identically on
    Python lists and on numpy arrays (under numba).
    """
    (b0, b1, r0, r1, mat0, mat1, dsra_e3, dsra, lock_e4, sweep_e5, grace) = params
    T = len(cash_in)
    a0 = 0
    a1 = 0
    lock = 0
    arr0 = 0
    arr1 = 0
    d0 = 0
    d1 = 0
    for t in range(T):
        p = t + 1
        last = t == T - 1
        # 1. operating costs; an operating shortfall is met by an equity injection
        cash = cash_in[t] - opex[t]
        inj = 0
        if cash < 0:
            inj = -cash
            cash = 0
        cfads = cash
        # 2-3. senior interest and principal, DSRA drawn for a shortfall
        i0 = ((b0 + a0) * r0 + 50_000) // 100_000
        if d0 > 0 or p >= mat0:
            due0 = b0 + a0 + i0
        else:
            due0 = max(a0, b0 + a0 + i0 - tb0[t])
        int_due0 = min(a0 + i0, due0)
        cap0 = a0 + i0 - int_due0  # interest the schedule capitalizes (service < interest)
        b0 += cap0
        prin_due0 = due0 - int_due0
        draw = min(dsra, max(0, due0 - cash))
        dsra -= draw
        cash += draw
        ip0 = min(cash, int_due0)
        cash -= ip0
        a0 = int_due0 - ip0
        pp0 = min(cash, prin_due0)
        cash -= pp0
        b0 -= pp0
        # 4. DSRA top-up to target, or release of the excess
        tgt = 0
        if not last and b0 + a0 > 0:
            tgt = (sd0[t + 1] * dsra_e3 + 6_000) // 12_000
        top = 0
        rel = 0
        if dsra < tgt:
            top = min(cash, tgt - dsra)
            cash -= top
            dsra += top
        else:
            rel = dsra - tgt
            dsra -= rel
            cash += rel
        # 5-6. mezzanine interest and principal
        i1 = ((b1 + a1) * r1 + 50_000) // 100_000
        if d1 > 0 or p >= mat1:
            due1 = b1 + a1 + i1
        else:
            due1 = max(a1, b1 + a1 + i1 - tb1[t])
        int_due1 = min(a1 + i1, due1)
        cap1 = a1 + i1 - int_due1
        b1 += cap1
        prin_due1 = due1 - int_due1
        ip1 = min(cash, int_due1)
        cash -= ip1
        a1 = int_due1 - ip1
        pp1 = min(cash, prin_due1)
        cash -= pp1
        b1 -= pp1
        # default tests (stated rule): interest unpaid beyond grace, or owed after maturity
        if a0 > 0:
            arr0 += 1
        else:
            arr0 = 0
        if d0 == 0 and (arr0 > grace or (p >= mat0 and b0 + a0 > 0)):
            d0 = p
        if a1 > 0:
            arr1 += 1
        else:
            arr1 = 0
        if d1 == 0 and (arr1 > grace or (p >= mat1 and b1 + a1 > 0)):
            d1 = p
        # 7. covenant: DSCR on scheduled senior + mezzanine service, while debt is owed
        owed = b0 + a0 + b1 + a1
        sched = sd0[t] + sd1[t]
        breach = owed > 0 and sched > 0 and cfads * 10_000 < lock_e4 * sched
        lrel = 0
        sw0 = 0
        sw1 = 0
        dep = 0
        if (d0 > 0 or d1 > 0) and owed > 0:
            lrel = lock
            lock = 0
            cash += lrel
            sw = cash
        elif breach:
            if last:
                lrel = lock
                lock = 0
                cash += lrel
            sw = (cash * sweep_e5) // 100_000
        else:
            lrel = lock
            lock = 0
            cash += lrel
            sw = 0
        x0 = 0
        x1 = 0
        if sw > 0:
            sw0 = min(sw, a0 + b0)
            x0 = min(sw0, a0)
            a0 -= x0
            b0 -= sw0 - x0
            sw1 = min(sw - sw0, a1 + b1)
            x1 = min(sw1, a1)
            a1 -= x1
            b1 -= sw1 - x1
            cash -= sw0 + sw1
        if breach and not last and d0 == 0 and d1 == 0:
            dep = cash
            lock += dep
            cash = 0
        # 8. equity takes the rest
        eq = cash
        f = flows
        f[0][t] = cash_in[t]
        f[1][t] = inj
        f[2][t] = draw
        f[3][t] = rel
        f[4][t] = lrel
        f[5][t] = opex[t]
        f[6][t] = ip0
        f[7][t] = pp0
        f[8][t] = top
        f[9][t] = ip1
        f[10][t] = pp1
        f[11][t] = sw0
        f[12][t] = sw1
        f[13][t] = dep
        f[14][t] = eq
        states[0][t] = b0
        states[1][t] = a0
        states[2][t] = b1
        states[3][t] = a1
        states[4][t] = dsra
        states[5][t] = lock
        tcash[0][t] = ip0 + pp0 + sw0
        tcash[1][t] = ip1 + pp1 + sw1
        tcash[2][t] = eq - inj
        tcash[3][t] = pp0 + sw0 - x0
        tcash[4][t] = pp1 + sw1 - x1
        tcash[5][t] = cap0
        tcash[6][t] = cap1
    dflt[0] = d0
    dflt[1] = d1


def _check_inputs(cash_in: Any, opex: Any, structure: WaterfallStructure) -> None:
    if cash_in.ndim != 2:
        raise GridcapInputError(
            f"cash_in: shape {tuple(cash_in.shape)}: expected (scenario, period) int64 cents"
        )
    if cash_in.shape[1] != structure.periods:
        raise GridcapInputError(
            f"cash_in: {cash_in.shape[1]} periods: expected {structure.periods} (the "
            "structure's schedule length)"
        )
    if opex is not None and tuple(opex.shape) != tuple(cash_in.shape):
        raise GridcapInputError(
            f"opex: shape {tuple(opex.shape)}: expected {tuple(cash_in.shape)} like cash_in"
        )


def _run_python(cash_in: np.ndarray, opex: np.ndarray, s: WaterfallStructure) -> WaterfallResult:
    """Plain-Python per-scenario loop over Python ints (reference and benchmark baseline)."""
    S, T = cash_in.shape
    tb0, tb1 = (s.target_balance_cents[k].tolist() for k in range(2))
    sd0, sd1 = (s.scheduled_service_cents[k].tolist() for k in range(2))
    params = s.params()
    flows = np.zeros((_NF, S, T), dtype=np.int64)
    states = np.zeros((_NS, S, T), dtype=np.int64)
    tcash = np.zeros((_NT, S, T), dtype=np.int64)
    dflt = np.zeros((2, S), dtype=np.int64)
    ci = cash_in.tolist()
    ox = opex.tolist()
    for i in range(S):
        fl = [[0] * T for _ in range(_NF)]
        st = [[0] * T for _ in range(_NS)]
        tc = [[0] * T for _ in range(_NT)]
        d = [0, 0]
        _scenario(ci[i], ox[i], tb0, tb1, sd0, sd1, params, fl, st, tc, d)
        flows[:, i] = fl
        states[:, i] = st
        tcash[:, i] = tc
        dflt[:, i] = d
    return WaterfallResult(tcash, dflt, states[:, :, -1].copy(), flows, states)


# Globals the numba driver resolves at compile time (set by _numba_kernel); keeping the
# driver in this file makes numba's on-disk cache follow edits of _scenario.
_scenario_nb: Any = None
_prange: Any = range


def _drive(cash_in, opex, tb0, tb1, sd0, sd1, params, flows, states, tcash, dflt, detail):
    """Run the scalar rules for every row of ``cash_in`` (source of the numba driver)."""
    S = cash_in.shape[0]
    T = cash_in.shape[1]
    for i in _prange(S):
        if detail:
            _scenario_nb(
                cash_in[i], opex[i], tb0, tb1, sd0, sd1, params,
                flows[:, i, :], states[:, i, :], tcash[:, i, :], dflt[:, i],
            )  # fmt: skip
        else:
            fl = np.empty((15, T), dtype=np.int64)
            st = np.empty((6, T), dtype=np.int64)
            _scenario_nb(
                cash_in[i], opex[i], tb0, tb1, sd0, sd1, params,
                fl, st, tcash[:, i, :], dflt[:, i],
            )  # fmt: skip
            for k in range(6):
                states[k, i, 0] = st[k, T - 1]


@cache
def _numba_kernel() -> Any:
    """Compile :func:`_scenario` and the ``prange`` driver (numba imported on first use).

    Both live in this module, so numba's on-disk cache (keyed on this file) is invalidated
    whenever the rules change.
    """
    import numba

    global _scenario_nb, _prange
    _scenario_nb = numba.njit(cache=True, nogil=True)(_scenario)
    _prange = numba.prange
    return numba.njit(parallel=True, cache=True, nogil=True)(_drive)


def _run_numba(
    cash_in: np.ndarray, opex: np.ndarray, s: WaterfallStructure, detail: bool
) -> WaterfallResult:
    S, T = cash_in.shape
    drive = _numba_kernel()
    flows = np.zeros((_NF, S, T) if detail else (_NF, 1, 1), dtype=np.int64)
    states = np.zeros((_NS, S, T) if detail else (_NS, S, 1), dtype=np.int64)
    tcash = np.zeros((_NT, S, T), dtype=np.int64)
    dflt = np.zeros((2, S), dtype=np.int64)
    drive(
        np.ascontiguousarray(cash_in),
        np.ascontiguousarray(opex),
        s.target_balance_cents[0].copy(),
        s.target_balance_cents[1].copy(),
        s.scheduled_service_cents[0].copy(),
        s.scheduled_service_cents[1].copy(),
        s.params(),
        flows,
        states,
        tcash,
        dflt,
        detail,
    )
    if detail:
        return WaterfallResult(tcash, dflt, states[:, :, -1].copy(), flows, states)
    return WaterfallResult(tcash, dflt, states[:, :, 0].copy())


# --------------------------------------------------------------------------------------
# Array implementation: vectorised over scenarios, written against ``xp``.
# --------------------------------------------------------------------------------------
def _run_xp(
    cash_in: Any, opex: Any, s: WaterfallStructure, detail: bool, xp: ModuleType
) -> WaterfallResult:
    """Array version of :func:`_scenario`: one pass over periods, vectors over scenarios.

    Written with preallocated buffers and ``out=`` ufuncs (period-major copies of the
    inputs and outputs keep every vector contiguous); the steps mirror :func:`_scenario`.
    """
    S, T = cash_in.shape
    (b0_0, b1_0, r0, r1, mat0, mat1, dsra_e3, dsra_0, lock_e4, sweep_e5, grace) = s.params()
    tb0 = s.target_balance_cents[0].tolist()
    tb1 = s.target_balance_cents[1].tolist()
    sd0 = s.scheduled_service_cents[0].tolist()
    sd1 = s.scheduled_service_cents[1].tolist()
    i64 = xp.int64
    ci = xp.ascontiguousarray(cash_in.T)
    ox = xp.ascontiguousarray(opex.T)

    def vec(v: int = 0) -> Any:
        return xp.full(S, v, dtype=i64)

    b0, b1, a0, a1 = vec(b0_0), vec(b1_0), vec(), vec()
    dsra, lock, arr0, arr1, d0, d1 = vec(dsra_0), vec(), vec(), vec(), vec(), vec()
    cash, inj, cfads, tmp = vec(), vec(), vec(), vec()
    due_i, due_p, draw, tgt, top, rel = vec(), vec(), vec(), vec(), vec(), vec()
    due, cap0, cap1 = vec(), vec(), vec()
    ip0, pp0, ip1, pp1 = vec(), vec(), vec(), vec()
    owed0, owed1, lrel, sw, sw0, sw1, x0, x1, dep = (vec() for _ in range(9))
    m1 = xp.zeros(S, dtype=bool)
    m2 = xp.zeros(S, dtype=bool)
    in_def = xp.zeros(S, dtype=bool)
    breach = xp.zeros(S, dtype=bool)
    tc = xp.zeros((_NT, T, S), dtype=i64)
    fl: Any = xp.zeros((_NF, T, S), dtype=i64) if detail else None
    stt: Any = xp.zeros((_NS, T, S), dtype=i64) if detail else None
    add, sub, mul, fdiv = xp.add, xp.subtract, xp.multiply, xp.floor_divide
    mx, mn = xp.maximum, xp.minimum

    def dues(b: Any, a: Any, r: int, d: Any, p: int, mat: int, target: int, cap: Any) -> None:
        """due = b + a + i (accelerated / at maturity) else max(a, b + a + i - target);
        due_i = min(a + i, due); cap = a + i - due_i is capitalized into b; due_p = rest."""
        add(b, a, out=due_i)
        mul(due_i, r, out=due_i)
        add(due_i, 50_000, out=due_i)
        fdiv(due_i, 100_000, out=due_i)
        add(due_i, a, out=due_i)  # a + i
        add(due_i, b, out=due)  # b + a + i
        if p < mat:
            sub(due, target, out=tmp)
            mx(tmp, a, out=tmp)
            xp.copyto(due, tmp, where=d == 0)
        sub(due_i, due, out=cap)
        mx(cap, 0, out=cap)  # a + i - min(a + i, due)
        sub(due_i, cap, out=due_i)
        add(b, cap, out=b)
        sub(due, due_i, out=due_p)

    def pay(out: Any, due: Any) -> None:
        mn(cash, due, out=out)
        sub(cash, out, out=cash)

    def default_test(a: Any, b: Any, arr: Any, d: Any, owed: Any, p: int, mat: int) -> None:
        xp.greater(a, 0, out=m1)
        add(arr, 1, out=arr)
        arr *= m1  # consecutive periods in arrears
        add(b, a, out=owed)
        xp.greater(arr, grace, out=m1)
        if p >= mat:
            xp.logical_or(m1, owed > 0, out=m1)
        xp.logical_and(m1, d == 0, out=m1)
        xp.copyto(d, p, where=m1)

    for t in range(T):
        p = t + 1
        last = t == T - 1
        # 1. operating costs
        sub(ci[t], ox[t], out=cash)
        xp.negative(cash, out=inj)
        mx(inj, 0, out=inj)
        mx(cash, 0, out=cash)
        cfads[...] = cash
        # 2-3. senior
        dues(b0, a0, r0, d0, p, mat0, tb0[t], cap0)
        draw[...] = due
        sub(draw, cash, out=draw)
        mx(draw, 0, out=draw)
        mn(draw, dsra, out=draw)
        sub(dsra, draw, out=dsra)
        add(cash, draw, out=cash)
        pay(ip0, due_i)
        sub(due_i, ip0, out=a0)
        pay(pp0, due_p)
        sub(b0, pp0, out=b0)
        # 4. DSRA
        if last:
            tgt[...] = 0
        else:
            add(b0, a0, out=tgt)
            xp.greater(tgt, 0, out=m1)
            tgt[...] = 0
            xp.copyto(tgt, (sd0[t + 1] * dsra_e3 + 6_000) // 12_000, where=m1)
        sub(tgt, dsra, out=top)
        mx(top, 0, out=top)
        mn(top, cash, out=top)
        sub(dsra, tgt, out=rel)
        mx(rel, 0, out=rel)
        add(cash, rel, out=cash)
        sub(cash, top, out=cash)
        add(dsra, top, out=dsra)
        sub(dsra, rel, out=dsra)
        # 5-6. mezzanine
        dues(b1, a1, r1, d1, p, mat1, tb1[t], cap1)
        pay(ip1, due_i)
        sub(due_i, ip1, out=a1)
        pay(pp1, due_p)
        sub(b1, pp1, out=b1)
        # default tests
        default_test(a0, b0, arr0, d0, owed0, p, mat0)
        default_test(a1, b1, arr1, d1, owed1, p, mat1)
        # 7. covenant
        add(owed0, owed1, out=tmp)  # owed
        xp.greater(tmp, 0, out=m2)  # any debt owed
        xp.logical_or(d0 > 0, d1 > 0, out=in_def)
        xp.logical_and(in_def, m2, out=in_def)
        sched = sd0[t] + sd1[t]
        if sched > 0 and lock_e4 > 0:
            mul(cfads, 10_000, out=tmp)
            xp.less(tmp, lock_e4 * sched, out=breach)
            xp.logical_and(breach, m2, out=breach)
            xp.logical_and(breach, ~in_def, out=breach)
        else:
            breach[...] = False
        # release: in default, covenant met, or last period
        lrel[...] = lock
        if not last:
            xp.logical_and(breach, ~in_def, out=m1)
            lrel[m1] = 0
        sub(lock, lrel, out=lock)
        add(cash, lrel, out=cash)
        mul(cash, sweep_e5, out=sw)
        fdiv(sw, 100_000, out=sw)
        sw *= breach
        xp.copyto(sw, cash, where=in_def)
        mn(sw, owed0, out=sw0)
        mn(sw0, a0, out=x0)
        sub(a0, x0, out=a0)
        sub(b0, sw0, out=b0)
        add(b0, x0, out=b0)
        sub(sw, sw0, out=sw1)
        mn(sw1, owed1, out=sw1)
        mn(sw1, a1, out=x1)
        sub(a1, x1, out=a1)
        sub(b1, sw1, out=b1)
        add(b1, x1, out=b1)
        sub(cash, sw0, out=cash)
        sub(cash, sw1, out=cash)
        if last:
            dep[...] = 0
        else:
            xp.logical_and(breach, d0 == 0, out=m1)
            xp.logical_and(m1, d1 == 0, out=m1)
            mul(cash, m1, out=dep)
        add(lock, dep, out=lock)
        sub(cash, dep, out=cash)
        # 8. equity = cash
        add(ip0, pp0, out=tc[0, t])
        add(tc[0, t], sw0, out=tc[0, t])
        add(ip1, pp1, out=tc[1, t])
        add(tc[1, t], sw1, out=tc[1, t])
        sub(cash, inj, out=tc[2, t])
        add(pp0, sw0, out=tc[3, t])
        sub(tc[3, t], x0, out=tc[3, t])
        add(pp1, sw1, out=tc[4, t])
        sub(tc[4, t], x1, out=tc[4, t])
        tc[5, t] = cap0
        tc[6, t] = cap1
        if detail:
            for k, v in enumerate(
                (ci[t], inj, draw, rel, lrel, ox[t], ip0, pp0, top, ip1, pp1, sw0, sw1, dep, cash)
            ):
                fl[k, t] = v
            for k, v in enumerate((b0, a0, b1, a1, dsra, lock)):
                stt[k, t] = v
    final = xp.stack([b0, a0, b1, a1, dsra, lock])
    return WaterfallResult(
        xp.ascontiguousarray(tc.transpose(0, 2, 1)),
        xp.stack([d0, d1]),
        final,
        xp.ascontiguousarray(fl.transpose(0, 2, 1)) if detail else None,
        xp.ascontiguousarray(stt.transpose(0, 2, 1)) if detail else None,
    )


def array_namespace(x: Any) -> ModuleType:
    """Return the array module of ``x``: ``cupy`` for cupy arrays, else ``numpy``."""
    mod = type(x).__module__.split(".")[0]
    if mod == "cupy":
        import cupy

        return cupy
    return np


METHODS = ("xp", "numba", "python")
#: Scenarios per block of the numpy path (keeps ~40 live int64 vectors in L2 cache).
XP_BLOCK = 16_384


def run_waterfall(
    cash_in: Any,
    structure: WaterfallStructure,
    *,
    opex: Any = None,
    method: str = "xp",
    detail: bool = True,
) -> WaterfallResult:
    """Run the waterfall for every scenario.

    Parameters
    ----------
    cash_in : array of int64, shape (S, T)
        Operating cash per scenario and period before operating costs [cents] (CFADS when
        ``opex`` is None). A numpy or cupy array; cupy runs on the GPU with ``method="xp"``.
    structure : WaterfallStructure
        Contract terms (:func:`structure_from_schedules`).
    opex : array of int64, shape (S, T), optional
        Operating costs [cents], paid first; default 0.
    method : {"xp", "numba", "python"}
        Implementation: vectorised array code, numba ``prange`` over scenarios, or the plain
        Python per-scenario reference loop.
    detail : bool
        Record every flow and state per period (memory: 21 × S × T × 8 bytes) or only the
        tranche cash, defaults and final states.

    Returns
    -------
    WaterfallResult
        All amounts in integer cents.

    Notes
    -----
    Conservation holds exactly, per scenario ``s`` and period ``t``::

        cash_in + equity_injection + dsra_draw + dsra_release + lockup_release
          = opex + senior_interest + senior_principal + dsra_topup + mezzanine_interest
            + mezzanine_principal + senior_sweep + mezzanine_sweep + lockup_deposit + equity

    with account identities ``dsra_t = dsra_{t-1} - draw - release + topup`` and
    ``lockup_t = lockup_{t-1} + deposit - release``.

    Examples
    --------
    >>> import numpy as np
    >>> from gridcap.optimizer.financing.project import size_debt
    >>> sen = size_debt(np.full(5, 1e6), 1.3, 0.06)
    >>> st = structure_from_schedules(sen, None, periods=5)
    >>> res = run_waterfall(np.full((2, 5), 100_000_000), st)
    >>> int(res.default_period.max())
    0
    """
    if method not in METHODS:
        raise GridcapInputError(f"method = {method!r}: expected one of {METHODS}")
    xp = array_namespace(cash_in)
    if xp is not np and method != "xp":
        raise GridcapInputError(f"method = {method!r}: cupy arrays need method='xp'")
    cash_in = xp.asarray(cash_in)
    if cash_in.dtype != xp.int64:
        raise GridcapInputError(
            f"cash_in: dtype {cash_in.dtype}: expected int64 cents (convert with to_cents)"
        )
    opex = xp.zeros_like(cash_in) if opex is None else xp.asarray(opex, dtype=xp.int64)
    _check_inputs(cash_in, opex, structure)
    if method == "python":
        return _run_python(np.asarray(cash_in), np.asarray(opex), structure)
    if method == "numba":
        return _run_numba(np.asarray(cash_in), np.asarray(opex), structure, detail)
    S = cash_in.shape[0]
    if xp is not np or S <= XP_BLOCK:
        return _run_xp(cash_in, opex, structure, detail, xp)
    # numpy: blocks of scenarios whose working set stays in cache (PERFORMANCE.md)
    parts = [
        _run_xp(cash_in[i : i + XP_BLOCK], opex[i : i + XP_BLOCK], structure, detail, xp)
        for i in range(0, S, XP_BLOCK)
    ]
    return WaterfallResult(
        np.concatenate([p.tranche_cash_cents for p in parts], axis=1),
        np.concatenate([p.default_period for p in parts], axis=1),
        np.concatenate([p.final_states_cents for p in parts], axis=1),
        np.concatenate([p.flows_cents for p in parts], axis=1) if detail else None,
        np.concatenate([p.states_cents for p in parts], axis=1) if detail else None,
    )


def conservation_residual(result: WaterfallResult) -> np.ndarray:
    """Sources minus uses per scenario and period [cents]; identically 0 when conserved."""
    f = result.flows_cents
    if f is None:
        raise GridcapInputError("conservation_residual(): run the waterfall with detail=True")
    return f[: len(SOURCES)].sum(axis=0) - f[len(SOURCES) :].sum(axis=0)
