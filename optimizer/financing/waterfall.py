"""Project-finance cash-flow waterfall, run for every scenario at once, in integer cents.

The waterfall distributes each period's cash of every Monte Carlo scenario in a fixed order
of priority::

    1. operating costs            (any shortfall is met by an equity injection)
    2. senior interest            (DSRA drawn first if cash is short of senior debt service)
    3. senior principal           (scheduled: down to the sculpted closing balance; at the
                                   legal maturity the whole balance: the balloon, repaid
                                   first from a refinancing draw, see run_waterfall)
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

The rules are written once, in :func:`waterfall_period` (one period of one scenario, or of
a vector of scenarios) and the rules it applies to each tranche (:func:`tranche_due`,
:func:`pay`, :func:`default_test`, :func:`sweep`), and compiled per target the way the Monte
Carlo element functions are (:mod:`gridcap.kernels.targets`): the bodies use only arithmetic
and the helper names ``fmin``, ``fmax``, ``select``, which :func:`waterfall_rules_for`
rebinds:

* :func:`run_waterfall` with ``method="xp"`` — the body on vectors over scenarios of an array
  namespace ``xp`` (``numpy``; ``cupy`` arrays run on the GPU unchanged, through the same
  code numpy exercises);
* ``method="numba"`` — the body compiled by ``numba.njit`` (scalar helpers inlined) and run
  in a ``prange`` over scenarios;
* ``method="python"`` — the body run by the Python interpreter on Python ints (the
  reference and the benchmark baseline).

The drivers only loop over periods (and scenarios) and store what the body returns, so the
three agree to the cent by construction; the tests still hold them to it, and
:func:`gridcap.optimizer.financing.tokens.replay_ledger` re-derives the ledger from the
exported JSON rules with independent Decimal code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from gridcap.elementwise import fmax, fmin, rebind, select  # scalar forms, rebound per target
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
#: Sources of cash are the first six, uses the rest; sources == uses exactly.
FLOWS: tuple[str, ...] = (
    "cash_in",  # operating cash before operating costs (source; may be < 0)
    "equity_injection",  # equity funding of an operating shortfall (source)
    "dsra_draw",  # drawn from the DSRA for senior debt service (source)
    "dsra_release",  # DSRA balance above target released (source)
    "lockup_release",  # lock-up account released (source)
    "refinancing_draw",  # refinancing loan drawn at the senior legal maturity (source)
    "opex",  # operating costs paid (use)
    "senior_interest",  # scheduled senior interest + arrears paid (use)
    "senior_principal",  # scheduled senior principal (and the balloon at maturity) paid (use)
    "dsra_topup",  # paid into the DSRA (use)
    "mezzanine_interest",
    "mezzanine_principal",
    "senior_sweep",  # covenant/default sweep to senior: arrears first, then balance
    "mezzanine_sweep",
    "lockup_deposit",  # cash trapped in the lock-up account (use)
    "equity",  # distributions to equity (use)
)
SOURCES: tuple[str, ...] = FLOWS[:6]
USES: tuple[str, ...] = FLOWS[6:]
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
    "senior_refinancing",  # the refinancing lender: -draw at legal maturity, then service
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
    legal_maturity : int
        Legal maturity of the senior notes [yr] (period number); when it falls before the
        schedule's last service, the scheduled balance then is a balloon, refinanced in the
        waterfall (see :func:`run_waterfall`). 0: the notes amortise to the end.
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
    legal_maturity: int = 0

    @property
    def balloon_period(self) -> int:
        """Period of the senior balloon (legal maturity before the last service), else 0."""
        M = int(self.legal_maturity)
        if 0 < M < int(self.maturity[0]) and int(self.target_balance_cents[0, M - 1]) > 0:
            return M
        return 0

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
    tranche_cash_cents : array of int64, shape (8, S, T)
        Per period (:data:`TRANCHE_CASH`): cash received by the senior notes (until they are
        refinanced) and mezzanine (interest + principal + sweep), by equity (distributions
        minus injections), the principal part of the senior notes' and mezzanine receipts,
        the (non-cash) interest capitalized into their balances where the schedule's service
        is below the interest, and the refinancing lender's cash (minus the draw) [cents].
    default_period : array of int64, shape (2, S)
        Period number (1-based) of senior-note / mezzanine default, 0 if none [yr].
    final_states_cents : array of int64, shape (6, S)
        Closing states (:data:`STATES`) after the last period [cents] (the senior balance is
        the refinancing loan's once refinanced).
    flows_cents : array of int64, shape (16, S, T) or None
        Every flow (:data:`FLOWS`), when run with ``detail=True`` [cents].
    states_cents : array of int64, shape (6, S, T) or None
        Closing states per period, when run with ``detail=True`` [cents].
    refinanced_period : array of int64, shape (S,)
        Legal maturity where the balloon was refinanced, 0 if not [yr].
    refinancing_default_period : array of int64, shape (S,)
        Period of a default of the refinancing loan, 0 if none [yr].
    """

    tranche_cash_cents: Any
    default_period: Any
    final_states_cents: Any
    flows_cents: Any = None
    states_cents: Any = None
    refinanced_period: Any = None
    refinancing_default_period: Any = None

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


