"""Tokenized units: counts, dust-carrying per-unit distributions, settlement-lag drag, and
the JSON rules + CSV ledger replayed to the cent with plain Python and Decimal."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.optimizer.financing.sizing import size_debt
from gridcap.optimizer.financing.tokens import (
    T_PLUS_2_HOURS,
    cash_drag,
    ledger_rows,
    per_unit_distributions,
    replay_ledger,
    token_units,
    waterfall_rules,
    write_ledger_csv,
    write_rules_json,
)
from gridcap.optimizer.financing.waterfall import run_waterfall, structure_from_schedules, to_cents


def test_units_tickets_and_stub() -> None:
    u = token_units(50_000_123.45, 1000.0, 5000.0)
    assert u["unit_count"] == 50_000
    assert_allclose(u["stub_usd"], 123.45)
    assert u["min_ticket_units"] == 5 and u["max_holders"] == 10_000
    assert u["unit_count"] * 1000.0 + u["stub_usd"] == pytest.approx(50_000_123.45)
    with pytest.raises(GridcapInputError, match="min_ticket_usd = 500.*unit_size_usd = 1000"):
        token_units(1e6, 1000.0, 500.0)
    with pytest.raises(GridcapInputError, match="unit_size_usd = 0"):
        token_units(1e6, 0.0, 500.0)


def test_dust_carries_so_no_cent_is_lost() -> None:
    rng = np.random.default_rng(2)
    cash = [int(v) for v in rng.integers(-1000, 10**9, 40)]
    size, units, unit = 7_777_777_77, 7_777, 1_000_00
    pool, per, dust = per_unit_distributions(cash, size, units, unit)
    for t in range(len(cash)):
        prev = dust[t - 1] if t else 0
        assert pool[t] + prev == per[t] * units + dust[t]
        assert 0 <= dust[t] < units
        assert pool[t] <= max(cash[t], 0)
    assert sum(per) * units + dust[-1] == sum(pool)


def test_cash_drag_closed_form_and_ordering() -> None:
    r = 0.08
    cf = np.array([0.0, 0.0, 1e6])
    d = cash_drag(cf, r, 48.0)
    assert_allclose(d, 1e6 / 1.08**3 * (1 - 1.08 ** (-48 / 8760)))
    assert cash_drag(cf, r, 0.05) < d / 500
    assert cash_drag(cf, r, 0.0) == 0.0
    assert T_PLUS_2_HOURS == 48.0


def _ledger_case(tmp_path, seed: int = 11):
    rng = np.random.default_rng(seed)
    T = 8
    cf = 9e6 * np.exp(0.5 * rng.standard_normal((60, T)))
    opex = to_cents(rng.uniform(0, 1e6, (60, T)))
    sen = size_debt(np.full(T, 9e6), 1.3, 0.0655, tenor_years=6)
    mez = size_debt(np.full(T, 9e6), 1.1, 0.1175, senior_service_usd=sen.debt_service_usd)
    st = structure_from_schedules(
        sen, mez, periods=T, dsra_months=6, lockup_dscr=1.25, sweep_fraction=0.37, grace_years=1
    )
    cash = to_cents(cf) + opex
    res = run_waterfall(cash, st, opex=opex)
    units = {
        n: token_units(sz, 1000.0, 2500.0)
        for n, sz in (("senior", sen.size_usd), ("mezzanine", mez.size_usd), ("equity", 2.5e7))
    }
    rules = waterfall_rules(st, units)
    # pick a scenario with a default and a lock-up, so every rule is exercised
    d = res.default_period
    s = (
        int(np.flatnonzero((d[1] > 0) & (res.flows_cents[13].sum(1) > 0))[0])
        if ((d[1] > 0) & (res.flows_cents[13].sum(1) > 0)).any()
        else int(np.argmax(d[1]))
    )
    rows = ledger_rows(
        res.flows_cents[:, s],
        res.states_cents[:, s],
        res.tranche_cash_cents[5:7, s],
        d[:, s],
        rules,
    )
    rp = write_rules_json(rules, tmp_path / "rules.json")
    lp = write_ledger_csv(rows, tmp_path / "ledger.csv")
    return rp, lp, rows, res, s


def test_ledger_replays_to_the_cent_from_the_json_rules(tmp_path) -> None:
    rp, lp, rows, _, _ = _ledger_case(tmp_path)
    rules = json.loads(rp.read_text())
    assert rules["tranches"][0]["rate"] == "0.0655"
    assert [x["step"] for x in rules["steps"]] == list(range(1, 9))
    assert replay_ledger(rp, lp) == []
    # the ledger exercises lock-up, DSRA and a default
    assert any(r["lockup_deposit"] > 0 for r in rows)
    assert any(r["dsra_draw"] > 0 or r["dsra_topup"] > 0 for r in rows)
    assert rows[-1]["mezzanine_default"] == 1 or rows[-1]["senior_default"] == 1
    # every ledger row is conserved
    for r in rows:
        src = (
            r["cash_in"]
            + r["equity_injection"]
            + r["dsra_draw"]
            + r["dsra_release"]
            + r["lockup_release"]
        )
        use = sum(
            r[k]
            for k in (
                "opex",
                "senior_interest",
                "senior_principal",
                "dsra_topup",
                "mezzanine_interest",
                "mezzanine_principal",
                "senior_sweep",
                "mezzanine_sweep",
                "lockup_deposit",
                "equity",
            )
        )
        assert src == use


def test_replay_catches_a_one_cent_change(tmp_path) -> None:
    rp, lp, rows, _, _ = _ledger_case(tmp_path, seed=12)
    with lp.open() as fh:
        data = list(csv.DictReader(fh))
    data[2]["senior_interest"] = str(int(data[2]["senior_interest"]) + 1)
    with lp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(data[0]))
        w.writeheader()
        w.writerows(data)
    problems = replay_ledger(rp, lp)
    assert problems == [
        f"period 3, senior_interest: ledger {data[2]['senior_interest']} != "
        f"replay {rows[2]['senior_interest']}"
    ]
    # changing an input changes the payments the rules produce
    data[2]["senior_interest"] = str(rows[2]["senior_interest"])
    data[0]["cash_in"] = str(int(data[0]["cash_in"]) - 5_000_000_00)
    with lp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(data[0]))
        w.writeheader()
        w.writerows(data)
    assert replay_ledger(rp, lp)


def test_ledgers_with_a_refinanced_or_failed_balloon_replay_to_the_cent(tmp_path) -> None:
    """Scenarios that refinance at a shocked rate (rescaled schedule), meet a closed market or
    fall short at maturity all replay from the JSON rules with the independent Decimal code;
    changing the refinancing input column by one unit is caught."""
    from gridcap.optimizer.financing.waterfall import refinancing_inputs

    T, M, S = 10, 4, 40
    sen = size_debt(np.full(T, 1e7), 1.35, 0.07, tenor_years=T)
    mez = size_debt(np.full(T, 1e7), 1.1, 0.11, senior_service_usd=sen.debt_service_usd)
    st = structure_from_schedules(sen, mez, periods=T, dsra_months=6, lockup_dscr=1.1,
                                  sweep_fraction=0.5, senior_maturity=M)
    rng = np.random.default_rng(4)
    cash = to_cents(1e7 * np.exp(0.3 * rng.standard_normal((S, T))))
    refi = refinancing_inputs(np.arange(S), seed=9, rate=0.07, dscr=1.35, years=T - M,
                              rate_sd=0.02, fail_probability=0.25)
    units = {n: token_units(3e7, 1000.0, 1000.0) for n in ("senior", "mezzanine", "equity")}
    rules = waterfall_rules(st, units)
    rp = write_rules_json(rules, tmp_path / "rules.json")
    res = run_waterfall(cash, st, refinancing=refi, method="python")
    kinds = set()
    for i in range(S):
        rows = ledger_rows(res.flows_cents[:, i], res.states_cents[:, i],
                           res.tranche_cash_cents[5:7, i], res.default_period[:, i], rules,
                           refinancing=(int(refi[0, i]), int(refi[1, i])),
                           refinanced_period=int(res.refinanced_period[i]))
        lp = write_ledger_csv(rows, tmp_path / f"ledger{i}.csv")
        assert replay_ledger(rp, lp) == [], i
        kinds.add("refinanced" if res.refinanced_period[i] else
                  "closed" if refi[0, i] == 0 else "short")
        if i == 0:
            with lp.open() as fh:
                bad = list(csv.DictReader(fh))
            for r in bad:
                r["refinancing_rate_e5"] = str(int(r["refinancing_rate_e5"]) + 1)
            write_ledger_csv([{k: int(v) for k, v in r.items()} for r in bad], lp)
            assert replay_ledger(rp, lp) or not res.refinanced_period[0]
    assert {"refinanced", "closed"} <= kinds
