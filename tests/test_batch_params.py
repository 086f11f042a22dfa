"""Sweep parameters: parsing, the variant grid, and which variants share which stage."""

from __future__ import annotations

import pytest

from gridcap.batch import parse_param, plan_key, variants
from gridcap.config import load_config
from gridcap.errors import ConfigError
from gridcap.pipeline import monte_carlo_fingerprint


@pytest.fixture(scope="module")
def cfg():
    return load_config("quickstart")


@pytest.mark.parametrize(
    ("text", "key", "values"),
    [
        ("optimizer.cvar_lambda=0.1,0.5,1", "optimizer.cvar_lambda", [0.1, 0.5, 1.0]),
        ("monte_carlo.scenarios=8, 16", "monte_carlo.scenarios", [8, 16]),
        ("finance.senior.dscr_target=1.25,1.4", "finance.senior.dscr_target", [1.25, 1.4]),
        ("study.backend=numpy,numba-cpu", "study.backend", ["numpy", "numba-cpu"]),
        ("study.seed=7", "study.seed", [7]),
    ],
)
def test_parse_param_ok(text, key, values):
    got_key, got = parse_param(text)
    assert got_key == key
    assert got == values
    assert [type(v) for v in got] == [type(v) for v in values]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optimizer.cvar_lamda=0.1", "did you mean optimizer.cvar_lambda"),
        ("nope.key=1", "nope.key: unknown key; known keys are"),
        ("optimizer.cvar_lambda=abc", "optimizer.cvar_lambda = 'abc': expected float"),
        ("optimizer.cvar_lambda=-1", "optimizer.cvar_lambda = -1.0: expected a number in [0, 100]"),
        ("monte_carlo.scenarios=2.5", "monte_carlo.scenarios = '2.5': expected int"),
        ("study.backend=gpu", "expected one of"),
        ("optimizer.cvar_lambda", "expected KEY=V1,V2"),
        ("optimizer.cvar_lambda=", "expected KEY=V1,V2"),
        ("optimizer.cvar_lambda=0.5,0.50", "repeat"),
        ("study.regions=ERCOT", "list-valued keys cannot be swept"),
    ],
)
def test_parse_param_errors_name_key_and_value(text, message):
    with pytest.raises(ConfigError) as err:
        parse_param(text)
    assert message in str(err.value)


def test_variants_are_the_cartesian_product_first_key_slowest(cfg):
    grid = variants(cfg, {"optimizer.cvar_lambda": [0.1, 1.0],
                          "finance.senior.dscr_target": [1.2, 1.3, 1.4]})
    assert len(grid) == 6
    assert grid[0] == {"optimizer.cvar_lambda": 0.1, "finance.senior.dscr_target": 1.2}
    assert grid[2] == {"optimizer.cvar_lambda": 0.1, "finance.senior.dscr_target": 1.4}
    assert grid[3] == {"optimizer.cvar_lambda": 1.0, "finance.senior.dscr_target": 1.2}
    assert len({tuple(sorted(g.items())) for g in grid}) == 6


def test_variants_report_every_bad_variant(cfg):
    # scenarios_in_model = 16 in quickstart: 8 scenarios breaks the cross-check
    with pytest.raises(ConfigError) as err:
        variants(cfg, {"monte_carlo.scenarios": [8, 32], "nope.key": [1]})
    assert "nope.key: unknown key" in str(err.value)
    with pytest.raises(ConfigError) as err:
        variants(cfg, {"monte_carlo.scenarios": [4, 8, 32]})
    assert len(err.value.problems) == 2
    assert "scenarios_in_model" in err.value.problems[0]
    with pytest.raises(ConfigError, match="non-empty list"):
        variants(cfg, {"optimizer.cvar_lambda": []})
    with pytest.raises(ConfigError, match="at least one"):
        variants(cfg, {})


def test_stage_sharing_keys(cfg):
    base_mc, base_plan = monte_carlo_fingerprint(cfg), plan_key(cfg)
    opt = cfg.with_overrides({"optimizer.cvar_lambda": 0.9})
    fin = cfg.with_overrides({"finance.senior.dscr_target": 1.5})
    seed = cfg.with_overrides({"study.seed": cfg.study.seed + 1})
    assert monte_carlo_fingerprint(opt) == base_mc and plan_key(opt) != base_plan
    assert monte_carlo_fingerprint(fin) == base_mc and plan_key(fin) == base_plan
    assert monte_carlo_fingerprint(seed) != base_mc and plan_key(seed) != base_plan
    # the site model uses the GPU count and cost, not the token throughput
    for key, value in (("compute.gpus_per_mw", 700.0), ("compute.gpu_capex_usd", 30_000.0),
                       ("compute.gpu_life_years", 4.0)):
        assert monte_carlo_fingerprint(cfg.with_overrides({key: value})) != base_mc, key
    tokens = cfg.with_overrides({"compute.tokens_per_gpu_hour": 2e7})
    assert monte_carlo_fingerprint(tokens) == base_mc
