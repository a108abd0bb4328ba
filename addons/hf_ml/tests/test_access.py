from datetime import timedelta

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from hf_historian.writer import HistorianWriter, Sample

from .common import HfMlCommon


@tagged("post_install", "-at_install")
class TestAccess(HfMlCommon):
    """Operators read jobs, scores and versions; engineers manage jobs; companies see their own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base = cls.now - timedelta(hours=12)
        HistorianWriter(cls.env.cr).write(
            [
                Sample(
                    cls.tag_vibration.id,
                    int((base + timedelta(seconds=20 * i)).timestamp() * 1000),
                    2.0 + (i % 17) / 10,
                )
                for i in range(12 * 180)
            ]
        )
        cls.job = cls.env["hf.ml.job"].create(
            {
                "name": "Access",
                "workcenter_id": cls.workcenter.id,
                "tag_ids": [(6, 0, cls.tag_vibration.ids)],
                "training_days": 0.5,
                "rolling_windows": "5",
            }
        )
        cls.job.action_train()
        cls.job._hf_run_training(cls.now)
        cls.operator = cls.create_user("ml_operator", "hf_uns.group_hf_operator")
        cls.engineer = cls.create_user("ml_engineer", "hf_uns.group_hf_engineer")

    def test_operator_reads_only(self):
        job = self.job.with_user(self.operator)
        self.assertEqual(job.search([]), self.job)
        self.assertEqual(job.active_version_id.read(["f1", "chart_scores"])[0]["id"], self.job.active_version_id.id)
        self.assertTrue(job.read(["last_score", "score_tag_id"]))
        for attempt in (
            lambda: job.write({"threshold": 2.0}),
            job.action_train,
            lambda: job.create({"name": "x", "workcenter_id": self.workcenter.id}),
            lambda: job.active_version_id.unlink(),
        ):
            with self.assertRaises(AccessError):
                attempt()
        with self.assertRaises(UserError):
            job.active_version_id.action_activate()
        with self.assertRaises(AccessError):
            job.active_version_id.read(["artefact"])

    def test_engineer_manages_jobs_but_never_sees_the_artefact(self):
        job = self.job.with_user(self.engineer)
        job.write({"threshold": 2.0})
        job.action_train()
        self.assertEqual(self.job.state, "queued")
        self.env["hf.ml.job"].with_user(self.engineer).create({"name": "New", "workcenter_id": self.workcenter.id})
        with self.assertRaises(AccessError):
            job.active_version_id.read(["artefact"])
        with self.assertRaises(AccessError):
            job.active_version_id.write({"artefact": b"hand-made"})

    def test_other_company_jobs_are_invisible(self):
        other = self.env["res.company"].create({"name": "Other plant", "hf_uns_segment": "other"})
        engineer = self.create_user("ml_other", "hf_uns.group_hf_engineer", company=other)
        self.assertFalse(self.env["hf.ml.job"].with_user(engineer).search([]))
        self.assertFalse(self.env["hf.ml.model.version"].with_user(engineer).search([]))
        engineer.write({"company_ids": [Command.link(self.company.id)]})
        self.assertEqual(
            self.env["hf.ml.job"]
            .with_user(engineer)
            .with_context(allowed_company_ids=[other.id, self.company.id])
            .search([]),
            self.job,
        )

    def test_a_job_cannot_read_another_companys_tags_or_equipment(self):
        """The job's check_company fields are enforced by the model, not only by the form's domains."""
        other = self.env["res.company"].create({"name": "Rival plant", "hf_uns_segment": "rival"})
        site = self.env["hf.uns.site"].create({"name": "Rival site", "segment": "rsite", "company_id": other.id})
        area = self.env["hf.uns.area"].create({"name": "Rival area", "segment": "rarea", "site_id": site.id})
        line = self.env["hf.uns.line"].create({"name": "Rival line", "segment": "rline", "area_id": area.id})
        workcenter = self.env["mrp.workcenter"].create(
            {"name": "Rival press", "hf_uns_segment": "rpress", "hf_line_id": line.id, "company_id": other.id}
        )
        secret = self.env["hf.uns.tag"].create({"name": "recipe", "workcenter_id": workcenter.id})
        self.assertEqual(secret.company_id, other)
        equipment = self.env["maintenance.equipment"].create({"name": "Rival spindle", "company_id": other.id})
        for field, value in (
            ("tag_ids", [Command.link(secret.id)]),
            ("failure_tag_id", secret.id),
            ("scrap_tag_id", secret.id),
            ("equipment_id", equipment.id),
        ):
            with self.subTest(field=field), self.assertRaises(UserError), self.env.cr.savepoint():
                self.job.write({field: value})
            with self.subTest(field=field, create=True), self.assertRaises(UserError), self.env.cr.savepoint():
                self.env["hf.ml.job"].create({"name": "Spy", "workcenter_id": self.workcenter.id, field: value})
        self.assertNotIn(secret, self.job.tag_ids)
