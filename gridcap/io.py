"""Result files: atomic NetCDF writes and NetCDF-safe attributes.

A result file is either the complete new file or the old one: we write to a temporary file in
the same directory, flush it to disk, then ``os.replace`` it over the target (atomic on POSIX).
An interrupted run therefore never leaves a half-written ``results.nc``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr


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


def read_results(path: str | Path) -> xr.Dataset:
    """Open a ``results.nc`` written by gridcap, restoring booleans.

    Returns
    -------
    xarray.Dataset
        Loaded into memory (the file is closed).
    """
    with xr.open_dataset(path, engine="netcdf4") as ds:
        ds = ds.load()
    for name in list(ds.variables):
        if ds[name].attrs.get("dtype") == "bool":
            attrs = {k: v for k, v in ds[name].attrs.items() if k != "dtype"}
            ds[name] = xr.Variable(ds[name].dims, ds[name].values.astype(bool), attrs)
    return ds
