"""From kilowatt-hour to AI token: trace, price and hedge the whole chain per million tokens.

Every MWh a data center of the plan consumes is traced to its source, turned into GPU-hours
and tokens, priced per million tokens (energy, capacity/flexibility, capital recovery by
tranche, GPU depreciation, opex) with its distribution over the Monte Carlo scenarios, and
the scenario variance of the equity return is split over the links of the chain (energy,
grid/flexibility, data center, GPU, AI revenue, financing), with and without hedges
(a fixed-price PPA, a firm flexibility contract). A per-period ledger links
MWh → GPU-hours → tokens → cash per tranche unit, machine-readable.

Entry points: :func:`trace_chain` (xarray in, xarray out), :func:`chain_ledger` /
:func:`write_chain_ledger` (pandas / CSV) and :func:`chain_summary_rows` (run summary).
The arithmetic lives in small array functions (:func:`attribute_energy`,
:func:`product_shapley`, :func:`variance_shares`) that the tests check on their own.

Assumptions and their sources (``[compute]`` table of the study config)
-----------------------------------------------------------------------
``tokens_per_gpu_hour`` = 1.0e7 [tokens/GPU-h]
    70B-class LLM inference on an H100-SXM-80GB: MLPerf Inference v4.1 (MLCommons, Aug 2024,
    closed division, HPE Cray XD670 8x H100-SXM-80GB, TensorRT), ``llama2-70b-99``:
    24,528 tokens/s Offline and 23,133 tokens/s Server for 8 GPUs, i.e. 3,066 and 2,892
    tokens/s per GPU = 1.10e7 and 1.04e7 tokens per GPU-hour. 1.0e7 is the Server figure,
    rounded down (production traffic runs below the benchmark's saturated batches).
``gpus_per_mw`` = 780 [GPU/MW of IT load]
    NVIDIA DGX H100: 8 GPUs, system power ~10.2 kW max (NVIDIA DGX H100 datasheet / user
    guide) → 1.275 kW of IT load per GPU → 784 GPUs per MW; 780 rounds it down.
``gpu_capex_usd`` = 35,000 [$/GPU]
    All-in cost per GPU: DGX H100 list price ~$199,000 for 8 GPUs (~$24,900 per GPU for the
    server) plus the cluster's share of InfiniBand fabric, storage and installation (~40%).
``gpu_life_years`` = 5 [yr]
    Seed article (“old GPUs may be obsolete within ~5 years”); straight-line depreciation.
``ppa_price_usd_per_mwh`` = 0 [$/MWh]
    0 = the data centers buy energy at the market price; > 0 = a load-following fixed-price
    PPA at that price replaces the market cost in the cost stack. The risk map always shows
    the effect of a PPA (at this price, or at the energy-weighted mean market price if 0).
``pue`` = 1.3 [1] (optional key; :data:`DEFAULT_PUE` when the config has none)
    Facility energy / IT energy. Uptime Institute Global Data Center Survey: industry average
    1.55-1.58 (2020-2024), new large facilities 1.3 or better; a new liquid-cooled AI hall
    is the latter kind.
DER flexibility delivered is shed or shifted load: its emission factor is 0 (the MWh was not
generated); grid purchases use the region's average emission factor and own/contracted
generation the technology's factor (``datasets/data/emission_factors.csv``, cited there).

Method
------
*Energy attribution* (per scenario s, region r, year y). Supply attributable to the region's
AI data centers, by source k: generation of the plan's new capacity, ``online_mw × CF ×
8760`` (CF: ``solar_cf``/``wind_cf`` hour-weighted for solar/wind, ``availability`` for firm
technologies, 0 for storage, which only shifts energy; :data:`NON_GENERATION_TECHS` such as
``mine_conversion`` are left out), and DER flexibility delivered,
``Σ_event delivered_kw/committed_kw × event_duration_h × flex_contracted_kw`` (scaled from
the simulated hours to a year). New capacity is additional
supply built for the AI load, so the AI loads claim it first, up to their consumption:
``claimed_k = supply_k × min(1, E_r / Σ_k supply_k)``, shared among the region's data
centers pro rata their consumption; grid purchases are the rest,
``grid_d = E_d − Σ_k claimed_dk`` ≥ 0. The sources sum to each site's consumption exactly
(to float round-off).

*Data centers*: converted mines take the Monte Carlo site outcomes; a site the plan converts
in year ``y0 + k`` runs the outcome's converted timeline ``k`` years late (the finance stage's
convention). New builds are the plan's ``ai_new_build_mw`` per region.

*Compute*: GPU-hours are those the Monte Carlo sold, ``site_revenue_usd /
gpu_price_usd_per_gpu_hour`` (converted mines), and ``MW / PUE × gpus_per_mw × u × 8760``
for new builds (``ai_new_build_mw`` of the plan, facility MW; one MW of IT load busy for one
hour is ``gpus_per_mw`` GPU-hours); ``tokens = GPU-hours × tokens_per_gpu_hour``.

*Cost stack* [$] per scenario, data center and year; per million tokens = cost / tokens × 1e6:
energy (market cost, or ``E × PPA price``), capacity/flexibility (the data center's peak kW
``P = E / (8760 u) × 1000``: the flexibility-covered part ``F`` pays the flexibility price, the
rest and any delivery shortfall pay the capacity value:
``F f + (P − F ρ) c`` with ρ the scenario's delivery ratio), senior / mezzanine / equity (the
finance stage's per-scenario ``tranche_cash_usd``, senior plus ``refinancing_cash_usd`` (the
lender of a refinanced balloon), allocated to the financed data centers —
the converted mines — pro rata their positive CFADS within the financed project's
``cfads_usd``, whose rest belongs to DER pools and pre-conversion mining years, or pro rata
their revenue in a year when no part of the project has positive CFADS; new builds
are not in the financed project and carry no tranche cash), GPU depreciation (GPUs × share
of the year online ``= GPU-hours / (8760 u)``, × ``gpu_capex / gpu_life``) and opex (revenue
− energy cost − CFADS − the site model's GPU charge, i.e. the data hall's own operating
cost; the GPUs are costed once, by depreciation).
The total is the sum of the components.

*Risk exposure map*: the equity value of scenario s is a linear sum of link cash flows
(present values at the finance ``discount_rate``): ``Y = Σ_k X_k`` with X_energy = −energy
cost, X_grid_flex = −capacity/flexibility cost, X_data_center = −opex, X_financing = −debt
service, X_gpu ∋ −GPU depreciation, and revenue ``R = G p`` (GPU-hours × realised
$/GPU-h) split by the two-factor Shapley rule about the scenario means
``ΔR_ai = (G − Ḡ)(p + p̄)/2`` (AI demand/utilisation) and ``ΔR_gpu = (p − p̄)(G + Ḡ)/2``
(GPU-hour price), which adds up exactly. The share of the variance of Y that link k explains
is its Shapley value in the variance game ``v(S) = Var(Σ_{k∈S} X_k)``, which for a sum is
the covariance allocation ``φ_k = Cov(X_k, Y) / Var(Y)``; the shares add to 1 exactly (a
link that offsets others has a negative share). Hedges replace a link's cash flow: a PPA
fixes energy at ``E × price``; a firm flexibility contract fixes the capacity/flexibility
cost at its scenario mean (an actuarially fair premium). Debt service is held at the finance
stage's flows (the waterfall is not re-run under a hedge). The map covers the financed data
centers (all data centers when none is financed). When the finance results carry the
per-scenario equity IRR, ``chain_irr_risk_share`` regresses it on the link values (OLS) and
splits the explained variance by the same covariance rule (shares sum to 1; ``R²`` in
``attrs["chain_irr_r2"]``), a check that the linear equity value tracks the IRR.

References
----------
.. [1] MLCommons, MLPerf Inference v4.1 results, datacenter closed division (Aug 2024).
.. [2] NVIDIA, DGX H100 datasheet / user guide: 8x H100 SXM, system power ~10.2 kW max.
.. [3] Uptime Institute, Global Data Center Survey (2023, 2024): average PUE 1.55-1.58.
.. [4] Colini-Baldeschi, Scarsini, Vaccari (2018), "Variance allocation and Shapley value",
   Methodology and Computing in Applied Probability 20, 919-933.
.. [5] Owen (2014), "Sobol' indices and Shapley value", SIAM/ASA J. Uncertainty
   Quantification 2, 245-251.

Example
-------
>>> ds = trace_chain(inputs, outcomes, plan_ds, finance_ds, cfg.compute)   # doctest: +SKIP
>>> ds.chain_portfolio_usd_per_mtok_total.quantile([0.1, 0.5, 0.9], "scenario")  # +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcap.errors import GridcapInputError
from gridcap.kernels.compute import ComputeAssumptions
from gridcap.params import param_table

if TYPE_CHECKING:
    from gridcap.schema import StudyInputs

HOURS_PER_YEAR = 8760.0
#: Default facility/IT energy ratio when the compute section has no ``pue`` [1] (see [3]).
DEFAULT_PUE = float(ComputeAssumptions().pue)
#: Duration of a flexibility event when the outcomes carry no ``event_duration_h`` [h].
EVENT_HOURS = 1.0
#: Emission factor of delivered DER flexibility (shed/shifted load) [kg/MWh].
FLEX_CO2_KG_PER_MWH = 0.0
#: Numeric compute keys: name -> (default, unit, lower bound, lower bound open), read from
#: the owner of the ``[compute]`` table, :class:`gridcap.kernels.compute.ComputeAssumptions`.
COMPUTE_KEYS: dict[str, tuple[Any, str, float, bool]] = {
    p.name: (p.default, p.unit, float(p.lo or 0.0), p.lo_open)
    for p in param_table(ComputeAssumptions)
    if p.kind is float
}
#: Cost-stack components, in stack order.
COSTS: tuple[str, ...] = (
    "energy", "capacity_flex", "senior", "mezzanine", "equity", "gpu_depreciation", "opex",
)
#: Links of the chain in the risk map.
LINKS: tuple[str, ...] = ("energy", "grid_flex", "data_center", "gpu", "ai_revenue", "financing")
#: Hedge cases of the risk map.
HEDGES: tuple[str, ...] = ("none", "ppa", "flex_contract", "ppa_and_flex")
TRANCHES: tuple[str, ...] = ("senior", "mezzanine", "equity")
QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
GRID = "grid"
FLEX = "der_flex"
#: Technologies of the plan that generate no energy of their own: a mine conversion reuses
#: an interconnection (datasets/data/provenance.csv: "not generation").
NON_GENERATION_TECHS: frozenset[str] = frozenset({"mine_conversion"})


# ----------------------------------------------------------------------------- helpers


def _attrs(units: str, doc: str) -> dict[str, str]:
    return {"units": units, "long_name": doc}


def compute_params(compute: Any) -> dict[str, Any]:
    """Read and check the ``[compute]`` assumptions from a config section or a dict.

    Parameters
    ----------
    compute : object or mapping
        ``cfg.compute`` or a dict with the keys of :data:`COMPUTE_KEYS` (and ``model_class``).
        Missing keys take their defaults.

    Returns
    -------
    dict
        ``tokens_per_gpu_hour`` [tokens/GPU-h], ``gpus_per_mw`` [GPU/MW],
        ``gpu_capex_usd`` [$/GPU], ``gpu_life_years`` [yr], ``ppa_price_usd_per_mwh``
        [$/MWh], ``pue`` [1], ``model_class`` [text].

    Raises
    ------
    GridcapInputError
        Naming every key whose value is not a finite number within its bounds.
    """
    def get(key: str, default: Any) -> Any:
        if compute is None:
            return default
        if isinstance(compute, Mapping):
            return compute.get(key, default)
        return getattr(compute, key, default)

    out: dict[str, Any] = {"model_class": str(get("model_class", "unspecified"))}
    problems = []
    for key, (default, unit, lo, lo_open) in COMPUTE_KEYS.items():
        value = get(key, default)
        try:
            v = float(value)
        except (TypeError, ValueError):
            problems.append(f"compute.{key} = {value!r}: expected a number [{unit}]")
            continue
        ok = np.isfinite(v) and (v > lo if lo_open else v >= lo)
        if not ok:
            bound = f"> {lo:g}" if lo_open else f">= {lo:g}"
            problems.append(f"compute.{key} = {value!r}: expected a finite number {bound} [{unit}]")
        out[key] = v
    if problems:
        raise GridcapInputError("; ".join(problems))
    return out


def _need(ds: xr.Dataset, names: Sequence[str], what: str) -> None:
    missing = [n for n in names if n not in ds]
    if missing:
        raise GridcapInputError(
            f"{what} lacks {missing}: trace_chain needs them (docs/data-model.md); "
            f"it has {sorted(map(str, ds.data_vars))}"
        )


def _arr(da: xr.DataArray, dims: Sequence[str]) -> np.ndarray:
    """``da`` as a float array with exactly ``dims`` (missing ones broadcast, extra summed)."""
    extra = [d for d in da.dims if d not in dims]
    if extra:
        da = da.sum(extra)
    for d in dims:
        if d not in da.dims:
            da = da.expand_dims(d)
    return np.asarray(da.transpose(*dims).values, dtype=np.float64)


def _labels(ds: xr.Dataset | xr.DataArray, dim: str) -> list[str]:
    return [str(v) for v in ds[dim].values]


# ----------------------------------------------------------------------------- pure arithmetic


def attribute_energy(
    consumption: np.ndarray, dc_region: np.ndarray, supply: np.ndarray
) -> np.ndarray:
    """Split each data center's consumption over its region's non-grid sources and the grid.

    Parameters
    ----------
    consumption : numpy.ndarray, shape (S, D, Y)
        Energy consumed by each data center [MWh], ≥ 0.
    dc_region : numpy.ndarray of int, shape (D,)
        Index of each data center's region in ``supply``'s second axis.
    supply : numpy.ndarray, shape (S, R, Y, K)
        Non-grid energy attributable to the AI loads of each region, by source [MWh], ≥ 0.

    Returns
    -------
    numpy.ndarray, shape (S, D, Y, K + 1)
        Energy by source [MWh]; the last source is the grid. Sums over the last axis equal
        ``consumption`` to float round-off.

    Notes
    -----
    With ``E_r = Σ_{d∈r} E_d`` and ``T_r = Σ_k supply_k``, the claimed share of every
    non-grid source is ``m = min(1, E_r / T_r)`` (0 when ``T_r = 0``), and

    .. math:: A_{dk} = \\mathrm{supply}_{rk}\\, m\\, E_d / E_r, \\qquad
              A_{d,\\mathrm{grid}} = E_d - \\sum_k A_{dk} \\ge 0.
    """
    consumption = np.asarray(consumption, dtype=np.float64)
    supply = np.asarray(supply, dtype=np.float64)
    S, D, Y = consumption.shape
    R, K = supply.shape[1], supply.shape[3]
    onehot = np.zeros((D, R))
    onehot[np.arange(D), np.asarray(dc_region, dtype=np.int64)] = 1.0
    e_region = np.einsum("sdy,dr->sry", consumption, onehot)            # (S, R, Y)
    total = supply.sum(axis=3)                                           # (S, R, Y)
    with np.errstate(divide="ignore", invalid="ignore"):
        claim = np.where(total > 0, np.minimum(1.0, e_region / np.where(total > 0, total, 1)), 0)
        # Fraction of the region's AI consumption met by source k: supply_k * claim / E_r.
        frac = np.where(
            e_region[..., None] > 0,
            supply * claim[..., None] / np.where(e_region > 0, e_region, 1)[..., None],
            0.0,
        )                                                                # (S, R, Y, K)
    frac_dc = frac[:, np.asarray(dc_region, dtype=np.int64)]             # (S, D, Y, K)
    out = np.empty((S, D, Y, K + 1))
    out[..., :K] = consumption[..., None] * frac_dc
    out[..., K] = consumption - out[..., :K].sum(axis=3)
    return out


def product_shapley(g: np.ndarray, p: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two-factor Shapley split of ``g·p`` about its mean point over ``axis``.

    Parameters
    ----------
    g, p : numpy.ndarray
        Volume (e.g. GPU-hours [GPU-h]) and price (e.g. [$/GPU-h]), same shape.
    axis : int
        The scenario axis the means are taken over.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``Δ_g = (g − ḡ)(p + p̄)/2`` and ``Δ_p = (p − p̄)(g + ḡ)/2`` [units of g·p], with
        ``Δ_g + Δ_p = g p − ḡ p̄`` exactly (up to round-off).
    """
    gm = np.mean(g, axis=axis, keepdims=True)
    pm = np.mean(p, axis=axis, keepdims=True)
    return (g - gm) * (p + pm) / 2.0, (p - pm) * (g + gm) / 2.0


