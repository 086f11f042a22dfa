"""Compiled (Numba, CPU) loops for the Monte Carlo stages around the dispatch kernel.

The scenario drivers, the site economics and the slice statistics are array code against
``xp`` (:mod:`~gridcap.kernels.drivers`, :mod:`~gridcap.kernels.sites`,
:mod:`~gridcap.kernels.simulate`), shared by every backend. On the CPU (``xp`` is NumPy)
their hot loops run here instead, in parallel over scenarios, with no temporaries per
operation, and give **the same bits** as the NumPy code:

* compiled without fast-math (no FMA contraction, no reassociation): every product and sum is
  rounded as NumPy rounds it, in the same order;
* sums over hours use :func:`pairwise_sum`, NumPy's own pairwise summation (8 accumulators,
  blocks of 128, halving above), so ``x.sum(axis=-1)`` is reproduced exactly; over a slice's
  gathered hours (``x[..., ix]``, whose gathered axis NumPy lays out outermost) NumPy adds hour
  by hour, and so do the slice loops (pairwise only for a single row, as NumPy);
* the AR(1) recursion is evaluated as SciPy's ``lfilter`` evaluates it
  (``y_t = s e_t + phi y_{t-1}``, each product rounded);
* transcendental functions (``exp``, ``log``, ``cos``) are left to NumPy, whose SIMD
  implementations differ from the C library's in the last place.

``tests/test_kernels_stages.py`` checks each compiled path against the NumPy one bit for bit.
Set ``GRIDCAP_NUMBA_CACHE=0`` to disable the on-disk cache.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numba
import numpy as np
from numba import prange

from gridcap.kernels.rng import STREAMS, seed_key
from gridcap.kernels.targets import get_ops

__all__ = ["driver_factors", "driver_fields", "net_load_slices", "pairwise_sum", "site_sums",
           "slice_means"]

_ops = get_ops("numba-cpu")
philox4x32_10 = _ops.philox4x32_10
box_muller = _ops.box_muller

_HERE = Path(__file__).resolve().parent
_SRC_HASH = hashlib.sha1(
    b"".join((_HERE / f).read_bytes() for f in ("rng.py", "targets.py", "numba_stages.py"))
).hexdigest()[:12]
_CACHE = os.environ.get("GRIDCAP_NUMBA_CACHE", "1") != "0"
#: NumPy's pairwise-summation block [1] (``PW_BLOCKSIZE`` in numpy/_core/src/umath/loops).
_PW_BLOCK = 128


def _jit(**kw):
    """Exact ``numba.njit`` (no fast-math) cached under a name keyed by the sources' hash."""

    def deco(f):
        f.__qualname__ = f"{f.__name__}_{_SRC_HASH}"
        return numba.njit(cache=_CACHE, error_model="numpy", **kw)(f)

    return deco


