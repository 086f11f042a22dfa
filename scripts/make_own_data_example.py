"""Regenerate the files of the example datasets/examples/own-data/ (run from the repository
root: ``python scripts/make_own_data_example.py``).

The series are **synthetic**: scenario 0 of gridcap's own Monte Carlo drivers for ERCOT
(seed 11, full chronological year), written in the user-file layouts; they stand in for the
measured series (an ISO's hourly load, a reanalysis wind capacity factor) a user would bring.
The technology table is a copy of five shipped rows (datasets/data/technologies.csv, sources
in its cost_source / lead_time_basis columns) to edit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gridcap.config import load_config
from gridcap.datasets.loaders import DATA_DIR
from gridcap.kernels.drivers import clear_sky_pv, hourly_drivers
from gridcap.pipeline import build_inputs

HERE = Path(__file__).resolve().parent.parent / "datasets" / "examples" / "own-data"


def main() -> None:
    cfg = load_config(HERE / "study.toml", {"datasets.load": "synthetic",
                                            "datasets.wind": "synthetic",
                                            "datasets.technologies": "shipped"})
    reg = build_inputs(cfg).regions
    cs = clear_sky_pv(reg.lat.values, reg.lon.values, [str(z) for z in reg.timezone.values],
                      cfg.study.start_year, 8760)
    drv = hourly_drivers(np, seed=cfg.study.seed, scenarios=np.zeros(1, np.uint64),
                         lat=reg.lat.values, price_mean=reg.price_mean_usd_per_mwh.values,
                         cs=cs, hours=8760)
    load = np.round(reg.peak_load_mw.values[0] * drv["load_pu"][0, 0])
    # ERCOT's local standard time is UTC-6: local hour 0 of 1 January is 06:00Z
    times = pd.date_range(f"{cfg.study.start_year}-01-01T06:00", periods=8760, freq="h",
                          tz="UTC").strftime("%Y-%m-%dT%H:%MZ")
    pd.DataFrame({"time": times, "ERCOT": load.astype(np.int64)}).to_csv(HERE / "load.csv",
                                                                         index=False)
    wind = pd.DataFrame({"hour": np.arange(8760), "ERCOT": np.round(drv["wind_cf"][0, 0], 3)})
    wind.to_csv(HERE / "wind.csv", index=False)
    techs = pd.read_csv(DATA_DIR / "technologies.csv", dtype=str, keep_default_na=False)
    keep = ["gas_recip", "wind_onshore", "solar_utility", "battery_4h", "mine_conversion"]
    techs[techs.tech.isin(keep)].to_csv(HERE / "technologies.csv", index=False)


if __name__ == "__main__":
    main()
