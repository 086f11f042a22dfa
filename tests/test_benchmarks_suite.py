"""Orchestration of the benchmark suite: missing, crashing and hanging sections, targets,
records (JSON + Markdown), and the ``gridcap bench`` / ``python -m benchmarks`` entry points.

Fake section modules stand in for the real benchmarks so every outcome is known.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gridcap.benchmarks import records, suite
from gridcap.benchmarks.suite import Section, Target
from gridcap.errors import GridcapInputError

REPO = Path(__file__).resolve().parent.parent

FAKES = {
    "fake_bench_ok": """
        def run(quick=False):
            print("fake ok ran, quick =", quick)
            return {"quick": quick, "solve_s": 2.0, "speedup_vs_python": 64.0,
                    "sizes": {"10000": {"overhead_ratio": 0.9}, "100000": {"overhead_ratio": 0.3},
                              "1000000": {"overhead_ratio": 0.7}},
                    "checks": [{"name": "stated", "value": 3.0, "target": 2.0, "op": "<="}]}
    """,
    "fake_bench_crash": """
        def run(quick=False):
            raise RuntimeError("kaboom in the benchmark")
    """,
    "fake_bench_missing_dep": """
        import gridcap_no_such_dependency_xyz
        def run(quick=False):
            return {}
    """,
    "fake_bench_hang": """
        import time
        def run(quick=False):
            time.sleep(60)
    """,
    "fake_bench_slowfull": """
        import time
        def run(quick=False, budget_s=None, full=None):
            if not quick:
                time.sleep(60)
            return {"quick": quick, "told_budget_s": budget_s, "told_full": full,
                    "speedup_vs_python": 64.0}
    """,
    "fake_bench_told": """
        def run(quick=False, budget_s=None, full=None):
            return {"quick": quick, "told_budget_s": budget_s, "told_full": full}
    """,
    "fake_bench_segfault": """
        import os, signal
        def run(quick=False):
            os.kill(os.getpid(), signal.SIGKILL)
    """,
}

TARGETS = (
    Target("speed", "ok", "speed-up ≥ 50×", ">=", 50.0, "×", (r"speedup",)),
    Target("slow", "ok", "speed-up ≥ 100×", ">=", 100.0, "×", (r"speedup",)),
    Target(
        "overhead", "ok", "overhead ≤ 0.5 at ≥ 1e5", "<=", 0.5, "1", (r"overhead",), min_size=1e5
    ),
    Target("absent", "ok", "not in the result", ">=", 1.0, "1", (r"no_such_figure",)),
    Target("crashed", "crash", "from a crashed section", ">=", 1.0, "1", (r"x",)),
)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake section modules importable here and in child processes."""
    folder = tmp_path / "fakes"
    folder.mkdir()
    for name, body in FAKES.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", f"{folder}:{REPO}")
    return folder


def _sections(*names: str, timeout: float = 30.0) -> list[Section]:
    return [Section(n, f"fake_bench_{n}", f"fake {n}", timeout, timeout) for n in names]


@pytest.mark.parametrize("isolate", [False, True])
def test_section_outcomes_are_recorded_not_raised(fakes: Path, tmp_path: Path, isolate: bool):
    record = suite.run_suite(
        quick=True,
        out_dir=tmp_path / "out",
        isolate=isolate,
        sections=_sections("ok", "crash", "missing_dep"),
        targets=TARGETS,
        echo=lambda line: None,
    )
    s = record["sections"]
    assert s["ok"]["status"] == "ok"
    assert s["ok"]["result"]["quick"] is True
    assert s["crash"]["status"] == "error"
    assert "kaboom in the benchmark" in s["crash"]["reason"]
    assert s["missing_dep"]["status"] == "not available"
    assert "gridcap_no_such_dependency_xyz" in s["missing_dep"]["reason"]
    if isolate:
        assert s["ok"]["peak_rss_mib"] > 5
        assert "fake ok ran, quick = True" in s["ok"]["output"]


def test_hanging_and_killed_sections_do_not_stop_the_suite(fakes: Path, tmp_path: Path):
    record = suite.run_suite(
        quick=False,
        out_dir=None,
        isolate=True,
        sections=[*_sections("hang", timeout=6.0), *_sections("segfault", "ok")],
        targets=(),
        echo=lambda line: None,
    )
    s = record["sections"]
    assert s["hang"]["status"] == "timed out"
    assert s["hang"]["wall_s"] < 20
    assert s["segfault"]["status"] == "error"
    assert s["ok"]["status"] == "ok"
    assert record["files"] == {}


