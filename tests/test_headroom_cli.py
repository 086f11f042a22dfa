"""``gridcap headroom``: simulated load years (P10/P50/P90) and EIA-930 files, CLI wiring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridcap.cli import main
from gridcap.config import load_config
from gridcap.datasets.eia930 import local_calendar, read_eia930
from gridcap.headroom import historical_headroom, parse_limits, simulated_headroom
from gridcap.kernels.headroom import headroom, headroom_by_year
from gridcap.kernels.load_years import simulated_load_years
from gridcap.pipeline import build_inputs

FIXTURE = Path(__file__).parent / "fixtures" / "EIA930_BALANCE_2023_Jul_Dec_fixture.csv"


@pytest.fixture(scope="module")
def quick():
    cfg = load_config("quickstart")
    return cfg, build_inputs(cfg)


def test_load_years_do_not_depend_on_batching_or_offset(quick):
    _, inputs = quick
    a, month = simulated_load_years(inputs, scenarios=4, seed=7, hours=8760, batch=4)
    b, _ = simulated_load_years(inputs, scenarios=3, seed=7, hours=8760, batch=1,
                                scenario_offset=1)
    np.testing.assert_array_equal(a[1:], b)
    assert month.shape == (8760,) and month[0] == 1 and month[-1] == 12
    # peak_load_mw is the median simulated annual peak, roughly (drivers' normalisation)
    peak = inputs.regions.peak_load_mw.values
    assert np.all((a.max(axis=2) > 0.8 * peak) & (a.max(axis=2) < 1.25 * peak))


def test_simulated_headroom_is_the_kernel_on_the_load_years(quick):
    cfg, inputs = quick
    ds = simulated_headroom(cfg, [0.5, 1.0], inputs=inputs, scenarios=4)
    load, month = simulated_load_years(inputs, scenarios=4, seed=cfg.study.seed, hours=8760)
    r = 1
    d = load[:, r, :].ravel()
    h = 8760
    year = np.repeat(np.arange(4), h)
    pooled = headroom(d, np.tile(month, 4), year, [0.5, 1.0], hours_per_year=None)
    np.testing.assert_allclose(ds.headroom_mw.isel(region=r), pooled.headroom_mw[0])
    _, each, _ = headroom_by_year(d, np.tile(month, 4), year, [0.5, 1.0], hours_per_year=None)
    np.testing.assert_allclose(ds.headroom_p50_mw.isel(region=r),
                               np.quantile(each[0], 0.5, axis=0))
    assert (ds.headroom_p10_mw <= ds.headroom_p50_mw).all()
    assert (ds.headroom_p50_mw <= ds.headroom_p90_mw).all()
    assert (ds.headroom_mw.diff("limit_pct") > 0).all()
    assert ds.attrs["source"] == "simulated" and ds.sizes["year"] == 4


def test_cli_simulated_writes_csv_and_netcdf(tmp_path, capsys):
    rc = main(["headroom", "quickstart", "--scenarios", "3", "--curtailment", "1,0.5",
               "--out", str(tmp_path)])
    assert rc == 0
    table = pd.read_csv(tmp_path / "headroom.csv")
    ds = xr.open_dataset(tmp_path / "headroom_simulated.nc")
    assert len(table) == ds.sizes["region"] * 2 and set(table.limit_pct) == {0.5, 1.0}
    row = table[(table.region == str(ds.region.values[0])) & (table.limit_pct == 1.0)]
    assert row.headroom_mw.iloc[0] == pytest.approx(
        float(ds.headroom_mw.isel(region=0).sel(limit_pct=1.0)), rel=1e-5)
    assert "Curtailment-enabled headroom" in capsys.readouterr().out
    assert (tmp_path / "headroom_simulated.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_eia930_matches_the_functions(tmp_path):
    rc = main(["headroom", "--eia930", str(FIXTURE), "--ba", "ERCO", "CISO",
               "--curtailment", "10,20", "--out", str(tmp_path)])
    assert rc == 0
    table = pd.read_csv(tmp_path / "headroom.csv")
    assert list(table.region.unique()) == ["ERCO", "CISO"]
    e = read_eia930(FIXTURE, ["ERCO"])
    month, year = local_calendar(e)
    direct = headroom(e.demand_mw.values[0], month[0], year[0], [10, 20], hours_per_year=None)
    got = table[table.region == "ERCO"].headroom_mw.to_numpy()
    np.testing.assert_allclose(got, direct.headroom_mw[0], rtol=1e-5)
    assert (got > 0).all()
    ds = historical_headroom([FIXTURE], None, [10])
    assert "no complete year" in ds.attrs["notes"]


@pytest.mark.parametrize(
    "argv",
    [
        ["headroom", "quickstart", "--curtailment", "0,1"],
        ["headroom", "quickstart", "--curtailment", "a"],
        ["headroom"],
        ["headroom", "quickstart", "--ba", "PJM"],
        ["headroom", "--eia930", str(FIXTURE), "--ba", "PJM"],
        ["headroom", "--eia930", "missing.csv"],
        ["headroom", "--eia930", str(FIXTURE), "--max-gap-hours", "0"],
    ],
)
def test_cli_bad_input_exits_2(argv, capsys):
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_parse_limits():
    assert parse_limits("5, 0.25,1,0.5,1") == [0.25, 0.5, 1.0, 5.0]


def _write_year(path, ba: str, tz: str, hours: int, seed: int) -> None:
    """A BALANCE-layout file for one BA from 2023-01-01 00:00 local, ``hours`` hours."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    start = pd.Timestamp("2023-01-01", tz=zone).tz_convert("UTC")
    end_utc = start + pd.to_timedelta(np.arange(1, hours + 1), unit="h")
    end_loc = end_utc.tz_convert(zone).tz_localize(None)
    rng = np.random.default_rng(seed)
    doy = (end_loc.day_of_year.to_numpy() - 1) / 365.0
    demand = (30_000 + 8_000 * np.cos(2 * np.pi * (doy - 0.55)) ** 2
              + 4_000 * np.cos(2 * np.pi * (end_loc.hour.to_numpy() - 17) / 24)
              + rng.gamma(3.0, 300.0, hours))

    def fmt(t):
        return t.strftime("%m/%d/%Y ") + t.strftime("%I:%M:%S %p").lstrip("0")

    frame = pd.DataFrame({
        "Balancing Authority": ba,
        "Local Time at End of Hour": [fmt(t) for t in end_loc],
        "UTC Time at End of Hour": [fmt(t) for t in end_utc.tz_localize(None)],
        "Demand (MW)": [f"{round(x):,}" for x in demand],
    })
    frame.to_csv(path, index=False)


