"""scripts/gpu_wheels.py: the wheelhouse check that gates the one-call GPU verification."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gw():
    spec = importlib.util.spec_from_file_location("gpu_wheels", ROOT / "scripts" / "gpu_wheels.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _wheel(house: Path, filename: str, requires: list[str], size: int = 0) -> Path:
    """A minimal wheel: METADATA with Requires-Dist lines (and optional padding)."""
    name, version = filename.split("-")[:2]
    path = house / filename
    with zipfile.ZipFile(path, "w") as z:
        meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        meta += [f"Requires-Dist: {r}" for r in requires]
        z.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(meta) + "\n")
        if size:
            z.writestr("pad.bin", b"\0" * size, compress_type=zipfile.ZIP_STORED)
    return path


def _complete(house: Path) -> None:
    """gridcap's own needs that the image lacks, as tiny wheels."""
    for n in ("pyomo", "highspy", "pvlib", "zarr", "netcdf4"):
        _wheel(house, f"{n}-1.0-py3-none-any.whl", [])


def test_complete_wheelhouse_passes(gw, tmp_path):
    _complete(tmp_path)
    _wheel(tmp_path, "donfig-0.8-py3-none-any.whl", ["pyyaml"])  # pyyaml: on the image
    _wheel(tmp_path, "cftime-1.6-cp311-abi3-manylinux_2_28_x86_64.whl", ["numpy>1.21"])
    _wheel(tmp_path, "google_crc32c-1.9-cp312-cp312-manylinux2014_x86_64.whl",
           ['importlib-resources; python_version < "3.9"', 'pytest; extra == "test"'])
    assert gw.check(tmp_path, budget_mib=56) == []


@pytest.mark.parametrize(("filename", "requires", "problem"), [
    ("zarr2-3.1-py3-none-any.whl", ["numcodecs>=0.14"], "needs ['numcodecs']"),
    ("fast-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", [], "not a CPython 3.12"),
    ("fast-1.0-cp312-cp312-macosx_11_0_arm64.whl", [], "not a CPython 3.12 Linux x86-64"),
    ("pyomo-2.0-py3-none-any.whl", [], "pyomo: 2 versions"),
])
def test_each_problem_is_named(gw, tmp_path, filename, requires, problem):
    _complete(tmp_path)
    _wheel(tmp_path, filename, requires)
    problems = gw.check(tmp_path, budget_mib=56)
    assert any(problem in p for p in problems), problems


def test_missing_gridcap_dependency_and_size_budget(gw, tmp_path):
    _wheel(tmp_path, "pyomo-1.0-py3-none-any.whl", [], size=2 * 2**20)
    problems = gw.check(tmp_path, budget_mib=1)
    assert any("gridcap needs" in p and "pvlib" in p for p in problems), problems
    assert any("over the 1 MiB budget" in p for p in problems), problems
    assert gw.check(tmp_path / "nowhere", budget_mib=56)[0].endswith(
        "no wheels (run scripts/gpu-wheels.sh)")


def test_image_list_holds_what_the_gpu_image_has_and_not_what_travels(gw):
    have = gw.image_packages()
    assert {"cupy-cuda13x", "numba-cuda", "numpy", "xarray", "scipy", "pandas"} <= have
    assert not {"pyomo", "highspy", "pvlib", "zarr", "netcdf4"} & have
