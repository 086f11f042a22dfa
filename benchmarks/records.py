"""Markdown rendering of a benchmark record (the JSON written by :func:`.suite.run_suite`).

The Markdown file is for people: the machine in one paragraph, the targets with PASS/FAIL
(the *headline table*, which the README repeats), a status line per section, then every
figure with its unit. The JSON next to it holds the same and more, for programs.
"""

from __future__ import annotations

import math
from typing import Any

#: Figures per section listed in the Markdown (all of them are in the JSON).
MAX_FIGURES = 80


def fmt(value: Any, unit: str = "") -> str:
    """A number with 4 significant digits (scientific beyond 1e6), or ``–`` for none.

    Examples
    --------
    >>> fmt(0.123456), fmt(2.5e9), fmt(None)
    ('0.1235', '2.500e+09', '–')
    """
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def machine_line(record: dict[str, Any]) -> str:
    """One paragraph naming CPU, cores, memory, GPU and key library versions."""
    m = record["machine"]
    cpu = m["cpu"]
    gpus = m.get("gpus") or []
    gpu = ", ".join(f"{g['name']} ({fmt(g['memory_gib'])} GiB)" for g in gpus) if gpus else "no GPU"
    v = m.get("versions", {})
    libs = ", ".join(
        f"{name} {v[name]}"
        for name in (
            "python",
            "numpy",
            "numba",
            "pyomo",
            "highspy",
            "linopy",
            "xarray",
            "cupy",
            "cupy-cuda12x",
        )
        if name in v and v[name] != "not installed"
    )
    simd = ", ".join(cpu.get("simd", [])) or "none detected"
    return (
        f"**Machine** `{m['slug']}`: {cpu['model']} (family/model {cpu.get('family_model')}), "
        f"{cpu['usable_cores']} usable of {cpu['logical_cores']} logical cores, SIMD {simd}; "
        f"{fmt(m['memory_gib'])} GiB memory; {gpu}. {libs}."
    )


def backends_line(record: dict[str, Any]) -> str:
    """Which Monte Carlo backends could run, and why not."""
    backends = record["machine"].get("backends") or {}
    parts = []
    for name, info in backends.items():
        ok = info.get("available")
        mark = "yes" if ok else ("unknown" if ok is None else "no")
        why = f" ({info['reason']})" if info.get("reason") and not ok else ""
        parts.append(f"{name}: {mark}{why}")
    return "**Backends**: " + ("; ".join(parts) if parts else "not probed") + "."


def headline_table(record: dict[str, Any]) -> str:
    """The targets of the issues with the measured figure and PASS/FAIL, as Markdown.

    Rows come from ``record["checks"]``; end-to-end wall times and scaling slopes follow
    as informative rows (no target).
    """
    lines = [
        "| area | target | measured | status |",
        "|---|---|---|---|",
    ]
    for c in record.get("checks", []):
        measured = fmt(c.get("value"))
        if c.get("unit") and c.get("value") is not None and c["unit"] not in ("1", "?"):
            measured += f" {c['unit']}"
        target = "" if c.get("op") == "info" else f" ({c.get('op', '')} {fmt(c.get('target'))})"
        if c.get("measured_at"):
            measured += f" at {c['measured_at']}"
        if c.get("figure"):
            measured += f" (`{c['figure']}`)"
        if c.get("mode"):
            measured += f" [{c['mode']}]"
        status = c["status"] if c["status"] != "n/a" else f"n/a — {c.get('reason', '')}"
        lines.append(
            f"| {_cell(c['section'])} | {_cell(c['what'])}{target} | {_cell(measured)} "
            f"| {_cell(status)} |"
        )
    e2e = record.get("sections", {}).get("e2e", {})
    for name, r in (e2e.get("result", {}) or {}).get("studies", {}).items():
        if r.get("status") == "ok":
            measured = f"{fmt(r['wall_s'])} s, peak {fmt(r['peak_rss_mib'])} MiB"
        else:
            measured = f"{r.get('status')}: {r.get('reason', '')}"
        lines.append(
            f"| e2e | `gridcap run {name}` wall time and peak memory | {_cell(measured)} | info |"
        )
    scaling = record.get("sections", {}).get("scaling", {})
    for axis, data in ((scaling.get("result", {}) or {}).get("axes", {}) or {}).items():
        if data.get("time_slope") is None:
            continue
        lines.append(
            f"| scaling | time / memory growth vs {axis} (log-log slope; 1 = linear) | "
            f"{fmt(data['time_slope'])} / {fmt(data.get('memory_slope'))} | info |"
        )
    return "\n".join(lines)


def sections_table(record: dict[str, Any]) -> str:
    """Status, wall time and peak memory of every section, as Markdown."""
    lines = ["| section | status | wall [s] | peak RSS [MiB] | reason |", "|---|---|---|---|---|"]
    for name, s in record.get("sections", {}).items():
        status = s["status"] + (f" ({s['mode']})" if s.get("mode") else "")
        lines.append(
            f"| {name} | {status} | {s.get('wall_s', 0):.2f} | {fmt(s.get('peak_rss_mib'))} "
            f"| {_cell(s.get('reason', ''))} |"
        )
    return "\n".join(lines)


def figures_table(entry: dict[str, Any], limit: int = MAX_FIGURES) -> str:
    """Every figure of one section (first ``limit``), with units, as Markdown."""
    figs = entry.get("figures") or []
    if not figs:
        return "_no figures_"
    lines = ["| figure | value | unit |", "|---|---|---|"]
    lines += [f"| `{f['name']}` | {fmt(f['value'])} | {f['unit']} |" for f in figs[:limit]]
    if len(figs) > limit:
        lines.append(f"| … {len(figs) - limit} more in the JSON record | | |")
    return "\n".join(lines)


