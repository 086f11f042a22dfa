"""Scaling curves of the Monte Carlo kernel: time and peak memory as DERs, scenarios and the
simulated horizon grow.

Each point runs :func:`gridcap.kernels.simulate` on a study built from the shipped
``quickstart`` config with a synthetic fleet of the point's size
(:func:`gridcap.datasets.synthetic_fleet`), in a *fresh child process*, so its peak resident
memory is its own (``ru_maxrss`` from ``wait4``, see :mod:`.measure`). Log-log slopes are
fitted per axis; the record says in words where growth is not linear, and a PNG plot shows
the curves against a slope-1 reference.

Run alone: ``python -m gridcap.benchmarks.scaling [--quick]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from gridcap.errors import GridcapInputError

from .measure import (
    jsonable,
    linearity_notes,
    local_slopes,
    loglog_slope,
    run_child,
    self_peak_rss_mib,
)

#: Point sizes per axis; the two other sizes stay at ``fixed``. Increasing order. Each axis
#: spans two decades at most ~1.75e8 DER-scenario-hours per point, so the full curves take
#: about a minute of kernel time on 2 cores plus a few seconds of start-up per point
#: (hours must be whole days).
AXES_FULL: dict[str, dict[str, Any]] = {
    "ders": {"values": [100, 1000, 10000], "fixed": {"scenarios": 2, "hours": 8760}},
    "scenarios": {"values": [10, 100, 1000], "fixed": {"ders": 20, "hours": 8760}},
    "hours": {"values": [168, 720, 2184, 8760], "fixed": {"ders": 1000, "scenarios": 2}},
}
AXES_QUICK: dict[str, dict[str, Any]] = {
    "ders": {"values": [20, 80], "fixed": {"scenarios": 2, "hours": 168}},
    "scenarios": {"values": [2, 8], "fixed": {"ders": 20, "hours": 168}},
    "hours": {"values": [168, 672], "fixed": {"ders": 20, "scenarios": 2}},
}
AXIS_LABELS = {"ders": "DERs", "scenarios": "scenarios", "hours": "simulated hours [h]"}
WORKLOADS = ("simulate", "synthetic")
SEED = 20261125


# --------------------------------------------------------------------------- child side


def _current_rss_mib() -> float:
    """Current (not peak) resident set size of this process [MiB]."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:  # pragma: no cover - not Linux
        return self_peak_rss_mib()
    match = re.search(r"^VmRSS:\s*(\d+)\s*kB", text, flags=re.MULTILINE)
    return int(match.group(1)) / 1024.0 if match else self_peak_rss_mib()


def _simulate_workload(backend: str) -> tuple[Any, Any]:
    """``(prepare, call)`` for the real kernel on quickstart inputs with a sized fleet."""
    from gridcap.config import load_config
    from gridcap.datasets import synthetic_fleet
    from gridcap.kernels import simulate
    from gridcap.pipeline import build_inputs

    cfg = load_config("quickstart")
    base = build_inputs(cfg)
    fleet_seed = cfg.study.seed + cfg.fleet.seed_offset
    extra = {}
    if "commitment_share" in inspect.signature(synthetic_fleet).parameters:
        extra["commitment_share"] = cfg.fleet.commitment_share

    def prepare(point: dict[str, int]) -> Any:
        fleet = synthetic_fleet(int(point["ders"]), base.regions, seed=fleet_seed, **extra)
        return dataclasses.replace(base, fleet=fleet)

    def call(inputs: Any, point: dict[str, int], scenarios: int | None = None) -> str:
        out = simulate(
            inputs,
            scenarios=int(scenarios or point["scenarios"]),
            seed=SEED,
            backend=backend,
            hours=int(point["hours"]),
            representative="chronological",  # throughput against hours, no sampling
        )
        return str(out.attrs.get("backend", backend))

    return prepare, call


