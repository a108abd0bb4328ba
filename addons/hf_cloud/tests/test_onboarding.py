import json
import re

from odoo.tests import HttpCase, tagged
from odoo.tools import config

from .common import configure_saas

GOOD = {
    "company_name": "Form Test Works",
    "contact_name": "Ada Admin",
    "email": "ada@formtest.example",
    "phone": "+49 30 1234567",
    "timezone": "Europe/Berlin",
    "site_name": "Berlin",
    "area_0": "Press shop",
    "line_0": "Line 1",
    "workcenters_0": "Press 1, Press 2",
    "device_name_0": "press1-plc",
    "device_protocol_0": "modbus",
    "device_ip_0": "10.0.0.5",
    "device_mac_0": "001B.4411.3AB7",
    "device_port_0": "502",
    "device_workcenter_0": "Press 1",
}


class HfCloudFormCase(HttpCase):
    """A visitor's form posts and the mailed confirmation, for the onboarding tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        configure_saas(cls)
        cls.plan = cls.env.ref("hf_cloud.product_plan_starter")

    def _counts(self):
        return (
            self.env["hf.cloud.instance"].sudo().search_count([]),
            self.env["res.partner"].sudo().search_count([]),
            self.env["sale.order"].sudo().search_count([]),
        )

    def _post(self, **changes):
        data = {**GOOD, "plan": str(self.plan.id), **changes}
        data = {k: v for k, v in data.items() if v is not None}
        self.url_open("/hyperfactory/start")  # a visitor's session
        data["csrf_token"] = self._csrf()
        return self.url_open("/hyperfactory/start", data=data)

    def _csrf(self):
        page = self.url_open("/hyperfactory/start").text
        marker = 'name="csrf_token" value="'
        return page[page.index(marker) + len(marker) :].split('"', 1)[0]

    def assertRefused(self, response, field, fragment):
        self.assertEqual(response.status_code, 200)
        body = response.text
        self.assertIn(f'data-field="{field}"', body, f"no error shown next to {field}")
        self.assertIn(fragment, body)

    def _instance(self, name="Form Test Works"):
        return self.env["hf.cloud.instance"].sudo().search([("name", "=", name)], order="id desc", limit=1)

    def _confirm(self, instance):
        """As the customer does it: open the mailed link, press its button."""
        url = f"/hyperfactory/confirm/{instance.id}/{instance._hf_confirm_token()}"
        page = self.url_open(url)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        self.assertTrue(csrf, page.text[:500])
        return self.url_open(url, data={"csrf_token": csrf.group(1)})

    def _instance_posted(self, **changes):
        response = self._post(**changes)
        self.assertIn("/hyperfactory/status/", response.url)
        return self._instance(changes.get("company_name", "Form Test Works"))


@tagged("post_install", "-at_install")
class TestOnboarding(HfCloudFormCase):
    def test_form_renders(self):
        response = self.url_open("/hyperfactory/start")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Create my Hyperfactory", response.text)
        self.assertIn("Hyperfactory Starter", response.text)

    def test_every_field_validated_and_nothing_created(self):
        before = self._counts()
        cases = [
            ({"company_name": ""}, "company_name", "Company name is required"),
            ({"company_name": "<script>alert(1)</script>"}, "company_name", "may not contain"),
            ({"contact_name": ""}, "contact_name", "Contact name is required"),
            ({"email": "not-an-email"}, "email", "name@example.com"),
            ({"phone": "call me"}, "phone", "phone number"),
            ({"timezone": "Mars/Olympus"}, "timezone", "time zone"),
            ({"site_name": ""}, "site_name", "Site name is required"),
            ({"area_0": "", "line_0": "", "workcenters_0": ""}, "layout", "at least one area"),
            ({"workcenters_0": ""}, "workcenters_0", "at least one workcenter"),
            ({"workcenters_0": "Press 1, press 1"}, "workcenters_0", "already in the layout"),
            ({"device_name_0": ""}, "device_name_0", "Device name is required"),
            ({"device_name_0": "plc<b>"}, "device_name_0", "may not contain"),
            ({"device_protocol_0": "bacnet"}, "device_protocol_0", "OPC UA, Modbus TCP or Siemens S7"),
            ({"device_ip_0": "10.0.0.300"}, "device_ip_0", "IPv4"),
            ({"device_ip_0": "224.0.0.1"}, "device_ip_0", "cannot belong to a device"),
            ({"device_mac_0": "00:1B:44:11:3A"}, "device_mac_0", "MAC address"),
            ({"device_mac_0": "01:00:5e:00:00:01"}, "device_mac_0", "multicast"),
            ({"device_port_0": "70000"}, "device_port_0", "1 to 65535"),
            ({"device_port_0": "abc"}, "device_port_0", "1 to 65535"),
            ({"device_workcenter_0": "Nowhere"}, "device_workcenter_0", "workcenter of the site layout"),
            (
                {
                    "device_name_1": "PRESS1-PLC",
                    "device_protocol_1": "s7",
                    "device_ip_1": "10.0.0.6",
                    "device_workcenter_1": "Press 2",
                },
                "device_name_1",
                "already has the name",
            ),
            (
                {
                    "device_name_1": "other",
                    "device_protocol_1": "modbus",
                    "device_ip_1": "10.0.0.5",
                    "device_port_1": "502",
                    "device_workcenter_1": "Press 2",
                },
                "device_ip_1",
                "already uses",
            ),
            (
                {
                    "device_name_1": "other",
                    "device_protocol_1": "s7",
                    "device_ip_1": "10.0.0.9",
                    "device_mac_1": "00:1b:44:11:3a:b7",
                    "device_workcenter_1": "Press 2",
                },
                "device_mac_1",
                "already has the MAC",
            ),
            ({"plan": "999999"}, "plan", "Choose a plan"),
        ]
        for changes, field, fragment in cases:
            with self.subTest(field=field, changes=changes):
                self.assertRefused(self._post(**changes), field, fragment)
        self.assertEqual(self._counts(), before)

    def test_script_injection_is_never_rendered(self):
        payload = '<script>alert("x")</script>'
        response = self._post(company_name=payload, site_name=payload, device_name_0=payload, area_0=payload)
        self.assertNotIn(payload, response.text)
        self.assertIn("&lt;script&gt;", response.text)

    def test_a_devices_tags_are_pasted_in_the_columns_of_the_tag_import(self):
        """Issue 17, point 7: a tag list per device, checked on the form, provisioned with the device."""
        tags = (
            "name,data_type,role,modbus_table,modbus_address,modbus_type\n"
            "temperature,float,,holding,0,float32\nstate,int,machine_state,holding,4,uint16\n"
        )
        before = self._counts()
        response = self._post(
            device_tags_0="name,data_type,modbus_table,modbus_address,modbus_type\n"
            "temperature,float,holding,zero,float32\n"
        )
        self.assertRefused(response, "device_tags_0", "line 2: modbus_address")
        self.assertIn("temperature,float,holding,zero", response.text)  # kept for the visitor to correct
        self.assertEqual(self._counts(), before)
        instance = self._instance_posted(device_tags_0=tags)
        (device,) = json.loads(instance.spec_json)["devices"]
        self.assertEqual(
            [(t["name"], t.get("role"), t["address"]) for t in device["tags"]],
            [
                ("temperature", None, {"table": "holding", "address": 0, "type": "float32"}),
                ("state", "machine_state", {"table": "holding", "address": 4, "type": "uint16"}),
            ],
        )

    def test_ten_thousand_devices_refused_clearly(self):
        before = self._counts()
        many = {}
        for i in range(10_000):
            many.update(
                {
                    f"device_name_{i}": f"plc{i}",
                    f"device_protocol_{i}": "modbus",
                    f"device_ip_{i}": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                    f"device_workcenter_{i}": "Press 1",
                }
            )
        response = self._post(**many)
        self.assertRefused(response, "devices", "At most 200 devices")
        self.assertEqual(self._counts(), before)

    def test_opening_the_link_alone_confirms_nothing(self):
        """Issue 15: a mail scanner or link preview fetches every link of a mail; only the button confirms."""
        instance = self._instance_posted()
        page = self.url_open(f"/hyperfactory/confirm/{instance.id}/{instance._hf_confirm_token()}")
        self.assertEqual(page.status_code, 200)
        self.assertIn("o_hf_confirm_button", page.text)
        instance.invalidate_recordset()
        self.assertFalse(instance.email_confirmed or instance.db_name or instance.sale_order_id)
        self._confirm(instance)
        instance.invalidate_recordset()
        self.assertTrue(instance.email_confirmed)

    def test_duplicate_company_refused(self):
        self._confirm(self._instance_posted())
        before = self._counts()
        response = self._post(company_name="FORM test works", email="other@formtest.example")
        self.assertRefused(response, "company_name", "already exists")
        self.assertEqual(self._counts(), before)

    def test_submission_waits_for_the_email_then_orders_and_queues(self):
        """Attack 3: nothing is provisioned, sold or reserved before the address is confirmed."""
        response = self._post()
        self.assertIn("/hyperfactory/status/", response.url)
        instance = self._instance()
        self.assertEqual(instance.state, "draft")
        self.assertFalse(instance.email_confirmed or instance.db_name or instance.sale_order_id)
        self.assertEqual(instance.partner_id.email, "ada@formtest.example")
        self.assertEqual(instance.device_count, 1)
        self.assertIn("Check your mailbox", response.text)
        self.assertNotIn('http-equiv="refresh"', response.text)
        mail = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("subject", "ilike", "Confirm your address"),
                    ("model", "=", "hf.cloud.instance"),
                    ("res_id", "=", instance.id),
                ]
            )
        )
        self.assertEqual(len(mail), 1)
        self.assertIn(f"/hyperfactory/confirm/{instance.id}/{instance._hf_confirm_token()}", mail.body_html)
        # a forged token confirms nothing
        self.assertEqual(self.url_open(f"/hyperfactory/confirm/{instance.id}/forged").status_code, 404)
        self.assertFalse(instance.email_confirmed)
        response = self._confirm(instance)
        self.assertIn("/hyperfactory/status/", response.url)
        instance.invalidate_recordset()
        self.assertTrue(instance.email_confirmed)
        self.assertEqual(instance.state, "queued")
        self.assertEqual(instance.db_name, "hf_cloud_t_form_test_works")
        self.assertEqual(instance.sale_order_id.state, "sale")
        self.assertEqual(instance.sale_order_id.order_line.product_id.product_tmpl_id, self.plan)
        self.assertIn('http-equiv="refresh"', response.text)  # the status page refreshes until ready
        # the status page needs the token
        self.assertEqual(self.url_open(f"/hyperfactory/status/{instance.id}?access_token=wrong").status_code, 404)

    def test_company_name_cannot_be_squatted_without_the_email(self):
        """Attack 6: an unconfirmed signup reserves nothing; the first confirmed address gets the name."""
        squatter = self._instance_posted(email="squatter@evil.example")
        owner = self._instance_posted(email="ada@formtest.example")
        self.assertNotEqual(squatter, owner)
        self._confirm(owner)
        owner.invalidate_recordset()
        self.assertEqual(owner.db_name, "hf_cloud_t_form_test_works")
        response = self._confirm(squatter)
        self.assertIn("already exists", response.text)
        squatter.invalidate_recordset()
        self.assertFalse(squatter.email_confirmed or squatter.db_name)

    def test_honeypot(self):
        before = self._counts()
        response = self._post(website_hp="http://spam.example")
        self.assertIn("could not be accepted", response.text)
        self.assertEqual(self._counts(), before)

    def test_csrf_required(self):
        before = self._counts()
        response = self.url_open("/hyperfactory/start", data={**GOOD, "plan": str(self.plan.id)})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self._counts(), before)

    def test_rate_limit_survives_a_refused_submission(self):
        """Attack 3: a submission refused late (company taken) is still counted."""
        self._confirm(self._instance_posted())
        self.env["ir.config_parameter"].sudo().set_param("hf_cloud.rate_limit_per_hour", "3")
        self._post(company_name="FORM test works", email="x1@other.example")  # refused: already exists
        self._post(company_name="FORM test works", email="x2@other.example")
        response = self._post(company_name="Fresh Name Corp", email="x3@other.example")
        self.assertEqual(response.status_code, 429)

    def test_rate_limit_per_email_domain_and_in_total(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("hf_cloud.rate_limit_domain_per_hour", "1")
        self._instance_posted(company_name="Domain One", email="a@flood.example")
        response = self._post(company_name="Domain Two", email="b@FLOOD.example")
        self.assertEqual(response.status_code, 429)
        params.set_param("hf_cloud.rate_limit_domain_per_hour", "100")
        params.set_param("hf_cloud.rate_limit_total_per_hour", "2")  # the one above and this one
        self._instance_posted(company_name="Total Two", email="c@elsewhere.example")
        response = self._post(company_name="Total Three", email="d@another.example")
        self.assertEqual(response.status_code, 429)

    def test_forwarded_for_is_trusted_only_from_configured_proxies(self):
        """Attack 3: under proxy_mode a client cannot pick its address with X-Forwarded-For."""
        self.patch(config, "options", {**config.options, "proxy_mode": True})
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("hf_cloud.rate_limit_per_hour", "2")

        def post(forwarded):
            self.url_open("/hyperfactory/start")
            data = {**GOOD, "company_name": "", "plan": str(self.plan.id), "csrf_token": self._csrf()}
            return self.url_open(
                "/hyperfactory/start",
                data=data,
                headers={"X-Forwarded-For": forwarded, "X-Forwarded-Host": "127.0.0.1", "X-Forwarded-Proto": "http"},
            )

        for i in range(2):
            self.assertEqual(post(f"198.51.100.{i}").status_code, 200)
        self.assertEqual(post("198.51.100.77").status_code, 429)  # same peer, another invented address
        params.set_param("hf_cloud.trusted_proxies", "1")  # now the last entry is the one our proxy saw
        self.assertEqual(post("203.0.113.5, 192.0.2.10").status_code, 200)
        self.assertEqual(post("203.0.113.6, 192.0.2.10").status_code, 200)
        self.assertEqual(post("203.0.113.7, 192.0.2.10").status_code, 429)

    def test_rate_limit_per_address(self):
        self.env["ir.config_parameter"].sudo().set_param("hf_cloud.rate_limit_per_hour", "2")
        self._post(company_name="")
        self._post(company_name="")
        before = self._counts()
        response = self._post(company_name="Rate Limited Corp")
        self.assertEqual(response.status_code, 429)
        self.assertIn("Too many submissions", response.text)
        self.assertEqual(self._counts(), before)
