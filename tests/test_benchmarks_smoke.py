"""Smoke test: the real ``gridcap bench --quick`` suite runs and writes its record.

No timing assertions (CI machines differ); the record's shape, machine info, units and the
targets' presence are checked. Marked slow: about 40 s on an idle 2-core machine (it runs
every section's quick form, including a real ``gridcap run quickstart``), minutes when the
machine is shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridcap.benchmarks import suite


@pytest.mark.slow
def test_quick_suite_writes_json_and_markdown_record(tmp_path: Path) -> None:
    from gridcap.cli import main

    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    [json_path] = tmp_path.glob("*_quick.json")
    md_path = json_path.with_suffix(".md")
    assert md_path.is_file()
    record = json.loads(json_path.read_text())

    machine = record["machine"]
    assert machine["cpu"]["model"]
    assert machine["cpu"]["usable_cores"] >= 1
    assert machine["memory_gib"] > 0
    assert machine["versions"]["numpy"] != "not installed"
    assert record["started"] <= record["finished"]

    assert list(record["sections"]) == list(suite.SECTION_NAMES)
    for name, entry in record["sections"].items():
        # a section may be unavailable (with its reason), but must not crash or hang
        assert entry["status"] in ("ok", "not available"), (name, entry.get("reason"))
        if entry["status"] == "ok":
            assert entry["figures"], name
            assert all(f["unit"] for f in entry["figures"])
        else:
            assert entry["reason"]

    ids = {c["id"] for c in record["checks"]}
    assert ids >= {t.id for t in suite.TARGETS}
    for check in record["checks"]:
        assert check["status"] in ("PASS", "FAIL", "n/a", "info")
        if check["status"] in ("PASS", "FAIL"):
            assert isinstance(check["value"], float)
            assert isinstance(check["target"], float)
        elif check["status"] == "n/a":
            assert check["reason"]

    md = md_path.read_text()
    assert machine["slug"] in md
    assert "## Targets (headline)" in md
    for name in suite.SECTION_NAMES:
        assert f"## {name}:" in md
