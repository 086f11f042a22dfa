"""Scenario selection: a weighted representative subset of the Monte Carlo scenarios.

The siting model grows linearly with the number of scenarios (every scenario carries its own
dispatch, adequacy and energy rows), so a study with thousands of Monte Carlo scenarios keeps
``n`` of them, each weighted by the probability of the scenarios it represents.

Methods (:data:`METHODS`)
-------------------------
``fast_forward``
    Heitsch–Römisch fast forward selection [1]_: greedily add the scenario that most reduces
    the Kantorovich (Wasserstein-1) distance between the full empirical distribution and the
    reduced one; every deleted scenario passes its probability to its nearest kept scenario
    (the optimal redistribution [2]_). Distances are Euclidean in standardized features
    (peak and mean net load, price, capacity factors at peak, delivery ratios, AI utilization),
    scaled by 1/√(features).
``random``
    A seeded uniform sample with equal weights (a baseline).
``first``
    The first ``n`` scenarios with equal weights.

The error introduced is reported in :attr:`ScenarioSelection.errors`: the Kantorovich distance
(in standardized units) and the relative errors of the mean and of CVaR_α of a scenario
stress index (energy-weighted peak net load, ``Σ peak_net_load_mw · slice_hours`` [MWh]).

References
----------
.. [1] H. Heitsch and W. Römisch, "Scenario reduction algorithms in stochastic programming",
   Computational Optimization and Applications 24, 187–206, 2003.
.. [2] J. Dupačová, N. Gröwe-Kuska and W. Römisch, "Scenario reduction in stochastic
   programming", Mathematical Programming 95, 493–511, 2003.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError

__all__ = ["METHODS", "ScenarioSelection", "empirical_cvar", "scenario_features",
           "select_scenarios"]

METHODS = ("fast_forward", "random", "first")

FEATURES = ("peak_net_load_mw", "mean_net_load_mw", "price_usd_per_mwh", "solar_cf_at_peak",
            "wind_cf_at_peak", "flex_delivery_ratio", "ai_utilization")


@dataclass
class ScenarioSelection:
    """A weighted subset of scenarios.

    Attributes
    ----------
    indices : numpy.ndarray
        Positions of the kept scenarios along ``outcomes.scenario`` (sorted).
    weights : numpy.ndarray
        Probability of each kept scenario (sums to 1) [1].
    method : str
        Selection method.
    errors : dict of str to float
        ``kantorovich`` [standardized units], ``mean_stress_rel_error`` [1],
        ``cvar_stress_rel_error`` [1].
    """

    indices: np.ndarray
    weights: np.ndarray
    method: str
    errors: dict[str, float] = field(default_factory=dict)


def empirical_cvar(costs: np.ndarray, weights: np.ndarray, alpha: float) -> float:
    """CVaR_α of a discrete distribution: the mean of its worst ``1−α`` probability mass.

    Parameters
    ----------
    costs : numpy.ndarray
        Outcomes (e.g. scenario costs) [any unit].
    weights : numpy.ndarray
        Probabilities, summing to 1 [1].
    alpha : float
        Confidence level in [0, 1) [1].

    Returns
    -------
    float
        CVaR_α [same unit as ``costs``].

    Notes
    -----
    Sort descending, take probability mass ``1−α`` from the top, splitting the atom at the
    boundary, and average. This equals the optimum of Rockafellar–Uryasev's
    ``min_η η + Σ_w π_w (C_w − η)⁺ / (1−α)``.

    Examples
    --------
    >>> empirical_cvar(np.array([1.0, 2.0, 3.0, 4.0]), np.full(4, 0.25), 0.5)
    3.5
    """
    costs = np.asarray(costs, dtype=float)
    weights = np.asarray(weights, dtype=float)
    order = np.argsort(-costs, kind="stable")
    c = costs[order]
    p = weights[order]
    tail = 1.0 - alpha
    if tail <= 0:
        return float(c[0])
    cum = np.cumsum(p)
    take = np.clip(tail - (cum - p), 0.0, p)
    return float(np.sum(take * c) / tail)


def scenario_features(outcomes: xr.Dataset) -> np.ndarray:
    """Standardized feature matrix, one row per scenario [standardized units].

    Every non-scenario element of the :data:`FEATURES` present becomes a column, z-scored over
    scenarios; constant columns are dropped. Rows are scaled by 1/√(columns) so distances do
    not grow with the model size.
    """
    cols = []
    for name in FEATURES:
        if name not in outcomes or "scenario" not in outcomes[name].dims:
            continue
        da = outcomes[name].transpose("scenario", ...)
        cols.append(np.asarray(da.values, dtype=float).reshape(da.sizes["scenario"], -1))
    if not cols:
        raise GridcapInputError(
            f"outcomes has none of {FEATURES}: expected Monte Carlo outcomes to select from"
        )
    X = np.concatenate(cols, axis=1)
    X = np.where(np.isfinite(X), X, np.nanmean(X, axis=0, keepdims=True))
    sd = X.std(axis=0)
    keep = sd > 1e-12 * np.maximum(1.0, np.abs(X).max(axis=0))
    X = (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]
    if X.shape[1] == 0:
        return np.zeros((X.shape[0], 1))
    return X / np.sqrt(X.shape[1])


def _distances(X: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", X, X)
    D2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    # the Gram form loses ~1e-16 relative: round-off below that is an exact zero distance
    tol = 1e-12 * (sq[:, None] + sq[None, :] + 1e-300)
    D2 = np.where(D2 <= tol, 0.0, D2)
    np.fill_diagonal(D2, 0.0)
    return np.sqrt(D2)


def fast_forward_selection(D: np.ndarray, p: np.ndarray, n: int) -> np.ndarray:
    """Heitsch–Römisch fast forward selection on a distance matrix.

    Parameters
    ----------
    D : numpy.ndarray
        Pairwise distances (N × N) [feature units].
    p : numpy.ndarray
        Scenario probabilities [1].
    n : int
        Scenarios to keep.

    Returns
    -------
    numpy.ndarray
        Positions of the kept scenarios, in selection order.

    Notes
    -----
    Step k adds ``u = argmin_u Σ_i p_i min(z_i, D_iu)`` where ``z_i`` is the distance of i to
    the scenarios kept so far; ``O(n N²)`` time, ``O(N²)`` memory.
    """
    N = D.shape[0]
    z = np.full(N, np.inf)
    chosen: list[int] = []
    free = np.ones(N, dtype=bool)
    for _ in range(min(n, N)):
        cost = p @ np.minimum(z[:, None], D)
        cost[~free] = np.inf
        u = int(np.argmin(cost))
        chosen.append(u)
        free[u] = False
        z = np.minimum(z, D[:, u])
    return np.asarray(chosen, dtype=int)


def select_scenarios(outcomes: xr.Dataset, n: int, *, method: str = "fast_forward",
                     seed: int = 0, alpha: float = 0.95) -> ScenarioSelection:
    """Pick ``n`` weighted representative scenarios of the Monte Carlo outcomes.

    Parameters
    ----------
    outcomes : xarray.Dataset
        Monte Carlo outcomes with a ``scenario`` dimension.
    n : int
        Scenarios to keep (≥ 1).
    method : str
        One of :data:`METHODS`.
    seed : int
        Seed of the ``random`` method.
    alpha : float
        Confidence level for the reported CVaR error [1].

    Returns
    -------
    ScenarioSelection
        Kept positions (sorted), weights and errors.
    """
    if method not in METHODS:
        raise GridcapInputError(f"scenario_selection = {method!r}: expected one of {METHODS}")
    N = int(outcomes.sizes["scenario"])
    if not 1 <= n:
        raise GridcapInputError(f"scenarios_in_model = {n}: expected an integer >= 1")
    n = min(int(n), N)
    p = np.full(N, 1.0 / N)
    X = scenario_features(outcomes)
    D = _distances(X)
    if method == "fast_forward":
        keep = np.sort(fast_forward_selection(D, p, n))
    elif method == "random":
        keep = np.sort(np.random.default_rng(seed).choice(N, size=n, replace=False))
    else:
        keep = np.arange(n)
    nearest = keep[np.argmin(D[:, keep], axis=1)]
    if method == "fast_forward":
        weights = np.array([p[nearest == k].sum() for k in keep])
    else:
        weights = np.full(n, 1.0 / n)
    kant = float(np.sum(p * D[np.arange(N), nearest]))
    errors = {"kantorovich": kant}
    if "peak_net_load_mw" in outcomes:
        pk = outcomes["peak_net_load_mw"]
        hours = outcomes["slice_hours"] if "slice_hours" in outcomes.coords else 1.0
        stress = np.asarray((pk * hours).sum([d for d in pk.dims if d != "scenario"])
                            .transpose("scenario").values, dtype=float)
        full_mean = float(stress.mean())
        red_mean = float(weights @ stress[keep])
        full_cvar = empirical_cvar(stress, p, alpha)
        red_cvar = empirical_cvar(stress[keep], weights, alpha)
        errors["mean_stress_rel_error"] = abs(red_mean - full_mean) / max(abs(full_mean), 1e-12)
        errors["cvar_stress_rel_error"] = abs(red_cvar - full_cvar) / max(abs(full_cvar), 1e-12)
    return ScenarioSelection(keep, weights, method, errors)
