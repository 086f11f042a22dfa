"""Batch runs: parameter sweeps with checkpoint/resume, and Dask clusters to run them on.

A *sweep* runs the cartesian product of a few config values (dotted keys, e.g.
``optimizer.cvar_lambda=0.1,0.5,1``) and stores every variant's results in one Dataset with a
``variant`` dimension, plus one coordinate per swept key.

Work is shared between variants wherever the model allows:

- Variants that differ only in ``optimizer.*`` or ``finance.*`` keys share one Monte Carlo
  run (those keys do not enter the simulation).
- Within one Monte Carlo group, variants that differ only in ``finance.*`` keys share one plan,
  and the siting model is built once and re-solved after parameter updates (the persistent
  :class:`gridcap.optimizer.PlanModel` when the optimizer provides it).

Every finished variant is checkpointed as one Zarr group in ``OUT/variants.zarr`` (see
:mod:`gridcap.checkpoint`), and the Monte Carlo of each group in scenario batches under
``OUT/montecarlo/``; ``resume=True`` computes only what is missing or corrupt. The combined
results are written atomically to ``OUT/results.nc``.

Dask
----
:func:`dask_client` gives a :class:`dask.distributed.Client` for a local cluster of ``N``
single-threaded worker processes, or for an existing scheduler at ``ADDRESS``
(``gridcap sweep … --workers 4`` / ``--dask tcp://host:8786``). Scenario batches are mapped over
the workers, and each Monte Carlo group's solve chain (plan re-solves + finance of its variants)
runs as one task, so results are identical to a single process. Checkpoints are written by the
workers: with a remote cluster ``OUT`` must be on a file system all workers share.

On a machine with several GPUs use `dask-cuda <https://docs.rapids.ai/api/dask-cuda/>`_, which
starts one worker per GPU (each pinned with ``CUDA_VISIBLE_DEVICES``)::

    pip install dask-cuda
    dask scheduler --scheduler-file sched.json &
    dask cuda worker --scheduler-file sched.json &     # one worker per visible GPU
    gridcap sweep quickstart --param optimizer.cvar_lambda=0.1,1 --dask tcp://HOST:8786

or, from Python, ``from dask_cuda import LocalCUDACluster; Client(LocalCUDACluster())`` and pass
the client to :func:`sweep` / :func:`gridcap.checkpoint.map_scenario_batches`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcap.checkpoint import (
    open_store,
    read_group,
    write_group,
)
from gridcap.config import SECTIONS, StudyConfig, _coerce, all_keys
from gridcap.errors import ConfigError, GridcapInputError

Progress = Callable[[str, int, int | None], None]

# Config sections that do not enter the Monte Carlo (a variant changing only these reuses it).
OUTCOME_FREE = ("optimizer", "finance")
# Sections that do not enter the plan either (a variant changing only these reuses the plan).
PLAN_FREE = ("finance",)

VARIANT_STORE = "variants.zarr"
MC_DIR = "montecarlo"
RESULTS = "results.nc"


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


# --------------------------------------------------------------------------- dask


def check_dask_address(address: str, flag: str = "--dask") -> str:
    """Check a scheduler address (``tcp://host:8786``, ``tls://host:8786``, ``host:8786``).

    Returns
    -------
    str
        The address, stripped.

    Raises
    ------
    GridcapInputError
        Naming ``flag``, the address and what a valid one looks like.
    """
    text = str(address).strip()
    expected = ("expected SCHEME://HOST:PORT with SCHEME tcp or tls (e.g. tcp://10.0.0.5:8786), "
                "or HOST:PORT")
    scheme, sep, location = text.rpartition("://") if "://" in text else ("tcp", "", text)
    if sep and scheme not in ("tcp", "tls", "ws", "wss", "ucx"):
        raise GridcapInputError(f"{flag} {text[:200]!r}: unknown scheme {scheme[:50]!r}; "
                                f"{expected}")
    host, colon, port = location.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 \
            or any(c.isspace() or c in "/?#@" for c in host):
        raise GridcapInputError(f"{flag} {text[:200]!r}: not a scheduler address; {expected}")
    return text


def dask_security(
    ca: str | None = None, cert: str | None = None, key: str | None = None
) -> Any:
    """A :class:`distributed.security.Security` for TLS to a scheduler, from PEM files.

    Parameters
    ----------
    ca : str, optional
        CA certificate that signed the scheduler's and workers' certificates
        (``--dask-tls-ca``).
    cert : str, optional
        This client's certificate (``--dask-tls-cert``); may hold the key too.
    key : str, optional
        This client's private key (``--dask-tls-key``).

    Returns
    -------
    distributed.security.Security or None
        None when no file is given: the client then uses Dask's own configuration
        (``distributed.comm.tls.*`` in ``~/.config/dask/*.yaml`` or ``DASK_*`` environment
        variables) — with none there, the connection is plain TCP without authentication.

    Raises
    ------
    GridcapInputError
        If a file is missing or unreadable, or a key/cert is given without the other parts.
    """
    given = {"--dask-tls-ca": ca, "--dask-tls-cert": cert, "--dask-tls-key": key}
    if not any(given.values()):
        return None
    for flag, value in given.items():
        if value is not None and not (Path(value).is_file() and os.access(value, os.R_OK)):
            raise GridcapInputError(f"{flag} {str(value)[:500]!r}: no readable file there; "
                                    "expected a PEM file")
    if not ca or not cert:
        missing = [f for f, v in given.items() if f != "--dask-tls-key" and not v]
        raise GridcapInputError(
            f"TLS to a Dask scheduler needs {' and '.join(missing)} as well: expected "
            "--dask-tls-ca CA.pem --dask-tls-cert CERT.pem [--dask-tls-key KEY.pem]"
        )
    try:
        from distributed.security import Security
    except ImportError as err:
        raise _needs_distributed(err) from None
    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key,
                    require_encryption=True)


def _needs_distributed(err: ImportError) -> GridcapInputError:
    """The error for a Dask feature used without ``dask.distributed`` installed."""
    return GridcapInputError(f"Dask scale-out needs dask.distributed ({err}); install it with "
                             "pip install 'gridcap[distributed]'")


@contextlib.contextmanager
def dask_client(
    address: str | None = None, workers: int | None = None, security: Any = None
) -> Iterator[Any]:
    """A :class:`dask.distributed.Client`, closed (with its local cluster) on exit.

    Parameters
    ----------
    address : str, optional
        Address of a running scheduler (``tcp://host:8786``). Mutually exclusive with
        ``workers``.
    workers : int, optional
        Number of local worker processes (one thread each) [1]. Default 1 when no address.
    security : distributed.security.Security, optional
        TLS settings for ``address`` (:func:`dask_security`); the address must then be
        ``tls://``. Without it the connection follows Dask's configuration, which by default
        is **plain TCP without encryption or authentication**: anyone who can reach the
        scheduler can run code on its workers, so expose a scheduler only on a trusted network
        or use TLS.

    Yields
    ------
    distributed.Client

    Raises
    ------
    GridcapInputError
        If both arguments are given, ``workers`` is not a positive integer, or
        ``dask.distributed`` is not installed.

    Notes
    -----
    For one worker per GPU use ``dask_cuda.LocalCUDACluster`` (see the module docstring).
    """
    if address is not None and workers is not None:
        raise GridcapInputError(
            f"dask_client: got address={address!r} and workers={workers!r}: give one of them"
        )
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise GridcapInputError(f"dask_client: workers = {workers!r}: expected an integer >= 1")
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise _needs_distributed(err) from None
    if security is not None and address is None:
        raise GridcapInputError("--dask-tls-* flags apply to --dask ADDRESS: expected a "
                                "tls:// scheduler address with them")
    if address is not None:
        address = check_dask_address(address)
        if security is not None and not address.startswith("tls://"):
            raise GridcapInputError(f"--dask {address[:200]!r}: the --dask-tls-* flags need a "
                                    "tls:// address (e.g. tls://host:8786)")
        try:
            client = Client(address, timeout="20s", security=security)
        except (OSError, ValueError, TypeError, TimeoutError) as err:
            raise GridcapInputError(
                f"--dask {address[:200]!r}: cannot connect to a dask scheduler there "
                f"({type(err).__name__}: {str(err)[:500]})"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


# --------------------------------------------------------------------------- params


def _unknown(dotted: str) -> str:
    import difflib

    close = difflib.get_close_matches(dotted, all_keys(), n=3, cutoff=0.75)
    if close:
        return (f"{dotted}: unknown key; did you mean {' or '.join(close)}? "
                "('gridcap validate --schema' lists every key)")
    return f"{dotted}: unknown key; known keys are {sorted(all_keys())}"


def _key(dotted: str) -> Any:
    section, _, leaf = dotted.rpartition(".")
    for key in SECTIONS.get(section, ()):
        if key.name == leaf:
            return key
    return None


def _parse_value(dotted: str, key: Any, text: str, problems: list[str]) -> Any:
    text = text.strip()
    value: Any = text
    try:
        if key.kind is int:
            value = int(text)
        elif key.kind is float:
            value = float(text)
        elif key.kind is bool:
            low = text.lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            value = low in ("true", "1", "yes")
    except ValueError:
        problems.append(
            f"{dotted} = {text!r}: expected {key.kind.__name__}"
            + (f" ({key.expected})" if key.expected else "")
        )
        return None
    return _coerce(dotted, key, value, problems)


def parse_param(text: str) -> tuple[str, list[Any]]:
    """Parse one ``--param KEY=V1,V2,...`` flag.

    Parameters
    ----------
    text : str
        ``"optimizer.cvar_lambda=0.1,0.5,1"``: a dotted config key (see
        ``gridcap validate --schema``) and comma-separated values.

    Returns
    -------
    key : str
        The dotted key.
    values : list
        The values, typed and range-checked like the config file's.

    Raises
    ------
    ConfigError
        If the text is not ``KEY=V1,...``, the key is unknown or list-valued, a value has the
        wrong type or is out of range, or a value repeats.

    Examples
    --------
    >>> parse_param("optimizer.cvar_lambda=0.1,0.5,1")
    ('optimizer.cvar_lambda', [0.1, 0.5, 1.0])
    """
    where = f"--param {text}"
    dotted, sep, rest = text.partition("=")
    dotted = dotted.strip()
    if not sep or not dotted or not rest.strip():
        raise ConfigError(where, [f"{text!r}: expected KEY=V1,V2,... "
                                  "(e.g. optimizer.cvar_lambda=0.1,0.5,1)"])
    key = _key(dotted)
    if key is None:
        raise ConfigError(where, [_unknown(dotted)])
    if key.kind is list:
        raise ConfigError(where, [f"{dotted}: list-valued keys cannot be swept"])
    problems: list[str] = []
    values = [_parse_value(dotted, key, part, problems) for part in rest.split(",")]
    if not problems:
        dupes = sorted({str(v) for v in values if values.count(v) > 1})
        if dupes:
            problems.append(f"{dotted}: values {dupes} repeat; each variant must differ")
    if problems:
        raise ConfigError(where, problems)
    return dotted, values


def variants(cfg: StudyConfig, params: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of ``params`` as override dicts (first key varies slowest).

    Raises
    ------
    ConfigError
        Listing every unknown key, empty value list or invalid variant.
    """
    problems: list[str] = []
    if not params:
        problems.append("no parameters to sweep: give at least one KEY=V1,V2,...")
    for dotted, values in params.items():
        if _key(dotted) is None:
            problems.append(_unknown(dotted))
        elif not isinstance(values, Sequence) or isinstance(values, str) or not values:
            problems.append(f"{dotted} = {values!r}: expected a non-empty list of values")
    if problems:
        raise ConfigError(f"{cfg.source} (sweep)", problems)
    keys = list(params)
    out = [dict(zip(keys, combo, strict=True))
           for combo in itertools.product(*(params[k] for k in keys))]
    for overrides in out:
        try:
            cfg.with_overrides(overrides)
        except ConfigError as err:
            problems += [f"variant {overrides}: {p}" for p in err.problems]
    if problems:
        raise ConfigError(f"{cfg.source} (sweep)", problems)
    return out


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _without(cfg: StudyConfig, sections: tuple[str, ...]) -> dict[str, Any]:
    raw = cfg.to_dict()
    return {k: v for k, v in raw.items() if k not in sections}


def plan_key(cfg: StudyConfig) -> str:
    """Identifies a config's plan (everything but ``finance.*``)."""
    return _digest(_without(cfg, PLAN_FREE))


# --------------------------------------------------------------------------- stages


# optimizer.<key> → (PlanModel.set_param name, PlanOptions field): parameters the persistent
# siting model can change in place; any other optimizer change rebuilds the model.
PERSISTENT_PARAMS = {
    "cvar_lambda": ("cvar_lambda", "cvar_lambda"),
    "cvar_alpha": ("cvar_alpha", "cvar_alpha"),
    "ai_lost_margin_usd_per_mwh": ("ai_lost_margin", "ai_lost_margin_usd_per_mwh"),
    "firm_ai_shed_usd_per_mwh": ("firm_ai_shed", "firm_ai_shed_usd_per_mwh"),
}


def _plan_model_class() -> Any:
    try:
        from gridcap.optimizer import PlanModel
    except (ImportError, AttributeError):
        return None
    return PlanModel


class PlanChain:
    """Solves a sequence of plans over one Monte Carlo, re-using one persistent model.

    The first solve builds :class:`gridcap.optimizer.PlanModel`; a later solve whose optimizer
    settings differ only in :data:`PERSISTENT_PARAMS` updates the model in place
    (``set_param``) and re-solves the same HiGHS instance; any other change rebuilds it. When
    the optimizer has no ``PlanModel`` every plan comes from
    :func:`gridcap.pipeline.plan_stage`.

    Attributes
    ----------
    builds, updates : int
        How many times the model was built, and re-solved after an in-place update.
    """

    def __init__(self, inputs: Any, outcomes: xr.Dataset, persistent: bool = True) -> None:
        self.inputs = inputs
        self.outcomes = outcomes
        self.cls = _plan_model_class() if persistent else None
        self.model: Any = None
        self.settings: dict[str, Any] = {}
        self.builds = 0
        self.updates = 0

    def solve(self, cfg: StudyConfig) -> xr.Dataset:
        """The plan for ``cfg`` (its optimizer settings) [plan Dataset]."""
        from gridcap.pipeline import plan_options, plan_stage, with_market_prices

        if self.cls is None or cfg.optimizer.decomposition != "extensive":
            # the scenario decomposition has no persistent model: each plan is its own run
            self.builds += 1
            return plan_stage(cfg, self.inputs, self.outcomes)
        settings = dataclasses.asdict(cfg.optimizer)
        changed = [k for k in settings if settings[k] != self.settings.get(k)]
        if self.model is not None and set(changed) <= set(PERSISTENT_PARAMS):
            for key in changed:
                param, field = PERSISTENT_PARAMS[key]
                self.model.set_param(param, settings[key])
                self.model.options = dataclasses.replace(self.model.options,
                                                         **{field: settings[key]})
            if changed:
                self.updates += 1
        else:
            self.model = self.cls(self.inputs, self.outcomes, options=plan_options(cfg))
            self.builds += 1
        self.settings = settings
        return with_market_prices(self.model.solve())


def solve_chain(
    jobs: list[tuple[int, StudyConfig]],
    inputs: Any,
    outcomes: xr.Dataset,
    store: str | None,
    persistent: bool = True,
    skip: frozenset[int] | set[int] = frozenset(),
    shared_name: str | None = None,
    on_variant: Callable[[int], None] | None = None,
) -> list[tuple[int, xr.Dataset | None]]:
    """Plan, finance and assemble the variants of one Monte Carlo group.

    Variants sharing a :func:`plan_key` share one solve; the siting model is built once and
    re-solved for each new set of optimizer options. With ``store`` each variant is written
    there as soon as it is finished (and None is returned in its place).

    Parameters
    ----------
    jobs : list of (int, StudyConfig)
        *Every* variant (index, config) of the group, in sweep order; all must share one
        Monte Carlo (:func:`gridcap.pipeline.monte_carlo_fingerprint`).
    inputs : StudyInputs
        Inputs of the group (finance terms are replaced per variant).
    outcomes : xarray.Dataset
        The group's Monte Carlo outcomes.
    store : str, optional
        Variant checkpoint store.
    persistent : bool
        Re-solve one persistent model (when the optimizer provides one) instead of building
        a model per plan.
    skip : set of int
        Variants already finished (resume): not financed or written again.
    shared_name : str, optional
        With ``store``: write the part shared by the group's variants (inputs tables and
        Monte Carlo outcomes, see :func:`split_shared`) once, as this group, before the first
        variant; each variant group then holds only its own variables.
    on_variant : callable, optional
        Called with each variant's index as soon as it is finished (progress bars).

    Returns
    -------
    list of (int, xarray.Dataset or None)
        The variants computed (not those in ``skip``).

    Notes
    -----
    A warm-started re-solve can differ from a cold solve in the last bits of floating point
    (≈1e-13 relative here: HiGHS follows another pivot path). To keep a resumed or Dask run
    *bit-identical* to an uninterrupted one, the chain always replays the same sequence of
    solves: plans of finished variants are re-solved (cheap, and only up to the last plan
    with unfinished variants) so the persistent model reaches every later plan from the same
    state.
    """
    from gridcap import pipeline
    from gridcap.pipeline import StageTimes, assemble_results, finance_stage, finance_terms

    chain_stage = getattr(pipeline, "chain_stage", None)
    chain = PlanChain(inputs, outcomes, persistent=persistent)
    out: list[tuple[int, xr.Dataset | None]] = []
    by_plan: dict[str, list[tuple[int, StudyConfig]]] = {}
    for index, vcfg in jobs:
        by_plan.setdefault(plan_key(vcfg), []).append((index, vcfg))
    groups = list(by_plan.values())
    needed = [k for k, g in enumerate(groups) if any(i not in skip for i, _ in g)]
    if not needed:
        return out
    for group in groups[: needed[-1] + 1]:
        times = StageTimes()
        plan_ds = times.timed("plan", partial(chain.solve, group[0][1]))
        for index, vcfg in group:
            if index in skip:
                continue
            vin = dataclasses.replace(inputs, finance=finance_terms(vcfg))
            vtimes = StageTimes(dict(times.seconds))
            fin = vtimes.timed("finance", partial(finance_stage, vcfg, vin, plan_ds, outcomes))
            if chain_stage is None:
                result = assemble_results(vcfg, vin, outcomes, plan_ds, fin, vtimes)
            else:  # the kWh → GPU-hour → token → cash trace of run_study
                trace = vtimes.timed("chain", partial(chain_stage, vcfg, vin, outcomes, plan_ds,
                                                      fin))
                result = assemble_results(vcfg, vin, outcomes, plan_ds, fin, vtimes, trace)
            if store is not None:
                shared, own = split_shared(result)
                if shared_name is not None:
                    write_group(store, shared_name, shared)
                    shared_name = None
                write_group(store, variant_name(index), own)
                out.append((index, None))
            else:
                out.append((index, result))
            if on_variant is not None:
                on_variant(index)
    return out


def variant_name(index: int) -> str:
    """Checkpoint group name of variant ``index``."""
    return f"variant_{index:05d}"


# --------------------------------------------------------------------------- sweep


# Results variables identical for every variant of one Monte Carlo group (stored once per group).
SHARED_PREFIXES = ("mc__", "fleet__", "sites__", "regions__", "technologies__")


def split_shared(result: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """Split one variant's results into (inputs + Monte Carlo part, the variant's own part).

    The first part depends only on the Monte Carlo group (names starting with
    :data:`SHARED_PREFIXES`); ``finance__*`` terms, plan and finance results are the
    variant's own.
    """
    names = [v for v in result.data_vars if str(v).startswith(SHARED_PREFIXES)]
    return result[names], result.drop_vars(names)


def shared_name(key: str) -> str:
    """Checkpoint group name of the shared part of Monte Carlo group ``key``."""
    return f"shared_{key}"


def _stack(parts: list[xr.Dataset]) -> xr.Dataset:
    if len({id(p) for p in parts}) == 1:
        return parts[0]
    return xr.concat(parts, dim="variant", data_vars="different", coords="different",
                     compat="equals", join="outer", combine_attrs="drop")


def combine_variants(
    parts: list[xr.Dataset], overrides: list[dict[str, Any]], params: Mapping[str, Sequence[Any]]
) -> xr.Dataset:
    """Stack variant results along a new ``variant`` dimension.

    Variables equal in every variant are kept once; the others gain ``variant``. Each swept
    key becomes a coordinate on ``variant`` (named by its dotted key), and ``variant_config``
    holds each variant's overrides as JSON.
    """
    combined = _stack([p.drop_attrs(deep=False) for p in parts])
    coords: dict[str, Any] = {"variant": np.arange(len(parts))}
    for dotted in params:
        coords[dotted] = ("variant", np.asarray([o[dotted] for o in overrides]),
                          {"long_name": f"swept config key {dotted}"})
    combined = combined.assign_coords(coords)
    combined["variant_config"] = ("variant", np.asarray([json.dumps(o) for o in overrides]),
                                  {"long_name": "config overrides of each variant (JSON)"})
    return combined


def sweep(
    cfg: StudyConfig,
    params: Mapping[str, Sequence[Any]],
    out_dir: str | Path,
    *,
    resume: bool = False,
    client: Any = None,
    progress: Progress | None = None,
) -> xr.Dataset:
    """Run every variant of a parameter grid; results with a ``variant`` dimension.

    Parameters
    ----------
    cfg : StudyConfig
        The base study.
    params : mapping of str to list
        Dotted config keys to the values to sweep; variants are their cartesian product,
        keys in schema order (:func:`canonical_params`; the first varies slowest), so the
        order the keys are given in does not change the numbering.
    out_dir : str or Path
        Output directory: ``variants.zarr`` (one checkpoint group per variant, plus one
        ``shared_<key>`` group per Monte Carlo group holding inputs and outcomes),
        ``montecarlo/`` (scenario-batch checkpoints) and ``results.nc`` (combined), committed
        with the manifest ``gridcap-outputs.json`` (:func:`gridcap.io.output_folder`; the
        folder is locked while the sweep runs).
    resume : bool
        Reuse verified checkpoints from an earlier, interrupted sweep of the same grid.
    client : dask.distributed.Client, optional
        Shard scenario batches and solve chains over this cluster.
    progress : callable, optional
        ``progress(stage, done, total)``: stages ``"sweep"`` (variants) and ``"monte carlo"``.

    Returns
    -------
    xarray.Dataset
        Combined results (see :func:`combine_variants`); ``attrs["sweep"]`` holds the grid.

    Raises
    ------
    ConfigError
        If a key is unknown or a variant's config is invalid (all checked before any work).
    CheckpointError
        If ``resume`` is set and ``out_dir`` holds a different sweep.
    """
    from gridcap.io import output_folder, write_netcdf

    params = canonical_params(params)
    overrides = variants(cfg, params)
    cfgs = [cfg.with_overrides(o) for o in overrides]
    with output_folder(out_dir, SWEEP_OUTPUTS, skip=(VARIANT_STORE, MC_DIR)) as staged:
        results = _sweep(cfg, params, overrides, cfgs, Path(out_dir), resume=resume,
                         client=client, progress=progress or _no_progress)
        write_netcdf(results, staged.path(RESULTS))
        staged.commit({"command": "sweep", "study": cfg.study.name})
    return results


# Entries of a sweep's output folder and their kind.
SWEEP_OUTPUTS = {RESULTS: "file", VARIANT_STORE: "dir", MC_DIR: "dir",
                 "gridcap-outputs.json": "file"}


def canonical_params(params: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """The sweep grid with its keys in schema order (``gridcap validate --schema``).

    Variant numbers follow the key order (first key varies slowest), so putting the keys in
    one canonical order makes ``--param A --param B`` and ``--param B --param A`` the same
    sweep, numbered the same way: a resume with the flags in another order reuses the right
    checkpoints. Unknown keys keep their place after the known ones (``variants`` reports
    them). The order of each key's values is kept (it is part of the sweep definition).
    """
    order = {key: i for i, key in enumerate(all_keys())}
    keys = sorted(params, key=lambda k: (order.get(k, len(order)), list(params).index(k)))
    return {k: list(params[k]) for k in keys}


def sweep_definition(
    cfg: StudyConfig, params: Mapping[str, Sequence[Any]], cfgs: Sequence[StudyConfig]
) -> dict[str, Any]:
    """What a sweep's variant store is for: compared key by key, and *in order*, on resume.

    The grid is stored as a list of ``[key, values]`` pairs because variant numbering
    depends on the order of keys and values; the SHA-256 of every input file of every
    variant is included so a dataset edited between a run and ``--resume`` is detected.
    """
    from gridcap.pipeline import input_digests

    digests = sorted({json.dumps(input_digests(c), sort_keys=True) for c in cfgs})
    return {
        "base_config": cfg.to_dict(),
        "params": json.loads(json.dumps([[k, list(v)] for k, v in params.items()],
                                        default=str)),
        "inputs_sha256": [json.loads(d) for d in digests],
    }


def _finished(
    store: Path, groups: Mapping[str, list[tuple[int, StudyConfig]]]
) -> tuple[dict[int, xr.Dataset], dict[str, xr.Dataset]]:
    """Verified variants and shared parts already in a sweep's store (resume)."""
    done: dict[int, xr.Dataset] = {}
    shared: dict[str, xr.Dataset] = {}
    for key, jobs in groups.items():
        ds, _reason = read_group(store, shared_name(key))
        if ds is None:  # without its shared part a group is redone as a whole
            continue
        shared[key] = ds
        for i, _ in jobs:
            ds, _reason = read_group(store, variant_name(i))
            if ds is not None:
                done[i] = ds
    return done, shared


def _sweep(
    cfg: StudyConfig,
    params: Mapping[str, Sequence[Any]],
    overrides: list[dict[str, Any]],
    cfgs: list[StudyConfig],
    out: Path,
    *,
    resume: bool,
    client: Any,
    progress: Progress,
) -> xr.Dataset:
    """The body of :func:`sweep` inside its locked output folder."""
    groups = _mc_groups(cfgs)
    checked = _check_groups(groups, cfgs)
    store = open_store(out / VARIANT_STORE, sweep_definition(cfg, params, cfgs),
                       resume=resume, prefix=("variant_", "shared_"))
    done, shared = _finished(store, groups) if resume else ({}, {})
    found = _Collected(store, done, shared, total=len(cfgs), progress=progress)
    progress("sweep", len(done), len(cfgs))
    _run_groups(groups, checked, found, out, resume=resume, client=client, progress=progress)
    return _sweep_results(cfg, params, overrides, groups, found)


def _mc_groups(cfgs: Sequence[StudyConfig]) -> dict[str, list[tuple[int, StudyConfig]]]:
    """The sweep's variants ``(index, config)`` grouped by the Monte Carlo they share.

    Keys are :func:`gridcap.pipeline.monte_carlo_fingerprint`; groups and the variants in
    each keep sweep order.
    """
    from gridcap.pipeline import monte_carlo_fingerprint

    groups: dict[str, list[tuple[int, StudyConfig]]] = {}
    for i, vcfg in enumerate(cfgs):
        groups.setdefault(monte_carlo_fingerprint(vcfg), []).append((i, vcfg))
    return groups


def _check_groups(groups: Mapping[str, list[tuple[int, StudyConfig]]],
                  cfgs: Sequence[StudyConfig]) -> dict[str, Any]:
    """Every input check of every group before any work: the groups' checked inputs.

    A sweep never fails half-way for an input reason (a variant may point ``datasets.*`` at
    another file): each group's inputs go through :func:`gridcap.pipeline.check_study` and
    every variant's planner options are built (they check themselves).
    """
    from gridcap.pipeline import check_study

    checked = {key: check_study(jobs[0][1]) for key, jobs in groups.items()}
    for vcfg in cfgs:
        vcfg.plan_options()
    return checked


class _Collected:
    """Finished variants and shared group parts of a sweep, read back from its store.

    Parameters
    ----------
    store : Path
        The sweep's variant store.
    done : dict of int to xarray.Dataset
        Variants already finished (resume), by index; filled in as variants finish.
    shared : dict of str to xarray.Dataset
        Shared parts (inputs, outcomes) already written, by group key; filled in likewise.
    total : int
        Variants in the sweep [1].
    progress : callable
        Told ``("sweep", finished, total)`` after each newly finished variant.
    """

    def __init__(self, store: Path, done: dict[int, xr.Dataset], shared: dict[str, xr.Dataset],
                 *, total: int, progress: Progress) -> None:
        self.store = store
        self.done = done
        self.shared = shared
        self.total = total
        self.progress = progress

    def load(self, name: str) -> xr.Dataset:
        """Group ``name`` just written to the store, verified."""
        ds, reason = read_group(self.store, name)
        if ds is None:
            raise RuntimeError(f"{name} was just written to {self.store} but cannot be read "
                               f"back intact: {reason}")
        return ds

    def collect(self, key: str, computed: list[tuple[int, Any]]) -> None:
        """Read back group ``key``'s shared part and its variants ``computed`` (index, _)."""
        if key not in self.shared:
            self.shared[key] = self.load(shared_name(key))
        for index, _ in computed:
            if index not in self.done:
                self.done[index] = self.load(variant_name(index))
                self.progress("sweep", len(self.done), self.total)

    def on_variant(self, key: str) -> Callable[[int], None]:
        """A callback that collects one finished variant of group ``key`` (by index)."""
        def on_variant(index: int) -> None:
            self.collect(key, [(index, None)])

        return on_variant


def _run_groups(
    groups: Mapping[str, list[tuple[int, StudyConfig]]],
    checked: Mapping[str, Any],
    found: _Collected,
    out: Path,
    *,
    resume: bool,
    client: Any,
    progress: Progress,
) -> None:
    """Simulate each unfinished group once and solve its variants' chains (here or on Dask).

    Parameters
    ----------
    groups : dict
        Variants by Monte Carlo group (:func:`_mc_groups`).
    checked : dict
        Each group's checked inputs (:func:`_check_groups`).
    found : _Collected
        What is finished; collects what this call finishes.
    out : Path
        The sweep's output folder (Monte Carlo checkpoints under ``montecarlo/``).
    resume : bool
        Reuse verified Monte Carlo batches.
    client : dask.distributed.Client, optional
        Solve each group's chain as one task on this cluster.
    progress : callable
        Progress callback (Monte Carlo batches and variants).
    """
    from gridcap.pipeline import simulate_stage

    futures = {}
    skip = frozenset(found.done)
    store = str(found.store)
    for key, jobs in groups.items():
        if all(i in skip for i, _ in jobs):
            continue
        inputs = checked[key]
        outcomes = simulate_stage(jobs[0][1], inputs, progress,
                                  store=out / MC_DIR / f"mc_{key}.zarr", resume=resume,
                                  client=client)
        write_shared = None if key in found.shared else shared_name(key)
        if client is None:
            found.collect(key, solve_chain(jobs, inputs, outcomes, store, skip=skip,
                                           shared_name=write_shared,
                                           on_variant=found.on_variant(key)))
        else:
            fut = client.submit(solve_chain, jobs, inputs, outcomes, store, skip=skip,
                                shared_name=write_shared, pure=False)
            futures[fut.key] = (key, fut)
    if futures:
        from distributed import as_completed

        for fut in as_completed([f for _, f in futures.values()]):
            found.collect(futures[fut.key][0], fut.result())


def _sweep_results(
    cfg: StudyConfig,
    params: Mapping[str, Sequence[Any]],
    overrides: list[dict[str, Any]],
    groups: Mapping[str, list[tuple[int, StudyConfig]]],
    found: _Collected,
) -> xr.Dataset:
    """Every variant's own results beside its group's shared parts, on dim ``variant``.

    Returns
    -------
    xarray.Dataset
        See :func:`sweep`; attrs name the study, its config and the grid (``sweep``, JSON).
    """
    n = len(overrides)
    group_of = {i: key for key, jobs in groups.items() for i, _ in jobs}
    own = combine_variants([found.done[i] for i in range(n)], overrides, params)
    common = _stack([found.shared[group_of[i]].drop_attrs(deep=False) for i in range(n)])
    results = xr.merge([common, own], compat="override", join="outer", combine_attrs="drop")
    results.attrs.update({
        "title": f"gridcap sweep: {cfg.study.name}",
        "study": cfg.study.name,
        "config": json.dumps(cfg.to_dict()),
        "config_source": cfg.source,
        "sweep": json.dumps({k: list(v) for k, v in params.items()}, default=str),
        "gridcap_version": _version(),
    })
    return results


def _version() -> str:
    import gridcap

    return str(gridcap.__version__)


# --------------------------------------------------------------------------- CLI


def summary_table(results: xr.Dataset) -> Any:
    """A rich table: one row per variant with its swept values and headline metrics."""
    from rich.table import Table

    from gridcap.terminal import display

    grid = json.loads(results.attrs.get("sweep", "{}"))
    table = Table(title=f"sweep of {display(results.attrs.get('study', 'study'))}: "
                        f"{results.sizes.get('variant', 0)} variants")
    table.add_column("variant", justify="right")
    for key in grid:
        table.add_column(key.split(".", 1)[-1], justify="right", no_wrap=True)
    metrics = [
        ("expected_cost_usd", "expected cost [$bn]", 1e-9),
        ("cvar_cost_usd", "CVaR cost [$bn]", 1e-9),
        ("unserved_ai_mw", "unserved AI, last year [MW]", 1.0),
        ("tranche_size_usd", "debt [$M]", 1e-6),
    ]
    shown = [m for m in metrics if m[0] in results]
    for _name, label, _scale in shown:
        table.add_column(label, justify="right")
    for v in range(results.sizes.get("variant", 0)):
        row = [str(v)] + [f"{results[k].values[v]}" for k in grid]
        for name, _label, scale in shown:
            da = results[name]
            da = da.isel(variant=v) if "variant" in da.dims else da
            if name == "unserved_ai_mw" and "year" in da.dims:
                da = da.isel(year=-1)
            if name == "tranche_size_usd" and "tranche" in da.dims:
                da = da.sel(tranche=[t for t in da["tranche"].values.tolist() if t != "equity"])
            row.append(f"{float(da.sum(skipna=True)) * scale:,.2f}")
        table.add_row(*row)
    return table


def cmd_sweep(args: argparse.Namespace) -> int:
    """``gridcap sweep STUDY --param KEY=V1,V2 ... --out DIR``."""
    from gridcap.terminal import RichProgress, console, dask_from_args, display, load_study, stdout

    params: dict[str, list[Any]] = {}
    for text in args.param:
        key, values = parse_param(text)
        if key in params:
            raise ConfigError(f"--param {text}", [f"{key}: given twice; list all values in one "
                                                  "--param"])
        params[key] = values
    cfg = load_study(args)
    n = int(np.prod([len(v) for v in params.values()]))
    console.print(f"[bold]gridcap sweep[/] [cyan]{display(cfg.study.name)}[/]: {n} variants "
                  f"over {', '.join(params)} → {display(args.out, 4096)}")
    with RichProgress(enabled=not args.quiet) as progress, dask_from_args(args) as client:
        results = sweep(cfg, params, args.out, resume=args.resume, client=client,
                        progress=progress)
    stdout.print(summary_table(results))
    stdout.print(f"results written to [green]{display(Path(args.out) / RESULTS, 4096)}[/]")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sweep`` to the ``gridcap`` CLI (``subparsers`` from ``add_subparsers``)."""
    from gridcap.terminal import add_dask_flags, add_study_flags

    parser = subparsers.add_parser(
        "sweep", help="run a grid of study variants (checkpointed, resumable, Dask-ready)",
        description="Run the cartesian product of --param values; results in DIR/results.nc "
        "with a 'variant' dimension. Finished variants are checkpointed in DIR/variants.zarr, "
        "so --resume after an interruption computes only what is missing.",
    )
    add_study_flags(parser)
    parser.add_argument("--param", action="append", required=True, metavar="KEY=V1,V2,...",
                        help="dotted config key and the values to sweep (repeatable), e.g. "
                        "optimizer.cvar_lambda=0.1,0.5,1")
    parser.add_argument("--out", default="gridcap-sweep", metavar="DIR",
                        help="output directory (default: ./gridcap-sweep)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse finished variants and Monte Carlo batches in DIR")
    add_dask_flags(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=cmd_sweep)
    return parser
