"""Shared pieces of the fault-injection suites (tests/test_fault_*.py).

A *tiny* study (one region, two real sites, 20 DERs, four scenarios in batches of two, two
years) runs the whole real pipeline in about a second once warm, so the suites can run it
many times in-process; only tests that need a second process (locks, signals) start one.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import xarray as xr

from gridcap.datasets.loaders import DATA_DIR

TINY = """
[study]
name = "tiny"
start_year = 2026
horizon_years = 2
regions = ["ERCOT"]
seed = 7
backend = "numba-cpu"

[monte_carlo]
scenarios = 4
hours = 8760
batch_size = 2

[datasets]
regions = "{regions}"
technologies = "{technologies}"
sites = "{sites}"
site_ids = ["corz_denton", "riot_rockdale"]
# lead times within the two-year horizon (the planner refuses longer ones)
technology_ids = ["gas_recip", "solar_utility", "battery_4h", "mine_conversion"]

[fleet]
n_der = 20

[optimizer]
scenarios_in_model = 4

[finance.senior]
tenor_years = 2

[finance.mezzanine]
tenor_years = 2
"""

DATASET_FILES = {"regions": "regions.csv", "technologies": "technologies.csv",
                 "sites": "mine_sites.csv"}


def write_study(folder: Path, *, user_files: tuple[str, ...] = (), name: str = "tiny.toml",
                text: str = TINY) -> Path:
    """Write the tiny study into ``folder``; ``user_files`` (``"sites"`` …) are copied next
    to it from the shipped data and named by a *relative* path in ``[datasets]``."""
    folder.mkdir(parents=True, exist_ok=True)
    values = {}
    for key, file in DATASET_FILES.items():
        if key in user_files:
            shutil.copy(DATA_DIR / file, folder / file)
            values[key] = file
        else:
            values[key] = "shipped"
    path = folder / name
    path.write_text(text.format(**values), encoding="utf-8")
    return path


def edit_csv(path: Path, row_id: str, column: str, value: str) -> None:
    """Set ``column`` of the row whose first column is ``row_id`` to ``value`` (text)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    col = rows[0].index(column)
    hits = [r for r in rows[1:] if r[0] == row_id]
    assert hits, f"{row_id} not in {path}"
    hits[0][col] = value
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def numeric_names(ds: xr.Dataset) -> list[str]:
    return [str(v) for v in ds.data_vars if ds[v].dtype.kind in "iufb"]


def differing(a: xr.Dataset, b: xr.Dataset) -> list[str]:
    """Numeric variables whose values differ between ``a`` and ``b`` (NaN equal to NaN)."""
    out = []
    for name in sorted(set(numeric_names(a)) | set(numeric_names(b))):
        if name not in a or name not in b:
            out.append(name)
            continue
        x, y = np.asarray(a[name].values), np.asarray(b[name].values)
        if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            out.append(name)
    return out