@numba.njit(error_model="numpy")
def _pairwise_block(a, lo, n):
    """NumPy's unrolled sum of ``a[lo:lo+n]``, ``n`` <= 128."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    m = n - n % 8
    i = 8
    while i < m:
        b = lo + i
        r0 += a[b]
        r1 += a[b + 1]
        r2 += a[b + 2]
        r3 += a[b + 3]
        r4 += a[b + 4]
        r5 += a[b + 5]
        r6 += a[b + 6]
        r7 += a[b + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(error_model="numpy")
def pairwise_sum(a, lo, n):
    """Sum of ``a[lo:lo+n]`` exactly as NumPy's ``add.reduce`` of a contiguous row.

    NumPy sums blocks of up to 128 values with 8 accumulators and adds the halves of longer
    rows recursively (split at half the length, rounded down to a multiple of 8). The
    recursion runs here on an explicit stack: a self-recursive Numba function cannot be
    loaded back from the on-disk cache (it crashed when it was).

    Parameters
    ----------
    a : numpy.ndarray
        1-D float64 array [any unit].
    lo, n : int
        First index and count [1].

    Returns
    -------
    float
        The sum [unit of a], bit-identical to ``a[lo:lo+n].sum()``.
    """
    if n <= _PW_BLOCK:
        return _pairwise_block(a, lo, n)
    st_lo = np.empty(64, np.int64)   # segment of each open call
    st_n = np.empty(64, np.int64)
    right = np.zeros(64, np.bool_)   # its left half is summed (in `left`), right half open
    left = np.empty(64)
    top = 0
    st_lo[0], st_n[0] = lo, n
    while True:
        m = st_n[top]
        if m > _PW_BLOCK:  # open the left half
            h = m // 2
            h -= h % 8
            top += 1
            st_lo[top], st_n[top], right[top] = st_lo[top - 1], h, False
            continue
        v = _pairwise_block(a, st_lo[top], m)
        while True:  # return v to the callers
            if top == 0:
                return v
            top -= 1
            if right[top]:
                v = left[top] + v
                continue
            left[top] = v
            right[top] = True
            h = st_n[top] // 2
            h -= h % 8
            top += 1
            st_lo[top], st_n[top], right[top] = st_lo[top - 1] + h, st_n[top - 1] - h, False
            break


# --------------------------------------------------------------------------- drivers


@_jit(parallel=True)
def _factors_kernel(t, n_r, scen, k0, k1, streams, cn, cr, a_p, b_p, phi, sar, period, x,
                    u_occ, u_size):
    n_s = scen.shape[0]
    n_t = t.shape[0]
    zero = np.uint64(0)
    for s in prange(n_s):
        sc = scen[s]
        prev = np.zeros((4, n_r))
        for i in range(n_t):
            w0, w1, w2, w3 = philox4x32_10(t[i], zero, sc, streams[0], k0, k1)
            na, nb = box_muller(w0, w1)
            nc, nd = box_muller(w2, w3)
            start = i % period == 0
            for r in range(n_r):
                ru = np.uint64(r)
                v0, v1, v2, v3 = philox4x32_10(t[i], ru, sc, streams[1], k0, k1)
                la, lb = box_muller(v0, v1)
                lc, ld = box_muller(v2, v3)
                e_cloud = cn[0] * na + cr[0] * la
                e_temp = cn[1] * nb + cr[1] * lb
                e_price = a_p * e_temp + b_p * (cn[2] * nc + cr[2] * lc)
                e_wind = cn[3] * nd + cr[3] * ld
                if not start:  # y_t = s e_t + phi y_{t-1} (lfilter's rounding)
                    e_cloud = sar[0] * e_cloud + phi[0] * prev[0, r]
                    e_temp = sar[1] * e_temp + phi[1] * prev[1, r]
                    e_price = sar[2] * e_price + phi[2] * prev[2, r]
                    e_wind = sar[3] * e_wind + phi[3] * prev[3, r]
                prev[0, r] = e_cloud
                prev[1, r] = e_temp
                prev[2, r] = e_price
                prev[3, r] = e_wind
                x[0, s, r, i] = e_cloud
                x[1, s, r, i] = e_temp
                x[2, s, r, i] = e_price
                x[3, s, r, i] = e_wind
                q0, q1, _q2, _q3 = philox4x32_10(t[i], ru, sc, streams[2], k0, k1)
                u_occ[s, r, i] = (float(q0) + 0.5) * 2.0**-32
                u_size[s, r, i] = (float(q1) + 0.5) * 2.0**-32


def driver_factors(t: np.ndarray, n_r: int, scenarios: np.ndarray, seed: int, *,
                   rho: tuple[float, ...], phi: tuple[float, ...], temp_corr: float,
                   period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The drivers' latent AR(1) factors and spike uniforms, NumPy's exact bits.

    Parameters
    ----------
    t : numpy.ndarray
        Hour-of-year counters [h], shape (T,).
    n_r : int
        Regions R [1].
    scenarios : numpy.ndarray
        Global scenario indices [1], shape (S,).
    seed : int
        Seed [1].
    rho : tuple of 4 float
        National share of each factor's variance [1] (cloud, temperature, price, wind).
    phi : tuple of 4 float
        Hourly AR(1) coefficients [1], same order.
    temp_corr : float
        Correlation of the price shock with the temperature shock [1].
    period : int
        Hours per representative period [h]: the AR(1) restarts at each period.

    Returns
    -------
    x : numpy.ndarray
        (4, S, R, T) unit AR(1) factors (cloud, temperature, price, wind) [1].
    u_occ, u_size : numpy.ndarray
        (S, R, T) uniforms of spike occurrence and size [1].
    """
    k0, k1 = seed_key(seed)
    sc = np.ascontiguousarray(scenarios, dtype=np.uint64)
    tt = np.ascontiguousarray(t, dtype=np.uint64)
    n_s, n_t = sc.size, tt.size
    x = np.empty((4, n_s, n_r, n_t))
    u_occ = np.empty((n_s, n_r, n_t))
    u_size = np.empty((n_s, n_r, n_t))
    streams = np.array([STREAMS["national"], STREAMS["regional"], STREAMS["spike"]], np.uint64)
    cn = np.array([math.sqrt(r) for r in rho])
    cr = np.array([math.sqrt(1.0 - r) for r in rho])
    ph = np.asarray(phi, dtype=np.float64)
    sar = np.array([math.sqrt(1.0 - p * p) for p in phi])
    _factors_kernel(tt, n_r, sc, k0, k1, streams, cn, cr, float(temp_corr),
                    math.sqrt(1.0 - temp_corr * temp_corr), ph, sar, int(period), x, u_occ,
                    u_size)
    return x, u_occ, u_size


