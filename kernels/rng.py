"""Counter-based random numbers: Philox4x32-10 and its uniform/normal transforms.

Every random number in gridcap is a pure function of (seed, stream, scenario, entity, t):

* counter words ``(c0, c1, c2, c3) = (t, entity, scenario, stream)``,
* key words ``(k0, k1) = (seed mod 2**32, seed // 2**32)``.

So a draw never depends on which backend, thread, chunk or scenario batch computes it, and
adding a new random variable (a new stream) never shifts existing draws.

The functions below are *scalar element functions*: plain Python using only ``+ - * ^ & >>``
on unsigned 64-bit integers, plus ``sqrt`` and ``select`` looked up as module globals
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
    "f64_from_bits",
    "ln_u32",
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
SQRT2 = math.sqrt(2.0)
SQRT_HALF = math.sqrt(0.5)
SHIFT30 = np.uint64(30)
MASK30 = np.uint64(2**30 - 1)
#: 2**29: half a quadrant of the angle word, to centre the angle on its quadrant.
HALF_QUADRANT = np.uint64(2**29)
HALF_PI_OVER_2_30 = (math.pi / 2.0) * 2.0**-30
Q1 = np.uint64(1)
SHIFT63 = np.uint64(63)
#: Bits of the float64 2**52 (exponent 1075, zero mantissa): OR-ing an integer below 2**52
#: into its mantissa and subtracting 2**52 converts it to float64 exactly with integer ops
#: only (AVX2 has no vector uint64 -> float64 conversion).
MAGIC_2_52 = np.uint64(0x4330000000000000)
TWO_52 = 2.0**52
#: float64 exponent field (shift, bias), mantissa mask and the bits of 1.0.
SHIFT52 = np.uint64(52)
MANTISSA = np.uint64(2**52 - 1)
ONE_BITS = np.uint64(0x3FF0000000000000)
#: Unbiasing of a float64 exponent field, plus the 2**-32 of the uniform's scale.
EXP_BIAS_PLUS_32 = 1023.0 + 32.0
#: Taylor coefficients of sin(θ)/θ and cos(θ) in powers of θ² (θ^0 … θ^14), for
#: |θ| ≤ π/4 (remainders below 5e-17 and 1e-15).
SIN_COEF = tuple((-1.0) ** j / math.factorial(2 * j + 1) for j in range(8))
COS_COEF = tuple((-1.0) ** j / math.factorial(2 * j) for j in range(8))
(S1, S2, S3, S4, S5, S6, S7) = SIN_COEF[1:]
(C1, C2, C3, C4, C5, C6, C7) = COS_COEF[1:]
INV3, INV5, INV7, INV9, INV11, INV13, INV15, INV17 = (1.0 / j for j in range(3, 18, 2))

# Element-wise math, rebound per target by gridcap.kernels.targets.
sqrt = math.sqrt


def select(c, a, b):
    return a if c else b


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
    "der": 5,  # per (scenario, der, t): idiosyncratic cloud + load noise, event response
    "tenant": 6,  # per (scenario, site): tenant/guarantor default, construction delay, renewal
    "refinancing": 7,  # per scenario: senior refinancing market at legal maturity (finance)
}


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
    and gives the same bits on NumPy and Numba. With :math:`m = w + 1/2 = 2^k x`: the
    exponent :math:`k` and :math:`x \\in [1, 2)` are read from the bits of the float64
    :math:`m`, :math:`x` is halved (and :math:`k` raised) when above :math:`\\sqrt 2`, and
    with :math:`s = (x-1)/(x+1)`

    .. math:: \\ln u = 2\\sum_{j=0}^{8} \\frac{s^{2j+1}}{2j+1} + (k - 32)\\ln 2

    (|s| ≤ 0.1716, truncation error < 1e-15).
    """
    b = bits_from_f64(u32_to_f64(w) + 0.5)
    m = f64_from_bits((b & MANTISSA) | ONE_BITS)
    c = m > SQRT2
    m = select(c, m * 0.5, m)
    k = u32_to_f64(b >> SHIFT52) - EXP_BIAS_PLUS_32 + select(c, 1.0, 0.0)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = (((((((INV17 * s2 + INV15) * s2 + INV13) * s2 + INV11) * s2 + INV9) * s2 + INV7) * s2
          + INV5) * s2 + INV3) * s2 + 1.0
    return 2.0 * s * p + k * LN2


def sincos_u32(w):
    """Cosine and sine of the angle ``2π (w + 1/2) 2**-32`` of a 32-bit word, vectorisable.

    Parameters
    ----------
    w : numpy.uint64 (scalar or array)
        Random word [1], < 2**32.

    Returns
    -------
    tuple of float
        ``(cos a, sin a)`` [1], absolute error below 1e-15.

    Notes
    -----
    The angle is split as :math:`a = q\\,\\pi/2 + \\theta` with the quadrant
    :math:`q` nearest to it (the top two bits of ``w + 2**29``) and
    :math:`\\theta \\in [-\\pi/4, \\pi/4]` (the low 30 bits, less 2**29); sine and
    cosine of :math:`\\theta` are their Taylor series to :math:`\\theta^{15}` and
    :math:`\\theta^{14}` in Horner form, then rotated by the quadrant. Arithmetic only, so
    it vectorises on every target.
    """
    v = (w + HALF_QUADRANT) & MASK32
    q = v >> SHIFT30
    th = (u32_to_f64(v & MASK30) + (0.5 - 2.0**29)) * HALF_PI_OVER_2_30
    t2 = th * th
    sp = ((((((S7 * t2 + S6) * t2 + S5) * t2 + S4) * t2 + S3) * t2 + S2) * t2 + S1) * t2 + 1.0
    cn = ((((((C7 * t2 + C6) * t2 + C5) * t2 + C4) * t2 + C3) * t2 + C2) * t2 + C1) * t2 + 1.0
    sn = th * sp
    # quadrant q: (cos a, sin a) = (cn, sn), (-sn, cn), (-cn, -sn), (sn, -cn) for q = 0..3;
    # swap on odd q, then flip sign bits (integer ops: select chains on q become branches)
    swap = (q & Q1) == Q1
    c = f64_from_bits(bits_from_f64(select(swap, sn, cn)) ^ (((q ^ (q >> Q1)) & Q1) << SHIFT63))
    s = f64_from_bits(bits_from_f64(select(swap, cn, sn)) ^ ((q >> Q1) << SHIFT63))
    return c, s


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

    with :math:`u_i = (w_i + 1/2)\\,2^{-32}`; the logarithm and the sine/cosine are
    :func:`ln_u32` and :func:`sincos_u32` (arithmetic only, vectorisable, identical bits on
    NumPy and Numba).
    """
    r = sqrt(-2.0 * ln_u32(w0))
    c, s = sincos_u32(w1)
    return r * c, r * s


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
