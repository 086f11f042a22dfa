"""Tests of the chain's array arithmetic: attribution, Shapley splits, variance shares."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.optimizer.chain.trace import (
    attribute_energy,
    compute_params,
    product_shapley,
    quantiles,
    regression_shares,
    variance_shares,
)


def _random_case(rng: np.random.Generator, S=7, D=5, Y=3, R=3, K=4):
    consumption = rng.uniform(0, 1000, (S, D, Y))
    consumption[0, 0, 0] = 0.0
    region = rng.integers(0, R, D)
    region[:R] = np.arange(R)  # every region has a data center
    supply = rng.uniform(0, 600, (S, R, Y, K))
    supply[1, 0, 1] = 0.0      # a region-year with no non-grid supply
    return consumption, region, supply


def test_attribution_balances_to_the_mwh():
    rng = np.random.default_rng(1)
    consumption, region, supply = _random_case(rng)
    out = attribute_energy(consumption, region, supply)
    assert out.shape == (*consumption.shape, supply.shape[3] + 1)
    assert_allclose(out.sum(axis=3), consumption, rtol=1e-13, atol=1e-9)
    assert (out >= -1e-9).all()


def test_attribution_claims_supply_until_consumption_then_grid():
    rng = np.random.default_rng(2)
    consumption, region, supply = _random_case(rng)
    out = attribute_energy(consumption, region, supply)
    S, _, Y = consumption.shape
    R = supply.shape[1]
    for s, r, y in itertools.product(range(S), range(R), range(Y)):
        dcs = np.flatnonzero(region == r)
        e_r = consumption[s, dcs, y].sum()
        t_r = supply[s, r, y].sum()
        claimed = out[s, dcs, y, :-1].sum(axis=0)
        grid = out[s, dcs, y, -1].sum()
        if t_r <= e_r:   # all supply claimed, the grid covers the rest
            assert_allclose(claimed, supply[s, r, y], rtol=1e-12, atol=1e-9)
            assert_allclose(grid, e_r - t_r, rtol=1e-12, atol=1e-6)
        else:            # consumption fully covered, pro rata the sources, no grid
            assert_allclose(claimed, supply[s, r, y] * e_r / t_r, rtol=1e-12, atol=1e-9)
            assert abs(grid) < 1e-6 * max(e_r, 1.0)
        # pro rata consumption within the region
        if e_r > 0:
            shares = out[s, dcs, y, :-1].sum(axis=1) / np.maximum(consumption[s, dcs, y], 1e-300)
            live = consumption[s, dcs, y] > 0
            assert_allclose(shares[live], min(1.0, t_r / e_r), rtol=1e-12)


def test_attribution_with_no_supply_is_all_grid():
    consumption = np.full((2, 3, 2), 5.0)
    out = attribute_energy(consumption, np.zeros(3, dtype=int), np.zeros((2, 1, 2, 2)))
    assert_allclose(out[..., -1], consumption)
    assert_allclose(out[..., :-1], 0.0)


def test_product_shapley_adds_up_exactly():
    rng = np.random.default_rng(3)
    g = rng.uniform(1, 10, (50, 4))
    p = rng.uniform(1, 3, (50, 4))
    dg, dp = product_shapley(g, p)
    assert_allclose(dg + dp, g * p - g.mean(0) * p.mean(0), rtol=1e-12, atol=1e-12)
    # a constant price puts every change on volume
    dg, dp = product_shapley(g, np.full_like(g, 2.0))
    assert_allclose(dp, 0.0, atol=1e-12)
    assert_allclose(dg, 2.0 * (g - g.mean(0)), rtol=1e-12)


def _shapley_brute_force(parts: np.ndarray) -> np.ndarray:
    """Shapley values of v(T) = Var(sum_T X) by enumerating all subsets."""
    k = parts.shape[1]

    def v(subset):
        return float(np.var(parts[:, list(subset)].sum(axis=1))) if subset else 0.0

    phi = np.zeros(k)
    for i in range(k):
        others = [j for j in range(k) if j != i]
        for size in range(k):
            for sub in itertools.combinations(others, size):
                w = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
                phi[i] += w * (v((*sub, i)) - v(sub))
    return phi / np.var(parts.sum(axis=1))


def test_variance_shares_equal_brute_force_shapley_and_sum_to_one():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(400, 5))
    mix = rng.normal(size=(5, 5))
    parts = base @ mix        # correlated links
    shares, var = variance_shares(parts)
    assert_allclose(shares.sum(), 1.0, rtol=1e-12)
    assert_allclose(var, np.var(parts.sum(axis=1)), rtol=1e-12)
    assert_allclose(shares, _shapley_brute_force(parts), rtol=1e-9, atol=1e-12)


def test_variance_shares_put_the_dominant_driver_on_top():
    rng = np.random.default_rng(5)
    parts = np.column_stack([
        rng.normal(0, 1, 1000),
        rng.normal(0, 10, 1000),   # dominant
        rng.normal(0, 2, 1000),
        np.full(1000, 3.0),        # constant: no variance
    ])
    shares, _ = variance_shares(parts)
    assert int(np.argmax(shares)) == 1
    assert shares[1] > 0.9
    assert abs(shares[3]) < 1e-12


def test_variance_shares_of_a_constant_sum_are_nan():
    parts = np.column_stack([np.arange(5.0), -np.arange(5.0)])
    shares, var = variance_shares(parts)
    assert var == pytest.approx(0.0, abs=1e-20)
    assert np.isnan(shares).all()


def test_quantiles_match_numpy():
    x = np.arange(101.0)
    assert_allclose(quantiles(x), [10.0, 50.0, 90.0])


def test_compute_params_defaults_and_errors():
    p = compute_params({})
    assert p["tokens_per_gpu_hour"] == 1.0e7 and p["gpus_per_mw"] == 780.0
    with pytest.raises(GridcapInputError, match=r"compute.gpus_per_mw = -1"):
        compute_params({"gpus_per_mw": -1})
    with pytest.raises(GridcapInputError, match=r"compute.tokens_per_gpu_hour = 'many'"):
        compute_params({"tokens_per_gpu_hour": "many"})
    with pytest.raises(GridcapInputError, match=r"compute.pue = 0.8"):
        compute_params({"pue": 0.8})


def test_regression_shares_reduce_to_variance_shares_for_an_exact_sum():
    rng = np.random.default_rng(6)
    parts = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))
    shares, r2 = regression_shares(parts, parts.sum(axis=1))
    assert r2 == pytest.approx(1.0, rel=1e-10)
    assert_allclose(shares, variance_shares(parts)[0], rtol=1e-8, atol=1e-10)
    # a scaled, noisy, partly missing response: shares still sum to 1, R^2 < 1
    y = 0.01 * parts @ np.array([1.0, 0.0, 3.0, 0.5]) + rng.normal(0, 0.05, 300)
    y[:5] = np.nan
    shares, r2 = regression_shares(np.column_stack([parts, np.ones(300)]), y)
    assert shares.sum() == pytest.approx(1.0, rel=1e-10)
    assert 0.0 < r2 < 1.0
    assert abs(shares[-1]) < 1e-12              # a constant column explains nothing
