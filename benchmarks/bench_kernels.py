"""Benchmark of the Monte Carlo kernels (issues #4, #17).

Figures, in DER-scenario-hours per second:

* the full DER dispatch kernel per backend, and in the same run, same lane-blocked layout:

  - the Philox4x32-10 generator's **word rate** alone: one 4-word block per DER-hour, no
    transforms (``philox_words_der_scenario_hours_per_s``), with the ratio
    ``kernel_vs_words`` (target ≥ 0.40 on numba-cpu, #17). The kernel draws *half* a block
    per DER-hour (one block serves a DER's two Box–Muller pairs of two hours, see
    :func:`gridcap.kernels.rng.der_hour_words`) plus one block per DER in event hours, so the
    record also states ``kernel_philox_blocks_per_der_hour`` and
    ``kernel_words_per_der_hour`` (words of the blocks it computes) and
    ``kernel_block_use_vs_words`` = ``kernel_vs_words`` × blocks per DER-hour: the fraction
    of the generator's own speed at which the kernel consumes its blocks;
  - Philox **plus the transforms** (the Box–Muller normals) drawing the kernel's exact
    random numbers (``philox_der_scenario_hours_per_s``), ratio ``kernel_vs_philox``
    (target ≥ 0.40, #4);

  at 1,000 × 100 × 8,760 and 10,000 × 100 × 8,760 DERs × scenarios × hours; each timed as
  the best of alternating repeats, wall clock and this process's CPU time;
* the numpy backend against a plain Python loop over the same element functions on a tiny
  case (``numpy_vs_python``; target ≥ 20×);
* peak resident memory of a whole ``simulate`` of 10,000 DERs × 1,000 scenarios in a child
  process (target: fits in 24 GB). Its hours default to 720 (the batch size adapts to the
  hours, so peak memory does not grow with them); ``GRIDCAP_BENCH_FULL_MEMORY=1`` runs the
  full 8,760 h.

GPU backends are timed when a device answers. Machines are shared: compare figures from one
run only. ``run(quick=True)`` is a seconds-long smoke version with tiny sizes.
"""

from __future__ import annotations

import math
import os
import sys
import textwrap
import time
from typing import Any

import numpy as np

__all__ = ["run"]

SIZES_FULL = ((1000, 100, 8760), (10000, 100, 8760))
SIZES_QUICK = ((200, 4, 24 * 7),)


def _prepare(n_der: int, n_scen: int, hours: int, seed: int = 1) -> tuple[Any, Any]:
    from gridcap.kernels.dispatch import DispatchDrivers
    from gridcap.kernels.drivers import clear_sky_pv, hourly_drivers
    from gridcap.kernels.events import ARBITRAGE, find_events, order_statistic
    from gridcap.kernels.simulate import prepare_fleet
    from gridcap.kernels.testing import tiny_inputs

    inp = tiny_inputs(n_der, seed=seed, n_regions=3)
    reg = inp.regions
    regions = [str(r) for r in reg.region.values]
    fleet, meta = prepare_fleet(inp.fleet, regions)
    cs = clear_sky_pv(reg.lat.values, reg.lon.values, [str(z) for z in reg.timezone.values],
                      2026, hours)
    scen = np.arange(n_scen, dtype=np.uint64)
    drv = hourly_drivers(np, seed=seed, scenarios=scen, lat=reg.lat.values,
                         price_mean=reg.price_mean_usd_per_mwh.values, cs=cs, hours=hours)
    load = reg.peak_load_mw.values[None, :, None] * drv["load_pu"]
    ev = find_events(np, load - meta["pv_mw"][None, :, None] * drv["solar_cf"], drv["price"])
    dd = DispatchDrivers(scen, cs, drv["kreg"], drv["house"], drv["temp"], drv["price"],
                         order_statistic(np, drv["price"], ARBITRAGE["low"]),
                         order_statistic(np, drv["price"], ARBITRAGE["high"]),
                         ev["in_event"], ev["pre_event"], ev["event_id"])
    return fleet, dd


