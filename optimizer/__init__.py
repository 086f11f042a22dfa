"""Planning (Pyomo + HiGHS), project finance and the kWh → token chain, in three rooms.

- :mod:`gridcap.optimizer.planning` — the risk-aware siting/build-plan model and what it is
  built from: ``siting`` (:func:`plan`, :class:`PlanOptions`), ``solver`` (model assembly from
  numpy masks, persistent HiGHS), ``scenario_selection`` (CVaR scenario reduction),
  ``flexibility`` / ``settlement`` (flexibility prices and proof-of-flexibility settlement),
  ``synthetic`` (generated studies for tests and benchmarks).
- :mod:`gridcap.optimizer.financing` — the capital stack: ``project`` (:func:`finance`,
  :func:`size_debt`, terms, files), ``sizing`` (DSCR sculpting, PD-targeted sizing),
  ``waterfall`` (integer-cent scenario waterfall), ``tranche_risk`` (PD, EL, IRR, spread),
  ``tokens`` (units, per-unit distributions, ledger replay).
- :mod:`gridcap.optimizer.chain` — ``trace`` (:func:`trace_chain`): kWh → GPU-hour → token
  attribution and cost stack.

Every public name below stays importable from ``gridcap.optimizer`` (imported lazily so
``import gridcap.optimizer`` stays cheap).
"""

from __future__ import annotations

from gridcap._lazy import lazy_getattr

_EXPORTS = {
    "plan": "planning.siting",
    "PlanOptions": "planning.siting",
    "PlanModel": "planning.siting",
    "capital_recovery_factor": "planning.siting",
    "select_scenarios": "planning.scenario_selection",
    "empirical_cvar": "planning.scenario_selection",
    "reliability": "planning.flexibility",
    "flex_price": "planning.flexibility",
    "alternative_cost": "planning.flexibility",
    "settle": "planning.settlement",
    "ledger": "planning.settlement",
    "synthetic_study": "planning.synthetic",
    "deterministic_study": "planning.synthetic",
    "finance": "financing.project",
    "finance_project": "financing.project",
    "FinanceOptions": "financing.options",
    "size_debt": "financing.project",
    "finance_terms": "financing.project",
    "write_finance_files": "financing.project",
    "size_stack": "financing.sizing",
    "size_to_risk": "financing.sizing",
    "run_waterfall": "financing.waterfall",
    "tranche_metrics": "financing.tranche_risk",
    "replay_ledger": "financing.tokens",
    "token_units": "financing.tokens",
    "trace_chain": "chain.trace",
    "chain_ledger": "chain.trace",
    "write_chain_ledger": "chain.trace",
    "chain_summary_rows": "chain.trace",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
