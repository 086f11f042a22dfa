"""The benchmark suite: run every section, check the targets, write the JSON + Markdown record.

Sections are modules of this package exposing ``run(quick: bool = False) -> dict``
(:data:`SECTIONS`). Each runs in its own child process by default, so its peak memory is its
own, a crash or a hang cannot take the suite down (it is recorded as ``error`` or
``timed out``), and a module that is missing or cannot import is recorded as
``not available (reason)``. The targets of the issues (:data:`TARGETS`) are looked up in the
section results and marked PASS / FAIL; the record names the machine, the date, the library
versions, and how busy the machine was while it ran.

Entry points: ``gridcap bench`` and ``python -m benchmarks`` (see :mod:`.cli`).
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import math
import operator
import os
import re
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridcap.errors import GridcapInputError

from .machine import load_average, machine_info
from .measure import jsonable, run_child, unit_from_key

SCHEMA = "gridcap-bench/1"
#: Seconds of a section's time limit kept back from the budget it is told (start-up, exit).
SECTION_MARGIN_S = 20.0
#: Default folder of the records: ``benchmarks/results`` under the CURRENT WORKING DIRECTORY
#: (the checkout or project folder the user runs from), resolved when the suite runs; never
#: next to this file, which in a regular install is inside site-packages.
RESULTS_DIR = Path("benchmarks") / "results"
#: Folder names that mark an installed (not editable) package location.
INSTALL_ROOTS = ("site-packages", "dist-packages")


def installed_package_dirs() -> list[Path]:
    """Folders of the gridcap packages when they sit in an installed location.

    Returns
    -------
    list of Path
        The resolved folders of ``gridcap`` and ``gridcap.benchmarks`` that lie under a
        ``site-packages`` / ``dist-packages`` folder (a regular ``pip install``); empty for an
        editable install from a checkout, whose ``benchmarks/results`` is the user's own.
    """
    import gridcap

    dirs = {Path(gridcap.__file__).resolve().parent, Path(__file__).resolve().parent}
    return sorted(d for d in dirs if any(part in INSTALL_ROOTS for part in d.parts))


def resolve_out_dir(out_dir: str | Path) -> Path:
    """Where a record goes: ``out_dir`` made absolute against the current working directory.

    Parameters
    ----------
    out_dir : str or Path
        The ``--out`` folder (relative paths are relative to the current working directory).

    Returns
    -------
    Path
        The absolute folder.

    Raises
    ------
    GridcapInputError
        If the folder lies inside an installed gridcap package (``gridcap bench`` never writes
        into the installed package; pass ``--out`` with a folder you own).
    """
    path = Path(out_dir).expanduser().resolve()
    for pkg in installed_package_dirs():
        if path == pkg or pkg in path.parents:
            raise GridcapInputError(
                f"--out {out_dir}: resolves to {path}, inside the installed gridcap package "
                f"({pkg}); expected a folder outside it, e.g. --out ./benchmarks/results"
            )
    return path


@dataclass(frozen=True)
class Section:
    """One benchmark area.

    Attributes
    ----------
    name : str
        Name used by ``--only``.
    module : str
        Module with ``run(quick=False) -> dict``: ``".name"`` for a module of this package,
        or an absolute module name.
    title : str
        What it measures, for the record.
    timeout_s : float
        Time limit of the full run [s].
    quick_timeout_s : float
        Time limit of the ``--quick`` run [s].
    largest_timeout_s : float or None
        Time limit of the full run with its largest cases [s] (None: ``timeout_s``).
    """

    name: str
    module: str
    title: str
    timeout_s: float
    quick_timeout_s: float = 60.0
    largest_timeout_s: float | None = None

    def limit_s(self, quick: bool, largest: bool) -> float:
        """Time limit of this section's run [s]."""
        if quick:
            return self.quick_timeout_s
        if largest and self.largest_timeout_s is not None:
            return self.largest_timeout_s
        return self.timeout_s


