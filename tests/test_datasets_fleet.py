"""Synthetic DER fleet: schema conformance, determinism, distributions, error messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from gridcap.datasets.fleet import DEFAULT_MIX, DER_KINDS, synthetic_fleet
from gridcap.datasets.loaders import read_regions
from gridcap.errors import GridcapInputError
from gridcap.schema import FLEET_SCHEMA, validate_fleet


@pytest.fixture(scope="module")
def regions() -> xr.Dataset:
    return xr.Dataset(
        {
            "lat": ("region", [31.0, 40.0, 42.5]),
            "lon": ("region", [-97.5, -77.5, -75.5]),
            "peak_load_mw": ("region", [85_000.0, 150_000.0, 30_000.0]),
        },
        coords={"region": ["ERCOT", "PJM", "NYISO"]},
    )


@pytest.fixture(scope="module")
def big(regions) -> xr.Dataset:
    return synthetic_fleet(20_000, regions, seed=7)


def test_conforms_to_data_model(big, regions):
    validate_fleet(big, regions=list(regions.region.values))
    for var in FLEET_SCHEMA:
        assert var.name in big, var.name
        assert big[var.name].dims == ("der",)
        assert big[var.name].attrs["units"] == var.units
    assert big.sizes["der"] == 20_000
    assert big.attrs["synthetic"] == "true"
    for name in big.data_vars:
        values = big[name].values
        if values.dtype.kind == "f":
            assert np.isfinite(values).all(), name


def test_with_shipped_regions_validates():
    regions, _ = read_regions(years=[2026])
    fleet = synthetic_fleet(300, regions, seed=1, commitment_share=0.8)
    validate_fleet(fleet, regions=list(regions.region.values))


def test_same_seed_same_fleet_different_seed_differs(regions):
    a = synthetic_fleet(500, regions, seed=42)
    b = synthetic_fleet(500, regions, seed=42)
    xr.testing.assert_identical(a, b)
    c = synthetic_fleet(500, regions, seed=43)
    assert not np.array_equal(a.base_load_kw.values, c.base_load_kw.values)
    assert not np.array_equal(a.kind.values, c.kind.values)


def test_streams_are_independent(regions):
    """Changing the kind mix must not shift draws of unrelated variables."""
    a = synthetic_fleet(500, regions, seed=5)
    b = synthetic_fleet(500, regions, seed=5, mix={"ev_charger": 1.0})
    np.testing.assert_array_equal(a.base_load_kw.values, b.base_load_kw.values)
    np.testing.assert_array_equal(a.region.values, b.region.values)
    np.testing.assert_array_equal(a.lat.values, b.lat.values)
    assert (b.kind.values == "ev_charger").all()


def test_equipment_matches_kind(big):
    kind = big.kind.values
    has_pv = np.isin(kind, ["rooftop_pv", "pv_battery"])
    has_batt = np.isin(kind, ["home_battery", "pv_battery"])
    np.testing.assert_array_equal(big.pv_kw.values > 0, has_pv)
    np.testing.assert_array_equal(big.battery_kwh.values > 0, has_batt)
    np.testing.assert_array_equal(big.battery_kw.values > 0, has_batt)
    np.testing.assert_array_equal(big.ev_kw.values > 0, kind == "ev_charger")
    np.testing.assert_array_equal(big.ev_kwh_per_day.values > 0, kind == "ev_charger")
    np.testing.assert_array_equal(big.flex_kw.values > 0, kind == "flexible_load")
    pool = np.char.add(np.char.add(big.region.values.astype(str), "/"), kind.astype(str))
    np.testing.assert_array_equal(big.pool.values, pool)


def _within_3_sigma(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 3 * np.sqrt(n * p * (1 - p)) + 1


def test_region_weights_follow_peak_load(big, regions):
    n = big.sizes["der"]
    peak = regions.peak_load_mw.values
    for r, p in zip(regions.region.values, peak / peak.sum(), strict=True):
        assert _within_3_sigma(int((big.region.values == r).sum()), n, p), r


def test_kind_mix_follows_default_mix(big):
    n = big.sizes["der"]
    for k in DER_KINDS:
        assert _within_3_sigma(int((big.kind.values == k).sum()), n, DEFAULT_MIX[k]), k
    assert json.loads(big.attrs["mix"]) == pytest.approx(DEFAULT_MIX)


def test_size_distributions_match_stated_sources(big):
    pv = big.pv_kw.values[big.pv_kw.values > 0]
    assert np.median(pv) == pytest.approx(7.0, rel=0.03)  # LBNL Tracking the Sun median
    assert pv.min() >= 2.0 and pv.max() <= 20.0
    kwh = big.battery_kwh.values[big.battery_kwh.values > 0]
    assert set(np.round(np.unique(kwh), 2)) <= {13.5, 27.0, 10.08, 20.16}
    ev = big.ev_kw.values[big.ev_kw.values > 0]
    assert set(np.unique(ev)) <= {7.2, 9.6, 11.5}
    assert np.median(big.base_load_kw.values) == pytest.approx(1.15, rel=0.03)
    assert (big.soc_min.values < big.soc_max.values).all()
    assert (big.ev_arrival_hour.values >= 0).all() and (big.ev_arrival_hour.values <= 23).all()
    arrive = big.ev_arrival_hour.values
    assert 17 <= np.median(arrive) <= 19
    dist = json.loads(big.attrs["distributions"])
    assert "Tracking the Sun" in dist["pv_kw"] and "Powerwall" in dist["battery"]


def test_committed_never_exceeds_potential(big, regions):
    potential = big.battery_kw + 0.5 * big.ev_kw + big.flex_kw
    assert (big.committed_kw <= potential + 1e-12).all()
    assert (big.committed_kw >= 0.5 * potential - 1e-12).all()
    fixed = synthetic_fleet(1000, regions, seed=7, commitment_share=0.8)
    pot = fixed.battery_kw + 0.5 * fixed.ev_kw + fixed.flex_kw
    np.testing.assert_allclose(fixed.committed_kw.values, 0.8 * pot.values)


def test_locations_near_region_centres(big, regions):
    centre = regions.sel(region=big.region.values)
    assert (np.abs(big.lat.values - centre.lat.values) <= 3.0 + 1e-9).all()
    assert (np.abs(big.lon.values - centre.lon.values) <= 3.0 + 1e-9).all()


def test_empty_fleet_is_valid(regions):
    fleet = synthetic_fleet(0, regions, seed=1)
    assert fleet.sizes["der"] == 0
    validate_fleet(fleet)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_der": -1}, "n_der"),
        ({"n_der": 2.5}, "n_der"),
        ({"seed": -3}, "seed"),
        ({"mix": {"solar_roof": 1.0}}, "unknown kind"),
        ({"mix": {"rooftop_pv": 0.0}}, "positive share"),
        ({"mix": {"rooftop_pv": -1.0}}, "share >= 0"),
        ({"commitment_share": 1.5}, "commitment_share"),
    ],
)
def test_bad_inputs_are_named(regions, kwargs, match):
    args = {"n_der": 10, "seed": 1, **kwargs}
    with pytest.raises(GridcapInputError, match=match):
        synthetic_fleet(args.pop("n_der"), regions, **args)


def test_bad_regions_are_named(regions):
    with pytest.raises(GridcapInputError, match="peak_load_mw"):
        synthetic_fleet(10, regions.drop_vars("peak_load_mw"), seed=1)
    bad = regions.assign(peak_load_mw=("region", [1.0, 0.0, 1.0]))
    with pytest.raises(GridcapInputError, match=r"peak_load_mw\[region=PJM\]"):
        synthetic_fleet(10, bad, seed=1)


_HASH_SCRIPT = """
import hashlib, xarray as xr
from gridcap.datasets.fleet import synthetic_fleet
r = xr.Dataset({"lat": ("region", [31.0, 40.0]), "lon": ("region", [-97.5, -77.5]),
                "peak_load_mw": ("region", [85000.0, 150000.0])},
               coords={"region": ["ERCOT", "PJM"]})
f = synthetic_fleet(2000, r, seed=11)
h = hashlib.sha256()
for name in sorted(f.data_vars):
    h.update(name.encode()); h.update(f[name].values.tobytes())
print(h.hexdigest())
"""


def test_same_fleet_in_a_fresh_process_with_another_hash_seed():
    import contextlib
    import io
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", _HASH_SCRIPT], env=env, check=True, capture_output=True,
        text=True, timeout=120,
    )
    here = io.StringIO()
    with contextlib.redirect_stdout(here):
        exec(_HASH_SCRIPT, {})
    assert out.stdout.strip() == here.getvalue().strip()
    assert len(here.getvalue().strip()) == 64
