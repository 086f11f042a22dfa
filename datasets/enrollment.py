"""Enrolled DER population per region and year: the path a weighted sample stands for.

A synthetic fleet of N premises is a *sample* (the ResStock habit): each premise carries a
weight, the number of real enrolled premises it stands for, so that aggregates (committed
MW, delivered MW per event, pool cash flows) are those of the enrolled population. This
module owns that population path; every number comes from ``data/der_enrollment.csv``, one
cited anchor per row (``status`` says which are gridcap assumptions).

The path
--------
.. math::

    N_{US}(y) = C_{2014}\\,s_{res}\\,(1+g)^{\\min(y, 2030) - y_0}\\,
                (1+g_2)^{\\max(y - 2030, 0)}, \\qquad
    N_r(y) = N_{US}(y)\\,\\frac{L_r}{L_{US}}

with :math:`C_{2014}` the US customers enrolled in demand-response programmes (EIA-861,
9.3 million in 2014), :math:`s_{res}` their residential share (93%), held flat to the base
year :math:`y_0 = 2025` (a conservative reading: VPP capacity has grown since), grown at the
VPP capacity growth :math:`g` (Wood Mackenzie, ~14%/yr) to 2030 and at :math:`g_2` (a gridcap
assumption, 7%/yr) after; split by each region's share of the US coincident peak
(:math:`L_r` = ``regions.peak_load_mw``, :math:`L_{US}` = 759,180 MW, EIA 2025). The implied
2030 VPP capacity, 37.5 GW × 1.14⁵ ≈ 72 GW, stays below DOE's 80–160 GW Liftoff range, so the
path does not presume the acceleration DOE calls for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError

__all__ = ["BASE_YEAR", "enrolled_premises", "read_der_enrollment"]

#: Year the anchors are brought to before growth is applied [year].
BASE_YEAR = 2025
#: Last year of the first (Wood Mackenzie) growth rate [year].
FIRST_GROWTH_END = 2030

_ANCHORS = (
    "us_dr_customers", "us_dr_residential_share", "us_vpp_capacity_gw", "vpp_growth_per_year",
    "vpp_growth_after_2030_per_year", "doe_vpp_2030_gw_low", "doe_vpp_2030_gw_high",
    "us_peak_load_mw",
)


def read_der_enrollment(path: str | Path | None = None) -> tuple[xr.Dataset, dict[str, Any]]:
    """The cited anchors of the enrolled-population path.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``anchor, value, unit, year, source, source_url, source_date,
        status``; default the shipped ``datasets/data/der_enrollment.csv``.

    Returns
    -------
    xarray.Dataset
        One scalar variable per anchor (units in ``attrs["units"]``; ``source``,
        ``source_url``, ``source_date``, ``status`` and ``year`` in its attrs).
    dict
        Metadata: file, SHA-256, rows.

    Raises
    ------
    GridcapInputError
        A missing anchor or column, or a value that is not a number.
    """
    from gridcap.datasets.loaders import _csv_path, _meta, _read_frame, _to_number

    p, shipped = _csv_path("der_enrollment.csv", path)
    frame = _read_frame(p)
    need = ["anchor", "value", "unit", "year", "source", "source_url", "source_date", "status"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise GridcapInputError(
            f"{p} is missing column(s) {', '.join(missing)}: expected {', '.join(need)}")
    values = _to_number(frame["value"], f"{p.name}.value", "float")
    absent = [a for a in _ANCHORS if a not in set(frame["anchor"].str.strip())]
    if absent:
        raise GridcapInputError(f"{p} lacks anchor row(s) {absent}: expected {list(_ANCHORS)}")
    data = {}
    for (_, row), v in zip(frame.iterrows(), values, strict=True):
        data[row["anchor"].strip()] = ((), float(v), {
            "units": row["unit"], "year": row["year"], "source": row["source"],
            "source_url": row["source_url"], "source_date": row["source_date"],
            "status": row["status"]})
    ds = xr.Dataset(data)
    ds.attrs.update(title="US enrolled DER / VPP population anchors",
                    source_file=p.name if shipped else str(p))
    return ds, _meta("der_enrollment.csv", p, shipped, len(frame))


def enrolled_premises(peak_load_mw: xr.DataArray, years: Any,
                      anchors: xr.Dataset | None = None) -> xr.DataArray:
    """Enrolled DER premises per region and year [premises].

    Parameters
    ----------
    peak_load_mw : xarray.DataArray
        Regional peak load [MW] on dim ``region`` (``regions.peak_load_mw``).
    years : sequence of int
        Years [year].
    anchors : xarray.Dataset, optional
        From :func:`read_der_enrollment` (default: the shipped anchors).

    Returns
    -------
    xarray.DataArray
        ``der_enrolled_premises`` (region, year) [premises], with the formula and sources in
        ``attrs``.

    Raises
    ------
    GridcapInputError
        A negative or non-finite peak load.

    Examples
    --------
    >>> import xarray as xr
    >>> peak = xr.DataArray([85_508.0], dims="region", coords={"region": ["ERCOT"]})
    >>> n = enrolled_premises(peak, [2025, 2026])
    >>> int(n.sel(region="ERCOT", year=2025))
    974155
    """
    a = anchors if anchors is not None else read_der_enrollment()[0]
    peak = np.asarray(peak_load_mw.values, dtype=float)
    bad = ~np.isfinite(peak) | (peak < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GridcapInputError(
            f"regions.peak_load_mw[{i}] = {peak[i]!r}: expected a finite value >= 0 [MW]")
    yrs = np.asarray(list(years), dtype=np.int64)
    g1 = float(a["vpp_growth_per_year"])
    g2 = float(a["vpp_growth_after_2030_per_year"])
    n_us = float(a["us_dr_customers"]) * float(a["us_dr_residential_share"])
    first = np.minimum(yrs, FIRST_GROWTH_END) - BASE_YEAR
    after = np.maximum(yrs - FIRST_GROWTH_END, 0)
    path = n_us * (1.0 + g1) ** first * (1.0 + g2) ** after
    share = peak / float(a["us_peak_load_mw"])
    out = xr.DataArray(
        np.rint(share[:, None] * path[None, :]), dims=("region", "year"),
        coords={"region": peak_load_mw["region"].values, "year": yrs},
        attrs={
            "units": "premises", "long_name": "enrolled DER premises (VPP / DR programmes)",
            "formula": ("N_US(y) = us_dr_customers x us_dr_residential_share x (1+g)^(min(y,2030)"
                        "-2025) x (1+g2)^max(y-2030,0); N_r = N_US x peak_load_mw / "
                        "us_peak_load_mw"),
            "source": "; ".join(f"{k}: {a[k].attrs['source']} ({a[k].attrs['source_url']})"
                                for k in _ANCHORS if k in a and "doe" not in k),
            "status": "derived",
        })
    return out
