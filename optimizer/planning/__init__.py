"""The planning room: the risk-aware siting/build-plan model (Pyomo + HiGHS) and its parts.

- ``siting`` — :func:`plan`, :class:`PlanOptions`, the model's families of variables and rows;
- ``solver`` — model assembly from numpy masks and the persistent in-memory HiGHS solver;
- ``scenario_selection`` — scenario reduction for the CVaR term;
- ``flexibility`` / ``settlement`` — flexibility prices and proof-of-flexibility settlement;
- ``synthetic`` — generated studies for tests and benchmarks.
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
    "synthetic_study": "synthetic",
    "deterministic_study": "synthetic",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
