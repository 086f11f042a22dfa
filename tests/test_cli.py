"""The ``gridcap`` command: help, exit codes (0 ok, 2 bad input, 1 internal), messages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gridcap.cli import EXIT_BAD_INPUT, EXIT_OK, main


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gridcap", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_help_lists_subcommands():
    proc = _run("--help")
    assert proc.returncode == 0
    for command in ("run", "validate", "info"):
        assert command in proc.stdout


def test_run_help_documents_flags():
    proc = _run("run", "--help")
    assert proc.returncode == 0
    for flag in ("--out", "--backend", "--scenarios", "--seed"):
        assert flag in proc.stdout


def test_info_reports_backends_and_solver(capsys):
    assert main(["info"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "HiGHS" in out and "numpy" in out
    assert "backend numpy" in out


def test_bad_flag_value_exits_2():
    proc = _run("run", "quickstart", "--scenarios", "0")
    assert proc.returncode == 2
    assert "must be >= 1" in proc.stderr


def test_unknown_study_exits_2_with_the_shipped_names(capsys):
    assert main(["validate", "nonexistent-study"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "nonexistent-study" in err and "quickstart" in err


def test_validate_broken_study_lists_every_problem(tmp_path, capsys):
    study = tmp_path / "broken.toml"
    study.write_text(
        """
[study]
name = "broken"
start_year = 2026
horizon_years = 3
regions = ["ERCOT"]
backend = "quantum"

[optimizer]
cvar_alpha = 1.7
speed = "fast"

[finance.senior]
rate = -0.05
tenor_years = 41
"""
    )
    assert main(["validate", str(study)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "4 problem(s)" not in err  # five problems, all listed
    for fragment in (
        "study.backend = 'quantum': expected one of",
        "optimizer.cvar_alpha = 1.7: expected a number in [0, 1)",
        "optimizer.speed: unknown key",
        "finance.senior.rate = -0.05",
        "finance.senior.tenor_years = 41",
    ):
        assert fragment in err


def test_validate_schema_prints_every_key(capsys):
    assert main(["validate", "--schema"]) == EXIT_OK
    assert "optimizer.cvar_alpha" in capsys.readouterr().out


def test_validate_shipped_quickstart(capsys):
    assert main(["validate", "quickstart"]) == EXIT_OK
    assert "OK" in capsys.readouterr().out


def test_internal_failure_exits_1(monkeypatch, capsys):
    import gridcap.cli as cli

    def boom(args):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cli, "cmd_info", boom)
    parser = cli.build_parser()
    args = parser.parse_args(["info"])
    args.func = boom
    monkeypatch.setattr(cli.argparse.ArgumentParser, "parse_args", lambda self, argv=None: args)
    assert cli.main(["info"]) == 1
    assert "internal error" in capsys.readouterr().err


@pytest.mark.parametrize(
    "module",
    ["gridcap", "gridcap.kernels", "gridcap.optimizer", "gridcap.datasets", "gridcap.benchmarks"],
)
def test_import_without_gpu(module):
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
