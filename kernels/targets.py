"""Compile the scalar element functions once per target.

The per-element arithmetic of gridcap (Philox, Box-Muller, the DER hour step) is written once
as plain Python in :mod:`gridcap.kernels.rng` and :mod:`gridcap.kernels.physics`, using only
arithmetic operators and a handful of helper names looked up as module globals (``log``,
``sqrt``, ``cos``, ``sin``, ``fmin``, ``fmax``, ``select``, and the bit casts
``f64_from_bits`` / ``bits_from_f64``). For each target this module rebinds those names and
compiles the same code object:

==============  =====================================================  ====================
target          helpers                                                compiler
==============  =====================================================  ====================
``numpy``       ``np.log``, ``np.minimum``, ``np.where`` … (arrays)   identity
``cupy``        ``cupy.log``, ``cupy.minimum``, ``cupy.where`` …      identity
``numba-cpu``   ``math.log``, scalar ``min``/``max``/conditional      ``numba.njit``
``numba-cuda``  ``math.log``, scalar ``min``/``max``/conditional      ``cuda.jit(device)``
==============  =====================================================  ====================

The bit casts are ``ndarray.view`` on NumPy/CuPy, a scalar ``.view`` (an LLVM ``bitcast``,
which vectorises) on ``numba-cpu``, and libdevice's ``longlong_as_double`` /
``double_as_longlong`` on ``numba-cuda`` (the plain-Python versions under the simulator).
"""

from __future__ import annotations

import math
import os
import types
from functools import cache
from typing import Any

import numpy as np

from gridcap.elementwise import fmax, fmin, rebind, select

__all__ = ["ELEMENT_FUNCTIONS", "Ops", "get_ops"]

#: Names of the element functions, in dependency order (callees first).
ELEMENT_FUNCTIONS: tuple[tuple[str, str], ...] = (
    ("gridcap.kernels.rng", "philox4x32_10"),
    ("gridcap.kernels.rng", "u32_to_f64"),
    ("gridcap.kernels.rng", "bits_to_uniform"),
    ("gridcap.kernels.rng", "log_reduce_u32"),
    ("gridcap.kernels.rng", "minus_2_ln_u32"),
    ("gridcap.kernels.rng", "ln_u32"),
    ("gridcap.kernels.rng", "sincos_u32"),
    ("gridcap.kernels.rng", "box_muller"),
    ("gridcap.kernels.physics", "clip"),
    ("gridcap.kernels.physics", "der_hour_step"),
)


class Ops(types.SimpleNamespace):
    """The element functions compiled for one target (attribute per function name)."""


def _scalar_helpers_py() -> dict[str, Any]:
    return {"fmin": fmin, "fmax": fmax, "select": select}


@cache
def _bitcast_intrinsics() -> tuple[Any, Any]:
    """LLVM ``bitcast`` between uint64 and float64 as Numba intrinsics (vectorisable)."""
    from llvmlite import ir
    from numba import types as nt
    from numba.extending import intrinsic

    @intrinsic
    def _f64_from_bits(typingctx, b):
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], ir.DoubleType())

        return nt.float64(nt.uint64), codegen

    @intrinsic
    def _bits_from_f64(typingctx, x):
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], ir.IntType(64))

        return nt.uint64(nt.float64), codegen

    return _f64_from_bits, _bits_from_f64


def _bitcasts_numba_cpu() -> dict[str, Any]:
    cast_f, cast_b = _bitcast_intrinsics()

    def f64_from_bits(b):
        return cast_f(np.uint64(b))

    def bits_from_f64(x):
        return cast_b(np.float64(x))

    return {"f64_from_bits": f64_from_bits, "bits_from_f64": bits_from_f64}


def _bitcasts_cuda() -> dict[str, Any]:  # pragma: no cover - needs a GPU
    from numba.cuda import libdevice

    def f64_from_bits(b):
        return libdevice.longlong_as_double(np.int64(b))

    def bits_from_f64(x):
        return np.uint64(libdevice.double_as_longlong(x))

    return {"f64_from_bits": f64_from_bits, "bits_from_f64": bits_from_f64}


@cache
def get_ops(target: str) -> Ops:
    """Element functions compiled for ``target``.

    Parameters
    ----------
    target : str
        ``"numpy"``, ``"cupy"``, ``"numba-cpu"`` or ``"numba-cuda"``.

    Returns
    -------
    Ops
        Namespace with one callable per name in :data:`ELEMENT_FUNCTIONS`.
    """
    import importlib

    modules = {m for m, _ in ELEMENT_FUNCTIONS}
    ns: dict[str, Any] = {}
    for m in sorted(modules):
        ns.update(vars(importlib.import_module(m)))
    if target in ("numpy", "cupy"):
        xp = np if target == "numpy" else importlib.import_module("cupy")
        ns.update(log=xp.log, sqrt=xp.sqrt, cos=xp.cos, sin=xp.sin, exp=xp.exp,
                  fmin=xp.minimum, fmax=xp.maximum, select=xp.where,
                  f64_from_bits=lambda b: xp.asarray(b, dtype=xp.uint64).view(xp.float64),
                  bits_from_f64=lambda x: xp.asarray(x, dtype=xp.float64).view(xp.uint64))

        def compile_(f: types.FunctionType) -> Any:
            return f
    elif target == "numba-cpu":
        import numba

        ns.update(log=math.log, sqrt=math.sqrt, cos=math.cos, sin=math.sin, exp=math.exp)
        helpers = {**_scalar_helpers_py(), **_bitcasts_numba_cpu()}
        for name, f in helpers.items():
            ns[name] = numba.njit(inline="always", error_model="numpy")(f)

        def compile_(f: types.FunctionType) -> Any:
            return numba.njit(inline="always", error_model="numpy")(f)
    elif target == "numba-cuda":
        from numba import cuda

        ns.update(log=math.log, sqrt=math.sqrt, cos=math.cos, sin=math.sin, exp=math.exp)
        helpers = _scalar_helpers_py()
        if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1":
            from gridcap.kernels import rng

            helpers.update(f64_from_bits=rng.f64_from_bits, bits_from_f64=rng.bits_from_f64)
        else:  # pragma: no cover - needs a GPU
            helpers.update(_bitcasts_cuda())
        for name, f in helpers.items():
            ns[name] = cuda.jit(device=True)(f)

        def compile_(f: types.FunctionType) -> Any:
            return cuda.jit(device=True)(f)
    else:
        raise ValueError(
            f"target = {target!r}: expected one of 'numpy', 'cupy', 'numba-cpu', 'numba-cuda'"
        )
    out = {}
    for m, name in ELEMENT_FUNCTIONS:
        f = vars(importlib.import_module(m))[name]
        ns[name] = out[name] = compile_(rebind(f, ns))
    for name in ("fmin", "fmax", "select", "f64_from_bits", "bits_from_f64"):
        out[name] = ns[name]
    return Ops(**out)
