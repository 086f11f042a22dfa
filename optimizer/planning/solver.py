"""The planner's one model representation: families of coefficient triplets, solved by HiGHS.

The siting model (:mod:`gridcap.optimizer.planning.siting`) is written as a sequence of small
``add_*`` functions. Each one computes a *family* of variables or constraints as numpy index
arrays (sparse index sets from masks, never a Python ``if`` per element) and registers it with a
:class:`ModelBuilder`, which keeps the family's bounds and coefficient triplets under its name
and coordinates. :meth:`ModelBuilder.compile` stacks the families into one sparse
:class:`LinearProgram`, and :class:`HighsSolver` hands it to HiGHS with one ``passModel`` call
(no LP file, no expression walk). The same builder carries debt sizing
(:mod:`gridcap.optimizer.financing.sizing`).

A Pyomo model is produced on demand from the same families, with Pyomo's public API only
(:func:`gridcap.optimizer.planning.pyomo_model.to_pyomo`; ``PlanModel.to_pyomo()``), for users
who want to inspect, extend, write or solve the model with another Pyomo solver, and for the
mpi-sppy decomposition engine. ``ModelBuilder.compile(via="pyomo")`` goes through that model and
Pyomo's standard-form compiler; the test-suite checks that both hand-offs are identical and that
Pyomo's HiGHS interface finds the same optimum as the matrix path.

Measured on the shipped studies (2-core machine, docs/dev-notes/2026-12-03/p15.md): the Pyomo
mirror that used to be built next to the triplets (and never solved) was 80 % of the build
time and made every plan import Pyomo; dropping it changed no plan variable.

:class:`HighsSolver` wraps one ``highspy.Highs`` object for the life of a model: cost, bound
and coefficient changes are applied in place and re-solved from the previous basis (persistent
sweeps), integers can be fixed for a dual re-solve, and HiGHS's irreducible infeasible subset
(IIS) is mapped back to the named families and their coordinates.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

INF = float("inf")

__all__ = [
    "ConstraintFamily",
    "HighsSolver",
    "LinearProgram",
    "ModelBuilder",
    "SolveResult",
    "VariableFamily",
    "paused_gc",
]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable Python's cyclic garbage collector for the duration of a model build.

    A build creates many small arrays (and :func:`~gridcap.optimizer.planning.pyomo_model.to_pyomo`
    millions of Pyomo objects); generational collection passes over them cost more than the
    build itself at 10⁶ variables.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class VariableFamily:
    """A named block of model columns ``start … start + n - 1``.

    Attributes
    ----------
    name : str
        Family name (``"build"``, ``"gen"``, …).
    start, n : int
        First column and number of columns.
    coords : dict of str to numpy.ndarray
        Integer position of every column along each named dimension (``{"region": r_idx, …}``).
    doc : str
        What the variable is, with its unit.
    integer : bool
        Integer (binary when bounded by 0 and 1) columns.
    """

    name: str
    start: int
    n: int
    coords: dict[str, np.ndarray]
    doc: str = ""
    integer: bool = False

    @property
    def cols(self) -> np.ndarray:
        """Column indices of the family [1]."""
        return np.arange(self.start, self.start + self.n)


@dataclass
class ConstraintFamily:
    """A named block of model rows ``start … start + n - 1`` (see :class:`VariableFamily`).

    ``inputs`` names the input fields whose values enter these rows; an infeasibility report
    quotes them.
    """

    name: str
    start: int
    n: int
    coords: dict[str, np.ndarray]
    doc: str = ""
    inputs: tuple[str, ...] = ()


@dataclass
class LinearProgram:
    """A linear (mixed-integer) program in HiGHS's bounded form.

    ``min c·x + offset  s.t.  row_lower ≤ A x ≤ row_upper,  col_lower ≤ x ≤ col_upper``,
    with ``integrality[j] = 1`` for integer columns.
    """

    c: np.ndarray
    A: sp.csr_array | sp.csc_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    offset: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) [1]."""
        return self.A.shape


