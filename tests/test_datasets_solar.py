"""pvlib-based solar profiles: layout of the year, clear-sky closure, PV output checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
import pytest
from numpy.testing import assert_allclose

from gridcap.datasets import solar
from gridcap.errors import GridcapInputError

AUSTIN = (30.27, -97.74, "America/Chicago")


@pytest.fixture(scope="module")
def austin_pv() -> np.ndarray:
    lat, lon, tz = AUSTIN
    return solar.pv_output_kw_per_kw(lat, lon, tz, 2025)


@pytest.mark.parametrize("year", [2024, 2025])
def test_hourly_index_has_8760_standard_time_hours(year):
    idx = solar.hourly_index("America/Chicago", year)
    assert len(idx) == 8760
    assert not ((idx.month == 2) & (idx.day == 29)).any()
    # fixed standard offset: no DST jump, every step one hour except across a dropped day
    steps = np.diff(idx.tz_convert("UTC").as_unit("ns").asi8) / 3.6e12
    assert set(np.unique(steps)) <= ({1.0, 25.0} if year == 2024 else {1.0})
    assert idx[0].utcoffset() == pd.Timedelta(hours=-6)
    assert idx[4000].utcoffset() == pd.Timedelta(hours=-6)  # June: still standard time
    assert (idx.hour == np.arange(8760) % 24).all()


def test_standard_offset_in_both_hemispheres():
    assert solar.standard_utc_offset_hours("America/New_York", 2025) == -5.0
    assert solar.standard_utc_offset_hours("Australia/Sydney", 2025) == 10.0
    with pytest.raises(GridcapInputError, match="tz"):
        solar.standard_utc_offset_hours("Mars/Olympus", 2025)


def test_clearsky_shape_closure_and_day_night():
    lat, lon, tz = AUSTIN
    cs = solar.clearsky_irradiance(lat, lon, tz, 2025)
    assert cs.shape == (8760, 3)
    assert list(cs.columns) == ["ghi", "dni", "dhi"]
    assert np.isfinite(cs.to_numpy()).all() and (cs.to_numpy() >= 0).all()
    # closure GHI = DNI cos(zenith) + DHI, with the zenith computed independently at mid-hour
    mid = cs.index + pd.Timedelta(minutes=30)
    zen = pvlib.solarposition.get_solarposition(mid, lat, lon)["apparent_zenith"].to_numpy()
    day = zen < 85
    recon = cs["dni"].to_numpy() * np.cos(np.radians(zen)) + cs["dhi"].to_numpy()
    assert_allclose(recon[day], cs["ghi"].to_numpy()[day], rtol=0.02, atol=2.0)
    hour = cs.index.hour
    assert (cs["ghi"].to_numpy()[hour == 0] == 0).all()
    assert (cs["ghi"].to_numpy()[hour == 12] > 100).all()
    # clear-sky annual GHI in central Texas: ~2,100-2,500 kWh/m^2
    assert 2000 < cs["ghi"].sum() / 1000 < 2600


def test_pv_output_texas_plausible(austin_pv):
    p = austin_pv
    assert p.shape == (8760,)
    assert np.isfinite(p).all() and (p >= 0).all()
    hours = np.arange(8760) % 24
    assert (p[hours == 0] == 0).all()
    assert (p[hours == 12] > 0.2).all()  # clear-sky solar noon, every day of the year
    assert p.max() <= 1 / 1.2 + 1e-9  # inverter clipping at AC nameplate (DC/AC 1.2)
    annual = p.sum()  # [kWh/kWp]
    assert 1300 < annual < 2200


def test_pv_output_matches_pvlib_modelchain(austin_pv):
    """Independent composition of the same chain through pvlib's ModelChain."""
    lat, lon, tz = AUSTIN
    losses = pvlib.pvsystem.pvwatts_losses() / 100.0  # ModelChain's 'pvwatts' losses
    ours = solar.pv_output_kw_per_kw(lat, lon, tz, 2025, system_losses=losses)
    idx = solar.hourly_index(tz, 2025) + pd.Timedelta(minutes=30)
    loc = pvlib.location.Location(lat, lon, tz=-6)
    cs = loc.get_clearsky(idx)
    weather = cs.assign(temp_air=20.0, wind_speed=1.0)
    system = pvlib.pvsystem.PVSystem(
        surface_tilt=abs(lat),
        surface_azimuth=180.0,
        albedo=0.25,
        module_parameters={"pdc0": 1.0, "gamma_pdc": -0.0037},
        inverter_parameters={"pdc0": (1 / 1.2) / 0.96, "eta_inv_nom": 0.96},
        temperature_model_parameters=pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][
            "open_rack_glass_polymer"
        ],
    )
    mc = pvlib.modelchain.ModelChain(
        system, loc, aoi_model="physical", spectral_model="no_loss",
        transposition_model="haydavies", losses_model="pvwatts",
    )
    mc.run_model(weather)
    ref = np.clip(np.nan_to_num(mc.results.ac.to_numpy(float)), 0, None)
    assert_allclose(ours.sum(), ref.sum(), rtol=1e-4)
    assert_allclose(ours, ref, atol=1e-4)
    # and the default (14 %) losses scale the output as expected below clipping
    unclipped = (austin_pv > 0.05) & (austin_pv < 0.6)
    ratio = austin_pv[unclipped] / ours[unclipped]
    assert_allclose(np.median(ratio), (1 - 0.14) / (1 - losses), rtol=0.02)


