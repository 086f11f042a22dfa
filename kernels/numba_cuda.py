"""``numba-cuda`` backend: one thread per (scenario, DER), blocks of one region.

Grid ``(n_blocks, S)``: block ``b`` holds up to :data:`THREADS` DERs of one region (the host
builds the block table), ``blockIdx.y`` is the scenario. Each hour, the block reduces its
threads' injections in shared memory and adds the block sum to the regional total with one
atomic add; event deliveries and end-of-run totals are atomic adds too. Float atomics make the
summation order vary between runs, so regional sums agree with the CPU backends to about
1e-12 relative rather than bit for bit (the draws themselves are bit-identical).

Tested without a GPU under ``NUMBA_ENABLE_CUDASIM=1`` (``from numba import cuda`` stays at
module level so the simulator can patch it).
"""

from __future__ import annotations

import os

import numpy as np
from numba import cuda, float64

from gridcap.kernels.dispatch import DispatchDrivers, DispatchOut, FleetArrays
from gridcap.kernels.rng import STREAMS, seed_key
from gridcap.kernels.targets import get_ops

__all__ = ["THREADS", "block_table", "dispatch_numba_cuda"]

#: Threads (DER lanes) per CUDA block; a power of two for the tree reduction. Under the CUDA
#: simulator (``NUMBA_ENABLE_CUDASIM=1``), where every thread is a Python thread, blocks of 8
#: keep tests fast; the reduction is the same code for any power of two.
THREADS = 8 if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1" else 64

_ops = get_ops("numba-cuda")
philox4x32_10 = _ops.philox4x32_10
box_muller = _ops.box_muller
bits_to_uniform = _ops.bits_to_uniform
der_hour_step = _ops.der_hour_step


