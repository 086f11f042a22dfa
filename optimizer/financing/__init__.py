"""The finance room: size, run and price the capital stack of a plan.

- ``project`` — :func:`finance` (the stage entry), :func:`size_debt`, finance terms, files;
- ``sizing`` — DSCR sculpting and PD-targeted sizing of the tranches;
- ``waterfall`` — the scenario waterfall in integer cents (scalar and array bodies);
- ``tranche_risk`` — PD, EL, LGD, WAL, duration, IRR and spread per tranche;
- ``tokens`` — units, per-unit distributions, settlement-lag drag, ledger replay.
"""

from __future__ import annotations

from gridcap._lazy import lazy_getattr

_EXPORTS = {
    "finance": "project",
    "finance_project": "project",
    "FinanceOptions": "options",
    "size_debt": "project",
    "finance_terms": "project",
    "write_finance_files": "project",
    "size_stack": "sizing",
    "size_to_risk": "sizing",
    "run_waterfall": "waterfall",
    "tranche_metrics": "tranche_risk",
    "irr": "tranche_risk",
    "xirr": "tranche_risk",
    "xnpv": "tranche_risk",
    "replay_ledger": "tokens",
    "token_units": "tokens",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