def variance_shares(parts: np.ndarray) -> tuple[np.ndarray, float]:
    """Shares of ``Var(Σ_k X_k)`` explained by each part ``X_k`` (Shapley = covariance rule).

    Parameters
    ----------
    parts : numpy.ndarray, shape (S, K)
        Per-scenario contributions ``X_k`` of each link [$].

    Returns
    -------
    shares : numpy.ndarray, shape (K,)
        ``Cov(X_k, Y) / Var(Y)`` with ``Y = Σ_k X_k`` [1]; they sum to 1. All NaN when
        ``Var(Y) = 0``.
    variance : float
        ``Var(Y)`` (population variance over scenarios) [$²].

    Notes
    -----
    The Shapley value of link k in the game ``v(T) = Var(Σ_{j∈T} X_j)`` is
    ``Var(X_k) + Σ_{j≠k} Cov(X_k, X_j) = Cov(X_k, Y)`` [4]_, because every j precedes k in
    half of the orderings and ``v(T∪k) − v(T) = Var(X_k) + 2 Cov(X_k, Σ_T X_j)``.
    """
    parts = np.asarray(parts, dtype=np.float64)
    centred = parts - parts.mean(axis=0, keepdims=True)
    y = centred.sum(axis=1)
    var = float(np.mean(y * y))
    cov = (centred * y[:, None]).mean(axis=0)
    scale = max(1.0, float(np.max(np.abs(parts)))) if parts.size else 1.0
    if not np.isfinite(var) or var <= (1e-12 * scale) ** 2:
        return np.full(parts.shape[1], np.nan), var
    return cov / var, var


