"""A self-contained HTML report of a study's results, with figures a planner can read.

``write_report(results, out_dir)`` renders PNG figures with matplotlib (Agg, no display
needed), saves them in ``out_dir/figures/`` and embeds them (base64) in ``out_dir/report.html``,
so the HTML file alone can be mailed around. Figures:

1. capacity build timeline against AI demand (the gap, and how the plan closes it);
2. time to power by option;
3. a map-like scatter of candidate sites (lon/lat, sized by MW, coloured by decision);
4. the distribution of delivered flexibility;
5. the flexibility price against the cost of new build;
6. cash-flow fan charts;
7. tranche loss distributions.

Variable names follow ``docs/data-model.md`` and the results layout of
:func:`gridcap.pipeline.assemble_results` (inputs as ``<table>__<name>``, Monte Carlo outcomes
as ``mc__<name>``). A figure whose variables are missing is replaced by a note saying what was
missing; nothing fails. For a sweep (results with a ``variant`` dimension) the report adds a
sweep overview and draws the detailed figures for one variant (``variant=0`` by default).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcap.errors import GridcapInputError

DECISION_COLOURS = {"convert": "#1b9e77", "keep mining": "#9e9e9e"}
SOURCE_COLOURS = {
    "converted mines": "#1b9e77",
    "flexibility": "#7570b3",
    "unserved": "#d95f02",
}
TECH_CMAP = "tab20"
FAN_COLOUR = "#2c7fb8"
TRANCHE_COLOURS = {"senior": "#2c7fb8", "mezzanine": "#d95f02", "equity": "#1b9e77"}


@dataclass
class Figure:
    """One report figure: a PNG (or a note why it could not be drawn)."""

    key: str
    title: str
    caption: str
    png: bytes | None = None
    note: str = ""


# --------------------------------------------------------------------------- helpers


def _first(ds: xr.Dataset, *names: str) -> xr.DataArray | None:
    """The first variable present; finance's own time axis (``finance_year``) read as year."""
    for name in names:
        if name in ds.variables:
            da = ds[name]
            if "finance_year" in da.dims and "year" not in da.dims:
                da = da.rename({"finance_year": "year"})
            return da
    return None


def _need(ds: xr.Dataset, *names: str) -> list[str]:
    return [n for n in names if n not in ds.variables]


def _values(da: xr.DataArray) -> np.ndarray:
    return np.asarray(da.values, dtype=float)


def _labels(da: xr.DataArray) -> list[str]:
    return [str(v) for v in np.asarray(da.values).tolist()]


def _sum_except(da: xr.DataArray, keep: tuple[str, ...]) -> xr.DataArray:
    return da.sum([d for d in da.dims if d not in keep], skipna=True)


def _years(ds: xr.Dataset) -> np.ndarray | None:
    if "year" in ds.coords:
        return np.asarray(ds["year"].values).astype(int)
    return None


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _style(ax: Any) -> None:
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def _money(x: float) -> str:
    for scale, unit in ((1e12, "tn"), (1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"${x / scale:,.1f}{unit}"
    return f"${x:,.0f}"


# --------------------------------------------------------------------------- figures


def _mw_axis(ax: Any, peak: float) -> float:
    """Label the y axis in GW when values are large; returns the divisor [MW per unit]."""
    if peak >= 20_000:
        ax.set_ylabel("GW")
        return 1000.0
    ax.set_ylabel("MW")
    return 1.0


def _ai_sources(ds: xr.Dataset) -> list[tuple[str, np.ndarray, Any]]:
    """AI load placed by the plan, by where it goes, per year [MW]."""
    out: list[tuple[str, np.ndarray, Any]] = []
    site = _first(ds, "ai_site_mw")
    if site is not None and "year" in site.dims:
        out.append(("at converted mine sites", _values(_sum_except(site, ("year",))),
                    SOURCE_COLOURS["converted mines"]))
    new = _first(ds, "ai_new_build_mw")
    if new is not None and "year" in new.dims:
        out.append(("at new-build data centers", _values(_sum_except(new, ("year",))),
                    "#636363"))
    flexible = _first(ds, "ai_flexible_new_build_mw")
    if flexible is not None and "year" in flexible.dims:
        out.append(("at flexible (curtailable) connections",
                    _values(_sum_except(flexible, ("year",))), "#7570b3"))
    if not out:
        placed = _first(ds, "ai_placed_mw")
        if placed is not None and "year" in placed.dims:
            out.append(("placed by the plan", _values(_sum_except(placed, ("year",))),
                        "#636363"))
    return out


def fig_capacity_timeline(ds: xr.Dataset) -> Figure:
    """AI demand vs where the plan places it; grid capacity built vs peak net load."""
    import matplotlib.pyplot as plt

    fig_ = Figure("capacity_timeline", "Capacity build against AI demand",
                  "Left: cumulative AI data-center demand seeking a home (line) and how the plan "
                  "serves it each year — AI load at converted mine sites, at new-build data "
                  "centers, and the gap left unserved (hatched). Right: the grid side — "
                  "existing firm capacity plus accredited new capacity online by technology "
                  "(nameplate × availability) and contracted DER flexibility, against the sum of "
                  "the regions' annual peak net load (median and 95th percentile over Monte "
                  "Carlo scenarios).")
    demand = _first(ds, "regions__ai_demand_mw", "ai_demand_mw")
    years = _years(ds)
    if demand is None or years is None:
        fig_.note = "needs regions__ai_demand_mw and a year coordinate"
        return fig_
    demand_y = np.nan_to_num(_values(_sum_except(demand, ("year",))))
    sources = _ai_sources(ds)
    unserved = _first(ds, "unserved_ai_mw")
    if not sources and unserved is None:
        fig_.note = "needs plan variables (ai_site_mw, ai_new_build_mw, unserved_ai_mw)"
        return fig_
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5.0))
    # --- AI demand and its placement
    top = max(float(demand_y.max()), 1.0)
    div = _mw_axis(ax, top)
    bottom = np.zeros(len(years))
    for label, vals, colour in sources:
        vals = np.nan_to_num(vals)
        ax.bar(years, vals / div, bottom=bottom / div, color=colour, label=f"AI load {label}",
               width=0.7)
        bottom = bottom + vals
    if unserved is not None and "year" in unserved.dims:
        gap = np.nan_to_num(_values(_sum_except(unserved, ("year",))))
        ax.bar(years, gap / div, bottom=bottom / div, color="white",
               edgecolor=SOURCE_COLOURS["unserved"], hatch="///", label="AI demand unserved",
               width=0.7)
        for x, g, b in zip(years, gap, bottom, strict=True):
            if g > 0.02 * top:
                ax.text(x, (b + g / 2) / div, f"gap\n{g / div:,.1f}", ha="center",
                        va="center", fontsize=8, color=SOURCE_COLOURS["unserved"],
                        fontweight="bold")
    ax.plot(years, demand_y / div, color="black", marker="o", lw=2.2,
            label="AI demand (cumulative)")
    ax.set_xticks(years)
    ax.set_xlabel("year")
    ax.set_title("AI demand: how the plan closes the gap")
    _style(ax)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    # --- grid capacity
    online = _first(ds, "online_mw")
    firm = _first(ds, "regions__firm_capacity_mw")
    peak = _first(ds, "mc__peak_net_load_mw")
    stacks: list[tuple[str, np.ndarray, Any]] = []
    if firm is not None:
        stacks.append(("existing firm capacity", np.full(len(years), float(_values(firm).sum())),
                       "#d9d9d9"))
    if online is not None and "tech" in online.dims:
        by_tech = _sum_except(online, ("tech", "year")).transpose("tech", "year")
        avail = _first(ds, "technologies__availability")
        cmap = plt.get_cmap(TECH_CMAP)
        for k, tech in enumerate(_labels(by_tech["tech"])):
            vals = np.nan_to_num(_values(by_tech.isel(tech=k)))
            if avail is not None and "tech" in avail.dims:
                vals = vals * float(avail.sel(tech=tech))
            if vals.sum() > 0:
                stacks.append((f"new {tech} (accredited)", vals, cmap(k % 20)))
    flex = _first(ds, "flex_contracted_kw")
    if flex is not None and "year" in flex.dims:
        fv = np.nan_to_num(_values(_sum_except(flex, ("year",)))) / 1000.0
        if fv.sum() > 0:
            stacks.append(("contracted DER flexibility", fv, SOURCE_COLOURS["flexibility"]))
    lines: list[tuple[str, np.ndarray, str]] = []
    if peak is not None and {"scenario", "year"} <= set(peak.dims):
        annual = peak.max([d for d in peak.dims if d not in ("scenario", "year", "region")])
        annual = _sum_except(annual, ("scenario", "year")).transpose("scenario", "year")
        q = np.nanquantile(_values(annual), [0.5, 0.95], axis=0)
        lines = [("peak net load, median", q[0], "-"), ("peak net load, 95th pct", q[1], "--")]
    if stacks or lines:
        high = max([float(sum(s[1].max() for s in stacks))] + [float(li[1].max())
                                                                 for li in lines] + [1.0])
        div2 = _mw_axis(bx, high)
        base = np.zeros(len(years))
        for label, vals, colour in stacks:
            bx.bar(years, vals / div2, bottom=base / div2, color=colour, label=label, width=0.7)
            base = base + vals
        for label, vals, ls in lines:
            bx.plot(years, vals / div2, color="black", ls=ls, marker="o", lw=1.8, label=label)
        bx.set_xticks(years)
        bx.set_xlabel("year")
        bx.set_title("Grid capacity: existing + new build vs peak net load")
        _style(bx)
        bx.legend(loc="lower right", fontsize=7.5, frameon=True, framealpha=0.9)
    else:
        bx.set_axis_off()
        bx.text(0.5, 0.5, "no capacity variables in the results", ha="center")
    fig.tight_layout()
    fig_.png = _png(fig)
    return fig_


