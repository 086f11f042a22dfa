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

import hashlib
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError
from gridcap.kernels.backends import resolve_backend
from gridcap.kernels.contracts import SiteContracts, contract_cashflows
from gridcap.kernels.dispatch import (
    FLOAT_PARAMS,
    INT_PARAMS,
    SOURCES,
    DispatchDrivers,
    DispatchOut,
    FleetArrays,
)
from gridcap.kernels.drivers import annual_drivers, clear_sky_pv, given_drivers, hourly_drivers
from gridcap.kernels.events import (
    MAX_EVENTS,
    SLICE_NAMES,
    event_thresholds,
    find_events,
)
from gridcap.kernels.options import UNSET, SimulateOptions, merge_options
from gridcap.kernels.periods import TimeAxis, slice_index, time_axis
from gridcap.kernels.sites import (
    pool_economics,
    site_economics,
)

if TYPE_CHECKING:
    from gridcap.schema import StudyInputs

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


#: Random groups per pool for the sampling error of dynamic aggregates [1] (Wolter,
#: *Introduction to Variance Estimation*, 2nd ed., Springer 2007, ch. 2: the random group
#: method). The kernel reduces per (pool, group); weights and groups are applied after it.
VARIANCE_GROUPS = 10


def _group_in_pool(pool: np.ndarray, n_groups: int) -> np.ndarray:
    """Random group of each DER: its rank among the pool's DERs (fleet order) mod G."""
    n = pool.size
    order = np.lexsort((np.arange(n), pool))
    ps = pool[order]
    first = np.r_[0, np.flatnonzero(ps[1:] != ps[:-1]) + 1] if n else np.zeros(0, np.int64)
    start = np.repeat(first, np.diff(np.r_[first, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - start
    return rank % n_groups


def _stratified_se(x: np.ndarray, pool: np.ndarray, reg: np.ndarray, n_p: int,
                   pool_region: np.ndarray, w_r: np.ndarray) -> np.ndarray:
    """Standard error of the weighted pool totals Σ w x of a static per-DER quantity.

    Within each region (a stratum sampled at random, ``n_r`` samples of weight
    ``w_r = N_r / n_r``), ``y_i = x_i`` for DERs of pool p and 0 otherwise; then
    ``SE² = N_r² (1 - n_r/N_r) s_y² / n_r`` with the sample variance ``s_y²`` (Cochran,
    *Sampling Techniques*, 3rd ed., 1977, eq. 5.6).
    """
    out = np.zeros(n_p)
    for p in range(n_p):
        r = pool_region[p]
        in_r = reg == r
        n_r = int(in_r.sum())
        if n_r < 2:
            continue
        y = np.where(pool[in_r] == p, x[in_r], 0.0)
        big_n = w_r[r] * n_r
        fpc = max(0.0, 1.0 - n_r / big_n) if big_n > 0 else 0.0
        out[p] = math.sqrt(big_n**2 * fpc * float(np.var(y, ddof=1)) / n_r)
    return out


def prepare_fleet(fleet: xr.Dataset, regions: list[str], *,
                  n_groups: int = VARIANCE_GROUPS) -> tuple[FleetArrays, dict[str, Any]]:
    """Sort the fleet by (region, pool, group) and pack it into kernel arrays.

    The kernel accumulates per *sub-pool* (pool × random group, ``n_groups`` per pool) so the
    sampling error of every pool aggregate can be estimated after the kernel; its work stays
    per sample. Weights (fleet ``weight``, premises per sample, one value per region; 1 when
    absent) are applied to the reduced sums, never inside the kernel.

    Parameters
    ----------
    fleet : xarray.Dataset
        DER fleet (dim ``der``, docs/data-model.md §1).
    regions : list of str
        Region ids in output order.
    n_groups : int, default :data:`VARIANCE_GROUPS`
        Random groups per pool [1], ≥ 2.

    Returns
    -------
    fleet_arrays : FleetArrays
        Kernel arrays (NumPy); ``n_pools`` = P × ``n_groups`` sub-pools.
    meta : dict
        ``pools`` (P,) names, ``pool_region`` (P,) names, ``pool_region_idx`` (P,),
        ``committed_kw`` / ``potential_kw`` (P,) weighted totals [kW] and their ``*_se``,
        ``n_der`` (P,) samples, ``population`` (P,) premises, ``weight_pool`` (P,),
        ``weight_region`` (R,) [premises per sample], ``sub_pool`` (P·G,) → pool,
        ``committed_sub_kw`` (P·G,) unweighted [kW], ``n_sub`` (P·G,), ``n_groups``,
        ``pv_mw`` (R,) [MW] of the samples (the event forecast's net load is sample-scale).

    Raises
    ------
    GridcapInputError
        If a pool holds DERs of more than one region, or weights vary within a region.
    """
    n = fleet.sizes.get("der", 0)
    reg, pools, pool, pool_region_idx = _pool_index(fleet, regions)
    w_r = _region_weights(fleet, regions, reg)
    n_groups = max(2, int(n_groups))
    sub = pool * n_groups + _group_in_pool(pool, n_groups)
    order = np.lexsort((np.arange(n), sub, reg))
    f, ints = _sorted_params(fleet, order, reg, sub)
    fparams = np.ascontiguousarray(np.stack([f[k] for k in FLOAT_PARAMS]).reshape(
        len(FLOAT_PARAMS), n))
    iparams = np.ascontiguousarray(np.stack([ints[k] for k in INT_PARAMS]).reshape(
        len(INT_PARAMS), n))
    region_start = np.searchsorted(ints["region"], np.arange(len(regions) + 1)).astype(np.int64)
    n_sub = len(pools) * n_groups
    fa = FleetArrays(fparams, iparams, order.astype(np.uint64), region_start, n_sub)
    meta = _fleet_meta(f, ints, regions, pools, pool[order], reg[order], pool_region_idx, w_r,
                       n_groups)
    return fa, meta


def _pool_index(fleet: xr.Dataset, regions: list[str]) -> tuple[np.ndarray, list[str],
                                                                 np.ndarray, np.ndarray]:
    """Region index and pool index of each DER, the sorted pool names and each pool's region
    (a pool within one region, else :class:`GridcapInputError`)."""
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
    return reg, pools, pool, pool_region_idx


def _region_weights(fleet: xr.Dataset, regions: list[str], reg: np.ndarray) -> np.ndarray:
    """Premises per sample of each region [1] (one fleet weight per region, else an error)."""
    n = fleet.sizes.get("der", 0)
    weight = (np.asarray(fleet["weight"].values, dtype=np.float64) if "weight" in fleet
              else np.ones(n))
    w_r = np.ones(len(regions))
    for r in range(len(regions)):
        wr = weight[reg == r]
        if wr.size:
            if not (np.all(np.isfinite(wr)) and np.all(wr >= 0)):
                raise GridcapInputError(
                    f"fleet.weight in region {regions[r]} has {wr[~(wr >= 0)][:1].tolist()}: "
                    "expected premises per sample >= 0")
            if np.ptp(wr) > 1e-9 * max(1.0, float(wr.max())):
                raise GridcapInputError(
                    f"fleet.weight varies within region {regions[r]} ({wr.min():g} to "
                    f"{wr.max():g}): expected one weight per region")
            w_r[r] = float(wr[0])
    return w_r


def _sorted_params(fleet: xr.Dataset, order: np.ndarray, reg: np.ndarray,
                   sub: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The kernel's float [kW, kWh, 1] and integer parameters in kernel (sorted) order."""

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
        "region": reg[order], "pool": sub[order],
    }
    return f, ints


def _fleet_meta(f: dict[str, np.ndarray], ints: dict[str, np.ndarray], regions: list[str],
                pools: list[str], pool_s: np.ndarray, reg_s: np.ndarray,
                pool_region_idx: np.ndarray, w_r: np.ndarray, n_groups: int) -> dict[str, Any]:
    """Pool totals, weights and sampling errors of the sorted fleet (see
    :func:`prepare_fleet`)."""
    n_p = len(pools)
    n_sub = n_p * n_groups
    potential = f["p_batt"] + f["ev_kw"] + f["flex_kw"]
    w_p = w_r[pool_region_idx] if n_p else np.zeros(0)
    n_der = np.bincount(pool_s, None, n_p).astype(np.float64)
    return {
        "pools": pools,
        "pool_region": [regions[i] for i in pool_region_idx],
        "pool_region_idx": pool_region_idx,
        "committed_kw": w_p * np.bincount(pool_s, f["committed"], n_p),
        "potential_kw": w_p * np.bincount(pool_s, potential, n_p),
        "committed_kw_se": _stratified_se(f["committed"], pool_s, reg_s, n_p, pool_region_idx,
                                          w_r),
        "potential_kw_se": _stratified_se(potential, pool_s, reg_s, n_p, pool_region_idx, w_r),
        "n_der": n_der,
        "population": w_p * n_der,
        "weight_pool": w_p,
        "weight_region": w_r,
        "sub_pool": np.repeat(np.arange(n_p), n_groups),
        "committed_sub_kw": np.bincount(ints["pool"], f["committed"], n_sub),
        "n_sub": np.bincount(ints["pool"], None, n_sub).astype(np.float64),
        "n_groups": n_groups,
        "pv_mw": np.bincount(ints["region"], f["pv_kw"], len(regions)) / 1000.0,
    }


def enrollment_index(regions: xr.Dataset, years: np.ndarray) -> np.ndarray:
    """Enrolled population of each year relative to the first year [1], (R, Y).

    From ``regions.der_enrolled_premises`` (region, year) [premises] when present (see
    :func:`gridcap.datasets.enrollment.enrolled_premises`); ones otherwise. The fleet's
    weights stand for the first year; pool cash flows and the planner's flexibility bound
    follow the path by this index.
    """
    n_r = regions.sizes["region"]
    if "der_enrolled_premises" not in regions:
        return np.ones((n_r, years.size))
    n = np.asarray(regions["der_enrolled_premises"].sel(year=years)
                   .transpose("region", "year").values, dtype=float)
    base = n[:, :1]
    return np.where(base > 0, n / np.where(base > 0, base, 1.0), 1.0)


def _to_np(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def simulate(
    inputs: StudyInputs,
    options: SimulateOptions | None = None,
    *,
    scenarios: int | None = None,
    seed: int | None = None,
    backend: str | None = None,
    scenario_offset: int | None = None,
    hours: int | None = None,
    representative: str | None = None,
    chunk_size: int | None = None,
    gpus_per_mw: float | None = None,
    gpu_cost_usd_per_gpu_hour: float | None = None,
    contracts: Any = UNSET,
    finance_years: int | None = None,
    gpu_life_years: float | None = None,
) -> xr.Dataset:
    """Run the Monte Carlo scenario engine.

    Call it as ``simulate(inputs, options)`` (``options = cfg.simulate_options()`` for a
    study: the call ``gridcap run`` makes), or with keywords, which override the matching
    fields of ``options`` (defaults: :class:`~gridcap.kernels.options.SimulateOptions`).

    Parameters
    ----------
    inputs : gridcap.schema.StudyInputs
        Study inputs; ``fleet``, ``sites``, ``regions`` and ``years`` are used.
    options : SimulateOptions, optional
        Scenarios, seed, backend, periods and compute assumptions in one object.
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
        Hours simulated per scenario-year [h]: 8760 (the full year), or fewer as
        representative periods (see ``representative``); annual money and energy figures
        (sites, pools, ``slice_hours``) are scaled by the weight ``8760 / hours``, peaks are
        over the sampled hours.
    representative : str, default ``"weeks"``
        How fewer than 8760 hours sample the year (:mod:`gridcap.kernels.periods`):
        ``"weeks"`` (``hours`` a multiple of 168 in [672, 8736]), ``"days"`` (a multiple of
        24 in [96, 8736]) — whole periods centred in equal calendar strata, every season
        sampled — or ``"chronological"`` (the first ``hours`` hours from 1 January, a
        multiple of 24; for tests and benchmarks: no sample of the year).
    chunk_size : int, optional
        Scenarios per internal batch [1] (default: ~768 MiB of working memory); results do
        not depend on it.
    gpus_per_mw : float, default ``[compute] gpus_per_mw``
        GPUs per MW of IT load at converted sites [GPU/MW].
    gpu_cost_usd_per_gpu_hour : float, default ``[compute]`` capex / (life × 8760 h)
        Capacity charge of those GPUs [$/GPU-h], paid per online hour.
    contracts : "auto", SiteContracts or None, default "auto"
        Contract terms of the sites (:mod:`gridcap.kernels.contracts`); ``"auto"``: each
        site's public deal from the shipped deals table, else the documented lease defaults
        (:func:`gridcap.datasets.financings.site_contracts`); None: no contracted cash flows.
    gpu_life_years : float, default ``[compute] gpu_life_years``
        Life of the GPUs of a converted site [yr]: a merchant site's GPU revenue and charge
        stop that long after they come online; a ``gpu_contract`` ends there too.
    finance_years : int, optional
        Finance horizon from financial close (start of the first year) [yr], independent of
        the planning years; default: the longest commencement + term + renewal.

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
    >>> out = simulate(inputs, scenarios=4, seed=1, backend="numpy", hours=672)  # doctest: +SKIP
    >>> out.peak_net_load_mw.dims  # doctest: +SKIP
    ('scenario', 'region', 'year', 'slice')
    """
    o = merge_options(options, scenarios=scenarios, seed=seed, backend=backend,
                      scenario_offset=scenario_offset, hours=hours,
                      representative=representative, chunk_size=chunk_size,
                      gpus_per_mw=gpus_per_mw, gpu_life_years=gpu_life_years,
                      contracts=contracts, finance_years=finance_years)
    run = _run_params(o, gpu_cost_usd_per_gpu_hour)
    be = resolve_backend(run.backend)
    if be.xp == "cupy":  # pragma: no cover - GPU machines
        import cupy as xp
    else:
        xp = np
    st = _study_setup(inputs, run, xp)
    dispatch = be.dispatch()
    chunk = run.chunk_size or default_chunk_size(len(st.regions), run.hours, run.n_sc)
    parts = []
    for c0 in range(0, run.n_sc, chunk):
        scen = np.arange(run.offset + c0, run.offset + min(run.n_sc, c0 + chunk),
                         dtype=np.uint64)
        parts.append(_batch(xp, st, run, dispatch, scen))
    return _outcomes(parts, st, run, be.name)


@dataclass(frozen=True)
class _Run:
    """The checked scalar parameters of one :func:`simulate` call."""

    n_sc: int
    seed: int
    offset: int
    backend: str
    axis: TimeAxis
    representative: str
    chunk_size: int | None
    gpus_per_mw: float
    gpu_life_years: float
    gpu_cost: float
    contracts: Any
    finance_years: int | None
    flex_payment: float

    @property
    def hours(self) -> int:
        """Simulated hours T [h]."""
        return int(self.axis.hours)


def _run_params(o: SimulateOptions, gpu_cost: float | None) -> _Run:
    """Check the merged options (errors name the argument, value and expectation)."""
    n_sc = _check_int("scenarios", o.scenarios, 1)
    seed = _check_int("seed", o.seed, 0, 2**64 - 1)
    offset = _check_int("scenario_offset", o.scenario_offset, 0, 2**32 - 1 - n_sc)
    axis = time_axis(o.periods.hours, o.periods.representative)
    chunk = None if o.chunk_size is None else _check_int("chunk_size", o.chunk_size, 1)
    gpus_per_mw = _check_number("gpus_per_mw", o.compute.gpus_per_mw, 0.0, True, "GPU/MW")
    life = _check_number("gpu_life_years", o.compute.gpu_life_years, 0.0, True, "yr")
    cost = _check_number("gpu_cost_usd_per_gpu_hour",
                         o.compute.gpu_cost_usd_per_gpu_hour if gpu_cost is None else gpu_cost,
                         0.0, False, "$/GPU-h")
    flex = _check_number("flex_payment_usd_per_kw_yr", o.flex_payment_usd_per_kw_yr, 0.0, False,
                         "$/kW-yr")
    if not isinstance(o.backend, str):
        raise GridcapInputError(f"backend = {o.backend!r}: expected a backend name string")
    return _Run(n_sc, seed, offset, o.backend, axis, str(o.periods.representative), chunk,
                gpus_per_mw, life, cost, o.contracts, o.finance_years, flex)


@dataclass
class _Setup:
    """What every scenario batch of a study shares (computed once per study and options)."""

    regions_ds: Any
    regions: list[str]
    years: np.ndarray
    fleet: FleetArrays
    fleet_x: FleetArrays
    meta: dict[str, Any]
    lat: np.ndarray
    cs: np.ndarray
    cs_x: Any
    peak: np.ndarray
    growth: np.ndarray
    pmean: np.ndarray
    given: dict[str, Any]
    sites: Any
    site_region: np.ndarray
    site_arrays: dict[str, np.ndarray]
    contract_c: SiteContracts | None
    contract_info: dict[str, Any]
    fin_h: int
    slice_hours: np.ndarray
    slice_idx: list[np.ndarray]


#: The last study set-up (key, set-up): scenario batches of one study (``gridcap run`` calls
#: :func:`simulate` once per batch) validate the inputs, sort the fleet, resolve the site
#: contracts and look up clear-sky PV once. The key holds a digest of the inputs' content,
#: so changed inputs are never served a stale set-up.
_SETUP_CACHE: list[tuple[tuple, _Setup]] = []


def _inputs_digest(inputs: Any) -> str:
    """SHA-256 of the inputs' tables (values, names, dims, attributes) and years."""
    h = hashlib.sha256()
    for name in ("fleet", "sites", "regions", "hourly"):
        ds = getattr(inputs, name, None)
        h.update(f"<{name}>".encode())
        if ds is None:
            continue
        h.update(repr(sorted((str(k), repr(v)) for k, v in ds.attrs.items())).encode())
        for key in sorted(ds.variables, key=str):
            var = ds.variables[key]
            h.update(f"{key}{var.dims}{var.dtype}{var.shape}".encode())
            h.update(repr(sorted((str(k), repr(v)) for k, v in var.attrs.items())).encode())
            values = np.asarray(var.values)
            h.update(repr(values.tolist()).encode() if values.dtype.kind in "OUS"
                     else np.ascontiguousarray(values).tobytes())
    h.update(np.asarray(inputs.years, dtype=np.int64).tobytes())
    return h.hexdigest()


def _study_setup(inputs: Any, run: _Run, xp: Any) -> _Setup:
    """The shared set-up of ``inputs`` for ``run``, from the cache when the same inputs and
    options were set up last (contracts given as objects are not cached)."""
    if not (run.contracts is None or isinstance(run.contracts, str)):
        return _new_setup(inputs, run, xp)
    key = (_inputs_digest(inputs), run.hours, run.representative, run.gpus_per_mw,
           run.gpu_life_years, run.gpu_cost, run.contracts, run.finance_years, xp.__name__)
    for k, st in _SETUP_CACHE:
        if k == key:
            return st
    st = _new_setup(inputs, run, xp)
    _SETUP_CACHE[:] = [(key, st)]
    return st


def _new_setup(inputs: Any, run: _Run, xp: Any) -> _Setup:
    _validate(inputs)
    regions_ds = inputs.regions
    regions = [str(r) for r in regions_ds.region.values]
    years = np.asarray(inputs.years, dtype=np.int64)
    fleet, meta = prepare_fleet(inputs.fleet, regions)
    meta["enroll_index"] = enrollment_index(regions_ds, years)
    hoy = run.axis.hour_of_year
    lat = np.asarray(regions_ds["lat"].values, np.float64)
    cs = clear_sky_pv(lat, regions_ds["lon"].values,
                      [str(z) for z in regions_ds["timezone"].values], int(years[0]),
                      run.hours, hour_of_year=hoy)
    peak = np.asarray(regions_ds["peak_load_mw"].values, np.float64)
    sites = inputs.sites
    site_region = np.array([regions.index(str(r)) for r in sites["region"].values], np.int64)
    contract_c, contract_info, fin_h = _site_contracts(
        run.contracts, sites, regions_ds, site_region, run.gpus_per_mw, run.gpu_cost,
        run.finance_years, run.gpu_life_years)
    slc = slice_index(hoy)
    n_sl = len(SLICE_NAMES)
    fleet_x = fleet
    if xp is not np:  # pragma: no cover - cupy
        fleet_x = FleetArrays(*(xp.asarray(a) for a in (fleet.fparams, fleet.iparams,
                                                          fleet.der_id, fleet.region_start)),
                              fleet.n_pools)
    return _Setup(
        regions_ds=regions_ds, regions=regions, years=years, fleet=fleet, fleet_x=fleet_x,
        meta=meta, lat=lat, cs=cs, cs_x=xp.asarray(cs), peak=peak,
        growth=np.asarray(regions_ds["load_growth_per_year"].values, np.float64),
        pmean=np.asarray(regions_ds["price_mean_usd_per_mwh"].values, np.float64),
        # the user's hourly series (inputs.hourly, gridcap.datasets.series) replace synthetic
        given=given_drivers(getattr(inputs, "hourly", None), regions, peak, hoy),
        sites=sites, site_region=site_region,
        site_arrays={k: np.asarray(sites[v].values, np.float64) for k, v in (
            ("interconnection_mw", "interconnection_mw"), ("mining_mw", "mining_load_mw"),
            ("breakeven", "hashprice_breakeven_usd_per_mwh"),
            ("conversion_months", "conversion_months"))},
        contract_c=contract_c, contract_info=contract_info, fin_h=fin_h,
        slice_hours=np.bincount(slc, minlength=n_sl) * run.axis.weight,
        slice_idx=[np.nonzero(slc == k)[0] for k in range(n_sl)])


def _batch(xp: Any, st: _Setup, run: _Run, dispatch: Any,
           scen: np.ndarray) -> dict[str, np.ndarray]:
    """One batch of scenarios: drivers, events, DER dispatch, then the batch's outputs."""
    axis = run.axis
    drv = hourly_drivers(xp, seed=run.seed, scenarios=scen, lat=xp.asarray(st.lat),
                         price_mean=xp.asarray(st.pmean), cs=st.cs_x, hours=run.hours,
                         hour_of_year=axis.hour_of_year, period_hours=axis.period_hours,
                         given=st.given)
    load_mw = xp.asarray(st.peak)[None, :, None] * drv["load_pu"]
    forecast = load_mw - xp.asarray(st.meta["pv_mw"])[None, :, None] * drv["solar_cf"]
    thr = event_thresholds(xp, forecast, drv["price"])
    ev = find_events(xp, forecast, drv["price"], thresholds=thr)
    del forecast
    dd = DispatchDrivers(
        scenarios=xp.asarray(scen), cs=st.cs_x, kreg=drv["kreg"], house=drv["house"],
        temp=drv["temp"], price=drv["price"], p_lo=thr["p_lo"], p_hi=thr["p_hi"],
        in_event=ev["in_event"], pre_event=ev["pre_event"], event_id=ev["event_id"],
    )
    out = DispatchOut.zeros(xp, scen.size, len(st.regions), run.hours, st.fleet.n_pools,
                            MAX_EVENTS)
    dispatch(st.fleet_x, dd, out, seed=run.seed)
    ann = annual_drivers(xp, seed=run.seed, scenarios=scen, years=st.years)
    part = _chunk_outputs(xp, drv, ev, out, ann, load_mw, peak=st.peak, growth=st.growth,
                          years=st.years, slice_idx=st.slice_idx, meta=st.meta,
                          hours=run.hours, hour_of_year=axis.hour_of_year,
                          flex_payment=run.flex_payment)
    part.update(_site_parts(xp, st, run, drv, ann, scen))
    return part


def _site_parts(xp: Any, st: _Setup, run: _Run, drv: dict, ann: dict,
                scen: np.ndarray) -> dict[str, np.ndarray]:
    """Site economics and contracted cash flows of a batch (NumPy arrays)."""
    site = site_economics(
        xp, price=drv["price"], temp=drv["temp"], site_region=st.site_region,
        annual=ann, hours=run.hours, gpus_per_mw=run.gpus_per_mw,
        gpu_cost_usd_per_gpu_hour=run.gpu_cost, hour_of_year=run.axis.hour_of_year,
        gpu_life_years=run.gpu_life_years, **st.site_arrays)
    part = {f"site_{k}": _to_np(v) for k, v in site.items()}
    if st.contract_c is not None:
        cc = contract_cashflows(xp, st.contract_c, seed=run.seed, scenarios=xp.asarray(scen),
                                finance_years=st.fin_h)
        for k in ("cfads", "revenue", "guarantor_paid", "tenant_default_month",
                  "commencement_month", "renewed"):
            part[f"contract_{k}"] = _to_np(cc[k])
    return part


def _outcomes(parts: list[dict[str, np.ndarray]], st: _Setup, run: _Run,
              backend: str) -> xr.Dataset:
    """The outcomes Dataset from the batches' parts (set-up arrays copied: the set-up is
    cached and must not share memory with a Dataset the caller may change)."""
    from gridcap import __version__

    def cat(key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts], axis=0)

    meta = {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in st.meta.items()}
    data = {**_slice_variables(cat), **_pool_variables(meta), **_scenario_variables(cat)}
    if st.contract_c is not None:
        data.update(_contract_outputs(cat, st.contract_c, st.contract_info))
    years = np.array(st.years)
    sites = st.sites
    axis = run.axis
    return xr.Dataset(
        {k: xr.DataArray(np.array(v), dims=d, attrs={"units": u, "long_name": doc})
         for k, (d, v, u, doc) in data.items()},
        coords={
            "scenario": np.arange(run.offset, run.offset + run.n_sc, dtype=np.int64),
            "region": list(st.regions), "pool": list(meta["pools"]),
            "pool_region": ("pool", np.asarray(meta["pool_region"], dtype=object)),
            "site": (np.array(sites["site"].values) if "site" in sites.coords
                     else np.arange(sites.sizes.get("site", 0))),
            "year": years, "slice": list(SLICE_NAMES),
            "slice_hours": ("slice", np.array(st.slice_hours), {"units": "h"}),
            "event": np.arange(MAX_EVENTS), "source": list(SOURCES),
            **({"finance_year": int(years[0]) + np.arange(st.fin_h)}
               if st.contract_c is not None else {}),
        },
        attrs={"seed": run.seed, "backend": backend, "hours": run.hours,
               # the representative periods (gridcap.kernels.periods): each simulated hour
               # stands for `hour_weight` hours of the year
               "representative": run.representative, "period_hours": axis.period_hours,
               "period_start_hour": axis.period_start.tolist(), "hour_weight": axis.weight,
               "gridcap_version": __version__, "weather_year": int(years[0]),
               # the site model's GPU assumptions, read back by the chain's cost stack
               "site_gpus_per_mw": run.gpus_per_mw,
               "site_gpu_charge_usd_per_gpu_hour": run.gpu_cost,
               "site_gpu_life_years": run.gpu_life_years,
               "pool_flex_payment_usd_per_kw_yr": run.flex_payment,
               # where each site's contract terms come from (deal row, tenant, guarantor)
               "site_contracts": json.dumps({k: [str(x) for x in v] for k, v in
                                             st.contract_info.items()
                                             if k in ("deal", "mode", "tenant_rating",
                                                      "guarantor_rating")}),
               "finance_years": st.fin_h},
    )


def _slice_variables(cat: Any) -> dict[str, tuple]:
    """Net load, price and weather per scenario and slice: (dims, values, units, name)."""
    sx = ("scenario",)
    return {
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
    }


def _scenario_variables(cat: Any) -> dict[str, tuple]:
    """Flexibility, events, sites and annual drivers per scenario: (dims, values, units,
    long name)."""
    sx = ("scenario",)
    return {
        "flex_delivery_ratio_se": ((*sx, "pool", "slice"), cat("ratio_se"), "1",
                                   "sampling standard error of flex_delivery_ratio (random "
                                   "groups)"),
        "event_delivered_kw_se": ((*sx, "pool", "event"), cat("ev_del_se"), "kW",
                                  "sampling standard error of event_delivered_kw"),
        "pool_cfads_usd_se": ((*sx, "pool", "year"), cat("pool_cfads_se"), "$",
                              "sampling standard error of pool_cfads_usd"),
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
                           "flexibility payments + arbitrage value net of costs, for the "
                           "enrolled population of the year"),
        "energy_by_source_mwh": ((*sx, "region", "source"), cat("energy"), "MWh",
                                 "DER fleet energy by source over the simulated hours "
                                 "(weighted: enrolled population of the first year)"),
        "ai_utilization": ((*sx, "year"), cat("util"), "1", "GPU utilization"),
        "gpu_price_usd_per_gpu_hour": ((*sx, "year"), cat("gpu"), "$/GPU-h",
                                       "price of a GPU-hour (H100 class)"),
        "price_level": ((*sx, "year"), cat("pl"), "1", "annual multiplier on hourly prices"),
        "hashprice_level": ((*sx, "year"), cat("hp"), "1",
                            "mining revenue per MWh relative to the first year"),
    }


def _pool_variables(meta: dict[str, Any]) -> dict[str, tuple]:
    """Static pool variables of the fleet sample: (dims, values, units, long name)."""
    return {
        "flex_potential_kw": (("pool",), meta["potential_kw"], "kW",
                              "sum of physically available flexibility (battery + EV + "
                              "flexible-load power)"),
        "flex_committed_kw": (("pool",), meta["committed_kw"], "kW",
                              "flexibility committed to the aggregator (weighted: enrolled "
                              "population of the first year)"),
        "flex_potential_kw_se": (("pool",), meta["potential_kw_se"], "kW",
                                 "sampling standard error of flex_potential_kw (stratified "
                                 "random sample within region)"),
        "flex_committed_kw_se": (("pool",), meta["committed_kw_se"], "kW",
                                 "sampling standard error of flex_committed_kw"),
        "flex_population": (("pool",), meta["population"], "premises",
                            "enrolled premises the pool's samples stand for (first year)"),
        "flex_samples": (("pool",), meta["n_der"], "1", "synthetic samples in the pool"),
        "flex_weight": (("pool",), meta["weight_pool"], "1",
                        "premises per sample (fleet weight)"),
        "flex_enrollment_index": (("region", "year"), meta["enroll_index"], "1",
                                  "enrolled population relative to the first year"),
    }


def _site_contracts(contracts: Any, sites: Any, regions_ds: Any, site_region: np.ndarray,
                    gpus_per_mw: float, gpu_charge: float, finance_years: int | None,
                    life: float) -> tuple[SiteContracts | None, dict[str, Any], int]:
    """Resolve the sites' contract terms and the finance horizon [yr]."""
    from gridcap.kernels.sites import AI_OPEX_USD_PER_MW_YR, PUE_BASE

    if contracts is None or sites.sizes.get("site", 0) == 0:
        return None, {}, 0
    if isinstance(contracts, SiteContracts):
        c, info = contracts, {}
    elif isinstance(contracts, str) and contracts == "auto":
        from gridcap.datasets.financings import site_contracts

        # power at the regional mean price x PUE, plus data-hall opex [$/MW-IT-yr]
        price = np.asarray(regions_ds["price_mean_usd_per_mwh"].values, np.float64)[site_region]
        c, info = site_contracts(
            sites, gpu_life_years=life, gpu_capex_usd_per_mw=gpu_charge * life * 8760.0 *
            gpus_per_mw, gpu_cost_usd_per_mw_yr=price * PUE_BASE * 8760.0 +
            AI_OPEX_USD_PER_MW_YR)
    else:
        raise GridcapInputError(f"contracts = {contracts!r}: expected 'auto', a SiteContracts "
                                "or None")
    h = c.horizon_years() if finance_years is None else _check_int(
        "finance_years", finance_years, 1, 100)
    c.check_horizon(h)
    return c, info, h


def _contract_outputs(cat: Any, c: SiteContracts, info: dict[str, Any]) -> dict[str, Any]:
    sfy = ("scenario", "site", "finance_year")
    out: dict[str, Any] = {
        "site_contract_cfads_usd": (sfy, cat("contract_cfads"), "$",
                                    "contracted CFADS per finance year (rent received - owner "
                                    "costs; tenant credit, guarantor, void and re-let)"),
        "site_contract_revenue_usd": (sfy, cat("contract_revenue"), "$",
                                      "rent from tenant, guarantor and re-let tenant"),
        "site_guarantor_paid_usd": (sfy, cat("contract_guarantor_paid"), "$",
                                    "rent paid by the guarantor after a tenant default"),
        "site_tenant_default_month": (("scenario", "site"), cat("contract_tenant_default_month"),
                                      "month", "tenant default, months from close (-1: none)"),
        "site_commencement_month": (("scenario", "site"), cat("contract_commencement_month"),
                                    "month", "rent commencement incl. construction delay"),
        "site_renewed": (("scenario", "site"), cat("contract_renewed"), "1",
                         "1 where the tenant renews at the end of the base term"),
        "site_contract_mw": (("site",), c.contracted_mw, "MW", "contracted critical-IT MW"),
        "site_contract_term_years": (("site",), c.term_years, "yr",
                                     "initial (firm) contract term from rent commencement"),
        "site_contract_rent_usd_per_mw_yr": (("site",), c.rent_usd_per_mw_yr, "$/MW-IT-yr",
                                             "contract rent (or take-or-pay price) in the "
                                             "first lease year"),
        "site_prepayment_usd": (("site",), c.prepayment_share * c.rent_usd_per_mw_yr *
                                c.contracted_mw * c.term_years * (c.mode == 2), "$",
                                "customer prepayment received at close (gpu_contract)"),
        "site_contract_mode": (("site",), c.mode, "1",
                               "revenue mode (0 merchant_gpu, 1 colocation_lease, "
                               "2 gpu_contract)"),
    }
    if "capex_usd" in info:
        out["site_contract_capex_usd"] = (("site",), np.asarray(info["capex_usd"]), "$",
                                          "capex of the contracted MW (conversion + GPUs of a "
                                          "gpu_contract)")
    return out


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
                   slice_idx: list[np.ndarray], meta: dict, hours: int,
                   hour_of_year: np.ndarray, flex_payment: float) -> dict[str, np.ndarray]:
    del peak  # (load_mw already holds it)
    slices = _slice_outputs(xp, drv, out, ann, load_mw, growth, years, slice_idx)
    pools = _pool_outputs(xp, ev, out, ann, meta=meta, hours=hours, n_sl=len(slice_idx),
                          hour_of_year=hour_of_year, flex_payment=flex_payment)
    hoy = xp.asarray(hour_of_year)
    res = {
        **slices, **pools, "ev_len": ev["event_len"],
        # event start as hour of year (representative periods: the period's true calendar)
        "ev_hour": xp.where(ev["event_hour"] >= 0, hoy[xp.maximum(ev["event_hour"], 0)], -1),
        "energy": out.source * xp.asarray(meta["weight_region"])[None, :, None] / 1000.0,
        "util": ann["ai_utilization"], "gpu": ann["gpu_price"], "pl": ann["price_level"],
        "hp": ann["hashprice_level"],
    }
    return {k: _to_np(v) for k, v in res.items()}


def _slice_outputs(xp: Any, drv: dict, out: DispatchOut, ann: dict, load_mw: Any,
                   growth: np.ndarray, years: np.ndarray,
                   slice_idx: list[np.ndarray]) -> dict[str, Any]:
    """Slice statistics of net load (per year), price and weather; on NumPy from the
    compiled loops of :mod:`gridcap.kernels.numba_stages` (the same bits)."""
    inj_mw = out.injection / 1000.0
    g = np.stack([(1.0 + growth) ** float(years[y] - years[0]) for y in range(years.size)])
    if xp is np:
        from gridcap.kernels.numba_stages import net_load_slices, slice_means

        means = {k: slice_means(drv[k], slice_idx) for k in ("price", "solar_cf", "wind_cf")}
        peak_o, mean_o, at_s, at_w = net_load_slices(load_mw, inj_mw, g, slice_idx,
                                                      drv["solar_cf"], drv["wind_cf"])
    else:
        means = {k: _slice_reduce(drv[k], slice_idx, "mean", xp)
                 for k in ("price", "solar_cf", "wind_cf")}
        peak_o, mean_o, at_s, at_w = _net_load_slices_xp(xp, drv, load_mw, inj_mw, g,
                                                         slice_idx)
    price_o = xp.stack([means["price"] * ann["price_level"][:, y][:, None, None]
                        for y in range(years.size)], axis=2)
    return {"peak": peak_o, "mean": mean_o, "price": price_o, "solar_cf": means["solar_cf"],
            "wind_cf": means["wind_cf"], "solar_at_peak": at_s, "wind_at_peak": at_w}


def _net_load_slices_xp(xp: Any, drv: dict, load_mw: Any, inj_mw: Any, g: np.ndarray,
                        slice_idx: list[np.ndarray]) -> tuple[Any, Any, Any, Any]:
    """Peak and mean net load per (slice, year) and weather at the first year's peak hours
    (array code of :func:`gridcap.kernels.numba_stages.net_load_slices`)."""
    n_s, n_r, _ = load_mw.shape
    n_y = g.shape[0]
    peak_o = xp.empty((n_s, n_r, n_y, len(slice_idx)))
    mean_o = xp.empty_like(peak_o)
    at_peak_s = xp.empty((n_s, n_r, len(slice_idx)))
    at_peak_w = xp.empty_like(at_peak_s)
    for y in range(n_y):
        net = load_mw * xp.asarray(g[y])[None, :, None] - inj_mw
        peak_o[:, :, y, :] = _slice_reduce(net, slice_idx, "max", xp)
        mean_o[:, :, y, :] = _slice_reduce(net, slice_idx, "mean", xp)
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
    return peak_o, mean_o, at_peak_s, at_peak_w


def _group_se(est: Any, centre: Any, valid: Any, fpc: Any, xp: Any) -> Any:
    """Random-group standard error over axis 2 (groups) of ``est`` (S, P, G, ...).

    ``SE² = (1 - f) Σ_g (est_g - centre)² / (G' (G' - 1))`` over the ``valid`` groups G'
    (Wolter 2007, eq. 2.2.1, with the finite-population correction ``1 - f``).
    """
    d2 = xp.where(valid, (est - xp.expand_dims(centre, 2)) ** 2, 0.0).sum(2)
    g = valid.sum(2)
    var = xp.where(g > 1, d2 / xp.maximum(g * (g - 1), 1), 0.0)
    shape = (1, -1) + (1,) * (var.ndim - 2)
    return xp.sqrt(var * xp.asarray(fpc).reshape(shape))


def _pool_outputs(xp: Any, ev: dict, out: DispatchOut, ann: dict, *, meta: dict, hours: int,
                  n_sl: int, hour_of_year: np.ndarray, flex_payment: float) -> dict[str, Any]:
    """Collapse the kernel's per-(pool, group) sums into weighted pool totals and their
    sampling errors (random groups; weights applied here, after the kernel)."""
    pr = meta["pool_region_idx"]
    n_p = len(pr)
    n_g = int(meta["n_groups"])
    n_s = out.event.shape[0]
    n_e = out.event.shape[2]
    n_y = ann["price_level"].shape[1]
    w = xp.asarray(meta["weight_pool"])                                  # (P,)
    fpc = np.clip(1.0 - 1.0 / np.maximum(meta["weight_pool"], 1e-300), 0.0, 1.0)
    com_p = xp.asarray(meta["committed_kw"])                             # (P,) weighted
    com_g = xp.asarray(meta["committed_sub_kw"]).reshape(n_p, n_g)       # unweighted
    ev_len = ev["event_len"][:, pr, :] if n_p else xp.zeros((n_s, 0, n_e), xp.int64)
    ev_hour = ev["event_hour"][:, pr, :] if n_p else ev_len - 1
    has = ev_len > 0
    ev_g = out.event.reshape(n_s, n_p, n_g, n_e)
    L = xp.maximum(ev_len, 1)
    ev_del = xp.where(has, w[None, :, None] * ev_g.sum(2) / L, math.nan)
    est = n_g * w[None, :, None, None] * ev_g / L[:, :, None, :]
    valid = xp.broadcast_to(has[:, :, None, :], est.shape)
    ev_del_se = xp.where(has, _group_se(est, ev_del, valid, fpc, xp), math.nan)
    ev_com = xp.where(has, com_p[None, :, None] + 0.0 * ev_len, math.nan)
    slc = xp.asarray(slice_index(hour_of_year))
    ev_slice = xp.where(has, slc[xp.maximum(ev_hour, 0)], -1)
    # per slice: delivered kWh and event hours, per group
    num_g = xp.stack([xp.where((ev_slice == k)[:, :, None, :], ev_g, 0.0).sum(-1)
                      for k in range(n_sl)], -1)                          # (S,P,G,K)
    hrs = xp.stack([xp.where(ev_slice == k, ev_len, 0).sum(-1) for k in range(n_sl)], -1)
    den_g = com_g[None, :, :, None] * hrs[:, :, None, :]                 # (S,P,G,K)
    ratio, ratio_se = _ratio_with_se(num_g, den_g, fpc, xp)
    num_all = ev_g.sum(-1)                                               # (S,P,G)
    den_all = com_g[None, :, :] * ev_len.sum(-1)[:, :, None]
    ratio_all, _ = _ratio_with_se(num_all[..., None], den_all[..., None], fpc, xp)
    ratio_all = ratio_all[..., 0]
    pool_g = out.pool.reshape(n_s, n_p, n_g, 2)
    idx = xp.asarray(meta["enroll_index"])[pr] if n_p else xp.zeros((0, n_y))  # (P,Y)
    cf = pool_economics(xp, arbitrage_usd=w[None, :] * pool_g[..., 0].sum(2),
                        discharge_kwh=w[None, :] * pool_g[..., 1].sum(2),
                        delivery_ratio=ratio_all, committed_kw=meta["committed_kw"],
                        n_der=meta["population"], price_level=ann["price_level"],
                        hours=hours, flex_payment_usd_per_kw_yr=flex_payment
                        ) * idx[None, :, :]
    # group estimates of the pool cash flow
    r_g = xp.where(den_all > 0, num_all / xp.where(den_all > 0, den_all, 1.0), 1.0)
    wg = (n_g * w)[:, None]
    cf_g = pool_economics(xp, arbitrage_usd=(wg[None] * pool_g[..., 0]).reshape(n_s, -1),
                          discharge_kwh=(wg[None] * pool_g[..., 1]).reshape(n_s, -1),
                          delivery_ratio=r_g.reshape(n_s, -1),
                          committed_kw=(wg * com_g).reshape(-1),
                          n_der=(wg * xp.asarray(meta["n_sub"]).reshape(n_p, n_g)).reshape(-1),
                          price_level=ann["price_level"], hours=hours,
                          flex_payment_usd_per_kw_yr=flex_payment)
    cf_g = cf_g.reshape(n_s, n_p, n_g, n_y) * idx[None, :, None, :]
    cf_se = _group_se(cf_g, cf, xp.ones(cf_g.shape, bool), fpc, xp)
    return {"ratio": ratio, "ratio_se": ratio_se, "ev_com": ev_com, "ev_del": ev_del,
            "ev_del_se": ev_del_se, "pool_cfads": cf, "pool_cfads_se": cf_se}


def _ratio_with_se(num_g: Any, den_g: Any, fpc: np.ndarray, xp: Any) -> tuple[Any, Any]:
    """Delivered / committed over groups (axis 2) and its random-group standard error; 1 (and
    0 error) where nothing was committed in an event."""
    num = num_g.sum(2)
    den = den_g.sum(2)
    ratio = xp.where(den > 0, num / xp.where(den > 0, den, 1.0), 1.0)
    ok = den_g > 0
    r_g = xp.where(ok, num_g / xp.where(ok, den_g, 1.0), 0.0)
    return ratio, _group_se(r_g, ratio, ok, fpc, xp)
