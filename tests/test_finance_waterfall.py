"""Waterfall: exact cash conservation (hypothesis), hand-checked cases, three implementations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcap.errors import GridcapInputError
from gridcap.optimizer.financing.sizing import schedule_from_service, size_debt
from gridcap.optimizer.financing.waterfall import (
    FLOWS,
    SOURCES,
    STATES,
    USES,
    conservation_residual,
    run_waterfall,
    structure_from_schedules,
    to_cents,
)

F = {n: i for i, n in enumerate(FLOWS)}
K = {n: i for i, n in enumerate(STATES)}


def _structure(draw: st.DrawFn, T: int):
    def loan(name: str, rate: float) -> object:
        tenor = draw(st.integers(1, T))
        ds = np.array(draw(st.lists(st.floats(0.0, 5e6), min_size=tenor, max_size=tenor)))
        ds = np.concatenate([ds, np.zeros(T - tenor)])
        return schedule_from_service(name, ds, rate, np.nan, tenor)

    sen = loan("senior", draw(st.floats(0.0, 0.3)))
    mez = loan("mezzanine", draw(st.floats(0.0, 0.3))) if draw(st.booleans()) else None
    return structure_from_schedules(
        sen,
        mez,
        periods=T,
        dsra_months=draw(st.floats(0.0, 12.0)),
        lockup_dscr=draw(st.sampled_from([0.0, 1.05, 1.2, 2.0])),
        sweep_fraction=draw(st.floats(0.0, 1.0)),
        grace_years=draw(st.integers(0, 2)),
        dsra_funded_at_close=draw(st.booleans()),
        senior_maturity=draw(st.integers(0, T)),
    )


@st.composite
def cases(draw: st.DrawFn):
    T = draw(st.integers(1, 8))
    S = draw(st.integers(1, 6))
    structure = _structure(draw, T)
    cash = np.array(
        draw(st.lists(st.integers(-2_000_000_00, 8_000_000_00), min_size=S * T, max_size=S * T)),
        dtype=np.int64,
    )
    opex = np.array(
        draw(st.lists(st.integers(0, 1_000_000_00), min_size=S * T, max_size=S * T)), dtype=np.int64
    )
    refi = np.array(
        [draw(st.lists(st.integers(0, 8_000), min_size=S, max_size=S)),
         draw(st.lists(st.integers(0, 30_000), min_size=S, max_size=S))], dtype=np.int64
    )
    return cash.reshape(S, T), opex.reshape(S, T), structure, refi


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_cash_is_conserved_exactly_in_every_period(case) -> None:
    cash, opex, s, refi = case
    r = run_waterfall(cash, s, opex=opex, refinancing=refi, method="xp")
    f = r.flows_cents
    # sources == uses to the cent, every scenario and period
    assert np.array_equal(conservation_residual(r), np.zeros_like(cash))
    assert np.array_equal(f[: len(SOURCES)].sum(0), f[len(SOURCES) :].sum(0))
    assert len(SOURCES) + len(USES) == len(FLOWS)
    # every flow is non-negative except cash_in
    assert (f[1:] >= 0).all()
    # account identities: DSRA and lock-up balances move only by their flows
    dsra = r.states_cents[K["dsra_balance"]]
    lock = r.states_cents[K["lockup_balance"]]
    dsra_open = np.concatenate(
        [np.full((cash.shape[0], 1), s.dsra_initial_cents), dsra[:, :-1]], axis=1
    )
    lock_open = np.concatenate([np.zeros((cash.shape[0], 1), np.int64), lock[:, :-1]], axis=1)
    assert np.array_equal(
        dsra, dsra_open - f[F["dsra_draw"]] - f[F["dsra_release"]] + f[F["dsra_topup"]]
    )
    assert np.array_equal(lock, lock_open + f[F["lockup_deposit"]] - f[F["lockup_release"]])
    # reserve accounts are empty after the last period (nothing left in limbo)
    assert (dsra[:, -1] == 0).all() and (lock[:, -1] == 0).all()
    # debt accounts: balance falls exactly by principal + principal part of sweeps (the
    # senior notes' rows until refinanced; the refinancing draw then opens the new loan)
    period = np.arange(1, cash.shape[1] + 1)[None, :]
    rf = r.refinanced_period[:, None]
    notes = (rf == 0) | (period < rf)
    for k, name in enumerate(("senior", "mezzanine")):
        bal = r.states_cents[K[f"{name}_balance"]]
        opening = np.concatenate([np.full((cash.shape[0], 1), s.size_cents[k]), bal[:, :-1]], 1)
        cap = r.tranche_cash_cents[5 + k]  # interest the schedule capitalizes (non-cash)
        keep = notes if k == 0 else np.ones_like(notes)
        assert np.array_equal((opening + cap - bal)[keep], r.tranche_cash_cents[3 + k][keep])
        assert (cap >= 0).all()
        assert (bal >= 0).all()
    # refinancing: drawn only at the balloon period, and then the notes are repaid in full
    draw_r = f[F["refinancing_draw"]]
    M = s.balloon_period
    assert (draw_r[:, period[0] != M] == 0).all()
    assert np.array_equal(r.refinanced_period > 0, draw_r.sum(1) > 0)
    assert (r.default_period[0][r.refinanced_period > 0] == 0).all()
    served = f[F["senior_interest"]] + f[F["senior_principal"]] + f[F["senior_sweep"]]
    lender = (rf > 0) & (period > rf)  # periods the refinancing lender is served
    assert np.array_equal(r.tranche_cash_cents[0], np.where(lender, 0, served))
    assert np.array_equal(r.tranche_cash_cents[7], np.where(lender, served, 0) - draw_r)
    # the plain-Python reference and numba give the very same cents
    for m in ("python", "numba"):
        ref = run_waterfall(cash, s, opex=opex, refinancing=refi, method=m)
        for a in ("flows_cents", "states_cents", "tranche_cash_cents", "default_period",
                  "refinanced_period", "refinancing_default_period"):
            assert np.array_equal(getattr(r, a), getattr(ref, a)), (m, a)


def _random_case(seed: int, S: int = 300, T: int = 12):
    rng = np.random.default_rng(seed)
    cf = 1e7 * np.exp(0.35 * rng.standard_normal((S, T))) - 3e6 * (rng.random((S, T)) < 0.05)
    sen = size_debt(np.median(cf, 0), 1.3, 0.07, tenor_years=T - 2)
    mez = size_debt(np.median(cf, 0), 1.1, 0.12, senior_service_usd=sen.debt_service_usd)
    s = structure_from_schedules(
        sen, mez, periods=T, dsra_months=6, lockup_dscr=1.15, sweep_fraction=0.3, grace_years=1
    )
    return to_cents(cf), s


def test_numba_and_xp_and_python_agree_to_the_cent() -> None:
    cash, s = _random_case(3)
    a = run_waterfall(cash, s, method="xp")
    b = run_waterfall(cash, s, method="numba")
    c = run_waterfall(cash[:40], s, method="python")
    for attr in ("flows_cents", "states_cents", "tranche_cash_cents", "default_period"):
        assert np.array_equal(getattr(a, attr), getattr(b, attr)), attr
        assert np.array_equal(
            getattr(a, attr)[..., :40, :]
            if getattr(a, attr).ndim == 3
            else getattr(a, attr)[:, :40],
            getattr(c, attr),
        ), attr
    # summary mode returns the same tranche cash and final states
    d = run_waterfall(cash, s, method="numba", detail=False)
    e = run_waterfall(cash, s, method="xp", detail=False)
    assert np.array_equal(d.tranche_cash_cents, a.tranche_cash_cents)
    assert np.array_equal(d.final_states_cents, a.states_cents[:, :, -1])
    assert np.array_equal(e.final_states_cents, a.states_cents[:, :, -1])
    assert (a.default_period > 0).any() and (a.default_period == 0).any()  # case is mixed


def test_cash_that_matches_the_schedule_pays_it_exactly() -> None:
    T = 5
    cf = np.full(T, 1.3e6)
    sen = size_debt(cf, 1.3, 0.06)
    s = structure_from_schedules(sen, None, periods=T, dsra_months=0, lockup_dscr=1.2)
    svc = s.scheduled_service_cents[0]
    r = run_waterfall(svc[None, :].copy(), s)
    assert (r.default_period == 0).all()
    paid = r.flow("senior_interest")[0] + r.flow("senior_principal")[0]
    assert np.array_equal(paid, svc)
    assert np.array_equal(r.states_cents[K["senior_balance"], 0], s.target_balance_cents[0])
    assert r.states_cents[K["senior_balance"], 0, -1] == 0
    # DSCR = 1 < lock-up 1.2: nothing left to trap, nothing to equity
    assert (r.flow("equity") == 0).all()
    # the service equals the sculpted debt service to within a cent per year
    assert np.abs(svc - np.round(sen.debt_service_usd * 100)).max() <= 2


def test_grace_rule_and_accrual_on_a_hand_case() -> None:
    # one senior loan of $1,000 at 10 %, bullet in year 3; no cash in years 1-2
    sen = schedule_from_service("senior", np.array([100.0, 100.0, 1100.0]), 0.10, np.nan, 3)
    for grace, expect in ((0, 1), (1, 2), (2, 0)):
        s = structure_from_schedules(sen, None, periods=3, grace_years=grace)
        cash = np.array([[0, 0, 2_000_00]], dtype=np.int64)
        r = run_waterfall(cash, s)
        assert int(r.default_period[0, 0]) == expect
        # interest accrues on balance + arrears: 100, 210, then 331 due in year 3
        assert list(r.states_cents[K["senior_accrued"], 0, :2]) == [100_00, 210_00]
        assert r.flow("senior_interest")[0, 2] == 331_00
        assert r.flow("senior_principal")[0, 2] == 1_000_00
        assert r.flow("equity")[0, 2] == 2_000_00 - 1_331_00


def test_lockup_traps_cash_and_releases_it() -> None:
    sen = schedule_from_service("senior", np.array([100.0, 100.0, 100.0]), 0.0, np.nan, 3)
    s = structure_from_schedules(sen, None, periods=3, lockup_dscr=1.5, sweep_fraction=0.0)
    # DSCR 1.2 (breach) in year 1, 2.0 in year 2, 1.2 in year 3 (last: released)
    cash = np.array([[120_00, 200_00, 120_00]], dtype=np.int64)
    r = run_waterfall(cash, s)
    assert list(r.flow("lockup_deposit")[0]) == [20_00, 0, 0]
    assert list(r.flow("lockup_release")[0]) == [0, 20_00, 0]
    assert list(r.flow("equity")[0]) == [0, 120_00, 20_00]
    # with a full sweep the trapped cash prepays senior instead
    s2 = structure_from_schedules(sen, None, periods=3, lockup_dscr=1.5, sweep_fraction=1.0)
    r2 = run_waterfall(cash, s2)
    assert r2.flow("senior_sweep")[0, 0] == 20_00
    assert r2.states_cents[K["senior_balance"], 0, 0] == 300_00 - 100_00 - 20_00


def test_dsra_covers_a_shortfall_and_avoids_default() -> None:
    sen = schedule_from_service("senior", np.full(4, 100.0), 0.0, np.nan, 4)
    s = structure_from_schedules(sen, None, periods=4, dsra_months=12)
    assert s.dsra_initial_cents == 100_00
    r = run_waterfall(np.array([[150_00, 0, 250_00, 150_00]], dtype=np.int64), s)
    assert int(r.default_period[0, 0]) == 0
    assert list(r.flow("dsra_draw")[0]) == [0, 100_00, 0, 0]
    assert list(r.flow("dsra_topup")[0]) == [0, 0, 100_00, 0]
    assert r.flow("dsra_release")[0, 3] == 100_00  # released at maturity


def test_bad_inputs_are_named() -> None:
    cash, s = _random_case(1, S=3, T=12)
    with pytest.raises(GridcapInputError, match="method"):
        run_waterfall(cash, s, method="fortran")
    with pytest.raises(GridcapInputError, match="int64"):
        run_waterfall(cash.astype(float), s)
    with pytest.raises(GridcapInputError, match="periods"):
        run_waterfall(cash[:, :5], s)
    with pytest.raises(GridcapInputError, match="lockup_dscr"):
        structure_from_schedules(None, None, periods=3, lockup_dscr=-1.0)
    with pytest.raises(GridcapInputError, match="sweep_fraction"):
        structure_from_schedules(None, None, periods=3, sweep_fraction=1.5)
    with pytest.raises(GridcapInputError, match="NaN"):
        to_cents([1.0, np.nan])


@pytest.mark.gpu
def test_cupy_matches_numpy() -> None:
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device visible")
    except Exception as err:  # pragma: no cover - depends on the machine
        pytest.skip(f"no CUDA device: {err}")
    cash, s = _random_case(5)
    a = run_waterfall(cash, s, method="xp")
    g = run_waterfall(cupy.asarray(cash), s, method="xp")
    assert np.array_equal(cupy.asnumpy(g.flows_cents), a.flows_cents)
    assert np.array_equal(cupy.asnumpy(g.default_period), a.default_period)


def _balloon_case(T: int = 8, M: int = 3, rate: float = 0.07, dsra: float = 0.0):
    sen = size_debt(np.full(T, 1e7), 1.35, rate, tenor_years=T)
    st_b = structure_from_schedules(sen, None, periods=T, dsra_months=dsra, senior_maturity=M)
    st_0 = structure_from_schedules(sen, None, periods=T, dsra_months=dsra)
    return st_b, st_0


def test_balloon_with_certain_refinancing_closed_form() -> None:
    """A balloon refinanced for certain at the notes' coupon: the draw equals the scheduled
    balance at M to the cent, the notes receive their service and then the balloon, the new
    lender lends it and is served exactly as the notes would have been, and equity's cash is
    the same as without a balloon (the refinancing is cash-neutral to it)."""
    T, M = 8, 3
    st_b, st_0 = _balloon_case(T, M)
    assert st_b.balloon_period == M and st_0.balloon_period == 0
    cash = to_cents(np.full((1, T), 1e7))
    refi = np.array([[10**6], [int(st_b.rate_e5[0])]], dtype=np.int64)  # ample, same rate
    for method in ("xp", "numba", "python"):
        b = run_waterfall(cash, st_b, refinancing=refi, method=method)
        n = run_waterfall(cash, st_0, method=method)
        balloon = int(st_b.target_balance_cents[0, M - 1])
        draw_r = b.flow("refinancing_draw")[0]
        assert draw_r.tolist() == [0] * (M - 1) + [balloon] + [0] * (T - M)
        notes, new, base = b.tranche_cash_cents[0, 0], b.tranche_cash_cents[7, 0], n.tranche_cash_cents[0, 0]
        assert np.array_equal(notes[:M - 1], base[:M - 1])
        assert notes[M - 1] == base[M - 1] + balloon and (notes[M:] == 0).all()
        assert new[M - 1] == -balloon and np.array_equal(new[M:], base[M:])
        assert np.array_equal(b.tranche_cash_cents[2], n.tranche_cash_cents[2])  # equity
        assert int(b.refinanced_period[0]) == M and int(b.default_period[0, 0]) == 0
        assert (conservation_residual(b) == 0).all()


def test_refinancing_failure_defaults_with_the_expected_loss() -> None:
    """Market closed at M, no reserve, CFADS c until M and none after: the notes default at M
    having received c of what was due, and the rest accrues interest (rounded half up, at
    the coupon) to the horizon end: the loss, to the cent."""
    T, M = 8, 3
    st_b, _ = _balloon_case(T, M)
    c = 1_000_000_000  # $10M in cents
    cash = np.zeros((1, T), dtype=np.int64)
    cash[0, :M] = c
    refi = np.array([[0], [int(st_b.rate_e5[0])]], dtype=np.int64)  # market closed
    r_e5 = int(st_b.rate_e5[0])
    owed = int(st_b.size_cents[0])
    for t in range(M - 1):  # on schedule until M
        owed = int(st_b.target_balance_cents[0, t])
    owed = owed + (owed * r_e5 + 50_000) // 100_000 - c  # everything due at M, c paid
    for _ in range(T - M):
        owed += (owed * r_e5 + 50_000) // 100_000
    for method in ("xp", "numba", "python"):
        res = run_waterfall(cash, st_b, refinancing=refi, method=method)
        assert int(res.default_period[0, 0]) == M and int(res.refinanced_period[0]) == 0
        assert int(res.final_states_cents[0, 0] + res.final_states_cents[1, 0]) == owed
        assert int(res.tranche_cash_cents[0, 0, M - 1]) == c
        assert (conservation_residual(res) == 0).all()


def test_refinancing_draws_follow_the_counter_based_rng() -> None:
    """Draws depend only on (seed, scenario): any subset gives the same rows; the closed-market
    share and the rate's mean and s.d. lie within Monte Carlo error of their terms."""
    from gridcap.optimizer.financing.waterfall import refinancing_inputs

    S = 20_000
    kw = dict(seed=11, rate=0.08, dscr=1.3, years=7, rate_sd=0.01, fail_probability=0.1)
    x = refinancing_inputs(np.arange(S), **kw)
    sub = np.array([5, 17, 19_999, 3])
    assert np.array_equal(refinancing_inputs(sub, **kw), x[:, sub])
    closed = x[0] == 0
    assert abs(closed.mean() - 0.1) < 4 * np.sqrt(0.1 * 0.9 / S)
    r = x[1] / 1e5
    assert abs(r.mean() - 0.08) < 4 * 0.01 / np.sqrt(S)
    assert abs(r.std() - 0.01) < 0.0005
    open_ = ~closed
    af = (1 - (1 + r[open_]) ** -7) / r[open_]
    np.testing.assert_allclose(x[0, open_] / 1e3, af / 1.3, atol=2e-3)  # floor, rate at 1e-5
    with pytest.raises(GridcapInputError, match="refinancing_fail_probability"):
        refinancing_inputs(np.arange(3), **{**kw, "fail_probability": 1.5})