@_jit(parallel=True)
def _fields_kernel(x, t_det, load_h, norm, house_h, cs, price_h, exp_p, log_u, u_occ,
                   spike_pm, wind_h, c, out):
    n_s, n_r, n_t = x.shape[1], x.shape[2], x.shape[3]
    for s in prange(n_s):
        for r in range(n_r):
            for i in range(n_t):
                temp = t_det[r, i] + c[0] * x[1, s, r, i]
                raw = ((load_h[i] + c[1] * max(temp - c[2], 0.0))
                       + c[3] * max(c[4] - temp, 0.0))
                load_pu = raw / norm[r]
                house = house_h[i] * (1.0 + c[5] * (max(temp - c[6], 0.0)
                                                    + 0.5 * max(c[7] - temp, 0.0)))
                kreg = min(max(c[8] + c[9] * x[0, s, r, i], c[10]), 1.0)
                p_spike = c[11] * min(max((load_pu - c[12]) / c[13], 0.0), 1.0)
                spike = spike_pm[r] * (-log_u[s, r, i]) if u_occ[s, r, i] < p_spike else 0.0
                wind = min(max(wind_h[i] + c[14] * x[3, s, r, i], 0.0), c[15])
                out[0, s, r, i] = temp
                out[1, s, r, i] = load_pu
                out[2, s, r, i] = house
                out[3, s, r, i] = kreg
                out[4, s, r, i] = cs[r, i] * kreg
                out[5, s, r, i] = price_h[r, i] * exp_p[s, r, i] + spike
                out[6, s, r, i] = wind


def driver_fields(x: np.ndarray, *, t_det: np.ndarray, load_h: np.ndarray, norm: np.ndarray,
                  house_h: np.ndarray, cs: np.ndarray, price_h: np.ndarray,
                  exp_p: np.ndarray, log_u: np.ndarray, u_occ: np.ndarray,
                  spike_pm: np.ndarray, wind_h: np.ndarray,
                  consts: tuple[float, ...]) -> np.ndarray:
    """The hourly driver fields from the latent factors, NumPy's exact bits.

    The deterministic shapes (functions of the hour and region only) and the transcendental
    parts (``exp_p``, ``log_u``) come from NumPy; see
    :func:`gridcap.kernels.drivers.hourly_drivers` for the model and ``consts``' order.

    Parameters
    ----------
    x : numpy.ndarray
        (4, S, R, T) factors from :func:`driver_factors` [1].
    t_det, cs, price_h : numpy.ndarray
        (R, T) temperature shape [°C], clear-sky PV [kW/kW], price shape [$/MWh].
    load_h, house_h, wind_h : numpy.ndarray
        (T,) load, household and wind shapes [1].
    norm, spike_pm : numpy.ndarray
        (R,) load normaliser [1] and spike scale × mean price [$/MWh].
    exp_p, log_u, u_occ : numpy.ndarray
        (S, R, T) price lognormal factor [1], log of the spike-size uniform [1], spike
        occurrence uniform [1].
    consts : tuple of float
        The 16 scalar parameters in the order the kernel reads them.

    Returns
    -------
    numpy.ndarray
        (7, S, R, T): ``temp`` [°C], ``load_pu`` [1], ``house`` [1], ``kreg`` [1],
        ``solar_cf`` [1], ``price`` [$/MWh], ``wind_cf`` [1].
    """
    out = np.empty((7, *x.shape[1:]))
    _fields_kernel(x, t_det, load_h, norm, house_h, cs, price_h, exp_p, log_u, u_occ,
                   spike_pm, wind_h, np.asarray(consts, dtype=np.float64), out)
    return out


# --------------------------------------------------------------------------- sites


