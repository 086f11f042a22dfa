"""Seeded synthetic fleets of distributed energy resources (DERs).

A fleet is an :class:`xarray.Dataset` with dimension ``der``, one row per premise behind one
meter, conforming to the ``fleet`` table of ``docs/data-model.md``. Fleets are **synthetic**:
no real customer is represented. Sizes come from the stated distributions in
:data:`DISTRIBUTIONS`, each tied to a public source, and every fleet carries
``attrs["synthetic"] = "true"`` plus those distributions.

Determinism: every group of variables draws from its own stream
``numpy.random.Generator(PCG64([seed, stream]))``, so the same seed gives the same fleet on
every machine with the same NumPy version (integer draws and uniforms bit-identical; the
log-normal sizes go through ``exp`` and may differ in the last ulp between C math
libraries), and adding a variable never shifts the draws of the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError
from gridcap.params import param

__all__ = ["DEFAULT_MIX", "DER_KINDS", "DISTRIBUTIONS", "FleetOptions", "allocate_samples",
           "synthetic_fleet"]


@dataclass(frozen=True)
class FleetOptions:
    """The study's ``[fleet]`` parameter table (each field: default, unit, range, meaning)."""

    n_der: int = param(
        200, "1", "synthetic DER samples N (more samples: smaller sampling errors, ~1/sqrt(N))",
        lo=0, hi=10_000_000, source="study choice: samples traded for accuracy")
    population: str = param(
        "enrolled", "", "'enrolled': samples are weighted to the region's enrolled DER "
        "population (gridcap.datasets.enrollment); 'samples': each sample is one premise",
        choices=("enrolled", "samples"),
        source="datasets/data/der_enrollment.csv (EIA-861, Wood Mackenzie, EIA peak)")
    seed_offset: int = param(1, "1", "fleet seed = study seed + seed_offset", lo=0, hi=2**31)
    commitment_share: float = param(
        0.8, "1", "share of each DER's flexible kW committed to its pool", lo=0, hi=1,
        source="gridcap assumption (aggregator contracts leave a margin below the physical "
        "flexibility)")

#: DER kinds, as in the data model.
DER_KINDS = ("rooftop_pv", "home_battery", "pv_battery", "ev_charger", "flexible_load")

#: Default share of each kind among aggregator-enrolled premises [1]. An assumption, informed
#: by: ~13% of 2023 US residential PV paired with storage (LBNL *Tracking the Sun* 2024);
#: rapid growth of home Level-2 EV charging (~4.8 M plug-in EVs on US roads by 2024, DOE AFDC);
#: smart-thermostat demand-response programs as the most common residential DR resource
#: (FERC *Assessment of Demand Response and Advanced Metering* 2024).
DEFAULT_MIX: dict[str, float] = {
    "rooftop_pv": 0.35,
    "pv_battery": 0.15,
    "home_battery": 0.05,
    "ev_charger": 0.25,
    "flexible_load": 0.20,
}

#: The distributions used, with their sources; copied into the fleet's attrs.
DISTRIBUTIONS: dict[str, str] = {
    "region": "categorical, weights proportional to regions.peak_load_mw",
    "lat_lon": (
        "region lat/lon + Normal(0, 1.5 deg) jitter clipped to +-3 deg "
        "(synthetic; not real premises)"
    ),
    "base_load_kw": (
        "LogNormal(median 1.15 kW, sigma 0.35) clipped [0.3, 5]; EIA: average US residential "
        "use ~10,500 kWh/yr = 1.2 kW mean (EIA Electric Power Annual / FAQ 2023)"
    ),
    "pv_kw": (
        "LogNormal(median 7.0 kW-dc, sigma 0.35) clipped [2, 20]; LBNL Tracking the Sun "
        "2024: median residential system ~7 kW-dc in 2023"
    ),
    "battery": (
        "1 or 2 units (p = 0.8/0.2) of {Tesla Powerwall 2: 13.5 kWh / 5 kW / 90% RTE, p=0.45; "
        "Tesla Powerwall 3: 13.5 kWh / 11.5 kW / 89% RTE, p=0.35; Enphase IQ Battery 10: "
        "10.08 kWh / 3.84 kW / 89% RTE, p=0.20} (manufacturer datasheets)"
    ),
    "soc_min": "Uniform(0.10, 0.30): backup reserve (Tesla app default 20%)",
    "soc_max": "Uniform(0.95, 1.00)",
    "ev_kw": (
        "Level-2 chargers {7.2 kW (30 A), 9.6 kW (40 A), 11.5 kW (48 A) at 240 V} with "
        "p = 0.5/0.3/0.2 (SAE J1772 Level 2; DOE AFDC)"
    ),
    "ev_kwh_per_day": (
        "LogNormal(median 10 kWh, sigma 0.45) clipped [2, 40]; ~37 mi/day average driving "
        "(FHWA NHTS 2022) x ~0.3 kWh/mi"
    ),
    "ev_arrival_hour": "round(Normal(18, 1.5)) mod 24 [h local]",
    "ev_departure_hour": "round(Normal(7, 1.0)) mod 24 [h local]",
    "flex_kw": (
        "Uniform(0.8, 2.5) kW for flexible_load premises (one central-AC compressor cycled "
        "by a smart thermostat; 3-ton AC draws ~3 kW), 0 otherwise"
    ),
    "flex_rebound": "Uniform(0.3, 0.8): share of shed energy recovered after an event",
    "committed_kw": (
        "Uniform(0.5, 0.9) x (battery_kw + 0.5 ev_kw + flex_kw): part of the physical "
        "flexibility the premise commits to its aggregator"
    ),
}