def test_full_run_that_times_out_falls_back_to_its_quick_form(fakes: Path):
    section = Section("slowfull", "fake_bench_slowfull", "slow when full", 8.0, 30.0)
    record = suite.run_suite(
        quick=False,
        out_dir=None,
        isolate=True,
        budget_s=100.0,
        sections=[section],
        targets=(Target("speed", "slowfull", "speed-up ≥ 50×", ">=", 50.0, "×", (r"speedup",)),),
        echo=lambda line: None,
    )
    entry = record["sections"]["slowfull"]
    assert entry["status"] == "ok"
    assert entry["mode"] == "quick (fallback)"
    assert entry["fallback_from"]["status"] == "timed out"
    assert entry["result"]["quick"] is True
    # the module is told its budget (limit less the margin) and whether to run largest cases
    assert entry["result"]["told_budget_s"] == pytest.approx(15.0)
    assert entry["result"]["told_full"] is False
    assert any("slowfull: the full run was killed" in n for n in record["notes"])
    [check] = record["checks"]
    assert (check["status"], check["mode"]) == ("PASS", "quick (fallback)")
    assert "[quick (fallback)]" in records.headline_table(record)


def test_budget_skips_sections_once_spent(fakes: Path):
    record = suite.run_suite(
        quick=True,
        out_dir=None,
        isolate=True,
        budget_s=8.0,
        sections=[*_sections("hang", timeout=6.0), *_sections("ok")],
        targets=(),
        echo=lambda line: None,
    )
    assert record["sections"]["hang"]["status"] == "timed out"
    assert record["sections"]["ok"]["status"] == "skipped"


def test_targets_pass_fail_and_not_found(fakes: Path):
    record = suite.run_suite(
        quick=True,
        out_dir=None,
        isolate=False,
        sections=_sections("ok", "crash"),
        targets=TARGETS,
        echo=lambda line: None,
    )
    by_id: dict[str, list[dict]] = {}
    for check in record["checks"]:
        by_id.setdefault(check["id"], []).append(check)
    assert [c["status"] for c in by_id["speed"]] == ["PASS"]
    assert by_id["speed"][0]["value"] == 64.0
    assert [c["status"] for c in by_id["slow"]] == ["FAIL"]
    # min_size 1e5: the 1e4 row is ignored; 0.3 passes, 0.7 fails
    overhead = {c["figure"]: c["status"] for c in by_id["overhead"]}
    assert overhead == {
        "sizes.100000.overhead_ratio": "PASS",
        "sizes.1000000.overhead_ratio": "FAIL",
    }
    assert by_id["absent"][0]["status"] == "n/a"
    assert "not found" in by_id["absent"][0]["reason"]
    assert by_id["crashed"][0]["status"] == "n/a"
    assert "error" in by_id["crashed"][0]["reason"]
    # a check the module states itself is evaluated from its value and target: 3 <= 2 fails
    assert by_id["stated"][0]["status"] == "FAIL"


