from datetime import timedelta

from odoo.tests import HttpCase, tagged

from hf_collector.simulate.machine import Machine

from .common import HfMlCommon


@tagged("post_install", "-at_install")
class TestJobTours(HttpCase, HfMlCommon):
    """Real Chromium: the plots of a model version are drawn in the job form an engineer opens."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        machine = cls.warm_up(Machine(seed=11, wear_per_hour=0.2))
        cls.simulate(machine, cls.now - timedelta(hours=12), 12 * 3600, prevent_failures=True)
        cls.job = cls.env["hf.ml.job"].create(
            {
                "name": "Chart watch",
                "workcenter_id": cls.workcenter.id,
                "tag_ids": [(6, 0, (cls.tag_temperature | cls.tag_vibration).ids)],
                "window_minutes": 5,
                "rolling_windows": "5",
                "training_days": 0.5,
            }
        )

    def url(self, job):
        return f"/odoo/action-hf_ml.hf_ml_job_action/{job.id}"

    def test_a_trained_job_shows_its_plots(self):
        self.train(self.job)
        self.assertEqual(self.job.state, "trained", self.job.last_error)
        self.start_tour(self.url(self.job), "hf_ml_job_charts", login="admin")

    def test_an_untrained_job_says_there_is_no_plot(self):
        self.start_tour(self.url(self.job), "hf_ml_job_untrained", login="admin")