def _option_times(ds: xr.Dataset) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """Decision-to-power time of each option [yr]: (names, base, queue by region, regions).

    Technologies: ``lead_time_years`` plus the region's ``queue_years`` where ``needs_queue``,
    and no earlier than ``first_year_available`` − first planning year. Mine sites:
    ``conversion_months`` / 12 (no queue: the interconnection exists).
    """
    regions = _labels(ds["region"]) if "region" in ds.coords else ["all"]
    names: list[str] = []
    base: list[float] = []
    extra: list[list[float]] = []
    if "technologies__lead_time_years" in ds:
        lead = _values(ds["technologies__lead_time_years"])
        needs = (np.asarray(ds["technologies__needs_queue"].values).astype(bool)
                 if "technologies__needs_queue" in ds else np.zeros(lead.size, bool))
        queue = (_values(ds["regions__queue_years"]) if "regions__queue_years" in ds
                 else np.zeros(len(regions)))
        first = _first(ds, "technologies__first_year_available")
        all_years = _years(ds)
        start = float(all_years[0]) if all_years is not None else 0.0
        for k, tech in enumerate(_labels(ds["tech"])):
            earliest = float(first.values[k]) - start if first is not None else 0.0
            names.append(f"new {tech}")
            base.append(float(lead[k]))
            extra.append([max(float(lead[k]) + (queue[r] if needs[k] else 0.0), earliest)
                          - float(lead[k]) for r in range(len(regions))])
    if "sites__conversion_months" in ds:
        months = _values(ds["sites__conversion_months"])
        site_names = (_labels(ds["sites__name"]) if "sites__name" in ds
                      else _labels(ds["site"]))
        site_region = (_labels(ds["sites__region"]) if "sites__region" in ds
                       else [regions[0]] * months.size)
        for i, m in enumerate(months):
            names.append(f"convert {site_names[i]} ({site_region[i]})")
            base.append(float(m) / 12.0)
            extra.append([0.0] * len(regions))
    return names, np.asarray(base), np.asarray(extra).reshape(len(names), len(regions)), regions


def fig_time_to_power(ds: xr.Dataset) -> Figure:
    """Horizontal bars of years from decision to power, by option and region."""
    import matplotlib.pyplot as plt

    fig_ = Figure("time_to_power", "Time to power by option",
                  "Years from decision to energized AI load. New-build technologies: lead time "
                  "(solid) plus the region's interconnection queue or the first year the "
                  "technology is available (hatched), one bar per region. Mine conversions "
                  "reuse an existing interconnection: only the conversion downtime. The title "
                  "gives the plan's own MW-weighted time to power of the AI load it places.")
    names, base, extra, regions = _option_times(ds)
    if not names:
        fig_.note = "needs technologies__lead_time_years or sites__conversion_months"
        return fig_
    total = base[:, None] + extra
    order = np.argsort(total.max(axis=1))
    nreg = len(regions)
    height = 0.8 / nreg
    fig, ax = plt.subplots(figsize=(9.5, 0.55 * len(names) + 1.6))
    cmap = plt.get_cmap("tab10")
    for row, i in enumerate(order):
        conv = names[i].startswith("convert")
        for r in range(nreg if not conv else 1):
            y = row + (r - (nreg - 1) / 2) * height if not conv else row
            h = height if not conv else 0.6
            colour = "#1b9e77" if conv else cmap(r)
            ax.barh(y, base[i], height=h * 0.95, color=colour)
            if extra[i, r] > 0:
                ax.barh(y, extra[i, r], left=base[i], height=h * 0.95, color="white",
                        edgecolor=colour, hatch="///")
            ax.text(base[i] + extra[i, r], y, f" {base[i] + extra[i, r]:.1f}",
                    va="center", fontsize=7)
    from matplotlib.patches import Patch

    handles = [Patch(color=cmap(r), label=f"new build in {regions[r]}") for r in range(nreg)]
    handles += [Patch(color="#1b9e77", label="mine conversion"),
                Patch(facecolor="white", edgecolor="black", hatch="///",
                      label="interconnection queue / not yet available")]
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=True, framealpha=0.9)
    ax.set_yticks(np.arange(len(order)), [names[i] for i in order], fontsize=8)
    ax.set_xlabel("years from decision to power")
    ttp = _first(ds, "time_to_power_years")
    title = "Time to power by option"
    if ttp is not None and ttp.size:
        mean = float(np.nanmean(_values(ttp))) if np.isfinite(_values(ttp)).any() else np.nan
        if np.isfinite(mean):
            title += f" (plan's MW-weighted average: {mean:.1f} yr)"
    ax.set_title(title)
    _style(ax)
    fig_.png = _png(fig)
    return fig_


