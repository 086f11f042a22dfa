"""The user's own hourly series (``[datasets] load / solar / wind``, README "Your own data").

Checked against the kernel itself: the simulated series of scenario 0, written out as a user
file (UTC timestamps) or passed from pandas (hour of year), must give the same Monte Carlo
outcomes as the synthetic run; more load must raise cost and scarcity in the plan; bad files
are refused naming the file, column, row, value and what was expected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fault_support import numeric_names, write_study

from gridcap.cli import EXIT_BAD_INPUT, main
from gridcap.config import load_config
from gridcap.datasets.series import HOURS_PER_YEAR, read_hourly_series
from gridcap.errors import GridcapInputError
from gridcap.kernels import simulate
from gridcap.kernels.drivers import clear_sky_pv, hourly_drivers
from gridcap.optimizer import plan
from gridcap.pipeline import build_inputs, with_hourly_series

# one scenario: a user series replaces the synthetic one in every scenario, so only
# scenario 0 can equal its own series
SMALL = {"monte_carlo.scenarios": 1, "optimizer.scenarios_in_model": 1, "monte_carlo.hours": 672}


@pytest.fixture(scope="module")
def base(tiny_study):
    cfg = load_config(tiny_study, SMALL)
    inputs = build_inputs(cfg)
    return cfg, inputs, simulate(inputs, cfg.simulate_options())


@pytest.fixture(scope="module")
def scenario0(base):
    """The synthetic year of scenario 0 [MW] and [1], (8760, R) frames indexed by hour: the
    full chronological year, with the simulated representative weeks (whose AR(1) factors
    restart at each week) written over their hours, so the study's run sees its own series."""
    from gridcap.kernels.periods import time_axis

    cfg, inputs, _ = base
    reg = inputs.regions
    cs = clear_sky_pv(reg.lat.values, reg.lon.values, [str(z) for z in reg.timezone.values],
                      int(inputs.years[0]), HOURS_PER_YEAR)
    axis = time_axis(cfg.monte_carlo.hours, cfg.monte_carlo.representative)
    kw = {"seed": cfg.study.seed, "scenarios": np.zeros(1, np.uint64), "lat": reg.lat.values,
          "price_mean": reg.price_mean_usd_per_mwh.values}
    full = hourly_drivers(np, cs=cs, hours=HOURS_PER_YEAR, **kw)
    weeks = hourly_drivers(np, cs=cs[:, axis.hour_of_year], hours=axis.hours,
                           hour_of_year=axis.hour_of_year, period_hours=axis.period_hours, **kw)
    cols = [str(r) for r in reg.region.values]

    def frame(key, scale=1.0):
        x = np.array(full[key][0])
        x[:, axis.hour_of_year] = weeks[key][0]
        return pd.DataFrame((scale * x).T, columns=cols).rename_axis("hour")

    return {"load": frame("load_pu", reg.peak_load_mw.values[:, None]),
            "solar": frame("solar_cf"), "wind": frame("wind_cf")}


def _not_close(a: xr.Dataset, b: xr.Dataset) -> list[str]:
    """Numeric variables that differ beyond rounding (load_pu = MW / peak × peak is exact
    only to an ulp)."""
    names = set(numeric_names(a)) | set(numeric_names(b))
    return sorted(n for n in names if n not in a or n not in b or not np.allclose(
        a[n].values, b[n].values, rtol=1e-12, atol=1e-9, equal_nan=True))


def _utc_csv(df: pd.DataFrame, path, offset_h: int = 6) -> None:
    """Write a local-standard-time frame as UTC timestamps (ERCOT: UTC-6 in standard time)."""
    out = df.copy()
    out.index = pd.date_range(f"2026-01-01T{offset_h:02d}:00", periods=len(df), freq="h",
                              tz="UTC").strftime("%Y-%m-%dT%H:%MZ")
    out.rename_axis("time").to_csv(path, float_format="%.17g")


def test_user_series_equal_to_the_simulated_ones_give_the_same_outcomes(
        base, scenario0, tmp_path):
    cfg, inputs, synthetic = base
    for key in ("load", "solar", "wind"):
        _utc_csv(scenario0[key], tmp_path / f"{key}.csv")
    # the config route (what `gridcap run` reads), UTC timestamps moved to local standard time
    cfg_user = load_config(cfg.source.split(" (")[0], {
        **SMALL, **{f"datasets.{k}": str(tmp_path / f"{k}.csv") for k in scenario0}})
    from_files = build_inputs(cfg_user)
    assert set(from_files.hourly.data_vars) == {"load_mw", "solar_cf", "wind_cf"}
    assert _not_close(simulate(from_files, cfg_user.simulate_options()), synthetic) == []
    # the Python route, hour-of-year index
    from_python = with_hourly_series(inputs, **scenario0)
    assert _not_close(simulate(from_python, cfg.simulate_options()), synthetic) == []
    # ... and a frame read from the user's file as it is (clock as a column, text times)
    as_read = pd.read_csv(tmp_path / "load.csv", dtype={"time": str},
                          float_precision="round_trip")  # pandas < 2.2 parses to ~1 ulp
    same = with_hourly_series(inputs, load=as_read)
    np.testing.assert_array_equal(same.hourly.load_mw.values, from_files.hourly.load_mw.values)


