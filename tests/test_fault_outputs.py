"""Faults while writing, by class: a run killed at a random write and resumed over an edited
input, and disk full / read-only at every kind of write a run makes (checkpoint batch,
ledgers, results, manifest) — each ends in exit 2 with the previous output set intact, and
the next run repairs the folder.

The kill is injected in-process (an exception raised from inside the write, as SIGKILL
would stop it there; ``tests/test_checkpoint_resume.py`` and ``test_batch_sweep.py`` kill
real processes); the OSError is the one a full or read-only file system raises.
"""

from __future__ import annotations

import errno
import hashlib
import random

import pytest
from fault_support import differing, edit_csv, write_study

import gridcap.checkpoint as ckpt
import gridcap.io as gio
from gridcap.cli import EXIT_BAD_INPUT, main
from gridcap.config import load_config
from gridcap.io import OUTPUT_MANIFEST, read_results, verify_output_set
from gridcap.pipeline import run_study


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A study (sites from a user CSV) and a complete output folder of it."""
    folder = tmp_path_factory.mktemp("study")
    study = write_study(folder, user_files=("sites",))
    out = tmp_path_factory.mktemp("out") / "out"
    run_study(load_config(study), out)
    return study, out


def _digests(out) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and "checkpoint" not in p.parts}


def test_killed_at_a_random_write_then_resumed_over_an_edited_input(finished, tmp_path,
                                                                     monkeypatch):
    study, _ = finished
    cfg = load_config(study)
    out = tmp_path / "out"
    rng = random.Random()
    seed = rng.randrange(2**32)
    # atomic writes of a run: store manifest, 2 batch records, chain ledger, results.nc,
    # output manifest (the finance files are plain writes inside the staging folder)
    target = random.Random(seed).randrange(1, 7)
    calls = []
    real = gio.atomic_write

    def dies_at_target(path, write):
        calls.append(str(path))
        if len(calls) == target:
            raise KeyboardInterrupt(f"killed at write {target} ({path})")
        return real(path, write)

    monkeypatch.setattr(gio, "atomic_write", dies_at_target)
    monkeypatch.setattr(ckpt, "atomic_write", dies_at_target)
    with pytest.raises(KeyboardInterrupt):
        run_study(cfg, out)
    monkeypatch.undo()
    assert len(calls) == target, f"seed {seed}: only {len(calls)} writes"
    sites = study.parent / "mine_sites.csv"
    edit_csv(sites, "riot_rockdale", "hashprice_breakeven_usd_per_mwh", "120")
    try:
        resumed = run_study(cfg, out, resume=True)
        fresh = run_study(load_config(study))
    finally:
        edit_csv(sites, "riot_rockdale", "hashprice_breakeven_usd_per_mwh", "99")
    assert differing(resumed, fresh) == [], f"seed {seed}, killed at write {target}"
    assert differing(read_results(out / "results.nc"), fresh) == []
    assert not list(out.glob(".staging-*")) and not list(out.glob(".*.tmp"))


@pytest.mark.parametrize(("where", "code"), [
    ("checkpoint", errno.ENOSPC), ("chain_ledger.csv", errno.EROFS), ("results.nc", errno.ENOSPC),
    (OUTPUT_MANIFEST, errno.EROFS),
])
def test_disk_full_or_read_only_at_any_write_keeps_the_previous_set(
        finished, tmp_path, monkeypatch, capsys, where, code):
    study, done = finished
    out = tmp_path / "out"
    import shutil

    shutil.copytree(done, out)
    before = _digests(out)
    real = gio.atomic_write

    def fails_there(path, write):
        if where in str(path):
            raise OSError(code, "injected fault", str(path))
        return real(path, write)

    monkeypatch.setattr(gio, "atomic_write", fails_there)
    monkeypatch.setattr(ckpt, "atomic_write", fails_there)
    # another seed: everything this run would write differs from what is there
    assert main(["run", str(study), "--out", str(out), "--seed", "99", "-q"]) == EXIT_BAD_INPUT
    err = " ".join(capsys.readouterr().err.split())
    assert "writing failed" in err and "injected fault" in err and "Traceback" not in err
    monkeypatch.undo()
    if where == OUTPUT_MANIFEST:  # failed inside the commit: reported as incomplete
        with pytest.raises(gio.OutputError, match="no complete output set"):
            verify_output_set(out)
    else:  # failed before the commit: the old set is untouched
        assert _digests(out) == before
        verify_output_set(out)
    assert not list(out.glob(".staging-*"))