def fig_site_map(ds: xr.Dataset) -> Figure:
    """Scatter of candidate sites by lon/lat, sized by MW and coloured by decision."""
    import matplotlib.pyplot as plt

    fig_ = Figure("site_map", "Candidate mine sites",
                  "Each circle is a Bitcoin-mine conversion candidate at its approximate location, "
                  "its area proportional to interconnection capacity [MW]; green sites are "
                  "converted to AI load by the plan (with the year), grey keep mining. Stars mark "
                  "the regions' reference points.")
    missing = _need(ds, "sites__lon", "sites__lat", "sites__interconnection_mw")
    if missing:
        fig_.note = f"needs {missing}"
        return fig_
    lon, lat = _values(ds["sites__lon"]), _values(ds["sites__lat"])
    mw = _values(ds["sites__interconnection_mw"])
    conv = _first(ds, "converted")
    if conv is not None and "year" in conv.dims:
        conv = conv.max("year")
    flags = (np.nan_to_num(_values(conv)) > 0.5) if conv is not None else np.zeros(len(mw), bool)
    cyear = _first(ds, "conversion_year")
    names = _labels(ds["sites__name"]) if "sites__name" in ds else _labels(ds["site"])
    fig, ax = plt.subplots(figsize=(9, 5.5))
    scale = 900.0 / max(float(np.nanmax(mw)), 1.0)
    for decided, label in ((False, "keep mining"), (True, "convert")):
        sel = flags == decided
        if sel.any():
            ax.scatter(lon[sel], lat[sel], s=20 + mw[sel] * scale, alpha=0.6,
                       color=DECISION_COLOURS[label], edgecolor="black", linewidth=0.6,
                       label=f"{label} ({int(sel.sum())})")
    for i in range(len(mw)):
        text = f"{names[i]}\n{mw[i]:.0f} MW"
        if flags[i] and cyear is not None and np.isfinite(float(cyear.values[i])):
            text += f", {int(cyear.values[i])}"
        ax.annotate(text, (lon[i], lat[i]), fontsize=7, xytext=(6, 6),
                    textcoords="offset points")
    if "regions__lon" in ds and "regions__lat" in ds:
        rlon, rlat = _values(ds["regions__lon"]), _values(ds["regions__lat"])
        ax.scatter(rlon, rlat, marker="*", s=160, color="black", label="region reference")
        for i, name in enumerate(_labels(ds["region"])):
            ax.annotate(name, (rlon[i], rlat[i]), fontsize=9, fontweight="bold",
                        xytext=(6, -10), textcoords="offset points")
    all_lon = np.concatenate([lon, _values(ds["regions__lon"]) if "regions__lon" in ds else []])
    all_lat = np.concatenate([lat, _values(ds["regions__lat"]) if "regions__lat" in ds else []])
    pad = 2.0
    ax.set_xlim(np.nanmin(all_lon) - pad, np.nanmax(all_lon) + pad)
    ax.set_ylim(np.nanmin(all_lat) - pad, np.nanmax(all_lat) + pad)
    ax.set_aspect(1.0 / np.cos(np.deg2rad(np.nanmean(all_lat))))
    ax.set_xlabel("longitude [°E]")
    ax.set_ylabel("latitude [°N]")
    ax.set_title("Mine-conversion candidates (area ∝ MW)")
    _style(ax)
    ax.legend(loc="best", fontsize=8, markerscale=0.4, frameon=True)
    fig_.png = _png(fig)
    return fig_


def fig_flex_delivery(ds: xr.Dataset) -> Figure:
    """Histogram of delivered / committed flexibility over events and scenarios."""
    import matplotlib.pyplot as plt

    fig_ = Figure("flex_delivery", "Delivered flexibility",
                  "Distribution, over Monte Carlo scenarios and grid events, of the flexibility "
                  "aggregator pools actually delivered as a share of what they committed. The "
                  "dashed line is the mean; the dotted line the low quantile the plan relies on.")
    delivered = _first(ds, "mc__event_delivered_kw")
    committed = _first(ds, "mc__event_committed_kw")
    if delivered is not None and committed is not None:
        d, c = _values(delivered), _values(committed)
        ok = np.isfinite(d) & np.isfinite(c) & (c > 0)
        ratio = d[ok] / c[ok]
        what = "per event"
    else:
        r = _first(ds, "mc__flex_delivery_ratio")
        if r is None:
            fig_.note = "needs mc__event_delivered_kw/mc__event_committed_kw or flex_delivery_ratio"
            return fig_
        ratio = _values(r).ravel()
        ratio = ratio[np.isfinite(ratio)]
        what = "per scenario, pool and slice"
    if ratio.size == 0:
        fig_.note = "no flexibility events in these results"
        return fig_
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.hist(ratio * 100, bins=40, color="#7570b3", alpha=0.85, edgecolor="white")
    mean = float(ratio.mean())
    conf = None
    cfg = ds.attrs.get("config")
    if isinstance(cfg, str):
        try:
            conf = json.loads(cfg)["optimizer"]["flex_confidence"]
        except (ValueError, KeyError, TypeError):
            conf = None
    ax.axvline(mean * 100, color="black", ls="--", label=f"mean {mean:.0%}")
    if conf is not None:
        from gridcap.optimizer.planning.flexibility import RELIABILITY_QUANTILE

        q = float(np.quantile(ratio, 1 - conf, method=RELIABILITY_QUANTILE))
        ax.axvline(q * 100, color="#d95f02", ls=":", lw=2,
                   label=f"{1 - conf:.0%} quantile {q:.0%} (flex_confidence {conf:g})")
    ax.set_xlabel(f"delivered / committed flexibility [%] ({what})")
    ax.set_ylabel("count")
    ax.set_title(f"Delivered flexibility over {ratio.size:,} samples")
    _style(ax)
    ax.legend(fontsize=8, frameon=False)
    fig_.png = _png(fig)
    return fig_


