"""The five ways a run could be silently wrong (issue 18), each driven through the real
pipeline on the tiny study and checked against a fresh, uninterrupted run:

1. a sweep resumed with its ``--param`` flags in another order;
2. a dataset CSV edited between a run (or sweep) and ``--resume``;
3. an output folder that is not consistent as a set (failed or interrupted final writes,
   stale temporaries);
4. two runs into one ``--out`` (the folder lock);
5. a site listed in ``datasets.site_ids`` whose region label has a typo.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import time

import pytest
import xarray as xr
from fault_support import differing, edit_csv, write_study

import gridcap.batch as batch
import gridcap.io as gio
from gridcap.checkpoint import CheckpointError
from gridcap.cli import EXIT_BAD_INPUT, main
from gridcap.config import load_config
from gridcap.errors import ConfigError, OutputError
from gridcap.io import OUTPUT_MANIFEST, folder_lock, read_results, verify_output_set
from gridcap.pipeline import monte_carlo_fingerprint, run_study

# Both keys in [finance.senior]: one plan, four financings (the cheapest grid that still
# gives every variant different numbers). Schema order is rate, then dscr_target.
RATES, DSCRS = [0.05, 0.09], [1.3, 1.6]


# the wide console and the tiny study are shared fixtures (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("wide_console")


@pytest.fixture(scope="module")
def fresh_sweep(tiny_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("fresh-sweep")
    cfg = load_config(tiny_study)
    return batch.sweep(cfg, {"finance.senior.rate": RATES, "finance.senior.dscr_target": DSCRS},
                       out)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- 1. sweep order


def test_canonical_params_puts_keys_in_schema_order():
    given = {"finance.senior.dscr_target": DSCRS, "optimizer.cvar_lambda": [0.1],
             "finance.senior.rate": RATES}
    assert list(batch.canonical_params(given)) == [
        "optimizer.cvar_lambda", "finance.senior.rate", "finance.senior.dscr_target"]
    assert batch.canonical_params(given)["finance.senior.dscr_target"] == DSCRS


def test_sweep_killed_then_resumed_with_reordered_flags_equals_a_fresh_sweep(
        tiny_study, fresh_sweep, tmp_path, monkeypatch):
    cfg = load_config(tiny_study)
    out = tmp_path / "sweep"
    real_write = batch.write_group
    written = []
    kill_after = random.Random().randrange(4)  # a random point: after 0 to 3 of 4 variants

    def dies_at_random_point(store, name, ds):
        if name.startswith("variant_") and len(written) == kill_after:
            raise KeyboardInterrupt("killed")
        real_write(store, name, ds)
        if name.startswith("variant_"):
            written.append(name)

    monkeypatch.setattr(batch, "write_group", dies_at_random_point)
    with pytest.raises(KeyboardInterrupt):
        batch.sweep(cfg, {"finance.senior.dscr_target": DSCRS, "finance.senior.rate": RATES}, out)
    monkeypatch.setattr(batch, "write_group", real_write)
    assert written == [batch.variant_name(i) for i in range(kill_after)]
    assert not (out / "results.nc").exists()
    # flags in the other order, as a user retyping the command would
    resumed = batch.sweep(cfg, {"finance.senior.rate": RATES,
                                "finance.senior.dscr_target": DSCRS}, out, resume=True)
    assert differing(resumed, fresh_sweep) == [], f"killed after {kill_after} variants"
    assert resumed["finance.senior.rate"].values.tolist() == [0.05, 0.05, 0.09, 0.09]
    assert resumed["finance.senior.dscr_target"].values.tolist() == [1.3, 1.6, 1.3, 1.6]
    verify_output_set(out)


def test_sweep_resume_with_values_in_another_order_is_refused(tiny_study, fresh_sweep, tmp_path):
    cfg = load_config(tiny_study)
    out = tmp_path / "sweep"
    batch.sweep(cfg, {"finance.senior.rate": [0.05]}, out)
    with pytest.raises(CheckpointError, match="params"):
        batch.sweep(cfg, {"finance.senior.rate": [0.05, 0.09]}, out, resume=True)
    defn = batch.sweep_definition(cfg, {"finance.senior.rate": RATES}, [cfg])
    flipped = batch.sweep_definition(cfg, {"finance.senior.rate": RATES[::-1]}, [cfg])
    assert defn["params"] != flipped["params"]  # values order is part of the definition


# --------------------------------------------------------------------------- 2. edited inputs


def test_dataset_edited_before_resume_is_recomputed(tmp_path):
    study = write_study(tmp_path / "s", user_files=("sites",))
    cfg = load_config(study)
    assert cfg.datasets.sites == str(tmp_path / "s" / "mine_sites.csv")  # relative to the study
    out = tmp_path / "out"
    run_study(cfg, out)
    before = monte_carlo_fingerprint(cfg)
    edit_csv(tmp_path / "s" / "mine_sites.csv", "corz_denton", "interconnection_mw", "150")
    edit_csv(tmp_path / "s" / "mine_sites.csv", "corz_denton", "mining_load_mw", "100")
    assert monte_carlo_fingerprint(cfg) != before
    resumed = run_study(cfg, out, resume=True)
    fresh = run_study(load_config(study))
    assert float(resumed["sites__interconnection_mw"].sel(site="corz_denton")) == 150.0
    assert differing(resumed, fresh) == []
    # the sweep's variant store refuses a resume over edited inputs
    sweep_out = tmp_path / "sweep"
    batch.sweep(cfg, {"finance.senior.rate": [0.05]}, sweep_out)
    edit_csv(tmp_path / "s" / "mine_sites.csv", "corz_denton", "interconnection_mw", "160")
    with pytest.raises(CheckpointError, match="inputs_sha256"):
        batch.sweep(cfg, {"finance.senior.rate": [0.05]}, sweep_out, resume=True)


# --------------------------------------------------------------------------- 3. output set


def test_failed_final_write_keeps_the_previous_set(tiny_study, tmp_path, monkeypatch):
    cfg = load_config(tiny_study)
    out = tmp_path / "out"
    run_study(cfg, out)
    old = {p: _sha(out / p) for p in ("results.nc", "chain_ledger.csv", OUTPUT_MANIFEST)}

    def disk_full(ds, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(gio, "write_netcdf", disk_full)
    with pytest.raises(OutputError, match="No space left on device"):
        run_study(cfg.with_overrides({"study.seed": 8}), out)
    assert {p: _sha(out / p) for p in old} == old  # nothing of the failed run got in
    verify_output_set(out)
    assert not [p for p in out.rglob(".*") if p.name != ".gridcap.lock"
                and "checkpoint" not in p.parts]


def test_interrupted_commit_is_detected_and_a_later_resume_repairs_it(tiny_study, tmp_path,
                                                                      monkeypatch):
    cfg = load_config(tiny_study)
    out = tmp_path / "out"
    first = run_study(cfg, out)
    real_replace = os.replace
    moved = []

    def dies_mid_commit(src, dst):  # SIGKILL after the first file was renamed into place
        if ".staging-" in str(src) and ".staging-" not in str(dst) and moved:
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)
        if ".staging-" not in str(dst):
            moved.append(dst)

    monkeypatch.setattr(os, "replace", dies_mid_commit)
    other = cfg.with_overrides({"study.seed": 8})
    with pytest.raises(KeyboardInterrupt):
        run_study(other, out)
    monkeypatch.setattr(os, "replace", real_replace)
    # one file of the new run sits beside files of the old one: the set says so
    with pytest.raises(OutputError, match="no complete output set"):
        read_results(out / "results.nc")
    # a leftover of a SIGKILLed atomic write, as an older version could leave
    (out / ".results.nc.abc123.tmp").write_bytes(b"partial")
    again = run_study(other, out, resume=True)
    verify_output_set(out)
    assert differing(read_results(out / "results.nc"), again) == []
    assert differing(again, first) != []  # seed 8, not the first run's
    assert not list(out.glob(".*.tmp")) and not list(out.glob(".staging-*"))


def test_results_replaced_by_another_runs_file_is_refused(tiny_study, tmp_path):
    cfg = load_config(tiny_study)
    a, b = tmp_path / "a", tmp_path / "b"
    run_study(cfg, a)
    run_study(cfg.with_overrides({"study.seed": 8}), b)
    (b / "results.nc").replace(a / "results.nc")  # results.nc of one run, ledgers of another
    with pytest.raises(OutputError, match="does not match"):
        read_results(a / "results.nc")
    assert main(["report", str(a), "--out", str(tmp_path / "rep")]) == EXIT_BAD_INPUT


# --------------------------------------------------------------------------- 4. the lock


def test_second_run_into_a_busy_folder_exits_2(tiny_study, tmp_path, capsys):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from gridcap.io import folder_lock\n"
         f"Path({str(out)!r}).mkdir()\n"
         f"with folder_lock(Path({str(out)!r})):\n"
         "    print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        assert main(["run", str(tiny_study), "--out", str(out), "-q"]) == EXIT_BAD_INPUT
        assert time.monotonic() - start < 30  # refused at once, before any work
        err = " ".join(capsys.readouterr().err.split())
        assert "in use by process" in err and str(holder.pid) in err
        assert not (out / "results.nc").exists() and not (out / "checkpoint").exists()
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(out):  # a killed holder leaves no stale lock behind
        pass


# --------------------------------------------------------------------------- 5. site regions


def test_listed_site_with_a_region_typo_is_an_error_at_validate_and_run(tmp_path, capsys):
    study = write_study(tmp_path / "s", user_files=("sites",))
    edit_csv(tmp_path / "s" / "mine_sites.csv", "riot_rockdale", "region", "ERCTO")
    for command in (["validate", str(study)], ["run", str(study), "--out",
                                           str(tmp_path / "out"), "-q"]):
        assert main(command) == EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert "riot_rockdale" in err and "'ERCTO'" in err and "ERCOT" in err
        assert "datasets.site_ids" in err
    assert not (tmp_path / "out" / "results.nc").exists()


def test_listed_site_outside_the_study_regions_is_an_error(tmp_path):
    text = write_study(tmp_path).read_text().replace(
        'site_ids = ["corz_denton", "riot_rockdale"]', 'site_ids = ["corz_denton", "corz_muskogee"]')
    (tmp_path / "tiny.toml").write_text(text)
    from gridcap.pipeline import build_inputs

    with pytest.raises(ConfigError, match="corz_muskogee.*'SPP'.*study.regions"):
        build_inputs(load_config(tmp_path / "tiny.toml"))


def test_all_results_of_a_run_are_readable(tiny_study, tmp_path):
    out = tmp_path / "out"
    ds = run_study(load_config(tiny_study), out)
    xr.testing.assert_allclose(read_results(out / "results.nc")["online_mw"], ds["online_mw"])


def test_text_variable_with_missing_entries_survives_a_checkpoint(tmp_path):
    import numpy as np

    from gridcap.checkpoint import read_group, write_group

    # the plan's alternative_tech has no technology in years before any is online
    ds = xr.Dataset({"alternative_tech": (("region", "year"),
                                          np.array([[None, "gas_ct"], ["wind", ""]], object))})
    write_group(tmp_path, "g", ds)
    got, reason = read_group(tmp_path, "g")
    assert reason == "ok"
    assert got["alternative_tech"].values.tolist() == [["", "gas_ct"], ["wind", ""]]
