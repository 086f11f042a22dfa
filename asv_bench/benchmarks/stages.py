"""Wall time of the stage functions on small fixed cases, for asv's history across commits."""

from gridcap.config import load_config
from gridcap.kernels import simulate
from gridcap.optimizer import plan, synthetic_study
from gridcap.pipeline import build_inputs


class TimeStages:
    timeout = 600

    def setup(self):
        self.synthetic = synthetic_study(seed=1)
        self.cfg = load_config("quickstart", overrides={
            "monte_carlo.scenarios": 4, "monte_carlo.hours": 672, "study.backend": "numpy",
            "optimizer.scenarios_in_model": 4})
        self.inputs = build_inputs(self.cfg)

    def time_simulate_quickstart_numpy(self):
        """Monte Carlo of the quickstart study, 4 scenarios x 4 representative weeks [s]."""
        simulate(self.inputs, self.cfg.simulate_options())

    def time_plan_synthetic(self):
        """Plan of a seeded synthetic study (2 regions, 8 scenarios, 3 years) [s]."""
        plan(*self.synthetic)
