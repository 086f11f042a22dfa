"""DER dispatch over a scenario batch: array reference (NumPy) and CuPy implementation.

The kernel contract shared by all backends (``numpy``, ``cupy``, ``numba-cpu``,
``numba-cuda``) is :class:`FleetArrays` + :class:`DispatchDrivers` in, :class:`DispatchOut`
accumulators out. The per-element arithmetic is :func:`gridcap.kernels.physics.der_hour_step`
and Philox from :mod:`gridcap.kernels.rng`, compiled per target by
:mod:`gridcap.kernels.targets`. Nothing of size DER × scenario × hour is ever stored: per hour
the lanes' injections are summed per region, and per-lane totals are kept in lane-sized
accumulators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gridcap.kernels.rng import STREAMS, der_hour_words, seed_key

__all__ = [
    "FLOAT_PARAMS",
    "INT_PARAMS",
    "SOURCES",
    "DispatchDrivers",
    "DispatchOut",
    "FleetArrays",
    "dispatch_xp",
]

#: Rows of :attr:`FleetArrays.fparams` [kW, kW, kWh, kWh, kW, 1, kW, kWh, kW, 1, kW].
FLOAT_PARAMS = ("pv_kw", "base_kw", "e_min", "e_max", "p_batt", "eta", "ev_kw", "ev_kwh_day",
                "flex_kw", "rebound", "committed")
#: Rows of :attr:`FleetArrays.iparams` [h, h, index, index].
INT_PARAMS = ("arr", "dep", "region", "pool")
#: Energy sources accumulated per region (outcomes coordinate ``source``).
SOURCES = ("pv", "battery_discharge", "grid_import", "flex_shed")


@dataclass
class FleetArrays:
    """DERs sorted by (region, pool), as kernel arrays.

    Attributes
    ----------
    fparams : array, (len(FLOAT_PARAMS), N) float64
        Float parameters (units in :data:`FLOAT_PARAMS`).
    iparams : array, (len(INT_PARAMS), N) int64
        Integer parameters.
    der_id : array, (N,) uint64
        Original position of each DER in the fleet (the RNG entity key).
    region_start : array, (R + 1,) int64
        DERs of region r are ``region_start[r]:region_start[r+1]``.
    n_pools : int
        Number of pools P.
    """

    fparams: Any
    iparams: Any
    der_id: Any
    region_start: Any
    n_pools: int


@dataclass
class DispatchDrivers:
    """Regional drivers for a scenario batch (S scenarios, R regions, T hours).

    Attributes
    ----------
    scenarios : (S,) uint64 global scenario indices.
    cs : (R, T) clear-sky PV [kW/kW].
    kreg, house, temp, price : (S, R, T) [1], [1], [°C], [$/MWh].
    p_lo, p_hi : (S, R) arbitrage thresholds [$/MWh].
    in_event, pre_event : (S, R, T) bool.
    event_id : (S, R, T) int32, -1 outside events.
    """

    scenarios: Any
    cs: Any
    kreg: Any
    house: Any
    temp: Any
    price: Any
    p_lo: Any
    p_hi: Any
    in_event: Any
    pre_event: Any
    event_id: Any


@dataclass
class DispatchOut:
    """Accumulators filled by a dispatch kernel.

    Attributes
    ----------
    injection : (S, R, T) sum over the region's DERs of injection relative to gross load [kW].
    source : (S, R, len(SOURCES)) energy by source over the simulated hours [kWh].
    pool : (S, P, 2) per pool: arbitrage value Σ price (d - c) / 1000 [$] and battery
        discharge [kWh].
    event : (S, P, E) Σ over event hours of Σ_i min(delivered_i, committed_i) [kWh].
    """

    injection: Any
    source: Any
    pool: Any
    event: Any

    @classmethod
    def zeros(cls, xp, n_s: int, n_r: int, n_t: int, n_p: int, n_e: int) -> DispatchOut:
        """Zero-filled accumulators on ``xp``."""
        return cls(xp.zeros((n_s, n_r, n_t)), xp.zeros((n_s, n_r, len(SOURCES))),
                   xp.zeros((n_s, n_p, 2)), xp.zeros((n_s, n_p, n_e)))


def _segment_sum(xp, x, starts_nz, idx_nz, onehot, n_seg: int):
    """Sum of x (S, N) over contiguous segments of the last axis -> (S, n_seg)."""
    if xp is np:
        out = np.zeros((x.shape[0], n_seg))
        if starts_nz.size:
            out[:, idx_nz] = np.add.reduceat(x, starts_nz, axis=1)
        return out
    return x @ onehot  # pragma: no cover - cupy


def initial_soc(e_min, e_max):
    """Initial battery state of charge: midway between the bounds [kWh]."""
    return 0.5 * (e_min + e_max)


def dispatch_xp(xp, fleet: FleetArrays, drv: DispatchDrivers, out: DispatchOut, *,
                seed: int, trace: dict | None = None) -> None:
    """Dispatch every DER in every scenario of the batch, vectorised over lanes (S × N).

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    fleet : FleetArrays
        Sorted DER parameters.
    drv : DispatchDrivers
        Regional drivers of the batch.
    out : DispatchOut
        Zeroed accumulators, filled in place.
    seed : int
        Seed [1].
    trace : dict, optional
        If given, filled with per-hour arrays (T, S, N) of ``soc`` (start of hour), ``charge``,
        ``discharge``, ``delivered``, ``pv`` [kWh, kW] for tests on small cases.
    """
    from gridcap.kernels.targets import get_ops

    ops = get_ops(xp.__name__)
    fp = {k: fleet.fparams[i][None, :] for i, k in enumerate(FLOAT_PARAMS)}
    ip = {k: fleet.iparams[i][None, :] for i, k in enumerate(INT_PARAMS)}
    region = fleet.iparams[2]
    pool = fleet.iparams[3]
    n_s = int(drv.scenarios.shape[0])
    n_n = int(region.shape[0])
    n_r, n_t = drv.cs.shape
    n_p = fleet.n_pools
    n_e = out.event.shape[2]
    if n_n == 0:
        return
    k0, k1 = seed_key(seed)
    stream = np.uint64(STREAMS["der"])
    der_id = fleet.der_id[None, :]
    scen = drv.scenarios[:, None]

    rs = np.asarray(fleet.region_start if xp is np else fleet.region_start.get())
    nz = np.nonzero(rs[1:] > rs[:-1])[0]
    r_starts = rs[:-1][nz]
    pool_h = np.asarray(pool if xp is np else pool.get())
    p_first = np.r_[0, np.nonzero(pool_h[1:] != pool_h[:-1])[0] + 1]
    p_idx = pool_h[p_first]
    onehot_r = onehot_p = None
    if xp is not np:  # pragma: no cover - cupy
        onehot_r = (region[:, None] == xp.arange(n_r)[None, :]).astype(xp.float64)
        onehot_p = (pool[:, None] == xp.arange(n_p)[None, :]).astype(xp.float64)

    soc = xp.broadcast_to(initial_soc(fp["e_min"], fp["e_max"]), (n_s, n_n)).copy()
    ev_need = xp.zeros((n_s, n_n))
    debt = xp.zeros((n_s, n_n))
    acc = {k: xp.zeros((n_s, n_n)) for k in ("pv", "d", "imp", "shed", "arb")}
    s_lane = xp.broadcast_to(xp.arange(n_s)[:, None], (n_s, n_n))
    p_lane = xp.broadcast_to(pool[None, :], (n_s, n_n))
    committed = fp["committed"]
    inv_eta = 1.0 / fp["eta"]
    if trace is not None:
        for k in ("soc", "charge", "discharge", "delivered", "pv"):
            trace[k] = np.empty((n_t, n_s, n_n))
    ev_stream = np.uint64(STREAMS["der_event"])
    w: tuple = ()
    for t in range(n_t):
        c0, k = der_hour_words(t)
        if k == 0:  # one block serves two hours (rng.der_hour_words)
            w = ops.philox4x32_10(np.uint64(c0), der_id, scen, stream, k0, k1)
        z0, z1 = ops.box_muller(w[k], w[k + 1])
        in_ev = drv.in_event[:, :, t][:, region]
        u = xp.ones((n_s, n_n))  # the response uniform matters in event hours only
        if bool(in_ev.any()):
            u = ops.bits_to_uniform(
                ops.philox4x32_10(np.uint64(t), der_id, scen, ev_stream, k0, k1)[0])
        price = drv.price[:, :, t][:, region]
        eid = drv.event_id[:, :, t][:, region]
        if trace is not None:
            trace["soc"][t] = soc if xp is np else soc.get()
        soc, ev_need, debt, pv, c, d, inj, imp, shed, deliv = ops.der_hour_step(
            soc, ev_need, debt,
            fp["pv_kw"], fp["base_kw"], fp["e_min"], fp["e_max"], fp["p_batt"], fp["eta"],
            inv_eta, fp["ev_kw"], fp["ev_kwh_day"], ip["arr"], ip["dep"], fp["flex_kw"],
            fp["rebound"], committed,
            drv.cs[:, t][region][None, :], drv.kreg[:, :, t][:, region],
            drv.house[:, :, t][:, region], drv.temp[:, :, t][:, region], price,
            drv.p_lo[:, region], drv.p_hi[:, region],
            in_ev, drv.pre_event[:, :, t][:, region], t % 24,
            z0, z1, u,
        )
        if trace is not None:
            for k, v in (("charge", c), ("discharge", d), ("delivered", deliv), ("pv", pv)):
                trace[k][t] = v if xp is np else v.get()
        out.injection[:, :, t] += _segment_sum(xp, inj, r_starts, nz, onehot_r, n_r)
        acc["pv"] += pv
        acc["d"] += d
        acc["imp"] += imp
        acc["shed"] += shed
        acc["arb"] += price * (d - c)
        m = eid >= 0
        if bool(m.any()):
            settled = xp.minimum(deliv, committed)
            flat = (s_lane[m] * n_p + p_lane[m]) * n_e + eid[m]
            if xp is np:
                np.add.at(out.event.reshape(-1), flat, settled[m])
            else:  # pragma: no cover - cupy
                import cupyx

                cupyx.scatter_add(out.event.reshape(-1), flat, settled[m])
    for i, k in enumerate(("pv", "d", "imp", "shed")):
        out.source[:, :, i] += _segment_sum(xp, acc[k], r_starts, nz, onehot_r, n_r)
    acc["arb"] /= 1000.0  # [$/MWh × kWh] -> [$]
    if xp is np:
        out.pool[:, :, 0] += _pool_sum(acc["arb"], p_first, p_idx, n_p)
        out.pool[:, :, 1] += _pool_sum(acc["d"], p_first, p_idx, n_p)
    else:  # pragma: no cover - cupy
        out.pool[:, :, 0] += acc["arb"] @ onehot_p
        out.pool[:, :, 1] += acc["d"] @ onehot_p


def _pool_sum(x, first, idx, n_p: int):
    o = np.zeros((x.shape[0], n_p))
    o[:, idx] = np.add.reduceat(x, first, axis=1)
    return o
