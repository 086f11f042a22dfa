"""Interconnection paths: how long a new resource waits for grid access, and how much can
take each path, by region.

One queue for all is not how things are built: solar and storage are added at existing plants
under *surplus interconnection service*, small gas runs *behind the meter* at a data center
(no grid queue at all), and PJM, MISO and SPP run one-time or capped *fast-track* processes
for shovel-ready capacity. This module owns those numbers; every row of
``data/interconnection_paths.csv`` carries its citation (``status`` says which are derived).

A technology's path is its ``technologies.interconnection_path``; the planner's order-to-online
lag is ``ceil(lead_time_years + path_years[region, path])``, and the MW online through a path
with a limit stay within ``path_limit_mw[region, path]`` (``behind_the_meter``: within the AI
load placed in the region). A path a region does not offer (no row) falls back to the queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError

__all__ = ["PATHS", "read_interconnection_paths"]

#: Interconnection paths, in the order of the ``path`` dimension.
PATHS = ("queue", "surplus", "behind_the_meter", "fast_track")


def read_interconnection_paths(
    regions: xr.Dataset, path: str | Path | None = None
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Time to interconnect and MW limit per region and path.

    Parameters
    ----------
    regions : xarray.Dataset
        Regions with ``queue_years`` [yr] on dim ``region``.
    path : str or Path, optional
        A CSV with columns ``path, region, years, limit_mw, programme, source, source_url,
        source_date, status`` (``region = *`` for every region; empty ``years``: the region's
        queue; empty ``limit_mw``: no limit); default the shipped file.

    Returns
    -------
    xarray.Dataset
        ``path_years`` (region, path) [yr] and ``path_limit_mw`` (region, path) [MW] (``inf``
        = no limit), with ``programme`` and ``source`` (region, path) labels.
    dict
        Metadata: file, SHA-256, rows.

    Raises
    ------
    GridcapInputError
        An unknown path, a negative time or limit, or a missing column.
    """
    from gridcap.datasets.loaders import _csv_path, _meta, _read_frame, _to_number

    p, shipped = _csv_path("interconnection_paths.csv", path)
    frame = _read_frame(p)
    need = ["path", "region", "years", "limit_mw", "programme", "source"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise GridcapInputError(
            f"{p} is missing column(s) {', '.join(missing)}: expected {', '.join(need)}")
    unknown = sorted(set(frame["path"].str.strip()) - set(PATHS))
    if unknown:
        raise GridcapInputError(f"{p.name}.path has {unknown}: expected one of {list(PATHS)}")
    years = _to_number(frame["years"], f"{p.name}.years", "float")
    limit = _to_number(frame["limit_mw"], f"{p.name}.limit_mw", "float")
    for name, v in (("years", years), ("limit_mw", limit)):
        bad = np.flatnonzero(v < 0)
        if bad.size:
            raise GridcapInputError(
                f"{p.name}.{name}[row {int(bad[0])}] = {v[bad[0]]:g}: expected a value >= 0")
    names = [str(r) for r in regions["region"].values]
    queue = np.asarray(regions["queue_years"].values, dtype=float)
    R, A = len(names), len(PATHS)
    y = np.full((R, A), np.nan)
    lim = np.full((R, A), np.inf)
    prog = np.full((R, A), "", dtype=object)
    src = np.full((R, A), "", dtype=object)
    offered = np.zeros((R, A), bool)
    # '*' rows first, then region rows override them
    for star in (True, False):
        for i, row in frame.iterrows():
            reg = str(row["region"]).strip()
            if (reg == "*") != star:
                continue
            a = PATHS.index(str(row["path"]).strip())
            targets = range(R) if star else [names.index(reg)] if reg in names else []
            for r in targets:
                offered[r, a] = True
                y[r, a] = years[i]
                lim[r, a] = limit[i] if np.isfinite(limit[i]) else np.inf
                prog[r, a] = str(row["programme"])
                src[r, a] = str(row["source"])
    q = PATHS.index("queue")
    y[:, q] = np.where(np.isnan(y[:, q]), queue, y[:, q])
    # not offered (or no time given): the region's queue, without a path limit
    fallback = ~offered | np.isnan(y)
    y = np.where(fallback, queue[:, None], y)
    lim = np.where(fallback, np.inf, lim)
    prog = np.where(fallback, "not offered: standard queue", prog)
    ds = xr.Dataset(
        {"path_years": (("region", "path"), y, {
            "units": "yr", "long_name": "time from request to grid access on the path"}),
         "path_limit_mw": (("region", "path"), lim, {
             "units": "MW", "long_name": "most MW online through the path (inf: no limit)"}),
         "path_programme": (("region", "path"), prog.astype(str), {"units": ""}),
         "path_source": (("region", "path"), src.astype(str), {"units": ""})},
        coords={"region": names, "path": list(PATHS)})
    return ds, _meta("interconnection_paths.csv", p, shipped, len(frame))
