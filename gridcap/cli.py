"""Command-line interface: ``gridcap run | validate | info | sweep | report | bench``.

Exit codes: 0 success, 2 bad input (config, dataset, flag or infeasible study), 1 internal
failure. Errors are printed in plain words, never as a bare traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

import gridcap
from gridcap.errors import GridcapInputError
from gridcap.terminal import (  # re-exported: the names subcommands used to import from here
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    RichProgress,
    add_dask_flags,
    add_study_flags,
    console,
    dask_from_args,
    display,
    int_at_least,
    load_study,
    mpi_launch,
    nonneg_int,
    plain_message,
    positive_int,
    stdout,
    study_overrides,  # noqa: F401 - re-exported
)

_int_at_least, _positive_int, _nonneg_int = int_at_least, positive_int, nonneg_int


# --------------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    """``gridcap run STUDY``: the whole pipeline, results to ``OUT/results.nc``."""
    from gridcap.pipeline import run_study
    from gridcap.summary import summary_tables

    cfg = load_study(args)
    out = Path(args.out)
    console.print(
        f"[bold]gridcap {gridcap.__version__}[/] study [cyan]{display(cfg.study.name)}[/] "
        f"({cfg.monte_carlo.scenarios} scenarios, backend {cfg.study.backend})"
    )
    with RichProgress(enabled=not args.quiet) as progress:
        kwargs: dict[str, Any] = {}
        if args.resume:
            kwargs["resume"] = True
        with dask_from_args(args) as client:
            results = run_study(cfg, out_dir=out, progress=progress, client=client, **kwargs)
    for table in summary_tables(results):
        stdout.print(table)
    stdout.print(f"results written to [green]{display(out / 'results.nc', 4096)}[/]")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """``gridcap validate STUDY``: check the config and every input table it names."""
    from gridcap.config import load_config, schema_markdown
    from gridcap.pipeline import check_study

    if args.schema:
        stdout.print(schema_markdown(), markup=False)
        return EXIT_OK
    if not args.study:
        raise GridcapInputError("validate: STUDY is required (or pass --schema)")
    cfg = load_config(args.study)
    inputs = check_study(cfg)
    stdout.print(
        f"[green]OK[/] {display(cfg.source, 4096)}: {len(cfg.study.regions)} regions, "
        f"{inputs.fleet.sizes.get('der', 0)} DERs, {inputs.sites.sizes.get('site', 0)} sites, "
        f"{inputs.technologies.sizes.get('tech', 0)} technologies, years "
        f"{cfg.years[0]}–{cfg.years[-1]}"
    )
    return EXIT_OK


def _version(module: str) -> str:
    try:
        mod = importlib.import_module(module)
    except ImportError as err:
        return f"not installed ({err})"
    return str(getattr(mod, "__version__", getattr(mod, "version", "unknown")))


def cmd_info(args: argparse.Namespace) -> int:
    """``gridcap info``: version, backends (and why some are missing), solver versions."""
    table = Table(title=f"gridcap {gridcap.__version__}")
    table.add_column("component")
    table.add_column("status")
    try:
        from gridcap.kernels import backend_status

        for name, status in backend_status().items():
            ok = status.startswith("available")
            colour = "green" if ok else "red"
            table.add_row(f"backend {name}", f"[{colour}]{escape(status)}[/]")
    except ImportError as err:
        table.add_row("backends", f"[red]unavailable[/] ({err})")
    try:  # the package metadata: constructing a Highs object would print its banner
        from importlib.metadata import version

        highs_version = version("highspy")
    except Exception as err:  # solver missing or broken: report, don't crash
        highs_version = f"unavailable ({err})"
    table.add_row("solver HiGHS (highspy)", highs_version)
    for module in ("pyomo", "numpy", "xarray", "numba", "pvlib", "dask", "cupy"):
        table.add_row(module, _version(module))
    table.add_row("python", sys.version.split()[0])
    stdout.print(table)
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The ``gridcap`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gridcap",
        description="Grid and data-center capacity optimizer: Monte Carlo → siting plan → "
        "financing. Exit codes: 0 ok, 2 bad input, 1 internal failure.",
    )
    parser.add_argument("--version", action="version", version=f"gridcap {gridcap.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run a study end to end and write OUT/results.nc")
    add_study_flags(run)
    run.add_argument(
        "--out",
        default="gridcap-out",
        metavar="DIR",
        help="output directory (default: ./gridcap-out)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="reuse finished Monte Carlo batches from a previous run in DIR",
    )
    add_dask_flags(run)
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser(
        "validate", help="check a study and its inputs, listing every problem"
    )
    validate.add_argument(
        "study", nargs="?", metavar="STUDY", help="TOML path or shipped study name"
    )
    validate.add_argument("--schema", action="store_true", help="print the config schema and exit")
    validate.set_defaults(func=cmd_validate)

    info = sub.add_parser("info", help="version, available backends and solver versions")
    info.set_defaults(func=cmd_info)

    for module in ("gridcap.batch", "gridcap.report", "gridcap.benchmarks.cli", "gridcap.headroom"):
        try:
            importlib.import_module(module).register(sub)
        except ImportError as err:  # optional piece not importable: say so in --help
            if getattr(err, "name", "") and not str(getattr(err, "name", "")).startswith("gridcap"):
                raise
    return parser




def spawn_mpi(argv: Sequence[str], ranks: int) -> int:
    """``--mpi N``: rerun this command as ``mpiexec -n N python -m gridcap ...``."""
    import os
    import shutil
    import subprocess

    local = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(local) if local.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        raise GridcapInputError(
            f"--mpi {ranks}: no mpiexec found (looked for {local} and on PATH); install the "
            "mpi extra (`pip install 'gridcap[mpi]'`: MPICH, mpi4py, mpi-sppy wheels), or drop "
            "--mpi to solve the extensive form on one process")
    rest: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--mpi":
            skip = True
        elif not a.startswith("--mpi="):
            rest.append(a)
    env = dict(os.environ, GRIDCAP_MPI_RANKS=str(ranks))
    cmd = [mpiexec, "-n", str(ranks), sys.executable, "-m", "gridcap", *rest]
    console.print(f"[bold]mpi[/]: {' '.join(cmd)}")
    return subprocess.run(cmd, env=env, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gridcap`` console script; returns the exit code.

    Under ``mpiexec -n N gridcap ...`` (or ``--mpi N``), rank 0 runs the command and the other
    ranks take part in each decomposed plan
    (:func:`gridcap.optimizer.planning.decomposition.serve`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    launch = mpi_launch()
    if launch is not None and launch[1] > 1 and launch[0] != 0:
        from gridcap.optimizer.planning.decomposition import serve

        serve()
        return EXIT_OK
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "mpi", None) and launch is None:
        return spawn_mpi(argv, args.mpi)
    previous = _exit_on_sigterm()
    try:
        return _dispatch(args, launch)
    except GridcapInputError as err:
        console.print("[bold red]error:[/]", end=" ")
        console.print(plain_message(str(err)), markup=False, highlight=False)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: results already written are intact")
        return 130
    except Exception:
        console.print("[bold red]internal error[/] (please report this with the traceback):")
        console.print(plain_message(traceback.format_exc()), markup=False, highlight=False)
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _exit_on_sigterm() -> Any:
    """Turn SIGTERM into KeyboardInterrupt so a terminated run unwinds: its staging folder
    is removed and the output-folder lock released (the previous output set stays)."""
    try:
        return signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread (e.g. called from a worker thread)
        return None


def _dispatch(args: argparse.Namespace, launch: tuple[int, int] | None) -> int:
    """Run the subcommand; rank 0 of an MPI launch releases the waiting ranks at the end."""
    try:
        return int(args.func(args) or EXIT_OK)
    finally:
        if launch is not None and launch[1] > 1:
            from gridcap.optimizer.planning.decomposition import stop_workers

            stop_workers()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