def regression_shares(parts: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Shares of ``Var(y)`` explained by each column of ``parts`` through an OLS fit.

    Parameters
    ----------
    parts : numpy.ndarray, shape (S, K)
        Regressors, e.g. link present values per scenario [$].
    y : numpy.ndarray, shape (S,)
        Response, e.g. the equity IRR per scenario [1/yr]; NaN rows are dropped.

    Returns
    -------
    shares : numpy.ndarray, shape (K,)
        ``β_k Cov(X_k, ŷ) / Var(ŷ)`` [1]: they sum to 1 over the explained variance
        (NaN when nothing is explained).
    r2 : float
        Coefficient of determination of the fit [1].

    Notes
    -----
    With OLS, ``Cov(X_k, y) = Cov(X_k, ŷ)`` and ``Var(ŷ) = Σ_k β_k Cov(X_k, ŷ)``, so the
    shares are the covariance (Shapley) rule applied to the fitted linear sum
    ``Σ_k β_k X_k``; for a response that is exactly ``Σ_k X_k`` they equal
    :func:`variance_shares`. Collinear or constant columns get a minimum-norm β.
    """
    parts = np.asarray(parts, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(parts).all(axis=1)
    K = parts.shape[1]
    if ok.sum() < 3:
        return np.full(K, np.nan), float("nan")
    X = parts[ok] - parts[ok].mean(axis=0)
    yc = y[ok] - y[ok].mean()
    scale = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    beta, *_ = np.linalg.lstsq(X / scale, yc, rcond=1e-10)
    contrib = (X / scale) * beta                                          # β_k X_k, (n, K)
    shares, var_fit = variance_shares(contrib)
    var_y = float(np.mean(yc * yc))
    r2 = var_fit / var_y if var_y > 0 else float("nan")
    return shares, r2


def quantiles(x: np.ndarray, qs: Sequence[float] = QUANTILES, axis: int = 0) -> np.ndarray:
    """Quantiles over scenarios, ignoring NaN (linear interpolation) [units of x]."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanquantile(np.asarray(x, dtype=np.float64), list(qs), axis=axis)


# ----------------------------------------------------------------------------- inputs → arrays


@dataclass
class _Chain:
    """Normalised arrays of the chain (S scenarios, D data centers, Y years)."""

    scenario: np.ndarray
    year: np.ndarray
    dc: list[str]
    dc_kind: list[str]
    dc_region: list[str]
    regions: list[str]
    energy: np.ndarray        # (S, D, Y) MWh
    gpu_hours: np.ndarray     # (S, D, Y) GPU-h sold
    market_cost: np.ndarray   # (S, D, Y) $
    revenue: np.ndarray       # (S, D, Y) $
    opex: np.ndarray          # (S, D, Y) $ (excluding the GPUs)
    cfads: np.ndarray         # (S, D, Y) $
    utilization: np.ndarray   # (S, D, Y) 1, the utilization each site's year ran at
    financed: np.ndarray      # (D,) bool, in the finance stage's portfolio


def _kernel_site_constants(outcomes: xr.Dataset) -> dict[str, float]:
    """The Monte Carlo site model's GPU charge [$/GPU-h] and data-hall opex [$/MW-IT-yr].

    The charge is the one the outcomes were simulated with (``attrs``), else the kernel
    default (outcomes written before the attribute existed).
    """
    from gridcap.kernels import sites as ks

    charge = outcomes.attrs.get("site_gpu_charge_usd_per_gpu_hour",
                                ks.GPU_COST_USD_PER_GPU_HOUR)
    return {"gpu_charge": float(charge), "opex_per_mw_it": float(ks.AI_OPEX_USD_PER_MW_YR)}


def _conversion_shift(plan: xr.Dataset | None, sites: list[str], years: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Which sites the plan converts, and by how many years its conversion starts late.

    Returns ``(converted (site,) bool, shift (site,) int [yr])``. The Monte Carlo site
    outcomes assume the conversion starts in the first planning year; a site converted in
    year ``y0 + k`` runs its converted timeline ``k`` years later (the finance stage's
    convention, :func:`gridcap.optimizer.financing.project.project_cfads`). Without a plan every
    site counts as converted in the first year.
    """
    n = len(sites)
    if plan is None or "converted" not in plan:
        return np.ones(n, dtype=bool), np.zeros(n, dtype=np.int64)
    conv = plan["converted"]
    if "site" in conv.dims:
        conv = conv.reindex(site=sites, fill_value=0)
    shift = np.zeros(n, dtype=np.int64)
    if "year" in conv.dims:  # a running 0/1 indicator per year
        c = _arr(conv.reindex(year=years, fill_value=0), ("site", "year")) > 0.5
        converted = np.asarray(c.any(axis=1), dtype=bool)
        shift = np.where(converted, np.argmax(c, axis=1), 0)
        return converted, np.asarray(shift, dtype=np.int64)
    converted = _arr(conv, ("site",)) > 0.5
    cy = plan.get("conversion_year")
    if cy is not None and "site" in cy.dims:
        cyv = np.asarray(cy.reindex(site=sites, fill_value=-1).values, dtype=np.float64)
        ok = np.isfinite(cyv) & (cyv >= years[0])
        shift = np.where(ok, np.nan_to_num(cyv) - years[0], 0).astype(np.int64)
    return converted, shift


def _shift(a: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Delay each site's yearly series (axis 2) by ``shift[site]`` years, zeros before."""
    out = np.zeros_like(a)
    Y = a.shape[2]
    for k, sh in enumerate(shift):
        if sh < Y:
            out[:, k, sh:] = a[:, k, : Y - sh]
    return out


def _mean_price(outcomes: xr.Dataset) -> xr.DataArray:
    """Hour-weighted mean price over slices, dims (scenario, region, year) [$/MWh]."""
    price = outcomes["price_usd_per_mwh"]
    if "slice" not in price.dims:
        return price
    w = outcomes["slice_hours"] if "slice_hours" in outcomes.variables else \
        xr.ones_like(price["slice"], dtype=float)
    return (price * w).sum("slice") / w.sum("slice")


def _new_build_mw(plan: xr.Dataset | None, regions: list[str], years: np.ndarray) -> np.ndarray:
    """New-build AI facility MW per (region, year) from the plan's ``ai_new_build_mw``."""
    if plan is None or not regions:
        return np.zeros((len(regions), len(years)))
    for name in ("ai_new_build_mw", "ai_newbuild_mw"):
        if name in plan and "region" in plan[name].dims:
            da = plan[name].reindex(region=regions, fill_value=0.0)
            if "year" in da.dims:
                da = da.reindex(year=years, fill_value=0.0)
            return np.maximum(np.nan_to_num(_arr(da, ("region", "year"))), 0.0)
    return np.zeros((len(regions), len(years)))


def _gather(
    inputs: Any, outcomes: xr.Dataset, plan: xr.Dataset | None, params: dict[str, Any]
) -> _Chain:
    """Data centers (converted mines and new builds) with energy, cost and revenue arrays.

    Converted mines take the Monte Carlo site outcomes (masked by the plan's conversions);
    GPU-hours sold are ``site_revenue_usd / gpu_price_usd_per_gpu_hour`` and opex is
    ``revenue − power cost − CFADS − GPU charge`` (the site model's GPU capacity charge,
    ``GPU_COST_USD_PER_GPU_HOUR × GPU-hours / u``, is replaced in the cost stack by the
    config's GPU depreciation). New builds (``ai_new_build_mw`` [MW facility]) run the same
    economics: energy ``MW × 8760 × u``, GPU-hours ``MW / PUE × gpus_per_mw × u × 8760``,
    energy bought at the region's hour-weighted mean price, opex per MW IT of the site model.
    """
    _need(outcomes, ["ai_utilization", "gpu_price_usd_per_gpu_hour"], "Monte Carlo outcomes")
    scenario = np.asarray(outcomes["scenario"].values)
    years = np.asarray(outcomes["year"].values)
    S, Y = len(scenario), len(years)
    util = _arr(outcomes["ai_utilization"], ("scenario", "year"))
    gpu_price = _arr(outcomes["gpu_price_usd_per_gpu_hour"], ("scenario", "year"))
    regions = _labels(outcomes, "region") if "region" in outcomes.dims else []
    k = _kernel_site_constants(outcomes)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_u = np.where(util > 0, 1.0 / np.where(util > 0, util, 1.0), 0.0)[:, None]

    names: list[str] = []
    kinds: list[str] = []
    dc_regions: list[str] = []
    keys = ("e", "g", "c", "r", "o", "f", "u")
    blocks: dict[str, list[np.ndarray]] = {key: [] for key in keys}

    site_vars = ["site_ai_energy_mwh", "site_power_cost_usd", "site_revenue_usd", "site_cfads_usd"]
    if "site" in outcomes.dims and outcomes.sizes["site"] > 0:
        _need(outcomes, site_vars, "Monte Carlo outcomes")
        sites = _labels(outcomes, "site")
        converted, shift = _conversion_shift(plan, sites, years)
        dims = ("scenario", "site", "year")
        e = _arr(outcomes["site_ai_energy_mwh"], dims)
        c = _arr(outcomes["site_power_cost_usd"], dims)
        r = _arr(outcomes["site_revenue_usd"], dims)
        f = _arr(outcomes["site_cfads_usd"], dims)
        gp = gpu_price[:, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(gp > 0, r / np.where(gp > 0, gp, 1.0),
                         e / params["pue"] * params["gpus_per_mw"])
        o = r - c - f - k["gpu_charge"] * g * inv_u
        u = np.broadcast_to(util[:, None, :], e.shape)
        arrays = [_shift(a, shift) for a in (e, g, c, r, o, f, u)]
        keep = np.flatnonzero(converted & (arrays[0].sum(axis=(0, 2)) > 0))
        site_region = _site_regions(inputs, outcomes, sites)
        for i in keep:
            names.append(sites[i])
            kinds.append("converted_mine")
            dc_regions.append(site_region[i])
        for key, a in zip(keys, arrays, strict=True):
            blocks[key].append(a[:, keep])

    newbuild = _new_build_mw(plan, regions, years)
    nb_keep = np.flatnonzero(newbuild.sum(axis=1) > 0)
    if nb_keep.size:
        _need(outcomes, ["price_usd_per_mwh"], "Monte Carlo outcomes")
        price = _arr(_mean_price(outcomes).reindex(region=regions), ("scenario", "region", "year"))
        for j in nb_keep:
            it_mw = newbuild[j][None, :] / params["pue"]                   # (1, Y)
            e = newbuild[j][None, :] * HOURS_PER_YEAR * util                # (S, Y)
            g = it_mw * params["gpus_per_mw"] * util * HOURS_PER_YEAR
            c = e * price[:, j]
            r = g * gpu_price
            o = np.broadcast_to(k["opex_per_mw_it"] * it_mw, (S, Y))
            f = r - c - o - k["gpu_charge"] * g * inv_u[:, 0]
            u = util
            names.append(f"newbuild/{regions[j]}")
            kinds.append("new_build")
            dc_regions.append(regions[j])
            for key, a in zip(keys, (e, g, c, r, o, f, u), strict=True):
                blocks[key].append(np.asarray(a)[:, None])

    def cat(key: str) -> np.ndarray:
        return np.concatenate(blocks[key], axis=1) if blocks[key] else np.zeros((S, 0, Y))

    for reg in dc_regions:
        if reg not in regions:
            regions.append(reg)
    financed = np.asarray([kd == "converted_mine" for kd in kinds], dtype=bool)
    return _Chain(scenario, years, names, kinds, dc_regions, regions, cat("e"), cat("g"),
                  cat("c"), cat("r"), cat("o"), cat("f"), cat("u"), financed)


def _site_regions(inputs: Any, outcomes: xr.Dataset, sites: list[str]) -> list[str]:
    for source in (outcomes.coords, getattr(inputs, "sites", None)):
        if source is None:
            continue
        for name in ("site_region", "region"):
            if name in source and "site" in source[name].dims:
                da = source[name]
                if "site" in da.coords:
                    da = da.sel(site=sites)
                return [str(v) for v in da.values]
    raise GridcapInputError(
        "trace_chain needs each site's region: give inputs.sites.region or an outcomes "
        "coordinate site_region (dims site)"
    )


# ----------------------------------------------------------------------------- supply


def _generation_supply(
    inputs: Any, outcomes: xr.Dataset, plan: xr.Dataset | None, ch: _Chain
) -> tuple[list[str], np.ndarray]:
    """Energy of the plan's new capacity per (scenario, region, year, tech) [MWh]."""
    S, Y, R = len(ch.scenario), len(ch.year), len(ch.regions)
    if plan is None or "online_mw" not in plan or "tech" not in plan["online_mw"].dims:
        return [], np.zeros((S, R, Y, 0))
    online = plan["online_mw"]
    techs = [t for t in _labels(online, "tech") if t not in NON_GENERATION_TECHS]
    online = online.sel(tech=techs)
    online = online.reindex(region=ch.regions, fill_value=0.0) if "region" in online.dims \
        else online
    if "year" in online.dims:
        online = online.reindex(year=ch.year, fill_value=0.0)
    mw = np.nan_to_num(_arr(online, ("region", "tech", "year")))         # (R, T, Y)
    cf = np.zeros((S, R, len(techs)))
    tech_ds = getattr(inputs, "technologies", None)
    hours = outcomes["slice_hours"] if "slice_hours" in outcomes.variables else None

    def mean_cf(name: str) -> np.ndarray:
        if name not in outcomes:
            return np.zeros((S, R))
        da = outcomes[name]
        if "slice" in da.dims:
            w = hours if hours is not None else xr.ones_like(da["slice"], dtype=float)
            da = (da * w).sum("slice") / w.sum("slice")
        return np.nan_to_num(_arr(da.reindex(region=ch.regions), ("scenario", "region")))

    for t, tech in enumerate(techs):
        profile, avail = "firm", 1.0
        if tech_ds is not None and "tech" in tech_ds.dims and tech in _labels(tech_ds, "tech"):
            row = tech_ds.sel(tech=tech)
            profile = str(row["profile"].values) if "profile" in row else "firm"
            avail = float(row["availability"].values) if "availability" in row else 1.0
        if profile == "solar":
            cf[:, :, t] = mean_cf("solar_cf")
        elif profile == "wind":
            cf[:, :, t] = mean_cf("wind_cf")
        elif profile == "storage":
            cf[:, :, t] = 0.0
        else:
            cf[:, :, t] = avail
    gen = cf[:, :, :, None] * mw[None] * HOURS_PER_YEAR                  # (S, R, T, Y)
    return techs, np.transpose(gen, (0, 1, 3, 2))


def _flex(outcomes: xr.Dataset, plan: xr.Dataset | None, ch: _Chain) -> dict[str, np.ndarray]:
    """Flexibility energy, contracted kW, delivery ratio and price per (scenario, region, year)."""
    S, Y, R = len(ch.scenario), len(ch.year), len(ch.regions)
    out = {
        "energy": np.zeros((S, R, Y)), "kw": np.zeros((R, Y)), "ratio": np.ones((S, R)),
        "price": np.zeros((R, Y)), "capacity_value": np.zeros((R, Y)),
    }
    if plan is not None and "capacity_value_usd_per_kw_yr" in plan:
        cv = plan["capacity_value_usd_per_kw_yr"]
        cv = cv.reindex(region=ch.regions, fill_value=0.0) if "region" in cv.dims else cv
        if "year" in cv.dims:
            cv = cv.reindex(year=ch.year, fill_value=0.0)
        out["capacity_value"] = np.nan_to_num(_arr(cv, ("region", "year")))
    if plan is None or "flex_contracted_kw" not in plan or "pool" not in outcomes.dims:
        return out
    pools = _labels(outcomes, "pool")
    pool_region = (
        [str(v) for v in outcomes["pool_region"].values] if "pool_region" in outcomes.coords
        or "pool_region" in outcomes else [p.split("/")[0] for p in pools]
    )
    contracted = plan["flex_contracted_kw"].reindex(pool=pools, fill_value=0.0)
    if "year" in contracted.dims:
        contracted = contracted.reindex(year=ch.year, fill_value=0.0)
    kw = np.nan_to_num(_arr(contracted, ("pool", "year")))                # (P, Y)
    # Delivered energy per committed kW over the simulated year [kWh/kW] and delivery ratio.
    if "event_delivered_kw" in outcomes and "event_committed_kw" in outcomes:
        dlv = np.nan_to_num(_arr(outcomes["event_delivered_kw"], ("scenario", "pool", "event")))
        com = np.nan_to_num(_arr(outcomes["event_committed_kw"], ("scenario", "pool", "event")))
        if "event_duration_h" in outcomes and "region" in outcomes["event_duration_h"].dims:
            dur_r = outcomes["event_duration_h"].reindex(region=sorted(set(pool_region)))
            regs = _labels(dur_r, "region")
            dur_arr = np.nan_to_num(_arr(dur_r, ("scenario", "region", "event")))
            dur = dur_arr[:, [regs.index(r) for r in pool_region]]          # (S, P, E)
        else:
            dur = np.full(dlv.shape, EVENT_HOURS)
        scale = HOURS_PER_YEAR / float(outcomes.attrs.get("hours", HOURS_PER_YEAR))
        with np.errstate(divide="ignore", invalid="ignore"):
            per_event = np.where(com > 0, dlv / np.where(com > 0, com, 1), 0.0)
            kwh_per_kw = (per_event * dur).sum(axis=2) * scale               # (S, P) [h]
            tot_c = com.sum(axis=2)
            ratio = np.where(tot_c > 0, dlv.sum(axis=2) / np.where(tot_c > 0, tot_c, 1), 1.0)
    else:
        kwh_per_kw = np.zeros((S, len(pools)))
        if "flex_delivery_ratio" in outcomes:
            ratio = _arr(outcomes["flex_delivery_ratio"], ("scenario", "pool", "slice")).mean(2)
        else:
            ratio = np.ones((S, len(pools)))
    price = np.zeros((len(pools), Y))
    if "flex_price_usd_per_kw_yr" in plan:
        fp = plan["flex_price_usd_per_kw_yr"]
        if "year" in fp.dims:
            fp = fp.reindex(year=ch.year, fill_value=0.0)
        if "pool" in fp.dims:
            price = np.nan_to_num(_arr(fp.reindex(pool=pools, fill_value=0.0), ("pool", "year")))
        elif "region" in fp.dims:
            regs = sorted(set(pool_region))
            arr = np.nan_to_num(_arr(fp.reindex(region=regs, fill_value=0.0), ("region", "year")))
            price = arr[[regs.index(r) for r in pool_region]]
    for p, reg in enumerate(pool_region):
        if reg not in ch.regions:
            continue
        r = ch.regions.index(reg)
        out["energy"][:, r] += kwh_per_kw[:, p, None] * kw[None, p] / 1000.0
        out["kw"][r] += kw[p]
        out["price"][r] += kw[p] * price[p]                              # $ (normalised below)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["price"] = np.where(out["kw"] > 0, out["price"] / np.where(out["kw"] > 0,
                                                                        out["kw"], 1), 0.0)
        # kW-weighted delivery ratio per region (weights: mean contracted kW over years).
        w = np.zeros((len(pools), R))
        for p, reg in enumerate(pool_region):
            if reg in ch.regions:
                w[p, ch.regions.index(reg)] = kw[p].mean()
        wsum = w.sum(axis=0)
        out["ratio"] = np.where(wsum > 0, (ratio @ w) / np.where(wsum > 0, wsum, 1), 1.0)
    return out


# ----------------------------------------------------------------------------- finance


def _tranche_cash(finance: xr.Dataset | None, scenario: np.ndarray, years: np.ndarray
                  ) -> np.ndarray | None:
    """Cash paid to senior, mezzanine and equity per (scenario, 3, year) [$], or None."""
    if finance is None:
        return None
    S, Y = len(scenario), len(years)
    for name in ("tranche_cash_usd", "tranche_cashflow_usd", "tranche_flow_usd",
                 "distribution_usd"):
        if name in finance and "tranche" in finance[name].dims:
            da = finance[name]
            if "scenario" in da.dims:
                da = da.reindex(scenario=scenario)
            if "year" in da.dims:
                da = da.reindex(year=years, fill_value=0.0)
            got = _labels(da, "tranche")
            out = np.zeros((S, 3, Y))
            for i, t in enumerate(TRANCHES):
                if t in got:
                    out[:, i] = np.nan_to_num(_arr(da.sel(tranche=t), ("scenario", "year")))
            if "refinancing_cash_usd" in finance:  # the senior debt after a refinanced balloon
                rc = finance["refinancing_cash_usd"]
                if "scenario" in rc.dims:
                    rc = rc.reindex(scenario=scenario)
                if "year" in rc.dims:
                    rc = rc.reindex(year=years, fill_value=0.0)
                out[:, 0] += np.nan_to_num(_arr(rc, ("scenario", "year")))
            return out
    flows = None
    for name in ("waterfall_usd", "flow_usd", "flows_usd"):
        if name in finance and "flow" in finance[name].dims:
            flows = finance[name]
            break
    if flows is None:
        return None
    if "scenario" in flows.dims:
        flows = flows.reindex(scenario=scenario)
    if "year" in flows.dims:
        flows = flows.reindex(year=years, fill_value=0.0)
    have = set(_labels(flows, "flow"))
    groups = {
        "senior": ("senior_interest", "senior_principal", "senior_sweep"),
        "mezzanine": ("mezzanine_interest", "mezzanine_principal", "mezzanine_sweep"),
        "equity": ("equity",),
    }
    out = np.zeros((S, 3, Y))
    for i, t in enumerate(TRANCHES):
        for f in groups[t]:
            if f in have:
                out[:, i] += np.nan_to_num(_arr(flows.sel(flow=f), ("scenario", "year")))
    if "equity_injection" in have:
        out[:, 2] -= np.nan_to_num(_arr(flows.sel(flow="equity_injection"), ("scenario", "year")))
    return out


def _unit_divisors(finance: xr.Dataset | None) -> dict[str, float]:
    """Units a tranche's cash is spread over, per tranche [1].

    The finance stage's convention for ``unit_distribution_usd``: a unit of face
    ``unit_size_usd`` receives ``cash × unit_size_usd / tranche_size_usd`` (stubs below one
    unit are pari passu), i.e. the divisor is ``tranche_size_usd / unit_size_usd``; without
    sizes, ``unit_count``.
    """
    if finance is None:
        return {}
    out: dict[str, float] = {}
    if "unit_count" in finance and "tranche" in finance["unit_count"].dims:
        da = finance["unit_count"]
        out = {str(t): float(da.sel(tranche=t).values) for t in da["tranche"].values}
    if "tranche_size_usd" in finance and "unit_size_usd" in finance:
        size = finance["tranche_size_usd"]
        unit = float(np.asarray(finance["unit_size_usd"].values).ravel()[0])
        if unit > 0 and "tranche" in size.dims:
            for t in size["tranche"].values:
                v = float(size.sel(tranche=t).values) / unit
                if np.isfinite(v) and v > 0:
                    out[str(t)] = v
    return out


def _discount_rate(inputs: Any, finance: xr.Dataset | None) -> float:
    for source in (getattr(inputs, "finance", None), finance):
        if source is not None and "discount_rate" in source:
            return float(np.asarray(source["discount_rate"].values).ravel()[0])
    return 0.08


# ----------------------------------------------------------------------------- main


def trace_chain(
    inputs: StudyInputs,
    outcomes: xr.Dataset,
    plan: xr.Dataset | None,
    finance: xr.Dataset | None,
    compute: ComputeAssumptions | Any = None,
    *,
    emission_factors: Mapping[str, Mapping[str, float]] | None = None,
) -> xr.Dataset:
    """Trace MWh → GPU-hours → tokens → $ per scenario, data center and year.

    Parameters
    ----------
    inputs : gridcap.schema.StudyInputs
        Study inputs (``sites.region``, ``technologies.profile/availability/co2_kg_per_mwh``,
        ``finance.discount_rate`` are read when present).
    outcomes : xarray.Dataset
        Monte Carlo outcomes (docs/data-model.md §2): ``site_ai_energy_mwh`` [MWh],
        ``site_power_cost_usd``, ``site_revenue_usd``, ``site_cfads_usd`` [$] (scenario,
        site, year), ``ai_utilization`` [1], ``gpu_price_usd_per_gpu_hour`` [$/GPU-h]
        (scenario, year); optional ``price_usd_per_mwh`` [$/MWh], ``solar_cf``/``wind_cf``
        [1], ``event_*_kw`` [kW].
    plan : xarray.Dataset or None
        Siting plan (§3): ``converted`` [0/1], ``online_mw`` [MW], ``ai_placed_mw`` [MW],
        ``flex_contracted_kw`` [kW], ``flex_price_usd_per_kw_yr``,
        ``capacity_value_usd_per_kw_yr`` [$/kW-yr]; all optional.
    finance : xarray.Dataset or None
        Finance results (§4): per-scenario tranche cash flows and ``unit_count``; optional.
    compute : ComputeAssumptions, optional
        The compute assumptions (``cfg.compute_assumptions()`` for a study; a ``[compute]``
        config section or a mapping also works, see :func:`compute_params`); default: the
        :class:`~gridcap.kernels.compute.ComputeAssumptions` defaults.
    emission_factors : mapping, optional
        ``{"grid": {region: kg/MWh}, "technology": {tech: kg/MWh}}``; default: the shipped
        ``datasets/data/emission_factors.csv`` (technology factors from
        ``inputs.technologies.co2_kg_per_mwh`` take precedence).

    Returns
    -------
    xarray.Dataset
        Dims ``scenario``, ``dc`` (data centers: converted mine ids and ``newbuild/<region>``),
        ``year``, ``chain_source``, ``chain_cost``, ``chain_link``, ``chain_hedge``,
        ``chain_quantile``. Variables ``chain_*`` (per data center) and
        ``chain_portfolio_*`` (summed over data centers); units in attrs. See the module
        docstring for the method.

    Raises
    ------
    GridcapInputError
        When a needed outcome variable is missing or a compute assumption is out of range.
    """
    params = compute_params(compute)
    ch = _gather(inputs, outcomes, plan, params)
    flow = _energy_compute_emissions(inputs, outcomes, plan, ch, params, emission_factors)
    stack = _cost_stack(ch, params, flow, finance)
    unit = _per_token(stack["costs"], flow["tokens"], flow["co2_kg"])
    rate = _discount_rate(inputs, finance)
    risk = _risk(ch, stack, flow, finance, params, rate)
    coords = {
        "scenario": ch.scenario, "year": ch.year, "dc": ch.dc,
        "dc_kind": ("dc", np.asarray(ch.dc_kind, dtype=str)),
        "dc_region": ("dc", np.asarray(ch.dc_region, dtype=str)),
        "chain_source": flow["sources"], "chain_cost": list(COSTS), "chain_link": list(LINKS),
        "chain_hedge": list(HEDGES), "chain_quantile": list(QUANTILES),
    }
    data = {**_dc_variables(ch, flow, stack, unit), **_portfolio_variables(flow, unit),
            **_risk_variables(risk)}
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({
        "chain_model_class": params["model_class"],
        "chain_tokens_per_gpu_hour": params["tokens_per_gpu_hour"],
        "chain_gpus_per_mw": params["gpus_per_mw"],
        "chain_gpu_capex_usd": params["gpu_capex_usd"],
        "chain_gpu_life_years": params["gpu_life_years"],
        "chain_pue": params["pue"],
        "chain_ppa_price_usd_per_mwh": params["ppa_price_usd_per_mwh"],
        "chain_ppa_price_in_risk_map": risk["map"]["ppa_price"],
        "chain_discount_rate": rate,
        "chain_tranche_cash": "finance" if stack["tranche"] is not None else "absent (zeros)",
        "chain_risk_method": "Shapley value of Var(sum of link PVs) = Cov(X_k, Y)/Var(Y)",
        "chain_risk_scope": "financed data centers (converted mines)" if ch.financed.any()
        else "all data centers",
        "chain_irr_r2": risk["irr_r2"],
    })
    return ds


def _energy_compute_emissions(
    inputs: StudyInputs, outcomes: xr.Dataset, plan: xr.Dataset | None, ch: _Chain,
    params: dict[str, Any], emission_factors: Mapping[str, Mapping[str, float]] | None,
) -> dict[str, Any]:
    """Energy by source, GPU-hours, tokens, facility peak and CO2 per (scenario, dc, year)."""
    # --- energy attribution
    techs, gen = _generation_supply(inputs, outcomes, plan, ch)
    flex = _flex(outcomes, plan, ch)
    supply = np.concatenate([gen, flex["energy"][..., None]], axis=3)     # (S, R, Y, T+1)
    sources = [*techs, FLEX, GRID]
    region_idx = np.asarray([ch.regions.index(r) for r in ch.dc_region], dtype=np.int64)
    by_source = attribute_energy(ch.energy, region_idx, supply)         # (S, D, Y, K)

    # --- compute output
    gpu_hours = ch.gpu_hours
    tokens = gpu_hours * params["tokens_per_gpu_hour"]
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(ch.utilization > 0, ch.utilization, np.nan)
        peak_mw = np.nan_to_num(ch.energy / (HOURS_PER_YEAR * util))     # facility MW
    peak_kw = peak_mw * 1000.0

    # --- emissions
    factors = _emission_factors(inputs, sources, ch.dc_region, emission_factors)  # (D, K)
    co2_kg = np.einsum("sdyk,dk->sdy", by_source, factors)
    return {"flex": flex, "sources": sources, "region_idx": region_idx, "by_source": by_source,
            "gpu_hours": gpu_hours, "tokens": tokens, "util": util, "peak_kw": peak_kw,
            "co2_kg": co2_kg}


def _cost_stack(ch: _Chain, params: dict[str, Any], flow: dict[str, Any],
                finance: xr.Dataset | None) -> dict[str, Any]:
    """The cost stack [$] per (scenario, dc, year, component) in :data:`COSTS` order."""
    S, D, Y = ch.energy.shape
    costs = np.zeros((S, D, Y, len(COSTS)))
    ppa = params["ppa_price_usd_per_mwh"]
    costs[..., 0] = ch.energy * ppa if ppa > 0 else ch.market_cost
    cap_flex, cap_flex_firm = _capacity_flex_cost(flow["peak_kw"], flow["region_idx"],
                                                  flow["flex"])
    costs[..., 1] = cap_flex
    tranche = _tranche_cash(finance, ch.scenario, ch.year)
    share = _financed_share(ch, finance)                                  # (S, D, Y)
    if tranche is not None:
        costs[..., 2:5] = share[..., None] * np.transpose(tranche, (0, 2, 1))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        gpu_years = np.nan_to_num(flow["gpu_hours"] / (HOURS_PER_YEAR * flow["util"]))
    costs[..., 5] = gpu_years * params["gpu_capex_usd"] / params["gpu_life_years"]
    costs[..., 6] = ch.opex
    return {"costs": costs, "total": costs.sum(axis=3), "tranche": tranche,
            "cap_flex_firm": cap_flex_firm}


def _per_token(costs: np.ndarray, tokens: np.ndarray, co2_kg: np.ndarray) -> dict[str, Any]:
    """Costs and CO2 per million tokens: per data center, portfolio and over the horizon."""
    total = costs.sum(axis=3)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_mtok = np.where(tokens[..., None] > 0, costs / tokens[..., None] * 1e6, np.nan)
        per_mtok_total = np.where(tokens > 0, total / tokens * 1e6, np.nan)
        g_per_mtok = np.where(tokens > 0, co2_kg * 1000.0 / tokens * 1e6, np.nan)

    # --- portfolio and lifetime per scenario
    p_cost = costs.sum(axis=1)                                           # (S, Y, C)
    p_tok = tokens.sum(axis=1)                                           # (S, Y)
    p_co2 = co2_kg.sum(axis=1)
    life_cost = p_cost.sum(axis=1)                                       # (S, C)
    life_tok = p_tok.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_per_mtok = np.where(p_tok[..., None] > 0, p_cost / p_tok[..., None] * 1e6, np.nan)
        life_per_mtok = np.where(life_tok[:, None] > 0, life_cost / life_tok[:, None] * 1e6,
                                 np.nan)
        life_g = np.where(life_tok > 0, p_co2.sum(axis=1) * 1e3 / life_tok * 1e6, np.nan)
    return {"per_mtok": per_mtok, "per_mtok_total": per_mtok_total, "g_per_mtok": g_per_mtok,
            "p_cost": p_cost, "p_tok": p_tok, "p_co2": p_co2, "p_per_mtok": p_per_mtok,
            "life_per_mtok": life_per_mtok, "life_g": life_g}


def _risk(ch: _Chain, stack: dict[str, Any], flow: dict[str, Any],
          finance: xr.Dataset | None, params: dict[str, Any], rate: float) -> dict[str, Any]:
    """The risk map over the financed data centers and the equity-IRR regression."""
    D = ch.energy.shape[1]
    scope = ch.financed if ch.financed.any() else np.ones(D, dtype=bool)
    risk = _risk_map(ch, stack["costs"], stack["tranche"] is not None, stack["cap_flex_firm"],
                     flow["gpu_hours"], params["ppa_price_usd_per_mwh"], rate, scope)
    irr_shares, irr_r2 = np.full(len(LINKS), np.nan), float("nan")
    if finance is not None and "irr" in finance and "tranche" in finance["irr"].dims and \
            "equity" in _labels(finance["irr"], "tranche"):
        irr = finance["irr"].sel(tranche="equity").reindex(scenario=ch.scenario)
        irr_shares, irr_r2 = regression_shares(risk["parts"][:, :, 0], np.asarray(irr.values))
    return {"map": risk, "irr_shares": irr_shares, "irr_r2": irr_r2}


_SDY = ("scenario", "dc", "year")


def _dc_variables(ch: _Chain, flow: dict[str, Any], stack: dict[str, Any],
                  unit: dict[str, Any]) -> dict[str, Any]:
    """The per-data-center ``chain_*`` variables."""
    sdy = _SDY
    return {
        "chain_energy_mwh": (sdy, ch.energy, _attrs("MWh", "energy consumed by the data center")),
        "chain_energy_by_source_mwh": (
            (*sdy, "chain_source"), flow["by_source"],
            _attrs("MWh", "energy consumed by source (last: grid purchases)")),
        "chain_gpu_hours": (sdy, flow["gpu_hours"], _attrs("GPU-h", "GPU-hours delivered")),
        "chain_tokens": (sdy, flow["tokens"], _attrs("1", "AI tokens served")),
        "chain_cost_usd": ((*sdy, "chain_cost"), stack["costs"], _attrs("$", "cost stack")),
        "chain_cost_total_usd": (sdy, stack["total"], _attrs("$", "sum of the cost stack")),
        "chain_usd_per_mtok": ((*sdy, "chain_cost"), unit["per_mtok"],
                               _attrs("$/Mtoken", "cost stack per million tokens")),
        "chain_usd_per_mtok_total": (sdy, unit["per_mtok_total"],
                                     _attrs("$/Mtoken", "total cost per million tokens")),
        "chain_co2_kg": (sdy, flow["co2_kg"],
                         _attrs("kg", "CO2 emitted for the energy consumed")),
        "chain_gco2_per_mtok": (sdy, unit["g_per_mtok"],
                                _attrs("g/Mtoken", "gCO2 per million tokens")),
    }


def _portfolio_variables(flow: dict[str, Any], unit: dict[str, Any]) -> dict[str, Any]:
    """The ``chain_portfolio_*``, ``chain_lifetime_*`` and quantile variables."""
    p_tok, p_co2, life_per_mtok = unit["p_tok"], unit["p_co2"], unit["life_per_mtok"]
    return {
        "chain_portfolio_energy_by_source_mwh": (
            ("scenario", "year", "chain_source"), flow["by_source"].sum(axis=1),
            _attrs("MWh", "portfolio energy by source")),
        "chain_portfolio_tokens": (("scenario", "year"), p_tok,
                                   _attrs("1", "portfolio tokens served")),
        "chain_portfolio_cost_usd": (("scenario", "year", "chain_cost"), unit["p_cost"],
                                     _attrs("$", "portfolio cost stack")),
        "chain_portfolio_usd_per_mtok": (
            ("scenario", "year", "chain_cost"), unit["p_per_mtok"],
            _attrs("$/Mtoken", "portfolio cost stack per million tokens")),
        "chain_portfolio_gco2_per_mtok": (
            ("scenario", "year"), np.where(p_tok > 0, p_co2 * 1e9 / np.where(p_tok > 0, p_tok, 1),
                                           np.nan),
            _attrs("g/Mtoken", "portfolio gCO2 per million tokens")),
        "chain_lifetime_usd_per_mtok": (
            ("scenario", "chain_cost"), life_per_mtok,
            _attrs("$/Mtoken", "cost stack per million tokens over the horizon")),
        "chain_lifetime_usd_per_mtok_total": (
            ("scenario",), life_per_mtok.sum(axis=1),
            _attrs("$/Mtoken", "total cost per million tokens over the horizon")),
        "chain_lifetime_gco2_per_mtok": (
            ("scenario",), unit["life_g"],
            _attrs("g/Mtoken", "gCO2 per million tokens, horizon")),
        "chain_usd_per_mtok_quantiles": (
            ("chain_quantile", "chain_cost"), quantiles(life_per_mtok),
            _attrs("$/Mtoken", "P10/P50/P90 over scenarios of each lifetime component")),
        "chain_usd_per_mtok_total_quantiles": (
            ("chain_quantile",), quantiles(life_per_mtok.sum(axis=1)),
            _attrs("$/Mtoken", "P10/P50/P90 over scenarios of the lifetime total")),
        "chain_gco2_per_mtok_quantiles": (
            ("chain_quantile",), quantiles(unit["life_g"]),
            _attrs("g/Mtoken", "P10/P50/P90 over scenarios of lifetime gCO2 per Mtoken")),
    }


def _risk_variables(risk: dict[str, Any]) -> dict[str, Any]:
    """The risk-map variables (link values, equity value, variance shares)."""
    r = risk["map"]
    return {
        "chain_link_value_usd": (
            ("scenario", "chain_link", "chain_hedge"), r["parts"],
            _attrs("$", "present value of each link's cash flow to equity")),
        "chain_equity_value_usd": (
            ("scenario", "chain_hedge"), r["equity"],
            _attrs("$", "equity value (PV of link cash flows) per scenario")),
        "chain_risk_share": (
            ("chain_link", "chain_hedge"), r["shares"],
            _attrs("1", "share of the scenario variance of the equity value (sums to 1)")),
        "chain_equity_variance": (
            ("chain_hedge",), r["variance"], _attrs("$^2", "variance of the equity value")),
        "chain_irr_risk_share": (
            ("chain_link",), risk["irr_shares"],
            _attrs("1", "share of the explained variance of the equity IRR (OLS on link PVs)")),
    }


def _financed_share(ch: _Chain, finance: xr.Dataset | None) -> np.ndarray:
    """Share of the financed project's tranche cash attributed to each data center [1].

    ``max(CFADS_d, 0) / (Σ_d max(CFADS_d, 0) + max(other, 0))`` over the financed data
    centers (converted mines), where ``other = cfads_usd − Σ_d CFADS_d`` is the rest of the
    finance stage's project (DER pools, mining years before a conversion). Shape (S, D, Y).
    In a year when nothing in the project has positive CFADS (the tranches are paid from
    reserves), the cash is shared pro rata the financed data centers' revenue instead, so
    that no tranche cash goes unattributed.
    """
    pos = np.where(ch.financed[None, :, None], np.maximum(ch.cfads, 0.0), 0.0)
    by_revenue = np.where(ch.financed[None, :, None], np.maximum(ch.revenue, 0.0), 0.0)
    other = np.zeros((len(ch.scenario), len(ch.year)))
    if finance is not None and "cfads_usd" in finance and \
            set(finance["cfads_usd"].dims) == {"scenario", "year"}:
        total = finance["cfads_usd"].reindex(scenario=ch.scenario, year=ch.year)
        own = np.where(ch.financed[None, :, None], ch.cfads, 0.0).sum(axis=1)
        other = np.maximum(np.nan_to_num(_arr(total, ("scenario", "year"))) - own, 0.0)
    denom = pos.sum(axis=1) + other
    no_cfads = (denom <= 0)[:, None, :]
    basis = np.where(no_cfads, by_revenue, pos)
    denom = np.where(no_cfads[:, 0], by_revenue.sum(axis=1), denom)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom[:, None] > 0, basis / np.where(denom > 0, denom, 1.0)[:, None], 0.0)


