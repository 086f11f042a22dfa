"""Checkpoint/resume of scenario batches: kill, corruption, half-written chunks.

The stand-in ``fake_compute`` mimics the Monte Carlo contract: a counter-based draw keyed by
(seed, global scenario index), so any batching reproduces one uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gridcap.checkpoint import (
    INTEGRITY_DIR,
    CheckpointError,
    batch_name,
    map_scenario_batches,
    read_group,
    scenario_batches,
)
from gridcap.errors import GridcapInputError

SEED = 1234
HERE = Path(__file__).resolve().parent


def fake_compute(offset: int, count: int, delay: float = 0.0) -> xr.Dataset:
    """Deterministic stand-in for one Monte Carlo batch (depends only on global indices)."""
    if delay:
        time.sleep(delay)
    idx = np.arange(offset, offset + count)
    draws = np.stack([np.random.default_rng([SEED, int(s)]).normal(size=(3, 4)) for s in idx])
    draws[idx % 7 == 3, 1, 2] = np.nan  # NaN padding survives the round trip
    return xr.Dataset(
        {
            "peak_net_load_mw": (("scenario", "region", "year"), 100 + 10 * draws,
                                 {"units": "MW"}),
            "event_hour": (("scenario", "region"), (idx[:, None] * 31 + np.arange(3)) % 8760),
            "ai_online": (("scenario",), draws[:, 0, 0] > 0),
            "flex_potential_kw": (("pool",), np.array([12.5, 40.0]), {"units": "kW"}),
        },
        coords={
            "scenario": idx,
            "region": ["ERCOT", "PJM", "MISO"],
            "year": np.arange(2026, 2030),
            "pool": np.array(["ERCOT/ev_charger", "PJM/home_battery"], dtype=object),
            "pool_region": ("pool", np.array(["ERCOT", "PJM"])),
        },
        attrs={"seed": SEED, "backend": "numpy"},
    )


class Counter:
    """Wraps fake_compute and records which batches were computed."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, offset: int, count: int) -> xr.Dataset:
        self.calls.append((offset, count))
        return fake_compute(offset, count)


def _records(store: Path) -> list[str]:
    return sorted(p.stem for p in (store / INTEGRITY_DIR).glob("batch_*.json"))


def test_batches_equal_one_big_call():
    whole = fake_compute(0, 23)
    for size in (1, 5, 23, 100):
        got = map_scenario_batches(fake_compute, 23, size)
        xr.testing.assert_identical(got, whole)


def test_store_roundtrip_is_exact_and_progress_counts(tmp_path):
    calls = []
    got = map_scenario_batches(fake_compute, 10, 4, store=tmp_path / "s",
                               progress=lambda *a: calls.append(a))
    xr.testing.assert_identical(got, fake_compute(0, 10))
    for name in ("peak_net_load_mw", "event_hour", "ai_online", "pool", "pool_region"):
        assert got[name].dtype == fake_compute(0, 10)[name].dtype
    assert calls == [("monte carlo", 0, 10), ("monte carlo", 4, 10), ("monte carlo", 8, 10),
                     ("monte carlo", 10, 10)]
    assert _records(tmp_path / "s") == [batch_name(0), batch_name(4), batch_name(8)]


def test_resume_computes_nothing_when_complete(tmp_path):
    map_scenario_batches(fake_compute, 9, 3, store=tmp_path)
    counter = Counter()
    got = map_scenario_batches(counter, 9, 3, store=tmp_path, resume=True)
    assert counter.calls == []
    xr.testing.assert_identical(got, fake_compute(0, 9))