def _synthetic_workload(backend: str) -> tuple[Any, Any]:
    """A stand-in with known cost: allocates and reduces 8 bytes per 1,000 DER-scenario-hours.

    Used by the tests of this module (memory and slopes have closed forms) and when the
    kernel is not available to check the measuring machinery itself.
    """
    import numpy as np

    def prepare(point: dict[str, int]) -> Any:
        return None

    def call(inputs: Any, point: dict[str, int], scenarios: int | None = None) -> str:
        n = int(point["ders"]) * int(scenarios or point["scenarios"]) * int(point["hours"])
        block = np.ones(max(n // 1000, 1))
        float(block.sum())
        return "synthetic"

    return prepare, call


def worker(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Measure each point of ``spec["points"]`` in this process; print one JSON line each.

    Parameters
    ----------
    spec : dict
        ``workload`` (one of :data:`WORKLOADS`), ``backend``, ``points`` (list of
        ``{"ders", "scenarios", "hours"}``), ``min_time_s`` [s] (repeat a point until this
        much time is spent, at most 3 runs; the fastest run counts).

    Returns
    -------
    list of dict
        Per point: sizes, ``seconds`` [s] (fastest run), ``repeats``, ``baseline_rss_mib``
        [MiB] (resident memory before the point), ``peak_rss_mib`` [MiB] (process peak after
        it), ``backend_used``.
    """
    name = spec.get("workload", "simulate")
    if name not in WORKLOADS:
        raise GridcapInputError(f"workload = {name!r}: expected one of {WORKLOADS}")
    factory = _simulate_workload if name == "simulate" else _synthetic_workload
    prepare, call = factory(str(spec.get("backend", "auto")))
    min_time = float(spec.get("min_time_s", 0.3))
    rows = []
    warmed = False
    for point in spec["points"]:
        inputs = prepare(point)
        if not warmed:  # compile / load the cache outside the timed runs, on a tiny case
            call(inputs, {**point, "hours": min(int(point["hours"]), 168)}, scenarios=1)
            warmed = True
        baseline = _current_rss_mib()
        times: list[float] = []
        used = ""
        while not times or (sum(times) < min_time and len(times) < 3):
            start = time.perf_counter()
            used = call(inputs, point)
            times.append(time.perf_counter() - start)
        row = {
            **{k: int(point[k]) for k in ("ders", "scenarios", "hours")},
            "seconds": min(times),
            "repeats": len(times),
            "baseline_rss_mib": baseline,
            "peak_rss_mib": self_peak_rss_mib(),
            "backend_used": used,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- parent side


def _child_argv(spec: dict[str, Any]) -> list[str]:
    package = __package__ or "gridcap.benchmarks"
    return [sys.executable, "-m", f"{package}.scaling", "--worker", json.dumps(spec)]


def _parse_rows(stdout: str) -> list[dict[str, Any]]:
    rows = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and '"seconds"' in line:
            rows.append(json.loads(line))
    return rows


def _point(axis: str, value: int, fixed: dict[str, int]) -> dict[str, int]:
    return {**fixed, axis: int(value)}


def _work(point: dict[str, Any]) -> float:
    """DER-scenario-hours of a point [1]."""
    return float(point["ders"]) * float(point["scenarios"]) * float(point["hours"])


def measure_points(
    points: list[dict[str, int]],
    *,
    workload: str,
    backend: str,
    isolate: bool,
    timeout_s: float,
    budget_s: float,
) -> list[dict[str, Any]]:
    """Measure points, each in its own child process (``isolate``) or all in one.

    Points whose predicted time (from the throughput of the previous point on the same
    work scale) would overrun the remaining ``budget_s`` are reported as skipped, not run.

    Returns
    -------
    list of dict
        One row per point (see :func:`worker`), with ``child_peak_rss_mib`` [MiB] from
        ``wait4`` and ``child_wall_s`` [s] when isolated, or ``status`` and ``reason``
        when the point failed or was skipped.
    """
    base_spec = {"workload": workload, "backend": backend, "min_time_s": 0.3}
    if not isolate:
        res = run_child(_child_argv({**base_spec, "points": points}), timeout_s=timeout_s)
        rows = _parse_rows(res.stdout)
        for row in rows:
            row["status"] = "ok"
            row["memory_note"] = "process high-water mark (points share one process)"
        for point in points[len(rows) :]:
            rows.append({**point, "status": "error", "reason": res.reason()})
        return rows
    rows = []
    start = time.perf_counter()
    rate = None  # DER-scenario-hours per second seen so far
    overhead = 0.0  # child start-up, inputs and warm-up [s]
    for point in points:
        left = budget_s - (time.perf_counter() - start)
        if rate is not None and overhead + _work(point) / rate > left:
            predicted = overhead + _work(point) / rate
            rows.append(
                {
                    **point,
                    "status": "skipped",
                    "reason": f"predicted {predicted:.0f} s > {left:.0f} s of budget left",
                }
            )
            continue
        res = run_child(
            _child_argv({**base_spec, "points": [point]}), timeout_s=min(timeout_s, max(left, 5))
        )
        parsed = _parse_rows(res.stdout)
        if res.returncode != 0 or not parsed:
            why = "timed out" if res.timed_out else f"exit {res.returncode}: {res.reason()}"
            rows.append({**point, "status": "error", "reason": why})
            continue
        row = parsed[0]
        row.update(
            status="ok", child_peak_rss_mib=res.peak_rss_mib, child_wall_s=round(res.wall_s, 3)
        )
        rate = _work(row) / max(row["seconds"], 1e-9)
        overhead = max(res.wall_s - row["seconds"] * row["repeats"], 0.0)
        rows.append(row)
    return rows


def summarize_axis(axis: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput, log-log slopes and linearity notes of one axis' measured points.

    Parameters
    ----------
    axis : str
        ``"ders"``, ``"scenarios"`` or ``"hours"``.
    rows : list of dict
        Measured points (``status == "ok"`` ones are used).

    Returns
    -------
    dict
        ``time_slope`` [1] and ``memory_slope`` [1] (log-log, over all ok points; None with
        fewer than two), ``time_local_slopes`` [1], ``notes`` (list of str).
    """
    ok = [r for r in rows if r.get("status") == "ok"]
    for r in ok:
        r["der_scenario_hours_per_s"] = _work(r) / max(r["seconds"], 1e-12)
        r["rss_increase_mib"] = max(r["peak_rss_mib"] - r["baseline_rss_mib"], 0.0)
    out: dict[str, Any] = {"time_slope": None, "memory_slope": None, "notes": []}
    if len(ok) < 2:
        out["notes"].append(f"{axis}: fewer than two measured points, no slope")
        return out
    x = [float(r[axis]) for r in ok]
    t = [max(float(r["seconds"]), 1e-9) for r in ok]
    out["time_slope"] = loglog_slope(x, t)
    out["time_local_slopes"] = local_slopes(x, t)
    out["notes"] += linearity_notes(x, t, axis=AXIS_LABELS[axis], what="time")
    mem = [max(float(r["rss_increase_mib"]), 0.5) for r in ok]  # 0.5 MiB floor: log-safe
    out["memory_slope"] = loglog_slope(x, mem)
    if out["memory_slope"] < 0.2:
        out["notes"].append(
            f"memory vs {AXIS_LABELS[axis]}: flat (log-log slope {out['memory_slope']:.2f}): "
            "bounded, nothing is materialised per element along this axis"
        )
    elif out["memory_slope"] > 1.2:
        out["notes"].append(
            f"memory vs {AXIS_LABELS[axis]}: grows faster than linearly "
            f"(log-log slope {out['memory_slope']:.2f})"
        )
    return out


#: The large case issue #4 says must fit in 24 GB: 10,000 DERs x 1,000 scenarios x 8,760 h.
LARGE_CASE: dict[str, int] = {"ders": 10_000, "scenarios": 1_000, "hours": 8760}


def extrapolate_peak(
    axes: dict[str, dict[str, Any]], case: dict[str, int]
) -> dict[str, Any] | None:
    r"""Estimate peak memory of a case larger than any measured, from the per-axis fits.

    Parameters
    ----------
    axes : dict
        Per-axis summaries from :func:`summarize_axis` with their ``points``.
    case : dict
        Sizes ``ders``, ``scenarios``, ``hours`` [1] to extrapolate to.

    Returns
    -------
    dict or None
        ``peak_rss_gib`` [GiB] (resident memory before the run plus the extrapolated
        increase), ``increase_gib`` [GiB], the ``case``, and ``method``; None when an axis
        has no fit.

    Notes
    -----
    Assumes the peak increase separates into per-axis power laws,

    .. math:: \Delta M(N, S, H) = \Delta M(p)\,(N/N_p)^{k_N}\,(S/S_p)^{k_S}\,(H/H_p)^{k_H}

    anchored at the largest measured point :math:`p` (largest work), with the log-log
    memory slopes :math:`k` of the three axes. An estimate, not a measurement.
    """
    names = ("ders", "scenarios", "hours")
    if any(axes.get(a, {}).get("memory_slope") is None for a in names):
        return None
    ok = [r for a in names for r in axes[a]["points"] if r.get("status") == "ok"]
    anchor = max(ok, key=_work)
    factor = 1.0
    for a in names:
        factor *= (case[a] / anchor[a]) ** max(axes[a]["memory_slope"], 0.0)
    increase = max(anchor["rss_increase_mib"], 0.5) * factor
    return {
        "case": dict(case),
        "anchor": {a: anchor[a] for a in names},
        "increase_gib": increase / 1024.0,
        "peak_rss_gib": (anchor["baseline_rss_mib"] + increase) / 1024.0,
        "method": "per-axis log-log memory slopes, anchored at the largest measured point",
    }


def plot(result: dict[str, Any], path: str | Path) -> Path:
    """Draw time and peak-memory increase against each axis, log-log, to a PNG.

    Parameters
    ----------
    result : dict
        As returned by :func:`run`.
    path : str or Path
        Where to write the PNG.

    Returns
    -------
    Path
        The written file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_data = result["axes"]
    names = list(axes_data)
    fig, grid = plt.subplots(2, len(names), figsize=(4.2 * len(names), 7.0), squeeze=False)
    for col, axis in enumerate(names):
        ok = [r for r in axes_data[axis]["points"] if r.get("status") == "ok"]
        x = [r[axis] for r in ok]
        for row, (key, label, slope_key) in enumerate(
            (
                ("seconds", "time [s]", "time_slope"),
                ("rss_increase_mib", "peak memory increase [MiB]", "memory_slope"),
            )
        ):
            ax = grid[row][col]
            y = [max(r[key], 1e-3) for r in ok]
            if x:
                ax.loglog(x, y, "o-", label="measured")
                ref = [y[-1] * xi / x[-1] for xi in x]
                ax.loglog(x, ref, "k--", lw=0.8, label="slope 1 (linear)")
            slope = axes_data[axis].get(slope_key)
            title = f"{label.split(' [')[0]} vs {AXIS_LABELS[axis]}"
            if slope is not None:
                title += f" (slope {slope:.2f})"
            ax.set_title(title, fontsize=9)
            ax.set_xlabel(AXIS_LABELS[axis])
            ax.set_ylabel(label)
            ax.grid(True, which="both", lw=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(
        f"gridcap Monte Carlo scaling — backend {result.get('backend_used') or result['backend']}"
        f", workload {result['workload']}",
        fontsize=10,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(
    quick: bool = False,
    *,
    backend: str = "auto",
    workload: str = "simulate",
    plot_path: str | Path | None = None,
    budget_s: float | None = None,
    axes: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Measure the scaling curves and return them as a record section.

    Parameters
    ----------
    quick : bool
        Tiny sizes, all points in one child process (seconds; memory figures are then the
        process high-water mark, not per point).
    backend : str
        Monte Carlo backend passed to :func:`gridcap.kernels.simulate` (``"auto"``: the
        fastest available).
    workload : str
        ``"simulate"`` (the real kernel) or ``"synthetic"`` (known-cost stand-in, for tests).
    plot_path : str or Path, optional
        Write the PNG plot there.
    budget_s : float, optional
        Wall-time budget for all points [s] (default 200 full, 60 quick; the suite passes
        its section limit); points predicted to overrun it are skipped and reported.
    axes : dict, optional
        Override :data:`AXES_FULL` / :data:`AXES_QUICK` (same shape).

    Returns
    -------
    dict
        ``axes`` → per axis ``fixed`` sizes, ``points`` (sizes, ``seconds`` [s],
        ``der_scenario_hours_per_s`` [DER-scenario-h/s], ``peak_rss_mib`` [MiB],
        ``rss_increase_mib`` [MiB]), ``time_slope`` and ``memory_slope`` [1], ``notes``;
        top-level ``notes`` (where growth is not linear), ``plot`` (PNG path or None).
    """
    if workload not in WORKLOADS:
        raise GridcapInputError(f"workload = {workload!r}: expected one of {WORKLOADS}")
    if workload == "simulate":
        try:  # say plainly when the kernel or the fleet generator is not there yet
            from gridcap.datasets import synthetic_fleet  # noqa: F401
            from gridcap.kernels import simulate  # noqa: F401
        except ImportError as err:
            return {"status": "not available", "reason": f"{type(err).__name__}: {err}"}
    chosen = axes or (AXES_QUICK if quick else AXES_FULL)
    budget = budget_s if budget_s is not None else (60.0 if quick else 200.0)
    start = time.perf_counter()
    result: dict[str, Any] = {
        "backend": backend,
        "workload": workload,
        "mode": "quick" if quick else "full",
        "memory_method": (
            "peak RSS (ru_maxrss via wait4) of one child process per point, minus its "
            "resident memory just before the timed run"
            if not quick
            else "one child process for all points: peak RSS is a running high-water mark"
        ),
        "axes": {},
    }
    # Measure each distinct point once; axes share the point where they cross.
    plan: dict[str, list[dict[str, int]]] = {
        axis: [_point(axis, v, spec["fixed"]) for v in spec["values"]]
        for axis, spec in chosen.items()
    }
    unique: list[dict[str, int]] = []
    for pts in plan.values():
        for p in pts:
            if p not in unique:
                unique.append(p)
    # Cheapest first, so the budget predictor sees small points before large ones.
    unique.sort(key=_work)
    rows = measure_points(
        unique,
        workload=workload,
        backend=backend,
        isolate=not quick,
        timeout_s=budget,
        budget_s=budget,
    )
    by_key = {(r["ders"], r["scenarios"], r["hours"]): r for r in rows}
    notes: list[str] = []
    used = {str(r["backend_used"]) for r in rows if r.get("backend_used")}
    result["backend_used"] = ", ".join(sorted(used)) if used else None
    for axis, pts in plan.items():
        axis_rows = [dict(by_key[(p["ders"], p["scenarios"], p["hours"])]) for p in pts]
        summary = summarize_axis(axis, axis_rows)
        result["axes"][axis] = {"fixed": chosen[axis]["fixed"], "points": axis_rows, **summary}
        notes += summary["notes"]
        notes += [
            f"{axis}={r[axis]}: {r['status']} ({r.get('reason', '')})"
            for r in axis_rows
            if r.get("status") != "ok"
        ]
    result["notes"] = notes
    result["extrapolated"] = extrapolate_peak(result["axes"], LARGE_CASE)
    result["seconds"] = time.perf_counter() - start
    result["plot"] = str(plot(result, plot_path)) if plot_path else None
    _print(result)
    return jsonable(result)


def _print(result: dict[str, Any]) -> None:
    print(f"scaling ({result['mode']}, backend {result.get('backend_used') or result['backend']})")
    for axis, data in result["axes"].items():
        print(f"  {AXIS_LABELS[axis]} at {data['fixed']}:")
        for r in data["points"]:
            if r.get("status") == "ok":
                print(
                    f"    {r[axis]:>6}: {r['seconds']:9.4f} s  "
                    f"{r['der_scenario_hours_per_s'] / 1e6:9.1f} M DER-scen-h/s  "
                    f"peak +{r['rss_increase_mib']:8.1f} MiB"
                )
            else:
                print(f"    {r[axis]:>6}: {r['status']} ({r.get('reason', '')})")
        ts, ms = data.get("time_slope"), data.get("memory_slope")
        if ts is not None:
            print(f"    log-log slope: time {ts:.2f}, memory {ms:.2f}")
    ext = result.get("extrapolated")
    if ext:
        case = " x ".join(str(v) for v in ext["case"].values())
        print(f"  extrapolated peak memory at {case}: {ext['peak_rss_gib']:.2f} GiB (estimate)")
    for note in result["notes"]:
        print(f"  note: {note}")


def main(argv: list[str] | None = None) -> int:
    """``python -m gridcap.benchmarks.scaling [--quick] [--backend B] [--plot PNG]``."""
    parser = argparse.ArgumentParser(prog="python -m gridcap.benchmarks.scaling")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--backend", default="auto", help="Monte Carlo backend (default auto)")
    parser.add_argument("--workload", choices=WORKLOADS, default="simulate")
    parser.add_argument("--plot", metavar="PNG", help="write the plot there")
    parser.add_argument("--worker", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    run(args.quick, backend=args.backend, workload=args.workload, plot_path=args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
