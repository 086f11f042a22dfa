"""Flexible interconnection of AI load: firm vs flexible placement in the siting model.

A *firm* AI MW is served like any load under uptime commitments: when the grid is short it is
covered by capacity or shed as an outage at the value of lost load
(``shed_ai`` at ``PlanOptions.firm_ai_shed_usd_per_mwh``), never at its lost margin. A
*flexible* AI MW connects under a curtailment agreement, the arrangement Norris et al. (2025)
size as curtailment-enabled headroom and
Google's 2025 demand-response agreements with Indiana Michigan Power and TVA put in
contract: it needs no new firm capacity, so it connects after ``lead_years`` instead of the
new-build lead, and in return

- it is **curtailed whenever it would lift the region's load above the planning peak**:
  ``curtail_flex[w,r,y,h] ≥ ai_flex[r,y] − (threshold[r,y] − peak[w,r,y,h])`` with the
  threshold the highest slice peak over the model's scenarios (the planners' peak; the
  headroom analysis' seasonal thresholds need seasons the slices may not carry);
- its curtailment may also relieve adequacy voluntarily, ``curtail_flex ≤ ai_flex``;
- curtailed energy per scenario and year stays within ``max_curtailment_pct`` % of its
  annual energy (``limit_basis="energy"``: ``Σ_h dur_h·curtail ≤ pct/100·8760·ai_flex``) or
  curtailment lasts at most ``pct/100·8760`` hours (``"hours"``: one binary per
  scenario-slice, ``curtail ≤ M·z``, ``Σ_h dur_h·z ≤ pct/100·8760``);
- each curtailed MWh costs ``curtailment_cost_usd_per_mwh`` (default: the AI load's lost
  margin ``ai_lost_margin_usd_per_mwh``), for ``dur_h = min(slice_hours, peak_shortfall_hours)``
  hours of the slice, as the model prices a shortfall at a slice peak.

**Converted mine sites** keep ``site_curtailable_share`` of their AI MW curtailable, under the
same budget and cost (voluntary: their interconnection is firm already).

With ``curtailment_cost → ∞`` no flexible MW is placed (any flexible MW is curtailed in the
slice at the planning peak) and no site curtails: the plan is the all-firm plan. Offering
flexibility adds columns to a feasible model, so the objective never increases. The value of
flexibility is the all-firm objective minus this one (:func:`attach_results` re-solves the
same persistent model with the flexible columns at zero) and the marginal value of a
flexible kW is the adequacy dual — the same capacity value that prices DER flexibility.

References
----------
Norris, T. H., et al. (2025). Rethinking Load Growth. Nicholas Institute, Duke University,
NI R 25-01. https://hdl.handle.net/10161/32077
Google (4 August 2025), demand-response agreements with Indiana Michigan Power and TVA for
machine-learning workloads (reported by Latitude Media, "Google expands demand response to
target machine learning workloads", https://www.latitudemedia.com/news/google-expands-demand-response-to-target-machine-learning-workloads).
Emerald AI, NVIDIA, Oracle, SRP, EPRI (2025). Turning AI data centers into grid-interactive
assets: field demonstration in Phoenix, Arizona (256 GPUs, −25 % power for 3 h, 3 May 2025),
arXiv:2507.00909.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridcap.errors import GridcapInputError
from gridcap.params import check_params, param

__all__ = ["FlexibleAIOptions", "add_flexible_ai",
           "add_flexible_ai_limits", "attach_results"]

INF = math.inf
HOURS_PER_YEAR = 8760.0

_BASES = ("energy", "hours")


@dataclass(frozen=True)
class FlexibleAIOptions:
    """Flexible interconnection of AI load: the documented parameter table (one owner).

    Attributes
    ----------
    lead_years : float
        Decision-to-power time of a flexible new-build AI connection [yr].
    max_curtailment_pct : float
        Curtailment limit [% of the flexible MW's annual energy, or of the year's hours].
    limit_basis : {"energy", "hours"}
        What the limit caps: curtailed energy (LP) or curtailed hours (one binary per
        scenario, region, year and slice; ``PlanOptions.relax_integers`` relaxes them too).
    curtailment_cost_usd_per_mwh : float or None
        Cost per curtailed MWh [$/MWh]; ``None``: ``ai_lost_margin_usd_per_mwh``.
    site_curtailable_share : float
        Share of a converted site's AI MW that stays curtailable [1].
    value_of_flexibility : bool
        Re-solve with no flexible MW and no site curtailment to report the all-firm plan's
        objective and AI placement next to this one.
    """

    lead_years: float = param(
        1.0, "yr", "decision-to-power time of a flexible (curtailable) new-build AI connection",
        lo=0, source="gridcap assumption: a flexible connection waits for no network upgrade "
        "or new firm capacity, so its decision-to-power time is the powered-shell and fit-out "
        "time; Norris et al. (2025) and Google/I&M (Aug 2025) say flexibility speeds "
        "interconnection but publish no figure")
    max_curtailment_pct: float = param(
        0.5, "%", "curtailment limit of flexible AI load (share of its annual energy or hours)",
        lo=0, lo_open=True, hi=100, source="Norris et al. (2025), Rethinking Load Growth, "
        "Nicholas Institute, Duke University, NI R 25-01: central case 0.5 % (98 GW over 22 "
        "BAs); 0.25 / 1 / 5 % sensitivities")
    limit_basis: str = param(
        "energy", "", "what the limit caps: curtailed energy (LP) or curtailed hours (MILP)",
        choices=_BASES, source="modelling choice: Norris et al. limit energy; interruptible "
        "tariffs often cap hours (e.g. 180 h/yr, Norris et al. footnote 18)")
    curtailment_cost_usd_per_mwh: float | None = param(
        None, "$/MWh", "cost per curtailed MWh of flexible AI load; None: the AI lost margin",
        lo=0, hi=1e9, nullable=True, source="derived: a curtailed MWh of compute loses its "
        "margin (PlanOptions.ai_lost_margin_usd_per_mwh)")
    site_curtailable_share: float = param(
        0.25, "1", "share of a converted mine site's AI MW that stays curtailable", lo=0, hi=1,
        source="Emerald AI, NVIDIA, Oracle, SRP, EPRI (2025), Phoenix field demonstration: "
        "256-GPU cluster power cut 25 % for 3 h on 3 May 2025 (arXiv:2507.00909)")
    value_of_flexibility: bool = param(
        True, "", "re-solve the all-firm plan to report the value of flexibility", kind=bool,
        source="modelling choice")

    def problems(self) -> list[str]:
        """Every option out of range, one sentence each (``flexible_ai.<field> = ...``)."""
        return check_params(self, "flexible_ai")


def _grid(W: int, pairs: tuple[np.ndarray, np.ndarray], H: int) -> tuple[np.ndarray, ...]:
    """(w, r, y, h) over every scenario and slice of the given (r, y) pairs."""
    rr, yy = pairs
    n = rr.size
    w = np.repeat(np.arange(W), n * H)
    j = np.tile(np.repeat(np.arange(n), H), W)
    h = np.tile(np.arange(H), W * n)
    return w, rr[j], yy[j], h, j


def _durations(m: Any) -> np.ndarray:
    """Hours a slice-peak curtailment lasts [h] (the model's shortfall convention)."""
    return np.minimum(m.data.slice_hours, m.options.peak_shortfall_hours)


def _expand(pair_of_row: np.ndarray, pair_cols: list[list[tuple[int, float]]]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows belonging to pairs, every (row, col, coef) of their pair's column list."""
    lens = np.array([len(lst) for lst in pair_cols], dtype=np.int64)
    flat_c = np.array([c for lst in pair_cols for c, _ in lst], dtype=np.int64)
    flat_v = np.array([v for lst in pair_cols for _, v in lst], dtype=np.float64)
    first = np.cumsum(lens) - lens
    rep = lens[pair_of_row]
    row = np.repeat(np.arange(pair_of_row.size), rep)
    k = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
    idx = np.repeat(first[pair_of_row], rep) + k
    return row, flat_c[idx], flat_v[idx]


def _curtailment_family(m: Any, name: str, pairs: tuple[np.ndarray, np.ndarray],
                        pair_cols: list[list[tuple[int, float]]],
                        doc: str) -> tuple[Any, tuple[np.ndarray, ...]]:
    """Curtailment columns over (w, pair, h) with ``curtail ≤ Σ coef·x`` over the pair's
    curtailable-MW columns, the per-(w, pair) budget, costs and the adequacy extras."""
    d = m.data
    fo = m.options.flexible_ai
    W, R, Y, H = d.scenarios.size, d.regions.size, d.years.size, d.slice_hours.size
    w, r, y, h, j = _grid(W, pairs, H)
    n = w.size
    coords = {"scenario": w, "region": r, "year": y, "slice": h}
    cf = m.b.add_variables(name, coords, doc=doc)
    i = np.arange(n)
    er, ec, ev = _expand(j, pair_cols)
    m.b.add_constraints(f"{name}_cap", coords, np.concatenate([i, er]),
                        np.concatenate([cf.cols, ec]), np.concatenate([np.ones(n), -ev]),
                        -INF, 0.0, doc="curtailment ≤ the curtailable AI MW [MW]",
                        inputs=("regions.ai_demand_mw",))
    dur = _durations(m)
    share = fo.max_curtailment_pct / 100.0
    n_pair = pairs[0].size
    wp = np.repeat(np.arange(W), n_pair)
    jp = np.tile(np.arange(n_pair), W)
    pcoords = {"scenario": wp, "region": pairs[0][jp], "year": pairs[1][jp]}
    prow = w * n_pair + j  # budget row of each curtailment column
    if fo.limit_basis == "energy":
        br, bc, bv = _expand(jp, pair_cols)
        m.b.add_constraints(f"{name}_budget", pcoords, np.concatenate([prow, br]),
                            np.concatenate([cf.cols, bc]),
                            np.concatenate([dur[h], -share * HOURS_PER_YEAR * bv]), -INF, 0.0,
                            doc="curtailed energy ≤ limit × annual energy [MWh]")
    else:
        z = m.b.add_variables(f"{name}_on", coords, 0.0, 1.0, integer=True,
                              doc="curtailment in the slice (0/1)")
        big = d.ai_limit[r] + _site_capacity(m)[r] + 1.0
        m.b.add_constraints(f"{name}_on_link", coords, np.concatenate([i, i]),
                            np.concatenate([cf.cols, z.cols]), np.concatenate([np.ones(n), -big]),
                            -INF, 0.0, doc="curtailment only in slices flagged on [MW]")
        m.b.add_constraints(f"{name}_budget", pcoords, prow, z.cols, dur[h], -INF,
                            share * HOURS_PER_YEAR,
                            doc="curtailed hours ≤ limit × 8760 [h]")
    m.cost("flex_ai_curtailment", cf.cols, d.discount[y] * dur[h], scen=w,
           param="flex_ai_curtailment")
    m.extras.setdefault("adequacy", []).append((((w * R + r) * Y + y) * H + h, cf.cols,
                                                np.ones(n)))
    return cf, (w, r, y, h)


def _site_capacity(m: Any) -> np.ndarray:
    """Interconnection MW of the sites per region [MW]."""
    d = m.data
    cap = np.zeros(d.regions.size)
    np.add.at(cap, d.site_region, d.interconnection)
    return cap


def add_flexible_ai(m: Any) -> None:
    """``ai_flex[r,y]`` flexible new-build AI MW and the curtailment of flexible AI load.

    Adds nothing when ``PlanOptions.flexible_ai`` is None (the all-firm model of today).
    Must run after ``add_conversions`` (site curtailment uses ``ai_site``) and before
    ``add_ai_placement`` / ``add_adequacy`` (which take the extras registered here).
    """
    d = m.data
    fo = m.options.flexible_ai
    R, Y = d.regions.size, d.years.size
    m.pos["ai_flex"] = np.full((R, Y), -1, dtype=np.int64)
    if fo is None:
        return
    cost = (fo.curtailment_cost_usd_per_mwh if fo.curtailment_cost_usd_per_mwh is not None
            else m.options.ai_lost_margin_usd_per_mwh)
    m.params["flex_ai_curtailment"] = float(cost)
    lag = math.ceil(fo.lead_years - 1e-9)
    ok = (np.arange(Y)[None, :] >= lag) & (d.ai_limit[:, None] > 0)
    r, y = np.nonzero(ok)
    if r.size:
        af = m.b.add_variables("ai_flex", {"region": r, "year": y}, 0.0, d.ai_limit[r],
                               doc="flexible new-build AI load placed [MW]")
        fpos = m.index_map("ai_flex", (R, Y), (r, y), af.start)
        m.extras.setdefault("ai_balance", []).append((r * Y + y, af.cols, np.ones(r.size)))
        from gridcap.optimizer.planning.siting import add_new_build_ai_cost  # no import cycle

        add_new_build_ai_cost(m, af.cols, y)
        _nondecreasing(m, fpos)
        cf, (w, r2, y2, h) = _curtailment_family(
            m, "curtail_flex", (r, y), [[(int(c), 1.0)] for c in af.cols],
            doc="flexible AI load curtailed at the slice peak [MW]")
        # mandatory: curtailed whenever the flexible MW would lift load above the threshold
        thr = d.peak.max(axis=(0, 3))                                          # [R, Y]
        slack = np.maximum(thr[r2, y2] - d.peak[w, r2, y2, h], 0.0)
        n = w.size
        i = np.arange(n)
        m.b.add_constraints(
            "curtail_flex_above_peak", {"scenario": w, "region": r2, "year": y2, "slice": h},
            np.concatenate([i, i]), np.concatenate([cf.cols, fpos[r2, y2]]),
            np.concatenate([np.ones(n), -np.ones(n)]), -slack, INF,
            doc="flexible AI curtailed above the planning peak: curtail ≥ ai_flex − headroom "
                "[MW]", inputs=("outcomes.peak_net_load_mw",))
        m.pos["curtail_flex_idx"] = np.stack([w, r2, y2, h])
    _add_site_curtailment(m)


def _nondecreasing(m: Any, fpos: np.ndarray) -> None:
    """Flexible AI MW placed do not shrink where the demand path grows."""
    d = m.data
    grows = np.zeros(fpos.shape, bool)
    grows[:, 1:] = d.ai_demand[:, 1:] >= d.ai_demand[:, :-1]
    ok = grows & (fpos >= 0)
    ok[:, 1:] &= fpos[:, :-1] >= 0
    ok[:, 0] = False
    e, yy = np.nonzero(ok)
    if e.size == 0:
        return
    i = np.arange(e.size)
    m.b.add_constraints("ai_flex_nondecreasing", {"region": e, "year": yy},
                        np.concatenate([i, i]), np.concatenate([fpos[e, yy], fpos[e, yy - 1]]),
                        np.concatenate([np.ones(e.size), -np.ones(e.size)]), 0.0, INF,
                        doc="flexible AI load placed does not shrink [MW]")


def _add_site_curtailment(m: Any) -> None:
    """Converted sites keep ``site_curtailable_share`` of their AI MW curtailable."""
    d = m.data
    fo = m.options.flexible_ai
    apos = m.pos.get("ai_site", np.zeros((0, d.years.size), int))
    if apos.size == 0 or fo.site_curtailable_share <= 0 or not (apos >= 0).any():
        return
    Y = d.years.size
    has = np.zeros((d.regions.size, Y), bool)
    s_idx, y_idx = np.nonzero(apos >= 0)
    has[d.site_region[s_idx], y_idx] = True
    r, y = np.nonzero(has)
    pair_of = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(r, y, strict=True))}
    pair_cols: list[list[tuple[int, float]]] = [[] for _ in range(r.size)]
    for s, yy in zip(s_idx, y_idx, strict=True):
        pair_cols[pair_of[(int(d.site_region[s]), int(yy))]].append(
            (int(apos[s, yy]), float(fo.site_curtailable_share)))
    _, (w, r2, y2, h) = _curtailment_family(
        m, "curtail_site", (r, y), pair_cols,
        doc="AI load at converted sites curtailed at the slice peak [MW]")
    m.pos["curtail_site_idx"] = np.stack([w, r2, y2, h])


