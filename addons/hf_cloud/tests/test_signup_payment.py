"""Issue 17: a signup's plan is paid before anything is set up (Odoo's payment framework, its demo provider
here), or, where the operator sells by invoice, provisioned at once and invoiced with payment terms."""

from odoo.tests import tagged

from .common import enable_demo_provider, pay_with_demo_provider
from .test_onboarding import HfCloudFormCase


@tagged("post_install", "-at_install")
class TestSignupPayment(HfCloudFormCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = enable_demo_provider(cls.env)

    def _signed_up(self, company):
        response = self._post(company_name=company, email=f"pay@{company.split()[0].lower()}.example")
        self.assertIn("/hyperfactory/status/", response.url)
        instance = self._instance(company)
        return instance, self._confirm(instance)

    def test_the_plan_is_paid_before_the_instance_is_set_up(self):
        instance, response = self._signed_up("Paying Plant")
        order = instance.sale_order_id
        # the confirmation leads to the order's payment page, nothing is provisioned or invoiced yet
        self.assertIn(f"/my/orders/{order.id}", response.url)
        self.assertIn("access_token=", response.url)
        self.assertIn(order.name, response.text)
        self.assertEqual((order.state, order.require_payment, order.amount_total > 0), ("draft", True, True))
        self.assertEqual(order.order_line.product_id.product_tmpl_id, self.plan)
        self.assertEqual((instance.state, instance.email_confirmed), ("draft", True))
        self.assertEqual(instance.db_name, "hf_cloud_t_paying_plant")  # the name is reserved meanwhile
        self.assertFalse(order.invoice_ids)
        status = self.url_open(f"/hyperfactory/status/{instance.id}?access_token={instance.access_token}").text
        self.assertIn("o_hf_pay", status)
        self.assertIn(order.get_portal_url(), status.replace("&amp;", "&"))
        self.assertNotIn('http-equiv="refresh"', status)
        # the visitor (no account yet) can open the page to pay
        self.assertEqual(self.url_open(order.get_portal_url()).status_code, 200)

        tx = pay_with_demo_provider(self.env, self.provider, order)
        self.assertEqual(tx.state, "done")
        instance.invalidate_recordset()
        self.assertEqual(order.state, "sale")
        self.assertEqual(instance.state, "queued")
        invoice = order.invoice_ids
        self.assertEqual((invoice.state, invoice.payment_state in ("paid", "in_payment")), ("posted", True))
        status = self.url_open(f"/hyperfactory/status/{instance.id}?access_token={instance.access_token}").text
        self.assertNotIn("o_hf_pay", status)
        self.assertIn('http-equiv="refresh"', status)  # provisioning: the page follows it

    def test_sold_by_invoice_it_is_set_up_at_once_and_invoiced(self):
        self.env["ir.config_parameter"].sudo().set_param("hf_cloud.signup_payment", "invoice")
        instance, response = self._signed_up("Invoiced Plant")
        self.assertIn("/hyperfactory/status/", response.url)
        order = instance.sale_order_id
        self.assertEqual((order.state, instance.state), ("sale", "queued"))
        invoice = order.invoice_ids
        self.assertEqual((invoice.state, invoice.payment_state), ("posted", "not_paid"))
        self.assertEqual(invoice.invoice_payment_term_id, self.env.ref("account.account_payment_term_30days"))
        self.assertGreater(invoice.invoice_date_due, invoice.invoice_date)
