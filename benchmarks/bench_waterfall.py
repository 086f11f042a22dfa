"""Benchmark: the financing waterfall over many scenarios vs a plain-Python loop.

100,000 scenarios x 30 years x 3 tranches (senior, mezzanine, equity) with a DSRA, a
lock-up covenant and a 50 % cash sweep, on the vectorised array path (numpy; cupy when a
GPU is present) and the numba ``prange`` path, against the plain-Python per-scenario loop
(the same scalar rules on Python ints) timed on a subset and scaled per scenario. The
subset's results must be identical (integer cents) across the paths.

Run: ``python -m benchmarks.bench_waterfall`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from gridcap.optimizer.financing.sizing import size_stack
from gridcap.optimizer.financing.waterfall import run_waterfall, structure_from_schedules, to_cents


def _case(scenarios: int, years: int, seed: int = 6) -> tuple[np.ndarray, Any]:
    """Random CFADS [cents] (lognormal level x AR(1) shocks, some loss years) + structure."""
    rng = np.random.default_rng(seed)
    base = 2.0e7 * np.exp(0.25 * rng.standard_normal((scenarios, 1)))
    shock = np.zeros((scenarios, years))
    for t in range(years):
        prev = shock[:, t - 1] if t else 0.0
        shock[:, t] = 0.6 * prev + 0.3 * rng.standard_normal(scenarios)
    cf = base * np.exp(shock) - 4.0e6 * (rng.random((scenarios, years)) < 0.03)
    sen, mez = size_stack(
        np.median(cf, axis=0), (1.40, 1.15), (0.065, 0.11), tenor_years=(years - 5, years)
    )
    st = structure_from_schedules(
        sen, mez, periods=years, dsra_months=6, lockup_dscr=1.10, sweep_fraction=0.5, grace_years=1
    )
    return to_cents(cf, "cfads"), st


def _best(fn: Any, repeats: int, clock: Any = time.perf_counter) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def run(quick: bool = False) -> dict[str, Any]:
    """Time the waterfall on numpy, numba-cpu (and cupy when available) vs plain Python.

    Parameters
    ----------
    quick : bool
        Smoke run: 2,000 scenarios and a 40-scenario Python subset.

    Returns
    -------
    dict
        Sizes, times [s], per-scenario Python time [s], wall-clock speed-ups
        ``numpy_vs_python`` and ``numba_vs_python`` (and ``cupy_vs_python``) [×], the
        single-thread CPU-time ratio ``numpy_vs_python_cpu_time`` [×] (robust to a busy
        shared machine), and ``identical`` (bool).
    """
    S = 2_000 if quick else 100_000
    T = 30
    n_py = 40 if quick else 1_000
    repeats = 1 if quick else 3
    cents, st = _case(S, T)
    out: dict[str, Any] = {
        "scenarios": S,
        "years": T,
        "tranches": 3,
        "python_subset_scenarios": n_py,
    }

    t_np = _best(lambda: run_waterfall(cents, st, method="xp", detail=False), repeats)
    t0 = time.perf_counter()
    run_waterfall(cents[:8], st, method="numba", detail=False)  # compile or load cache
    out["numba_first_call_s"] = time.perf_counter() - t0
    t_nb = _best(lambda: run_waterfall(cents, st, method="numba", detail=False), repeats)
    t_np_cpu = _best(
        lambda: run_waterfall(cents, st, method="xp", detail=False), repeats, time.process_time
    )
    t0, c0 = time.perf_counter(), time.process_time()
    ref = run_waterfall(cents[:n_py], st, method="python")
    t_py = time.perf_counter() - t0
    per_py = t_py / n_py
    per_py_cpu = (time.process_time() - c0) / n_py
    xp_sub = run_waterfall(cents[:n_py], st, method="xp", detail=True)
    nb_sub = run_waterfall(cents[:n_py], st, method="numba", detail=True)
    identical = all(
        np.array_equal(getattr(ref, a), getattr(r, a))
        for r in (xp_sub, nb_sub)
        for a in ("tranche_cash_cents", "default_period", "flows_cents", "states_cents")
    )
    out.update(
        {
            "numpy_s": t_np,
            "numba_cpu_s": t_nb,
            "python_subset_s": t_py,
            "python_s_per_scenario": per_py,
            "python_extrapolated_s": per_py * S,
            "numpy_vs_python": per_py * S / t_np,
            "numba_vs_python": per_py * S / t_nb,
            "numpy_cpu_s": t_np_cpu,
            "python_cpu_s_per_scenario": per_py_cpu,
            "numpy_vs_python_cpu_time": per_py_cpu * S / t_np_cpu,
            "identical": bool(identical),
            "senior_pd": float(
                (
                    np.asarray(
                        run_waterfall(cents, st, method="numba", detail=False).default_period[0]
                    )
                    > 0
                ).mean()
            ),
        }
    )
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            c_gpu = cupy.asarray(cents)
            run_waterfall(c_gpu[:8], st, method="xp", detail=False)

            def gpu() -> None:
                run_waterfall(c_gpu, st, method="xp", detail=False)
                cupy.cuda.Stream.null.synchronize()

            out["cupy_s"] = _best(gpu, repeats)
            out["cupy_vs_python"] = per_py * S / out["cupy_s"]
    except Exception as err:  # no cupy / no device: say why, measure nothing
        out["cupy"] = f"not run: {type(err).__name__}: {err}"[:200]
    lines = [
        f"waterfall: {S:,} scenarios x {T} years x 3 tranches",
        f"  numpy (xp)   {t_np:8.3f} s   {out['numpy_vs_python']:8.1f}x python "
        f"(CPU time {t_np_cpu:.3f} s: {out['numpy_vs_python_cpu_time']:.1f}x)",
        f"  numba-cpu    {t_nb:8.3f} s   {out['numba_vs_python']:8.1f}x python "
        f"(first call {out['numba_first_call_s']:.2f} s)",
        f"  python loop  {per_py * 1e3:8.3f} ms/scenario on {n_py} scenarios -> "
        f"{per_py * S:.1f} s extrapolated",
        f"  identical results on the subset: {identical}",
    ]
    if "cupy_s" in out:
        lines.append(f"  cupy (xp)    {out['cupy_s']:8.3f} s   {out['cupy_vs_python']:8.1f}x")
    print("\n".join(lines))
    return out


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
