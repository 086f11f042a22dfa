"""Mine-conversion site economics and DER-pool cash flows per scenario and year.

Array code against ``xp`` (NumPy or CuPy), shared by every backend. Annual totals from a
simulated period of ``hours`` hours are scaled by ``8760 / hours``.

Assumptions (documented constants, sources in comments):

* AI IT capacity of a converted site = ``interconnection_mw / DESIGN_PUE`` (the facility load
  at the hottest hour must fit the interconnection).
* AI facility load = IT MW × utilization × PUE(T), PUE(T) = ``PUE_BASE + PUE_PER_K ·
  max(T - PUE_T0, 0)`` capped at ``DESIGN_PUE``.
* Revenue = IT MW × GPUs per MW × utilization × $/GPU-hour × online hours.
* GPU capacity cost (the GPUs are not in ``conversion_capex_usd_per_kw``): $/GPU-hour charge ×
  GPUs × online hours, paid whether or not they are used; the charge is the study's
  ``[compute]`` GPU capex straight-line over its life (``gpu_capex_usd / (gpu_life_years ×
  8760)``), the same figure the chain's cost stack depreciates. Defaults:
  :data:`GPUS_PER_MW_IT`, :data:`GPU_COST_USD_PER_GPU_HOUR` (the ``[compute]`` defaults).
* Fixed opex :data:`AI_OPEX_USD_PER_MW_YR` per MW IT while online.
* Conversion starts at the beginning of the first planning year; mining stops then; AI load
  comes online after ``conversion_months`` × 730 h.
* Mining: runs in hours when price ≤ ``hashprice_breakeven × hashprice_level``; margin per
  MWh = breakeven × level − price; fixed opex :data:`MINING_OPEX_USD_PER_MW_YR`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gridcap.kernels.compute import ComputeAssumptions

__all__ = [
    "AGGREGATOR_OPEX_USD_PER_DER_YR",
    "AI_OPEX_USD_PER_MW_YR",
    "BATTERY_WEAR_USD_PER_MWH",
    "DESIGN_PUE",
    "FLEX_PAYMENT_USD_PER_KW_YR",
    "GPUS_PER_MW_IT",
    "GPU_COST_USD_PER_GPU_HOUR",
    "GPU_LIFE_YEARS",
    "HOURS_PER_MONTH",
    "MINING_OPEX_USD_PER_MW_YR",
    "PUE_BASE",
    "PUE_PER_K",
    "PUE_T0",
    "pool_economics",
    "site_economics",
]

_COMPUTE = ComputeAssumptions()
#: Default GPUs per MW of IT load [GPU/MW]: the ``[compute] gpus_per_mw`` default (DGX H100,
#: 8 GPUs at ~10.2 kW → 784 per MW, rounded to 780; owner: gridcap.kernels.compute).
GPUS_PER_MW_IT = float(_COMPUTE.gpus_per_mw)
#: Default capacity charge of the GPUs [$/GPU-h], paid whether utilised or not: the
#: ``[compute]`` defaults $35,000 all-in per GPU over 5 years straight-line ≈ $0.80/GPU-h.
GPU_COST_USD_PER_GPU_HOUR = _COMPUTE.gpu_cost_usd_per_gpu_hour
#: Default GPU life [yr] (the ``[compute] gpu_life_years`` default): a merchant site's GPUs,
#: their charge and their revenue end this long after they come online (no refresh bought).
GPU_LIFE_YEARS = float(_COMPUTE.gpu_life_years)
#: Fixed opex of an AI data hall [$/MW-IT-yr]: staff, maintenance, network, insurance
#: (order of magnitude of colocation/cloud operating benchmarks).
AI_OPEX_USD_PER_MW_YR = 900_000.0
#: Fixed opex of a mining site [$/MW-yr] (staff, repairs; public miners' cash-cost filings).
MINING_OPEX_USD_PER_MW_YR = 150_000.0
#: PUE model: liquid-cooled halls ~1.12 in cool weather, +0.006 per K above 15 °C, design
#: (maximum) PUE 1.3 sizes IT capacity against the interconnection [1], [1/K], [°C], [1].
PUE_BASE = 1.12
PUE_PER_K = 0.006
PUE_T0 = 15.0
DESIGN_PUE = 1.3
#: Hours per month used for conversion downtime [h] (8760 / 12).
HOURS_PER_MONTH = 730.0
#: Payment per kW of contracted DER flexibility per year [$/kW-yr]: the one owner of this
#: payment. The Monte Carlo credits it to the pools (scaled by the delivery ratio,
#: :func:`pool_economics`) and the planner charges it per kW contracted
#: (``PlanOptions.flex_cost_usd_per_kw_yr``, study key ``optimizer.flex_cost_usd_per_kw_yr``,
#: which sets both through ``SimulateOptions.flex_payment_usd_per_kw_yr``).
#: Value: Green Mountain Power's Bring Your Own Device battery programme (pilot 2019, made a
#: tariff by the Vermont PUC in 2020) pays
#: $850/kW of enrolled battery up front for a 10-year enrolment, or the equal-value bill credit
#: of $9.65/kW-month = $115.80/kW-yr; the annual form is used. For scale: Mass Save
#: ConnectedSolutions pays $225/kW-summer + $50/kW-winter of average event performance
#: (≈ $275/kW-yr for daily dispatch), PJM's 2025/26 capacity price $269.92/MW-day ≈ $98.5/kW-yr.
#: Sources: energynews.us 2019-10-22 "In Vermont, Green Mountain Power seeks to expand home
#: battery storage pilot" ($850/kW upfront or equal bill credits, 10-year enrolment);
#: dcenergyinnovations.com/energy-storage ($9.65/kW-month for 10 years or $850/kW once);
#: masssave.com/en/saving/residential-rebates/connectedsolutions-batteries (read 2026-12-03).
FLEX_PAYMENT_USD_PER_KW_YR = 115.80
#: Battery wear cost per MWh discharged [$/MWh] (Li-ion cycle cost ~$20-50/MWh).
BATTERY_WEAR_USD_PER_MWH = 30.0
#: Aggregator operating cost per enrolled DER per year [$/DER-yr] (platform, telemetry).
AGGREGATOR_OPEX_USD_PER_DER_YR = 20.0


def site_economics(xp, *, price, temp, site_region, interconnection_mw, mining_mw,
                   breakeven, conversion_months, annual: dict[str, Any], hours: int,
                   gpus_per_mw: float = GPUS_PER_MW_IT,
                   gpu_cost_usd_per_gpu_hour: float = GPU_COST_USD_PER_GPU_HOUR,
                   hour_of_year: Any = None,
                   gpu_life_years: float = GPU_LIFE_YEARS,
                   compiled: bool | None = None) -> dict[str, Any]:
    """Annual cash flows of each site if converted to AI and if it keeps mining.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    price : array (S, R, T)
        Hourly price before the annual price level [$/MWh].
    temp : array (S, R, T)
        Air temperature [°C].
    site_region : numpy.ndarray (K,)
        Region index of each site.
    interconnection_mw, mining_mw : numpy.ndarray (K,)
        Interconnection capacity and current mining load [MW].
    breakeven : numpy.ndarray (K,)
        Hash-price breakeven power price in the first year [$/MWh].
    conversion_months : numpy.ndarray (K,)
        Downtime from the decision to AI load online [month].
    annual : dict of (S, Y) arrays
        ``price_level`` [1], ``ai_utilization`` [1], ``gpu_price`` [$/GPU-h],
        ``hashprice_level`` [1].
    hours : int
        Simulated hours T [h].
    gpus_per_mw : float
        GPUs per MW of IT load N [GPU/MW].
    gpu_cost_usd_per_gpu_hour : float
        Capacity charge of the GPUs c_gpu [$/GPU-h], paid per online hour.
    gpu_life_years : float
        Life of the GPUs bought at conversion [yr]: from ``conversion_months`` +
        ``gpu_life_years`` on, the merchant site has no GPUs (no refresh is bought), so no
        GPU-hour revenue, no GPU charge, no AI load and no data-hall opex.
    hour_of_year : numpy.ndarray (T,), optional
        Hour of year of each simulated hour [h] (representative periods,
        :mod:`gridcap.kernels.periods`); decides which hours are past the conversion
        downtime. Default: the T hours spread evenly over the year (``t · 8760 / T``).
    compiled : bool, optional
        Use the compiled CPU loop :func:`gridcap.kernels.numba_stages.site_sums` (the same
        bits); default: when ``xp`` is NumPy.

    Returns
    -------
    dict of (S, K, Y) arrays
        ``cfads`` [$], ``mining_cfads`` [$], ``ai_energy_mwh`` [MWh], ``power_cost`` [$],
        ``revenue`` [$].

    Notes
    -----
    .. math:: CFADS = G\\,N\\,(u\\,g - c_{gpu})\\,H_{on} - \\sum_t G\\,u\\,PUE(T_t)\\,p_t\\,
              \\lambda - O\\,G\\,H_{on}/8760

    with IT MW :math:`G`, GPUs per MW :math:`N`, utilization :math:`u`, $/GPU-h :math:`g`,
    online hours :math:`H_{on}`, price :math:`p_t`, price level :math:`\\lambda`.
    """
    n_y = annual["price_level"].shape[1]
    scale = 8760.0 / hours
    t_year = (np.arange(hours, dtype=np.float64) * scale if hour_of_year is None
              else np.asarray(hour_of_year, dtype=np.float64))  # hour of year represented
    # (K, Y, T): AI load online (past the conversion downtime, within the GPUs' life)
    down_h = np.asarray(conversion_months, dtype=np.float64) * HOURS_PER_MONTH
    h_abs = t_year[None, None, :] + (np.arange(n_y) * 8760.0)[None, :, None]
    online = ((h_abs >= down_h[:, None, None])
              & (h_abs < (down_h + gpu_life_years * 8760.0)[:, None, None]))
    it_mw = np.asarray(interconnection_mw, dtype=np.float64) / DESIGN_PUE
    gpus = it_mw * gpus_per_mw
    on_h = scale * online.sum(axis=2).astype(np.float64)  # (K, Y) [h]
    cost = (gpus[:, None] * gpu_cost_usd_per_gpu_hour * on_h
            + (AI_OPEX_USD_PER_MW_YR * it_mw)[:, None] * (on_h / 8760.0))
    mining = np.asarray(mining_mw, dtype=np.float64)
    terms = {"be_k": np.asarray(breakeven, dtype=np.float64), "c_mine": scale * mining,
             "opex_mine": MINING_OPEX_USD_PER_MW_YR * mining, "c_energy": scale * it_mw,
             "gpus": gpus, "on_h": on_h, "cost": cost}
    if (xp is np) if compiled is None else compiled:
        from gridcap.kernels.numba_stages import site_sums

        sums = site_sums(price, temp, np.asarray(site_region, np.int64), online, annual,
                         pue_c=(PUE_BASE, PUE_PER_K, PUE_T0, DESIGN_PUE), **terms)
        return dict(zip(_SITE_KEYS, sums, strict=True))
    return _site_sums_xp(xp, price, temp, site_region, online, annual, **terms)


_SITE_KEYS = ("cfads", "mining_cfads", "ai_energy_mwh", "power_cost", "revenue")


def _site_sums_xp(xp, price, temp, site_region, online, annual, *, be_k, c_mine, opex_mine,
                  c_energy, gpus, on_h, cost) -> dict[str, Any]:
    """The site cash flows of :func:`site_economics`, array code (loops over sites, years)."""
    n_s = price.shape[0]
    n_k, n_y = online.shape[:2]
    pl = annual["price_level"]
    out = {k: xp.zeros((n_s, n_k, n_y)) for k in _SITE_KEYS}
    for k in range(n_k):
        r = int(site_region[k])
        p0 = price[:, r, :]
        pue = xp.minimum(PUE_BASE + PUE_PER_K * xp.maximum(temp[:, r, :] - PUE_T0, 0.0),
                         DESIGN_PUE)
        full = None  # (pue_sum, pue_sum_p) when online all year (reused across years)
        for y in range(n_y):
            lam = pl[:, y][:, None]
            p = p0 * lam
            be = float(be_k[k]) * annual["hashprice_level"][:, y][:, None]
            margin = xp.where(p <= be, be - p, 0.0).sum(axis=1)
            out["mining_cfads"][:, k, y] = float(c_mine[k]) * margin - float(opex_mine[k])
            on = xp.asarray(online[k, y])
            all_on = bool(online[k, y].all())
            if all_on and full is not None:
                pue_sum, pue_sum_p = full
            else:
                pue_on = pue * on[None, :]
                pue_sum = pue_on.sum(axis=1)
                pue_sum_p = (pue_on * p0).sum(axis=1)
                if all_on:
                    full = (pue_sum, pue_sum_p)
            u = annual["ai_utilization"][:, y]
            power = float(c_energy[k]) * u * pue_sum_p * pl[:, y]
            revenue = float(gpus[k]) * u * annual["gpu_price"][:, y] * float(on_h[k, y])
            out["ai_energy_mwh"][:, k, y] = float(c_energy[k]) * u * pue_sum
            out["power_cost"][:, k, y] = power
            out["revenue"][:, k, y] = revenue
            out["cfads"][:, k, y] = revenue - power - float(cost[k, y])
    return out


def pool_economics(xp, *, arbitrage_usd, discharge_kwh, delivery_ratio, committed_kw,
                   n_der, price_level, hours: int,
                   flex_payment_usd_per_kw_yr: float = FLEX_PAYMENT_USD_PER_KW_YR):
    """Annual CFADS of each DER pool.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    arbitrage_usd : array (S, P)
        Σ price × (discharge - charge) over the simulated hours at the first-year price
        level [$].
    discharge_kwh : array (S, P)
        Battery discharge over the simulated hours [kWh].
    delivery_ratio : array (S, P)
        Delivered / committed over all events of the scenario (1 without events) [1].
    committed_kw : numpy.ndarray (P,)
        Committed flexibility [kW].
    n_der : numpy.ndarray (P,)
        DERs in the pool [1].
    price_level : array (S, Y)
        Annual price level [1].
    hours : int
        Simulated hours T [h].
    flex_payment_usd_per_kw_yr : float
        Payment per committed kW at full delivery, :math:`F` [$/kW-yr]
        (default :data:`FLEX_PAYMENT_USD_PER_KW_YR`).

    Returns
    -------
    array (S, P, Y)
        CFADS [$].

    Notes
    -----
    .. math:: CFADS_y = \\lambda_y A\\,s + F\\,C\\,\\rho - w\\,D\\,s/1000 - o\\,n

    with arbitrage :math:`A`, annualisation :math:`s = 8760/T`, flexibility payment
    :math:`F`, committed kW :math:`C`, delivery ratio :math:`\\rho`, wear cost :math:`w`,
    discharge :math:`D` [kWh], opex per DER :math:`o`.
    """
    scale = 8760.0 / hours
    com = xp.asarray(committed_kw, dtype=xp.float64)[None, :]
    fixed = (float(flex_payment_usd_per_kw_yr) * com * delivery_ratio
             - BATTERY_WEAR_USD_PER_MWH * discharge_kwh / 1000.0 * scale
             - AGGREGATOR_OPEX_USD_PER_DER_YR * xp.asarray(n_der, dtype=xp.float64)[None, :])
    return price_level[:, None, :] * (arbitrage_usd * scale)[:, :, None] + fixed[:, :, None]