@_jit(parallel=True)
def _site_kernel(price, temp, site_region, online, pl, hp, util, gpu_price, be_k, c_mine,
                 opex_mine, c_energy, gpus, on_h, cost, pue_c, out):
    n_s, n_t = price.shape[0], price.shape[2]
    n_k, n_y = online.shape[0], online.shape[1]
    for job in prange(n_s * n_k):
        s = job // n_k
        k = job - s * n_k
        r = site_region[k]
        pue = np.empty(n_t)
        buf = np.empty(n_t)
        buf2 = np.empty(n_t)
        for i in range(n_t):
            pue[i] = min(pue_c[0] + pue_c[1] * max(temp[s, r, i] - pue_c[2], 0.0), pue_c[3])
        full_sum = 0.0
        full_sum_p = 0.0
        have_full = False
        for y in range(n_y):
            lam = pl[s, y]
            be = be_k[k] * hp[s, y]
            for i in range(n_t):
                p = price[s, r, i] * lam
                buf[i] = be - p if p <= be else 0.0
            margin = pairwise_sum(buf, 0, n_t)
            out[1, s, k, y] = c_mine[k] * margin - opex_mine[k]
            all_on = True
            for i in range(n_t):
                all_on = all_on and online[k, y, i]
            if all_on and have_full:
                pue_sum, pue_sum_p = full_sum, full_sum_p
            else:
                for i in range(n_t):
                    v = pue[i] * (1.0 if online[k, y, i] else 0.0)
                    buf[i] = v
                    buf2[i] = v * price[s, r, i]
                pue_sum = pairwise_sum(buf, 0, n_t)
                pue_sum_p = pairwise_sum(buf2, 0, n_t)
                if all_on:
                    full_sum, full_sum_p, have_full = pue_sum, pue_sum_p, True
            u = util[s, y]
            power = c_energy[k] * u * pue_sum_p * pl[s, y]
            revenue = gpus[k] * u * gpu_price[s, y] * on_h[k, y]
            out[2, s, k, y] = c_energy[k] * u * pue_sum
            out[3, s, k, y] = power
            out[4, s, k, y] = revenue
            out[0, s, k, y] = revenue - power - cost[k, y]


def site_sums(price: np.ndarray, temp: np.ndarray, site_region: np.ndarray,
              online: np.ndarray, annual: dict[str, np.ndarray], *, be_k: np.ndarray,
              c_mine: np.ndarray, opex_mine: np.ndarray, c_energy: np.ndarray,
              gpus: np.ndarray, on_h: np.ndarray, cost: np.ndarray,
              pue_c: tuple[float, float, float, float]) -> np.ndarray:
    """Annual site cash flows of :func:`gridcap.kernels.sites.site_economics`, NumPy's bits.

    Parameters
    ----------
    price, temp : numpy.ndarray
        (S, R, T) hourly price [$/MWh] and temperature [°C].
    site_region : numpy.ndarray
        (K,) region index of each site.
    online : numpy.ndarray
        (K, Y, T) bool: the site's AI load is online in that hour.
    annual : dict
        (S, Y) ``price_level``, ``hashprice_level``, ``ai_utilization`` [1] and
        ``gpu_price`` [$/GPU-h].
    be_k, c_mine, opex_mine, c_energy, gpus : numpy.ndarray
        (K,) breakeven [$/MWh], scale × mining MW [MW], mining opex [$], scale × IT MW
        [MW], GPUs [GPU].
    on_h, cost : numpy.ndarray
        (K, Y) online hours [h] and fixed AI costs [$].
    pue_c : tuple of 4 float
        ``PUE_BASE`` [1], ``PUE_PER_K`` [1/K], ``PUE_T0`` [°C], ``DESIGN_PUE`` [1].

    Returns
    -------
    numpy.ndarray
        (5, S, K, Y): ``cfads``, ``mining_cfads``, ``ai_energy_mwh``, ``power_cost``,
        ``revenue`` [$, $, MWh, $, $].
    """
    n_s, n_k, n_y = price.shape[0], online.shape[0], online.shape[1]
    out = np.zeros((5, n_s, n_k, n_y))
    f = np.ascontiguousarray
    _site_kernel(f(price), f(temp), f(site_region, np.int64), f(online, np.bool_),
                 f(annual["price_level"]), f(annual["hashprice_level"]),
                 f(annual["ai_utilization"]), f(annual["gpu_price"]), f(be_k), f(c_mine),
                 f(opex_mine), f(c_energy), f(gpus), f(on_h), f(cost),
                 np.asarray(pue_c, dtype=np.float64), out)
    return out


# --------------------------------------------------------------------------- slices


@numba.njit(error_model="numpy")
def _slice_sum(a, n, pairwise):
    """NumPy's sum over a slice's gathered hours ``x[..., ix].sum(-1)``: the gathered array
    has the hour axis outermost in memory, so NumPy adds hour by hour (left to right) unless
    there is a single row, which is then contiguous and summed pairwise."""
    if pairwise:
        return pairwise_sum(a, 0, n)
    acc = a[0]
    for j in range(1, n):
        acc += a[j]
    return acc


