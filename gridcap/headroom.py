"""``gridcap headroom``: curtailment-enabled headroom of a study's regions and of EIA-930 BAs.

Wires :func:`gridcap.kernels.headroom.headroom_by_year` (the method of Norris et al. 2025,
Duke University, "Rethinking Load Growth") to two sources of hourly load:

- **simulated**: the Monte Carlo's load years of a study (one simulated year per scenario,
  all 8,760 hours — the representative periods ``gridcap run`` may simulate are hours of this
  same counter-based draw — same seed ⇒ the same load): the paper's year-averaged headroom
  over all scenarios, plus P10/P50/P90 of each single year's headroom against the same
  thresholds;
- **eia930**: historical balancing-authority demand from EIA's six-month BALANCE files
  (:func:`gridcap.datasets.eia930.read_eia930`), complete local calendar years only (as the
  paper dropped its incomplete 2015), or all hours when no year is complete.

Results are an xarray Dataset per source (``headroom_mw`` (region, limit_pct), quantiles,
metrics) and one tidy table (a row per source, region and limit) written as CSV.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcap.errors import GridcapInputError
from gridcap.kernels.headroom import DUKE_2025, HeadroomResult, headroom_by_year

__all__ = [
    "HEADROOM_OUTPUTS",
    "RESULT_DIMS",
    "as_results_variables",
    "headroom_stage",
    "historical_headroom",
    "parse_limits",
    "register",
    "simulated_headroom",
    "tidy_table",
    "write_headroom",
]

_SEASONS = ["winter", "summer", "shoulder"]
_QUANTILES = {"p10": 0.1, "p50": 0.5, "p90": 0.9}


def parse_limits(text: str, flag: str = "--curtailment") -> list[float]:
    """Parse ``"0.25,0.5,1,5"`` into curtailment limits [% of annual energy]."""
    try:
        values = [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise GridcapInputError(f"{flag} {text!r}: expected comma-separated percentages of "
                                "the new load's annual energy, e.g. 0.25,0.5,1,5") from None
    if not values or any(not 0.0 < v < 100.0 for v in values):
        raise GridcapInputError(f"{flag} {text!r}: expected percentages in (0, 100), "
                                "e.g. 0.25,0.5,1,5")
    return sorted(set(values))


def _dataset(regions: list[str], years: np.ndarray, per_year: np.ndarray, res: HeadroomResult,
             attrs: dict[str, Any]) -> xr.Dataset:
    """Headroom results as a labelled Dataset (dims region, limit_pct, year, ...)."""
    rl = ("region", "limit_pct")
    data: dict[str, Any] = {
        "headroom_mw": (rl, res.headroom_mw, "MW",
                        "largest constant new load with year-averaged curtailment ≤ limit"),
        "headroom_by_year_mw": (("region", "year", "limit_pct"), per_year, "MW",
                                "headroom of each year alone (common thresholds)"),
        "curtailment_rate_pct": (rl, res.curtailment_rate_pct, "%",
                                 "year-averaged curtailment rate at the headroom"),
        "curtailed_mwh_per_year": (rl, res.curtailed_mwh_per_year, "MWh/yr",
                                   "curtailed energy of the new load"),
        "curtailed_hours_per_year": (rl, res.curtailed_hours_per_year, "h/yr",
                                     "hours with any curtailment"),
        "mean_event_duration_h": (rl, res.mean_event_duration_h, "h",
                                  "mean run of consecutive curtailed hours"),
        "share_hours_keep_running": ((*rl, "keep_running"), res.share_hours_keep_running, "1",
                                     "share of curtailment hours with ≥ keep_running of the "
                                     "new load still running"),
        "season_share_hours": ((*rl, "season"), res.season_share_hours, "1",
                               "share of curtailment hours by season (Dec-Feb, Jun-Aug, rest)"),
        "threshold_summer_mw": (("region",), res.threshold_summer_mw, "MW",
                                "summer peak threshold (max May-Sep over all years)"),
        "threshold_winter_mw": (("region",), res.threshold_winter_mw, "MW",
                                "winter peak threshold (max Nov-Mar over all years)"),
        "peak_mw": (("region",), res.peak_mw, "MW", "maximum demand in the data"),
    }
    with np.errstate(invalid="ignore"):
        for name, q in _QUANTILES.items():
            data[f"headroom_{name}_mw"] = (rl, np.quantile(per_year, q, axis=1), "MW",
                                           f"{name.upper()} over years of the one-year headroom")
        data["headroom_pct_of_peak"] = (rl, 100.0 * res.headroom_mw / res.peak_mw[:, None], "%",
                                        "headroom as a share of the data's peak demand")
    ds = xr.Dataset(
        {k: xr.DataArray(v, dims=d, attrs={"units": u, "long_name": doc})
         for k, (d, v, u, doc) in data.items()},
        coords={"region": regions, "limit_pct": res.limits_pct, "year": years,
                "keep_running": res.keep_running, "season": _SEASONS},
        attrs={"method": DUKE_2025["source"], "n_years": res.n_years, **attrs},
    )
    ds["limit_pct"].attrs["units"] = "% of the new load's maximum potential annual energy"
    return ds


def simulated_headroom(cfg: Any, limits_pct: Sequence[float], *, inputs: Any = None,
                       scenarios: int | None = None) -> xr.Dataset:
    """Headroom of each study region on the Monte Carlo's simulated load years.

    Parameters
    ----------
    cfg : gridcap.config.StudyConfig
        The study (seed, scenarios, simulated hours, regions).
    limits_pct : sequence of float
        Curtailment limits [% of the new load's maximum potential annual energy].
    inputs : StudyInputs, optional
        Already built inputs (default: built from ``cfg``).
    scenarios : int, optional
        Number of scenario years (default: ``monte_carlo.scenarios``).

    Returns
    -------
    xarray.Dataset
        See :func:`_dataset`; ``year`` is the scenario index, ``attrs["source"] =
        "simulated"``.
    """
    from gridcap.kernels.load_years import simulated_load_years
    from gridcap.pipeline import build_inputs

    inputs = build_inputs(cfg) if inputs is None else inputs
    n_s = int(scenarios or cfg.monte_carlo.scenarios)
    hours = 8760  # the whole simulated year: every season, whatever monte_carlo.hours samples
    load, month = simulated_load_years(inputs, scenarios=n_s, seed=cfg.study.seed, hours=hours)
    regions = [str(r) for r in inputs.regions.region.values]
    demand = load.transpose(1, 0, 2).reshape(len(regions), n_s * hours)  # (R, S·H)
    labels, per_year, pooled = headroom_by_year(
        demand, np.tile(month, n_s), np.repeat(np.arange(n_s), hours), limits_pct,
        hours_per_year=None)
    return _dataset(regions, labels, per_year, pooled, {
        "source": "simulated", "seed": int(cfg.study.seed), "scenarios": n_s,
        "hours_per_scenario": hours, "weather_year": int(np.asarray(inputs.years)[0]),
        "load": "regional load peak_load_mw × load_pu of the Monte Carlo, gross of DER output"})


def historical_headroom(paths: Sequence[str | Path], bas: Sequence[str] | None,
                        limits_pct: Sequence[float], *, max_gap_hours: int = 3,
                        long_gaps: str = "error") -> xr.Dataset:
    """Headroom of EIA-930 balancing authorities (the paper's own data source).

    Parameters
    ----------
    paths : sequence of path
        EIA-930 six-month BALANCE CSV files.
    bas : sequence of str, optional
        Balancing-authority codes (default: all in the files).
    limits_pct : sequence of float
        Curtailment limits [%].
    max_gap_hours, long_gaps
        Gap handling, see :func:`gridcap.datasets.eia930.read_eia930`.

    Returns
    -------
    xarray.Dataset
        See :func:`_dataset`; ``region`` holds the BA codes, ``year`` local calendar years.
    """
    from gridcap.datasets.eia930 import local_calendar, read_eia930

    ds = read_eia930(paths, bas, max_gap_hours=max_gap_hours, long_gaps=long_gaps)
    month, year = local_calendar(ds)
    parts, notes = [], []
    for i, ba in enumerate(ds.ba.values):
        d = ds.demand_mw.values[i]
        keep = np.isfinite(d)
        yrs, counts = np.unique(year[i][keep], return_counts=True)
        complete = yrs[counts >= 8760]
        if complete.size:
            keep &= np.isin(year[i], complete)
            hpy: float | None = DUKE_2025["hours_per_year"]
        else:
            notes.append(f"{ba}: no complete year; all {int(keep.sum())} h used, rate per hours")
            hpy = None
        labels, per_year, pooled = headroom_by_year(d[keep], month[i][keep], year[i][keep],
                                                    limits_pct, hours_per_year=hpy)
        parts.append(_dataset([str(ba)], labels, per_year, pooled, {}))
    out = xr.concat(parts, dim="region", data_vars="all", coords="different",
                    compat="equals", join="outer")
    out.attrs.update({
        "method": DUKE_2025["source"], "source": "eia930", "files": ds.attrs["files"],
        "sha256": ds.attrs["sha256"], "data_source": ds.attrs["source"],
        "data_url": ds.attrs["source_url"], "hours_filled": ds.attrs["hours_filled"],
        "n_gaps": ds.attrs["n_gaps"], "notes": "; ".join(notes) or "complete years only"})
    for v in ("headroom_by_year_mw",):
        out[v].attrs["note"] = "NaN where a BA has no data for that year"
    return out


#: How the headroom dims are named inside a run's results.nc (``year`` there is planning years).
RESULT_DIMS = {"year": "headroom_scenario", "limit_pct": "curtailment_limit_pct",
               "keep_running": "keep_running_share", "season": "curtailment_season"}


def headroom_stage(cfg: Any, inputs: Any) -> xr.Dataset:
    """The ``gridcap run`` stage: simulated headroom at ``[flexible_ai] headroom_limits_pct``."""
    limits = sorted({float(x) for x in cfg.flexible_ai.headroom_limits_pct})
    return simulated_headroom(cfg, limits, inputs=inputs)


def as_results_variables(ds: xr.Dataset) -> xr.Dataset:
    """Headroom results renamed for a run's results Dataset: ``headroom__<name>``, dims of
    :data:`RESULT_DIMS` (``region`` is shared with the plan)."""
    out = ds.rename({v: f"headroom__{v}" for v in ds.data_vars}).rename(
        {k: v for k, v in RESULT_DIMS.items() if k in ds.dims})
    return out.drop_attrs()


def tidy_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per region and limit: headroom, quantiles and metrics (units in names)."""
    cols = ["headroom_mw", "headroom_p10_mw", "headroom_p50_mw", "headroom_p90_mw",
            "headroom_pct_of_peak", "curtailment_rate_pct", "curtailed_mwh_per_year",
            "curtailed_hours_per_year", "mean_event_duration_h"]
    df = ds[cols].to_dataframe().reset_index()[["region", "limit_pct", *cols]]
    for k in ds.keep_running.values:
        share = ds.share_hours_keep_running.sel(keep_running=k).to_dataframe(name="x")["x"]
        df[f"share_hours_keep_{round(100 * k)}pct_running"] = share.to_numpy()
    for s in _SEASONS:
        df[f"share_hours_{s}"] = ds.season_share_hours.sel(season=s).to_dataframe(
            name="x")["x"].to_numpy()
    for v in ("threshold_summer_mw", "threshold_winter_mw", "peak_mw"):
        df[v] = ds[v].sel(region=df["region"].to_numpy()).to_numpy()
    df.insert(0, "source", ds.attrs.get("source", ""))
    df["n_years"] = int(ds.sizes["year"])
    return df


#: What ``gridcap headroom --out`` writes, by kind (checked before writing).
HEADROOM_OUTPUTS = {"headroom.csv": "file", "headroom_simulated.nc": "file",
                    "headroom_eia930.nc": "file", "headroom_simulated.png": "file",
                    "headroom_eia930.png": "file"}


def write_headroom(results: list[xr.Dataset], out_dir: str | Path) -> list[Path]:
    """Write ``headroom.csv`` (all sources), ``headroom_<source>.nc`` and the headroom curve
    ``headroom_<source>.png`` (MW vs curtailment share per region) as one output set.

    The files are staged and committed together under the folder lock, with the manifest
    ``gridcap-outputs.json`` written last (:func:`gridcap.io.output_folder`, as ``gridcap
    run`` does): a second writer into the same folder is refused, a failure leaves the
    previous files intact, and the manifest keeps the records of another set in the folder
    (a run's ``results.nc``) beside these.

    Returns
    -------
    list of Path
        The committed files.

    Raises
    ------
    OutputError
        The folder is locked by another process, unusable, or a write failed.
    """
    import matplotlib

    from gridcap.io import output_folder, write_netcdf
    from gridcap.report import fig_headroom_curve

    matplotlib.use("Agg", force=True)
    out = Path(out_dir)
    with output_folder(out, HEADROOM_OUTPUTS, skip=("checkpoint",)) as staged:
        for ds in results:
            src = ds.attrs["source"]
            write_netcdf(ds, staged.path(f"headroom_{src}.nc"))
            png = fig_headroom_curve(as_results_variables(ds)).png
            if png is not None:
                staged.path(f"headroom_{src}.png").write_bytes(png)
        table = pd.concat([tidy_table(ds) for ds in results], ignore_index=True)
        table.to_csv(staged.path("headroom.csv"), index=False, float_format="%.6g")
        names = staged.files()
        staged.commit({"command": "headroom"}, keep_others=True)
    return [out / name for name in names]


# --------------------------------------------------------------------------- CLI


def _summary(ds: xr.Dataset) -> Any:
    from rich.table import Table

    src = ds.attrs["source"]
    title = (f"Curtailment-enabled headroom — {src} ({ds.sizes['year']} "
             f"{'scenario years' if src == 'simulated' else 'years'}; Norris et al. 2025)")
    t = Table(title=title)
    for c in ("region", "limit %", "headroom MW", "P10", "P50", "P90", "% of peak", "h/yr",
              "event h", "≥50% runs"):
        t.add_column(c, justify="left" if c == "region" else "right")
    def f(v: Any, spec: str) -> str:
        v = float(v)
        return "–" if not np.isfinite(v) else format(v, spec)

    for r in ds.region.values:
        for lim in ds.limit_pct.values:
            x = ds.sel(region=r, limit_pct=lim)
            t.add_row(str(r), f"{lim:g}", f(x.headroom_mw, ",.0f"),
                      f(x.headroom_p10_mw, ",.0f"), f(x.headroom_p50_mw, ",.0f"),
                      f(x.headroom_p90_mw, ",.0f"), f(x.headroom_pct_of_peak, ".1f"),
                      f(x.curtailed_hours_per_year, ".0f"), f(x.mean_event_duration_h, ".1f"),
                      f(x.share_hours_keep_running.sel(keep_running=0.5), ".0%"))
    return t


def cmd_headroom(args: argparse.Namespace) -> int:
    """``gridcap headroom [STUDY] --curtailment 0.25,0.5,1,5 [--eia930 FILES --ba BAs]``."""
    from gridcap.terminal import EXIT_OK, load_study, stdout

    limits = parse_limits(args.curtailment) if args.curtailment else None
    if not args.study and not args.eia930:
        raise GridcapInputError("headroom: give a STUDY (simulated load years) and/or "
                                "--eia930 FILES (historical demand)")
    if args.ba and not args.eia930:
        raise GridcapInputError(f"--ba {' '.join(args.ba)}: needs --eia930 FILES")
    results = []
    if args.study:
        cfg = load_study(args)
        if limits is None:
            limits = sorted({float(x) for x in cfg.flexible_ai.headroom_limits_pct})
        results.append(simulated_headroom(cfg, limits))
    if args.eia930:
        results.append(historical_headroom(args.eia930, args.ba,
                                           limits or list(DUKE_2025["limits_pct"]),
                                           max_gap_hours=args.max_gap_hours,
                                           long_gaps=args.long_gaps))
    for ds in results:
        stdout.print(_summary(ds))
    if args.out:
        for p in write_headroom(results, args.out):
            stdout.print(f"written [green]{p}[/]")
    return EXIT_OK


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``headroom`` to the ``gridcap`` CLI."""
    from gridcap.terminal import add_study_flags
    from gridcap.terminal import nonneg_int as _nonneg_int

    parser = subparsers.add_parser(
        "headroom", help="curtailment-enabled headroom per region (simulated and/or EIA-930)",
        description="Largest constant new load per region whose curtailment above the "
        "seasonal peak threshold stays within a share of its annual energy (Norris et al. "
        "2025, Duke University, 'Rethinking Load Growth'), on the study's Monte Carlo load "
        "years (P10/P50/P90) and/or historical EIA-930 BALANCE files.")
    add_study_flags(parser)
    parser.set_defaults(study=None)
    for action in parser._actions:
        if action.dest == "study":
            action.nargs = "?"
    parser.add_argument("--curtailment", default=None, metavar="PCTS",
                        help="curtailment limits in %% of annual energy (default: the study's "
                             "[flexible_ai] headroom_limits_pct, else 0.25,0.5,1,5)")
    parser.add_argument("--out", metavar="DIR",
                        help="write DIR/headroom.csv, DIR/headroom_<source>.nc and the curve "
                             "DIR/headroom_<source>.png")
    parser.add_argument("--eia930", nargs="+", metavar="FILE",
                        help="EIA-930 six-month BALANCE CSV files (any number, any years)")
    parser.add_argument("--ba", nargs="+", metavar="BA",
                        help="balancing authorities to analyse (default: all in the files)")
    parser.add_argument("--max-gap-hours", type=_nonneg_int, default=3, metavar="N",
                        help="fill gaps up to N hours by linear interpolation (default 3)")
    parser.add_argument("--long-gaps", choices=["error", "interpolate", "keep"],
                        default="error", help="longer gaps: refuse (default), fill, or keep NaN")
    parser.set_defaults(func=cmd_headroom)
    return parser