def fig_flex_price(ds: xr.Dataset) -> Figure:
    """Flexibility price against the cost of the cheapest new-build alternative, per region."""
    import matplotlib.pyplot as plt

    fig_ = Figure("flex_price", "Flexibility price against new-build cost",
                  "Per region and year: the price the plan can pay for a committed kW of DER "
                  "flexibility (capacity value × delivery reliability; line = mean over the "
                  "region's aggregator pools, band = their range), the annualized cost of the "
                  "cheapest new-build accredited kW that could be online by then (dashed; "
                  "missing where nothing can be built in time) and the capacity value, the "
                  "shadow price of adequacy (dotted), beside the published capacity-auction "
                  "clearing price of the delivery year (diamonds, where one exists; see "
                  "docs/capacity-prices.md for why a dual and a clearing price differ). "
                  "Flexibility is the cheaper resource where its price line lies below the "
                  "dashed line. Log scale when values span decades.")
    price = _first(ds, "flex_price_usd_per_kw_yr")
    alt = _first(ds, "alternative_cost_usd_per_kw_yr")
    cap = _first(ds, "capacity_value_usd_per_kw_yr")
    years = _years(ds)
    if price is None or alt is None or years is None:
        fig_.note = "needs flex_price_usd_per_kw_yr, alternative_cost_usd_per_kw_yr and years"
        return fig_
    regions = _labels(ds["region"]) if "region" in ds.coords else ["all"]
    pool_region = (_labels(ds["pool_region"]) if "pool_region" in ds.coords and
                   "pool" in price.dims else None)
    fig, axes = plt.subplots(1, len(regions), figsize=(6.2 * len(regions), 4.4), squeeze=False,
                             sharey=True)
    positive: list[float] = []
    for ax, region in zip(axes[0], regions, strict=True):
        if "pool" in price.dims:
            pools = [i for i, r in enumerate(pool_region or []) if r == region]
            sub = price.isel(pool=pools) if pools else price
            sub = sub.transpose("pool", "year")
            pv = _values(sub)
            mean, lo, hi = np.nanmean(pv, 0), np.nanmin(pv, 0), np.nanmax(pv, 0)
            npools = len(pools)
        else:
            sub = price.sel(region=region) if "region" in price.dims else price
            mean = lo = hi = _values(sub)
            npools = 0
        ax.fill_between(years, lo, hi, color="#7570b3", alpha=0.2,
                        label=f"flexibility price, range over {npools} pools" if npools else None)
        ax.plot(years, mean, color="#7570b3", marker="o", lw=2, label="flexibility price")
        av = _values(alt.sel(region=region)) if "region" in alt.dims else _values(alt)
        ax.plot(years, av, color="black", ls="--", marker="s", lw=1.8,
                label="new-build alternative")
        series = [mean, lo, hi, av]
        if cap is not None:
            cv = _values(cap.sel(region=region)) if "region" in cap.dims else _values(cap)
            ax.plot(years, cv, color="#d95f02", ls=":", marker="^", lw=1.5,
                    label="capacity value")
            series.append(cv)
        mkt = _first(ds, "capacity_market_price_usd_per_kw_yr")
        if mkt is not None and "region" in mkt.dims and region in _labels(mkt["region"]):
            mv = _values(mkt.sel(region=region).reindex(year=years))
            if np.isfinite(mv).any():
                ax.plot(years, mv, color="#1b9e77", ls="none", marker="D", ms=7,
                        label="capacity-auction clearing price")
                series.append(mv)
        for s in series:
            positive += [float(v) for v in np.ravel(s) if np.isfinite(v) and v > 0]
        ax.set_xticks(years)
        ax.set_xlabel("year")
        ax.set_title(region)
        _style(ax)
    if positive and max(positive) / max(min(positive), 1e-9) > 50:
        for ax in axes[0]:
            ax.set_yscale("log")
    axes[0][0].set_ylabel("$/kW-yr")
    axes[0][0].legend(fontsize=8, frameon=True, framealpha=0.9, loc="best")
    fig.suptitle("Flexibility price vs new-build cost")
    fig.tight_layout()
    fig_.png = _png(fig)
    return fig_


def _cashflow(ds: xr.Dataset) -> tuple[xr.DataArray | None, str]:
    direct = _first(ds, "cfads_usd", "portfolio_cfads_usd", "waterfall_cfads_usd")
    if direct is not None and "scenario" in direct.dims and "year" in direct.dims:
        return _sum_except(direct, ("scenario", "year")), "CFADS of the financed portfolio"
    site = _first(ds, "mc__site_cfads_usd")
    conv = _first(ds, "converted")
    if site is None:
        return None, ""
    if conv is not None:
        flags = conv.max("year") if "year" in conv.dims else conv
        site = site * (flags.fillna(0) > 0.5)
    total = _sum_except(site, ("scenario", "year"))
    pool = _first(ds, "mc__pool_cfads_usd")
    if pool is not None:
        total = total + _sum_except(pool, ("scenario", "year"))
    return total, "CFADS of converted sites and flexibility pools (Monte Carlo)"


