from datetime import timedelta

from odoo.tests import tagged

from hf_collector.simulate.machine import Machine

from .common import HfMlCommon


@tagged("post_install", "-at_install")
class TestAnomaly(HfMlCommon):
    """A healthy day of the simulator's machine (its bearing wears slowly: no maintenance in the period,
    whose resets an anomaly model rightly finds unusual), then two hours with two injected anomalies."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.machine = cls.warm_up(Machine(seed=7, wear_per_hour=0.2))
        cls.simulate(cls.machine, cls.now - timedelta(days=1), 86400, prevent_failures=True)
        cls.job = cls.env["hf.ml.job"].create(
            {
                "name": "Press watch",
                "workcenter_id": cls.workcenter.id,
                "equipment_id": cls.equipment.id,
                "tag_ids": [(6, 0, (cls.tag_temperature | cls.tag_speed | cls.tag_vibration).ids)],
                "window_minutes": 5,
                "rolling_windows": "5,15",
                "training_days": 1,
                "contamination": 0.01,
            }
        )

    def test_finds_injected_anomalies_and_raises_one_request(self):
        self.train(self.job)
        self.assertEqual(self.job.state, "trained", self.job.last_error)
        version = self.job.active_version_id
        # the workcell's state tag reports: the job learns from running time only, and scores the same way
        self.assertTrue(self.job.running_only)
        self.assertEqual(version.feature_spec["state_tag_id"], self.tag_state.id)
        self.assertEqual(len(self.job.version_ids), 1)
        self.assertGreater(version.train_rows, 150)
        self.assertTrue(version.chart_scores["data"]["datasets"])
        self.assertEqual(len(version.chart_importance["data"]["labels"]), 15)
        # 2 h more: the temperature runs 12 °C hot for 20 min at +30 min; the spindle hunts at +80 min
        anomalies = [(30 * 60, 20 * 60, {"temperature": 12.0}), (80 * 60, 20 * 60, {"spindle_speed": 400.0})]
        self.simulate(self.machine, self.now, 2 * 3600, prevent_failures=True, inject=anomalies)
        self.job._hf_score(self.now + timedelta(minutes=25))
        calm = self.scores(self.job)
        self.assertGreaterEqual(len(calm), 4)
        self.assertTrue(all(score < 1.0 for _, score in calm), f"normal windows stay under the threshold: {calm}")
        self.assertFalse(self.job.request_ids)
        for minutes in range(35, 125, 10):  # the scoring cron, every 10 minutes
            self.job._hf_score(self.now + timedelta(minutes=minutes))
        scores = self.scores(self.job)
        self.assertTrue(self.job.score_tag_id.topic.endswith("/press1/_historian/ml/press_watch_score"))
        self.assertEqual(self.job.score_tag_id.role, "derived")
        # a score is fresh until the next scoring run: the screens' stale marker goes by the scoring interval
        self.assertEqual(self.job.score_tag_id.sampling_interval_ms, self.job.score_interval_minutes * 60_000)
        self.assertEqual(self.job.score_tag_id.description, "Press watch")
        flagged = {t for t, s in scores if s >= self.job.threshold}
        for offset, length, _change in anomalies:
            # every window lying wholly inside an injected anomaly is flagged
            inside = [
                t
                for t, _s in scores
                if self.now + timedelta(seconds=offset + 300) <= t <= self.now + timedelta(seconds=offset + length)
            ]
            self.assertTrue(inside)
            self.assertTrue(set(inside) <= flagged, f"missed anomaly at +{offset // 60} min: {scores}")
        normal = [
            t
            for t, _s in scores
            if not any(
                self.now + timedelta(seconds=o) < t <= self.now + timedelta(seconds=o + n + 900)
                for o, n, _c in anomalies
            )
        ]
        false_alarms = [t for t in normal if t in flagged]
        self.assertLessEqual(len(false_alarms), 1, f"false alarms: {false_alarms}")
        request = self.job.request_ids
        self.assertEqual(len(request), 1, "two anomalies while the request is open: one request")
        self.assertEqual(request.equipment_id, self.equipment)
        self.assertEqual(request.maintenance_type, "preventive")
        self.assertIn("reached the threshold", request.description)
        # once the request is done, the next anomaly raises a new one
        request.stage_id = self.env["maintenance.stage"].search([("done", "=", True)], limit=1)
        self.simulate(
            self.machine,
            self.now + timedelta(hours=2),
            1800,
            prevent_failures=True,
            inject=[(0, 1800, {"temperature": 15.0})],
        )
        self.job._hf_score(self.now + timedelta(hours=2, minutes=30))
        self.assertEqual(len(self.job.request_ids), 2)

    def test_without_equipment_an_activity_on_the_workcell(self):
        self.job.equipment_id = False
        self.train(self.job)
        self.simulate(self.machine, self.now, 3600, prevent_failures=True, inject=[(600, 1800, {"temperature": 14.0})])
        self.job._hf_score(self.now + timedelta(minutes=30))
        self.job._hf_score(self.now + timedelta(minutes=50))
        self.assertFalse(self.job.request_ids)
        activities = self.env["mail.activity"].search(
            [("res_model", "=", "mrp.workcenter"), ("res_id", "=", self.workcenter.id)]
        )
        self.assertEqual(len(activities), 1)
        self.assertEqual(self.job.alert_activity_id, activities)

    def test_robust_z_for_one_tag(self):
        self.job.write(
            {
                "method": "robust_z",
                "tag_ids": [(6, 0, self.tag_temperature.ids)],
                "rolling_windows": "5",
                "agg_std": False,
                "agg_slope": False,
                "agg_min": False,
                # the idle dips make min and last bimodal: no z-score for them
                "agg_last": False,
                "agg_noise": False,
            }
        )
        self.train(self.job)
        self.assertEqual(self.job.state, "trained", self.job.last_error)
        self.simulate(self.machine, self.now, 3600, prevent_failures=True, inject=[(1200, 1200, {"temperature": 15.0})])
        _ends, scores = self.job._hf_score(self.now + timedelta(minutes=60))
        self.assertTrue(max(scores[:3]) < 1.0 < min(scores[5:8]), list(scores))
