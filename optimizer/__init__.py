"""Siting, build-plan and financing models (Pyomo + HiGHS) and the capital-stack tools.

Public entry points (imported lazily so ``import gridcap.optimizer`` stays cheap):

- :func:`plan` / :class:`PlanOptions` — risk-aware siting and build plan (``siting``).
- :func:`finance` — size, run and price the capital stack (``financing``).
- :func:`size_debt` — sculpted debt by DSCR (``financing``).
- :func:`trace_chain` — kWh → GPU-hour → token attribution and cost stack (``chain``).
"""

from __future__ import annotations

from gridcap._lazy import lazy_getattr

_EXPORTS = {
    "plan": "siting",
    "PlanOptions": "siting",
    "PlanModel": "siting",
    "capital_recovery_factor": "siting",
    "select_scenarios": "scenario_selection",
    "empirical_cvar": "scenario_selection",
    "reliability": "flexibility",
    "flex_price": "flexibility",
    "alternative_cost": "flexibility",
    "settle": "settlement",
    "ledger": "settlement",
    "synthetic_study": "synthetic",
    "deterministic_study": "synthetic",
    "finance": "financing",
    "size_debt": "financing",
    "finance_terms": "financing",
    "write_finance_files": "financing",
    "size_stack": "sizing",
    "size_to_risk": "sizing",
    "run_waterfall": "waterfall",
    "tranche_metrics": "tranche_risk",
    "replay_ledger": "tokens",
    "token_units": "tokens",
    "trace_chain": "chain",
    "chain_ledger": "chain",
    "write_chain_ledger": "chain",
    "chain_summary_rows": "chain",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
