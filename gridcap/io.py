"""Result files: atomic writes, output folders written as one set, and NetCDF-safe attributes.

A result file is either the complete new file or the old one: we write to a temporary file in
the same directory, flush it to disk, then ``os.replace`` it over the target (atomic on POSIX).
An interrupted run therefore never leaves a half-written ``results.nc``.

An output folder (``gridcap run/sweep --out DIR``) is written as one *set*
(:func:`output_folder`):

- a lock (``DIR/.gridcap.lock``, ``flock``) keeps a second run out of ``DIR`` while one is
  writing there; the kernel drops it when the holder exits, even on SIGKILL;
- the final files are written into a staging folder ``DIR/.staging-<id>/``; on commit the
  manifest ``DIR/gridcap-outputs.json`` is removed, the files are renamed into place, and a new
  manifest (size and SHA-256 of every file of the set) is written last, atomically;
- :func:`verify_output_set` (called by :func:`read_results`) refuses a folder whose files do
  not match its manifest, or a folder a gridcap run wrote into that has no manifest (a run
  was killed while renaming its files into place): never one run's ``results.nc`` beside
  another's ledgers;
- leftovers of a killed run (staging folders, ``.*.tmp`` files) are removed by the next run
  under the lock.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcap.errors import OutputError

OUTPUT_MANIFEST = "gridcap-outputs.json"
OUTPUT_FORMAT = "gridcap-outputs/1"
LOCK_FILE = ".gridcap.lock"
STAGING_PREFIX = ".staging-"


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` then atomically move ``tmp_path`` to ``path``.

    Parameters
    ----------
    path : str or Path
        Final destination.
    write : callable
        Writes the complete file to the temporary path it is given.

    Returns
    -------
    Path
        The final path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _safe_attr(value: Any) -> Any:
    """Convert an attribute value to something NetCDF can store."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, str | int | float | np.integer | np.floating):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, int | float) for v in value):
        return np.asarray(value)
    return json.dumps(value, default=str)


def _safe_variable(var: xr.Variable) -> xr.Variable:
    """One variable in a form NetCDF4 stores (see :func:`netcdf_safe`)."""
    attrs = {k: _safe_attr(v) for k, v in var.attrs.items()}
    if var.dtype.kind == "b":
        attrs["dtype"] = "bool"
        return xr.Variable(var.dims, var.values.astype("i1"), attrs)
    if var.dtype.kind == "O":
        return xr.Variable(var.dims, var.values.astype(str), attrs)
    return xr.Variable(var.dims, var.values, attrs)


def netcdf_safe(ds: xr.Dataset) -> xr.Dataset:
    """Return a copy of ``ds`` that NetCDF4 can store.

    Dict/list attributes become JSON strings, booleans become int8 with
    ``attrs["dtype"] = "bool"``, object-dtype text becomes fixed-width unicode. The copy is
    built in one Dataset construction (assigning hundreds of variables one by one re-aligned
    the whole dataset each time: ~10 s for a quickstart results file).
    """
    coords = {name: _safe_variable(ds.variables[name]) for name in ds.coords}
    data = {name: _safe_variable(ds.variables[name]) for name in ds.data_vars}
    return xr.Dataset(data, coords=coords,
                      attrs={k: _safe_attr(v) for k, v in ds.attrs.items()})


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to NetCDF4 atomically (see :func:`atomic_write`).

    Returns
    -------
    Path
        The final path.
    """
    safe = netcdf_safe(ds)
    return atomic_write(path, lambda tmp: safe.to_netcdf(tmp, engine="netcdf4"))


def read_results(path: str | Path, *, verify: bool = True) -> xr.Dataset:
    """Open a ``results.nc`` written by gridcap, restoring booleans.

    Parameters
    ----------
    path : str or Path
        The results file.
    verify : bool
        Check the file against its folder's output manifest first (:func:`verify_output_set`).

    Returns
    -------
    xarray.Dataset
        Loaded into memory (the file is closed).

    Raises
    ------
    OutputError
        If the folder's output set is incomplete or mixed.
    """
    if verify:
        verify_output_set(Path(path).parent, files=(Path(path).name,))
    with xr.open_dataset(path, engine="netcdf4") as ds:
        ds = ds.load()
    for name in list(ds.variables):
        if ds[name].attrs.get("dtype") == "bool":
            attrs = {k: v for k, v in ds[name].attrs.items() if k != "dtype"}
            ds[name] = xr.Variable(ds[name].dims, ds[name].values.astype(bool), attrs)
    return ds


# --------------------------------------------------------------------------- output folders


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (creations, renames) to disk; a refusal is ignored.

    Parameters
    ----------
    path : Path
        The directory.
    """
    with contextlib.suppress(OSError):  # some file systems refuse directory fsync
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _where(flag: str, out_dir: Path) -> str:
    return f"{flag} {str(out_dir)!r}"