def add_flexible_ai_limits(m: Any) -> None:
    """After placement and adequacy: ``ai_new + ai_flex ≤ ai_site_limit_mw`` and
    ``shed_ai + unserved_ai + curtail_flex + curtail_site ≤ ai_demand`` (no MW curtailed twice).
    """
    d = m.data
    if m.options.flexible_ai is None:
        return
    W, R, Y, H = d.scenarios.size, d.regions.size, d.years.size, d.slice_hours.size
    fpos, npos = m.pos["ai_flex"], m.pos["ai_new"]
    r, y = np.nonzero(fpos >= 0)
    if r.size:
        i = np.arange(r.size)
        rows, cols = [i], [fpos[r, y]]
        sel = npos[r, y] >= 0
        rows.append(i[sel])
        cols.append(npos[r[sel], y[sel]])
        m.b.add_constraints("ai_site_limit", {"region": r, "year": y}, np.concatenate(rows),
                            np.concatenate(cols), np.ones(sum(a.size for a in rows)), -INF,
                            d.ai_limit[r], doc="firm + flexible new-build AI ≤ siting limit [MW]",
                            inputs=("regions.ai_site_limit_mw",))
    w, r, y, h = np.nonzero(np.ones((W, R, Y, H), bool))
    n = w.size
    i = np.arange(n)
    rows = [i, i]
    cols = [m.b.var_families["shed_ai"].cols, m.pos["unserved_ai"][r, y]]
    for name in ("curtail_flex", "curtail_site"):
        fam = m.b.var_families.get(name)
        if fam is None:
            continue
        c = fam.coords
        rows.append(((c["scenario"] * R + c["region"]) * Y + c["year"]) * H + c["slice"])
        cols.append(fam.cols)
    m.b.add_constraints("ai_curtailment_total", {"scenario": w, "region": r, "year": y,
                                                  "slice": h},
                        np.concatenate(rows), np.concatenate(cols),
                        np.ones(sum(a.size for a in rows)), -INF, d.ai_demand[r, y],
                        doc="shed + unserved + curtailed AI ≤ AI demand [MW]",
                        inputs=("regions.ai_demand_mw",))


