"""Scenario drivers: weather, load, prices (hourly) and annual market paths.

Hourly drivers are per (scenario, region, hour) of one simulated weather/market year in local
standard time (hour of day ``t % 24``, day ``t // 24`` of the hour of year ``t``, which a run on
representative periods takes from :mod:`gridcap.kernels.periods`); annual drivers are per (scenario,
planning year). They are array code written against an ``xp`` namespace (NumPy or CuPy) and
are shared by every backend, so drivers agree across backends by construction. Random numbers
come from Philox keyed by (seed, stream, scenario, entity, t) (:mod:`gridcap.kernels.rng`).

Each stochastic factor is a unit-variance Gaussian AR(1) process whose innovations mix a
national and a regional part,

.. math:: e_{r,t} = \\sqrt{\\rho}\\,n_t + \\sqrt{1-\\rho}\\,\\epsilon_{r,t},\\qquad
          x_{r,t} = \\phi\\,x_{r,t-1} + \\sqrt{1-\\phi^2}\\,e_{r,t},\\quad x_{r,0} = e_{r,0}

so :math:`E[x]=0`, :math:`Var[x]=1`, :math:`corr(x_t, x_{t-1})=\\phi` and
:math:`corr(x_{r}, x_{r'})=\\rho` for regions :math:`r \\ne r'`. Parameters are in
:data:`FACTORS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from gridcap.kernels.rng import STREAMS, philox_array

__all__ = [
    "ANNUAL",
    "FACTORS",
    "LOAD",
    "PRICE",
    "SOLAR",
    "TEMPERATURE",
    "WIND",
    "annual_drivers",
    "clear_sky_pv",
    "given_drivers",
    "hourly_drivers",
    "pv_cache_dir",
]

#: Stochastic factors: hourly AR(1) coefficient ``phi`` [1] and national share of the
#: innovation variance ``rho`` [1] (= cross-region correlation of the factor).
#: Cloud persistence of about a day and synoptic-scale correlation of cloud, temperature and
#: wind anomalies between neighbouring ISOs motivate the values (order-of-magnitude choices).
FACTORS: dict[str, dict[str, float]] = {
    "cloud": {"phi": 0.95, "rho": 0.3},
    "temperature": {"phi": 0.97, "rho": 0.5},
    "price": {"phi": 0.90, "rho": 0.4},
    "wind": {"phi": 0.93, "rho": 0.3},
}

#: Regional clear-sky index :math:`k = clip(mean + sd\\,x_{cloud}, k_{min}, 1)` [1]
#: (US annual-mean clear-sky index is roughly 0.65-0.8).
SOLAR: dict[str, float] = {"k_mean": 0.72, "k_sd": 0.25, "k_min": 0.05}

#: Temperature [°C]: annual mean ``a - b |lat|`` (fit to Houston 21 °C at 29.8°N and Chicago
#: 10 °C at 41.9°N, NOAA normals), seasonal amplitude ``c |lat| - d`` (coldest day 20),
#: diurnal amplitude (warmest 15:00) and anomaly standard deviation.
TEMPERATURE: dict[str, float] = {
    "mean_a": 48.1, "mean_b": 0.91, "seas_c": 0.45, "seas_d": 5.0, "seas_min": 2.0,
    "diurnal": 5.0, "anomaly_sd": 3.0, "coldest_day": 20.0, "warmest_hour": 15.0,
}

#: Regional load per unit of peak before normalisation [1]:
#: ``base (1 + daily cos(2π(h - peak_hour)/24)) + cool max(T - t_cool, 0)
#: + heat max(t_heat - T, 0)``, divided by its maximum over the year at zero temperature
#: anomaly, so the expected annual peak is ``peak_load_mw``. The household shape (mean ≈ 1)
#: has its own evening peak and a weaker temperature response.
LOAD: dict[str, float] = {
    "base": 0.55, "daily": 0.15, "peak_hour": 18.0, "cool": 0.025, "t_cool": 20.0,
    "heat": 0.012, "t_heat": 12.0,
    "house_daily": 0.35, "house_peak_hour": 19.0, "house_temp": 0.015, "house_t_cool": 22.0,
    "house_t_heat": 10.0,
}

#: Standard deviations of the temperature anomaly at the annual peak hour [1]: the peak falls
#: on the most extreme of roughly 100 effectively independent peak-season days, and the
#: expected maximum of 100 iid standard normals is 2.51 (order statistics; e.g. David &
#: Nagaraja, *Order Statistics*, 2003, table of expected maxima).
PEAK_ANOMALY_Z = 2.5

#: Hourly price [$/MWh]: ``mean (1 + daily cos(2π(h - peak_hour)/24)) exp(sd x - sd²/2)``
#: plus scarcity spikes with probability ``spike_prob * clip((L - spike_load)/(1 -
#: spike_load), 0, 1)`` in hours with regional load L (per unit of peak), exponential size with
#: mean ``spike_scale * mean``. The price shock is correlated with the temperature shock
#: (``temp_corr``), so prices rise with load.
PRICE: dict[str, float] = {
    "daily": 0.25, "peak_hour": 17.0, "sd": 0.3, "temp_corr": 0.5,
    "spike_load": 0.85, "spike_prob": 0.3, "spike_scale": 4.0,
}

#: Regional wind capacity factor ``clip(mean + seas cos(2π(d - peak_day)/365) + diurnal
#: cos(2π(h - peak_hour)/24) + sd x_wind, 0, max)`` [1] (US fleet CF ≈ 0.35, EIA).
WIND: dict[str, float] = {
    "mean": 0.36, "seas": 0.07, "peak_day": 45.0, "diurnal": 0.04, "peak_hour": 1.0,
    "sd": 0.17, "max": 0.95,
}

#: Annual drivers. ``price_level``: log random walk from 1 in the first year, drift and sd
#: per year. ``ai_utilization``: AR(1) across years around ``util_mean``. ``gpu_price``:
#: $/GPU-hour of an H100-class GPU, ``gpu_price_0`` in ``gpu_base_year`` (on-demand H100 rental
#: fell from ~$8 in 2023 to ~$2-2.5 in 2025, public cloud price trackers) declining by
#: ``gpu_decline`` per year (hardware obsolescence), lognormal AR(1) noise.
#: ``hashprice``: level of mining revenue per MWh relative to the first year, log random walk
#: with drift, times ``halving_factor`` from each halving year on (2028: next Bitcoin halving).
ANNUAL: dict[str, Any] = {
    "pl_drift": 0.02, "pl_sd": 0.08,
    "util_mean": 0.75, "util_sd": 0.08, "util_phi": 0.6, "util_min": 0.3, "util_max": 0.98,
    "gpu_price_0": 2.10, "gpu_base_year": 2026, "gpu_decline": 0.15, "gpu_sd": 0.2,
    "gpu_phi": 0.7,
    "hp_drift": -0.05, "hp_sd": 0.3, "halving_years": (2028, 2032), "halving_factor": 0.6,
}

_TIME_BLOCK = 1464  # hours per block of vectorised Philox draws (bounds temporaries)


@lru_cache(maxsize=256)
def _pv_profile(lat: float, lon: float, tz: str, year: int) -> np.ndarray:
    path = _pv_cache_path(lat, lon, tz, year)
    out = _read_pv_cache(path) if path is not None else None
    if out is None:
        from gridcap.datasets.solar import pv_output_kw_per_kw

        out = np.asarray(pv_output_kw_per_kw(lat, lon, tz, year), dtype=np.float64)
        if path is not None:
            _write_pv_cache(path, out)
    out.setflags(write=False)
    return out


def pv_cache_dir() -> Path | None:
    """Folder of the on-disk clear-sky PV cache, or None when it is off.

    ``GRIDCAP_CACHE=0`` turns it off; ``GRIDCAP_CACHE_DIR`` sets the folder (default:
    ``$XDG_CACHE_HOME/gridcap``, else ``~/.cache/gridcap``), under which the profiles are in
    ``clear_sky/``. A profile is keyed by location, time zone, year and the versions of
    everything that computes it (the sources of ``gridcap.datasets.solar``, pvlib, NumPy,
    pandas), so a cached profile is the one the same code would compute now, bit for bit;
    a run that finds it skips importing pvlib (~1 s) and the solar-position computation
    (~0.2–0.5 s per region).
    """
    if os.environ.get("GRIDCAP_CACHE", "1") == "0":
        return None
    root = os.environ.get("GRIDCAP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "gridcap")
    return Path(root) / "clear_sky"


@lru_cache(maxsize=1)
def _pv_code_key() -> str:
    """Versions of the code that computes a clear-sky profile."""
    from importlib import metadata

    src = Path(__file__).resolve().parent.parent / "datasets" / "solar.py"
    parts = [hashlib.sha256(src.read_bytes()).hexdigest() if src.is_file() else "?"]
    for dist in ("pvlib", "numpy", "pandas"):
        try:
            parts.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}=?")
    return ";".join(parts)


def _pv_cache_path(lat: float, lon: float, tz: str, year: int) -> Path | None:
    folder = pv_cache_dir()
    if folder is None:
        return None
    key = json.dumps([float(lat).hex(), float(lon).hex(), tz, int(year), _pv_code_key()])
    return folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npy"


def _read_pv_cache(path: Path) -> np.ndarray | None:
    """The cached profile, or None when missing or not a valid profile (then recomputed)."""
    try:
        out = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    ok = (out.dtype == np.float64 and out.shape == (8760,) and bool(np.isfinite(out).all())
          and bool((out >= 0.0).all()))
    return out if ok else None


def _write_pv_cache(path: Path, out: np.ndarray) -> None:
    """Write atomically (temporary file, rename); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, out, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)


