"""The tenant's quota cron (issue 13: it had no test): discovered tags beyond the plan are archived; the
samples/day quota is the ingest's (samples parked, not lost), so the cron never switches a tag's historian off,
and gives back the historian of tags an earlier version switched off."""

import time

from odoo.tests import tagged

from odoo.addons.hf_uns.tests.common import HfUnsCommon

from hf_historian.ingest.quota import NOTICE_PARAM
from hf_historian.writer import HistorianWriter

from ..models.hf_uns_tag import PAUSED_PARAM, QUOTA_PREFIX, TOLD_PARAM


@tagged("post_install", "-at_install")
class TestQuotaCron(HfUnsCommon):
    def set_quota(self, key, value):
        self.env["ir.config_parameter"].sudo().set_param(QUOTA_PREFIX + key, str(value))

    def test_discovered_tags_beyond_the_plan_are_archived_newest_first(self):
        discovered = self.create_tag("vibration", discovered=True, modbus_address=4, modbus_type="float32")
        self.set_quota("tags", 2)
        self.env["hf.uns.tag"]._cron_hf_cloud_quotas()
        self.assertFalse(discovered.active)
        self.assertTrue(self.tag_temperature.active and self.tag_speed.active)

    def test_samples_beyond_the_day_never_switch_the_historian_off(self):
        self.set_quota("samples_per_day", 5)
        now_ms = int(time.time() * 1000)
        HistorianWriter(self.env.cr).write(
            [(self.tag_temperature.id, now_ms - 1000 * i, float(i), None, 0, 2) for i in range(20)]
        )
        self.env["hf.uns.tag"]._cron_hf_cloud_quotas()
        self.assertTrue(self.tag_temperature.historian)  # the ingest parks what is beyond the day; nothing is lost

    def test_tags_an_earlier_version_paused_get_their_historian_back(self):
        self.tag_speed.historian = False
        self.env["ir.config_parameter"].sudo().set_param(PAUSED_PARAM, str(self.tag_speed.id))
        self.env["hf.uns.tag"]._cron_hf_cloud_quotas()
        self.assertTrue(self.tag_speed.historian)
        self.assertFalse(self.env["ir.config_parameter"].sudo().get_param(PAUSED_PARAM))

    def test_the_administrators_are_told_once_what_the_ingest_holds_back(self):
        admin = self.create_user("quota-admin", "hf_uns.group_hf_admin")
        text = "Messages beyond your plan's 1,024 MB per day are parked, not lost."
        # written by the tenant's ingest with SQL, past the ORM's cache (hf_historian.ingest.quota)
        self.env.cr.execute(
            "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)",
            (NOTICE_PARAM, text),
        )

        def told():
            return self.env["mail.message"].search(
                [
                    ("partner_ids", "in", admin.partner_id.ids),
                    ("subject", "=", "Your Hyperfactory plan is holding data back"),
                ]
            )

        self.env["hf.uns.tag"]._cron_hf_cloud_quotas()
        self.assertEqual(len(told()), 1)
        self.assertIn("parked, not lost", told().body)
        self.env["hf.uns.tag"]._cron_hf_cloud_quotas()
        self.assertEqual(len(told()), 1)  # once per change, not at every run
        self.env.cr.execute("DELETE FROM ir_config_parameter WHERE key = %s", (NOTICE_PARAM,))
        self.env["hf.uns.tag"]._cron_hf_cloud_quotas()
        self.assertEqual(len(told()), 1)
        self.assertFalse(self.env["ir.config_parameter"].sudo().get_param(TOLD_PARAM))
