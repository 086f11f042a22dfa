"""IRR root convention and dated cash flows (XNPV/XIRR, Actual/365F) against closed forms."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.optimizer.financing.tranche_risk import irr, npv, xirr, xnpv


def test_two_sign_changes_return_the_lowest_root():
    # -100 + 230/(1+r) - 132/(1+r)^2 = 0 at r = 10% and r = 20%
    f = np.array([[-100.0, 230.0, -132.0], [100.0, -230.0, 132.0]])
    r = irr(f)
    assert_allclose(r, [0.10, 0.10], atol=1e-10)
    assert_allclose(npv(r, f), 0.0, atol=1e-8)


def test_single_root_total_loss_and_upper_bracket():
    f = np.array([[-100.0, 0.0, 121.0], [-100.0, 0.0, 0.0], [-100.0, 5.0, 5.0],
                  [-1.0, 1e6, 0.0]])
    r = irr(f)
    assert_allclose(r[0], 0.10, atol=1e-10)
    assert r[1] == -1.0  # nothing comes back: total loss
    assert -1.0 < r[2] < 0.0 and abs(npv(r[2], f[2])) < 1e-8  # partial loss: a finite root
    assert r[3] == 10.0  # beyond the bracket


def test_three_sign_changes_lowest_root():
    # roots 5%, 10%, 30%: (x - 1/1.05)(x - 1/1.1)(x - 1/1.3) with x = 1/(1+r), times -1
    roots = np.array([1 / 1.05, 1 / 1.1, 1 / 1.3])
    c = np.poly(roots)[::-1]  # coefficients of x^0..x^3
    r = irr(np.asarray(c)[None, :])
    assert_allclose(r, [0.05], atol=1e-9)


def test_xnpv_xirr_closed_form_actual_365():
    d = [dt.date(2024, 1, 1), dt.date(2025, 1, 1)]  # 366 days (leap year)
    assert_allclose(xnpv(0.1, [-1000.0, 1100.0], d), -1000 + 1100 / 1.1 ** (366 / 365))
    assert_allclose(xirr([-1000.0, 1100.0], d), 1.1 ** (365 / 366) - 1, atol=1e-12)
    # equally spaced 365-day dates reproduce the annual irr
    dates = np.datetime64("2025-01-01") + np.arange(4) * 365
    f = np.array([-100.0, 30.0, 40.0, 50.0])
    assert_allclose(xirr(f, dates), irr(f[None, :])[0], atol=1e-12)
    assert_allclose(xnpv(0.07, f, dates), npv(0.07, f), atol=1e-10)
    # two sign changes, dated: the lowest root (10%)
    assert_allclose(xirr([-100.0, 230.0, -132.0], dates[:3]), 0.10, atol=1e-10)


def test_dated_inputs_rejected():
    with pytest.raises(GridcapInputError, match="dates"):
        xirr([1.0], ["2025-01-01"])
    with pytest.raises(GridcapInputError, match="2 values for 3 dates"):
        xnpv(0.05, [1.0, 2.0], ["2025-01-01", "2026-01-01", "2027-01-01"])
    with pytest.raises(GridcapInputError, match="rate = -2"):
        xnpv(-2, [1.0, 2.0], ["2025-01-01", "2026-01-01"])
