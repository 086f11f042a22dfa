"""Tokenized tranche units: unit counts, per-unit distributions, settlement lag, rule export.

A tranche of ``size`` dollars is cut into ``floor(size / unit_size)`` units; the remainder
below one unit (the *stub*) stays with the arranger and ranks pari passu. Each period the
tokenized share of the tranche's cash (``floor(cash * units * unit / size)`` cents) is split
equally over the units; the cents that do not divide evenly (*dust*) carry to the next
period, so nothing is created or lost.

The waterfall is exported as a machine-readable rule set (JSON, :func:`waterfall_rules`)
and a per-period distribution ledger (CSV, :func:`ledger_rows` / :func:`write_ledger_csv`)
that :func:`replay_ledger` — plain Python and :mod:`decimal`, no numpy — re-computes to the
cent from the rules and the ledger's input columns (``cash_in``, ``opex``). That is what an
on-chain implementation would have to reproduce.
"""

from __future__ import annotations

import csv
import json
import math
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from gridcap.errors import GridcapInputError
from gridcap.optimizer.financing.waterfall import (
    DSCR_SCALE,
    FLOWS,
    MONTH_SCALE,
    RATE_SCALE,
    STATES,
    WaterfallStructure,
)

#: Hours in a year used to turn a settlement lag into a fraction of a year [h].
HOURS_PER_YEAR = 8760.0
#: Settlement lag of a T+2 securities settlement [h] (two days; business days ignored).
T_PLUS_2_HOURS = 48.0
RULES_VERSION = "gridcap-waterfall/2"
TOKEN_TRANCHES = ("senior", "mezzanine", "equity")


