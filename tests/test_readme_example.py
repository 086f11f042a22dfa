"""The README's "Using it from Python" example runs as written and equals ``gridcap run``.

The example is read from README.md (not copied here), executed, and its plan, capital stack
and chain compared with the results file ``gridcap run quickstart`` writes: same model, same
numbers (the stages are the same functions with the same options objects).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gridcap.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Using it from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the README section must hold exactly one python block"
    return blocks[0]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["run", "quickstart", "--out", str(out), "--quiet"]) == 0
    namespace: dict = {}
    exec(compile(_python_example(), "README.md", "exec"), namespace)
    with xr.open_dataset(out / "results.nc") as ds:
        results = ds.load()
    return namespace, results


def _same(mine: xr.DataArray, written: xr.DataArray) -> None:
    """Equal values, bit for bit, at ``mine``'s labels (the results file is an outer merge)."""
    at = written.sel({d: mine[d] for d in mine.dims if d in mine.coords})
    np.testing.assert_array_equal(mine.values, at.transpose(*mine.dims).values,
                                  err_msg=str(mine.name))


def test_readme_plan_equals_gridcap_run(both):
    ns, results = both
    plan_ds = ns["plan_ds"]
    for name in ("objective_usd", "expected_cost_usd", "cvar_cost_usd"):
        assert float(plan_ds[name]) == float(results[name]), name
    for name in ("online_mw", "converted"):
        _same(plan_ds[name], results[name])
    assert plan_ds.attrs["cvar_lambda"] == 0.5  # the study's value reached the planner


def test_readme_outcomes_finance_and_chain_equal_gridcap_run(both):
    ns, results = both
    _same(ns["outcomes"]["site_cfads_usd"], results["mc__site_cfads_usd"])
    _same(ns["capital"]["tranche_size_usd"], results["tranche_size_usd"])
    _same(ns["chain"]["chain_usd_per_mtok_total"], results["chain_usd_per_mtok_total"])