def test_a_user_series_replaces_the_synthetic_one_in_every_scenario(base, scenario0):
    cfg, inputs, _ = base
    flat = scenario0["wind"] * 0.0 + 0.3
    out = simulate(with_hourly_series(inputs, wind=flat), cfg.simulate_options(), scenarios=3)
    np.testing.assert_allclose(out.wind_cf.values, 0.3, rtol=1e-12)
    np.testing.assert_allclose(out.wind_cf_at_peak.values, 0.3, rtol=1e-12)


def _own_technologies(folder) -> str:
    """A user technology table: one firm option that is online in a year (a copy of the
    shipped reciprocating-engine row with its own id, lead time and cost) and conversions."""
    from gridcap.datasets.loaders import DATA_DIR

    shipped = pd.read_csv(DATA_DIR / "technologies.csv", dtype=str, keep_default_na=False)
    firm = shipped[shipped.tech == "gas_recip"].assign(
        tech="my_firm", name="my fast firm plant", lead_time_years="0.5", needs_queue="false",
        first_year_available="2026", capex_usd_per_kw="400", cost_source="test table")
    table = pd.concat([firm, shipped[shipped.tech == "mine_conversion"]])
    table.to_csv(folder / "my_techs.csv", index=False)
    return str(folder / "my_techs.csv")


def test_more_load_builds_more_of_the_users_own_technology(tiny_study, scenario0, tmp_path):
    ov = {**SMALL, "study.horizon_years": 4, "finance.senior.tenor_years": 4,
          "finance.mezzanine.tenor_years": 4, "datasets.technology_ids": [],
          "datasets.technologies": _own_technologies(tmp_path)}
    cfg = load_config(tiny_study, ov)
    inputs = build_inputs(cfg)
    assert list(inputs.technologies.tech.values) == ["my_firm", "mine_conversion"]
    assert inputs.provenance["technologies"]["file"].endswith("my_techs.csv")
    plans = []
    for factor in (1.0, 1.15):
        user = with_hourly_series(inputs, load=scenario0["load"] * factor)
        out = simulate(user, cfg.simulate_options())
        plans.append((out, plan(user, out, cfg.plan_options())))
    (o1, p1), (o2, p2) = plans
    assert (o2.peak_net_load_mw > o1.peak_net_load_mw).all()
    assert float(p2.expected_cost_usd) > float(p1.expected_cost_usd)
    built = [float(p.build_mw.sel(tech="my_firm").sum()) for _, p in plans]
    assert built[1] > built[0], built


def test_netcdf_and_csv_and_dst_offsets_read_the_same(base, scenario0, tmp_path):
    _, inputs, _ = base
    load = scenario0["load"]
    _utc_csv(load, tmp_path / "load.csv")
    from_csv, meta = read_hourly_series(tmp_path / "load.csv", "load", inputs.regions)
    assert meta["regions"] == ["ERCOT"] and len(meta["sha256"]) == 64
    np.testing.assert_array_equal(from_csv.sel(region="ERCOT").values, load["ERCOT"].values)
    da = xr.DataArray(load.values, dims=("hour", "region"),
                      coords={"hour": load.index.values, "region": list(load.columns)})
    da.to_dataset(name="load_mw").to_netcdf(tmp_path / "load.nc")
    from_nc, _ = read_hourly_series(tmp_path / "load.nc", "load", inputs.regions)
    np.testing.assert_array_equal(from_nc.values, from_csv.values)
    # a CF time coordinate (UTC; ERCOT's local standard hour 0 is 06:00Z)
    timed = da.rename(hour="time").assign_coords(time=pd.date_range(
        "2026-01-01T06:00", periods=HOURS_PER_YEAR, freq="h"))
    timed.to_dataset(name="load_mw").to_netcdf(tmp_path / "timed.nc")
    from_cf, _ = read_hourly_series(tmp_path / "timed.nc", "load", inputs.regions)
    np.testing.assert_array_equal(from_cf.values, from_csv.values)
    # local wall-clock times with their daylight-saving offsets name the same hours
    utc = pd.date_range("2026-01-01T06:00", periods=HOURS_PER_YEAR, freq="h", tz="UTC")
    wall = utc.tz_convert("America/Chicago")
    text = pd.DataFrame({"time": [t.isoformat() for t in wall], "ERCOT": load["ERCOT"].values})
    assert "-05:00" in text["time"].iloc[4000]  # summer: CDT
    text.to_csv(tmp_path / "wall.csv", index=False, float_format="%.17g")
    from_wall, _ = read_hourly_series(tmp_path / "wall.csv", "load", inputs.regions)
    np.testing.assert_array_equal(from_wall.values, from_csv.values)


