"""Dependency floors: pin every core dependency to the lowest version pyproject.toml allows.

``python scripts/floors.py`` prints a pip constraints file (``numpy==1.26.0`` …) made from
the ``>=`` bound of each entry of ``[project] dependencies``; ``--check`` compares what is
installed in the running interpreter with those pins and exits 1 on any difference, so the
floors run (scripts/floors.sh) provably tested the floors. Uses only the standard library.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


def floors(path: Path = PYPROJECT) -> dict[str, str]:
    """``{distribution: lowest allowed version}`` of the core dependencies.

    Raises
    ------
    SystemExit
        A dependency without a ``>=`` floor (every core dependency must have one).
    """
    deps = tomllib.loads(path.read_text(encoding="utf-8"))["project"]["dependencies"]
    out: dict[str, str] = {}
    for dep in deps:
        match = _FLOOR.match(dep.split(";")[0])
        low = re.search(r">=\s*([0-9][^,\s]*)", match.group(3)) if match else None
        if not match or not low:
            raise SystemExit(f"pyproject.toml dependency {dep!r}: expected a '>=' floor")
        out[match.group(1)] = low.group(1)
    return out


def _same(installed: str, floor: str) -> bool:
    """``1.26.0`` is the floor ``1.26`` (release numbers compared, trailing zeros ignored)."""
    def release(v: str) -> list[int]:
        parts = [int(p) for p in re.findall(r"\d+", v.split("+")[0])]
        while parts and parts[-1] == 0:
            parts.pop()
        return parts

    return release(installed) == release(floor)


def main(argv: list[str]) -> int:
    pins = floors()
    if "--check" not in argv:
        print("\n".join(f"{name}=={version}" for name, version in pins.items()))
        return 0
    wrong = []
    for name, version in pins.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "missing"
        if not _same(have, version):
            wrong.append(f"{name}: installed {have}, floor {version}")
    print("floors:", ", ".join(f"{n} {v}" for n, v in pins.items()))
    if wrong:
        print("not at the floor:\n  " + "\n  ".join(wrong), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
