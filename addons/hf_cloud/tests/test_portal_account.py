"""Issue 17, the customer's journey, point 2: the customer gets a portal account on the operator's Odoo when
the instance is ready, invited by the "ready" mail, and sees its instance there (and no one else's)."""

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

from odoo.tests import tagged

from hf_saas.spec import parse_spec

from .common import HfCloudProvisionCase, spec_dict

PORTAL_LINK = re.compile(r'<a[^>]*class="o_hf_portal_link"[^>]*>|<a[^>]*href="[^"]*"[^>]*o_hf_portal_link[^>]*>')


@tagged("post_install", "-at_install")
class TestPortalAccount(HfCloudProvisionCase):
    def test_ready_mail_invites_to_a_portal_account_that_sees_its_own_instance(self):
        data = spec_dict("Portal Plant")
        data["company"]["email"] = "pia@portal-plant.example"
        data["company"]["contact_name"] = "Pia Portal"
        plan = self.env.ref("hf_cloud.product_plan_starter")
        instance = self.env["hf.cloud.instance"].sudo()._hf_create_from_spec(parse_spec(data), plan)
        self.assertTrue(instance._hf_confirm_email(instance._hf_confirm_token()))
        self._cleanup(instance.db_name)
        self.addCleanup(self._cleanup, instance.db_name)
        partner = instance.partner_id
        self.assertFalse(partner.user_ids)  # nothing before the instance is ready
        other_partner = self.env["res.partner"].create({"name": "Olga Other", "email": "olga@other-plant.example"})
        other = self.env["hf.cloud.instance"].create(
            {
                "name": "Other Plant",
                "partner_id": other_partner.id,
                "plan_id": plan.id,
                "spec_json": json.dumps(spec_dict("Other Plant")),
            }
        )

        self.assertTrue(instance._hf_provision(), instance.state_message)
        user = partner.user_ids
        self.assertEqual(len(user), 1)
        self.assertTrue(user._is_portal())
        self.assertFalse(user._is_internal())
        self.assertEqual(user.login, "pia@portal-plant.example")
        # one mail: Odoo's portal welcome mail is replaced by our "ready" mail
        mails = self.env["mail.mail"].sudo().search([("recipient_ids", "in", partner.ids)])
        self.assertEqual(len(mails.filtered(lambda m: "is ready" in (m.subject or ""))), 1, mails.mapped("subject"))
        self.assertFalse(mails.filtered(lambda m: "Your account at" in (m.subject or "")), mails.mapped("subject"))
        mail = mails.filtered(lambda m: "is ready" in (m.subject or ""))
        anchor = PORTAL_LINK.search(mail.body_html)
        self.assertTrue(anchor, mail.body_html)
        link = html.unescape(re.search(r'href="([^"]+)"', anchor.group(0)).group(1))
        self.assertIn("token=", link)
        self.assertEqual(parse_qs(urlsplit(link).query)["redirect"], [f"/my/instances/{instance.id}"])

        # follow the link: choose a password, land logged in on the instance page
        parts = urlsplit(link)
        form = self.url_open(f"{parts.path}?{parts.query}")
        self.assertEqual(form.status_code, 200)
        self.assertIn("pia@portal-plant.example", form.text)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        response = self.url_open(
            "/web/signup",
            data={
                "csrf_token": csrf,
                "token": query["token"],
                "redirect": query["redirect"],
                "login": "pia@portal-plant.example",
                "name": "Pia Portal",
                "password": "pia-portal-secret-1",
                "confirm_password": "pia-portal-secret-1",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn(f"/my/instances/{instance.id}", response.url)
        self.assertIn("Portal Plant", response.text)
        self.assertIn("Download the edge bundle", response.text)

        listing = self.url_open("/my/instances").text
        self.assertIn("Portal Plant", listing)
        self.assertNotIn("Other Plant", listing)
        stranger = self.url_open(f"/my/instances/{other.id}", allow_redirects=False)
        self.assertEqual(stranger.status_code, 303)
        self.assertTrue(stranger.headers["Location"].endswith("/my"))

        # the password chosen is the account's: a new session logs in with it
        self.authenticate("pia@portal-plant.example", "pia-portal-secret-1")
        self.assertIn("Portal Plant", self.url_open("/my/instances").text)

    def test_a_returning_customer_keeps_its_account(self):
        partner = self.env["res.partner"].create({"name": "Rex Return", "email": "rex@return-plant.example"})
        user = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "Rex Return",
                    "login": "rex@return-plant.example",
                    "partner_id": partner.id,
                    "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
                }
            )
        )
        instance = self.env["hf.cloud.instance"].create(
            {
                "name": "Return Plant",
                "partner_id": partner.id,
                "plan_id": self.env.ref("hf_cloud.product_plan_starter").id,
            }
        )
        link = instance._hf_grant_portal_access()
        self.assertTrue(link.endswith(f"/my/instances/{instance.id}"))
        self.assertNotIn("token=", link)
        self.assertEqual(partner.user_ids, user)

    def test_an_address_taken_by_another_login_gets_no_account_and_no_error(self):
        self.env["res.users"].with_context(no_reset_password=True).create(
            {
                "name": "Squatter",
                "login": "sam@same-address.example",
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        partner = self.env["res.partner"].create({"name": "Sam Same", "email": "sam@same-address.example"})
        instance = self.env["hf.cloud.instance"].create(
            {
                "name": "Same Plant",
                "partner_id": partner.id,
                "plan_id": self.env.ref("hf_cloud.product_plan_starter").id,
            }
        )
        link = instance._hf_grant_portal_access()
        self.assertNotIn("token=", link)
        self.assertFalse(partner.user_ids)
        self.assertTrue(instance.message_ids.filtered(lambda m: "No portal account" in (m.body or "")))
