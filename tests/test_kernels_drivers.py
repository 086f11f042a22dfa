"""Scenario drivers match their specification; clear-sky PV agrees with pvlib; events/slices."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gridcap.kernels.drivers import FACTORS, PRICE, annual_drivers, clear_sky_pv, hourly_drivers
from gridcap.kernels.events import (
    EVENTS,
    MAX_EVENTS,
    SLICE_NAMES,
    find_events,
    order_statistic,
    slice_of_hour,
)

LAT = np.array([31.0, 38.9, 36.8])
LON = np.array([-97.5, -77.4, -119.4])
TZ = ["America/Chicago", "America/New_York", "America/Los_Angeles"]
S, T = 6, 8760


@pytest.fixture(scope="module")
def drv():
    cs = clear_sky_pv(LAT, LON, TZ, 2026, T)
    return hourly_drivers(np, seed=9, scenarios=np.arange(100, 100 + S), lat=LAT,
                          price_mean=np.array([30.0, 35.0, 50.0]), cs=cs, hours=T)


def _ar1_se(phi: float, n: int) -> dict[str, float]:
    """Large-sample standard errors of mean, variance and lag-1 autocorrelation of an AR(1)."""
    return {
        "mean": math.sqrt((1 + phi) / (1 - phi) / n),
        "var": math.sqrt(2 * (1 + phi**2) / (1 - phi**2) / n),
        "acf": math.sqrt((1 - phi**2) / n),
    }


@pytest.mark.parametrize(("name", "factor"), [("x_cloud", "cloud"), ("x_temp", "temperature"),
                                              ("x_price", "price"), ("x_wind", "wind")])
def test_latent_factors_mean_variance_autocorrelation(drv, name, factor):
    x = drv[name]  # (S, R, T)
    phi = FACTORS[factor]["phi"]
    se = _ar1_se(phi, S * T)
    for r in range(x.shape[1]):
        v = x[:, r, :]
        assert abs(v.mean()) < 5 * se["mean"]
        assert abs(v.var() - 1.0) < 5 * se["var"]
        acf = np.mean(v[:, 1:] * v[:, :-1]) / np.mean(v * v)
        assert abs(acf - phi) < 5 * se["acf"] + 0.002


@pytest.mark.parametrize(("name", "factor"), [("x_cloud", "cloud"), ("x_temp", "temperature"),
                                              ("x_wind", "wind")])
def test_cross_region_correlation(drv, name, factor):
    x = drv[name]
    phi, rho = FACTORS[factor]["phi"], FACTORS[factor]["rho"]
    # sample correlation of two AR(1) series with common phi: var ≈ (1+phi²)/(1-phi²)(1-rho²)²/n
    se = math.sqrt((1 + phi**2) / (1 - phi**2) * (1 - rho**2) ** 2 / (S * T))
    for a, b in ((0, 1), (0, 2), (1, 2)):
        c = np.corrcoef(x[:, a, :].ravel(), x[:, b, :].ravel())[0, 1]
        assert abs(c - rho) < 5 * se


def test_price_factor_is_correlated_with_temperature(drv):
    """corr(x_p, x_T) = a sqrt((1-φp²)(1-φT²)) / (1-φpφT) for innovations correlated by a."""
    a = PRICE["temp_corr"]
    fp, ft = FACTORS["price"]["phi"], FACTORS["temperature"]["phi"]
    expected = a * math.sqrt((1 - fp**2) * (1 - ft**2)) / (1 - fp * ft)
    c = np.corrcoef(drv["x_price"].ravel(), drv["x_temp"].ravel())[0, 1]
    assert abs(c - expected) < 0.05


def test_physical_drivers_ranges_and_shapes(drv):
    assert np.all((drv["kreg"] >= 0.05) & (drv["kreg"] <= 1.0))
    assert np.all((drv["wind_cf"] >= 0) & (drv["wind_cf"] <= 0.95))
    assert np.all(drv["price"] > 0)
    # mean price near the regional mean (lognormal factor has mean 1; spikes add a little)
    mean_p = drv["price"].mean(axis=(0, 2))
    assert np.all((mean_p > np.array([30.0, 35.0, 50.0])) & (mean_p < 1.3 * np.array(
        [30.0, 35.0, 50.0])))
    # regional load peaks near 1 per unit of peak load, summer afternoons hotter than winter
    lp = drv["load_pu"]
    assert 0.85 < lp.max(axis=2).mean() < 1.25
    temp = drv["temp"]
    jan, jul = temp[:, :, :744].mean(), temp[:, :, 4344:5088].mean()
    assert jul - jan > 10
    # household load shape has mean ~1 and an evening peak
    h = drv["house"].reshape(S, 3, 365, 24).mean(axis=(0, 1, 2))
    assert 0.9 < h.mean() < 1.2 and int(np.argmax(h)) in (18, 19, 20)
    # solar is zero at night
    night = drv["solar_cf"].reshape(S, 3, 365, 24)[..., 0:4]
    assert np.all(night == 0)


def test_price_spikes_follow_load(drv):
    lp, p = drv["load_pu"], drv["price"]
    hi = lp > PRICE["spike_load"] + 0.05
    assert hi.any()
    assert p[hi].mean() > 1.5 * p[~hi].mean()


def test_clear_sky_pv_agrees_with_pvlib():
    """Our regional clear-sky PV per kW (via gridcap.datasets.solar) vs a direct pvlib run."""
    import pvlib

    lat, lon, tz = 31.0, -97.5, "America/Chicago"
    cs = clear_sky_pv([lat], [lon], [tz], 2026, T)[0]
    idx = pd.date_range("2026-01-01 00:30", periods=T, freq="h", tz="Etc/GMT+6")
    loc = pvlib.location.Location(lat, lon, tz="Etc/GMT+6")
    sp = loc.get_solarposition(idx)
    sky = loc.get_clearsky(idx, model="ineichen", solar_position=sp)
    poa = pvlib.irradiance.get_total_irradiance(
        lat, 180.0, sp["apparent_zenith"], sp["azimuth"], sky["dni"], sky["ghi"], sky["dhi"],
        dni_extra=pvlib.irradiance.get_extra_radiation(idx), model="haydavies", albedo=0.25)
    # PVWatts v5 chain: Fresnel IAM on the beam, SAPM cell temperature at 20 °C / 1 m/s,
    # 14 % losses, inverter 0.96 nominal with AC nameplate 1/1.2 per kW DC
    aoi = pvlib.irradiance.aoi(lat, 180.0, sp["apparent_zenith"], sp["azimuth"])
    eff = (poa["poa_direct"].fillna(0) * pvlib.iam.physical(aoi).fillna(0)
           + poa["poa_sky_diffuse"].fillna(0) + poa["poa_ground_diffuse"].fillna(0))
    par = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]
    tc = pvlib.temperature.sapm_cell(poa["poa_global"].fillna(0), 20.0, 1.0, **par)
    p_dc = pvlib.pvsystem.pvwatts_dc(eff, tc, pdc0=1.0, gamma_pdc=-0.0037).to_numpy() * 0.86
    p_ac = pvlib.inverter.pvwatts(p_dc, pdc0=(1 / 1.2) / 0.96, eta_inv_nom=0.96)
    p_ac = np.clip(np.nan_to_num(p_ac), 0.0, None)
    assert cs.shape == (T,)
    assert np.all(cs >= 0) and np.all(cs <= 1 / 1.2 + 1e-9)
    assert np.all(cs[sky["ghi"].to_numpy() <= 0] == 0)
    # annual energy within 3 %, hour-by-hour shape nearly identical
    assert abs(cs.sum() / p_ac.sum() - 1.0) < 0.03
    assert np.corrcoef(cs, p_ac)[0, 1] > 0.995
    # clear-sky annual yield of fixed-tilt PV in central Texas: ~1,900-2,300 kWh/kW
    assert 1700 < cs.sum() < 2500


def test_annual_drivers():
    years = np.arange(2026, 2031)
    a = annual_drivers(np, seed=3, scenarios=np.arange(4000), years=years)
    assert np.all(a["price_level"][:, 0] == 1.0)
    assert np.all((a["ai_utilization"] >= 0.3) & (a["ai_utilization"] <= 0.98))
    g = a["gpu_price"]
    # median $/GPU-h declines by the documented 15 %/yr (lognormal noise has mean 1)
    ratio = g.mean(axis=0)[1:] / g.mean(axis=0)[:-1]
    assert np.all(np.abs(ratio - 0.85) < 0.03)
    assert abs(a["price_level"][:, 1].mean() - math.exp(0.02)) < 0.01
    # halving in 2028 cuts the hashprice level
    hp = np.log(a["hashprice_level"]).mean(axis=0)
    assert hp[2] - hp[1] < math.log(0.6) + 0.0
    b = annual_drivers(np, seed=3, scenarios=np.arange(10, 20), years=years)
    for k in a:
        assert np.array_equal(a[k][10:20], b[k])  # keyed by global scenario index


def test_events_rules():
    g = np.random.default_rng(0)
    f = g.normal(size=(3, 2, 24 * 60))
    p = g.normal(size=(3, 2, 24 * 60))
    ev = find_events(np, f, p)
    thr = order_statistic(np, f, EVENTS["net_load_quantile"])
    for s in range(3):
        for r in range(2):
            hours = np.nonzero(ev["in_event"][s, r])[0]
            assert hours.size > 0
            days = hours // 24
            n_ev = int((ev["event_len"][s, r] > 0).sum())
            assert n_ev == np.unique(days).size <= MAX_EVENTS  # at most one event per day
            for e in range(n_ev):
                h0, ln = ev["event_hour"][s, r, e], ev["event_len"][s, r, e]
                assert 1 <= ln <= EVENTS["max_hours"]
                assert f[s, r, h0] >= thr[s, r] or p[s, r, h0] >= order_statistic(
                    np, p, EVENTS["price_quantile"])[s, r]
                assert np.all(ev["event_id"][s, r, h0:h0 + ln] == e)
                pre = ev["pre_event"][s, r, max(h0 - 24 * 0 - EVENTS["notice_hours"], 24 * (
                    h0 // 24)):h0]
                assert pre.all()


def test_slices():
    s = slice_of_hour(8760)
    assert len(SLICE_NAMES) == 12
    counts = np.bincount(s, minlength=12)
    assert counts.sum() == 8760 and np.all(counts > 0)
    assert SLICE_NAMES[s[0]] == "winter-night" and SLICE_NAMES[s[24 * 200 + 18]] == "summer-evening"


def test_median_simulated_annual_peak_matches_peak_load():
    """Calibration: the median over scenarios of the first year's simulated peak is the
    region's ``peak_load_mw`` (within 5%); the P95 peak sits above it."""
    from gridcap.kernels import simulate
    from gridcap.kernels.testing import tiny_inputs

    inputs = tiny_inputs(10, seed=3, n_regions=2)
    out = simulate(inputs, scenarios=24, seed=11, backend="numpy")
    peak = out["peak_net_load_mw"].isel(year=0).max("slice")
    ratio = peak.median("scenario") / inputs.regions["peak_load_mw"]
    np.testing.assert_allclose(ratio.values, 1.0, atol=0.05)
    assert (peak.quantile(0.95, "scenario") > inputs.regions["peak_load_mw"]).all()