def fig_cashflow_fan(ds: xr.Dataset) -> Figure:
    """Fan chart of yearly cash flow available for debt service over scenarios."""
    import matplotlib.pyplot as plt

    fig_ = Figure("cashflow_fan", "Cash-flow fan chart",
                  "Cash flow available for debt service by year across Monte Carlo scenarios: "
                  "median line, 25–75 % and 5–95 % bands, with the senior and mezzanine debt "
                  "service where available. Where the lower band dips under debt service, "
                  "reserves and the junior tranche take the hit.")
    cash, what = _cashflow(ds)
    years = (np.asarray(cash["year"].values).astype(int)
             if cash is not None and "year" in cash.coords else _years(ds))
    if cash is None or years is None:
        fig_.note = "needs cfads_usd(scenario, year) or mc__site_cfads_usd, and years"
        return fig_
    cash = cash.transpose("scenario", "year")
    vals = _values(cash) / 1e6
    q = np.nanquantile(vals, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    fig, ax = plt.subplots(figsize=(9, 4.6))
    ax.fill_between(years, q[0], q[4], color=FAN_COLOUR, alpha=0.18, label="5–95 %")
    ax.fill_between(years, q[1], q[3], color=FAN_COLOUR, alpha=0.38, label="25–75 %")
    ax.plot(years, q[2], color=FAN_COLOUR, lw=2.2, marker="o", label="median")
    service = _first(ds, "debt_service_usd", "scheduled_service_usd", "service_usd")
    if service is not None and "year" in service.dims and "tranche" in service.dims:
        svc = service.mean([d for d in service.dims if d not in ("tranche", "year")])
        cum = np.zeros(len(years))
        names: list[str] = []
        for t in _tranche_order(_labels(svc["tranche"])):
            vals = _values(svc.sel(tranche=t))
            if not np.isfinite(vals).any():
                continue
            cum = cum + np.nan_to_num(vals) / 1e6
            names.append(t)
            ax.plot(years, cum, ls="--", marker="_", markersize=14, lw=1.5,
                    color=TRANCHE_COLOURS.get(t, "black"),
                    label=" + ".join(names) + " debt service")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(years)
    ax.set_xlabel("year")
    ax.set_ylabel("$ million per year")
    ax.set_title(f"{what}: {cash.sizes['scenario']} scenarios")
    _style(ax)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    fig_.png = _png(fig)
    return fig_


def _tranche_order(labels: list[str]) -> list[str]:
    known = [t for t in ("senior", "mezzanine", "equity") if t in labels]
    return known + [t for t in labels if t not in known]


def _tranche_losses(ds: xr.Dataset) -> tuple[xr.DataArray | None, str]:
    for name in ("loss_usd", "tranche_loss_usd", "scenario_loss_usd"):
        da = _first(ds, name)
        if da is not None and "tranche" in da.dims and "scenario" in da.dims:
            other = [d for d in da.dims if d not in ("scenario", "tranche")]
            return (da.sum(other, min_count=1) if other else da), "$"
    for name in ("loss_rate", "loss_fraction", "tranche_loss_fraction"):
        da = _first(ds, name)
        if da is not None and "tranche" in da.dims and "scenario" in da.dims:
            other = [d for d in da.dims if d not in ("scenario", "tranche")]
            return (da.sum(other, min_count=1) if other else da), "fraction"
    return None, ""


def _min_dscr(ds: xr.Dataset) -> np.ndarray | None:
    """Worst-year debt-service coverage of each scenario [1], or None."""
    cash = _first(ds, "cfads_usd")
    service = _first(ds, "debt_service_usd")
    if cash is None or service is None or not {"scenario", "year"} <= set(cash.dims):
        return None
    total = service.sum([d for d in service.dims if d != "year"], skipna=True)
    svc = _values(total)
    if not (svc > 0).any():
        return None
    cov = _values(cash.transpose("scenario", "year"))[:, svc > 0] / svc[svc > 0]
    return cov.min(axis=1)


def fig_tranche_losses(ds: xr.Dataset) -> Figure:
    """Per-tranche loss distributions over scenarios, as exceedance curves."""
    import matplotlib.pyplot as plt

    fig_ = Figure("tranche_losses", "Tranche loss distributions",
                  "Left: for each debt tranche, the share of Monte Carlo scenarios in which the "
                  "lender loses more than a given share of principal (loss = balance and accrued "
                  "interest still owed at the horizon, discounted). The curve starts at the "
                  "share of scenarios with any loss; PD is the probability of default and EL "
                  "the expected loss as a share of the tranche. Right: the loss of each "
                  "scenario in dollars — or, when no scenario loses anything, each scenario's "
                  "worst-year debt-service coverage ratio (how close it came to a loss).")
    loss, unit = _tranche_losses(ds)
    if loss is None:
        fig_.note = ("needs a per-scenario tranche loss (loss_usd or loss_rate over "
                     "scenario × tranche)")
        return fig_
    size = _first(ds, "tranche_size_usd")
    pd_ = _first(ds, "pd")
    el = _first(ds, "expected_loss")
    tranches = [t for t in _tranche_order(_labels(loss["tranche"]))
                if np.isfinite(_values(loss.sel(tranche=t))).any()]
    if not tranches:
        fig_.note = "tranche losses are all missing"
        return fig_
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12.5, 4.4))
    nscen = loss.sizes["scenario"]
    for k, t in enumerate(tranches):
        vals = _values(loss.sel(tranche=t))
        denom = float(size.sel(tranche=t)) if size is not None and "tranche" in size.dims \
            else 0.0
        frac = vals / denom if unit == "$" and denom > 0 else vals
        frac = np.sort(frac[np.isfinite(frac)])
        colour = TRANCHE_COLOURS.get(t, plt.get_cmap("tab10")(k))
        label = f"{t}"
        if unit == "$" and denom > 0:
            label += f" ({_money(denom)})"
        if pd_ is not None and "tranche" in pd_.dims and np.isfinite(float(pd_.sel(tranche=t))):
            label += f": PD {float(pd_.sel(tranche=t)):.2%}"
        if el is not None and "tranche" in el.dims and np.isfinite(float(el.sel(tranche=t))):
            label += f", EL {float(el.sel(tranche=t)):.2%}"
        if frac.size and frac.max() > 1e-12:
            pos = frac[frac > 1e-12]
            xs = np.concatenate([[0.0], pos]) * 100
            exceed = np.concatenate([[pos.size], pos.size - np.arange(1, pos.size + 1)])
            exceed = exceed / frac.size
            ax.step(xs, exceed * 100, where="post", color=colour, lw=2, label=label)
        else:
            ax.plot([0, 100], [0, 0], color=colour, lw=2,
                    label=label + f" — no loss in any of {nscen} scenarios")
        if unit == "$":
            order = np.sort(vals[np.isfinite(vals)])[::-1] / 1e6
            bx.bar(np.arange(order.size) + k * 0.8 / len(tranches), order,
                   width=0.8 / len(tranches), color=colour, label=t)
    any_loss = any(np.nan_to_num(_values(loss.sel(tranche=t))).max() > 0 for t in tranches)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, None if any_loss else 100)
    if not any_loss:
        ax.text(50, 50, f"no tranche loses principal\nin any of the {nscen} scenarios",
                ha="center", va="center", fontsize=11, color="#444")
    ax.set_xlabel("loss greater than [% of principal]")
    ax.set_ylabel("share of scenarios [%]")
    ax.set_title(f"Loss exceedance over {nscen} scenarios")
    _style(ax)
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    dscr = _min_dscr(ds)
    if not any_loss and dscr is not None:
        bx.cla()
        finite = dscr[np.isfinite(dscr)]
        bx.hist(np.clip(finite, 0, 5), bins=min(30, max(5, finite.size)), color="#2c7fb8",
                edgecolor="white")
        bx.axvline(1.0, color="#d95f02", ls="--", label="DSCR 1.0: cash just covers service")
        bx.set_xlabel("minimum DSCR over the debt's life (CFADS / total debt service), "
                      "clipped at 5")
        bx.set_ylabel("scenarios")
        from matplotlib.ticker import MaxNLocator

        bx.yaxis.set_major_locator(MaxNLocator(integer=True))
        bx.set_title("How close to a loss: worst-year coverage per scenario")
        _style(bx)
        bx.legend(fontsize=8, frameon=False)
    elif unit == "$":
        bx.set_xlabel("scenarios, ranked by loss")
        bx.set_ylabel("loss [$ million]")
        bx.set_title("Loss per scenario (ranked)")
        _style(bx)
        bx.legend(fontsize=8, frameon=False)
    else:
        bx.set_axis_off()
    fig.tight_layout()
    fig_.png = _png(fig)
    return fig_