class ModelBuilder:
    """Collect variable and constraint families as bounds and sparse coefficient triplets.

    The families are the planner's only model representation: :meth:`compile` stacks them
    into the :class:`LinearProgram` HiGHS solves, and :meth:`to_pyomo` builds a Pyomo model
    from them on demand.
    """

    def __init__(self) -> None:
        self.var_families: dict[str, VariableFamily] = {}
        self.con_families: dict[str, ConstraintFamily] = {}
        self.n_cols = 0
        self.n_rows = 0
        self._lb: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self._blocks: list[sp.csr_array] = []
        self._rlo: list[np.ndarray] = []
        self._rhi: list[np.ndarray] = []
        self.c = np.zeros(0)

    # ------------------------------------------------------------------ variables
    def add_variables(
        self,
        name: str,
        coords: dict[str, np.ndarray],
        lower: float | np.ndarray = 0.0,
        upper: float | np.ndarray = INF,
        *,
        integer: bool = False,
        doc: str = "",
    ) -> VariableFamily:
        """Add one family of columns; returns it (``family.cols`` are the column indices).

        Parameters
        ----------
        name : str
            Family name (also the Pyomo component name in :meth:`to_pyomo`).
        coords : dict of str to numpy.ndarray
            Integer position along each dimension, one entry per column (equal lengths).
        lower, upper : float or numpy.ndarray
            Column bounds (``-inf``/``inf`` for none) [unit of the variable].
        integer : bool
            Integer (binary when bounds are 0 and 1) columns.
        doc : str
            Description with unit.
        """
        if name in self.var_families:
            raise ValueError(f"variable family {name!r} added twice")
        n = len(next(iter(coords.values()))) if coords else 1
        lb = np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy()
        ub = np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy()
        fam = VariableFamily(name, self.n_cols, n, {k: np.asarray(v) for k, v in coords.items()},
                             doc, bool(integer))
        self._lb.append(lb)
        self._ub.append(ub)
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.int32))
        self.n_cols += n
        self.var_families[name] = fam
        return fam

    def set_bounds(self, cols: np.ndarray, lower: float | np.ndarray | None = None,
                   upper: float | np.ndarray | None = None) -> None:
        """Change the bounds of some columns (``None``: leave that side as it is).

        Parameters
        ----------
        cols : numpy.ndarray
            Global column indices.
        lower, upper : float or numpy.ndarray, optional
            New bounds [unit of each variable].
        """
        cols = np.asarray(cols, dtype=np.int64)
        starts = np.array([f.start for f in self.var_families.values()], dtype=np.int64)
        fam = np.searchsorted(starts, cols, side="right") - 1
        for side, new in ((self._lb, lower), (self._ub, upper)):
            if new is None:
                continue
            vals = np.broadcast_to(np.asarray(new, dtype=float), cols.shape)
            for f, j, v in zip(fam.tolist(), cols.tolist(), vals.tolist(), strict=True):
                side[f][j - int(starts[f])] = v

    # ---------------------------------------------------------------- constraints
    def add_constraints(
        self,
        name: str,
        coords: dict[str, np.ndarray],
        rows: np.ndarray,
        cols: np.ndarray,
        vals: np.ndarray,
        lower: float | np.ndarray,
        upper: float | np.ndarray,
        *,
        doc: str = "",
        inputs: Sequence[str] = (),
    ) -> ConstraintFamily:
        """Add one family of rows ``lower ≤ Σ vals·x[cols] ≤ upper`` from coefficient triplets.

        Parameters
        ----------
        name : str
            Family name (also the Pyomo component name in :meth:`to_pyomo`).
        coords : dict of str to numpy.ndarray
            Integer position of each row along each dimension.
        rows, cols, vals : numpy.ndarray
            Triplets: local row index (0 … n-1), global column index, coefficient. Repeated
            (row, col) pairs are summed.
        lower, upper : float or numpy.ndarray
            Row bounds; ``-inf``/``inf`` for a one-sided row, equal for an equality.
        doc : str
            Description with unit.
        inputs : sequence of str
            Input fields that enter these rows (quoted by the infeasibility report).
        """
        if name in self.con_families:
            raise ValueError(f"constraint family {name!r} added twice")
        n = len(next(iter(coords.values())))
        lo = np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy()
        mat = sp.csr_array(
            (np.asarray(vals, dtype=float), (np.asarray(rows), np.asarray(cols))),
            shape=(n, max(self.n_cols, 1)),
        )
        mat.sum_duplicates()
        mat.eliminate_zeros()
        fam = ConstraintFamily(name, self.n_rows, n, {k: np.asarray(v) for k, v in coords.items()},
                               doc, tuple(inputs))
        self._blocks.append(mat)
        self._rlo.append(lo)
        self._rhi.append(hi)
        self.n_rows += n
        self.con_families[name] = fam
        return fam

    # ------------------------------------------------------------------ objective
    def set_objective(self, c: np.ndarray) -> None:
        """Set the (minimised) objective ``c·x`` [$]; ``c`` has one entry per column."""
        self.c = np.asarray(c, dtype=float).copy()

    # ------------------------------------------------------------------- compile
    def compile(self, via: str = "matrix") -> LinearProgram:
        """Hand the model over as a :class:`LinearProgram`.

        Parameters
        ----------
        via : {"matrix", "pyomo"}
            ``"matrix"``: stack the registered triplets (fast; what the planner solves).
            ``"pyomo"``: build the Pyomo model (:meth:`to_pyomo`) and run Pyomo's
            standard-form compiler over it (slow; identical result, a check of the export).
        """
        if via == "matrix":
            blocks = [sp.csr_array((b.data, b.indices, b.indptr), shape=(b.shape[0], self.n_cols))
                      for b in self._blocks]
            A = (sp.vstack(blocks, format="csr") if blocks
                 else sp.csr_array((0, self.n_cols))).tocsc()   # HiGHS's native layout
            return LinearProgram(
                c=self.c.copy(), A=A,
                row_lower=np.concatenate(self._rlo) if self._rlo else np.zeros(0),
                row_upper=np.concatenate(self._rhi) if self._rhi else np.zeros(0),
                col_lower=np.concatenate(self._lb), col_upper=np.concatenate(self._ub),
                integrality=np.concatenate(self._int),
            )
        if via == "pyomo":
            from gridcap.optimizer.planning.pyomo_model import compile_pyomo

            return compile_pyomo(self)
        raise ValueError(f"unknown hand-off {via!r}; expected one of 'matrix', 'pyomo'")

    def to_pyomo(self, lp: LinearProgram | None = None, *, name: str = "gridcap_plan") -> Any:
        """The model as a Pyomo ``ConcreteModel`` (public Pyomo API; built on demand).

        Parameters
        ----------
        lp : LinearProgram, optional
            Numbers to write (default: :meth:`compile`); pass the solver's current program to
            include in-place edits.
        name : str
            Model name.

        Returns
        -------
        pyomo.environ.ConcreteModel
            One ``Var`` per variable family and one ``Constraint`` per constraint family
            (indexed ``0 … n-1`` in family order), and ``objective`` (minimised).
        """
        from gridcap.optimizer.planning.pyomo_model import to_pyomo

        return to_pyomo(self, lp, name=name).model

    # ------------------------------------------------------------------- lookup
    def locate_row(self, row: int) -> tuple[ConstraintFamily, int]:
        """Family and local index of a global row."""
        for fam in self.con_families.values():
            if fam.start <= row < fam.start + fam.n:
                return fam, row - fam.start
        raise IndexError(row)

    def locate_col(self, col: int) -> tuple[VariableFamily, int]:
        """Family and local index of a global column."""
        for fam in self.var_families.values():
            if fam.start <= col < fam.start + fam.n:
                return fam, col - fam.start
        raise IndexError(col)