@cuda.jit
def _cuda_kernel(k0, k1, stream, ev_stream, scen, fpar, ipar, der_id, b_start, b_n, b_reg, cs,
                 kreg, house, temp, price, p_lo, p_hi, in_ev, pre_ev, eid, inj, src, pacc, evd):
    b = cuda.blockIdx.x
    s = cuda.blockIdx.y
    j = cuda.threadIdx.x
    sh = cuda.shared.array(THREADS, float64)
    n = b_n[b]
    r = b_reg[b]
    valid = j < n
    i = b_start[b] + (j if valid else 0)
    pv_kw = fpar[0, i]
    base_kw = fpar[1, i]
    e_min = fpar[2, i]
    e_max = fpar[3, i]
    p_batt = fpar[4, i]
    eta = fpar[5, i]
    inv_eta = 1.0 / eta
    ev_kw = fpar[6, i]
    ev_day = fpar[7, i]
    flex_kw = fpar[8, i]
    reb = fpar[9, i]
    com = fpar[10, i]
    arr = ipar[0, i]
    dep = ipar[1, i]
    pool = ipar[3, i]
    ident = der_id[i]
    sc = scen[s]
    plo = p_lo[s, r]
    phi = p_hi[s, r]
    soc = 0.5 * (e_min + e_max)
    evn = 0.0
    debt = 0.0
    a_pv = 0.0
    a_d = 0.0
    a_imp = 0.0
    a_shed = 0.0
    a_arb = 0.0
    n_t = cs.shape[1]
    w2 = np.uint64(0)
    w3 = np.uint64(0)
    for t in range(n_t):
        if t % 2 == 0:  # one block of stream "der" serves two hours (rng.der_hour_words)
            w0, w1, w2, w3 = philox4x32_10(np.uint64(t // 2), ident, sc, stream, k0, k1)
            z0, z1 = box_muller(w0, w1)
        else:
            z0, z1 = box_muller(w2, w3)
        ie = in_ev[s, r, t]
        u = 1.0  # the response uniform matters in event hours only (stream "der_event")
        if ie:
            e0, _e1, _e2, _e3 = philox4x32_10(np.uint64(t), ident, sc, ev_stream, k0, k1)
            u = bits_to_uniform(e0)
        pr = price[s, r, t]
        soc, evn, debt, pv, c, d, injv, imp, shed, dl = der_hour_step(
            soc, evn, debt, pv_kw, base_kw, e_min, e_max, p_batt, eta, inv_eta, ev_kw, ev_day, arr,
            dep, flex_kw, reb, com, cs[r, t], kreg[s, r, t], house[s, r, t], temp[s, r, t],
            pr, plo, phi, ie, pre_ev[s, r, t], t % 24, z0, z1, u)
        if valid:
            a_pv += pv
            a_d += d
            a_imp += imp
            a_shed += shed
            a_arb += pr * (d - c)
            sh[j] = injv
        else:
            sh[j] = 0.0
        cuda.syncthreads()
        stride = THREADS // 2
        while stride > 0:
            if j < stride:
                sh[j] += sh[j + stride]
            cuda.syncthreads()
            stride //= 2
        if j == 0:
            cuda.atomic.add(inj, (s, r, t), sh[0])
        e = eid[s, r, t]
        if valid and e >= 0:
            cuda.atomic.add(evd, (s, pool, e), min(dl, com))
        cuda.syncthreads()
    if valid:
        cuda.atomic.add(src, (s, r, 0), a_pv)
        cuda.atomic.add(src, (s, r, 1), a_d)
        cuda.atomic.add(src, (s, r, 2), a_imp)
        cuda.atomic.add(src, (s, r, 3), a_shed)
        cuda.atomic.add(pacc, (s, pool, 0), a_arb / 1000.0)
        cuda.atomic.add(pacc, (s, pool, 1), a_d)


def block_table(region_start: np.ndarray, threads: int = THREADS) -> tuple[np.ndarray, ...]:
    """Blocks of at most ``threads`` DERs, each within one region.

    Parameters
    ----------
    region_start : numpy.ndarray
        (R + 1,) start offsets of each region's DERs (sorted fleet).
    threads : int
        Lanes per block [1].

    Returns
    -------
    tuple of numpy.ndarray
        ``(start, count, region)`` per block, int64.
    """
    starts, counts, regs = [], [], []
    for r in range(len(region_start) - 1):
        a, b = int(region_start[r]), int(region_start[r + 1])
        for s in range(a, b, threads):
            starts.append(s)
            counts.append(min(threads, b - s))
            regs.append(r)
    return (np.asarray(starts, np.int64), np.asarray(counts, np.int64),
            np.asarray(regs, np.int64))


def dispatch_numba_cuda(fleet: FleetArrays, drv: DispatchDrivers, out: DispatchOut, *,
                        seed: int) -> None:
    """Dispatch a scenario batch on a CUDA device (or the CUDA simulator).

    Parameters
    ----------
    fleet : FleetArrays
        Sorted DER parameters (NumPy arrays; copied to the device).
    drv : DispatchDrivers
        Regional drivers (NumPy arrays; copied to the device).
    out : DispatchOut
        Zeroed NumPy accumulators, filled in place.
    seed : int
        Seed [1].
    """
    b_start, b_n, b_reg = block_table(np.asarray(fleet.region_start))
    if b_start.size == 0:
        return
    k0, k1 = seed_key(seed)
    def dev(a):
        return cuda.to_device(np.ascontiguousarray(a))

    d_out = [dev(np.ascontiguousarray(a)) for a in (out.injection, out.source, out.pool,
                                                     out.event)]
    n_s = int(drv.scenarios.shape[0])
    grid = (int(b_start.size), n_s)
    _cuda_kernel[grid, THREADS](
        k0, k1, np.uint64(STREAMS["der"]), np.uint64(STREAMS["der_event"]),
        dev(np.ascontiguousarray(drv.scenarios, np.uint64)),
        dev(fleet.fparams), dev(fleet.iparams), dev(fleet.der_id), dev(b_start), dev(b_n),
        dev(b_reg), dev(drv.cs), dev(drv.kreg), dev(drv.house), dev(drv.temp),
        dev(drv.price), dev(drv.p_lo), dev(drv.p_hi), dev(drv.in_event), dev(drv.pre_event),
        dev(drv.event_id), *d_out)
    for host, d in zip((out.injection, out.source, out.pool, out.event), d_out, strict=True):
        host[...] = d.copy_to_host()
