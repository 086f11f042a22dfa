"""EIA-930 BALANCE reader on a fixture written in EIA's layout (DST end, missing values)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridcap.datasets.eia930 import local_calendar, read_eia930
from gridcap.errors import GridcapInputError

FIXTURE = Path(__file__).parent / "fixtures" / "EIA930_BALANCE_2023_Jul_Dec_fixture.csv"


def _raw() -> pd.DataFrame:
    return pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)


def _value(raw: pd.DataFrame, ba: str, utc: str, col: str = "Demand (MW)") -> float:
    row = raw[(raw["Balancing Authority"] == ba) & (raw["UTC Time at End of Hour"] == utc)]
    return float(row[col].iloc[0].replace(",", ""))


def test_reads_fixture_indexed_by_utc_across_dst_end():
    ds = read_eia930(FIXTURE)
    assert list(ds.ba.values) == ["CISO", "ERCO"]
    t = pd.DatetimeIndex(ds.time.values)
    assert (t[1:] - t[:-1] == pd.Timedelta(hours=1)).all()  # one row per UTC hour, no repeats
    # 4-6 Nov local = 73 hours each (the DST-end day has 25); the union of both BAs' spans
    assert t[0] == pd.Timestamp("2023-11-04 06:00") and t[-1] == pd.Timestamp("2023-11-07 08:00")
    # the repeated local 1:00 AM hour on 5 Nov is two UTC hours with both values kept
    raw = _raw()
    for utc, stamp in (("11/05/2023 8:00:00 AM", "2023-11-05 08:00"),
                       ("11/05/2023 9:00:00 AM", "2023-11-05 09:00")):
        assert ds.demand_mw.sel(ba="CISO", time=stamp).item() == _value(raw, "CISO", utc)
    loc = pd.DatetimeIndex(ds.local_time.sel(ba="CISO").values)
    assert (loc == pd.Timestamp("2023-11-05 01:00")).sum() == 2
    # ERCO's record starts two UTC hours before CISO's: outside its record CISO is NaN
    assert np.isnan(ds.demand_mw.sel(ba="CISO", time="2023-11-04 06:00").item())
    assert not ds.filled.sel(ba="CISO", time="2023-11-04 06:00").item()


def test_missing_values_and_hours_are_interpolated_and_flagged():
    ds = read_eia930(FIXTURE, ["ERCO", "CISO"], max_gap_hours=3)
    raw = _raw()
    # ERCO: one empty value at 03:00 UTC 5 Nov -> mean of its neighbours
    before = _value(raw, "ERCO", "11/05/2023 2:00:00 AM")
    after = _value(raw, "ERCO", "11/05/2023 4:00:00 AM")
    got = ds.demand_mw.sel(ba="ERCO", time="2023-11-05 03:00").item()
    assert got == pytest.approx(0.5 * (before + after), rel=1e-12)
    assert ds.filled.sel(ba="ERCO", time="2023-11-05 03:00").item()
    # CISO: two absent rows (18:00, 19:00 UTC 6 Nov) -> linear between 17:00 and 20:00
    a = _value(raw, "CISO", "11/06/2023 5:00:00 PM")
    b = _value(raw, "CISO", "11/06/2023 8:00:00 PM")
    got = ds.demand_mw.sel(ba="CISO", time=["2023-11-06 18:00", "2023-11-06 19:00"]).values
    np.testing.assert_allclose(got, [a + (b - a) / 3, a + 2 * (b - a) / 3], rtol=1e-12)
    # adjusted empty, reported present -> the reported value, not a fill
    assert not ds.filled.sel(ba="ERCO", time="2023-11-05 12:00").item()
    assert ds.demand_mw.sel(ba="ERCO", time="2023-11-05 12:00").item() == _value(
        raw, "ERCO", "11/05/2023 12:00:00 PM")
    # fills: ERCO 1, CISO 2 (hours outside each BA's own record stay NaN)
    assert int(ds.filled.sum()) == ds.attrs["hours_filled"] == 3
    assert int(np.isnan(ds.demand_mw).sum()) == 4
    assert list(ds.ba.values) == ["ERCO", "CISO"]


def test_gap_longer_than_allowed_is_refused_unless_asked():
    with pytest.raises(GridcapInputError, match=r"'CISO'.*longer than max_gap_hours = 1"):
        read_eia930(FIXTURE, ["CISO"], max_gap_hours=1)
    kept = read_eia930(FIXTURE, ["CISO"], max_gap_hours=1, long_gaps="keep")
    assert np.isnan(kept.demand_mw.sel(ba="CISO", time="2023-11-06 18:00").item())
    filled = read_eia930(FIXTURE, ["CISO"], max_gap_hours=1, long_gaps="interpolate")
    assert np.isfinite(filled.demand_mw.values).all()  # CISO alone: its own span


def test_dst_duplicate_with_different_demand_is_an_error(tmp_path):
    text = FIXTURE.read_text().splitlines()
    # a row written on the local clock twice: the second 1:00 AM carries the first's UTC
    i = next(k for k, ln in enumerate(text) if '"CISO","11/05/2023","2",' in ln)
    text[i] = text[i].replace("11/05/2023 9:00:00 AM", "11/05/2023 8:00:00 AM")
    bad = tmp_path / "EIA930_BALANCE_2023_Jul_Dec.csv"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(GridcapInputError, match=r"'CISO', UTC hour ending 2023-11-05 08:00"):
        read_eia930(bad)


def test_same_file_twice_and_several_files(tmp_path):
    ds = read_eia930([FIXTURE, FIXTURE])
    assert ds.attrs["exact_duplicate_rows_dropped"] == 144
    lines = FIXTURE.read_text().splitlines()
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("\n".join(lines[:40]) + "\n")
    second.write_text("\n".join([lines[0], *lines[40:]]) + "\n")
    both = read_eia930([second, first])
    np.testing.assert_array_equal(both.demand_mw.values, read_eia930(FIXTURE).demand_mw.values)


@pytest.mark.parametrize(
    ("edit", "kwargs", "match"),
    [
        (lambda s: s.replace('"UTC Time at End of Hour"', '"UTC Time"'), {}, "missing column"),
        (lambda s: s.replace("11/04/2023 9:00:00 AM", "2023-11-04T09"), {}, "not a time"),
        (lambda s: s.replace('"22,347"', '"n/a"', 1), {}, "not a number"),
        (lambda s: s, {"bas": ["PJM"]}, r"\['PJM'\] not in the files"),
        (lambda s: s, {"demand": "forecast"}, "demand = 'forecast'"),
    ],
)
def test_bad_input_names_file_column_and_value(tmp_path, edit, kwargs, match):
    p = tmp_path / "EIA930_BALANCE_x.csv"
    p.write_text(edit(FIXTURE.read_text()))
    with pytest.raises(GridcapInputError, match=match):
        read_eia930(p, **kwargs)


def test_local_calendar_counts_the_hour_by_its_start():
    ds = read_eia930(FIXTURE)
    month, year = local_calendar(ds)
    assert month.shape == ds.demand_mw.shape
    assert set(np.unique(month)) == {11} and set(np.unique(year)) == {2023}
