"""Financing stage: size the capital stack of a plan, run the waterfall, price the tranches.

:func:`finance` chains the building blocks, each importable on its own:

* :func:`~gridcap.optimizer.financing.sizing.size_debt` /
  :func:`~gridcap.optimizer.financing.sizing.size_stack` (DSCR sculpting) and
  :func:`~gridcap.optimizer.financing.sizing.size_to_risk` (PD-targeted sizing, Pyomo + HiGHS,
  MILP and CVaR LP);
* :func:`~gridcap.optimizer.financing.waterfall.run_waterfall` (every scenario, integer cents);
* :func:`~gridcap.optimizer.financing.tranche_risk.tranche_metrics` (PD, EL, LGD, WAL,
  duration, IRR, par spread, rating bucket);
* :mod:`~gridcap.optimizer.financing.tokens` (units, per-unit distributions, settlement-lag
  drag, the JSON rule set and the replayable ledger).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError
from gridcap.optimizer.financing import tokens as tok
from gridcap.optimizer.financing.options import (
    DEBT,
    FinanceOptions,
    MezzanineTerms,
    ProjectTerms,
    SeniorTerms,
)
from gridcap.optimizer.financing.sizing import (
    TENOR_BASES,
    DebtSchedule,
    check_positive,
    check_probability,
    check_rate,
    check_tenor,
    firm_term_weights,
    size_debt,
    size_stack,
    size_to_risk,
)
from gridcap.optimizer.financing.tranche_risk import IDEALIZED_PD_1Y, IRR_QUANTILES, tranche_metrics
from gridcap.optimizer.financing.waterfall import (
    refinancing_inputs,
    run_waterfall,
    structure_from_schedules,
    to_cents,
)
from gridcap.params import param_table

if TYPE_CHECKING:
    from gridcap.schema import StudyInputs

__all__ = [
    "DebtSchedule",
    "FinanceTerms",
    "finance",
    "finance_project",
    "finance_terms",
    "project_cfads",
    "size_debt",
    "write_finance_files",
]

TRANCHES = ("senior", "mezzanine", "equity")
_TERMS = ProjectTerms()
#: Optional finance terms (a terms Dataset may leave them out) and their defaults (owner:
#: :class:`~gridcap.optimizer.financing.options.ProjectTerms`).
OPTIONAL_TERMS: dict[str, float] = {
    name: float(getattr(_TERMS, name))
    for name in ("default_grace_years", "sweep_fraction", "risk_free_rate", "senior_maturity_years",
                 "exit_cap_rate", "refinancing_spread", "refinancing_rate_sd",
                 "refinancing_fail_probability")
}
_OPTIONS = FinanceOptions()


class FinanceTerms:
    """Validated finance terms (plain floats), read from the terms Dataset.

    Raises :class:`~gridcap.errors.GridcapInputError` naming the term, the value and the
    expected range (negative rate, DSCR <= 0, tenor beyond the horizon, PD targets outside
    (0, 1), ...).
    """

    def __init__(self, terms: xr.Dataset, horizon: int):
        if not isinstance(terms, xr.Dataset):
            raise GridcapInputError(
                f"terms: got {type(terms).__name__}: expected the finance "
                "terms xarray.Dataset (docs/data-model.md §1)"
            )
        if "tranche" not in terms.dims:
            raise GridcapInputError(
                "terms: no 'tranche' dimension: expected tranche = ['senior', 'mezzanine']"
            )
        labels = [str(v) for v in terms["tranche"].values]
        for t in DEBT:
            if t not in labels:
                raise GridcapInputError(f"terms.tranche = {labels}: expected {list(DEBT)}")
        self._terms = terms
        self._read_tranches(terms, horizon)
        self._read_project()
        self._read_covenants()
        self._read_structure(terms)

    def _per(self, name: str) -> list[float]:
        """A per-tranche term (senior, mezzanine)."""
        if name not in self._terms:
            raise GridcapInputError(f"terms.{name}: missing (docs/data-model.md §1)")
        return [float(self._terms[name].sel(tranche=t)) for t in DEBT]

    def _scalar(self, name: str, default: float | None = None) -> float:
        """A scalar term; ``default`` for an optional one (None: required)."""
        if name not in self._terms:
            if default is None:
                raise GridcapInputError(f"terms.{name}: missing (docs/data-model.md §1)")
            return default
        return float(self._terms[name])

    def _read_tranches(self, terms: xr.Dataset, horizon: int) -> None:
        """Rates, DSCR targets, tenors (fixed or tied to the lease) and PD targets."""
        per = self._per
        self.rate = [
            check_rate(v, f"finance.{t}.rate") for v, t in zip(per("rate"), DEBT, strict=True)
        ]
        self.dscr = [
            check_positive(v, f"finance.{t}.dscr_target")
            for v, t in zip(per("dscr_target"), DEBT, strict=True)
        ]
        basis = (str(terms["senior_tenor_basis"].values) if "senior_tenor_basis" in terms
                 else "fixed")
        if basis not in TENOR_BASES:
            raise GridcapInputError(
                f"finance.senior_tenor_basis = {basis!r}: expected 'fixed' (senior.tenor_years "
                "for the project) or 'lease' (each site sized to the end of its firm lease, "
                "senior.tenor_years a cap)"
            )
        self.tenor_basis = basis
        tenors = per("tenor_years")
        if basis == "lease":  # a cap: cut to the finance horizon
            check_tenor(tenors[0], 40, "finance.senior.tenor_years")
            tenors[0] = min(tenors[0], float(horizon))
        self.tenor = [
            check_tenor(v, horizon, f"finance.{t}.tenor_years")
            for v, t in zip(tenors, DEBT, strict=True)
        ]
        self.pd_target = [
            check_probability(v, f"finance.{t}.pd_target")
            for v, t in zip(per("pd_target"), DEBT, strict=True)
        ]

    def _read_project(self) -> None:
        """Discount and hurdle rates, reserve, covenant, gearing and token terms."""
        scalar = self._scalar
        self.discount_rate = check_rate(scalar("discount_rate"), "finance.discount_rate")
        self.equity_irr_target = check_rate(
            scalar("equity_irr_target"), "finance.equity_irr_target"
        )
        self.dsra_months = scalar("dsra_months")
        if not 0 <= self.dsra_months <= 36:
            raise GridcapInputError(
                f"finance.dsra_months = {self.dsra_months}: expected a value in [0, 36] months"
            )
        self.lockup_dscr = scalar("lockup_dscr")
        if not 0 < self.lockup_dscr <= 10:
            raise GridcapInputError(
                f"finance.lockup_dscr = {self.lockup_dscr}: expected a value in (0, 10]"
            )
        self.max_gearing = scalar("max_gearing")
        if not 0 < self.max_gearing <= 1:
            raise GridcapInputError(
                f"finance.max_gearing = {self.max_gearing}: expected a value in (0, 1]"
            )
        self.unit_size_usd = check_positive(scalar("unit_size_usd"), "finance.unit_size_usd")
        self.min_ticket_usd = check_positive(scalar("min_ticket_usd"), "finance.min_ticket_usd")
        if self.min_ticket_usd < self.unit_size_usd:
            raise GridcapInputError(
                f"finance.min_ticket_usd = {self.min_ticket_usd:g}: expected at least "
                f"finance.unit_size_usd = {self.unit_size_usd:g}"
            )
        self.settlement_lag_hours = scalar("settlement_lag_hours")
        if not 0 <= self.settlement_lag_hours <= 24 * 30:
            raise GridcapInputError(
                f"finance.settlement_lag_hours = "
                f"{self.settlement_lag_hours}: expected a value in [0, 720]"
            )

    def _read_covenants(self) -> None:
        """Optional default grace, sweep, risk-free rate and the senior legal maturity."""
        scalar = self._scalar
        grace = scalar("default_grace_years", OPTIONAL_TERMS["default_grace_years"])
        if grace < 0 or grace != round(grace):
            raise GridcapInputError(
                f"finance.default_grace_years = {grace}: expected an integer >= 0"
            )
        self.grace_years = int(grace)
        self.sweep_fraction = scalar("sweep_fraction", OPTIONAL_TERMS["sweep_fraction"])
        if not 0 <= self.sweep_fraction <= 1:
            raise GridcapInputError(
                f"finance.sweep_fraction = {self.sweep_fraction}: expected a value in [0, 1]"
            )
        self.risk_free_rate = check_rate(
            scalar("risk_free_rate", OPTIONAL_TERMS["risk_free_rate"]), "finance.risk_free_rate"
        )
        mat = scalar("senior_maturity_years", OPTIONAL_TERMS["senior_maturity_years"])
        if mat < 0 or mat != round(mat) or mat > self.tenor[0]:
            raise GridcapInputError(
                f"finance.senior_maturity_years = {mat}: expected an integer in "
                f"[0, finance.senior.tenor_years = {self.tenor[0]}] (0: no balloon)"
            )
        self.senior_maturity_years = int(mat)

    def _read_structure(self, terms: xr.Dataset) -> None:
        """Coupon basis, mezzanine on/off, exit cap rate and the refinancing market."""
        scalar = self._scalar
        basis = str(terms["coupon_basis"].values) if "coupon_basis" in terms else "terms"
        if basis not in ("terms", "credit"):
            raise GridcapInputError(
                f"finance.coupon_basis = {basis!r}: expected 'terms' (finance.senior.rate) or "
                "'credit' (priced from the financed sites' credit)"
            )
        self.coupon_basis = basis
        mezz = (str(terms["mezzanine_tranche"].values) if "mezzanine_tranche" in terms
                else "on")
        if mezz not in ("on", "off"):
            raise GridcapInputError(
                f"finance.mezzanine_tranche = {mezz!r}: expected 'on' (size a project mezzanine "
                "tranche) or 'off' (the structure has none)"
            )
        self.mezzanine = mezz == "on"
        cap = scalar("exit_cap_rate", OPTIONAL_TERMS["exit_cap_rate"])
        if not 0 <= cap < 1:
            raise GridcapInputError(
                f"finance.exit_cap_rate = {cap}: expected a value in [0, 1) [1/yr] "
                "(0: no terminal value)"
            )
        self.exit_cap_rate = cap
        refi = {}
        for name, lo, hi in (("refinancing_spread", -0.5, 0.5), ("refinancing_rate_sd", 0.0, 0.5),
                             ("refinancing_fail_probability", 0.0, 1.0)):
            refi[name] = scalar(name, OPTIONAL_TERMS[name])
            if not lo <= refi[name] <= hi:
                raise GridcapInputError(
                    f"finance.{name} = {refi[name]}: expected a value in [{lo}, {hi}]"
                )
        self.refinancing_spread = refi["refinancing_spread"]
        self.refinancing_rate_sd = refi["refinancing_rate_sd"]
        self.refinancing_fail_probability = refi["refinancing_fail_probability"]


def finance_terms(**overrides: Any) -> xr.Dataset:
    """A finance terms Dataset with the default terms, for notebooks.

    The defaults are those of :class:`~gridcap.optimizer.financing.options.ProjectTerms`,
    :class:`~gridcap.optimizer.financing.options.SeniorTerms` and
    :class:`~gridcap.optimizer.financing.options.MezzanineTerms` (the study config's defaults
    too); the optional terms (``default_grace_years``, ...) are left out unless given.

    Parameters
    ----------
    **overrides
        Scalars by name, or per-tranche values as ``(senior, mezzanine)`` tuples.

    Returns
    -------
    xarray.Dataset
        Terms per docs/data-model.md §1.
    """
    senior = {p.name: p for p in param_table(SeniorTerms)}
    mezz = {p.name: p for p in param_table(MezzanineTerms)}
    data: dict[str, Any] = {}
    for k, p in senior.items():
        value = overrides.pop(k, (p.default, mezz[k].default))
        data[k] = ("tranche", np.asarray(value), {"units": p.unit})
    for p in param_table(ProjectTerms, config_only=True):
        data[p.name] = ((), overrides.pop(p.name, p.default), {"units": p.unit})
    for k, v in overrides.items():
        data[k] = (("tranche",), np.asarray(v)) if isinstance(v, tuple) else ((), v)
    return xr.Dataset(data, coords={"tranche": list(DEBT)})


def _capex_by_site(plan: xr.Dataset, sites: xr.Dataset | None) -> tuple[np.ndarray | None, str]:
    """Conversion capex per site [$] and where it came from."""
    if "capex_usd" in plan:
        return np.asarray(plan["capex_usd"].values, dtype=float), "plan.capex_usd"
    if sites is not None and "conversion_capex_usd_per_kw" in sites:
        from gridcap.kernels.sites import DESIGN_PUE

        s = sites.sel(site=plan["site"].values) if "site" in sites.dims else sites
        it_kw = np.asarray(s["interconnection_mw"].values, dtype=float) * 1000.0 / DESIGN_PUE
        per_kw = np.asarray(s["conversion_capex_usd_per_kw"].values, dtype=float)
        return per_kw * it_kw, (
            "sites.conversion_capex_usd_per_kw x interconnection_mw / "
            f"DESIGN_PUE ({DESIGN_PUE}) x 1000 kW/MW"
        )
    return None, "none (no gearing cap, equity size unknown)"


def project_cfads(
    plan: xr.Dataset,
    outcomes: xr.Dataset,
    project: str = "portfolio",
    *,
    sites: xr.Dataset | None = None,
) -> tuple[xr.DataArray, float | None, dict]:
    """CFADS[scenario, year] and capex of the financed project.

    Parameters
    ----------
    plan : xarray.Dataset
        Plan (docs/data-model.md §3). Reads ``converted`` (site) [0/1], optionally
        ``conversion_year`` (site) [year], ``capex_usd`` (site) [$] and
        ``flex_contracted_kw`` (pool, year) [kW].
    outcomes : xarray.Dataset
        Monte Carlo outcomes: ``site_cfads_usd``, optionally ``site_mining_cfads_usd``,
        ``pool_cfads_usd`` and ``flex_committed_kw`` [$, kW].
    project : str
        ``"portfolio"`` (converted sites + pools), ``"sites"``, ``"pools"``, or one site or
        pool label.
    sites : xarray.Dataset, optional
        Site inputs, for capex when the plan has no ``capex_usd``.

    Returns
    -------
    (cfads, capex, info)
        CFADS [$] with dims (scenario, year); capex [$] or None; how it was built.

    Notes
    -----
    ``site_cfads_usd`` assumes the conversion starts in the first planning year; a site
    converted in year ``y0 + k`` earns its mining CFADS for k years, then the converted
    CFADS shifted k years later (truncated at the horizon). Pool CFADS is scaled by
    ``flex_contracted_kw / flex_committed_kw`` per year when both are present.
    """
    for v in ("site_cfads_usd",):
        if v not in outcomes:
            raise GridcapInputError(f"outcomes.{v}: missing (docs/data-model.md §2)")
    if "converted" not in plan:
        raise GridcapInputError("plan.converted: missing (docs/data-model.md §3)")
    site_cf = outcomes["site_cfads_usd"].transpose("scenario", "site", "year")
    years = np.asarray(outcomes["year"].values)
    conv = (
        np.asarray(
            plan["converted"].reindex(site=site_cf["site"].values, fill_value=0).values, dtype=float
        )
        > 0.5
    )
    T = site_cf.shape[2]
    cf_sites = np.asarray(site_cf.values, dtype=float).copy()
    info: dict[str, Any] = {"project": project}
    if "conversion_year" in plan:
        _shift_conversions(plan, outcomes, site_cf, cf_sites, conv, years)
    cf_pools = _pool_cfads(outcomes, plan)
    firm_end = None
    if "site_contract_cfads_usd" in outcomes and "finance_year" in outcomes.dims:
        cf_sites, years, cf_pools, capex_fin, firm_end = _finance_horizon(
            outcomes, cf_sites, cf_pools, conv, plan, years)
        T = len(years)
    else:
        capex_fin = None
    capex_site, capex_src = _capex_by_site(plan, sites)
    if capex_fin is not None:
        capex_site, capex_src = capex_fin
    site_ids = [str(s) for s in site_cf["site"].values]
    pool_ids = [str(p) for p in outcomes["pool"].values] if cf_pools is not None else []
    total, capex = _project_total(project, cf_sites, cf_pools, conv, capex_site, site_ids,
                                  pool_ids)
    if firm_end is not None:
        # what lenders size on: each contracted site's CFADS to the end of its firm term
        w = firm_term_weights(firm_end, T)
        info["contracted_cfads_usd"], _ = _project_total(
            project, cf_sites * w[None], cf_pools, conv, capex_site, site_ids, pool_ids)
        info["firm_end_years"] = dict(zip(site_ids, firm_end.tolist(), strict=True))
    info.update(
        converted_sites=[s for s, c in zip(site_ids, conv, strict=True) if c],
        capex_source=capex_src,
    )
    da = xr.DataArray(
        total,
        dims=("scenario", "year"),
        coords={"scenario": outcomes["scenario"].values, "year": years},
        attrs={"units": "$", "long_name": f"CFADS of the financed {project}"},
    )
    return da, capex, info


def _pool_cfads(outcomes: xr.Dataset, plan: xr.Dataset) -> np.ndarray | None:
    """DER pool CFADS (scenario, pool, year) [$], scaled by the contracted share; None
    without pools."""
    if "pool_cfads_usd" in outcomes and outcomes.sizes.get("pool", 0) > 0:
        pc = np.asarray(
            outcomes["pool_cfads_usd"].transpose("scenario", "pool", "year").values, dtype=float
        )
        if "flex_contracted_kw" in plan and "flex_committed_kw" in outcomes:
            con = plan["flex_contracted_kw"].reindex(pool=outcomes["pool"].values, fill_value=0)
            com = np.asarray(outcomes["flex_committed_kw"].values, dtype=float)
            share = (
                np.asarray(con.transpose("pool", "year").values, dtype=float)
                if "year" in con.dims
                else np.asarray(con.values, dtype=float)[:, None]
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(com[:, None] > 0, share / com[:, None], 0.0)
            pc = pc * np.clip(share, 0.0, 1.0)[None, :, :]
        return pc
    return None


def _shift_conversions(plan: xr.Dataset, outcomes: xr.Dataset, site_cf: xr.DataArray,
                       cf_sites: np.ndarray, conv: np.ndarray, years: np.ndarray) -> None:
    """A site converted in year y0 + k earns mining CFADS for k years, then its converted
    CFADS shifted k years later (``cf_sites`` changed in place) [$]."""
    _, K, T = cf_sites.shape
    cy = np.asarray(
        plan["conversion_year"].reindex(site=site_cf["site"].values, fill_value=-1).values
    )
    mining = (
        np.asarray(
            outcomes["site_mining_cfads_usd"].transpose("scenario", "site", "year").values,
            dtype=float,
        )
        if "site_mining_cfads_usd" in outcomes
        else np.zeros_like(cf_sites)
    )
    for k in range(K):
        shift = int(cy[k] - years[0]) if cy[k] >= years[0] else 0
        if conv[k] and 0 < shift:
            shifted = np.concatenate(
                [mining[:, k, :shift], cf_sites[:, k, : T - shift]], axis=1
            )[:, :T]
            cf_sites[:, k] = shifted


def _project_total(project: str, cf_sites: np.ndarray, cf_pools: np.ndarray | None,
                   conv: np.ndarray, capex_site: np.ndarray | None, site_ids: list[str],
                   pool_ids: list[str]) -> tuple[np.ndarray, float | None]:
    """CFADS (S, T) [$] and capex [$] of the financed project from site and pool CFADS."""
    if project == "portfolio":
        total = cf_sites[:, conv].sum(axis=1)
        if cf_pools is not None:
            total = total + cf_pools.sum(axis=1)
        capex = float(capex_site[conv].sum()) if capex_site is not None else None
    elif project == "sites":
        total = cf_sites[:, conv].sum(axis=1)
        capex = float(capex_site[conv].sum()) if capex_site is not None else None
    elif project == "pools":
        if cf_pools is None:
            raise GridcapInputError("project = 'pools': outcomes have no pool_cfads_usd")
        total = cf_pools.sum(axis=1)
        capex = None
    elif project in site_ids:
        k = site_ids.index(project)
        total = cf_sites[:, k]
        capex = float(capex_site[k]) if capex_site is not None else None
    elif project in pool_ids and cf_pools is not None:
        total = cf_pools[:, pool_ids.index(project)]
        capex = None
    else:
        raise GridcapInputError(
            f"project = {project!r}: expected 'portfolio', 'sites', 'pools', a site "
            f"{site_ids[:5]}... or a pool {pool_ids[:5]}..."
        )
    return total, capex


def _firm_end_years(outcomes: xr.Dataset, shift: np.ndarray) -> np.ndarray:
    """End of each site's firm contract term in years from close [yr] (inf: no contract).

    Scheduled (median) rent commencement ``site_commencement_month`` + the initial term
    ``site_contract_term_years``, plus the years the plan converts the site after the first
    planning year; inf for merchant sites or outcomes without the term.
    """
    K = outcomes.sizes["site"]
    mode = np.asarray(outcomes["site_contract_mode"].values)
    if "site_contract_term_years" not in outcomes or "site_commencement_month" not in outcomes:
        return np.full(K, np.inf)
    comm = np.median(np.asarray(outcomes["site_commencement_month"].transpose(
        "scenario", "site").values, float), axis=0)
    term = np.asarray(outcomes["site_contract_term_years"].values, float)
    return np.where(mode > 0, shift + comm / 12.0 + term, np.inf)


def _finance_horizon(outcomes: xr.Dataset, cf_sites: np.ndarray, cf_pools: np.ndarray | None,
                     conv: np.ndarray, plan: xr.Dataset, years: np.ndarray,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Any, np.ndarray]:
    """Site and pool CFADS over the finance horizon (contracted sites from their contracts).

    Contracted sites (mode > 0) take ``site_contract_cfads_usd``; merchant sites keep their
    planning-year CFADS and nothing after the Monte Carlo horizon (no value is assumed for
    merchant GPU-hours beyond it); pools likewise. A site converted k years after the first
    year earns its mining CFADS for those years and its contract shifted k years later.
    Capex of a contracted site is that of its contracted MW, net of a customer prepayment.
    Also returns each site's firm-term end in finance years (:func:`_firm_end_years`).
    """
    fy = np.asarray(outcomes["finance_year"].values)
    H = fy.size
    S, K, Y = cf_sites.shape
    con = np.asarray(outcomes["site_contract_cfads_usd"].transpose(
        "scenario", "site", "finance_year").values, dtype=float)
    mode = np.asarray(outcomes["site_contract_mode"].values)
    out = np.zeros((S, K, H))
    n = min(Y, H)
    out[:, :, :n] = cf_sites[:, :, :n]
    out[:, mode > 0] = con[:, mode > 0]
    shifts = np.zeros(K)
    if "conversion_year" in plan and "site_mining_cfads_usd" in outcomes:
        cy = np.asarray(plan["conversion_year"].reindex(
            site=outcomes["site"].values, fill_value=-1).values)
        mining = np.asarray(outcomes["site_mining_cfads_usd"].transpose(
            "scenario", "site", "year").values, dtype=float)
        for k in range(K):
            shift = int(cy[k] - years[0]) if cy[k] >= years[0] else 0
            if conv[k] and mode[k] > 0 and shift > 0:
                pre = np.zeros((S, shift))
                pre[:, : min(shift, Y)] = mining[:, k, : min(shift, Y)]
                out[:, k] = np.concatenate([pre, con[:, k, : H - shift]], axis=1)[:, :H]
                shifts[k] = shift
    pools = None
    if cf_pools is not None:
        pools = np.zeros((S, cf_pools.shape[1], H))
        pools[:, :, : min(Y, H)] = cf_pools[:, :, : min(Y, H)]
    capex = None
    if "site_contract_capex_usd" in outcomes:
        cap = np.asarray(outcomes["site_contract_capex_usd"].values, dtype=float).copy()
        if "site_prepayment_usd" in outcomes:
            cap = cap - np.asarray(outcomes["site_prepayment_usd"].values, dtype=float)
        capex = (cap, "outcomes.site_contract_capex_usd (contracted MW) - site_prepayment_usd")
    return out, fy, pools, capex, _firm_end_years(outcomes, shifts)


def site_market_check(outcomes: xr.Dataset, plan: xr.Dataset, terms: FinanceTerms,
                      ) -> xr.Dataset | None:
    """Each financed (converted, contracted) site sized alone and set beside the deals table.

    For every converted site with contracted CFADS over the finance horizon: senior debt
    sculpted to the senior DSCR target on the site's median CFADS at the senior rate and
    tenor, capped at ``max_gearing`` x the site's capex; then debt per MW-IT, loan-to-cost,
    minimum DSCR over the tenor (median CFADS / debt service), the coupon, a standalone PD
    (share of scenarios in which CFADS falls short of the debt service in some year of the
    tenor, no reserve) and its rating bucket, next to the market range of
    :func:`gridcap.datasets.financings.market_range` with a status per metric.

    Returns
    -------
    xarray.Dataset or None
        Variables over ``financed_site`` (and ``market_metric``); None when no site is both
        converted and contracted.
    """
    from gridcap.datasets.financings import MARKET_METRICS, market_range, read_financings
    from gridcap.optimizer.financing.pricing import project_premium

    need = ("site_contract_cfads_usd", "site_contract_mode", "site_contract_mw",
            "site_contract_capex_usd")
    if not all(v in outcomes for v in need) or "converted" not in plan:
        return None
    sites = [str(x) for x in outcomes["site"].values]
    conv = np.asarray(plan["converted"].reindex(site=outcomes["site"].values,
                                                fill_value=0).values, float) > 0.5
    mode = np.asarray(outcomes["site_contract_mode"].values)
    pick = [k for k in range(len(sites)) if conv[k] and mode[k] > 0]
    if not pick:
        return None
    cf = np.asarray(outcomes["site_contract_cfads_usd"].transpose(
        "scenario", "site", "finance_year").values, float)
    mw = np.asarray(outcomes["site_contract_mw"].values, float)
    capex = np.asarray(outcomes["site_contract_capex_usd"].values, float)
    if "site_prepayment_usd" in outcomes:
        capex = capex - np.asarray(outcomes["site_prepayment_usd"].values, float)
    deals = read_financings()
    rng = market_range(deals)
    metrics = list(MARKET_METRICS)
    rows: dict[str, list[Any]] = {k: [] for k in (
        "debt", "debt_per_mw", "ltc", "min_dscr", "coupon", "pd", "rating", "value", "status",
        "party", "balloon", "refi_fail", "idc", "tenor")}
    tenor = min(terms.tenor[0], cf.shape[2])
    maturity = min(terms.senior_maturity_years or tenor, tenor)
    # lease basis: each site sized on its CFADS to the end of its firm term (tenor a cap)
    firm = _firm_end_years(outcomes, np.zeros(len(sites)))
    if terms.tenor_basis != "lease":
        firm = np.full(len(sites), np.inf)
    weights = firm_term_weights(firm, cf.shape[2])
    parties = json.loads(outcomes.attrs.get("site_contracts", "{}"))
    premium = project_premium(terms.risk_free_rate)["premium"]
    ctx = {"cf": cf, "weights": weights, "tenor": tenor, "firm": firm, "parties": parties,
           "sites": sites, "terms": terms, "premium": premium, "capex": capex,
           "maturity": maturity, "outcomes": outcomes, "mode": mode, "mw": mw, "rng": rng,
           "metrics": metrics}
    for k in pick:
        _check_one_site(k, ctx, rows)
    return _site_check_dataset(rows, sites, pick, deals, rng, metrics)


def _check_one_site(k: int, ctx: dict[str, Any], rows: dict[str, list[Any]]) -> None:
    """Size site ``k`` alone, price it from its credit (then its simulated PD if worse) and
    append its figures and market check to ``rows``."""
    from gridcap.datasets.financings import market_check
    from gridcap.optimizer.financing.pricing import (
        coupon_for_rating,
        effective_rating,
        rating_from_bucket,
        worse,
    )
    from gridcap.optimizer.financing.tranche_risk import rating_bucket

    cf, weights, tenor, firm, parties = (ctx[n] for n in ("cf", "weights", "tenor", "firm",
                                                           "parties"))
    sites, terms, premium, capex, maturity = (ctx[n] for n in ("sites", "terms", "premium",
                                                               "capex", "maturity"))
    outcomes, mode, mw, rng, metrics = (ctx[n] for n in ("outcomes", "mode", "mw", "rng",
                                                         "metrics"))
    cfk = cf[:, k] * weights[k]  # what the lender sizes on
    med = np.median(cfk, axis=0)
    tenor_k = min(tenor, int(np.ceil(firm[k] - 1e-9))) if np.isfinite(firm[k]) else tenor
    rows["tenor"].append(tenor_k)
    tr = (parties.get("tenant_rating") or ["NR"] * len(sites))[k]
    gr = (parties.get("guarantor_rating") or [""] * len(sites))[k]
    party = effective_rating(tr, gr, 1.0 if gr else 0.0)
    rating_used = party
    for _ in range(2):  # price from the parties, then from the simulated PD if worse
        coupon = coupon_for_rating(rating_used, terms.risk_free_rate, premium=premium)
        sched = size_debt(med, terms.dscr[0], coupon, tenor_years=tenor,
                          gearing_cap=terms.max_gearing, capex=float(capex[k]))
        m = _site_default_metrics(cf[:, k], sched, maturity, terms.dscr[0],
                                  terms.dsra_months)
        implied = rating_from_bucket(rating_bucket(m["pd"], max(maturity, 1)))
        if worse(rating_used, implied) == rating_used:
            break
        rating_used = worse(rating_used, implied)
    rent = float("nan")
    if "site_contract_rent_usd_per_mw_yr" in outcomes and mode[k] == 1:
        rent = float(outcomes["site_contract_rent_usd_per_mw_yr"].values[k])
    vals = {"debt_per_mw_usd": sched.size_usd / mw[k] if mw[k] > 0 else float("nan"),
            "coupon": sched.rate,
            "loan_to_cost": sched.size_usd / capex[k] if capex[k] > 0 else float("nan"),
            "rent_usd_per_mw_yr": rent}
    # the deals' debt/MW and rent are colocation figures: a gpu_contract's capex holds
    # its GPUs, so its debt per MW is not compared (reported, status n/a)
    chk = market_check({**vals, "debt_per_mw_usd": float("nan")} if mode[k] == 2 else vals,
                       ranges=rng)
    if mode[k] == 2:
        chk["debt_per_mw_usd"]["value"] = vals["debt_per_mw_usd"]
    rows["debt"].append(sched.size_usd)
    rows["debt_per_mw"].append(vals["debt_per_mw_usd"])
    rows["ltc"].append(vals["loan_to_cost"])
    rows["min_dscr"].append(m["min_dscr"])
    rows["coupon"].append(sched.rate)
    rows["pd"].append(m["pd"])
    rows["rating"].append(rating_bucket(m["pd"], max(maturity, 1)))
    rows["party"].append(party)
    rows["balloon"].append(m["balloon"])
    rows["refi_fail"].append(m["refi_fail"])
    rows["idc"].append(m["idc"])
    rows["value"].append([chk[x]["value"] for x in metrics])
    rows["status"].append([chk[x]["status"] for x in metrics])


def _site_check_dataset(rows: dict[str, list[Any]], sites: list[str], pick: list[int],
                        deals: Any, rng: dict[str, Any], metrics: list[str]) -> xr.Dataset:
    """The per-site market check variables over ``financed_site`` (and ``market_metric``)."""
    from gridcap.datasets.financings import deal_debt_per_mw

    dims = ("financed_site",)
    ds = xr.Dataset(coords={"financed_site": [sites[k] for k in pick],
                            "market_metric": metrics})

    def put(name: str, d: tuple[str, ...], v: Any, u: str, doc: str) -> None:
        ds[name] = xr.DataArray(np.asarray(v), dims=d, attrs={"units": u, "long_name": doc})

    put("site_senior_usd", dims, rows["debt"], "$", "senior debt of the site sized alone")
    put("site_debt_per_mw_usd", dims, rows["debt_per_mw"], "$/MW-IT", "debt per MW-IT")
    put("site_loan_to_cost", dims, rows["ltc"], "1", "senior debt / site capex")
    put("site_min_dscr", dims, rows["min_dscr"], "1",
        "minimum DSCR over the tenor, median CFADS / debt service")
    put("site_coupon", dims, rows["coupon"], "1/yr", "senior coupon")
    put("site_pd", dims, rows["pd"], "1",
        "share of scenarios with CFADS below debt service in a year to maturity (no reserve) "
        "or a balloon that cannot be refinanced at maturity")
    put("site_credit_rating", dims, np.asarray(rows["party"], dtype=str), "",
        "credit priced: the guarantor's rating where a backstop exists, else the tenant's")
    put("site_balloon_usd", dims, rows["balloon"], "$",
        "scheduled balance at maturity, refinanced against the remaining contracted CFADS")
    put("site_refinance_fail_share", dims, rows["refi_fail"], "1",
        "share of scenarios whose remaining CFADS / DSCR, discounted at the coupon, is below "
        "the balloon at maturity")
    put("site_deal_debt_per_mw_usd", dims,
        [deal_debt_per_mw(sites[k], deals) for k in pick], "$/MW-IT",
        "debt per MW-IT the site's own public deals raised (NaN: none disclosed), the "
        "like-for-like comparison where it exists")
    put("site_tenor_years", dims, rows["tenor"], "yr",
        "amortisation tenor from close: the senior tenor, or with senior_tenor_basis = "
        "'lease' the end of the site's firm contract term (rounded up) when shorter")
    put("site_capitalised_interest_usd", dims, rows["idc"], "$",
        "interest capitalised before the first debt service (construction period)")
    put("site_implied_rating", dims, np.asarray(rows["rating"], dtype=str), "",
        "rating bucket of site_pd annualised over the tenor")
    put("market_value", (*dims, "market_metric"), rows["value"], "",
        "the site's value of each market metric (units in market_range_units)")
    put("market_status", (*dims, "market_metric"), np.asarray(rows["status"], dtype=str), "",
        "inside / near (within 25%) / far outside the deals table's range / n/a")
    put("market_min", ("market_metric",), [rng[m]["min"] for m in metrics], "",
        "lowest value in the deals table")
    put("market_max", ("market_metric",), [rng[m]["max"] for m in metrics], "",
        "highest value in the deals table")
    ds.attrs["market_range_units"] = json.dumps({m: rng[m]["units"] for m in metrics})
    ds.attrs["market_range_deals"] = json.dumps({m: rng[m]["deals"] for m in metrics})
    return ds

def _terminal_value(cf: np.ndarray, final: np.ndarray, cap_rate: float) -> np.ndarray:
    """Equity's terminal value per scenario at the end of the finance horizon [$].

    ``max(0, max(CFADS_T, 0) / cap_rate - debt still owed)``: the asset sold at the exit cap
    rate on its last-year cash flow (the re-let or renewed lease), debt repaid first; zero
    when ``cap_rate`` is 0. Paid with the last period, outside the waterfall ledger.
    """
    if cap_rate <= 0:
        return np.zeros(cf.shape[0])
    owed = final[0] + final[1] + final[2] + final[3]
    return np.maximum(np.maximum(cf[:, -1], 0.0) / cap_rate - owed, 0.0)


def _no_mezzanine(cf: np.ndarray, terms: FinanceTerms) -> DebtSchedule:
    """A zero mezzanine schedule: the structure has none (finance.mezzanine_tranche = off)."""
    return size_debt(np.zeros_like(np.asarray(cf, dtype=float)), terms.dscr[1], terms.rate[1],
                     tenor_years=terms.tenor[1], tranche="mezzanine")


def _portfolio_credit(outcomes: xr.Dataset, plan: xr.Dataset) -> str:
    """Weakest priced credit among the converted contracted sites ("" when there is none)."""
    from gridcap.optimizer.financing.pricing import effective_rating, worse

    if "site_contract_mode" not in outcomes or "converted" not in plan:
        return ""
    parties = json.loads(outcomes.attrs.get("site_contracts", "{}"))
    tenants, guarantors = parties.get("tenant_rating"), parties.get("guarantor_rating")
    if not tenants:
        return ""
    conv = np.asarray(plan["converted"].reindex(site=outcomes["site"].values,
                                                fill_value=0).values, float) > 0.5
    mode = np.asarray(outcomes["site_contract_mode"].values)
    out = ""
    for k in np.flatnonzero(conv & (mode > 0)):
        g = (guarantors or [""] * len(tenants))[k]
        r = effective_rating(tenants[k], g, 1.0 if g else 0.0)
        out = r if not out else worse(out, r)
    return out


def _site_default_metrics(cf: np.ndarray, sched: DebtSchedule, maturity: int,
                          dscr: float, dsra_months: float = 0.0) -> dict[str, float]:
    r"""Default, refinancing and construction-interest figures of one site's senior notes.

    Parameters
    ----------
    cf : numpy.ndarray (S, T)
        Site CFADS per scenario and finance year [$].
    sched : DebtSchedule
        Senior schedule sculpted over the amortisation tenor [$].
    maturity : int
        Legal maturity M <= tenor [yr]; the balance at M is a balloon.
    dscr : float
        DSCR a refinancing lender sizes to [1].
    dsra_months : float
        Debt-service reserve funded at close [month of the largest annual service]; drawn
        on shortfalls and topped up from surplus.

    Returns
    -------
    dict
        ``pd`` [1] (the reserve runs dry in a year <= M, or refinancing fails), ``refi_fail``
        [1],
        ``balloon`` [$], ``min_dscr`` [1] (median CFADS / service to M), ``idc`` [$]
        (interest of the years before the first service: capitalised construction interest).

    Notes
    -----
    Refinancing at M succeeds in a scenario when
    :math:`\sum_{t>M} CFADS_t / (DSCR\,(1+c)^{t-M}) \ge B` over the rest of the finance
    horizon (remaining lease, renewal or re-let), with coupon :math:`c` and balloon :math:`B`.
    """
    ds_ = np.asarray(sched.debt_service_usd, float)
    bal = np.asarray(sched.balance_usd, float)
    T = ds_.size
    M = max(1, min(int(maturity), T))
    on = ds_[:M] > 0
    med = np.median(cf, axis=0)
    min_dscr = float((med[:M][on] / ds_[:M][on]).min()) if on.any() else float("nan")
    # debt-service reserve funded at close, drawn on shortfalls, topped up from surplus
    reserve0 = dsra_months / 12.0 * float(ds_.max()) if ds_.size else 0.0
    res = np.full(cf.shape[0], reserve0)
    short = np.zeros(cf.shape[0], bool)
    for t in range(M):
        res = np.minimum(reserve0, res + cf[:, t] - ds_[t])
        short |= res < -1e-6
    balloon = float(bal[M - 1]) if M < T else 0.0
    if balloon > 0:
        tail = cf[:, M:]
        disc = (1.0 + sched.rate) ** -np.arange(1, tail.shape[1] + 1)
        refi_fail = (np.maximum(tail, 0.0) / dscr * disc).sum(axis=1) < balloon * (1 - 1e-9)
    else:
        refi_fail = np.zeros(cf.shape[0], bool)
    first = int(np.argmax(ds_ > 0)) if (ds_ > 0).any() else T
    idc = float(np.asarray(sched.interest_usd, float)[:first].sum())
    return {"pd": float((short | refi_fail).mean()), "refi_fail": float(refi_fail.mean()),
            "balloon": balloon, "min_dscr": min_dscr, "idc": idc}


def _refinancing_market(structure: Any, terms: FinanceTerms, sen: DebtSchedule,
                        outcomes: xr.Dataset, scenarios: np.ndarray) -> np.ndarray | None:
    """Per-scenario refinancing inputs of the waterfall at the senior legal maturity.

    The refinancing lender sizes to the senior DSCR over the rest of the notes' amortisation
    (schedule end - legal maturity) at the coupon + ``refinancing_spread`` + a drawn shock;
    None when the notes have no balloon.
    """
    M = structure.balloon_period
    if M == 0:
        return None
    scen = np.asarray(scenarios)
    if scen.dtype.kind not in "iu":
        scen = np.arange(scen.size)
    return refinancing_inputs(
        scen,
        seed=int(outcomes.attrs.get("seed", 0)),
        rate=min(max(sen.rate + terms.refinancing_spread, 0.0), 0.99),
        dscr=terms.dscr[0],
        years=int(structure.maturity[0]) - M,
        rate_sd=terms.refinancing_rate_sd,
        fail_probability=terms.refinancing_fail_probability,
    )


def portfolio_refinancing(structure: Any, res: Any) -> dict[str, Any]:
    """Balloon and refinancing figures of the portfolio senior notes, from the waterfall.

    Parameters
    ----------
    structure : WaterfallStructure
        The structure the waterfall ran (``balloon_period`` M, 0: none).
    res : WaterfallResult
        Its result (notes' default period, ``refinanced_period``,
        ``refinancing_default_period``).

    Returns
    -------
    dict
        ``maturity`` [yr] (legal maturity, or the schedule's last service), ``balloon`` [$]
        (scheduled balance due at M), ``refi_fail`` [1] (share of scenarios whose notes
        default at M: the balloon was not refinanced nor paid), ``refinanced`` [1] (share
        refinanced), ``refi_default`` [1] (share whose refinancing loan later defaults),
        ``pd_to_maturity`` [1] (notes default in a year <= M).
    """
    M = structure.balloon_period
    dflt = np.asarray(res.default_period)[0]
    S = dflt.size
    if M == 0:
        mat = int(structure.maturity[0])
        early = (dflt >= 1) & (dflt <= mat)
        return {"maturity": mat, "balloon": 0.0, "refi_fail": 0.0, "refinanced": 0.0,
                "refi_default": 0.0, "pd_to_maturity": float(early.mean()) if S else 0.0}
    rf = np.asarray(res.refinanced_period)
    return {
        "maturity": M,
        "balloon": float(structure.target_balance_cents[0, M - 1]) / 100.0,
        "refi_fail": float((dflt == M).mean()),
        "refinanced": float((rf > 0).mean()),
        "refi_default": float((np.asarray(res.refinancing_default_period) > 0).mean()),
        "pd_to_maturity": float(((dflt >= 1) & (dflt <= M)).mean()),
    }


def _sizing_subset(S: int, limit: int) -> np.ndarray:
    """Evenly spaced scenario indices for the sizing model (all when S <= limit)."""
    if S <= limit:
        return np.arange(S)
    return np.unique(np.linspace(0, S - 1, limit).round().astype(int))


def _size_tranches(
    cf: np.ndarray,
    terms: FinanceTerms,
    capex: float | None,
    *,
    sizing: str,
    profile: str,
    scenarios_limit: int,
    time_limit: float,
) -> dict[str, Any]:
    """Senior then mezzanine sizes by DSCR sculpting, chance MILP and CVaR LP."""
    S = cf.shape[0]
    cap = terms.max_gearing * capex if capex is not None else None
    out: dict[str, Any] = {}
    p50 = np.median(cf, axis=0)
    out["dscr"] = size_stack(
        p50,
        tuple(terms.dscr),
        tuple(terms.rate),
        tenor_years=tuple(terms.tenor),
        gearing_cap=terms.max_gearing if capex is not None else None,
        capex=capex,
    )
    sub = cf[_sizing_subset(S, scenarios_limit)]
    for method in ("milp", "cvar"):
        sen = size_to_risk(
            sub,
            terms.rate[0],
            target=terms.pd_target[0],
            method=method,
            tenor_years=terms.tenor[0],
            max_size_usd=cap,
            tranche="senior",
            profile=profile,
            time_limit=time_limit,
        )
        mez = _no_mezzanine(p50, terms) if not terms.mezzanine else size_to_risk(
            sub,
            terms.rate[1],
            target=terms.pd_target[1],
            method=method,
            profile=profile,
            tenor_years=terms.tenor[1],
            senior_service_usd=sen.debt_service_usd,
            max_size_usd=None if cap is None else cap - sen.size_usd,
            tranche="mezzanine",
            time_limit=time_limit,
        )
        out[method] = (sen, mez)
    if not terms.mezzanine:
        out["dscr"] = (out["dscr"][0], _no_mezzanine(p50, terms))
    out["chosen"] = out["dscr" if sizing == "dscr" else sizing]
    out["sizing_scenarios"] = len(sub)
    return out


def _pick_ledger_scenario(cf: np.ndarray) -> int:
    """Scenario whose total CFADS is the median (lower median), the ledger's example."""
    tot = cf.sum(axis=1)
    order = np.argsort(tot, kind="stable")
    return int(order[(len(tot) - 1) // 2])


def _stack_inputs(
    plan: xr.Dataset,
    outcomes: xr.Dataset,
    terms: xr.Dataset,
    project: str,
    sizing: str,
    sites: xr.Dataset | None,
    capex_usd: float | None,
) -> tuple[xr.DataArray, np.ndarray, float | None, dict, FinanceTerms, str]:
    """The project's CFADS [$], capex [$], validated terms and priced senior credit."""
    if sizing not in ("milp", "cvar", "dscr"):
        raise GridcapInputError(f"sizing = {sizing!r}: expected one of ('milp', 'cvar', 'dscr')")
    cfda, capex, info = project_cfads(plan, outcomes, project, sites=sites)
    if capex_usd is not None:
        capex = check_positive(capex_usd, "capex_usd")
        info["capex_source"] = "argument capex_usd"
    cf = np.asarray(cfda.values, dtype=float)
    S, T = cf.shape
    if S < 1 or T < 1:
        raise GridcapInputError(f"outcomes: {S} scenarios x {T} years: expected at least 1 x 1")
    if capex is not None and capex <= 0:
        capex = None
        info["capex_source"] += " (zero: ignored)"
    terms_v = FinanceTerms(terms, T)
    coupon_credit = ""
    if terms_v.coupon_basis == "credit":
        coupon_credit = _portfolio_credit(outcomes, plan)
        if coupon_credit:
            from gridcap.optimizer.financing.pricing import coupon_for_rating

            terms_v.rate[0] = coupon_for_rating(coupon_credit, terms_v.risk_free_rate)
    return cfda, cf, capex, info, terms_v, coupon_credit


def _sized_stack(
    cf: np.ndarray,
    info: dict,
    terms_v: FinanceTerms,
    capex: float | None,
    outcomes: xr.Dataset,
    sizing: str,
    sizing_profile: str,
    sizing_scenarios: int,
    time_limit_s: float,
) -> tuple[dict[str, Any], bool]:
    """Tranches sized by every method on the lenders' cash flows; whether the tenor is the
    lease's."""
    # lenders size on contracted cash when the tenor is tied to the lease (the waterfall
    # still runs on the whole CFADS)
    lease = terms_v.tenor_basis == "lease" and "contracted_cfads_usd" in info
    if lease and "site_contract_term_years" not in outcomes and (
            np.asarray(outcomes["site_contract_mode"].values) > 0).any():
        raise GridcapInputError(
            "finance.senior_tenor_basis = 'lease': outcomes.site_contract_term_years is missing "
            "(Monte Carlo outcomes written before the lease-tied tenor): rerun the Monte Carlo "
            "without --resume, or set finance.senior_tenor_basis = 'fixed'")
    size_cf = np.asarray(info["contracted_cfads_usd"], dtype=float) if lease else cf
    sized = _size_tranches(
        size_cf,
        terms_v,
        capex,
        sizing=sizing,
        profile=sizing_profile,
        scenarios_limit=int(sizing_scenarios),
        time_limit=time_limit_s,
    )
    return sized, lease


def _run_stack(
    cf: np.ndarray,
    cfda: xr.DataArray,
    sized: dict[str, Any],
    terms_v: FinanceTerms,
    capex: float | None,
    outcomes: xr.Dataset,
    method: str,
) -> dict[str, Any]:
    """Run the chosen tranches through the waterfall and measure each tranche's risk."""
    S, T = cf.shape
    sen, mez = sized["chosen"]
    structure = structure_from_schedules(
        sen,
        mez,
        periods=T,
        dsra_months=terms_v.dsra_months,
        lockup_dscr=terms_v.lockup_dscr,
        sweep_fraction=terms_v.sweep_fraction,
        grace_years=terms_v.grace_years,
        senior_maturity=terms_v.senior_maturity_years,
    )
    cents = to_cents(cf, "cfads_usd")
    if method == "auto":
        method = "numba" if S * T > 20_000 else "xp"
    refi_in = _refinancing_market(structure, terms_v, sen, outcomes, cfda["scenario"].values)
    res = run_waterfall(cents, structure, refinancing=refi_in, method=method, detail=False)
    tcash = np.asarray(res.tranche_cash_cents) / 100.0
    dflt = np.asarray(res.default_period)
    final = np.asarray(res.final_states_cents) / 100.0
    # the senior notes are owed nothing once refinanced (the ledger then holds the new loan)
    notes_owed = np.where(np.asarray(res.refinanced_period) > 0, 0.0, final[0] + final[1])
    owed = [notes_owed, final[2] + final[3]]
    maturity = [structure.balloon_period or int(structure.maturity[0]), int(structure.maturity[1])]
    tv = _terminal_value(cf, final, terms_v.exit_cap_rate)
    if terms_v.exit_cap_rate > 0:
        tcash = tcash.copy()
        tcash[2][:, -1] += tv
    dsra0 = structure.dsra_initial_cents / 100.0
    debt = sen.size_usd + mez.size_usd
    equity = (capex + dsra0 - debt) if capex is not None else np.nan
    sizes = [sen.size_usd, mez.size_usd, equity]
    rates = [sen.rate, mez.rate, terms_v.equity_irr_target]
    metrics = []
    for j, name in enumerate(TRANCHES):
        if name == "equity":
            m = tranche_metrics(
                tcash[2],
                None,
                equity if np.isfinite(equity) else 0.0,
                rates[j],
                default_period=None,
                outstanding_usd=None,
                maturity_years=T,
                risk_free_rate=terms_v.risk_free_rate,
            )
        else:
            m = tranche_metrics(
                tcash[j],
                tcash[3 + j],
                sizes[j],
                rates[j],
                default_period=dflt[j],
                outstanding_usd=owed[j],
                maturity_years=maturity[j],
                risk_free_rate=terms_v.risk_free_rate,
            )
        metrics.append(m)

    return {
        "structure": structure, "cents": cents, "method": method, "refi_in": refi_in,
        "res": res, "tcash": tcash, "dflt": dflt, "final": final, "owed": owed, "tv": tv,
        "sizes": sizes, "rates": rates, "metrics": metrics,
    }  # fmt: skip


def _token_ledger(
    cf: np.ndarray, run: dict[str, Any], terms_v: FinanceTerms, ledger_scenario: int | None
) -> dict[str, Any]:
    """Token units, expected per-unit distributions, settlement drag, rules and the ledger."""
    S, T = cf.shape
    structure, cents, refi_in = run["structure"], run["cents"], run["refi_in"]
    tcash, sizes, rates = run["tcash"], run["sizes"], run["rates"]
    units = {
        name: tok.token_units(
            sizes[j] if np.isfinite(sizes[j]) else 0.0,
            terms_v.unit_size_usd,
            terms_v.min_ticket_usd,
        )
        for j, name in enumerate(TRANCHES)
    }
    dist = np.zeros((3, T))
    drag = np.zeros((3, 2))
    for j, name in enumerate(TRANCHES):
        cash_j = np.maximum(tcash[j], 0.0).mean(axis=0)
        u = units[name]
        if u["unit_count"] > 0 and sizes[j] > 0:
            dist[j] = cash_j * (u["tokenized_usd"] / sizes[j]) / u["unit_count"]
        for i, lag in enumerate((terms_v.settlement_lag_hours, tok.T_PLUS_2_HOURS)):
            drag[j, i] = tok.cash_drag(cash_j, rates[j], lag)
    rules = tok.waterfall_rules(structure, units)
    led_s = _pick_ledger_scenario(cf) if ledger_scenario is None else int(ledger_scenario)
    if not 0 <= led_s < S:
        raise GridcapInputError(f"ledger_scenario = {ledger_scenario}: expected 0..{S - 1}")
    one = run_waterfall(
        cents[led_s : led_s + 1],
        structure,
        refinancing=None if refi_in is None else refi_in[:, led_s : led_s + 1],
        method="python",
    )
    rows = tok.ledger_rows(
        np.asarray(one.flows_cents)[:, 0],
        np.asarray(one.states_cents)[:, 0],
        np.asarray(one.tranche_cash_cents)[5:7, 0],
        np.asarray(one.default_period)[:, 0],
        rules,
        refinancing=(0, 0) if refi_in is None else (int(refi_in[0, led_s]), int(refi_in[1, led_s])),
        refinanced_period=int(np.asarray(one.refinanced_period)[0]),
    )
    fields = list(rows[0])

    return {"units": units, "dist": dist, "drag": drag, "rules": rules, "led_s": led_s,
            "rows": rows, "fields": fields}


def _put(ds: xr.Dataset, name: str, dims: tuple[str, ...], val: Any, units_: str,
         doc: str) -> None:
    """Add variable ``name`` with its units and long name to ``ds``."""
    ds[name] = xr.DataArray(np.asarray(val), dims=dims, attrs={"units": units_, "long_name": doc})


def _stack_dataset(
    cfda: xr.DataArray,
    cf: np.ndarray,
    sized: dict[str, Any],
    run: dict[str, Any],
    ledger: dict[str, Any],
    terms_v: FinanceTerms,
) -> xr.Dataset:
    """The finance variables of docs/data-model.md §4 in one Dataset."""
    fields = ledger["fields"]
    # assemble -------------------------------------------------------------------------
    years = cfda["year"].values
    coords = {
        "scenario": cfda["scenario"].values,
        "year": years,
        "tranche": list(TRANCHES),
        "debt_tranche": list(DEBT),
        "sizing_method": ["dscr", "milp", "cvar"],
        "irr_quantile": list(IRR_QUANTILES),
        "settlement": ["configured", "T+2"],
        "ledger_field": fields,
    }
    ds = xr.Dataset(coords=coords)
    _put(ds, "cfads_usd", ("scenario", "year"), cf, "$", cfda.attrs["long_name"])
    _put_sizes(ds, cf, sized, run)
    _put_cash(ds, cf, cfda, run)
    _put_risk(ds, run["metrics"])
    _put_tokens(ds, ledger, terms_v)
    _put_refinancing(ds, run["structure"], run["res"])
    return ds


def _put_sizes(ds: xr.Dataset, cf: np.ndarray, sized: dict[str, Any], run: dict[str, Any]
                ) -> None:
    """CFADS, terminal value, sizes, rates and the scheduled (sculpted) loans."""
    T = cf.shape[1]
    put = partial(_put, ds)
    tv, sizes, rates = run["tv"], run["sizes"], run["rates"]
    nan_t = np.full(T, np.nan)
    sched = list(sized["chosen"])
    put(
        "terminal_value_usd",
        ("scenario",),
        tv,
        "$",
        "equity terminal value at the horizon end: last-year CFADS / exit_cap_rate - debt owed "
        "(0 without an exit cap rate); added to equity's last-year cash",
    )
    put(
        "tranche_size_usd",
        ("tranche",),
        sizes,
        "$",
        "tranche size at financial close (equity = capex + initial DSRA - debt)",
    )
    put("tranche_rate", ("tranche",), rates, "1/yr", "loan rate (equity: hurdle rate)")
    put(
        "size_by_method_usd",
        ("sizing_method", "debt_tranche"),
        [[s.size_usd for s in sized[k]] for k in ("dscr", "milp", "cvar")],
        "$",
        "debt size by sizing method: DSCR sculpting on median CFADS, chance MILP, CVaR LP",
    )
    for var, attr, doc in (
        ("debt_service_usd", "debt_service_usd", "scheduled debt service"),
        ("interest_usd", "interest_usd", "scheduled interest"),
        ("principal_usd", "principal_usd", "scheduled principal"),
        ("balance_usd", "balance_usd", "scheduled closing balance"),
    ):
        put(
            var,
            ("tranche", "year"),
            [getattr(sched[0], attr), getattr(sched[1], attr), nan_t],
            "$",
            doc,
        )

def _put_cash(ds: xr.Dataset, cf: np.ndarray, cfda: xr.DataArray, run: dict[str, Any]) -> None:
    """Waterfall cash, defaults and what is owed at the end."""
    S, T = cf.shape
    put = partial(_put, ds)
    years = cfda["year"].values
    rates, tcash, dflt, owed = run["rates"], run["tcash"], run["dflt"], run["owed"]
    put(
        "tranche_cash_usd",
        ("scenario", "tranche", "year"),
        np.transpose(tcash[:3], (1, 0, 2)),
        "$",
        "cash received per year: debt interest + principal + sweep; equity distributions "
        "minus injections",
    )
    put(
        "refinancing_cash_usd",
        ("scenario", "year"),
        tcash[7],
        "$",
        "cash of the lender that refinances the senior balloon: minus the draw at legal "
        "maturity, then its interest + principal + sweep (0 without a balloon)",
    )
    put(
        "default_year",
        ("scenario", "debt_tranche"),
        np.where(dflt.T > 0, years[0] + dflt.T - 1, 0),
        "year",
        "year the tranche defaults (0: never)",
    )
    out_bal = np.stack(owed, axis=1)
    loss = np.full((S, 3), np.nan)
    loss[:, :2] = out_bal / (1.0 + np.asarray(rates[:2]))[None, :] ** T
    put(
        "loss_usd",
        ("scenario", "tranche"),
        loss,
        "$",
        "balance + accrued owed at the horizon end, discounted to t=0 at the loan rate",
    )
    put(
        "outstanding_usd",
        ("scenario", "debt_tranche"),
        out_bal,
        "$",
        "balance + accrued interest owed after the last year",
    )


def _put_risk(ds: xr.Dataset, metrics: list[dict[str, Any]]) -> None:
    """Per-tranche risk and return metrics (:func:`tranche_metrics`)."""
    put = partial(_put, ds)

    def by_tranche(key: str) -> list[Any]:
        return [m[key] for m in metrics]

    put("pd", ("tranche",), by_tranche("pd"), "1", "probability of default over the horizon")
    put(
        "expected_loss",
        ("tranche",),
        by_tranche("expected_loss"),
        "1",
        "expected loss / tranche size",
    )
    put("lgd", ("tranche",), by_tranche("lgd"), "1", "loss given default = EL / PD")
    put(
        "wal_years",
        ("tranche",),
        by_tranche("wal_years"),
        "yr",
        "weighted average life of expected principal repaid",
    )
    put(
        "duration_years",
        ("tranche",),
        by_tranche("duration_years"),
        "yr",
        "Macaulay duration of expected cash flows at the tranche rate",
    )
    put(
        "irr",
        ("scenario", "tranche"),
        np.stack(by_tranche("irr"), axis=1),
        "1/yr",
        "IRR per scenario (annual, flow at t=0 = -size)",
    )
    put("irr_mean", ("tranche",), by_tranche("irr_mean"), "1/yr", "mean IRR over scenarios")
    put(
        "total_loss_share",
        ("tranche",),
        by_tranche("total_loss_share"),
        "1",
        "share of scenarios with IRR -1 (total loss: nothing of the amount invested returns)",
    )
    put(
        "irr_quantile_value",
        ("tranche", "irr_quantile"),
        np.stack(by_tranche("irr_q")),
        "1/yr",
        "IRR quantiles over scenarios",
    )
    put(
        "yield_expected",
        ("tranche",),
        by_tranche("yield_expected"),
        "1/yr",
        "yield of the expected cash flows at par",
    )
    put(
        "spread_bps",
        ("tranche",),
        by_tranche("spread_bps"),
        "bp",
        "par spread: expected discounted cash flows = size, over risk_free_rate "
        "(NaN when the expected cash flows are a total loss: see total_loss_share)",
    )
    put(
        "rating",
        ("tranche",),
        np.asarray(by_tranche("rating"), dtype=str),
        "",
        "rating-like bucket from PD annualised over maturity (Moody's idealized 1-yr rates)",
    )


def _put_tokens(ds: xr.Dataset, ledger: dict[str, Any], terms_v: FinanceTerms) -> None:
    """Token units, per-unit distributions, settlement drag and the ledger."""
    put = partial(_put, ds)
    units, dist, drag = ledger["units"], ledger["dist"], ledger["drag"]
    rows, fields = ledger["rows"], ledger["fields"]
    put("unit_size_usd", (), terms_v.unit_size_usd, "$", "token unit face value")
    put(
        "unit_count",
        ("tranche",),
        [units[t]["unit_count"] for t in TRANCHES],
        "1",
        "token units per tranche (face rounded down to whole units)",
    )
    put(
        "unit_stub_usd",
        ("tranche",),
        [units[t]["stub_usd"] for t in TRANCHES],
        "$",
        "face below one unit kept by the arranger (pari passu)",
    )
    put(
        "min_ticket_units",
        ("tranche",),
        [units[t]["min_ticket_units"] for t in TRANCHES],
        "1",
        "units in the minimum ticket",
    )
    put(
        "max_holders",
        ("tranche",),
        [units[t]["max_holders"] for t in TRANCHES],
        "1",
        "positions possible at the minimum ticket",
    )
    put(
        "unit_distribution_usd",
        ("tranche", "year"),
        dist,
        "$",
        "expected distribution per unit per year",
    )
    put(
        "cash_drag_usd",
        ("tranche", "settlement"),
        drag,
        "$",
        "PV lost to the settlement lag over the life (configured lag vs T+2 = 48 h)",
    )
    put(
        "settlement_lag_hours",
        ("settlement",),
        [terms_v.settlement_lag_hours, tok.T_PLUS_2_HOURS],
        "h",
        "settlement lag",
    )
    put(
        "ledger_cents",
        ("year", "ledger_field"),
        np.array([[r[f] for f in fields] for r in rows], dtype=np.int64),
        "cent",
        "distribution ledger of the example scenario (integer cents; period = year index)",
    )


def _put_refinancing(ds: xr.Dataset, structure: Any, res: Any) -> None:
    """Balloon and refinancing figures of the senior notes (:func:`portfolio_refinancing`)."""
    put = partial(_put, ds)
    refi = portfolio_refinancing(structure, res)
    put("senior_balloon_usd", (), refi["balloon"], "$",
        "portfolio senior balance scheduled at legal maturity (finance.senior_maturity_years), "
        "refinanced in the waterfall against that year's CFADS")
    put("senior_refinance_fail_share", (), refi["refi_fail"], "1",
        "share of scenarios whose notes default at legal maturity: refinancing capacity + cash "
        "+ DSRA short of what is due")
    put("senior_refinanced_share", (), refi["refinanced"], "1",
        "share of scenarios whose balloon is refinanced at legal maturity")
    put("senior_refinancing_default_share", (), refi["refi_default"], "1",
        "share of scenarios whose refinancing loan defaults after legal maturity")
    put("senior_pd_to_maturity", (), refi["pd_to_maturity"], "1",
        "senior-note default in a year <= legal maturity (the waterfall's, refinancing "
        "included)")
    put("senior_legal_maturity_years", (), refi["maturity"], "yr",
        "legal maturity of the portfolio senior notes (the balloon falls due after it)")


def _stack_attrs(
    cfda: xr.DataArray,
    capex: float | None,
    info: dict,
    sized: dict[str, Any],
    run: dict[str, Any],
    ledger: dict[str, Any],
    terms_v: FinanceTerms,
    *,
    project: str,
    sizing: str,
    sizing_profile: str,
    coupon_credit: str,
    lease: bool,
) -> dict[str, Any]:
    """The finance Dataset's attributes: how it was sized and run, and its conventions."""
    method, rules, led_s = run["method"], ledger["rules"], ledger["led_s"]
    chosen = sized["chosen"]
    gap = {
        t: (
            sized["cvar"][j].size_usd / sized["milp"][j].size_usd
            if sized["milp"][j].size_usd > 0
            else np.nan
        )
        for j, t in enumerate(DEBT)
    }
    return (
        {
            "project": project,
            "converted_sites": json.dumps(info.get("converted_sites", [])),
            "capex_usd": float(capex) if capex is not None else -1.0,
            "capex_source": info["capex_source"],
            "sizing": sizing,
            "sizing_profile": sizing_profile,
            "sizing_scenarios": int(sized["sizing_scenarios"]),
            "sizing_info": json.dumps(
                {
                    f"{k}_{t}": {
                        kk: vv
                        for kk, vv in sized[k][j].info.items()
                        if isinstance(vv, (int, float, str))
                    }
                    for k in ("dscr", "milp", "cvar")
                    for j, t in enumerate(DEBT)
                },
                default=str,
            ),
            "cvar_over_milp_size": json.dumps(gap),
            "chosen_senior_dscr_on_median": float(chosen[0].dscr),
            "waterfall_method": method,
            "waterfall_rules_json": json.dumps(rules),
            "ledger_scenario": int(cfda["scenario"].values[led_s]),
            "default_rule": rules["default_rule"]["text"],
            "default_grace_years": terms_v.grace_years,
            "sweep_fraction": terms_v.sweep_fraction,
            "risk_free_rate": terms_v.risk_free_rate,
            "coupon_basis": terms_v.coupon_basis,
            "coupon_credit": coupon_credit,
            "senior_tenor_basis": terms_v.tenor_basis if lease else "fixed",
            "senior_tenor_cap_years": int(terms_v.tenor[0]),
            "firm_end_years": json.dumps(info.get("firm_end_years", {})),
            "exit_cap_rate": terms_v.exit_cap_rate,
            "conventions": (
                "annual periods, payments at year end, first payment in year 1; "
                "IRR/NPV annual compounding with the first flow (-size) at t=0; "
                "equity terminal value at the horizon end from exit_cap_rate (0: none)"
            ),
            "rating_table": (
                "Moody's idealized cumulative expected default rates, 1-year "
                "horizon: " + json.dumps(IDEALIZED_PD_1Y)
            ),
        }
    )



def finance(
    inputs: StudyInputs | xr.Dataset,
    outcomes: xr.Dataset,
    plan: xr.Dataset,
    options: FinanceOptions | None = None,
    **legacy: Any,
) -> xr.Dataset:
    """The finance stage: size, run and price the capital stack of the study's plan.

    The same call the pipeline (``gridcap run``) makes; see :func:`finance_project` for the
    method and the returned variables.

    Parameters
    ----------
    inputs : gridcap.schema.StudyInputs
        Study inputs: ``finance`` (terms, docs/data-model.md §1) and ``sites`` (conversion
        capex when the plan has no ``capex_usd``) are read.
    outcomes : xarray.Dataset
        Monte Carlo outcomes (docs/data-model.md §2).
    plan : xarray.Dataset
        Siting plan (docs/data-model.md §3).
    options : FinanceOptions, optional
        Stage options (``cfg.finance_options()`` for a study); default
        :class:`~gridcap.optimizer.financing.options.FinanceOptions`.
    **legacy
        Only for the earlier form ``finance(plan, outcomes, terms, **keywords)`` (a plan
        Dataset first), kept working: it is :func:`finance_project`.

    Returns
    -------
    xarray.Dataset
        Sizes, schedules, waterfall results, risk metrics, prices and token units.
    """
    if isinstance(inputs, xr.Dataset):  # earlier call shape: (plan, outcomes, terms, **kw)
        return finance_project(inputs, outcomes, plan, **legacy)
    if legacy:
        raise GridcapInputError(
            f"finance(inputs, outcomes, plan, options): unexpected keywords {sorted(legacy)}; "
            "put them in FinanceOptions"
        )
    o = FinanceOptions() if options is None else options
    return finance_project(
        plan,
        outcomes,
        inputs.finance,
        sites=inputs.sites,
        project=o.project,
        sizing=o.sizing,
        sizing_profile=o.sizing_profile,
        capex_usd=o.capex_usd,
        sizing_scenarios=o.sizing_scenarios,
        time_limit_s=o.time_limit_s,
        method=o.method,
        ledger_scenario=o.ledger_scenario,
    )


def finance_project(
    plan: xr.Dataset,
    outcomes: xr.Dataset,
    terms: xr.Dataset,
    *,
    project: str = _OPTIONS.project,
    sizing: str = _OPTIONS.sizing,
    sizing_profile: str = _OPTIONS.sizing_profile,
    sites: xr.Dataset | None = None,
    capex_usd: float | None = _OPTIONS.capex_usd,
    sizing_scenarios: int = _OPTIONS.sizing_scenarios,
    time_limit_s: float = _OPTIONS.time_limit_s,
    method: str = _OPTIONS.method,
    ledger_scenario: int | None = _OPTIONS.ledger_scenario,
) -> xr.Dataset:
    """Size, run and price the capital stack of a plan's project over every scenario.

    The building block under :func:`finance`, for a plan, outcomes and terms without study
    inputs; keyword defaults are those of
    :class:`~gridcap.optimizer.financing.options.FinanceOptions`.

    Parameters
    ----------
    plan : xarray.Dataset
        Siting plan (docs/data-model.md §3): ``converted`` (site) [0/1], optionally
        ``conversion_year`` [year], ``capex_usd`` (site) [$], ``flex_contracted_kw`` [kW].
    outcomes : xarray.Dataset
        Monte Carlo outcomes (§2): ``site_cfads_usd`` and ``pool_cfads_usd`` [$] over
        (scenario, site|pool, year).
    terms : xarray.Dataset
        Finance terms (§1). Optional extra terms: ``default_grace_years`` [yr] (default 1),
        ``sweep_fraction`` [1] (0: pure lock-up), ``risk_free_rate`` [1/yr] (0.04).
    project : str
        ``"portfolio"``, ``"sites"``, ``"pools"`` or one site / pool label.
    sizing : {"milp", "cvar", "dscr"}
        Which sizing sets the tranches run through the waterfall: PD-targeted chance MILP
        (default), its CVaR LP approximation, or DSCR sculpting on the median CFADS. All
        three are reported in ``size_by_method_usd``.
    sizing_profile : {"free", "sculpted"}
        Debt-service shape of the PD-targeted sizing: one service per year (``free``: the
        largest tranche meeting the target) or a single scale on the median CFADS left after
        senior (``sculpted``: zero whenever one allowed-to-pay scenario loses money in a year).
    sites : xarray.Dataset, optional
        Site inputs, for conversion capex when the plan has no ``capex_usd``.
    capex_usd : float, optional
        Project capex [$], overriding the plan/sites.
    sizing_scenarios : int
        Most scenarios in the sizing models (an evenly spaced subset beyond) [1].
    time_limit_s : float
        HiGHS time limit per sizing model [s].
    method : {"auto", "xp", "numba", "python"}
        Waterfall implementation (``auto``: numba above 20,000 scenario-years, else xp).
    ledger_scenario : int, optional
        Position of the scenario written to the distribution ledger; default the scenario
        with the median total CFADS.

    Returns
    -------
    xarray.Dataset
        Sizes, schedules, waterfall results, risk metrics, prices and token units (the
        variables of docs/data-model.md §4); the JSON rule set in
        ``attrs["waterfall_rules_json"]`` and the ledger in ``ledger_cents``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(1)
    >>> out = xr.Dataset({"site_cfads_usd": (("scenario", "site", "year"),
    ...     rng.normal(1e7, 2e6, (64, 1, 5)))}, coords={"scenario": np.arange(64),
    ...     "site": ["a"], "year": np.arange(2026, 2031)})
    >>> plan = xr.Dataset({"converted": ("site", [1]), "capex_usd": ("site", [6e7])},
    ...                   coords={"site": ["a"]})
    >>> ds = finance_project(plan, out, finance_terms())
    >>> bool(ds["tranche_size_usd"].sel(tranche="senior") > 0)
    True
    """
    cfda, cf, capex, info, terms_v, coupon_credit = _stack_inputs(
        plan, outcomes, terms, project, sizing, sites, capex_usd
    )
    sized, lease = _sized_stack(
        cf, info, terms_v, capex, outcomes, sizing, sizing_profile, sizing_scenarios, time_limit_s
    )
    run = _run_stack(cf, cfda, sized, terms_v, capex, outcomes, method)
    ledger = _token_ledger(cf, run, terms_v, ledger_scenario)
    ds = _stack_dataset(cfda, cf, sized, run, ledger, terms_v)
    mkt = site_market_check(outcomes, plan, terms_v)
    if mkt is not None:
        ds = ds.merge(mkt)
        ds.attrs.update(mkt.attrs)
    ds.attrs.update(_stack_attrs(
        cfda, capex, info, sized, run, ledger, terms_v,
        project=project, sizing=sizing, sizing_profile=sizing_profile,
        coupon_credit=coupon_credit, lease=lease,
    ))  # fmt: skip
    return ds


def write_finance_files(ds: xr.Dataset, directory: str | Path) -> dict[str, Path]:
    """Write the waterfall rule set (JSON) and the distribution ledger (CSV) of a result.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`finance`, or a ``results.nc`` of ``gridcap run`` (finance attrs
        nested as JSON under ``attrs["finance"]``).
    directory : path
        Folder to write ``waterfall_rules.json`` and ``distribution_ledger.csv`` into.

    Returns
    -------
    dict
        ``{"rules": path, "ledger": path}``;
        :func:`gridcap.optimizer.financing.tokens.replay_ledger` on the two returns no mismatch.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if "waterfall_rules_json" in ds.attrs:
        rules = json.loads(ds.attrs["waterfall_rules_json"])
    elif "finance" in ds.attrs:  # a merged results.nc keeps the finance attrs as JSON
        rules = json.loads(json.loads(ds.attrs["finance"])["waterfall_rules_json"])
    else:
        raise GridcapInputError(
            "ds.attrs: no 'waterfall_rules_json': expected the output of finance() or a "
            "results file written by gridcap run"
        )
    fields = [str(f) for f in ds["ledger_field"].values]
    led = np.asarray(ds["ledger_cents"].values)
    rows = [{f: int(v) for f, v in zip(fields, row, strict=True)} for row in led]
    return {
        "rules": tok.write_rules_json(rules, d / "waterfall_rules.json"),
        "ledger": tok.write_ledger_csv(rows, d / "distribution_ledger.csv"),
    }