def _time(f: Any, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def _time_both(f: Any) -> tuple[float, float]:
    """Wall-clock and CPU time [s] of one call (CPU time of every thread of this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - w0, time.process_time() - c0


def _zeros(fleet: Any, dd: Any, xp: Any = np) -> Any:
    from gridcap.kernels.dispatch import DispatchOut
    from gridcap.kernels.events import MAX_EVENTS

    n_s, n_r, n_t = dd.kreg.shape
    return DispatchOut.zeros(xp, n_s, n_r, n_t, fleet.n_pools, MAX_EVENTS)


def _size_case(n_der: int, n_scen: int, hours: int, reps: int) -> dict[str, Any]:
    import numba

    from gridcap.kernels import backend_status
    from gridcap.kernels.numba_cpu import (
        dispatch_numba_cpu,
        philox_words_numba_cpu,
        rng_numba_cpu,
    )

    t0 = time.perf_counter()
    fleet, dd = _prepare(n_der, n_scen, hours)
    prep_s = time.perf_counter() - t0
    work = float(n_der) * n_scen * hours
    # warm-up compile (cached on disk after the first run)
    small = _prepare(64, 1, 24)
    dispatch_numba_cpu(small[0], small[1], _zeros(*small), seed=1)
    rng_numba_cpu(small[0], small[1].scenarios, 24, seed=1)
    philox_words_numba_cpu(small[0], small[1].scenarios, 24, seed=1)
    runs = {
        "words": lambda: philox_words_numba_cpu(fleet, dd.scenarios, hours, seed=1),
        "rng": lambda: rng_numba_cpu(fleet, dd.scenarios, hours, seed=1),
        "kernel": lambda: dispatch_numba_cpu(fleet, dd, _zeros(fleet, dd), seed=1),
    }
    wall = dict.fromkeys(runs, float("inf"))
    cpu = dict.fromkeys(runs, float("inf"))
    for _ in range(reps):  # alternate, keep the best of each (shared, noisy machine)
        for k, f in runs.items():
            w, c = _time_both(f)
            wall[k] = min(wall[k], w)
            cpu[k] = min(cpu[k], c)
    t_w, t_rng, t_k = wall["words"], wall["rng"], wall["kernel"]
    # Philox blocks the kernel computes per DER-hour: half a block of stream "der", plus one of
    # stream "der_event" per DER in each event hour of its region (rng.der_hour_words)
    blocks = math.ceil(hours / 2) / hours + float(np.mean(dd.in_event))
    out: dict[str, Any] = {
        "der": n_der, "scenarios": n_scen, "hours": hours, "threads": numba.get_num_threads(),
        "drivers_and_events_s": prep_s,
        "numba_cpu": {
            "dispatch_s": t_k, "der_scenario_hours_per_s": work / t_k,
            "philox_words_s": t_w, "philox_words_der_scenario_hours_per_s": work / t_w,
            "kernel_vs_words": t_w / t_k,
            "kernel_philox_blocks_per_der_hour": blocks,
            "kernel_words_per_der_hour": 4.0 * blocks,
            "kernel_block_use_vs_words": t_w / t_k * blocks,
            "philox_alone_s": t_rng, "philox_der_scenario_hours_per_s": work / t_rng,
            "kernel_vs_philox": t_rng / t_k,
            # the same ratios on CPU time: less sensitive to other processes on the machine
            "cpu_time_kernel_vs_words": cpu["words"] / cpu["kernel"],
            "cpu_time_kernel_vs_philox": cpu["rng"] / cpu["kernel"],
        },
    }
    status = backend_status()
    if status.get("numba-cuda") == "available":  # pragma: no cover - GPU machines
        from gridcap.kernels.numba_cuda import dispatch_numba_cuda

        dispatch_numba_cuda(small[0], small[1], _zeros(*small), seed=1)
        t = _time(lambda: dispatch_numba_cuda(fleet, dd, _zeros(fleet, dd), seed=1), reps)
        out["numba_cuda"] = {"dispatch_s": t, "der_scenario_hours_per_s": work / t,
                             "speedup_over_numba_cpu": t_k / t}
    if status.get("cupy") == "available":  # pragma: no cover - GPU machines
        out["cupy"] = {"note": "cupy runs the array reference per hour; see numba_cuda"}
    return out


def _python_loop(n_der: int, n_scen: int, hours: int, fleet: Any, dd: Any) -> float:
    """Plain Python loop over the same element functions (pure-Python target)."""
    from gridcap.kernels import physics, rng

    k0, k1 = rng.seed_key(1)
    stream = np.uint64(rng.STREAMS["der"])
    ev_stream = np.uint64(rng.STREAMS["der_event"])
    w: tuple = ()
    fp = fleet.fparams.tolist()
    ip = fleet.iparams.tolist()
    region = fleet.iparams[2].tolist()
    ids = [np.uint64(x) for x in fleet.der_id]
    acc = 0.0
    t0 = time.perf_counter()
    for s in range(n_scen):
        sc = np.uint64(s)
        for i in range(n_der):
            r = region[i]
            soc, evn, debt = 0.5 * (fp[2][i] + fp[3][i]), 0.0, 0.0
            for t in range(hours):
                c0, k = rng.der_hour_words(t)
                if k == 0:
                    w = rng.philox4x32_10(np.uint64(c0), ids[i], sc, stream, k0, k1)
                z0, z1 = rng.box_muller(w[k], w[k + 1])
                u = 1.0
                if dd.in_event[s, r, t]:
                    u = rng.bits_to_uniform(rng.philox4x32_10(
                        np.uint64(t), ids[i], sc, ev_stream, k0, k1)[0])
                res = physics.der_hour_step(
                    soc, evn, debt, fp[0][i], fp[1][i], fp[2][i], fp[3][i], fp[4][i], fp[5][i],
                    1.0 / fp[5][i], fp[6][i], fp[7][i], ip[0][i], ip[1][i], fp[8][i], fp[9][i],
                    fp[10][i],
                    float(dd.cs[r, t]), float(dd.kreg[s, r, t]), float(dd.house[s, r, t]),
                    float(dd.temp[s, r, t]), float(dd.price[s, r, t]), float(dd.p_lo[s, r]),
                    float(dd.p_hi[s, r]), bool(dd.in_event[s, r, t]),
                    bool(dd.pre_event[s, r, t]), t % 24, float(z0), float(z1), float(u))
                soc, evn, debt = res[0], res[1], res[2]
                acc += res[6]
    return time.perf_counter() - t0


def _numpy_vs_python() -> dict[str, Any]:
    from gridcap.kernels.dispatch import dispatch_xp

    n_der, n_scen, hours = 128, 8, 24
    fleet, dd = _prepare(n_der, n_scen, hours)
    t_np = _time(lambda: dispatch_xp(np, fleet, dd, _zeros(fleet, dd), seed=1), 3)
    t_py = _python_loop(n_der, n_scen, hours, fleet, dd)
    work = float(n_der * n_scen * hours)
    return {"der": n_der, "scenarios": n_scen, "hours": hours,
            "numpy_s": t_np, "python_s": t_py,
            "numpy_der_scenario_hours_per_s": work / t_np,
            "python_der_scenario_hours_per_s": work / t_py,
            "numpy_vs_python": t_py / t_np}


def _memory_case(n_der: int, n_scen: int, hours: int, timeout_s: float) -> dict[str, Any]:
    from .measure import run_child

    code = textwrap.dedent(f"""
        import time
        from gridcap.kernels import simulate
        from gridcap.kernels.testing import tiny_inputs
        inp = tiny_inputs({n_der}, seed=1, n_regions=3)
        t = time.perf_counter()
        out = simulate(inp, scenarios={n_scen}, seed=1, backend="numba-cpu", hours={hours},
                       representative="chronological")
        print("WALL", time.perf_counter() - t, out.sizes["scenario"])
    """)
    res = run_child([sys.executable, "-c", code], timeout_s=timeout_s)
    wall = None
    for line in res.stdout.splitlines():
        if line.startswith("WALL"):
            wall = float(line.split()[1])
    return {"der": n_der, "scenarios": n_scen, "hours": hours,
            "peak_rss_mib": res.peak_rss_mib, "simulate_s": wall,
            "ok": res.returncode == 0, "timed_out": res.timed_out,
            "fits_24gb": bool(res.returncode == 0 and res.peak_rss_mib < 24 * 1024),
            "error": None if res.returncode == 0 else res.tail()}


def run(quick: bool = False, full: bool = True) -> dict[str, Any]:
    """Run the kernel benchmark and print its figures.

    Parameters
    ----------
    quick : bool
        Tiny sizes, a few seconds (smoke test).
    full : bool
        Also the largest cases: 10,000 DERs × 100 scenarios × 8,760 h, and the memory case at
        1,000 scenarios instead of 100 (the whole run: 340 s on a quiet 2-core machine).

    Returns
    -------
    dict
        Nested figures: per size ``numba_cpu.der_scenario_hours_per_s``,
        ``numba_cpu.philox_words_der_scenario_hours_per_s``, ``numba_cpu.kernel_vs_words``,
        ``numba_cpu.kernel_words_per_der_hour``, ``numba_cpu.kernel_block_use_vs_words``,
        ``numba_cpu.philox_der_scenario_hours_per_s``, ``numba_cpu.kernel_vs_philox`` [1];
        ``tiny.numpy_vs_python`` [×]; ``memory.peak_rss_mib`` [MiB].
    """
    sizes = SIZES_QUICK if quick else (SIZES_FULL if full else SIZES_FULL[:1])
    result: dict[str, Any] = {"quick": quick, "sizes": {}}
    for n, s, t in sizes:
        key = f"der{n}_scen{s}_h{t}"
        work = n * s * t
        reps = 1 if work > 2e9 else (2 if work > 1e8 else 3)
        result["sizes"][key] = case = _size_case(n, s, t, reps=reps)
        c = case["numba_cpu"]
        print(f"[kernels] {key}: numba-cpu dispatch {c['der_scenario_hours_per_s']:.3e} "
              f"DER-scenario-h/s; Philox words alone "
              f"{c['philox_words_der_scenario_hours_per_s']:.3e} (ratio "
              f"{c['kernel_vs_words']:.2f}, CPU time {c['cpu_time_kernel_vs_words']:.2f}; the "
              f"kernel draws {c['kernel_philox_blocks_per_der_hour']:.3f} blocks = "
              f"{c['kernel_words_per_der_hour']:.2f} words per DER-hour, so it uses blocks at "
              f"{c['kernel_block_use_vs_words']:.2f} of the generator's rate); "
              f"Philox + transforms {c['philox_der_scenario_hours_per_s']:.3e} (ratio "
              f"{c['kernel_vs_philox']:.2f}) ({case['threads']} threads)")
        if "numba_cuda" in case:  # pragma: no cover
            g = case["numba_cuda"]
            print(f"[kernels] {key}: numba-cuda {g['der_scenario_hours_per_s']:.3e} "
                  f"DER-scenario-h/s, {g['speedup_over_numba_cpu']:.1f}x numba-cpu")
    result["tiny"] = tiny = _numpy_vs_python()
    print(f"[kernels] tiny {tiny['der']}x{tiny['scenarios']}x{tiny['hours']}: numpy "
          f"{tiny['numpy_der_scenario_hours_per_s']:.3e} vs python "
          f"{tiny['python_der_scenario_hours_per_s']:.3e} DER-scenario-h/s = "
          f"{tiny['numpy_vs_python']:.0f}x")
    if quick:
        mem = _memory_case(500, 20, 48, timeout_s=120)
    else:
        year = os.environ.get("GRIDCAP_BENCH_FULL_MEMORY", "0") == "1"
        mem = _memory_case(10000, 1000 if full else 100, 8760 if year else 720,
                           timeout_s=7200 if year else 1200)
    result["memory"] = mem
    print(f"[kernels] memory {mem['der']}x{mem['scenarios']}x{mem['hours']}: peak RSS "
          f"{mem['peak_rss_mib']:.0f} MiB, fits 24 GB: {mem['fits_24gb']}")
    return result


if __name__ == "__main__":  # pragma: no cover
    run(quick="--quick" in sys.argv, full="--skip-largest" not in sys.argv)