# one stream per variable group; never renumber (determinism across versions)
_STREAMS = {
    "kind": 1, "region": 2, "location": 3, "base_load": 4, "pv": 5, "battery": 6,
    "soc": 7, "ev": 8, "flex": 9, "commit": 10,
}

_BATTERY_MODELS = np.array(
    # usable kWh, kW, round-trip efficiency
    [[13.5, 5.0, 0.90], [13.5, 11.5, 0.89], [10.08, 3.84, 0.89]]
)
_BATTERY_P = np.array([0.45, 0.35, 0.20])
_EV_KW = np.array([7.2, 9.6, 11.5])
_EV_P = np.array([0.5, 0.3, 0.2])

_UNITS = {
    "kind": "", "region": "", "pool": "",
    "lat": "degrees_north", "lon": "degrees_east",
    "base_load_kw": "kW", "pv_kw": "kW", "battery_kwh": "kWh", "battery_kw": "kW",
    "battery_efficiency": "1", "soc_min": "1", "soc_max": "1",
    "ev_kw": "kW", "ev_kwh_per_day": "kWh", "ev_arrival_hour": "h", "ev_departure_hour": "h",
    "flex_kw": "kW", "flex_rebound": "1", "committed_kw": "kW", "weight": "1",
}

_LONG_NAMES = {
    "kind": "DER kind", "region": "grid region id", "pool": "aggregator pool",
    "lat": "latitude", "lon": "longitude",
    "base_load_kw": "average household load", "pv_kw": "PV DC nameplate",
    "battery_kwh": "usable battery energy capacity",
    "battery_kw": "battery charge/discharge power limit",
    "battery_efficiency": "battery round-trip efficiency",
    "soc_min": "minimum state of charge (fraction of battery_kwh)",
    "soc_max": "maximum state of charge (fraction of battery_kwh)",
    "ev_kw": "EV charger power", "ev_kwh_per_day": "EV energy needed per day",
    "ev_arrival_hour": "EV plug-in hour (local)", "ev_departure_hour": "EV plug-out hour (local)",
    "flex_kw": "sheddable thermostat-like load",
    "flex_rebound": "fraction of shed energy recovered after an event",
    "committed_kw": "flexibility committed to the aggregator",
    "weight": "enrolled premises this sample stands for [premises per sample]",
}


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([int(seed), _STREAMS[stream]]))


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int,
               lo: float, hi: float) -> np.ndarray:
    return np.clip(median * np.exp(sigma * rng.standard_normal(n)), lo, hi)