@dataclass
class SolveResult:
    """What one HiGHS solve returned.

    Attributes
    ----------
    status : str
        HiGHS model status text (``"Optimal"``, ``"Infeasible"``, ``"Time limit reached"`` …).
    optimal : bool
        A usable solution (optimal, or a feasible incumbent at a time limit / gap).
    objective : float
        Objective value [$].
    x, row_value : numpy.ndarray
        Primal column values and row activities.
    row_dual, col_dual : numpy.ndarray or None
        Duals (LP only; ``None`` for a MIP).
    mip_gap : float
        Relative MIP gap reached (0 for an LP) [1].
    solve_s : float
        Wall time of the HiGHS run [s].
    is_mip : bool
        Whether integer columns were present.
    """

    status: str
    optimal: bool
    objective: float
    x: np.ndarray
    row_value: np.ndarray
    row_dual: np.ndarray | None
    col_dual: np.ndarray | None
    mip_gap: float
    solve_s: float
    is_mip: bool
    simplex_iterations: int = 0
    extra: dict = field(default_factory=dict)


_BANNER_MUTED = False


@contextmanager
def _c_stdout_to_devnull() -> Iterator[None]:
    """Send file descriptor 1 (C-level stdout) to ``/dev/null`` for the block."""
    import ctypes
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C stdio buffers go to /dev/null, not to the caller
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def mute_highs_banner() -> None:
    """Keep HiGHS's once-per-process "Running HiGHS … Copyright" banner off the terminal.

    HiGHS (1.16) prints it from the first ``Highs()`` constructor of the process, before any
    option can be set (ERGO-Code/HiGHS#1702, #1932: "it can't be switched off
    independently"), so one instance is constructed here with C stdout sent to /dev/null;
    later instances, including Pyomo's, print nothing unless their ``output_flag`` is on.
    Called by the solvers when not verbose.
    """
    global _BANNER_MUTED
    if _BANNER_MUTED:
        return
    import highspy

    try:
        with _c_stdout_to_devnull():
            highspy.Highs()
    except OSError:  # pragma: no cover - no file descriptor 1 (embedded interpreters)
        pass
    _BANNER_MUTED = True


