"""The import graph: layers only import downwards, no cycles, the CLI in one place.

Layers, lowest first (read from the source with ``ast``, every import including the ones
inside functions and under ``TYPE_CHECKING``):

1. foundation — ``gridcap`` (package), ``gridcap._lazy``, ``errors``, ``params``, ``io``,
   ``schema``, ``elementwise``: imported by everyone, import only each other;
2. domain — ``gridcap.datasets`` and ``gridcap.kernels`` (peers: the Monte Carlo reads solar
   data, the deals table builds site contracts), then ``gridcap.optimizer``, which neither
   of them imports;
3. application — ``gridcap.config``, ``pipeline``, ``checkpoint``, ``batch``, ``summary``,
   ``report``, ``headroom``, ``terminal``, ``gridcap.benchmarks`` and, on top, ``gridcap.cli`` /
   ``gridcap.__main__``, which no other module imports.

Module-level imports (those that run when a module is imported) form no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: folder -> import name (pyproject's package-dir)
PACKAGES = {
    "gridcap": "gridcap",
    "kernels": "gridcap.kernels",
    "optimizer": "gridcap.optimizer",
    "datasets": "gridcap.datasets",
    "benchmarks": "gridcap.benchmarks",
}
FOUNDATION = {"gridcap", "gridcap._lazy", "gridcap.errors", "gridcap.params", "gridcap.io",
              "gridcap.schema", "gridcap.elementwise"}
#: domain package -> rank (a package may import packages of its rank or lower)
DOMAIN_RANK = {"gridcap.datasets": 0, "gridcap.kernels": 0, "gridcap.optimizer": 1}
CLI = {"gridcap.cli", "gridcap.__main__"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = [PACKAGES[rel.parts[0]], *rel.parts[1:]]
    parts[-1] = parts[-1].removesuffix(".py")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The gridcap module an imported dotted name refers to (longest known prefix)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported gridcap module, line, at module level) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                out.append((target, node.lineno, id(node) in top))
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _layer(module: str) -> tuple[int, int]:
    if module in FOUNDATION:
        return (0, 0)
    for pkg, rank in DOMAIN_RANK.items():
        if module == pkg or module.startswith(pkg + "."):
            return (1, rank)
    if module in CLI:
        return (3, 0)
    return (2, 0)


def test_the_scan_sees_the_packages():
    assert {"gridcap.config", "gridcap.kernels.simulate", "gridcap.optimizer.planning.siting",
            "gridcap.optimizer.financing.project", "gridcap.datasets.loaders"} <= MODULES.keys()
    assert any(t == "gridcap.errors" for t, _, _ in GRAPH["gridcap.kernels.simulate"])


def test_no_module_imports_upwards():
    upward: list[str] = []
    for module, imports in GRAPH.items():
        mine = _layer(module)
        for target, line, _ in imports:
            theirs = _layer(target)
            if theirs[0] > mine[0] or (theirs[0] == mine[0] == 1 and theirs[1] > mine[1]):
                upward.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target}")
    upward = sorted(set(upward))
    assert upward == [], "upward imports:\n" + "\n".join(upward)


def test_the_cli_is_imported_by_nothing_but_the_entry_point():
    users = sorted({f"{MODULES[m].relative_to(ROOT)}:{line}" for m, imports in GRAPH.items()
                    for target, line, _ in imports if target == "gridcap.cli" and m not in CLI})
    assert users == [], "library modules import the CLI:\n" + "\n".join(users)


def _cycle() -> list[str] | None:
    edges = {m: sorted({t for t, _, top in imports if top}) for m, imports in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in edges:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycles_at_module_level():
    cycle = _cycle()
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


@pytest.mark.parametrize("probe", ["gridcap.kernels.sites", "gridcap.optimizer.chain.trace"])
def test_the_two_domain_modules_that_read_the_config_no_longer_do(probe):
    assert all(t != "gridcap.config" for t, _, _ in GRAPH[probe])
