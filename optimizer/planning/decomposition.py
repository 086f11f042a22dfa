"""Scenario decomposition of the siting model: progressive hedging on mpi-sppy over MPI.

The extensive form (:class:`~gridcap.optimizer.planning.siting.PlanModel`) keeps every
scenario in one HiGHS model, so a study reduces its Monte Carlo to a few dozen scenarios. Here
each Monte Carlo scenario is its own model, built by the planner's own
:data:`~gridcap.optimizer.planning.siting.BUILD_STEPS` from that scenario's slice of the data
(:func:`scenario_data`), and mpi-sppy's progressive hedging (PH) [1]_ makes the first-stage
decisions agree across scenarios, scenarios spread over the ranks of ``mpiexec`` (one rank
works too).

Scenario model (:func:`scenario_creator`)
-----------------------------------------
Scenario w of probability π_w has the objective ``(1+λ)F(x) + C_w(x) + λ(η + u_w/(1-α))``:
the probability-weighted sum over scenarios is exactly the extensive form's objective
``F + Σ π_w C_w + λ·CVaR_α`` (Rockafellar–Uryasev, CVaR kept exact). Nonanticipative
(first-stage) variables: ``build``, ``online``, ``convert``, ``ai_site``, ``ai_new``,
``unserved_ai``, ``flex`` and the value-at-risk level ``cvar_eta`` (η); the per-scenario excess
``u_w`` and all dispatch are second stage.

Algorithm (:func:`run_ph`)
--------------------------
- PH subproblems are LPs (conversions relaxed to [0, 1]) solved by HiGHS through Pyomo's
  ``appsi_highs`` with mpi-sppy's linearised proximal terms (HiGHS takes no quadratic objective
  on that path). ρ is cost-proportional and the same in every scenario,
  ``ρ_i = decomposition_rho · max(E|c_i|, c_floor) / max(1, E|x_i − x̄_i|)`` at iteration 0
  (Watson–Woodruff [2]_), so the PH weights keep ``Σ_w π_w W_w = 0``.
- **Lower bound** (the Lagrangian bound of mpi-sppy's Lagrangian spoke, computed in line): with
  the current weights, ``Σ_w π_w min_x [f_w(x) + W_w·x]`` over each scenario's own constraints,
  conversions kept **binary** when the study has them — a valid bound on the mixed-integer
  optimum for any ``W`` with ``Σ π W = 0``. The best over the iterations is kept.
- **Upper bound** (mpi-sppy's xhat evaluation, in line): fix every first-stage variable at the
  candidate x̂ = x̄ (the PH average; feasible for the first-stage rows, which are the same in
  every scenario) and solve each scenario's LP; ``Σ π_w f_w(x̂)`` is the cost of a feasible
  plan. The best candidate is kept.
- **Binary conversions**: PH runs on the relaxation. While x̄'s conversions are fractional no
  candidate is evaluated; once the relaxation's own gap (x̄ evaluated with fractional
  conversions) is within ``decomposition_gap`` or half the iteration budget is spent, each
  site's conversion is rounded (converted when Σ_o x̄[s,o] ≥ 1/2, in its most likely year) and
  **fixed in every scenario**, and PH continues on the remaining continuous decisions. Upper
  bounds then come from integral candidates; the lower bound stays the mixed-integer
  Lagrangian bound, so the reported gap certifies the rounded plan against the true
  mixed-integer optimum.
- Stop: relative gap ``(upper − lower)/|upper| ≤ decomposition_gap``, ``time_limit_s`` of wall
  time, or ``decomposition_max_iterations``.
- **Duals**: the final plan's fixed-first-stage LPs (every first-stage column fixed at x̂) are
  solved per scenario by the planner's matrix-backed HiGHS path; the capacity value is
  ``Σ_w π_w`` times scenario w's adequacy duals (the extensive form's duals at the same plan
  when they are unique), and the flexibility price follows from it as in the extensive form.

The ranks run without mpi-sppy's hub-and-spoke wheel: its Lagrangian and xhat spokes need their
own ranks (hub + 2 spokes = a multiple of 3), which a 1- or 2-rank run does not have, so the
same two bounds are computed by every rank on its own scenarios between PH iterations.

Running it: ``plan(inputs, outcomes, options=PlanOptions(decomposition="ph"))`` on one process,
or ``mpiexec -n N python script.py`` where every rank calls :func:`plan` (each returns the plan),
or ``gridcap run STUDY --mpi N`` / ``mpiexec -n N gridcap run STUDY`` (ranks other than 0 wait
in :func:`serve` for the plans of rank 0's pipeline). ``mpiexec`` is the one of the ``mpich``
wheel (``.venv/bin/mpiexec``).

References
----------
.. [1] R. T. Rockafellar and R. J.-B. Wets, "Scenarios and policy aggregation in optimization
   under uncertainty", Mathematics of Operations Research 16(1), 119–147, 1991; mpi-sppy:
   B. Knueven et al., "A parallel hub-and-spoke system for large-scale scenario-based
   optimization under uncertainty", Mathematical Programming Computation 15, 591–619, 2023.
.. [2] J.-P. Watson and D. L. Woodruff, "Progressive hedging innovations for a class of
   stochastic mixed-integer resource allocation problems", Computational Management Science
   8, 355–370, 2011.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import xarray as xr

from gridcap.errors import DecompositionUnavailableError, GridcapInputError, ModelInfeasibleError
from gridcap.optimizer.planning.siting import (
    COST_COMPONENTS,
    COST_SCALE,
    SCENARIO_FIELDS,
    Model,
    PlanData,
    PlanModel,
    PlanOptions,
    ScenarioSummary,
    assemble_plan,
    build_model,
    first_stage_cost_vector,
    prepare_data,
    scenario_cost_matrix,
)
from gridcap.optimizer.planning.solver import HighsSolver

__all__ = ["FIRST_STAGE", "PHResult", "require_mpi", "run_ph", "scenario_creator",
           "scenario_data", "serve", "solve_ph", "stop_workers"]

#: Nonanticipative variable families (the planner's first stage plus the CVaR level η).
FIRST_STAGE = (*PlanModel.FIRST_STAGE, "cvar_eta")
#: Pyomo solver name of the PH subproblems (HiGHS, persistent, in memory).
PH_SOLVER = "appsi_highs"
#: The Lagrangian bound (one MIP per scenario) is computed at iterations 1-3 and every this
#: many iterations; the L-shaped bound every iteration [1].
LAGRANGIAN_EVERY = 5
#: A conversion counts as integral within this tolerance [1].
INTEGRAL_TOL = 1e-6


def require_mpi() -> Any:
    """Import mpi4py and mpi-sppy, or say what is missing; returns ``mpi4py.MPI``.

    Raises
    ------
    gridcap.errors.DecompositionUnavailableError
        mpi4py, an MPI library or mpi-sppy cannot be imported.
    """
    try:
        import mpisppy.opt.ph  # noqa: F401
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as exc:
        raise DecompositionUnavailableError(
            f"PlanOptions.decomposition = 'ph' (optimizer.decomposition / --mpi) needs mpi4py, "
            f"an MPI library and mpi-sppy, which cannot be imported here ({exc}). Install them "
            "with `pip install 'gridcap[mpi]'` (MPICH, mpi4py and mpi-sppy wheels, no system "
            "MPI needed), or use decomposition = 'extensive', which needs nothing more."
        ) from exc
    return MPI


# ------------------------------------------------------------------------- scenario models
def scenario_data(data: PlanData, w: int) -> PlanData:
    """The data of scenario ``w`` alone (probability 1 inside its own model).

    Parameters
    ----------
    data : PlanData
        Data of all scenarios in the model.
    w : int
        Position of the scenario in ``data.scenarios``.
    """
    one = {name: getattr(data, name)[w:w + 1] for name in SCENARIO_FIELDS}
    one["weights"] = np.ones(1)
    return replace(data, selection=None, **one)


@dataclass
class ScenarioStore:
    """The scenario models built on this rank (filled by :func:`scenario_creator`)."""

    data: PlanData
    options: PlanOptions
    models: dict[str, Model] = field(default_factory=dict)


def scenario_name(w: int) -> str:
    """mpi-sppy name of scenario position ``w``."""
    return f"scen{w}"


def nonant_families(m: Model) -> list[str]:
    """First-stage families present (with columns) in a scenario model, in nonant order."""
    return [f for f in FIRST_STAGE if f in m.b.var_families and m.b.var_families[f].n > 0]


def nonant_columns(m: Model) -> np.ndarray:
    """Model columns of the nonanticipative variables, in mpi-sppy's nonant order [1]."""
    fams = [m.b.var_families[f].cols for f in nonant_families(m)]
    return np.concatenate(fams) if fams else np.zeros(0, np.int64)