def test_real_targets_find_the_figures_the_benchmarks_report():
    """The shipped TARGETS must match the key names the benchmark modules return
    (bench_kernels, bench_optimizer, bench_waterfall, scaling as written)."""
    sections = {
        "kernels": {
            "status": "ok",
            "result": {
                "sizes": {
                    "der1000_scen100_h8760": {
                        "numba_cpu": {
                            "der_scenario_hours_per_s": 5e8,
                            "philox_der_scenario_hours_per_s": 9e8,
                            "kernel_vs_philox": 0.55,
                            "philox_words_der_scenario_hours_per_s": 2e9,
                            "kernel_vs_words": 0.25,
                            "cpu_time_kernel_vs_words": 0.3,
                            "cpu_time_kernel_vs_philox": 0.6,
                        },
                        "numba_cuda": {"der_scenario_hours_per_s": 2e11},
                    },
                    "der10000_scen100_h8760": {"numba_cpu": {"kernel_vs_philox": 0.35}},
                },
                "tiny": {"numpy_vs_python": 31.0},
                "memory": {"peak_rss_mib": 30_000.0, "fits_24gb": False},
            },
        },
        "scaling": {"status": "ok", "result": {"extrapolated": {"peak_rss_gib": 3.0}}},
        "optimizer": {
            "status": "ok",
            "result": {
                "sizes": {
                    "1e4": {"build_handoff_over_solve": 9.0, "end_to_end_over_linopy": 0.7},
                    "1e5": {"build_handoff_over_solve": 0.4, "end_to_end_over_linopy": 1.6},
                },
                "sweep": {"persistent_speedup": 6.0},
            },
        },
        "waterfall": {
            "status": "ok",
            "result": {
                "numpy_vs_python": 80.0,
                "numba_vs_python": 40.0,
                "numpy_vs_python_cpu_time": 30.0,
            },
        },
    }
    rows = suite.evaluate_targets(sections, gpus=[{"name": "H100"}])
    checks = {(c["id"], c.get("figure")): c["status"] for c in rows}
    k1, k2 = "sizes.der1000_scen100_h8760", "sizes.der10000_scen100_h8760"
    assert checks[("kernel_vs_philox", f"{k1}.numba_cpu.kernel_vs_philox")] == "PASS"
    assert checks[("kernel_vs_philox", f"{k2}.numba_cpu.kernel_vs_philox")] == "FAIL"
    assert (("kernel_vs_philox", f"{k1}.numba_cpu.cpu_time_kernel_vs_philox")) not in checks
    assert checks[("kernel_vs_words", f"{k1}.numba_cpu.kernel_vs_words")] == "FAIL"
    assert (("kernel_vs_words", f"{k1}.numba_cpu.cpu_time_kernel_vs_words")) not in checks
    assert checks[("philox_words_throughput",
                   f"{k1}.numba_cpu.philox_words_der_scenario_hours_per_s")] == "info"
    assert checks[("numpy_vs_python", "tiny.numpy_vs_python")] == "PASS"
    assert checks[("gpu_throughput", f"{k1}.numba_cuda.der_scenario_hours_per_s")] == "PASS"
    assert checks[("memory_large_case", "memory.peak_rss_mib")] == "FAIL"
    assert checks[("memory_large_case_extrapolated", "extrapolated.peak_rss_gib")] == "PASS"
    assert checks[("build_handoff_vs_solve", "sizes.1e5.build_handoff_over_solve")] == "PASS"
    assert ("build_handoff_vs_solve", "sizes.1e4.build_handoff_over_solve") not in checks
    assert checks[("pyomo_vs_linopy", "sizes.1e4.end_to_end_over_linopy")] == "PASS"
    assert checks[("pyomo_vs_linopy", "sizes.1e5.end_to_end_over_linopy")] == "FAIL"
    assert checks[("persistent_vs_rebuild", "sweep.persistent_speedup")] == "PASS"
    assert checks[("waterfall_vs_python", "numpy_vs_python")] == "PASS"
    assert checks[("waterfall_vs_python", "numba_vs_python")] == "FAIL"
    assert checks[("kernel_throughput", f"{k1}.numba_cpu.der_scenario_hours_per_s")] == "info"
    assert checks[("philox_throughput", f"{k1}.numba_cpu.philox_der_scenario_hours_per_s")] == (
        "info"
    )
    assert checks[("gpu_speedup", None)] == "n/a"  # the fake result has no speed-up figure
    # the CPU-time variant is shown, but is not the (wall-time) target
    assert checks[("waterfall_vs_python_cpu_time", "numpy_vs_python_cpu_time")] == "info"
    assert ("waterfall_vs_python", "numpy_vs_python_cpu_time") not in checks
    assert len(rows) == 18
    # on a machine without a GPU the GPU target is n/a, saying why
    cpu_rows = suite.evaluate_targets(sections, gpus=[])
    [gpu] = [c for c in cpu_rows if c["id"] == "gpu_throughput"]
    assert gpu["status"] == "n/a"
    assert gpu["reason"] == "no GPU on this machine"


def test_unknown_only_section_is_a_clear_error():
    with pytest.raises(GridcapInputError, match="unknown section.*kernels"):
        suite.run_suite(quick=True, only=["kernals"], out_dir=None, echo=lambda line: None)


def test_record_files_json_and_markdown(fakes: Path, tmp_path: Path):
    out = tmp_path / "records"
    record = suite.run_suite(
        quick=True,
        out_dir=out,
        isolate=False,
        sections=_sections("ok", "missing_dep"),
        targets=TARGETS,
        notes=["the 2-core machine was shared"],
        echo=lambda line: None,
    )
    stem = f"{record['started'][:10]}_{record['machine']['slug']}_quick"
    assert record["files"] == {"json": f"{stem}.json", "md": f"{stem}.md"}
    saved = json.loads((out / f"{stem}.json").read_text())
    assert saved["schema"] == suite.SCHEMA
    assert saved["machine"]["cpu"]["usable_cores"] >= 1
    assert saved["notes"][0] == "the 2-core machine was shared"
    assert {c["id"] for c in saved["checks"]} >= {"speed", "slow", "overhead"}
    units = {f["name"]: f["unit"] for f in saved["sections"]["ok"]["figures"]}
    assert units["solve_s"] == "s"
    assert units["speedup_vs_python"] == "×"
    md = (out / f"{stem}.md").read_text()
    assert "## Targets (headline)" in md
    assert "| ok | speed-up ≥ 50× (>= 50) | 64 × (`speedup_vs_python`) | PASS |" in md
    assert "not available" in md
    assert "the 2-core machine was shared" in md
    assert records.headline_table(saved) in md


