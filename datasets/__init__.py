"""Shipped data with provenance, seeded synthetic DER fleets, pvlib solar, shipped studies.

Loaders return ``(xarray.Dataset, metadata)`` with provenance in ``attrs``; see
``datasets/README.md`` for where each dataset comes from. Imports are lazy.
"""

from __future__ import annotations

from gridcap._lazy import lazy_getattr

_EXPORTS = {
    "read_mine_sites": "loaders",
    "read_technologies": "loaders",
    "read_regions": "loaders",
    "read_demand": "loaders",
    "read_emission_factors": "loaders",
    "list_studies": "loaders",
    "study_path": "loaders",
    "read_provenance": "loaders",
    "read_eia930": "eia930",
    "local_calendar": "eia930",
    "read_financings": "financings",
    "market_range": "financings",
    "market_check": "financings",
    "hourly_index": "solar",
    "synthetic_fleet": "fleet",
    "allocate_samples": "fleet",
    "read_der_enrollment": "enrollment",
    "read_interconnection_paths": "interconnection",
    "read_capacity_prices": "markets",
    "read_scarcity_pricing": "markets",
    "market_prices": "markets",
    "enrolled_premises": "enrollment",
    "clearsky_irradiance": "solar",
    "pv_output_kw_per_kw": "solar",
    "read_tmy": "solar",
    "hourly_series": "series",
    "read_hourly_series": "series",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
