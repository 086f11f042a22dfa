"""Contracted site revenue over the finance horizon: leases, take-or-pay GPU contracts, credit.

How converted mines really earn money (MODEL.md §4): most sign 10-15-year colocation leases
for critical-IT MW with AI clouds; a minority own the GPUs and sell capacity under take-or-pay
contracts. This module turns one site's contract terms into monthly cash flows from financial
close (the start of the first planning year) for ``finance_years`` years, per scenario, and
sums them per year:

* **construction**: rent commences ``commencement_months`` after close, plus a delay of
  ``delay_months`` with probability ``delay_probability`` (completion risk);
* **rent**: ``rent_usd_per_mw_yr / 12`` per MW-IT and month, escalated by ``escalator`` on
  each lease anniversary, with an optional linear ramp over ``ramp_years``;
* **term and renewal**: the base term runs ``term_years``; with probability
  ``renewal_probability`` the tenant renews for ``renewal_years`` at ``renewal_rent_factor``
  times the escalated rent; otherwise the hall is re-let after a void of ``void_months`` at
  ``1 - relet_haircut`` of the escalated rent, to the end of the horizon;
* **tenant credit**: the tenant defaults at an exponential time with the annual hazard of its
  rating (:data:`DEFAULT_RATE_1Y`, ``h = -ln(1 - p_1y)``); an optional guarantor then pays
  the scheduled base-term rent until ``backstop_usd`` is spent or the guarantor itself
  defaults (its own rating); after that the hall is dark for ``void_months`` and re-let at the
  haircut;
* **owner costs**: a share ``owner_opex_share`` of the scheduled rent (the lease form: triple
  net or modified gross with power passed through) from commencement on, let or dark;
  a ``gpu_contract`` owner also pays power and data-hall opex while its GPUs live
  (``gpu_life_years``; no refresh is bought, so revenue and costs end there).

Randomness: Philox4x32-10 stream ``"tenant"`` keyed by (seed, scenario, site), one counter
(t = 0) giving four uniforms: tenant default, guarantor default, construction delay, renewal.
Array code against ``xp`` (NumPy or CuPy): every backend gives the same numbers.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from gridcap.errors import GridcapInputError
from gridcap.kernels.rng import STREAMS, bits_to_uniform, philox_array
from gridcap.params import check_params, param

__all__ = [
    "DEFAULT_RATE_1Y",
    "LEASE_DEFAULTS",
    "LEASE_FORMS",
    "REVENUE_MODES",
    "ContractTerms",
    "SiteContracts",
    "contract_cashflows",
    "hazard_of_rating",
    "rating_category",
]

#: Revenue modes of a site, by name -> code.
REVENUE_MODES: dict[str, int] = {"merchant_gpu": 0, "colocation_lease": 1, "gpu_contract": 2}

#: Average one-year default rate by S&P rating category [1/yr]: the year-1 column of
#: S&P Global Ratings, "Default, Transition, and Recovery: 2024 Annual Global Corporate Default
#: And Rating Transition Study", 2025-03-27, Table 24 "Global corporate average cumulative
#: default rates, 1981-2024" (pages 55-56),
#: https://spglobal.com/ratings/en/research/articles/250327-default-transition-and-recovery-2024-annual-global-corporate-default-and-rating-transition-study-13452126
#: (full text without login: S&P's affiliate Maalot, https://maalot.co.il/Publications/FTS20250331162126.pdf).
#: These are **long-run averages over the 1981-2024 static pools** (issuer-weighted, global
#: corporates), not the default rate of any one year (2024's own speculative-grade rate was
#: higher). Values in percent: AAA 0.00, AA 0.02, A 0.05, BBB 0.14, BB 0.56, B 2.93,
#: CCC/C 26.12. They replace figures written from memory of the 2023 study (BBB 0.15, BB 0.60,
#: B 3.18, CCC/C 26.55) that no table confirmed. The 2024 table itself sits behind
#: registration; the seven values were read from two independent public transcriptions of
#: Table 24 that agree on every value (tests/test_kernels_contracts.py pins them).
#: ``NR`` (an unrated tenant such as an AI neocloud) is an assumption: treated as ``B``.
DEFAULT_RATE_1Y: dict[str, float] = {
    "AAA": 0.0000,
    "AA": 0.0002,
    "A": 0.0005,
    "BBB": 0.0014,
    "BB": 0.0056,
    "B": 0.0293,
    "CCC/C": 0.2612,
    "NR": 0.0293,
}

#: Owner's share of the scheduled rent spent on operating costs, by lease form [1].
#: ``modified_gross``: 0.15 — TeraWulf's Lake Mariner modified-gross leases with power passed
#: through project ~85% site NOI margin (Blockspace Media, 2025-08-14,
#: https://blockspace.media/insight/terawulf-signs-10-year-200-mw-hosting-deals-google-takes-8-stake);
#: ``triple_net``: 0.05 — assumption (tenant pays taxes, insurance, maintenance and power;
#: the owner keeps management and structure costs).
LEASE_FORMS: dict[str, float] = {"modified_gross": 0.15, "triple_net": 0.05}

#: Default contract terms of a converted site with no public deal, name -> (value, unit,
#: source). Rent, term and escalator are read from the shipped deals table
#: (``datasets/data/financings.csv``; ``tests/test_kernels_contracts.py`` checks they agree).
LEASE_DEFAULTS: dict[str, tuple[Any, str, str]] = {
    "mode": ("colocation_lease", "", "MODEL.md §4: most converted mines sign colocation leases"),
    "rent_usd_per_mw_yr": (1_850_000.0, "$/MW-IT-yr",
                           "median contract value / (MW-IT x term) of the deals table"),
    "term_years": (15.0, "yr", "median initial term of the deals table's leases"),
    "escalator": (0.03, "1/yr", "Hut 8 River Bend NNN lease, 3%/yr (deals table)"),
    "lease_form": ("modified_gross", "", "TeraWulf/Cipher leases (deals table)"),
    "tenant_rating": ("BB-", "", "CoreWeave, the most frequent tenant of the deals table "
                      "(Fitch first-time IDR BB-, 2025-05-19)"),
    "guarantor_rating": ("", "", "none unless a deal names one"),
    "backstop_usd": (0.0, "$", "none unless a deal names one"),
    "ramp_years": (0.0, "yr", "assumption: full rent at commencement"),
    "renewal_probability": (0.5, "1", "assumption (options are the tenant's; no public data)"),
    "renewal_years": (5.0, "yr", "two or three 5-year options in the deals table"),
    "renewal_rent_factor": (1.0, "1", "assumption: renewal continues the escalated rent"),
    "void_months": (12.0, "month", "assumption: time to re-let a dark AI hall"),
    "relet_haircut": (0.25, "1", "assumption: re-let rent below the original contract"),
    "delay_probability": (0.25, "1", "assumption; Fitch rated Cipher's notes BB- citing "
                          "elevated completion risk (Blockspace Media, 2025-11-06)"),
    "delay_months": (6.0, "month", "assumption"),
    "prepayment_share": (0.0, "1", "IREN-Microsoft: 20% (deals table) for gpu_contract"),
}


_DEFAULT = "unset: the site's public deal (deals table), else LEASE_DEFAULTS"


@dataclass(frozen=True)
class ContractTerms:
    """Contract terms of one site set by the study (``[contracts.<site_id>]`` in the TOML).

    Every field is optional: ``None`` keeps the site's public deal from the deals table, or
    :data:`LEASE_DEFAULTS` (the one owner of the default values and their sources) where the
    site has none. The fields mirror the keys of :data:`LEASE_DEFAULTS` (``revenue_mode`` is
    its ``mode``); ranges are the ones :class:`SiteContracts` enforces.
    """

    revenue_mode: str | None = param(None, "", "site revenue mode", source=_DEFAULT,
                                     choices=("colocation_lease", "gpu_contract",
                                              "merchant_gpu"), nullable=True, kind=str)
    rent_usd_per_mw_yr: float | None = param(None, "$/MW-IT-yr", "first-year rent (or "
                                             "take-or-pay price) per MW of critical IT",
                                             source=_DEFAULT, lo=0, nullable=True)
    term_years: float | None = param(None, "yr", "initial contract term", source=_DEFAULT,
                                     lo=0, lo_open=True, hi=50, nullable=True)
    escalator: float | None = param(None, "1/yr", "annual rent escalator", source=_DEFAULT,
                                    lo=0, hi=1, hi_open=True, nullable=True)
    lease_form: str | None = param(None, "", "lease form (owner opex share of LEASE_FORMS)",
                                   source=_DEFAULT, choices=("modified_gross", "triple_net"),
                                   nullable=True, kind=str)
    tenant_rating: str | None = param(None, "", "tenant S&P-scale rating (NR = unrated)",
                                      source=_DEFAULT, nullable=True, kind=str)
    guarantor_rating: str | None = param(None, "", "guarantor S&P-scale rating (\"\" = none)",
                                         source=_DEFAULT, nullable=True, kind=str)
    backstop_usd: float | None = param(None, "$", "guarantor backstop of the lease "
                                       "obligations", source=_DEFAULT, lo=0, nullable=True)
    ramp_years: float | None = param(None, "yr", "rent ramp after commencement",
                                     source=_DEFAULT, lo=0, nullable=True)
    renewal_probability: float | None = param(None, "1", "probability the tenant renews",
                                              source=_DEFAULT, lo=0, hi=1, nullable=True)
    renewal_years: float | None = param(None, "yr", "renewal term", source=_DEFAULT, lo=0,
                                        nullable=True)
    renewal_rent_factor: float | None = param(None, "1", "renewal rent / escalated rent",
                                              source=_DEFAULT, lo=0, nullable=True)
    void_months: float | None = param(None, "month", "void after a tenant default",
                                      source=_DEFAULT, lo=0, nullable=True)
    relet_haircut: float | None = param(None, "1", "re-let rent discount", source=_DEFAULT,
                                        lo=0, hi=1, nullable=True)
    delay_probability: float | None = param(None, "1", "probability of construction delay",
                                            source=_DEFAULT, lo=0, hi=1, nullable=True)
    delay_months: float | None = param(None, "month", "construction delay when drawn",
                                       source=_DEFAULT, lo=0, nullable=True)
    prepayment_share: float | None = param(None, "1", "customer prepayment share of capex "
                                           "(gpu_contract)", source=_DEFAULT, lo=0, hi=1,
                                           hi_open=True, nullable=True)

    def problems(self, prefix: str) -> list[str]:
        """Range errors and unknown ratings, each naming ``prefix.key``, value and range."""
        out = check_params(self, prefix)
        for name in ("tenant_rating", "guarantor_rating"):
            v = getattr(self, name)
            if v is None or (name == "guarantor_rating" and not v.strip()):
                continue
            try:
                rating_category(v)
            except GridcapInputError:
                out.append(f"{prefix}.{name} = {v!r}: expected an S&P-scale rating in "
                           f"{sorted(DEFAULT_RATE_1Y)} (modifiers + and - allowed; NR = unrated)")
        return out

    def site_variables(self) -> dict[str, Any]:
        """The set terms as site-variable names of :func:`site_contracts` (None left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def rating_category(rating: str) -> str:
    """S&P rating category of a rating with modifiers (``"BB-"`` -> ``"BB"``).

    Raises
    ------
    GridcapInputError
        Unknown rating, listing the valid categories.
    """
    r = str(rating).strip().upper()
    if r in ("CCC", "CC", "C", "CCC+", "CCC-", "CCC/C"):
        return "CCC/C"
    base = r.rstrip("+-")
    if base not in DEFAULT_RATE_1Y:
        raise GridcapInputError(
            f"rating = {rating!r}: expected an S&P-scale rating in {sorted(DEFAULT_RATE_1Y)} "
            "(modifiers + and - allowed; NR = unrated)")
    return base


def hazard_of_rating(rating: str) -> float:
    """Annual default hazard of a rating [1/yr]: ``-ln(1 - p_1y)`` of :data:`DEFAULT_RATE_1Y`.

    Parameters
    ----------
    rating : str
        S&P-scale rating (``"AA+"``, ``"BB-"``, ``"NR"``); ``""`` means no party (0).

    Returns
    -------
    float
        Hazard rate [1/yr].
    """
    if not str(rating).strip():
        return 0.0
    return -math.log1p(-DEFAULT_RATE_1Y[rating_category(rating)])


@dataclass
class SiteContracts:
    """Contract terms of K sites as arrays (see the module docstring), validated on creation.

    Attributes are numpy arrays of shape (K,): ``mode`` (int, :data:`REVENUE_MODES`),
    ``contracted_mw`` [MW-IT], ``rent_usd_per_mw_yr`` [$/MW-IT-yr], ``term_years`` [yr],
    ``escalator`` [1/yr], ``owner_opex_share`` [1], ``commencement_months`` [month],
    ``ramp_years`` [yr], ``renewal_probability`` [1], ``renewal_years`` [yr],
    ``renewal_rent_factor`` [1], ``void_months`` [month], ``relet_haircut`` [1],
    ``delay_probability`` [1], ``delay_months`` [month], ``tenant_hazard`` [1/yr],
    ``guarantor_hazard`` [1/yr], ``backstop_usd`` [$], ``prepayment_share`` [1],
    ``gpu_cost_usd_per_mw_yr`` [$/MW-IT-yr] (power + opex of an owner of GPUs),
    ``gpu_life_years`` [yr]; ``site`` labels for messages.
    """

    site: list[str]
    mode: np.ndarray
    contracted_mw: np.ndarray
    rent_usd_per_mw_yr: np.ndarray
    term_years: np.ndarray
    escalator: np.ndarray
    owner_opex_share: np.ndarray
    commencement_months: np.ndarray
    ramp_years: np.ndarray
    renewal_probability: np.ndarray
    renewal_years: np.ndarray
    renewal_rent_factor: np.ndarray
    void_months: np.ndarray
    relet_haircut: np.ndarray
    delay_probability: np.ndarray
    delay_months: np.ndarray
    tenant_hazard: np.ndarray
    guarantor_hazard: np.ndarray
    backstop_usd: np.ndarray
    prepayment_share: np.ndarray
    gpu_cost_usd_per_mw_yr: np.ndarray
    gpu_life_years: np.ndarray

    _RANGES: ClassVar[dict[str, tuple[float, float, bool, bool, str]]] = {
        # name -> (lo, hi, lo_open, hi_open, unit)
        "contracted_mw": (0.0, math.inf, False, True, "MW-IT"),
        "rent_usd_per_mw_yr": (0.0, math.inf, False, True, "$/MW-IT-yr"),
        "term_years": (0.0, 100.0, True, False, "yr"),
        "escalator": (-0.5, 1.0, False, True, "1/yr"),
        "owner_opex_share": (0.0, 1.0, False, False, "1"),
        "commencement_months": (0.0, 240.0, False, False, "month"),
        "ramp_years": (0.0, 10.0, False, False, "yr"),
        "renewal_probability": (0.0, 1.0, False, False, "1"),
        "renewal_years": (0.0, 50.0, False, False, "yr"),
        "renewal_rent_factor": (0.0, 10.0, False, False, "1"),
        "void_months": (0.0, 120.0, False, False, "month"),
        "relet_haircut": (0.0, 1.0, False, False, "1"),
        "delay_probability": (0.0, 1.0, False, False, "1"),
        "delay_months": (0.0, 120.0, False, False, "month"),
        "tenant_hazard": (0.0, math.inf, False, True, "1/yr"),
        "guarantor_hazard": (0.0, math.inf, False, True, "1/yr"),
        "backstop_usd": (0.0, math.inf, False, True, "$"),
        "prepayment_share": (0.0, 1.0, False, True, "1"),
        "gpu_cost_usd_per_mw_yr": (0.0, math.inf, False, True, "$/MW-IT-yr"),
        "gpu_life_years": (0.0, 50.0, True, False, "yr"),
    }

    def __post_init__(self) -> None:
        k = len(self.site)
        problems: list[str] = []
        for name, (lo, hi, lo_open, hi_open, unit) in self._RANGES.items():
            v = np.asarray(getattr(self, name), dtype=float).reshape(-1)
            if v.size == 1 and k != 1:
                v = np.full(k, float(v[0]))
            if v.size != k:
                problems.append(f"contract.{name}: {v.size} values for {k} sites")
                continue
            bad = ~np.isfinite(v) | (v <= lo if lo_open else v < lo) | (
                v >= hi if hi_open else v > hi)
            for i in np.flatnonzero(bad)[:3]:
                lb = f"({lo:g}" if lo_open else f"[{lo:g}"
                ub = f"{hi:g})" if hi_open else f"{hi:g}]"
                problems.append(f"sites[{self.site[i]}].{name} = {v[i]:g}: expected a value "
                                f"in {lb}, {ub} [{unit}]")
            setattr(self, name, v)
        self.mode = np.asarray(self.mode, dtype=np.int64).reshape(-1)
        if self.mode.size != k or not np.isin(self.mode, list(REVENUE_MODES.values())).all():
            problems.append(f"contract.mode = {self.mode.tolist()}: expected codes of "
                            f"{REVENUE_MODES}")
        if not problems:
            obligations = self.rent_usd_per_mw_yr * self.contracted_mw * self.term_years * (
                1.0 + np.maximum(self.escalator, 0.0)) ** np.maximum(self.term_years - 1, 0)
            for i in np.flatnonzero(self.backstop_usd > obligations * (1 + 1e-9))[:3]:
                problems.append(
                    f"sites[{self.site[i]}].backstop_usd = {self.backstop_usd[i]:.4g}: exceeds "
                    f"the base-term lease obligations {obligations[i]:.4g} $: expected a "
                    f"backstop in [0, {obligations[i]:.4g}] $")
            gpu = self.mode == REVENUE_MODES["gpu_contract"]
            for i in np.flatnonzero(gpu & (self.term_years > self.gpu_life_years))[:3]:
                problems.append(
                    f"sites[{self.site[i]}].term_years = {self.term_years[i]:g}: a gpu_contract "
                    f"cannot outlast its GPUs: expected <= gpu_life_years = "
                    f"{self.gpu_life_years[i]:g} yr")
        if problems:
            raise GridcapInputError("site contracts: " + "; ".join(problems))

    def horizon_years(self) -> int:
        """Finance horizon covering every contract's term and renewal [yr]."""
        end = (self.commencement_months + self.delay_months) / 12.0 + self.term_years + (
            self.renewal_years * (self.renewal_probability > 0))
        return math.ceil(float(end.max())) if end.size else 1

    def check_horizon(self, finance_years: int) -> None:
        """Reject a base term that ends beyond the finance horizon (naming the site)."""
        end = self.commencement_months / 12.0 + self.term_years
        bad = np.flatnonzero((self.mode > 0) & (end > finance_years + 1e-9))
        if bad.size:
            i = int(bad[0])
            raise GridcapInputError(
                f"sites[{self.site[i]}].term_years = {self.term_years[i]:g}: commencement "
                f"({self.commencement_months[i]:g} months) + term ends beyond the finance "
                f"horizon finance_years = {finance_years}: expected a term <= "
                f"{finance_years - self.commencement_months[i] / 12.0:g} yr or a longer "
                "finance horizon")


def _draws(xp: Any, seed: int, scenarios: Any, n_k: int) -> tuple[Any, Any, Any, Any]:
    """Four uniforms per (scenario, site) from stream ``tenant``: -ln u twice, u twice."""
    from gridcap.kernels.targets import get_ops

    ops = get_ops(xp.__name__)
    scen = xp.asarray(scenarios, dtype=xp.uint64)[:, None]
    w = philox_array(xp, xp.uint64(0), xp.arange(n_k, dtype=xp.uint64)[None, :], scen,
                     STREAMS["tenant"], seed)
    return -ops.ln_u32(w[0]), -ops.ln_u32(w[1]), bits_to_uniform(w[2]), bits_to_uniform(w[3])


def contract_cashflows(xp: Any, c: SiteContracts, *, seed: int, scenarios: Any,
                       finance_years: int) -> dict[str, Any]:
    """Annual contracted cash flows of each site over the finance horizon, per scenario.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    c : SiteContracts
        Terms of K sites.
    seed : int
        Seed [1].
    scenarios : array of int (S,)
        Global scenario indices [1].
    finance_years : int
        Horizon H from financial close [yr].

    Returns
    -------
    dict
        (S, K, H) arrays ``cfads`` [$] (rent received - owner costs), ``revenue`` [$] (rent
        from tenant, guarantor and re-let tenant), ``guarantor_paid`` [$]; (S, K) arrays
        ``tenant_default_month`` [month from close; -1: none within the horizon],
        ``commencement_month`` [month], ``renewed`` [0/1]; (K,) ``prepayment_usd`` [$]
        (received at close by a ``gpu_contract``). Merchant sites (mode 0) are all zero here.

    Notes
    -----
    Lease month :math:`j = m - c` (month since commencement); scheduled rent
    :math:`r_j = G R/12\\,(1+g)^{\\lfloor j/12 \\rfloor}\\,\\min(1, (j+1)/(12 R_y))` for
    :math:`0 \\le j < 12T` (:math:`G` MW, :math:`R` rent, :math:`g` escalator, :math:`R_y`
    ramp years). Tenant default month :math:`D = \\lfloor 12 E_1/h_t \\rfloor`, guarantor
    default :math:`\\lfloor 12 E_2/h_g \\rfloor` with :math:`E_i` unit exponentials.
    """
    H = _check_positive_int(finance_years, "finance_years")
    scen = xp.asarray(scenarios)
    n_s = int(scen.shape[0])
    n_k = len(c.site)
    M = 12 * H
    e_t, e_g, u_delay, u_renew = _draws(xp, seed, scen, n_k)

    def k_(a: np.ndarray) -> Any:
        return xp.asarray(np.asarray(a, dtype=float))[None, :, None]

    m = xp.arange(M, dtype=xp.float64)[None, None, :]
    delay = xp.where(u_delay < xp.asarray(c.delay_probability)[None, :],
                     xp.asarray(c.delay_months)[None, :], 0.0)
    comm = xp.floor(xp.asarray(c.commencement_months)[None, :] + delay)  # (S, K)
    j = m - comm[:, :, None]
    live = j >= 0
    jj = xp.maximum(j, 0.0)
    base = k_(c.contracted_mw * c.rent_usd_per_mw_yr / 12.0) * (
        1.0 + k_(c.escalator)) ** xp.floor(jj / 12.0)
    ramp_m = k_(12.0 * c.ramp_years)
    occ = xp.where(ramp_m > 0, xp.minimum(1.0, (jj + 1.0) / xp.maximum(ramp_m, 1.0)), 1.0)
    term_m = k_(12.0 * c.term_years)
    ren_m = k_(12.0 * c.renewal_years)
    renewed = (u_renew < xp.asarray(c.renewal_probability)[None, :])  # (S, K)
    in_base = live & (j < term_m)
    in_ren = live & (j >= term_m) & (j < term_m + ren_m) & renewed[:, :, None]
    sched = base * occ * (in_base + in_ren * k_(c.renewal_rent_factor))
    # tenant obligations end (lease month): base term, or base + renewal when renewed
    oblig_end = term_m + ren_m * renewed[:, :, None]
    # default months (from close); inf when the hazard is zero
    h_t = xp.asarray(c.tenant_hazard)[None, :]
    h_g = xp.asarray(c.guarantor_hazard)[None, :]
    d_t = xp.where(h_t > 0, xp.floor(12.0 * e_t / xp.where(h_t > 0, h_t, 1.0)), xp.inf)
    d_g = xp.where(h_g > 0, xp.floor(12.0 * e_g / xp.where(h_g > 0, h_g, 1.0)), xp.inf)
    defaulted = d_t < comm + oblig_end[:, :, 0]  # default before the obligations end
    after = m >= d_t[:, :, None]
    tenant_paid = sched * ~after
    # guarantor: scheduled base-term rent from the default month, capped, until it defaults
    cover = sched * (after & in_base & (m < d_g[:, :, None]))
    cum = xp.cumsum(cover, axis=2)
    paid_g = xp.clip(k_(c.backstop_usd) - (cum - cover), 0.0, cover)
    short = after & ((paid_g < sched - 1e-9) | ~in_base)
    # month the hall goes dark: first month after default not fully paid (or obligations end)
    first_short = xp.where(short, m, xp.inf).min(axis=2)  # (S, K)
    dark_from = xp.where(defaulted, first_short, comm + oblig_end[:, :, 0])
    relet_from = dark_from + k_(c.void_months)[:, :, 0]
    relet = live & (m >= relet_from[:, :, None]) & (
        (m >= (comm + oblig_end[:, :, 0])[:, :, None]) | defaulted[:, :, None])
    relet_rent = base * occ * relet * (1.0 - k_(c.relet_haircut))
    # a defaulted tenant pays nothing after D, the guarantor pays until short; re-let after
    revenue_m = tenant_paid + paid_g + relet_rent
    gpu = k_(c.mode == REVENUE_MODES["gpu_contract"])
    life_m = k_(12.0 * c.gpu_life_years)
    gpu_alive = live & (j < life_m)
    revenue_m = xp.where(gpu > 0, revenue_m * gpu_alive * (1.0 - k_(c.prepayment_share)),
                         revenue_m)
    lease_cost = k_(c.owner_opex_share) * base * occ * live
    gpu_cost = k_(c.contracted_mw * c.gpu_cost_usd_per_mw_yr / 12.0) * gpu_alive
    cost_m = xp.where(gpu > 0, gpu_cost, lease_cost)
    active = k_(c.mode > 0)
    cf_m = (revenue_m - cost_m) * active

    def annual(x: Any) -> Any:
        return x.reshape(n_s, n_k, H, 12).sum(axis=3)

    prepay = c.prepayment_share * c.rent_usd_per_mw_yr * c.contracted_mw * c.term_years * (
        c.mode == REVENUE_MODES["gpu_contract"])
    return {
        "cfads": annual(cf_m),
        "revenue": annual(revenue_m * active),
        "guarantor_paid": annual(paid_g * active),
        "tenant_default_month": xp.where(defaulted & (d_t < M) & (active[:, :, 0] > 0),
                                         d_t, -1.0),
        "commencement_month": comm,
        "renewed": renewed.astype(xp.float64),
        "prepayment_usd": prepay,
    }


def _check_positive_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 1 or int(v) > 100:
        raise GridcapInputError(f"{name} = {v!r}: expected an integer in [1, 100] [yr]")
    return int(v)
