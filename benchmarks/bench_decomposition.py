"""Benchmark of the planner's scenario decomposition (issue 19): time and certified bounds of
progressive hedging on mpi-sppy against the number of scenarios and MPI ranks, next to the
extensive form while it fits.

Standalone (not part of ``gridcap bench``; minutes to hours)::

    python -m gridcap.benchmarks.bench_decomposition --scenarios 32,64,128,256 --ranks 1,2 \\
        --engine matrix --gap 5e-3 --time-limit 900 --out benchmarks/results/decomposition.json

Each (scenarios, ranks) point runs ``mpiexec -n RANKS python -m
gridcap.benchmarks.bench_decomposition --point ...`` (the mpiexec of the mpich wheel) on a
seeded synthetic study shaped like the flagship (6 regions, 12 slices, 5 years, 17 mine sites;
``gridcap.optimizer.planning.synthetic``: synthetic numbers, not real-world facts). The
extensive form (one HiGHS MILP, all scenarios) runs in this process up to
``--extensive-max`` scenarios. ``--flagship OUTCOMES.nc INPUTS.pkl`` adds the flagship study's
real Monte Carlo outcomes: all scenarios decomposed, beside the extensive form on
``--reduced`` Heitsch–Römisch-selected scenarios (capacity values and CVaR compared).
No timing is asserted anywhere; the JSON/Markdown record carries the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SHAPE = {"regions": 6, "slices": 12, "years": 5, "sites": 17}


def _study(scenarios: int, seed: int) -> tuple[Any, Any]:
    from gridcap.optimizer.planning.synthetic import synthetic_study

    return synthetic_study(scenarios=scenarios, seed=seed, **SHAPE)


def _options(args: argparse.Namespace, **kw: Any) -> Any:
    from gridcap.optimizer.planning.siting import PlanOptions

    base = dict(cvar_alpha=0.95, cvar_lambda=0.5, scenarios_in_model=None,
                time_limit_s=args.time_limit, mip_gap=1e-3)
    base.update(kw)
    return PlanOptions(**base)


def _summary(ds: Any, wall: float) -> dict[str, Any]:
    keep = ("decomposition_lower_bound_usd", "decomposition_upper_bound_usd",
            "decomposition_gap", "decomposition_iterations", "decomposition_wall_s",
            "decomposition_stop_reason", "decomposition_ranks", "decomposition_engine",
            "decomposition_history", "n_variables", "mip_gap", "solver_status")
    rec = {k: ds.attrs[k] for k in keep if k in ds.attrs}
    for k, v in list(rec.items()):
        if isinstance(v, np.generic):
            rec[k] = v.item()
    rec.update({
        "wall_s": wall,
        "objective_usd": float(ds["objective_usd"]),
        "cvar_cost_usd": float(ds["cvar_cost_usd"]),
        "expected_cost_usd": float(ds["expected_cost_usd"]),
        "capacity_value_usd_per_kw_yr": np.nan_to_num(
            ds["capacity_value_usd_per_kw_yr"].values).tolist(),
        "converted": ds["converted"].values.tolist(),
        "online_mw_final_year": ds["online_mw"].isel(year=-1).sum().item(),
    })
    return rec


def run_point(args: argparse.Namespace) -> None:
    """One decomposed solve (every rank of an mpiexec launch runs this)."""
    from mpi4py import MPI

    from gridcap.optimizer.planning.siting import plan

    if args.flagship:
        import xarray as xr

        outcomes = xr.open_dataset(args.flagship[0]).load()
        with open(args.flagship[1], "rb") as f:
            inputs = pickle.load(f)
        if args.point < outcomes.sizes["scenario"]:
            outcomes = outcomes.isel(scenario=slice(0, args.point))
    else:
        inputs, outcomes = _study(args.point, args.seed)
    t0 = time.perf_counter()
    ds = plan(inputs, outcomes, options=_options(
        args, decomposition="ph", decomposition_engine=args.engine,
        decomposition_gap=args.gap, decomposition_max_iterations=args.max_iterations))
    wall = time.perf_counter() - t0
    if MPI.COMM_WORLD.Get_rank() == 0:
        Path(args.point_out).write_text(json.dumps(_summary(ds, wall), default=float))


def _extensive(inputs: Any, outcomes: Any, args: argparse.Namespace,
               reduced: int | None = None) -> dict[str, Any]:
    from gridcap.optimizer.planning.siting import plan

    t0 = time.perf_counter()
    ds = plan(inputs, outcomes, options=_options(args, scenarios_in_model=reduced,
                                                 evaluate_selection=reduced is not None))
    rec = _summary(ds, time.perf_counter() - t0)
    for k in ("scenario_selection_full_expected_cost_usd",
              "scenario_selection_full_cvar_cost_usd"):
        if k in ds.attrs:
            rec[k] = float(ds.attrs[k])
    return rec


def _mpiexec() -> str:
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else "mpiexec"


def _spawn(args: argparse.Namespace, scenarios: int, ranks: int, tmp: Path) -> dict[str, Any]:
    out = tmp / f"point_{scenarios}_{ranks}.json"
    cmd = [_mpiexec(), "-n", str(ranks), sys.executable, "-m",
           "gridcap.benchmarks.bench_decomposition", "--point", str(scenarios),
           "--point-out", str(out), "--engine", args.engine, "--gap", str(args.gap),
           "--time-limit", str(args.time_limit), "--max-iterations", str(args.max_iterations),
           "--seed", str(args.seed)]
    if args.flagship:
        cmd += ["--flagship", *args.flagship]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    if proc.returncode != 0:
        return {"error": proc.stderr[-1500:], "wall_s": time.perf_counter() - t0}
    rec: dict[str, Any] = json.loads(out.read_text())
    rec["process_wall_s"] = time.perf_counter() - t0
    return rec


def _fmt(v: Any, kind: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    return {"s": f"{v:.1f}", "usd": f"{v / 1e9:,.3f}", "gap": f"{100 * v:.3f} %"}[kind]


def markdown(record: dict[str, Any]) -> str:
    """The record as a Markdown table (objectives in $ billion)."""
    m = record["machine"]
    cpu = m.get("cpu", {})
    lines = [f"# Scenario decomposition benchmark ({record['engine']} engine)", "",
             f"Machine: {cpu.get('model', '?')}, {cpu.get('logical_cores', '?')}"
             f" logical CPUs, load average at start {m.get('load_average')}; gap target "
             f"{record['gap_target']}, time limit {record['time_limit_s']} s. Objectives in "
             "$ billion (present value); ext = extensive form (one HiGHS MILP, mip_gap 1e-3).",
             "", "| scenarios | run | wall s | iterations | lower | upper / objective | gap |",
             "|---|---|---|---|---|---|---|"]
    for row in record["points"]:
        for key, rec in row.items():
            if not isinstance(rec, dict):
                continue
            if "error" in rec:
                lines.append(f"| {row['scenarios']} | {key} | {_fmt(rec.get('wall_s'), 's')} "
                             "| failed | | | |")
                continue
            lines.append("| {} | {} | {} | {} | {} | {} | {} |".format(
                row["scenarios"], key, _fmt(rec.get("wall_s"), "s"),
                rec.get("decomposition_iterations", "—"),
                _fmt(rec.get("decomposition_lower_bound_usd"), "usd"),
                _fmt(rec.get("objective_usd"), "usd"),
                _fmt(rec.get("decomposition_gap", rec.get("mip_gap")), "gap")))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", default="32,64,128,256")
    p.add_argument("--ranks", default="1,2")
    p.add_argument("--engine", default="matrix", choices=("mpisppy", "matrix"))
    p.add_argument("--gap", type=float, default=5e-3)
    p.add_argument("--time-limit", type=float, default=900.0)
    p.add_argument("--max-iterations", type=int, default=500)
    p.add_argument("--extensive-max", type=int, default=256)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--flagship", nargs=2, metavar=("OUTCOMES_NC", "INPUTS_PKL"))
    p.add_argument("--reduced", type=int, default=32)
    p.add_argument("--out", default="benchmarks/results/decomposition.json")
    p.add_argument("--point", type=int, help=argparse.SUPPRESS)
    p.add_argument("--point-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.point is not None:
        run_point(args)
        return 0
    from gridcap.benchmarks.machine import machine_info

    tmp = Path(args.out).with_suffix(".points")
    tmp.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"machine": machine_info(), "shape": SHAPE, "engine": args.engine,
                              "gap_target": args.gap, "time_limit_s": args.time_limit,
                              "points": []}
    scen = [int(s) for s in args.scenarios.split(",") if s]
    ranks = [int(r) for r in args.ranks.split(",") if r]
    for s in scen:
        row: dict[str, Any] = {"scenarios": s}
        if s <= args.extensive_max:
            if args.flagship:
                import xarray as xr

                outcomes = xr.open_dataset(args.flagship[0]).load().isel(
                    scenario=slice(0, s))
                with open(args.flagship[1], "rb") as f:
                    inputs = pickle.load(f)
            else:
                inputs, outcomes = _study(s, args.seed)
            row["extensive"] = _extensive(inputs, outcomes, args)
            if args.flagship and args.reduced < s:
                row["extensive_reduced"] = _extensive(inputs, outcomes, args, args.reduced)
        for r in ranks:
            row[f"ph_ranks_{r}"] = _spawn(args, s, r, tmp)
        record["points"].append(row)
        Path(args.out).write_text(json.dumps(record, indent=1, default=float))
        Path(args.out).with_suffix(".md").write_text(markdown(record))
        print(json.dumps({k: (v.get("wall_s"), v.get("decomposition_gap"),
                              v.get("objective_usd")) if isinstance(v, dict) else v
                          for k, v in row.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
