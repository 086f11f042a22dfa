"""The planner's families as a Pyomo model, built on demand with Pyomo's public API.

The planner solves its :class:`~gridcap.optimizer.planning.solver.LinearProgram` with HiGHS
directly; this module writes the same families as a Pyomo ``ConcreteModel`` for users who want
to inspect, extend or write the model (``model.write("plan.lp")``) or solve it with another
Pyomo solver, and for the mpi-sppy decomposition engine. Nothing here is on the path of a plain
``plan()``.

Each variable family becomes one ``Var`` indexed ``0 … n-1`` (family order, so column ``j`` of
family ``f`` is ``model.<f>[j - f.start]``), each constraint family one ``Constraint`` whose
rows are :class:`~pyomo.core.expr.LinearExpression` bodies built straight from the family's
sparse rows, and the objective is ``model.objective`` (minimised) [$].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from gridcap.optimizer.planning.solver import INF, LinearProgram, paused_gc

if TYPE_CHECKING:
    from gridcap.optimizer.planning.solver import ModelBuilder

__all__ = ["PyomoExport", "compile_pyomo", "to_pyomo"]


@dataclass
class PyomoExport:
    """A Pyomo model written from a builder.

    Attributes
    ----------
    model : pyomo.environ.ConcreteModel
        The model.
    columns : list
        Pyomo ``VarData`` in column order (``columns[j]`` is column ``j`` of the program).
    rows : list
        Pyomo ``ConstraintData`` in row order.
    """

    model: Any
    columns: list
    rows: list


def to_pyomo(builder: ModelBuilder, lp: LinearProgram | None = None, *,
             name: str = "gridcap_plan") -> PyomoExport:
    """Write the builder's families as a Pyomo ``ConcreteModel``.

    Parameters
    ----------
    builder : ModelBuilder
        Families (names, sizes, descriptions).
    lp : LinearProgram, optional
        The numbers: costs [$ per unit], bounds and coefficients (default:
        ``builder.compile()``; pass ``HighsSolver.current_lp()`` to include in-place edits).
    name : str
        Model name.

    Returns
    -------
    PyomoExport
        The model and its columns and rows in program order.
    """
    import pyomo.environ as pyo

    lp = builder.compile() if lp is None else lp
    if lp.shape != (builder.n_rows, builder.n_cols):
        raise ValueError(f"lp has shape {lp.shape}; the builder has "
                         f"{(builder.n_rows, builder.n_cols)} (rows, columns)")
    model = pyo.ConcreteModel(name=name)
    with paused_gc():
        columns = _add_vars(pyo, model, builder, lp)
        rows = _add_rows(pyo, model, builder, lp, columns)
        _add_objective(pyo, model, lp, columns)
    return PyomoExport(model, columns, rows)


def _add_vars(pyo: Any, model: Any, builder: ModelBuilder, lp: LinearProgram) -> list:
    """One ``Var`` per family, with the program's bounds and integrality."""
    columns: list = []
    for fam in builder.var_families.values():
        sl = slice(fam.start, fam.start + fam.n)
        lb, ub = lp.col_lower[sl], lp.col_upper[sl]
        integer = bool(lp.integrality[sl].any())
        plain = not integer and bool(np.all(lb == 0.0)) and bool(np.all(ub == INF))
        domain = pyo.NonNegativeReals if plain else pyo.Integers if integer else pyo.Reals
        var = pyo.Var(range(fam.n), domain=domain, doc=fam.doc)
        model.add_component(fam.name, var)
        data = [var[i] for i in range(fam.n)]
        if not plain:
            for j in np.flatnonzero(np.isfinite(lb)).tolist():
                data[j].setlb(float(lb[j]))
            for j in np.flatnonzero(np.isfinite(ub)).tolist():
                data[j].setub(float(ub[j]))
        columns.extend(data)
    return columns


