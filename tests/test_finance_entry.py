"""finance_project(plan, outcomes, terms): the Dataset contract, cash accounting across tranches,
project selection, conversion-year shift, files, and errors for bad terms."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from gridcap.errors import GridcapInputError
from gridcap.optimizer.financing.project import (
    finance_project,
    finance_terms,
    project_cfads,
    write_finance_files,
)
from gridcap.optimizer.financing.tokens import replay_ledger

YEARS = np.arange(2026, 2031)


def _outcomes(S: int = 300, seed: int = 4) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((S, 1, 1))
    site = 1.2e7 * np.exp(0.25 * common + 0.2 * rng.standard_normal((S, 3, 5)))
    mining = np.full((S, 3, 5), 1e6)
    pool = rng.normal(2e5, 5e4, (S, 2, 5))
    return xr.Dataset(
        {
            "site_cfads_usd": (("scenario", "site", "year"), site, {"units": "$"}),
            "site_mining_cfads_usd": (("scenario", "site", "year"), mining, {"units": "$"}),
            "pool_cfads_usd": (("scenario", "pool", "year"), pool, {"units": "$"}),
            "flex_committed_kw": (("pool",), [1000.0, 2000.0], {"units": "kW"}),
        },
        coords={
            "scenario": np.arange(S),
            "site": ["a", "b", "c"],
            "pool": ["p1", "p2"],
            "year": YEARS,
        },
    )


def _plan(conversion_year: list[int] | None = None) -> xr.Dataset:
    ds = xr.Dataset(
        {
            "converted": ("site", [1, 0, 1]),
            "capex_usd": ("site", [4e7, 3e7, 5e7]),
            "flex_contracted_kw": (("pool", "year"), np.full((2, 5), 500.0)),
        },
        coords={"site": ["a", "b", "c"], "pool": ["p1", "p2"], "year": YEARS},
    )
    if conversion_year is not None:
        ds["conversion_year"] = ("site", conversion_year)
    return ds


@pytest.fixture(scope="module")
def result() -> xr.Dataset:
    return finance_project(_plan(), _outcomes(), finance_terms(pd_target=(0.01, 0.05), sweep_fraction=0.25))


def test_contract_variables_dims_and_units(result: xr.Dataset) -> None:
    ds = result
    expect = {
        "tranche_size_usd": ("tranche",),
        "pd": ("tranche",),
        "expected_loss": ("tranche",),
        "lgd": ("tranche",),
        "wal_years": ("tranche",),
        "duration_years": ("tranche",),
        "irr": ("scenario", "tranche"),
        "spread_bps": ("tranche",),
        "rating": ("tranche",),
        "unit_count": ("tranche",),
        "unit_distribution_usd": ("tranche", "year"),
        "debt_service_usd": ("tranche", "year"),
        "cfads_usd": ("scenario", "year"),
        "tranche_cash_usd": ("scenario", "tranche", "year"),
        "size_by_method_usd": ("sizing_method", "debt_tranche"),
        "loss_usd": ("scenario", "tranche"),
        "ledger_cents": ("year", "ledger_field"),
    }
    for name, dims in expect.items():
        assert ds[name].dims == dims, name
        assert "units" in ds[name].attrs, name
    assert list(ds["tranche"].values) == ["senior", "mezzanine", "equity"]
    assert ds["spread_bps"].attrs["units"] == "bp"


def test_sizes_gearing_and_risk_targets(result: xr.Dataset) -> None:
    ds = result
    size = ds["tranche_size_usd"]
    capex = 9e7
    debt = float(size.sel(tranche="senior") + size.sel(tranche="mezzanine"))
    assert 0 < debt <= 0.75 * capex * (1 + 1e-9)
    rules_dsra = ds.attrs["waterfall_rules_json"]
    dsra0 = int(__import__("json").loads(rules_dsra)["dsra"]["initial_cents"]) / 100
    assert_allclose(float(size.sel(tranche="equity")), capex + dsra0 - debt)
    assert float(ds["pd"].sel(tranche="senior")) <= 0.01
    assert_allclose(
        ds["size_by_method_usd"].sel(sizing_method="milp").values,
        size.sel(tranche=["senior", "mezzanine"]).values,
    )
    cvar = ds["size_by_method_usd"].sel(sizing_method="cvar", debt_tranche="senior")
    assert float(cvar) <= float(size.sel(tranche="senior")) * (1 + 1e-9)
    assert ds["unit_count"].sel(tranche="senior") == int(size.sel(tranche="senior") // 1000)


def test_every_dollar_of_cfads_reaches_a_tranche(result: xr.Dataset) -> None:
    ds = result
    rules = __import__("json").loads(ds.attrs["waterfall_rules_json"])
    dsra0 = rules["dsra"]["initial_cents"] / 100
    total = ds["tranche_cash_usd"].sum(("tranche", "year"))
    cf = ds["cfads_usd"].sum("year")
    # cents rounding of the inputs only; the DSRA funded at close comes back by the end
    assert_allclose(total.values, cf.values + dsra0, atol=0.01 * 5 + 1e-6)


def test_portfolio_cfads_and_conversion_shift() -> None:
    out = _outcomes(S=20)
    cf, capex, info = project_cfads(_plan(), out)
    share = 500.0 / np.array([1000.0, 2000.0])
    manual = out["site_cfads_usd"].sel(site=["a", "c"]).sum("site") + (
        out["pool_cfads_usd"] * xr.DataArray(share, dims="pool")
    ).sum("pool")
    assert_allclose(cf.values, manual.transpose("scenario", "year").values)
    assert capex == 9e7 and info["converted_sites"] == ["a", "c"]
    shifted, _, _ = project_cfads(_plan([2026, -1, 2028]), out, "c")
    site_c = out["site_cfads_usd"].sel(site="c").values
    assert_allclose(shifted.values[:, :2], 1e6)  # mining until converted
    assert_allclose(shifted.values[:, 2:], site_c[:, :3])  # converted CFADS, 2 yr later
    one, cap1, _ = project_cfads(_plan(), out, "a")
    assert_allclose(one.values, out["site_cfads_usd"].sel(site="a").values)
    assert cap1 == 4e7
    with pytest.raises(GridcapInputError, match="project = 'zz'"):
        project_cfads(_plan(), out, "zz")


def test_files_replay_and_netcdf(result: xr.Dataset, tmp_path) -> None:
    paths = write_finance_files(result, tmp_path)
    assert replay_ledger(paths["rules"], paths["ledger"]) == []
    result.to_netcdf(tmp_path / "fin.nc")
    back = xr.open_dataset(tmp_path / "fin.nc")
    assert list(back["rating"].values) == list(result["rating"].values)
    assert back["ledger_cents"].dtype == np.int64


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"rate": (-0.01, 0.11)}, r"finance.senior.rate = -0.01: expected an annual rate"),
        (
            {"dscr_target": (1.35, 0.0)},
            r"finance.mezzanine.dscr_target = 0.0: expected a "
            r"value > 0",
        ),
        (
            {"tenor_years": (7, 5)},
            r"finance.senior.tenor_years = 7: expected an integer "
            r"number of years in \[1, 5\]",
        ),
        (
            {"pd_target": (0.001, 1.0)},
            r"finance.mezzanine.pd_target = 1.0: expected a value "
            r"in \(0, 1\)",
        ),
        ({"pd_target": (0.0, 0.02)}, r"finance.senior.pd_target = 0.0"),
        ({"max_gearing": 1.2}, r"finance.max_gearing = 1.2"),
        ({"min_ticket_usd": 10.0}, r"finance.min_ticket_usd = 10"),
    ],
)
def test_bad_terms_raise_clear_errors(override: dict, match: str) -> None:
    with pytest.raises(GridcapInputError, match=match):
        finance_project(_plan(), _outcomes(S=20), finance_terms(**override))


def test_other_sizings_and_projects_run() -> None:
    out = _outcomes(S=60)
    ds = finance_project(_plan(), out, finance_terms(), sizing="dscr", project="sites")
    assert_allclose(
        ds["tranche_size_usd"].sel(tranche=["senior", "mezzanine"]).values,
        ds["size_by_method_usd"].sel(sizing_method="dscr").values,
    )
    pools = finance_project(_plan(), out, finance_terms(), project="pools", sizing="cvar")
    assert np.isnan(float(pools["tranche_size_usd"].sel(tranche="equity")))
    assert pools.attrs["capex_usd"] == -1.0


def test_capex_from_site_inputs() -> None:
    from gridcap.kernels.sites import DESIGN_PUE

    plan = _plan().drop_vars("capex_usd")
    sites = xr.Dataset(
        {
            "interconnection_mw": ("site", [100.0, 50.0, 200.0]),
            "conversion_capex_usd_per_kw": ("site", [1500.0, 2000.0, 1200.0]),
        },
        coords={"site": ["c", "b", "a"]},
    )
    _, capex, info = project_cfads(plan, _outcomes(S=10), sites=sites)
    expect = (1500.0 * 100.0 + 1200.0 * 200.0) * 1000.0 / DESIGN_PUE  # sites a and c
    assert_allclose(capex, expect)
    assert "conversion_capex_usd_per_kw" in info["capex_source"]
    _, none, _ = project_cfads(plan, _outcomes(S=10))
    assert none is None
