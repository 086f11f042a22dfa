"""The plain deterministic case posed through ``plan`` reaches PyPSA's optimum.

One region, one scenario, chronological hourly slices, extendable gas/solar/wind and a
battery (PyPSA ``StorageUnit`` with cyclic state of charge), and a backstop supply at a fixed
price. Annualization: PyPSA's ``capital_cost`` is set to ``1000·(CRF·capex + FOM)`` [$/MW-yr]
with CRF at ``finance.discount_rate`` over ``lifetime_years`` — the convention of
:mod:`gridcap.optimizer.planning.siting` — so both objectives are in the same $.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gridcap.optimizer.planning.siting import PlanOptions, capital_recovery_factor, plan
from gridcap.optimizer.planning.synthetic import deterministic_study

pypsa = pytest.importorskip("pypsa", reason="pypsa not installed (pip install pypsa)")


def pypsa_network(inputs, outcomes, *, backstop, efficiency, hours):
    tech = inputs.technologies
    rate = float(inputs.finance["discount_rate"])
    n = pypsa.Network()
    n.set_snapshots(np.arange(hours))
    n.add("Bus", "bus")
    n.add("Load", "load", bus="bus", p_set=outcomes["mean_net_load_mw"].values.ravel())
    cc = 1000.0 * (tech["capex_usd_per_kw"].values
                   * capital_recovery_factor(rate, tech["lifetime_years"].values)
                   + tech["fixed_om_usd_per_kw_yr"].values)
    for i, name in enumerate(tech["tech"].values):
        profile = str(tech["profile"].values[i])
        vom = float(tech["variable_om_usd_per_mwh"].values[i])
        if profile == "storage":
            eta = np.sqrt(efficiency)
            n.add("StorageUnit", name, bus="bus", p_nom_extendable=True, capital_cost=cc[i],
                  max_hours=float(tech["storage_duration_hours"].values[i]),
                  efficiency_store=eta, efficiency_dispatch=eta, cyclic_state_of_charge=True,
                  marginal_cost=vom)
        else:
            pmax = {"firm": np.full(hours, float(tech["availability"].values[i])),
                    "solar": outcomes["solar_cf"].values.ravel(),
                    "wind": outcomes["wind_cf"].values.ravel()}[profile]
            n.add("Generator", name, bus="bus", p_nom_extendable=True, capital_cost=cc[i],
                  marginal_cost=vom, p_max_pu=pmax)
    n.add("Generator", "backstop", bus="bus", p_nom=1e5, marginal_cost=backstop)
    return n


def compare(hours, start_hour=0):
    inputs, out = deterministic_study(hours=hours, start_hour=start_hour,
                                      backstop_usd_per_mwh=2000.0,
                                      storage_efficiency=0.9)
    ds = plan(inputs, out, options=PlanOptions(cvar_lambda=0.0))  # risk-neutral, as PyPSA
    assert ds.attrs["chronological_storage"] == 1
    n = pypsa_network(inputs, out, backstop=2000.0, efficiency=0.9, hours=hours)
    status, _ = n.optimize(solver_name="highs", log_to_console=False,
                           include_objective_constant=False)
    assert status == "ok"
    assert_allclose(float(ds["objective_usd"]), n.objective, rtol=1e-7)
    cap = ds["online_mw"].isel(region=0, year=0).to_series()
    for name in ("gas", "solar", "wind"):
        assert_allclose(cap[name], n.generators.p_nom_opt[name], rtol=1e-4, atol=1e-3)
    assert_allclose(cap["battery"], n.storage_units.p_nom_opt["battery"], rtol=1e-4, atol=1e-3)
    assert cap.sum() > 0 and cap["battery"] > 0, "the case must build storage to test it"


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_deterministic_four_weeks_matches_pypsa():
    compare(24 * 7 * 4, start_hour=24 * 150)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_deterministic_full_year_matches_pypsa():
    compare(8760)