def test_without_resume_everything_is_recomputed(tmp_path):
    map_scenario_batches(fake_compute, 9, 3, store=tmp_path)
    counter = Counter()
    map_scenario_batches(counter, 9, 3, store=tmp_path)
    assert counter.calls == [(0, 3), (3, 3), (6, 3)]


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete_chunk", "tamper_record"])
def test_corrupt_chunk_is_detected_and_recomputed(tmp_path, damage):
    store = tmp_path / "s"
    map_scenario_batches(fake_compute, 12, 4, store=store)
    victim = batch_name(4)
    chunks = sorted(p for p in (store / victim / "peak_net_load_mw").rglob("*")
                    if p.is_file() and p.name != "zarr.json")
    assert chunks, "expected at least one chunk file"
    chunk = chunks[0]
    if damage == "flip":
        data = bytearray(chunk.read_bytes())
        for i in range(len(data) // 2, len(data)):  # clobber the second half of the chunk
            data[i] ^= 0x5A
        chunk.write_bytes(bytes(data))
    elif damage == "truncate":
        chunk.write_bytes(chunk.read_bytes()[: len(chunk.read_bytes()) // 3])
    elif damage == "delete_chunk":
        chunk.unlink()
    else:
        rec_path = store / INTEGRITY_DIR / f"{victim}.json"
        record = json.loads(rec_path.read_text())
        record["variables"]["event_hour"]["sha256"] = "0" * 64
        rec_path.write_text(json.dumps(record))
    ds, reason = read_group(store, victim)
    assert ds is None
    assert reason != "ok"
    for other in (batch_name(0), batch_name(8)):
        assert read_group(store, other)[1] == "ok"
    counter = Counter()
    got = map_scenario_batches(counter, 12, 4, store=store, resume=True)
    assert counter.calls == [(4, 4)]
    xr.testing.assert_identical(got, fake_compute(0, 12))
    assert read_group(store, victim)[1] == "ok"


def test_half_written_batch_without_record_is_recomputed(tmp_path):
    store = tmp_path / "s"
    map_scenario_batches(fake_compute, 6, 2, store=store)
    (store / INTEGRITY_DIR / f"{batch_name(2)}.json").unlink()  # killed before the record
    (store / ".tmp-batch_000000000004-dead").mkdir()  # and a temp group of another batch
    assert read_group(store, batch_name(2))[0] is None
    counter = Counter()
    got = map_scenario_batches(counter, 6, 2, store=store, resume=True)
    assert counter.calls == [(2, 2)]
    assert not list(store.glob(".tmp-*"))
    xr.testing.assert_identical(got, fake_compute(0, 6))


def test_resume_refuses_a_store_of_another_job(tmp_path):
    map_scenario_batches(fake_compute, 6, 2, store=tmp_path, fingerprint="a")
    with pytest.raises(CheckpointError, match="batch_size"):
        map_scenario_batches(fake_compute, 6, 3, store=tmp_path, resume=True, fingerprint="a")
    with pytest.raises(CheckpointError, match="fingerprint"):
        map_scenario_batches(fake_compute, 6, 2, store=tmp_path, resume=True, fingerprint="b")


def test_bad_arguments_and_bad_compute():
    with pytest.raises(GridcapInputError, match="batch_size = 0"):
        scenario_batches(10, 0)
    with pytest.raises(GridcapInputError, match="total = -1"):
        map_scenario_batches(fake_compute, -1, 2)
    with pytest.raises(ValueError, match="scenario size 3, expected 2"):
        map_scenario_batches(lambda o, c: fake_compute(o, c + 1), 4, 2)


# --------------------------------------------------------------------------- SIGKILL


CHILD = """
import sys, functools
sys.path.insert(0, {here!r})
from test_checkpoint_resume import fake_compute
from gridcap.checkpoint import map_scenario_batches
map_scenario_batches(functools.partial(fake_compute, delay=0.15), {total}, {size},
                     store={store!r}, resume={resume})
print("finished")
"""


def _child(store: Path, total: int, size: int, resume: bool) -> subprocess.Popen:
    code = CHILD.format(here=str(HERE), total=total, size=size, store=str(store), resume=resume)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigkill_at_random_point_then_resume_is_identical(tmp_path):
    """Kill a real checkpointed run with SIGKILL, resume it, compare to an unbroken run."""
    total, size = 40, 2  # 20 batches of ~0.15 s each
    store = tmp_path / "killed"
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    proc = _child(store, total, size, resume=False)
    deadline = time.monotonic() + 60
    while not (store / INTEGRITY_DIR / f"{batch_name(0)}.json").exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 2.0))  # somewhere in the middle of ~3 s of batches
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    survivors = _records(store)
    assert 1 <= len(survivors) < total // size, f"kill did not interrupt (seed {seed})"

    counter = Counter()
    resumed = map_scenario_batches(counter, total, size, store=store, resume=True)
    recomputed = {batch_name(o) for o, _ in counter.calls}
    assert recomputed.isdisjoint(survivors)
    assert len(recomputed) + len(survivors) == total // size
    unbroken = map_scenario_batches(fake_compute, total, size)
    xr.testing.assert_identical(resumed, unbroken)


def test_killed_child_resumed_by_child(tmp_path):
    """The resume itself also runs as a real process (as ``gridcap run --resume`` would)."""
    store = tmp_path / "s"
    proc = _child(store, 12, 3, resume=False)
    deadline = time.monotonic() + 60
    while not (store / INTEGRITY_DIR / f"{batch_name(3)}.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    again = _child(store, 12, 3, resume=True)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "finished" in out
    counter = Counter()
    got = map_scenario_batches(counter, 12, 3, store=store, resume=True)
    assert counter.calls == []  # the resumed child finished every batch
    xr.testing.assert_identical(got, fake_compute(0, 12))