def test_historical_headroom_uses_complete_local_years_only(tmp_path):
    """2023 complete (8,760 local hours) + 100 h of 2024: only 2023 counts, at L·8760."""
    path = tmp_path / "EIA930_BALANCE_2023_all.csv"
    _write_year(path, "PJM", "America/New_York", 8760 + 100, seed=3)
    ds = historical_headroom([path], ["PJM"], [0.5, 1.0])
    assert ds.sizes["year"] == 1 and int(ds.year.values[0]) == 2023
    assert ds.attrs["notes"] == "complete years only"
    e = read_eia930(path)
    month, year = local_calendar(e)
    keep = year[0] == 2023
    assert keep.sum() == 8760
    direct = headroom(e.demand_mw.values[0][keep], month[0][keep], year[0][keep], [0.5, 1.0])
    np.testing.assert_allclose(ds.headroom_mw.values[0], direct.headroom_mw[0], rtol=1e-12)
    assert (ds.headroom_mw.values > 0).all()


def test_headroom_out_is_one_locked_output_set_beside_a_run(tmp_path, capsys, wide_console):
    """``headroom --out`` uses the run's output machinery: a second writer is refused at once
    (exit 2, naming the holder), and the manifest lists the headroom files beside another
    set's records, each verified."""
    import json
    import subprocess
    import sys

    from gridcap.cli import EXIT_BAD_INPUT
    from gridcap.errors import OutputError
    from gridcap.io import OUTPUT_MANIFEST, folder_lock, output_folder, verify_output_set

    out = tmp_path / "out"
    with output_folder(out) as staged:  # a run's set, committed first
        staged.path("results.nc").write_bytes(b"a run's results")
        staged.commit({"command": "run"})
    argv = ["headroom", "--eia930", str(FIXTURE), "--ba", "ERCO", "--curtailment", "10",
            "--out", str(out)]
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from pathlib import Path; from gridcap.io import folder_lock\n"
         f"with folder_lock(Path({str(out)!r})):\n"
         "    print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(argv) == EXIT_BAD_INPUT
        err = " ".join(capsys.readouterr().err.split())
        assert "in use by process" in err and str(holder.pid) in err
        assert not (out / "headroom.csv").exists()
    finally:
        holder.kill()
        holder.wait()
    assert main(argv) == 0
    listed = json.loads((out / OUTPUT_MANIFEST).read_text())["files"]
    assert {"results.nc", "headroom.csv", "headroom_eia930.nc"} <= set(listed)
    verify_output_set(out)
    assert not list(out.glob(".staging-*"))
    (out / "headroom.csv").write_text("region,limit_pct,headroom_mw\nERCO,10,1\n")
    with pytest.raises(OutputError, match="headroom.csv.*does not match"):
        verify_output_set(out)
    with folder_lock(out):  # the killed holder left no stale lock
        pass
