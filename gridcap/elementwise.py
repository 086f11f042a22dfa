"""Scalar element helpers and per-target rebinding, shared by every "write once, compile per
target" body: the DER-hour physics and RNG transforms (:mod:`gridcap.kernels.targets`) and the
waterfall's contract rules (:mod:`gridcap.optimizer.financing.waterfall`).

An element body uses only arithmetic and the helpers below, looked up as module globals. The
scalar forms here are the plain-Python reference; :func:`rebind` gives the same code object a
target's globals (``xp.minimum`` / ``xp.maximum`` / ``xp.where`` for arrays, ``njit``-compiled
scalars for Numba, device functions for CUDA).
"""

from __future__ import annotations

import types
from typing import Any

__all__ = ["fmax", "fmin", "rebind", "select"]


def fmin(a, b):
    """Smaller of two scalars (rebound to ``xp.minimum`` for arrays)."""
    return a if a < b else b


def fmax(a, b):
    """Larger of two scalars (rebound to ``xp.maximum`` for arrays)."""
    return a if a > b else b


def select(c, a, b):
    """``a`` where ``c`` else ``b`` (rebound to ``xp.where`` for arrays)."""
    return a if c else b


def rebind(func: types.FunctionType, ns: dict[str, Any]) -> types.FunctionType:
    """``func``'s code object with the globals ``ns``: one element body compiled per target."""
    new = types.FunctionType(func.__code__, ns, func.__name__, func.__defaults__,
                             func.__closure__)
    new.__doc__ = func.__doc__
    new.__qualname__ = func.__qualname__
    new.__module__ = func.__module__
    return new
