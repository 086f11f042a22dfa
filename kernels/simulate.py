"""``simulate``: the Monte Carlo scenario engine's public entry point.

Pipeline per batch (chunk) of scenarios:

1. hourly drivers per (scenario, region, hour) and annual drivers per (scenario, year)
   (:mod:`~gridcap.kernels.drivers`, shared array code);
2. flexibility events from the forecast net load and prices (:mod:`~gridcap.kernels.events`);
3. DER dispatch on the chosen backend (:mod:`~gridcap.kernels.dispatch`,
   :mod:`~gridcap.kernels.numba_cpu`, :mod:`~gridcap.kernels.numba_cuda`), which only returns
   regional hourly sums and per-pool/per-event totals;
4. slice statistics, site and pool economics (:mod:`~gridcap.kernels.sites`).

Every random number is keyed by the *global* scenario index, so results do not depend on the
chunk size, on how scenarios are split into calls (``scenario_offset``), on the thread count
or on the backend.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError
from gridcap.kernels.backends import resolve_backend
from gridcap.kernels.dispatch import (
    FLOAT_PARAMS,
    INT_PARAMS,
    SOURCES,
    DispatchDrivers,
    DispatchOut,
    FleetArrays,
)
from gridcap.kernels.drivers import annual_drivers, clear_sky_pv, hourly_drivers
from gridcap.kernels.events import (
    ARBITRAGE,
    MAX_EVENTS,
    SLICE_NAMES,
    find_events,
    order_statistic,
    slice_of_hour,
)
from gridcap.kernels.sites import (
    GPU_COST_USD_PER_GPU_HOUR,
    GPUS_PER_MW_IT,
    pool_economics,
    site_economics,
)

__all__ = ["default_chunk_size", "prepare_fleet", "simulate"]

#: Bytes of batch working memory per (scenario, region, hour) [B] (drivers, events, sums).
_BYTES_PER_SRT = 160
#: Target working memory of one scenario batch [B].
_CHUNK_BYTES = 768 * 2**20


def default_chunk_size(n_regions: int, hours: int, scenarios: int) -> int:
    """Scenarios per batch so a batch's working memory stays near 768 MiB.

    Parameters
    ----------
    n_regions : int
        Regions R [1].
    hours : int
        Hours T [h].
    scenarios : int
        Scenarios requested [1].

    Returns
    -------
    int
        Batch size [1], between 1 and ``scenarios``.
    """
    per = max(1, n_regions) * hours * _BYTES_PER_SRT
    return int(max(1, min(scenarios, _CHUNK_BYTES // per)))


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise GridcapInputError(f"{name} = {value!r}: expected an integer")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise GridcapInputError(f"{name} = {v}: expected an integer {rng}")
    return v


def _check_number(name: str, value: Any, lo: float, lo_open: bool, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if isinstance(value, bool) or not math.isfinite(v) or (v <= lo if lo_open else v < lo):
        bound = f"> {lo:g}" if lo_open else f">= {lo:g}"
        raise GridcapInputError(f"{name} = {value!r}: expected a finite number {bound} [{unit}]")
    return v


def _validate(inputs: Any) -> None:
    from gridcap import schema

    region_ids = [str(r) for r in inputs.regions.region.values]
    problems: list[str] = []
    for func, args in ((schema.validate_regions, (inputs.regions,)),
                       (schema.validate_fleet, (inputs.fleet, region_ids)),
                       (schema.validate_sites, (inputs.sites, region_ids))):
        try:
            func(*args)
        except schema.SchemaError as err:
            problems.extend(err.problems)
    years = np.asarray(inputs.years)
    if years.ndim != 1 or years.size == 0:
        problems.append(f"years = {years.tolist()}: expected a non-empty list of years")
    if problems:
        raise schema.SchemaError("simulate inputs", problems)


def prepare_fleet(fleet: xr.Dataset, regions: list[str]) -> tuple[FleetArrays, dict[str, Any]]:
    """Sort the fleet by (region, pool) and pack it into kernel arrays.

    Parameters
    ----------
    fleet : xarray.Dataset
        DER fleet (dim ``der``, docs/data-model.md §1).
    regions : list of str
        Region ids in output order.

    Returns
    -------
    fleet_arrays : FleetArrays
        Kernel arrays (NumPy).
    meta : dict
        ``pools`` (P,) names, ``pool_region`` (P,) names, ``pool_region_idx`` (P,),
        ``committed_kw`` (P,) [kW], ``potential_kw`` (P,) [kW], ``n_der`` (P,),
        ``pv_mw`` (R,) [MW].

    Raises
    ------
    GridcapInputError
        If a pool holds DERs of more than one region.
    """
    n = fleet.sizes.get("der", 0)
    r_of = {r: i for i, r in enumerate(regions)}
    reg = np.array([r_of[str(x)] for x in fleet["region"].values], dtype=np.int64)
    pool_names = np.array([str(x) for x in fleet["pool"].values]) if n else np.array([], str)
    pools = sorted(set(pool_names.tolist()))
    p_of = {p: i for i, p in enumerate(pools)}
    pool = np.array([p_of[p] for p in pool_names], dtype=np.int64)
    pool_region_idx = np.full(len(pools), -1, dtype=np.int64)
    for p, r in zip(pool, reg, strict=True):
        if pool_region_idx[p] not in (-1, r):
            raise GridcapInputError(
                f"fleet.pool = {pools[p]!r}: holds DERs of regions {regions[pool_region_idx[p]]!r}"
                f" and {regions[r]!r}; expected every pool within one region"
            )
        pool_region_idx[p] = r
    order = np.lexsort((np.arange(n), pool, reg))

    def col(name: str) -> np.ndarray:
        return np.asarray(fleet[name].values, dtype=np.float64)[order]

    e_kwh = col("battery_kwh")
    f = {
        "pv_kw": col("pv_kw"), "base_kw": col("base_load_kw"),
        "e_min": col("soc_min") * e_kwh, "e_max": col("soc_max") * e_kwh,
        "p_batt": col("battery_kw"), "eta": col("battery_efficiency"), "ev_kw": col("ev_kw"),
        "ev_kwh_day": col("ev_kwh_per_day"), "flex_kw": col("flex_kw"),
        "rebound": col("flex_rebound"), "committed": col("committed_kw"),
    }
    ints = {
        "arr": np.asarray(fleet["ev_arrival_hour"].values, np.int64)[order],
        "dep": np.asarray(fleet["ev_departure_hour"].values, np.int64)[order],
        "region": reg[order], "pool": pool[order],
    }
    fparams = np.ascontiguousarray(np.stack([f[k] for k in FLOAT_PARAMS]).reshape(
        len(FLOAT_PARAMS), n))
    iparams = np.ascontiguousarray(np.stack([ints[k] for k in INT_PARAMS]).reshape(
        len(INT_PARAMS), n))
    region_start = np.searchsorted(ints["region"], np.arange(len(regions) + 1)).astype(np.int64)
    fa = FleetArrays(fparams, iparams, order.astype(np.uint64), region_start, len(pools))
    potential = f["p_batt"] + f["ev_kw"] + f["flex_kw"]
    n_p = len(pools)
    meta = {
        "pools": pools,
        "pool_region": [regions[i] for i in pool_region_idx],
        "pool_region_idx": pool_region_idx,
        "committed_kw": np.bincount(ints["pool"], f["committed"], n_p),
        "potential_kw": np.bincount(ints["pool"], potential, n_p),
        "n_der": np.bincount(ints["pool"], None, n_p).astype(np.float64),
        "pv_mw": np.bincount(ints["region"], f["pv_kw"], len(regions)) / 1000.0,
    }
    return fa, meta


def _to_np(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def simulate(
    inputs: Any,
    *,
    scenarios: int,
    seed: int,
    backend: str = "auto",
    scenario_offset: int = 0,
    hours: int = 8760,
    chunk_size: int | None = None,
    gpus_per_mw: float = GPUS_PER_MW_IT,
    gpu_cost_usd_per_gpu_hour: float = GPU_COST_USD_PER_GPU_HOUR,
) -> xr.Dataset:
    """Run the Monte Carlo scenario engine.

    Parameters
    ----------
    inputs : gridcap.schema.StudyInputs
        Study inputs; ``fleet``, ``sites``, ``regions`` and ``years`` are used.
    scenarios : int
        Number of scenarios S [1], ≥ 1.
    seed : int
        Seed [1], in [0, 2**64).
    backend : str, default "auto"
        ``"numpy"``, ``"numba-cpu"``, ``"numba-cuda"``, ``"cupy"`` or ``"auto"`` (fastest
        available, see :func:`gridcap.kernels.available_backends`).
    scenario_offset : int, default 0
        Global index of the first scenario [1]; ``simulate(offset=0, S=8)`` equals the
        concatenation of ``simulate(offset=0, S=4)`` and ``simulate(offset=4, S=4)``.
    hours : int, default 8760
        Hours simulated from 1 January 00:00 local standard time [h], a multiple of 24 in
        [24, 8760]; annual money and energy figures of sites and pools are scaled by
        ``8760 / hours``.
    chunk_size : int, optional
        Scenarios per internal batch [1] (default: ~768 MiB of working memory); results do
        not depend on it.
    gpus_per_mw : float, default ``[compute] gpus_per_mw``
        GPUs per MW of IT load at converted sites [GPU/MW].
    gpu_cost_usd_per_gpu_hour : float, default ``[compute]`` capex / (life × 8760 h)
        Capacity charge of those GPUs [$/GPU-h], paid per online hour.

    Returns
    -------
    xarray.Dataset
        The outcomes table of docs/data-model.md §2, units in ``attrs["units"]``.

    Raises
    ------
    GridcapInputError
        Bad arguments (naming the argument, value and expectation); ``SchemaError`` for bad
        input tables; ``BackendUnavailableError`` for an unknown or unavailable backend.

    Examples
    --------
    >>> out = simulate(inputs, scenarios=4, seed=1, backend="numpy", hours=168)  # doctest: +SKIP
    >>> out.peak_net_load_mw.dims  # doctest: +SKIP
    ('scenario', 'region', 'year', 'slice')
    """
    from gridcap import __version__

    n_sc = _check_int("scenarios", scenarios, 1)
    seed = _check_int("seed", seed, 0, 2**64 - 1)
    offset = _check_int("scenario_offset", scenario_offset, 0, 2**32 - 1 - n_sc)
    hours = _check_int("hours", hours, 24, 8760)
    if hours % 24:
        raise GridcapInputError(f"hours = {hours}: expected a multiple of 24 (whole days)")
    if chunk_size is not None:
        chunk_size = _check_int("chunk_size", chunk_size, 1)
    gpus_per_mw = _check_number("gpus_per_mw", gpus_per_mw, 0.0, True, "GPU/MW")
    gpu_cost_usd_per_gpu_hour = _check_number("gpu_cost_usd_per_gpu_hour",
                                              gpu_cost_usd_per_gpu_hour, 0.0, False, "$/GPU-h")
    if not isinstance(backend, str):
        raise GridcapInputError(f"backend = {backend!r}: expected a backend name string")
    be = resolve_backend(backend)
    _validate(inputs)
    if be.xp == "cupy":  # pragma: no cover - GPU machines
        import cupy as xp
    else:
        xp = np

    regions_ds = inputs.regions
    regions = [str(r) for r in regions_ds.region.values]
    n_r = len(regions)
    years = np.asarray(inputs.years, dtype=np.int64)
    fleet, meta = prepare_fleet(inputs.fleet, regions)
    n_p = fleet.n_pools
    lat = np.asarray(regions_ds["lat"].values, np.float64)
    tzs = [str(z) for z in regions_ds["timezone"].values]
    cs = clear_sky_pv(lat, regions_ds["lon"].values, tzs,
                      int(years[0]), hours)
    peak = np.asarray(regions_ds["peak_load_mw"].values, np.float64)
    growth = np.asarray(regions_ds["load_growth_per_year"].values, np.float64)
    pmean = np.asarray(regions_ds["price_mean_usd_per_mwh"].values, np.float64)
    sites = inputs.sites
    n_k = sites.sizes.get("site", 0)
    site_region = np.array([regions.index(str(r)) for r in sites["region"].values], np.int64)

    slc = slice_of_hour(hours)
    n_sl = len(SLICE_NAMES)
    slice_hours = np.bincount(slc, minlength=n_sl) * (8760.0 / hours)
    slice_idx = [np.nonzero(slc == k)[0] for k in range(n_sl)]
    chunk = chunk_size or default_chunk_size(n_r, hours, n_sc)
    dispatch = be.dispatch()

    cs_x = xp.asarray(cs)
    parts: list[dict[str, np.ndarray]] = []
    fleet_x = fleet
    if xp is not np:  # pragma: no cover - cupy
        fleet_x = FleetArrays(*(xp.asarray(a) for a in (fleet.fparams, fleet.iparams,
                                                          fleet.der_id, fleet.region_start)),
                              fleet.n_pools)
    for c0 in range(0, n_sc, chunk):
        c1 = min(n_sc, c0 + chunk)
        scen = np.arange(offset + c0, offset + c1, dtype=np.uint64)
        n_s = c1 - c0
        drv = hourly_drivers(xp, seed=seed, scenarios=scen, lat=xp.asarray(lat),
                             price_mean=xp.asarray(pmean), cs=cs_x, hours=hours)
        load_mw = xp.asarray(peak)[None, :, None] * drv["load_pu"]
        forecast = load_mw - xp.asarray(meta["pv_mw"])[None, :, None] * drv["solar_cf"]
        ev = find_events(xp, forecast, drv["price"])
        del forecast
        dd = DispatchDrivers(
            scenarios=xp.asarray(scen), cs=cs_x, kreg=drv["kreg"], house=drv["house"],
            temp=drv["temp"], price=drv["price"],
            p_lo=order_statistic(xp, drv["price"], ARBITRAGE["low"]),
            p_hi=order_statistic(xp, drv["price"], ARBITRAGE["high"]),
            in_event=ev["in_event"], pre_event=ev["pre_event"], event_id=ev["event_id"],
        )
        out = DispatchOut.zeros(xp, n_s, n_r, hours, n_p, MAX_EVENTS)
        dispatch(fleet_x, dd, out, seed=seed)
        ann = annual_drivers(xp, seed=seed, scenarios=scen, years=years)
        part = _chunk_outputs(xp, drv, ev, out, ann, load_mw, peak=peak, growth=growth,
                              years=years, slice_idx=slice_idx, meta=meta, hours=hours)
        site = site_economics(
            xp, price=drv["price"], temp=drv["temp"], site_region=site_region,
            interconnection_mw=np.asarray(sites["interconnection_mw"].values, np.float64),
            mining_mw=np.asarray(sites["mining_load_mw"].values, np.float64),
            breakeven=np.asarray(sites["hashprice_breakeven_usd_per_mwh"].values, np.float64),
            conversion_months=np.asarray(sites["conversion_months"].values, np.float64),
            annual=ann, hours=hours, gpus_per_mw=gpus_per_mw,
            gpu_cost_usd_per_gpu_hour=gpu_cost_usd_per_gpu_hour)
        for k, v in site.items():
            part[f"site_{k}"] = _to_np(v)
        parts.append(part)
        del drv, ev, dd, out

    def cat(key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts], axis=0)

    scen_coord = np.arange(offset, offset + n_sc, dtype=np.int64)
    sx = ("scenario",)
    data = {
        "peak_net_load_mw": ((*sx, "region", "year", "slice"), cat("peak"), "MW",
                             "max over the slice's hours of regional load net of DER output"),
        "mean_net_load_mw": ((*sx, "region", "year", "slice"), cat("mean"), "MW",
                             "mean over the slice's hours of regional net load"),
        "price_usd_per_mwh": ((*sx, "region", "year", "slice"), cat("price"), "$/MWh",
                              "mean hourly energy price over the slice's hours"),
        "solar_cf": ((*sx, "region", "slice"), cat("solar_cf"), "1",
                     "mean solar capacity factor (per kW DC) in the slice"),
        "wind_cf": ((*sx, "region", "slice"), cat("wind_cf"), "1",
                    "mean wind capacity factor in the slice"),
        "solar_cf_at_peak": ((*sx, "region", "slice"), cat("solar_at_peak"), "1",
                             "solar capacity factor at the slice's peak-net-load hour "
                             "(first planning year)"),
        "wind_cf_at_peak": ((*sx, "region", "slice"), cat("wind_at_peak"), "1",
                            "wind capacity factor at the slice's peak-net-load hour "
                            "(first planning year)"),
        "flex_potential_kw": (("pool",), meta["potential_kw"], "kW",
                              "sum of physically available flexibility (battery + EV + "
                              "flexible-load power)"),
        "flex_committed_kw": (("pool",), meta["committed_kw"], "kW",
                              "flexibility committed to the aggregator"),
        "flex_delivery_ratio": ((*sx, "pool", "slice"), cat("ratio"), "1",
                                "delivered / committed over events starting in the slice "
                                "(1 where no event)"),
        "event_committed_kw": ((*sx, "pool", "event"), cat("ev_com"), "kW",
                               "committed kW of the pool in the event (NaN padding)"),
        "event_delivered_kw": ((*sx, "pool", "event"), cat("ev_del"), "kW",
                               "mean over the event's hours of Σ min(delivered, committed)"),
        "event_hour": ((*sx, "region", "event"), cat("ev_hour"), "h",
                       "start hour of year of the event (-1 padding)"),
        "event_duration_h": ((*sx, "region", "event"), cat("ev_len"), "h",
                             "event length (0 padding)"),
        "site_cfads_usd": ((*sx, "site", "year"), cat("site_cfads"), "$",
                           "CFADS if converted (conversion starts in the first year)"),
        "site_mining_cfads_usd": ((*sx, "site", "year"), cat("site_mining_cfads"), "$",
                                  "CFADS if the site keeps mining"),
        "site_ai_energy_mwh": ((*sx, "site", "year"), cat("site_ai_energy_mwh"), "MWh",
                               "AI facility energy if converted"),
        "site_power_cost_usd": ((*sx, "site", "year"), cat("site_power_cost"), "$",
                                "AI power cost if converted"),
        "site_revenue_usd": ((*sx, "site", "year"), cat("site_revenue"), "$",
                             "AI (GPU-hour) revenue if converted"),
        "pool_cfads_usd": ((*sx, "pool", "year"), cat("pool_cfads"), "$",
                           "flexibility payments + arbitrage value net of costs"),
        "energy_by_source_mwh": ((*sx, "region", "source"), cat("energy"), "MWh",
                                 "DER fleet energy by source over the simulated hours"),
        "ai_utilization": ((*sx, "year"), cat("util"), "1", "GPU utilization"),
        "gpu_price_usd_per_gpu_hour": ((*sx, "year"), cat("gpu"), "$/GPU-h",
                                       "price of a GPU-hour (H100 class)"),
        "price_level": ((*sx, "year"), cat("pl"), "1", "annual multiplier on hourly prices"),
        "hashprice_level": ((*sx, "year"), cat("hp"), "1",
                            "mining revenue per MWh relative to the first year"),
    }
    ds = xr.Dataset(
        {k: xr.DataArray(v, dims=d, attrs={"units": u, "long_name": doc})
         for k, (d, v, u, doc) in data.items()},
        coords={
            "scenario": scen_coord, "region": regions, "pool": meta["pools"],
            "pool_region": ("pool", np.asarray(meta["pool_region"], dtype=object)),
            "site": sites["site"].values if "site" in sites.coords else np.arange(n_k),
            "year": years, "slice": list(SLICE_NAMES),
            "slice_hours": ("slice", slice_hours, {"units": "h"}),
            "event": np.arange(MAX_EVENTS), "source": list(SOURCES),
        },
        attrs={"seed": seed, "backend": be.name, "hours": hours,
               "gridcap_version": __version__, "weather_year": int(years[0]),
               # the site model's GPU assumptions, read back by the chain's cost stack
               "site_gpus_per_mw": gpus_per_mw,
               "site_gpu_charge_usd_per_gpu_hour": gpu_cost_usd_per_gpu_hour},
    )
    return ds


def _slice_reduce(x: Any, idx: list[np.ndarray], how: str, xp: Any) -> Any:
    """Reduce the last (hour) axis per slice -> (..., n_slices); NaN for empty slices."""
    outs = []
    for ix in idx:
        if ix.size == 0:
            outs.append(xp.full(x.shape[:-1], math.nan))
            continue
        v = x[..., xp.asarray(ix)]
        outs.append(v.max(axis=-1) if how == "max" else v.mean(axis=-1))
    return xp.stack(outs, axis=-1)


def _chunk_outputs(xp: Any, drv: dict, ev: dict, out: DispatchOut, ann: dict, load_mw: Any, *,
                   peak: np.ndarray, growth: np.ndarray, years: np.ndarray,
                   slice_idx: list[np.ndarray], meta: dict, hours: int) -> dict[str, np.ndarray]:
    n_s, n_r, _ = load_mw.shape
    n_y = years.size
    inj_mw = out.injection / 1000.0
    peak_o = xp.empty((n_s, n_r, n_y, len(slice_idx)))
    mean_o = xp.empty_like(peak_o)
    price_o = xp.empty_like(peak_o)
    price_sl = _slice_reduce(drv["price"], slice_idx, "mean", xp)  # (S, R, K)
    at_peak_s = xp.empty((n_s, n_r, len(slice_idx)))
    at_peak_w = xp.empty_like(at_peak_s)
    for y in range(n_y):
        g = xp.asarray((1.0 + growth) ** float(years[y] - years[0]))[None, :, None]
        net = load_mw * g - inj_mw
        peak_o[:, :, y, :] = _slice_reduce(net, slice_idx, "max", xp)
        mean_o[:, :, y, :] = _slice_reduce(net, slice_idx, "mean", xp)
        price_o[:, :, y, :] = price_sl * ann["price_level"][:, y][:, None, None]
        if y == 0:
            for k, ix in enumerate(slice_idx):
                if ix.size == 0:
                    at_peak_s[:, :, k] = math.nan
                    at_peak_w[:, :, k] = math.nan
                    continue
                ixx = xp.asarray(ix)
                am = xp.argmax(net[..., ixx], axis=-1)[..., None]
                at_peak_s[:, :, k] = xp.take_along_axis(drv["solar_cf"][..., ixx], am, -1)[..., 0]
                at_peak_w[:, :, k] = xp.take_along_axis(drv["wind_cf"][..., ixx], am, -1)[..., 0]
        del net
    # events per pool
    pr = meta["pool_region_idx"]
    n_p = len(pr)
    ev_len = ev["event_len"][:, pr, :] if n_p else xp.zeros((n_s, 0, MAX_EVENTS), xp.int64)
    ev_hour_p = ev["event_hour"][:, pr, :] if n_p else ev_len - 1
    has = ev_len > 0
    com = xp.asarray(meta["committed_kw"])[None, :, None]
    ev_del = xp.where(has, out.event / xp.maximum(ev_len, 1), math.nan)
    ev_com = xp.where(has, com + 0.0 * ev_len, math.nan)
    slc = xp.asarray(slice_of_hour(hours))
    ev_slice = xp.where(has, slc[xp.maximum(ev_hour_p, 0)], -1)
    den_e = com * ev_len  # kWh committed per event
    n_sl = len(slice_idx)
    num = xp.stack([xp.where(ev_slice == k, out.event, 0.0).sum(-1) for k in range(n_sl)], -1)
    den = xp.stack([xp.where(ev_slice == k, den_e, 0.0).sum(-1) for k in range(n_sl)], -1)
    ratio = xp.where(den > 0, num / xp.where(den > 0, den, 1.0), 1.0)
    tot_den = den_e.sum(-1)
    ratio_all = xp.where(tot_den > 0, out.event.sum(-1) / xp.where(tot_den > 0, tot_den, 1.0),
                         1.0)
    pool_cf = pool_economics(xp, arbitrage_usd=out.pool[:, :, 0], discharge_kwh=out.pool[:, :, 1],
                             delivery_ratio=ratio_all, committed_kw=meta["committed_kw"],
                             n_der=meta["n_der"], price_level=ann["price_level"], hours=hours)
    res = {
        "peak": peak_o, "mean": mean_o, "price": price_o,
        "solar_cf": _slice_reduce(drv["solar_cf"], slice_idx, "mean", xp),
        "wind_cf": _slice_reduce(drv["wind_cf"], slice_idx, "mean", xp),
        "solar_at_peak": at_peak_s, "wind_at_peak": at_peak_w,
        "ratio": ratio, "ev_com": ev_com, "ev_del": ev_del, "ev_hour": ev["event_hour"],
        "ev_len": ev["event_len"], "pool_cfads": pool_cf, "energy": out.source / 1000.0,
        "util": ann["ai_utilization"], "gpu": ann["gpu_price"], "pl": ann["price_level"],
        "hp": ann["hashprice_level"],
    }
    return {k: _to_np(v) for k, v in res.items()}