def refinancing_inputs(
    scenarios: Any,
    *,
    seed: int,
    rate: float,
    dscr: float,
    years: int,
    rate_sd: float = 0.0,
    fail_probability: float = 0.0,
) -> np.ndarray:
    r"""The refinancing market each scenario meets at the senior legal maturity.

    A refinancing lender sizes a loan amortising over ``years`` at the scenario's rate to
    ``dscr`` on the then-current CFADS: capacity = CFADS_M x AF(r, n) / DSCR with the
    annuity factor :math:`AF = (1 - (1+r)^{-n}) / r`. The rate is ``rate`` plus a normal
    market shock of standard deviation ``rate_sd`` (floored at 0); with probability
    ``fail_probability`` the market is closed (capacity 0). Both are drawn from the
    counter-based Philox stream ``refinancing`` keyed by (seed, scenario), so the draws
    depend only on the scenario, not on the backend or on how scenarios are batched.

    Parameters
    ----------
    scenarios : array_like of int, shape (S,)
        Global scenario indices [1].
    seed : int
        Master seed of the study [1].
    rate : float
        Refinancing rate before the shock [1/yr].
    dscr : float
        DSCR the refinancing lender sizes to [1] (> 0).
    years : int
        Amortisation of the refinancing loan [yr] (>= 1).
    rate_sd : float
        Standard deviation of the rate shock [1/yr].
    fail_probability : float
        Probability that the market is closed at maturity [1].

    Returns
    -------
    numpy.ndarray of int64, shape (2, S)
        Capacity multiple of CFADS in 1e-3 units [1] and rate in 1e-5 units [1/yr]: the
        ``refinancing`` argument of :func:`run_waterfall`.
    """
    from gridcap.kernels.rng import STREAMS, bits_to_uniform, philox_array
    from gridcap.kernels.targets import get_ops

    for name, v, lo, hi in (
        ("rate", rate, 0.0, 0.99),
        ("rate_sd", rate_sd, 0.0, 0.5),
        ("fail_probability", fail_probability, 0.0, 1.0),
    ):
        if not np.isfinite(v) or not lo <= v <= hi:
            raise GridcapInputError(
                f"finance.refinancing_{name} = {v!r}: expected a value in [{lo}, {hi}]"
            )
    if not np.isfinite(dscr) or dscr <= 0:
        raise GridcapInputError(f"refinancing dscr = {dscr!r}: expected a value > 0")
    scen = np.asarray(scenarios, dtype=np.uint64)
    w = philox_array(np, 0, 0, scen, STREAMS["refinancing"], seed)
    closed = bits_to_uniform(w[0]) < fail_probability
    z = get_ops("numpy").box_muller(w[1], w[2])[0]
    r = np.clip(rate + rate_sd * z, 0.0, 0.99)
    n = max(int(years), 1)
    af = np.where(r > 1e-12, (1.0 - (1.0 + r) ** -n) / np.maximum(r, 1e-12), float(n))
    mult = np.where(closed, 0.0, af / dscr)
    return np.stack([np.floor(mult * 1_000), np.round(r * RATE_SCALE)]).astype(np.int64)


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
    senior_maturity: int = 0,
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
    senior_maturity : int
        Legal maturity of the senior notes [yr]; the scheduled balance then is a balloon
        refinanced in the waterfall (0, or at least the schedule's length: none).

    Returns
    -------
    WaterfallStructure
    """
    if int(grace_years) < 0:
        raise GridcapInputError(f"default_grace_years = {grace_years}: expected an integer >= 0")
    if int(senior_maturity) < 0:
        raise GridcapInputError(
            f"senior_maturity_years = {senior_maturity}: expected an integer >= 0 (0: no balloon)"
        )
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
        legal_maturity=int(senior_maturity),
    )


# --------------------------------------------------------------------------------------
# The rules, written once: one period of one scenario (or of a vector of scenarios).
# --------------------------------------------------------------------------------------
# Like the Monte Carlo element functions (:mod:`gridcap.kernels.targets`), the body below
# uses only arithmetic, comparisons, ``&``/``|`` and three helper names looked up as module
# globals: ``fmin``, ``fmax`` and ``select``. Branches (``x if c else y``) test only the
# period's constants, which are the same for every scenario. :func:`waterfall_rules_for`
# rebinds the helpers per target and compiles the same code object:
#
#   python      scalar min / max / conditional on Python ints    (the reference)
#   numpy/cupy  xp.minimum / xp.maximum / xp.where on vectors     (over scenarios)
#   numba       the scalar helpers, njit(inline="always")         (prange over scenarios)


#: Per-period constants of the structure, one row per period (:func:`period_constants`).
PERIOD_CONSTANTS: tuple[str, ...] = (
    "period",  # 1-based period number p
    "last",  # 1 in the last period of the horizon
    "senior_all_due",  # 1 at the legal maturity and from the schedule's last period on
    "mezzanine_all_due",
    "senior_target",  # scheduled senior closing balance [cents]
    "mezzanine_target",
    "senior_service_next",  # next period's scheduled senior service [cents] (0 in the last)
    "senior_service",  # this period's scheduled senior service [cents]
    "mezzanine_service",
    "mezzanine_rate_e5",
    "sweep_e5",
    "grace_years",
    "lockup_dscr_e4",
    "dsra_months_e3",
    "refinancing",  # 1 at the senior legal maturity when a balloon falls due
    "senior_balloon_target",  # scheduled senior balance at legal maturity [cents]
    "senior_scaled",  # 1 from the legal maturity on: the senior schedule may be rescaled
)
_NK = len(PERIOD_CONSTANTS)
#: State carried from period to period, in this order (the first 6 are :data:`STATES`).
CARRIED: tuple[str, ...] = (
    *STATES,
    "senior_arrears_periods",
    "mezzanine_arrears_periods",
    "senior_default_period",  # of the senior ledger: the notes, or the refinancing loan
    "mezzanine_default_period",
    "senior_rate_e5",  # the notes' coupon; the refinancing rate once refinanced
    "senior_schedule_e5",  # scale of the senior schedule (1e5; R / balloon once refinanced)
    "refinanced_period",  # legal maturity when the balloon was refinanced, else 0
)
_NC = len(CARRIED)
_OUT = _NC + _NF + _NT  # values returned by waterfall_period


def period_constants(s: WaterfallStructure) -> np.ndarray:
    """The per-period constants (:data:`PERIOD_CONSTANTS`) of a structure.

    Parameters
    ----------
    s : WaterfallStructure
        Contract terms.

    Returns
    -------
    numpy.ndarray of int64, shape (T, 17)
        One row per period [cents, fixed-point units, flags].
    """
    T = s.periods
    sd = s.scheduled_service_cents
    k = np.zeros((T, _NK), dtype=np.int64)
    p = np.arange(1, T + 1)
    M = s.balloon_period
    k[:, 0] = p
    k[T - 1, 1] = 1
    k[:, 2] = (p >= int(s.maturity[0])) | (p == M)
    k[:, 3] = p >= int(s.maturity[1])
    k[:, 4:6] = s.target_balance_cents.T
    k[: T - 1, 6] = sd[0, 1:]
    k[:, 7:9] = sd.T
    k[:, 9] = s.rate_e5[1]
    k[:, 10] = s.sweep_e5
    k[:, 11] = s.grace_years
    k[:, 12] = s.lockup_dscr_e4
    k[:, 13] = s.dsra_months_e3
    if M > 0:
        k[M - 1, 14] = 1
        k[:, 15] = s.target_balance_cents[0, M - 1]
        k[M - 1 :, 16] = 1
    return k


def initial_state(s: WaterfallStructure) -> tuple[int, ...]:
    """Opening values of :data:`CARRIED` at financial close [cents, periods, 1e-5]."""
    b0, b1 = int(s.size_cents[0]), int(s.size_cents[1])
    return (b0, 0, b1, 0, int(s.dsra_initial_cents), 0, 0, 0, 0, 0, int(s.rate_e5[0]), 100_000, 0)


def tranche_due(b, a, r, d, all_due, target):
    """What a tranche owes this period under the stated rule.

    Interest ``i = round_half_up((b + a) * r)``; everything (``b + a + i``) is due once
    accelerated (``d > 0``) or when ``all_due`` (maturity), else down to the scheduled
    balance ``target``: ``max(a, b + a + i - target)``. Interest is paid first; interest the
    schedule does not pay is capitalized into the balance.

    Returns
    -------
    tuple
        Balance after capitalization, interest due, principal due, capitalized interest,
        everything owed ``b + a + i`` and the scheduled due [cents].
    """
    i = ((b + a) * r + 50_000) // 100_000
    everything = b + a + i
    scheduled = fmax(a, everything - target)
    due = everything if all_due else select(d > 0, everything, scheduled)
    int_due = fmin(a + i, due)
    cap = a + i - int_due
    return b + cap, int_due, due - int_due, cap, everything, scheduled


def pay(cash, due):
    """Pay ``min(cash, due)``; returns (paid, cash left) [cents]."""
    paid = fmin(cash, due)
    return paid, cash - paid


def default_test(b, a, arr, d, p, grace, all_due):
    """Periods in arrears and the default period after this period's payments: interest
    unpaid for more than ``grace`` consecutive periods, or anything owed when all is due."""
    arr = select(a > 0, arr + 1, 0)
    hit = (arr > grace) | ((b + a > 0) & (all_due > 0))
    return arr, select((d == 0) & hit, p, d)


def sweep(cash, a, b):
    """Sweep up to ``cash`` to a tranche, accrued interest first, then balance; returns
    (swept, of which interest, accrued left, balance left) [cents]."""
    swept = fmin(cash, b + a)
    x = fmin(swept, a)
    return swept, x, a - x, b - (swept - x)


def waterfall_period(
    cash_in, opex, refi_x, refi_r, b0, a0, b1, a1, dsra, lock, arr0, arr1, d0, d1, r0, f0, rf, k
):
    """The waterfall's rules for one period: the only place they are written.

    Parameters
    ----------
    cash_in, opex
        Operating cash before costs and operating costs of the period [cents] (scalars, or
        vectors over scenarios).
    refi_x, refi_r
        The scenario's refinancing capacity, as a multiple of the period's CFADS in 1e-3
        units (0: the market is closed), and refinancing rate in 1e-5 units [1/yr].
    b0, a0, b1, a1, dsra, lock, arr0, arr1, d0, d1, r0, f0, rf
        Opening state (:data:`CARRIED`): senior / mezzanine balance and accrued interest,
        DSRA and lock-up balances [cents], consecutive periods in arrears, default period,
        senior rate [1e-5/yr], senior schedule scale [1e-5], refinancing period.
    k : sequence of int
        The period's constants (:data:`PERIOD_CONSTANTS`).

    Returns
    -------
    tuple
        The closing state (13, :data:`CARRIED`), the flows (16, :data:`FLOWS`) and the
        tranche cash (8, :data:`TRANCHE_CASH`) of the period [cents].
    """
    p, last, r1, grace = k[0], k[1], k[9], k[11]
    notes = rf == 0  # the senior ledger still belongs to the notes (not yet refinanced)
    # 1. operating costs; an operating shortfall is met by an equity injection
    cash = cash_in - opex
    inj = fmax(-cash, 0)
    cash = fmax(cash, 0)
    cfads = cash
    # 2-3. senior interest and principal, DSRA drawn for a shortfall. Due: everything once
    # accelerated or at (legal) maturity, else down to the scheduled balance; interest
    # first, and interest the schedule does not pay is capitalized into the balance.
    b0, int_due0, prin_due0, cap0, all0, sched0 = tranche_due(
        b0, a0, r0, d0, k[2], (k[4] * f0) // 100_000 if k[16] else k[4]
    )
    # balloon at legal maturity: a refinancing draw up to the capacity the period's CFADS
    # supports repays the balance above the scheduled service (and any shortfall of cash and
    # DSRA); it closes only if capacity + cash + DSRA cover everything due, else the notes
    # default at maturity with what cash and DSRA pay.
    ref = 0
    if k[14]:
        ok = (d0 == 0) & ((cfads * refi_x) // 1_000 + cash + dsra >= all0)
        want = fmax(all0 - sched0, all0 - cash - dsra)
        ref = select(ok, fmin((cfads * refi_x) // 1_000, want), 0)
    cash = cash + ref
    draw = fmin(dsra, fmax(int_due0 + prin_due0 - cash, 0))
    dsra = dsra - draw
    cash = cash + draw
    ip0, cash = pay(cash, int_due0)
    a0 = int_due0 - ip0
    pp0, cash = pay(cash, prin_due0)
    b0 = b0 - pp0
    # senior default test (stated rule): interest unpaid beyond grace, or owed at maturity
    arr0, d0 = default_test(b0, a0, arr0, d0, p, grace, k[2])
    if k[14]:  # the refinancing loan opens: balance R, its rate, the schedule scaled to R
        rf = select(ref > 0, p, rf)
        r0 = select(ref > 0, refi_r, r0)
        f0 = select(ref > 0, (ref * 100_000) // k[15], f0)
        b0 = b0 + ref
    # 4. DSRA top-up to target (next period's senior service while senior is owed), or
    # release of the excess
    nxt = (((k[6] * f0) // 100_000 if k[16] else k[6]) * k[13] + 6_000) // 12_000
    tgt = select(b0 + a0 > 0, nxt, 0)
    top = fmin(fmax(tgt - dsra, 0), cash)
    rel = fmax(dsra - tgt, 0)
    cash = cash + rel - top
    dsra = dsra + top - rel
    # 5-6. mezzanine interest and principal (same due rule, no reserve)
    b1, int_due1, prin_due1, cap1, _, _ = tranche_due(b1, a1, r1, d1, k[3], k[5])
    ip1, cash = pay(cash, int_due1)
    a1 = int_due1 - ip1
    pp1, cash = pay(cash, prin_due1)
    b1 = b1 - pp1
    arr1, d1 = default_test(b1, a1, arr1, d1, p, grace, k[3])
    # 7. covenant: DSCR on scheduled senior + mezzanine service while debt is owed. In
    # default: release the lock-up and sweep all cash; in breach: sweep a share and lock up
    # the rest (released in the last period); else release the lock-up.
    owing = b0 + a0 + b1 + a1 > 0
    in_def = owing & (d0 + d1 > 0)
    cov = k[12] * (((k[7] * f0) // 100_000 if k[16] else k[7]) + k[8])
    breach = owing & (d0 + d1 == 0) & (cfads * 10_000 < cov)
    lrel = lock if last else select(breach, 0, lock)
    lock = lock - lrel
    cash = cash + lrel
    sw = select(in_def, cash, select(breach, (cash * k[10]) // 100_000, 0))
    sw0, x0, a0, b0 = sweep(sw, a0, b0)  # senior first, then mezzanine
    sw1, x1, a1, b1 = sweep(sw - sw0, a1, b1)
    cash = cash - sw0 - sw1
    dep = 0 if last else select(breach, cash, 0)
    lock = lock + dep
    # 8. equity takes the rest
    eq = cash - dep
    # tranche cash: the notes until refinanced; the refinancing lender lends R, then is served
    s0 = ip0 + pp0 + sw0
    return (
        b0, a0, b1, a1, dsra, lock, arr0, arr1, d0, d1, r0, f0, rf,
        cash_in, inj, draw, rel, lrel, ref, opex, ip0, pp0, top, ip1, pp1, sw0, sw1, dep, eq,
        select(notes, s0, 0), ip1 + pp1 + sw1, eq - inj, select(notes, pp0 + sw0 - x0, 0),
        pp1 + sw1 - x1, select(notes, cap0, 0), cap1, select(notes, 0, s0) - ref,
    )  # fmt: skip


#: The rule functions, callees first (rebound together for every target).
_RULES = (
    "fmin",
    "fmax",
    "select",
    "tranche_due",
    "pay",
    "default_test",
    "sweep",
    "waterfall_period",
)


@cache
def waterfall_rules_for(target: str) -> Any:
    """:func:`waterfall_period` compiled for ``target``.

    Parameters
    ----------
    target : {"python", "numpy", "cupy", "numba"}
        Scalar Python ints, vectors of an array module, or numba's scalar ``njit``.

    Returns
    -------
    callable
        The rule body with the target's ``fmin`` / ``fmax`` / ``select``.
    """
    if target == "python":
        return waterfall_period
    ns = dict(globals())
    if target in ("numpy", "cupy"):
        import importlib

        xp = np if target == "numpy" else importlib.import_module("cupy")
        ns.update(fmin=xp.minimum, fmax=xp.maximum, select=xp.where)
        for name in _RULES[3:]:
            ns[name] = rebind(globals()[name], ns)
        return ns["waterfall_period"]
    if target != "numba":
        raise GridcapInputError(
            f"target = {target!r}: expected one of 'python', 'numpy', 'cupy', 'numba'"
        )
    import numba

    for name in _RULES:
        ns[name] = numba.njit(inline="always")(rebind(globals()[name], ns))
    return ns["waterfall_period"]


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


def _result(tcash: Any, carried: Any, flows: Any, states: Any, xp: Any) -> WaterfallResult:
    """Assemble a result from the drivers' arrays; ``carried`` is the final state (13, S)."""
    rf, d0 = carried[_NC - 1], carried[_NS + 2]
    return WaterfallResult(
        tcash,
        xp.stack([xp.where(rf > 0, 0, d0), carried[_NS + 3]]),
        xp.ascontiguousarray(carried[:_NS]),
        flows,
        states,
        refinanced_period=xp.ascontiguousarray(rf),
        refinancing_default_period=xp.where(rf > 0, d0, 0),
    )


# --------------------------------------------------------------------------------------
# Drivers: they only loop and store; every rule is in waterfall_period.
# --------------------------------------------------------------------------------------
def _run_python(
    cash_in: np.ndarray, opex: np.ndarray, refi: np.ndarray, s: WaterfallStructure
) -> WaterfallResult:
    """Plain-Python per-scenario loop over Python ints (reference and benchmark baseline)."""
    S, T = cash_in.shape
    step = waterfall_rules_for("python")
    rows = [tuple(r) for r in period_constants(s).tolist()]
    flows = np.zeros((_NF, S, T), dtype=np.int64)
    states = np.zeros((_NS, S, T), dtype=np.int64)
    tcash = np.zeros((_NT, S, T), dtype=np.int64)
    carried = np.zeros((_NC, S), dtype=np.int64)
    ci, ox, rx = cash_in.tolist(), opex.tolist(), refi.tolist()
    for i in range(S):
        state = initial_state(s)
        out = []
        for t in range(T):
            o = step(ci[i][t], ox[i][t], rx[0][i], rx[1][i], *state, rows[t])
            state = o[:_NC]
            out.append(o)
        cols = np.array(out, dtype=np.int64).T  # (_OUT, T)
        states[:, i] = cols[:_NS]
        flows[:, i] = cols[_NC : _NC + _NF]
        tcash[:, i] = cols[_NC + _NF :]
        carried[:, i] = state
    return _result(tcash, carried, flows, states, np)


# Global the numba driver resolves at compile time (set by _numba_kernel); keeping the
# driver in this file makes numba's on-disk cache follow edits of the rules.
_period_nb: Any = None
_prange: Any = range


def _drive(cash_in, opex, refi, K, init, flows, states, tcash, carried, detail):
    """Run the rules for every row of ``cash_in`` (source of the numba driver)."""
    S = cash_in.shape[0]
    T = cash_in.shape[1]
    for i in _prange(S):
        b0, a0, b1, a1, dsra, lock, arr0, arr1, d0, d1, r0, f0, rf = init
        for t in range(T):
            o = _period_nb(
                cash_in[i, t], opex[i, t], refi[0, i], refi[1, i],
                b0, a0, b1, a1, dsra, lock, arr0, arr1, d0, d1, r0, f0, rf, K[t],
            )  # fmt: skip
            b0, a0, b1, a1, dsra, lock, arr0, arr1, d0, d1, r0, f0, rf = o[:13]
            for j in range(8):
                tcash[j, i, t] = o[29 + j]
            if detail:
                for j in range(16):
                    flows[j, i, t] = o[13 + j]
                for j in range(6):
                    states[j, i, t] = o[j]
        for j in range(13):
            carried[j, i] = (b0, a0, b1, a1, dsra, lock, arr0, arr1, d0, d1, r0, f0, rf)[j]


@cache
def _numba_kernel() -> Any:
    """Compile the rules and the ``prange`` driver (numba imported on first use)."""
    import numba

    global _period_nb, _prange
    _period_nb = waterfall_rules_for("numba")
    _prange = numba.prange
    return numba.njit(parallel=True, cache=True, nogil=True)(_drive)


def _run_numba(
    cash_in: np.ndarray, opex: np.ndarray, refi: np.ndarray, s: WaterfallStructure, detail: bool
) -> WaterfallResult:
    S, T = cash_in.shape
    drive = _numba_kernel()
    flows = np.zeros((_NF, S, T) if detail else (_NF, 1, 1), dtype=np.int64)
    states = np.zeros((_NS, S, T) if detail else (_NS, 1, 1), dtype=np.int64)
    tcash = np.zeros((_NT, S, T), dtype=np.int64)
    carried = np.zeros((_NC, S), dtype=np.int64)
    drive(
        np.ascontiguousarray(cash_in),
        np.ascontiguousarray(opex),
        np.ascontiguousarray(refi),
        period_constants(s),
        initial_state(s),
        flows,
        states,
        tcash,
        carried,
        detail,
    )
    if detail:
        return _result(tcash, carried, flows, states, np)
    return _result(tcash, carried, None, None, np)


def _run_xp(
    cash_in: Any, opex: Any, refi: Any, s: WaterfallStructure, detail: bool, xp: ModuleType
) -> WaterfallResult:
    """Array driver: one pass over periods, the rules applied to vectors over scenarios."""
    S, T = cash_in.shape
    step = waterfall_rules_for("numpy" if xp is np else "cupy")
    rows = [tuple(r) for r in period_constants(s).tolist()]
    i64 = xp.int64
    ci = xp.ascontiguousarray(cash_in.T)
    ox = xp.ascontiguousarray(opex.T)
    state = tuple(xp.full(S, v, dtype=i64) for v in initial_state(s))
    tc = xp.zeros((_NT, T, S), dtype=i64)
    fl: Any = xp.zeros((_NF, T, S), dtype=i64) if detail else None
    stt: Any = xp.zeros((_NS, T, S), dtype=i64) if detail else None
    for t in range(T):
        o = step(ci[t], ox[t], refi[0], refi[1], *state, rows[t])
        state = o[:_NC]  # every carried value is a vector over scenarios
        for j in range(_NT):
            tc[j, t] = o[_NC + _NF + j]
        if detail:
            for j in range(_NF):
                fl[j, t] = o[_NC + j]
            for j in range(_NS):
                stt[j, t] = o[j]
    return _result(
        xp.ascontiguousarray(tc.transpose(0, 2, 1)),
        xp.stack(state),
        xp.ascontiguousarray(fl.transpose(0, 2, 1)) if detail else None,
        xp.ascontiguousarray(stt.transpose(0, 2, 1)) if detail else None,
        xp,
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
    refinancing: Any = None,
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
    refinancing : array of int64, shape (2, S), optional
        Per scenario, the refinancing market at the senior legal maturity
        (:func:`refinancing_inputs`): capacity as a multiple of that period's CFADS in 1e-3
        units (0: the market is closed) and the refinancing rate in 1e-5 units [1/yr].
        Default: no refinancing (the balloon must be paid from cash and the DSRA).
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

    **Balloon and refinancing** (``structure.balloon_period`` M > 0): in period M the notes'
    whole balance is due. A refinancing draw ``R = min(capacity, max(balloon, due - cash -
    DSRA))`` with ``capacity = floor(CFADS_M * multiple)`` pays them, where ``balloon`` is
    what is due above the period's scheduled service; it closes only when capacity + cash +
    DSRA cover everything due (else R = 0 and the notes default at maturity, recovering
    from the cash that follows). The refinancing loan then takes the senior ledger's place:
    balance R at the scenario's refinancing rate, amortising along the original sculpted
    schedule scaled by R / scheduled balloon, with the same default rule; its cash is
    ``tranche_cash_cents[7]`` and the notes' cash stops.

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
    S = cash_in.shape[0]
    refi = (
        xp.zeros((2, S), dtype=xp.int64)
        if refinancing is None
        else xp.asarray(refinancing, dtype=xp.int64)
    )
    if tuple(refi.shape) != (2, S) or bool((refi < 0).any()):
        raise GridcapInputError(
            f"refinancing: shape {tuple(refi.shape)}: expected (2, {S}) non-negative int64 "
            "(capacity multiple in 1e-3, rate in 1e-5 per scenario; see refinancing_inputs)"
        )
    if method == "python":
        return _run_python(np.asarray(cash_in), np.asarray(opex), np.asarray(refi), structure)
    if method == "numba":
        return _run_numba(
            np.asarray(cash_in), np.asarray(opex), np.asarray(refi), structure, detail
        )
    if xp is not np or S <= XP_BLOCK:
        return _run_xp(cash_in, opex, refi, structure, detail, xp)
    # numpy: blocks of scenarios whose working set stays in cache (PERFORMANCE.md)
    parts = [
        _run_xp(
            cash_in[i : i + XP_BLOCK],
            opex[i : i + XP_BLOCK],
            refi[:, i : i + XP_BLOCK],
            structure,
            detail,
            xp,
        )
        for i in range(0, S, XP_BLOCK)
    ]

    def cat(name: str, axis: int) -> Any:
        return np.concatenate([getattr(p, name) for p in parts], axis=axis)

    return WaterfallResult(
        cat("tranche_cash_cents", 1),
        cat("default_period", 1),
        cat("final_states_cents", 1),
        cat("flows_cents", 1) if detail else None,
        cat("states_cents", 1) if detail else None,
        refinanced_period=cat("refinanced_period", 0),
        refinancing_default_period=cat("refinancing_default_period", 0),
    )


def conservation_residual(result: WaterfallResult) -> np.ndarray:
    """Sources minus uses per scenario and period [cents]; identically 0 when conserved."""
    f = result.flows_cents
    if f is None:
        raise GridcapInputError("conservation_residual(): run the waterfall with detail=True")
    return f[: len(SOURCES)].sum(axis=0) - f[len(SOURCES) :].sum(axis=0)