class HighsSolver:
    """One persistent in-memory HiGHS instance for one :class:`LinearProgram`.

    Parameters
    ----------
    lp : LinearProgram
        The model (passed to HiGHS once with ``passModel``).
    time_limit_s : float or None
        Solver time limit [s].
    mip_gap : float
        Relative MIP gap [1].
    threads : int or None
        HiGHS thread count (None: HiGHS default).
    verbose : bool
        Show the HiGHS log.
    """

    def __init__(self, lp: LinearProgram, *, time_limit_s: float | None = None,
                 mip_gap: float = 1e-4, threads: int | None = None,
                 verbose: bool = False) -> None:
        import highspy

        self._hs = highspy
        self.lp = lp
        if not verbose:
            mute_highs_banner()
        self.h = highspy.Highs()
        h = self.h
        h.setOptionValue("output_flag", bool(verbose))
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        if time_limit_s is not None:
            h.setOptionValue("time_limit", float(time_limit_s))
        #: HiGHS threads asked for (``None``: HiGHS's default).
        self.threads = None if threads is None else int(threads)
        if threads is not None:
            h.setOptionValue("threads", int(threads))
        t0 = time.perf_counter()
        self._pass(lp)
        self.handoff_s = time.perf_counter() - t0
        self._int_fixed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        #: HiGHS ``simplex_strategy`` for the next :meth:`solve` only (then back to 0 =
        #: choose): 4 (primal) after a cost-only change, whose old basis stays primal
        #: feasible; 1 (dual) after a bound change, whose old basis stays dual feasible.
        self.next_simplex_strategy: int | None = None

    def _pass(self, lp: LinearProgram) -> None:
        """One ``passModel`` call with numpy buffers (no per-element Python conversion)."""
        hs = self._hs
        A = lp.A
        rowwise = A.format == "csr"
        fmt = int(hs.MatrixFormat.kRowwise if rowwise else hs.MatrixFormat.kColwise)
        f64 = np.float64
        status = self.h.passModel(
            int(A.shape[1]), int(A.shape[0]), int(A.nnz), fmt,
            int(hs.ObjSense.kMinimize), float(lp.offset),
            np.ascontiguousarray(lp.c, dtype=f64),
            np.ascontiguousarray(lp.col_lower, dtype=f64),
            np.ascontiguousarray(lp.col_upper, dtype=f64),
            np.ascontiguousarray(lp.row_lower, dtype=f64),
            np.ascontiguousarray(lp.row_upper, dtype=f64),
            np.ascontiguousarray(A.indptr, dtype=np.int32),
            np.ascontiguousarray(A.indices, dtype=np.int32),
            np.ascontiguousarray(A.data, dtype=f64),
            np.ascontiguousarray(lp.integrality, dtype=np.int32),
        )
        if status == hs.HighsStatus.kError:
            raise RuntimeError("HiGHS rejected the model (passModel returned an error)")

    # ------------------------------------------------------------------ options
    def set_option(self, name: str, value: bool | int | float | str) -> None:
        """Set a HiGHS option (``time_limit``, ``mip_rel_gap``, ``solver``, …)."""
        self.h.setOptionValue(name, value)

    def current_lp(self) -> LinearProgram:
        """The program as HiGHS holds it now, in-place edits included (``getLp``)."""
        lp = self.h.getLp()
        a = lp.a_matrix_
        n, m = int(lp.num_col_), int(lp.num_row_)
        parts = (np.asarray(a.value_, dtype=float), np.asarray(a.index_, dtype=np.int64),
                 np.asarray(a.start_, dtype=np.int64))
        rowwise = a.format_ == self._hs.MatrixFormat.kRowwise
        A = sp.csr_array(parts, shape=(m, n)) if rowwise else sp.csc_array(parts, shape=(m, n))
        integ = np.asarray(lp.integrality_, dtype=np.int32)
        if self._int_fixed is not None:          # between fix_integers and unfix_integers
            idx, lo, hi = self._int_fixed
            col_lower = np.asarray(lp.col_lower_, dtype=float).copy()
            col_upper = np.asarray(lp.col_upper_, dtype=float).copy()
            col_lower[idx], col_upper[idx] = lo, hi
            integ = self.lp.integrality.copy()
        else:
            col_lower = np.asarray(lp.col_lower_, dtype=float)
            col_upper = np.asarray(lp.col_upper_, dtype=float)
        return LinearProgram(
            c=np.asarray(lp.col_cost_, dtype=float), A=A.tocsc(),
            row_lower=np.asarray(lp.row_lower_, dtype=float),
            row_upper=np.asarray(lp.row_upper_, dtype=float),
            col_lower=col_lower, col_upper=col_upper,
            integrality=integ if integ.size else np.zeros(n, dtype=np.int32),
            offset=float(lp.offset_),
        )

    # ------------------------------------------------------------ in-place edits
    def change_costs(self, c: np.ndarray) -> None:
        """Replace the whole cost vector [$ per unit of each column]."""
        c = np.ascontiguousarray(c, dtype=np.float64)
        idx = np.arange(c.size, dtype=np.int32)
        self.h.changeColsCost(c.size, idx, c)
        self.lp.c = c.copy()

    def change_row_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Change the bounds of some rows."""
        rows = np.ascontiguousarray(rows, dtype=np.int32)
        lo = np.ascontiguousarray(lower, dtype=np.float64)
        hi = np.ascontiguousarray(upper, dtype=np.float64)
        self.h.changeRowsBounds(rows.size, rows, lo, hi)  # type: ignore[attr-defined]  # not in highspy's stubs
        self.lp.row_lower[rows] = lo
        self.lp.row_upper[rows] = hi

    def change_coefficients(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> None:
        """Change matrix coefficients one by one (HiGHS has no bulk call)."""
        for r, c, v in zip(np.asarray(rows).tolist(), np.asarray(cols).tolist(),
                           np.asarray(vals, dtype=float).tolist(), strict=True):
            self.h.changeCoeff(r, c, v)

    def fix_integers(self, values: np.ndarray) -> None:
        """Fix every integer column at ``round(values)`` and make it continuous (dual re-solve)."""
        hs = self._hs
        idx = np.flatnonzero(self.lp.integrality).astype(np.int32)
        if idx.size == 0:
            return
        v = np.round(np.asarray(values)[idx])
        self._int_fixed = (idx, self.lp.col_lower[idx].copy(), self.lp.col_upper[idx].copy())
        self.h.changeColsBounds(idx.size, idx, v, v)
        self.h.changeColsIntegrality(
            idx.size, idx, np.array([hs.HighsVarType.kContinuous] * idx.size)
        )

    def unfix_integers(self) -> None:
        """Undo :meth:`fix_integers`."""
        if self._int_fixed is None:
            return
        hs = self._hs
        idx, lo, hi = self._int_fixed
        self.h.changeColsBounds(idx.size, idx, lo, hi)
        self.h.changeColsIntegrality(idx.size, idx, np.array([hs.HighsVarType.kInteger] * idx.size))
        self._int_fixed = None

    def relax_integers(self) -> None:
        """Make every integer column continuous (LP relaxation) for good."""
        hs = self._hs
        idx = np.flatnonzero(self.lp.integrality).astype(np.int32)
        if idx.size:
            self.h.changeColsIntegrality(
                idx.size, idx, np.array([hs.HighsVarType.kContinuous] * idx.size)
            )
        self.lp.integrality = np.zeros_like(self.lp.integrality)

    # -------------------------------------------------------------------- solve
    def solve(self) -> SolveResult:
        """Run HiGHS from the current state (warm-started after in-place edits)."""
        hs = self._hs
        h = self.h
        strategy = self.next_simplex_strategy
        self.next_simplex_strategy = None
        if strategy is not None and not h.getBasis().valid:
            # No basis to warm-start from (first solve): a cold primal simplex is several
            # times slower than HiGHS's own choice (1e5 variables: 6.9 s vs 1.9 s).
            strategy = None
        if strategy is not None:
            h.setOptionValue("simplex_strategy", int(strategy))
        t0 = time.perf_counter()
        try:
            run_status = h.run()
            if run_status == hs.HighsStatus.kError and self.threads is not None:
                # HiGHS keeps one thread scheduler per process and refuses to run a model
                # asking for another thread count than the scheduler was started with (a
                # notebook solving once with the default, then with threads=1): restart it.
                hs.Highs.resetGlobalScheduler(True)
                run_status = h.run()
        finally:
            if strategy is not None:
                h.setOptionValue("simplex_strategy", 0)
        solve_s = time.perf_counter() - t0
        if run_status == hs.HighsStatus.kError:
            status_now = h.modelStatusToString(h.getModelStatus())
            raise RuntimeError(f"HiGHS refused to solve (model status {status_now!r}); "
                               "rerun with verbose=True to see its log")
        ms = h.getModelStatus()
        status = h.modelStatusToString(ms)
        info = h.getInfo()
        is_mip = bool(np.any(self.lp.integrality)) and self._int_fixed is None
        sol = h.getSolution()
        has_primal = info.primal_solution_status == 2  # kSolutionStatusFeasible
        optimal = ms == hs.HighsModelStatus.kOptimal or (
            has_primal and ms in (hs.HighsModelStatus.kTimeLimit,
                                  hs.HighsModelStatus.kIterationLimit,
                                  hs.HighsModelStatus.kInterrupt,
                                  hs.HighsModelStatus.kSolutionLimit)
        )
        x = np.asarray(sol.col_value) if has_primal else np.full(self.lp.shape[1], np.nan)
        rv = np.asarray(sol.row_value) if has_primal else np.full(self.lp.shape[0], np.nan)
        dual_ok = sol.dual_valid and not is_mip
        gap = float(info.mip_gap) if is_mip else 0.0
        if not np.isfinite(gap) or gap > 1e20:
            gap = float("nan") if is_mip else 0.0
        return SolveResult(
            status=status,
            optimal=bool(optimal),
            objective=float(info.objective_function_value),
            x=x,
            row_value=rv,
            row_dual=np.asarray(sol.row_dual) if dual_ok else None,
            col_dual=np.asarray(sol.col_dual) if dual_ok else None,
            mip_gap=gap,
            solve_s=solve_s,
            is_mip=is_mip,
            simplex_iterations=int(info.simplex_iteration_count),
            extra={"model_status": ms,
                   **({"mip_dual_bound": float(info.mip_dual_bound)} if is_mip else {})},
        )

    def is_infeasible_or_unbounded(self, res: SolveResult) -> str | None:
        """``"infeasible"``, ``"unbounded"`` or ``None`` for a solve result."""
        hs = self._hs
        ms = res.extra.get("model_status")
        if ms == hs.HighsModelStatus.kInfeasible:
            return "infeasible"
        if ms == hs.HighsModelStatus.kUnbounded:
            return "unbounded"
        if ms == hs.HighsModelStatus.kUnboundedOrInfeasible:
            return "infeasible or unbounded"
        return None

    def iis(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of an irreducible infeasible subset (HiGHS ``getIis``).

        Returns
        -------
        rows, cols : numpy.ndarray
            Global row and column indices in the subset (columns: those whose bounds take part).
        """
        h = self.h
        h.setOptionValue("output_flag", False)
        # from the LP (not only the "light" bound checks), then reduced to irreducible
        h.setOptionValue("iis_strategy", int(self._hs.IisStrategy.kIisStrategyFromLp)
                         | int(self._hs.IisStrategy.kIisStrategyIrreducible))
        _status, iis = h.getIis()
        rows = np.asarray(list(iis.row_index_), dtype=np.int64)
        cols = np.asarray(list(iis.col_index_), dtype=np.int64)
        return rows, cols
