"""``gridcap bench`` / ``python -m benchmarks``: run the benchmark suite and write its record.

``gridcap bench --quick`` is the seconds-long smoke version CI runs; ``gridcap bench`` the full
suite (under 15 minutes on a 2-core machine); ``--only kernels optimizer`` a subset.
Exit codes: 0 when the record was written (targets that FAIL are in it, not in the exit code,
unless ``--strict``), 1 with ``--strict`` when a section errored, timed out, or a target
failed, 2 for a bad flag.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .suite import RESULTS_DIR, SECTION_NAMES, SECTIONS, resolve_out_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` flags to ``parser`` (shared by ``gridcap bench`` and
    ``python -m benchmarks``)."""
    parser.add_argument(
        "--quick", action="store_true", help="seconds-long smoke version of every section (CI)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTION_NAMES,
        metavar="NAME",
        help=f"run only these sections ({', '.join(SECTION_NAMES)})",
    )
    parser.add_argument(
        "--out",
        default=str(RESULTS_DIR),
        metavar="DIR",
        help="where to write the JSON + Markdown record (default: ./benchmarks/results under "
        "the current folder; never inside the installed package)",
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        metavar="TEXT",
        help="a note to store in the record (repeatable), e.g. that the machine was shared",
    )
    parser.add_argument(
        "--budget",
        type=float,
        metavar="S",
        help="wall-time budget of the whole suite [s] (default 870 full, +1590 with the "
        "largest cases, 120 quick)",
    )
    iso = parser.add_mutually_exclusive_group()
    iso.add_argument(
        "--isolate",
        dest="isolate",
        action="store_true",
        default=None,
        help="run each section in its own child process (default for the full suite)",
    )
    iso.add_argument(
        "--in-process",
        dest="isolate",
        action="store_false",
        help="run the sections in this process (default for --quick)",
    )
    parser.add_argument(
        "--skip-largest",
        action="store_true",
        help="full suite without its largest cases (the 1e6-variable LP, the 10,000-DER "
        "kernel size, the 1,000-scenario memory case), to save minutes",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a section errors or times out, or a target fails",
    )
    parser.add_argument("--list", action="store_true", help="list the sections and exit")


def handler(args: argparse.Namespace) -> int:
    """Run the suite for parsed ``bench`` arguments; return the exit code."""
    from .records import headline_table
    from .suite import run_suite

    if args.list:
        for s in SECTIONS:
            print(f"{s.name:<10} {s.title}")
        return 0
    if args.budget is not None and args.budget <= 0:
        from gridcap.errors import GridcapInputError

        raise GridcapInputError(f"--budget {args.budget}: expected a positive time [s]")
    record = run_suite(
        quick=args.quick,
        only=args.only,
        out_dir=args.out,
        isolate=args.isolate,
        budget_s=args.budget,
        notes=args.note,
        largest=not args.skip_largest,
        echo=lambda line: print(line, flush=True),
    )
    print()
    print(headline_table(record))
    files = record.get("files", {})
    if files:
        out = resolve_out_dir(args.out)
        print(f"\nrecord written: {out / files['json']} and {files['md']}")
    if args.strict:
        bad_sections = [
            n for n, s in record["sections"].items() if s["status"] in ("error", "timed out")
        ]
        failed = [c["id"] for c in record["checks"] if c["status"] == "FAIL"]
        if bad_sections or failed:
            print(f"strict: sections {bad_sections} errored, targets {failed} failed")
            return 1
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` subcommand to the ``gridcap`` CLI's subparsers.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.

    Returns
    -------
    argparse.ArgumentParser
        The ``bench`` parser (its ``func`` default is :func:`handler`).
    """
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmark suite and write a JSON + Markdown record",
        description="Run the gridcap benchmark suite and write a JSON + Markdown record "
        "(machine, figures with units, targets with PASS/FAIL) under --out.",
    )
    add_arguments(parser)
    parser.set_defaults(func=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks [flags]``: the same as ``gridcap bench [flags]``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="gridcap benchmark suite (= gridcap bench)"
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    from gridcap.errors import GridcapInputError

    try:
        return handler(args)
    except GridcapInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
