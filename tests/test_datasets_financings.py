"""The deals table: every row cited, market ranges recomputed from the rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gridcap.datasets.financings import market_check, market_range, read_financings
from gridcap.errors import GridcapInputError


def test_every_deal_is_cited_and_dated():
    df = read_financings()
    assert len(df) >= 8
    for _, r in df.iterrows():
        assert r["source_url"].startswith("http"), r["deal"]
        assert r["source_title"].strip() and r["publisher"].strip(), r["deal"]
        assert r["date"][:4] in {"2024", "2025", "2026"}, r["deal"]
        if r["is_estimate"] == "true":
            assert r["estimate_note"].strip(), r["deal"]


def test_market_range_is_recomputed_from_rows():
    df = read_financings()
    r = market_range(df)
    debt = df.dropna(subset=["debt_usd", "financed_mw_it"])
    per_mw = (debt["debt_usd"] / debt["financed_mw_it"]).to_numpy()
    assert r["debt_per_mw_usd"]["n"] == len(debt)
    assert r["debt_per_mw_usd"]["min"] == pytest.approx(per_mw.min())
    assert r["debt_per_mw_usd"]["max"] == pytest.approx(per_mw.max())
    # order of magnitude of MODEL.md §4 (roughly $8-11M per MW-IT, coupons 5.x-9.x %)
    assert 6e6 < r["debt_per_mw_usd"]["min"] <= r["debt_per_mw_usd"]["max"] < 12e6
    assert 0.05 < r["coupon"]["min"] <= r["coupon"]["max"] < 0.10
    assert 1.0e6 < r["rent_usd_per_mw_yr"]["median"] < 2.5e6


def test_market_check_flags():
    rng = market_range()
    lo, hi = rng["debt_per_mw_usd"]["min"], rng["debt_per_mw_usd"]["max"]
    chk = market_check({"debt_per_mw_usd": 0.5 * (lo + hi), "coupon": 0.30}, ranges=rng)
    assert chk["debt_per_mw_usd"]["status"] == "inside"
    assert chk["coupon"]["status"] == "far outside"
    assert chk["loan_to_cost"]["status"] == "n/a"
    assert market_check({"debt_per_mw_usd": hi * 1.1})["debt_per_mw_usd"]["status"] == "near"
    assert math.isnan(chk["loan_to_cost"]["value"])


def test_bad_table_is_rejected(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("deal,source_url\nx,http://a\n")
    with pytest.raises(GridcapInputError, match="missing columns"):
        read_financings(p)
    assert np.isfinite(market_range()["coupon"]["median"])


def test_deal_debt_per_mw_sums_a_sites_disclosed_debt():
    from gridcap.datasets.financings import deal_debt_per_mw, read_financings

    d = read_financings()
    by = d.set_index("deal")
    lm = by.loc["wulf_lake_mariner_2030_notes"]
    assert deal_debt_per_mw("wulf_lake_mariner", d) == pytest.approx(
        lm["debt_usd"] / lm["financed_mw_it"], rel=1e-12)
    # a note and its tap count together
    a, b = by.loc["cifr_barber_lake_2030_notes"], by.loc["cifr_barber_lake_phase2_notes"]
    assert deal_debt_per_mw("cifr_barber_lake", d) == pytest.approx(
        (a["debt_usd"] + b["debt_usd"]) / (a["financed_mw_it"] + b["financed_mw_it"]), rel=1e-12)
    # Galaxy Helios' loan does not disclose the MW it funds; Core Scientific raised no debt
    assert np.isnan(deal_debt_per_mw("glxy_helios", d))
    assert np.isnan(deal_debt_per_mw("corz_denton", d))


def test_value_sized_at_the_range_bound_is_inside():
    rng = market_range()
    hi = rng["loan_to_cost"]["max"]
    # 85% loan-to-cost computed as size / capex lands one ulp either side of 0.85
    for v in (hi * (1 + 2e-16), hi * (1 - 2e-16)):
        assert market_check({"loan_to_cost": v}, ranges=rng)["loan_to_cost"]["status"] == "inside"
    assert market_check({"loan_to_cost": hi * 1.01}, ranges=rng)["loan_to_cost"]["status"] == "near"
