"""Error types shared by every stage.

Errors are for people: each names the input, the offending value and what was expected.
``GridcapInputError`` (and its subclasses) map to CLI exit code 2; anything else is an
internal failure (exit code 1).
"""

from __future__ import annotations


class GridcapInputError(ValueError):
    """Bad input from a config file, dataset, CLI flag or API argument (CLI exit code 2)."""


class ProblemsError(GridcapInputError):
    """Bad input with several problems; ``problems`` lists every one, one sentence each."""

    def __init__(self, what: str, problems: list[str]):
        self.what = what
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{what}: {len(self.problems)} problem(s) found:\n{lines}")


class SchemaError(ProblemsError):
    """A dataset breaks its schema (``what`` is the table name)."""


class ConfigError(ProblemsError):
    """A study config breaks its schema (``what`` is the file or source)."""

    @property
    def source(self) -> str:
        """Where the config came from."""
        return self.what


class ModelInfeasibleError(GridcapInputError):
    """The optimization model is infeasible or unbounded for these inputs.

    The message names the constraint families and inputs involved.
    """


class BackendUnavailableError(GridcapInputError):
    """A compute backend was requested that is not available here; the message says why."""


class DecompositionUnavailableError(GridcapInputError):
    """The scenario decomposition (mpi-sppy over MPI) was asked for but cannot run here; the
    message says what is missing and that ``decomposition = "extensive"`` needs nothing more."""


class OutputError(GridcapInputError):
    """The output folder cannot be used or written (a file, read-only, full, locked by another
    run, or holding an incomplete output set); results written before are left intact."""
