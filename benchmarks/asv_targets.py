"""The PASS/FAIL target table from an airspeed-velocity (asv) results file.

The asv suite lives outside the installed package, in ``asv_bench/`` at the top of the
repository (as pvlib, numpy and xarray keep theirs): one class per benchmark section whose
``track_target`` benchmark, parameterised by target id, returns the figure that target reads
(:func:`section_figure`). This module turns the JSON asv writes
(``asv_bench/results/<machine>/<commit>-<env>.json``) back into the same target table
``gridcap bench`` prints, using the same target definitions (:data:`.suite.TARGETS`)::

    python -m gridcap.benchmarks.asv_targets asv_bench/results/MACHINE/COMMIT-ENV.json

Exit codes: 0 when the table was written, 1 with ``--strict`` when a target failed or had no
figure (GPU targets excepted), 2 for a file that is not an asv results file.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gridcap.errors import GridcapInputError

from .records import headline_table
from .suite import OPS, SECTIONS, TARGETS, Target, evaluate_targets, run_section_inprocess

#: asv's results-file format this reader understands (``"version"`` in the file).
ASV_RESULTS_VERSION = 2
#: Name of the asv benchmark (method) that returns a target's figure.
TRACK_NAME = "track_target"


def target_ids(section: str) -> list[str]:
    """Ids of the targets a section's result is checked against.

    Parameters
    ----------
    section : str
        Section name (:data:`.suite.SECTION_NAMES`).

    Returns
    -------
    list of str
        Target ids, in :data:`.suite.TARGETS` order (the asv benchmark's parameter values).
    """
    return [t.id for t in TARGETS if t.section == section]


def run_section(section: str) -> dict[str, Any]:
    """Run one section's quick form in this process and return its result dict.

    Parameters
    ----------
    section : str
        Section name.

    Returns
    -------
    dict
        The module's result (the figures the targets read).

    Raises
    ------
    RuntimeError
        If the section did not finish (its status and reason in the message), so asv records
        the benchmark as failed rather than a wrong figure.
    """
    spec = next(s for s in SECTIONS if s.name == section)
    entry = run_section_inprocess(spec, quick=True)
    if entry["status"] != "ok":
        raise RuntimeError(f"section {section}: {entry['status']} ({entry.get('reason')})")
    return dict(entry["result"])


def section_figure(result: dict[str, Any], section: str, target_id: str) -> float:
    """The figure a target reads from a section result; the least favourable when several.

    Parameters
    ----------
    result : dict
        A section module's result (:func:`run_section`).
    section : str
        Section name.
    target_id : str
        Target id (:data:`.suite.TARGETS`).

    Returns
    -------
    float
        The matched figure in the target's unit: the smallest of several for a ``>=`` target,
        the largest for ``<=``, the first for an ``info`` row; NaN when the result holds none
        (asv records NaN as a missing value).
    """
    target = _target(target_id)
    rows = evaluate_targets({section: {"status": "ok", "result": result}}, [target])
    values = [
        float(r["value"])
        for r in rows
        if r.get("id") == target_id and r.get("status") in ("PASS", "FAIL", "info")
    ]
    if not values:
        return math.nan
    if target.op in (">=", ">"):
        return min(values)
    if target.op in ("<=", "<"):
        return max(values)
    return values[0]


def _target(target_id: str) -> Target:
    for t in TARGETS:
        if t.id == target_id:
            return t
    raise KeyError(target_id)


def _load(path: Path) -> dict[str, Any]:
    """Read and check an asv results file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise GridcapInputError(f"{path}: cannot read an asv results JSON file ({err})") from err
    if not isinstance(data, dict) or data.get("version") != ASV_RESULTS_VERSION:
        found = data.get("version") if isinstance(data, dict) else type(data).__name__
        raise GridcapInputError(
            f"{path}: version {found!r}: expected an asv results file of format version "
            f"{ASV_RESULTS_VERSION} (asv_bench/results/<machine>/<commit>-<env>.json)"
        )
    for key in ("results", "result_columns"):
        if key not in data:
            raise GridcapInputError(f"{path}: no {key!r}: not an asv results file")
    return data


def _track_values(data: dict[str, Any]) -> dict[str, float | None]:
    """``{target id: value}`` from every ``*.track_target`` benchmark of a results file."""
    cols = list(data["result_columns"])
    at_result, at_params = cols.index("result"), cols.index("params")
    values: dict[str, float | None] = {}
    for name, row in data["results"].items():
        if not name.endswith("." + TRACK_NAME):
            continue
        row = list(row) + [None] * (len(cols) - len(row))
        params = row[at_params] or [[]]
        ids = [ast.literal_eval(p) for p in params[0]]
        results = row[at_result] or [None] * len(ids)
        for tid, value in zip(ids, results, strict=False):
            values[str(tid)] = None if value is None else float(value)
    return values


def asv_checks(path: str | Path) -> dict[str, Any]:
    """The target rows of an asv results file, PASS / FAIL against :data:`.suite.TARGETS`.

    Parameters
    ----------
    path : str or Path
        An asv results file (format version 2).

    Returns
    -------
    dict
        A record shaped like ``gridcap bench``'s: ``source`` (``asv``), ``commit``, ``env``,
        ``machine`` (asv's machine parameters), ``date`` (ms since the epoch, as asv stores
        it) and ``checks`` (one row per target: ``id``, ``section``, ``what``, ``figure`` (the
        asv benchmark), ``value``, ``op``, ``target``, ``unit``, ``status`` ``PASS``/``FAIL``/
        ``info``, or ``n/a`` with a ``reason`` when asv has no figure for it) and ``timings``
        (``{benchmark: seconds}`` of the ``time_*`` benchmarks; None where one failed).

    Raises
    ------
    GridcapInputError
        If the file cannot be read or is not an asv results file.
    """
    path = Path(path)
    data = _load(path)
    values = _track_values(data)
    if not values:
        raise GridcapInputError(
            f"{path}: no '*.{TRACK_NAME}' benchmark in it: expected results of the suite in "
            "asv_bench/ (run `asv run` there)"
        )
    commit = str(data.get("commit_hash") or "")[:8]
    checks = []
    for t in TARGETS:
        if t.id not in values:
            continue  # its section was not run (asv run --bench ...)
        value = values[t.id]
        row: dict[str, Any] = {
            "id": t.id, "section": t.section, "what": t.what, "op": t.op,
            "target": None if t.op == "info" else t.threshold, "unit": t.unit,
            "source": t.source, "figure": f"{TRACK_NAME}[{t.id}]", "value": value,
            "mode": f"asv {commit}",
        }
        if value is None or not math.isfinite(value):
            row["value"] = None
            row["status"] = "n/a"
            row["reason"] = "no figure in the asv result" + (
                " (needs a GPU)" if t.requires_gpu else " (benchmark failed or not measured)")
        elif t.op == "info":
            row["status"] = "info"
        else:
            row["status"] = "PASS" if OPS[t.op](value, t.threshold) else "FAIL"
        checks.append(row)
    return {
        "source": "asv", "commit": data.get("commit_hash"), "env": data.get("env_name"),
        "machine": data.get("params", {}), "date": data.get("date"), "checks": checks,
        "timings": _timings(data),
    }


def _timings(data: dict[str, Any]) -> dict[str, float | None]:
    """``{benchmark: seconds}`` of the unparameterised ``time_*`` benchmarks of a file."""
    cols = list(data["result_columns"])
    at_result = cols.index("result")
    out: dict[str, float | None] = {}
    for name, row in data["results"].items():
        if name.rsplit(".", 1)[-1].startswith("time_"):
            result = row[at_result] if len(row) > at_result else None
            value = result[0] if isinstance(result, list) and len(result) == 1 else None
            out[name] = None if value is None else float(value)
    return out


def markdown(record: dict[str, Any]) -> str:
    """The asv record as Markdown: where it was measured, the target table, then the
    ``time_*`` benchmarks as informative rows."""
    machine = record.get("machine", {})
    where = ", ".join(str(machine[k]) for k in ("cpu", "num_cpu") if machine.get(k))
    head = (
        f"# gridcap targets from asv\n\ncommit `{record.get('commit')}`, environment "
        f"`{record.get('env')}`, machine `{machine.get('machine', '?')}`"
        + (f" ({where})" if where else "") + "\n\n"
    )
    lines = [headline_table({"checks": record["checks"]})]
    for name, seconds in record.get("timings", {}).items():
        measured = "failed" if seconds is None else f"{seconds:.3g} s"
        lines.append(f"| asv | `{name}` | {measured} | info |")
    return head + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gridcap.benchmarks.asv_targets RESULTS.json [--out FILE] [--strict]``."""
    ap = argparse.ArgumentParser(
        prog="python -m gridcap.benchmarks.asv_targets",
        description="PASS/FAIL target table from an asv results file of asv_bench/",
    )
    ap.add_argument("results", type=Path, help="asv results JSON (results/<machine>/*.json)")
    ap.add_argument("--out", type=Path, help="also write the Markdown table to this file")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when a target fails or has no figure (GPU targets excepted)")
    args = ap.parse_args(argv)
    try:
        record = asv_checks(args.results)
    except GridcapInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = markdown(record)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    gpu = {t.id for t in TARGETS if t.requires_gpu}
    bad = [c["id"] for c in record["checks"]
           if c["status"] == "FAIL" or (c["status"] == "n/a" and c["id"] not in gpu)]
    return 1 if args.strict and bad else 0


if __name__ == "__main__":
    sys.exit(main())
