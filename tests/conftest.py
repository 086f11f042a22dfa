"""Fixtures shared by several test files (the tiny study of :mod:`fault_support`, the wide
console for one-line error messages)."""

from __future__ import annotations

import pytest
from fault_support import write_study


@pytest.fixture
def wide_console(monkeypatch):
    """Messages on one line each, as a wide terminal shows them (no wrapping mid-word)."""
    import gridcap.cli as cli

    monkeypatch.setattr(cli.console, "width", 100_000)
    monkeypatch.setattr(cli.stdout, "width", 100_000)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """The tiny study (tests/fault_support.py) written once per test module."""
    return write_study(tmp_path_factory.mktemp("study"))
