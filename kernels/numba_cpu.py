"""``numba-cpu`` backend: lane-blocked parallel DER dispatch.

Layout (PERFORMANCE.md): ``prange`` over (scenario, region) jobs; within a job, DERs in blocks
of :data:`LANES` lanes with the hour loop outside and the lane loop innermost, so LLVM
vectorises the integer Philox rounds, the arithmetic-only normal transforms and the
select-only DER step across lanes. A block's parameters are copied into a small buffer first
(inert padding lanes past the region's last DER), so every lane loop runs over all
:data:`LANES` lanes with plain vector loads: no gathers, no remainder loops. Each job owns
its output rows (regional sums for its (scenario, region); pools never span regions), so there
are no races and the summation order is fixed: results do not depend on the thread count.

Compiled kernels are cached on disk (``cache=True``) under a name that includes a hash of the
element-function sources, so an edit to :mod:`~gridcap.kernels.rng` or
:mod:`~gridcap.kernels.physics` never loads stale machine code (Numba's cache only checks the
kernel's own file). Set ``GRIDCAP_NUMBA_CACHE=0`` to disable the on-disk cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
import numpy as np
from numba import prange

from gridcap.kernels.dispatch import DispatchDrivers, DispatchOut, FleetArrays
from gridcap.kernels.rng import STREAMS, seed_key
from gridcap.kernels.targets import get_ops

__all__ = ["LANES", "dispatch_numba_cpu", "normals_numba_cpu", "philox_words_numba_cpu",
           "rng_numba_cpu"]

#: Lanes per block: 64 float64 lanes = 8 AVX-512 or 16 AVX2 vectors.
LANES = 64

# Rows of the per-job scratch buffer (offsets in units of LANES): state, the normals of an
# hour pair (A: even hour, B: odd hour), the event uniform, hourly results and accumulators,
# then the block's parameters (the float parameters, 1 / eta, and the EV hours as floats).
(_SOC, _EVN, _DEBT, _Z0A, _Z1A, _Z0B, _Z1B, _UU, _INJ, _DEL, _APV, _AD, _AIMP, _ASHED,
 _AARB) = (k * LANES for k in range(15))
_PAR = 15 * LANES
_NPAR = 14
_ETA, _COMMITTED, _INV_ETA, _ARR, _DEP = (_PAR + k * LANES for k in (5, 10, 11, 12, 13))
_NROWS = 15 + _NPAR
# Rows of the per-job word buffer (uint64): the four Philox output words, the block's DER ids.
_IDS = 4 * LANES

_ops = get_ops("numba-cpu")
philox4x32_10 = _ops.philox4x32_10
box_muller = _ops.box_muller
bits_to_uniform = _ops.bits_to_uniform
der_hour_step = _ops.der_hour_step

_HERE = Path(__file__).resolve().parent
_SRC_HASH = hashlib.sha1(
    b"".join((_HERE / f).read_bytes() for f in ("rng.py", "physics.py", "targets.py",
                                                  "numba_cpu.py"))
).hexdigest()[:12]
_CACHE = os.environ.get("GRIDCAP_NUMBA_CACHE", "1") != "0"


#: LLVM may fuse a*b + c into one FMA in the lane loops (the only fast-math flag: no
#: reassociation, no finite-math assumptions). Results then differ from NumPy's (which rounds
#: the product) by a few units in the last place, within the 1e-12 cross-backend tolerance,
#: as on CUDA, whose compiler contracts by default.
FASTMATH = frozenset({"contract"})


def _jit(exact: bool = False, **kw):
    """``numba.njit`` whose cache entry is keyed by the element-source hash.

    ``exact=True`` compiles without FMA contraction: the same bits as NumPy.
    """

    def deco(f):
        f.__qualname__ = f"{f.__name__}_{_SRC_HASH}"
        fm = False if exact else set(FASTMATH)
        return numba.njit(cache=_CACHE, error_model="numpy", fastmath=fm, **kw)(f)

    return deco


@numba.njit(inline="always", error_model="numpy")
def _step_lanes(sb, zr, c_s, k_r, hs, tp, pr, plo, phi, ie, pe, h, ev):
    """One hour of :func:`der_hour_step` over the block's lanes (state and sums in ``sb``).

    ``zr`` is the row of the hour's first normal (:data:`_Z0A` or :data:`_Z0B`, a constant
    at each call site, so every lane access is a fixed offset).
    """
    for j in range(LANES):
        (soc, evn, debt, pv, c, d, injv, imp, shed, dl) = der_hour_step(
            sb[_SOC + j], sb[_EVN + j], sb[_DEBT + j], sb[_PAR + j],
            sb[_PAR + LANES + j], sb[_PAR + 2 * LANES + j], sb[_PAR + 3 * LANES + j],
            sb[_PAR + 4 * LANES + j], sb[_ETA + j], sb[_INV_ETA + j],
            sb[_PAR + 6 * LANES + j], sb[_PAR + 7 * LANES + j], sb[_ARR + j],
            sb[_DEP + j], sb[_PAR + 8 * LANES + j], sb[_PAR + 9 * LANES + j],
            sb[_COMMITTED + j], c_s, k_r, hs, tp, pr, plo, phi, ie, pe, h,
            sb[zr + j], sb[zr + LANES + j], sb[_UU + j])
        sb[_SOC + j] = soc
        sb[_EVN + j] = evn
        sb[_DEBT + j] = debt
        sb[_INJ + j] = injv
        sb[_APV + j] += pv
        sb[_AD + j] += d
        sb[_AIMP + j] += imp
        sb[_AARB + j] += pr * (d - c)
        if ev:  # shed and delivered are exactly 0 outside event hours
            sb[_DEL + j] = dl
            sb[_ASHED + j] += shed


@numba.njit(inline="always", error_model="numpy")
def _lane_sum(sb, row):
    """Sum of a row of LANES lanes in a fixed order: 8 strided partial sums, then a tree."""
    p0 = sb[row]
    p1 = sb[row + 1]
    p2 = sb[row + 2]
    p3 = sb[row + 3]
    p4 = sb[row + 4]
    p5 = sb[row + 5]
    p6 = sb[row + 6]
    p7 = sb[row + 7]
    for b in range(8, LANES, 8):
        p0 += sb[row + b]
        p1 += sb[row + b + 1]
        p2 += sb[row + b + 2]
        p3 += sb[row + b + 3]
        p4 += sb[row + b + 4]
        p5 += sb[row + b + 5]
        p6 += sb[row + b + 6]
        p7 += sb[row + b + 7]
    return ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7))


@_jit()
def _load_block(fpar, ipar, der_id, a, n, sb, wb):
    """Copy DERs a..a+n-1 into the job's buffers; lanes past n get inert parameters.

    Inert lanes (zero power and energy, eta = 1) inject, import and deliver exactly zero, so
    every lane loop can run over all LANES lanes (contiguous, remainder-free, vectorised).
    """
    for k in range(_NPAR - 3):
        for j in range(LANES):
            sb[_PAR + k * LANES + j] = fpar[k, a + j] if j < n else 0.0
    for j in range(LANES):
        if j >= n:
            sb[_ETA + j] = 1.0
        sb[_INV_ETA + j] = 1.0 / sb[_ETA + j]
        sb[_ARR + j] = float(ipar[0, a + j]) if j < n else 0.0
        sb[_DEP + j] = float(ipar[1, a + j]) if j < n else 0.0
        wb[_IDS + j] = der_id[a + j] if j < n else np.uint64(0)


@_jit()
def _event_hour(sb, wb, t, sc, ev_stream, k0, k1, cs_t, k_t, hs_t, tp_t, pr_t, plo, phi, ie,
                pe):
    """Hour ``t`` of a lane block with an event or its notice (~1 % of hours).

    The hour's normals are in rows :data:`_Z0A`/:data:`_Z1A`. Compiled once, on its own,
    rather than inlined at both hours of a pair: the dispatch kernel then holds two copies of
    the DER step instead of four, which takes about a third off its cold compile.
    """
    if ie:  # the response uniform, from its own stream (rng.der_hour_words)
        tt = np.uint64(t)
        for j in range(LANES):
            e0, _e1, _e2, _e3 = philox4x32_10(tt, wb[_IDS + j], sc, ev_stream, k0, k1)
            sb[_UU + j] = bits_to_uniform(e0)
    _step_lanes(sb, _Z0A, cs_t, k_t, hs_t, tp_t, pr_t, plo, phi, ie, pe, t % 24, True)


@numba.njit(inline="always", error_model="numpy")
def _hour(sb, wb, zr, s, r, t, sc, ev_stream, k0, k1, a, n, plo, phi, ipar, cs, kreg, house,
          temp, price, in_ev, pre_ev, eid, inj, evd):
    """Hour ``t`` of a lane block: event uniforms if needed, the step, the regional sums."""
    h = t % 24
    ie = in_ev[s, r, t]
    pe = pre_ev[s, r, t]
    if ie or pe:
        if zr != _Z0A:  # hour B: its normals into the A rows (hour A is done with them)
            for j in range(LANES):
                sb[_Z0A + j] = sb[_Z0B + j]
                sb[_Z1A + j] = sb[_Z1B + j]
        _event_hour(sb, wb, t, sc, ev_stream, k0, k1, cs[r, t], kreg[s, r, t], house[s, r, t],
                    temp[s, r, t], price[s, r, t], plo, phi, ie, pe)
    else:  # ~99% of hours: constant flags fold the event branches away
        _step_lanes(sb, zr, cs[r, t], kreg[s, r, t], house[s, r, t], temp[s, r, t],
                    price[s, r, t], plo, phi, False, False, h, False)
    inj[s, r, t] += _lane_sum(sb, _INJ)
    e = eid[s, r, t]
    if e >= 0:
        for j in range(n):
            evd[s, ipar[3, a + j], e] += min(sb[_DEL + j], sb[_COMMITTED + j])


@_jit(parallel=True)
def _dispatch_kernel(k0, k1, stream, ev_stream, scen, fpar, ipar, der_id, rstart, cs, kreg,
                     house, temp, price, p_lo, p_hi, in_ev, pre_ev, eid, inj, src, pacc, evd):
    n_s = scen.shape[0]
    n_r = rstart.shape[0] - 1
    n_t = cs.shape[1]
    for job in prange(n_s * n_r):
        s = job // n_r
        r = job - s * n_r
        sc = scen[s]
        plo = p_lo[s, r]
        phi = p_hi[s, r]
        # One float buffer and one word buffer per job, row k at offset k * LANES: accesses
        # to different rows are a constant distance apart and every index is non-negative,
        # so LLVM vectorises the lane loops with plain vector loads, without runtime alias
        # checks (separate arrays exceeded its check budget and stayed scalar) or gathers.
        sb = np.zeros(_NROWS * LANES)
        sb[_UU:_UU + LANES] = 1.0
        wb = np.zeros(5 * LANES, dtype=np.uint64)
        for a in range(rstart[r], rstart[r + 1], LANES):
            n = min(LANES, rstart[r + 1] - a)
            _load_block(fpar, ipar, der_id, a, n, sb, wb)
            for j in range(LANES):
                sb[_SOC + j] = 0.5 * (sb[_PAR + 2 * LANES + j] + sb[_PAR + 3 * LANES + j])
                sb[_EVN + j] = 0.0
                sb[_DEBT + j] = 0.0
                sb[_APV + j] = 0.0
                sb[_AD + j] = 0.0
                sb[_AIMP + j] = 0.0
                sb[_ASHED + j] = 0.0
                sb[_AARB + j] = 0.0
            for t in range(0, n_t, 2):  # one Philox block per lane serves two hours
                tt = np.uint64(t >> 1)
                for j in range(LANES):
                    o0, o1, o2, o3 = philox4x32_10(tt, wb[_IDS + j], sc, stream, k0, k1)
                    wb[j] = o0
                    wb[LANES + j] = o1
                    wb[2 * LANES + j] = o2
                    wb[3 * LANES + j] = o3
                for j in range(LANES):
                    za, zb = box_muller(wb[j], wb[LANES + j])
                    zc, zd = box_muller(wb[2 * LANES + j], wb[3 * LANES + j])
                    sb[_Z0A + j] = za
                    sb[_Z1A + j] = zb
                    sb[_Z0B + j] = zc
                    sb[_Z1B + j] = zd
                _hour(sb, wb, _Z0A, s, r, t, sc, ev_stream, k0, k1, a, n, plo, phi, ipar, cs,
                      kreg, house, temp, price, in_ev, pre_ev, eid, inj, evd)
                if t + 1 < n_t:
                    _hour(sb, wb, _Z0B, s, r, t + 1, sc, ev_stream, k0, k1, a, n, plo, phi, ipar,
                          cs, kreg, house, temp, price, in_ev, pre_ev, eid, inj, evd)
            for j in range(n):
                src[s, r, 0] += sb[_APV + j]
                src[s, r, 1] += sb[_AD + j]
                src[s, r, 2] += sb[_AIMP + j]
                src[s, r, 3] += sb[_ASHED + j]
                pacc[s, ipar[3, a + j], 0] += sb[_AARB + j] / 1000.0
                pacc[s, ipar[3, a + j], 1] += sb[_AD + j]


@_jit(parallel=True)
def _rng_kernel(k0, k1, stream, scen, der_id, rstart, n_t, out):
    """The dispatch kernel's draws alone: Philox and the Box-Muller normals, two hours a block."""
    n_s = scen.shape[0]
    n_r = rstart.shape[0] - 1
    for job in prange(n_s * n_r):
        s = job // n_r
        r = job - s * n_r
        sc = scen[s]
        wb = np.zeros(4 * LANES, dtype=np.uint64)
        idb = np.zeros(LANES, dtype=np.uint64)
        acc = np.zeros(LANES)
        for a in range(rstart[r], rstart[r + 1], LANES):
            n = min(LANES, rstart[r + 1] - a)
            for j in range(LANES):
                idb[j] = der_id[a + j] if j < n else np.uint64(0)
            for t in range(0, n_t, 2):
                tt = np.uint64(t >> 1)
                for j in range(LANES):
                    o0, o1, o2, o3 = philox4x32_10(tt, idb[j], sc, stream, k0, k1)
                    wb[j] = o0
                    wb[LANES + j] = o1
                    wb[2 * LANES + j] = o2
                    wb[3 * LANES + j] = o3
                for j in range(LANES):
                    za, zb = box_muller(wb[j], wb[LANES + j])
                    zc, zd = box_muller(wb[2 * LANES + j], wb[3 * LANES + j])
                    acc[j] += (za + zb) + (zc + zd)
        tot = 0.0
        for j in range(LANES):
            tot += acc[j]
        out[s, r] += tot


