"""The documentation site builds from the numpydoc docstrings, and the tutorial notebook runs.

Both need the ``docs`` extra (``pip install -e .[docs]``; ``.[dev]`` includes it, so CI runs
them); without it they skip, saying so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _api_entries() -> list[str]:
    """The dotted names listed in docs/api.rst's autosummary blocks."""
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    return re.findall(r"^   (gridcap\.[\w.]+)$", text, flags=re.M)


def test_docs_site_builds_without_warnings(tmp_path: Path):
    """``sphinx-build -W``: a docstring that does not parse, a broken cross-reference or a
    page missing from the table of contents fails the build; every API entry gets a page with
    its numpydoc sections."""
    pytest.importorskip("sphinx", reason="docs extra not installed (pip install -e .[docs])")
    pytest.importorskip("numpydoc", reason="docs extra not installed")
    pytest.importorskip("myst_parser", reason="docs extra not installed")
    html = tmp_path / "html"
    res = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(html)],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    entries = _api_entries()
    assert "gridcap.kernels.simulate" in entries and "gridcap.optimizer.plan" in entries
    for name in entries:
        assert (html / "generated" / f"{name}.html").is_file(), name
    page = (html / "generated" / "gridcap.kernels.simulate.html").read_text(encoding="utf-8")
    for section in ("Parameters", "Returns", "Raises", "Examples"):
        assert section in page, section
    # the parameter tables (one owner per default) with unit and source, from the code
    params = (html / "generated" / "parameters.html").read_text(encoding="utf-8")
    from gridcap.optimizer import PlanOptions
    from gridcap.params import param_table

    row = next(p for p in param_table(PlanOptions) if p.name == "flex_cost_usd_per_kw_yr")
    assert row.name in params and row.unit.replace("$", "") in params
    assert row.source and row.source.split()[0] in params
    for md_page in ("data-model", "capacity-prices", "tutorial", "benchmarks", "your-own-data"):
        assert (html / f"{md_page}.html").is_file(), md_page
    assert (html / "_downloads").is_dir()  # the notebook is offered for download


def test_tutorial_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Every cell of docs/tutorial.ipynb runs on a fresh kernel, draws its two figures and
    sizes a senior tranche."""
    nbformat = pytest.importorskip("nbformat", reason="docs extra not installed")
    nbclient = pytest.importorskip("nbclient", reason="docs extra not installed")
    pytest.importorskip("ipykernel", reason="docs extra not installed")
    # the kernel uses its inline backend (figures as PNG outputs), not the test run's Agg
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", os.environ.get("NUMBA_CACHE_DIR", str(tmp_path)))
    nb = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit the tutorial without outputs"
    )
    client = nbclient.NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 2
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    cost = float(re.search(r"expected system cost: ([\d.]+) B\$", text).group(1))
    cvar = float(re.search(r"CVaR of the cost: +([\d.]+) B\$", text).group(1))
    assert 0 < cost <= cvar  # the CVaR of a cost is never below its mean
    senior = re.search(r"senior +([\d,]+) M\$", text)
    assert senior and int(senior.group(1).replace(",", "")) > 0  # a real capital stack
