"""Sphinx configuration of the gridcap documentation site.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (``pip install -e .[docs]``).
The API reference is generated from the numpydoc docstrings (``autosummary`` + ``numpydoc``);
the Markdown pages under ``docs/`` are read with ``myst-parser``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import gridcap
from gridcap.params import params_markdown

project = "gridcap"
author = "gridcap developers"
copyright = "gridcap developers, Apache-2.0"
release = version = gridcap.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "dev-notes"]
root_doc = "index"

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types and units
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

intersphinx_mapping: dict[str, tuple[str, None]] = {}
if os.environ.get("GRIDCAP_DOCS_INTERSPHINX"):  # off by default: the build needs no network
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "xarray": ("https://docs.xarray.dev/en/stable", None),
    }

html_theme = "alabaster"
html_title = f"gridcap {release}"
nitpicky = False


#: The documented parameter tables (one owner per default), rendered on the "Parameters" page:
#: (study-config section or "-", dotted path of the options type).
PARAMETER_TABLES = [
    ("[monte_carlo] / [study]", "gridcap.kernels.options.SimulateOptions"),
    ("[compute]", "gridcap.kernels.compute.ComputeAssumptions"),
    ("[optimizer]", "gridcap.optimizer.planning.siting.PlanOptions"),
    ("[flexible_ai]", "gridcap.optimizer.planning.flexible_ai.FlexibleAIOptions"),
    ("[finance]", "gridcap.optimizer.financing.options.ProjectTerms"),
    ("[finance.senior]", "gridcap.optimizer.financing.options.SeniorTerms"),
    ("[finance.mezzanine]", "gridcap.optimizer.financing.options.MezzanineTerms"),
    ("-", "gridcap.optimizer.financing.options.FinanceOptions"),
]


def _write_parameters_page(folder: Path) -> None:
    """Write ``generated/parameters.md`` from the parameter tables (never edited by hand)."""
    parts = [
        "# Parameters and defaults\n",
        "Every default has one owner: the options type below, declared field by field with its "
        "unit, allowed range, meaning and source. The study config's sections are generated "
        "from these tables (`gridcap validate --schema` prints the same). This page is "
        "generated at build time from the code.\n",
    ]
    for section, dotted in PARAMETER_TABLES:
        module, name = dotted.rsplit(".", 1)
        table = getattr(importlib.import_module(module), name)
        where = f" — study config `{section}`" if section != "-" else ""
        parts.append(f"## `{name}`{where}\n\n`{dotted}`\n\n{params_markdown(table)}\n")
    folder.mkdir(exist_ok=True)
    text = "\n".join(parts)
    path = folder / "parameters.md"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


_write_parameters_page(Path(__file__).resolve().parent / "generated")
