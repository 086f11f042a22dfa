"""The asv suite (asv_bench/, outside the installed package) and the PASS/FAIL target table
made from asv's results.

``tests/fixtures/asv_results.json``: the ``Waterfall`` and ``TimeStages`` rows were written by
asv 0.6.6 (``asv run --python=same`` in asv_bench/ on the 2-core CI machine, 2026-12-03); the
``Kernels`` row and the failed ``time_failed_case`` were added by hand in the same format, with
missing figures as ``null`` (how asv stores a failed or NaN value). No test builds asv
environments: ``asv run`` builds gridcap per commit (minutes), so it runs by hand or on a
benchmark machine.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from gridcap.benchmarks import asv_targets
from gridcap.benchmarks.suite import OPS, TARGETS
from gridcap.errors import GridcapInputError

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "asv_results.json"


def _fixture_values() -> dict[str, float | None]:
    data = json.loads(FIXTURE.read_text())
    out = {}
    for name, row in data["results"].items():
        if name.endswith(".track_target"):
            for p, v in zip(row[1][0], row[0], strict=True):
                out[p.strip("'")] = v
    return out


def test_target_table_from_asv_results_uses_the_suite_targets():
    record = asv_targets.asv_checks(FIXTURE)
    rows = {c["id"]: c for c in record["checks"]}
    values = _fixture_values()
    assert set(rows) == set(values)
    targets = {t.id: t for t in TARGETS}
    for tid, value in values.items():
        t, row = targets[tid], rows[tid]
        assert row["section"] == t.section and row["unit"] == t.unit
        if value is None:
            assert row["status"] == "n/a" and row["value"] is None
            assert ("needs a GPU" in row["reason"]) == t.requires_gpu
        elif t.op == "info":
            assert row["status"] == "info" and row["value"] == value
        else:
            expected = "PASS" if OPS[t.op](value, t.threshold) else "FAIL"
            assert row["status"] == expected and row["target"] == t.threshold
    # the recorded quick waterfall speed-up is below the 50x target: the table must say FAIL
    assert rows["waterfall_vs_python"]["status"] == "FAIL"
    assert rows["kernel_vs_words"]["status"] == "PASS"
    md = asv_targets.markdown(record)
    assert "| waterfall | vectorised waterfall" in md and "| FAIL |" in md
    assert "`stages.TimeStages.time_plan_synthetic` | 0.453 s | info" in md
    assert "`stages.TimeStages.time_failed_case` | failed | info" in md
    assert record["commit"].startswith("77d5564a")


def test_asv_itself_reads_the_fixture():
    """The fixture is in asv's own format (asv's loader reads the same values back)."""
    results = pytest.importorskip("asv.results", reason="asv not installed (pip install .[bench])")
    res = results.Results.load(str(FIXTURE))
    params = [["'waterfall_vs_python'", "'waterfall_vs_python_cpu_time'"]]
    got = res.get_result_value("targets.Waterfall.track_target", params)
    values = _fixture_values()
    assert got == [values["waterfall_vs_python"], values["waterfall_vs_python_cpu_time"]]


def test_section_figure_takes_the_least_favourable_match():
    result = {"small": {"numba_cpu": {"kernel_vs_words": 0.71}},
              "large": {"numba_cpu": {"kernel_vs_words": 0.52}}}
    assert asv_targets.section_figure(result, "kernels", "kernel_vs_words") == 0.52
    assert math.isnan(asv_targets.section_figure({"x": 1.0}, "kernels", "kernel_vs_words"))


def test_asv_suite_covers_every_target_section():
    """Each section with targets has an asv class whose parameters are its target ids."""
    spec = importlib.util.spec_from_file_location(
        "asv_bench_targets", REPO / "asv_bench" / "benchmarks" / "targets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    classes = {c.section: c for c in vars(mod).values()
               if isinstance(c, type) and getattr(c, "section", "")}
    for section in {t.section for t in TARGETS}:
        assert classes[section].params == [t.id for t in TARGETS if t.section == section]
    assert json.loads("\n".join(  # asv.conf.json allows // comments
        line for line in (REPO / "asv_bench" / "asv.conf.json").read_text().splitlines()
        if not line.lstrip().startswith("//")))["repo"] == ".."


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "table.md"
    assert asv_targets.main([str(FIXTURE), "--out", str(out)]) == 0
    assert out.read_text() in capsys.readouterr().out
    assert asv_targets.main([str(FIXTURE), "--strict"]) == 1  # a FAIL is in it
    bad = tmp_path / "bench.json"
    bad.write_text(json.dumps({"schema": "gridcap-bench/1"}))
    assert asv_targets.main([str(bad)]) == 2
    assert "expected an asv results file" in capsys.readouterr().err
    bad.write_text(json.dumps({"version": 2}))
    with pytest.raises(GridcapInputError, match="no 'results'"):
        asv_targets.asv_checks(bad)
