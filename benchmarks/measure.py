"""Measurement helpers shared by the suite: child processes with their own peak memory,
log-log slope fits, and the unit a figure's name implies.

Peak memory of a piece of work is measured in a *fresh child process*: the kernel's
``wait4`` returns that one child's resource usage, whose ``ru_maxrss`` is the child's peak
resident set size (KiB on Linux). A process's high-water mark cannot be reset, so measuring
inside the parent would mix every earlier step into the figure.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gridcap.errors import GridcapInputError

#: ``ru_maxrss`` unit: KiB on Linux, bytes on macOS.
_MAXRSS_TO_MIB = 1.0 / 1024.0 if sys.platform != "darwin" else 1.0 / 2**20


#: The launcher run_child starts: fork the command from a small process, report its maxrss.
_TRAMPOLINE = """
import json, os, sys
argv = json.loads(sys.argv[1])
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[2], "w") as f:
    f.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 128 - code)
"""


@dataclass
class ChildResult:
    """Outcome of one measured child process.

    Attributes
    ----------
    returncode : int or None
        Exit status (None when it was killed for running past its time limit).
    wall_s : float
        Wall time from start to exit [s].
    peak_rss_mib : float
        Peak resident set size of the child and the grandchildren it waited for [MiB];
        NaN when it was killed (the peak of a killed process is not reported).
    stdout, stderr : str
        What it printed.
    timed_out : bool
        Whether it was killed at ``timeout_s``.
    cpu_s : float
        User + system CPU time of the child and the grandchildren it waited for, all threads
        [s]; NaN when it was killed. On a machine shared with other work, CPU time over the
        cores used bounds the wall time the run would take alone.
    """

    returncode: int | None
    wall_s: float
    peak_rss_mib: float
    stdout: str
    stderr: str
    timed_out: bool
    cpu_s: float = math.nan

    def tail(self, chars: int = 600) -> str:
        """The last ``chars`` characters of stderr (or stdout), for error messages."""
        text = (self.stderr.strip() or self.stdout.strip()).replace("\r", "")
        return text[-chars:]

    def reason(self, chars: int = 300) -> str:
        """The exception line of a failed child (with its wrapped continuation), or the tail.

        Looks for the last line that starts like ``SomeError:`` or ``error:`` and joins it
        with the lines after it (rich wraps long messages), whitespace collapsed.
        """
        lines = (self.stderr or self.stdout).replace("\r", "").splitlines()
        pattern = re.compile(r"^\s*([A-Za-z_.]*(Error|Exception|Interrupt)\b|error:)")
        for i in range(len(lines) - 1, -1, -1):
            if pattern.match(lines[i]):
                return " ".join(" ".join(lines[i:]).split())[:chars]
        return " ".join(self.tail(chars).split())


def self_peak_rss_mib() -> float:
    """Peak resident set size of the calling process so far [MiB]."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_TO_MIB


