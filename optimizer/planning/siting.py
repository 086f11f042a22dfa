"""Siting and build plan: a risk-aware two-stage stochastic program (Pyomo + HiGHS).

The model is a readable, ordered list of small ``add_*`` functions (:data:`BUILD_STEPS`), each
adding one family of variables or constraints computed from numpy masks (PyPSA's ``define_*``
style). :class:`PlanModel` builds it once, hands it to one persistent HiGHS instance and can
re-solve after :meth:`PlanModel.set_param` without rebuilding; :func:`plan` is the one-call
entry point.

Formulation (all money in present-value dollars of the first planning year)
--------------------------------------------------------------------------
First stage, region r, technology k, site s, pool p, year y:

- ``build[r,k,o]`` MW ordered in year o, online in year ``o + L[r,k]`` with
  ``L = ceil(lead_time_years + needs_queue·queue_years)``; a column exists only when that
  online year is inside the horizon and ``≥ first_year_available``. Nothing can therefore be
  online before its time: ``online[r,k,y] = online[r,k,y-1] + build[r,k,y-L]``.
- ``convert[s,o]`` ∈ {0,1} (LP relaxation with ``relax_integers``), at most once per site,
  AI load online from year ``o + ceil(conversion_months/12)``;
  ``ai_site[s,y] ≤ interconnection_mw[s]·Σ_{o ≤ y-Ls} convert[s,o]``.
  Converting replaces the mining load: the site's interconnection carries AI load instead, and
  the mining cash flow ``site_mining_cfads_usd`` is forgone from the decision year on.
- ``ai_new[r,y] ≤ ai_site_limit_mw[r]`` new-build AI MW, available from year
  ``ceil(new_build_lead_years)`` after the first; ``ai_new + Σ_s ai_site + unserved_ai =
  ai_demand_mw[r,y]``.
- ``flex[p,y] ≤ flex_potential_kw[p]/1000`` MW contracted at ``flex_cost_usd_per_kw_yr``.

Second stage, scenario w (weight π_w), slice h (``slice_hours`` H_h):

- adequacy: ``Σ_k acc·online + Σ_p dr[w,p,h]·flex + shed_ai + shed_load + unserved_ai ≥
  peak_net_load + ai_demand − firm_capacity`` with ``acc`` = availability (firm, storage) or
  the solar/wind capacity factor at the slice's peak hour;
- ``shed_ai + unserved_ai ≤ ai_demand`` (only placed AI load can be curtailed);
- a slice-peak shortfall lasts ``min(H_h, peak_shortfall_hours)`` hours and costs
  ``firm_ai_shed_usd_per_mwh`` per MWh of firm AI load shed (an outage of load served under
  uptime commitments, priced at the value of lost load) or ``voll_usd_per_mwh`` per MWh of
  other load; AI demand with no home (``unserved_ai``) costs ``ai_lost_margin_usd_per_mwh``
  on the energy it would have used. AI load is curtailed at a low cost only where it signed up
  as flexible (:mod:`gridcap.optimizer.planning.flexible_ai`);
- energy: ``Σ_k gen + discharge − charge + market + util·unserved_ai = mean_net_load +
  util·ai_demand`` with ``gen ≤ cf·online`` and ``market`` bought at the slice's mean price;
- storage with a chronological state of charge (cyclic) when slices are consecutive hours.

Objective: ``F(x) + Σ_w π_w C_w(x) + λ·CVaR_α(F + C_w)`` with Rockafellar–Uryasev's
``CVaR_α = η + Σ_w π_w u_w/(1-α)``, ``u_w ≥ C_w - η``, ``u_w ≥ 0`` [1]_. F collects
annualized capital, fixed O&M, conversion capital and flexibility payments; C_w the energy,
shortfall, unserved-AI and forgone-mining costs of scenario w.

Annualization convention: an overnight cost K [$/kW] of an asset with economic life n years at
discount rate ρ (``finance.discount_rate``) costs ``K·CRF`` every year it is online, with the
capital recovery factor ``CRF = ρ(1+ρ)^n/((1+ρ)^n − 1)`` (``1/n`` when ρ = 0); fixed O&M is
added per year online. Year y's costs are discounted by ``(1+ρ)^-(y − y₀)``. This is the
PyPSA/GenX convention (``capital_cost = annuity·overnight + FOM``); a one-year study reduces to
PyPSA's objective exactly.

References
----------
.. [1] R. T. Rockafellar and S. Uryasev, "Optimization of conditional value-at-risk",
   Journal of Risk 2(3), 21–41, 2000.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import xarray as xr

from gridcap.errors import GridcapInputError, ModelInfeasibleError
from gridcap.kernels.sites import FLEX_PAYMENT_USD_PER_KW_YR
from gridcap.optimizer.planning import flexibility, flexible_ai, settlement
from gridcap.optimizer.planning.flexible_ai import FlexibleAIOptions
from gridcap.optimizer.planning.scenario_selection import (
    METHODS,
    ScenarioSelection,
    empirical_cvar,
    select_scenarios,
)
from gridcap.optimizer.planning.solver import INF, HighsSolver, ModelBuilder, SolveResult, paused_gc
from gridcap.params import check_params, param

if TYPE_CHECKING:
    from gridcap.schema import StudyInputs

__all__ = ["BUILD_STEPS", "PlanModel", "PlanOptions", "capital_recovery_factor", "plan"]

HOURS_PER_YEAR = 8760.0
#: Money enters the solver in millions of dollars (keeps HiGHS well scaled); results are in $.
COST_SCALE = 1e-6
PROFILES = ("firm", "solar", "wind", "storage")
#: ``PlanOptions.decomposition`` choices: the extensive form, or progressive hedging on
#: mpi-sppy (:mod:`gridcap.optimizer.planning.decomposition`).
DECOMPOSITIONS = ("extensive", "ph")
#: Cost components reported as ``cost_<name>_usd`` (the ``component`` of each cost term).
COST_COMPONENTS = ("capital", "fixed_om", "conversion", "new_build_ai", "flex", "energy",
                   "shortfall", "unserved_ai", "mining_forgone")


@dataclass
class PlanOptions:
    """Options of the siting model (the lead maps the study's ``[optimizer]`` table here).

    Attributes
    ----------
    cvar_alpha : float
        CVaR confidence level α in [0, 1) [1].
    cvar_lambda : float
        Weight λ ≥ 0 of CVaR_α of scenario cost in the objective [1].
    scenarios_in_model : int or None
        Scenarios kept (weighted) in the model; ``None`` keeps all [1].
    scenario_selection : str
        Selection method, see :data:`gridcap.optimizer.planning.scenario_selection.METHODS`.
    time_limit_s : float or None
        HiGHS time limit [s].
    mip_gap : float
        Relative MIP gap [1].
    relax_integers : bool
        Solve the LP relaxation of the conversion decisions.
    voll_usd_per_mwh : float or None
        Value of lost load for non-AI shortfall [$/MWh] (MISO's administrative VOLL,
        $10,000/MWh since 2025-09-30; a value of lost load, not ERCOT's $5,000/MWh offer
        cap); ``None`` makes adequacy of the existing load a hard constraint (the model can
        then be infeasible).
    peak_shortfall_hours : float
        How long a shortfall at a slice's peak is assumed to last [h]; the adequacy slack of
        slice ``h`` is charged for ``min(slice_hours[h], peak_shortfall_hours)`` hours. A slice
        peak is one hour's extreme, so charging the whole slice (hundreds of hours) would price
        a MW of capacity at VOLL × slice hours; 4 h matches the length of the flexibility
        events and of a typical evening net-peak excursion. Hourly slices are unaffected.
    ai_lost_margin_usd_per_mwh : float
        Lost margin of AI demand left without a home (``unserved_ai``) and default cost of
        curtailing *flexible* AI load [$/MWh].
    firm_ai_shed_usd_per_mwh : float
        Cost of shedding placed *firm* AI load at a slice peak (``shed_ai``) [$/MWh]: an outage
        of load served under uptime commitments, priced at the value of lost load (PUCT/ERCOT
        2024). Only flexible AI MW (:mod:`~gridcap.optimizer.planning.flexible_ai`) and the
        retained curtailable share of converted sites curtail at a lower cost.
    flex_cost_usd_per_kw_yr : float
        Payment per contracted kW of DER flexibility [$/kW-yr].
    new_build_lead_years : float
        Decision-to-power time of a new-build AI data center [yr].
    conversion_lifetime_years : float
        Economic life used to annualize conversion capex [yr].
    storage_duration_hours, storage_efficiency : float
        Defaults for storage technologies without ``storage_duration_hours`` /
        ``storage_efficiency`` in the technologies table [h], [1] (round trip).
    chronological_storage : bool or None
        Model storage state of charge across consecutive slices; ``None``: when every slice is
        one hour.
    discount_years : bool
        Discount year y's costs by ``(1+ρ)^-(y-y₀)``.
    flex_confidence : float
        Confidence level of the flexibility reliability (delivery ratio at the
        ``1 - flex_confidence`` quantile over scenarios) [1].
    shortfall_penalty_multiple : float
        Settlement penalty per kW of shortfall, as a multiple of the per-event price [1].
    settlement_year : int or None
        Year whose flexibility price settles the Monte Carlo events (default: first year).
    seed : int
        Seed for randomized scenario-selection methods.
    threads : int or None
        HiGHS threads.
    verbose : bool
        HiGHS log on.
    handoff : str
        ``"matrix"`` (default: the builder's stacked triplets) or ``"pyomo"`` (the same
        families written as a Pyomo model and read back by Pyomo's standard-form compiler; a
        slow check, identical program).
    non_generation_techs : tuple of str
        Rows of the technologies table not offered as new grid capacity (the shipped
        ``mine_conversion`` row: conversions are modeled through ``sites``).
    evaluate_selection : bool
        With ``scenarios_in_model`` below the scenario count: re-solve the second stage on
        *all* scenarios with the plan's first-stage decisions fixed, and report the expected
        cost and CVaR there and their relative errors (out-of-sample check of the selection).
    flexible_ai : FlexibleAIOptions or None
        Offer flexible (curtailable) interconnection of AI load and keep part of converted
        sites curtailable (:mod:`gridcap.optimizer.planning.flexible_ai`); ``None``: every
        AI MW is firm (the model without it).
    decomposition : str
        ``"extensive"`` (default: one extensive-form MILP in HiGHS) or ``"ph"``: scenario
        decomposition by progressive hedging on mpi-sppy over MPI with certified lower and
        upper bounds (:mod:`gridcap.optimizer.planning.decomposition`).
    decomposition_gap : float
        ``"ph"`` stops once ``(upper − lower)/|upper|`` is at most this [1].
    decomposition_max_iterations : int
        ``"ph"`` iteration limit (``time_limit_s`` limits its wall time) [1].
    decomposition_rho : float
        Multiplier of the cost-proportional PH penalty ρ [1].
    decomposition_engine : str
        How ``"ph"`` solves its subproblems: ``"mpisppy"`` (mpi-sppy's PH on Pyomo scenario
        models through ``appsi_highs``, linearised proximal terms) or ``"matrix"`` (the same
        PH on the planner's matrix path in HiGHS, for large studies).
    """

    cvar_alpha: float = param(
        0.95, "1", "CVaR confidence level", lo=0, hi=1, hi_open=True,
        source="modelling choice: the 5 % worst-cost tail (Rockafellar & Uryasev 2000)")
    cvar_lambda: float = param(
        0.5, "1", "weight of CVaR in the objective", lo=0, hi=100,
        source="modelling choice: risk-aware planning by default (was 0.0 in PlanOptions and "
        "0.5 in the study config; unified on the study's value, issue 15)")
    scenarios_in_model: int | None = param(
        16, "1", "Monte Carlo scenarios kept (weighted) in the optimization model; None keeps "
        "all", lo=1, hi=100_000, nullable=True, kind=int,
        source="modelling choice: tractable MILP; evaluate_selection measures the error (was "
        "None = all in PlanOptions and 16 in the study config; unified on 16, issue 15)")
    scenario_selection: str = param(
        "fast_forward", "", "scenario selection method (scenario_selection.METHODS)",
        choices=METHODS, config=False,
        source="Heitsch & Römisch (2003) fast forward selection")
    time_limit_s: float | None = param(
        120.0, "s", "solver time limit; None: no limit", lo=0, hi=1e6, lo_open=True,
        nullable=True,
        source="modelling choice (was None in PlanOptions and 120 in the study config; "
        "unified on 120, issue 15)")
    mip_gap: float = param(
        1e-3, "1", "relative MIP gap", lo=0, hi=1, hi_open=True,
        source="modelling choice: 0.1 % of system cost (was 1e-4 in PlanOptions and 1e-3 in "
        "the study config; unified on 1e-3, issue 15)")
    relax_integers: bool = param(
        False, "", "solve the LP relaxation of the conversion decisions", config=False)
    voll_usd_per_mwh: float | None = param(
        10_000.0, "$/MWh", "value of lost load for non-AI shortfall; None makes adequacy a hard "
        "constraint", lo=0, nullable=True,
        source="value of lost load, not a market price cap: MISO's administrative VOLL, raised "
        "from $3,500 to $10,000/MWh with FERC approval, effective 2025-09-30 (Amperon, 'MISO's "
        "VOLL Change Could Reshape Scarcity Pricing and Reliability Signals', 2025, "
        "https://www.amperon.co/blog/misos-voll-change-could-reshape-scarcity-pricing-and-reliability-signals"
        "); above ERCOT's $5,000/MWh offer cap (a price cap) and below the "
        "PUCT's survey-based ERCOT VOLL $35,685/MWh used for firm AI load "
        "(firm_ai_shed_usd_per_mwh), whose uptime commitments make an outage dearer")
    market: str = param(
        "price", "", "energy bought from the existing fleet / wholesale market: 'price' buys "
        "any amount at the Monte Carlo slice price (outcomes.price_usd_per_mwh, in a "
        "deterministic study its backstop price); 'off' buys none, so every MWh of net load "
        "and AI load comes from the plan's capacity (infeasible without enough)",
        choices=("price", "off"),
        source="modelling choice: the existing fleet sells at the simulated price (issue 15: "
        "the backstop is priced from the outcomes or switched off, never hidden)")
    peak_shortfall_hours: float = param(
        4.0, "h", "how long a shortfall at a slice's peak is assumed to last", lo=0,
        source="modelling choice: the length of the flexibility events and of a typical "
        "evening net-peak excursion")
    ai_lost_margin_usd_per_mwh: float = param(
        400.0, "$/MWh", "lost margin of AI demand that finds no home in the plan (unserved_ai, "
        "every hour of the year at its utilization); also the default cost per MWh of "
        "curtailing AI load that signed up as flexible ([flexible_ai])", lo=0, hi=1e5,
        source="modelling choice: GPU-hour revenue per MWh of IT load, order of magnitude")
    firm_ai_shed_usd_per_mwh: float = param(
        35_685.0, "$/MWh", "cost of shedding placed FIRM AI load at a slice peak (shed_ai): "
        "firm data-center load is served under uptime commitments and is not curtailed at "
        "peaks, so shedding it is an outage priced at the value of lost load; load that "
        "agreed to curtail is modelled by [flexible_ai] at its own cost", lo=0, hi=1e6,
        source="Public Utility Commission of Texas: ERCOT value of lost load $35,685/MWh, "
        "adopted 2024-08-29 from The Brattle Group's ERCOT customer survey (residential, "
        "commercial and large industrial customers); Utility Dive, 'Texas power outages cost "
        "consumers $35,685/MWh of unserved load', 2024-09, "
        "https://utilitydive.com/news/texas-power-outages-cost-consumers-VOLL/726807")
    flex_cost_usd_per_kw_yr: float = param(
        FLEX_PAYMENT_USD_PER_KW_YR, "$/kW-yr", "payment per contracted kW of DER flexibility "
        "(the study key also sets the Monte Carlo's credit to the pools, "
        "SimulateOptions.flex_payment_usd_per_kw_yr)", lo=0, hi=10_000,
        source="one owner: kernels.sites.FLEX_PAYMENT_USD_PER_KW_YR = $115.80/kW-yr, Green "
        "Mountain Power's Bring Your Own Device battery tariff ($9.65/kW-month bill credit for "
        "a 10-year enrolment, or $850/kW up front; energynews.us 2019-10-22)")
    new_build_lead_years: float = param(
        3.0, "yr", "decision-to-power time of a new-build AI data center", lo=0,
        source="modelling choice: typical 2-4 yr build + energisation")
    conversion_lifetime_years: float = param(
        10.0, "yr", "economic life used to annualize conversion and new-build AI data-center "
        "capex", lo=0, lo_open=True, source="modelling choice: data-hall fit-out life")
    new_build_ai_capex_usd_per_kw: float = param(
        10_700.0, "$/kW", "all-in owner cost per kW of critical IT of a new-build (greenfield) "
        "AI data center, GPUs excluded; annualized like a conversion, so a conversion competes "
        "with a new build on cost and on time to power, not against a free alternative",
        lo=0, source="JLL 2026 Global Data Center Outlook (JLL, 2026-01, via MBA NewsLink "
        "2026-01): average data center construction cost $10.7M per MW in 2025, "
        "https://newslink.mba.org/mba-newslinks/2026/january//"
        "jll-data-center-market-continues-to-grow (the same figure is the market default of "
        "mine_sites.csv conversion_capex_usd_per_kw)")
    storage_duration_hours: float = param(
        4.0, "h", "storage duration for technologies without storage_duration_hours", lo=0,
        lo_open=True, source="NREL ATB utility-scale battery storage (2-10 h durations; 4 h "
        "reference), atb.nrel.gov, 2023-2024")
    storage_efficiency: float = param(
        0.85, "1", "round-trip efficiency for technologies without storage_efficiency", lo=0,
        hi=1, lo_open=True, source="NREL ATB 2020, utility-scale battery round-trip "
        "efficiency 85 % (Cole & Frazier 2020), atb.nrel.gov/electricity/2020")
    chronological_storage: bool | None = param(
        None, "", "model storage state of charge across consecutive slices; None: when every "
        "slice is one hour", config=False, kind=bool)
    discount_years: bool = param(
        True, "", "discount year y's costs by (1+rho)^-(y-y0)", config=False)
    flex_confidence: float = param(
        0.9, "1", "confidence level for flexibility reliability", lo=0, hi=1, lo_open=True,
        hi_open=True, source="modelling choice: the 10 % quantile of delivery over scenarios")
    shortfall_penalty_multiple: float = param(
        1.5, "1", "settlement penalty per kW short, as a multiple of the capacity payment",
        lo=0, hi=100, source="modelling choice: PJM capacity performance style penalty > 1x")
    settlement_year: int | None = param(
        None, "year", "year whose flexibility price settles the Monte Carlo events (None: the "
        "first)", config=False, kind=int)
    seed: int = param(0, "", "seed of randomized scenario-selection methods (the study seed)",
                      config=False)
    threads: int | None = param(None, "", "HiGHS threads (None: HiGHS default)", config=False,
                                kind=int)
    verbose: bool = param(False, "", "HiGHS log and banner on", config=False)
    handoff: str = param(
        "matrix", "", "model handoff to HiGHS: the families' stacked triplets, or (a slow check) "
        "the on-demand Pyomo model through Pyomo's standard-form compiler",
        choices=("matrix", "pyomo"), config=False)
    non_generation_techs: tuple[str, ...] = param(
        ("mine_conversion",), "", "technology rows not offered as new grid capacity",
        config=False, kind=tuple)
    evaluate_selection: bool = param(
        False, "", "re-solve the second stage on all scenarios to check the selection",
        config=False)
    flexible_ai: FlexibleAIOptions | None = param(  # noqa: RUF009 (default None)
        None, "", "flexible (curtailable) AI interconnection options; None: all AI load firm",
        config=False, nullable=True, kind=object,
        source="see gridcap.optimizer.planning.flexible_ai.FlexibleAIOptions")
    decomposition: str = param(
        "extensive", "", "extensive form (one HiGHS MILP) or 'ph': progressive hedging on "
        "mpi-sppy over MPI with certified bounds", choices=DECOMPOSITIONS,
        source="modelling choice (issue 19)")
    decomposition_gap: float = param(
        1e-4, "1", "'ph' stops at this relative gap (upper - lower)/|upper|", lo=0, hi=1,
        lo_open=True, hi_open=True, source="modelling choice: the extensive form's accuracy")
    decomposition_max_iterations: int = param(
        500, "1", "'ph' iteration limit", lo=1, hi=1_000_000, kind=int,
        source="modelling choice")
    decomposition_rho: float = param(
        1.0, "1", "multiplier of the cost-proportional PH penalty rho", lo=0, lo_open=True,
        hi=1e6, source="Watson & Woodruff (2011) cost-proportional rho")
    decomposition_engine: str = param(
        "mpisppy", "", "'ph' subproblems: mpi-sppy PH on Pyomo models, or the same PH on the "
        "planner's matrix path", choices=("mpisppy", "matrix"),
        source="modelling choice (issue 19)")

    def validate(self) -> None:
        """Raise :class:`GridcapInputError` naming every option out of range."""
        bad = check_params(self, "PlanOptions")
        if self.flexible_ai is not None:
            bad += self.flexible_ai.problems()
        if bad:
            raise GridcapInputError("; ".join(bad))


def capital_recovery_factor(rate: float | np.ndarray, years: float | np.ndarray) -> np.ndarray:
    """Capital recovery factor: the annuity per $ of overnight cost [1/yr].

    Parameters
    ----------
    rate : float or numpy.ndarray
        Discount rate ρ [1/yr].
    years : float or numpy.ndarray
        Economic life n [yr].

    Returns
    -------
    numpy.ndarray
        ``ρ(1+ρ)^n / ((1+ρ)^n - 1)``, or ``1/n`` where ρ = 0 [1/yr].

    Examples
    --------
    >>> round(float(capital_recovery_factor(0.07, 30)), 6)
    0.080586
    """
    r = np.asarray(rate, dtype=float)
    n = np.asarray(years, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (1.0 + r) ** n
        crf = np.where(r > 0, r * g / (g - 1.0), 1.0 / n)
    return crf


# ---------------------------------------------------------------------------- data
@dataclass
class PlanData:
    """Numpy arrays the model is built from (aligned, scenario-selected)."""

    regions: np.ndarray
    techs: np.ndarray
    sites: np.ndarray
    pools: np.ndarray
    years: np.ndarray
    scenarios: np.ndarray           # selected scenario labels
    all_scenarios: np.ndarray
    weights: np.ndarray             # π_w
    slice_hours: np.ndarray         # [h]
    discount: np.ndarray            # d_y
    rate: float
    firm_mw: np.ndarray             # [R]
    queue_years: np.ndarray         # [R]
    ai_demand: np.ndarray           # [R, Y]
    ai_limit: np.ndarray            # [R]
    lead: np.ndarray                # [K]
    needs_queue: np.ndarray         # [K]
    first_year: np.ndarray          # [K]
    capex: np.ndarray               # [K] $/kW
    fom: np.ndarray                 # [K] $/kW-yr
    vom: np.ndarray                 # [K] $/MWh
    crf: np.ndarray                 # [K]
    availability: np.ndarray        # [K]
    profile: np.ndarray             # [K] str
    duration_h: np.ndarray          # [K]
    efficiency: np.ndarray          # [K] round trip
    site_region: np.ndarray         # [S] int
    interconnection: np.ndarray     # [S]
    conv_months: np.ndarray         # [S]
    conv_capex: np.ndarray          # [S]
    pool_region: np.ndarray         # [P] int
    flex_potential_mw: np.ndarray   # [P]
    flex_index: np.ndarray          # [P, Y] enrolled population relative to the first year
    tech_path: np.ndarray           # [K] interconnection path of each technology
    connect_years: np.ndarray       # [R, K] time to grid access on the tech's path [yr]
    path_limit_mw: np.ndarray       # [R, K] MW limit of the tech's path (inf: none)
    peak: np.ndarray                # [W,R,Y,H]
    mean_load: np.ndarray           # [W,R,Y,H]
    price: np.ndarray               # [W,R,Y,H]
    solar_cf: np.ndarray            # [W,R,H]
    wind_cf: np.ndarray
    solar_cf_peak: np.ndarray
    wind_cf_peak: np.ndarray
    delivery: np.ndarray            # [W,P,H]
    util: np.ndarray                # [W,Y]
    mining_cfads: np.ndarray        # [W,S,Y]
    chronological: bool
    selection: ScenarioSelection | None = None


#: :class:`PlanData` fields whose first axis is the scenario (the scenario decomposition slices
#: these to build one scenario's model; a new scenario-indexed field must be listed here).
SCENARIO_FIELDS = ("scenarios", "weights", "peak", "mean_load", "price", "solar_cf", "wind_cf",
                   "solar_cf_peak", "wind_cf_peak", "delivery", "util", "mining_cfads")


REQUIRED_OUTCOMES = (
    "peak_net_load_mw", "mean_net_load_mw", "price_usd_per_mwh", "solar_cf", "wind_cf",
    "solar_cf_at_peak", "wind_cf_at_peak",
)


def _labels(ds: xr.Dataset, dim: str) -> np.ndarray:
    if dim in ds.coords:
        return np.asarray(ds[dim].values)
    if dim in ds.sizes:
        return np.arange(ds.sizes[dim])
    return np.asarray([])


def _get(ds: xr.Dataset, name: str, table: str, default: Any = None) -> np.ndarray:
    if name in ds:
        return np.asarray(ds[name].values)
    if default is None:
        raise GridcapInputError(f"{table}.{name} is missing: expected it per docs/data-model.md")
    return np.asarray(default)


def prepare_data(inputs: StudyInputs, outcomes: xr.Dataset, options: PlanOptions) -> PlanData:
    """Align the study inputs and the Monte Carlo outcomes into numpy arrays.

    Raises
    ------
    GridcapInputError
        A required variable or coordinate is missing, or labels do not match.
    """
    years = np.asarray(inputs.years).astype(int)
    if years.size == 0:
        raise GridcapInputError("inputs.years is empty: expected at least one planning year")
    reg = inputs.regions
    tech = _generation_techs(inputs.technologies, options)
    sites = inputs.sites
    regions = _labels(reg, "region")
    o = _aligned_outcomes(outcomes, regions, years)
    all_scen, pick, weights, selection = _select_scenarios(o, options)
    o = o.isel(scenario=pick)
    W = pick.size
    sl_hours = np.asarray(o["slice_hours"].values, dtype=float)
    H = sl_hours.size
    rate = float(np.asarray(inputs.finance["discount_rate"].values)) if (
        "discount_rate" in inputs.finance) else 0.0
    discount = ((1.0 + rate) ** -(years - years[0]).astype(float) if options.discount_years
                else np.ones(years.size))
    techs, profile, lifetime, duration, eff = _tech_fields(tech, options)
    K = techs.size
    reg_index = {r: i for i, r in enumerate(regions.tolist())}
    site_labels, site_region = _site_regions(sites, reg_index)
    S = site_labels.size
    pools, pool_region, flex_pot, delivery = _pool_fields(o, reg_index, W, H)
    util, mining = _scenario_year_fields(o, site_labels, W, years.size)
    chrono = options.chronological_storage
    if chrono is None:
        chrono = bool(H > 1 and np.all(sl_hours == 1.0))

    data = PlanData(
        regions=regions, techs=techs, sites=site_labels, pools=pools, years=years,
        scenarios=all_scen[pick], all_scenarios=all_scen, weights=np.asarray(weights, float),
        slice_hours=sl_hours, discount=discount, rate=rate,
        firm_mw=_get(reg, "firm_capacity_mw", "regions").astype(float),
        queue_years=_get(reg, "queue_years", "regions").astype(float),
        ai_demand=_ai_demand(reg, years),
        ai_limit=_get(reg, "ai_site_limit_mw", "regions").astype(float),
        lead=_get(tech, "lead_time_years", "technologies").astype(float),
        needs_queue=_get(tech, "needs_queue", "technologies").astype(bool),
        first_year=_get(tech, "first_year_available", "technologies").astype(int),
        capex=_get(tech, "capex_usd_per_kw", "technologies").astype(float),
        fom=_get(tech, "fixed_om_usd_per_kw_yr", "technologies").astype(float),
        vom=_get(tech, "variable_om_usd_per_mwh", "technologies").astype(float),
        crf=capital_recovery_factor(rate, lifetime) if K else np.zeros(0),
        availability=_get(tech, "availability", "technologies").astype(float),
        profile=profile, duration_h=duration, efficiency=eff,
        site_region=site_region,
        interconnection=(_get(sites, "interconnection_mw", "sites").astype(float)
                         if S else np.zeros(0)),
        conv_months=(_get(sites, "conversion_months", "sites").astype(float)
                     if S else np.zeros(0)),
        conv_capex=(_get(sites, "conversion_capex_usd_per_kw", "sites").astype(float)
                    if S else np.zeros(0)),
        pool_region=pool_region, flex_potential_mw=flex_pot,
        flex_index=_flex_index(o, pool_region, years.size),
        **_interconnection(reg, tech, K),
        peak=_arr(o, "peak_net_load_mw", ("scenario", "region", "year", "slice")),
        mean_load=_arr(o, "mean_net_load_mw", ("scenario", "region", "year", "slice")),
        price=_arr(o, "price_usd_per_mwh", ("scenario", "region", "year", "slice")),
        solar_cf=_arr(o, "solar_cf", ("scenario", "region", "slice")),
        wind_cf=_arr(o, "wind_cf", ("scenario", "region", "slice")),
        solar_cf_peak=_arr(o, "solar_cf_at_peak", ("scenario", "region", "slice")),
        wind_cf_peak=_arr(o, "wind_cf_at_peak", ("scenario", "region", "slice")),
        delivery=delivery, util=util, mining_cfads=mining, chronological=bool(chrono),
        selection=selection,
    )
    _check_finite(data)
    _check_lead_times(data)
    return data


def _arr(o: xr.Dataset, name: str, dims: tuple[str, ...]) -> np.ndarray:
    """``o[name]`` as a float array with dims in the given order."""
    return np.asarray(o[name].transpose(*dims).values, dtype=float)


def _generation_techs(tech: xr.Dataset, options: PlanOptions) -> xr.Dataset:
    """The technologies table without the rows not offered as new grid capacity."""
    if "tech" in tech.dims and options.non_generation_techs:
        keep = [t for t in tech["tech"].values.tolist()
                if t not in set(options.non_generation_techs)]
        tech = tech.sel(tech=keep)
    return tech


def _aligned_outcomes(outcomes: xr.Dataset, regions: np.ndarray,
                      years: np.ndarray) -> xr.Dataset:
    """The Monte Carlo outcomes on the study's regions and planning years, checked."""
    missing = [v for v in REQUIRED_OUTCOMES if v not in outcomes]
    if missing:
        raise GridcapInputError(
            f"outcomes is missing {missing}: expected the Monte Carlo variables of "
            "docs/data-model.md §2"
        )
    if "slice_hours" not in outcomes.coords and "slice_hours" not in outcomes:
        raise GridcapInputError("outcomes.slice_hours is missing: expected hours per slice [h]")
    out_regions = _labels(outcomes, "region")
    unknown = sorted(set(regions.tolist()) - set(out_regions.tolist()))
    if unknown:
        raise GridcapInputError(
            f"outcomes.region lacks {unknown}: expected every inputs.regions.region"
        )
    out_years = _labels(outcomes, "year").astype(int)
    lacking = sorted(set(years.tolist()) - set(out_years.tolist()))
    if lacking:
        raise GridcapInputError(f"outcomes.year lacks {lacking}: expected every planning year")
    return outcomes.sel(region=regions, year=years)


def _select_scenarios(o: xr.Dataset, options: PlanOptions
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, ScenarioSelection | None]:
    """All scenario labels, the positions in the model, their weights [1] and the selection
    (``None``: every scenario, equally likely)."""
    all_scen = _labels(o, "scenario")
    n_all = all_scen.size
    if options.scenarios_in_model is not None and options.scenarios_in_model < n_all:
        selection = select_scenarios(o, options.scenarios_in_model,
                                     method=options.scenario_selection, seed=options.seed,
                                     alpha=options.cvar_alpha)
        return all_scen, selection.indices, selection.weights, selection
    return all_scen, np.arange(n_all), np.full(n_all, 1.0 / n_all), None


def _ai_demand(reg: xr.Dataset, years: np.ndarray) -> np.ndarray:
    """AI demand per region and planning year [MW]."""
    ai_dem = reg["ai_demand_mw"]
    if "year" not in ai_dem.dims:
        return np.repeat(np.asarray(ai_dem.values, float)[:, None], years.size, axis=1)
    dem_years = np.asarray(ai_dem["year"].values).astype(int)
    absent = sorted(set(years.tolist()) - set(dem_years.tolist()))
    if absent:
        raise GridcapInputError(
            f"regions.ai_demand_mw has no values for years {absent}: expected every "
            "planning year"
        )
    return np.asarray(ai_dem.sel(year=years).transpose("region", "year").values, float)


def _tech_fields(tech: xr.Dataset, options: PlanOptions) -> tuple[np.ndarray, ...]:
    """Technology labels, profiles, lifetimes [yr], storage durations [h] and efficiencies
    [1]."""
    techs = _labels(tech, "tech")
    K = techs.size
    profile = np.asarray(tech["profile"].values).astype(str) if K else np.array([], str)
    bad = sorted(set(profile.tolist()) - set(PROFILES))
    if bad:
        raise GridcapInputError(f"technologies.profile has {bad}: expected one of {PROFILES}")
    lifetime = _get(tech, "lifetime_years", "technologies").astype(float)
    duration = _get(tech, "storage_duration_hours", "technologies",
                    np.full(K, options.storage_duration_hours)).astype(float)
    eff = _get(tech, "storage_efficiency", "technologies",
               np.full(K, options.storage_efficiency)).astype(float)
    return techs, profile, lifetime, duration, eff


def _site_regions(sites: xr.Dataset, reg_index: dict[str, int]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Site labels and each site's region position."""
    site_labels = _labels(sites, "site")
    if not site_labels.size:
        return site_labels, np.zeros(0, int)
    site_reg_names = np.asarray(sites["region"].values).astype(str)
    unknown = sorted(set(site_reg_names.tolist()) - set(reg_index))
    if unknown:
        raise GridcapInputError(f"sites.region has {unknown}: expected one of the regions")
    return site_labels, np.array([reg_index[r] for r in site_reg_names], dtype=int)


def _pool_fields(o: xr.Dataset, reg_index: dict[str, int], W: int, H: int
                 ) -> tuple[np.ndarray, ...]:
    """DER pools: labels, region positions, enrolled potential [MW] and delivery ratio per
    scenario, pool and slice [1]."""
    pools = _labels(o, "pool") if "pool" in o.dims else np.asarray([])
    P = pools.size
    if not P:
        return pools, np.zeros(0, int), np.zeros(0), np.zeros((W, 0, H))
    if "pool_region" not in o.coords and "pool_region" not in o:
        raise GridcapInputError("outcomes.pool_region is missing: expected the pool's region")
    pr = np.asarray(o["pool_region"].values).astype(str)
    unknown = sorted(set(pr.tolist()) - set(reg_index))
    if unknown:
        raise GridcapInputError(f"outcomes.pool_region has {unknown}: expected a region")
    pool_region = np.array([reg_index[r] for r in pr], dtype=int)
    flex_pot = _get(o, "flex_potential_kw", "outcomes").astype(float) / 1000.0
    if "flex_delivery_ratio" in o:
        delivery = _arr(o, "flex_delivery_ratio", ("scenario", "pool", "slice"))
    else:
        delivery = np.ones((W, P, H))
    return pools, pool_region, flex_pot, delivery


def _scenario_year_fields(o: xr.Dataset, site_labels: np.ndarray, W: int, Y: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """AI utilisation per scenario and year [1] and each site's mining CFADS per scenario,
    site and year [$]."""
    util = _arr(o, "ai_utilization", ("scenario", "year")) if "ai_utilization" in o else np.ones(
        (W, Y))
    S = site_labels.size
    if not (S and "site_mining_cfads_usd" in o):
        return util, np.zeros((W, S, Y))
    absent = sorted(set(site_labels.tolist()) - set(_labels(o, "site").tolist()))
    if absent:
        raise GridcapInputError(
            f"outcomes.site lacks {absent}: expected every inputs.sites.site")
    mining = np.asarray(o["site_mining_cfads_usd"].sel(site=site_labels)
                        .transpose("scenario", "site", "year").values, float)
    return util, mining


def _interconnection(reg: xr.Dataset, tech: xr.Dataset, K: int) -> dict[str, np.ndarray]:
    """Each technology's interconnection path and, per region, its time to grid access [yr]
    and MW limit (``regions.path_years`` / ``path_limit_mw`` on dim ``path``, see
    :mod:`gridcap.datasets.interconnection`). Without them: the region's queue for
    technologies with ``needs_queue``, nothing otherwise, no limits (the one-queue model)."""
    R = reg.sizes["region"]
    queue = _get(reg, "queue_years", "regions").astype(float)
    needs = _get(tech, "needs_queue", "technologies").astype(bool) if K else np.zeros(0, bool)
    path = (np.asarray(tech["interconnection_path"].values).astype(str)
            if K and "interconnection_path" in tech
            else np.where(needs, "queue", "none").astype(str))
    years = np.where(needs[None, :], queue[:, None], 0.0) * np.ones((R, K))
    limit = np.full((R, K), np.inf)
    if "path_years" in reg and "path" in reg.dims:
        names = [str(a) for a in reg["path"].values]
        py = np.asarray(reg["path_years"].transpose("region", "path").values, float)
        pl = (np.asarray(reg["path_limit_mw"].transpose("region", "path").values, float)
              if "path_limit_mw" in reg else np.full(py.shape, np.inf))
        for k in range(K):
            if path[k] == "none":
                years[:, k] = 0.0
            elif path[k] in names:
                years[:, k] = py[:, names.index(path[k])]
                limit[:, k] = pl[:, names.index(path[k])]
            else:
                raise GridcapInputError(
                    f"technologies.interconnection_path[tech={tech['tech'].values[k]}] = "
                    f"{str(path[k])!r}: expected one of {[*names, 'none']}")
    bad = ~np.isfinite(years) | (years < 0)
    if bad.any():
        r, k = np.argwhere(bad)[0]
        raise GridcapInputError(
            f"regions.path_years[region={reg['region'].values[r]}] for technology "
            f"{tech['tech'].values[k]} = {years[r, k]}: expected a finite time >= 0 [yr]")
    return {"tech_path": path, "connect_years": years, "path_limit_mw": limit}


def _check_lead_times(d: PlanData) -> None:
    """A lead time longer than the horizon can never deliver: say so instead of dropping it."""
    Y = d.years.size
    for k in range(d.techs.size):
        lead = d.lead[k]
        if not np.isfinite(lead) or lead < 0:
            raise GridcapInputError(
                f"technologies.lead_time_years[tech={d.techs[k]}] = {lead}: expected a finite "
                "time >= 0 [yr]")
        if lead > Y:
            raise GridcapInputError(
                f"technologies.lead_time_years[tech={d.techs[k]}] = {lead:g} yr is beyond the "
                f"{Y}-year horizon ({d.years[0]}-{d.years[-1]}): nothing ordered could come "
                "online; lengthen study.horizon_years or leave the technology out "
                "(datasets.technology_ids)")


def _relative_se(outcomes: xr.Dataset, pools: np.ndarray) -> np.ndarray:
    """Relative sampling error of each pool's potential [1] (0 when not reported)."""
    if pools.size == 0 or "flex_potential_kw_se" not in outcomes:
        return np.zeros(pools.size)
    o = outcomes.sel(pool=pools)
    pot = np.asarray(o["flex_potential_kw"].values, float)
    se = np.asarray(o["flex_potential_kw_se"].values, float)
    return np.where(pot > 0, se / np.where(pot > 0, pot, 1.0), 0.0)


def _flex_index(o: xr.Dataset, pool_region: np.ndarray, n_years: int) -> np.ndarray:
    """Enrolled population per pool and year relative to the first year [1], (P, Y), from
    ``outcomes.flex_enrollment_index`` (region, year); ones when absent."""
    if "flex_enrollment_index" not in o:
        return np.ones((pool_region.size, n_years))
    idx = np.asarray(o["flex_enrollment_index"].transpose("region", "year").values, float)
    bad = ~np.isfinite(idx) | (idx < 0)
    if bad.any():
        r, y = np.argwhere(bad)[0]
        raise GridcapInputError(
            f"outcomes.flex_enrollment_index[region={o.region.values[r]}, "
            f"year={o.year.values[y]}] = {idx[r, y]}: expected a finite value >= 0")
    return idx[pool_region]


_SOURCES = {
    "peak": ("outcomes.peak_net_load_mw", ("scenario", "region", "year", "slice")),
    "mean_load": ("outcomes.mean_net_load_mw", ("scenario", "region", "year", "slice")),
    "price": ("outcomes.price_usd_per_mwh", ("scenario", "region", "year", "slice")),
    "solar_cf": ("outcomes.solar_cf", ("scenario", "region", "slice")),
    "wind_cf": ("outcomes.wind_cf", ("scenario", "region", "slice")),
    "solar_cf_peak": ("outcomes.solar_cf_at_peak", ("scenario", "region", "slice")),
    "wind_cf_peak": ("outcomes.wind_cf_at_peak", ("scenario", "region", "slice")),
    "delivery": ("outcomes.flex_delivery_ratio", ("scenario", "pool", "slice")),
    "util": ("outcomes.ai_utilization", ("scenario", "year")),
    "mining_cfads": ("outcomes.site_mining_cfads_usd", ("scenario", "site", "year")),
    "ai_demand": ("regions.ai_demand_mw", ("region", "year")),
    "firm_mw": ("regions.firm_capacity_mw", ("region",)),
}


def _check_finite(d: PlanData) -> None:
    labels = {"scenario": d.scenarios, "region": d.regions, "year": d.years, "pool": d.pools,
              "site": d.sites, "slice": np.arange(d.slice_hours.size)}
    for name, (source, dims) in _SOURCES.items():
        a = getattr(d, name)
        if a.size and not np.all(np.isfinite(a)):
            pos = np.argwhere(~np.isfinite(a))[0].tolist()
            where = ", ".join(f"{k}={labels[k][i]}" for k, i in zip(dims, pos, strict=True))
            raise GridcapInputError(
                f"{source}[{where}] = {a[tuple(pos)]}: expected a finite number "
                f"({int((~np.isfinite(a)).sum())} non-finite value(s) in all)"
            )


# ----------------------------------------------------------------------- model state
@dataclass
class CostTerm:
    """``param·vals·x[cols]`` added to the first-stage cost (``scen is None``) or to the cost
    of scenario ``scen`` (index into the selected scenarios)."""

    component: str
    cols: np.ndarray
    vals: np.ndarray
    scen: np.ndarray | None = None
    param: str | None = None


@dataclass
class Model:
    """What the ``add_*`` functions share: data, builder, lookups and cost terms."""

    data: PlanData
    options: PlanOptions
    b: ModelBuilder
    pos: dict[str, np.ndarray] = field(default_factory=dict)
    terms: list[CostTerm] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)
    rhs_params: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: coefficients other families add to a later family's rows: name -> [(rows, cols, vals)]
    extras: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = field(
        default_factory=dict)

    def take_extras(self, name: str, rows: list, cols: list, vals: list) -> None:
        """Append the coefficients registered for family ``name`` (local row indices)."""
        for r, c, v in self.extras.get(name, ()):
            rows.append(r)
            cols.append(c)
            vals.append(v)

    def cost(self, component: str, cols: np.ndarray, vals: np.ndarray,
             scen: np.ndarray | None = None, param: str | None = None) -> None:
        """Register a cost term (see :class:`CostTerm`)."""
        cols = np.asarray(cols)
        if cols.size:
            self.terms.append(CostTerm(component, cols, np.asarray(vals, float) * COST_SCALE,
                                       None if scen is None else np.asarray(scen), param))

    def index_map(self, name: str, shape: tuple[int, ...], fam_coords: tuple[np.ndarray, ...],
                  start: int) -> np.ndarray:
        """Dense array of global column (or row) indices, -1 where the family has no entry."""
        m = np.full(shape, -1, dtype=np.int64)
        m[fam_coords] = start + np.arange(fam_coords[0].size)
        self.pos[name] = m
        return m


def _dims(d: PlanData) -> tuple[int, int, int, int, int, int, int]:
    return (d.scenarios.size, d.regions.size, d.techs.size, d.years.size, d.slice_hours.size,
            d.sites.size, d.pools.size)


def _lags(d: PlanData) -> np.ndarray:
    """Order-to-online lag per region and technology [whole years], ``ceil`` of the lead."""
    lag = d.lead[None, :] + d.connect_years
    return np.ceil(lag - 1e-9).astype(int)


# --------------------------------------------------------------- first-stage families
def add_build(m: Model) -> None:
    """``build[r,k,o]`` MW ordered in year o; only (r,k,o) whose online year is inside the
    horizon and not before ``first_year_available``."""
    d = m.data
    _W, R, K, Y, _H, _S, _P = _dims(d)
    lag = _lags(d)                                              # [R,K]
    o = np.arange(Y)
    online_idx = o[None, None, :] + lag[:, :, None]             # [R,K,Y]
    ok = online_idx <= Y - 1
    online_year = d.years[0] + online_idx
    ok &= online_year >= d.first_year[None, :, None]
    r, k, yo = np.nonzero(ok)
    fam = m.b.add_variables("build", {"region": r, "tech": k, "year": yo},
                            doc="capacity ordered in the year [MW]")
    m.index_map("build", (R, K, Y), (r, k, yo), fam.start)
    m.pos["lag"] = lag


def add_online(m: Model) -> None:
    """``online[r,k,y] = online[r,k,y-1] + build[r,k,y-L]`` [MW], where anything can arrive."""
    d = m.data
    _W, R, K, Y, _H, _S, _P = _dims(d)
    bpos = m.pos["build"]
    lag = m.pos["lag"]
    arrive = np.full((R, K, Y), -1, dtype=np.int64)            # build column arriving in y
    r, k, yo = np.nonzero(bpos >= 0)
    arrive[r, k, yo + lag[r, k]] = bpos[r, k, yo]
    has = np.cumsum(arrive >= 0, axis=2) > 0                    # online can be > 0
    r, k, y = np.nonzero(has)
    fam = m.b.add_variables("online", {"region": r, "tech": k, "year": y},
                            doc="capacity online in the year [MW]")
    opos = m.index_map("online", (R, K, Y), (r, k, y), fam.start)
    n = r.size
    i = np.arange(n)
    prev = np.where(y > 0, opos[r, k, np.maximum(y - 1, 0)], -1)
    arr = arrive[r, k, y]
    rows = [i]
    cols = [fam.start + i]
    vals = [np.ones(n)]
    sel = prev >= 0
    rows.append(i[sel])
    cols.append(prev[sel])
    vals.append(-np.ones(sel.sum()))
    sel = arr >= 0
    rows.append(i[sel])
    cols.append(arr[sel])
    vals.append(-np.ones(sel.sum()))
    m.b.add_constraints("online_balance", {"region": r, "tech": k, "year": y},
                        np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), 0, 0,
                        doc="online = online last year + arrivals [MW]",
                        inputs=("technologies.lead_time_years", "technologies.needs_queue",
                                "technologies.first_year_available", "regions.queue_years"))
    # costs: annuity of capital (param "capex:<k>") + fixed O&M, per year online
    ann = d.discount[y] * 1000.0
    for kk in range(K):
        s = k == kk
        m.cost("capital", fam.start + i[s], ann[s] * d.crf[kk], param=f"capex:{d.techs[kk]}")
        m.params[f"capex:{d.techs[kk]}"] = float(d.capex[kk])
    m.cost("fixed_om", fam.start + i, ann * d.fom[k])


def add_conversions(m: Model) -> None:
    """``convert[s,o]`` binary decisions, ``ai_site[s,y]`` AI MW at converted sites."""
    d = m.data
    W, _R, _K, Y, _H, S, _P = _dims(d)
    if S == 0:
        m.pos["convert"] = np.full((0, Y), -1)
        m.pos["ai_site"] = np.full((0, Y), -1)
        return
    lag = np.ceil(d.conv_months / 12.0 - 1e-9).astype(int)      # [S]
    ok = np.arange(Y)[None, :] + lag[:, None] <= Y - 1
    s, o = np.nonzero(ok)
    integer = not m.options.relax_integers
    cf = m.b.add_variables("convert", {"site": s, "year": o}, 0.0, 1.0, integer=integer,
                           doc="site conversion decided in the year [1]")
    cpos = m.index_map("convert", (S, Y), (s, o), cf.start)
    # once per site
    sites_with = np.unique(s)
    row_of_site = np.full(S, -1)
    row_of_site[sites_with] = np.arange(sites_with.size)
    m.b.add_constraints("convert_once", {"site": sites_with}, row_of_site[s],
                        cf.start + np.arange(s.size), np.ones(s.size), -INF, 1.0,
                        doc="a site converts at most once [1]")
    # AI MW at sites, from the first year a conversion can be online
    convertible = np.asarray((cpos >= 0).any(axis=1))
    avail = (np.arange(Y)[None, :] >= lag[:, None]) & convertible[:, None]
    s2, y2 = np.nonzero(avail)
    af = m.b.add_variables("ai_site", {"site": s2, "year": y2}, 0.0, d.interconnection[s2],
                           doc="AI IT load placed at a converted site [MW]")
    m.index_map("ai_site", (S, Y), (s2, y2), af.start)
    n = s2.size
    i = np.arange(n)
    rows = [i]
    cols = [af.start + i]
    vals = [np.ones(n)]
    for oo in range(Y):
        c = cpos[s2, oo]
        sel = (c >= 0) & (oo + lag[s2] <= y2)
        rows.append(i[sel])
        cols.append(c[sel])
        vals.append(-d.interconnection[s2[sel]])
    m.b.add_constraints("site_interconnection", {"site": s2, "year": y2}, np.concatenate(rows),
                        np.concatenate(cols), np.concatenate(vals), -INF, 0.0,
                        doc="AI MW at a site ≤ interconnection × converted [MW]",
                        inputs=("sites.interconnection_mw", "sites.conversion_months"))
    crf = float(capital_recovery_factor(d.rate, m.options.conversion_lifetime_years))
    m.cost("conversion", af.start + i, d.discount[y2] * 1000.0 * d.conv_capex[s2] * crf)
    # forgone mining cash flow, per scenario, from the decision year on
    disc_cum = d.mining_cfads * d.discount[None, None, :]          # [W,S,Y]
    tail = np.cumsum(disc_cum[:, :, ::-1], axis=2)[:, :, ::-1]     # Σ_{y ≥ o}
    ccols = cf.start + np.arange(s.size)
    for w in range(W):
        m.cost("mining_forgone", ccols, tail[w, s, o], scen=np.full(s.size, w))


def add_new_build_ai_cost(m: Model, cols: np.ndarray, year_index: np.ndarray) -> None:
    """Annualized capex of new-build AI MW in columns ``cols`` (online in ``year_index``).

    A new-build campus costs ``new_build_ai_capex_usd_per_kw`` [$/kW], annualized like a
    conversion (capital recovery factor over ``conversion_lifetime_years`` at the finance
    rate) and paid per MW online per year, so a conversion competes with a new build on cost
    and time to power rather than with a free alternative.
    """
    d = m.data
    crf = float(capital_recovery_factor(d.rate, m.options.conversion_lifetime_years))
    m.cost("new_build_ai", cols,
           d.discount[year_index] * 1000.0 * m.options.new_build_ai_capex_usd_per_kw * crf)


def add_ai_placement(m: Model) -> None:
    """``ai_new[r,y]`` new-build AI MW, ``unserved_ai[r,y]``, and the AI demand balance."""
    d = m.data
    W, R, _K, Y, _H, S, _P = _dims(d)
    lag_new = math.ceil(m.options.new_build_lead_years - 1e-9)
    ok = np.broadcast_to(np.arange(Y)[None, :] >= lag_new, (R, Y)) & (d.ai_limit[:, None] > 0)
    r, y = np.nonzero(ok)
    nf = m.b.add_variables("ai_new", {"region": r, "year": y}, 0.0, d.ai_limit[r],
                           doc="new-build AI data-center load placed [MW]")
    npos = m.index_map("ai_new", (R, Y), (r, y), nf.start)
    add_new_build_ai_cost(m, nf.start + np.arange(r.size), y)
    ru, yu = np.nonzero(np.ones((R, Y), bool))
    uf = m.b.add_variables("unserved_ai", {"region": ru, "year": yu}, 0.0, d.ai_demand[ru, yu],
                           doc="AI demand that finds no home [MW]")
    upos = m.index_map("unserved_ai", (R, Y), (ru, yu), uf.start)
    row = ru * Y + yu
    rows = [row, npos[r, y] * 0 + (r * Y + y)]
    cols = [upos[ru, yu], npos[r, y]]
    vals = [np.ones(ru.size), np.ones(r.size)]
    apos = m.pos["ai_site"]
    if S:
        s2, y2 = np.nonzero(apos >= 0)
        rows.append(d.site_region[s2] * Y + y2)
        cols.append(apos[s2, y2])
        vals.append(np.ones(s2.size))
    m.take_extras("ai_balance", rows, cols, vals)
    m.b.add_constraints("ai_balance", {"region": ru, "year": yu}, np.concatenate(rows),
                        np.concatenate(cols), np.concatenate(vals), d.ai_demand[ru, yu],
                        d.ai_demand[ru, yu],
                        doc="new-build + converted + unserved = AI demand [MW]",
                        inputs=("regions.ai_demand_mw", "regions.ai_site_limit_mw"))
    # AI load once placed stays placed (where the demand path does not fall)
    grows = np.zeros((R, Y), bool)
    grows[:, 1:] = d.ai_demand[:, 1:] >= d.ai_demand[:, :-1]
    fams = [("ai_new", npos, grows)]
    if S:
        fams.append(("ai_site", apos, grows[d.site_region]))
    for name, pos, ok in fams:
        ok = ok & (pos >= 0) & np.concatenate([np.zeros((pos.shape[0], 1), bool),
                                               pos[:, :-1] >= 0], axis=1)
        e, yy = np.nonzero(ok)
        if e.size == 0:
            continue
        i = np.arange(e.size)
        m.b.add_constraints(f"{name}_nondecreasing", {("region" if name == "ai_new" else "site"):
                                                     e, "year": yy},
                            np.concatenate([i, i]), np.concatenate([pos[e, yy], pos[e, yy - 1]]),
                            np.concatenate([np.ones(e.size), -np.ones(e.size)]), 0.0, INF,
                            doc="AI load placed does not shrink [MW]",
                            inputs=("regions.ai_demand_mw",))
    # unserved AI: lost margin on the energy it would have used, per scenario
    for w in range(W):
        m.cost("unserved_ai", upos[ru, yu],
               d.discount[yu] * HOURS_PER_YEAR * d.util[w, yu], scen=np.full(ru.size, w),
               param="ai_lost_margin")
    m.params["ai_lost_margin"] = float(m.options.ai_lost_margin_usd_per_mwh)


def add_path_limits(m: Model) -> None:
    """Interconnection-path limits [MW]: per region, year and limited path, the MW online
    through the path stay within its limit (surplus interconnection headroom, fast-track
    programme volume); behind-the-meter supply stays within the AI load placed in the region
    (new-build + converted sites), which it serves on site."""
    d = m.data
    _W, R, _K, Y, _H, S, _P = _dims(d)
    opos = m.pos["online"]
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    hi: list[float] = []
    coords: dict[str, list[Any]] = {"region": [], "path": [], "year": []}
    n = 0
    btm = d.tech_path == "behind_the_meter"
    for r in range(R):
        for path in sorted(set(d.tech_path.tolist()) - {"none"}):
            ks = np.flatnonzero(d.tech_path == path)
            limit = float(d.path_limit_mw[r, ks[0]]) if ks.size else np.inf
            if path != "behind_the_meter" and not np.isfinite(limit):
                continue
            for y in range(Y):
                on = opos[r, ks, y]
                on = on[on >= 0]
                if on.size == 0:
                    continue
                rows.append(np.full(on.size, n))
                cols.append(on)
                vals.append(np.ones(on.size))
                bound = limit
                if path == "behind_the_meter" and btm.any():
                    ai = [m.pos["ai_new"][r, y]] if m.pos["ai_new"][r, y] >= 0 else []
                    if S:
                        ai += [c for c in m.pos["ai_site"][d.site_region == r, y] if c >= 0]
                    rows.append(np.full(len(ai), n))
                    cols.append(np.asarray(ai, dtype=np.int64))
                    vals.append(-np.ones(len(ai)))
                    bound = limit if np.isfinite(limit) else 0.0
                hi.append(bound)
                coords["region"].append(r)
                coords["path"].append(path)
                coords["year"].append(y)
                n += 1
    if n == 0:
        return
    m.b.add_constraints(
        "path_limit", {k: np.asarray(v) for k, v in coords.items()}, np.concatenate(rows),
        np.concatenate(cols), np.concatenate(vals), -INF, np.asarray(hi),
        doc="MW online through an interconnection path ≤ its limit (behind the meter: ≤ AI "
            "load placed) [MW]",
        inputs=("regions.path_limit_mw", "technologies.interconnection_path"))


def add_flexibility(m: Model) -> None:
    """``flex[p,y]`` MW of DER flexibility contracted, bounded by the pool's potential (the
    enrolled population's, following its path by ``flex_index``)."""
    d = m.data
    _W, _R, _K, Y, _H, _S, P = _dims(d)
    if P == 0:
        m.pos["flex"] = np.full((0, Y), -1)
        return
    p, y = np.nonzero(np.ones((P, Y), bool))
    f = m.b.add_variables("flex", {"pool": p, "year": y}, 0.0,
                          d.flex_potential_mw[p] * d.flex_index[p, y],
                          doc="DER flexibility contracted [MW]")
    m.index_map("flex", (P, Y), (p, y), f.start)
    m.cost("flex", f.cols, d.discount[y] * 1000.0, param="flex_cost")
    m.params["flex_cost"] = float(m.options.flex_cost_usd_per_kw_yr)


# -------------------------------------------------------------- second-stage families
def _slice_cost(d: PlanData, w: np.ndarray, y: np.ndarray, h: np.ndarray) -> np.ndarray:
    return d.discount[y] * d.slice_hours[h]


def _peak_shortfall_cost(
    d: PlanData, o: PlanOptions, y: np.ndarray, h: np.ndarray
) -> np.ndarray:
    """Discounted hours a slice-peak shortfall lasts [h] (see ``peak_shortfall_hours``)."""
    return d.discount[y] * np.minimum(d.slice_hours[h], o.peak_shortfall_hours)


def add_dispatch(m: Model) -> None:
    """``gen[w,r,k,y,h]`` MWh-rate dispatch of non-storage technologies, ``gen ≤ cf·online``,
    and ``market[w,r,y,h]`` purchases at the slice price."""
    d = m.data
    W, R, _K, Y, H, _S, _P = _dims(d)
    opos = m.pos["online"]
    dispatchable = d.profile != "storage"
    mask = (opos >= 0) & dispatchable[None, :, None]             # [R,K,Y]
    rr, kk, yy = np.nonzero(mask)
    n_rky = rr.size
    # gen over (w, rky, h)
    w = np.repeat(np.arange(W), n_rky * H)
    j = np.tile(np.repeat(np.arange(n_rky), H), W)
    h = np.tile(np.arange(H), W * n_rky)
    r, k, y = rr[j], kk[j], yy[j]
    g = m.b.add_variables("gen", {"scenario": w, "region": r, "tech": k, "year": y, "slice": h},
                          doc="generation of new capacity [MW]")
    m.pos["gen_idx"] = np.stack([w, r, k, y, h])
    prof = d.profile[k]
    cf = np.where(prof == "solar", d.solar_cf[w, r, h],
                  np.where(prof == "wind", d.wind_cf[w, r, h], d.availability[k]))
    n = w.size
    i = np.arange(n)
    m.b.add_constraints(
        "gen_capacity", {"scenario": w, "region": r, "tech": k, "year": y, "slice": h},
        np.concatenate([i, i]), np.concatenate([g.start + i, opos[r, k, y]]),
        np.concatenate([np.ones(n), -cf]), -INF, 0.0,
        doc="generation ≤ capacity factor × online [MW]",
        inputs=("outcomes.solar_cf", "outcomes.wind_cf", "technologies.availability"))
    m.cost("energy", g.start + i, _slice_cost(d, w, y, h) * d.vom[k], scen=w)
    if m.options.market == "off":  # PlanOptions.market: no purchases at all
        return
    wm, rm, ym, hm = np.nonzero(np.ones((W, R, Y, H), bool))
    mk = m.b.add_variables("market", {"scenario": wm, "region": rm, "year": ym, "slice": hm},
                           doc="energy bought from the existing fleet/market at the slice "
                           "price (PlanOptions.market) [MW]")
    m.cost("energy", mk.cols, _slice_cost(d, wm, ym, hm) * d.price[wm, rm, ym, hm], scen=wm)


def add_storage(m: Model) -> None:
    """Chronological storage: charge, discharge, state of charge (cyclic over the slices)."""
    d = m.data
    W, _R, _K, _Y, H, _S, _P = _dims(d)
    opos = m.pos["online"]
    mask = (opos >= 0) & (d.profile == "storage")[None, :, None]
    if not d.chronological or not mask.any():
        m.pos["storage_idx"] = np.zeros((5, 0), int)
        return
    rr, kk, yy = np.nonzero(mask)
    n_rky = rr.size
    w = np.repeat(np.arange(W), n_rky * H)
    j = np.tile(np.repeat(np.arange(n_rky), H), W)
    h = np.tile(np.arange(H), W * n_rky)
    r, k, y = rr[j], kk[j], yy[j]
    coords = {"scenario": w, "region": r, "tech": k, "year": y, "slice": h}
    n = w.size
    i = np.arange(n)
    ch = m.b.add_variables("charge", coords, doc="storage charging [MW]")
    dis = m.b.add_variables("discharge", coords, doc="storage discharging [MW]")
    soc = m.b.add_variables("soc", coords, doc="storage state of charge [MWh]")
    m.pos["storage_idx"] = np.stack([w, r, k, y, h])
    on = opos[r, k, y]
    for name, fam, coef in (("charge_capacity", ch, np.ones(n)),
                            ("discharge_capacity", dis, np.ones(n)),
                            ("soc_capacity", soc, d.duration_h[k] + 0 * i)):
        m.b.add_constraints(name, coords, np.concatenate([i, i]),
                            np.concatenate([fam.start + i, on]),
                            np.concatenate([np.ones(n), -coef]), -INF, 0.0,
                            doc=f"{fam.name} ≤ capacity", inputs=("technologies",))
    eta = np.sqrt(d.efficiency[k])
    hours = d.slice_hours[h]
    prev = np.where(h > 0, i - 1, i + (H - 1))                   # cyclic within (w, r, k, y)
    m.b.add_constraints(
        "soc_balance", coords, np.concatenate([i, i, i, i]),
        np.concatenate([soc.start + i, soc.start + prev, ch.start + i, dis.start + i]),
        np.concatenate([np.ones(n), -np.ones(n), -eta * hours, hours / eta]), 0.0, 0.0,
        doc="soc = soc(previous slice) + η·charge − discharge/η [MWh]",
        inputs=("technologies.storage_efficiency",))
    m.cost("energy", dis.start + i, _slice_cost(d, w, y, h) * d.vom[k], scen=w)


def add_energy_balance(m: Model) -> None:
    """Per scenario, region, year and slice: supply = mean net load + AI load [MW]."""
    d = m.data
    W, R, _K, Y, H, _S, _P = _dims(d)
    row = lambda w, r, y, h: ((w * R + r) * Y + y) * H + h  # noqa: E731
    rows, cols, vals = [], [], []
    gi = m.pos["gen_idx"]
    g = m.b.var_families["gen"]
    rows.append(row(gi[0], gi[1], gi[3], gi[4]))
    cols.append(g.cols)
    vals.append(np.ones(g.n))
    si = m.pos["storage_idx"]
    if si.shape[1]:
        for name, sign in (("discharge", 1.0), ("charge", -1.0)):
            f = m.b.var_families[name]
            rows.append(row(si[0], si[1], si[3], si[4]))
            cols.append(f.cols)
            vals.append(np.full(f.n, sign))
    if "market" in m.b.var_families:
        mk = m.b.var_families["market"]
        c = mk.coords
        rows.append(row(c["scenario"], c["region"], c["year"], c["slice"]))
        cols.append(mk.cols)
        vals.append(np.ones(mk.n))
    w, r, y, h = np.nonzero(np.ones((W, R, Y, H), bool))
    upos = m.pos["unserved_ai"]
    rows.append(row(w, r, y, h))
    cols.append(upos[r, y])
    vals.append(d.util[w, y])
    rhs = d.mean_load[w, r, y, h] + d.util[w, y] * d.ai_demand[r, y]
    m.b.add_constraints("energy_balance", {"scenario": w, "region": r, "year": y, "slice": h},
                        np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), rhs,
                        rhs, doc="generation + storage + market = net load + AI load [MW]",
                        inputs=("outcomes.mean_net_load_mw", "outcomes.ai_utilization",
                                "regions.ai_demand_mw"))


def add_adequacy(m: Model) -> None:
    """Per scenario, region, year and slice: accredited capacity ≥ peak net load + AI load."""
    d = m.data
    o = m.options
    W, R, _K, Y, H, _S, P = _dims(d)
    w, r, y, h = np.nonzero(np.ones((W, R, Y, H), bool))
    n = w.size
    i = np.arange(n)
    coords = {"scenario": w, "region": r, "year": y, "slice": h}
    # Firm AI load shed at the peak is an outage of load served under uptime commitments:
    # priced at the value of lost load, not at the AI lost margin (that prices demand with no
    # home, unserved_ai, and flexible AI curtailment in flexible_ai).
    sa = m.b.add_variables("shed_ai", coords,
                           doc="placed firm AI load shed at the slice peak (an outage) [MW]")
    m.cost("shortfall", sa.cols, _peak_shortfall_cost(d, o, y, h), scen=w,
           param="firm_ai_shed")
    m.params["firm_ai_shed"] = float(o.firm_ai_shed_usd_per_mwh)
    rows = [i, i]
    cols = [sa.cols, m.pos["unserved_ai"][r, y]]
    vals = [np.ones(n), np.ones(n)]
    if o.voll_usd_per_mwh is not None:
        sl = m.b.add_variables("shed_load", coords, doc="non-AI load shed at the slice peak [MW]")
        m.cost("shortfall", sl.cols, _peak_shortfall_cost(d, o, y, h), scen=w, param="voll")
        m.params["voll"] = float(o.voll_usd_per_mwh)
        rows.append(i)
        cols.append(sl.cols)
        vals.append(np.ones(n))
    # accredited new capacity: online[r,k,y] × acc[w,r,k,h]
    opos = m.pos["online"]
    rr, kk, yy = np.nonzero(opos >= 0)
    Rk = rr.size
    if Rk:
        # rows (w, rky, h) → adequacy row index
        ww = np.repeat(np.arange(W), Rk * H)
        j = np.tile(np.repeat(np.arange(Rk), H), W)
        hh = np.tile(np.arange(H), W * Rk)
        r2, k2, y2 = rr[j], kk[j], yy[j]
        prof = d.profile[k2]
        acc = np.where(prof == "solar", d.solar_cf_peak[ww, r2, hh],
                       np.where(prof == "wind", d.wind_cf_peak[ww, r2, hh], d.availability[k2]))
        rows.append(((ww * R + r2) * Y + y2) * H + hh)
        cols.append(opos[r2, k2, y2])
        vals.append(acc)
    fpos = m.pos["flex"]
    if P:
        pp, yp = np.nonzero(fpos >= 0)
        npy = pp.size
        ww = np.repeat(np.arange(W), npy * H)
        j = np.tile(np.repeat(np.arange(npy), H), W)
        hh = np.tile(np.arange(H), W * npy)
        p2, y2 = pp[j], yp[j]
        r2 = d.pool_region[p2]
        rows.append(((ww * R + r2) * Y + y2) * H + hh)
        cols.append(fpos[p2, y2])
        vals.append(d.delivery[ww, p2, hh])
    m.take_extras("adequacy", rows, cols, vals)
    rhs = d.peak[w, r, y, h] + d.ai_demand[r, y] - d.firm_mw[r]
    fam = m.b.add_constraints(
        "adequacy", coords, np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
        rhs, INF, doc="accredited capacity + flexibility + shortfall ≥ peak + AI load [MW]",
        inputs=("outcomes.peak_net_load_mw", "regions.firm_capacity_mw", "regions.ai_demand_mw",
                "technologies.availability", "technologies.lead_time_years",
                "regions.queue_years", "outcomes.flex_delivery_ratio",
                "outcomes.solar_cf_at_peak", "outcomes.wind_cf_at_peak"))
    m.pos["adequacy_rows"] = fam.start + i
    m.rhs_params["firm_capacity_mw"] = (fam.start + i, r)
    m.b.add_constraints("ai_curtailment_limit", coords, np.concatenate([i, i]),
                        np.concatenate([sa.cols, m.pos["unserved_ai"][r, y]]),
                        np.ones(2 * n), -INF, d.ai_demand[r, y],
                        doc="curtailed + unserved AI ≤ AI demand [MW]",
                        inputs=("regions.ai_demand_mw",))


def add_cvar(m: Model) -> None:
    """Rockafellar–Uryasev CVaR: ``η`` (free) and ``u_w ≥ C_w(x) − η``, ``u_w ≥ 0``."""
    d = m.data
    W = d.scenarios.size
    eta = m.b.add_variables("cvar_eta", {"scenario": np.zeros(1, int)}, -INF, INF,
                            doc="value-at-risk level η of scenario cost [$]")
    u = m.b.add_variables("cvar_excess", {"scenario": np.arange(W)},
                          doc="scenario cost above η [$]")
    Q = scenario_cost_matrix(m)                                     # W × n_cols (so far)
    Q = sp.csr_array(Q)
    rows = [np.arange(W), np.arange(W), np.repeat(np.arange(W), np.diff(Q.indptr))]
    cols = [u.cols, np.full(W, eta.start), Q.indices.astype(np.int64)]
    vals = [np.ones(W), np.ones(W), -Q.data]
    m.b.add_constraints("cvar_excess_def", {"scenario": np.arange(W)}, np.concatenate(rows),
                        np.concatenate(cols), np.concatenate(vals), 0.0, INF,
                        doc="u_w + η − C_w(x) ≥ 0 [$]", inputs=())
    m.pos["cvar_rows"] = np.arange(W) + m.b.con_families["cvar_excess_def"].start


def scenario_cost_matrix(m: Model, n_cols: int | None = None,
                         component: str | None = None) -> sp.csr_array:
    """Matrix Q (scenarios × columns): scenario w's second-stage cost is ``Q[w] @ x`` [$]."""
    W = m.data.scenarios.size
    n = m.b.n_cols if n_cols is None else n_cols
    rs, cs, vs = [], [], []
    for t in m.terms:
        if t.scen is None or (component is not None and t.component != component):
            continue
        mult = m.params[t.param] if t.param else 1.0
        rs.append(t.scen)
        cs.append(t.cols)
        vs.append(t.vals * mult)
    if not rs:
        return sp.csr_array((W, n))
    Q = sp.csr_array((np.concatenate(vs), (np.concatenate(rs), np.concatenate(cs))), shape=(W, n))
    Q.sum_duplicates()
    return Q


def first_stage_cost_vector(m: Model, component: str | None = None) -> np.ndarray:
    """Vector F: the first-stage cost is ``F @ x`` [$]."""
    f = np.zeros(m.b.n_cols)
    for t in m.terms:
        if t.scen is not None or (component is not None and t.component != component):
            continue
        mult = m.params[t.param] if t.param else 1.0
        np.add.at(f, t.cols, t.vals * mult)
    return f


def objective_vector(m: Model) -> np.ndarray:
    """``c = (1+λ)F + Qᵀπ + λ(e_η + π/(1−α) on u)`` [$ per unit]."""
    lam = m.params["cvar_lambda"]
    alpha = m.params["cvar_alpha"]
    c = (1.0 + lam) * first_stage_cost_vector(m)
    Q = scenario_cost_matrix(m)
    c += Q.T @ m.data.weights
    if "cvar_eta" in m.b.var_families:
        c[m.b.var_families["cvar_eta"].start] += lam
        u = m.b.var_families["cvar_excess"]
        c[u.cols] += lam * m.data.weights / (1.0 - alpha)
    return c


def add_objective(m: Model) -> None:
    """Set ``E[cost] + λ·CVaR_α`` (see module docstring)."""
    m.params["cvar_lambda"] = float(m.options.cvar_lambda)
    m.params["cvar_alpha"] = float(m.options.cvar_alpha)
    m.b.set_objective(objective_vector(m))


#: The model, in build order. Each step adds one family of variables or constraints.
BUILD_STEPS: tuple[Callable[[Model], None], ...] = (
    add_build,
    add_online,
    add_conversions,
    flexible_ai.add_flexible_ai,
    add_ai_placement,
    add_path_limits,
    add_flexibility,
    add_dispatch,
    add_storage,
    add_energy_balance,
    add_adequacy,
    flexible_ai.add_flexible_ai_limits,
    add_cvar,
    add_objective,
)


def build_model(data: PlanData, options: PlanOptions) -> Model:
    """Run :data:`BUILD_STEPS` with the garbage collector paused; returns the model state."""
    m = Model(data=data, options=options, b=ModelBuilder())
    with paused_gc():
        for step in BUILD_STEPS:
            step(m)
    return m


# ------------------------------------------------------------------------ PlanModel
class PlanModel:
    """A built siting model attached to one persistent HiGHS solver.

    Parameters
    ----------
    inputs : gridcap.schema.StudyInputs
        Study inputs.
    outcomes : xarray.Dataset
        Monte Carlo outcomes (docs/data-model.md §2).
    options : PlanOptions, optional
        Model options.

    Examples
    --------
    >>> pm = PlanModel(inputs, outcomes)                           # doctest: +SKIP
    >>> for lam in (0.0, 0.5, 1.0):                                # doctest: +SKIP
    ...     pm.set_param("cvar_lambda", lam)
    ...     print(lam, float(pm.solve()["objective_usd"]))
    """

    SETTABLE = ("cvar_lambda", "cvar_alpha", "voll", "ai_lost_margin", "firm_ai_shed",
                "flex_cost", "capex:<tech>", "firm_capacity_mw:<region>")

    def __init__(self, inputs: StudyInputs, outcomes: xr.Dataset,
                 options: PlanOptions | None = None) -> None:
        self.options = options = replace(options) if options is not None else PlanOptions()
        options.validate()
        self.inputs = inputs
        self.outcomes = outcomes
        t0 = time.perf_counter()
        self.data = prepare_data(inputs, outcomes, options)
        t1 = time.perf_counter()
        self.model = build_model(self.data, options)
        t2 = time.perf_counter()
        self.lp = self.model.b.compile(via=options.handoff)
        self.solver = HighsSolver(self.lp, time_limit_s=options.time_limit_s,
                                  mip_gap=options.mip_gap, threads=options.threads,
                                  verbose=options.verbose)
        t3 = time.perf_counter()
        self.timings = {"prepare_s": t1 - t0, "build_s": t2 - t1, "handoff_s": t3 - t2}
        self._firm = self.data.firm_mw.copy()
        self.last_result: SolveResult | None = None
        if options.relax_integers:
            self.solver.relax_integers()

    def to_pyomo(self) -> Any:
        """The model as a Pyomo ``ConcreteModel``, built now from the solver's current program.

        For inspection, extension, writing (``.write("plan.lp")``) or other Pyomo solvers; the
        plan itself is solved from the same families by HiGHS directly. Parameter changes made
        with :meth:`set_param` are included. Variable family ``f`` is ``model.f`` indexed
        ``0 … n-1`` in the order of ``self.model.b.var_families[f].coords``; the objective is
        ``model.objective`` in the solver's scaled units (``COST_SCALE`` $ per unit).
        """
        return self.model.b.to_pyomo(self.solver.current_lp())

    # ------------------------------------------------------------------ params
    def set_param(self, name: str, value: float) -> None:
        """Change a parameter in place; the next :meth:`solve` re-uses the HiGHS instance.

        Parameters
        ----------
        name : str
            One of ``cvar_lambda`` [1], ``cvar_alpha`` [1], ``voll`` [$/MWh],
            ``ai_lost_margin`` [$/MWh], ``firm_ai_shed`` [$/MWh], ``flex_cost`` [$/kW-yr],
            ``capex:<tech>`` [$/kW],
            ``firm_capacity_mw:<region>`` [MW].
        value : float
            New value.
        """
        m = self.model
        if name.startswith("firm_capacity_mw:"):
            region = name.split(":", 1)[1]
            idx = np.flatnonzero(self.data.regions == region)
            if idx.size == 0:
                raise GridcapInputError(
                    f"set_param({name!r}): unknown region; expected one of "
                    f"{self.data.regions.tolist()}")
            rows, r = m.rhs_params["firm_capacity_mw"]
            sel = r == idx[0]
            delta = float(value) - self._firm[idx[0]]
            lo = self.solver.lp.row_lower[rows[sel]] - delta
            self.solver.change_row_bounds(rows[sel], lo, np.full(lo.size, INF))
            self._firm[idx[0]] = float(value)
            self.solver.next_simplex_strategy = 1  # bounds moved: the basis stays dual feasible
            return
        if name not in m.params:
            valid = sorted(m.params)
            raise GridcapInputError(
                f"set_param({name!r}): unknown parameter; expected one of {valid} "
                f"(general forms: {self.SETTABLE})")
        if name == "cvar_alpha" and not 0 <= value < 1:
            raise GridcapInputError(f"cvar_alpha = {value}: expected a value in [0, 1)")
        if value < 0 or not np.isfinite(value):
            raise GridcapInputError(f"{name} = {value}: expected a finite value >= 0")
        old_Q = None
        if any(t.param == name and t.scen is not None for t in m.terms):
            old_Q = scenario_cost_matrix(m, self.lp.shape[1])
        m.params[name] = float(value)
        self.solver.change_costs(objective_vector(m))
        # Only costs moved: the old basis stays primal feasible, so primal simplex re-solves
        # in a fraction of the dual's iterations (20-point λ sweep at 1e5 variables: ~4×).
        self.solver.next_simplex_strategy = 4 if old_Q is None else None
        if old_Q is not None and "cvar_excess_def" in m.b.con_families:
            new_Q = scenario_cost_matrix(m, self.lp.shape[1])
            diff = (new_Q - old_Q).tocoo()
            keep = diff.data != 0
            w, c = diff.row[keep], diff.col[keep]
            vals = -np.asarray(new_Q[w, c]).ravel()
            self.solver.change_coefficients(m.pos["cvar_rows"][w], c, vals)

    # ------------------------------------------------------------------- solve
    def solve(self) -> xr.Dataset:
        """Solve (MIP, then the LP with integers fixed for duals) and return the plan."""
        t0 = time.perf_counter()
        res = self.solver.solve()
        kind = self.solver.is_infeasible_or_unbounded(res)
        if kind is not None:
            raise self._infeasibility_error(kind)
        if not res.optimal:
            raise ModelInfeasibleError(
                f"HiGHS stopped without a usable solution (status: {res.status}); "
                f"time_limit_s = {self.options.time_limit_s}: raise it or reduce "
                "scenarios_in_model")
        dual_res: SolveResult | None = res
        dual_source = "lp"
        mip_gap = res.mip_gap
        mip_status = res.status
        if res.is_mip:
            self.solver.fix_integers(res.x)
            try:
                dual_res = self.solver.solve()
            finally:
                self.solver.unfix_integers()
            dual_source = "lp_with_integers_fixed"
            if not dual_res.optimal:
                dual_res = None
        timings = dict(self.timings)
        timings["solve_s"] = time.perf_counter() - t0
        sol = dual_res if dual_res is not None else res
        self.last_result = sol
        ds = assemble_plan(self, res if dual_res is None else sol, dual_res, timings,
                           dual_source=dual_source, mip_gap=mip_gap, status=mip_status,
                           objective=res.objective)
        if self.options.evaluate_selection and self.data.selection is not None:
            ds.attrs.update(self._evaluate_on_all(sol.x, ds))
        if self.options.flexible_ai is not None:
            ds = flexible_ai.attach_results(self, ds, res if dual_res is None else sol)
        return ds

    FIRST_STAGE = ("build", "online", "convert", "ai_site", "ai_new", "unserved_ai", "flex",
                   "ai_flex")

    def _evaluate_on_all(self, x: np.ndarray, ds: xr.Dataset) -> dict[str, float]:
        """Second stage on every scenario with this plan's first-stage decisions fixed."""
        opts = replace(self.options, scenarios_in_model=None, evaluate_selection=False,
                       relax_integers=True)
        full = PlanModel(self.inputs, self.outcomes, opts)
        for name in self.FIRST_STAGE:
            mine = self.model.b.var_families.get(name)
            theirs = full.model.b.var_families.get(name)
            if mine is None or theirs is None or mine.n == 0:
                continue
            v = x[mine.start:mine.start + mine.n]
            cols = theirs.cols.astype(np.int32)
            full.solver.h.changeColsBounds(cols.size, cols, v, v)
        out = full.solve()
        exp_full = float(out["expected_cost_usd"])
        cvar_full = float(out["cvar_cost_usd"])
        return {
            "scenario_selection_full_expected_cost_usd": exp_full,
            "scenario_selection_full_cvar_cost_usd": cvar_full,
            "scenario_selection_expected_cost_rel_error":
                abs(float(ds["expected_cost_usd"]) - exp_full) / max(abs(exp_full), 1e-12),
            "scenario_selection_cvar_cost_rel_error":
                abs(float(ds["cvar_cost_usd"]) - cvar_full) / max(abs(cvar_full), 1e-12),
        }

    def _infeasibility_error(self, kind: str) -> ModelInfeasibleError:
        b = self.model.b
        d = self.data
        lines = [f"The siting model is {kind}."]
        try:
            rows, cols = self.solver.iis()
        except Exception:  # pragma: no cover - IIS is best effort
            rows, cols = np.zeros(0, int), np.zeros(0, int)
        labels = {"scenario": d.scenarios, "region": d.regions, "tech": d.techs,
                  "year": d.years, "site": d.sites, "pool": d.pools,
                  "slice": np.arange(d.slice_hours.size)}
        fams: dict[str, list[str]] = {}
        inputs: set[str] = set()
        for r in rows.tolist():
            fam, i = b.locate_row(int(r))
            where = ", ".join(f"{k}={labels[k][v[i]]}" for k, v in fam.coords.items()
                              if k in labels and len(labels[k]))
            fams.setdefault(fam.name, []).append(where)
            inputs.update(fam.inputs)
        vfams: dict[str, int] = {}
        for c in cols.tolist():
            fam, _ = b.locate_col(int(c))
            vfams[fam.name] = vfams.get(fam.name, 0) + 1
        if fams:
            lines.append("HiGHS irreducible infeasible subset — constraint families:")
            for name, wh in fams.items():
                ex = "; ".join(wh[:3])
                lines.append(f"  - {name}: {len(wh)} row(s), e.g. [{ex}] — "
                             f"{b.con_families[name].doc}")
            if vfams:
                lines.append("  variable bounds involved: " + ", ".join(
                    f"{k} ({v})" for k, v in vfams.items()))
            lines.append("Inputs involved: " + ", ".join(sorted(inputs)))
        elif kind != "infeasible":
            lines.append("Check for negative costs (technologies.variable_om_usd_per_mwh, "
                         "outcomes.price_usd_per_mwh, site_mining_cfads_usd).")
        if self.options.voll_usd_per_mwh is None:
            lines.append("Existing load cannot be met before new capacity can be online; set "
                         "PlanOptions.voll_usd_per_mwh to price shortfall instead.")
        err = ModelInfeasibleError("\n".join(lines))
        err.families = list(fams)  # type: ignore[attr-defined]
        err.inputs = sorted(inputs)  # type: ignore[attr-defined]
        return err


# ------------------------------------------------------------------------ results
def _dense(fam_name: str, m: Model, x: np.ndarray, shape: tuple[int, ...],
           dims: tuple[str, ...]) -> np.ndarray:
    out = np.zeros(shape)
    fam = m.b.var_families.get(fam_name)
    if fam is None or fam.n == 0:
        return out
    idx = tuple(fam.coords[d] for d in dims)
    np.add.at(out, idx, x[fam.start:fam.start + fam.n])
    return out


@dataclass
class ScenarioSummary:
    """Scenario costs and capacity values computed outside the extensive form (the scenario
    decomposition's fixed-first-stage LPs), for :func:`assemble_plan`.

    Attributes
    ----------
    scenario_cost : numpy.ndarray
        Total cost of each scenario in the model [$], aligned with ``PlanData.scenarios``.
    components : dict of str to float
        Expected present value of each cost component [$].
    capacity_value : numpy.ndarray
        Capacity value per region and year [$/kW-yr].
    """

    scenario_cost: np.ndarray
    components: dict[str, float]
    capacity_value: np.ndarray


def assemble_plan(pm: PlanModel, res: SolveResult, dual_res: SolveResult | None,
                  timings: dict[str, float], *, dual_source: str, mip_gap: float, status: str,
                  objective: float, summary: ScenarioSummary | None = None) -> xr.Dataset:
    """Turn a solution into the plan Dataset of docs/data-model.md §3.

    With ``summary`` (scenario decomposition), ``res.x`` supplies the first-stage decisions
    and ``summary`` the scenario costs, cost components and capacity values.
    """
    m, d, o, x = pm.model, pm.data, pm.options, res.x
    _W, R, K, Y, _H, S, P = _dims(d)
    build = _dense("build", m, x, (R, K, Y), ("region", "tech", "year"))
    online = _dense("online", m, x, (R, K, Y), ("region", "tech", "year"))
    conv = _dense("convert", m, x, (S, Y), ("site", "year"))
    ai_site = _dense("ai_site", m, x, (S, Y), ("site", "year"))
    ai_new = _dense("ai_new", m, x, (R, Y), ("region", "year"))
    unserved = _dense("unserved_ai", m, x, (R, Y), ("region", "year"))
    flex = _dense("flex", m, x, (P, Y), ("pool", "year"))
    ai_conv_region = np.zeros((R, Y))
    np.add.at(ai_conv_region, d.site_region, ai_site)
    ai_placed = ai_new + ai_conv_region
    sc, comps = _plan_costs(m, d, x, summary)
    cap_value = _capacity_value(m, d, dual_res, summary)
    reliab = flexibility.reliability(pm.outcomes, o.flex_confidence, pools=d.pools)
    price = flexibility.flex_price(cap_value, reliab, d.pool_region)
    alt_cost, alt_tech = flexibility.alternative_cost(d, _lags(d))

    ds = xr.Dataset(coords={"region": d.regions, "tech": d.techs, "site": d.sites,
                            "pool": d.pools, "year": d.years, "scenario": d.all_scenarios})
    _put(ds, "build_mw", ("region", "tech", "year"), build, "MW", "capacity ordered in the year")
    _put(ds, "online_mw", ("region", "tech", "year"), online, "MW", "new capacity online")
    _put_conversions(ds, d, conv, ai_site)
    _put(ds, "ai_placed_mw", ("region", "year"), ai_placed, "MW",
         "AI load placed (new-build + sites)")
    _put(ds, "ai_new_build_mw", ("region", "year"), ai_new, "MW", "new-build AI load placed")
    _put(ds, "unserved_ai_mw", ("region", "year"), unserved, "MW",
         "AI demand left without a home")
    _put_flexibility(ds, pm, flex, cap_value, reliab, price)
    _put(ds, "alternative_cost_usd_per_kw_yr", ("region", "year"), alt_cost, "$/kW-yr",
         "cheapest new-build accredited kW online by the year")
    _put(ds, "alternative_tech", ("region", "year"), alt_tech, "", "that cheapest technology")
    _put(ds, "time_to_power_years", ("region", "year"),
         _time_to_power(d, o, ai_new, ai_site, ai_placed), "yr",
         "MW-weighted decision-to-power time of the AI load placed")
    _put_costs(ds, d, o, sc, comps, objective)
    sy = _put_settlement(ds, pm, price)
    ds.attrs.update(_plan_attrs(pm, dual_res, timings, dual_source=dual_source,
                                mip_gap=mip_gap, status=status, settlement_year=sy))
    return ds


def _put(ds: xr.Dataset, name: str, dims: tuple[str, ...], val: Any, units: str,
         doc: str) -> None:
    """Add one plan variable with its unit and description."""
    ds[name] = xr.DataArray(np.asarray(val), dims=dims, attrs={"units": units, "long_name": doc})


def _plan_costs(m: Model, d: PlanData, x: np.ndarray, summary: ScenarioSummary | None
                ) -> tuple[np.ndarray, dict[str, float]]:
    """Total cost per scenario in the model [$] and the expected cost by component [$]."""
    if summary is not None:
        return np.asarray(summary.scenario_cost, dtype=float), dict(summary.components)
    F = first_stage_cost_vector(m)
    Q = scenario_cost_matrix(m, x.size)
    sc = float(F @ x) / COST_SCALE + (Q @ x) / COST_SCALE                               # [W]
    comps = {}
    for comp in COST_COMPONENTS:
        comps[comp] = float(first_stage_cost_vector(m, comp) @ x + d.weights
                            @ (scenario_cost_matrix(m, x.size, comp) @ x)) / COST_SCALE
    return sc, comps


def _capacity_value(m: Model, d: PlanData, dual_res: SolveResult | None,
                    summary: ScenarioSummary | None) -> np.ndarray:
    """Marginal capacity value per region and year from the adequacy duals [$/kW-yr]."""
    W, R, _K, Y, H, _S, _P = _dims(d)
    if summary is not None:
        return np.asarray(summary.capacity_value, dtype=float)
    if dual_res is None or dual_res.row_dual is None:
        return np.full((R, Y), np.nan)
    du = dual_res.row_dual[m.pos["adequacy_rows"]].reshape(W, R, Y, H)
    return du.sum(axis=(0, 3)) / d.discount[None, :] / 1000.0 / COST_SCALE


def _put_conversions(ds: xr.Dataset, d: PlanData, conv: np.ndarray, ai_site: np.ndarray) -> None:
    """Converted sites, their decision and online years, AI MW and capex."""
    S, Y = conv.shape
    converted = (conv.sum(axis=1) > 0.5).astype(np.int8) if S else np.zeros(0, np.int8)
    conv_year = np.where(converted > 0, d.years[np.argmax(conv, axis=1)] if S else 0, -1)
    lag_s = np.ceil(d.conv_months / 12.0 - 1e-9).astype(int)
    conv_online = np.where(converted > 0, conv_year + lag_s, -1)
    _put(ds, "converted", ("site",), converted, "1", "site converted to AI (0/1)")
    _put(ds, "conversion_year", ("site",), conv_year, "year",
         "year the conversion is decided (-1: no)")
    _put(ds, "conversion_online_year", ("site",), conv_online, "year",
         "first year the converted site's AI load is online (-1: no)")
    _put(ds, "ai_site_mw", ("site", "year"), ai_site, "MW", "AI IT load at the converted site")
    _put(ds, "capex_usd", ("site",),
         d.conv_capex * 1000.0 * (ai_site.max(axis=1) if Y and S else np.zeros(S)), "$",
         "overnight conversion capex: conversion_capex_usd_per_kw × peak AI kW placed")


def _time_to_power(d: PlanData, o: PlanOptions, ai_new: np.ndarray, ai_site: np.ndarray,
                   ai_placed: np.ndarray) -> np.ndarray:
    """MW-weighted decision-to-power time of the AI MW placed per region and year [yr]."""
    ttp_site = d.conv_months / 12.0
    num = o.new_build_lead_years * ai_new
    np.add.at(num, d.site_region, ai_site * ttp_site[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ai_placed > 1e-9, num / np.where(ai_placed > 1e-9, ai_placed, 1.0),
                        np.nan)


def _put_flexibility(ds: xr.Dataset, pm: PlanModel, flex: np.ndarray, cap_value: np.ndarray,
                     reliab: np.ndarray, price: np.ndarray) -> None:
    """Flexibility contracted (with its sampling error), capacity value, reliability, price."""
    d, o = pm.data, pm.options
    _put(ds, "flex_contracted_kw", ("pool", "year"), flex * 1000.0, "kW",
         "flexibility contracted")
    _put(ds, "flex_contracted_kw_se", ("pool", "year"),
         flex * 1000.0 * _relative_se(pm.outcomes, d.pools)[:, None], "kW",
         "sampling standard error of flex_contracted_kw: contracted × relative standard error "
         "of the pool's enrolled potential (the sample's error where the contract is at it)")
    _put(ds, "capacity_value_usd_per_kw_yr", ("region", "year"), cap_value, "$/kW-yr",
         "marginal capacity value: adequacy duals summed over scenarios and slices")
    _put(ds, "flex_reliability", ("pool",), reliab, "1",
         f"delivery ratio at the {1 - o.flex_confidence:.3g} quantile over scenarios")
    _put(ds, "flex_price_usd_per_kw_yr", ("pool", "year"), price, "$/kW-yr",
         "value of a committed kW: capacity value × reliability")


def _put_costs(ds: xr.Dataset, d: PlanData, o: PlanOptions, sc: np.ndarray,
               comps: dict[str, float], objective: float) -> None:
    """Cost components, expected cost, CVaR, objective and each scenario's cost and weight."""
    for comp, val in comps.items():
        _put(ds, f"cost_{comp}_usd", (), val, "$", f"expected present value of {comp} cost")
    _put(ds, "expected_cost_usd", (), float(d.weights @ sc), "$",
         "expected total cost (present value)")
    _put(ds, "cvar_cost_usd", (), empirical_cvar(sc, d.weights, o.cvar_alpha), "$",
         f"CVaR_{o.cvar_alpha} of total scenario cost")
    _put(ds, "objective_usd", (), objective / COST_SCALE, "$",
         "objective: expected cost + λ·CVaR")
    full_sc = np.full(d.all_scenarios.size, np.nan)
    full_w = np.zeros(d.all_scenarios.size)
    pick = np.searchsorted(d.all_scenarios, d.scenarios) if np.all(
        np.diff(d.all_scenarios) > 0) else np.array(
        [np.flatnonzero(d.all_scenarios == s)[0] for s in d.scenarios])
    full_sc[pick] = sc
    full_w[pick] = d.weights
    _put(ds, "scenario_cost_usd", ("scenario",), full_sc, "$",
         "total cost of the scenario (NaN: not in the model)")
    _put(ds, "scenario_weight", ("scenario",), full_w, "1", "probability weight in the model")


def _put_settlement(ds: xr.Dataset, pm: PlanModel, price: np.ndarray) -> int:
    """The proof-of-flexibility settlement ledger at the settlement year's price; returns
    that year."""
    d, o = pm.data, pm.options
    sy = o.settlement_year if o.settlement_year is not None else int(d.years[0])
    if sy not in d.years.tolist():
        raise GridcapInputError(f"settlement_year = {sy}: expected one of {d.years.tolist()}")
    led = settlement.ledger(pm.outcomes, price[:, int(np.flatnonzero(d.years == sy)[0])]
                            if d.pools.size else np.zeros(0), pools=d.pools,
                            penalty_multiple=o.shortfall_penalty_multiple)
    for name in led.data_vars:
        ds[name] = led[name]
    return sy


def _plan_attrs(pm: PlanModel, dual_res: SolveResult | None, timings: dict[str, float], *,
                dual_source: str, mip_gap: float, status: str,
                settlement_year: int) -> dict[str, Any]:
    """Solver, size, timing and convention attributes of the plan Dataset."""
    m, d, o, info = pm.model, pm.data, pm.options, pm.lp
    attrs = {
        "solver": "HiGHS (highspy, in memory, persistent)",
        "solver_status": status,
        "mip_gap": float(mip_gap) if np.isfinite(mip_gap) else -1.0,
        "mip_gap_target": float(o.mip_gap),
        "time_limit_s": float(o.time_limit_s) if o.time_limit_s is not None else -1.0,
        "dual_source": dual_source if dual_res is not None else "none",
        "prepare_s": timings["prepare_s"], "build_s": timings["build_s"],
        "handoff_s": timings["handoff_s"], "solve_s": timings["solve_s"],
        "n_variables": int(info.shape[1]), "n_constraints": int(info.shape[0]),
        "n_nonzeros": int(info.A.nnz), "n_integer": int(np.sum(info.integrality)),
        "cvar_alpha": float(m.params["cvar_alpha"]), "cvar_lambda": float(m.params["cvar_lambda"]),
        "annualization": ("capital recovery factor at finance.discount_rate over lifetime_years "
                          "+ fixed O&M per year online; years discounted to the first year"),
        "discount_rate": d.rate,
        "chronological_storage": int(d.chronological),
        "settlement_year": settlement_year,
        "scenarios_in_model": int(d.scenarios.size),
        "scenario_selection": (d.selection.method if d.selection else "all"),
    }
    if d.selection is not None:
        attrs.update({f"scenario_selection_{k}": float(v) for k, v in d.selection.errors.items()})
    return attrs


def plan(
    inputs: StudyInputs, outcomes: xr.Dataset, options: PlanOptions | None = None
) -> xr.Dataset:
    """Solve the siting and build plan.

    Parameters
    ----------
    inputs : gridcap.schema.StudyInputs
        Study inputs (regions, technologies, sites, finance, years).
    outcomes : xarray.Dataset
        Monte Carlo outcomes (docs/data-model.md §2).
    options : PlanOptions, optional
        Model options (CVaR, scenario selection, solver limits, penalties).

    Returns
    -------
    xarray.Dataset
        The plan (docs/data-model.md §3): builds, conversions, AI placement, contracted
        flexibility, capacity value [$/kW-yr], flexibility price, costs [$], settlement ledger;
        solver status, gap and timings in ``attrs``.

    Raises
    ------
    gridcap.errors.ModelInfeasibleError
        The model is infeasible or unbounded; the message names the constraint families
        (HiGHS IIS) and inputs involved.
    gridcap.errors.GridcapInputError
        Inputs or outcomes miss variables or hold invalid values.
    gridcap.errors.DecompositionUnavailableError
        ``options.decomposition = "ph"`` without mpi4py/mpi-sppy installed (install the
        ``mpi`` extra, or use ``decomposition = "extensive"``).

    Notes
    -----
    With ``options.decomposition = "ph"`` the plan comes from
    :func:`gridcap.optimizer.planning.decomposition.solve_ph` (all ranks of ``mpiexec`` take part;
    see that module for the bounds and how the binary conversions are treated).
    """
    if options is not None and options.decomposition == "ph":
        from gridcap.optimizer.planning.decomposition import solve_ph

        return solve_ph(inputs, outcomes, options)
    return PlanModel(inputs, outcomes, options).solve()
