"""The persistent siting model in a sweep: warm re-solves match cold builds, and replaying the
solve sequence makes partial (resumed) chains bit-identical to uninterrupted ones."""

from __future__ import annotations

import pytest
import xarray as xr
from test_batch_sweep import _assert_same, base_config

from gridcap.batch import PlanChain, solve_chain
from gridcap.pipeline import build_inputs, plan_stage, simulate_stage


@pytest.fixture(scope="module")
def quick_outcomes():
    cfg = base_config()
    inputs = build_inputs(cfg)
    return cfg, inputs, simulate_stage(cfg, inputs)


def test_persistent_resolve_matches_fresh_builds(quick_outcomes):
    cfg, inputs, outcomes = quick_outcomes
    chain = PlanChain(inputs, outcomes)
    for lam, alpha in ((0.1, 0.95), (1.0, 0.95), (1.0, 0.9), (0.3, 0.9)):
        vcfg = cfg.with_overrides({"optimizer.cvar_lambda": lam, "optimizer.cvar_alpha": alpha})
        persistent = chain.solve(vcfg)
        fresh = plan_stage(vcfg, inputs, outcomes)
        assert float(persistent.attrs["cvar_lambda"]) == lam
        assert float(persistent.attrs["cvar_alpha"]) == alpha
        _assert_same(persistent, fresh, list(fresh.data_vars), 1e-9, f"λ={lam}, α={alpha}")
    assert (chain.builds, chain.updates) == (1, 3)
    # a change the model cannot make in place rebuilds it
    chain.solve(cfg.with_overrides({"optimizer.mip_gap": 0.01}))
    assert chain.builds == 2


def test_chain_replay_makes_partial_runs_bit_identical(quick_outcomes, monkeypatch):
    """Resuming a chain (some variants done) replays the solve sequence: bitwise equal."""
    import gridcap.pipeline

    monkeypatch.setattr(gridcap.pipeline, "finance_stage",
                        lambda cfg, inputs, plan_ds, outcomes: xr.Dataset())
    cfg, inputs, outcomes = quick_outcomes
    jobs = [(i, cfg.with_overrides({"optimizer.cvar_lambda": lam}))
            for i, lam in enumerate((0.1, 1.0, 2.0))]
    full = dict(solve_chain(jobs, inputs, outcomes, None))
    for skip in ({0, 1}, {1}):
        part = dict(solve_chain(jobs, inputs, outcomes, None, skip=skip))
        assert sorted(part) == sorted(set(range(3)) - skip)
        for i, ds in part.items():
            xr.testing.assert_identical(ds.drop_attrs(), full[i].drop_attrs())
    assert solve_chain(jobs, inputs, outcomes, None, skip={0, 1, 2}) == []
