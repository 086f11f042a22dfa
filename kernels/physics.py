"""Per-element DER physics: one DER for one hour, written once for every backend.

:func:`der_hour_step` is a scalar element function (see :mod:`gridcap.kernels.targets`): plain
arithmetic plus the helpers ``fmin``, ``fmax``, ``select`` looked up as module globals, so the
same source runs element-wise over NumPy/CuPy arrays and compiles with ``numba.njit`` and
``numba.cuda.jit(device=True)``. All branches are selects, so the CPU lane loop vectorises.

Behavioural parameters are documented module-level constants (sources in comments).
"""

from __future__ import annotations

from gridcap.elementwise import fmax, fmin, select  # scalar forms, rebound per target

__all__ = [
    "CLOUD_NOISE_SD",
    "EVENT_RESPONSE_PROBABILITY",
    "FLEX_DUTY_BASE",
    "FLEX_DUTY_PER_K",
    "FLEX_SETPOINT_C",
    "LOAD_NOISE_SD",
    "clip",
    "der_hour_step",
]

#: Standard deviation of a DER's idiosyncratic clear-sky-index noise around the regional
#: index [1] (hourly; point-vs-area variability of the clear-sky index is 0.1-0.2, e.g.
#: Lave, Kleissl & Stein, IEEE Trans. Sustain. Energy 4(2), 2013).
CLOUD_NOISE_SD = 0.12
#: Relative standard deviation of a household's hourly load around its mean shape [1]
#: (single-premise hourly load is noisy; 0.2-0.4 is typical of smart-meter data).
LOAD_NOISE_SD = 0.25
#: Probability that a committed DER responds in an event hour [1] (communication failure,
#: occupant override; DR programmes report 85-95 % device availability).
EVENT_RESPONSE_PROBABILITY = 0.92
#: Duty cycle of a thermostat-like flexible load at the set point [1], rising by
#: :data:`FLEX_DUTY_PER_K` per kelvin of |T - set point| [1/K].
FLEX_DUTY_BASE = 0.2
FLEX_DUTY_PER_K = 0.04
#: Set point of thermostat-like flexible loads [°C].
FLEX_SETPOINT_C = 20.0

# Helpers rebound per target by gridcap.kernels.targets (scalar fallbacks for plain Python).


def clip(x, lo, hi):
    """Clamp ``x`` to ``[lo, hi]`` [same units as x]."""
    return fmin(fmax(x, lo), hi)


