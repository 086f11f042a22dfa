"""Backend registry: ``numpy``, ``numba-cpu``, ``numba-cuda``, ``cupy``.

Each backend is a record with a name, a cached availability probe that says *why* it is not
available, and its dispatch implementation (imported lazily). ``backend="auto"`` takes the
first available backend in :data:`AUTO_ORDER` (fastest first); the CUDA simulator is never
chosen automatically.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from gridcap.errors import BackendUnavailableError

__all__ = ["AUTO_ORDER", "BACKENDS", "Backend", "available_backends", "backend_status",
           "resolve_backend"]


@dataclass(frozen=True)
class Backend:
    """A compute backend.

    Attributes
    ----------
    name : str
        Registry name.
    description : str
        One line for people.
    xp : str
        Array namespace of the drivers and outputs (``"numpy"`` or ``"cupy"``).
    gpu : bool
        Whether it runs on a GPU.
    probe : callable
        Returns ``None`` when usable, else the reason it is not.
    loader : callable
        Returns the dispatch function ``f(fleet, drivers, out, *, seed)``.
    """

    name: str
    description: str
    xp: str
    gpu: bool
    probe: Callable[[], str | None]
    loader: Callable[[], Callable[..., None]]

    def available(self) -> bool:
        """Whether the backend can run here (cached probe)."""
        return _probe(self.name) is None

    def reason(self) -> str:
        """Why the backend is unavailable, or ``"available"`` (cached probe)."""
        return _probe(self.name) or "available"

    def dispatch(self) -> Callable[..., None]:
        """The dispatch function of this backend."""
        return self.loader()


def _cudasim() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def _probe_numpy() -> str | None:
    return None


def _probe_numba_cpu() -> str | None:
    try:
        import numba  # noqa: F401
    except ImportError as exc:  # pragma: no cover - numba is a dependency
        return f"numba is not installed ({exc}); pip install numba"
    return None


def _probe_numba_cuda() -> str | None:
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover
        return f"numba's CUDA target cannot be imported ({exc}); pip install 'gridcap[gpu]'"
    if _cudasim():
        return None
    try:
        if not cuda.is_available():
            return "numba's CUDA target is importable but no CUDA device or driver is visible"
        if len(cuda.gpus) == 0:  # pragma: no cover
            return "numba-cuda is installed but no CUDA device is visible"
        cuda.current_context()
    except Exception as exc:  # pragma: no cover - driver errors vary
        return f"numba-cuda is installed but the CUDA device did not answer: {exc}"
    return None  # pragma: no cover - needs a GPU


def _probe_cupy() -> str | None:
    try:
        import cupy
    except ImportError:
        return "cupy is not installed (pip install 'gridcap[gpu]' on a machine with CUDA)"
    except Exception as exc:  # pragma: no cover
        return f"cupy is installed but failed to import: {exc}"
    try:  # pragma: no cover - needs cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "cupy is installed but no CUDA device is visible"
        if int(cupy.arange(4).sum().item()) != 6:
            return "cupy is installed but the CUDA device returned a wrong answer"
    except Exception as exc:  # pragma: no cover
        return f"cupy is installed but no CUDA device answered: {exc}"
    return None  # pragma: no cover


def _load_numpy() -> Callable[..., None]:
    import numpy as np

    from gridcap.kernels.dispatch import dispatch_xp

    def run(fleet: Any, drv: Any, out: Any, *, seed: int) -> None:
        dispatch_xp(np, fleet, drv, out, seed=seed)

    return run


def _load_cupy() -> Callable[..., None]:  # pragma: no cover - needs a GPU
    import cupy

    from gridcap.kernels.dispatch import dispatch_xp

    def run(fleet: Any, drv: Any, out: Any, *, seed: int) -> None:
        dispatch_xp(cupy, fleet, drv, out, seed=seed)

    return run


def _load_numba_cpu() -> Callable[..., None]:
    from gridcap.kernels.numba_cpu import dispatch_numba_cpu

    return dispatch_numba_cpu


def _load_numba_cuda() -> Callable[..., None]:
    from gridcap.kernels.numba_cuda import dispatch_numba_cuda

    return dispatch_numba_cuda


#: Registered backends by name.
BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("numpy", "NumPy reference, vectorised over DER × scenario lanes", "numpy",
                False, _probe_numpy, _load_numpy),
        Backend("numba-cpu", "Numba parallel lane-blocked CPU kernel", "numpy", False,
                _probe_numba_cpu, _load_numba_cpu),
        Backend("numba-cuda", "Numba CUDA kernel, one thread per DER × scenario", "numpy",
                True, _probe_numba_cuda, _load_numba_cuda),
        Backend("cupy", "CuPy array version of the reference on a CUDA device", "cupy", True,
                _probe_cupy, _load_cupy),
    )
}
#: Preference of ``backend="auto"``, fastest first.
AUTO_ORDER: tuple[str, ...] = ("numba-cuda", "cupy", "numba-cpu", "numpy")


@cache
def _probe(name: str) -> str | None:
    return BACKENDS[name].probe()


def available_backends() -> list[str]:
    """Names of the backends usable here, fastest first.

    Returns
    -------
    list of str
        Subset of :data:`AUTO_ORDER`.
    """
    return [n for n in AUTO_ORDER if BACKENDS[n].available()]


def backend_status() -> dict[str, str]:
    """Availability of every registered backend.

    Returns
    -------
    dict of str to str
        ``"available"`` (``"available (CUDA simulator)"`` under ``NUMBA_ENABLE_CUDASIM=1``)
        or the reason the backend cannot run here.
    """
    out = {}
    for n in AUTO_ORDER:
        r = BACKENDS[n].reason()
        if n == "numba-cuda" and r == "available" and _cudasim():
            r = "available (CUDA simulator, NUMBA_ENABLE_CUDASIM=1)"
        out[n] = r
    return out


def resolve_backend(name: str) -> Backend:
    """The backend record for ``name`` (``"auto"``: fastest available).

    Parameters
    ----------
    name : str
        A name in :data:`BACKENDS` or ``"auto"``.

    Returns
    -------
    Backend

    Raises
    ------
    BackendUnavailableError
        Unknown name (lists the valid ones) or backend unavailable here (says why).
    """
    if name == "auto":
        for n in AUTO_ORDER:
            if n == "numba-cuda" and _cudasim():
                continue
            if BACKENDS[n].available():
                return BACKENDS[n]
        return BACKENDS["numpy"]  # pragma: no cover - numpy is always available
    if name not in BACKENDS:
        raise BackendUnavailableError(
            f"backend = {name!r}: unknown backend; expected 'auto' or one of "
            f"{', '.join(repr(n) for n in BACKENDS)}"
        )
    b = BACKENDS[name]
    if not b.available():
        raise BackendUnavailableError(
            f"backend = {name!r} is not available here: {b.reason()}. Available: "
            f"{', '.join(available_backends())}"
        )
    return b
