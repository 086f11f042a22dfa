"""Options of the Monte Carlo stage (:func:`gridcap.kernels.simulate`): one owner of defaults.

:class:`SimulateOptions` holds how many scenarios, which seed and backend, which hours
(:class:`~gridcap.kernels.periods.PeriodSampling`) and the compute assumptions of the site
model (:class:`~gridcap.kernels.compute.ComputeAssumptions`). The study config's
``study.seed``, ``study.backend`` and ``monte_carlo.scenarios`` keys are generated from it
and ``StudyConfig.simulate_options()`` builds one, so ``simulate(inputs, options)`` in a
notebook runs what ``gridcap run`` runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from gridcap.kernels.compute import ComputeAssumptions
from gridcap.kernels.periods import PeriodSampling
from gridcap.kernels.sites import FLEX_PAYMENT_USD_PER_KW_YR
from gridcap.params import check_params, param

__all__ = ["BACKEND_CHOICES", "UNSET", "SimulateOptions", "merge_options"]

#: Marks a keyword of :func:`gridcap.kernels.simulate` left out (``None`` means something
#: for ``contracts``: no contracted cash flows).
UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET"})()

#: Backend names a study may ask for (``auto``: the fastest available here).
BACKEND_CHOICES = ("auto", "numpy", "numba-cpu", "numba-cuda", "cupy")
_PERIODS = PeriodSampling()
_COMPUTE = ComputeAssumptions()


@dataclass(frozen=True)
class SimulateOptions:
    """The Monte Carlo stage's parameter table."""

    scenarios: int = param(
        64, "1", "number of Monte Carlo scenarios", lo=1, hi=1_000_000,
        source="modelling choice: enough for the 5 % CVaR tail of a small study")
    seed: int = param(0, "1", "master seed of every random stream", lo=0, hi=2**63 - 1,
                      source="user choice (results are reproducible per seed)")
    backend: str = param("auto", "", "Monte Carlo backend", choices=BACKEND_CHOICES)
    scenario_offset: int = param(
        0, "1", "global index of the first scenario (batches of one run)", lo=0,
        config=False)
    chunk_size: int | None = param(
        None, "1", "scenarios per internal batch (None: ~768 MiB of working memory)", lo=1,
        kind=int, config=False)
    periods: PeriodSampling = param(  # noqa: RUF009 - a frozen, shared default is safe
        _PERIODS, "", "which hours are simulated (monte_carlo.hours, representative)",
        kind=PeriodSampling, config=False)
    compute: ComputeAssumptions = param(  # noqa: RUF009 - frozen, shared default
        _COMPUTE, "", "GPUs per MW and GPU charge of the site model ([compute])",
        kind=ComputeAssumptions, config=False)

    contracts: Any = param(  # noqa: RUF009 - a string default
        "auto", "", "site contract terms: 'auto' (from the deals table per site), a "
        "kernels.contracts.SiteContracts, or None (no contracted cash flows)", kind=object,
        config=False)
    flex_payment_usd_per_kw_yr: float = param(
        FLEX_PAYMENT_USD_PER_KW_YR, "$/kW-yr", "payment per committed kW of DER flexibility "
        "credited to the pools (x delivery ratio); the study sets it with "
        "optimizer.flex_cost_usd_per_kw_yr, the planner's cost of the same payment", lo=0,
        hi=10_000, config=False,
        source="kernels.sites.FLEX_PAYMENT_USD_PER_KW_YR (Green Mountain Power BYOD: "
        "$9.65/kW-month = $115.80/kW-yr, or $850/kW up front for 10 years)")
    finance_years: int | None = param(
        None, "yr", "years of site cash flows for finance (None: the contracts' horizon)",
        lo=1, hi=100, kind=int, config=False)

    def problems(self, prefix: str = "SimulateOptions") -> list[str]:
        """Every value out of range, one sentence each (nested tables included)."""
        return (check_params(self, prefix) + self.periods.problems(f"{prefix}.periods")
                + check_params(self.compute, f"{prefix}.compute"))


def merge_options(options: SimulateOptions | None, **given: Any) -> SimulateOptions:
    """``options`` (or the defaults) with the keyword values that are not ``None`` applied.

    Keywords: the fields of :class:`SimulateOptions`, plus ``hours`` / ``representative``
    (into ``periods``) and ``gpus_per_mw`` / ``gpu_life_years`` (into ``compute``): the
    keyword form of :func:`gridcap.kernels.simulate`. ``contracts=None`` is a value (no
    contracts); :data:`UNSET` marks it left out.
    """
    o = SimulateOptions() if options is None else options
    given = {k: v for k, v in given.items() if v is not UNSET and (v is not None
                                                                    or k == "contracts")}
    periods = {k: given.pop(k) for k in ("hours", "representative") if k in given}
    if periods:
        given["periods"] = dataclasses.replace(o.periods, **periods)
    compute = {k: given.pop(k) for k in ("gpus_per_mw", "gpu_life_years") if k in given}
    if compute:
        given["compute"] = dataclasses.replace(o.compute, **compute)
    return dataclasses.replace(o, **given)
