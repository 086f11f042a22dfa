"""Build options that match what is built: lead times, interconnection paths, path limits."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import xarray as xr

from gridcap.datasets import read_interconnection_paths, read_regions, read_technologies
from gridcap.errors import GridcapInputError
from gridcap.optimizer import PlanOptions, plan
from gridcap.optimizer.planning.siting import _lags, prepare_data
from gridcap.optimizer.planning.synthetic import DEFAULT_TECHS, synthetic_study

TECHS = {"gas_ct": DEFAULT_TECHS["gas_ct"],
         "recip": (1.0, False, 2000, 900.0, 15.0, 45.0, 25.0, 0.9, "firm")}
OPTS = PlanOptions(cvar_lambda=0.0, scenarios_in_model=None)


@pytest.fixture(scope="module")
def short_lead_study():
    return synthetic_study(regions=1, scenarios=4, slices=4, years=4, sites=0, seed=3,
                           techs=TECHS, queue_years=5.0, ai_demand_mw=2000.0)


def _with_paths(inputs, path_of: dict[str, str], years: dict[str, float],
                limit: dict[str, float]):
    inp = copy.deepcopy(inputs)
    names = ["queue", "surplus", "behind_the_meter", "fast_track"]
    R = inp.regions.sizes["region"]
    q = np.asarray(inp.regions["queue_years"].values, float)
    py = np.stack([q if n == "queue" else np.full(R, years.get(n, 0.0)) for n in names], 1)
    pl = np.stack([np.full(R, limit.get(n, np.inf)) for n in names], 1)
    inp.regions["path_years"] = (("region", "path"), py, {"units": "yr"})
    inp.regions["path_limit_mw"] = (("region", "path"), pl, {"units": "MW"})
    inp.regions = inp.regions.assign_coords(path=names)
    inp.technologies["interconnection_path"] = (
        "tech", [path_of[str(t)] for t in inp.technologies.tech.values])
    return inp


def test_short_lead_without_queue_comes_online_in_the_first_years(short_lead_study):
    inputs, out = short_lead_study
    ds = plan(inputs, out, options=OPTS)
    on = ds.online_mw.isel(region=0)
    first = int(ds.year.values[0])
    # ordered in the first year, online the next (ceil of 1 yr, no queue)
    assert float(on.sel(tech="recip", year=first + 1)) > 0.0
    # the queued technology (3 yr + 5 yr queue) cannot arrive inside a 4-year horizon
    assert float(on.sel(tech="gas_ct").max()) == 0.0


def test_lag_is_lead_plus_the_path_time(short_lead_study):
    inputs, out = short_lead_study
    inp = _with_paths(inputs, {"gas_ct": "fast_track", "recip": "behind_the_meter"},
                      {"fast_track": 0.5}, {})
    d = prepare_data(inp, out, OPTS)
    lag = dict(zip(d.techs.tolist(), _lags(d)[0].tolist(), strict=True))
    assert lag == {"gas_ct": 4, "recip": 1}      # ceil(3 + 0.5), ceil(1 + 0)


def test_a_path_limit_caps_the_mw_online(short_lead_study):
    inputs, out = short_lead_study
    free = plan(inputs, out, options=OPTS).online_mw.sel(tech="recip").max()
    assert float(free) > 1000.0
    inp = _with_paths(inputs, {"gas_ct": "queue", "recip": "fast_track"},
                      {"fast_track": 0.0}, {"fast_track": 1000.0})
    ds = plan(inp, out, options=OPTS)
    assert float(ds.online_mw.sel(tech="recip").max()) == pytest.approx(1000.0, rel=1e-6)


def test_behind_the_meter_supply_stays_within_the_ai_load_placed(short_lead_study):
    inputs, out = short_lead_study
    inp = _with_paths(inputs, {"gas_ct": "queue", "recip": "behind_the_meter"}, {}, {})
    ds = plan(inp, out, options=OPTS)
    btm = ds.online_mw.sel(tech="recip").isel(region=0).values
    assert np.all(btm <= ds.ai_placed_mw.isel(region=0).values + 1e-6)
    assert btm.max() > 0.0


def test_lead_time_beyond_the_horizon_is_rejected(short_lead_study):
    inputs, out = short_lead_study
    inp = copy.deepcopy(inputs)
    inp.technologies["lead_time_years"].loc["recip"] = 7.5
    with pytest.raises(GridcapInputError,
                       match=r"lead_time_years\[tech=recip\] = 7.5 yr is beyond the 4-year"):
        plan(inp, out, options=OPTS)


def test_shipped_paths_differ_by_type_and_region():
    regions, _ = read_regions(years=[2026])
    paths, _ = read_interconnection_paths(regions)
    y = paths.path_years.to_pandas()
    assert (y["surplus"] < y["queue"]).all() and (y["behind_the_meter"] == 0).all()
    assert y.loc["PJM", "fast_track"] == pytest.approx(5.0 - 1.5)   # RRI: 1.5 yr earlier
    assert y.loc["CAISO", "fast_track"] == y.loc["CAISO", "queue"]  # not offered: the queue
    lim = paths.path_limit_mw.to_pandas()
    assert lim.loc["PJM", "fast_track"] == 9361.0 and np.isinf(lim.loc["ERCOT", "queue"])
    techs, _ = read_technologies()
    path = techs.interconnection_path.to_series()
    lead = techs.lead_time_years.to_series()
    # small gas within two years of the decision, solar and storage within three (whole
    # planning years), against 4-6 years of queue alone
    for t, most in (("gas_recip", 2), ("solar_utility", 3), ("battery_4h", 3)):
        a = list(paths.path.values).index(path[t])
        assert np.ceil(lead[t] + float(paths.path_years.isel(path=a).max())) <= most


def test_path_years_must_be_non_negative(short_lead_study):
    inputs, out = short_lead_study
    inp = _with_paths(inputs, {"gas_ct": "queue", "recip": "surplus"},
                      {"surplus": -1.0}, {})
    with pytest.raises(GridcapInputError, match=r"path_years.*expected a finite time >= 0"):
        prepare_data(inp, out, OPTS)


def test_unknown_path_is_rejected(short_lead_study):
    inputs, out = short_lead_study
    inp = _with_paths(inputs, {"gas_ct": "queue", "recip": "surplus"}, {}, {})
    inp.technologies["interconnection_path"] = ("tech", ["queue", "teleport"])
    with pytest.raises(GridcapInputError, match=r"interconnection_path\[tech=recip\] = "
                                                r"'teleport'"):
        prepare_data(inp, out, OPTS)


def test_regions_without_paths_keep_one_queue(short_lead_study):
    inputs, out = short_lead_study
    d = prepare_data(inputs, out, OPTS)
    assert xr.DataArray(d.connect_years).values.tolist() == [[5.0, 0.0]]
