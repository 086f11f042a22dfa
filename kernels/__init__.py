"""Monte Carlo scenario engine: drivers, DER dispatch and mine-site economics.

Public API
----------
:func:`simulate`
    Run the Monte Carlo and return the outcomes table (docs/data-model.md §2).
:func:`available_backends`, :func:`backend_status`
    Which compute backends (``numpy``, ``numba-cpu``, ``numba-cuda``, ``cupy``) can run here,
    and why the others cannot.
:func:`philox4x32_10`
    The counter-based generator behind every random number (Random123 known answers).

Modules are named after what they model: :mod:`~gridcap.kernels.rng`,
:mod:`~gridcap.kernels.drivers` (weather, load, prices, annual paths),
:mod:`~gridcap.kernels.events`, :mod:`~gridcap.kernels.physics` (one DER-hour),
:mod:`~gridcap.kernels.dispatch` (array backends), :mod:`~gridcap.kernels.numba_cpu`,
:mod:`~gridcap.kernels.numba_cuda`, :mod:`~gridcap.kernels.sites`,
:mod:`~gridcap.kernels.backends` (registry), :mod:`~gridcap.kernels.targets` (one source,
compiled per target).
"""

from __future__ import annotations

from gridcap.kernels.backends import (
    AUTO_ORDER,
    BACKENDS,
    Backend,
    available_backends,
    backend_status,
    resolve_backend,
)
from gridcap.kernels.events import DAY_BLOCKS, MAX_EVENTS, SEASONS, SLICE_NAMES, slice_of_hour
from gridcap.kernels.rng import STREAMS, philox4x32_10
from gridcap.kernels.simulate import simulate

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "DAY_BLOCKS",
    "MAX_EVENTS",
    "SEASONS",
    "SLICE_NAMES",
    "STREAMS",
    "Backend",
    "available_backends",
    "backend_status",
    "philox4x32_10",
    "resolve_backend",
    "simulate",
    "slice_of_hour",
]
