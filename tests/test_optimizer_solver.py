"""Tests of the model builder and HiGHS bridge: the on-demand Pyomo model, persistence, duals,
IIS."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gridcap.optimizer.planning.siting import PlanOptions, build_model, prepare_data
from gridcap.optimizer.planning.solver import HighsSolver, ModelBuilder
from gridcap.optimizer.planning.synthetic import synthetic_study


def tiny() -> ModelBuilder:
    """min x0 + 2 x1 + 0.5 x2 + 3 y  s.t.  x0+x1+x2 ≥ 6,  x2 ≤ 10 y,  x0 = 1;
    x0 ≤ 4, x1 ≤ 5, y ∈ {0, 1}.  Optimum: y = 1, x = (1, 0, 5), objective 6.5."""
    b = ModelBuilder()
    x = b.add_variables("x", {"i": np.arange(3)}, 0, [4, 5, np.inf])
    y = b.add_variables("y", {"i": np.arange(1)}, 0, 1, integer=True)
    b.add_constraints("cover", {"i": np.arange(1)}, np.zeros(3, int), x.cols, np.ones(3), 6,
                      np.inf)
    b.add_constraints("link", {"i": np.arange(1)}, np.zeros(2, int),
                      np.r_[x.cols[2], y.cols[0]], np.r_[1.0, -10.0], -np.inf, 0)
    b.add_constraints("fix", {"i": np.arange(1)}, np.zeros(1, int), x.cols[:1], np.ones(1), 1,
                      1)
    b.set_objective(np.r_[1.0, 2.0, 0.5, 3.0])
    return b


@pytest.mark.parametrize("via", ["matrix", "pyomo"])
def test_tiny_mip_optimum_and_fixed_integer_duals(via):
    s = HighsSolver(tiny().compile(via))
    r = s.solve()
    assert r.is_mip
    assert_allclose(r.objective, 6.5)
    assert_allclose(r.x, [1, 0, 5, 1], atol=1e-9)
    s.fix_integers(r.x)
    r2 = s.solve()
    assert not r2.is_mip
    assert_allclose(r2.objective, 6.5)
    # cover binds: one more unit of demand costs 0.5 (x2); x0 = 1 saves 1 - 0.5
    assert_allclose(r2.row_dual, [0.5, 0.0, 0.5], atol=1e-9)
    s.unfix_integers()
    assert s.solve().is_mip


def test_pyomo_standard_form_equals_matrix_handoff():
    inputs, out = synthetic_study(regions=2, scenarios=3, slices=4, years=4, sites=2, seed=1)
    opts = PlanOptions(cvar_lambda=0.4)
    m = build_model(prepare_data(inputs, out, opts), opts)
    a = m.b.compile("matrix")
    b = m.b.compile("pyomo")   # the on-demand Pyomo model through Pyomo's standard-form compiler
    assert a.A.nnz == b.A.nnz > 0
    assert abs(a.A - b.A).max() == 0.0
    for name in ("row_lower", "row_upper", "col_lower", "col_upper", "integrality", "c"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_pyomo_model_solved_by_pyomos_highs_interface_matches_matrix_path():
    """The Pyomo model a user gets from ``PlanModel.to_pyomo()`` (after an in-place parameter
    change), solved by Pyomo's own HiGHS interface, has the matrix path's optimum."""
    import pyomo.environ as pyo
    from pyomo.contrib.solver.common.factory import SolverFactory

    from gridcap.optimizer.planning.siting import PlanModel

    inputs, out = synthetic_study(regions=2, scenarios=3, slices=4, years=4, sites=2, seed=1)
    pm = PlanModel(inputs, out, PlanOptions(cvar_lambda=0.4, mip_gap=0.0, threads=1))
    pm.set_param("cvar_lambda", 0.7)          # in place: must be in the exported model
    direct = pm.solver.solve()
    assert direct.optimal and direct.is_mip
    model = pm.to_pyomo()
    assert model.nvariables() == pm.lp.shape[1] and model.nconstraints() == pm.lp.shape[0]
    res = SolverFactory("highs").solve(model, rel_gap=0.0, threads=1)
    assert_allclose(pyo.value(model.objective), direct.objective, rtol=1e-9)
    assert_allclose(res.incumbent_objective, direct.objective, rtol=1e-9)
    fresh = PlanModel(inputs, out, PlanOptions(cvar_lambda=0.7, mip_gap=0.0, threads=1))
    assert_allclose(fresh.solver.solve().objective, direct.objective, rtol=1e-9)
    b = pm.model.b
    for name in ("build", "convert"):               # first-stage plan variables, by family
        fam = b.var_families[name]
        got = np.array([getattr(model, name)[i].value for i in range(fam.n)])
        assert_allclose(got, direct.x[fam.start:fam.start + fam.n], atol=1e-6, err_msg=name)


def test_persistent_cost_change_matches_fresh_solver():
    b = tiny()
    s = HighsSolver(b.compile())
    s.solve()
    c = np.r_[1.0, 0.2, 0.5, 3.0]           # x1 now cheaper than x2
    s.change_costs(c)
    r = s.solve()
    b.set_objective(c)
    fresh = HighsSolver(b.compile()).solve()
    assert_allclose(r.objective, fresh.objective)
    assert_allclose(r.objective, 1 + 0.2 * 5)   # x1 = 5 covers the rest, y = 0


def test_iis_names_the_conflicting_rows():
    b = ModelBuilder()
    x = b.add_variables("x", {"i": np.arange(2)}, 0, 1)
    b.add_constraints("need", {"i": np.arange(1)}, np.zeros(2, int), x.cols, np.ones(2), 3,
                      np.inf)                                   # impossible with x ≤ 1
    b.add_constraints("free", {"i": np.arange(1)}, np.zeros(1, int), x.cols[:1], np.ones(1),
                      -np.inf, 5)
    b.set_objective(np.ones(2))
    s = HighsSolver(b.compile())
    r = s.solve()
    assert s.is_infeasible_or_unbounded(r) == "infeasible"
    rows, cols = s.iis()
    assert [b.locate_row(int(i))[0].name for i in rows] == ["need"]
    assert sorted(b.locate_col(int(j))[0].name for j in cols) == ["x", "x"]


def test_sweep_first_solve_is_cold_then_warm_restarts_cut_iterations():
    """A parameter change before any solve has no basis to warm-start from: the first solve
    must be HiGHS's own cold choice (a cold primal simplex was 3.6× slower at 1e5 variables),
    and later λ changes must re-solve in fewer iterations than from scratch."""
    from gridcap.optimizer.planning.siting import PlanModel

    inputs, out = synthetic_study(regions=2, scenarios=6, slices=8, years=4, sites=3, seed=2)
    built_at = PlanOptions(relax_integers=True, cvar_lambda=0.5, threads=1)
    pm = PlanModel(inputs, out, built_at)
    pm.set_param("cvar_lambda", 0.0)             # asks for primal simplex, but no basis yet
    first = pm.solver.solve()
    fresh = PlanModel(inputs, out, replace(built_at, cvar_lambda=0.0)).solver.solve()
    assert first.simplex_iterations == fresh.simplex_iterations > 0
    assert_allclose(first.objective, fresh.objective, rtol=1e-9)
    pm.set_param("cvar_lambda", 1.0)
    warm = pm.solver.solve()
    cold = PlanModel(inputs, out, replace(built_at, cvar_lambda=1.0)).solver.solve()
    assert_allclose(warm.objective, cold.objective, rtol=1e-9)
    assert warm.simplex_iterations < cold.simplex_iterations


def test_solvers_asking_for_different_thread_counts_both_solve():
    """HiGHS has one thread scheduler per process and refuses (status kError, nothing solved)
    a model asking for another thread count; the solver must restart it, not return zeros."""
    two = HighsSolver(tiny().compile(), threads=2).solve()
    one = HighsSolver(tiny().compile(), threads=1).solve()
    two_again = HighsSolver(tiny().compile(), threads=2).solve()
    for r in (two, one, two_again):
        assert r.optimal and r.simplex_iterations >= 0
        assert_allclose(r.objective, 6.5)


def test_plan_and_debt_sizing_never_build_a_pyomo_model():
    """One representation: a plain plan and a risk-targeted sizing run on the builder's
    triplets and HiGHS; Pyomo is imported only when a user asks for ``to_pyomo()``."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from gridcap.optimizer.planning.siting import PlanModel, PlanOptions\n"
        "from gridcap.optimizer.planning.synthetic import synthetic_study\n"
        "from gridcap.optimizer.financing.sizing import size_to_risk\n"
        "i, o = synthetic_study(regions=2, scenarios=3, slices=4, years=4, sites=2, seed=1)\n"
        "pm = PlanModel(i, o, PlanOptions()); pm.solve()\n"
        "cf = 1e8 * np.random.default_rng(0).uniform(0.5, 1.5, (40, 8))\n"
        "for m in ('milp', 'cvar', 'el'): size_to_risk(cf, 0.06, target=0.05, method=m)\n"
        "print(any(k == 'pyomo' or k.startswith('pyomo.') for k in sys.modules))\n"
        "pm.to_pyomo()\n"
        "print(any(k == 'pyomo' or k.startswith('pyomo.') for k in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
