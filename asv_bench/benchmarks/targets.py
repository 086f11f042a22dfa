"""The issue targets as asv ``track`` benchmarks, one class per ``gridcap bench`` section.

Each class runs its section's quick form once (``setup_cache``: the same code and sizes as
``gridcap bench --quick``) and reports, per target id, the figure that target reads
(``track_target``; the least favourable when it is measured at several sizes). asv stores those
figures per commit; ``python -m gridcap.benchmarks.asv_targets RESULTS.json`` turns them into
the PASS/FAIL table with the targets of ``gridcap.benchmarks.suite.TARGETS``.
"""

from gridcap.benchmarks.asv_targets import run_section, section_figure, target_ids


class _Section:
    section = ""
    param_names = ("target",)
    timeout = 900  # seconds for setup_cache (a quick section takes well under a minute)
    number = 1
    repeat = 1

    def setup_cache(self):
        return run_section(self.section)

    def track_target(self, result, target):
        return section_figure(result, self.section, target)

    track_target.unit = "figure (see the target's unit)"


class Kernels(_Section):
    section = "kernels"
    params = target_ids("kernels")


class Waterfall(_Section):
    section = "waterfall"
    params = target_ids("waterfall")


class Optimizer(_Section):
    section = "optimizer"
    params = target_ids("optimizer")


class Scaling(_Section):
    section = "scaling"
    params = target_ids("scaling")
