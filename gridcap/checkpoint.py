"""Checkpointed batch computation: scenario batches (and sweep variants) in a Zarr store.

A long Monte Carlo run is cut into scenario batches. Each finished batch is written as one
Zarr group of one Zarr (v3) store, followed, last and atomically, by an *integrity record*
(row count, dtype, shape and SHA-256 of every variable). A batch is only ever used when its
record exists and the data read back from disk hash to the recorded values, so a run killed at
any moment (SIGKILL included) leaves either complete, verified batches or debris that is
detected and recomputed — never silently used.

Store layout (``store`` is a directory)::

    store/
      zarr.json                     root Zarr group
      manifest.json                 what the store holds (total, batch size, fingerprint)
      batch_000000000000/           one Zarr group per finished batch (scenario offset in name)
      _integrity/batch_000000000000.json   written last, atomically: the batch is complete

Writes go to a hidden temporary group that is fsynced and renamed into place; the integrity
record is written with :func:`gridcap.io.atomic_write` afterwards. Killing the process between
the two leaves a group without a record: it is recomputed on resume.

Dask: with ``client`` (a :class:`dask.distributed.Client`) the batches are mapped over the
cluster's workers with ``client.map``; each worker writes its own batch into the store (which
must then be on a file system every worker sees) and the caller reads and verifies them. Because
the Monte Carlo RNG is counter-based and keyed by the global scenario index, the result is
identical to a single-process run whatever the batch order, worker count or interruptions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError
from gridcap.io import atomic_write, fsync_dir

STORE_FORMAT = "gridcap-checkpoint/1"
INTEGRITY_DIR = "_integrity"
MANIFEST = "manifest.json"

# progress(stage, done, total)
Progress = Callable[[str, int, int | None], None]
BatchCompute = Callable[[int, int], xr.Dataset]


class CheckpointError(GridcapInputError):
    """A checkpoint store cannot be used for this job (e.g. it was made for another one)."""


# --------------------------------------------------------------------------- digests


def _canonical_bytes(values: np.ndarray) -> bytes:
    """Bytes that identify an array's content independent of in-memory representation."""
    if values.dtype.kind in "OUT" or values.dtype.kind == "S" or "StringDType" in type(
        values.dtype
    ).__name__:
        text = [str(v) for v in values.ravel().tolist()]
        return json.dumps(text, ensure_ascii=False).encode("utf-8")
    arr = np.ascontiguousarray(values)
    if arr.dtype.kind in "fc":
        nan = np.isnan(arr)
        if nan.any():
            arr = arr.copy()
            arr[nan] = np.nan  # one canonical NaN bit pattern
    return arr.tobytes()


def variable_digest(var: xr.Variable | xr.DataArray) -> dict[str, Any]:
    """Integrity record of one variable.

    Parameters
    ----------
    var : xarray.Variable or DataArray
        Any variable (numeric, boolean or text).

    Returns
    -------
    dict
        ``dims``, ``shape``, ``dtype`` (as written by numpy) and ``sha256`` of the content
        (NaNs canonicalised, text as UTF-8 JSON).
    """
    values = np.asarray(var.values)
    digest = hashlib.sha256()
    digest.update(str(values.dtype.str if values.dtype.kind != "O" else "object").encode())
    digest.update(repr(values.shape).encode())
    digest.update(_canonical_bytes(values))
    dtype = "object" if values.dtype.kind == "O" else values.dtype.str
    if "StringDType" in type(values.dtype).__name__:
        dtype = "object"
    return {
        "dims": list(var.dims),
        "shape": list(values.shape),
        "dtype": dtype,
        "sha256": digest.hexdigest(),
    }


