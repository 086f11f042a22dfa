"""Headroom analysis speed: seconds per region-year of hourly demand (target: well under 1 s).

Run ``python -m gridcap.benchmarks.bench_headroom [--regions R] [--years Y] [--repeat N]``;
it prints the machine, then the best-of-N wall time of :func:`gridcap.kernels.headroom.headroom`
(four limits, the paper's metrics) on R regions × Y synthetic 8,760-h years, per region-year,
and writes nothing. No timing assertion lives in the tests.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from gridcap.benchmarks.machine import cpu_info, load_average
from gridcap.kernels.headroom import headroom


def synthetic_demand(regions: int, years: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Daily + seasonal cosine demand with gamma noise [MW], months and year labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(years * 8760)
    month = (t % 8760) // 730 + 1
    year = 2016 + t // 8760
    doy = (t % 8760) / 24.0
    shape = (30_000.0 + 6_000.0 * np.cos(2 * np.pi * (t % 24 - 17) / 24)
             + 8_000.0 * np.cos(2 * np.pi * (doy - 200) / 365))
    demand = shape[None, :] + rng.gamma(3.0, 800.0, (regions, t.size))
    return demand, month, year


def run(regions: int = 7, years: int = 9, repeat: int = 3) -> dict[str, float]:
    """Best-of-``repeat`` seconds for the whole call and per region-year [s]."""
    demand, month, year = synthetic_demand(regions, years)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        headroom(demand, month, year, [0.25, 0.5, 1.0, 5.0])
        best = min(best, time.perf_counter() - t0)
    return {"regions": regions, "years": years, "seconds": best,
            "seconds_per_region_year": best / (regions * years)}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: print machine and figures as JSON lines."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=7)
    ap.add_argument("--years", type=int, default=9)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    print(json.dumps({"cpu": cpu_info(), "load_average": load_average()}))
    print(json.dumps(run(a.regions, a.years, a.repeat)))


if __name__ == "__main__":
    main()
