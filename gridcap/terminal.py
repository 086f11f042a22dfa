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

# Longest user-given text (study name, path) echoed to the terminal [characters]: a 1 MB name
# must not stall the console, which lays text out in time that grows with its length.
DISPLAY_LIMIT = 200
# Longest error message printed, and longest line in it [characters].
MESSAGE_LIMIT, MESSAGE_LINE_LIMIT = 20_000, 2_000


def _neutralise(text: str) -> str:
    """Replace control and format characters (terminal escapes, bidi overrides) by visible
    ``\\xNN``/``\\uNNNN`` escapes; newlines and tabs are kept."""
    import unicodedata

    out = []
    for ch in text:
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"):
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1])
    return "".join(out)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def display(text: object, limit: int = DISPLAY_LIMIT) -> str:
    """User-given text made safe to embed in Rich markup: truncated to ``limit`` characters,
    control characters neutralised, markup brackets escaped."""
    from rich.markup import escape

    return escape(_neutralise(_truncate(str(text), limit)).replace("\n", " "))


def plain_message(text: str) -> str:
    """An error message made safe to print without markup: control characters neutralised,
    each line and the whole capped (see :data:`MESSAGE_LIMIT`)."""
    lines = [_truncate(line, MESSAGE_LINE_LIMIT) for line in str(text).splitlines()]
    return _neutralise(_truncate("\n".join(lines), MESSAGE_LIMIT))


def add_dask_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers N`` / ``--dask ADDRESS`` and the TLS flags (run and sweep)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--workers", type=positive_int, metavar="N",
                       help="run scenario batches on a local Dask cluster of N worker processes")
    group.add_argument(
        "--dask", metavar="ADDRESS",
        help="run on an existing dask.distributed scheduler (tcp://HOST:PORT or tls://...). "
        "Without TLS the connection is neither encrypted nor authenticated (Dask's default): "
        "use it on a trusted network only, or give the --dask-tls-* files (or set Dask's "
        "distributed.comm.tls config)",
    )
    parser.add_argument("--dask-tls-ca", metavar="PEM",
                        help="CA certificate for TLS to the --dask scheduler")
    parser.add_argument("--dask-tls-cert", metavar="PEM",
                        help="client certificate for TLS to the --dask scheduler")
    parser.add_argument("--dask-tls-key", metavar="PEM",
                        help="client private key for TLS (if not inside --dask-tls-cert)")


def dask_from_args(args: argparse.Namespace) -> Any:
    """A context giving the Dask client the flags ask for, or None (no Dask flags).

    Every flag is checked before any connection or work: the address's form, the TLS files,
    and that TLS files come with ``--dask``.
    """
    import contextlib

    from gridcap.batch import check_dask_address, dask_client, dask_security
    from gridcap.errors import GridcapInputError

    security = dask_security(getattr(args, "dask_tls_ca", None),
                             getattr(args, "dask_tls_cert", None),
                             getattr(args, "dask_tls_key", None))
    address = getattr(args, "dask", None)
    workers = getattr(args, "workers", None)
    if security is not None and not address:
        raise GridcapInputError("--dask-tls-ca/--dask-tls-cert/--dask-tls-key apply to a remote "
                                "scheduler: expected --dask tls://HOST:PORT with them")
    if address is not None:
        check_dask_address(address)
    if not address and not workers:
        return contextlib.nullcontext(None)
    return dask_client(address=address, workers=workers, security=security)


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