def scaling_tables(result: dict[str, Any]) -> str:
    """One Markdown table per scaling axis: size, time, throughput, memory, status."""
    out = [f"Memory: {result.get('memory_method', '')}.", ""]
    for axis, data in (result.get("axes") or {}).items():
        fixed = ", ".join(f"{k} = {v}" for k, v in (data.get("fixed") or {}).items())
        slopes = ""
        if data.get("time_slope") is not None:
            slopes = (
                f" — log-log slope: time {fmt(data['time_slope'])}, "
                f"memory {fmt(data.get('memory_slope'))}"
            )
        out += [
            f"**{axis}** ({fixed}){slopes}",
            "",
            f"| {axis} | time [s] | throughput [DER-scenario-h/s] | peak RSS [MiB] "
            "| peak increase [MiB] | status |",
            "|---|---|---|---|---|---|",
        ]
        for r in data.get("points", []):
            out.append(
                f"| {r.get(axis)} | {fmt(r.get('seconds'))} "
                f"| {fmt(r.get('der_scenario_hours_per_s'))} | {fmt(r.get('peak_rss_mib'))} "
                f"| {fmt(r.get('rss_increase_mib'))} "
                f"| {_cell(r.get('status', ''))} {_cell(r.get('reason', ''))} |"
            )
        out.append("")
    return "\n".join(out)


def e2e_table(result: dict[str, Any]) -> str:
    """End-to-end runs: wall time, peak memory and the per-stage split, as Markdown."""
    lines = [
        "| run | wall [s] | peak RSS [MiB] | stages [s] | status |",
        "|---|---|---|---|---|",
    ]
    s = result.get("startup") or {}
    if s:
        lines.append(
            f"| `gridcap --version` (start-up) | {fmt(s.get('wall_s'))} "
            f"| {fmt(s.get('peak_rss_mib'))} | | {s.get('status')} |"
        )
    for name, r in (result.get("studies") or {}).items():
        stages = ", ".join(f"{k} {fmt(v)}" for k, v in (r.get("stage_seconds") or {}).items())
        status = r.get("status", "") + (f": {r['reason']}" if r.get("reason") else "")
        lines.append(
            f"| `{_cell(r.get('command', name))}` | {fmt(r.get('wall_s'))} "
            f"| {fmt(r.get('peak_rss_mib'))} | {stages} | {_cell(status)} |"
        )
    return "\n".join(lines)


def markdown(record: dict[str, Any]) -> str:
    """The whole Markdown record.

    Parameters
    ----------
    record : dict
        As returned by :func:`gridcap.benchmarks.suite.run_suite`.

    Returns
    -------
    str
        Markdown text: title, machine, notes, headline table, sections, figures.
    """
    load = record.get("machine_load", {})
    out = [
        f"# gridcap benchmark record — {record['started'][:10]}, `{record['machine']['slug']}` "
        f"({record['mode']})",
        "",
        f"Started {record['started']}, finished {record.get('finished')} (UTC); "
        f"{fmt(record.get('wall_s'))} s in all. Command: `{record.get('command', '')}`.",
        "",
        machine_line(record),
        "",
        backends_line(record),
        "",
        f"**Machine load**: other processes used {fmt(load.get('cpu_seconds_other_processes'))}"
        f" of {fmt(load.get('cpu_seconds_available'))} CPU-seconds available during the run "
        f"(share {fmt(load.get('other_processes_share'))}); peak 1-min load average "
        f"{fmt(load.get('load_average_1min_max'))}.",
        "",
    ]
    if record.get("notes"):
        out += ["**Notes**:", ""] + [f"- {n}" for n in record["notes"]] + [""]
    out += ["## Targets (headline)", ""]
    if record.get("mode") == "quick":
        out += [
            "_Quick mode: tiny sizes, so PASS/FAIL here are smoke indications, not verdicts on "
            "the targets (those need the full suite)._",
            "",
        ]
    out += [headline_table(record), ""]
    out += ["## Sections", "", sections_table(record), ""]
    for name, entry in record.get("sections", {}).items():
        out += [f"## {name}: {entry.get('title', '')}", ""]
        if entry["status"] != "ok":
            out += [f"{entry['status']}: {entry.get('reason', '')}", ""]
            if entry.get("output", "").strip():  # what it printed before it stopped
                tail = "\n".join(entry["output"].strip().splitlines()[-40:])
                out += ["Output before it stopped (last 40 lines):", "", "```", tail, "```", ""]
            continue
        result = entry.get("result", {})
        if entry.get("fallback_from"):
            first = entry["fallback_from"]
            out += [
                f"**Figures from the quick form**: the full run {first.get('status')} "
                f"({first.get('reason', '')}) after {fmt(first.get('wall_s'))} s. Its output:",
                "",
                "```",
                "\n".join((entry.get("full_output") or "").strip().splitlines()[-40:]),
                "```",
                "",
            ]
        if isinstance(result, dict) and result.get("notes"):
            out += [f"- {n}" for n in result["notes"]] + [""]
        if name == "scaling":
            if record.get("files", {}).get("plot"):
                out += [f"![scaling curves]({record['files']['plot']})", ""]
            out += [scaling_tables(result), ""]
        elif name == "e2e":
            out += [e2e_table(result), ""]
        else:
            out += [figures_table(entry), ""]
    return "\n".join(out).rstrip() + "\n"
