"""The Monte Carlo's hourly regional load years, for analyses that need the whole series.

:func:`gridcap.kernels.simulate` reduces hourly load to slice statistics inside the kernel;
the headroom analysis (:mod:`gridcap.kernels.headroom`) needs every hour. The drivers are
counter-based (keyed by seed and global scenario index), so the same load is regenerated
here, batch by batch, without running dispatch: scenario *s* of this function is scenario *s*
of ``simulate`` with the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gridcap.errors import GridcapInputError
from gridcap.kernels.drivers import clear_sky_pv, given_drivers, hourly_drivers

__all__ = ["simulated_load_years"]


def simulated_load_years(
    inputs: Any,
    *,
    scenarios: int,
    seed: int,
    hours: int = 8760,
    scenario_offset: int = 0,
    batch: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly regional load of each Monte Carlo scenario in the first planning year.

    Parameters
    ----------
    inputs : gridcap.schema.StudyInputs
        Study inputs (``regions`` with ``peak_load_mw``, ``lat``, ``lon``, ``timezone``,
        ``price_mean_usd_per_mwh``; ``years``).
    scenarios : int
        Number of scenarios S [1].
    seed : int
        The Monte Carlo seed [1].
    hours : int, default 8760
        Simulated hours from 1 January 00:00 local standard time [h], a multiple of 24.
    scenario_offset : int, default 0
        Global index of the first scenario [1].
    batch : int, default 16
        Scenarios generated at once [1] (memory ≈ batch × regions × hours × 120 B).

    Returns
    -------
    load_mw : numpy.ndarray
        Regional load ``peak_load_mw × load_pu`` [MW], shape (S, R, hours), gross of DER
        output (as balancing-authority demand is); a region with a user load series
        (``inputs.hourly``) has that series in every scenario.
    month : numpy.ndarray of int
        Calendar month 1-12 of each simulated hour in the first planning year, shape (hours,).
    """
    if scenarios < 1 or hours < 24 or hours % 24 or hours > 8760:
        raise GridcapInputError(f"scenarios = {scenarios}, hours = {hours}: expected "
                                "scenarios ≥ 1 and hours a multiple of 24 in [24, 8760]")
    reg = inputs.regions
    lat = np.asarray(reg["lat"].values, np.float64)
    tzs = [str(z) for z in reg["timezone"].values]
    year0 = int(np.asarray(inputs.years)[0])
    cs = clear_sky_pv(lat, reg["lon"].values, tzs, year0, hours)
    peak = np.asarray(reg["peak_load_mw"].values, np.float64)
    pmean = np.asarray(reg["price_mean_usd_per_mwh"].values, np.float64)
    given = given_drivers(getattr(inputs, "hourly", None),
                          [str(r) for r in reg["region"].values], peak, np.arange(hours))
    out = np.empty((scenarios, lat.size, hours))
    for c0 in range(0, scenarios, batch):
        c1 = min(scenarios, c0 + batch)
        scen = np.arange(scenario_offset + c0, scenario_offset + c1, dtype=np.uint64)
        drv = hourly_drivers(np, seed=seed, scenarios=scen, lat=lat, price_mean=pmean, cs=cs,
                             hours=hours, given=given)
        out[c0:c1] = peak[None, :, None] * drv["load_pu"]
        del drv
    month = pd.date_range(f"{year0}-01-01", periods=hours, freq="h").month.to_numpy()
    return out, month.astype(np.int64)