def dataset_digest(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """Integrity record of every variable (data and coordinates) of ``ds``."""
    return {str(name): variable_digest(ds[name].variable) for name in ds.variables}


# --------------------------------------------------------------------------- groups


def _syncfs(path: Path) -> bool:
    """Flush the whole file system holding ``path`` to disk with one ``syncfs(2)`` call.

    One journal commit instead of one per file: a batch group is ~120 small files, and their
    fsyncs took ~2 s of a quickstart batch's write on a shared disk (0.3 s of CPU). Linux only;
    False where unavailable or failed (the caller then fsyncs file by file). Since Linux 5.8
    ``syncfs`` reports write-back errors of the file system as ``fsync`` does.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
    except (OSError, AttributeError):
        return False
    try:
        return bool(libc.syncfs(fd) == 0)
    except AttributeError:  # no syncfs in this C library
        return False
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    """Flush every file and directory under ``path`` to disk."""
    if _syncfs(path):
        return
    for root, _dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(Path(root))


def _rebuild(ds: xr.Dataset, convert: Callable[[str, xr.Variable], xr.Variable]) -> xr.Dataset:
    """A new Dataset with every variable passed through ``convert`` (built in one go)."""
    new = {name: convert(str(name), var) for name, var in ds.variables.items()}
    coords = {name: new[name] for name in ds.coords}
    data = {name: new[name] for name in ds.data_vars}
    return xr.Dataset(data, coords=coords, attrs=ds.attrs)


def _for_zarr(ds: xr.Dataset) -> xr.Dataset:
    """Fixed-width text → variable-length strings (the Zarr v3 string type); drop encodings."""

    def convert(_name: str, var: xr.Variable) -> xr.Variable:
        values = var.values.astype(object) if var.dtype.kind in "US" else var.values
        return xr.Variable(var.dims, values, var.attrs)

    return _rebuild(ds, convert)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _none_as_empty(ds: xr.Dataset) -> xr.Dataset:
    """Text variables (object dtype) with missing entries (``None``, or the NaN xarray puts in
    its place) get ``""`` there: Zarr stores a missing string as ``""``, so the integrity
    record must be taken of what will be read back."""

    def convert(_name: str, var: xr.Variable) -> xr.Variable:
        if var.dtype.kind != "O":
            return var
        items = np.asarray(var.values).ravel().tolist()
        if not any(isinstance(v, str) for v in items) or not any(_missing(v) for v in items):
            return var
        fixed = np.array(["" if _missing(v) else v for v in items], dtype=object)
        return xr.Variable(var.dims, fixed.reshape(var.shape), var.attrs)

    return _rebuild(ds, convert)


def _restore_dtypes(ds: xr.Dataset, record: dict[str, dict[str, Any]]) -> xr.Dataset:
    """Cast variables read back from Zarr to the dtypes recorded at write time."""

    def convert(name: str, var: xr.Variable) -> xr.Variable:
        info = record.get(name)
        if info is None:
            return var
        want = np.dtype(object) if info["dtype"] == "object" else np.dtype(info["dtype"])
        if var.dtype == want:
            return var
        return xr.Variable(var.dims, np.asarray(var.values).astype(want), var.attrs)

    return _rebuild(ds, convert)


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file, fsync, rename)."""

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def _record_path(store: Path, name: str) -> Path:
    return store / INTEGRITY_DIR / f"{name}.json"


def write_group(store: str | Path, name: str, ds: xr.Dataset) -> Path:
    """Write ``ds`` as Zarr group ``name`` of ``store``, then its integrity record.

    The group is written to a hidden temporary directory, flushed to disk and renamed into
    place; only then is the integrity record written (atomically). Any earlier group or record
    of that name is removed first, so a crash at any point leaves no record for a group that
    is not complete.

    Parameters
    ----------
    store : str or Path
        Store directory (created if missing).
    name : str
        Group name, e.g. ``"batch_000000000016"``.
    ds : xarray.Dataset
        In-memory data (numpy-backed).

    Returns
    -------
    Path
        The group directory.
    """
    store = Path(store)
    (store / INTEGRITY_DIR).mkdir(parents=True, exist_ok=True)
    ds = _none_as_empty(ds.load())
    record = {
        "format": STORE_FORMAT,
        "name": name,
        "sizes": {str(k): int(v) for k, v in ds.sizes.items()},
        "variables": dataset_digest(ds),
    }
    tmp = store / f".tmp-{name}-{uuid.uuid4().hex}"
    final = store / name
    try:
        _for_zarr(ds).to_zarr(tmp, mode="w", consolidated=False, zarr_format=3)
        _fsync_tree(tmp)
        _record_path(store, name).unlink(missing_ok=True)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(store)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _write_text(_record_path(store, name), json.dumps(record, indent=1, sort_keys=True))
    return final


def read_group(store: str | Path, name: str) -> tuple[xr.Dataset | None, str]:
    """Read and verify group ``name`` of ``store``.

    Returns
    -------
    dataset : xarray.Dataset or None
        The data (in memory, dtypes as written) when the group is complete and every
        variable hashes to its integrity record; otherwise None.
    reason : str
        ``"ok"``, or why the group cannot be used (missing, no record, corrupt …).
    """
    store = Path(store)
    rec_path = _record_path(store, name)
    if not (store / name).is_dir():
        return None, "missing"
    if not rec_path.is_file():
        return None, "no integrity record (half-written)"
    try:
        record = json.loads(rec_path.read_text(encoding="utf-8"))
        expected = record["variables"]
        with xr.open_dataset(
            store / name, engine="zarr", consolidated=False, chunks=None, decode_times=False
        ) as raw:
            ds = raw.load()
        ds = _restore_dtypes(ds, expected)
        got = dataset_digest(ds)
    except Exception as err:  # any decode failure means the group is unusable
        return None, f"unreadable ({type(err).__name__}: {err})"
    if set(got) != set(expected):
        return None, f"variables differ from the record: {sorted(set(got) ^ set(expected))}"
    bad = [v for v in expected if got[v] != expected[v]]
    if bad:
        return None, f"checksum mismatch in {bad}"
    return ds, "ok"


def remove_group(store: str | Path, name: str) -> None:
    """Delete group ``name`` and its integrity record (record first)."""
    store = Path(store)
    _record_path(store, name).unlink(missing_ok=True)
    if (store / name).exists():
        shutil.rmtree(store / name)


def _clean_temporaries(store: Path) -> None:
    for tmp in store.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


def open_store(
    store: str | Path, manifest: dict[str, Any], *, resume: bool, prefix: str | tuple[str, ...]
) -> Path:
    """Prepare a store directory for a job described by ``manifest``.

    With ``resume`` the existing manifest must match ``manifest`` (else
    :class:`CheckpointError`); without it, existing groups whose names start with ``prefix``
    are removed. Leftover temporaries are always removed.

    Returns
    -------
    Path
        The store directory.
    """
    import zarr

    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    _clean_temporaries(store)
    manifest = {"format": STORE_FORMAT, **manifest}
    path = store / MANIFEST
    if resume and path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if old is not None and old != json.loads(json.dumps(manifest)):
            diff = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            raise CheckpointError(
                f"checkpoint store {str(store)!r} was written for another job "
                f"(differs in {diff}: stored {[old.get(k) for k in diff]}, "
                f"now {[manifest.get(k) for k in diff]}); use another output directory "
                "or run without --resume to start over"
            )
    if not resume:
        for child in list(store.iterdir()):
            if child.name.startswith(prefix) and child.is_dir():
                remove_group(store, child.name)
        for rec in (store / INTEGRITY_DIR).glob("*.json"):
            if rec.name.startswith(prefix):
                rec.unlink(missing_ok=True)
    if not (store / "zarr.json").is_file():
        zarr.open_group(store, mode="a", zarr_format=3, attributes={"gridcap": STORE_FORMAT})
    _write_text(path, json.dumps(manifest, indent=1, sort_keys=True))
    return store


# --------------------------------------------------------------------------- batches


def batch_name(offset: int) -> str:
    """Group name of the batch starting at global scenario index ``offset``."""
    return f"batch_{offset:012d}"


def scenario_batches(total: int, batch_size: int) -> list[tuple[int, int]]:
    """``(offset, count)`` of each batch covering scenarios ``0 … total-1``.

    Raises
    ------
    GridcapInputError
        If ``total`` or ``batch_size`` is not a positive integer.
    """
    for label, value in (("total", total), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise GridcapInputError(
                f"map_scenario_batches: {label} = {value!r}: expected a positive integer"
            )
    return [(off, min(batch_size, total - off)) for off in range(0, int(total), int(batch_size))]


def _checked(ds: Any, offset: int, count: int) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"compute({offset}, {count}) returned {type(ds).__name__}, "
                        "expected an xarray.Dataset")
    if ds.sizes.get("scenario") != count:
        raise ValueError(
            f"compute({offset}, {count}) returned a Dataset with scenario size "
            f"{ds.sizes.get('scenario')}, expected {count}"
        )
    return ds.load()


def _run_batch(
    compute: BatchCompute, offset: int, count: int, store: str | None
) -> xr.Dataset | None:
    """Compute one batch; with a store, write it there and return None."""
    ds = _checked(compute(offset, count), offset, count)
    if store is None:
        return ds
    write_group(store, batch_name(offset), ds)
    return None


def concat_scenarios(parts: list[xr.Dataset]) -> xr.Dataset:
    """Concatenate scenario batches in order (variables without ``scenario`` from the first)."""
    if len(parts) == 1:
        return parts[0]
    return xr.concat(parts, dim="scenario", data_vars="minimal", coords="minimal",
                     compat="override", join="override", combine_attrs="override")


def map_scenario_batches(
    compute: BatchCompute,
    total: int,
    batch_size: int,
    *,
    store: str | Path | None = None,
    resume: bool = False,
    client: Any = None,
    progress: Progress | None = None,
    stage: str = "monte carlo",
    fingerprint: str | None = None,
) -> xr.Dataset:
    """Compute ``total`` scenarios in batches, optionally checkpointed and on Dask.

    Parameters
    ----------
    compute : callable
        ``compute(offset, count) -> xarray.Dataset`` with dim ``scenario`` of size ``count``
        holding global scenarios ``offset … offset+count-1``. Must be deterministic and, with
        a Dask client, picklable (closures and lambdas are fine: Dask uses cloudpickle).
    total : int
        Number of scenarios [1].
    batch_size : int
        Scenarios per batch (one checkpoint group each) [1].
    store : str or Path, optional
        Checkpoint directory (a Zarr store). Without it nothing is written.
    resume : bool
        Reuse verified batches already in ``store``; recompute missing or corrupt ones.
        Without it, batches already in the store are discarded.
    client : dask.distributed.Client, optional
        Map the batches over this cluster's workers.
    progress : callable, optional
        ``progress(stage, done, total)`` in scenarios.
    stage : str
        Stage name passed to ``progress``.
    fingerprint : str, optional
        Identifies the job (e.g. a hash of the inputs); a resumed store must carry the same.

    Returns
    -------
    xarray.Dataset
        All batches concatenated along ``scenario`` in index order; variables without a
        ``scenario`` dimension come from the first batch. Identical to one uninterrupted
        single-process run.

    Raises
    ------
    CheckpointError
        If ``resume`` is set and ``store`` was written for another job.
    RuntimeError
        If a batch just written cannot be read back intact (a storage fault).

    Notes
    -----
    A batch counts as done only when its Zarr group and its integrity record (SHA-256 per
    variable, written last) agree, so resuming after SIGKILL at any point recomputes exactly
    the batches that were not finished.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> f = lambda o, c: xr.Dataset({"x": ("scenario", np.arange(o, o + c) ** 2.0)},
    ...                             coords={"scenario": np.arange(o, o + c)})
    >>> map_scenario_batches(f, 5, 2).x.values.tolist()
    [0.0, 1.0, 4.0, 9.0, 16.0]
    """
    batches = scenario_batches(total, batch_size)
    report = progress or (lambda stage, done, total: None)
    store_path: Path | None = None
    done: dict[int, xr.Dataset] = {}
    if store is not None:
        store_path = open_store(
            store,
            {"total": int(total), "batch_size": int(batch_size), "fingerprint": fingerprint},
            resume=resume, prefix="batch_",
        )
        if resume:
            for offset, _count in batches:
                ds, _reason = read_group(store_path, batch_name(offset))
                if ds is not None:
                    done[offset] = ds
    counts = dict(batches)
    todo = [(o, c) for o, c in batches if o not in done]
    finished = sum(counts[o] for o in done)
    report(stage, finished, total)
    store_arg = None if store_path is None else str(store_path)

    def collect(offset: int, value: xr.Dataset | None) -> None:
        nonlocal finished
        if value is None:
            assert store_path is not None
            value, reason = read_group(store_path, batch_name(offset))
            if value is None:
                raise RuntimeError(
                    f"batch at scenario {offset} was just written to {store_path} but cannot "
                    f"be read back intact: {reason}"
                )
        done[offset] = value
        finished += counts[offset]
        report(stage, finished, total)

    if client is None:
        for offset, count in todo:
            collect(offset, _run_batch(compute, offset, count, store_arg))
    elif todo:
        from distributed import as_completed

        futures = client.map(
            _run_batch, [compute] * len(todo), [o for o, _ in todo], [c for _, c in todo],
            [store_arg] * len(todo), pure=False,
        )
        offset_of = {fut.key: o for fut, (o, _c) in zip(futures, todo, strict=True)}
        for fut in as_completed(futures):
            collect(offset_of[fut.key], fut.result())
    return concat_scenarios([done[o] for o, _ in batches])


def existing_groups(store: str | Path, names: Iterable[str]) -> dict[str, xr.Dataset]:
    """The verified groups among ``names`` (corrupt or missing ones are left out)."""
    out = {}
    for name in names:
        ds, _reason = read_group(store, name)
        if ds is not None:
            out[name] = ds
    return out