@_jit(exact=True, parallel=True)
def _normals_kernel(t, ent, scen, stream, k0, k1, out):
    """Four Box-Muller normals per counter (t, entity, scenario), bit-identical to NumPy."""
    n_s = scen.shape[0]
    n_e = ent.shape[0]
    for job in prange(n_s * n_e):
        s = job // n_e
        e = job - s * n_e
        for i in range(t.shape[0]):
            w0, w1, w2, w3 = philox4x32_10(t[i], ent[e], scen[s], stream, k0, k1)
            za, zb = box_muller(w0, w1)
            zc, zd = box_muller(w2, w3)
            out[0, s, e, i] = za
            out[1, s, e, i] = zb
            out[2, s, e, i] = zc
            out[3, s, e, i] = zd


@_jit(parallel=True)
def _words_kernel(k0, k1, stream, scen, der_id, rstart, n_t, out):
    """Philox4x32-10 alone: one block per DER-hour, words folded so none is optimised away."""
    n_s = scen.shape[0]
    n_r = rstart.shape[0] - 1
    for job in prange(n_s * n_r):
        s = job // n_r
        r = job - s * n_r
        sc = scen[s]
        idb = np.zeros(LANES, dtype=np.uint64)
        acc = np.zeros(LANES, dtype=np.uint64)
        for a in range(rstart[r], rstart[r + 1], LANES):
            n = min(LANES, rstart[r + 1] - a)
            for j in range(LANES):
                idb[j] = der_id[a + j] if j < n else np.uint64(0)
            for t in range(n_t):
                tt = np.uint64(t)
                for j in range(LANES):
                    o0, o1, o2, _o3 = philox4x32_10(tt, idb[j], sc, stream, k0, k1)
                    acc[j] += o0 ^ o1 ^ o2
        tot = np.uint64(0)
        for j in range(LANES):
            tot += acc[j]
        out[s, r] += tot