def test_backends_agree_with_a_balloon() -> None:
    cash, _ = _random_case(5)
    S, T = cash.shape
    from gridcap.optimizer.financing.waterfall import refinancing_inputs

    sen = size_debt(np.full(T, 1e7), 1.3, 0.07, tenor_years=T)
    s = structure_from_schedules(sen, None, periods=T, dsra_months=6, lockup_dscr=1.15,
                                 sweep_fraction=0.3, senior_maturity=5)
    refi = refinancing_inputs(np.arange(S), seed=2, rate=0.08, dscr=1.3, years=T - 5,
                              rate_sd=0.02, fail_probability=0.15)
    a = run_waterfall(cash, s, refinancing=refi, method="xp")
    b = run_waterfall(cash, s, refinancing=refi, method="numba")
    c = run_waterfall(cash[:30], s, refinancing=refi[:, :30], method="python")
    for attr in ("flows_cents", "states_cents", "tranche_cash_cents"):
        assert np.array_equal(getattr(a, attr), getattr(b, attr)), attr
        assert np.array_equal(getattr(a, attr)[:, :30], getattr(c, attr)), attr
    for attr in ("default_period", "refinanced_period", "refinancing_default_period"):
        assert np.array_equal(getattr(a, attr), getattr(b, attr)), attr
        assert np.array_equal(getattr(a, attr)[..., :30], getattr(c, attr)), attr
    assert (a.refinanced_period > 0).any() and (a.default_period[0] == 5).any()  # mixed case
    assert (conservation_residual(a) == 0).all()