def _check_mix(mix: Mapping[str, float] | None) -> dict[str, float]:
    if mix is None:
        return dict(DEFAULT_MIX)
    if not isinstance(mix, Mapping):
        raise GridcapInputError(f"mix = {mix!r}: expected a dict of kind -> share")
    unknown = [k for k in mix if k not in DER_KINDS]
    if unknown:
        raise GridcapInputError(
            f"mix has unknown kind(s) {unknown}: expected keys among {', '.join(DER_KINDS)}"
        )
    out: dict[str, float] = {}
    for k in DER_KINDS:
        v = float(mix.get(k, 0.0))
        if not (np.isfinite(v) and v >= 0.0):
            raise GridcapInputError(f"mix[{k!r}] = {mix.get(k)!r}: expected a share >= 0")
        out[k] = v
    total = sum(out.values())
    if total <= 0.0:
        raise GridcapInputError(f"mix = {dict(mix)!r}: expected at least one positive share")
    return {k: v / total for k, v in out.items()}


def _check_regions(regions: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(regions, xr.Dataset) or "region" not in regions.dims:
        raise GridcapInputError(
            f"regions = {type(regions).__name__}: expected an xarray.Dataset with dim 'region'"
        )
    missing = [v for v in ("lat", "lon", "peak_load_mw") if v not in regions]
    if missing:
        raise GridcapInputError(
            f"regions is missing variable(s) {', '.join(missing)}: expected lat, lon, "
            "peak_load_mw on dim 'region'"
        )
    names = np.asarray(regions["region"].values).astype(str)
    lat = np.asarray(regions["lat"].values, float)
    lon = np.asarray(regions["lon"].values, float)
    peak = np.asarray(regions["peak_load_mw"].values, float)
    if names.size == 0:
        raise GridcapInputError("regions.region is empty: expected at least one region")
    bad = ~np.isfinite(peak) | (peak <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GridcapInputError(
            f"regions.peak_load_mw[region={names[i]}] = {peak[i]!r}: expected a value > 0 [MW]"
        )
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise GridcapInputError("regions.lat/lon contain NaN: expected degrees")
    return names, lat, lon, peak


def allocate_samples(n: int, population: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Samples per region, proportional to its enrolled population (largest remainder).

    Parameters
    ----------
    n : int
        Samples N [1].
    population : numpy.ndarray
        Enrolled premises per region [premises], ≥ 0.
    names : numpy.ndarray
        Region ids (for messages).

    Returns
    -------
    numpy.ndarray of int64
        Samples per region [1], summing to ``n``, ≥ 1 wherever the population is > 0.

    Raises
    ------
    GridcapInputError
        A negative or non-finite population, none positive, or fewer samples than regions
        with a population.
    """
    pop = np.asarray(population, dtype=float)
    bad = ~np.isfinite(pop) | (pop < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GridcapInputError(
            f"population[region={names[i]}] = {float(pop[i]):g}: expected a number of "
            "premises >= 0")
    live = pop > 0
    if not live.any():
        raise GridcapInputError("population: expected at least one region with premises > 0")
    if n < int(live.sum()):
        raise GridcapInputError(
            f"n_der = {n}: expected at least one sample per region with an enrolled "
            f"population ({int(live.sum())} regions)")
    # one sample per live region first, the rest by largest remainder of the proportional share
    base = live.astype(np.int64)
    rest = n - int(base.sum())
    quota = rest * pop / pop.sum()
    extra = np.floor(quota).astype(np.int64)
    left = rest - int(extra.sum())
    order = np.argsort(-(quota - extra), kind="stable")
    extra[order[:left]] += 1
    return base + extra


def synthetic_fleet(
    n_der: int,
    regions: xr.Dataset,
    *,
    seed: int,
    mix: Mapping[str, float] | None = None,
    commitment_share: float | None = None,
    population: Mapping[str, float] | None = None,
) -> xr.Dataset:
    """Generate a seeded synthetic DER fleet spread over regions.

    Parameters
    ----------
    n_der : int
        Number of DERs (premises) [1], ≥ 0 (0 gives an empty fleet).
    regions : xarray.Dataset
        Regions with dim ``region`` and variables ``lat``, ``lon`` [degrees] and
        ``peak_load_mw`` [MW] (e.g. from :func:`gridcap.datasets.loaders.read_regions`).
    seed : int
        Non-negative integer seed; the same seed gives the same fleet.
    mix : dict, optional
        Share of each kind [1] (keys among :data:`DER_KINDS`; normalised to sum to 1).
        Defaults to :data:`DEFAULT_MIX`.
    commitment_share : float, optional
        Share of each premise's physical flexibility committed to its aggregator [1], in
        [0, 1]. Omitted: drawn per premise from Uniform(0.5, 0.9).
    population : dict, optional
        Enrolled premises per region id [premises] (e.g. a year of
        :func:`gridcap.datasets.enrollment.enrolled_premises`). Given: the N samples are
        allocated to regions in proportion to it (largest remainder, at least one per region
        with premises) and each sample of region r carries ``weight = N_r / n_r``
        [premises per sample], so weighted sums are those of the enrolled population.
        Omitted: regions drawn ∝ peak load and every weight is 1 (each sample is one premise).

    Returns
    -------
    xarray.Dataset
        Dim ``der`` (coordinate ``0 … n_der-1``) with every variable of the data model's
        fleet table plus ``weight`` [premises per sample], ``attrs["units"]`` on each;
        dataset attrs ``synthetic = "true"``,
        ``seed``, ``mix`` (JSON), ``distributions`` (JSON of :data:`DISTRIBUTIONS`).

    Notes
    -----
    Kinds are drawn per premise from ``mix``; regions with probability
    :math:`p_r = L_r / \\sum_s L_s` for peak loads :math:`L_r`. Each kind fills only its
    own equipment: ``rooftop_pv`` has PV, ``home_battery`` a battery, ``pv_battery`` both,
    ``ev_charger`` a Level-2 charger, ``flexible_load`` a sheddable thermostat load; every
    premise has a base load. Committed flexibility is

    .. math:: c = u\\,(P_{batt} + 0.5\\,P_{ev} + P_{flex}),\\quad u \\sim U(0.5, 0.9)

    (or :math:`u` = ``commitment_share`` for every premise when given), so it never
    exceeds the physical potential. Sources of each distribution are in
    :data:`DISTRIBUTIONS`.

    Examples
    --------
    >>> import xarray as xr
    >>> regions = xr.Dataset(
    ...     {"lat": ("region", [31.0, 40.0]), "lon": ("region", [-97.0, -77.0]),
    ...      "peak_load_mw": ("region", [85_000.0, 150_000.0])},
    ...     coords={"region": ["ERCOT", "PJM"]})
    >>> fleet = synthetic_fleet(100, regions, seed=1)
    >>> fleet.sizes["der"], fleet.attrs["synthetic"]
    (100, 'true')
    """
    n = _check_scalars(n_der, seed, commitment_share)
    shares = _check_mix(mix)
    names, rlat, rlon, peak = _check_regions(regions)

    kinds_arr = np.array(DER_KINDS)
    p_kind = np.array([shares[k] for k in DER_KINDS])
    kind = kinds_arr[_rng(seed, "kind").choice(len(DER_KINDS), size=n, p=p_kind)]
    ridx, weight = _draw_regions(seed, n, names, peak, population)
    region = names[ridx]
    lat, lon = _draw_locations(seed, rlat[ridx], rlon[ridx])
    data: dict[str, np.ndarray] = {
        "kind": kind.astype(str),
        "region": region.astype(str),
        "pool": np.char.add(np.char.add(region.astype(str), "/"), kind.astype(str)).astype(str),
        "lat": lat,
        "lon": lon,
        "base_load_kw": _lognormal(_rng(seed, "base_load"), 1.15, 0.35, n, 0.3, 5.0),
        "pv_kw": _draw_pv(seed, kind),
        **_draw_battery(seed, kind),
        **_draw_ev(seed, kind),
        **_draw_flex(seed, kind),
    }
    data["committed_kw"] = _committed_kw(seed, data, commitment_share)
    data["weight"] = weight
    return _fleet_dataset(data, seed=seed, shares=shares, weighted=population is not None,
                          commitment_share=commitment_share)


def _check_scalars(n_der: int, seed: int, commitment_share: float | None) -> int:
    """Check the scalar arguments of :func:`synthetic_fleet`; the sample count N [1]."""
    if isinstance(n_der, bool) or not isinstance(n_der, (int, np.integer)) or n_der < 0:
        raise GridcapInputError(f"n_der = {n_der!r}: expected a non-negative integer")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GridcapInputError(f"seed = {seed!r}: expected a non-negative integer")
    if commitment_share is not None:
        share = float(commitment_share)
        if not (np.isfinite(share) and 0.0 <= share <= 1.0):
            raise GridcapInputError(
                f"commitment_share = {commitment_share!r}: expected a fraction in [0, 1]"
            )
    return int(n_der)


def _draw_regions(
    seed: int, n: int, names: np.ndarray, peak: np.ndarray,
    population: Mapping[str, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Region of each sample and the premises it stands for.

    Parameters
    ----------
    seed : int
        Fleet seed (stream ``"region"``).
    n : int
        Samples N [1].
    names : numpy.ndarray
        Region ids (R,).
    peak : numpy.ndarray
        Peak load of each region (R,) [MW]: the draw weights without ``population``.
    population : dict, optional
        Enrolled premises per region id [premises]; see :func:`synthetic_fleet`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Region index of each sample (N,) [1] and its weight (N,) [premises per sample].
    """
    if population is None or n == 0:
        ridx = _rng(seed, "region").choice(names.size, size=n, p=peak / peak.sum())
        return ridx, np.ones(n)
    if not isinstance(population, Mapping):
        raise GridcapInputError(
            f"population = {type(population).__name__}: expected a dict region -> premises")
    unknown = sorted(set(map(str, population)) - set(names.tolist()))
    if unknown:
        raise GridcapInputError(
            f"population has unknown region(s) {unknown}: expected ids among "
            f"{names.tolist()}")
    pop = np.array([float(population.get(r, 0.0)) for r in names])
    n_r = allocate_samples(n, pop, names)
    ridx = _rng(seed, "region").permutation(np.repeat(np.arange(names.size), n_r))
    w_r = np.divide(pop, n_r, out=np.zeros_like(pop), where=n_r > 0)
    return ridx, w_r[ridx]


def _draw_locations(seed: int, lat0: np.ndarray, lon0: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic premise coordinates: the region's point plus a clipped Normal jitter.

    Parameters
    ----------
    seed : int
        Fleet seed (stream ``"location"``).
    lat0, lon0 : numpy.ndarray
        Latitude and longitude of each sample's region (N,) [degrees].

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Latitude [degrees_north] and longitude in [-180, 180) [degrees_east], each (N,).
    """
    jitter = np.clip(1.5 * _rng(seed, "location").standard_normal((2, lat0.size)), -3.0, 3.0)
    lat = np.clip(lat0 + jitter[0], -89.9, 89.9)
    lon = (lon0 + jitter[1] + 180.0) % 360.0 - 180.0
    return lat, lon


def _draw_pv(seed: int, kind: np.ndarray) -> np.ndarray:
    """PV DC nameplate of each premise (N,) [kW]; 0 without PV (stream ``"pv"``)."""
    has_pv = (kind == "rooftop_pv") | (kind == "pv_battery")
    return np.where(has_pv, _lognormal(_rng(seed, "pv"), 7.0, 0.35, kind.size, 2.0, 20.0), 0.0)


def _draw_battery(seed: int, kind: np.ndarray) -> dict[str, np.ndarray]:
    """Home batteries and their state-of-charge window (streams ``"battery"``, ``"soc"``).

    Parameters
    ----------
    seed : int
        Fleet seed.
    kind : numpy.ndarray
        DER kind of each premise (N,).

    Returns
    -------
    dict of str to numpy.ndarray
        ``battery_kwh`` [kWh] and ``battery_kw`` [kW] (0 without a battery),
        ``battery_efficiency`` [1] (defined for every row, unused without a battery),
        ``soc_min`` and ``soc_max`` [1], each (N,).
    """
    n = kind.size
    has_batt = (kind == "home_battery") | (kind == "pv_battery")
    rng = _rng(seed, "battery")
    model = rng.choice(len(_BATTERY_P), size=n, p=_BATTERY_P)
    units = np.where(rng.random(n) < 0.2, 2.0, 1.0)
    rng = _rng(seed, "soc")
    soc_min = rng.uniform(0.10, 0.30, n)
    soc_max = rng.uniform(0.95, 1.00, n)
    return {
        "battery_kwh": np.where(has_batt, _BATTERY_MODELS[model, 0] * units, 0.0),
        "battery_kw": np.where(has_batt, _BATTERY_MODELS[model, 1] * units, 0.0),
        "battery_efficiency": _BATTERY_MODELS[model, 2],
        "soc_min": soc_min,
        "soc_max": soc_max,
    }


def _draw_ev(seed: int, kind: np.ndarray) -> dict[str, np.ndarray]:
    """Level-2 EV chargers, daily energy and plug-in window (stream ``"ev"``).

    For premises of kind (N,) drawn with the fleet ``seed``: ``ev_kw`` [kW] and
    ``ev_kwh_per_day`` [kWh] (0 without a charger), ``ev_arrival_hour`` and
    ``ev_departure_hour`` [h local] (int64, every row), each (N,).
    """
    n = kind.size
    has_ev = kind == "ev_charger"
    rng = _rng(seed, "ev")
    ev_kw_draw = _EV_KW[rng.choice(_EV_KW.size, size=n, p=_EV_P)]
    ev_kwh_draw = _lognormal(rng, 10.0, 0.45, n, 2.0, 40.0)
    arrival = np.rint(18.0 + 1.5 * rng.standard_normal(n)).astype(np.int64) % 24
    departure = np.rint(7.0 + 1.0 * rng.standard_normal(n)).astype(np.int64) % 24
    return {
        "ev_kw": np.where(has_ev, ev_kw_draw, 0.0),
        "ev_kwh_per_day": np.where(has_ev, ev_kwh_draw, 0.0),
        "ev_arrival_hour": arrival,
        "ev_departure_hour": departure,
    }


def _draw_flex(seed: int, kind: np.ndarray) -> dict[str, np.ndarray]:
    """Sheddable thermostat load and its rebound (stream ``"flex"``).

    Returns ``flex_kw`` (N,) [kW] (0 except for ``flexible_load`` premises) and
    ``flex_rebound`` (N,) [1], the share of shed energy recovered after an event.
    """
    rng = _rng(seed, "flex")
    flex_draw = rng.uniform(0.8, 2.5, kind.size)
    flex_rebound = rng.uniform(0.3, 0.8, kind.size)
    return {"flex_kw": np.where(kind == "flexible_load", flex_draw, 0.0),
            "flex_rebound": flex_rebound}


def _committed_kw(seed: int, data: Mapping[str, np.ndarray],
                  commitment_share: float | None) -> np.ndarray:
    """Flexibility committed to the aggregator (N,) [kW]: u (P_batt + 0.5 P_ev + P_flex).

    ``u`` ~ Uniform(0.5, 0.9) per premise (stream ``"commit"``, always drawn so the other
    streams never shift), or ``commitment_share`` [1] for every premise when given.
    """
    n = data["kind"].size
    u = _rng(seed, "commit").uniform(0.5, 0.9, n)
    if commitment_share is not None:
        u = np.full(n, float(commitment_share))
    return u * (data["battery_kw"] + 0.5 * data["ev_kw"] + data["flex_kw"])


def _fleet_dataset(data: Mapping[str, np.ndarray], *, seed: int, shares: Mapping[str, float],
                   weighted: bool, commitment_share: float | None) -> xr.Dataset:
    """Wrap the fleet's columns as a Dataset on dim ``der`` with units and provenance attrs.

    Parameters
    ----------
    data : dict of str to numpy.ndarray
        Every fleet column (N,), in output order, in the units of ``_UNITS``.
    seed : int
        Fleet seed.
    shares : dict
        Normalised kind mix [1].
    weighted : bool
        Whether samples carry enrolled-population weights.
    commitment_share : float, optional
        Fixed committed share [1], or None when drawn per premise.

    Returns
    -------
    xarray.Dataset
        The fleet (see :func:`synthetic_fleet`).
    """
    n = data["kind"].size
    ds = xr.Dataset(
        {
            k: ("der", v, {"units": _UNITS[k], "long_name": _LONG_NAMES[k]})
            for k, v in data.items()
        },
        coords={"der": np.arange(n, dtype=np.int64)},
    )
    ds.attrs.update(
        synthetic="true",
        seed=int(seed),
        generator="gridcap.datasets.fleet.synthetic_fleet",
        rng="numpy.random.Generator(PCG64([seed, stream]))",
        mix=json.dumps(shares, sort_keys=True),
        weights=("N_r / n_r premises per sample (enrolled population of the region)"
                 if weighted else "1 premise per sample"),
        commitment_share="Uniform(0.5, 0.9)" if commitment_share is None
        else str(float(commitment_share)),
        distributions=json.dumps(DISTRIBUTIONS, sort_keys=True),
        description=(
            "Synthetic DER fleet: sizes drawn from public-source distributions; no real "
            "customer or premise is represented."
        ),
    )
    return ds