def check_output_dir(
    out_dir: str | Path, expect: Mapping[str, str] | None = None, *, flag: str = "--out"
) -> Path:
    """Check that ``out_dir`` can hold gridcap outputs, creating it when missing.

    Parameters
    ----------
    out_dir : str or Path
        The output folder.
    expect : mapping, optional
        Entry name → ``"file"`` or ``"dir"``: what an existing entry of that name must be
        (e.g. ``{"results.nc": "file", "checkpoint": "dir"}``).
    flag : str
        The CLI flag or argument named in messages.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    OutputError
        If ``out_dir`` is a file, cannot be created, is not writable, or holds an entry of
        the wrong type.
    """
    out = Path(out_dir)
    where = _where(flag, out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{where} is a file: expected a directory (or a path that does not "
                          "exist yet)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{where}: cannot create the directory ({err.strerror or err}); "
                          "expected a writable location") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{where} is not writable (read-only): expected a directory this "
                          "user can write to")
    for name, kind in (expect or {}).items():
        entry = out / name
        if not entry.exists() and not entry.is_symlink():
            continue
        ok = entry.is_file() if kind == "file" else entry.is_dir()
        if not ok:
            found = "directory" if entry.is_dir() else "file" if entry.is_file() else "other"
            raise OutputError(
                f"{where} holds {name!r} as a {found}: expected a {kind}, as gridcap writes "
                f"it; remove it or choose another {flag}"
            )
    return out


