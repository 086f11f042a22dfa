"""Tests of scenario selection (Heitsch–Römisch fast forward) and the empirical CVaR."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.optimizer.planning.scenario_selection import (
    empirical_cvar,
    fast_forward_selection,
    select_scenarios,
)


def test_empirical_cvar_closed_forms():
    c = np.array([1.0, 2.0, 3.0, 4.0])
    assert_allclose(empirical_cvar(c, np.full(4, 0.25), 0.5), 3.5)
    assert_allclose(empirical_cvar(c, np.full(4, 0.25), 0.0), 2.5)        # the mean
    # split atom: worst 10 % of [4 w.p. .05, 3 w.p. .95] = (0.05·4 + 0.05·3)/0.1
    assert_allclose(empirical_cvar(np.array([3.0, 4.0]), np.array([0.95, 0.05]), 0.9), 3.5)


def test_empirical_cvar_equals_minimum_of_ru_function():
    rng = np.random.default_rng(1)
    c = rng.normal(size=37)
    p = rng.random(37)
    p /= p.sum()
    for alpha in (0.3, 0.8, 0.95):
        ru = min(e + p @ np.maximum(c - e, 0) / (1 - alpha) for e in c)
        assert_allclose(empirical_cvar(c, p, alpha), ru, rtol=1e-12)


def clustered(n_per=(6, 3, 3), seed=0):
    """Scenarios that are exact copies of three prototypes."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(3, 2, 4)) * 100 + 1000
    rows = np.concatenate([np.repeat(protos[i][None], k, 0) for i, k in enumerate(n_per)])
    W = rows.shape[0]
    return xr.Dataset(
        {"peak_net_load_mw": (("scenario", "region", "slice"), rows)},
        coords={"scenario": np.arange(W), "slice_hours": ("slice", np.full(4, 2190.0))},
    )


def test_fast_forward_recovers_prototypes_with_their_probabilities():
    ds = clustered()
    sel = select_scenarios(ds, 3)
    assert_allclose(sel.errors["kantorovich"], 0.0, atol=1e-9)
    assert_allclose(sel.errors["mean_stress_rel_error"], 0.0, atol=1e-12)
    protos = ds["peak_net_load_mw"].values[sel.indices].reshape(3, -1)
    assert len({tuple(r) for r in protos.round(6)}) == 3                 # one per cluster
    assert_allclose(sorted(sel.weights), [0.25, 0.25, 0.5])


def test_selection_error_shrinks_and_weights_sum_to_one():
    rng = np.random.default_rng(4)
    ds = xr.Dataset({"peak_net_load_mw": (("scenario", "slice"), rng.normal(size=(40, 5)))},
                    coords={"scenario": np.arange(40)})
    errs = []
    for n in (2, 5, 10, 40):
        sel = select_scenarios(ds, n)
        assert_allclose(sel.weights.sum(), 1.0)
        assert sel.indices.size == n
        errs.append(sel.errors["kantorovich"])
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(errs))
    assert_allclose(errs[-1], 0.0, atol=1e-12)


def test_forward_selection_first_pick_is_the_probability_weighted_median():
    D = np.abs(np.subtract.outer(np.arange(5.0), np.arange(5.0)))
    assert fast_forward_selection(D, np.full(5, 0.2), 1).tolist() == [2]


def test_other_methods_and_errors():
    ds = clustered()
    assert select_scenarios(ds, 4, method="first").indices.tolist() == [0, 1, 2, 3]
    r = select_scenarios(ds, 4, method="random", seed=3)
    assert r.indices.size == 4
    assert_allclose(r.weights, 0.25)
    with pytest.raises(GridcapInputError, match="scenario_selection"):
        select_scenarios(ds, 2, method="kmeans")