#: In run order. Limits are for the full suite on the 2-core reference machine, within the
#: 870 s default budget; e2e runs last and gets what is left of it.
SECTIONS: tuple[Section, ...] = (
    Section(
        "kernels",
        ".bench_kernels",
        "Monte Carlo kernel throughput per backend vs the Philox generator alone",
        450.0,
        # 10,000 DERs × 100 scenarios × 8,760 h twice (kernel, Philox alone) and the memory
        # case at 1,000 scenarios: 340 s in all on a quiet 2-core machine, several times that
        # on a busy one
        largest_timeout_s=1500.0,
    ),
    Section(
        "scaling",
        ".scaling",
        "Scaling curves: time and peak memory vs DERs, scenarios and simulated hours",
        150.0,
    ),
    Section("waterfall", ".bench_waterfall", "Financing waterfall vs a plain-Python loop", 90.0),
    Section(
        "optimizer",
        ".bench_optimizer",
        "model build / hand-off / HiGHS solve at 1e4-1e6 variables vs linopy; persistent "
        "sweep vs rebuild",
        360.0,
        # the ~1e6-variable LP: 86 s of HiGHS per modeller on a quiet 2-core machine, 613 s
        # on a busy one
        largest_timeout_s=900.0,
    ),
    Section(
        "e2e",
        ".e2e",
        "End-to-end `gridcap run` of the shipped studies: wall time and peak memory",
        600.0,
        120.0,
        # the flagship at full resolution alone: ~1.5 min on a quiet 2-core machine, several
        # times that on a busy one
        largest_timeout_s=1200.0,
    ),
)
SECTION_NAMES: tuple[str, ...] = tuple(s.name for s in SECTIONS)

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Target:
    """A target an issue names, and how to find its figure in a section's result.

    Attributes
    ----------
    id : str
        Short stable id (``kernel_vs_philox``).
    section : str
        Section whose result holds the figure.
    what : str
        The target in words.
    op : str
        ``">="`` or ``"<="`` (measured ``op`` threshold passes), or ``"info"`` for a
        headline figure without a target.
    threshold : float
        Target value, in ``unit``.
    unit : str
        Unit of the figure (``"1"`` for a ratio, ``"×"`` for a speed-up).
    patterns : tuple of str
        Regular expressions tried (in order) against the dotted, lower-case path of every
        numeric leaf of the result; the first pattern with matches wins, and every match
        is checked (one row each, e.g. one per problem size).
    min_size : float, optional
        Only paths naming a size at least this large count (e.g. 1e5 variables).
    source : str
        Issue number the target comes from.
    exclude : tuple of str
        Regular expressions of paths never to use (e.g. other backends).
    requires_gpu : bool
        Only meaningful where a GPU is present (``n/a`` with that reason elsewhere).
    """

    id: str
    section: str
    what: str
    op: str
    threshold: float
    unit: str
    patterns: tuple[str, ...]
    min_size: float | None = None
    source: str = ""
    exclude: tuple[str, ...] = field(default_factory=tuple)
    requires_gpu: bool = False


