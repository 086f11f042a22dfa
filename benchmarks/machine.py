"""What machine a benchmark ran on: CPU, cores, memory, GPU, library versions, date.

Every benchmark record starts with :func:`machine_info`, so a figure is never separated from
the hardware and software that produced it. Nothing here imports a heavy library just to
ask its version (``importlib.metadata`` reads the installed distribution instead), and the GPU
probe asks ``nvidia-smi`` and CuPy without failing when neither exists.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

#: Distributions whose versions every record lists (missing ones are recorded as such).
LIBRARIES: tuple[str, ...] = (
    "gridcap",
    "numpy",
    "scipy",
    "numba",
    "xarray",
    "pandas",
    "pyomo",
    "highspy",
    "linopy",
    "pvlib",
    "matplotlib",
    "dask",
    "cupy-cuda12x",
    "cupy",
    "numba-cuda",
)

#: CPU instruction-set extensions worth knowing when reading SIMD throughput figures.
SIMD_FLAGS: tuple[str, ...] = ("avx2", "fma", "avx512f", "avx512vl", "avx512_bf16")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_info() -> dict[str, Any]:
    """CPU model, core counts and SIMD extensions of this machine.

    Returns
    -------
    dict
        ``model`` (str), ``logical_cores`` [1] (``os.cpu_count``), ``usable_cores`` [1]
        (cores this process may run on: its affinity mask), ``simd`` (list of the
        :data:`SIMD_FLAGS` present), ``architecture`` (e.g. ``x86_64``).
    """
    text = _read("/proc/cpuinfo")
    model_match = re.search(r"^model name\s*:\s*(.+)$", text, flags=re.MULTILINE)
    model = model_match.group(1).strip() if model_match else (platform.processor() or "unknown")
    flags_match = re.search(r"^flags\s*:\s*(.+)$", text, flags=re.MULTILINE)
    flags = set(flags_match.group(1).split()) if flags_match else set()
    family = re.search(r"^cpu family\s*:\s*(\d+)$", text, flags=re.MULTILINE)
    cpu_model_id = re.search(r"^model\s*:\s*(\d+)$", text, flags=re.MULTILINE)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        usable = os.cpu_count() or 1
    return {
        "model": model,
        "family_model": (
            f"{family.group(1)}/{cpu_model_id.group(1)}" if family and cpu_model_id else "unknown"
        ),
        "architecture": platform.machine(),
        "logical_cores": os.cpu_count() or 1,
        "usable_cores": usable,
        "simd": [flag for flag in SIMD_FLAGS if flag in flags],
    }


def memory_gib() -> float:
    """Physical memory of this machine [GiB] (0.0 when it cannot be read)."""
    match = re.search(r"^MemTotal:\s*(\d+)\s*kB", _read("/proc/meminfo"), flags=re.MULTILINE)
    if match:
        return int(match.group(1)) / 2**20
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return 0.0


def gpu_info(timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """GPUs visible to this process, from ``nvidia-smi`` (empty list when there are none).

    Parameters
    ----------
    timeout_s : float
        How long ``nvidia-smi`` may take [s].

    Returns
    -------
    list of dict
        One entry per GPU: ``name``, ``memory_gib`` [GiB], ``driver``, ``compute_capability``.
    """
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    query = "name,memory.total,driver_version,compute_cap"
    try:
        out = subprocess.run(
            [exe, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            mem = float(parts[1]) / 1024.0
        except ValueError:
            mem = float("nan")
        gpus.append(
            {
                "name": parts[0],
                "memory_gib": mem,
                "driver": parts[2],
                "compute_capability": parts[3] if len(parts) > 3 else "unknown",
            }
        )
    return gpus


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed version of each distribution (without importing it).

    Returns
    -------
    dict
        ``{distribution: version}``; ``"not installed"`` for missing ones, plus ``python``.
        CuPy is listed once, under whichever wheel is installed (``cupy-cuda12x`` or
        ``cupy``).
    """
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name not in ("cupy", "cupy-cuda12x"):  # list CuPy once, under what exists
                versions[name] = "not installed"
    if "cupy" not in versions and "cupy-cuda12x" not in versions:
        versions["cupy"] = "not installed"
    return versions