def der_hour_step(
    soc, ev_need, debt,
    pv_kw, base_kw, e_min, e_max, p_batt, eta, inv_eta, ev_kw, ev_kwh_day, arr, dep,
    flex_kw, rebound, committed,
    cs, kreg, ld, temp, price, p_lo, p_hi, in_event, pre_event, h,
    z0, z1, u,
):
    """Dispatch one DER for one hour.

    Parameters
    ----------
    soc : float
        Battery state of charge at the start of the hour [kWh].
    ev_need : float
        EV energy still needed before departure [kWh].
    debt : float
        Flexible-load energy shed and still to be recovered (rebound) [kWh].
    pv_kw : float
        PV DC nameplate [kW].
    base_kw : float
        Average household load [kW].
    e_min, e_max : float
        Battery SoC bounds [kWh] (``soc_min * battery_kwh``, ``soc_max * battery_kwh``).
    p_batt : float
        Battery charge/discharge power limit [kW].
    eta : float
        Round-trip efficiency [1], applied on charging.
    inv_eta : float
        ``1 / eta`` [1] (precomputed per DER: a division per DER-hour costs more than the rest
        of the battery logic in a vectorised lane loop).
    ev_kw : float
        EV charger power [kW].
    ev_kwh_day : float
        EV energy needed per day, reset at arrival [kWh].
    arr, dep : int
        EV arrival / departure hour of day [h] (window wraps midnight).
    flex_kw : float
        Sheddable flexible load [kW].
    rebound : float
        Fraction of shed energy recovered after an event [1].
    committed : float
        Flexibility committed to the aggregator [kW]; 0 means the DER ignores events.
    cs : float
        Regional clear-sky PV output per kW DC [kW/kW].
    kreg : float
        Regional clear-sky index [1].
    ld : float
        Household load shape (mean ≈ 1) [1].
    temp : float
        Air temperature [°C].
    price : float
        Hourly energy price [$/MWh].
    p_lo, p_hi : float
        Arbitrage thresholds: charge at or below ``p_lo``, discharge at or above ``p_hi``
        [$/MWh].
    in_event, pre_event : bool
        Flexibility event this hour; an event starts within the notice window.
    h : int
        Hour of day, local standard time [h].
    z0, z1 : float
        Standard normal draws [1] (cloud noise, load noise).
    u : float
        Uniform draw in (0, 1) [1] (event response).

    Returns
    -------
    tuple
        ``(soc, ev_need, debt, pv, charge, discharge, injection, grid_import, shed,
        delivered)``: new state [kWh, kWh, kWh]; PV output, battery charge (grid/PV side),
        battery discharge, injection relative to the regional gross load, grid import,
        load shed (flex + deferred EV) and flexibility delivered in an event hour [kW]
        (hourly means, numerically kWh).

    Notes
    -----
    Battery energy balance over the 1-h step, with charge :math:`c` and discharge :math:`d`,

    .. math:: SoC_{t+1} = SoC_t + \\eta\\,c - d,\\quad
              0 \\le c \\le \\min(P, (E_{max} - SoC_t)/\\eta),\\quad
              0 \\le d \\le \\min(P, SoC_t - E_{min})

    Mode priority: event (committed DER that responds) → discharge at full power and shed;
    notice window → charge to :math:`E_{max}` (reserve); otherwise arbitrage (charge at full
    power when price ≤ ``p_lo``, discharge at full power when price ≥ ``p_hi``) and else
    self-consumption of PV. Delivered flexibility is discharge + flex shed + deferred EV
    charging. Injection relative to the regional gross load (which already holds base and
    baseline flexible loads) is :math:`pv + d - c - ev - (flex - flex_{base})`.
    """
    # --- PV with idiosyncratic cloud noise
    k = fmin(fmax(kreg + CLOUD_NOISE_SD * z0, 0.0), 1.0)
    pv = pv_kw * cs * k
    load = base_kw * ld * fmax(1.0 + LOAD_NOISE_SD * z1, 0.0)
    act = in_event & (u < EVENT_RESPONSE_PROBABILITY) & (committed > 0.0)
    pre = pre_event & (committed > 0.0)
    # --- EV inside its plug-in window (need reset at arrival)
    ev_need = select(h == arr, ev_kwh_day, ev_need)
    since_arr = h - arr  # hours since arrival, mod 24 (h, arr, dep in [0, 23])
    since_arr = select(since_arr < 0, since_arr + 24, since_arr)
    window = dep - arr
    window = select(window < 0, window + 24, window)
    hours_left = dep - h
    hours_left = select(hours_left < 0, hours_left + 24, hours_left)
    plugged = since_arr < window
    ev_base = select(plugged, fmin(ev_kw, ev_need), 0.0)
    defer_ok = (hours_left - 1) * ev_kw >= ev_need
    ev = select(act & defer_ok, 0.0, ev_base)
    ev_need = ev_need - ev
    ev_shed = ev_base - ev
    # --- thermostat-like flexible load: shed in events, rebound afterwards
    dt = temp - FLEX_SETPOINT_C
    duty = fmin(fmax(FLEX_DUTY_BASE + FLEX_DUTY_PER_K * fmax(dt, -dt), 0.0), 1.0)
    flex_base = flex_kw * duty
    flex_shed = select(act, flex_base, 0.0)
    debt = select(act, debt + flex_shed * rebound, debt)
    reb = select(in_event, 0.0, fmin(debt, flex_kw - flex_base))
    debt = debt - reb
    flex = flex_base - flex_shed + reb
    # --- battery
    resid = load + ev + flex - pv
    c_self = fmin(fmax(-resid, 0.0), p_batt)
    d_self = fmin(fmax(resid, 0.0), p_batt)
    cheap = price <= p_lo
    dear = price >= p_hi
    c_norm = select(dear, 0.0, select(cheap, p_batt, c_self))
    d_norm = select(dear, p_batt, select(cheap, 0.0, d_self))
    c = select(act, 0.0, select(pre, p_batt, c_norm))
    d = select(act, p_batt, select(pre, 0.0, d_norm))
    c = fmin(c, fmax((e_max - soc) * inv_eta, 0.0))
    d = fmin(d, fmax(soc - e_min, 0.0))
    soc = soc + c * eta - d
    # --- grid-side results
    g = resid + c - d
    imp = fmax(g, 0.0)
    inj = pv + d - c - ev - (reb - flex_shed)
    shed = flex_shed + ev_shed
    delivered = select(act, d + flex_shed + ev_shed, 0.0)
    return soc, ev_need, debt, pv, c, d, inj, imp, shed, delivered
