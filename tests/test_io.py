"""Atomic result writes: an interrupted write never replaces or corrupts the existing file."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gridcap.io import atomic_write, read_results, write_netcdf


def _ds(value: float) -> xr.Dataset:
    return xr.Dataset(
        {
            "x": ("site", np.full(3, value), {"units": "MW"}),
            "flag": ("site", np.array([True, False, True])),
            "name": ("site", np.array(["a", "b", "c"], dtype=object)),
        },
        coords={"site": ["s0", "s1", "s2"]},
        attrs={"nested": {"a": 1}, "ok": True},
    )


def test_roundtrip_restores_booleans_and_text(tmp_path):
    path = write_netcdf(_ds(1.0), tmp_path / "results.nc")
    back = read_results(path)
    assert back["flag"].dtype == bool
    assert back["flag"].values.tolist() == [True, False, True]
    assert back["name"].values.tolist() == ["a", "b", "c"]
    assert back["x"].attrs["units"] == "MW"
    assert back.attrs["nested"] == '{"a": 1}'


def test_failed_write_leaves_previous_file_intact_and_no_temp_files(tmp_path):
    path = write_netcdf(_ds(1.0), tmp_path / "results.nc")

    def crash(tmp):
        tmp.write_bytes(b"half a file")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(path, crash)
    assert float(read_results(path)["x"][0]) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.nc"]
    write_netcdf(_ds(2.0), path)
    assert float(read_results(path)["x"][0]) == 2.0
