"""Issue 17: a plan's bandwidth, memory and storage policy reach the tenant as its quotas, the bandwidth add-on
raises the bytes a day once paid, and the hourly metering records what the tenant's ingest counted (messages,
bytes, parked samples) and what it tells the tenant, shown on the portal with the storage quota's 100 % rule."""

from contextlib import closing
from datetime import UTC, datetime

import psycopg2

from odoo.tests import tagged

from hf_historian.ingest.quota import NOTICE_PARAM, QUOTA_DDL, STORAGE_NOTICE_PARAM, USAGE_TABLE

from ..models.product_template import MB
from .common import pay_with_demo_provider
from .test_billing import HfCloudBillingCase

COUNTED = (
    f"INSERT INTO {USAGE_TABLE} (day, samples, parked, messages, bytes, stored_bytes) VALUES (%s, 900, 7, 1234, %s, %s)"
)
PARKED_NOTICE = "Messages beyond your plan's 1,024 MB per day are parked, not lost."


@tagged("post_install", "-at_install")
class TestUsageMetering(HfCloudBillingCase):
    company = "Metered Plant"

    def pay_with_demo_provider(self, order):
        self.assertEqual(pay_with_demo_provider(self.env, self.provider, order).state, "done")

    def tenant_execute(self, statements):
        """As the tenant's ingest writes them: its usage counts and the sentences its tenant reads."""
        with closing(psycopg2.connect(**self.settings.dsn(self.db))) as conn, conn, conn.cursor() as cr:
            for statement, params in statements:
                cr.execute(statement, params)

    def test_the_plans_bandwidth_memory_and_storage_policy_reach_the_tenant(self):
        self.instance._hf_apply_quotas()
        self.assertEqual(self.instance.quota_bandwidth_mb_per_day, self.plan.hf_quota_bandwidth_mb_per_day)
        self.assertEqual(self.instance.quota_memory_mb, 2048)
        quotas = self.tenant_quotas()
        self.assertEqual(quotas["bytes_per_day"], 1024 * MB)  # the starter plan's 1 GB a day
        self.assertEqual(quotas["memory_mb"], 2048)
        self.assertEqual(quotas["cpu"], 0.5)  # the starter plan's half vCPU, for the tenant's process limits
        self.assertEqual(quotas["storage_policy"], "pause_ingest")
        factory = self.env.ref("hf_cloud.product_plan_factory")
        self.instance._hf_create_order(factory).action_confirm()
        quotas = self.tenant_quotas()
        self.assertEqual(quotas["bytes_per_day"], factory.hf_quota_bandwidth_mb_per_day * MB)
        self.assertEqual(quotas["storage_policy"], "shorten_retention")

    def test_the_bandwidth_addon_raises_the_bytes_a_day_only_once_paid(self):
        addon = self.env.ref("hf_cloud.product_addon_messages")
        self.assertEqual(addon.hf_addon_bandwidth_mb_per_day, 5120)
        self.assertEqual(self.buy(addon).status_code, 303)
        order = self.orders()
        self.assertEqual(order.state, "draft")
        self.assertEqual(self.tenant_quotas()["bytes_per_day"], 1024 * MB)
        self.pay_with_demo_provider(order)
        self.assertEqual(order.state, "sale")
        self.assertEqual(self.instance.quota_bandwidth_mb_per_day, 1024 + 5120)
        self.assertEqual(self.tenant_quotas()["bytes_per_day"], (1024 + 5120) * MB)
        self.assertEqual(
            self.tenant_quotas()["samples_per_day"], self.plan.hf_quota_samples_per_day + addon.hf_addon_samples_per_day
        )

    def test_metering_records_messages_bytes_and_what_the_tenant_is_told(self):
        today = datetime.now(UTC).date()
        self.tenant_execute(
            [
                (QUOTA_DDL, None),
                (COUNTED, (today, 5 * MB, 4 * MB)),
                (
                    "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s), (%s, %s)",
                    (NOTICE_PARAM, PARKED_NOTICE, STORAGE_NOTICE_PARAM, "Your database is full."),
                ),
            ]
        )
        self.addCleanup(
            self.tenant_execute,
            [
                (f"DELETE FROM {USAGE_TABLE}", None),
                ("DELETE FROM ir_config_parameter WHERE key IN (%s, %s)", (NOTICE_PARAM, STORAGE_NOTICE_PARAM)),
            ],
        )
        self.env["hf.cloud.instance"]._cron_update_usage()
        self.assertEqual(
            (
                self.instance.usage_messages_today,
                self.instance.usage_mb_today,
                self.instance.usage_samples_parked_today,
            ),
            (1234, 5.0, 7),
        )
        point = self.instance.usage_ids[:1]
        self.assertEqual((point.messages, point.received_mb, point.samples_parked), (1234, 5.0, 7))
        self.assertEqual(point.cpu_seconds, 0.0)  # nothing reports CPU seconds yet (the tenant's process limits will)
        self.assertEqual(self.instance.usage_notices, f"{PARKED_NOTICE}\nYour database is full.")
        self.authenticate("ada-target", "ada-target-pw")
        page = self.url_open(f"/my/instances/{self.instance.id}").text
        self.assertIn("Bandwidth (today, UTC)", page)
        self.assertIn("1234", page)
        self.assertEqual(page.count("o_hf_usage_notice"), 2)
        self.assertIn("parked, not lost", page)

        # once the tenant says nothing more, neither does the portal
        self.tenant_execute(
            [("DELETE FROM ir_config_parameter WHERE key IN (%s, %s)", (NOTICE_PARAM, STORAGE_NOTICE_PARAM))]
        )
        self.env["hf.cloud.instance"]._cron_update_usage()
        self.assertFalse(self.instance.usage_notices)

    def test_at_the_storage_quota_the_portal_says_what_the_plan_does(self):
        self.plan.hf_quota_storage_mb = 1  # far below the tenant's own Odoo database
        self.instance._hf_apply_quotas()
        self.env["hf.cloud.instance"]._cron_update_usage()
        self.assertGreater(self.instance.usage_db_size_mb, 1)
        warnings = self.instance._hf_usage_warnings()
        self.assertEqual(len([w for w in warnings if "storage" in w]), 1)  # the 100 % sentence, not also the 80 %
        self.assertIn("has reached its 1 MB of storage: new samples are parked, not lost", warnings[0])
        self.plan.hf_storage_policy = "shorten_retention"
        self.assertIn("the oldest raw history is dropped", self.instance._hf_usage_warnings()[0])
        self.authenticate("ada-target", "ada-target-pw")
        self.assertIn("the oldest raw history is dropped", self.url_open(f"/my/instances/{self.instance.id}").text)