def backend_status() -> dict[str, dict[str, Any]]:
    """Monte Carlo backends and whether each one can run here, with the reason.

    Uses :func:`gridcap.kernels.backend_status` when the kernels package provides it;
    otherwise reports it as unknown with the import error.

    Returns
    -------
    dict
        ``{backend: {"available": bool | None, "reason": str}}``.
    """
    try:
        from gridcap.kernels import backend_status as status
    except ImportError as err:
        return {"registry": {"available": None, "reason": f"gridcap.kernels: {err}"}}
    try:
        raw = status()
    except Exception as err:  # a broken probe must not stop the record
        return {"registry": {"available": None, "reason": f"backend_status() failed: {err!r}"}}
    out: dict[str, dict[str, Any]] = {}
    for name, value in dict(raw).items():
        if isinstance(value, tuple | list) and len(value) == 2:  # (ok, why)
            out[str(name)] = {"available": bool(value[0]), "reason": str(value[1])}
        elif isinstance(value, str):  # "available" or the reason it is not
            ok = value.strip().lower().startswith("available")
            out[str(name)] = {"available": ok, "reason": value}
        elif isinstance(value, dict):
            out[str(name)] = {
                "available": bool(value.get("available")),
                "reason": str(value.get("reason", "")),
            }
        else:
            out[str(name)] = {"available": bool(value), "reason": ""}
    return out


def load_average() -> list[float]:
    """1-, 5- and 15-minute load averages [runnable processes] (empty if unknown)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


def machine_info(*, backends: bool = True) -> dict[str, Any]:
    """Everything a record says about where and when it was made.

    Parameters
    ----------
    backends : bool
        Also probe the Monte Carlo backends (imports ``gridcap.kernels``).

    Returns
    -------
    dict
        ``date`` (UTC ISO 8601), ``hostname``, ``platform``, ``cpu`` (:func:`cpu_info`),
        ``memory_gib`` [GiB], ``gpus`` (:func:`gpu_info`), ``versions``
        (:func:`library_versions`), ``backends`` (:func:`backend_status`), ``load_average``
        [1] at the time of the call, ``slug`` (short machine name for file names).
    """
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python_executable": sys.executable,
        "cpu": cpu_info(),
        "memory_gib": round(memory_gib(), 2),
        "gpus": gpu_info(),
        "versions": library_versions(),
        "load_average": load_average(),
    }
    if backends:
        info["backends"] = backend_status()
    info["slug"] = machine_slug(info)
    return info


def machine_slug(info: dict[str, Any]) -> str:
    """A short file-name-safe machine label, e.g. ``amd-epyc-2c`` or ``nvidia-h100-16c``.

    Parameters
    ----------
    info : dict
        As returned by :func:`machine_info` (needs ``cpu`` and ``gpus``).

    Returns
    -------
    str
        Lower-case letters, digits and dashes: the GPU model when there is one, else the
        CPU model, then the usable core count.
    """
    gpus = info.get("gpus") or []
    if gpus:
        base = str(gpus[0]["name"])
        for noise in ("NVIDIA", "Tesla", "PCIe", "SXM5", "SXM", "80GB", "HBM3", "NVL"):
            base = base.replace(noise, " ")
        base = "nvidia " + base
        if len(gpus) > 1:
            base += f" x{len(gpus)}"
    else:
        base = str(info.get("cpu", {}).get("model", "cpu"))
        base = re.sub(r"\b\d+-Core Processor\b|\(R\)|\(TM\)|CPU|Processor|@.*$", " ", base)
    cores = info.get("cpu", {}).get("usable_cores", 0)
    slug = re.sub(r"[^a-z0-9]+", "-", f"{base} {cores}c".lower()).strip("-")
    return slug or "machine"
