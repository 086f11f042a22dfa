"""Risk-sized debt at the gearing cap: the free-profile schedule is unique (sculpted)."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

from gridcap.optimizer.financing.sizing import (
    SERVICE_CUSHION_USD,
    discount_factors,
    size_to_risk,
)


def test_free_profile_at_the_gearing_cap_is_sculpted_to_the_headroom():
    rng = np.random.default_rng(5)
    S, T, rate = 40, 8, 0.07
    cf = rng.normal(1e8, 1.5e7, (S, T)) * np.linspace(0.5, 1.5, T)[None, :]
    free = size_to_risk(cf, rate, target=0.05, method="milp", profile="free")
    room = 0.6 * free.size_usd  # the cap binds well below the risk-sized optimum
    capped = size_to_risk(cf, rate, target=0.05, method="milp", profile="free",
                          max_size_usd=room)
    assert capped.info["binding"] == "gearing"
    assert_allclose(capped.size_usd, room, rtol=1e-6)
    # service in proportion to the smallest headroom of the scenarios that pay
    y = capped.debt_service_usd
    pays = ~(y[None, :] > cf + 1e-6 * np.abs(cf).max()).any(axis=1)
    cap = cf[pays].min(axis=0) - SERVICE_CUSHION_USD
    lam = y / cap
    assert_allclose(lam, lam[0], rtol=1e-9)
    assert 0 < lam[0] < 1
    assert (y > 0).all()  # no year left without service
    assert_allclose(y @ discount_factors(rate, T), room, rtol=1e-6)
    assert pays.mean() >= 1 - 0.05  # the PD target still holds