def fig_sweep(ds: xr.Dataset) -> Figure:
    """Headline metrics per sweep variant."""
    import matplotlib.pyplot as plt

    fig_ = Figure("sweep", "Sweep overview",
                  "Expected and CVaR system cost of each variant of the sweep, and the "
                  "objective the plan minimized (expected cost + λ·CVaR), labelled by its swept "
                  "values; below, the senior and mezzanine debt each variant's terms raise.")
    metrics = [m for m in ("expected_cost_usd", "cvar_cost_usd", "objective_usd") if m in ds]
    if "variant" not in ds.dims or not metrics:
        fig_.note = "not a sweep, or no cost metrics"
        return fig_
    grid = json.loads(ds.attrs.get("sweep", "{}")) or {}
    labels = []
    for v in range(ds.sizes["variant"]):
        parts = [f"{k.split('.')[-1]}={ds[k].values[v]:g}" if k in ds.coords and
                 np.asarray(ds[k].values).dtype.kind in "if" else
                 f"{k.split('.')[-1]}={ds[k].values[v]}" for k in grid if k in ds.coords]
        labels.append("\n".join(parts) or str(v))
    debt = _first(ds, "tranche_size_usd")
    has_debt = debt is not None and "tranche" in debt.dims
    width_in = max(6, 1.1 * len(labels) + 2)
    if has_debt:
        fig, (ax, dx) = plt.subplots(2, 1, figsize=(width_in, 7.6), sharex=True)
    else:
        fig, ax = plt.subplots(figsize=(width_in, 4.4))
    x = np.arange(len(labels))
    width = 0.8 / len(metrics)
    totals = {m: [float((ds[m].isel(variant=v) if "variant" in ds[m].dims else ds[m]).sum())
                  for v in range(len(labels))] for m in metrics}
    peak = max(abs(t) for vals in totals.values() for t in vals) or 1.0
    scale, unit = next(((f, u) for f, u in ((1e12, "trillion"), (1e9, "billion"),
                                            (1e6, "million"), (1e3, "thousand"))
                        if peak >= f), (1.0, ""))
    for k, m in enumerate(metrics):
        ax.bar(x + k * width, np.asarray(totals[m]) / scale, width,
               label=m.replace("_usd", "").replace("_", " "))
    ax.set_xticks(x + width * (len(metrics) - 1) / 2, labels, fontsize=7)
    ax.set_ylabel(f"$ {unit}".strip())
    ax.set_title("Cost by sweep variant")
    ax.set_ylim(0, peak / scale * 1.18)
    _style(ax)
    ax.legend(fontsize=8, frameon=False, ncol=len(metrics), loc="upper center")
    if has_debt:
        assert debt is not None
        bottom = np.zeros(len(labels))
        for t in _tranche_order(_labels(debt["tranche"])):
            if t == "equity":
                continue
            sub = debt.sel(tranche=t)
            vals = np.nan_to_num(np.asarray([float(sub.isel(variant=v)) if "variant" in sub.dims
                                             else float(sub) for v in range(len(labels))]))
            dx.bar(x, vals / 1e6, 0.6, bottom=bottom / 1e6, label=f"{t} debt",
                   color=TRANCHE_COLOURS.get(t, "#636363"))
            bottom = bottom + vals
        dx.set_ylabel("$ million")
        dx.set_ylim(0, max(float(bottom.max()) / 1e6 * 1.15, 1.0))
        dx.set_title("Debt raised by variant")
        dx.set_xticks(x, labels, fontsize=7)
        _style(dx)
        dx.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig_.png = _png(fig)
    return fig_