# ------------------------------------------------------------------------------ results
def _dense(m: Any, name: str, x: np.ndarray, shape: tuple[int, ...],
           dims: tuple[str, ...]) -> np.ndarray:
    out = np.zeros(shape)
    fam = m.b.var_families.get(name)
    if fam is None or fam.n == 0:
        return out
    np.add.at(out, tuple(fam.coords[k] for k in dims), x[fam.start:fam.start + fam.n])
    return out


def _all_firm(pm: Any) -> tuple[float, np.ndarray]:
    """Objective [$] and AI MW placed (region, year) with no flexible MW and no site
    curtailment: the same persistent model, those columns bounded at zero, then restored."""
    b = pm.model.b
    names = [n for n in ("ai_flex", "curtail_site") if n in b.var_families]
    saved = []
    for n in names:
        cols = b.var_families[n].cols.astype(np.int32)
        lo, hi = pm.solver.lp.col_lower[cols].copy(), pm.solver.lp.col_upper[cols].copy()
        saved.append((cols, lo, hi))
        pm.solver.h.changeColsBounds(cols.size, cols, np.zeros(cols.size), np.zeros(cols.size))
    try:
        res = pm.solver.solve()
        if not res.optimal:
            raise GridcapInputError(f"the all-firm comparison plan did not solve ({res.status})")
    finally:
        for cols, lo, hi in saved:
            pm.solver.h.changeColsBounds(cols.size, cols, lo, hi)
    m, d = pm.model, pm.data
    R, Y = d.regions.size, d.years.size
    placed = _dense(m, "ai_new", res.x, (R, Y), ("region", "year"))
    site = _dense(m, "ai_site", res.x, (d.sites.size, Y), ("site", "year"))
    np.add.at(placed, d.site_region, site)
    from gridcap.optimizer.planning.siting import COST_SCALE

    return res.objective / COST_SCALE, placed


