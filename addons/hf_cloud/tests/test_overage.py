"""Issue 17: samples beyond the plan's daily volume are invoiced monthly where the plan says so (the tenant then
stores up to the plan's cap instead of parking at its volume), once per month; other plans are not billed."""

from contextlib import closing
from datetime import date

import psycopg2

from odoo.tests import tagged

from hf_historian.ingest.quota import QUOTA_DDL, USAGE_TABLE
from hf_saas.spec import Quotas

from .test_security import HfCloudTenantCase

INCLUDED = 2_000_000  # the starter plan's samples a day


@tagged("post_install", "-at_install")
class TestOverageInvoice(HfCloudTenantCase):
    company = "Overage Plant"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.overage = cls.env.ref("hf_cloud.product_overage_samples")
        # what the tenant's ingest counted, by UTC day (hf_historian.ingest.quota)
        with closing(psycopg2.connect(**cls.settings.dsn(cls.db))) as conn, conn, conn.cursor() as cr:
            cr.execute(QUOTA_DDL)
            cr.executemany(
                f"INSERT INTO {USAGE_TABLE} (day, samples) VALUES (%s, %s)",
                [
                    (date(2026, 10, 31), 5_000_000),
                    (date(2026, 11, 1), 1_000_000),
                    (date(2026, 11, 2), 3_500_000),
                    (date(2026, 11, 30), 2_500_000),
                    (date(2026, 12, 1), 9_000_000),
                ],
            )

    def setUp(self):
        super().setUp()
        self.assertEqual(self.instance.quota_samples_per_day, INCLUDED)
        self.addCleanup(self.provisioner.set_quotas, self.db, Quotas.from_dict(self.plan._hf_quotas()), "starter")

    def usage_invoices(self):
        return self.env["account.move"].search([("hf_usage_instance_id", "=", self.instance.id)])

    def test_samples_beyond_the_plan_are_invoiced_once_a_month(self):
        self.plan.hf_overage_product_id = self.overage
        self.instance._hf_apply_quotas()
        # the tenant stores up to ten times the plan's volume before it parks
        self.assertEqual(self.provisioner.usage(self.db)["quotas"]["samples_per_day"], 10 * INCLUDED)
        self.assertEqual(self.instance.quota_samples_per_day, INCLUDED)  # what the customer's plan includes

        self.env["hf.cloud.instance"]._cron_invoice_overage(today=date(2026, 12, 2))
        invoice = self.usage_invoices()
        self.assertEqual(len(invoice), 1)
        self.assertEqual(
            (invoice.state, invoice.partner_id, invoice.hf_usage_month), ("posted", self.customer, date(2026, 11, 1))
        )
        # November only: 1.5 million on the 2nd, 0.5 million on the 30th
        self.assertEqual(invoice.invoice_line_ids.product_id, self.overage)
        self.assertAlmostEqual(invoice.invoice_line_ids.quantity, 2.0)
        self.assertIn("2,000,000 samples beyond the plan", invoice.invoice_line_ids.name)
        self.assertAlmostEqual(invoice.amount_untaxed, 2.0 * self.overage.list_price)
        self.assertIn(invoice, self.instance._hf_portal_invoices())  # the customer sees it on the portal

        # the daily cron again, later in the month: nothing twice
        self.env["hf.cloud.instance"]._cron_invoice_overage(today=date(2026, 12, 15))
        self.assertEqual(self.usage_invoices(), invoice)

    def test_a_plan_that_parks_beyond_its_volume_bills_nothing(self):
        self.assertFalse(self.plan.hf_overage_product_id)
        self.instance._hf_apply_quotas()
        self.assertEqual(self.provisioner.usage(self.db)["quotas"]["samples_per_day"], INCLUDED)
        self.env["hf.cloud.instance"]._cron_invoice_overage(today=date(2026, 12, 2))
        self.assertFalse(self.usage_invoices())
