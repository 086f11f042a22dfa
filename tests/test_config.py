"""Study config: key paths, values and allowed ranges in every message; unknown keys rejected."""

from __future__ import annotations

import pytest

from gridcap.config import SECTIONS, all_keys, load_config, parse_config, schema_markdown
from gridcap.errors import ConfigError

MINIMAL = {"study": {"name": "t", "start_year": 2026, "horizon_years": 5, "regions": ["ERCOT"]}}


def _with(section: str, key: str, value) -> dict:
    raw = {"study": dict(MINIMAL["study"])}
    node = raw
    for part in section.split("."):
        node = node.setdefault(part, {})
    node[key] = value
    return raw


def test_minimal_config_gets_documented_defaults():
    cfg = parse_config(MINIMAL)
    assert cfg.years == [2026, 2027, 2028, 2029, 2030]
    for section, keys in SECTIONS.items():
        obj = getattr(cfg, section.replace(".", "_"))
        for key in keys:
            assert hasattr(obj, key.name)
    assert cfg.optimizer.cvar_alpha == 0.95
    assert cfg.finance_senior.pd_target == 0.001


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("optimizer", "cvar_alpha", 1.0, "optimizer.cvar_alpha = 1.0: expected a number in [0, 1)"),
        ("monte_carlo", "scenarios", 0, "monte_carlo.scenarios = 0: expected a number in [1,"),
        ("study", "backend", "gpu", "study.backend = 'gpu': expected one of ['auto', 'numpy'"),
        (
            "finance.senior",
            "rate",
            -0.02,
            "finance.senior.rate = -0.02: expected a number in [0, 1)",
        ),
        ("finance.mezzanine", "dscr_target", 0, "finance.mezzanine.dscr_target = 0.0: expected"),
        (
            "finance.senior",
            "pd_target",
            1.5,
            "finance.senior.pd_target = 1.5: expected a number in (0, 1)",
        ),
        ("monte_carlo", "scenarios", "many", "monte_carlo.scenarios = 'many': expected int"),
        ("study", "regions", "ERCOT", "study.regions = 'ERCOT': expected list"),
        ("optimizer", "cvar_lamda", 0.5, "optimizer.cvar_lamda: unknown key"),
    ],
)
def test_each_bad_value_names_key_value_and_range(section, key, value, message):
    with pytest.raises(ConfigError) as info:
        parse_config(_with(section, key, value))
    assert message in str(info.value)


def test_all_problems_reported_together_including_cross_checks():
    raw = _with("finance.senior", "tenor_years", 41)
    raw["optimizer"] = {"scenarios_in_model": 500, "cvar_alpha": -1}
    raw["surprise"] = {"x": 1}
    del raw["study"]["start_year"]
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    text = str(info.value)
    assert "finance.senior.tenor_years = 41" in text
    assert "optimizer.scenarios_in_model = 500: expected at most monte_carlo.scenarios = 64" in text
    assert "optimizer.cvar_alpha = -1" in text
    assert "[surprise]: unknown section" in text
    assert "study.start_year is missing" in text
    assert len(info.value.problems) == 5


def test_overrides_are_validated_and_unknown_keys_rejected():
    cfg = parse_config(MINIMAL)
    assert cfg.with_overrides({"optimizer.cvar_lambda": 2}).optimizer.cvar_lambda == 2.0
    with pytest.raises(ConfigError, match="optimizer.nope: unknown key"):
        cfg.with_overrides({"optimizer.nope": 1})
    with pytest.raises(ConfigError, match="study.seed = -1"):
        cfg.with_overrides({"study.seed": -1})


def test_shipped_studies_load_and_unknown_study_is_explained(tmp_path):
    cfg = load_config("quickstart")
    assert cfg.study.name == "quickstart"
    with pytest.raises(ConfigError, match="shipped studies are .*quickstart"):
        load_config("no-such-study")
    broken = tmp_path / "broken.toml"
    broken.write_text("[study\nname = 1")
    with pytest.raises(ConfigError, match="TOML syntax error"):
        load_config(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_roundtrip_to_dict_and_schema_docs_cover_every_key():
    cfg = parse_config(MINIMAL)
    assert parse_config(cfg.to_dict()) == cfg
    doc = schema_markdown()
    for key in all_keys():
        assert f"`{key}`" in doc