def scenario_creator(name: str, store: ScenarioStore) -> Any:
    """mpi-sppy scenario creator: the planner's model of one scenario, with its root node.

    Parameters
    ----------
    name : str
        ``"scen<w>"``, w the position in ``store.data.scenarios``.
    store : ScenarioStore
        Data of all scenarios; the built model is kept in ``store.models[name]``.

    Returns
    -------
    pyomo.environ.ConcreteModel
        The scenario's Pyomo model with ``_mpisppy_node_list`` and ``_mpisppy_probability``.
    """
    from mpisppy.utils import sputils
    from pyomo.core.expr import LinearExpression, MonomialTermExpression

    from gridcap.optimizer.planning.pyomo_model import to_pyomo

    w = int(name.removeprefix("scen"))
    m = build_model(scenario_data(store.data, w), store.options)
    exp = to_pyomo(m.b, name=name)  # mpi-sppy's messages name the scenario
    pm = exp.model
    varlist = [getattr(pm, f) for f in nonant_families(m)]
    lam = m.params["cvar_lambda"]
    f = (1.0 + lam) * first_stage_cost_vector(m)
    vd = exp.columns
    first = LinearExpression([MonomialTermExpression((float(f[j]), vd[j]))
                              for j in np.flatnonzero(f).tolist()])
    sputils.attach_root_node(pm, first, varlist)
    pm._mpisppy_probability = float(store.data.weights[w])
    store.models[name] = m
    return pm


# ------------------------------------------------------------------------------ the loop
@dataclass
class PHResult:
    """What :func:`run_ph` found (the same on every rank).

    Attributes
    ----------
    x_hat : numpy.ndarray or None
        Best first-stage candidate, in nonant order [unit of each variable].
    lower_bound, upper_bound : float
        Certified bounds on the optimal objective [$].
    iterations : int
        PH iterations run after iteration 0 [1].
    wall_s : float
        Wall time of the decomposition [s].
    trivial_bound : float
        Wait-and-see bound of iteration 0 (relaxed conversions) [$].
    stop_reason : str
        ``"gap"``, ``"time_limit"`` or ``"iteration_limit"``.
    conversions_fixed_at : int
        Iteration at which rounded conversions were fixed (-1: never needed) [1].
    history : list of tuple
        ``(iteration, wall_s, lower, upper)`` after each bounding step [1, s, $, $].
    """

    x_hat: np.ndarray | None
    lower_bound: float
    upper_bound: float
    iterations: int
    wall_s: float
    trivial_bound: float
    stop_reason: str
    conversions_fixed_at: int = -1
    history: list[tuple[int, float, float, float]] = field(default_factory=list)

    @property
    def gap(self) -> float:
        """Relative gap ``(upper − lower)/|upper|`` [1] (inf without an upper bound)."""
        return relative_gap(self.lower_bound, self.upper_bound)


def relative_gap(lower: float, upper: float) -> float:
    """``(upper − lower)/max(|upper|, 1e-9)`` [1]; inf when a bound is missing."""
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return math.inf
    return max(upper - lower, 0.0) / max(abs(upper), 1e-9)


