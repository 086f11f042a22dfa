"""Counter-based random numbers: Philox4x32-10 and its uniform/normal transforms.

Every random number in gridcap is a pure function of (seed, stream, scenario, entity, t):

* counter words ``(c0, c1, c2, c3) = (t, entity, scenario, stream)``,
* key words ``(k0, k1) = (seed mod 2**32, seed // 2**32)``.

So a draw never depends on which backend, thread, chunk or scenario batch computes it, and
adding a new random variable (a new stream) never shifts existing draws.

The functions below are *scalar element functions*: plain Python using only ``+ - * ^ & >>``
on unsigned 64-bit integers, plus ``sqrt`` and the bit casts looked up as module globals
(logarithm and sine/cosine are polynomials here, so they vectorise and agree bit for bit
between NumPy and Numba).
:mod:`gridcap.kernels.targets` compiles the same source for each target (identity over NumPy/
CuPy arrays, ``numba.njit``, ``numba.cuda.jit(device=True)``), rebinding those globals.
All integer arithmetic stays in ``uint64`` (products of two 32-bit words fit in 64 bits), which
is the only integer type whose arithmetic agrees between NumPy and Numba.

References
----------
.. [1] J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers: as easy
   as 1, 2, 3", Proc. SC11 (2011). https://doi.org/10.1145/2063384.2063405
.. [2] Random123 1.14, ``examples/kat_vectors`` (known-answer tests for philox4x32_10).
.. [3] G. E. P. Box, M. E. Muller, "A note on the generation of random normal deviates",
   Ann. Math. Statist. 29(2), 610-611 (1958).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "STREAMS",
    "bits_from_f64",
    "bits_to_uniform",
    "box_muller",
    "der_hour_words",
    "f64_from_bits",
    "ln_u32",
    "log_reduce_u32",
    "minus_2_ln_u32",
    "philox4x32_10",
    "philox_array",
    "seed_key",
    "sincos_u32",
    "u32_to_f64",
]

# Philox4x32 multipliers and Weyl key increments (Salmon et al. 2011, Random123).
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)
#: 2**-32: scale from a 32-bit word to [0, 1).
TWO_POW_M32 = 2.0**-32
TWO_PI = 2.0 * math.pi
LN2 = math.log(2.0)
#: Bits of the float64 2**52 (exponent 1075, zero mantissa): OR-ing an integer below 2**52
#: into its mantissa and subtracting 2**52 converts it to float64 exactly with integer ops
#: only (AVX2 has no vector uint64 -> float64 conversion).
MAGIC_2_52 = np.uint64(0x4330000000000000)
TWO_52 = 2.0**52
#: float64 exponent field (shift, bias), mantissa mask and the bits of 1.0.
SHIFT52 = np.uint64(52)
MANTISSA = np.uint64(2**52 - 1)
ONE_BITS = np.uint64(0x3FF0000000000000)
#: Unbiasing of a float64 exponent field read with the 2**52 magic number, plus the 2**-32
#: of the uniform's scale (all integers: the subtraction is exact).
EXP_OFFSET = 2.0**52 + 1023.0 + 32.0
#: Bits of √½ and the offset that moves the exponent boundary from 1 to √½ (an integer add
#: before the exponent is read, as in musl/FreeBSD ``log``): the mantissa then lands in
#: [√½, √2) with no comparison or select.
SQRT_HALF_BITS = np.uint64(0x3FE6A09E667F3BCD)
SQRT_HALF_SHIFT = ONE_BITS - SQRT_HALF_BITS
#: Near-minimax polynomials (Chebyshev fits, converted to powers) in t = x² of sin(x)/x and
#: cos(x) on |x| ≤ π/2, degree 7 each (errors 6e-16 and 2.5e-15), and of atanh(s)/s for
#: |s| ≤ 3 - 2√2, degree 6 (error 2e-16 in ln). Reproduce with ``scripts/fit_rng_polys.py``.
(S0, S1, S2, S3, S4, S5, S6, S7) = (
    0.9999999999999999, -0.1666666666666602, 0.008333333333281075, -0.00019841269824819464,
    2.755731663368067e-06, -2.5051884665174286e-08, 1.6048275359152353e-10,
    -7.375851128025708e-13)
(C0, C1, C2, C3, C4, C5, C6, C7) = (
    0.9999999999999986, -0.499999999999902, 0.04166666666582417, -0.0013888888861483047,
    2.480158292261626e-05, -2.7556938896429934e-07, 2.0858429384174027e-09,
    -1.1009335522574334e-11)
(A0, A1, A2, A3, A4, A5, A6) = (
    0.9999999999999999, 0.33333333333276277, 0.2000000003093872, 0.1428570800478388,
    0.11111717385435783, 0.09060971085551837, 0.08418711662684665)
#: The same polynomial times -4, and -2 ln 2: ``-2 ln u = s (-4 P) + k (-2 ln 2)`` in
#: :func:`minus_2_ln_u32`, the one evaluation of the log (``ln_u32`` scales it by -1/2).
(M0, M1, M2, M3, M4, M5, M6) = (-4.0 * A0, -4.0 * A1, -4.0 * A2, -4.0 * A3, -4.0 * A4,
                                -4.0 * A5, -4.0 * A6)
MINUS_2_LN2 = -2.0 * LN2
#: 2**52 + 2**31: subtracted from the magic-number float of a word, centres it exactly.
TWO_52_PLUS_31 = 2.0**52 + 2.0**31
#: π 2**-32: angle step of a word for the half angle, and half of it (the word's centre).
PI_2_M32 = math.pi * 2.0**-32
HALF_PI_2_M32 = 0.5 * PI_2_M32

# Element-wise math, rebound per target by gridcap.kernels.targets.
sqrt = math.sqrt


def f64_from_bits(b):
    """The float64 whose IEEE-754 bits are the uint64 ``b`` (a bit cast, no conversion)."""
    return np.asarray(b, dtype=np.uint64).view(np.float64)[()]


def bits_from_f64(x):
    """The IEEE-754 bits of the float64 ``x`` as uint64 (a bit cast, no conversion)."""
    return np.asarray(x, dtype=np.float64).view(np.uint64)[()]


#: Random streams (counter word c3). Adding a stream never shifts the others.
STREAMS: dict[str, int] = {
    "national": 1,  # per (scenario, t): national common factors (cloud, temp, price, wind)
    "regional": 2,  # per (scenario, region, t): regional factors
    "spike": 3,  # per (scenario, region, t): price-spike occurrence and size
    "annual": 4,  # per (scenario, year): price level, AI utilization, $/GPU-h, hashprice
    "der": 5,  # per (scenario, der, t // 2): idiosyncratic cloud + load noise, two hours a block
    "tenant": 6,  # per (scenario, site): tenant/guarantor default, construction delay, renewal
    "refinancing": 7,  # per scenario: senior refinancing market at legal maturity (finance)
    "der_event": 8,  # per (scenario, der, t), event hours only: a DER's event response
}


def der_hour_words(t: int) -> tuple[int, int]:
    """Block counter and word offset of hour ``t``'s DER normals (stream ``"der"``).

    One Philox4x32-10 block of stream ``"der"`` gives a DER the two Box-Muller pairs of two
    consecutive hours: counter ``c0 = t // 2``; words 0 and 1 for the even hour, words 2 and
    3 for the odd one. So the dispatch kernels draw half a block (two words) per DER-hour.
    The event-response uniform is needed only in event hours (about 1 %) and comes from its
    own stream, ``"der_event"`` (counter ``c0 = t``, word 0).

    Parameters
    ----------
    t : int
        Hour [h].

    Returns
    -------
    tuple of int
        ``(t // 2, 2 * (t % 2))``: counter word c0 [1] and the first of the hour's two words.
    """
    return t // 2, 2 * (t % 2)


def seed_key(seed: int) -> tuple[np.uint64, np.uint64]:
    """Split a 64-bit seed into the two Philox key words.

    Parameters
    ----------
    seed : int
        Non-negative seed [1], < 2**64.

    Returns
    -------
    tuple of numpy.uint64
        ``(seed mod 2**32, seed // 2**32)`` [1].
    """
    s = int(seed)
    return np.uint64(s & 0xFFFFFFFF), np.uint64((s >> 32) & 0xFFFFFFFF)


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds: one 128-bit block from a 128-bit counter and 64-bit key.

    Parameters
    ----------
    c0, c1, c2, c3 : numpy.uint64 (scalar or array)
        Counter words [1], each < 2**32.
    k0, k1 : numpy.uint64 (scalar or array)
        Key words [1], each < 2**32.

    Returns
    -------
    tuple of numpy.uint64
        Four output words [1], each < 2**32.

    Notes
    -----
    One round, with 64-bit products split into high and low words,

    .. math::
        (c_0, c_1, c_2, c_3) \\leftarrow
        (\\mathrm{hi}(M_1 c_2) \\oplus c_1 \\oplus k_0,\\; \\mathrm{lo}(M_1 c_2),\\;
         \\mathrm{hi}(M_0 c_0) \\oplus c_3 \\oplus k_1,\\; \\mathrm{lo}(M_0 c_0))

    followed by the key bump :math:`k_i \\leftarrow k_i + W_i \\bmod 2^{32}` between rounds [1]_.

    References
    ----------
    .. [1] J. K. Salmon, M. A. Moraes, R. O. Dror and D. E. Shaw, "Parallel random numbers: as
       easy as 1, 2, 3", Proc. SC '11 (2011), doi:10.1145/2063384.2063405.

    Examples
    --------
    >>> z = np.uint64(0)
    >>> [hex(int(w)) for w in philox4x32_10(z, z, z, z, z, z)]
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    """
    for _ in range(10):
        # operands masked to 32 bits (a no-op for valid words) so compilers emit a
        # 32x32->64-bit multiply (vpmuludq), which vectorises across lanes
        p0 = PHILOX_M0 * (c0 & MASK32)
        p1 = PHILOX_M1 * (c2 & MASK32)
        hi0 = p0 >> SHIFT32
        lo0 = p0 & MASK32
        hi1 = p1 >> SHIFT32
        lo1 = p1 & MASK32
        c0 = hi1 ^ c1 ^ k0
        c1 = lo1
        c2 = hi0 ^ c3 ^ k1
        c3 = lo0
        k0 = (k0 + PHILOX_W0) & MASK32
        k1 = (k1 + PHILOX_W1) & MASK32
    return c0, c1, c2, c3


def u32_to_f64(w):
    """Exact float64 of a 32-bit word held in a uint64, with integer operations only.

    Parameters
    ----------
    w : numpy.uint64 (scalar or array)
        Word [1], < 2**52.

    Returns
    -------
    float
        ``float(w)`` [1], exactly.

    Notes
    -----
    ``w`` goes into the mantissa of the float64 2**52 (bits ``0x433…``), which is then
    subtracted: an OR, a bit cast and a subtraction, all of which vectorise on AVX2 (which has
    no vector uint64 → float64 conversion; AVX-512DQ does).
    """
    return f64_from_bits(w | MAGIC_2_52) - TWO_52


def bits_to_uniform(w):
    """Map a 32-bit word to a uniform number in the open interval (0, 1).

    Parameters
    ----------
    w : numpy.uint64 (scalar or array)
        Random word [1], < 2**32.

    Returns
    -------
    float
        :math:`u = (w + 1/2)\\,2^{-32}` [1], never 0 or 1.
    """
    return (u32_to_f64(w) + 0.5) * TWO_POW_M32


def log_reduce_u32(w):
    """Range reduction of ``ln u`` for the uniform ``u = (w + 1/2) 2**-32`` of a 32-bit word.

    Parameters
    ----------
    w : numpy.uint64 (scalar or array)
        Random word [1], < 2**32.

    Returns
    -------
    tuple of float
        ``(s, k)`` with :math:`u = 2^k x`, :math:`x \\in [1/\\sqrt 2, \\sqrt 2)` and
        :math:`s = (x - 1)/(x + 1) \\in (-0.1716, 0.1716)` [1], so that
        :math:`\\ln u = 2\\,\\mathrm{atanh}(s) + k \\ln 2`; ``k`` is an integer-valued float.

    Notes
    -----
    Integer operations on the bits of the float64 :math:`w + 1/2` only: adding
    ``0x3FF0… − bits(√½)`` before reading the exponent moves the binade boundary from 1 to
    √½, and the mantissa is put back above ``bits(√½)`` (as musl's ``log``). No comparison or
    select, and every step vectorises on AVX2 and AVX-512 alike.
    """
    ix = bits_from_f64(u32_to_f64(w) + 0.5) + SQRT_HALF_SHIFT
    x = f64_from_bits((ix & MANTISSA) + SQRT_HALF_BITS)
    k = f64_from_bits((ix >> SHIFT52) | MAGIC_2_52) - EXP_OFFSET
    return (x - 1.0) / (x + 1.0), k


def minus_2_ln_u32(w):
    """``-2 ln u`` of the uniform ``u = (w + 1/2) 2**-32`` of a 32-bit word (Box-Muller's radius²).

    Parameters
    ----------
    w : numpy.uint64 (scalar or array)
        Random word [1], < 2**32.

    Returns
    -------
    float
        :math:`-2\\ln u` [1], in :math:`(0, 45.8]`, absolute error below 2e-14.

    Notes
    -----
    :math:`-2\\ln u = s\\,(-4P(s^2)) + k\\,(-2\\ln 2)` with ``(s, k)`` from
    :func:`log_reduce_u32` and :math:`P` the near-minimax polynomial of
    :math:`\\mathrm{atanh}(s)/s` (coefficients ``A*``). The factor -4 sits in the coefficients
    ``M* = -4 A*``: scalings by powers of two are exact, so this is bit for bit
    ``-2 * ln_u32(w)`` without the two multiplications in Box-Muller's hot loop.
    """
    s, k = log_reduce_u32(w)
    s2 = s * s
    q = (((((M6 * s2 + M5) * s2 + M4) * s2 + M3) * s2 + M2) * s2 + M1) * s2 + M0
    return s * q + k * MINUS_2_LN2


def ln_u32(w):
    """Natural log of the uniform ``u = (w + 1/2) 2**-32`` of a 32-bit word, vectorisable.

    Parameters
    ----------
    w : numpy.uint64 (scalar or array)
        Random word [1], < 2**32.

    Returns
    -------
    float
        :math:`\\ln u` [1], in :math:`[-22.9, 0)`, absolute error below 1e-14.

    Notes
    -----
    Arithmetic and bit operations only (no library ``log``), so it vectorises on every target
    and gives the same bits on NumPy and Numba. With :math:`m = w + 1/2 = 2^k x` and
    :math:`x \\in [1/\\sqrt 2, \\sqrt 2)`, both read from the bits of the float64 :math:`m`
    by :func:`log_reduce_u32`, and with :math:`s = (x-1)/(x+1)`

    .. math:: \\ln u = 2\\,\\mathrm{atanh}(s) + (k - 32)\\ln 2
              = 2\\sum_{j\\ge 0} \\frac{s^{2j+1}}{2j+1} + (k - 32)\\ln 2

    with :math:`\\mathrm{atanh}(s)/s` a near-minimax polynomial of degree 6 in :math:`s^2`
    (|s| ≤ 0.1716, error 2e-16; two terms fewer than the Taylor series for that accuracy).
    """
    return -0.5 * minus_2_ln_u32(w)  # a power-of-two scaling: exact


def sincos_u32(w):
    """Cosine and sine of the angle ``2π (w + 1/2) 2**-32`` of a 32-bit word, vectorisable.

    Parameters
    ----------
    w : numpy.uint64 (scalar or array)
        Random word [1], < 2**32.

    Returns
    -------
    tuple of float
        ``(cos a, sin a)`` [1], absolute error below 1e-14.

    Notes
    -----
    With the half angle :math:`x = a/2 - \\pi/2 = \\pi\\,(w + 1/2 - 2^{31})\\,2^{-32}`, exact
    up to the last multiplication and in :math:`(-\\pi/2, \\pi/2)`,

    .. math:: \\cos a = -\\cos 2x = (\\sin x - \\cos x)(\\sin x + \\cos x),\\quad
              \\sin a = -\\sin 2x = -2 \\sin x \\cos x

    with :math:`\\sin x` and :math:`\\cos x` near-minimax polynomials of degree 7 in
    :math:`x^2` (errors 6e-16 and 2.5e-15). No quadrant logic and no integer operations
    beyond the word's conversion: about 25 vector operations, all of which vectorise.
    """
    # (g + 1/2) π 2**-32 with g = w - 2**31 exact: a multiply-add on targets that fuse it
    x = (f64_from_bits(w | MAGIC_2_52) - TWO_52_PLUS_31) * PI_2_M32 + HALF_PI_2_M32
    t = x * x
    ps = ((((((S7 * t + S6) * t + S5) * t + S4) * t + S3) * t + S2) * t + S1) * t + S0
    cn = ((((((C7 * t + C6) * t + C5) * t + C4) * t + C3) * t + C2) * t + C1) * t + C0
    sn = x * ps
    return (sn - cn) * (sn + cn), (-2.0 * sn) * cn


def box_muller(w0, w1):
    """Two independent standard normals from two random 32-bit words (Box-Muller [3]_).

    Parameters
    ----------
    w0, w1 : numpy.uint64 (scalar or array)
        Random words [1].

    Returns
    -------
    tuple of float
        ``(z0, z1)`` standard normal deviates [1].

    Notes
    -----
    .. math:: z_0 = \\sqrt{-2\\ln u_0}\\,\\cos(2\\pi u_1),\\quad
              z_1 = \\sqrt{-2\\ln u_0}\\,\\sin(2\\pi u_1)

    with :math:`u_i = (w_i + 1/2)\\,2^{-32}`; :math:`-2\\ln u_0` is :func:`minus_2_ln_u32` and
    the sine/cosine :func:`sincos_u32` (arithmetic only, vectorisable, identical bits on NumPy
    and Numba).
    """
    r = sqrt(minus_2_ln_u32(w0))
    c, sn = sincos_u32(w1)
    return r * c, r * sn


def philox_array(xp, t, entity, scenario, stream: int, seed: int):
    """Philox4x32-10 over broadcast arrays of counters (NumPy or CuPy).

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    t, entity, scenario : int or array
        Counter words [1] (hour, entity index, global scenario index); broadcast together.
    stream : int
        Stream id [1] (see :data:`STREAMS`).
    seed : int
        Seed [1].

    Returns
    -------
    tuple of array of uint64
        Four output words [1] with the broadcast shape.
    """
    k0, k1 = seed_key(seed)
    c0 = xp.asarray(t, dtype=xp.uint64)
    c1 = xp.asarray(entity, dtype=xp.uint64)
    c2 = xp.asarray(scenario, dtype=xp.uint64)
    shape = xp.broadcast_shapes(c0.shape, c1.shape, c2.shape)
    c0 = xp.broadcast_to(c0, shape)
    c1 = xp.broadcast_to(c1, shape)
    c2 = xp.broadcast_to(c2, shape)
    c3 = xp.full(shape, stream, dtype=xp.uint64)
    return _philox_xp(xp, c0, c1, c2, c3, k0, k1)


def _philox_xp(xp, c0, c1, c2, c3, k0, k1):
    from gridcap.kernels.targets import get_ops

    return get_ops(xp.__name__).philox4x32_10(c0, c1, c2, c3, k0, k1)
