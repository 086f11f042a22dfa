"""Check a wheelhouse for the GPU machine: complete, one version each, right tags, small enough.

Used by ``scripts/gpu-wheels.sh`` (after downloading) and ``scripts/gpu-check.sh`` (before
installing, and in ``--dry-run`` on a CPU machine). Standard library only, so it runs on the
GPU image before anything is installed.

Usage: ``python3 scripts/gpu_wheels.py check WHEELHOUSE [--budget-mib 56]``

Checks
------
* every wheel is for CPython 3.12 (``cp312``/``abi3``/``py3``) and Linux x86-64 (manylinux) or
  pure Python;
* one version per distribution (two stop a ``--no-deps`` install);
* the closure: every ``Requires-Dist`` of every wheel (markers evaluated for CPython 3.12 on
  Linux x86-64, extras skipped) is either another wheel of the wheelhouse or a package the GPU
  image already has (``scripts/gpu-image-packages.txt``, from the workplace's list of the
  image's packages); gridcap's own dependencies (``pyproject.toml``) are checked the same way;
* the total size is under the budget (what travels with the working tree is capped at 64 MiB).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGE_LIST = HERE / "gpu-image-packages.txt"
PYPROJECT = HERE.parent / "pyproject.toml"
#: Marker environment of the GPU image (Python 3.12 on Linux x86-64).
ENV = {
    "python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
    "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
    "implementation_name": "cpython", "platform_python_implementation": "CPython",
    "extra": "",
}


def norm(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def image_packages() -> set[str]:
    """Normalised names of the packages the GPU image already has."""
    lines = IMAGE_LIST.read_text(encoding="utf-8").splitlines()
    return {norm(x.strip()) for x in lines if x.strip() and not x.startswith("#")}


def _marker_true(marker: str) -> bool:
    """Evaluate a PEP 508 marker for :data:`ENV` (``packaging`` when present, else a small
    evaluator good for the markers these wheels use: comparisons joined by and/or)."""
    try:
        from packaging.markers import Marker

        return bool(Marker(marker).evaluate(ENV))
    except ImportError:  # pragma: no cover - the image has packaging; this is a fallback
        pass

    def atom(text: str) -> bool:
        m = re.match(r"\s*(\w+)\s*(==|!=|<=|>=|<|>|in|not in)\s*[\"']([^\"']*)[\"']\s*$", text)
        if not m:
            return True
        key, op, val = m.groups()
        cur = ENV.get(key, "")
        if key.endswith("version"):
            a = tuple(int(x) for x in cur.split(".")[:3])
            b = tuple(int(x) for x in val.split(".")[:3])
            return {"==": a == b, "!=": a != b, "<=": a <= b, ">=": a >= b, "<": a < b,
                    ">": a > b}.get(op, True)
        return {"==": cur == val, "!=": cur != val, "in": cur in val,
                "not in": cur not in val}.get(op, True)

    text = marker.replace("(", " ").replace(")", " ")
    return any(all(atom(a) for a in part.split(" and ")) for part in text.split(" or "))


def requirements(wheel: Path) -> list[str]:
    """Names of the distributions a wheel needs on the GPU image (no extras)."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode("utf-8", "replace")
    needs = []
    for line in text.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = line.split(":", 1)[1].strip()
        spec, _, marker = req.partition(";")
        if marker and ("extra" in marker or not _marker_true(marker)):
            continue
        needs.append(norm(re.split(r"[\s<>=!~\[(;]", spec.strip(), maxsplit=1)[0]))
    return needs


def _tags_ok(wheel: Path) -> bool:
    parts = wheel.name[:-4].split("-")
    py, abi, plat = parts[-3], parts[-2], parts[-1]
    abi3 = "abi3" in abi.split(".")

    def py_tag_ok(t: str) -> bool:
        if t == "cp312" or t.startswith("py3"):
            return True
        # a stable-ABI wheel built for CPython 3.x (x <= 12) runs on 3.12
        return abi3 and t.startswith("cp3") and t[3:].isdigit() and int(t[3:]) <= 12

    py_ok = any(py_tag_ok(t) for t in py.split("."))
    abi_ok = any(t in ("cp312", "abi3", "none") for t in abi.split("."))
    plat_ok = plat == "any" or all(("x86_64" in t and "linux" in t) for t in plat.split("."))
    return py_ok and abi_ok and plat_ok


def gridcap_requirements() -> list[str]:
    """Names of gridcap's own runtime dependencies (``pyproject.toml``)."""
    deps = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    return [norm(re.split(r"[\s<>=!~\[(;]", d, maxsplit=1)[0]) for d in deps]


def check(house: Path, budget_mib: float) -> list[str]:
    """Every problem of the wheelhouse, one sentence each (empty: ready to carry)."""
    wheels = sorted(house.glob("*.whl"))
    if not wheels:
        return [f"{house}: no wheels (run scripts/gpu-wheels.sh)"]
    problems = []
    names: dict[str, list[str]] = {}
    for w in wheels:
        names.setdefault(norm(w.name.split("-")[0]), []).append(w.name)
        if not _tags_ok(w):
            problems.append(f"{w.name}: not a CPython 3.12 Linux x86-64 wheel")
    problems += [f"{n}: {len(v)} versions ({', '.join(v)}); keep one" for n, v in names.items()
                 if len(v) > 1]
    have = image_packages() | set(names)
    for w in wheels:
        missing = sorted(set(requirements(w)) - have)
        if missing:
            problems.append(f"{w.name} needs {missing}: neither in the wheelhouse nor on the "
                            "GPU image")
    missing = sorted(set(gridcap_requirements()) - have)
    if missing:
        problems.append(f"gridcap needs {missing}: neither in the wheelhouse nor on the GPU image")
    total = sum(w.stat().st_size for w in wheels) / 2**20
    if total > budget_mib:
        problems.append(f"{house}: {total:.1f} MiB of wheels, over the {budget_mib:g} MiB budget")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: ``check WHEELHOUSE [--budget-mib N]``; exit 0 when ready, 1 otherwise."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("command", choices=["check"])
    ap.add_argument("wheelhouse", type=Path)
    ap.add_argument("--budget-mib", type=float, default=56.0,
                    help="largest total size of the wheels [MiB] (default 56: leaves 8 MiB "
                    "of the 64 MiB a device call carries for the working tree, ~1.6 MiB)")
    args = ap.parse_args(argv)
    problems = check(args.wheelhouse, args.budget_mib)
    wheels = sorted(args.wheelhouse.glob("*.whl"))
    total = sum(w.stat().st_size for w in wheels) / 2**20
    for w in wheels:
        print(f"  {w.stat().st_size / 2**20:6.2f} MiB  {w.name}")
    print(f"  {total:6.2f} MiB in {len(wheels)} wheels (budget {args.budget_mib:g} MiB)")
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    print("wheelhouse OK" if not problems else f"wheelhouse NOT ready: {len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
