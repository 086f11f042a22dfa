"""The study pipeline: config → inputs → Monte Carlo → plan → finance → one results Dataset.

Each stage is a plain function usable from a notebook; :func:`run_study` only chains them,
reports progress and writes the results file atomically. The CLI calls :func:`run_study`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import gridcap
from gridcap.config import StudyConfig
from gridcap.errors import ConfigError, GridcapInputError, ProblemsError
from gridcap.schema import StudyInputs, validate_inputs

# progress(stage, done, total): called as long steps advance. ``total`` may be None.
Progress = Callable[[str, int, int | None], None]


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


@dataclass
class StageTimes:
    """Wall time of each stage [s]."""

    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, func: Callable[[], Any]) -> Any:
        """Run ``func`` and record its wall time under ``name`` [s]."""
        start = time.perf_counter()
        try:
            return func()
        finally:
            self.seconds[name] = time.perf_counter() - start


# --------------------------------------------------------------------------- inputs


def finance_terms(cfg: StudyConfig) -> xr.Dataset:
    """Finance terms Dataset (scalars + dim ``tranche``) from the config's [finance] tables.

    Returns
    -------
    xarray.Dataset
        Per :data:`gridcap.schema.FINANCE_SCHEMA`, units in attrs.
    """
    from gridcap.schema import FINANCE_SCHEMA

    tranches = ("senior", "mezzanine")
    data: dict[str, Any] = {}
    for var in FINANCE_SCHEMA:
        if var.dims == ("tranche",):
            values = [getattr(getattr(cfg, f"finance_{t}"), var.name) for t in tranches]
            data[var.name] = (
                "tranche",
                np.asarray(values),
                {"units": var.units, "long_name": var.doc},
            )
        else:
            data[var.name] = (
                (),
                getattr(cfg.finance, var.name),
                {"units": var.units, "long_name": var.doc},
            )
    # optional term read by gridcap.optimizer.financing.project.FinanceTerms
    data["senior_maturity_years"] = ((), cfg.finance.senior_maturity_years, {"units": "yr"})
    data["coupon_basis"] = ((), cfg.finance.coupon_basis)
    data["senior_tenor_basis"] = ((), cfg.finance.senior_tenor_basis)
    data["mezzanine_tranche"] = ((), cfg.finance.mezzanine_tranche)
    data["exit_cap_rate"] = ((), cfg.finance.exit_cap_rate, {"units": "1/yr"})
    for name, unit in (("refinancing_spread", "1/yr"), ("refinancing_rate_sd", "1/yr"),
                       ("refinancing_fail_probability", "1")):
        data[name] = ((), getattr(cfg.finance, name), {"units": unit})
    return xr.Dataset(data, coords={"tranche": list(tranches)})


def _select(ds: xr.Dataset, dim: str, wanted: list[str], what: str) -> xr.Dataset:
    known = [str(v) for v in ds[dim].values]
    missing = [w for w in wanted if w not in known]
    if missing:
        raise ConfigError(what, [f"{what} = {missing}: not in the dataset; known ids are {known}"])
    return ds.sel({dim: wanted})


def build_inputs(cfg: StudyConfig) -> StudyInputs:
    """Load, subset and validate every input table of a study.

    Parameters
    ----------
    cfg : StudyConfig
        The validated study.

    Returns
    -------
    StudyInputs
        Validated inputs (fleet, sites, regions, technologies, finance, years).

    Raises
    ------
    ConfigError, SchemaError
        When the config names unknown ids or a dataset breaks its schema.
    """
    from gridcap import datasets as gd

    years = np.asarray(cfg.years)
    regions, regions_meta = _load_table(cfg, "regions", gd.read_regions)
    known_regions = [str(r) for r in regions.region.values]
    regions = _select(regions, "region", list(cfg.study.regions), "study.regions")
    regions = regions.sel(year=_planning_years(cfg, regions, regions_meta))
    techs, tech_meta = _load_table(cfg, "technologies", gd.read_technologies)
    if cfg.datasets.technology_ids:
        techs = _select(techs, "tech", list(cfg.datasets.technology_ids), "datasets.technology_ids")
    sites, sites_meta = _load_table(cfg, "sites", gd.read_mine_sites)
    _check_site_regions(cfg, sites, known_regions)
    if cfg.datasets.site_ids:
        sites = _select(sites, "site", list(cfg.datasets.site_ids), "datasets.site_ids")
    in_regions = np.isin(sites.region.values.astype(str), list(cfg.study.regions))
    sites = sites.isel(site=np.flatnonzero(in_regions))
    if cfg.datasets.max_sites:
        sites = sites.isel(site=slice(0, cfg.datasets.max_sites))
    sites = with_contract_terms(sites, cfg.site_contract_terms())
    hourly, hourly_meta = _load_hourly(cfg, regions, known_regions)
    paths, _ = gd.read_interconnection_paths(regions)
    regions["path_years"] = paths["path_years"]
    regions["path_limit_mw"] = paths["path_limit_mw"]
    population = None
    if cfg.fleet.population == "enrolled":
        regions["der_enrolled_premises"] = gd.enrolled_premises(regions["peak_load_mw"], years)
        first = regions["der_enrolled_premises"].isel(year=0)
        population = {str(r): float(v) for r, v in zip(first["region"].values, first.values,
                                                       strict=True)}
    fleet = gd.synthetic_fleet(
        cfg.fleet.n_der,
        regions,
        seed=cfg.study.seed + cfg.fleet.seed_offset,
        commitment_share=cfg.fleet.commitment_share,
        population=population,
    )
    inputs = StudyInputs(
        fleet=fleet,
        sites=sites,
        regions=regions,
        technologies=techs,
        finance=finance_terms(cfg),
        years=years,
        provenance={
            "regions": regions_meta,
            "technologies": tech_meta,
            "sites": sites_meta,
            "fleet": dict(fleet.attrs),
            **({"hourly": hourly_meta} if hourly_meta else {}),
        },
        hourly=hourly,
    )
    validate_inputs(inputs)
    return inputs


def _load_hourly(cfg: StudyConfig, regions: xr.Dataset,
                 known: list[str]) -> tuple[xr.Dataset | None, dict[str, Any]]:
    """The study's own hourly series (``[datasets] load / solar / wind``), validated; errors
    name the config key, file, column, row, value and what was expected."""
    from gridcap.datasets.series import HOURLY, read_hourly_series

    parts: dict[str, xr.DataArray] = {}
    meta: dict[str, Any] = {}
    for key in HOURLY:
        value = getattr(cfg.datasets, key)
        if value == "synthetic":
            continue
        where = f"datasets.{key} = {value!r}"
        path = Path(value)
        if not path.is_file():
            found = "a directory" if path.is_dir() else "no such file"
            raise ConfigError(cfg.source, [
                f"{where}: {found}; expected 'synthetic' or a CSV/NetCDF file of hourly "
                "series (relative paths are read from the study file's folder)"])
        try:
            da, meta[key] = read_hourly_series(path, key, regions, known)
        except GridcapInputError as err:
            raise ConfigError(cfg.source, [f"{where}: {err}"]) from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(cfg.source, [f"{where}: cannot be read ({err})"]) from None
        parts[str(da.name)] = da
    return (xr.Dataset(parts) if parts else None), meta


def with_hourly_series(inputs: StudyInputs, *, load: Any = None, solar: Any = None,
                       wind: Any = None) -> StudyInputs:
    """The inputs with the user's own hourly series, from pandas or xarray objects.

    The Python form of ``[datasets] load / solar / wind`` (README "Your own data"): each
    given series replaces the Monte Carlo's synthetic series of its regions in every
    scenario; series already on ``inputs`` for other quantities are kept.

    Parameters
    ----------
    inputs : StudyInputs
        From :func:`build_inputs`.
    load : pandas.DataFrame or xarray.DataArray, optional
        Hourly regional load [MW], one column per region id; index a tz-aware
        ``DatetimeIndex`` of 8760 consecutive hours or the hour of year 0-8759 in local
        standard time (:func:`gridcap.datasets.series.hourly_series`).
    solar, wind : pandas.DataFrame or xarray.DataArray, optional
        Output per unit of installed capacity [1], same layout.

    Returns
    -------
    StudyInputs
        A copy with ``hourly`` set; ``inputs`` is unchanged.

    Raises
    ------
    GridcapInputError
        Naming the argument, column, row, value and what was expected.
    """
    from gridcap.datasets.series import hourly_series

    new = hourly_series(inputs.regions, load=load, solar=solar, wind=wind)
    old = inputs.hourly
    if old is not None:
        new = old.drop_vars([v for v in new.data_vars if v in old]).merge(new)
    given = {str(v): "user data (Python)" for v in new.data_vars}
    provenance = {**inputs.provenance, "hourly": {**inputs.provenance.get("hourly", {}),
                                                  **given}}
    return replace(inputs, hourly=new if new.data_vars else old, provenance=provenance)


def check_study(cfg: StudyConfig) -> StudyInputs:
    """Every input check of :func:`run_study`, run before any work (``gridcap validate``).

    Loads and validates the inputs (:func:`build_inputs`), builds the planner and compute
    options (which check themselves) and resolves the Monte Carlo backend, so a study that
    passes here does not fail later for an input reason. ``run_study`` and ``sweep`` call
    this same function.

    Returns
    -------
    StudyInputs
        The validated inputs.

    Raises
    ------
    GridcapInputError
        Naming the config key, file and column, the value and what was expected.
    """
    inputs = build_inputs(cfg)
    for name in dir(type(cfg)):  # every options object the config builds checks itself
        if name.endswith(("_options", "_assumptions")) and callable(getattr(cfg, name)):
            getattr(cfg, name)()
    from gridcap.errors import BackendUnavailableError
    _planner_input_checks(inputs)
    check_site_contracts(cfg, inputs)
    from gridcap.kernels import resolve_backend

    try:
        resolve_backend(cfg.study.backend)
    except BackendUnavailableError as err:
        raise BackendUnavailableError(f"study.backend: {err}") from None
    return inputs


def _planner_input_checks(inputs: StudyInputs) -> None:
    """The siting model's checks of its inputs that need no Monte Carlo outcomes (lead times
    within the horizon, interconnection paths), run here so ``validate`` reports them."""
    from types import SimpleNamespace

    try:
        from gridcap.optimizer.planning import siting
    except ImportError:  # pragma: no cover - the planner always ships
        return
    techs = inputs.technologies
    if "region" not in inputs.regions.dims or "tech" not in techs.dims:
        return  # not a planner's input (stand-in stages in tests): the planner checks later
    if hasattr(siting, "_interconnection"):
        siting._interconnection(inputs.regions, techs, techs.sizes.get("tech", 0))
    if hasattr(siting, "_check_lead_times") and "lead_time_years" in techs:
        siting._check_lead_times(SimpleNamespace(  # type: ignore[arg-type]
            years=np.asarray(inputs.years), techs=techs["tech"].values.astype(str),
            lead=np.asarray(techs["lead_time_years"].values, dtype=float)))


def _path_or_none(value: str) -> Path | None:
    return None if value == "shipped" else Path(value)


def _load_table(cfg: StudyConfig, key: str, loader: Callable[..., Any]) -> Any:
    """Call a dataset loader for ``datasets.<key>``; its errors name that config key."""
    value = getattr(cfg.datasets, key)
    if value == "shipped":
        return loader()
    path = Path(value)
    where = f"datasets.{key} = {value!r}"
    if not path.is_file():
        found = "a directory" if path.is_dir() else "no such file"
        raise ConfigError(cfg.source, [
            f"{where}: {found}; expected 'shipped' or a CSV file (relative paths are read "
            "from the study file's folder)"
        ])
    try:
        return loader(path=path)
    except ProblemsError as err:
        raise type(err)(f"{where} ({err.what})", err.problems) from None
    except GridcapInputError as err:
        raise ConfigError(cfg.source, [f"{where}: {err}"]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(cfg.source, [f"{where}: cannot be read ({err})"]) from None


def _planning_years(cfg: StudyConfig, regions: xr.Dataset, meta: dict[str, Any]) -> list[int]:
    """The study's years, checked against the AI demand data the regions table carries."""
    available = [int(y) for y in regions.year.values]
    absent = [y for y in cfg.years if y not in available]
    if absent:
        demand = meta.get("demand", {}).get("file", "the demand data")
        raise ConfigError(cfg.source, [
            f"study.start_year = {cfg.study.start_year}, study.horizon_years = "
            f"{cfg.study.horizon_years}: years {absent[0]}–{absent[-1]} have no AI demand data "
            f"in {demand}; expected planning years within {min(available)}–{max(available)}"
        ])
    return list(cfg.years)