def run_child(
    argv: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    poll_s: float = 0.02,
    echo: Callable[[str], None] | None = None,
) -> ChildResult:
    """Run a command in its own session and measure its wall time and peak memory.

    Parameters
    ----------
    argv : sequence of str
        The command.
    timeout_s : float
        Wall-clock limit [s]; past it the child's process group gets SIGKILL.
    env : mapping, optional
        Environment (default: this process's).
    cwd : str or Path, optional
        Working directory.
    poll_s : float
        Polling interval while waiting [s].
    echo : callable, optional
        Called with each complete line the child prints on stdout, while it runs.

    Returns
    -------
    ChildResult
        Exit status, wall time [s], peak RSS [MiB] from ``wait4`` (NaN if killed), captured output.

    Notes
    -----
    The command is started by a tiny launcher (``python -S -I``, about 10 MiB) that forks it
    and reads its rusage with ``os.wait4``. Two Linux facts make this necessary:
    ``RUSAGE_CHILDREN`` is the maximum over *all* children ever waited for, and a process
    exec'd straight from a large parent starts with the parent's RSS high-water mark in its
    ``ru_maxrss`` (the kernel carries the pre-exec memory map's peak over on ``exec``), so
    a 10 MiB child of a 500 MiB benchmark driver would report 500 MiB. Forked from the
    small launcher, it reports its own peak (floored at the launcher's ~10 MiB).
    """
    if timeout_s <= 0:
        raise GridcapInputError(f"timeout_s = {timeout_s!r}: expected a positive time [s]")
    with (
        tempfile.TemporaryDirectory(prefix="gridcap-child-") as tmp,
        open(Path(tmp) / "stdout", "w+") as out,
        open(Path(tmp) / "stderr", "w+") as err,
        open(Path(tmp) / "stdout") as follow,  # own file offset: reads as the child writes
    ):
        rss_file = Path(tmp) / "maxrss"
        pending = ""

        def forward(final: bool = False) -> None:
            nonlocal pending
            if echo is None:
                return
            pending += follow.read()
            *lines, pending = pending.split("\n")
            if final and pending:
                lines.append(pending)
                pending = ""
            for line in lines:
                echo(line)

        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-S", "-I", "-c", _TRAMPOLINE, json.dumps(list(argv)), str(rss_file)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
        timed_out = False
        while True:
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.perf_counter() - start > timeout_s:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:  # pragma: no cover - exited meanwhile
                    pass
                pid, status, _ = os.wait4(proc.pid, 0)
                break
            forward()
            time.sleep(poll_s)
        forward(final=True)
        wall = time.perf_counter() - start
        proc.returncode = None if timed_out else os.waitstatus_to_exitcode(status)
        if proc.returncode is not None and proc.returncode >= 128:  # killed by a signal
            proc.returncode = -(proc.returncode - 128)
        try:
            fields = rss_file.read_text().split()
            maxrss, cpu = float(fields[0]), float(fields[1])
        except (OSError, ValueError, IndexError):  # killed before its launcher reported
            maxrss = cpu = math.nan
        out.seek(0)
        err.seek(0)
        return ChildResult(
            returncode=proc.returncode,
            wall_s=wall,
            peak_rss_mib=maxrss * _MAXRSS_TO_MIB,
            stdout=out.read(),
            stderr=err.read(),
            timed_out=timed_out,
            cpu_s=cpu,
        )


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x`` [1].

    Parameters
    ----------
    x, y : sequence of float
        Sizes and measured values, all > 0, at least two distinct ``x``.

    Returns
    -------
    float
        :math:`k` in :math:`y \\approx c\\,x^k`; 1 means linear growth, 0 constant.

    Notes
    -----
    .. math:: k = \\frac{\\sum (u_i-\\bar u)(v_i-\\bar v)}{\\sum (u_i-\\bar u)^2},
              \\quad u = \\ln x,\\; v = \\ln y
    """
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    if xa.shape != ya.shape or xa.size < 2:
        raise GridcapInputError(
            f"loglog_slope: x and y must have the same length >= 2, got {xa.size} and {ya.size}"
        )
    if not (np.all(xa > 0) and np.all(ya > 0)):
        raise GridcapInputError("loglog_slope: x and y must be > 0 (log-log fit)")
    u, v = np.log(xa), np.log(ya)
    du = u - u.mean()
    denom = float(du @ du)
    if denom == 0.0:
        raise GridcapInputError("loglog_slope: x must take at least two distinct values")
    return float(du @ (v - v.mean()) / denom)


def local_slopes(x: Sequence[float], y: Sequence[float]) -> list[float]:
    """Log-log slope between each pair of consecutive points [1] (``len(x) - 1`` values)."""
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    return [
        float(math.log(ya[i + 1] / ya[i]) / math.log(xa[i + 1] / xa[i])) for i in range(xa.size - 1)
    ]


def linearity_notes(
    x: Sequence[float],
    y: Sequence[float],
    *,
    axis: str,
    what: str = "time",
    tolerance: float = 0.2,
) -> list[str]:
    """Plain-words notes on where ``y`` does not grow linearly with ``x``.

    Parameters
    ----------
    x, y : sequence of float
        Sizes [1] and measured values (> 0), in increasing ``x``.
    axis : str
        Name of the size axis, for the text (e.g. ``"DERs"``).
    what : str
        Name of the measured quantity, for the text.
    tolerance : float
        Local slopes within ``1 ± tolerance`` count as linear [1].

    Returns
    -------
    list of str
        One note per segment whose local log-log slope is outside the band (empty when
        growth is linear everywhere). Sub-linear segments usually mean a fixed per-call
        cost still dominates; super-linear ones a cache or memory effect.
    """
    notes = []
    for i, k in enumerate(local_slopes(x, y)):
        if abs(k - 1.0) <= tolerance:
            continue
        kind = "sub-linear" if k < 1.0 else "super-linear"
        why = (
            "fixed per-call cost still dominates"
            if k < 1.0
            else "cost per element rises (cache / memory bandwidth / allocation)"
        )
        notes.append(
            f"{what} vs {axis}: {kind} between {x[i]:g} and {x[i + 1]:g} "
            f"(local log-log slope {k:.2f}; {why})"
        )
    return notes


#: (suffix, unit) pairs tried in order on a figure's key to name its unit.
_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_usd_per_mwh", "$/MWh"),
    ("_seconds", "s"),
    ("_sec", "s"),
    ("_ms", "ms"),
    ("_us", "µs"),
    ("_s", "s"),
    ("_mib", "MiB"),
    ("_mb", "MB"),
    ("_gib", "GiB"),
    ("_gb", "GB"),
    ("_bytes", "B"),
    ("_ratio", "1"),
    ("_speedup", "×"),
    ("_x", "×"),
    ("_fraction", "1"),
    ("_diff", "1"),
    ("_pd", "1"),
    ("_probability", "1"),
    ("_share", "1"),
    ("_pct", "%"),
    ("_percent", "%"),
    ("_count", "1"),
    ("_vars", "variables"),
    ("_variables", "variables"),
    ("_ders", "DERs"),
    ("_scenarios", "scenarios"),
    ("_hours", "h"),
    ("_years", "yr"),
)


#: Leaf names that are counts of a thing: the unit is the thing.
_COUNT_WORDS = frozenset(
    {
        "scenarios",
        "years",
        "tranches",
        "ders",
        "hours",
        "variables",
        "constraints",
        "points",
        "sites",
        "regions",
        "nonzeros",
        "repeats",
    }
)


def unit_from_key(key: str) -> str:
    """Guess a figure's unit from its key (``"solve_s"`` → ``"s"``, ``"peak_rss_mib"`` →
    ``"MiB"``, ``"ratio"`` → ``"1"``); ``"?"`` when the name does not say.

    Parameters
    ----------
    key : str
        Dotted path of the figure; only the last part is read.

    Returns
    -------
    str
        The unit.
    """
    leaf = key.rsplit(".", 1)[-1].lower()
    if leaf in _COUNT_WORDS:
        return leaf
    per = re.search(r"_(s|ms|us)_per_([a-z]+?)s?$", leaf)
    if per:
        return f"{per.group(1).replace('us', 'µs')}/{per.group(2)}"
    if "_vs_" in leaf or "_over_" in leaf or leaf.startswith(("speedup", "vs_")):
        if not re.search(r"_(s|ms|mib|gib)$", leaf):
            return "×"
    if "throughput" in leaf or leaf.endswith(("per_s", "_per_sec", "_per_second")):
        if "hour" in leaf or leaf.startswith(("dsh", "der_scen")):
            return "DER-scenario-h/s"
        return "1/s"
    for suffix, unit in _UNIT_SUFFIXES:
        if leaf.endswith(suffix):
            return unit
    if leaf in ("ratio", "speedup", "fraction", "share"):
        return "1" if leaf != "speedup" else "×"
    if leaf.startswith(("n_", "num_")) or leaf in ("n", "size", "scenarios", "ders", "count"):
        return "1"
    return "?"


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths, tuples and sets into JSON-ready values."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, str | int | bool) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)
