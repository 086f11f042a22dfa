"""One owner per default: domain parameter tables document every field, the config reads them."""

from __future__ import annotations

import dataclasses

import pytest

from gridcap.config import SECTIONS, parse_config, schema_markdown
from gridcap.errors import GridcapInputError
from gridcap.kernels.compute import ComputeAssumptions
from gridcap.kernels.contracts import ContractTerms
from gridcap.optimizer import FinanceOptions, PlanOptions
from gridcap.optimizer.financing.options import MezzanineTerms, ProjectTerms, SeniorTerms
from gridcap.params import check_params, param_table, params_markdown, undocumented_fields

MINIMAL = {"study": {"name": "t", "start_year": 2026, "horizon_years": 5, "regions": ["ERCOT"]}}

#: config section -> the domain table that owns its defaults
OWNERS = {
    "optimizer": PlanOptions,
    "compute": ComputeAssumptions,
    "finance": ProjectTerms,
    "finance.senior": SeniorTerms,
    "finance.mezzanine": MezzanineTerms,
}
#: option tables with no config section (yet): documented all the same
TABLES = [*OWNERS.values(), FinanceOptions, ContractTerms]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.__name__)
def test_every_field_is_documented_with_unit_and_meaning(table):
    assert undocumented_fields(table) == []
    for p in param_table(table):
        assert p.doc, p.name
        if p.config and p.kind in (int, float):
            assert p.unit, f"{table.__name__}.{p.name} has no unit"
            assert p.source, f"{table.__name__}.{p.name} has no source"


@pytest.mark.parametrize(("section", "table"), list(OWNERS.items()))
def test_config_section_is_generated_from_its_owner(section, table):
    """Same keys, defaults, ranges and sources in the config as in the domain table."""
    rows = {p.name: p for p in param_table(table, config_only=True)}
    keys = {k.name: k for k in SECTIONS[section]}
    assert keys.keys() == rows.keys()
    for name, key in keys.items():
        assert key.default == rows[name].default, name
        assert key.source == rows[name].source, name
        assert key.expected == rows[name].expected(), name
    md = schema_markdown()
    assert all(f"`{section}.{name}`" in md for name in keys)


def test_study_without_optimizer_table_plans_with_the_options_defaults():
    cfg = parse_config(MINIMAL)
    assert cfg.plan_options() == dataclasses.replace(PlanOptions(), seed=cfg.study.seed)
    assert cfg.compute_assumptions() == ComputeAssumptions()
    assert cfg.finance_options() == FinanceOptions()


def test_finance_terms_defaults_are_the_config_defaults():
    from gridcap.optimizer import finance_terms
    from gridcap.pipeline import finance_terms as study_terms

    mine, study = finance_terms(), study_terms(parse_config(MINIMAL))
    assert mine.drop_attrs().identical(study.drop_attrs())
    assert all(mine[v].attrs.get("units", "") == study[v].attrs.get("units", "")
               for v in study.data_vars)


def test_study_values_reach_the_options_object():
    raw = dict(MINIMAL, optimizer={"cvar_lambda": 0.25, "flex_cost_usd_per_kw_yr": 55.0},
               compute={"gpu_capex_usd": 25000.0})
    cfg = parse_config(raw)
    opts = cfg.plan_options()
    assert (opts.cvar_lambda, opts.flex_cost_usd_per_kw_yr) == (0.25, 55.0)
    # one payment: the same key is the Monte Carlo's credit to the DER pools
    assert cfg.simulate_options().flex_payment_usd_per_kw_yr == 55.0
    assert cfg.compute_assumptions().gpu_cost_usd_per_gpu_hour == pytest.approx(
        25000.0 / (5 * 8760.0), rel=1e-15)


def test_range_checks_come_from_the_table():
    assert check_params(PlanOptions(), "PlanOptions") == []
    bad = PlanOptions(cvar_alpha=1.0, mip_gap=-1.0, handoff="fax")
    problems = check_params(bad, "PlanOptions")
    assert problems == [
        "PlanOptions.cvar_alpha = 1.0: expected a number in [0, 1) [1]",
        "PlanOptions.mip_gap = -1.0: expected a number in [0, 1) [1]",
        "PlanOptions.handoff = 'fax': expected one of ['matrix', 'pyomo']",
    ]
    with pytest.raises(GridcapInputError, match="cvar_alpha"):
        bad.validate()
    with pytest.raises(Exception, match=r"optimizer.cvar_lambda = -1.0: expected a number in \[0"):
        parse_config(dict(MINIMAL, optimizer={"cvar_lambda": -1.0}))


def test_markdown_table_lists_source():
    md = params_markdown(ComputeAssumptions)
    assert "| `tokens_per_gpu_hour` | 10000000.0 | tokens/GPU-h |" in md
    assert "MLPerf" in md


def test_flexibility_payment_has_one_owner():
    """Planner cost and Monte Carlo credit of a contracted kW are one cited value, and the
    study key that changes it changes the Monte Carlo checkpoint fingerprint."""
    from gridcap.kernels.options import SimulateOptions
    from gridcap.kernels.sites import FLEX_PAYMENT_USD_PER_KW_YR
    from gridcap.pipeline import monte_carlo_fingerprint

    assert (PlanOptions().flex_cost_usd_per_kw_yr == SimulateOptions().flex_payment_usd_per_kw_yr
            == FLEX_PAYMENT_USD_PER_KW_YR == pytest.approx(9.65 * 12, rel=1e-12))
    cfg = parse_config(MINIMAL)
    assert cfg.simulate_options().flex_payment_usd_per_kw_yr == FLEX_PAYMENT_USD_PER_KW_YR
    other = parse_config(dict(MINIMAL, optimizer={"flex_cost_usd_per_kw_yr": 60.0}))
    assert monte_carlo_fingerprint(other) != monte_carlo_fingerprint(cfg)