class _Bounder:
    """Per-rank HiGHS copies of the local scenario LPs for the two bounds (matrix path)."""

    def __init__(self, names: list[str], store: ScenarioStore, mip_bound: bool,
                 comm: Any) -> None:
        self.comm = comm
        self.names = names
        self.prob = np.array([store.data.weights[int(k[4:])] for k in names])
        self.models = [store.models[k] for k in names]
        m0 = self.models[0]
        self.cols = nonant_columns(m0).astype(np.int32)
        fam = m0.b.var_families.get("convert")
        self.conv_cols = fam.cols if fam is not None else np.zeros(0, np.int64)
        #: positions of the conversion columns in the nonant vector
        self.conv_pos = np.flatnonzero(np.isin(self.cols, self.conv_cols))
        self.mip_bound = mip_bound and self.conv_cols.size > 0
        self.lb: list[HighsSolver] = []
        self.ub: list[HighsSolver] = []
        self.c: list[np.ndarray] = []
        for m in self.models:
            lp = m.b.compile()
            self.c.append(lp.c.copy())
            if self.mip_bound:  # the Lagrangian subproblems keep the conversions binary
                lp.integrality[self.conv_cols] = 1
            self.lb.append(HighsSolver(lp, threads=1))
            self.ub.append(HighsSolver(m.b.compile(), threads=1))

    def allsum(self, value: Any) -> Any:
        """Sum over the ranks (floats or arrays)."""
        return self.comm.allreduce(value)

    def expect(self, per_scenario: list[np.ndarray]) -> np.ndarray:
        """``Σ_w π_w v_w`` over every scenario of every rank."""
        local = sum((p * v for p, v in zip(self.prob, per_scenario, strict=True)),
                    np.zeros_like(per_scenario[0]))
        return np.asarray(self.allsum(local))

    def lower(self, weights: list[np.ndarray]) -> float:
        """Lagrangian bound ``Σ π_w min [c_w·x + W_w·x_nonant]`` [$] (−inf: a solve failed)."""
        parts = []
        for p, s, c, W in zip(self.prob, self.lb, self.c, weights, strict=True):
            cw = c.copy()
            cw[self.cols] += W
            s.change_costs(cw)
            res = s.solve()
            if not res.optimal:
                parts.append(-math.inf)
                continue
            # a MIP's own dual bound keeps the bound valid when HiGHS stops at its gap
            bound = float(s.h.getInfo().mip_dual_bound) if res.is_mip else res.objective
            parts.append(p * bound)
        return float(self.allsum(math.fsum(parts))) / COST_SCALE

    def upper(self, x_hat: np.ndarray) -> tuple[float, list[np.ndarray] | None]:
        """Expected objective with every first-stage column fixed at ``x_hat`` [$] (inf: a
        scenario is infeasible there), and the weights these LPs' duals suggest.

        The second value is ``W_w = −(d_w − Σ π d)`` with ``d_w`` the reduced costs of the
        fixed first-stage columns in scenario w: at an optimal ``x_hat`` (and unique duals)
        these are optimal nonanticipativity multipliers, so their Lagrangian bound closes the
        gap; any ``W`` with ``Σ π W = 0`` gives a valid bound. ``None`` when a dual is missing.
        """
        parts: list[float] = []
        duals: list[np.ndarray | None] = []
        cuts: list[tuple[int, float, np.ndarray]] = []
        for name, p, s in zip(self.names, self.prob, self.ub, strict=True):
            s.h.changeColsBounds(self.cols.size, self.cols, x_hat, x_hat)
            res = s.solve()
            parts.append(p * res.objective if res.optimal else math.inf)
            if res.optimal and res.col_dual is not None:
                d = np.asarray(res.col_dual)[self.cols]
                duals.append(d)
                cuts.append((int(name[4:]), float(res.objective), d))
            else:
                duals.append(None)
        upper = float(self.allsum(math.fsum(parts))) / COST_SCALE
        self._add_cuts(x_hat, cuts)
        if not self.comm.allreduce(all(d is not None for d in duals), op=_land()):
            return upper, None
        dbar = self.expect([np.asarray(d) for d in duals])
        return upper, [dbar - np.asarray(d) for d in duals]

    # ------------------------------------------------------------ L-shaped bound
    def start_master(self, floors: list[float]) -> None:
        """Rank 0: the multi-cut L-shaped master ``min Σ π_w θ_w`` over the first-stage rows
        (those of a scenario LP that touch nonanticipative columns only), ``θ_w`` at least
        scenario w's own optimum (iteration 0); conversions binary as in the MILP."""
        from gridcap.optimizer.planning.solver import LinearProgram

        allf = self.comm.gather(list(zip(self.names, self.prob, floors, strict=True)), root=0)
        if self.comm.Get_rank() != 0:
            return
        items = sorted((int(n[4:]), p, f) for part in allf for n, p, f in part)
        self.n_scen = len(items)
        lp = self.ub[0].lp
        A = sp.csr_array(lp.A)
        is_first = np.zeros(A.shape[1], bool)
        is_first[self.cols] = True
        pattern = sp.csr_array((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
        touches_other = pattern @ (~is_first).astype(float)
        empty = np.diff(A.indptr) == 0
        rows = np.flatnonzero((touches_other == 0) & ~empty)
        sub = A[rows][:, self.cols]
        nj, W = self.cols.size, self.n_scen
        m = LinearProgram(
            c=np.concatenate([np.zeros(nj), np.array([p for _, p, _ in items])]),
            A=sp.hstack([sub, sp.csr_array((rows.size, W))], format="csc"),
            row_lower=lp.row_lower[rows], row_upper=lp.row_upper[rows],
            col_lower=np.concatenate([self.ub[0].lp.col_lower[self.cols],
                                      np.array([f for _, _, f in items])]),
            col_upper=np.concatenate([self.ub[0].lp.col_upper[self.cols], np.full(W, np.inf)]),
            integrality=np.concatenate([np.isin(self.cols, self.conv_cols).astype(np.int32)
                                        if self.mip_bound else np.zeros(nj, np.int32),
                                        np.zeros(W, np.int32)]))
        self.master = HighsSolver(m, threads=1)

    def _add_cuts(self, x_hat: np.ndarray, cuts: list[tuple[int, float, np.ndarray]]) -> None:
        """Optimality cuts ``θ_w ≥ V_w(x̂) + d_w·(x − x̂)`` (d_w: reduced costs of the fixed
        first-stage columns, a subgradient of scenario w's LP value) into the master."""
        allc = self.comm.gather(cuts, root=0)
        if self.comm.Get_rank() != 0 or not hasattr(self, "master"):
            return
        flat = [c for part in allc for c in part]
        if not flat:
            return
        nj = self.cols.size
        k = len(flat)
        idx = np.concatenate([np.concatenate([np.arange(nj), [nj + w]]) for w, _, _ in flat])
        val = np.concatenate([np.concatenate([-d, [1.0]]) for _, _, d in flat])
        lo = np.array([v - float(d @ x_hat) for _, v, d in flat])
        starts = np.arange(0, k * (nj + 1), nj + 1, dtype=np.int32)
        self.master.h.addRows(k, lo, np.full(k, np.inf), int(idx.size), starts,
                              idx.astype(np.int32), val)

    def master_bound(self) -> tuple[float, np.ndarray | None]:
        """The L-shaped master's bound [$] and its first-stage solution (all ranks)."""
        out: tuple[float, np.ndarray | None] = (-math.inf, None)
        if self.comm.Get_rank() == 0 and hasattr(self, "master"):
            res = self.master.solve()
            if res.optimal:
                bound = (float(self.master.h.getInfo().mip_dual_bound) if res.is_mip
                         else res.objective)
                out = (bound / COST_SCALE, res.x[:self.cols.size].copy())
        lb, x = self.comm.bcast(out, root=0)
        return lb, x


def _cost_rho(bounder: _Bounder, xs: list[np.ndarray], multiplier: float) -> np.ndarray:
    """Cost-proportional ρ per nonant, identical in every scenario (so Σ π W stays 0)."""
    cbar = bounder.expect([np.abs(c[bounder.cols]) for c in bounder.c])
    xbar = bounder.expect(xs)
    dev = bounder.expect([np.abs(x - xbar) for x in xs])
    pos = cbar[cbar > 0]
    floor = float(np.median(pos)) if pos.size else 1.0
    return multiplier * np.maximum(cbar, floor) / np.maximum(1.0, dev)


def _round_conversions(x: np.ndarray, m: Model, cols: np.ndarray) -> np.ndarray:
    """Each site converts (in its most likely year) when Σ_o x̄[s,o] ≥ 1/2, else not."""
    fam = m.b.var_families["convert"]
    where = {int(c): i for i, c in enumerate(cols.tolist())}
    pos = np.array([where[int(c)] for c in fam.cols])
    v = x[pos]
    site = fam.coords["site"]
    out = np.zeros_like(v)
    for s in np.unique(site):
        idx = np.flatnonzero(site == s)
        if v[idx].sum() >= 0.5:
            out[idx[np.argmax(v[idx])]] = 1.0
    x = x.copy()
    x[pos] = out
    return x


# ------------------------------------------------------------------- the two PH engines
class _SppyEngine:
    """PH subproblems through mpi-sppy's :class:`~mpisppy.opt.ph.PH` (Pyomo models,
    ``appsi_highs``, linearised proximal terms)."""

    def __init__(self, data: PlanData, sopts: PlanOptions, options: PlanOptions,
                 comm: Any) -> None:
        import mpisppy.opt.ph

        self.store = ScenarioStore(data=data, options=sopts)
        names = [scenario_name(w) for w in range(data.scenarios.size)]
        self.ph = mpisppy.opt.ph.PH(_ph_options(options.decomposition_max_iterations), names,
                                    scenario_creator, mpicomm=comm,
                                    scenario_creator_kwargs={"store": self.store})
        self.ph.PH_Prep()
        self.trivial = float(self.ph.Iter0()) / COST_SCALE
        for s in self.ph.local_scenarios.values():
            # the planner's rows never change after the build (their bodies are rebuilt on
            # demand, so appsi would re-add every row before each solve): only new rows (the
            # prox cuts), variables, parameters and the objective need checking
            cfg = getattr(s._solver_plugin, "update_config", None)
            if cfg is not None:
                cfg.update_constraints = False
        self.names = list(self.ph.local_scenarios)

    def nonants(self) -> list[np.ndarray]:
        return [_nonant_values(s) for s in self.ph.local_scenarios.values()]

    def set_rho(self, rho: np.ndarray) -> None:
        for s in self.ph.local_scenarios.values():
            for i, key in enumerate(s._mpisppy_data.nonant_indices):
                s._mpisppy_model.rho[key] = float(rho[i])

    def xbar_and_weights(self, it: int) -> tuple[np.ndarray, list[np.ndarray]]:
        self.ph._PHIter = it
        self.ph.Compute_Xbar(False)
        self.ph.Update_W(False)
        local = list(self.ph.local_scenarios.values())
        return _nonant_values(local[0], "xbars"), [_nonant_values(s, "W") for s in local]

    def fix(self, positions: np.ndarray, values: np.ndarray) -> None:
        pos = dict(zip(positions.tolist(), values.tolist(), strict=True))
        for s in self.ph.local_scenarios.values():
            for i, v in enumerate(s._mpisppy_data.nonant_indices.values()):
                if i in pos:
                    v.fix(float(pos[i]))

    def solve(self, it: int) -> None:
        self.ph.solve_loop(solver_options=self.ph._effective_solver_options(it), gripe=True,
                           warmstart=True)


def _nonant_values(s: Any, attr: str | None = None) -> np.ndarray:
    """Nonant values of one mpi-sppy scenario (``attr``: ``"xbars"`` or ``"W"`` Params)."""
    if attr is None:
        return np.array([v.value for v in s._mpisppy_data.nonant_indices.values()], float)
    comp = getattr(s._mpisppy_model, attr)
    return np.array([comp[i].value for i in s._mpisppy_data.nonant_indices], float)


def _ph_options(n_iter: int) -> dict[str, Any]:
    return {
        "solver_name": PH_SOLVER, "PHIterLimit": n_iter, "defaultPHrho": 1.0,
        "convthresh": -1.0, "verbose": False, "display_progress": False,
        "display_timing": False, "display_convergence_detail": False,
        "iter0_solver_options": {}, "iterk_solver_options": {},
        "linearize_proximal_terms": True, "proximal_linearization_tolerance": 1e-1,
        "linearize_binary_proximal_terms": True, "smoothed": 0, "time_limit": None,
        "tee-rank0-solves": False,
    }


class _MatrixEngine:
    """The same PH on the planner's matrix path: each subproblem is the scenario LP plus one
    column ``y_i ≥ x_i²`` per nonant, outer-linearised by tangent cuts ``y ≥ 2a·x − a²`` added
    where mpi-sppy's proximal approximation adds them (at x, at x reflected about x̄, and about
    the augmented-Lagrangian point x̄ − W/ρ, unless a cut lies within a tolerance), so the
    proximal term ``ρ/2(y − 2x̄x + x̄²)`` only changes costs; each subproblem stays warm in its
    own persistent HiGHS instance. MPI reductions through mpi4py."""

    def __init__(self, data: PlanData, sopts: PlanOptions, comm: Any) -> None:
        W = data.scenarios.size
        mine = np.array_split(np.arange(W), comm.Get_size())[comm.Get_rank()]
        self.store = ScenarioStore(data=data, options=sopts)
        self.names = [scenario_name(int(w)) for w in mine]
        for name in self.names:
            self.store.models[name] = build_model(scenario_data(data, int(name[4:])), sopts)
        self.comm = comm
        self.trivial = math.nan
        self.solvers: list[HighsSolver] = []
        self.cuts: list[np.ndarray] = []
        self.x: list[np.ndarray] = []

    def start(self, bounder: _Bounder) -> None:
        """Iteration 0: every scenario alone (no weights, no proximal term)."""
        objs, xs = [], []
        for p, s in zip(bounder.prob, bounder.ub, strict=True):
            res = s.solve()
            if not res.optimal:
                raise ModelInfeasibleError(
                    f"a scenario subproblem is {res.status.lower()} at PH iteration 0; solve "
                    "the study with decomposition = 'extensive' to see the constraint "
                    "families involved")
            objs.append(p * res.objective)
            xs.append(res.x[bounder.cols])
        self.trivial = float(self.comm.allreduce(math.fsum(objs))) / COST_SCALE
        self.floors = [o / p for o, p in zip(objs, bounder.prob, strict=True)]
        self.x = xs
        self.bounder = bounder

    def nonants(self) -> list[np.ndarray]:
        return self.x

    def set_rho(self, rho: np.ndarray) -> None:
        b = self.bounder
        self.rho = rho
        xbar = b.expect(self.x)
        dev = b.expect([np.abs(x - xbar) for x in self.x])
        scale = np.maximum(np.maximum(dev, 1e-2 * np.maximum(np.abs(xbar), 1.0)), 1e-6)
        self.tol = 1e-2 * scale
        self.scale = scale
        self.xbar = xbar
        self.W = [rho * (x - xbar) for x in self.x]
        self.nj = b.cols.size
        self.n0 = b.models[0].b.n_cols
        for m, x in zip(b.models, self.x, strict=True):
            s = HighsSolver(_with_squares(m.b.compile(), self.nj), threads=1)
            self.solvers.append(s)
            self.cuts.append(np.zeros((self.nj, 0)))
            for a in (x, xbar, xbar - scale, xbar + scale):
                self._add_cuts(len(self.solvers) - 1, a)

    def _add_cuts(self, k: int, a: np.ndarray) -> None:
        """Tangent cuts ``y_i − 2a_i x_i ≥ −a_i²`` where no cut lies within ``tol_i``."""
        have = self.cuts[k]
        near = np.abs(have - a[:, None]) <= self.tol[:, None]      # NaN (no cut): not near
        far = ~np.any(near, axis=1)
        i = np.flatnonzero(far & np.isfinite(a))
        if i.size == 0:
            return
        col = np.full(self.nj, np.nan)
        col[i] = a[i]
        self.cuts[k] = np.concatenate([have, col[:, None]], axis=1)
        starts = np.arange(0, 2 * i.size, 2, dtype=np.int32)
        idx = np.empty(2 * i.size, np.int32)
        idx[0::2] = self.bounder.cols[i]
        idx[1::2] = self.n0 + i
        val = np.empty(2 * i.size)
        val[0::2] = -2.0 * a[i]
        val[1::2] = 1.0
        self.solvers[k].h.addRows(int(i.size), -a[i] ** 2, np.full(i.size, np.inf),
                                  int(idx.size), starts, idx, val)

    def xbar_and_weights(self, it: int) -> tuple[np.ndarray, list[np.ndarray]]:
        if it > 1:
            self.xbar = self.bounder.expect(self.x)
            self.W = [W + self.rho * (x - self.xbar) for W, x in zip(self.W, self.x,
                                                                     strict=True)]
        return self.xbar, self.W

    def fix(self, positions: np.ndarray, values: np.ndarray) -> None:
        cols = self.bounder.cols[positions]
        for s in self.solvers:
            s.h.changeColsBounds(cols.size, cols, values, values)

    def solve(self, it: int) -> None:
        b = self.bounder
        xs = []
        alp = None
        for k, (s, c, W, x) in enumerate(zip(self.solvers, b.c, self.W, self.x, strict=True)):
            alp = self.xbar - W / self.rho
            mirror = 2 * self.xbar - x
            # cuts on both sides of x̄ keep the proximal term coercive (η is a free column)
            for a in (x, mirror, 2 * alp - x, 2 * alp - mirror, self.xbar - self.scale,
                      self.xbar + self.scale):
                self._add_cuts(k, a)
            cost = np.concatenate([c, self.rho / 2.0])
            cost[b.cols] += W - self.rho * self.xbar
            s.h.changeColsCost(cost.size, np.arange(cost.size, dtype=np.int32), cost)
            res = s.solve()
            if not res.optimal:
                raise ModelInfeasibleError(
                    f"a PH subproblem ended '{res.status}' at iteration {it}; solve the study "
                    "with decomposition = 'extensive' to see the constraint families involved")
            xs.append(res.x[b.cols])
        self.x = xs


def _with_squares(lp: Any, nj: int) -> Any:
    """The scenario LP with ``nj`` more columns ``y ≥ 0`` (cost 0, no rows yet)."""
    import scipy.sparse as sp

    from gridcap.optimizer.planning.solver import INF, LinearProgram

    m, n = lp.shape
    return LinearProgram(
        c=np.concatenate([lp.c, np.zeros(nj)]),
        A=sp.hstack([sp.csc_array(lp.A), sp.csc_array((m, nj))], format="csc"),
        row_lower=lp.row_lower, row_upper=lp.row_upper,
        col_lower=np.concatenate([lp.col_lower, np.zeros(nj)]),
        col_upper=np.concatenate([lp.col_upper, np.full(nj, INF)]),
        integrality=np.zeros(n + nj, np.int32))


#: ``PlanOptions.decomposition_engine`` choices.
ENGINES = ("mpisppy", "matrix")


def run_ph(data: PlanData, options: PlanOptions, comm: Any) -> tuple[PHResult, _Bounder]:
    """Progressive hedging with in-line Lagrangian and xhat bounds (collective over ``comm``).

    Parameters
    ----------
    data : PlanData
        Data of every scenario in the model.
    options : PlanOptions
        Model options; ``decomposition_gap``, ``decomposition_max_iterations``,
        ``decomposition_rho``, ``decomposition_engine`` and ``time_limit_s`` steer the loop.
    comm : mpi4py.MPI.Comm
        Ranks sharing the scenarios.

    Returns
    -------
    PHResult
        Bounds, best plan, iterations (the same on every rank).
    _Bounder
        This rank's scenario models and their HiGHS copies (for the final LPs).
    """
    t0 = time.perf_counter()
    W = data.scenarios.size
    if W < comm.Get_size():
        raise GridcapInputError(
            f"{W} scenario(s) in the model but {comm.Get_size()} MPI ranks: expected at least "
            "one scenario per rank (fewer ranks, or more optimizer.scenarios_in_model)")
    sopts = replace(options, relax_integers=True, scenarios_in_model=None,
                    evaluate_selection=False)
    engine: Any
    if options.decomposition_engine == "mpisppy":
        engine = _SppyEngine(data, sopts, options, comm)
        bounder = _Bounder(engine.names, engine.store, not options.relax_integers, comm)
    else:
        engine = _MatrixEngine(data, sopts, comm)
        bounder = _Bounder(engine.names, engine.store, not options.relax_integers, comm)
        engine.start(bounder)
    has_int = bool(bounder.conv_pos.size) and not options.relax_integers
    bounder.start_master(getattr(engine, "floors", None) or _floors(bounder))
    engine.set_rho(_cost_rho(bounder, engine.nonants(), options.decomposition_rho))
    m0 = bounder.models[0]
    # iteration 0's wait-and-see value (relaxed conversions) is itself a valid lower bound
    best_lb, best_ub, x_best = engine.trivial, math.inf, None
    fixed_at = -1
    history: list[tuple[int, float, float, float]] = []
    stop = "iteration_limit"
    limit = options.time_limit_s
    it = 0
    for it in range(1, options.decomposition_max_iterations + 1):
        xbar, weights = engine.xbar_and_weights(it)
        if it <= 3 or it % LAGRANGIAN_EVERY == 0:
            best_lb = max(best_lb, bounder.lower(weights))
        frac = np.minimum(np.abs(xbar[bounder.conv_pos]), np.abs(1 - xbar[bounder.conv_pos]))
        near = float(np.max(frac, initial=0.0))
        ub, _dual_weights = bounder.upper(xbar)
        if (not has_int or near <= INTEGRAL_TOL) and ub < best_ub:
            best_ub, x_best = ub, xbar.copy()
        # L-shaped bound from every evaluated plan's cuts; its plan is a candidate too
        lb_master, x_master = bounder.master_bound()
        best_lb = max(best_lb, lb_master)
        if x_master is not None:
            if fixed_at > 0:
                x_master[bounder.conv_pos] = x_best[bounder.conv_pos] if x_best is not None \
                    else xbar[bounder.conv_pos]
            ub_m, _ = bounder.upper(x_master)
            if ub_m < best_ub:
                best_ub, x_best = ub_m, x_master.copy()
        elapsed = time.perf_counter() - t0
        history.append((it, elapsed, best_lb, best_ub))
        if relative_gap(best_lb, best_ub) <= options.decomposition_gap:
            stop = "gap"
            break
        if limit is not None and comm.allreduce(elapsed >= limit, op=_lor()):
            stop = "time_limit"
            break
        if has_int and fixed_at < 0 and near > INTEGRAL_TOL and (
                relative_gap(best_lb, ub) <= options.decomposition_gap or near <= 1e-3
                or it >= options.decomposition_max_iterations // 2
                or (limit is not None and elapsed >= 0.5 * limit)):
            rounded = _round_conversions(xbar, m0, bounder.cols)
            engine.fix(bounder.conv_pos, rounded[bounder.conv_pos])
            fixed_at = it
        engine.solve(it)
    result = PHResult(x_hat=x_best, lower_bound=best_lb, upper_bound=best_ub, iterations=it,
                      wall_s=time.perf_counter() - t0, trivial_bound=engine.trivial,
                      stop_reason=stop, conversions_fixed_at=fixed_at, history=history)
    return result, bounder


def _floors(bounder: _Bounder) -> list[float]:
    """Each local scenario's own optimum (relaxed, no weights) [objective units]: the master's
    lower limit on θ_w."""
    out = []
    for s in bounder.ub:
        res = s.solve()
        out.append(res.objective if res.optimal else -math.inf)
    return out


def _lor() -> Any:
    from mpi4py import MPI

    return MPI.LOR


# ------------------------------------------------------------------------- final plan
@dataclass
class _Final:
    """Per-scenario results of the fixed-first-stage LPs (gathered on rank 0)."""

    w: int
    cost: float
    components: dict[str, float]
    adequacy_dual: np.ndarray
    n_cols: int
    n_rows: int
    nnz: int


def _final_lps(bounder: _Bounder, x_hat: np.ndarray, data: PlanData) -> tuple[list[_Final],
                                                                              Any]:
    """Solve the local scenarios with the first stage fixed at ``x_hat``; keep costs and duals."""
    out = []
    first = None
    _W, R, _K, Y, H, _S, _P = (data.scenarios.size, data.regions.size, data.techs.size,
                               data.years.size, data.slice_hours.size, data.sites.size,
                               data.pools.size)
    for name, m, s in zip(bounder.names, bounder.models, bounder.ub, strict=True):
        s.h.changeColsBounds(bounder.cols.size, bounder.cols, x_hat, x_hat)
        res = s.solve()
        if not res.optimal:
            raise ModelInfeasibleError(
                f"scenario {data.scenarios[int(name[4:])]} is infeasible with the "
                "decomposition's first-stage plan fixed; solve with decomposition = "
                "'extensive' to see the constraint families involved")
        x = res.x
        F = first_stage_cost_vector(m)
        Q = scenario_cost_matrix(m, x.size)
        cost = float(F @ x + (Q @ x)[0]) / COST_SCALE
        comps = {c: float(first_stage_cost_vector(m, c) @ x
                          + (scenario_cost_matrix(m, x.size, c) @ x)[0]) / COST_SCALE
                 for c in COST_COMPONENTS}
        rows = m.pos["adequacy_rows"]
        du = (res.row_dual[rows] if res.row_dual is not None else np.full(rows.size, np.nan))
        du = du.reshape(1, R, Y, H).sum(axis=(0, 3))
        lp = s.lp
        out.append(_Final(int(name[4:]), cost, comps, du, lp.shape[1], lp.shape[0],
                          int(lp.A.nnz)))
        if first is None:
            first = (m, res, s)
    return out, first


def _assemble(pm_like: Any, res: Any, finals: list[_Final], result: PHResult,
              data: PlanData, options: PlanOptions, timings: dict[str, float],
              n_ranks: int) -> xr.Dataset:
    finals = sorted(finals, key=lambda f: f.w)
    wts = data.weights
    cost = np.array([f.cost for f in finals])
    comps = {c: float(sum(p * f.components[c] for p, f in zip(wts, finals, strict=True)))
             for c in COST_COMPONENTS}
    dual = sum(p * f.adequacy_dual for p, f in zip(wts, finals, strict=True))
    cap_value = np.asarray(dual) / data.discount[None, :] / 1000.0 / COST_SCALE
    summary = ScenarioSummary(scenario_cost=cost, components=comps, capacity_value=cap_value)
    from gridcap.optimizer.planning.scenario_selection import empirical_cvar

    objective = float(wts @ cost) + options.cvar_lambda * empirical_cvar(
        cost, wts, options.cvar_alpha)
    upper = min(result.upper_bound, objective)
    gap = relative_gap(result.lower_bound, upper)
    status = {"gap": "Optimal within the decomposition gap", "time_limit": "Time limit reached",
              "iteration_limit": "Iteration limit reached"}[result.stop_reason]
    ds = assemble_plan(pm_like, res, None, timings, dual_source="fixed_first_stage_lps",
                       mip_gap=gap, status=status, objective=objective * COST_SCALE,
                       summary=summary)
    ds.attrs.update({
        "solver": (f"mpi-sppy {_version('mpi-sppy')} progressive hedging ({PH_SOLVER}, "
                   "linearised proximal terms) over MPI; bounds and final LPs: HiGHS (highspy)"),
        "decomposition": "ph",
        "decomposition_lower_bound_usd": float(result.lower_bound),
        "decomposition_upper_bound_usd": float(upper),
        "decomposition_gap": float(gap),
        "decomposition_gap_target": float(options.decomposition_gap),
        "decomposition_iterations": int(result.iterations),
        "decomposition_wall_s": float(result.wall_s),
        "decomposition_stop_reason": result.stop_reason,
        "decomposition_trivial_bound_usd": float(result.trivial_bound),
        "decomposition_ranks": int(n_ranks),
        "decomposition_conversions_fixed_at_iteration": int(result.conversions_fixed_at),
        "decomposition_engine": options.decomposition_engine,
        "decomposition_history": json.dumps([[int(i), round(t, 3), lo, up]
                                             for i, t, lo, up in result.history]),
        "decomposition_lower_bound": ("best of: iteration 0's wait-and-see bound, the "
                                      "Lagrangian bound with the PH weights (conversions binary "
                                      "in each scenario's subproblem), and the multi-cut "
                                      "L-shaped master's bound (conversions binary)"),
        "decomposition_upper_bound": ("cost of the first-stage plan with every scenario's LP "
                                      "solved at it"),
        "n_variables": int(sum(f.n_cols for f in finals)),
        "n_constraints": int(sum(f.n_rows for f in finals)),
        "n_nonzeros": int(sum(f.nnz for f in finals)),
        "scenarios_in_model": int(data.scenarios.size),
    })
    return ds


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover
        return "?"


@dataclass
class _View:
    """What :func:`assemble_plan` reads from a PlanModel (scenario 0's model, all scenarios'
    labels and weights)."""

    model: Model
    data: PlanData
    options: PlanOptions
    outcomes: xr.Dataset | None
    lp: Any


def _run_job(data: PlanData, options: PlanOptions, comm: Any,
             outcomes: xr.Dataset | None, t_prep: float) -> xr.Dataset | None:
    """Collective: PH, final LPs, gather; rank 0 assembles and returns the plan."""
    result, bounder = run_ph(data, options, comm)
    if result.x_hat is None:  # the same on every rank: every rank raises
        raise ModelInfeasibleError(
            "the scenario decomposition found no feasible first-stage plan within "
            f"{result.iterations} iteration(s) ({result.stop_reason}); raise "
            "decomposition_max_iterations / time_limit_s or use decomposition = 'extensive'")
    t1 = time.perf_counter()
    finals, first = _final_lps(bounder, result.x_hat, data)
    gathered = comm.gather(finals, root=0)
    if comm.Get_rank() != 0:
        return None
    allf = [f for part in gathered for f in part]
    m, res, s = first
    view = _View(model=m, data=replace(m.data, scenarios=data.scenarios, weights=data.weights,
                                       all_scenarios=data.all_scenarios,
                                       selection=data.selection),
                 options=options, outcomes=outcomes, lp=s.lp)
    timings = {"prepare_s": t_prep, "build_s": 0.0, "handoff_s": 0.0,
               "solve_s": result.wall_s + time.perf_counter() - t1}
    return _assemble(view, res, allf, result, data, options, timings, comm.Get_size())


# --------------------------------------------------------------------- MPI entry points
def _world(comm: Any) -> Any:
    MPI = require_mpi()
    return MPI.COMM_WORLD if comm is None else comm


def solve_ph(inputs: Any, outcomes: xr.Dataset, options: PlanOptions,
             comm: Any = None) -> xr.Dataset:
    """Plan by progressive hedging over the ranks of ``comm`` (default ``COMM_WORLD``).

    Rank 0 prepares the data from its ``inputs``/``outcomes`` and broadcasts them; every rank
    then takes part and every rank returns the plan. Ranks other than 0 either call this too
    (SPMD scripts) or wait in :func:`serve`.

    Parameters
    ----------
    inputs : gridcap.schema.StudyInputs
        Study inputs (read on rank 0).
    outcomes : xarray.Dataset
        Monte Carlo outcomes (read on rank 0).
    options : PlanOptions
        Model and decomposition options.
    comm : mpi4py.MPI.Comm, optional
        Communicator.

    Returns
    -------
    xarray.Dataset
        The plan (as :func:`gridcap.optimizer.plan`) with ``decomposition_*`` attrs: lower and
        upper bounds [$], relative gap, iterations, wall time [s], stop reason.
    """
    comm = _world(comm)
    options = replace(options)
    options.validate()
    if options.flexible_ai is not None:
        raise GridcapInputError(
            "PlanOptions.flexible_ai is not supported with decomposition = 'ph' yet: expected "
            "flexible_ai = None, or decomposition = 'extensive'")
    if comm.Get_rank() != 0:
        return _serve_one(comm)
    t0 = time.perf_counter()
    try:
        data = prepare_data(inputs, outcomes, options)
    except Exception:
        _send_job(comm, ("error", None, None))
        raise
    _send_job(comm, ("plan", data, options))
    return _finish(comm, lambda: _run_job(data, options, comm, outcomes,
                                          time.perf_counter() - t0))


def _finish(comm: Any, job: Any) -> xr.Dataset:
    """Run a collective job; broadcast its plan (or the failure) from rank 0."""
    try:
        ds = job()
        err: BaseException | None = None
    except Exception as exc:  # every rank raises the same kind of error
        ds, err = None, exc
    ok = comm.allreduce(err is None, op=_land())
    if not ok:
        if err is not None:
            raise err
        raise ModelInfeasibleError("the scenario decomposition failed on another MPI rank")
    return comm.bcast(ds, root=0)


def _land() -> Any:
    from mpi4py import MPI

    return MPI.LAND


#: MPI tag of the jobs rank 0 sends to the waiting ranks.
JOB_TAG = 19


def _send_job(comm: Any, job: tuple[str, Any, Any]) -> None:
    """Rank 0: hand a job (``"plan"``, ``"error"`` or ``"stop"``) to every other rank."""
    for r in range(1, comm.Get_size()):
        comm.send(job, dest=r, tag=JOB_TAG)


def _receive_job(comm: Any) -> tuple[str, Any, Any]:
    """Ranks > 0: wait for rank 0's next job, sleeping between polls (a blocking MPI receive
    would spin a core for the whole Monte Carlo that rank 0 runs first)."""
    while not comm.Iprobe(source=0, tag=JOB_TAG):
        time.sleep(0.05)
    job: tuple[str, Any, Any] = comm.recv(source=0, tag=JOB_TAG)
    return job


def _serve_one(comm: Any) -> Any:
    kind, data, options = _receive_job(comm)
    if kind == "error":
        raise GridcapInputError("rank 0 could not prepare the plan's data (see rank 0)")
    if kind == "stop":
        return None
    return _finish(comm, lambda: _run_job(data, options, comm, None, 0.0))


def serve(comm: Any = None) -> None:
    """Ranks other than 0 of ``mpiexec -n N gridcap …``: take part in every decomposed plan
    that rank 0 asks for, until :func:`stop_workers`."""
    comm = _world(comm)
    while True:
        kind, data, options = _receive_job(comm)
        if kind == "stop":
            return
        if kind == "error":
            continue
        try:
            _finish(comm, lambda d=data, o=options: _run_job(d, o, comm, None, 0.0))
        except GridcapInputError:
            continue  # rank 0 reports it


def stop_workers(comm: Any = None) -> None:
    """Rank 0: release the ranks waiting in :func:`serve`."""
    comm = _world(comm)
    if comm.Get_size() > 1 and comm.Get_rank() == 0:
        _send_job(comm, ("stop", None, None))