def test_driver_normals_compiled_path_equals_numpy_bit_for_bit():
    """The drivers' normals come from a parallel Numba loop on CPU; same bits as NumPy's."""
    from gridcap.kernels import drivers
    from gridcap.kernels.rng import STREAMS, philox_array
    from gridcap.kernels.targets import get_ops

    ops = get_ops("numpy")
    scen = np.arange(5, 9, dtype=np.uint64)
    reg = np.arange(3, dtype=np.uint64)
    t = np.arange(100, 400, dtype=np.uint64)
    got = drivers._normals(np, t, reg[None, :], scen[:, None], "regional", 77)
    w = philox_array(np, t, reg[None, :, None], scen[:, None, None], STREAMS["regional"], 77)
    want = ops.box_muller(w[0], w[1]) + ops.box_muller(w[2], w[3])
    assert len(got) == 4
    for g, x in zip(got, want, strict=True):
        assert g.shape == (4, 3, 300)
        assert np.array_equal(g, x)


def test_clear_sky_disk_cache_gives_pvlibs_bits(tmp_path, monkeypatch):
    """A cached clear-sky profile equals a fresh pvlib computation bit for bit; a damaged
    cache file is recomputed; GRIDCAP_CACHE=0 turns the cache off."""
    from gridcap.datasets.solar import pv_output_kw_per_kw
    from gridcap.kernels import drivers

    monkeypatch.setenv("GRIDCAP_CACHE_DIR", str(tmp_path))
    args = (40.1, -75.2, "America/New_York", 2027)
    drivers._pv_profile.cache_clear()
    first = drivers._pv_profile(*args)
    files = list((tmp_path / "clear_sky").glob("*.npy"))
    assert len(files) == 1
    fresh = pv_output_kw_per_kw(*args)
    drivers._pv_profile.cache_clear()
    again = drivers._pv_profile(*args)  # read back from disk
    assert np.array_equal(first, fresh) and np.array_equal(again, fresh)
    assert again.dtype == np.float64 and not again.flags.writeable
    # a truncated file is not used: recomputed and rewritten
    files[0].write_bytes(files[0].read_bytes()[:100])
    drivers._pv_profile.cache_clear()
    assert np.array_equal(drivers._pv_profile(*args), fresh)
    assert np.array_equal(np.load(files[0]), fresh)
    # another year is another entry; with the cache off nothing is written
    monkeypatch.setenv("GRIDCAP_CACHE", "0")
    drivers._pv_profile.cache_clear()
    drivers._pv_profile(40.1, -75.2, "America/New_York", 2028)
    assert len(list((tmp_path / "clear_sky").glob("*.npy"))) == 1
    drivers._pv_profile.cache_clear()