def clear_sky_pv(lat, lon, tz, year: int, hours: int, hour_of_year=None) -> np.ndarray:
    """Clear-sky PV output per kW DC for each region (pvlib via gridcap.datasets.solar).

    Parameters
    ----------
    lat, lon : array_like
        Region locations [degrees_north], [degrees_east], shape (R,).
    tz : sequence of str
        IANA time zones, shape (R,).
    year : int
        Weather year [yr].
    hours : int
        Number of hours simulated [h].
    hour_of_year : array of int, optional
        Hour of year of each simulated hour [h], shape (hours,)
        (:attr:`gridcap.kernels.periods.TimeAxis.hour_of_year`); default: the first
        ``hours`` hours from 1 January 00:00 local standard time.

    Returns
    -------
    numpy.ndarray
        Shape (R, hours), AC output per kW DC under clear sky [kW/kW].
    """
    hoy = np.arange(hours) if hour_of_year is None else np.asarray(hour_of_year, np.int64)
    rows = [_pv_profile(float(a), float(b), str(z), int(year))[hoy]
            for a, b, z in zip(lat, lon, tz, strict=True)]
    if not rows:
        return np.zeros((0, hours))
    return np.stack(rows)


def _normals(xp, t, entity, scen, stream: str, seed: int):
    """Four standard normals per counter, shape broadcast(entity, scen) + t.shape."""
    from gridcap.kernels.targets import get_ops

    if xp is np and entity.ndim == 2 and entity.shape[0] == 1 and scen.shape[1:] == (1,):
        # same bits from a parallel compiled loop (no NumPy temporaries per word)
        from gridcap.kernels.numba_cpu import normals_numba_cpu

        return tuple(normals_numba_cpu(t, entity[0], scen[:, 0], STREAMS[stream], seed))
    ops = get_ops(xp.__name__)
    w = philox_array(xp, t, entity[..., None], scen[..., None], STREAMS[stream], seed)
    a, b = ops.box_muller(w[0], w[1])
    c, d = ops.box_muller(w[2], w[3])
    return a, b, c, d


