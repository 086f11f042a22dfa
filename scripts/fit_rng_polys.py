"""Reproduce the polynomial coefficients of :mod:`gridcap.kernels.rng` (``S*``, ``C*``, ``A*``).

Near-minimax fits: least squares on Chebyshev nodes in the Chebyshev basis (well conditioned),
converted to powers of ``t`` and evaluated in Horner form as the kernels do. Prints the
coefficients and the maximum absolute error of each approximation on a fine grid against
NumPy's libm (an independent reference).

Run: ``python scripts/fit_rng_polys.py``
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import Chebyshev, Polynomial


def _fit(f, a: float, b: float, deg: int, n: int = 20000) -> np.ndarray:
    k = np.arange(n)
    x = 0.5 * (a + b) + 0.5 * (b - a) * np.cos(np.pi * (k + 0.5) / n)
    return Chebyshev.fit(x, f(x), deg, domain=[a, b]).convert(kind=Polynomial).coef


def _horner(c: np.ndarray, t: np.ndarray) -> np.ndarray:
    p = np.full_like(t, c[-1])
    for cc in c[-2::-1]:
        p = p * t + cc
    return p


def _over_root(g):
    def f(t):
        r = np.sqrt(np.maximum(t, 1e-300))
        return np.where(t > 0, g(r) / r, 1.0)
    return f


def main() -> None:
    s_max = 3.0 - 2.0 * np.sqrt(2.0)  # |s| = |(x-1)/(x+1)| for x in [1/sqrt 2, sqrt 2]
    a = _fit(_over_root(np.arctanh), 0.0, s_max**2, 6)
    s = np.linspace(-s_max, s_max, 400001)
    print("A (atanh(s)/s, degree 6 in s^2):", [float(v) for v in a])
    print("   max |2 s P(s^2) - ln((1+s)/(1-s))| =",
          np.abs(2 * s * _horner(a, s * s) - 2 * np.arctanh(s)).max())
    half = np.pi / 2
    cs = _fit(_over_root(np.sin), 0.0, half**2, 7)
    cc = _fit(lambda t: np.cos(np.sqrt(t)), 0.0, half**2, 7)
    x = np.linspace(-half, half, 400001)
    print("S (sin(x)/x, degree 7 in x^2):", [float(v) for v in cs])
    print("   max |x S(x^2) - sin x| =", np.abs(x * _horner(cs, x * x) - np.sin(x)).max())
    print("C (cos x, degree 7 in x^2):", [float(v) for v in cc])
    print("   max |C(x^2) - cos x| =", np.abs(_horner(cc, x * x) - np.cos(x)).max())


if __name__ == "__main__":
    main()