def token_units(size_usd: float, unit_size_usd: float, min_ticket_usd: float) -> dict[str, Any]:
    """Cut a tranche into units.

    Parameters
    ----------
    size_usd : float
        Tranche face value [$] (>= 0).
    unit_size_usd : float
        Face value of one unit [$] (> 0).
    min_ticket_usd : float
        Minimum investment [$] (>= unit size).

    Returns
    -------
    dict
        ``unit_count`` [1], ``tokenized_usd`` and ``stub_usd`` [$], ``min_ticket_units``
        [1] (units in the smallest position) and ``max_holders`` [1] (positions possible at
        the minimum ticket).

    Examples
    --------
    >>> token_units(50e6, 1000.0, 5000.0)["max_holders"]
    10000
    """
    if not np.isfinite(unit_size_usd) or unit_size_usd <= 0:
        raise GridcapInputError(f"unit_size_usd = {unit_size_usd!r}: expected a value > 0 [$]")
    if not np.isfinite(min_ticket_usd) or min_ticket_usd < unit_size_usd:
        raise GridcapInputError(
            f"min_ticket_usd = {min_ticket_usd!r}: expected at least unit_size_usd = "
            f"{unit_size_usd:g} [$]"
        )
    size_c = max(round(float(size_usd) * 100), 0) if np.isfinite(size_usd) else 0
    unit_c = round(unit_size_usd * 100)
    units = size_c // unit_c
    ticket_units = math.ceil(round(min_ticket_usd * 100) / unit_c)
    return {
        "unit_count": int(units),
        "unit_size_cents": int(unit_c),
        "size_cents": int(size_c),
        "tokenized_usd": units * unit_c / 100.0,
        "stub_usd": (size_c - units * unit_c) / 100.0,
        "min_ticket_units": int(ticket_units),
        "max_holders": int(units // ticket_units),
    }


def per_unit_distributions(
    cash_cents: list[int], size_cents: int, unit_count: int, unit_size_cents: int
) -> tuple[list[int], list[int], list[int]]:
    """Split a tranche's cash per period into equal per-unit payments, carrying dust.

    Parameters
    ----------
    cash_cents : list of int
        Tranche cash per period [cents] (negative values — equity injections — pay 0).
    size_cents, unit_count, unit_size_cents : int
        Tranche face [cents], units [1], unit face [cents].

    Returns
    -------
    (pool, per_unit, dust) : lists of int
        Token pool share of the cash, payment per unit, and dust carried forward [cents].

    Notes
    -----
    ``pool_t = floor(max(cash_t, 0) * units * unit / size)``;
    ``per_unit_t = floor((pool_t + dust_{t-1}) / units)``;
    ``dust_t = pool_t + dust_{t-1} - units * per_unit_t``.
    """
    pool, per, dust = [], [], []
    d = 0
    tok = unit_count * unit_size_cents
    for c in cash_cents:
        p = (max(int(c), 0) * tok) // size_cents if size_cents > 0 and unit_count > 0 else 0
        u = (p + d) // unit_count if unit_count > 0 else 0
        d = p + d - u * unit_count
        pool.append(p)
        per.append(u)
        dust.append(d)
    return pool, per, dust


def cash_drag(expected_cash_usd: Any, rate: float, lag_hours: float) -> float:
    """Present value lost by receiving each distribution ``lag_hours`` late [$].

    Parameters
    ----------
    expected_cash_usd : array_like, shape (T,)
        Expected distributions at the end of years 1..T [$].
    rate : float
        Investor's opportunity rate [1/yr].
    lag_hours : float
        Settlement lag [h] (stablecoin: minutes; T+2: 48 h).

    Returns
    -------
    float
        ``sum_t E[CF_t] (1+r)^-t (1 - (1+r)^(-lag/8760))`` [$].
    """
    cf = np.asarray(expected_cash_usd, dtype=float)
    t = np.arange(1, len(cf) + 1)
    pv = float((cf * (1.0 + rate) ** -t).sum())
    return pv * (1.0 - (1.0 + rate) ** (-float(lag_hours) / HOURS_PER_YEAR))


def waterfall_rules(structure: WaterfallStructure, units: dict[str, dict[str, Any]]) -> dict:
    """Machine-readable rule set of the waterfall and its token units.

    Parameters
    ----------
    structure : WaterfallStructure
        The contract terms (integer cents, fixed-point rates).
    units : dict
        ``{tranche: token_units(...)}`` for ``senior``, ``mezzanine`` and ``equity``.

    Returns
    -------
    dict
        JSON-serialisable rules: amounts in integer cents, rates as decimal strings, the
        ordered steps with their formulas, the default rule and the token terms.
    """

    def dec(x: int, scale: int) -> str:
        return str(Decimal(int(x)) / Decimal(scale))

    tranches = []
    for k, name in enumerate(structure.names):
        tranches.append(
            {
                "name": name,
                "size_cents": int(structure.size_cents[k]),
                "rate": dec(structure.rate_e5[k], RATE_SCALE),
                "maturity_period": int(structure.maturity[k]),
                "target_balance_cents": [int(v) for v in structure.target_balance_cents[k]],
                "scheduled_service_cents": [int(v) for v in structure.scheduled_service_cents[k]],
            }
        )
    return {
        "version": RULES_VERSION,
        "currency": "USD",
        "amount_unit": "cent (integer)",
        "period": "year; payments at period end; period numbers start at 1",
        "rounding": {
            "interest": "ROUND_HALF_UP to the cent of (balance + accrued) * rate",
            "dsra_target": "ROUND_HALF_UP to the cent of next senior service * months / 12",
            "sweep": "ROUND_FLOOR to the cent of cash * sweep_fraction",
            "token_pool": "ROUND_FLOOR to the cent of cash * tokenized_face / size",
            "per_unit": "ROUND_FLOOR; remainder carried as dust",
        },
        "periods": structure.periods,
        "tranches": tranches,
        "refinancing": {
            "legal_maturity_period": int(structure.balloon_period),
            "balloon_target_cents": (
                int(structure.target_balance_cents[0, structure.balloon_period - 1])
                if structure.balloon_period
                else 0
            ),
            "inputs": "ledger columns refinancing_multiple_e3 (capacity / CFADS, 1e-3 units; 0: "
            "market closed) and refinancing_rate_e5 (1e-5 units)",
            "rule": "at legal_maturity_period everything the senior notes owe is due; capacity "
            "= floor(cfads * multiple); if capacity + cash + dsra >= due and the notes are not "
            "in default, refinancing_draw = min(capacity, max(due - scheduled due, due - cash - "
            "dsra)), else 0; after paying the notes the senior ledger holds the refinancing "
            "loan: balance = draw, rate = refinancing rate, scale f = floor(draw * 1e5 / "
            "balloon_target_cents); later senior targets, DSRA and covenant service use "
            "floor(schedule * f / 1e5)",
        },
        "dsra": {
            "months": dec(structure.dsra_months_e3, MONTH_SCALE),
            "initial_cents": int(structure.dsra_initial_cents),
        },
        "covenant": {
            "lockup_dscr": dec(structure.lockup_dscr_e4, DSCR_SCALE),
            "sweep_fraction": dec(structure.sweep_e5, RATE_SCALE),
            "test": "cfads < lockup_dscr * (scheduled senior + mezzanine service), "
            "while any debt is owed",
        },
        "default_rule": {
            "grace_periods": int(structure.grace_years),
            "text": "a tranche defaults when its interest stays (partly) unpaid for more than "
            "grace_periods consecutive periods, or anything is owed after its "
            "maturity period; then it is accelerated, the lock-up account goes to "
            "the lenders and all cash sweeps senior then mezzanine",
        },
        "steps": [
            {
                "step": 1,
                "pay": "opex",
                "rule": "cash = cash_in - opex; a negative cash is met by equity_injection",
            },
            {
                "step": 2,
                "pay": "senior_interest",
                "rule": "i = interest(balance + accrued); due = balance + accrued + i if "
                "accelerated, at legal maturity or at/after maturity, else max(accrued, balance "
                "+ accrued + i - target_balance[t]); refinancing_draw at legal maturity (see "
                "refinancing) is added to cash first; interest due = min(accrued + i, due), "
                "the rest of accrued + i is capitalized into the balance (sculpted years of little "
                "cash); dsra_draw = min(dsra, max(0, due - cash)) first",
            },
            {
                "step": 3,
                "pay": "senior_principal",
                "rule": "principal due = due - interest due",
            },
            {
                "step": 4,
                "pay": "dsra_topup",
                "rule": "target = round(scheduled_service[t+1] * "
                "months / 12) while senior is owed, else 0; excess released as dsra_release",
            },
            {"step": 5, "pay": "mezzanine_interest", "rule": "as step 2, no DSRA"},
            {"step": 6, "pay": "mezzanine_principal", "rule": "as step 3"},
            {
                "step": 7,
                "pay": "senior_sweep, mezzanine_sweep, lockup_deposit",
                "rule": "in default: release lock-up, sweep all cash (accrued first, then "
                "balance); on covenant breach: sweep floor(cash * sweep_fraction), lock up the "
                "rest (released in the last period); else release the lock-up account",
            },
            {"step": 8, "pay": "equity", "rule": "the rest"},
        ],
        "flows": list(FLOWS),
        "states": list(STATES),
        "tokens": {
            name: {
                "unit_size_cents": u["unit_size_cents"],
                "unit_count": u["unit_count"],
                "size_cents": u["size_cents"],
                "cash_column": ("equity" if name == "equity" else f"{name}_total"),
                "min_ticket_units": u["min_ticket_units"],
            }
            for name, u in units.items()
        },
    }


def ledger_rows(
    flows_cents: np.ndarray,
    states_cents: np.ndarray,
    capitalized_cents: np.ndarray,
    default_period: Any,
    rules: dict,
    refinancing: tuple[int, int] = (0, 0),
    refinanced_period: int = 0,
) -> list[dict[str, int]]:
    """Per-period distribution ledger of one scenario.

    Parameters
    ----------
    flows_cents : numpy.ndarray of int64, shape (15, T)
        The scenario's flows (:data:`~gridcap.optimizer.financing.waterfall.FLOWS`) [cents].
    states_cents : numpy.ndarray of int64, shape (6, T)
        Closing states [cents].
    capitalized_cents : numpy.ndarray of int64, shape (2, T)
        Senior / mezzanine interest capitalized by the schedule (non-cash) [cents]
        (rows 5-6 of ``WaterfallResult.tranche_cash_cents``).
    default_period : sequence of int, length 2
        Senior / mezzanine default period (0: none) [yr].
    rules : dict
        :func:`waterfall_rules` output (token terms).
    refinancing : tuple of int
        The scenario's refinancing capacity multiple [1e-3] and rate [1e-5/yr] (inputs).
    refinanced_period : int
        Period the balloon was refinanced, 0 if not [yr].

    Returns
    -------
    list of dict
        One row per period: ``period``, every flow and state, ``senior_default`` /
        ``mezzanine_default`` (0/1 from that period on), ``*_capitalized``, per tranche
        ``*_total`` cash and token columns ``*_token_pool``, ``*_per_unit``, ``*_dust`` [cents].
    """
    T = flows_cents.shape[1]
    rows: list[dict[str, int]] = [
        {"period": t + 1, "refinancing_multiple_e3": int(refinancing[0]),
         "refinancing_rate_e5": int(refinancing[1])}
        for t in range(T)
    ]
    for i, name in enumerate(FLOWS):
        for t in range(T):
            rows[t][name] = int(flows_cents[i, t])
    for i, name in enumerate(STATES):
        for t in range(T):
            rows[t][name] = int(states_cents[i, t])
    for k, name in enumerate(("senior", "mezzanine")):
        for t in range(T):
            rows[t][f"{name}_default"] = int(0 < int(default_period[k]) <= t + 1)
            rows[t][f"{name}_capitalized"] = int(capitalized_cents[k, t])
            rows[t][f"{name}_total"] = (
                rows[t][f"{name}_interest"]
                + rows[t][f"{name}_principal"]
                + rows[t][f"{name}_sweep"]
            )
    for t in range(T):  # the notes' cash stops once refinanced; the new lender's starts
        later = 0 < refinanced_period < t + 1
        served = rows[t]["senior_total"]
        rows[t]["senior_total"] = 0 if later else served
        rows[t]["refinancing_total"] = (served if later else 0) - rows[t]["refinancing_draw"]
    for name, tok in rules["tokens"].items():
        col = [rows[t][tok["cash_column"]] for t in range(T)]
        pool, per, dust = per_unit_distributions(
            col, tok["size_cents"], tok["unit_count"], tok["unit_size_cents"]
        )
        for t in range(T):
            rows[t][f"{name}_token_pool"] = pool[t]
            rows[t][f"{name}_per_unit"] = per[t]
            rows[t][f"{name}_dust"] = dust[t]
    return rows


def write_rules_json(rules: dict, path: str | Path) -> Path:
    """Write the rule set as pretty JSON; return the path."""
    p = Path(path)
    p.write_text(json.dumps(rules, indent=2, sort_keys=False) + "\n")
    return p


def write_ledger_csv(rows: list[dict[str, int]], path: str | Path) -> Path:
    """Write the ledger rows (integer cents) as CSV with a header; return the path."""
    p = Path(path)
    with p.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return p


# --------------------------------------------------------------------------------------
# Replay: plain Python + Decimal, from the JSON rules and the ledger's input columns.
# --------------------------------------------------------------------------------------
def _replay(
    rules: dict, cash_in: list[int], opex: list[int], refinancing: tuple[int, int] = (0, 0)
) -> list[dict[str, int]]:
    """Recompute the ledger from the rules with Decimal arithmetic (independent code)."""
    one = Decimal(1)
    refi = rules.get("refinancing", {})
    legal = int(refi.get("legal_maturity_period", 0))
    balloon_target = Decimal(refi.get("balloon_target_cents", 0))
    multiple = Decimal(refinancing[0]) / 1000
    refi_rate = Decimal(refinancing[1]) / RATE_SCALE
    scale = Decimal(1)  # the senior schedule's scale (R / balloon once refinanced)
    refinanced = 0
    half_up = ROUND_HALF_UP
    sen, mez = rules["tranches"]
    rate = [Decimal(sen["rate"]), Decimal(mez["rate"])]
    mat = [sen["maturity_period"], mez["maturity_period"]]
    tb = [sen["target_balance_cents"], mez["target_balance_cents"]]
    sd = [sen["scheduled_service_cents"], mez["scheduled_service_cents"]]
    months = Decimal(rules["dsra"]["months"])
    lock_dscr = Decimal(rules["covenant"]["lockup_dscr"])
    sweep_frac = Decimal(rules["covenant"]["sweep_fraction"])
    grace = rules["default_rule"]["grace_periods"]
    bal = [Decimal(sen["size_cents"]), Decimal(mez["size_cents"])]
    acc = [Decimal(0), Decimal(0)]
    arrears = [0, 0]
    dflt = [0, 0]
    dsra = Decimal(rules["dsra"]["initial_cents"])
    lock = Decimal(0)
    T = len(cash_in)
    out = []

    def interest(k: int) -> Decimal:
        return acc[k] + ((bal[k] + acc[k]) * rate[k]).quantize(one, rounding=half_up)

    def scaled(x: int) -> Decimal:
        return (Decimal(x) * scale).quantize(one, rounding=ROUND_FLOOR)

    for t in range(T):
        p = t + 1
        last = p == T
        notes = refinanced == 0
        row: dict[str, Decimal] = {"refinancing_draw": Decimal(0)}
        cash = Decimal(cash_in[t]) - Decimal(opex[t])
        row["cash_in"] = Decimal(cash_in[t])
        row["opex"] = Decimal(opex[t])
        row["equity_injection"] = max(-cash, Decimal(0))
        cash = max(cash, Decimal(0))
        cfads = cash
        paid = {}
        for k, name in enumerate(("senior", "mezzanine")):
            accrued_and_new = interest(k)  # arrears + this period's interest
            everything = bal[k] + accrued_and_new
            scheduled = max(acc[k], everything - (scaled(tb[0][t]) if k == 0 else tb[1][t]))
            if dflt[k] or p >= mat[k] or (k == 0 and p == legal):
                due = everything
            else:
                due = scheduled
            if k == 0 and p == legal:
                capacity = (cfads * multiple).quantize(one, rounding=ROUND_FLOOR)
                if not dflt[0] and capacity + cash + dsra >= due:
                    draw_r = min(capacity, max(due - scheduled, due - cash - dsra))
                    cash += draw_r
                    row["refinancing_draw"] = draw_r
            due_i = min(accrued_and_new, due)
            row[f"{name}_capitalized"] = accrued_and_new - due_i
            bal[k] += accrued_and_new - due_i
            due_p = due - due_i
            if k == 0:
                draw = min(dsra, max(Decimal(0), due - cash))
                dsra -= draw
                cash += draw
                row["dsra_draw"] = draw
            pi = min(cash, due_i)
            cash -= pi
            acc[k] = due_i - pi
            pp = min(cash, due_p)
            cash -= pp
            bal[k] -= pp
            paid[name] = (pi, pp)
            if k == 0:
                arrears[0] = arrears[0] + 1 if acc[0] > 0 else 0
                if not dflt[0] and (
                    arrears[0] > grace or ((p >= mat[0] or p == legal) and bal[0] + acc[0] > 0)
                ):
                    dflt[0] = p
                if row["refinancing_draw"] > 0:  # the refinancing loan opens
                    refinanced = p
                    bal[0] += row["refinancing_draw"]
                    rate[0] = refi_rate
                    scale = (row["refinancing_draw"] * RATE_SCALE / balloon_target).quantize(
                        one, rounding=ROUND_FLOOR) / RATE_SCALE
                target = Decimal(0)
                if not last and bal[0] + acc[0] > 0:
                    target = (scaled(sd[0][t + 1]) * months / 12).quantize(one, half_up)
                top = min(cash, max(target - dsra, Decimal(0)))
                rel = max(dsra - target, Decimal(0))
                cash += rel - top
                dsra += top - rel
                row["dsra_topup"], row["dsra_release"] = top, rel
        arrears[1] = arrears[1] + 1 if acc[1] > 0 else 0
        if not dflt[1] and (arrears[1] > grace or (p >= mat[1] and bal[1] + acc[1] > 0)):
            dflt[1] = p
        owed = bal[0] + acc[0] + bal[1] + acc[1]
        sched = scaled(sd[0][t]) + Decimal(sd[1][t])
        in_default = bool(dflt[0] or dflt[1]) and owed > 0
        breach = owed > 0 and sched > 0 and cfads < lock_dscr * sched and not in_default
        lrel = lock if (in_default or not breach or last) else Decimal(0)
        lock -= lrel
        cash += lrel
        if in_default:
            sw = cash
        elif breach:
            sw = (cash * sweep_frac).quantize(one, rounding=ROUND_FLOOR)
        else:
            sw = Decimal(0)
        sweeps = []
        for k in range(2):
            s = min(sw, bal[k] + acc[k])
            x = min(s, acc[k])
            acc[k] -= x
            bal[k] -= s - x
            sw -= s
            cash -= s
            sweeps.append(s)
        dep = cash if (breach and not last and not dflt[0] and not dflt[1]) else Decimal(0)
        lock += dep
        cash -= dep
        row.update(
            {
                "lockup_release": lrel,
                "senior_interest": paid["senior"][0],
                "senior_principal": paid["senior"][1],
                "mezzanine_interest": paid["mezzanine"][0],
                "mezzanine_principal": paid["mezzanine"][1],
                "senior_sweep": sweeps[0],
                "mezzanine_sweep": sweeps[1],
                "lockup_deposit": dep,
                "equity": cash,
                "senior_balance": bal[0],
                "senior_accrued": acc[0],
                "mezzanine_balance": bal[1],
                "mezzanine_accrued": acc[1],
                "dsra_balance": dsra,
                "lockup_balance": lock,
                "senior_default": Decimal(int(dflt[0] > 0 and not refinanced)),
                "mezzanine_default": Decimal(int(dflt[1] > 0)),
            }
        )
        for name in ("senior", "mezzanine"):
            row[f"{name}_total"] = sum(paid[name]) + row[f"{name}_sweep"]
        served = row["senior_total"]
        row["senior_total"] = served if notes else Decimal(0)
        row["refinancing_total"] = (Decimal(0) if notes else served) - row["refinancing_draw"]
        out.append({k: int(v) for k, v in row.items()})
    # token distributions with dust carried (floor division in Decimal)
    for name, tok in rules["tokens"].items():
        units = Decimal(tok["unit_count"])
        face = Decimal(tok["size_cents"])
        tokenized = units * Decimal(tok["unit_size_cents"])
        dust = Decimal(0)
        for period in out:
            c = max(Decimal(period[tok["cash_column"]]), Decimal(0))
            pool = (
                (c * tokenized / face).quantize(one, ROUND_FLOOR)
                if face > 0 and units > 0
                else Decimal(0)
            )
            per = ((pool + dust) / units).quantize(one, ROUND_FLOOR) if units > 0 else Decimal(0)
            dust = pool + dust - per * units
            period[f"{name}_token_pool"] = int(pool)
            period[f"{name}_per_unit"] = int(per)
            period[f"{name}_dust"] = int(dust)
    return out


def replay_ledger(rules: dict | str | Path, ledger_csv: str | Path) -> list[str]:
    """Replay a distribution ledger from its JSON rules with plain Python and Decimal.

    Parameters
    ----------
    rules : dict or path
        Rule set (:func:`waterfall_rules`), as a dict or a JSON file.
    ledger_csv : path
        Ledger written by :func:`write_ledger_csv`.

    Returns
    -------
    list of str
        Every mismatch as ``"period 3, senior_interest: ledger 123 != replay 124"``; empty
        when the ledger replays to the cent.
    """
    rule_set: dict = rules if isinstance(rules, dict) else json.loads(Path(rules).read_text())
    with Path(ledger_csv).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise GridcapInputError(f"ledger_csv = {ledger_csv}: expected at least one period")
    refinancing = (
        int(rows[0].get("refinancing_multiple_e3", 0)),
        int(rows[0].get("refinancing_rate_e5", 0)),
    )
    replay = _replay(
        rule_set,
        [int(r["cash_in"]) for r in rows],
        [int(r["opex"]) for r in rows],
        refinancing,
    )
    problems = []
    for r, q in zip(rows, replay, strict=True):
        for key, val in q.items():
            if key not in r:
                problems.append(f"period {r['period']}, {key}: missing from the ledger")
            elif int(r[key]) != val:
                problems.append(f"period {r['period']}, {key}: ledger {r[key]} != replay {val}")
    return problems
