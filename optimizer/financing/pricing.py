"""Coupons from credit: market spreads by rating plus the project-note premium of the deals.

``coupon = risk_free + OAS[rating] + premium``:

* :data:`OAS_BY_RATING` — ICE BofA US corporate option-adjusted spreads by rating category
  (FRED series, mid-2025 values, cited per row);
* the **project premium** is what the shipped deals table (``datasets/data/financings.csv``)
  paid above ``risk_free + OAS`` of its effective credit (the guarantor's rating where an
  investment-grade company backstops the lease, else the tenant's): the median over the deals
  with a coupon (:func:`project_premium`). It prices what a corporate index does not —
  construction and completion risk, single-asset concentration, 144A new-issue terms — and is
  read from the table, never set by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gridcap.errors import GridcapInputError

__all__ = ["OAS_BY_RATING", "coupon_for_rating", "effective_rating", "project_premium",
           "rating_from_bucket"]

#: ICE BofA US corporate index option-adjusted spread by S&P rating category [1/yr]:
#: (value, date, source URL). AAA is an assumption (the AA value; no cited AAA figure).
OAS_BY_RATING: dict[str, tuple[float, str, str]] = {
    "AAA": (0.0042, "2025-09", "assumption: AA value"),
    "AA": (0.0042, "2025-09", "https://tradingeconomics.com/united-states/"
           "bofa-merrill-lynch-us-corporate-aa-option-adjusted-spread-fed-data.html"),
    "A": (0.0068, "2025-08-05", "https://fred-trends.vercel.app/trend/BAMLC0A3CA"),
    "BBB": (0.0101, "2025-08-08", "https://fred-trends.vercel.app/trend/BAMLC0A4CBBB"),
    "BB": (0.0181, "2025-08-11", "https://useconomictrends.com/trend/BAMLH0A1HYBB"),
    "B": (0.0309, "2025-08-11", "https://fred-trends.vercel.app/trend/BAMLH0A2HYB"),
    "CCC/C": (0.0839, "2025-08-06", "https://fred-trends.vercel.app/trend/BAMLH0A3HYC"),
}

_ORDER = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC/C")


def _category(rating: str) -> str:
    from gridcap.kernels.contracts import rating_category

    c = rating_category(rating)
    return "B" if c == "NR" else c  # unrated: B, as kernels.contracts.DEFAULT_RATE_1Y


def rating_from_bucket(bucket: str) -> str:
    """S&P category of a Moody's-style bucket (``"Ba2"`` -> ``"BB"``, ``"Caa1"`` -> CCC/C)."""
    b = str(bucket)
    for prefix, cat in (("Aaa", "AAA"), ("Aa", "AA"), ("Baa", "BBB"), ("Ba", "BB"),
                        ("Caa", "CCC/C"), ("Ca", "CCC/C"), ("C", "CCC/C"), ("A", "A"),
                        ("B", "B")):
        if b.startswith(prefix):
            return cat
    raise GridcapInputError(f"rating bucket = {bucket!r}: expected a Moody's-style bucket")


def effective_rating(tenant: str, guarantor: str = "", backstop_usd: float = 0.0) -> str:
    """The credit a lender prices: the guarantor where one backstops the lease, else the tenant.

    Parameters
    ----------
    tenant, guarantor : str
        S&P-scale ratings (``"NR"`` = unrated: treated as B); ``guarantor`` may be ``""``.
    backstop_usd : float
        Amount the guarantor covers [$]; 0 means no backstop.

    Returns
    -------
    str
        S&P rating category.
    """
    if str(guarantor).strip() and backstop_usd > 0:
        return _category(guarantor)
    return _category(tenant)


def worse(a: str, b: str) -> str:
    """The weaker of two S&P categories."""
    return _ORDER[max(_ORDER.index(a), _ORDER.index(b))]


def project_premium(risk_free_rate: float, deals: Any = None) -> dict[str, Any]:
    """Median coupon of the deals above ``risk_free + OAS[effective rating]`` [1/yr].

    Parameters
    ----------
    risk_free_rate : float
        Base rate the deals are compared against [1/yr].
    deals : pandas.DataFrame, optional
        Deals table (default: the shipped one).

    Returns
    -------
    dict
        ``premium`` [1/yr], ``per_deal`` {deal: premium} and ``n``.
    """
    from gridcap.datasets.financings import read_financings

    d = read_financings() if deals is None else deals
    per: dict[str, float] = {}
    for _, r in d[d["coupon"].notna()].iterrows():
        bs = float(r["backstop_usd"]) if np.isfinite(r["backstop_usd"]) else 0.0
        eff = effective_rating(str(r["tenant_rating"]), str(r["guarantor_rating"]), bs)
        per[str(r["deal"])] = float(r["coupon"]) - risk_free_rate - OAS_BY_RATING[eff][0]
    if not per:
        raise GridcapInputError("deals table: no row with a coupon to price the premium from")
    return {"premium": float(np.median(list(per.values()))), "per_deal": per, "n": len(per)}


def coupon_for_rating(rating: str, risk_free_rate: float, *, premium: float | None = None,
                      ) -> float:
    """Coupon of senior project notes whose credit is ``rating`` [1/yr].

    Parameters
    ----------
    rating : str
        S&P rating or category (``"BB-"``, ``"AA+"``, ``"NR"``).
    risk_free_rate : float
        Base rate [1/yr].
    premium : float, optional
        Project premium [1/yr] (default: :func:`project_premium` of the shipped deals).

    Returns
    -------
    float
        ``risk_free + OAS[category] + premium`` [1/yr].

    Examples
    --------
    >>> round(coupon_for_rating("BB-", 0.04, premium=0.027), 4)
    0.0851
    """
    p = project_premium(risk_free_rate)["premium"] if premium is None else premium
    return risk_free_rate + OAS_BY_RATING[_category(rating)][0] + p
