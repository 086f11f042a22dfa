"""Benchmark: the siting model's build, hand-off and solve vs the same LP in linopy.

For synthetic studies of about 10⁴, 10⁵ and 10⁶ variables (LP relaxation, CVaR on):

- gridcap: model build (numpy masks → the builder's family triplets, gc paused), hand-off to HiGHS
  (sparse matrix ``passModel``), HiGHS solve;
- linopy: the same LP written independently with labelled arrays (:func:`linopy_model`),
  build, hand-off (``to_highspy``) and HiGHS solve, in the same run; the objectives must agree;
- a 20-point sweep over λ (CVaR weight): one persistent :class:`PlanModel` re-solved after
  ``set_param`` vs a fresh build + solve per point.

Run: ``python -m benchmarks.bench_optimizer`` (``--quick``: 10⁴ only; ``--full``: adds 10⁶).
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcap.optimizer.planning.siting import (
    COST_SCALE,
    HOURS_PER_YEAR,
    PlanData,
    PlanModel,
    PlanOptions,
    capital_recovery_factor,
    prepare_data,
)
from gridcap.optimizer.planning.synthetic import synthetic_study

#: name → synthetic_study sizes giving about that many variables.
SIZES: dict[str, dict[str, int]] = {
    "1e4": {"regions": 2, "scenarios": 8, "slices": 48, "years": 5, "sites": 4},
    "1e5": {"regions": 4, "scenarios": 10, "slices": 96, "years": 6, "sites": 8},
    "1e6": {"regions": 6, "scenarios": 30, "slices": 96, "years": 8, "sites": 12},
}


def linopy_model(d: PlanData, options: PlanOptions) -> Any:
    """The siting LP (integers relaxed) written independently in linopy.

    Same optimum as :class:`gridcap.optimizer.planning.siting.PlanModel` with ``relax_integers``;
    written against labelled arrays (cumulative online capacity instead of a recursion), so
    an indexing slip in either shows up as different objectives.
    """
    import warnings

    import linopy

    with warnings.catch_warnings():
        # masked (absent) slots count as 0 in sums: linopy's legacy semantics, intended here
        warnings.simplefilter("ignore")
        return _linopy_model(d, options, linopy)


def _linopy_model(d: PlanData, options: PlanOptions, linopy: Any) -> Any:
    W, R, K, Y, H = (d.scenarios.size, d.regions.size, d.techs.size, d.years.size,
                     d.slice_hours.size)
    S, P = d.sites.size, d.pools.size
    cs = COST_SCALE
    lam, alpha = options.cvar_lambda, options.cvar_alpha
    ix = {n: np.arange(v) for n, v in
          {"w": W, "r": R, "k": K, "y": Y, "h": H, "o": Y, "s": S, "p": P}.items()}

    def C(*names: str) -> list[Any]:
        return [pd.Index(ix[n], name=n) for n in names]

    def da(a: Any, dims: tuple[str, ...]) -> xr.DataArray:
        return xr.DataArray(np.asarray(a, dtype=float), dims=dims,
                            coords={k: ix[k] for k in dims})

    m = linopy.Model()
    disc = da(d.discount, ("y",))
    hours = da(d.slice_hours, ("h",))
    lag = np.ceil(d.lead[None, :] + d.needs_queue[None, :] * d.queue_years[:, None]
                  - 1e-9).astype(int)
    o = np.arange(Y)
    arrive = o[None, None, :] + lag[:, :, None]                               # [R,K,O]
    ok_b = (arrive <= Y - 1) & (d.years[0] + arrive >= d.first_year[None, :, None])
    build = m.add_variables(0, coords=C("r", "k", "o"), name="build",
                            mask=xr.DataArray(ok_b, dims=("r", "k", "o")))
    # cumulative online capacity: A[r,k,o,y] = 1 if order o has arrived by y
    A = (arrive[:, :, :, None] <= np.arange(Y)[None, None, None, :]) & ok_b[:, :, :, None]
    online = (build * da(A, ("r", "k", "o", "y"))).sum("o")                   # (r,k,y)
    ann = 1000.0 * (d.capex * d.crf + d.fom)
    first_stage = (online * da(ann, ("k",)) * disc).sum() * cs
    prof = d.profile
    dispatch = da(prof != "storage", ("k",))
    can_on = da(A.any(axis=2), ("r", "k", "y"))
    gen_mask = (can_on * dispatch).astype(bool).expand_dims(w=ix["w"], h=ix["h"])
    gen = m.add_variables(0, coords=C("w", "r", "k", "y", "h"), name="gen",
                          mask=gen_mask.transpose("w", "r", "k", "y", "h"))
    sol = da(d.solar_cf, ("w", "r", "h"))
    wnd = da(d.wind_cf, ("w", "r", "h"))
    is_s = da(prof == "solar", ("k",))
    is_w = da(prof == "wind", ("k",))
    firm_like = 1 - is_s - is_w
    cf = firm_like * da(d.availability, ("k",)) + is_s * sol + is_w * wnd
    m.add_constraints(gen - cf * online <= 0, name="gen_cap", mask=gen_mask)
    market = m.add_variables(0, coords=C("w", "r", "y", "h"), name="market")
    wh = disc * hours * cs
    scen_cost = ((gen * da(d.vom, ("k",)) * wh).sum(["r", "k", "y", "h"])
                 + (market * da(d.price, ("w", "r", "y", "h")) * wh).sum(["r", "y", "h"]))
    supply = gen.sum("k") + market
    # storage
    if d.chronological and (prof == "storage").any():
        st_mask = (can_on * da(prof == "storage", ("k",))).astype(bool).expand_dims(
            w=ix["w"], h=ix["h"]).transpose("w", "r", "k", "y", "h")
        crd = C("w", "r", "k", "y", "h")
        ch = m.add_variables(0, coords=crd, name="charge", mask=st_mask)
        dis = m.add_variables(0, coords=crd, name="discharge", mask=st_mask)
        soc = m.add_variables(0, coords=crd, name="soc", mask=st_mask)
        m.add_constraints(ch - online <= 0, name="ch_cap", mask=st_mask)
        m.add_constraints(dis - online <= 0, name="dis_cap", mask=st_mask)
        m.add_constraints(soc - da(d.duration_h, ("k",)) * online <= 0, name="soc_cap",
                          mask=st_mask)
        eta = da(np.sqrt(d.efficiency), ("k",))
        m.add_constraints(soc - soc.roll(h=1) - eta * hours * ch + hours / eta * dis == 0,
                          name="soc_bal", mask=st_mask)
        supply = supply + dis.sum("k") - ch.sum("k")
        scen_cost = scen_cost + (dis * da(d.vom, ("k",)) * wh).sum(["r", "k", "y", "h"])
    # AI placement
    dem = da(d.ai_demand, ("r", "y"))
    lag_new = int(np.ceil(options.new_build_lead_years - 1e-9))
    ok_new = (np.arange(Y)[None, :] >= lag_new) & (d.ai_limit[:, None] > 0)
    ok_new = np.broadcast_to(ok_new, (R, Y)).copy()
    ai_new = m.add_variables(0, da(np.broadcast_to(d.ai_limit[:, None], (R, Y)), ("r", "y")),
                             coords=C("r", "y"), name="ai_new",
                             mask=xr.DataArray(ok_new, dims=("r", "y")))
    unserved = m.add_variables(0, dem, coords=C("r", "y"), name="unserved")
    placed = 1.0 * ai_new
    crf_new = float(capital_recovery_factor(d.rate, options.conversion_lifetime_years))
    first_stage = first_stage + (ai_new * disc).sum() * (
        1000.0 * options.new_build_ai_capex_usd_per_kw * crf_new * cs)
    util = da(d.util, ("w", "y"))
    if S:
        lag_s = np.ceil(d.conv_months / 12.0 - 1e-9).astype(int)
        ok_c = o[None, :] + lag_s[:, None] <= Y - 1
        conv = m.add_variables(0, 1, coords=C("s", "o"), name="convert",
                               mask=xr.DataArray(ok_c, dims=("s", "o")))
        m.add_constraints(conv.sum("o") <= 1, name="once", mask=xr.DataArray(
            ok_c.any(axis=1), dims=("s",)))
        Bc = (o[None, :, None] + lag_s[:, None, None] <= np.arange(Y)[None, None, :]) & ok_c[
            :, :, None]
        ok_site = Bc.any(axis=1)
        ic = da(d.interconnection, ("s",))
        ai_site = m.add_variables(0, ic.expand_dims(y=ix["y"]).transpose("s", "y"),
                                  coords=C("s", "y"), name="ai_site",
                                  mask=xr.DataArray(ok_site, dims=("s", "y")))
        conv_on = (conv * da(Bc, ("s", "o", "y"))).sum("o")
        m.add_constraints(ai_site - ic * conv_on <= 0, name="site_ic",
                          mask=xr.DataArray(ok_site, dims=("s", "y")))
        inc = da(d.site_region[:, None] == np.arange(R)[None, :], ("s", "r"))
        placed = placed + (ai_site * inc).sum("s")
        crf_c = float(capital_recovery_factor(d.rate, options.conversion_lifetime_years))
        first_stage = first_stage + (ai_site * da(1000.0 * d.conv_capex * crf_c, ("s",))
                                     * disc).sum() * cs
        cf_m = d.mining_cfads * d.discount[None, None, :]
        tail = np.cumsum(cf_m[:, :, ::-1], axis=2)[:, :, ::-1]             # [W,S,O]
        scen_cost = scen_cost + (conv * da(tail, ("w", "s", "o"))).sum(["s", "o"]) * cs
    m.add_constraints(placed + unserved == dem, name="ai_balance")
    # placed AI load does not shrink while the demand path does not fall
    grows = np.zeros((R, Y), bool)
    grows[:, 1:] = d.ai_demand[:, 1:] >= d.ai_demand[:, :-1]
    prev_ok = np.zeros_like(ok_new)
    prev_ok[:, 1:] = ok_new[:, :-1]
    m.add_constraints(ai_new - ai_new.shift(y=1) >= 0, name="ai_new_up",
                      mask=xr.DataArray(grows & ok_new & prev_ok, dims=("r", "y")))
    if S:
        prev_s = np.zeros_like(ok_site)
        prev_s[:, 1:] = ok_site[:, :-1]
        m.add_constraints(ai_site - ai_site.shift(y=1) >= 0, name="ai_site_up",
                          mask=xr.DataArray(grows[d.site_region] & ok_site & prev_s,
                                            dims=("s", "y")))
    lm = options.ai_lost_margin_usd_per_mwh
    scen_cost = scen_cost + (unserved * disc * HOURS_PER_YEAR * util).sum(["r", "y"]) * lm * cs
    # flexibility
    if P:
        flex = m.add_variables(0, da(np.broadcast_to(d.flex_potential_mw[:, None], (P, Y)),
                                     ("p", "y")), coords=C("p", "y"), name="flex")
        first_stage = first_stage + (flex * disc).sum() * 1000.0 * (
            options.flex_cost_usd_per_kw_yr * cs)
        incp = da(d.pool_region[:, None] == np.arange(R)[None, :], ("p", "r"))
        flex_supply = (flex * da(d.delivery, ("w", "p", "h")) * incp).sum("p")
    # balances
    m.add_constraints(supply + util * unserved == da(d.mean_load, ("w", "r", "y", "h"))
                      + util * dem, name="energy")
    crd4 = C("w", "r", "y", "h")
    # a slice-peak shortfall lasts min(slice hours, peak_shortfall_hours)
    peak_hours = da(np.minimum(d.slice_hours, options.peak_shortfall_hours), ("h",))
    wh_peak = disc * peak_hours * cs
    shed_ai = m.add_variables(0, coords=crd4, name="shed_ai")
    scen_cost = scen_cost + (shed_ai * wh_peak).sum(["r", "y", "h"]) * (
        options.firm_ai_shed_usd_per_mwh)
    lhs = shed_ai + unserved
    if options.voll_usd_per_mwh is not None:
        shed = m.add_variables(0, coords=crd4, name="shed_load")
        lhs = lhs + shed
        scen_cost = scen_cost + (shed * wh_peak).sum(["r", "y", "h"]) * options.voll_usd_per_mwh
    acc = (firm_like * da(d.availability, ("k",)) + is_s * da(d.solar_cf_peak, ("w", "r", "h"))
           + is_w * da(d.wind_cf_peak, ("w", "r", "h")))
    lhs = lhs + (online * acc).sum("k")
    if P:
        lhs = lhs + flex_supply
    rhs = da(d.peak, ("w", "r", "y", "h")) + dem - da(d.firm_mw, ("r",))
    m.add_constraints(lhs >= rhs, name="adequacy")
    m.add_constraints(shed_ai + unserved <= dem, name="ai_curtail")
    # CVaR
    eta = m.add_variables(name="eta")
    u = m.add_variables(0, coords=C("w"), name="u")
    m.add_constraints(u + eta - scen_cost >= 0, name="cvar")
    pi = da(d.weights, ("w",))
    obj = ((1 + lam) * first_stage + (scen_cost * pi).sum()
           + lam * (eta + (u * pi).sum() / (1 - alpha)))
    m.add_objective(obj)
    return m


def _time_gridcap(inputs: Any, outcomes: xr.Dataset, opts: PlanOptions) -> dict[str, float]:
    gc.collect()
    t0 = time.perf_counter()
    pm = PlanModel(inputs, outcomes, opts)
    res = pm.solver.solve()
    total = time.perf_counter() - t0
    return {"prepare_s": pm.timings["prepare_s"], "build_s": pm.timings["build_s"],
            "handoff_s": pm.timings["handoff_s"], "solve_s": res.solve_s, "total_s": total,
            "objective": res.objective, "variables": pm.lp.shape[1],
            "constraints": pm.lp.shape[0], "nonzeros": int(pm.lp.A.nnz)}


def _time_linopy(inputs: Any, outcomes: xr.Dataset, opts: PlanOptions) -> dict[str, float]:
    gc.collect()
    t0 = time.perf_counter()
    data = prepare_data(inputs, outcomes, opts)
    m = linopy_model(data, opts)
    t1 = time.perf_counter()
    h = m.to_highspy()
    h.setOptionValue("output_flag", False)
    t2 = time.perf_counter()
    h.run()
    t3 = time.perf_counter()
    return {"build_s": t1 - t0, "handoff_s": t2 - t1, "solve_s": t3 - t2, "total_s": t3 - t0,
            "objective": float(h.getInfo().objective_function_value),
            "status": h.modelStatusToString(h.getModelStatus())}


def _sweep(inputs: Any, outcomes: xr.Dataset, opts: PlanOptions, points: int) -> dict[str, Any]:
    lams = np.linspace(0.0, 2.0, points)
    t0 = time.perf_counter()
    pm = PlanModel(inputs, outcomes, opts)
    obj_p = []
    for lam in lams:
        pm.set_param("cvar_lambda", float(lam))
        obj_p.append(pm.solver.solve().objective)
    t1 = time.perf_counter()
    obj_r = []
    for lam in lams:
        o = PlanOptions(**{**opts.__dict__, "cvar_lambda": float(lam)})
        obj_r.append(PlanModel(inputs, outcomes, o).solver.solve().objective)
    t2 = time.perf_counter()
    diff = float(np.max(np.abs(np.array(obj_p) - obj_r) / np.maximum(1.0, np.abs(obj_r))))
    return {"points": points, "persistent_s": t1 - t0, "rebuild_s": t2 - t1,
            "persistent_speedup": (t2 - t1) / (t1 - t0), "max_rel_objective_diff": diff}


def run(quick: bool = False, full: bool = False) -> dict[str, Any]:
    """Run the benchmark and print the figures.

    Parameters
    ----------
    quick : bool
        10⁴ variables only, the 20-point sweep also at 10⁴ (about half a minute).
    full : bool
        Also the 10⁶-variable case (minutes).

    Returns
    -------
    dict
        ``sizes.<n>.{gridcap,linopy,…}`` timings [s], ratios
        ``build_handoff_over_solve`` and ``end_to_end_over_linopy`` [1], and ``sweep`` with
        ``persistent_speedup`` [×].
    """
    names = ["1e4"] if quick else (["1e4", "1e5", "1e6"] if full else ["1e4", "1e5"])
    opts = PlanOptions(relax_integers=True, cvar_lambda=0.5, threads=1)
    out: dict[str, Any] = {"sizes": {}}
    # warm-up: imports and first-call costs out of the timings, for both paths
    tiny_inputs, tiny_outcomes = synthetic_study(regions=1, scenarios=2, slices=2, years=2,
                                                 sites=1)
    _time_gridcap(tiny_inputs, tiny_outcomes, opts)
    _time_linopy(tiny_inputs, tiny_outcomes, opts)
    for name in names:
        inputs, outcomes = synthetic_study(**SIZES[name], seed=3)
        g = _time_gridcap(inputs, outcomes, opts)
        print(f"[{name}] gridcap: {g['variables']:,} vars, build {g['build_s']:.2f}s hand-off "
              f"{g['handoff_s']:.2f}s solve {g['solve_s']:.2f}s", flush=True)
        lp = _time_linopy(inputs, outcomes, opts)
        row = {
            "variables": g["variables"], "constraints": g["constraints"],
            "nonzeros": g["nonzeros"],
            "gridcap": {k: g[k] for k in ("prepare_s", "build_s", "handoff_s", "solve_s",
                                          "total_s")},
            "linopy": {k: lp[k] for k in ("build_s", "handoff_s", "solve_s", "total_s")},
            "build_handoff_over_solve": (g["build_s"] + g["handoff_s"]) / g["solve_s"],
            "end_to_end_over_linopy": g["total_s"] / lp["total_s"],
            "objective_rel_diff": abs(g["objective"] - lp["objective"]) / max(
                1.0, abs(lp["objective"])),
        }
        out["sizes"][name] = row
        print(f"[{name}] {row['variables']:,} vars {row['constraints']:,} rows "
              f"{row['nonzeros']:,} nnz | gridcap build {g['build_s']:.2f}s hand-off "
              f"{g['handoff_s']:.2f}s solve {g['solve_s']:.2f}s total {g['total_s']:.2f}s | "
              f"linopy build {lp['build_s']:.2f}s hand-off {lp['handoff_s']:.2f}s solve "
              f"{lp['solve_s']:.2f}s total {lp['total_s']:.2f}s | (build+hand-off)/solve "
              f"{row['build_handoff_over_solve']:.2f}, end-to-end / linopy "
              f"{row['end_to_end_over_linopy']:.2f}, objective rel. diff "
              f"{row['objective_rel_diff']:.1e}", flush=True)
    sweep_case = "1e4" if quick else "1e5"
    inputs, outcomes = synthetic_study(**SIZES[sweep_case], seed=3)
    pts = 20
    sw = _sweep(inputs, outcomes, opts, pts)
    sw["size"] = sweep_case
    out["sweep"] = sw
    print(f"[sweep {sweep_case}, {pts} λ points] persistent {sw['persistent_s']:.2f}s, rebuild "
          f"{sw['rebuild_s']:.2f}s → {sw['persistent_speedup']:.1f}× (max objective diff "
          f"{sw['max_rel_objective_diff']:.1e})", flush=True)
    return out


if __name__ == "__main__":
    run(quick="--quick" in sys.argv, full="--full" in sys.argv)