def attach_results(pm: Any, ds: Any, res: Any) -> Any:
    """Add firm/flexible MW, curtailment per scenario, its cost and the value of flexibility.

    Parameters
    ----------
    pm : PlanModel
        The solved model.
    ds : xarray.Dataset
        The plan from ``assemble_plan``.
    res : SolveResult
        The solution the plan was assembled from.

    Returns
    -------
    xarray.Dataset
        ``ds`` with ``ai_firm_mw``, ``ai_flexible_mw``, ``ai_flexible_new_build_mw``
        (region, year) [MW], ``ai_curtailed_mwh`` and ``ai_curtailment_pct`` (scenario, region,
        year), ``cost_flex_ai_curtailment_usd`` [$], ``flex_ai_value_usd_per_kw_yr`` and, with
        ``value_of_flexibility``, ``ai_placed_all_firm_mw``, ``objective_all_firm_usd``,
        ``value_of_flexibility_usd`` and ``ai_mw_years_gained``.
    """
    import xarray as xr

    from gridcap.optimizer.planning.siting import COST_SCALE, first_stage_cost_vector
    from gridcap.optimizer.planning.siting import scenario_cost_matrix as qmat

    m, d, fo = pm.model, pm.data, pm.options.flexible_ai
    x = res.x
    W, R, Y, H = d.scenarios.size, d.regions.size, d.years.size, d.slice_hours.size
    kappa = fo.site_curtailable_share
    flex_new = _dense(m, "ai_flex", x, (R, Y), ("region", "year"))
    site = np.zeros((R, Y))
    np.add.at(site, d.site_region, _dense(m, "ai_site", x, (d.sites.size, Y), ("site", "year")))
    firm = ds["ai_new_build_mw"].values + (1.0 - kappa) * site
    flexible = flex_new + kappa * site
    dur = _durations(m)
    cur = np.zeros((W, R, Y))
    for name in ("curtail_flex", "curtail_site"):
        full = _dense(m, name, x, (W, R, Y, H), ("scenario", "region", "year", "slice"))
        cur += (full * dur[None, None, None, :]).sum(axis=3)
    pick = np.array([int(np.flatnonzero(d.all_scenarios == s)[0]) for s in d.scenarios])
    cur_all = np.full((d.all_scenarios.size, R, Y), np.nan)
    cur_all[pick] = cur
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(flexible[None] > 1e-9,
                       100.0 * cur_all / (HOURS_PER_YEAR * np.where(flexible > 1e-9, flexible,
                                                                    1.0))[None], np.nan)
    cost = float(first_stage_cost_vector(m, "flex_ai_curtailment") @ x
                 + d.weights @ (qmat(m, x.size, "flex_ai_curtailment") @ x)) / COST_SCALE

    def put(name: str, dims: tuple[str, ...], val: Any, units: str, doc: str) -> None:
        ds[name] = xr.DataArray(np.asarray(val), dims=dims,
                                attrs={"units": units, "long_name": doc})

    ry = ("region", "year")
    placed = ds["ai_placed_mw"].values
    with np.errstate(invalid="ignore", divide="ignore"):
        num = np.nan_to_num(ds["time_to_power_years"].values) * placed + fo.lead_years * flex_new
        tot = placed + flex_new
        ds["time_to_power_years"].values = np.where(tot > 1e-9, num / np.where(
            tot > 1e-9, tot, 1.0), np.nan)
    ds["ai_placed_mw"].values = tot
    ds["ai_placed_mw"].attrs["long_name"] = "AI load placed (new-build firm + flexible + sites)"
    put("ai_firm_mw", ry, firm, "MW",
        "firm AI load placed (new-build firm + non-curtailable share of converted sites)")
    put("ai_flexible_mw", ry, flexible, "MW",
        "flexible AI load placed (flexible new-build + curtailable share of converted sites)")
    put("ai_flexible_new_build_mw", ry, flex_new, "MW",
        "new-build AI load placed under a flexible (curtailable) connection")
    put("ai_curtailed_mwh", ("scenario", "region", "year"), cur_all, "MWh",
        "flexible AI energy curtailed at slice peaks (NaN: scenario not in the model)")
    put("ai_curtailment_pct", ("scenario", "region", "year"), pct, "%",
        "curtailed energy / annual energy of the flexible MW")
    put("cost_flex_ai_curtailment_usd", (), cost, "$",
        "expected present value of flexible AI curtailment cost")
    cap = ds["capacity_value_usd_per_kw_yr"].values
    put("flex_ai_value_usd_per_kw_yr", ry, cap, "$/kW-yr",
        "value of a fully curtailable kW of AI load: the adequacy dual (capacity value), as "
        "for DER flexibility with reliability 1")
    ds.attrs.update({"flexible_ai": 1, "flexible_ai_lead_years": fo.lead_years,
                     "flexible_ai_max_curtailment_pct": fo.max_curtailment_pct,
                     "flexible_ai_limit_basis": fo.limit_basis,
                     "flexible_ai_curtailment_cost_usd_per_mwh":
                         float(m.params["flex_ai_curtailment"]),
                     "flexible_ai_site_curtailable_share": kappa})
    if fo.value_of_flexibility:
        obj_firm, placed_firm = _all_firm(pm)
        put("objective_all_firm_usd", (), obj_firm, "$",
            "objective of the same model with every AI MW firm (no flexible option)")
        put("value_of_flexibility_usd", (), obj_firm - float(ds["objective_usd"]), "$",
            "all-firm objective minus this plan's (≥ 0)")
        put("ai_placed_all_firm_mw", ry, placed_firm, "MW", "AI load placed in the all-firm plan")
        put("ai_mw_years_gained", ("region",),
            (ds["ai_placed_mw"].values - placed_firm).sum(axis=1), "MW-yr",
            "AI MW-years online beyond the all-firm plan (earlier connection)")
    return ds