def test_latitude_tilt_beats_flat_and_steep():
    lat, lon, tz = AUSTIN
    e = {t: solar.pv_output_kw_per_kw(lat, lon, tz, 2025, tilt=t).sum() for t in (0, 30, 80)}
    assert e[30] > e[0] and e[30] > e[80]


def test_read_tmy_greensboro_and_weather_pv():
    w = solar.read_tmy("greensboro_nc")
    assert solar.read_tmy("723170TYA.CSV").equals(w)  # file name works as an alias
    assert w.shape == (8760, 5)
    assert np.isfinite(w.to_numpy()).all()
    a = w.attrs
    assert a["latitude"] == pytest.approx(36.1) and a["utc_offset_hours"] == -5.0
    # hour-beginning relabel: row i holds pvlib's TMY3 row i (labelled at hour end i+1)
    raw, _ = pvlib.iotools.read_tmy3(
        f"{pvlib.__path__[0]}/data/723170TYA.CSV", coerce_year=2025
    )
    assert_allclose(w["ghi"].to_numpy(), raw["ghi"].to_numpy(float))
    assert (raw.index - w.index == pd.Timedelta(hours=1)).all()
    pv_tmy = solar.pv_output_kw_per_kw(
        a["latitude"], a["longitude"], a["tz"], 2025, weather=w, altitude=a["altitude"]
    )
    pv_clear = solar.pv_output_kw_per_kw(
        a["latitude"], a["longitude"], a["tz"], 2025, altitude=a["altitude"]
    )
    # measured weather: PVWatts gives ~1,350-1,450 kWh/kWp for Greensboro, below clear sky
    assert 1150 < pv_tmy.sum() < 1600
    assert pv_tmy.sum() < 0.85 * pv_clear.sum()


def test_read_tmy2_units_converted():
    w = solar.read_tmy("miami_fl")
    assert 15 < w["temp_air"].mean() < 30  # tenths of degC converted
    assert 1 < w["wind_speed"].mean() < 8  # tenths of m/s converted


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lat": 95.0}, "lat"),
        ({"lon": -200.0}, "lon"),
        ({"tz": "Nowhere/Else"}, "tz"),
        ({"year": 2.5}, "year"),
        ({"tilt": 100.0}, "tilt"),
        ({"azimuth": 360.0}, "azimuth"),
        ({"system_losses": 1.0}, "system_losses"),
        ({"transposition": "magic"}, "transposition"),
        ({"temperature_model": "hot"}, "temperature_model"),
        ({"weather": pd.DataFrame({"ghi": [0.0]})}, "missing column"),
        (
            {"weather": pd.DataFrame(
                {c: np.zeros(10) for c in ("ghi", "dni", "dhi", "temp_air", "wind_speed")}
            )},
            "8760",
        ),
    ],
)
def test_pv_output_bad_inputs(kwargs, match):
    args = {"lat": 30.0, "lon": -97.0, "tz": "America/Chicago", "year": 2025, **kwargs}
    with pytest.raises(GridcapInputError, match=match):
        solar.pv_output_kw_per_kw(
            args.pop("lat"), args.pop("lon"), args.pop("tz"), args.pop("year"), **args
        )


def test_read_tmy_unknown_name():
    with pytest.raises(GridcapInputError, match="greensboro_nc"):
        solar.read_tmy("atlantis")