def dispatch_numba_cpu(fleet: FleetArrays, drv: DispatchDrivers, out: DispatchOut, *,
                       seed: int) -> None:
    """Dispatch a scenario batch with the parallel lane-blocked Numba kernel.

    Parameters
    ----------
    fleet : FleetArrays
        Sorted DER parameters (NumPy arrays).
    drv : DispatchDrivers
        Regional drivers (NumPy arrays).
    out : DispatchOut
        Zeroed accumulators (NumPy), filled in place.
    seed : int
        Seed [1].
    """
    k0, k1 = seed_key(seed)
    _dispatch_kernel(
        k0, k1, np.uint64(STREAMS["der"]), np.uint64(STREAMS["der_event"]),
        np.ascontiguousarray(drv.scenarios, np.uint64), fleet.fparams, fleet.iparams,
        fleet.der_id, fleet.region_start, drv.cs, drv.kreg, drv.house, drv.temp, drv.price,
        drv.p_lo, drv.p_hi, drv.in_event, drv.pre_event,
        drv.event_id, out.injection, out.source, out.pool, out.event)


def rng_numba_cpu(fleet: FleetArrays, scenarios: np.ndarray, hours: int, *,
                  seed: int) -> np.ndarray:
    """Draw the dispatch kernel's random numbers alone (benchmark reference).

    Same Philox calls, Box-Muller normals and uniforms per DER-hour as the dispatch kernel,
    in the same lane-blocked layout, summed so nothing is optimised away.

    Parameters
    ----------
    fleet : FleetArrays
        Sorted DERs (only ``der_id`` and ``region_start`` are used).
    scenarios : numpy.ndarray
        Global scenario indices [1], shape (S,).
    hours : int
        Hours T [h].
    seed : int
        Seed [1].

    Returns
    -------
    numpy.ndarray
        (S, R) sums of the draws [1].
    """
    k0, k1 = seed_key(seed)
    out = np.zeros((len(scenarios), len(fleet.region_start) - 1))
    _rng_kernel(k0, k1, np.uint64(STREAMS["der"]), np.ascontiguousarray(scenarios, np.uint64),
                fleet.der_id, fleet.region_start, int(hours), out)
    return out


