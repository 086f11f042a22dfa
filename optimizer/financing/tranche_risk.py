"""Tranche risk and price from the scenario waterfall: PD, EL, LGD, WAL, duration, IRR, spread.

Conventions
-----------
* Periods are years; a tranche is bought at par (its size) at t = 0 and receives the
  waterfall's cash at the end of each year t = 1..T. IRR and NPV use annual compounding:
  ``NPV(y) = sum_{t=0..T} CF_t / (1 + y)^t`` with ``CF_0 = -size``.
* **PD**: share of scenarios in which the tranche defaults under the waterfall's stated rule
  (:mod:`gridcap.optimizer.financing.waterfall`), cumulative over the horizon.
* **Loss** in a scenario: balance and accrued interest still owed at the end of the horizon,
  discounted to t = 0 at the loan rate (unpaid interest accrues at the loan rate, so a loan
  paid late but in full loses nothing). **EL** = mean loss / size. **LGD** = EL / PD
  (loss given default as a share of the tranche size, so EL = PD x LGD).
* **WAL**: ``sum_t t E[principal_t] / sum_t E[principal_t]`` over principal actually repaid
  (scheduled + swept) [yr]. **Duration**: Macaulay duration of the expected cash flows
  discounted at the loan rate [yr].
* **Par spread**: the ``s`` with ``sum_t E[CF_t] / (1 + r_f + s)^t = size`` — the yield of
  the expected cash flows over the risk-free rate ``r_f`` [bp].
* **Rating bucket**: the PD is annualised over the tranche's maturity,
  ``pd_1y = 1 - (1 - PD)^(1/maturity)``, and mapped to the best bucket of
  :data:`IDEALIZED_PD_1Y` whose idealized 1-year default rate is at least ``pd_1y``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gridcap.errors import GridcapInputError

#: Moody's idealized cumulative expected default rates, 1-year horizon [1], as tabulated in
#: Moody's Investors Service, "The Binomial Expansion Method Applied to CBO/CLO Analysis"
#: (Dec. 1996) and reused in its CDO rating methodologies. Upper bound of each bucket.
IDEALIZED_PD_1Y: dict[str, float] = {
    "Aaa": 0.000001,
    "Aa1": 0.000006,
    "Aa2": 0.000014,
    "Aa3": 0.000030,
    "A1": 0.000058,
    "A2": 0.000109,
    "A3": 0.000389,
    "Baa1": 0.000900,
    "Baa2": 0.001700,
    "Baa3": 0.004200,
    "Ba1": 0.008700,
    "Ba2": 0.015600,
    "Ba3": 0.028100,
    "B1": 0.046800,
    "B2": 0.071600,
    "B3": 0.116200,
}
#: Bucket for PDs above the B3 bound.
WORST_BUCKET = "Caa-C"


def rating_bucket(pd: float, maturity_years: float) -> str:
    """Rating-like bucket from a cumulative PD over ``maturity_years``.

    Parameters
    ----------
    pd : float
        Cumulative probability of default over the tranche life [1].
    maturity_years : float
        Tranche maturity [yr] (> 0).

    Returns
    -------
    str
        Bucket name from :data:`IDEALIZED_PD_1Y`, or :data:`WORST_BUCKET`; ``"n/a"`` for
        NaN.

    Examples
    --------
    >>> rating_bucket(0.0, 5)
    'Aaa'
    >>> rating_bucket(1 - (1 - 0.0015) ** 5, 5)
    'Baa2'
    """
    if not np.isfinite(pd):
        return "n/a"
    if maturity_years <= 0:
        raise GridcapInputError(f"maturity_years = {maturity_years}: expected a value > 0")
    pd_1y = 1.0 - (1.0 - min(max(pd, 0.0), 1.0)) ** (1.0 / maturity_years)
    for name, bound in IDEALIZED_PD_1Y.items():
        if pd_1y <= bound * (1 + 1e-12):
            return name
    return WORST_BUCKET


def npv(rate: Any, flows: Any, xp: Any = np) -> Any:
    """Net present value with annual compounding, first flow at t = 0.

    Parameters
    ----------
    rate : float or array, shape (S,)
        Discount rate per year (> -1) [1/yr].
    flows : array, shape (..., T+1)
        Cash flows at t = 0..T [$].
    xp : module
        Array namespace (numpy or cupy).

    Returns
    -------
    array, shape (...)
        ``sum_t flows_t / (1 + rate)^t`` [$].
    """
    flows = xp.asarray(flows, dtype=float)
    t = xp.arange(flows.shape[-1], dtype=float)
    r = xp.asarray(rate, dtype=float)[..., None]
    return (flows * (1.0 + r) ** (-t)).sum(axis=-1)


#: Rates scanned for the first sign change of NPV when flows change sign more than once
#: [1/yr]: 1 + r log-spaced from 1e-4 to 11 (1,200 points, ~0.8% apart in 1 + r).
_IRR_SCAN_POINTS = 1200
#: Days per year of the dated (XNPV/XIRR) day count, Actual/365 Fixed [d/yr].
DAYS_PER_YEAR = 365.0


def _npv_at(rate: Any, flows: Any, times: Any, xp: Any) -> Any:
    """sum_i flows_i / (1 + rate)^times_i over the last axis (rate broadcast per row)."""
    r = xp.asarray(rate, dtype=float)[..., None]
    return (flows * (1.0 + r) ** (-times)).sum(axis=-1)


def _sign_changes(f: Any, xp: Any) -> Any:
    """Number of sign changes along the last axis, zeros skipped (Descartes' count)."""
    s = xp.sign(f)
    out = xp.zeros(f.shape[0], dtype=xp.int64)
    last = xp.zeros(f.shape[0])
    for j in range(f.shape[1]):
        sj = s[:, j]
        nz = sj != 0
        out = out + ((last != 0) & nz & (sj != last))
        last = xp.where(nz, sj, last)
    return out


def _rate_root(f: Any, times: Any, lo: float, hi: float, iters: int, xp: Any) -> Any:
    """Lowest rate in (lo, hi) where NPV changes sign; -1 / hi when there is none."""
    S = f.shape[0]
    multi = _sign_changes(f, xp) >= 2
    a = xp.full(S, lo)
    b = xp.full(S, hi)
    fa = _npv_at(a, f, times, xp)
    fb = _npv_at(b, f, times, xp)
    none_neg = fa <= 0  # single sign change: NPV(lo) <= 0 means no root above lo
    none_pos = fb > 0
    idx = xp.nonzero(multi)[0]
    if idx.size:
        grid = xp.exp(xp.linspace(np.log1p(lo), np.log1p(hi), _IRR_SCAN_POINTS)) - 1.0
        fm = f[idx]
        vals = xp.stack([_npv_at(xp.full(idx.size, g), fm, times, xp) for g in grid], axis=1)
        pos = vals > 0
        change = pos[:, 1:] != pos[:, :-1]
        has = change.any(axis=1)
        k = xp.argmax(change, axis=1)
        a[idx] = xp.where(has, grid[k], lo)
        b[idx] = xp.where(has, grid[k + 1], hi)
        fa[idx] = xp.where(has, vals[xp.arange(idx.size), k], vals[:, 0])
        none_neg[idx] = ~has & ~pos[:, 0]
        none_pos[idx] = ~has & pos[:, 0]
    for _ in range(iters):
        mid = 0.5 * (a + b)
        fm_ = _npv_at(mid, f, times, xp)
        left = (fm_ > 0) == (fa > 0)
        a = xp.where(left, mid, a)
        fa = xp.where(left, fm_, fa)
        b = xp.where(left, b, mid)
    out = 0.5 * (a + b)
    out = xp.where(none_neg, -1.0, out)
    return xp.where(none_pos, hi, out)


def irr(
    flows: Any, *, lo: float = -0.9999, hi: float = 10.0, iters: int = 100, xp: Any = np
) -> Any:
    """Internal rate of return of each row of ``flows`` (annual periods, first flow at t = 0).

    Parameters
    ----------
    flows : array, shape (S, T+1)
        Cash flows at t = 0..T [$]; ``flows[:, 0] < 0`` (the investment).
    lo, hi : float
        Bracket [1/yr].
    iters : int
        Bisection steps (100 halvings reach float precision).
    xp : module
        Array namespace.

    Returns
    -------
    array, shape (S,)
        IRR [1/yr]. ``-1`` (a total loss) where NPV stays <= 0 at every rate of the bracket
        (e.g. nothing comes back); ``hi`` where NPV stays > 0.

    Notes
    -----
    **Which root.** With one sign change in the flows (an outlay, then receipts) NPV falls
    monotonically in the rate and the root is unique. With several sign changes (equity with
    injections, a project with a decommissioning cost) NPV can have several roots; this
    function returns the **conventional root: the lowest rate in (lo, hi) at which NPV
    changes sign**, found by scanning 1,200 log-spaced values of 1 + r and bisecting the
    first bracket (roots closer together than ~0.8% in 1 + r are not told apart). For
    ``[-100, 230, -132]`` (roots 10% and 20%) it returns 0.10.

    Examples
    --------
    >>> float(irr(np.array([[-100.0, 230.0, -132.0]]))[0])  # doctest: +ELLIPSIS
    0.1000...
    """
    f = xp.asarray(flows, dtype=float)
    times = xp.arange(f.shape[-1], dtype=float)
    return _rate_root(f, times, lo, hi, iters, xp)


def _year_fractions(dates: Any) -> np.ndarray:
    d = np.asarray(dates, dtype="datetime64[D]")
    if d.ndim != 1 or d.size < 2:
        raise GridcapInputError(f"dates: {d.size} dates: expected a 1-D list of at least two")
    return (d - d[0]).astype(float) / DAYS_PER_YEAR


def xnpv(rate: float, flows: Any, dates: Any) -> Any:
    r"""NPV of dated cash flows, Actual/365 Fixed, discounted to the first date.

    Parameters
    ----------
    rate : float
        Annual discount rate (> -1) [1/yr], annually compounded.
    flows : array, shape (N,) or (S, N)
        Cash flows on ``dates`` [$].
    dates : sequence of N dates
        ``datetime.date``, ``numpy.datetime64`` or ISO strings; the first is t = 0.

    Returns
    -------
    float or array (S,)
        :math:`\sum_i CF_i / (1 + r)^{(d_i - d_0)/365}` [$] — the day count of the
        spreadsheet function XNPV.
    """
    if not rate > -1:
        raise GridcapInputError(f"rate = {rate}: expected a rate > -1 [1/yr]")
    t = _year_fractions(dates)
    f = np.asarray(flows, dtype=float)
    if f.shape[-1] != t.size:
        raise GridcapInputError(f"flows: {f.shape[-1]} values for {t.size} dates")
    v = _npv_at(np.full(f.shape[:-1], rate), f, t, np)
    return float(v) if np.ndim(v) == 0 else v


def xirr(flows: Any, dates: Any, *, lo: float = -0.9999, hi: float = 10.0,
         iters: int = 100) -> Any:
    """IRR of dated cash flows (Actual/365 Fixed), the rate at which :func:`xnpv` is zero.

    Parameters
    ----------
    flows : array, shape (N,) or (S, N)
        Cash flows on ``dates`` [$].
    dates : sequence of N dates
        First date is t = 0.
    lo, hi : float
        Bracket [1/yr].
    iters : int
        Bisection steps.

    Returns
    -------
    float or array (S,)
        Annual rate [1/yr]; the same root convention as :func:`irr` (the lowest rate where
        NPV changes sign; -1 for a total loss).
    """
    t = _year_fractions(dates)
    f = np.asarray(flows, dtype=float)
    one = f.ndim == 1
    f2 = f[None, :] if one else f
    if f2.shape[-1] != t.size:
        raise GridcapInputError(f"flows: {f2.shape[-1]} values for {t.size} dates")
    r = _rate_root(f2, t, lo, hi, iters, np)
    return float(r[0]) if one else r


IRR_QUANTILES = (0.01, 0.05, 0.5, 0.95)


def tranche_metrics(
    tranche_cash_usd: np.ndarray,
    principal_usd: np.ndarray | None,
    size_usd: float,
    rate: float,
    *,
    default_period: np.ndarray | None,
    outstanding_usd: np.ndarray | None,
    maturity_years: int,
    risk_free_rate: float,
) -> dict[str, Any]:
    """Risk and price metrics of one tranche over S scenarios.

    Parameters
    ----------
    tranche_cash_usd : numpy.ndarray, shape (S, T)
        Cash received by the tranche at the end of years 1..T [$].
    principal_usd : numpy.ndarray, shape (S, T), optional
        Principal part of those receipts [$] (None for equity: WAL is NaN).
    size_usd : float
        Amount invested at t = 0 [$].
    rate : float
        Loan rate [1/yr] (discounting of losses and duration; for equity, the hurdle rate).
    default_period : numpy.ndarray of int, shape (S,), optional
        Year of default, 0 if none (None for equity: PD, EL, LGD are NaN).
    outstanding_usd : numpy.ndarray, shape (S,), optional
        Balance + accrued interest owed after the last year [$].
    maturity_years : int
        Tranche maturity [yr], for the rating bucket.
    risk_free_rate : float
        Risk-free rate for the par spread [1/yr].

    Returns
    -------
    dict
        ``pd``, ``expected_loss``, ``lgd`` [1], ``wal_years``, ``duration_years`` [yr],
        ``irr_mean`` and ``irr_q`` (quantiles :data:`IRR_QUANTILES`) [1/yr],
        ``yield_expected`` [1/yr], ``spread_bps`` [bp] (NaN when the expected cash flows are a
        total loss), ``total_loss_share`` [1] (scenarios whose IRR is -1: nothing of the
        amount invested comes back), ``rating`` (str), ``irr`` (S,).
    """
    cf = np.asarray(tranche_cash_usd, dtype=float)
    S, T = cf.shape
    nan = float("nan")
    out: dict[str, Any] = {}
    t = np.arange(1, T + 1, dtype=float)
    if default_period is not None and outstanding_usd is not None and size_usd > 0:
        dflt = np.asarray(default_period) > 0
        pd = float(dflt.mean())
        loss = np.asarray(outstanding_usd, dtype=float) / (1.0 + rate) ** T
        el = float(loss.mean() / size_usd)
        out.update(
            pd=pd,
            expected_loss=el,
            lgd=el / pd if pd > 0 else nan,
            rating=rating_bucket(pd, maturity_years),
        )
    else:
        out.update(pd=nan, expected_loss=nan, lgd=nan, rating="n/a")
    if principal_usd is not None:
        ep = np.asarray(principal_usd, dtype=float).mean(axis=0)
        out["wal_years"] = float((t * ep).sum() / ep.sum()) if ep.sum() > 0 else nan
    else:
        out["wal_years"] = nan
    ecf = cf.mean(axis=0)
    pv = ecf / (1.0 + rate) ** t
    out["duration_years"] = float((t * pv).sum() / pv.sum()) if pv.sum() > 0 else nan
    if size_usd > 0:
        flows = np.concatenate([np.full((S, 1), -size_usd), cf], axis=1)
        r = irr(flows)
        out["irr"] = r
        out["irr_mean"] = float(r.mean())
        out["irr_q"] = np.quantile(r, IRR_QUANTILES)
        out["total_loss_share"] = float((r <= -1.0).mean())
        y = float(irr(np.concatenate([[-size_usd], ecf])[None, :])[0])
        out["yield_expected"] = y
        # a total loss has no yield to quote a spread on (never report -10,400 bp)
        out["spread_bps"] = (y - risk_free_rate) * 1e4 if y > -1.0 else nan
    else:
        out.update(
            irr=np.full(S, nan),
            irr_mean=nan,
            total_loss_share=nan,
            irr_q=np.full(len(IRR_QUANTILES), nan),
            yield_expected=nan,
            spread_bps=nan,
        )
    return out


def vasicek_tranche_el(p: float, rho: float, attach: float, detach: float) -> float:
    """Expected loss of a tranche of a large homogeneous pool (Vasicek one-factor model).

    Parameters
    ----------
    p : float
        Default probability of each pool asset over the horizon [1].
    rho : float
        Asset correlation, in (0, 1) [1].
    attach, detach : float
        Tranche attachment and detachment as fractions of the pool, 0 <= a < d <= 1 [1].

    Returns
    -------
    float
        Tranche expected loss as a fraction of the tranche notional [1] (loss given default
        of each asset = 1).

    Notes
    -----
    Pool loss ``L(Z) = Phi((Phi^-1(p) - sqrt(rho) Z) / sqrt(1 - rho))``. With
    ``c = Phi^-1(p)`` and ``z_K = (c - sqrt(1-rho) Phi^-1(K)) / sqrt(rho)``,
    ``E[(L - K)^+] = Phi_2(c, z_K; sqrt(rho)) - K Phi(z_K)``, and the tranche EL is
    ``(E[(L-a)^+] - E[(L-d)^+]) / (d - a)``.

    References
    ----------
    O. Vasicek, "The distribution of loan portfolio value", Risk 15(12), 160-162, 2002.
    """
    from scipy.stats import multivariate_normal, norm

    c = norm.ppf(p)
    sr = np.sqrt(rho)

    def call(k: float) -> float:
        if k <= 0:
            return p
        if k >= 1:
            return 0.0
        zk = (c - np.sqrt(1 - rho) * norm.ppf(k)) / sr
        biv = multivariate_normal(mean=[0.0, 0.0], cov=[[1.0, sr], [sr, 1.0]])
        return float(biv.cdf([c, zk]) - k * norm.cdf(zk))

    return (call(attach) - call(detach)) / (detach - attach)