def _ar1(xp, e, phi: float):
    """Unit-variance AR(1) along the last axis: x0 = e0, x_t = phi x_{t-1} + s e_t."""
    s = math.sqrt(1.0 - phi * phi)
    out = xp.empty_like(e)
    out[..., 0] = e[..., 0]
    if e.shape[-1] > 1:
        if xp is np:
            from scipy.signal import lfilter

            out[..., 1:] = lfilter([s], [1.0, -phi], e[..., 1:], axis=-1,
                                   zi=(phi * e[..., :1]))[0]
        else:  # pragma: no cover - exercised on GPU machines
            prev = out[..., 0]
            for t in range(1, e.shape[-1]):
                prev = s * e[..., t] + phi * prev
                out[..., t] = prev
    return out


def given_drivers(hourly: Any, regions: list[str], peak_load_mw: Any,
                  hour_of_year) -> dict[str, np.ndarray]:
    """The user's hourly series as driver values that replace the synthetic ones.

    Parameters
    ----------
    hourly : xarray.Dataset or None
        :attr:`gridcap.schema.StudyInputs.hourly`: ``load_mw`` [MW], ``solar_cf`` [1],
        ``wind_cf`` [1] over (``region``, ``hour`` 0-8759 of the local standard year), NaN
        where a region keeps its synthetic series (:mod:`gridcap.datasets.series`).
    regions : list of str
        Region ids in the kernel's order (regions absent from ``hourly`` stay synthetic).
    peak_load_mw : array_like
        Regional peak load [MW], shape (R,): a load series becomes ``load_pu = load_mw /
        peak_load_mw``, so the kernel's ``peak_load_mw × load_pu`` is the user's MW.
    hour_of_year : array of int
        Hour of year of each simulated hour [h], shape (T,).

    Returns
    -------
    dict of numpy.ndarray, each (R, T)
        ``load_pu``, ``solar_cf``, ``wind_cf`` for the quantities given; NaN rows keep the
        synthetic driver. Empty when nothing is given.
    """
    if hourly is None:
        return {}
    hoy = np.asarray(hour_of_year, np.int64)
    out: dict[str, np.ndarray] = {}
    for var, key in (("load_mw", "load_pu"), ("solar_cf", "solar_cf"), ("wind_cf", "wind_cf")):
        if var in hourly:
            da = hourly[var].reindex(region=list(regions)).transpose("region", "hour")
            x = np.asarray(da.values, np.float64)[:, hoy]
            if key == "load_pu":
                x = x / np.asarray(peak_load_mw, np.float64)[:, None]
            out[key] = x
    return out