def _add_rows(pyo: Any, model: Any, builder: ModelBuilder, lp: LinearProgram,
              columns: list) -> list:
    """One ``Constraint`` per family; each row a ``LinearExpression`` over its nonzeros."""
    from pyomo.core.expr import LinearExpression, MonomialTermExpression

    A = sp.csr_array(lp.A)
    out: list = []
    for fam in builder.con_families.values():
        sl = slice(fam.start, fam.start + fam.n)
        block = A[sl]
        indptr, idx, dat = block.indptr.tolist(), block.indices.tolist(), block.data.tolist()
        lol, hil = lp.row_lower[sl].tolist(), lp.row_upper[sl].tolist()

        def rule(_m: object, i: int, indptr: list = indptr, idx: list = idx, dat: list = dat,
                 lol: list = lol, hil: list = hil) -> object:
            body = LinearExpression([MonomialTermExpression((dat[p], columns[idx[p]]))
                                     for p in range(indptr[i], indptr[i + 1])])
            a, b = lol[i], hil[i]
            if a == b:
                return body == a
            if a == -INF:
                return body <= b
            if b == INF:
                return body >= a
            return (a, body, b)

        con = pyo.Constraint(range(fam.n), rule=rule, doc=fam.doc)
        model.add_component(fam.name, con)
        out.extend(con[i] for i in range(fam.n))
    return out


def _add_objective(pyo: Any, model: Any, lp: LinearProgram, columns: list) -> None:
    """``model.objective``: minimise ``c·x + offset`` [$]."""
    from pyomo.core.expr import LinearExpression, MonomialTermExpression

    nz = np.flatnonzero(lp.c).tolist()
    terms = [MonomialTermExpression((float(lp.c[j]), columns[j])) for j in nz]
    expr = LinearExpression(terms)
    if lp.offset:
        expr = expr + float(lp.offset)
    model.objective = pyo.Objective(expr=expr, sense=pyo.minimize)


def compile_pyomo(builder: ModelBuilder) -> LinearProgram:
    """The builder's program through :func:`to_pyomo` and Pyomo's standard-form compiler.

    A check of the export (the test-suite compares it with ``builder.compile()`` entry by
    entry); slow, not used to solve.
    """
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    exp = to_pyomo(builder)
    info = LinearStandardFormCompiler().write(exp.model, mixed_form=True,
                                              column_order=exp.columns)
    n_cols, n_rows = builder.n_cols, builder.n_rows
    if len(info.columns) != n_cols:
        # unused columns were dropped by Pyomo: map them back by identity
        pos = {id(v): j for j, v in enumerate(exp.columns)}
        colmap = np.array([pos[id(v)] for v in info.columns], dtype=np.int64)
    else:
        colmap = np.arange(n_cols)
    row_of = {id(cd): r for r, cd in enumerate(exp.rows)}
    lo = np.full(n_rows, -INF)
    hi = np.full(n_rows, INF)
    rowmap = np.empty(len(info.rows), dtype=np.int64)
    for k, entry in enumerate(info.rows):
        r = rowmap[k] = row_of[id(entry.constraint)]
        b = float(info.rhs[k])
        if entry.bound_type == 0:
            lo[r] = hi[r] = b
        elif entry.bound_type == 1:
            hi[r] = b
        else:
            lo[r] = b
    coo = sp.csr_array(info.A).tocoo()
    A = sp.csc_array((coo.data, (rowmap[coo.row], colmap[coo.col])), shape=(n_rows, n_cols))
    A.sum_duplicates()
    c = np.zeros(n_cols)
    cc = sp.csr_array(info.c).tocoo()
    c[colmap[cc.col]] = cc.data
    lb = np.full(n_cols, -INF)
    ub = np.full(n_cols, INF)
    integ = np.zeros(n_cols, dtype=np.int32)
    for j, v in enumerate(exp.columns):
        a, b = v.bounds
        if a is not None:
            lb[j] = a
        if b is not None:
            ub[j] = b
        if v.is_integer():
            integ[j] = 1
    return LinearProgram(c, A, lo, hi, lb, ub, integ, float(info.c_offset[0]))
