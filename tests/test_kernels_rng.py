"""Philox4x32-10 against the Random123 known answers, and its uniform/normal transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gridcap.kernels import rng
from gridcap.kernels.targets import get_ops

U = np.uint64
#: Random123 kat_vectors for philox4x32_10: (counter words, key words) -> output words.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("target", ["python", "numpy", "numba-cpu"])
@pytest.mark.parametrize(("ctr", "key", "expected"), KAT)
def test_philox_known_answers(target, ctr, key, expected):
    f = rng.philox4x32_10 if target == "python" else get_ops(target).philox4x32_10
    out = f(*(U(c) for c in ctr), *(U(k) for k in key))
    assert [int(w) for w in out] == list(expected)


def test_philox_array_matches_scalar_known_answers():
    ctr = np.array([k[0] for k in KAT], dtype=np.uint64).T  # (4, 3)
    key = np.array([k[1] for k in KAT], dtype=np.uint64).T  # (2, 3)
    out = get_ops("numpy").philox4x32_10(*ctr, *key)
    assert np.array_equal(np.stack(out), np.array([k[2] for k in KAT], dtype=np.uint64).T)


def test_every_counter_word_and_key_changes_the_output():
    base = [U(1), U(2), U(3), U(4), U(5), U(6)]
    ref = rng.philox4x32_10(*base)
    for i in range(6):
        args = list(base)
        args[i] = U(int(args[i]) + 1)
        assert rng.philox4x32_10(*args) != ref


def test_philox_array_broadcasts_and_keys_by_seed():
    w = rng.philox_array(np, np.arange(5), np.arange(3)[:, None], 7, 2, seed=2**40 + 3)
    assert w[0].shape == (3, 5)
    k0, k1 = rng.seed_key(2**40 + 3)
    assert (int(k0), int(k1)) == (3, 2**8)
    w12 = rng.philox4x32_10(U(4), U(2), U(7), U(2), k0, k1)
    assert [int(x[2, 4]) for x in w] == [int(v) for v in w12]


def test_uniform_is_open_interval():
    u = rng.bits_to_uniform(np.array([0, 2**32 - 1], dtype=np.uint64))
    assert 0.0 < u[0] < 1e-9
    assert 1.0 - 1e-9 < u[1] < 1.0


def test_polynomial_log_and_sincos_match_libm_and_agree_across_targets():
    w = np.random.default_rng(0).integers(0, 2**32, 100_000, dtype=np.uint64)
    w = np.r_[w, np.array([0, 1, 2**30 - 1, 2**30, 2**31, 3 * 2**30, 2**32 - 1], np.uint64)]
    u = (w + 0.5) * 2.0**-32
    ops = get_ops("numpy")
    ln = ops.ln_u32(w)
    c, s = ops.sincos_u32(w)
    np.testing.assert_allclose(ln, np.log(u), rtol=0, atol=1e-14)
    np.testing.assert_allclose(c, np.cos(2 * np.pi * u), rtol=0, atol=1e-14)
    np.testing.assert_allclose(s, np.sin(2 * np.pi * u), rtol=0, atol=1e-14)
    nb = get_ops("numba-cpu")
    for i in list(range(0, 100_000, 997)) + list(range(100_000, w.size)):
        assert nb.ln_u32(w[i]) == ln[i]
        assert nb.sincos_u32(w[i]) == (c[i], s[i])


def test_log_range_reduction_is_exact_and_box_muller_folds_its_constants_exactly():
    # u = 2**k x with x in [1/sqrt 2, sqrt 2), recovered exactly from the integer-only split
    w = np.random.default_rng(1).integers(0, 2**32, 100_000, dtype=np.uint64)
    w = np.r_[w, np.array([0, 1, 2, 3, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1], np.uint64)]
    ops = get_ops("numpy")
    s, k = ops.log_reduce_u32(w)
    x = (1.0 + s) / (1.0 - s)
    assert np.all(k == np.round(k))
    assert np.all((x >= math.sqrt(0.5) * (1 - 1e-15)) & (x < math.sqrt(2.0) * (1 + 1e-15)))
    u = (w + 0.5) * 2.0**-32
    np.testing.assert_allclose(np.ldexp(x, k.astype(int)), u, rtol=4e-16, atol=0)
    # Box-Muller's folded -2 ln u (coefficients times -4) gives the bits of sqrt(-2 ln u)
    z0, z1 = ops.box_muller(w, w[::-1])
    r = np.sqrt(-2.0 * ops.ln_u32(w))
    c, sn = ops.sincos_u32(w[::-1])
    assert np.array_equal(z0, r * c) and np.array_equal(z1, r * sn)
    nb = get_ops("numba-cpu")
    for i in range(0, w.size, 4999):
        assert nb.log_reduce_u32(w[i]) == (s[i], k[i])


def test_box_muller_moments():
    n = 400_000
    w = rng.philox_array(np, np.arange(n), 0, 0, 1, seed=11)
    z0, z1 = get_ops("numpy").box_muller(w[0], w[1])
    se = 1.0 / math.sqrt(n)
    for z in (z0, z1):
        assert abs(z.mean()) < 5 * se
        assert abs(z.var() - 1.0) < 5 * math.sqrt(2.0) * se
        assert abs(np.mean(z**3)) < 5 * math.sqrt(15.0) * se  # skewness 0
        assert abs(np.mean(z**4) - 3.0) < 5 * math.sqrt(96.0) * se  # kurtosis 3
    assert abs(np.corrcoef(z0, z1)[0, 1]) < 5 * se
    # tail frequency matches the normal CDF
    p = np.mean(np.abs(z0) > 2.0)
    p_ref = math.erfc(2.0 / math.sqrt(2.0))
    assert abs(p - p_ref) < 5 * math.sqrt(p_ref * (1 - p_ref) / n)
