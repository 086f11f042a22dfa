"""The summary tables printed at the end of ``gridcap run`` (rich tables from a results Dataset).

Only variables present in the results are shown, so the summary works on any study.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr
from rich.table import Table


def _fmt(value: float, unit: str = "") -> str:
    if value is None or not np.isfinite(value):
        return "–"
    magnitude = abs(value)
    if unit == "$":
        for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if magnitude >= scale:
                return f"${value / scale:,.2f}{suffix}"
        return f"${value:,.0f}"
    text = f"{value:,.3g}" if magnitude < 100 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def _rows(results: xr.Dataset, specs: Iterable[tuple[str, str, str, str]]) -> list[tuple[str, str]]:
    """(label, formatted value) for each (label, variable, reduction, unit) spec present."""
    rows = []
    for label, name, how, unit in specs:
        if name not in results:
            continue
        da = results[name]
        value = float(getattr(da, how)()) if how else float(da)
        rows.append((label, _fmt(value, unit)))
    return rows


def plan_table(results: xr.Dataset) -> Table | None:
    """Headline plan figures: what is built, converted, placed and what it costs."""
    specs = [
        ("new capacity online, final year", "online_mw", "", "MW"),
        ("AI load placed, final year", "ai_placed_mw", "", "MW"),
        ("unserved AI load, final year", "unserved_ai_mw", "", "MW"),
        ("mine sites converted", "converted", "sum", ""),
        ("DER flexibility contracted", "flex_contracted_kw", "", "kW"),
        ("expected system cost", "expected_cost_usd", "", "$"),
        ("CVaR of system cost", "cvar_cost_usd", "", "$"),
    ]
    rows = []
    last = {}
    if "year" in results.coords:
        last = {"year": results.year.values[-1]}
    for label, name, how, unit in specs:
        if name not in results:
            continue
        da = results[name]
        if "year" in da.dims and not how:
            da = da.sel(last)
        extra = [d for d in da.dims if d != "year"]
        value = float(da.sum(extra)) if extra else float(da.sum())
        text = _fmt(value, unit)
        se_name = f"{name}_se"
        if se_name in results:
            se = results[se_name].sel(last) if "year" in results[se_name].dims else results[se_name]
            # pools are sampled in separate strata (regions) or share one: root-sum-square
            text += f" ± {_fmt(float(np.sqrt((se.values ** 2).sum())), unit)} (s.e.)"
        rows.append((label, text))
    if "mc__flex_population" in results and "mc__flex_samples" in results:
        rows.append(("DER premises represented (samples)",
                     f"{float(results['mc__flex_population'].sum()):,.0f} "
                     f"({float(results['mc__flex_samples'].sum()):,.0f})"))
    if not rows:
        return None
    table = Table(title="Plan")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for row in rows:
        table.add_row(*row)
    return table


def prices_table(results: xr.Dataset) -> Table | None:
    """Capacity value and flexibility price per region (final year)."""
    names = [
        "capacity_value_usd_per_kw_yr",
        "flex_price_usd_per_kw_yr",
        "alternative_cost_usd_per_kw_yr",
    ]
    if not all(n in results for n in names[:1]) or "region" not in results.dims:
        return None
    table = Table(title="Prices, final year [$/kW-yr]")
    table.add_column("region")
    present = [n for n in names if n in results]
    for name in present:
        table.add_column(name.replace("_usd_per_kw_yr", "").replace("_", " "), justify="right")
    for region in results.region.values:
        cells = []
        for name in present:
            da = results[name]
            if "region" in da.dims:
                da = da.sel(region=region)
            if "year" in da.dims:
                da = da.isel(year=-1)
            extra = list(da.dims)
            cells.append(_fmt(float(da.mean(extra)) if extra else float(da)))
        table.add_row(_label(region), *cells)
    return table


def _flex_price_by_region(results: xr.Dataset, region: str, year: int) -> float:
    fp = results["flex_price_usd_per_kw_yr"].sel(year=year)
    if "pool" in fp.dims and "pool_region" in results.coords:
        mask = np.asarray(results["pool_region"].values).astype(str) == region
        return float(fp.isel(pool=np.flatnonzero(mask)).mean()) if mask.any() else np.nan
    return float(fp.sel(region=region)) if "region" in fp.dims else float(fp)


def capacity_market_table(results: xr.Dataset) -> Table | None:
    """Capacity value and flexibility price beside the market figure, per region and year.

    Rows are the planning years with a published clearing price; a region without one in the
    horizon gets one row (first planning year) with its latest price or its energy-only
    scarcity design. See docs/capacity-prices.md for why the figures differ.
    """
    need = ("capacity_value_usd_per_kw_yr", "capacity_market_price_usd_per_kw_yr")
    if not all(n in results for n in need) or "region" not in results.dims:
        return None
    table = Table(title="Capacity value beside the market [$/kW-yr] (docs/capacity-prices.md)")
    for col in ("region", "year", "capacity value", "flex price", "market", "market basis"):
        table.add_column(col, justify="left" if col in ("region", "market basis") else "right")
    cv = results["capacity_value_usd_per_kw_yr"]
    mk = results["capacity_market_price_usd_per_kw_yr"]
    years = [int(y) for y in results["year"].values]
    has_fp = "flex_price_usd_per_kw_yr" in results
    for region in results.region.values:
        r = str(region)
        shown = [y for y in years if np.isfinite(float(mk.sel(region=r, year=y)))]
        basis = (str(results["capacity_market_product"].sel(region=r).values)
                 if "capacity_market_product" in results else "")
        rows = shown or years[:1]
        for y in rows:
            market = float(mk.sel(region=r, year=y))
            note = (str(results["capacity_market_label"].sel(region=r, year=y).values)
                    if "capacity_market_label" in results and shown else basis)
            if not shown and "capacity_market_latest_year" in results:
                ly = int(results["capacity_market_latest_year"].sel(region=r))
                if ly >= 0:
                    lv = float(results["capacity_market_latest_usd_per_kw_yr"].sel(region=r))
                    note = f"none in horizon; latest {_fmt(lv)} for {ly}/{(ly + 1) % 100:02d}"
                elif "net_cone_usd_per_kw_yr" in results and np.isfinite(
                        float(results["net_cone_usd_per_kw_yr"].sel(region=r))):
                    market = float(results["net_cone_usd_per_kw_yr"].sel(region=r))
                    note = basis
            table.add_row(r, str(y), _fmt(float(cv.sel(region=r, year=y))),
                          _fmt(_flex_price_by_region(results, r, y)) if has_fp else "–",
                          _fmt(market), note)
    return table


def finance_table(results: xr.Dataset) -> Table | None:
    """Tranche sizes and risk metrics."""
    if "tranche" not in results.dims:
        return None
    columns = [
        ("size", "tranche_size_usd", "$"),
        ("PD", "pd", ""),
        ("EL", "expected_loss", ""),
        ("WAL [yr]", "wal_years", ""),
        ("spread [bp]", "spread_bps", ""),
        ("total loss", "total_loss_share", "share"),
        ("rating", "rating", "text"),
        ("units", "unit_count", ""),
    ]
    present = [(label, name, unit) for label, name, unit in columns if name in results]
    if not present:
        return None
    table = Table(title="Capital stack")
    table.add_column("tranche")
    for label, _, _ in present:
        table.add_column(label, justify="right")
    for tranche in results.tranche.values:
        cells = []
        for _, name, unit in present:
            da = results[name].sel(tranche=tranche)
            if unit == "text":
                cells.append(str(da.values))
            elif unit == "share":
                v = float(da)
                cells.append("-" if v != v else f"{100 * v:.1f}% of scen.")
            else:
                extra = list(da.dims)
                cells.append(_fmt(float(da.mean(extra)) if extra else float(da), unit))
        table.add_row(_label(tranche), *cells)
    if float(results.get("senior_balloon_usd", 0.0)) > 0:
        table.caption = (
            f"senior legal maturity {int(results['senior_legal_maturity_years'])} yr: "
            f"balloon {_fmt(float(results['senior_balloon_usd']), '$')} refinanced in the "
            f"waterfall in {100 * float(results.get('senior_refinanced_share', 0.0)):.1f}% of "
            f"scenarios, notes default at maturity in "
            f"{100 * float(results['senior_refinance_fail_share']):.1f}%; PD to "
            f"maturity {100 * float(results['senior_pd_to_maturity']):.1f}%; the refinancing "
            f"loan defaults later in "
            f"{100 * float(results.get('senior_refinancing_default_share', 0.0)):.1f}%")
    return table


def market_table(results: xr.Dataset) -> Table | None:
    """Each financed site next to the market range of the shipped deals table."""
    if "financed_site" not in results.dims or "site_debt_per_mw_usd" not in results:
        return None
    table = Table(title="Market check (deals table: datasets/data/financings.csv)")
    for col in ("site", "debt/MW-IT", "loan-to-cost", "min DSCR", "coupon", "implied rating",
                "status"):
        table.add_column(col, justify="left" if col in ("site", "status") else "right")
    lo = results["market_min"].to_series()
    hi = results["market_max"].to_series()
    for site in results.financed_site.values:
        r = results.sel(financed_site=site)
        status = r["market_status"].to_series()
        flags = [f"{m}: {st}" for m, st in status.items() if st not in ("inside", "n/a")]
        debt = _fmt(float(r["site_debt_per_mw_usd"]), "$")
        own = float(r["site_deal_debt_per_mw_usd"]) if "site_deal_debt_per_mw_usd" in r else np.nan
        if np.isfinite(own):  # like for like: the site's own public deal
            debt += f" (own deal {_fmt(own, '$')})"
        table.add_row(
            str(site), debt,
            f"{float(r['site_loan_to_cost']):.0%}", _fmt(float(r["site_min_dscr"])),
            f"{float(r['site_coupon']):.2%}", str(r["site_implied_rating"].values),
            "; ".join(flags) or "inside the market range")
    table.add_row(
        "market range", f"{_fmt(lo['debt_per_mw_usd'], '$')}-{_fmt(hi['debt_per_mw_usd'], '$')}",
        f"{lo['loan_to_cost']:.0%}-{hi['loan_to_cost']:.0%}", "",
        f"{lo['coupon']:.2%}-{hi['coupon']:.2%}", "", "")
    return table


def chain_table(results: xr.Dataset) -> Table | None:
    """kWh → token chain: $/M-tokens and gCO2/M-tokens distributions, top risk link."""
    if not any(str(v).startswith("chain_") for v in results.data_vars):
        return None
    from gridcap.optimizer.chain.trace import chain_summary_rows

    rows = chain_summary_rows(results)
    if not rows:
        return None
    table = Table(title="kWh → AI token chain")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for label, value in rows:
        table.add_row(label, value)
    return table


def headroom_table(results: xr.Dataset) -> Table | None:
    """Curtailment-enabled headroom per region and limit: pooled MW (P10–P90 of single years)."""
    name = "headroom__headroom_mw"
    if name not in results or "curtailment_limit_pct" not in results[name].dims:
        return None
    table = Table(title="Curtailment-enabled headroom [MW] of the Monte Carlo's load years "
                        "(Norris et al. 2025 method; P10–P90 over single years)")
    table.add_column("region")
    limits = results["curtailment_limit_pct"].values
    for lim in limits:
        table.add_column(f"{lim:g} % curtailed", justify="right")
    for region in results[name].region.values:
        cells = []
        for lim in limits:
            sel = {"region": region, "curtailment_limit_pct": lim}
            mid = float(results[name].sel(sel))
            lo = float(results["headroom__headroom_p10_mw"].sel(sel))
            hi = float(results["headroom__headroom_p90_mw"].sel(sel))
            cells.append(f"{_fmt(mid)} ({_fmt(lo)}–{_fmt(hi)})")
        table.add_row(_label(region), *cells)
    return table


def firm_flexible_table(results: xr.Dataset) -> Table | None:
    """Firm vs flexible AI load per region (final year) and the value of flexibility."""
    if "ai_flexible_mw" not in results or "ai_firm_mw" not in results:
        return None
    planned = results["ai_firm_mw"].dropna("year", how="all").year.values  # plan years only
    if planned.size == 0:
        return None
    last = {"year": planned[-1]}
    title = f"AI load placed, firm vs flexible, {int(last['year'])} [MW]"
    if "value_of_flexibility_usd" in results:
        title += f"; value of flexibility {_fmt(float(results['value_of_flexibility_usd']), '$')}"
    table = Table(title=title)
    for col in ("region", "firm", "flexible", "curtailed [MWh/yr, mean]", "MW-yr gained"):
        table.add_column(col, justify="left" if col == "region" else "right")
    for region in results.region.values:
        sel = {"region": region}
        cur = results["ai_curtailed_mwh"].sel({**sel, **last}) if "ai_curtailed_mwh" in results \
            else None
        gained = (float(results["ai_mw_years_gained"].sel(sel))
                  if "ai_mw_years_gained" in results else float("nan"))
        table.add_row(_label(region), _fmt(float(results["ai_firm_mw"].sel({**sel, **last}))),
                      _fmt(float(results["ai_flexible_mw"].sel({**sel, **last}))),
                      _fmt(float(np.nanmean(cur.values)) if cur is not None else float("nan")),
                      _fmt(gained))
    return table


def _label(value: object) -> str:
    """A data label (region, tranche) safe in a Rich cell: markup escaped, control
    characters neutralised, length capped."""
    from gridcap.terminal import display

    return display(value, 80)


def summary_tables(results: xr.Dataset) -> list[Table]:
    """Every summary table that the results support, in reading order."""
    tables = [
        plan_table(results),
        prices_table(results),
        firm_flexible_table(results),
        headroom_table(results),
        capacity_market_table(results),
        finance_table(results),
        market_table(results),
        chain_table(results),
    ]
    return [t for t in tables if t is not None]
