"""Lazy re-exports for package ``__init__`` modules (heavy modules load on first use)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` importing ``package.<exports[name]>`` on first access.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        Public name → submodule that defines it.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            module = importlib.import_module(f"{package}.{exports[name]}")
            return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
