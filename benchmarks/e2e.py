"""End-to-end wall time and peak memory of shipped studies, run as ``gridcap run`` would be.

Each study runs in a fresh child process (``python -m gridcap.cli run STUDY --out TMP -q``),
so the figures include interpreter start-up, imports, Numba compilation (or its cache), the
Monte Carlo, the plan, the finance and the results write: what a user waits for. Peak memory
is the child's ``ru_maxrss`` from ``wait4`` (see :mod:`.measure`); the per-stage split is
read back from the ``stage_seconds`` attribute of the results file.

Run alone: ``python -m gridcap.benchmarks.e2e [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .measure import jsonable, run_child

#: Studies timed by the full suite, with their per-study time limit [s].
STUDIES_FULL: dict[str, float] = {"quickstart": 150.0, "us-ai-power-2030": 900.0}
#: The quick smoke: quickstart cut to a few scenarios (with 4 the senior-tranche sizing of
#: quickstart is infeasible: too few scenarios to price a 0.1% PD target).
STUDIES_QUICK: dict[str, float] = {"quickstart": 120.0}
QUICK_SCENARIOS = 8


def _stage_seconds(results_nc: Path) -> dict[str, float] | None:
    """Per-stage wall times [s] recorded by the pipeline in ``results.nc`` (None if absent)."""
    if not results_nc.is_file():
        return None
    try:
        import xarray as xr

        with xr.open_dataset(results_nc) as ds:
            raw = ds.attrs.get("stage_seconds")
        return {k: float(v) for k, v in json.loads(raw).items()} if raw else None
    except Exception:  # the record is about timing; a broken file is reported by the run
        return None


def time_study(study: str, *, timeout_s: float, scenarios: int | None = None) -> dict[str, Any]:
    """Run one study end to end in a child process and measure it.

    Parameters
    ----------
    study : str
        Shipped study name or TOML path.
    timeout_s : float
        Time limit [s]; past it the run is killed and reported as timed out.
    scenarios : int, optional
        ``--scenarios`` override (the quick smoke uses a handful).

    Returns
    -------
    dict
        ``status`` (``ok``, ``error``, ``timed out``), ``wall_s`` [s], ``peak_rss_mib``
        [MiB], ``stage_seconds`` (dict [s] or None), ``command``, ``reason`` on failure.
    """
    with tempfile.TemporaryDirectory(prefix="gridcap-bench-") as tmp:
        argv = [sys.executable, "-m", "gridcap.cli", "run", study, "--out", tmp, "-q"]
        if scenarios:
            argv += ["--scenarios", str(scenarios)]
        res = run_child(argv, timeout_s=timeout_s, cwd=tmp)
        out: dict[str, Any] = {
            "study": study,
            "command": f"gridcap run {study} --out TMP -q"
            + (f" --scenarios {scenarios}" if scenarios else ""),
            "wall_s": round(res.wall_s, 3),
            "peak_rss_mib": None if res.timed_out else round(res.peak_rss_mib, 1),
            # CPU time of the run (all threads): on a shared machine, cpu_s / 2 bounds what
            # the wall time would be on the 2 cores alone
            "cpu_s": None if res.timed_out else round(res.cpu_s, 1),
        }
        if res.timed_out:
            out.update(status="timed out", reason=f"killed after {timeout_s:.0f} s")
        elif res.returncode != 0:
            out.update(status="error", reason=f"exit {res.returncode}: {res.reason()}")
        else:
            out["status"] = "ok"
            out["stage_seconds"] = _stage_seconds(Path(tmp) / "results.nc")
        return out


def time_startup(timeout_s: float = 60.0) -> dict[str, Any]:
    """Wall time [s] and peak memory [MiB] of ``gridcap --version`` (the fixed start-up cost)."""
    res = run_child([sys.executable, "-m", "gridcap.cli", "--version"], timeout_s=timeout_s)
    return {
        "status": "ok" if res.returncode == 0 else "error",
        "wall_s": round(res.wall_s, 3),
        "peak_rss_mib": round(res.peak_rss_mib, 1),
        **({} if res.returncode == 0 else {"reason": res.reason()}),
    }


def run(
    quick: bool = False,
    *,
    studies: dict[str, float] | None = None,
    budget_s: float | None = None,
) -> dict[str, Any]:
    """Time the shipped studies end to end.

    Parameters
    ----------
    quick : bool
        Only ``quickstart`` with :data:`QUICK_SCENARIOS` scenarios.
    studies : dict, optional
        ``{study: time limit [s]}`` instead of the defaults.
    budget_s : float, optional
        Time for all of it [s]; each study's limit is cut to what is left (a study that
        would get under 10 s is reported as skipped).

    Returns
    -------
    dict
        ``startup`` (see :func:`time_startup`) and ``studies`` → per study the figures of
        :func:`time_study`.
    """
    chosen = studies or (STUDIES_QUICK if quick else STUDIES_FULL)
    start = time.perf_counter()
    result: dict[str, Any] = {"mode": "quick" if quick else "full", "startup": time_startup()}
    result["studies"] = {}
    for name, limit in chosen.items():
        if budget_s is not None:
            left = budget_s - (time.perf_counter() - start)
            if left < 10:
                result["studies"][name] = {
                    "study": name,
                    "status": "skipped",
                    "reason": f"budget of {budget_s:.0f} s spent",
                }
                continue
            limit = min(limit, left)
        result["studies"][name] = time_study(
            name, timeout_s=limit, scenarios=QUICK_SCENARIOS if quick else None
        )
    print("end-to-end (child processes running `gridcap run`)")
    s = result["startup"]
    print(f"  gridcap --version: {s['wall_s']:.2f} s, peak {s['peak_rss_mib']:.0f} MiB")
    for name, r in result["studies"].items():
        if r["status"] == "ok":
            stages = r.get("stage_seconds") or {}
            split = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
            print(
                f"  {name}: {r['wall_s']:.1f} s, peak {r['peak_rss_mib']:.0f} MiB, "
                f"CPU {r['cpu_s']:.1f} s" + (f" ({split})" if split else "")
            )
        else:
            print(f"  {name}: {r['status']} ({r.get('reason', '')})")
    return jsonable(result)


def main(argv: list[str] | None = None) -> int:
    """``python -m gridcap.benchmarks.e2e [--quick] [--study NAME ...]``."""
    parser = argparse.ArgumentParser(prog="python -m gridcap.benchmarks.e2e")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--study", nargs="+", metavar="NAME", help="studies to time")
    args = parser.parse_args(argv)
    studies = {name: 600.0 for name in args.study} if args.study else None
    run(args.quick, studies=studies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