def fig_headroom_curve(ds: xr.Dataset) -> Figure:
    """Curtailment-enabled headroom per region: MW of constant new load vs curtailment share."""
    import matplotlib.pyplot as plt

    fig_ = Figure("headroom_curve", "Curtailment-enabled headroom",
                  "Largest constant new load each region absorbs if it accepts curtailment "
                  "above the seasonal peak threshold of up to the given share of its annual "
                  "energy (Norris et al. 2025, Duke University method), on the Monte Carlo's "
                  "simulated load years: line = rates averaged over years, band = P10–P90 of "
                  "single years' headroom.")
    need = _need(ds, "headroom__headroom_mw", "headroom__headroom_p10_mw",
                 "headroom__headroom_p90_mw")
    if need:
        fig_.note = ("needs " + ", ".join(need) + " (run with [flexible_ai] headroom = true, "
                     "or 'gridcap headroom STUDY')")
        return fig_
    lim = ds["curtailment_limit_pct"].values
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for region in ds["headroom__headroom_mw"].region.values:
        sel = {"region": region}
        mid = ds["headroom__headroom_mw"].sel(sel).values / 1000.0
        lo = ds["headroom__headroom_p10_mw"].sel(sel).values / 1000.0
        hi = ds["headroom__headroom_p90_mw"].sel(sel).values / 1000.0
        (line,) = ax.plot(lim, mid, marker="o", label=str(region))
        ax.fill_between(lim, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xscale("log")
    ax.set_xticks(lim, [f"{x:g}" for x in lim])
    ax.set_xlabel("curtailment limit [% of the new load's annual energy]")
    ax.set_ylabel("headroom [GW]")
    ax.set_title("Constant new load absorbed with curtailment above the seasonal peaks")
    _style(ax)
    ax.legend(fontsize=8, frameon=False, ncol=2)
    fig_.png = _png(fig)
    return fig_


def fig_firm_flexible(ds: xr.Dataset) -> Figure:
    """AI load placed as firm vs flexible per region and year, next to the all-firm plan."""
    import matplotlib.pyplot as plt

    fig_ = Figure("firm_flexible", "Firm vs flexible AI load",
                  "AI load the plan places per region and year, split into firm MW and "
                  "flexible MW (flexible new-build connections plus the curtailable share of "
                  "converted mine sites); the dashed line is the AI load the same model places "
                  "when every MW must be firm.")
    need = _need(ds, "ai_firm_mw", "ai_flexible_mw")
    if need:
        fig_.note = "needs " + ", ".join(need) + " (run with [flexible_ai] enabled = true)"
        return fig_
    ds = ds.sel(year=ds["ai_firm_mw"].dropna("year", how="all").year.values)  # plan years
    regions = _labels(ds["ai_firm_mw"].region)
    years = ds["year"].values
    fig, axes = plt.subplots(1, len(regions), figsize=(max(4.0, 3.2 * len(regions)), 3.8),
                             sharey=True, squeeze=False)
    for ax, region in zip(axes[0], regions, strict=True):
        firm = ds["ai_firm_mw"].sel(region=region).values
        flex = ds["ai_flexible_mw"].sel(region=region).values
        ax.bar(years, firm, color="#2c7fb8", label="firm")
        ax.bar(years, flex, bottom=firm, color="#7570b3", label="flexible")
        if "ai_placed_all_firm_mw" in ds:
            ax.plot(years, ds["ai_placed_all_firm_mw"].sel(region=region).values, "k--",
                    label="all-firm plan")
        ax.set_title(region)
        ax.set_xlabel("year")
        _style(ax)
    axes[0][0].set_ylabel("AI load placed [MW]")
    axes[0][0].legend(fontsize=8, frameon=False)
    if "value_of_flexibility_usd" in ds:
        fig.suptitle(f"Value of flexibility: {_money(float(ds['value_of_flexibility_usd']))}",
                     fontsize=10)
    fig.tight_layout()
    fig_.png = _png(fig)
    return fig_


FIGURES: tuple[Callable[[xr.Dataset], Figure], ...] = (
    fig_capacity_timeline,
    fig_time_to_power,
    fig_site_map,
    fig_flex_delivery,
    fig_flex_price,
    fig_firm_flexible,
    fig_headroom_curve,
    fig_cashflow_fan,
    fig_tranche_losses,
)


# --------------------------------------------------------------------------- tables


def _flex_rows(ds: xr.Dataset) -> list[tuple[str, str]]:
    """DER flexibility contracted in the plan's last year, with its sampling error, and the
    enrolled population the samples stand for."""
    rows: list[tuple[str, str]] = []
    fc = _first(ds, "flex_contracted_kw")
    if fc is None or "year" not in fc.dims or "variant" in fc.dims:
        return rows
    last = fc.dropna("year", how="all")["year"].values[-1] if fc.sizes["year"] else None
    if last is None:
        return rows
    text = f"{float(fc.sel(year=last).sum()) / 1000:,.0f} MW"
    se = _first(ds, "flex_contracted_kw_se")
    if se is not None and "year" in se.dims:
        text += f" ± {float(np.sqrt((se.sel(year=last) ** 2).sum())) / 1000:,.0f} MW (s.e.)"
    pop, n = _first(ds, "mc__flex_population"), _first(ds, "mc__flex_samples")
    if pop is not None and n is not None:
        text += (f"; {float(pop.sum()):,.0f} enrolled premises represented by "
                 f"{float(n.sum()):,.0f} samples")
    rows.append((f"DER flexibility contracted in {int(last)}", text))
    return rows


def _capacity_market_rows(ds: xr.Dataset) -> list[tuple[str, str]]:
    """Capacity value beside the market figure, per region-year with a clearing price."""
    need = ("capacity_value_usd_per_kw_yr", "capacity_market_price_usd_per_kw_yr")
    if not all(n in ds for n in need) or "region" not in ds["capacity_value_usd_per_kw_yr"].dims:
        return []
    cv, mk = ds[need[0]], ds[need[1]]
    if "variant" in cv.dims:
        return []
    rows = []
    for region in _labels(ds["region"]):
        for y in np.asarray(mk["year"].values).astype(int).tolist():
            m = float(mk.sel(region=region, year=y))
            if not np.isfinite(m):
                continue
            label = (str(ds["capacity_market_label"].sel(region=region, year=y).values)
                     if "capacity_market_label" in ds else "market")
            rows.append((f"capacity value vs market, {region} {y}",
                         f"${float(cv.sel(region=region, year=y)):,.1f}/kW-yr (model dual) vs "
                         f"${m:,.1f}/kW-yr ({label})"))
    return rows


def _summary_rows(ds: xr.Dataset) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name, label in (("expected_cost_usd", "expected system cost"),
                        ("cvar_cost_usd", "CVaR of system cost")):
        if name in ds:
            rows.append((label, _money(float(ds[name].sum()))))
    if "unserved_ai_mw" in ds and "year" in ds["unserved_ai_mw"].dims:
        last = ds["unserved_ai_mw"].isel(year=-1).sum()
        rows.append((f"AI demand unserved in {int(ds['year'].values[-1])}",
                     f"{float(last):,.0f} MW"))
    if "converted" in ds:
        conv = ds["converted"].max("year") if "year" in ds["converted"].dims else ds["converted"]
        rows.append(("mine sites converted", f"{int((conv.fillna(0) > 0.5).sum())} of "
                                             f"{conv.size}"))
    rows += _flex_rows(ds)
    rows += _capacity_market_rows(ds)
    if "tranche_size_usd" in ds and "tranche" in ds["tranche_size_usd"].dims:
        for t in _tranche_order(_labels(ds["tranche"])):
            size = float(ds["tranche_size_usd"].sel(tranche=t))
            if not np.isfinite(size):
                continue
            line = _money(size)
            for metric, fmt in (("pd", "PD {:.2%}"), ("expected_loss", "EL {:.2%}"),
                                ("spread_bps", "spread {:.0f} bp"), ("rating", "rating {}")):
                if metric in ds and "tranche" in ds[metric].dims:
                    val = ds[metric].sel(tranche=t).values.item()
                    if isinstance(val, float) and not np.isfinite(val):
                        continue
                    if str(val) in ("", "n/a"):
                        continue
                    line += ", " + fmt.format(val)
            rows.append((f"{t} tranche", line))
    rows += _market_rows(ds)
    return rows


def _market_rows(ds: xr.Dataset) -> list[tuple[str, str]]:
    """One headline row per financed site: its metrics next to the deals table's range."""
    if "financed_site" not in ds.dims or "site_debt_per_mw_usd" not in ds:
        return []
    lo = ds["market_min"].to_series()
    hi = ds["market_max"].to_series()
    rows = []
    for site in ds["financed_site"].values:
        r = ds.sel(financed_site=site)
        flags = [f"{m} {st}" for m, st in r["market_status"].to_series().items()
                 if st not in ("inside", "n/a")]
        own = (float(r["site_deal_debt_per_mw_usd"]) if "site_deal_debt_per_mw_usd" in r
               else float("nan"))
        mine = (f" (its own deal {_money(own)}/MW-IT)" if np.isfinite(own) else "")
        rows.append((
            f"market check: {site}",
            f"debt {_money(float(r['site_debt_per_mw_usd']))}/MW-IT{mine} "
            f"(deals {_money(lo['debt_per_mw_usd'])}–{_money(hi['debt_per_mw_usd'])}), "
            f"loan-to-cost {float(r['site_loan_to_cost']):.0%}, "
            f"min DSCR {float(r['site_min_dscr']):.2f}, "
            f"coupon {float(r['site_coupon']):.2%} (deals {lo['coupon']:.2%}–{hi['coupon']:.2%}), "
            f"implied rating {r['site_implied_rating'].values.item()}: "
            + ("; ".join(flags) if flags else "inside the market range")))
    return rows


def _html(title: str, meta: list[tuple[str, str]], rows: list[tuple[str, str]],
          figures: list[Figure], figdir: str) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;"
        "padding:0 1em;color:#222}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid "
        "#ddd}table{border-collapse:collapse}td,th{padding:.25em .8em;border-bottom:1px solid "
        "#eee;text-align:left}img{max-width:100%}.note{color:#a33;font-style:italic}"
        "figcaption{color:#555;font-size:.92em}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in meta)
        + "</table>",
    ]
    if rows:
        parts.append("<h2>Headline numbers</h2><table>" + "".join(
            f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows) + "</table>")
    for fig in figures:
        parts.append(f'<h2 id="{fig.key}">{esc(fig.title)}</h2><figure>')
        if fig.png is not None:
            data = base64.b64encode(fig.png).decode("ascii")
            parts.append(f'<img alt="{esc(fig.title)}" src="data:image/png;base64,{data}">')
            parts.append(f"<figcaption>{esc(fig.caption)} (also saved as "
                         f"{esc(figdir)}/{fig.key}.png)</figcaption>")
        else:
            parts.append(f'<p class="note">Figure skipped: {esc(fig.note)}.</p>')
        parts.append("</figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- entry points


def _load(results: str | Path | xr.Dataset) -> tuple[xr.Dataset, str]:
    if isinstance(results, xr.Dataset):
        return results, "<in-memory results>"
    path = Path(results)
    if path.is_dir():
        path = path / "results.nc"
    if not path.is_file():
        raise GridcapInputError(
            f"report: results file {str(results)!r} does not exist; expected a results.nc "
            "written by 'gridcap run' or 'gridcap sweep' (or the directory holding it)"
        )
    from gridcap.io import read_results

    try:
        return read_results(path), str(path)
    except GridcapInputError:
        raise
    except (OSError, ValueError) as err:
        raise GridcapInputError(f"report: cannot read {str(path)!r} as NetCDF results: {err}") \
            from None


def render_figures(ds: xr.Dataset) -> list[Figure]:
    """Every report figure for ``ds`` (one variant), drawn or with a note why not."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    out = []
    for make in FIGURES:
        try:
            out.append(make(ds))
        except Exception as err:  # one bad figure must not lose the whole report
            fig = make.__doc__ or make.__name__
            out.append(Figure(make.__name__.removeprefix("fig_"), fig.strip().rstrip("."), "",
                              note=f"could not be drawn: {type(err).__name__}: {err}"))
    return out


def write_report(
    results: str | Path | xr.Dataset, out_dir: str | Path, *, variant: int | None = None
) -> Path:
    """Write ``out_dir/report.html`` (self-contained) and ``out_dir/figures/*.png``.

    Parameters
    ----------
    results : str, Path or xarray.Dataset
        A ``results.nc`` (or the directory holding it) from ``gridcap run``/``sweep``, or the
        results Dataset itself.
    out_dir : str or Path
        Output directory (created).
    variant : int, optional
        For sweep results, which variant the detailed figures show [index] (default 0); an
        error for the results of a single run.

    Returns
    -------
    Path
        The HTML file.

    Raises
    ------
    GridcapInputError
        If the results file is missing, unreadable or not a complete output set, ``variant``
        is out of range or given for single-run results, or ``out_dir`` cannot be written.
    """
    return _write_report(results, out_dir, variant=variant)[0]


def _write_report(
    results: str | Path | xr.Dataset, out_dir: str | Path, *, variant: int | None = None
) -> tuple[Path, list[Figure]]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from gridcap.io import check_output_dir

    ds, source = _load(results)
    if variant is not None and "variant" not in ds.dims:
        raise GridcapInputError(
            f"report: --variant {variant}: {source!r} holds the results of one run (no "
            "'variant' dimension); expected --variant only with results of 'gridcap sweep'"
        )
    out = check_output_dir(out_dir, {"figures": "dir", "report.html": "file"})
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    variant = 0 if variant is None else variant
    figures: list[Figure] = []
    title = str(ds.attrs.get("title", "gridcap results"))
    meta = [("results", source), ("study", str(ds.attrs.get("study", "?"))),
            ("gridcap version", str(ds.attrs.get("gridcap_version", "?")))]
    one = ds
    if "variant" in ds.dims:
        n = ds.sizes["variant"]
        if not 0 <= variant < n:
            raise GridcapInputError(f"report: variant = {variant}: expected 0 … {n - 1}")
        figures.append(fig_sweep(ds))
        one = ds.isel(variant=variant)
        if "variant_config" in ds:
            meta.append(("detailed figures for variant",
                         f"{variant}: {ds['variant_config'].values[variant]}"))
    if "mc__peak_net_load_mw" in one or "scenario" in one.dims:
        meta.append(("scenarios", str(one.sizes.get("scenario", "?"))))
    figures += render_figures(one)
    page = _html(title, meta, _summary_rows(one), figures, "figures")
    from gridcap.errors import OutputError
    from gridcap.io import atomic_write

    def write_page(tmp: Path) -> None:
        tmp.write_text(page, encoding="utf-8")

    try:
        for fig in figures:
            target = figdir / f"{fig.key}.png"
            if fig.png is not None:
                atomic_write(target, partial(Path.write_bytes, data=fig.png))
            elif target.exists():
                target.unlink()
        path = atomic_write(out / "report.html", write_page)
    except OSError as err:
        raise OutputError(f"report: --out {str(out)!r}: writing failed ({err.strerror or err}"
                          f"{': ' + str(err.filename) if err.filename else ''})") from err
    return path, figures


def cmd_report(args: argparse.Namespace) -> int:
    """``gridcap report RESULTS --out DIR``."""
    from gridcap.terminal import display, stdout

    path, figures = _write_report(args.results, args.out, variant=args.variant)
    for fig in figures:
        if fig.png is None:
            stdout.print(f"[yellow]skipped[/] {display(fig.title)}: {display(fig.note, 1000)}",
                         markup=True)
    drawn = sum(f.png is not None for f in figures)
    stdout.print(f"report with {drawn} of {len(figures)} figures written to "
                 f"[green]{display(path, 4096)}[/]")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report`` to the ``gridcap`` CLI (``subparsers`` from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "report", help="write a self-contained HTML report with figures from a results file",
        description="Render DIR/report.html (figures embedded) and DIR/figures/*.png from a "
        "results.nc written by 'gridcap run' or 'gridcap sweep'.",
    )
    parser.add_argument("results", metavar="RESULTS",
                        help="results.nc (or the directory holding it)")
    parser.add_argument("--out", default="gridcap-report", metavar="DIR",
                        help="output directory (default: ./gridcap-report)")
    parser.add_argument("--variant", type=int, default=None, metavar="I",
                        help="for sweep results: the variant the detailed figures show "
                        "(default 0)")
    parser.set_defaults(func=cmd_report)
    return parser