@_jit(parallel=True)
def _net_slices_kernel(load, inj, g, idx, off, solar, wind, peak, mean, at_s, at_w):
    n_s, n_r, n_t = load.shape
    n_y = g.shape[0]
    n_k = off.shape[0] - 1
    for job in prange(n_s * n_r):
        s = job // n_r
        r = job - s * n_r
        net = np.empty(n_t)
        buf = np.empty(n_t)
        for y in range(n_y):
            gy = g[y, r]
            for t in range(n_t):
                net[t] = load[s, r, t] * gy - inj[s, r, t]
            for k in range(n_k):
                a = off[k]
                n = off[k + 1] - a
                if n == 0:
                    peak[s, r, y, k] = np.nan
                    mean[s, r, y, k] = np.nan
                    if y == 0:
                        at_s[s, r, k] = np.nan
                        at_w[s, r, k] = np.nan
                    continue
                best = net[idx[a]]
                arg = 0
                for j in range(n):
                    v = net[idx[a + j]]
                    buf[j] = v
                    if v > best:  # first hour of the maximum, as argmax
                        best = v
                        arg = j
                peak[s, r, y, k] = best
                mean[s, r, y, k] = _slice_sum(buf, n, n_s * n_r == 1) / n
                if y == 0:
                    at_s[s, r, k] = solar[s, r, idx[a + arg]]
                    at_w[s, r, k] = wind[s, r, idx[a + arg]]


def net_load_slices(load_mw: np.ndarray, inj_mw: np.ndarray, growth_factor: np.ndarray,
                    slice_idx: list[np.ndarray], solar_cf: np.ndarray,
                    wind_cf: np.ndarray) -> tuple[np.ndarray, ...]:
    """Peak and mean net load per slice and year, weather at the first year's peaks.

    NumPy's bits: net load ``load_mw × g_y - inj_mw`` per hour, max and mean over each
    slice's hours (summed in NumPy's order for a gathered array), the first hour of the
    maximum for the weather at peak.

    Parameters
    ----------
    load_mw, inj_mw : numpy.ndarray
        (S, R, T) regional load [MW] and DER injection [MW].
    growth_factor : numpy.ndarray
        (Y, R) load growth factor of each planning year [1].
    slice_idx : list of numpy.ndarray
        Hours of each slice (K lists).
    solar_cf, wind_cf : numpy.ndarray
        (S, R, T) capacity factors [1].

    Returns
    -------
    peak, mean : numpy.ndarray
        (S, R, Y, K) [MW]; NaN for an empty slice.
    solar_at_peak, wind_at_peak : numpy.ndarray
        (S, R, K) [1] at the slice's peak hour of the first year.
    """
    n_s, n_r, _ = load_mw.shape
    n_y, n_k = growth_factor.shape[0], len(slice_idx)
    idx, off = _concat(slice_idx)
    peak = np.empty((n_s, n_r, n_y, n_k))
    mean = np.empty_like(peak)
    at_s = np.empty((n_s, n_r, n_k))
    at_w = np.empty_like(at_s)
    c = np.ascontiguousarray
    _net_slices_kernel(c(load_mw), c(inj_mw), c(growth_factor), idx, off, c(solar_cf),
                       c(wind_cf), peak, mean, at_s, at_w)
    return peak, mean, at_s, at_w


@_jit(parallel=True)
def _slice_means_kernel(x, idx, off, out):
    n_s, n_r, n_t = x.shape
    n_k = off.shape[0] - 1
    for job in prange(n_s * n_r):
        s = job // n_r
        r = job - s * n_r
        buf = np.empty(n_t)
        for k in range(n_k):
            a = off[k]
            n = off[k + 1] - a
            if n == 0:
                out[s, r, k] = np.nan
                continue
            for j in range(n):
                buf[j] = x[s, r, idx[a + j]]
            out[s, r, k] = _slice_sum(buf, n, n_s * n_r == 1) / n


def slice_means(x: np.ndarray, slice_idx: list[np.ndarray]) -> np.ndarray:
    """Mean of ``x`` (S, R, T) over each slice's hours -> (S, R, K), NumPy's bits (NaN for an
    empty slice) [unit of x]."""
    idx, off = _concat(slice_idx)
    out = np.empty((*x.shape[:2], len(slice_idx)))
    _slice_means_kernel(np.ascontiguousarray(x), idx, off, out)
    return out


def _concat(slice_idx: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Hours of all slices in one array and each slice's offset into it."""
    sizes = [len(ix) for ix in slice_idx]
    off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    idx = (np.concatenate([np.asarray(ix, np.int64) for ix in slice_idx]) if slice_idx
           else np.zeros(0, np.int64))
    return idx, off
