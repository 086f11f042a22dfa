"""gridcap: grid and data-center capacity optimizer.

Monte Carlo load and dispatch over DER fleets and Bitcoin-mine conversion sites
(:mod:`gridcap.kernels`), a risk-aware siting and build-plan model solved by HiGHS through
Pyomo (:mod:`gridcap.optimizer`), tranche financing priced from the same scenarios, and
shipped data with provenance (:mod:`gridcap.datasets`).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
