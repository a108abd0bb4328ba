"""Issue 17: plans and add-ons are sold in the portal, paid with Odoo's payment framework (its demo provider),
invoiced with Odoo's account, and change the tenant's quotas only once the order is confirmed."""

from datetime import timedelta

from freezegun import freeze_time

from odoo import http
from odoo.exceptions import UserError
from odoo.tests import tagged

from hf_saas import db as pg
from hf_saas.spec import Quotas

from .common import enable_demo_provider, pay_with_demo_provider
from .test_security import HfCloudTenantCase

STORAGE_MB = 10240


class HfCloudBillingCase(HfCloudTenantCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = enable_demo_provider(cls.env)
        cls.storage = cls.env.ref("hf_cloud.product_addon_storage")
        cls.starter_quotas = Quotas.from_dict(cls.plan._hf_quotas())

    def setUp(self):
        super().setUp()
        # the tenant's quotas live outside this test's transaction: put the plan's back afterwards
        self.addCleanup(self.provisioner.set_quotas, self.db, self.starter_quotas, "starter")

    def tenant_quotas(self):
        return self.provisioner.usage(self.db)["quotas"]

    def buy(self, product, login="ada-target", quantity=1):
        self.authenticate(login, f"{login}-pw")
        return self.url_open(
            f"/my/instances/{self.instance.id}/addon",
            allow_redirects=False,
            data={
                "product_id": str(product.id),
                "quantity": str(quantity),
                "csrf_token": http.Request.csrf_token(self),
            },
        )

    def orders(self):
        return self.env["sale.order"].search([("hf_upgrade_instance_id", "=", self.instance.id)])


@tagged("post_install", "-at_install")
class TestAddonPurchase(HfCloudBillingCase):
    company = "Addon Buyer"

    def pay_with_demo_provider(self, order):
        tx = pay_with_demo_provider(self.env, self.provider, order)
        self.assertEqual(tx.state, "done")
        return tx

    def test_storage_addon_raises_the_quota_only_once_paid(self):
        response = self.buy(self.storage)
        self.assertEqual(response.status_code, 303)
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertIn(f"/my/orders/{order.id}", response.headers["Location"])
        self.assertEqual(order.partner_id, self.customer)
        self.assertEqual(order.order_line.product_id, self.storage.product_variant_id)
        self.assertTrue(order.require_payment)
        # a quotation (unpaid) changes nothing, here or in the tenant
        self.assertEqual(order.state, "draft")
        self.assertEqual(self.instance.quota_storage_mb, self.plan.hf_quota_storage_mb)
        self.assertEqual(self.tenant_quotas()["storage_mb"], self.plan.hf_quota_storage_mb)
        page = self.url_open(f"/my/instances/{self.instance.id}").text
        self.assertIn(order.name, page)  # waiting for payment, with its link

        self.pay_with_demo_provider(order)
        self.assertEqual(order.state, "sale")
        self.assertEqual(self.instance.quota_storage_mb, self.plan.hf_quota_storage_mb + STORAGE_MB)
        self.assertEqual(self.instance.quota_tags, self.plan.hf_quota_tags)  # only what was bought
        self.assertEqual(self.tenant_quotas()["storage_mb"], self.plan.hf_quota_storage_mb + STORAGE_MB)
        self.assertEqual(self.tenant_quotas()["tags"], self.plan.hf_quota_tags)
        invoice = order.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.partner_id, self.customer)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

        page = self.url_open(f"/my/instances/{self.instance.id}").text
        self.assertIn(str(self.plan.hf_quota_storage_mb + STORAGE_MB), page)
        self.assertIn("+10 GB storage", page)
        self.assertIn(invoice.name, page)
        self.assertIn(f"/my/invoices/{invoice.id}", page)  # Odoo's own invoice page
        self.assertEqual(self.url_open(f"/my/invoices/{invoice.id}").status_code, 200)

        # a plan change keeps what was bought on top of the new plan
        factory = self.env.ref("hf_cloud.product_plan_factory")
        self.instance._hf_create_order(factory).action_confirm()
        self.assertEqual(self.instance.quota_storage_mb, factory.hf_quota_storage_mb + STORAGE_MB)
        self.assertEqual(self.tenant_quotas()["storage_mb"], factory.hf_quota_storage_mb + STORAGE_MB)
        # a cancelled add-on order gives the quota back
        order._action_cancel()
        self.assertEqual(self.instance.quota_storage_mb, factory.hf_quota_storage_mb)
        self.assertEqual(self.tenant_quotas()["storage_mb"], factory.hf_quota_storage_mb)

    def test_an_add_on_or_plan_not_on_sale_is_refused(self):
        hidden = self.storage.copy({"name": "Free terabyte", "hf_addon_storage_mb": 1_048_576, "sale_ok": False})
        archived = self.storage.copy({"name": "Old storage", "active": False})
        secret_plan = self.env.ref("hf_cloud.product_plan_factory").copy(
            {"name": "Secret unlimited", "hf_plan_code": "secret", "sale_ok": False}
        )
        for product in (hidden, archived, secret_plan, self.plan):
            with self.subTest(product=product.name):
                response = self.buy(product)
                self.assertIn("message=invalid", response.headers["Location"])
        for quantity in (0, -5, 1000):
            response = self.buy(self.storage, quantity=quantity)
            self.assertIn("message=invalid", response.headers["Location"])
        self.assertFalse(self.orders())
        for product in (hidden, archived, secret_plan):
            with self.assertRaises(UserError):
                self.instance._hf_create_order(product)
        self.assertEqual(self.instance.quota_storage_mb, self.plan.hf_quota_storage_mb)
        self.assertEqual(self.tenant_quotas()["storage_mb"], self.plan.hf_quota_storage_mb)

    def test_another_customer_cannot_buy_for_this_instance(self):
        stranger = self.env["res.partner"].create({"name": "Eve Elsewhere", "email": "eve@elsewhere.example"})
        self.env["res.users"].with_context(no_reset_password=True).create(
            {
                "name": "Eve Elsewhere",
                "login": "eve-elsewhere",
                "password": "eve-elsewhere-pw",
                "partner_id": stranger.id,
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        for login in ("eve-elsewhere", "rita-readonly"):  # another customer; an employee who only reads
            with self.subTest(login=login):
                response = self.buy(self.storage, login=login)
                self.assertEqual(response.status_code, 303)
                self.assertTrue(response.headers["Location"].endswith("/my"), response.headers["Location"])
                page = self.url_open(f"/my/instances/{self.instance.id}").text
                self.assertNotIn("/addon", page)
        self.assertFalse(self.orders())
        self.assertEqual(self.tenant_quotas()["storage_mb"], self.plan.hf_quota_storage_mb)

    def test_an_overdue_invoice_suspends_the_instance_and_its_payment_resumes_it(self):
        self.addCleanup(lambda: pg.allows_connections(self.settings, self.db) or self.provisioner.resume(self.db))
        order = self.instance._hf_create_order(self.storage, 2)
        order.action_confirm()  # e.g. to be paid by bank transfer: the operator confirms it
        self.assertEqual(self.instance.quota_storage_mb, self.plan.hf_quota_storage_mb + 2 * STORAGE_MB)
        invoice = order._create_invoices()
        invoice.action_post()
        instances = self.env["hf.cloud.instance"]
        instances._cron_check_payments()  # not due yet: nothing happens
        self.assertEqual(self.instance.state, "ready")
        later = invoice.invoice_date_due + timedelta(days=1)
        with freeze_time(later):
            instances._cron_check_payments()
        self.assertEqual(self.instance.state, "suspended")
        self.assertTrue(self.instance.suspended_unpaid)
        self.assertIn(invoice.name, self.instance.state_message)
        self.assertFalse(pg.allows_connections(self.settings, self.db))  # the data is kept, nobody gets in
        self.assertTrue(pg.exists(self.settings, self.db))
        with freeze_time(later):
            instances._cron_check_payments()  # still unpaid: stays suspended
        self.assertEqual(self.instance.state, "suspended")

        cron = self.env.ref("hf_cloud.ir_cron_hf_cloud_payments")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=invoice.ids).create(
            {}
        )._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # the payment asks for the check at once, rather than at the next hour
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers + 1)
        with freeze_time(later):
            instances._cron_check_payments()
        self.assertEqual(self.instance.state, "ready")
        self.assertFalse(self.instance.suspended_unpaid)
        self.assertTrue(pg.allows_connections(self.settings, self.db))
        self.assertEqual(self.tenant_quotas()["storage_mb"], self.plan.hf_quota_storage_mb + 2 * STORAGE_MB)

    def test_usage_is_recorded_each_time_it_is_measured(self):
        self.env["hf.cloud.instance"]._cron_update_usage()
        self.env["hf.cloud.instance"]._cron_update_usage()
        history = self.instance.usage_ids
        self.assertEqual(len(history), 2)
        self.assertGreater(history[0].db_size_mb, 1)
        self.assertEqual(history[0].tags, self.instance.usage_tags)
        self.authenticate("ada-target", "ada-target-pw")
        self.assertIn("Usage, hour by hour", self.url_open(f"/my/instances/{self.instance.id}").text)
        self.assertEqual(self.env["hf.cloud.usage"].with_user(self.portal_user).search([]), history)

    def test_the_portal_charts_usage_and_warns_before_a_quota_is_reached(self):
        included = self.instance.quota_samples_per_day
        usage = self.env["hf.cloud.usage"].sudo()
        for hour, samples in enumerate((included // 2, included * 9 // 10, included * 5 // 4)):
            usage.create(
                {
                    "instance_id": self.instance.id,
                    "date": f"2026-12-01 0{hour}:00:00",
                    "samples_per_day": samples,
                    "tags": 10,
                    "db_size_mb": 20,
                }
            )
        self.instance.sudo().write(
            {"usage_samples_per_day": included * 17 // 20, "usage_tags": 10, "usage_db_size_mb": 20}
        )
        chart = self.instance._hf_usage_chart()
        self.assertEqual([bar["over"] for bar in chart["bars"]], [False, False, True])
        self.assertEqual(chart["bars"][-1]["h"], chart["height"])  # the largest bar, above the plan's line
        self.assertGreater(chart["quota_y"], 0)
        self.authenticate("ada-target", "ada-target-pw")
        page = self.url_open(f"/my/instances/{self.instance.id}").text
        self.assertEqual(page.count("<rect "), 3)
        self.assertIn("o_hf_usage_chart", page)
        self.assertEqual(page.count("o_hf_usage_warning"), 1)  # samples at 85 %; tags and storage are not
        self.assertIn("(85 %)", page)

    def test_csrf_required(self):
        self.authenticate("ada-target", "ada-target-pw")
        response = self.url_open(
            f"/my/instances/{self.instance.id}/addon", allow_redirects=False, data={"product_id": str(self.storage.id)}
        )
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self.orders())


@tagged("post_install", "-at_install")
class TestAddonTour(HfCloudBillingCase):
    """In Chromium: the customer opens the instance page, buys "+10 GB storage" and pays with the demo provider."""

    company = "Tour Buyer"

    def test_tour_buy_storage_and_pay(self):
        self.env["res.users"].with_context(no_reset_password=True).create(
            {
                "name": "Tom Tour",
                "login": "tom-tour",
                "password": "tom-tour",
                "partner_id": self.customer.id,
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        self.start_tour(f"/my/instances/{self.instance.id}", "hf_cloud_buy_addon", login="tom-tour", timeout=180)
        order = self.orders()
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.transaction_ids.provider_id, self.provider)
        self.assertEqual(order.transaction_ids.state, "done")
        self.assertEqual(self.instance.quota_storage_mb, self.plan.hf_quota_storage_mb + STORAGE_MB)
        self.assertEqual(self.tenant_quotas()["storage_mb"], self.plan.hf_quota_storage_mb + STORAGE_MB)
        self.assertTrue(order.invoice_ids)
