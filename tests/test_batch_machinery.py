"""Sweep machinery with stand-in stages (fast): stage sharing, checkpoint/resume after a crash,
corrupt variant or shared groups, and mismatched stores.

The stand-ins replace gridcap.pipeline's stages; the real pipeline is exercised by
``test_batch_sweep.py`` (slow)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import xarray as xr
from test_checkpoint_resume import fake_compute

import gridcap.batch
import gridcap.pipeline
from gridcap.batch import VARIANT_STORE, shared_name, sweep, variant_name
from gridcap.checkpoint import INTEGRITY_DIR, CheckpointError, map_scenario_batches, read_group
from gridcap.config import load_config
from gridcap.schema import StudyInputs

PARAMS = {
    "study.seed": [1, 2],
    "optimizer.cvar_lambda": [0.5, 2.0],
    "finance.senior.dscr_target": [1.2, 1.4],
}


class Stages:
    """Stand-in stages that count their calls and can crash after N finance runs."""

    def __init__(self, crash_after: int | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.crash_after = crash_after

    def build_inputs(self, cfg):
        self.calls["inputs"] += 1
        empty = xr.Dataset()
        return StudyInputs(fleet=empty, sites=empty, regions=empty, technologies=empty,
                           finance=empty, years=np.arange(2026, 2029))

    def simulate_stage(self, cfg, inputs, progress=None, *, store=None, resume=False,
                       client=None):
        seed = cfg.study.seed

        def compute(offset, count):
            self.calls[f"mc batch seed={seed}"] += 1
            ds = fake_compute(offset, count)
            return ds.assign(peak_net_load_mw=ds.peak_net_load_mw * seed)

        return map_scenario_batches(compute, 6, 3, store=store, resume=resume,
                                    progress=progress)

    def plan_stage(self, cfg, inputs, outcomes):
        self.calls["plan"] += 1
        lam = cfg.optimizer.cvar_lambda
        load = float(outcomes.peak_net_load_mw.mean())
        return xr.Dataset({"objective_usd": ((), lam * load, {"units": "$"}),
                           "build_mw": (("year",), lam * np.arange(3.0), {"units": "MW"})},
                          coords={"year": inputs.years})

    def finance_stage(self, cfg, inputs, plan_ds, outcomes):
        self.calls["finance"] += 1
        if self.crash_after is not None and self.calls["finance"] > self.crash_after:
            raise KeyboardInterrupt("simulated crash")
        dscr = float(inputs.finance.dscr_target.sel(tranche="senior"))
        return xr.Dataset({"tranche_size_usd": (("tranche",), [float(plan_ds.objective_usd)
                                                               / dscr, 1.0])},
                          coords={"tranche": ["senior", "mezzanine"]})


@pytest.fixture
def stages(monkeypatch):
    def install(crash_after=None):
        st = Stages(crash_after)
        for name in ("build_inputs", "simulate_stage", "plan_stage", "finance_stage"):
            monkeypatch.setattr(gridcap.pipeline, name, getattr(st, name))
        monkeypatch.setattr(gridcap.batch, "_plan_model_class", lambda: None)
        monkeypatch.setattr(gridcap.pipeline, "chain_stage",
                            lambda cfg, inputs, outcomes, plan_ds, fin: xr.Dataset(),
                            raising=False)
        return st

    return install


@pytest.fixture(scope="module")
def cfg():
    return load_config("quickstart")


def test_stages_are_shared_and_values_are_each_variants_own(cfg, stages, tmp_path):
    st = stages()
    res = sweep(cfg, PARAMS, tmp_path)
    assert res.sizes["variant"] == 8
    # one Monte Carlo per seed (2 batches each), one plan per (seed, λ), finance per variant
    assert st.calls["mc batch seed=1"] == st.calls["mc batch seed=2"] == 2
    assert st.calls["inputs"] == 2
    assert st.calls["plan"] == 4
    assert st.calls["finance"] == 8
    assert res["mc__peak_net_load_mw"].dims[0] == "variant"  # differs between seeds
    for v in range(8):
        over = json.loads(str(res.variant_config.values[v]))
        seed, lam, dscr = (over[k] for k in PARAMS)
        assert res["study.seed"].values[v] == seed
        load = float((fake_compute(0, 6).peak_net_load_mw * seed).mean())
        assert float(res.objective_usd[v]) == pytest.approx(lam * load, rel=1e-12)
        assert float(res.tranche_size_usd.sel(tranche="senior")[v]) == pytest.approx(
            lam * load / dscr, rel=1e-12)
        np.testing.assert_array_equal(res.mc__peak_net_load_mw[v].values,
                                      (fake_compute(0, 6).peak_net_load_mw * seed).values)
    # every variant group holds only its own part; the shared part is stored once per seed
    own, _ = read_group(tmp_path / VARIANT_STORE, variant_name(0))
    assert own is not None and "mc__peak_net_load_mw" not in own
    assert len(list((tmp_path / VARIANT_STORE).glob("shared_*"))) == 2
    assert (tmp_path / "results.nc").is_file()


def test_crash_then_resume_computes_only_missing_and_is_identical(cfg, stages, tmp_path):
    stages()
    ref = sweep(cfg, PARAMS, tmp_path / "ref")
    crashing = stages(crash_after=5)
    with pytest.raises(KeyboardInterrupt):
        sweep(cfg, PARAMS, tmp_path / "run")
    assert crashing.calls["finance"] == 6
    records = sorted((tmp_path / "run" / VARIANT_STORE / INTEGRITY_DIR).glob("variant_*"))
    assert len(records) == 5
    again = stages()
    res = sweep(cfg, PARAMS, tmp_path / "run", resume=True)
    assert again.calls["finance"] == 3  # only the three missing variants
    assert again.calls["mc batch seed=1"] == 0  # seed 1 was finished: not even simulated
    assert again.calls["mc batch seed=2"] == 0  # its batches come from the checkpoint
    # replay: the seed-2 chain re-solves its first plan (variants 4, 5 done) to reach λ=2
    assert again.calls["plan"] == 2
    xr.testing.assert_identical(res, ref)


def test_corrupt_variant_or_shared_group_is_recomputed(cfg, stages, tmp_path):
    stages()
    ref = sweep(cfg, PARAMS, tmp_path)
    store = tmp_path / VARIANT_STORE
    rec = store / INTEGRITY_DIR / f"{variant_name(6)}.json"
    data = json.loads(rec.read_text())
    data["variables"]["objective_usd"]["sha256"] = "f" * 64
    rec.write_text(json.dumps(data))
    st = stages()
    res = sweep(cfg, PARAMS, tmp_path, resume=True)
    assert st.calls["finance"] == 1
    xr.testing.assert_identical(res, ref)
    # a broken shared group invalidates its whole Monte Carlo group (4 variants)
    key = sorted(p.name for p in store.glob("shared_*"))[0].removeprefix("shared_")
    (store / INTEGRITY_DIR / f"{shared_name(key)}.json").unlink()
    st = stages()
    res = sweep(cfg, PARAMS, tmp_path, resume=True)
    assert st.calls["finance"] == 4
    xr.testing.assert_identical(res, ref)


def test_resume_refuses_another_grid(cfg, stages, tmp_path):
    stages()
    sweep(cfg, {"optimizer.cvar_lambda": [0.5, 2.0]}, tmp_path)
    with pytest.raises(CheckpointError, match="params"):
        sweep(cfg, {"optimizer.cvar_lambda": [0.5, 3.0]}, tmp_path, resume=True)