TARGETS: tuple[Target, ...] = (
    Target(
        "kernel_throughput",
        "kernels",
        "numba-cpu dispatch kernel throughput",
        "info",
        math.nan,
        "DER-scenario-h/s",
        (r"numba_cpu\.der_scenario_hours_per_s$",),
        source="#4",
    ),
    Target(
        "philox_words_throughput",
        "kernels",
        "Philox4x32-10 words alone (one block per DER-hour, no transforms)",
        "info",
        math.nan,
        "DER-scenario-h/s",
        (r"numba_cpu\.philox_words_der_scenario_hours_per_s$",),
        source="#17",
    ),
    Target(
        "kernel_vs_words",
        "kernels",
        "numba-cpu dispatch kernel throughput ≥ 40% of the Philox word rate (same run)",
        ">=",
        0.40,
        "1",
        (r"numba_cpu\.kernel_vs_words$",),
        source="#17",
    ),
    Target(
        "philox_throughput",
        "kernels",
        "Philox generator + transforms alone, same draws",
        "info",
        math.nan,
        "DER-scenario-h/s",
        (r"numba_cpu\.philox_der_scenario_hours_per_s$",),
        source="#4",
    ),
    Target(
        "kernel_vs_philox",
        "kernels",
        "numba-cpu dispatch kernel throughput ≥ 40% of Philox alone (same draws, same run)",
        ">=",
        0.40,
        "1",
        (
            r"(over|vs|to)_philox",
            r"ratio.*philox|philox.*ratio",
            r"fraction_of_philox|philox_fraction|of_philox",
        ),
        source="#4",
        exclude=(r"numpy", r"cuda", r"cupy", r"cpu_time"),
    ),
    Target(
        "numpy_vs_python",
        "kernels",
        "numpy backend ≥ 20× a plain Python loop on the same tiny case",
        ">=",
        20.0,
        "×",
        (
            r"numpy.*(over|vs|to)_(plain_)?python|(numpy|vectori[sz]ed).*speedup",
            r"speedup.*(python|numpy)|python.*speedup",
        ),
        source="#4",
    ),
    Target(
        "gpu_throughput",
        "kernels",
        "GPU kernel throughput ≥ 100 billion DER-scenario-hours/s (H100)",
        ">=",
        100e9,
        "DER-scenario-h/s",
        (r"(cupy|cuda).*(der_scenario_hours_per_s|throughput)$",),
        source="#4",
        requires_gpu=True,
    ),
    Target(
        "gpu_speedup",
        "kernels",
        "GPU kernel speed-up over numba-cpu (same run)",
        "info",
        math.nan,
        "×",
        (r"speedup_over_numba_cpu$",),
        source="#4",
        requires_gpu=True,
    ),
    Target(
        "memory_large_case",
        "kernels",
        "10,000 DERs × 1,000 scenarios runs in 24 GB: peak RSS of the simulate child process",
        "<=",
        24e9 / 2**20,
        "MiB",
        (r"^memory\.peak_rss_mib$",),
        source="#4",
    ),
    Target(
        "memory_large_case_extrapolated",
        "scaling",
        "10,000 DERs × 1,000 scenarios × 8,760 h fits in 24 GB (extrapolated from the curves)",
        "<=",
        24e9 / 2**30,
        "GiB",
        (r"^extrapolated\.peak_rss_gib$",),
        source="#4",
    ),
    Target(
        "build_handoff_vs_solve",
        "optimizer",
        "model build + hand-off ≤ 50% of the HiGHS solve time at ≥ 1e5 variables",
        "<=",
        0.50,
        "1",
        (
            r"(build_?(and_?|\+|_)?hand_?off).*(over|vs|to|/|per)_?solve",
            r"overhead.*(ratio|fraction|share)|(ratio|fraction|share).*overhead",
        ),
        min_size=1e5,
        source="#5",
    ),
    Target(
        "pyomo_vs_linopy",
        "optimizer",
        "Pyomo end to end ≤ 1.5× the same LP built with linopy (same run)",
        "<=",
        1.5,
        "×",
        (r"(over|vs|to)_linopy|linopy.*ratio|ratio.*linopy",),
        source="#5",
    ),
    Target(
        "persistent_vs_rebuild",
        "optimizer",
        "20-point sweep: persistent solver ≥ 5× faster than rebuilding",
        ">=",
        5.0,
        "×",
        (r"persistent.*(speedup|ratio|vs|over)|(speedup|ratio).*persistent|rebuild.*over",),
        source="#5",
    ),
    Target(
        "waterfall_vs_python",
        "waterfall",
        "vectorised waterfall ≥ 50× a plain-Python per-scenario loop",
        ">=",
        50.0,
        "×",
        (r"(over|vs|to)_(plain_)?python|speedup|python.*ratio|ratio.*python",),
        source="#6",
        exclude=(r"cpu_time",),
    ),
    Target(
        "waterfall_vs_python_cpu_time",
        "waterfall",
        "waterfall vs plain Python in CPU time (all threads counted)",
        "info",
        math.nan,
        "×",
        (r"(over|vs|to)_(plain_)?python.*cpu_time",),
        source="#6",
    ),
)


# --------------------------------------------------------------------------- flattening