def _check_site_regions(cfg: StudyConfig, sites: xr.Dataset, known: list[str]) -> None:
    """Sites listed in ``datasets.site_ids`` must lie in the study's regions (never dropped
    silently), and every site of a user sites file must name a known region."""
    import difflib

    region_of = dict(zip(sites.site.values.astype(str).tolist(),
                         sites.region.values.astype(str).tolist(), strict=True))
    problems: list[str] = []
    if cfg.datasets.sites != "shipped":
        for site, region in region_of.items():
            if region not in known:
                close = difflib.get_close_matches(region, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(
                    f"datasets.sites = {cfg.datasets.sites!r}: site {site!r} has region "
                    f"{region!r}{hint}: expected one of the known regions {sorted(known)}"
                )
    study_regions = list(cfg.study.regions)
    for site in cfg.datasets.site_ids:
        region = region_of.get(site)
        if region is None or region in study_regions:
            continue
        close = difflib.get_close_matches(region, study_regions, n=1)
        hint = f" (a typo for {close[0]!r}?)" if close else ""
        problems.append(
            f"datasets.site_ids lists {site!r}, whose region is {region!r}{hint} in "
            f"datasets.sites = {cfg.datasets.sites!r}: expected a site in study.regions = "
            f"{study_regions} (add its region or remove the site)"
        )
    listed = len(cfg.datasets.site_ids)
    if cfg.datasets.max_sites and listed > cfg.datasets.max_sites:
        problems.append(
            f"datasets.max_sites = {cfg.datasets.max_sites} keeps only the first "
            f"{cfg.datasets.max_sites} of the {listed} sites in datasets.site_ids: expected "
            "max_sites = 0 or at least the number of listed sites"
        )
    if problems:
        raise ConfigError(cfg.source, problems)


# --------------------------------------------------------------------------- stages


def with_contract_terms(sites: xr.Dataset, terms: dict[str, dict[str, Any]]) -> xr.Dataset:
    """Sites with the study's ``[contracts.<site_id>]`` terms as per-site variables.

    Sites without a value get NaN / ``""`` (= keep the site's deal or the defaults, see
    :func:`gridcap.datasets.financings.site_contracts`).

    Raises
    ------
    GridcapInputError
        A ``[contracts.<site_id>]`` table names a site that is not in the study.
    """
    if not terms:
        return sites
    ids = [str(s) for s in sites["site"].values]
    unknown = sorted(set(terms) - set(ids))
    if unknown:
        raise GridcapInputError(
            f"contracts.{unknown[0]}: site not in this study; expected one of {ids} "
            "(datasets.sites / datasets.site_ids / study.regions select the sites)")
    out = sites.copy()
    names = sorted({k for t in terms.values() for k in t})
    for name in names:
        vals = [terms.get(s, {}).get(name) for s in ids]
        if any(isinstance(v, str) for v in vals):
            col = np.array(["" if v is None else v for v in vals], dtype=object)
        else:
            col = np.array([np.nan if v is None else v for v in vals], dtype=float)
        out[name] = ("site", col)
    return out


def check_site_contracts(cfg: StudyConfig, inputs: StudyInputs) -> None:
    """Build the sites' contract terms as the Monte Carlo will (``gridcap validate``).

    Raises
    ------
    GridcapInputError
        A term combination the contract model rejects (backstop larger than the lease
        obligations, a gpu_contract longer than the GPU life, ...), naming key and value.
    """
    from gridcap.datasets.financings import site_contracts

    if inputs.sites.sizes.get("site", 0) == 0:
        return
    gpu = site_gpu_assumptions(cfg)
    life = gpu["gpu_life_years"]
    site_contracts(inputs.sites, gpu_life_years=life, gpu_cost_usd_per_mw_yr=0.0,
                   gpu_capex_usd_per_mw=gpu["gpu_cost_usd_per_gpu_hour"] * life * 8760.0
                   * gpu["gpus_per_mw"])


def simulate_stage(
    cfg: StudyConfig,
    inputs: StudyInputs,
    progress: Progress = _no_progress,
    *,
    store: str | Path | None = None,
    resume: bool = False,
    client: Any = None,
) -> xr.Dataset:
    """Run the Monte Carlo in scenario batches of ``monte_carlo.batch_size``.

    Batches are independent (counter-based RNG keyed by the global scenario index), so the
    concatenation equals one big run, whether batches run here, resume from a checkpoint
    store, or run on Dask workers.

    Parameters
    ----------
    store : str or Path, optional
        Checkpoint directory (Zarr); finished batches are kept there.
    resume : bool
        Reuse finished, intact batches found in ``store``.
    client : dask.distributed.Client, optional
        Run batches on this Dask cluster.

    Returns
    -------
    xarray.Dataset
        Outcomes over all ``monte_carlo.scenarios`` scenarios (docs/data-model.md §2).
    """
    from gridcap.checkpoint import map_scenario_batches
    from gridcap.kernels import simulate

    options = cfg.simulate_options()

    def compute(offset: int, count: int) -> xr.Dataset:
        return simulate(inputs, replace(options, scenarios=count, scenario_offset=offset))

    return map_scenario_batches(
        compute,
        cfg.monte_carlo.scenarios,
        cfg.monte_carlo.batch_size,
        store=store,
        resume=resume,
        client=client,
        progress=progress,
        fingerprint=monte_carlo_fingerprint(cfg),
    )


def site_gpu_assumptions(cfg: StudyConfig) -> dict[str, float]:
    """The ``[compute]`` values the Monte Carlo site model uses.

    Returns ``gpus_per_mw`` [GPU/MW], ``gpu_cost_usd_per_gpu_hour`` [$/GPU-h] = GPU capex
    straight-line over its life, the same charge the chain's cost stack depreciates, and
    ``gpu_life_years`` [yr] (GPU revenue and charge end there).
    """
    c = cfg.compute_assumptions()
    return {
        "gpus_per_mw": float(c.gpus_per_mw),
        "gpu_cost_usd_per_gpu_hour": c.gpu_cost_usd_per_gpu_hour,
        "gpu_life_years": float(c.gpu_life_years),
    }


def monte_carlo_fingerprint(cfg: StudyConfig) -> str:
    """A short hash of every config value that changes the Monte Carlo outcomes.

    Checkpoints live under a directory named by it, so a resumed run never mixes batches
    computed for another study, seed, fleet or dataset — including a dataset file edited in
    place (the SHA-256 of every input file is part of it, :func:`input_digests`).
    """
    import hashlib

    from gridcap.datasets.financings import FINANCINGS_FILE

    raw = cfg.to_dict()
    relevant = {
        "study": {k: v for k, v in raw["study"].items() if k not in ("name", "description")},
        "monte_carlo": raw["monte_carlo"],
        "datasets": raw["datasets"],
        "fleet": raw["fleet"],
        "site_gpus": site_gpu_assumptions(cfg),
        # the pools' flexibility credit (SimulateOptions.flex_payment_usd_per_kw_yr)
        "flex_payment_usd_per_kw_yr": cfg.optimizer.flex_cost_usd_per_kw_yr,
        # site contract terms come from the shipped deals table (kernels.contracts)
        "deals": hashlib.sha256(FINANCINGS_FILE.read_bytes()).hexdigest(),
        # ... and from the study's [contracts.<site_id>] tables
        "contracts": cfg.site_contract_terms(),
        "inputs_sha256": input_digests(cfg),
        "version": gridcap.__version__,
    }
    text = json.dumps(relevant, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (cached by path, size and modification time)."""
    try:
        stat = path.stat()
    except OSError:
        return f"missing: {path}"
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        import hashlib

        try:
            _DIGESTS[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as err:
            return f"unreadable: {path} ({err})"
    return _DIGESTS[key]


def input_digests(cfg: StudyConfig) -> dict[str, str]:
    """SHA-256 of every file the study's inputs are read from.

    Covers each ``[datasets]`` value that names a file (any key, so new dataset keys are
    included) and every shipped data file, so an input edited between a run and ``--resume``
    changes the Monte Carlo fingerprint and the sweep's checkpoint manifest.

    Returns
    -------
    dict
        ``datasets.<key>`` or ``shipped/<file>`` → hex digest (or why there is none).
    """
    from gridcap.datasets.loaders import DATA_DIR

    out: dict[str, str] = {}
    for name, value in sorted(dataclasses.asdict(cfg.datasets).items()):
        if isinstance(value, str) and value not in ("shipped", "synthetic") and value:
            out[f"datasets.{name}"] = _file_digest(Path(value))
    for path in sorted(DATA_DIR.glob("*.csv")):
        out[f"shipped/{path.name}"] = _file_digest(path)
    return out


def plan_options(cfg: StudyConfig) -> Any:
    """The study's :class:`gridcap.optimizer.PlanOptions` (same as ``cfg.plan_options()``)."""
    return cfg.plan_options()


def plan_stage(cfg: StudyConfig, inputs: StudyInputs, outcomes: xr.Dataset) -> xr.Dataset:
    """Solve the siting and build plan (Pyomo + HiGHS) over the Monte Carlo outcomes."""
    from gridcap.optimizer import plan

    return with_market_prices(plan(inputs, outcomes, cfg.plan_options()))


def with_market_prices(plan_ds: xr.Dataset) -> xr.Dataset:
    """The plan with each region-year's market figure beside its capacity value.

    Adds :func:`gridcap.datasets.markets.market_prices` (cited capacity-auction clearing
    prices and energy-only scarcity parameters, $/kW-yr) on the plan's region and year
    coordinates; see docs/capacity-prices.md for why a dual differs from a clearing price.
    """
    from gridcap.datasets.markets import market_prices

    if "region" not in plan_ds.coords or "year" not in plan_ds.coords:
        return plan_ds
    market = market_prices(plan_ds["region"].values, plan_ds["year"].values)
    return plan_ds.merge(market.drop_vars([c for c in ("region", "year") if c in market.coords
                                           and c not in market.dims]))


def finance_stage(
    cfg: StudyConfig, inputs: StudyInputs, plan_ds: xr.Dataset, outcomes: xr.Dataset
) -> xr.Dataset:
    """Size, run and price the capital stack of the plan's portfolio."""
    from gridcap.optimizer import finance

    return finance(inputs, outcomes, plan_ds, cfg.finance_options())


def chain_stage(
    cfg: StudyConfig,
    inputs: StudyInputs,
    outcomes: xr.Dataset,
    plan_ds: xr.Dataset,
    finance_ds: xr.Dataset,
) -> xr.Dataset:
    """Trace kWh → GPU-hours → tokens → cash per tranche (``gridcap.optimizer.chain.trace``)."""
    from gridcap.optimizer.chain.trace import trace_chain

    return trace_chain(inputs, outcomes, plan_ds, finance_ds, cfg.compute_assumptions())


# --------------------------------------------------------------------------- results


def _drop_attrs(ds: xr.Dataset) -> xr.Dataset:
    """``ds.drop_attrs()`` without its per-variable re-alignment (seconds on results of a few
    hundred variables): a shallow copy whose dataset and variable attributes are empty."""
    out = ds.copy(deep=False)
    out.attrs = {}
    for var in out.variables.values():
        var.attrs = {}
    return out


def _prefixed(ds: xr.Dataset, prefix: str, keep: set[str]) -> xr.Dataset:
    """Rename data variables to ``prefix + name`` unless already in ``keep``."""
    return ds.rename({v: f"{prefix}{v}" for v in ds.data_vars if v not in keep})


def inputs_dataset(inputs: StudyInputs) -> xr.Dataset:
    """The study inputs as one Dataset with variables ``<table>__<name>`` and provenance."""
    parts = []
    for table in ("fleet", "sites", "regions", "technologies", "finance", "hourly"):
        ds = getattr(inputs, table, None)
        if ds is None:
            continue
        parts.append(_drop_attrs(ds.rename({v: f"{table}__{v}" for v in ds.data_vars})))
    merged = xr.merge(parts, compat="override", join="outer")
    merged.attrs["provenance"] = json.dumps(inputs.provenance, default=str)
    return merged


def assemble_results(
    cfg: StudyConfig,
    inputs: StudyInputs,
    outcomes: xr.Dataset,
    plan_ds: xr.Dataset,
    finance_ds: xr.Dataset,
    times: StageTimes,
    chain_ds: xr.Dataset | None = None,
) -> xr.Dataset:
    """Merge inputs, outcomes, plan and finance into the single results Dataset.

    Variables keep their stage's names; inputs are prefixed by their table
    (``sites__interconnection_mw``), Monte Carlo outcomes by ``mc__`` and finance by
    ``fin__`` only where a name would collide. Attributes carry the config, provenance,
    versions and stage timings.
    """
    inputs_ds = inputs_dataset(inputs)
    plan_names = set(plan_ds.data_vars)
    mc = _prefixed(_drop_attrs(outcomes), "mc__", set())
    fin = finance_ds.rename({v: f"fin__{v}" for v in finance_ds.data_vars if v in plan_names})
    if "year" in fin.dims and "year" in plan_ds.dims and not np.array_equal(
            fin["year"].values, plan_ds["year"].values):
        # the finance horizon runs past the plan years: its own axis, as in the outcomes
        fin = fin.rename({"year": "finance_year"})
    parts = [inputs_ds, mc, _drop_attrs(plan_ds), _drop_attrs(fin)]
    if chain_ds is not None:
        parts.append(_drop_attrs(chain_ds))
    results = xr.merge(parts, compat="override", join="outer", combine_attrs="drop")
    results.attrs.update(
        {
            "title": f"gridcap results: {cfg.study.name}",
            "gridcap_version": gridcap.__version__,
            "study": cfg.study.name,
            "config": json.dumps(cfg.to_dict()),
            "config_source": cfg.source,
            "provenance": inputs_ds.attrs["provenance"],
            "stage_seconds": json.dumps(times.seconds),
            "monte_carlo": json.dumps({k: str(v) for k, v in outcomes.attrs.items()}),
            "plan": json.dumps({k: str(v) for k, v in plan_ds.attrs.items()}),
            "finance": json.dumps({k: str(v) for k, v in finance_ds.attrs.items()}),
        }
    )
    if chain_ds is not None:
        results.attrs["chain"] = json.dumps({k: str(v) for k, v in chain_ds.attrs.items()})
    return results


def run_study(
    cfg: StudyConfig,
    out_dir: str | Path | None = None,
    progress: Progress = _no_progress,
    *,
    resume: bool = False,
    client: Any = None,
) -> xr.Dataset:
    """Run a whole study: inputs → Monte Carlo → plan → finance → results.

    Parameters
    ----------
    cfg : StudyConfig
        The validated study.
    out_dir : str or Path, optional
        Output folder. It is locked for the run (a second run into it fails at once with
        :class:`gridcap.errors.OutputError`), and ``results.nc``, ``chain_ledger.csv`` and
        ``finance/`` are committed as one set with the manifest ``gridcap-outputs.json``
        written last (:func:`gridcap.io.output_folder`). Nothing is written when omitted.
    progress : callable, optional
        ``progress(stage, done, total)`` callback.
    resume : bool
        Reuse Monte Carlo batches already checkpointed under ``out_dir/checkpoint``.
    client : dask.distributed.Client, optional
        Run Monte Carlo batches on this Dask cluster.

    Returns
    -------
    xarray.Dataset
        The results (also written to ``out_dir/results.nc``).
    """
    if out_dir is None:
        return _run_stages(cfg, None, progress, resume=resume, client=client)[0]
    from gridcap.io import output_folder

    with output_folder(out_dir, RUN_OUTPUTS, skip=("checkpoint",)) as staged:
        results, finance_ds, chain_ds = _run_stages(
            cfg, Path(out_dir), progress, resume=resume, client=client
        )
        write_outputs(results, finance_ds, chain_ds, staged.staging)
        staged.commit({"command": "run", "study": cfg.study.name,
                       "monte_carlo_fingerprint": monte_carlo_fingerprint(cfg)})
    return results


# Entries of a run's output folder and their kind (a folder holding one of these names as the
# other kind is refused before any work).
RUN_OUTPUTS = {
    "results.nc": "file",
    "chain_ledger.csv": "file",
    "finance": "dir",
    "checkpoint": "dir",
    "gridcap-outputs.json": "file",
}


def _run_stages(
    cfg: StudyConfig,
    out_dir: Path | None,
    progress: Progress,
    *,
    resume: bool,
    client: Any,
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """Every stage of :func:`run_study`: (results, finance, chain) Datasets."""
    times = StageTimes()
    progress("inputs", 0, 1)
    inputs = times.timed("inputs", lambda: check_study(cfg))
    progress("inputs", 1, 1)
    store = None
    if out_dir is not None:
        store = out_dir / "checkpoint" / f"monte_carlo-{monte_carlo_fingerprint(cfg)}.zarr"
    outcomes = times.timed(
        "monte_carlo",
        lambda: simulate_stage(cfg, inputs, progress, store=store, resume=resume, client=client),
    )
    progress("plan", 0, 1)
    plan_ds = times.timed("plan", lambda: plan_stage(cfg, inputs, outcomes))
    progress("plan", 1, 1)
    progress("finance", 0, 1)
    finance_ds = times.timed("finance", lambda: finance_stage(cfg, inputs, plan_ds, outcomes))
    progress("finance", 1, 1)
    chain_ds = times.timed("chain", lambda: chain_stage(cfg, inputs, outcomes, plan_ds, finance_ds))
    headroom_ds = None
    if cfg.flexible_ai.headroom:
        from gridcap.headroom import as_results_variables, headroom_stage

        headroom_ds = times.timed("headroom", lambda: headroom_stage(cfg, inputs))
    results = assemble_results(cfg, inputs, outcomes, plan_ds, finance_ds, times, chain_ds)
    if headroom_ds is not None:
        results = xr.merge([results, as_results_variables(headroom_ds)], compat="override",
                           join="outer", combine_attrs="override")
        results.attrs["headroom"] = json.dumps({k: str(v) for k, v in headroom_ds.attrs.items()})
    return results, finance_ds, chain_ds


def write_outputs(
    results: xr.Dataset, finance_ds: xr.Dataset, chain_ds: xr.Dataset, out_dir: Path
) -> None:
    """Write ``results.nc`` and the machine-readable ledgers, each file atomically.

    :func:`run_study` points ``out_dir`` at the staging folder of its output set, so these
    files reach the output folder together, when the set is committed.

    Files: ``results.nc``; ``chain_ledger.csv`` (MWh → GPU-hours → tokens → cash per tranche
    unit; all scenarios up to 256, else representative ones); the finance stage's waterfall
    rule set and distribution ledger (``gridcap.optimizer.financing.project.write_finance_files``).
    """
    from gridcap.io import write_netcdf
    from gridcap.optimizer.chain.trace import chain_ledger, write_chain_ledger
    from gridcap.optimizer.financing.project import write_finance_files

    out_dir.mkdir(parents=True, exist_ok=True)
    scenarios = None if chain_ds.sizes.get("scenario", 0) <= 256 else "representative"
    write_chain_ledger(
        chain_ledger(chain_ds, finance_ds, scenarios=scenarios), out_dir / "chain_ledger.csv"
    )
    write_finance_files(finance_ds, out_dir / "finance")
    write_netcdf(results, out_dir / "results.nc")
