from datetime import timedelta

from odoo.tests import tagged

from hf_collector.simulate.machine import Machine

from .common import HfMlCommon


@tagged("post_install", "-at_install")
class TestPredictiveMaintenance(HfMlCommon):
    """30 hours of the simulator's bearing wearing to failure (about every 3 h), recorded as corrective
    requests; the job must see the next failure coming and ask for maintenance once, before it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.machine = cls.warm_up(Machine(seed=11), 600)
        cls.history_failures = cls.simulate(cls.machine, cls.now - timedelta(hours=30), 30 * 3600 - 1200)
        cls.machine.maintain()  # a new bearing 20 minutes ago: the next failure is hours away
        cls.history_failures += cls.simulate(cls.machine, cls.now - timedelta(seconds=1200), 1200)
        cls.record_failures(cls.history_failures)
        cls.job = cls.env["hf.ml.job"].create(
            {
                "name": "Bearing",
                "kind": "maintenance",
                "workcenter_id": cls.workcenter.id,
                "equipment_id": cls.equipment.id,
                "failure_source": "maintenance",
                "horizon_hours": 1,
                "tag_ids": [(6, 0, (cls.tag_vibration | cls.tag_temperature).ids)],
                "window_minutes": 5,
                "rolling_windows": "5,15",
                "training_days": 30 / 24,
                "threshold": 0.5,
            }
        )

    def test_predicts_the_failure_and_raises_one_request_before_it(self):
        self.assertGreaterEqual(len(self.history_failures), 8)
        self.train(self.job)
        self.assertEqual(self.job.state, "trained", self.job.last_error)
        version = self.job.active_version_id
        self.assertEqual(version.method, "random_forest")
        self.assertGreaterEqual(version.event_count, 8)
        self.assertGreater(version.roc_auc, 0.9, version.summary)
        self.assertGreater(version.f1, 0.7, version.summary)
        self.assertGreater(version.lead_time_minutes, 20)
        top = version.chart_importance["data"]["labels"][0]
        self.assertIn("vibration", top, "vibration drives the failure model")
        failures = self.simulate(self.machine, self.now, 5 * 3600)
        self.assertTrue(failures)
        failure = failures[0]
        minute = 10
        while self.now + timedelta(minutes=minute) < failure + timedelta(minutes=30):
            self.job._hf_score(self.now + timedelta(minutes=minute))
            minute += 10
        request = self.job.request_ids
        self.assertEqual(len(request), 1, "one request for one coming failure, however often it is scored")
        first_alarm = min(t for t, s in self.scores(self.job) if s >= 0.5)
        self.assertLess(first_alarm, failure)
        self.assertGreater(failure - first_alarm, timedelta(minutes=30), "enough warning to act")
        self.assertLess(failure - first_alarm, timedelta(hours=2), "not an alarm raised at any time")
        self.assertLess(request.create_date, failure.replace(tzinfo=None) + timedelta(days=1))
        # the ML's own (preventive) request is not a failure the next training learns from
        domain = self.job._hf_failure_domain(self.now - timedelta(days=2), self.now + timedelta(days=1))
        self.assertNotIn(request, self.env["maintenance.request"].search(domain))

    def test_failures_from_a_tag(self):
        self.job.write({"failure_source": "tag", "failure_tag_id": self.tag_state.id, "failure_value": 2})
        self.train(self.job)
        self.assertEqual(self.job.state, "trained", self.job.last_error)
        self.assertEqual(self.job.active_version_id.event_count, len(self.history_failures))

    def test_training_in_the_background_and_rollback(self):
        self.train(self.job)
        first = self.job.active_version_id
        self.job.horizon_hours = 0.5
        self.job.action_train()
        self.assertEqual(self.job.state, "queued", "the button only queues: no training in the HTTP worker")
        self.assertTrue(
            self.env["ir.cron.trigger"].search([("cron_id", "=", self.env.ref("hf_ml.ir_cron_hf_ml_train").id)])
        )
        self.env["hf.ml.job"]._cron_train()
        self.assertEqual(self.job.state, "trained", self.job.last_error)
        second = self.job.active_version_id
        self.assertNotEqual(first, second)
        self.assertFalse(first.is_active)
        self.job.action_rollback()
        self.assertEqual(self.job.active_version_id, first)
        self.assertFalse(second.is_active)
        second.action_activate()
        self.assertEqual(self.job.active_version_id, second)