def test_bench_subcommand_and_module_entry_point(tmp_path: Path):
    """``gridcap bench`` is registered in the CLI; ``python -m benchmarks`` runs from the
    repository root; both write a record."""
    from gridcap.cli import build_parser, main

    args = build_parser().parse_args(["bench", "--quick", "--only", "e2e", "--out", "x"])
    assert args.quick and args.only == ["e2e"] and args.func.__name__ == "handler"
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["bench", "--only", "nope"])
    assert exc.value.code == 2
    assert main(["bench", "--list"]) == 0
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert all(name in res.stdout for name in suite.SECTION_NAMES)


def test_command_line_reads_like_what_the_user_typed():
    assert suite.command_line(["/r/benchmarks/__main__.py", "--quick"]) == (
        "python -m benchmarks --quick"
    )
    assert suite.command_line(["/v/bin/gridcap", "bench"]) == "gridcap bench"


@pytest.mark.parametrize(("largest", "limit"), [(True, 300.0), (False, 30.0)])
def test_largest_cases_get_their_own_time_limit_and_budget(fakes: Path, largest: bool,
                                                           limit: float):
    # the 1e6-variable LP runs ~10 min: the section's regular limit would kill it every time
    section = Section("told", "fake_bench_told", "reports what it was told", 30.0, 10.0,
                      largest_timeout_s=300.0)
    assert section.limit_s(quick=True, largest=True) == 10.0
    record = suite.run_suite(quick=False, out_dir=None, isolate=False, sections=[section],
                             targets=(), echo=lambda line: None, largest=largest)
    told = record["sections"]["told"]["result"]
    assert told["told_full"] is largest
    # default budget 870 s plus the extra 270 s: the limit is not cut, less the 20 s margin
    assert told["told_budget_s"] == pytest.approx(max(limit - suite.SECTION_MARGIN_S,
                                                      0.5 * limit))


def test_default_record_folder_is_under_the_working_directory(
    fakes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``gridcap bench`` with no ``--out`` writes ``./benchmarks/results`` of the folder it runs
    from, not next to the installed ``gridcap.benchmarks`` package."""
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    assert not suite.RESULTS_DIR.is_absolute()
    record = suite.run_suite(
        quick=True, isolate=False, sections=_sections("ok"), targets=TARGETS,
        echo=lambda line: None,
    )
    written = sorted(p.name for p in (work / "benchmarks" / "results").iterdir())
    assert written == sorted(record["files"].values())
    package_results = Path(suite.__file__).resolve().parent / "results"
    stem = record["files"]["json"]
    assert not (package_results / stem).exists()


def test_bench_refuses_to_write_into_an_installed_package(
    fakes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A regular install (package under site-packages): an ``--out`` inside it is a clear
    input error (exit 2) and nothing is written there; a folder outside it still works."""
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    pkg = site / "gridcap" / "benchmarks"
    pkg.mkdir(parents=True)
    import gridcap

    monkeypatch.setattr(gridcap, "__file__", str(site / "gridcap" / "__init__.py"))
    monkeypatch.setattr(suite, "__file__", str(pkg / "suite.py"))
    assert suite.installed_package_dirs() == [site / "gridcap", pkg]
    monkeypatch.chdir(site / "gridcap")  # a relative default would land inside the package
    with pytest.raises(GridcapInputError, match=r"--out benchmarks/results: .*installed gridcap"):
        suite.run_suite(quick=True, isolate=False, sections=_sections("ok"),
                        targets=TARGETS, echo=lambda line: None)
    from gridcap.benchmarks.cli import main

    assert main(["--quick", "--out", str(pkg / "results")]) == 2
    assert not (pkg / "results").exists()
    assert not (site / "gridcap" / "benchmarks" / "results").exists()
    # outside the package: fine
    assert suite.resolve_out_dir(tmp_path / "mine") == (tmp_path / "mine").resolve()
