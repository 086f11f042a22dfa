"""Documented parameter tables: one owner for every default and assumption.

A domain module (``gridcap.kernels``, ``gridcap.optimizer``, ``gridcap.datasets``) owns its
assumptions as the fields of a frozen dataclass, each declared with :func:`param`: default,
unit, meaning, source and allowed range (pvlib's habit of published parameter dictionaries,
with the source next to the number). Everything else reads them from there:

- the study config (:mod:`gridcap.config`) builds its ``[section]`` keys, defaults, ranges and
  docs from the table (:func:`gridcap.config.keys_from`), so ``gridcap run`` and a notebook
  that calls the stage with the options type's defaults solve the same model;
- the options type checks itself with :func:`check_params` (the same ranges);
- ``gridcap validate --schema`` and the docs list them with :func:`params_markdown`.

This module is part of gridcap's foundation (like :mod:`gridcap.errors`): it imports nothing
from the application layer, so domain packages may use it.

Example
-------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class PumpOptions:
...     head_m: float = param(30.0, "m", "design head", source="datasheet X (2024)", lo=0)
>>> [(p.name, p.default, p.unit) for p in param_table(PumpOptions)]
[('head_m', 30.0, 'm')]
>>> check_params(PumpOptions(head_m=-1.0), "pump")
['pump.head_m = -1.0: expected a number >= 0 [m]']
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Param",
    "check_params",
    "param",
    "param_table",
    "params_markdown",
    "undocumented_fields",
]

_META = "gridcap_param"


@dataclass(frozen=True)
class Param:
    """One documented parameter (a row of a parameter table).

    Attributes
    ----------
    name : str
        Field name (also the config key when the table backs a config section).
    default : object
        Default value.
    unit : str
        Unit in the project's bracket notation without brackets (``"$/kW-yr"``, ``"1"``).
    doc : str
        Meaning, one line.
    source : str
        Where the number comes from (publication, dataset, or "modelling choice: why").
    lo, hi : float or None
        Allowed range (``None``: unbounded on that side).
    lo_open, hi_open : bool
        Whether the bound itself is excluded.
    choices : tuple or None
        Allowed values for a text parameter.
    config : bool
        Whether the study config exposes it as a key of the table's section.
    nullable : bool
        Whether ``None`` is allowed (in a study TOML: the key left out when the default is
        ``None``).
    kind : type
        Value type (``float``, ``int``, ``str``, ``bool``, ``list``).
    """

    name: str
    default: Any
    unit: str
    doc: str
    source: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[Any, ...] | None = None
    config: bool = True
    nullable: bool = False
    kind: type = float

    def expected(self) -> str:
        """What a valid value is, in plain words."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        if self.lo is not None and self.hi is not None:
            left = "(" if self.lo_open else "["
            right = ")" if self.hi_open else "]"
            return f"a number in {left}{self.lo:g}, {self.hi:g}{right}"
        if self.lo is not None:
            return f"a number {'>' if self.lo_open else '>='} {self.lo:g}"
        if self.hi is not None:
            return f"a number {'<' if self.hi_open else '<='} {self.hi:g}"
        return f"a {self.kind.__name__}"

    def ok(self, value: Any) -> bool:
        """Whether ``value`` is inside the range / choices (``None`` only if nullable)."""
        if value is None:
            return self.nullable
        if self.choices is not None:
            return value in self.choices
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            v = float(value)
            if not math.isfinite(v):
                return False
            if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
                return False
            if self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi):
                return False
        return True


def param(
    default: Any,
    unit: str,
    doc: str,
    *,
    source: str = "",
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    choices: Sequence[Any] | None = None,
    config: bool = True,
    nullable: bool = False,
    kind: type | None = None,
) -> Any:
    """A dataclass field carrying its documentation (see :class:`Param` for the arguments).

    ``kind`` defaults to the type of ``default`` (``float`` when the default is ``None``).
    Mutable defaults (lists) are copied per instance. Returns a :func:`dataclasses.field`.
    """
    if kind is None:
        kind = float if default is None else type(default)
    meta = {
        _META: {
            "unit": unit,
            "doc": doc,
            "source": source,
            "lo": lo,
            "hi": hi,
            "lo_open": lo_open,
            "hi_open": hi_open,
            "choices": None if choices is None else tuple(choices),
            "config": config,
            "nullable": nullable or default is None,
            "kind": kind,
        }
    }
    if isinstance(default, list):
        items = list(default)
        return dataclasses.field(default_factory=lambda: list(items), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def param_table(cls: type | Any, *, config_only: bool = False) -> list[Param]:
    """The documented parameters of an options/assumptions dataclass, in field order.

    Parameters
    ----------
    cls : dataclass type or instance
        A table whose fields were declared with :func:`param`.
    config_only : bool
        Keep only the parameters the study config exposes.

    Returns
    -------
    list of Param
        One row per documented field (fields without :func:`param` metadata are skipped;
        ``tests/test_params.py`` checks that every field of the shipped tables has them).
    """
    rows = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(_META)
        if meta is None:
            continue
        row = Param(name=f.name, default=_default(f), **meta)
        if config_only and not row.config:
            continue
        rows.append(row)
    return rows


def undocumented_fields(cls: type | Any) -> list[str]:
    """Fields of a dataclass declared without :func:`param` (no unit, doc or source)."""
    return [f.name for f in dataclasses.fields(cls) if _META not in f.metadata]


def check_params(obj: Any, prefix: str) -> list[str]:
    """Every documented field of ``obj`` outside its range, one sentence each.

    Parameters
    ----------
    obj : dataclass instance
        The options/assumptions to check.
    prefix : str
        Name used in the messages (a config section such as ``"optimizer"``).

    Returns
    -------
    list of str
        ``"<prefix>.<name> = <value>: expected <range> [<unit>]"`` for each bad value.
    """
    problems = []
    for p in param_table(type(obj)):
        value = getattr(obj, p.name)
        if not p.ok(value):
            unit = f" [{p.unit}]" if p.unit else ""
            problems.append(f"{prefix}.{p.name} = {value!r}: expected {p.expected()}{unit}")
    return problems


def params_markdown(cls: type | Any) -> str:
    """The parameter table as Markdown: name, default, unit, range, meaning, source."""
    lines = [
        "| parameter | default | unit | allowed | meaning | source |",
        "|---|---|---|---|---|---|",
    ]
    for p in param_table(cls):
        lines.append(
            f"| `{p.name}` | {p.default!r} | {p.unit} | {p.expected()} | {p.doc} | "
            f"{p.source or '-'} |"
        )
    return "\n".join(lines)