def _capacity_flex_cost(
    peak_kw: np.ndarray, region_idx: np.ndarray, flex: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Capacity/flexibility cost per (S, D, Y) [$], unhedged and under a firm flex contract."""
    D = peak_kw.shape[1]
    R = flex["kw"].shape[0]
    onehot = np.zeros((D, R))
    onehot[np.arange(D), region_idx] = 1.0
    peak_r = np.einsum("sdy,dr->sry", peak_kw, onehot)
    with np.errstate(divide="ignore", invalid="ignore"):
        cover_r = np.where(peak_r > 0, np.minimum(1.0, flex["kw"][None] / np.where(
            peak_r > 0, peak_r, 1)), 0.0)                                  # (S, R, Y)
    cover = cover_r[:, region_idx]                                        # (S, D, Y)
    covered_kw = peak_kw * cover
    f = flex["price"][region_idx][None]                                   # (1, D, Y)
    c = flex["capacity_value"][region_idx][None]
    rho = flex["ratio"][:, region_idx][..., None]                         # (S, D, 1)
    unhedged = covered_kw * f + (peak_kw - covered_kw * rho) * c
    # Firm contract: the aggregator bears the shortfall for a fair premium E[(1-rho)] c.
    firm = covered_kw * (f + (1.0 - rho.mean(axis=0, keepdims=True)) * c) \
        + (peak_kw - covered_kw) * c
    return unhedged, firm


def _risk_map(ch: _Chain, costs: np.ndarray, has_finance: bool, cap_flex_firm: np.ndarray,
              gpu_hours: np.ndarray, ppa: float, rate: float, scope: np.ndarray
              ) -> dict[str, Any]:
    """Link PVs per scenario and hedge, variance shares and variances.

    ``scope`` (D,) selects the data centers whose equity is analysed (1) or left out (0).
    """
    S, _, Y = ch.energy.shape
    df = (1.0 + rate) ** -np.arange(1, Y + 1, dtype=np.float64)          # (Y,)
    w = np.asarray(scope, dtype=np.float64)

    def pv(x: np.ndarray) -> np.ndarray:                                 # (S, D, Y) -> (S,)
        return np.einsum("sdy,d,y->s", x, w, df)

    with np.errstate(divide="ignore", invalid="ignore"):
        p_eff = np.where(gpu_hours > 0, ch.revenue / np.where(gpu_hours > 0, gpu_hours, 1), 0.0)
    d_ai, d_gpu = product_shapley(gpu_hours, p_eff, axis=0)
    base_rev = (gpu_hours.mean(axis=0) * p_eff.mean(axis=0))[None]       # (1, D, Y)
    # Revenue = base + d_ai + d_gpu; the base is split between the two links equally.
    rev_ai = d_ai + base_rev / 2.0
    rev_gpu = d_gpu + base_rev / 2.0
    e_tot = ch.energy.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_price = float(ch.market_cost.sum() / ch.energy.sum()) if ch.energy.sum() > 0 else 0.0
        mean_price_dy = np.where(e_tot > 0, ch.market_cost.sum(axis=0) / np.where(
            e_tot > 0, e_tot, 1), mean_price)
    ppa_cost = ch.energy * (ppa if ppa > 0 else mean_price_dy[None])
    debt = costs[..., 2] + costs[..., 3] if has_finance else np.zeros_like(ch.energy)
    common = {
        "data_center": -pv(ch.opex),
        "gpu": pv(rev_gpu) - pv(costs[..., 5]),
        "ai_revenue": pv(rev_ai),
        "financing": -pv(debt),
    }
    energy_unhedged = -pv(ch.market_cost)
    energy_ppa = -pv(ppa_cost)
    flex_unhedged = -pv(costs[..., 1])
    flex_firm = -pv(cap_flex_firm)
    cases = {
        "none": (energy_unhedged, flex_unhedged),
        "ppa": (energy_ppa, flex_unhedged),
        "flex_contract": (energy_unhedged, flex_firm),
        "ppa_and_flex": (energy_ppa, flex_firm),
    }
    parts = np.zeros((S, len(LINKS), len(HEDGES)))
    shares = np.zeros((len(LINKS), len(HEDGES)))
    variance = np.zeros(len(HEDGES))
    for h, name in enumerate(HEDGES):
        energy, gridflex = cases[name]
        cols = {"energy": energy, "grid_flex": gridflex, **common}
        parts[:, :, h] = np.stack([cols[k] for k in LINKS], axis=1)
        shares[:, h], variance[h] = variance_shares(parts[:, :, h])
    return {
        "parts": parts, "equity": parts.sum(axis=1), "shares": shares, "variance": variance,
        "ppa_price": ppa if ppa > 0 else mean_price,
    }


def _emission_factors(
    inputs: Any, sources: list[str], dc_region: list[str],
    given: Mapping[str, Mapping[str, float]] | None,
) -> np.ndarray:
    """Emission factor per (data center, source) [kg/MWh]."""
    table = dict(given) if given is not None else _shipped_emission_factors()
    tech_f = dict(table.get("technology", {}))
    tech_ds = getattr(inputs, "technologies", None)
    if tech_ds is not None and "co2_kg_per_mwh" in tech_ds and "tech" in tech_ds.dims:
        for t, v in zip(_labels(tech_ds, "tech"), tech_ds["co2_kg_per_mwh"].values, strict=True):
            tech_f[t] = float(v)
    grid_f = dict(table.get("grid", {}))
    default_grid = grid_f.get("US")
    out = np.zeros((len(dc_region), len(sources)))
    problems = []
    for k, src in enumerate(sources):
        if src == FLEX:
            out[:, k] = FLEX_CO2_KG_PER_MWH
        elif src == GRID:
            for d, reg in enumerate(dc_region):
                v = grid_f.get(reg, default_grid)
                if v is None:
                    problems.append(f"grid emission factor for region {reg!r}")
                    v = np.nan
                out[d, k] = v
        else:
            v = tech_f.get(src)
            if v is None:
                problems.append(f"emission factor for technology {src!r}")
                v = np.nan
            out[:, k] = v
    if problems:
        raise GridcapInputError(
            "trace_chain: missing " + "; ".join(problems)
            + " (add it to datasets/data/emission_factors.csv or pass emission_factors=)"
        )
    return out


def _shipped_emission_factors() -> dict[str, dict[str, float]]:
    """The shipped ``emission_factors.csv`` as ``{kind: {key: kg/MWh}}``."""
    import gridcap.datasets as gd

    path = Path(gd.__file__).parent / "data" / "emission_factors.csv"
    if not path.exists():
        return {}
    df = pd.read_csv(path)
    out: dict[str, dict[str, float]] = {}
    for kind, key, value in zip(df["kind"], df["key"], df["co2_kg_per_mwh"], strict=True):
        out.setdefault(str(kind), {})[str(key)] = float(value)
    return out


# ----------------------------------------------------------------------------- ledger / summary


def representative_scenarios(chain: xr.Dataset, qs: Sequence[float] = QUANTILES) -> list[int]:
    """Scenario labels whose lifetime cost per million tokens is nearest each quantile.

    Parameters
    ----------
    chain : xarray.Dataset
        Output of :func:`trace_chain`.
    qs : sequence of float
        Quantile levels in [0, 1] [1].

    Returns
    -------
    list of int
        Distinct scenario labels, in the order of ``qs`` (e.g. the P10, P50, P90 scenarios).
    """
    total = np.asarray(chain["chain_lifetime_usd_per_mtok_total"].values, dtype=np.float64)
    labels = chain["scenario"].values
    finite = np.isfinite(total)
    if not finite.any():
        return [int(labels[0])]
    out: list[int] = []
    for q in qs:
        target = np.quantile(total[finite], q)
        i = int(np.nanargmin(np.where(finite, np.abs(total - target), np.nan)))
        if int(labels[i]) not in out:
            out.append(int(labels[i]))
    return out


def chain_ledger(
    chain: xr.Dataset,
    finance: xr.Dataset | None = None,
    *,
    scenarios: Sequence[int] | str | None = None,
) -> pd.DataFrame:
    """Per-period ledger: MWh → GPU-hours → tokens → cash per tranche unit.

    Parameters
    ----------
    chain : xarray.Dataset
        Output of :func:`trace_chain`.
    finance : xarray.Dataset, optional
        Finance results with ``tranche_size_usd(tranche)`` [$] and ``unit_size_usd`` [$] (or
        ``unit_count(tranche)`` [1]); without them the per-unit columns are NaN.
    scenarios : sequence of int or "representative", optional
        Scenario labels to include (default: all); ``"representative"``: the P10, P50 and
        P90 scenarios of :func:`representative_scenarios` (keeps the file small for large
        runs).

    Returns
    -------
    pandas.DataFrame
        One row per (scenario, year, dc), plus ``dc = "portfolio"`` rows summing the data
        centers. Columns: ``scenario``, ``year``, ``dc``, ``dc_kind``, ``region``,
        ``energy_mwh``, ``mwh_<source>`` …, ``gpu_hours``, ``tokens``, ``cost_<c>_usd`` …,
        ``cost_total_usd``, ``usd_per_mtok``, ``co2_kg``, ``gco2_per_mtok``,
        ``usd_per_unit_<tranche>`` (the data center's share of the tranche's cash per token
        unit, ``cash × unit_size_usd / tranche_size_usd`` [$/unit], the finance stage's
        ``unit_distribution_usd`` convention).
    """
    if isinstance(scenarios, str):
        if scenarios != "representative":
            raise GridcapInputError(
                f"chain_ledger scenarios = {scenarios!r}: expected 'representative', a list of "
                "scenario labels or None (all)")
        scenarios = representative_scenarios(chain)
    ds = chain if scenarios is None else chain.sel(scenario=list(scenarios))
    units = _unit_divisors(finance)
    S, D, Y = ds.sizes["scenario"], ds.sizes["dc"], ds.sizes["year"]
    dcs = [*_labels(ds, "dc"), "portfolio"]
    kinds = [*map(str, ds["dc_kind"].values), "portfolio"]
    regions = [*map(str, ds["dc_region"].values), "all"]

    def with_total(a: np.ndarray) -> np.ndarray:                         # (S, D, Y, ...) -> D+1
        return np.concatenate([a, a.sum(axis=1, keepdims=True)], axis=1)

    energy = with_total(ds["chain_energy_mwh"].values)
    src = with_total(ds["chain_energy_by_source_mwh"].values)
    gpuh = with_total(ds["chain_gpu_hours"].values)
    tok = with_total(ds["chain_tokens"].values)
    cost = with_total(ds["chain_cost_usd"].values)
    co2 = with_total(ds["chain_co2_kg"].values)
    idx_s, idx_d, idx_y = np.meshgrid(np.arange(S), np.arange(D + 1), np.arange(Y),
                                      indexing="ij")
    flat = (idx_s.ravel(), idx_d.ravel(), idx_y.ravel())
    total = cost.sum(axis=3)
    cols: dict[str, Any] = {
        "scenario": ds["scenario"].values[flat[0]],
        "year": ds["year"].values[flat[2]],
        "dc": np.asarray(dcs)[flat[1]],
        "dc_kind": np.asarray(kinds)[flat[1]],
        "region": np.asarray(regions)[flat[1]],
        "energy_mwh": energy[flat],
    }
    for k, s in enumerate(_labels(ds, "chain_source")):
        cols[f"mwh_{s}"] = src[..., k][flat]
    cols["gpu_hours"] = gpuh[flat]
    cols["tokens"] = tok[flat]
    for c, name in enumerate(_labels(ds, "chain_cost")):
        cols[f"cost_{name}_usd"] = cost[..., c][flat]
    cols["cost_total_usd"] = total[flat]
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["usd_per_mtok"] = np.where(tok[flat] > 0, total[flat] / tok[flat] * 1e6, np.nan)
        cols["co2_kg"] = co2[flat]
        cols["gco2_per_mtok"] = np.where(tok[flat] > 0, co2[flat] * 1e9 / tok[flat], np.nan)
    names = _labels(ds, "chain_cost")
    for t in TRANCHES:
        n = units.get(t, np.nan)
        cash = cost[..., names.index(t)][flat]
        cols[f"usd_per_unit_{t}"] = cash / n if n and np.isfinite(n) and n > 0 else \
            np.full(cash.shape, np.nan)
    return pd.DataFrame(cols)


def write_chain_ledger(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the ledger as CSV atomically (temporary file, fsync, rename).

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`chain_ledger`.
    path : str or Path
        Destination ``.csv``.

    Returns
    -------
    Path
        The final path.
    """
    from gridcap.io import atomic_write

    return atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.10g"))


def chain_summary_rows(chain: xr.Dataset) -> list[tuple[str, str]]:
    """(label, formatted value) rows for the run summary.

    Parameters
    ----------
    chain : xarray.Dataset
        Output of :func:`trace_chain` (or results containing its variables).

    Returns
    -------
    list of (str, str)
        $/M-tokens P10/P50/P90 (total, energy), gCO2/M-tokens P10/P50/P90, the top risk link
        with its variance share and the PPA hedge's effect on the equity variance.
    """
    rows: list[tuple[str, str]] = []

    def triple(values: np.ndarray, fmt: str) -> str:
        return " / ".join("–" if not np.isfinite(v) else fmt.format(v) for v in values)

    if "chain_usd_per_mtok_total_quantiles" in chain:
        rows.append(("AI cost per M tokens, P10 / P50 / P90",
                     triple(chain["chain_usd_per_mtok_total_quantiles"].values, "${:,.3f}")))
    if "chain_usd_per_mtok_quantiles" in chain:
        q = chain["chain_usd_per_mtok_quantiles"]
        for part in ("energy", "gpu_depreciation"):
            if part in _labels(q, "chain_cost"):
                rows.append((f"  of which {part.replace('_', ' ')}, P10 / P50 / P90",
                             triple(q.sel(chain_cost=part).values, "${:,.3f}")))
    if "chain_gco2_per_mtok_quantiles" in chain:
        rows.append(("gCO2 per M tokens, P10 / P50 / P90",
                     triple(chain["chain_gco2_per_mtok_quantiles"].values, "{:,.1f} g")))
    if "chain_risk_share" in chain:
        shares = chain["chain_risk_share"].sel(chain_hedge="none")
        vals = np.asarray(shares.values, dtype=float)
        if np.isfinite(vals).any():
            k = int(np.nanargmax(vals))
            rows.append(("top equity-risk link (share of variance)",
                         f"{_labels(shares, 'chain_link')[k]} ({vals[k]:.0%})"))
    if "chain_equity_variance" in chain:
        var = chain["chain_equity_variance"]
        v0, v1 = float(var.sel(chain_hedge="none")), float(var.sel(chain_hedge="ppa"))
        if v0 > 0:
            rows.append(("PPA hedge: equity variance change", f"{(v1 - v0) / v0:+.0%}"))
    return rows
