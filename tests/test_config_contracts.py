"""Per-site contract terms in the study TOML: ``[contracts.<site_id>]`` (issue 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gridcap.cli import EXIT_BAD_INPUT, EXIT_OK, main
from gridcap.config import CONTRACT_KEYS, load_config, schema_markdown
from gridcap.datasets.financings import site_contracts
from gridcap.errors import ConfigError, GridcapInputError
from gridcap.kernels.contracts import LEASE_DEFAULTS, LEASE_FORMS, REVENUE_MODES, ContractTerms
from gridcap.params import param_table
from gridcap.pipeline import build_inputs

QUICKSTART = Path(__file__).resolve().parent.parent / "datasets" / "studies" / "quickstart.toml"

TERMS = """
[contracts.riot_rockdale]
revenue_mode = "colocation_lease"
rent_usd_per_mw_yr = 1500000
term_years = 10
escalator = 0.025
lease_form = "triple_net"
tenant_rating = "A"
guarantor_rating = "AA+"
backstop_usd = 2.0e8
"""


def _study(tmp_path: Path, extra: str) -> Path:
    p = tmp_path / "study.toml"
    p.write_text(QUICKSTART.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return p


def _contracts(sites):
    return site_contracts(sites, gpu_life_years=5.0, gpu_capex_usd_per_mw=3.0e7,
                          gpu_cost_usd_per_mw_yr=1.0e6)


def test_keys_are_generated_from_the_domain_table():
    """One owner: every LEASE_DEFAULTS term is a key, with the same range SiteContracts uses."""
    names = {p.name for p in param_table(ContractTerms, config_only=True)}
    assert names == {"revenue_mode"} | (set(LEASE_DEFAULTS) - {"mode"})
    assert {k.name for k in CONTRACT_KEYS} == names
    md = schema_markdown()
    assert all(f"`contracts.<site_id>.{n}`" in md for n in names)
    keys = {k.name: k for k in CONTRACT_KEYS}
    assert all(repr(m) in keys["revenue_mode"].expected for m in REVENUE_MODES)
    assert all(f in keys["lease_form"].expected for f in LEASE_FORMS)


def test_terms_from_the_toml_reach_the_site_contracts(tmp_path):
    cfg = load_config(_study(tmp_path, TERMS))
    assert cfg.site_contract_terms()["riot_rockdale"]["term_years"] == 10.0
    # the terms survive a round trip through overrides (to_dict -> parse_config)
    assert cfg.with_overrides({"optimizer.cvar_lambda": 0.2}).contracts == cfg.contracts
    inputs = build_inputs(cfg)
    base, _ = _contracts(build_inputs(load_config(QUICKSTART)).sites)
    c, info = _contracts(inputs.sites)
    i = c.site.index("riot_rockdale")
    assert c.rent_usd_per_mw_yr[i] == 1.5e6
    assert c.term_years[i] == 10.0 and c.escalator[i] == 0.025
    assert c.owner_opex_share[i] == LEASE_FORMS["triple_net"]
    assert c.backstop_usd[i] == 2.0e8
    assert info["tenant_rating"][i] == "A" and info["guarantor_rating"][i] == "AA+"
    assert c.tenant_hazard[i] < base.tenant_hazard[i]  # A is safer than the BB- default
    # every other site keeps its deal / the defaults
    others = [j for j in range(len(c.site)) if j != i]
    np.testing.assert_array_equal(c.rent_usd_per_mw_yr[others], base.rent_usd_per_mw_yr[others])
    np.testing.assert_array_equal(c.term_years[others], base.term_years[others])


@pytest.mark.parametrize(("line", "needle"), [
    ("rent_usd_per_mw_yr = -5.0", "contracts.riot_rockdale.rent_usd_per_mw_yr = -5.0: expected a number >= 0"),
    ("escalator = 1.0", "contracts.riot_rockdale.escalator = 1.0: expected a number in [0, 1)"),
    ("tenant_rating = \"ZZZ\"", "contracts.riot_rockdale.tenant_rating = 'ZZZ': expected an S&P"),
    ("lease_form = \"gross\"", "contracts.riot_rockdale.lease_form = 'gross': expected one of"),
    ("revenue_mode = \"bitcoin\"", "contracts.riot_rockdale.revenue_mode = 'bitcoin'"),
    ("rent = 1.0", "contracts.riot_rockdale.rent: unknown key"),
])
def test_bad_term_is_rejected_by_validate_naming_key_value_range(tmp_path, capsys, line, needle):
    study = _study(tmp_path, f"\n[contracts.riot_rockdale]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(study)
    assert needle in str(err.value)
    assert main(["validate", str(study)]) == EXIT_BAD_INPUT
    assert needle in " ".join(capsys.readouterr().err.split())


def test_unknown_site_is_rejected_listing_the_study_sites(tmp_path, capsys):
    study = _study(tmp_path, "\n[contracts.no_such_mine]\nterm_years = 10\n")
    assert main(["validate", str(study)]) == EXIT_BAD_INPUT
    err = " ".join(capsys.readouterr().err.split())
    assert "contracts.no_such_mine: site not in this study" in err and "riot_rockdale" in err
    assert main(["validate", str(_study(tmp_path, TERMS))]) == EXIT_OK


def test_backstop_larger_than_the_obligations_is_rejected_by_validate(tmp_path, capsys):
    study = _study(tmp_path, "\n[contracts.riot_rockdale]\nbackstop_usd = 1.0e13\n"
                   "guarantor_rating = \"AA\"\n")
    assert main(["validate", str(study)]) == EXIT_BAD_INPUT
    assert "backstop" in capsys.readouterr().err
    with pytest.raises(GridcapInputError, match="backstop"):
        _contracts(build_inputs(load_config(study)).sites)


def test_dotted_overrides_set_and_check_contract_terms():
    cfg = load_config(QUICKSTART, overrides={"contracts.riot_rockdale.term_years": 12,
                                             "contracts.riot_rockdale.tenant_rating": "BBB"})
    assert cfg.site_contract_terms() == {"riot_rockdale": {"term_years": 12.0,
                                                           "tenant_rating": "BBB"}}
    with pytest.raises(ConfigError, match=r"contracts.riot_rockdale.escalator = 2.0: expected"):
        cfg.with_overrides({"contracts.riot_rockdale.escalator": 2.0})
