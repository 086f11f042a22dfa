"""Representative periods: which hours of the year a Monte Carlo run simulates, with weights.

A full year (``hours = 8760``) simulates every hour of a 365-day year. Fewer hours simulate a
*systematic calendar sample of whole periods* (days or weeks): the 365-day year, taken from
1 December (:data:`STRATA_START_DAY`), is cut into ``n = hours / L`` equal calendar strata
(``L`` = 24 h for days, 168 h for weeks) and the whole period centred on each stratum's
midpoint is simulated (4 weeks: mid-January, mid-April, mid-July, mid-October). Every
simulated hour then stands for the same number of hours of the year,

.. math:: w = 8760 / \\text{hours}\\quad[\\text{h of year per simulated h}],

so each representative period carries the weight of its stratum (``w L`` hours, e.g. 4
representative weeks → 2,190 h each). With ``n ≥ 4`` periods the midpoints are at most 91.25
days apart, so every meteorological season (:data:`gridcap.kernels.events.SEASONS`, 90-92 days)
holds at least one representative period, and every time slice of the planner is sampled
(tests check every accepted value).

This is the representative-period practice of capacity-expansion models, in its simplest,
deterministic form: PyPSA weights each snapshot (``Network.snapshot_weightings``) and
PyPSA-Eur's ``Nsn`` temporal option keeps every N-th snapshot with weight N; TIMES models
the year as weighted time slices (``G_YRFR``, season × day-night fractions); ReEDS solves on
representative days or weeks whose weights are the number of days each stands for. Clustered
selection (k-medoids / tsam, as PyPSA-Eur and ReEDS also offer) picks periods by their data;
here the sample must not depend on the scenario (all scenarios share one calendar, and a
scenario's draws must not depend on the others), so the selection is calendar-systematic.

Consistency, used by :func:`gridcap.kernels.simulate` and the planner:

* The drivers keep their calendar: day of year, hour of day and season come from the true
  hour of year (:attr:`TimeAxis.hour_of_year`), the random numbers of the weather/market
  drivers are keyed by it (a representative week draws the same innovations as the same week
  of a full-year run), and their AR(1) processes restart, stationary, at each period.
* Annual figures (energy, money, CFADS, emissions, slice durations ``slice_hours``) are sums
  over simulated hours × ``w`` — the weights are equal, so one scale factor serves the
  kernel's accumulators, the site and pool economics, the slices and the chain alike.
* Peaks (``peak_net_load_mw``), order statistics (arbitrage thresholds, event thresholds) and
  events are taken over the *sampled* hours only: a sample of ``hours`` hours misses the
  year's most extreme hours, so peaks are biased low: the scenario-mean annual peak of the
  regional net load came out 6-8% below the full year's with 4 weeks and 3-5% below with 13
  weeks (tiny two-region study, 16 scenarios, 5 seeds; ``tests/test_periods.py``). Events are
  called from the top ``1 - q`` share of the *sampled* hours, so weighted event hours match
  the year's, but a short sample splits them into more, shorter events: event-driven energy
  (flexible-load shedding, battery discharge) came out 15-45% and 4-7% high with 4 weeks
  (2-3% for battery discharge with 13 weeks). Delivery ratios are ratios and need no weight.
  Use 4 weeks to explore, 13 weeks or more (or the full year) for a final plan.
* DER state (battery charge, EV energy owed) carries over from one period to the next, as
  if the periods were consecutive; its effect is a fraction of one day's cycle per period.

``"chronological"`` (the first ``hours`` hours from 1 January) is a kernel-level option for
tests and benchmarks only: it is no sample of the year (slices outside the simulated months
are empty, NaN), so study configs cannot choose it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridcap.errors import GridcapInputError
from gridcap.params import check_params, param

__all__ = [
    "CONFIG_CHOICES",
    "DEFAULT_REPRESENTATIVE",
    "HOURS_PER_YEAR",
    "REPRESENTATIVE",
    "STRATA_START_DAY",
    "PeriodSampling",
    "TimeAxis",
    "allowed_hours",
    "allowed_hours_summary",
    "allowed_hours_text",
    "hours_problem",
    "slice_index",
    "time_axis",
]

#: Hours of the simulated (365-day) year [h].
HOURS_PER_YEAR = 8760

#: Representative-period kinds: period length [h] and the fewest periods accepted [1]
#: (4: one per season). ``None`` period: the first ``hours`` hours from 1 January.
REPRESENTATIVE: dict[str, dict[str, int | None]] = {
    "weeks": {"period_hours": 168, "min_periods": 4},
    "days": {"period_hours": 24, "min_periods": 4},
    "chronological": {"period_hours": None, "min_periods": 1},
}
#: First day of the first calendar stratum [day of year, 0 = 1 January]: 334 = 1 December,
#: the start of meteorological winter, so with 4 periods each stratum is one season and its
#: period sits mid-season (mid-January, mid-April, mid-July, mid-October), near the
#: climatological extremes of temperature (coldest around 20 January, warmest around 20 July;
#: :data:`gridcap.kernels.drivers.TEMPERATURE`).
STRATA_START_DAY = 334
#: Kinds a study config may choose (``monte_carlo.representative``).
CONFIG_CHOICES: tuple[str, ...] = ("weeks", "days")
#: Default kind for runs on fewer than 8,760 hours.
DEFAULT_REPRESENTATIVE = "weeks"


@dataclass(frozen=True)
class TimeAxis:
    """The simulated hours of one scenario-year.

    Attributes
    ----------
    representative : str
        Kind (a key of :data:`REPRESENTATIVE`).
    hours : int
        Simulated hours T [h].
    period_hours : int
        Length of one period [h] (T for a full year or a chronological run).
    period_start : numpy.ndarray of int64, shape (n,)
        Hour of year of each period's first hour [h], increasing.
    hour_of_year : numpy.ndarray of int64, shape (T,)
        Hour of year of each simulated hour [h], in [0, 8760).
    weight : float
        Hours of the year each simulated hour stands for, ``8760 / T`` [h/h].
    """

    representative: str
    hours: int
    period_hours: int
    period_start: np.ndarray
    hour_of_year: np.ndarray
    weight: float

    @property
    def n_periods(self) -> int:
        """Number of periods n [1]."""
        return int(self.period_start.size)

    @property
    def period_weight_hours(self) -> float:
        """Hours of the year each period stands for, ``weight × period_hours`` [h]."""
        return self.weight * self.period_hours


_METHOD = ("systematic calendar sample of whole periods with equal weights (PyPSA "
           "snapshot_weightings / PyPSA-Eur 'Nsn'; TIMES time slices; ReEDS representative "
           "periods): gridcap.kernels.periods")


@dataclass(frozen=True)
class PeriodSampling:
    """Which hours a Monte Carlo run simulates: the ``[monte_carlo]`` keys ``hours`` and
    ``representative`` (one owner of their defaults, ranges and meaning).

    The exact ``hours`` values accepted depend on ``representative``; :meth:`problems` checks
    both together and lists the allowed values.
    """

    hours: int = param(
        HOURS_PER_YEAR, "h", "simulated hours per scenario-year; below 8760, representative "
        "periods whose annual figures are scaled by 8760 / hours (8760, or a multiple of 168 "
        "in [672, 8736] with 'weeks', of 24 in [96, 8736] with 'days')", lo=96,
        hi=HOURS_PER_YEAR, kind=int, source=_METHOD)
    representative: str = param(
        DEFAULT_REPRESENTATIVE, "", "representative periods when hours < 8760: whole weeks or "
        "days, one centred in each of hours / period equal calendar strata from 1 December "
        "(every season sampled)", choices=CONFIG_CHOICES, kind=str, source=_METHOD)

    def problems(self, prefix: str = "monte_carlo") -> list[str]:
        """Every problem with the two values, each naming the key, value and allowed values."""
        found = check_params(self, prefix)
        if found:
            return found
        problem = hours_problem(self.hours, self.representative, f"{prefix}.hours",
                                f"{prefix}.representative")
        return [] if problem is None else [problem]

    def axis(self) -> TimeAxis:
        """The :class:`TimeAxis` these values simulate."""
        return time_axis(self.hours, self.representative)


def allowed_hours(representative: str) -> list[int]:
    """Every ``hours`` value accepted with a representative-period kind, ascending [h].

    Parameters
    ----------
    representative : str
        A key of :data:`REPRESENTATIVE`.

    Returns
    -------
    list of int
        ``L k`` for ``min_periods ≤ k`` and ``L k < 8760``, then 8760 (``L`` the period
        length); for ``"chronological"`` every multiple of 24 up to 8760.
    """
    spec = REPRESENTATIVE[representative]
    length = spec["period_hours"] or 24
    lo = int(spec["min_periods"] or 1)
    vals = [length * k for k in range(lo, HOURS_PER_YEAR // length + 1)
            if length * k < HOURS_PER_YEAR]
    return [*vals, HOURS_PER_YEAR]


def allowed_hours_text(representative: str) -> str:
    """The accepted ``hours`` values in words, for error messages and the config schema."""
    vals = allowed_hours(representative)
    length = REPRESENTATIVE[representative]["period_hours"] or 24
    unit = {168: "weeks", 24: "days"}[length]
    if representative == "chronological":
        return f"a multiple of 24 in [24, {HOURS_PER_YEAR}]"
    return (f"{HOURS_PER_YEAR} (the full year) or a multiple of {length} in "
            f"[{vals[0]}, {vals[-2]}] ({vals[0] // length} to {vals[-2] // length} "
            f"representative {unit})")


def allowed_hours_summary(kind_key: str = "representative") -> str:
    """Every accepted ``hours`` value over all config kinds, in words (for the config key)."""
    parts = [f"{allowed_hours_text(k).split(' or ', 1)[1]} with {kind_key} = {k!r}"
             for k in CONFIG_CHOICES]
    return f"{HOURS_PER_YEAR} (the full year), or " + ", or ".join(parts)


def hours_problem(hours: object, representative: object, key: str = "hours",
                  kind_key: str = "representative") -> str | None:
    """Why ``hours`` cannot run with ``representative``, or ``None`` when it can.

    Parameters
    ----------
    hours : object
        Simulated hours per scenario-year [h].
    representative : object
        Representative-period kind.
    key, kind_key : str
        Names to use for the two values in the message (e.g. ``monte_carlo.hours``).

    Returns
    -------
    str or None
        A message naming the value and every allowed value, or ``None``.
    """
    if not isinstance(representative, str) or representative not in REPRESENTATIVE:
        return (f"{kind_key} = {representative!r}: expected one of "
                f"{list(REPRESENTATIVE)}")
    if isinstance(hours, bool) or not isinstance(hours, (int, np.integer)):
        return f"{key} = {hours!r}: expected an integer number of hours [h]"
    if int(hours) not in set(allowed_hours(representative)):
        others = [k for k in CONFIG_CHOICES
                  if k != representative and int(hours) in allowed_hours(k)]
        hint = "".join(
            f"; {int(hours)} h runs as {int(hours) // int(REPRESENTATIVE[k]['period_hours'] or 1)}"
            f" representative {k} with {kind_key} = {k!r}" for k in others)
        return (f"{key} = {hours!r} with {kind_key} = {representative!r}: expected "
                f"{allowed_hours_text(representative)}{hint}")
    return None


def time_axis(hours: int = HOURS_PER_YEAR,
              representative: str = DEFAULT_REPRESENTATIVE) -> TimeAxis:
    """The hours a run simulates and their weight.

    Parameters
    ----------
    hours : int, default 8760
        Simulated hours per scenario-year [h] (see :func:`allowed_hours`).
    representative : str, default ``"weeks"``
        ``"weeks"``, ``"days"`` or ``"chronological"`` (kernel-level only); ignored for a
        full year.

    Returns
    -------
    TimeAxis
        For fewer than 8,760 hours with ``"weeks"``/``"days"``: ``n = hours / L`` periods,
        period ``i`` starting on day ``round(d0 + (i + 1/2) 365 / n - P / 2) mod 365``
        (``P`` = 7 or 1 days, ``d0`` = :data:`STRATA_START_DAY`), i.e. centred on the
        midpoint of the ``i``-th of ``n`` equal calendar strata; periods sorted by start.

    Raises
    ------
    GridcapInputError
        If ``hours`` is not accepted with ``representative``; the message lists the allowed
        values.

    Examples
    --------
    >>> ax = time_axis(672, "weeks")
    >>> ax.period_start.tolist(), ax.weight
    ([264, 2448, 4656, 6840], 13.035714285714286)
    """
    problem = hours_problem(hours, representative)
    if problem is not None:
        raise GridcapInputError(problem)
    t = int(hours)
    length = REPRESENTATIVE[representative]["period_hours"]
    if t == HOURS_PER_YEAR or length is None:
        starts = np.zeros(1, dtype=np.int64)
        length = t
    else:
        n = t // length
        days = length // 24
        mid = STRATA_START_DAY + (np.arange(n) + 0.5) * (365.0 / n)
        start_day = np.sort(np.floor(mid - days / 2.0 + 0.5).astype(np.int64) % 365)
        starts = start_day * 24
    hoy = (starts[:, None] + np.arange(length, dtype=np.int64)[None, :]).reshape(-1)
    hoy %= HOURS_PER_YEAR  # a period around 31 December runs on into 1 January
    for a in (starts, hoy):
        a.setflags(write=False)
    return TimeAxis(representative, t, int(length),
                    starts, hoy, HOURS_PER_YEAR / t)


def slice_index(hour_of_year: np.ndarray) -> np.ndarray:
    """Planner time slice of each simulated hour (index into ``SLICE_NAMES``).

    Parameters
    ----------
    hour_of_year : numpy.ndarray of int
        Hours of year [h], shape (T,).

    Returns
    -------
    numpy.ndarray of int64
        Shape (T,), season × day-block slice of each hour by its calendar date.
    """
    from gridcap.kernels.events import slice_of_hour

    return slice_of_hour(HOURS_PER_YEAR)[np.asarray(hour_of_year, dtype=np.int64)]