def _rows(load: pd.DataFrame) -> list[list[str]]:
    times = pd.date_range("2026-01-01T06:00", periods=len(load), freq="h", tz="UTC")
    return [[t.strftime("%Y-%m-%dT%H:%MZ"), repr(float(v))]
            for t, v in zip(times, load["ERCOT"].values, strict=True)]


def _write(path, rows, header=("time", "ERCOT")) -> None:
    path.write_text("\n".join([",".join(header), *(",".join(r) for r in rows)]) + "\n")


def _bad_cases(load: pd.DataFrame):
    rows = _rows(load)
    gap = [r for i, r in enumerate(rows) if i != 100]
    text = [list(r) for r in rows]
    text[42][1] = "n/a"
    kw = [[t, repr(float(v) * 1000)] for t, v in rows]
    naive = [list(r) for r in rows]
    naive[7][0] = naive[7][0].rstrip("Z")
    dup = [list(r) for r in rows]
    dup[9][0] = dup[8][0]
    neg = [list(r) for r in rows]
    neg[5][1] = "-1"
    return {
        "gap": (gap, ("time", "ERCOT"), ["hour(s) of the year missing", "hour 100"]),
        "text": (text, ("time", "ERCOT"), ["column 'ERCOT'", ", row 42:", "'n/a'",
                                           "finite number"]),
        "kw": (kw, ("time", "ERCOT"), ["column 'ERCOT'", "in kW or GW instead of MW"]),
        "naive": (naive, ("time", "ERCOT"), [", row 7:", "UTC offset"]),
        "dup": (dup, ("time", "ERCOT"), [", row 9:", "again", "first at row 8"]),
        "negative": (neg, ("time", "ERCOT"), [", row 5:", "-1.0", "load_mw >= 0 [MW]"]),
        "typo": (rows, ("time", "ERCTO"), ["column 'ERCTO'", "did you mean 'ERCOT'"]),
        "no clock": (rows, ("when", "ERCOT"), ["expected a first column 'time'"]),
    }


@pytest.mark.parametrize("case", ["gap", "text", "kw", "naive", "dup", "negative", "typo",
                                  "no clock"])
def test_bad_series_file_is_exit_2_naming_file_column_and_row(
        case, scenario0, tmp_path, capsys, wide_console):
    rows, header, expected = _bad_cases(scenario0["load"])[case]
    folder = tmp_path / "s"
    study = write_study(folder)
    _write(folder / "load.csv", rows, header)
    text = study.read_text().replace('[datasets]\n', '[datasets]\nload = "load.csv"\n')
    study.write_text(text)
    assert main(["validate", str(study)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    err = " ".join((captured.err + captured.out).split())
    assert "Traceback" not in err
    assert "datasets.load = " in err and str(folder / "load.csv") in err, err
    for part in expected:
        assert part in err, (part, err)


def test_python_series_errors_name_the_argument(base, scenario0):
    _, inputs, _ = base
    bad = scenario0["solar"].copy()
    bad.iloc[3, 0] = 1.5
    with pytest.raises(GridcapInputError, match=r"solar, column 'ERCOT', row 3: .*\[0, 1\]"):
        with_hourly_series(inputs, solar=bad)
    naive = scenario0["wind"].set_axis(pd.date_range("2026-01-01", periods=8760, freq="h"))
    with pytest.raises(GridcapInputError, match="wind.*without a time zone"):
        with_hourly_series(inputs, wind=naive)


def test_the_shipped_example_validates_with_its_own_series(capsys):
    from gridcap.datasets.loaders import DATA_DIR

    study = DATA_DIR.parent / "examples" / "own-data" / "study.toml"
    assert main(["validate", str(study)]) == 0, capsys.readouterr().err
    inputs = build_inputs(load_config(study))
    assert set(inputs.hourly.data_vars) == {"load_mw", "wind_cf"}
    assert inputs.provenance["technologies"]["file"].endswith("technologies.csv")
    assert "solar_utility" in inputs.technologies.tech.values
