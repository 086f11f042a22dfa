"""The finance room's parameter tables: stage options and the default finance terms.

One owner for every finance default (see :mod:`gridcap.params`):

- :class:`FinanceOptions` — how the finance stage runs (which project, which sizing, solver
  limits); the argument of :func:`gridcap.optimizer.finance`;
- :class:`ProjectTerms`, :class:`SeniorTerms`, :class:`MezzanineTerms` — the default finance
  terms (the study config's ``[finance]``, ``[finance.senior]`` and ``[finance.mezzanine]``
  tables are generated from them, and :func:`~gridcap.optimizer.financing.project.
  finance_terms` builds its Dataset from them).

The term values are the shipped quickstart study's assumptions (a 2026 US project-finance
setting: senior bank debt at 6.5 % sculpted to 1.35x, mezzanine at 11 % to 1.15x); they are
study inputs a user is expected to replace, not market data.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridcap.params import param

__all__ = ["DEBT", "FinanceOptions", "MezzanineTerms", "ProjectTerms", "SeniorTerms"]

DEBT = ("senior", "mezzanine")
_STUDY = "study assumption (quickstart); replace with the deal's term sheet"


@dataclass(frozen=True)
class FinanceOptions:
    """Options of the finance stage (:func:`gridcap.optimizer.finance`)."""

    project: str = param(
        "portfolio", "", "what is financed: 'portfolio', 'sites', 'pools' or one site/pool "
        "label", kind=str, config=False)
    sizing: str = param(
        "milp", "", "sizing that sets the tranches: PD-targeted chance MILP, its CVaR LP, or "
        "DSCR sculpting on the median CFADS", choices=("milp", "cvar", "dscr"), config=False)
    sizing_profile: str = param(
        "free", "", "debt-service shape of the PD-targeted sizing",
        choices=("free", "sculpted"), config=False)
    sizing_scenarios: int = param(
        1000, "1", "most scenarios in the sizing models (an evenly spaced subset beyond)",
        lo=1, config=False, source="modelling choice: sizing MILP stays small")
    time_limit_s: float = param(
        60.0, "s", "HiGHS time limit per sizing model", lo=0, lo_open=True, config=False,
        source="modelling choice")
    method: str = param(
        "auto", "", "waterfall implementation (auto: numba above 20,000 scenario-years)",
        choices=("auto", "xp", "numba", "python"), config=False)
    ledger_scenario: int | None = param(
        None, "1", "position of the scenario written to the distribution ledger (None: the "
        "median total CFADS)", kind=int, config=False)
    capex_usd: float | None = param(
        None, "$", "project capex overriding the plan/sites (None: from the plan)", lo=0,
        lo_open=True, config=False)


@dataclass(frozen=True)
class ProjectTerms:
    """Finance terms shared by all tranches (``[finance]``)."""

    discount_rate: float = param(0.08, "1/yr", "WACC for annualizing capital", lo=0, hi=1,
                                 hi_open=True, source=_STUDY)
    equity_irr_target: float = param(0.15, "1/yr", "equity hurdle rate", lo=0, hi=1,
                                     hi_open=True, source=_STUDY)
    dsra_months: float = param(6.0, "month", "debt-service reserve target", lo=0, hi=36,
                               source="market convention: 6 months of debt service")
    lockup_dscr: float = param(1.10, "1", "cash lock-up covenant DSCR", lo=0, hi=10,
                               lo_open=True, source=_STUDY)
    max_gearing: float = param(0.75, "1", "maximum debt / capex", lo=0, hi=1, lo_open=True,
                               source=_STUDY)
    exit_cap_rate: float = param(
        0.0, "1/yr", "equity terminal value at the end of the finance horizon = last-year "
        "CFADS / exit cap rate (0: none)", lo=0, hi=1, hi_open=True,
        source="study choice (0: no terminal value)")
    mezzanine_tranche: str = param(
        "on", "", "size a project mezzanine tranche ('on'), or none ('off': junior capital "
        "sits at the parent, as in most mine-conversion financings)", choices=("on", "off"))
    coupon_basis: str = param(
        "terms", "", "senior coupon: finance.senior.rate ('terms'), or priced from the weakest "
        "credit of the financed contracted sites: risk-free + ICE BofA OAS + the deals' "
        "premium ('credit', gridcap.optimizer.financing.pricing)", choices=("terms", "credit"))
    senior_tenor_basis: str = param(
        "fixed", "", "senior amortisation tenor: finance.senior.tenor_years for the whole "
        "project ('fixed'), or each contracted site's CFADS sized only to the end of its firm "
        "lease / contract term, with finance.senior.tenor_years as a cap ('lease': lenders "
        "size on contracted cash; renewals are the tenant's option)", choices=("fixed", "lease"),
        source="study choice; the deals table's notes amortise against 10-15-year leases")
    senior_maturity_years: int = param(
        0, "yr", "legal maturity of the senior notes; the balance left then is a balloon "
        "refinanced against the remaining contract (0: maturity = tenor, no balloon)", lo=0,
        hi=40, source="study choice (0: fully amortising within the tenor)")
    refinancing_spread: float = param(
        0.0, "1/yr", "refinancing rate at legal maturity = senior coupon + this spread (+ the "
        "drawn market shock)", lo=-0.5, hi=0.5,
        source="study choice (0: refinanced at the notes' coupon)")
    refinancing_rate_sd: float = param(
        0.0, "1/yr", "standard deviation of the market-rate shock at legal maturity, drawn "
        "per scenario (Philox stream 'refinancing')", lo=0, hi=0.5,
        source="study choice (0: no rate shock)")
    refinancing_fail_probability: float = param(
        0.0, "1", "probability that the refinancing market is closed at legal maturity "
        "(drawn per scenario); the balloon is then paid from cash and DSRA or defaults", lo=0,
        hi=1, source="study choice (0: the market is always open)")
    unit_size_usd: float = param(1000.0, "$", "token unit face value", lo=0, hi=1e12,
                                 lo_open=True, source=_STUDY)
    min_ticket_usd: float = param(1000.0, "$", "minimum investment", lo=0, hi=1e12,
                                  lo_open=True, source=_STUDY)
    settlement_lag_hours: float = param(
        0.05, "h", "distribution settlement lag (stablecoin ~minutes, T+2 = 48)", lo=0,
        hi=24 * 30, source="study assumption: on-chain settlement in ~3 minutes")
    default_grace_years: float = param(
        1.0, "yr", "consecutive periods of unpaid interest tolerated before default", lo=0,
        config=False, source="modelling choice")
    sweep_fraction: float = param(
        0.0, "1", "share of trapped cash swept on a covenant breach (0: pure lock-up)", lo=0,
        hi=1, config=False, source="modelling choice")
    risk_free_rate: float = param(
        0.04, "1/yr", "base rate of the par spread", lo=0, hi=1, hi_open=True, config=False,
        source="assumption: ~US Treasury yields 2024-2025")


@dataclass(frozen=True)
class SeniorTerms:
    """Senior tranche terms (``[finance.senior]``)."""

    rate: float = param(0.065, "1/yr", "interest rate", lo=0, hi=1, hi_open=True,
                        source=_STUDY)
    dscr_target: float = param(1.35, "1", "sculpting DSCR", lo=0, hi=10, lo_open=True,
                               source=_STUDY)
    tenor_years: int = param(5, "yr", "tenor, at most the finance horizon (with "
                             "senior_tenor_basis = 'lease': the longest tenor allowed, cut to "
                             "the horizon)", lo=1, hi=40, source=_STUDY)
    pd_target: float = param(0.001, "1", "target PD", lo=0, hi=1, lo_open=True, hi_open=True,
                             source=_STUDY)


@dataclass(frozen=True)
class MezzanineTerms:
    """Mezzanine tranche terms (``[finance.mezzanine]``)."""

    rate: float = param(0.11, "1/yr", "interest rate", lo=0, hi=1, hi_open=True,
                        source=_STUDY)
    dscr_target: float = param(1.15, "1", "sculpting DSCR", lo=0, hi=10, lo_open=True,
                               source=_STUDY)
    tenor_years: int = param(5, "yr", "tenor, at most the finance horizon", lo=1, hi=40,
                             source=_STUDY)
    pd_target: float = param(0.02, "1", "target PD", lo=0, hi=1, lo_open=True, hi_open=True,
                             source=_STUDY)
