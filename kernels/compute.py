"""Compute assumptions of an AI data hall: GPUs per MW, GPU cost and life, tokens, PUE, PPA.

One owner (:class:`ComputeAssumptions`, the study's ``[compute]`` table) for the numbers the
Monte Carlo site model (:mod:`gridcap.kernels.sites`: GPUs per MW and the GPU capacity
charge) and the kWh → token chain (:mod:`gridcap.optimizer.chain.trace`) both use. The GPU
capacity charge is written once, :attr:`ComputeAssumptions.gpu_cost_usd_per_gpu_hour` =
capex straight-line over the life.

References
----------
.. [1] MLCommons, MLPerf Inference v4.1 results, datacenter closed division (Aug 2024).
.. [2] NVIDIA, DGX H100 datasheet / user guide: 8x H100 SXM, system power ~10.2 kW max.
.. [3] Uptime Institute, Global Data Center Survey (2023, 2024): average PUE 1.55-1.58.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from gridcap.params import param

__all__ = ["HOURS_PER_YEAR", "ComputeAssumptions"]

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class ComputeAssumptions:
    """The ``[compute]`` parameter table (each field: default, unit, source, range)."""

    model_class: str = param(
        "70B-class LLM inference on H100-class GPUs", "", "model class the token throughput "
        "refers to", kind=str, source="label of the tokens_per_gpu_hour figure")
    tokens_per_gpu_hour: float = param(
        1.0e7, "tokens/GPU-h", "AI tokens served per GPU-hour", lo=0, hi=1e12, lo_open=True,
        source="MLPerf Inference v4.1 (MLCommons, Aug 2024), llama2-70b-99 on 8x "
        "H100-SXM-80GB: 23,133 tokens/s Server = 1.04e7 per GPU-h, rounded down [1]")
    gpus_per_mw: float = param(
        780.0, "GPU/MW", "GPUs per MW of IT load", lo=0, hi=1e5, lo_open=True,
        source="NVIDIA DGX H100: 8 GPUs at ~10.2 kW max = 784 GPU/MW, rounded down [2]")
    gpu_capex_usd: float = param(
        35000.0, "$/GPU", "all-in capital cost per GPU", lo=0, hi=1e7,
        source="DGX H100 list ~$199,000 per 8 GPUs (~$24,900/GPU) + ~40 % fabric, storage, "
        "installation")
    gpu_life_years: float = param(
        5.0, "yr", "GPU depreciation life (straight line)", lo=0, hi=30, lo_open=True,
        source="seed article: old GPUs may be obsolete within ~5 years")
    pue: float = param(
        1.3, "1", "facility/IT energy ratio of new-build AI halls", lo=1, hi=3,
        source="Uptime Institute survey: average 1.55-1.58 (2020-2024), new large "
        "facilities 1.3 or better [3]")
    ppa_price_usd_per_mwh: float = param(
        0.0, "$/MWh", "fixed-price PPA hedge for data-center energy (0: unhedged)", lo=0,
        hi=1e4, source="study choice (0 = buy at the market price)")

    @property
    def gpu_cost_usd_per_gpu_hour(self) -> float:
        """GPU capacity charge [$/GPU-h]: capex straight-line over the life (the one formula).

        Examples
        --------
        >>> round(ComputeAssumptions().gpu_cost_usd_per_gpu_hour, 4)
        0.7991
        """
        return float(self.gpu_capex_usd) / (float(self.gpu_life_years) * HOURS_PER_YEAR)

    @classmethod
    def from_any(cls, compute: Any) -> ComputeAssumptions:
        """Build from ``None``, a mapping, a config section object or an instance.

        Missing keys take the defaults; unknown mapping keys are ignored here (the study
        config rejects them earlier). Values are not range-checked here (see
        :func:`gridcap.params.check_params`).
        """
        if compute is None:
            return cls()
        if isinstance(compute, cls):
            return compute
        names = [f.name for f in fields(cls)]
        if isinstance(compute, Mapping):
            given = {k: compute[k] for k in names if k in compute}
        else:
            given = {k: getattr(compute, k) for k in names if hasattr(compute, k)}
        return replace(cls(), **given)
