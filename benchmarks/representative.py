"""Representative weeks against the full year: ``gridcap run quickstart --hours H`` end to end.

Each run is a fresh child process (``python -m gridcap run quickstart --hours H --out TMP
-q``), so the figures hold everything a user waits for: start-up, imports, the Numba cache,
inputs, Monte Carlo, plan, finance, chain and the results write. The two variants alternate
(full year, 4 weeks, full year, ...) after one warm-up run of each, so a busy machine slows
both alike; the record keeps every run, the medians, the ratio of the medians (the speed-up),
the child CPU time (user + system, less sensitive to other work on the machine than wall
time) and the per-stage split read back from ``results.nc``.

Run: ``python -m gridcap.benchmarks.representative [--repeats 3] [--hours 672]
[--out benchmarks/results]``. Writes ``<date>_<machine>_representative.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from .e2e import _stage_seconds
from .machine import machine_info
from .measure import jsonable, run_child
from .suite import RESULTS_DIR, resolve_out_dir


def _cpu_children_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def time_run(hours: int, *, study: str = "quickstart", timeout_s: float = 600.0) -> dict[str, Any]:
    """One ``gridcap run STUDY --hours H`` in a child process: wall [s], CPU [s], peak [MiB]."""
    with tempfile.TemporaryDirectory(prefix="gridcap-rep-") as tmp:
        argv = [sys.executable, "-m", "gridcap", "run", study, "--hours", str(hours),
                "--out", tmp, "-q"]
        cpu0 = _cpu_children_s()
        res = run_child(argv, timeout_s=timeout_s, cwd=tmp)
        cpu = _cpu_children_s() - cpu0
        out: dict[str, Any] = {"hours": hours, "wall_s": round(res.wall_s, 3),
                               "cpu_s": round(cpu, 3), "exit": res.returncode,
                               "peak_rss_mib": round(res.peak_rss_mib, 1)}
        if res.returncode != 0:
            out["reason"] = res.reason()
        else:
            out["stage_seconds"] = _stage_seconds(Path(tmp) / "results.nc")
        return out


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def _stage_median(runs: list[dict[str, Any]], stage: str) -> float | None:
    vals = [r["stage_seconds"][stage] for r in runs if r.get("stage_seconds")
            and stage in r["stage_seconds"]]
    return float(statistics.median(vals)) if vals else None


def run(repeats: int = 3, hours: int = 672, study: str = "quickstart") -> dict[str, Any]:
    """Alternate full-year and representative-period runs; return the record body."""
    for h in (8760, hours):  # warm-up: Numba cache, page cache
        time_run(h, study=study)
    runs: dict[int, list[dict[str, Any]]] = {8760: [], hours: []}
    for _ in range(repeats):
        for h in (8760, hours):
            r = time_run(h, study=study)
            runs[h].append(r)
            print(f"  hours={h}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, "
                  f"stages {r.get('stage_seconds')}", flush=True)
    full, rep = runs[8760], runs[hours]
    ok = all(r["exit"] == 0 for r in full + rep)
    summary: dict[str, Any] = {"all_ok": ok}
    if ok:
        for key in ("wall_s", "cpu_s"):
            summary[f"full_{key}"] = _median(full, key)
            summary[f"rep_{key}"] = _median(rep, key)
            summary[f"speedup_{key.removesuffix('_s')}"] = round(
                _median(full, key) / _median(rep, key), 2)
        mc_f, mc_r = _stage_median(full, "monte_carlo"), _stage_median(rep, "monte_carlo")
        if mc_f and mc_r:
            summary["monte_carlo_stage_full_s"] = mc_f
            summary["monte_carlo_stage_rep_s"] = mc_r
            summary["speedup_monte_carlo_stage"] = round(mc_f / mc_r, 2)
    return {"study": study, "hours": hours, "repeats": repeats,
            "command": f"gridcap run {study} --hours H --out TMP -q", "runs": runs,
            "summary": summary}


def markdown(record: dict[str, Any]) -> str:
    """The record as Markdown."""
    m, s = record["machine"], record["result"]["summary"]
    cpu = m.get("cpu", {})
    lines = [
        f"# Representative weeks vs the full year: `{record['result']['command']}`", "",
        f"{m['date']}, {cpu.get('model', '?')} ({cpu.get('usable_cores', '?')} usable cores), "
        f"{m.get('memory_gib')} GiB, GPUs: {m.get('gpus') or 'none'}; load average at start "
        f"{m.get('load_average')} (a shared machine slows both variants alike: they alternate).",
        "", "| figure | full year (8,760 h) | "
        f"{record['result']['hours'] // 168} weeks ({record['result']['hours']} h) | speed-up |",
        "|---|---|---|---|",
    ]
    for label, key in (("wall time, median [s]", "wall_s"), ("CPU time, median [s]", "cpu_s")):
        if f"full_{key}" in s:
            lines.append(f"| {label} | {s[f'full_{key}']:.1f} | {s[f'rep_{key}']:.1f} | "
                         f"{s['speedup_' + key[:-2]]:.2f}× |")
    if "speedup_monte_carlo_stage" in s:
        lines.append(f"| Monte Carlo stage, median [s] | {s['monte_carlo_stage_full_s']:.2f} | "
                     f"{s['monte_carlo_stage_rep_s']:.2f} | "
                     f"{s['speedup_monte_carlo_stage']:.2f}× |")
    lines += ["", "Every run (wall [s], CPU [s], stages [s]):", ""]
    for h, runs in record["result"]["runs"].items():
        for r in runs:
            lines.append(f"- hours={h}: {r['wall_s']:.1f} / {r['cpu_s']:.1f}; "
                         f"{r.get('stage_seconds') or r.get('reason')}")
    lines += record.get("notes", [])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hours", type=int, default=672)
    ap.add_argument("--study", default="quickstart")
    ap.add_argument("--out", default=str(RESULTS_DIR))
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args(argv)
    machine = machine_info(backends=False)
    result = run(args.repeats, args.hours, args.study)
    record = {"machine": machine, "result": result, "notes": args.note}
    out = resolve_out_dir(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{machine['date'][:10]}_{machine['slug']}_representative"
    (out / f"{stem}.json").write_text(json.dumps(jsonable(record), indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(record))
    print(markdown(record))
    print(f"record written: {out / stem}.json and .md")
    return 0 if result["summary"]["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
