import numpy as np

from odoo.tests import BaseCase, tagged

from ..ml import features


@tagged("post_install", "-at_install")
class TestFeatures(BaseCase):
    """The feature code alone: what an engineer reads in the aggregations' names must hold."""

    def noise(self, values, dt=2.0):
        times = 1.8e9 + np.arange(len(values)) * dt
        spec = features.FeatureSpec(300, (1,), ("std", "noise"))
        ends = spec.grid(times[0], times[0] + 301)  # one row: the 150 samples
        matrix, complete = features.build([(times, np.asarray(values, dtype=float))], ends, spec)
        self.assertTrue(complete[0])
        return matrix[0]

    def test_noise_sees_oscillation_and_ignores_ramps_and_steps(self):
        rng = np.random.default_rng(1)
        steps = np.arange(150)
        calm = 60 + rng.normal(0, 0.05, 150)
        ramp = 40 + 0.15 * steps + rng.normal(0, 0.05, 150)  # warming up after a stop: 22 °C in 5 min
        step = np.where(steps < 75, 60.0, 30.0) + rng.normal(0, 0.05, 150)  # the machine stops mid-window
        oscillation = 60 + 1.5 * np.sin(steps * 2.0 / 8) + rng.normal(0, 0.05, 150)
        std = {
            name: self.noise(v)[0]
            for name, v in (("calm", calm), ("ramp", ramp), ("step", step), ("oscillation", oscillation))
        }
        noise = {
            name: self.noise(v)[1]
            for name, v in (("calm", calm), ("ramp", ramp), ("step", step), ("oscillation", oscillation))
        }
        # the standard deviation ranks the ramp and the step above the oscillation; the noise does not
        self.assertGreater(std["ramp"], std["oscillation"])
        self.assertGreater(std["step"], std["oscillation"])
        self.assertGreater(noise["oscillation"], 3 * max(noise["calm"], noise["ramp"], noise["step"]), noise)

    def test_running_mask_follows_the_state_reported_on_change(self):
        state_times = np.array([100.0, 200.0, 300.0, 400.0])
        codes = np.array([1.0, 0.0, 2.0, 10_500.0])  # running, idle, down, UMH "producing"
        times = np.array([50.0, 100.0, 150.0, 250.0, 350.0, 450.0])
        self.assertEqual(
            features.running_mask(times, state_times, codes).tolist(), [False, True, True, False, False, True]
        )
        self.assertFalse(features.running_mask(times, np.empty(0), np.empty(0)).any())

    def test_no_rows_gives_no_features(self):
        """A scoring run with nothing new since the last one (rows ending after the last scored one)."""
        times = 1.8e9 + np.arange(300) * 2.0
        spec = features.FeatureSpec(300, (1, 3))
        matrix, complete = features.build([(times, np.sin(times))], np.empty(0), spec)
        self.assertEqual(matrix.shape, (0, 2 * len(features.AGGREGATIONS)))
        self.assertFalse(complete.any())