def philox_words_numba_cpu(fleet: FleetArrays, scenarios: np.ndarray, hours: int, *,
                           seed: int) -> np.ndarray:
    """Run the Philox4x32-10 generator alone (benchmark reference: the word rate).

    One Philox4x32-10 block (four 32-bit words; the dispatch kernel uses three of them) per
    DER-hour, in the dispatch kernel's lane-blocked layout, with no transforms: the speed
    the dispatch kernel is compared with.

    Parameters
    ----------
    fleet : FleetArrays
        Sorted DERs (only ``der_id`` and ``region_start`` are used).
    scenarios : numpy.ndarray
        Global scenario indices [1], shape (S,).
    hours : int
        Hours T [h].
    seed : int
        Seed [1].

    Returns
    -------
    numpy.ndarray
        (S, R) uint64 sums of the folded words [1].
    """
    k0, k1 = seed_key(seed)
    out = np.zeros((len(scenarios), len(fleet.region_start) - 1), dtype=np.uint64)
    _words_kernel(k0, k1, np.uint64(STREAMS["der"]), np.ascontiguousarray(scenarios, np.uint64),
                  fleet.der_id, fleet.region_start, int(hours), out)
    return out


def normals_numba_cpu(t: np.ndarray, entity: np.ndarray, scenarios: np.ndarray, stream: int,
                      seed: int) -> np.ndarray:
    """Box-Muller normals of the drivers' Philox counters, in parallel, NumPy's exact bits.

    Parameters
    ----------
    t : numpy.ndarray
        Hour counters [h], shape (T,).
    entity, scenarios : numpy.ndarray
        Entity and global scenario counters [1], shapes (E,) and (S,).
    stream : int
        Stream id [1].
    seed : int
        Seed [1].

    Returns
    -------
    numpy.ndarray
        (4, S, E, T): the normals ``box_muller(w0, w1)`` and ``box_muller(w2, w3)`` of the
        words of counter (t, entity, scenario, stream) [1], equal bit for bit to
        :func:`gridcap.kernels.rng.philox_array` followed by NumPy's ``box_muller``.
    """
    k0, k1 = seed_key(seed)
    t = np.ascontiguousarray(t, dtype=np.uint64)
    ent = np.ascontiguousarray(entity, dtype=np.uint64)
    sc = np.ascontiguousarray(scenarios, dtype=np.uint64)
    out = np.empty((4, sc.size, ent.size, t.size))
    _normals_kernel(t, ent, sc, np.uint64(stream), k0, k1, out)
    return out
