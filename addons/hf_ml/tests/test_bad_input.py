from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from hf_historian.writer import HistorianWriter, Sample

from .common import HfMlCommon


@tagged("post_install", "-at_install")
class TestBadInput(HfMlCommon):
    """Bad data ends as a plain message on the job, in the error state, with no model version saved."""

    def job(self, tags, **values):
        return self.env["hf.ml.job"].create(
            {
                "name": "Bad",
                "workcenter_id": self.workcenter.id,
                "tag_ids": [(6, 0, tags.ids)],
                "training_days": 0.5,
                "window_minutes": 5,
                "rolling_windows": "5",
                **values,
            }
        )

    def fill(self, tag, value, hours=12, step_s=20, kind=None):
        base = self.now - timedelta(hours=hours)
        HistorianWriter(self.env.cr).write(
            [
                Sample(
                    tag.id,
                    int((base + timedelta(seconds=i * step_s)).timestamp() * 1000),
                    value(i) if callable(value) else value,
                )
                for i in range(int(hours * 3600 // step_s))
            ]
        )

    def assert_refused(self, job, *fragments):
        self.train(job)
        self.assertEqual(job.state, "error")
        for fragment in fragments:
            self.assertIn(fragment, job.last_error)
        self.assertNotIn("Traceback", job.last_error)
        self.assertFalse(job.version_ids, "no half-saved model")
        self.assertFalse(self.env["hf.ml.model.version"].search([("job_id", "=", job.id)]))

    def test_no_data(self):
        self.assert_refused(
            self.job(self.tag_vibration), "Tag vibration has no usable data", "Check that the collector"
        )

    def test_only_nan(self):
        self.fill(self.tag_vibration, float("nan"))
        self.assert_refused(self.job(self.tag_vibration), "only NaN values")

    def test_nan_among_values_is_skipped(self):
        self.fill(self.tag_vibration, lambda i: float("nan") if i % 7 == 0 else 2.0 + (i % 13) / 10)
        job = self.job(self.tag_vibration)
        self.train(job)
        self.assertEqual(job.state, "trained", job.last_error)

    def test_constant_values(self):
        self.fill(self.tag_vibration, 5.0)
        self.assert_refused(self.job(self.tag_vibration), "constant", "nothing to learn from")

    def test_horizon_longer_than_history(self):
        self.fill(self.tag_vibration, lambda i: 2.0 + (i % 13) / 10)
        job = self.job(
            self.tag_vibration,
            kind="maintenance",
            failure_source="tag",
            failure_tag_id=self.tag_state.id,
            horizon_hours=24,
            training_days=1,
        )
        self.assert_refused(job, "horizon is too long", "shorten the horizon")
        job.write({"horizon_hours": 7, "training_days": 7})  # the period is long enough, the data is not
        self.assert_refused(job, "hours of data, too little for a 7-hour horizon", "shorten the horizon")

    def test_no_failures_to_learn_from(self):
        self.fill(self.tag_vibration, lambda i: 2.0 + (i % 13) / 10)
        self.fill(self.tag_state, 1.0)
        job = self.job(
            self.tag_vibration,
            kind="maintenance",
            failure_source="tag",
            failure_tag_id=self.tag_state.id,
            failure_value=2,
            horizon_hours=1,
        )
        self.assert_refused(job, "no failure between")
        job.write({"failure_source": "maintenance"})
        self.assert_refused(job, "it has no equipment")

    def test_a_failed_retraining_keeps_the_old_model(self):
        self.fill(self.tag_vibration, lambda i: 2.0 + (i % 13) / 10)
        job = self.job(self.tag_vibration)
        self.train(job)
        version = job.active_version_id
        self.assertTrue(version)
        job.tag_ids = self.tag_temperature  # no data
        self.train(job)
        self.assertEqual(job.state, "error")
        self.assertEqual(job.version_ids, version)
        self.assertTrue(version.is_active)

    def test_configuration_is_checked_when_saved(self):
        with self.assertRaisesRegex(ValidationError, "multiple of the 5-minute step"):
            self.job(self.tag_vibration, rolling_windows="5,7")
        with self.assertRaisesRegex(ValidationError, "at least one aggregation"):
            self.job(
                self.tag_vibration,
                agg_mean=False,
                agg_std=False,
                agg_min=False,
                agg_max=False,
                agg_slope=False,
                agg_last=False,
                agg_noise=False,
            )
        self.tag_state.role = "plain"  # the workcell now has no machine-state tag
        with self.assertRaisesRegex(ValidationError, "no machine-state tag"):
            self.job(self.tag_vibration, running_only=True)
        self.tag_state.role = "machine_state"
        with self.assertRaisesRegex(ValidationError, "gives the labels"):
            self.job(
                self.tag_vibration | self.tag_state,
                kind="maintenance",
                failure_source="tag",
                failure_tag_id=self.tag_state.id,
            )
        with self.assertRaisesRegex(ValidationError, "robust z-score watches one tag"):
            self.job(self.tag_vibration | self.tag_temperature, method="robust_z")
