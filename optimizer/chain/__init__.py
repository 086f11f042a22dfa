"""The chain room: kWh → GPU-hour → token attribution and cost stack per site (``trace``)."""

from __future__ import annotations

from gridcap._lazy import lazy_getattr

_EXPORTS = {
    "trace_chain": "trace",
    "chain_ledger": "trace",
    "write_chain_ledger": "trace",
    "chain_summary_rows": "trace",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