def _replace(xp, synthetic, given: dict[str, Any] | None, key: str):
    """``synthetic`` (S, R, T) with the user's (R, T) values where they are not NaN."""
    if not given or key not in given:
        return synthetic
    g = xp.asarray(given[key])[None]
    return xp.where(xp.isnan(g), synthetic, g)


def hourly_drivers(xp, *, seed: int, scenarios, lat, price_mean, cs, hours: int,
                   hour_of_year=None, period_hours: int | None = None,
                   compiled: bool | None = None,
                   given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Hourly drivers for a batch of scenarios.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    seed : int
        Seed [1].
    scenarios : array of int
        Global scenario indices [1], shape (S,).
    lat : array
        Region latitudes [degrees_north], shape (R,).
    price_mean : array
        Mean wholesale price per region [$/MWh], shape (R,).
    cs : array
        Clear-sky PV per kW DC per region [kW/kW], shape (R, T).
    hours : int
        Hours simulated T [h], a multiple of 24.
    hour_of_year : array of int, optional
        Hour of year of each simulated hour [h], shape (T,); sets the calendar (hour of day,
        day of year) and keys the random numbers, so a representative period draws what the
        same hours of a full-year run draw (:mod:`gridcap.kernels.periods`). Default: the
        first T hours from 1 January.
    period_hours : int, optional
        Length of each representative period [h] (T divisible by it): the AR(1) factors
        restart, stationary, at each period. Default: one period of T hours.
    compiled : bool, optional
        Use the compiled CPU loops of :mod:`gridcap.kernels.numba_stages` (the same bits as
        the array code); default: when ``xp`` is NumPy.
    given : dict of arrays (R, T), optional
        The user's series (:func:`given_drivers`): ``load_pu``, ``solar_cf``, ``wind_cf``
        replace the synthetic driver in every scenario where they are not NaN; price spikes
        then follow the given load (the fields then come from the array code, same bits).

    Returns
    -------
    dict of arrays, each (S, R, T)
        ``kreg`` clear-sky index [1], ``temp`` [°C], ``load_pu`` regional load per unit of
        ``peak_load_mw`` [1], ``house`` household load shape [1], ``price`` [$/MWh],
        ``wind_cf`` [1], ``solar_cf`` = cs × kreg [1], and the latent unit AR(1) factors
        ``x_cloud``, ``x_temp``, ``x_price``, ``x_wind`` [1].
    """
    scen = xp.asarray(scenarios, dtype=xp.uint64)
    n_t = int(hours)
    hoy = (np.arange(n_t, dtype=np.int64) if hour_of_year is None
           else np.asarray(hour_of_year, dtype=np.int64))
    period = n_t // (n_t // int(period_hours or n_t))  # AR(1) restarts at each period
    use_numba = (xp is np) if compiled is None else bool(compiled)
    factors = _factors_numba if use_numba else _factors_xp
    x, u_occ, u_size = factors(xp, seed, scen, int(lat.shape[0]), hoy, period)
    shapes = _shapes(xp, hoy, lat, price_mean)
    if given:  # the user's series: load replaced before the price spikes read it
        out = _fields_xp(xp, x, u_occ, u_size, shapes, cs, given)
    else:
        fields = _fields_numba if use_numba else _fields_xp
        out = fields(xp, x, u_occ, u_size, shapes, cs)
    out.update(x_cloud=x[0], x_temp=x[1], x_price=x[2], x_wind=x[3])
    return out


_FACTOR_NAMES = ("cloud", "temperature", "price", "wind")


def _factors_numba(xp, seed, scen, n_r, hoy, period):
    """Latent factors and spike uniforms from the compiled loop (NumPy's bits)."""
    from gridcap.kernels.numba_stages import driver_factors

    return driver_factors(hoy, n_r, scen, seed,
                          rho=tuple(FACTORS[f]["rho"] for f in _FACTOR_NAMES),
                          phi=tuple(FACTORS[f]["phi"] for f in _FACTOR_NAMES),
                          temp_corr=PRICE["temp_corr"], period=period)


def _factors_xp(xp, seed, scen, n_r, hoy, period):
    """Latent unit AR(1) factors (4, S, R, T) and spike uniforms (S, R, T), array code."""
    n_s, n_t = scen.shape[0], hoy.size
    n_per = n_t // period
    t_ctr = xp.asarray(hoy.astype(np.uint64))
    e = {k: xp.empty((n_s, n_r, n_t)) for k in ("cloud", "temp", "price0", "wind")}
    u_occ = xp.empty((n_s, n_r, n_t))
    u_size = xp.empty((n_s, n_r, n_t))
    reg = xp.arange(n_r, dtype=xp.uint64)
    zero = xp.zeros(1, dtype=xp.uint64)
    rho = {k: FACTORS[f]["rho"] for k, f in zip(e, _FACTOR_NAMES, strict=True)}
    for t0 in range(0, n_t, _TIME_BLOCK):
        t1 = min(n_t, t0 + _TIME_BLOCK)
        nat = _normals(xp, t_ctr[t0:t1], zero[None, :], scen[:, None], "national", seed)
        loc = _normals(xp, t_ctr[t0:t1], reg[None, :], scen[:, None], "regional", seed)
        for k, zn, zr in zip(e, nat, loc, strict=True):
            e[k][:, :, t0:t1] = math.sqrt(rho[k]) * zn + math.sqrt(1.0 - rho[k]) * zr
        w = philox_array(xp, t_ctr[t0:t1], reg[None, :, None],
                         scen[:, None, None], STREAMS["spike"], seed)
        u_occ[:, :, t0:t1] = (w[0] + 0.5) * 2.0**-32
        u_size[:, :, t0:t1] = (w[1] + 0.5) * 2.0**-32
    a = PRICE["temp_corr"]
    e["price0"] = a * e["temp"] + math.sqrt(1.0 - a * a) * e["price0"]

    def ar1(x, phi):
        return _ar1(xp, x.reshape(n_s, n_r, n_per, -1), phi).reshape(n_s, n_r, n_t)

    x = xp.stack([ar1(e[k], FACTORS[f]["phi"]) for k, f in zip(e, _FACTOR_NAMES, strict=True)])
    return x, u_occ, u_size


def _shapes(xp, hoy, lat, price_mean) -> dict[str, Any]:
    """Deterministic shapes of the drivers: functions of the hour of year and the region."""
    t = xp.asarray(hoy.astype(np.float64))
    hod = t % 24.0
    doy = xp.floor(t / 24.0)
    two_pi = 2.0 * math.pi
    alat = xp.abs(xp.asarray(lat, dtype=xp.float64))[:, None]  # (R, 1)
    tp = TEMPERATURE
    t_mean = xp.clip(tp["mean_a"] - tp["mean_b"] * alat, -5.0, 28.0)
    t_seas = xp.clip(tp["seas_c"] * alat - tp["seas_d"], tp["seas_min"], 20.0)

    def t_det_of(h, d):
        return (t_mean - t_seas * xp.cos(two_pi * (d - tp["coldest_day"]) / 365.0)
                + tp["diurnal"] * xp.cos(two_pi * (h - tp["warmest_hour"]) / 24.0))  # (R, T)

    ld = LOAD
    # normalise by the max of the expected shape over a whole year (independent of `hours`)
    t_full = xp.arange(8760, dtype=xp.float64)
    hf, df = t_full % 24.0, xp.floor(t_full / 24.0)
    t_det_full = t_det_of(hf, df)
    load_h_full = ld["base"] * (1.0 + ld["daily"] * xp.cos(two_pi * (hf - ld["peak_hour"]) / 24))
    # The simulated annual peak is the shape's max at the year's most extreme temperature
    # anomaly, not at zero anomaly: evaluate the shape at ±PEAK_ANOMALY_Z standard deviations
    # so that the median simulated annual peak is ``peak_load_mw`` (without this the median
    # peak came out ~18% above it).
    shift = PEAK_ANOMALY_Z * tp["anomaly_sd"]
    raw_full = _load_raw(xp, load_h_full, t_det_full)
    raw_full = xp.maximum(raw_full, xp.maximum(_load_raw(xp, load_h_full, t_det_full + shift),
                                               _load_raw(xp, load_h_full, t_det_full - shift)))
    pr, wd = PRICE, WIND
    pm = xp.asarray(price_mean, dtype=xp.float64)
    return {
        "t_det": t_det_of(hod, doy),                       # (R, T) [°C]
        "norm": raw_full.max(axis=-1),                      # (R,)
        "load_h": ld["base"] * (1.0 + ld["daily"] * xp.cos(two_pi * (hod - ld["peak_hour"])
                                                          / 24)),   # (T,)
        "house_h": 1.0 + ld["house_daily"] * xp.cos(two_pi * (hod - ld["house_peak_hour"])
                                                    / 24.0),       # (T,)
        "price_h": pm[:, None] * (1.0 + pr["daily"] * xp.cos(two_pi * (hod - pr["peak_hour"])
                                                             / 24.0)),  # (R, T) [$/MWh]
        "spike_pm": pr["spike_scale"] * pm,                 # (R,) [$/MWh]
        "wind_h": (wd["mean"] + wd["seas"] * xp.cos(two_pi * (doy - wd["peak_day"]) / 365.0)
                   + wd["diurnal"] * xp.cos(two_pi * (hod - wd["peak_hour"]) / 24.0)),  # (T,)
    }


def _load_raw(xp, load_h, temp):
    """Regional load per unit before normalisation from the hourly shape and temperature."""
    ld = LOAD
    return (load_h + ld["cool"] * xp.maximum(temp - ld["t_cool"], 0.0)
            + ld["heat"] * xp.maximum(ld["t_heat"] - temp, 0.0))


def _fields_xp(xp, x, u_occ, u_size, sh, cs, given=None) -> dict[str, Any]:
    """Driver fields (S, R, T) from the factors and shapes, array code; ``given`` series
    (:func:`given_drivers`) replace load, solar and wind where they are not NaN."""
    x_cloud, x_temp, x_price, x_wind = x
    tp, ld, sol, pr, wd = TEMPERATURE, LOAD, SOLAR, PRICE, WIND
    temp = sh["t_det"][None] + tp["anomaly_sd"] * x_temp
    load_pu = _replace(xp, _load_raw(xp, sh["load_h"], temp) / sh["norm"][None, :, None],
                       given, "load_pu")
    house = sh["house_h"] * (1.0 + ld["house_temp"] * (
        xp.maximum(temp - ld["house_t_cool"], 0.0)
        + 0.5 * xp.maximum(ld["house_t_heat"] - temp, 0.0)))
    kreg = xp.clip(sol["k_mean"] + sol["k_sd"] * x_cloud, sol["k_min"], 1.0)
    base = sh["price_h"][None] * xp.exp(pr["sd"] * x_price - 0.5 * pr["sd"] ** 2)
    p_spike = pr["spike_prob"] * xp.clip((load_pu - pr["spike_load"]) / (1.0 - pr["spike_load"]),
                                         0.0, 1.0)
    spike = xp.where(u_occ < p_spike, sh["spike_pm"][None, :, None] * (-xp.log(u_size)), 0.0)
    wind_cf = _replace(xp, xp.clip(sh["wind_h"] + wd["sd"] * x_wind, 0.0, wd["max"]), given,
                       "wind_cf")
    solar_cf = _replace(xp, xp.asarray(cs)[None] * kreg, given, "solar_cf")
    return {"kreg": kreg, "temp": temp, "load_pu": load_pu, "house": house,
            "price": base + spike, "wind_cf": wind_cf, "solar_cf": solar_cf}


def _fields_numba(xp, x, u_occ, u_size, sh, cs) -> dict[str, Any]:
    """Driver fields from the compiled loop: NumPy computes only exp and log (same bits)."""
    from gridcap.kernels.numba_stages import driver_fields

    tp, ld, sol, pr, wd = TEMPERATURE, LOAD, SOLAR, PRICE, WIND
    exp_p = pr["sd"] * x[2] - 0.5 * pr["sd"] ** 2
    np.exp(exp_p, out=exp_p)
    log_u = np.log(u_size)
    consts = (tp["anomaly_sd"], ld["cool"], ld["t_cool"], ld["heat"], ld["t_heat"],
              ld["house_temp"], ld["house_t_cool"], ld["house_t_heat"], sol["k_mean"],
              sol["k_sd"], sol["k_min"], pr["spike_prob"], pr["spike_load"],
              1.0 - pr["spike_load"], wd["sd"], wd["max"])
    c = np.ascontiguousarray
    f = driver_fields(x, t_det=c(sh["t_det"]), load_h=c(sh["load_h"]), norm=c(sh["norm"]),
                      house_h=c(sh["house_h"]), cs=c(np.asarray(cs, dtype=np.float64)),
                      price_h=c(sh["price_h"]), exp_p=exp_p, log_u=log_u, u_occ=u_occ,
                      spike_pm=c(sh["spike_pm"]), wind_h=c(sh["wind_h"]), consts=consts)
    del exp_p, log_u
    return dict(zip(("temp", "load_pu", "house", "kreg", "solar_cf", "price", "wind_cf"), f,
                    strict=True))


def annual_drivers(xp, *, seed: int, scenarios, years) -> dict[str, Any]:
    """Annual market paths per scenario and planning year.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    seed : int
        Seed [1].
    scenarios : array of int
        Global scenario indices [1], shape (S,).
    years : array of int
        Planning years [yr], shape (Y,).

    Returns
    -------
    dict of arrays, each (S, Y)
        ``price_level`` [1], ``ai_utilization`` [1], ``gpu_price`` [$/GPU-h],
        ``hashprice_level`` [1].

    Notes
    -----
    .. math:: \\ln PL_y = \\ln PL_{y-1} + \\mu - \\sigma^2/2 + \\sigma z_y,\\ PL_0 = 1;\\quad
              G_y = G_0 (1-\\delta)^{y - y_0} e^{\\sigma_g b_y - \\sigma_g^2/2}
    """
    from gridcap.kernels.targets import get_ops

    ops = get_ops(xp.__name__)
    an = ANNUAL
    scen = xp.asarray(scenarios, dtype=xp.uint64)
    yrs = np.asarray(years, dtype=np.int64)
    n_y = yrs.shape[0]
    w = philox_array(xp, xp.uint64(0), xp.arange(n_y, dtype=xp.uint64)[None, :],
                     scen[:, None], STREAMS["annual"], seed)
    z_pl, z_ut = ops.box_muller(w[0], w[1])
    z_gp, z_hp = ops.box_muller(w[2], w[3])

    steps = an["pl_drift"] - 0.5 * an["pl_sd"] ** 2 + an["pl_sd"] * z_pl
    steps[:, 0] = 0.0
    price_level = xp.exp(xp.cumsum(steps, axis=1))

    def ar_years(z, phi):
        out = xp.empty_like(z)
        out[:, 0] = z[:, 0]
        s = math.sqrt(1.0 - phi * phi)
        for y in range(1, n_y):
            out[:, y] = phi * out[:, y - 1] + s * z[:, y]
        return out

    util = xp.clip(an["util_mean"] + an["util_sd"] * ar_years(z_ut, an["util_phi"]),
                   an["util_min"], an["util_max"])
    age = xp.asarray((yrs - an["gpu_base_year"]).astype(np.float64))[None, :]
    gpu = (an["gpu_price_0"] * (1.0 - an["gpu_decline"]) ** age
           * xp.exp(an["gpu_sd"] * ar_years(z_gp, an["gpu_phi"]) - 0.5 * an["gpu_sd"] ** 2))
    hsteps = an["hp_drift"] - 0.5 * an["hp_sd"] ** 2 + an["hp_sd"] * z_hp
    hsteps[:, 0] = 0.0
    halv = np.zeros(n_y)
    for hy in an["halving_years"]:
        halv += (yrs >= hy) & (yrs[0] < hy)
    hp = xp.exp(xp.cumsum(hsteps, axis=1)) * xp.asarray(an["halving_factor"] ** halv)[None, :]
    return {"price_level": price_level, "ai_utilization": util, "gpu_price": gpu,
            "hashprice_level": hp}
