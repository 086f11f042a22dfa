"""The terminal side shared by every subcommand: consoles, progress bars, study flags.

The subcommands live with the code they drive (``gridcap.batch`` for ``sweep``,
``gridcap.report`` for ``report``, ``gridcap.headroom`` for ``headroom``) and register with
:mod:`gridcap.cli`, the one entry point; what they share on the terminal is here, so no
library module imports the CLI (``tests/test_architecture.py``).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2

console = Console(stderr=True)
stdout = Console()


def int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``, with a message naming the value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be >= {minimum}")
        return value

    return parse


positive_int = int_at_least(1)
nonneg_int = int_at_least(0)


def study_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Config overrides from the common ``--backend/--scenarios/--seed/--hours/--representative``
    flags."""
    overrides: dict[str, Any] = {}
    if getattr(args, "backend", None):
        overrides["study.backend"] = args.backend
    if getattr(args, "scenarios", None):
        overrides["monte_carlo.scenarios"] = args.scenarios
    if getattr(args, "seed", None) is not None:
        overrides["study.seed"] = args.seed
    if getattr(args, "hours", None) is not None:
        overrides["monte_carlo.hours"] = args.hours
    if getattr(args, "representative", None):
        overrides["monte_carlo.representative"] = args.representative
    return overrides


def add_study_flags(parser: argparse.ArgumentParser) -> None:
    """Add STUDY and the flags that override its config (shared by run and sweep)."""
    from gridcap.config import BACKENDS
    from gridcap.kernels.periods import CONFIG_CHOICES

    parser.add_argument(
        "study",
        metavar="STUDY",
        help="path to a study TOML file, or a shipped study name (e.g. quickstart)",
    )
    parser.add_argument("--backend", choices=BACKENDS, help="Monte Carlo backend (default: config)")
    parser.add_argument(
        "--scenarios",
        type=positive_int,
        metavar="N",
        help="number of Monte Carlo scenarios (default: config)",
    )
    parser.add_argument(
        "--seed", type=nonneg_int, metavar="N", help="master seed (default: config)"
    )
    parser.add_argument(
        "--hours",
        type=positive_int,
        metavar="N",
        help="simulated hours per scenario-year: 8760, or fewer as representative weeks "
        "(a multiple of 168 from 672) or days (a multiple of 24 from 96); checked with the "
        "config (default: config)",
    )
    parser.add_argument(
        "--representative",
        choices=CONFIG_CHOICES,
        help="representative periods when --hours < 8760 (default: config)",
    )
    parser.add_argument(
        "--mpi",
        type=positive_int,
        metavar="N",
        help="solve the plan by scenario decomposition (progressive hedging on mpi-sppy) with "
        "all Monte Carlo scenarios in the model, over N MPI ranks (runs `mpiexec -n N gridcap "
        "...` with the mpiexec of the mpich wheel; needs the mpi extra)",
    )


#: Environment variables that say this process is one rank of an MPI launch (MPICH's hydra,
#: Open MPI) and which rank; ``GRIDCAP_MPI_RANKS`` is set by ``--mpi N``.
_MPI_SIZE_VARS = ("GRIDCAP_MPI_RANKS", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_MPI_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK")


def mpi_launch() -> tuple[int, int] | None:
    """``(rank, size)`` when started by ``mpiexec`` (or ``--mpi``), else ``None``."""
    import os

    size = next((os.environ[v] for v in _MPI_SIZE_VARS if v in os.environ), None)
    if size is None:
        return None
    rank = next((os.environ[v] for v in _MPI_RANK_VARS if v in os.environ), "0")
    return int(rank), int(size)


def load_study(args: argparse.Namespace):
    """Load the study named by ``args.study`` with CLI overrides; scenarios in the model are
    capped at the scenario count so ``--scenarios 4`` works on any study."""
    from gridcap.config import load_config

    cfg = load_config(args.study)
    overrides = study_overrides(args)
    if mpi_launch() is not None:
        # under `--mpi N` / `mpiexec -n N gridcap`: decompose, every scenario in the model
        overrides["optimizer.decomposition"] = "ph"
        overrides["optimizer.scenarios_in_model"] = overrides.get(
            "monte_carlo.scenarios", cfg.monte_carlo.scenarios)
    if "monte_carlo.scenarios" in overrides:
        overrides["optimizer.scenarios_in_model"] = min(
            cfg.optimizer.scenarios_in_model, overrides["monte_carlo.scenarios"]
        )
        overrides["monte_carlo.batch_size"] = min(
            cfg.monte_carlo.batch_size, overrides["monte_carlo.scenarios"]
        )
    return cfg.with_overrides(overrides) if overrides else cfg


class RichProgress:
    """A ``progress(stage, done, total)`` callback drawing rich bars with ETA on stderr."""

    def __init__(self, enabled: bool = True):
        self.progress = Progress(
            TextColumn("[bold]{task.description:<14}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)