def flatten(result: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to every leaf of a nested dict/list result.

    ``{"a": {"b": 1}, "c": [2, 3]}`` → ``{"a.b": 1, "c.0": 2, "c.1": 3}``. A dict shaped like
    ``{"value": x, "unit": u}`` is one leaf holding the dict.
    """
    out: dict[str, Any] = {}
    if isinstance(result, dict):
        if "value" in result and "unit" in result and len(result) <= 4:
            out[prefix] = result
            return out
        for key, value in result.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(result, list):
        for i, value in enumerate(result):
            out.update(flatten(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix] = result
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every numeric figure of a section result with its unit.

    The unit comes, in order of preference, from a ``{"value", "unit"}`` leaf, from a
    ``units`` mapping in the result (``{"path or leaf name": unit}``), or from the figure's
    name (:func:`gridcap.benchmarks.measure.unit_from_key`).

    Returns
    -------
    list of dict
        ``{"name": dotted path, "value": float, "unit": str}``.
    """
    units = result.get("units", {}) if isinstance(result, dict) else {}
    rows = []
    for path, leaf in flatten(result).items():
        if path.startswith("units.") or path == "units":
            continue
        value = _number(leaf)
        if value is None:
            continue
        if isinstance(leaf, dict):
            unit = str(leaf["unit"])
        elif isinstance(units, dict) and (path in units or path.rsplit(".", 1)[-1] in units):
            unit = str(units.get(path, units.get(path.rsplit(".", 1)[-1])))
        else:
            unit = unit_from_key(path)
        rows.append({"name": path, "value": value, "unit": unit})
    return rows


_SIZE_RE = re.compile(
    r"(?:^|[._])(\d+(?:\.\d+)?(?:e\+?\d+)?)(?:_?(?:vars|variables|k|m))?(?=$|[._])"
)


def _path_size(path: str) -> float | None:
    """The largest size a path names (``"sizes.1e5.ratio"`` → 1e5, ``"n_100000"`` → 1e5)."""
    sizes = []
    for match in _SIZE_RE.finditer(path.lower()):
        text = match.group(0).strip("._")
        number = float(match.group(1))
        if text.endswith("k"):
            number *= 1e3
        elif text.endswith("m") and not text.endswith("vars"):
            number *= 1e6
        sizes.append(number)
    return max(sizes) if sizes else None


def _module_checks(section: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Checks a module states itself: a ``checks`` list of ``{name, value, target, op}``."""
    raw = result.get("checks") if isinstance(result, dict) else None
    if isinstance(raw, dict):
        raw = [
            {"name": k, **v} if isinstance(v, dict) else {"name": k, "value": v}
            for k, v in raw.items()
        ]
    rows = []
    for item in raw or []:
        if not isinstance(item, dict):
            continue
        value = _number(item.get("value"))
        target = _number(item.get("target"))
        op = str(item.get("op", ">="))
        passed = item.get("pass", item.get("passed", item.get("ok")))
        if value is not None and target is not None and op in OPS:
            passed = OPS[op](value, target)
        rows.append(
            {
                "id": str(item.get("id", item.get("name", "check"))),
                "section": section,
                "what": str(item.get("what", item.get("name", ""))),
                "figure": f"checks.{item.get('name', '')}",
                "value": value,
                "op": op,
                "target": target,
                "unit": str(item.get("unit", "")),
                "status": "n/a" if passed is None else ("PASS" if passed else "FAIL"),
                "source": "module",
            }
        )
    return rows


#: Keys that say at what size a figure was measured, and how to write them.
_SIZE_KEYS: tuple[tuple[str, str], ...] = (
    ("der", "DERs"),
    ("ders", "DERs"),
    ("n_der", "DERs"),
    ("variables", "variables"),
    ("scenarios", "scenarios"),
    ("years", "years"),
    ("hours", "h"),
    ("points", "points"),
)


def size_context(result: Any, path: str) -> str:
    """The problem size a figure was measured at, from the nearest enclosing dict that
    states one (``"500 DERs × 20 scenarios × 48 h"``); empty when none does."""
    parts = path.split(".")
    nodes = [result]
    for part in parts[:-1]:
        node = nodes[-1]
        if isinstance(node, dict) and part in node:
            nodes.append(node[part])
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            nodes.append(node[int(part)])
        else:
            break
    for node in reversed(nodes):
        if not isinstance(node, dict):
            continue
        found = [
            f"{node[k]:,} {label}"
            for k, label in _SIZE_KEYS
            if isinstance(node.get(k), int) and not isinstance(node.get(k), bool)
        ]
        if found:
            return " × ".join(found)
    return ""


def evaluate_targets(
    sections: dict[str, dict[str, Any]],
    targets: Sequence[Target] = TARGETS,
    gpus: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """Look up each target's figure in the section results and mark PASS / FAIL.

    Parameters
    ----------
    sections : dict
        ``{section name: section entry}`` where a finished entry has ``status == "ok"`` and
        its module's dict under ``result``.
    targets : sequence of Target
        What to check (default :data:`TARGETS`).
    gpus : sequence, optional
        GPUs of the machine (:func:`.machine.gpu_info`); when given and empty, GPU targets
        are ``n/a`` with that reason.

    Returns
    -------
    list of dict
        One row per matched figure: ``id``, ``section``, ``what``, ``figure`` (path),
        ``value``, ``op``, ``target``, ``unit``, ``status`` (``PASS``, ``FAIL``, or ``n/a``
        with a ``reason`` when the section did not run or the figure was not found).
        Checks a module states itself (a ``checks`` list) are added as they are.
    """
    rows: list[dict[str, Any]] = []
    for name, done in sections.items():
        if done.get("status") == "ok":
            rows += _module_checks(name, done.get("result", {}))
    for target in targets:
        base = {
            "id": target.id,
            "section": target.section,
            "what": target.what,
            "op": target.op,
            "target": None if target.op == "info" else target.threshold,
            "unit": target.unit,
            "source": target.source,
        }
        entry = sections.get(target.section)
        if entry is None:
            continue  # section not selected (--only)
        if target.requires_gpu and gpus is not None and not gpus:
            reason = "no GPU on this machine"
            rows.append({**base, "figure": None, "value": None, "status": "n/a", "reason": reason})
            continue
        if entry.get("status") != "ok":
            reason = f"section {entry.get('status')}"
            if entry.get("reason"):
                reason += f": {entry['reason']}"
            rows.append({**base, "figure": None, "value": None, "status": "n/a", "reason": reason})
            continue
        leaves = {
            p: v
            for p, v in flatten(entry.get("result", {})).items()
            if _number(v) is not None and not p.lower().startswith("checks.")
        }
        original = {p.lower(): p for p in leaves}
        flat = {p.lower(): v for p, v in leaves.items()}
        matches: list[tuple[str, float]] = []
        too_small: list[str] = []
        for pattern in target.patterns:
            rx = re.compile(pattern)
            for path, leaf in flat.items():
                if not rx.search(path) or any(re.search(x, path) for x in target.exclude):
                    continue
                if target.min_size is not None:
                    size = _path_size(path)
                    if size is None or size < target.min_size:
                        too_small.append(path)
                        continue
                matches.append((path, float(_number(leaf))))  # type: ignore[arg-type]
            if matches:
                break
        if not matches:
            reason = "figure not found in the section result"
            if too_small:
                reason = (
                    f"only measured below size {target.min_size:g} "
                    f"({', '.join(sorted(set(too_small)))})"
                )
            rows.append({**base, "figure": None, "value": None, "status": "n/a", "reason": reason})
            continue
        if entry.get("mode"):
            base["mode"] = entry["mode"]
        for path, value in matches:
            if target.op == "info":
                status = "info"
            else:
                ok = math.isfinite(value) and OPS[target.op](value, target.threshold)
                status = "PASS" if ok else "FAIL"
            rows.append(
                {
                    **base,
                    "figure": original[path],
                    "value": value,
                    "measured_at": size_context(entry.get("result", {}), original[path]),
                    "status": status,
                }
            )
    return rows


# --------------------------------------------------------------------------- running


class CpuShare:
    """How much of the machine's CPU time other processes took while the suite ran.

    Reads the system-wide busy time from ``/proc/stat`` and subtracts this process's and its
    waited-for children's CPU time (``getrusage``); the rest was used by someone else.
    """

    def __init__(self) -> None:
        self.start = self._sample()
        self.load_max = max(load_average()[:1] or [0.0])

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
            ticks = [int(x) for x in fields]
        except (OSError, ValueError, IndexError):
            return (math.nan, math.nan, math.nan)
        hz = os.sysconf("SC_CLK_TCK")
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        busy = sum(ticks[:8]) - idle
        ours = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            ours += usage.ru_utime + usage.ru_stime
        return (busy / hz, sum(ticks[:8]) / hz, ours)

    def poll(self) -> None:
        """Remember the highest 1-minute load average seen so far."""
        self.load_max = max(self.load_max, max(load_average()[:1] or [0.0]))

    def report(self) -> dict[str, float]:
        """CPU seconds used by others [s], available [s], their share [1], max load [1]."""
        self.poll()
        end = self._sample()
        busy = end[0] - self.start[0]
        total = end[1] - self.start[1]
        ours = end[2] - self.start[2]
        others = max(busy - ours, 0.0)
        return {
            "cpu_seconds_available": round(total, 1),
            "cpu_seconds_this_suite": round(ours, 1),
            "cpu_seconds_other_processes": round(others, 1),
            "other_processes_share": round(others / total, 3) if total > 0 else math.nan,
            "load_average_1min_max": self.load_max,
        }


def _call_run(module: Any, quick: bool, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call ``module.run(quick, **kwargs)`` passing only the keywords it accepts."""
    run = getattr(module, "run", None)
    if not callable(run):
        raise AttributeError(f"{module.__name__} has no run(quick=False) function")
    params = inspect.signature(run).parameters
    accepted = {k: v for k, v in kwargs.items() if k in params}
    out = run(quick=quick, **accepted)
    if not isinstance(out, dict):
        out = {"value": out}
    return out


def run_section_inprocess(
    section: Section, quick: bool, kwargs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Import and run one section here; never raises.

    Returns
    -------
    dict
        ``status`` (``ok``, ``not available``, ``error``), ``reason``, ``result`` (the
        module's dict), ``wall_s`` [s].
    """
    package = __package__ or "gridcap.benchmarks"
    start = time.perf_counter()

    def failed(err: Exception, prefix: str = "") -> dict[str, Any]:
        wall = time.perf_counter() - start
        name = f"{type(err).__name__}: {err}"
        if isinstance(err, ImportError):  # of the module, or of the code it measures
            return {"status": "not available", "reason": name, "wall_s": wall}
        return {"status": "error", "reason": prefix + name,
                "traceback": traceback.format_exc(limit=-6), "wall_s": wall}

    try:
        module = importlib.import_module(section.module, package)
    except Exception as err:
        return failed(err, "import failed: ")
    try:
        result = _call_run(module, quick, kwargs or {})
    except Exception as err:
        return failed(err)
    entry: dict[str, Any] = {"status": "ok", "wall_s": time.perf_counter() - start}
    if str(result.get("status", "")).lower() in ("not available", "unavailable", "skipped"):
        entry.update(status="not available", reason=str(result.get("reason", "")))
    entry["result"] = jsonable(result)
    return entry


def run_section_isolated(
    section: Section,
    quick: bool,
    timeout_s: float,
    kwargs: dict[str, Any] | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run one section in a child process (``python -m PKG.suite --section NAME``).

    Returns
    -------
    dict
        As :func:`run_section_inprocess`, plus ``peak_rss_mib`` [MiB] of the child and the
        ``output`` it printed; ``status`` is ``timed out`` when it ran past ``timeout_s``.
    """
    package = __package__ or "gridcap.benchmarks"
    with tempfile.TemporaryDirectory(prefix="gridcap-bench-") as tmp:
        out_json = Path(tmp) / "section.json"
        spec = {
            "section": [section.name, section.module, section.title],
            "quick": quick,
            "kwargs": kwargs or {},
            "out": str(out_json),
        }
        argv = [sys.executable, "-m", f"{package}.suite", "--section-worker", json.dumps(spec)]
        res = run_child(argv, timeout_s=timeout_s, echo=echo)
        entry: dict[str, Any]
        if res.timed_out:
            entry = {"status": "timed out", "reason": f"killed after {timeout_s:.0f} s"}
        elif out_json.is_file():
            entry = json.loads(out_json.read_text())
        else:
            entry = {"status": "error", "reason": f"exit {res.returncode}: {res.reason()}"}
        entry["wall_s"] = res.wall_s
        entry["peak_rss_mib"] = None if res.timed_out else round(res.peak_rss_mib, 1)
        entry["output"] = res.stdout[-20000:]
        return entry


def _section_worker(spec: dict[str, Any]) -> int:
    name, module, title = spec["section"]
    section = Section(name, module, title, timeout_s=0.0)
    entry = run_section_inprocess(section, bool(spec["quick"]), spec.get("kwargs"))
    Path(spec["out"]).write_text(json.dumps(jsonable(entry)))
    return 0


def command_line(argv: Sequence[str] | None = None) -> str:
    """How the suite was started, as a user would type it (``python -m benchmarks --quick``)."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    first = Path(argv[0])
    if first.name == "__main__.py":
        head = f"python -m {first.parent.name}"
    elif first.name == "gridcap":
        head = "gridcap"
    else:
        head = f"python {first.name}"
    return " ".join([head, *argv[1:]])


def record_stem(record: dict[str, Any]) -> str:
    """File stem of a record: ``{date}_{machine}[_quick][_only-...]``."""
    date = str(record["started"])[:10]
    stem = f"{date}_{record['machine']['slug']}"
    if record["mode"] == "quick":
        stem += "_quick"
    if record.get("only"):
        stem += "_only-" + "+".join(record["only"])
    return stem


def run_suite(
    *,
    quick: bool = False,
    only: Iterable[str] | None = None,
    out_dir: str | Path | None = RESULTS_DIR,
    isolate: bool | None = None,
    budget_s: float | None = None,
    notes: Sequence[str] = (),
    echo: Callable[[str], None] = print,
    sections: Sequence[Section] = SECTIONS,
    targets: Sequence[Target] = TARGETS,
    largest: bool = True,
) -> dict[str, Any]:
    """Run the benchmark sections and write the record.

    Parameters
    ----------
    quick : bool
        Seconds-long smoke version of every section (CI).
    only : iterable of str, optional
        Run only these sections (names in :data:`SECTION_NAMES`).
    out_dir : str or Path or None
        Where to write ``{stem}.json``, ``{stem}.md`` (and the scaling PNG); relative to the
        current working directory (default ``./benchmarks/results``); None: nowhere.
    isolate : bool, optional
        Run each section in its own child process (default: yes for the full suite, no for
        ``quick``).
    budget_s : float, optional
        Wall-time budget of the whole suite [s] (default 870 full, plus the extra time limit
        of the largest cases when they run, 120 quick); each section's limit is cut to what
        is left.
    notes : sequence of str
        Free-text notes to store in the record (e.g. that the machine was shared).
    echo : callable
        Where progress lines go.
    sections : sequence of Section
        The sections to choose from (default :data:`SECTIONS`).
    targets : sequence of Target
        The targets to check (default :data:`TARGETS`).
    largest : bool
        In the full suite, also run the largest cases (the 1e6-variable LP: minutes).

    Returns
    -------
    dict
        The record: ``schema``, ``mode``, ``started``/``finished`` (UTC), ``wall_s`` [s],
        ``machine``, ``machine_load`` (CPU share used by other processes), ``notes``,
        ``sections`` (per section ``status``, ``reason``, ``wall_s`` [s], ``peak_rss_mib``
        [MiB], ``result``, ``figures``), ``checks`` (targets with PASS/FAIL) and ``files``.

    Raises
    ------
    GridcapInputError
        If ``only`` names an unknown section, or ``out_dir`` lies inside the installed
        package.
    """
    out_path = resolve_out_dir(out_dir) if out_dir is not None else None
    names = [s.name for s in sections]
    selected = list(names)
    if only:
        only = list(dict.fromkeys(only))
        unknown = [n for n in only if n not in names]
        if unknown:
            raise GridcapInputError(
                f"--only {' '.join(unknown)}: unknown section; known sections are "
                f"{', '.join(names)}"
            )
        selected = [n for n in names if n in only]
    isolate = (not quick) if isolate is None else isolate
    if budget_s is not None:
        budget = budget_s
    elif quick:
        budget = 120.0
    else:
        # the largest cases get their own time on top of the 870 s of the regular suite
        budget = 870.0 + sum(s.limit_s(False, largest) - s.timeout_s
                             for s in sections if s.name in selected)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    cpu = CpuShare()
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "mode": "quick" if quick else "full",
        "only": list(only) if only else None,
        "started": started.isoformat(timespec="seconds"),
        "command": command_line(),
        "isolated_sections": isolate,
        "largest_cases": bool(largest and not quick),
        "machine": machine_info(),
        "notes": list(notes),
    }
    stem = record_stem(record)
    plot_path = out_path / f"{stem}_scaling.png" if out_path is not None else None
    entries: dict[str, dict[str, Any]] = {}
    for section in (s for s in sections if s.name in selected):
        left = budget - (time.perf_counter() - t0)
        limit = min(section.limit_s(quick, largest), left)
        if limit < 5:
            entries[section.name] = {
                "status": "skipped",
                "reason": f"suite budget of {budget:.0f} s spent",
            }
            echo(f"[bench] {section.name}: skipped (budget spent)")
            continue

        # keywords a module may accept (only those its run() names are passed): where to
        # draw its plot, whether to run its largest cases (bench_optimizer's ``full``: the
        # 1e6-variable LP), and the time it has [s] (less a margin for start-up and exit)
        def section_kwargs(limit: float, quick: bool) -> dict[str, Any]:
            kwargs: dict[str, Any] = {
                "full": not quick and largest,
                "budget_s": max(limit - SECTION_MARGIN_S, 0.5 * limit),
            }
            if plot_path is not None:
                kwargs["plot_path"] = str(plot_path)
            return kwargs

        kwargs = section_kwargs(limit, quick)
        echo(f"[bench] {section.name}: {section.title} (limit {limit:.0f} s) ...")
        if isolate:
            entry = run_section_isolated(section, quick, limit, kwargs, echo=echo)
        else:
            entry = run_section_inprocess(section, quick, kwargs)
        left = budget - (time.perf_counter() - t0)
        if entry["status"] == "timed out" and not quick and left >= section.quick_timeout_s:
            # better the quick figures, labelled as such, than none
            echo(f"[bench] {section.name}: full run timed out; running its quick form instead")
            first = entry
            kwargs = section_kwargs(section.quick_timeout_s, True)
            if isolate:
                entry = run_section_isolated(
                    section, True, section.quick_timeout_s, kwargs, echo=echo
                )
            else:  # pragma: no cover - in-process runs cannot time out
                entry = run_section_inprocess(section, True, kwargs)
            entry["mode"] = "quick (fallback)"
            entry["fallback_from"] = {
                k: first.get(k) for k in ("status", "reason", "wall_s", "peak_rss_mib")
            }
            entry["full_output"] = first.get("output", "")
            record["notes"].append(
                f"{section.name}: the full run was killed after {first['wall_s']:.0f} s; the "
                "figures recorded are from its quick form (smaller sizes)."
            )
        cpu.poll()
        entry["title"] = section.title
        entry["figures"] = figures(entry["result"]) if "result" in entry else []
        entries[section.name] = entry
        status = entry["status"] + (f" ({entry['reason']})" if entry.get("reason") else "")
        echo(f"[bench] {section.name}: {status} in {entry.get('wall_s', 0):.1f} s")
    record["sections"] = entries
    record["checks"] = evaluate_targets(entries, targets, gpus=record["machine"].get("gpus", []))
    record["machine_load"] = cpu.report()
    share = record["machine_load"]["other_processes_share"]
    if isinstance(share, float) and share > 0.10:
        record["notes"].append(
            f"The machine was shared: other processes used up to {share:.0%} of the CPU time "
            f"of its {record['machine']['cpu']['usable_cores']} cores during this run (peak "
            f"1-min load {record['machine_load']['load_average_1min_max']:.1f}); figures are "
            "pessimistic. (An upper bound: the CPU time of benchmark processes killed at their "
            "time limit is counted as other processes'.)"
        )
    finished = dt.datetime.now(dt.UTC)
    record["finished"] = finished.isoformat(timespec="seconds")
    record["wall_s"] = round(time.perf_counter() - t0, 2)
    record["files"] = {}
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
        record["files"] = {"json": f"{stem}.json", "md": f"{stem}.md"}
        scaling = entries.get("scaling", {}).get("result", {})
        if isinstance(scaling, dict) and scaling.get("plot"):
            record["files"]["plot"] = Path(scaling["plot"]).name
        record = jsonable(record)
        from gridcap.io import atomic_write

        from .records import markdown

        # temp file + rename: an interrupted run never leaves a half-written earlier record
        text = json.dumps(record, indent=1) + "\n"
        atomic_write(out_path / f"{stem}.json", lambda tmp: tmp.write_text(text))
        md = markdown(record)
        atomic_write(out_path / f"{stem}.md", lambda tmp: tmp.write_text(md))
    return jsonable(record)


def main(argv: list[str] | None = None) -> int:
    """Child-process entry point: ``python -m PKG.suite --section-worker JSON``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--section-worker":
        return _section_worker(json.loads(args[1]))
    from .cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
