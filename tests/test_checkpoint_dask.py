"""Scenario batches on a two-worker Dask LocalCluster equal the single-process run."""

from __future__ import annotations

import os

import pytest
import xarray as xr

pytest.importorskip("distributed")

from test_checkpoint_resume import fake_compute

from gridcap.batch import dask_client
from gridcap.checkpoint import INTEGRITY_DIR, map_scenario_batches
from gridcap.errors import GridcapInputError


def worker_pid(offset: int, count: int) -> xr.Dataset:
    """Like fake_compute, plus which process computed the batch."""
    ds = fake_compute(offset, count)
    ds["pid"] = ("scenario", [os.getpid()] * count)
    return ds


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


def test_two_workers_identical_to_single_process(client, tmp_path):
    info = client.scheduler_info()
    assert len(info["workers"]) == 2
    assert all(w["nthreads"] == 1 for w in info["workers"].values())
    single = map_scenario_batches(fake_compute, 30, 4)
    sharded = map_scenario_batches(fake_compute, 30, 4, client=client)
    xr.testing.assert_identical(sharded, single)
    stored = map_scenario_batches(fake_compute, 30, 4, client=client, store=tmp_path / "s")
    xr.testing.assert_identical(stored, single)
    assert len(list((tmp_path / "s" / INTEGRITY_DIR).glob("*.json"))) == 8  # written by workers


def test_batches_really_run_on_worker_processes(client):
    ds = map_scenario_batches(worker_pid, 16, 1, client=client)
    pids = set(ds.pid.values.tolist())
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2


def test_resume_on_dask_after_partial_store(client, tmp_path):
    store = tmp_path / "s"
    map_scenario_batches(fake_compute, 12, 3, store=store)
    (store / INTEGRITY_DIR / "batch_000000000006.json").unlink()
    progress = []
    got = map_scenario_batches(fake_compute, 12, 3, store=store, resume=True, client=client,
                               progress=lambda *a: progress.append(a))
    assert progress == [("monte carlo", 9, 12), ("monte carlo", 12, 12)]
    xr.testing.assert_identical(got, fake_compute(0, 12))


def test_dask_client_arguments():
    with pytest.raises(GridcapInputError, match="give one of them"):
        with dask_client(address="tcp://127.0.0.1:1", workers=2):
            pass
    with pytest.raises(GridcapInputError, match="workers = 0"):
        with dask_client(workers=0):
            pass