def _lock_owner(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return "another process"
    return f"process {text}" if text else "another process"


@contextlib.contextmanager
def folder_lock(out_dir: Path, *, flag: str = "--out") -> Iterator[Path]:
    """Hold an exclusive lock on ``out_dir`` (``flock`` on ``out_dir/.gridcap.lock``).

    The lock is non-blocking: a second holder gets :class:`OutputError` at once. It is dropped
    when the context exits and by the kernel when the process dies (SIGKILL included), so no
    stale lock survives a crash. Where ``fcntl`` is missing (Windows) no lock is taken.

    Raises
    ------
    OutputError
        If another process holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield out_dir
        return
    path = out_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise OutputError(f"{_where(flag, out_dir)}: cannot create the lock file "
                          f"({err.strerror or err}); expected a writable directory") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise OutputError(
                f"{_where(flag, out_dir)} is in use by {_lock_owner(path)}, which is writing "
                f"there now; wait for it to finish or choose another {flag}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}".encode())
        try:
            yield out_dir
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def clean_leftovers(out_dir: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    """Remove staging folders and ``.*.tmp`` files a killed run left in ``out_dir``.

    Looks in ``out_dir`` and its direct sub-folders except those named in ``skip`` (checkpoint
    stores clean their own temporaries). Call it only while holding :func:`folder_lock`.

    Returns
    -------
    list of Path
        What was removed.
    """
    removed: list[Path] = []
    folders = [out_dir] + [d for d in out_dir.iterdir()
                           if d.is_dir() and d.name not in skip
                           and not d.name.startswith(STAGING_PREFIX)]
    for entry in out_dir.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
        removed.append(entry)
    for folder in folders:
        for tmp in folder.glob(".*.tmp"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


class OutputSet:
    """The final files of one run, staged and then committed to the folder as one set.

    Write each file to :meth:`path` (relative name → a path in the staging folder), then call
    :meth:`commit`. Until the commit the folder's previous set (if any) is untouched.
    """

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir
        self.staging = out_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        self.staging.mkdir()

    def path(self, name: str) -> Path:
        """Where to write output ``name`` (e.g. ``"results.nc"``, ``"finance"``) for now."""
        return self.staging / name

    def files(self) -> list[str]:
        """Relative paths (POSIX) of every file staged so far, sorted."""
        return sorted(p.relative_to(self.staging).as_posix()
                      for p in self.staging.rglob("*") if p.is_file())

    def commit(self, meta: Mapping[str, Any] | None = None, *,
               keep_others: bool = False) -> dict[str, Any]:
        """Move the staged files into place and write the manifest last.

        Parameters
        ----------
        meta : mapping, optional
            Extra manifest entries (``command`` …).
        keep_others : bool, default False
            Keep the previous manifest's records of files this set does not replace (an
            output set added beside another one in the same folder, e.g. ``gridcap
            headroom --out`` into a run's folder); otherwise the manifest lists this set only.

        Returns
        -------
        dict
            The manifest written to ``OUT/gridcap-outputs.json``.
        """
        names = self.files()
        record = self._kept_records(set(names)) if keep_others else {}
        record.update({name: {"bytes": (self.staging / name).stat().st_size,
                              "sha256": _sha256_file(self.staging / name)} for name in names})
        manifest = {"format": OUTPUT_FORMAT, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    **dict(meta or {}), "files": record}
        (self.dir / OUTPUT_MANIFEST).unlink(missing_ok=True)
        fsync_dir(self.dir)
        for name in names:
            target = self.dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.staging / name, target)
        text = json.dumps(manifest, indent=1, sort_keys=True, default=str)
        atomic_write(self.dir / OUTPUT_MANIFEST,
                     lambda tmp: tmp.write_text(text, encoding="utf-8"))
        fsync_dir(self.dir)
        shutil.rmtree(self.staging, ignore_errors=True)
        return manifest

    def _kept_records(self, replaced: set[str]) -> dict[str, Any]:
        """The previous manifest's records of files not in ``replaced`` that still exist."""
        try:
            old = json.loads((self.dir / OUTPUT_MANIFEST).read_text(encoding="utf-8"))
            files = dict(old["files"])
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return {name: rec for name, rec in files.items()
                if name not in replaced and (self.dir / name).is_file()}

    def discard(self) -> None:
        """Remove the staging folder (the previous set stays as it was)."""
        shutil.rmtree(self.staging, ignore_errors=True)


@contextlib.contextmanager
def output_folder(
    out_dir: str | Path,
    expect: Mapping[str, str] | None = None,
    *,
    flag: str = "--out",
    skip: tuple[str, ...] = (),
) -> Iterator[OutputSet]:
    """Check, lock and clean ``out_dir``, then yield an :class:`OutputSet` to stage files in.

    Any :class:`OSError` raised inside (disk full, read-only, permission) becomes an
    :class:`OutputError` naming the folder and the cause; the previous output set is left as
    it was unless the failure hit the commit itself (then the folder has no manifest and
    :func:`verify_output_set` reports it as incomplete).

    Parameters
    ----------
    out_dir : str or Path
        The output folder.
    expect : mapping, optional
        Names of entries and their required kind (see :func:`check_output_dir`).
    flag : str
        The CLI flag named in messages.
    skip : tuple of str
        Sub-folders :func:`clean_leftovers` must not look into.

    Raises
    ------
    OutputError
        See :func:`check_output_dir` and :func:`folder_lock`; or a write failed.
    """
    out = check_output_dir(out_dir, expect, flag=flag)
    with folder_lock(out, flag=flag):
        staged: OutputSet | None = None
        try:
            clean_leftovers(out, skip=skip)
            staged = OutputSet(out)
            yield staged
        except OSError as err:
            name = f" ({err.filename})" if getattr(err, "filename", None) else ""
            raise OutputError(
                f"{_where(flag, out)}: writing failed: {err.strerror or err}{name}; outputs "
                "written before this run are intact (an interrupted commit is reported as "
                "an incomplete set); free space or fix permissions and rerun, with --resume "
                "to reuse finished work"
            ) from err
        finally:
            if staged is not None:
                staged.discard()


def verify_output_set(out_dir: str | Path, files: tuple[str, ...] | None = None) -> None:
    """Check that ``out_dir`` holds one complete output set.

    A folder with a manifest must match it (every listed file present, same size and
    SHA-256; only ``files`` when given). A folder a gridcap run locked (``.gridcap.lock``)
    but without a manifest is incomplete. A folder with neither (files copied elsewhere,
    written by hand) is accepted as it is.

    Raises
    ------
    OutputError
        Naming the folder, the file that does not match and what to do.
    """
    out = Path(out_dir)
    manifest_path = out / OUTPUT_MANIFEST
    if not manifest_path.is_file():
        if (out / LOCK_FILE).exists():
            raise OutputError(
                f"{str(out)!r} holds no complete output set: the last gridcap run into it "
                f"did not finish writing ({OUTPUT_MANIFEST} is missing); rerun it (with "
                "--resume to reuse finished work)"
            )
        return
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        record = dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise OutputError(f"{str(manifest_path)!r} is unreadable ({err}); rerun the study "
                          "into this folder") from None
    for name in files if files is not None else tuple(record):
        if name not in record:
            if files is not None and name not in record and (out / name).exists():
                raise OutputError(f"{str(out / name)!r} is not part of the output set in "
                                  f"{OUTPUT_MANIFEST}; it was written by something else")
            continue
        path = out / name
        want = record[name]
        if not path.is_file():
            raise OutputError(f"{str(path)!r} is missing from the output set listed in "
                              f"{str(manifest_path)!r}; rerun the study into this folder")
        if path.stat().st_size != want.get("bytes") or _sha256_file(path) != want.get("sha256"):
            raise OutputError(
                f"{str(path)!r} does not match the output set in {str(manifest_path)!r} "
                "(it was changed or replaced after the run, or comes from another run); "
                "rerun the study into this folder"
            )
