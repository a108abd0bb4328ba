import json
import xmlrpc.client
from contextlib import closing

import psycopg2

from odoo.tests import tagged

from hf_saas import db as pg

from .common import HfCloudProvisionCase


@tagged("post_install", "-at_install")
class TestProvision(HfCloudProvisionCase):
    """The form, filled in Chromium by a visitor, provisions a real tenant database."""

    def test_tour_submit_then_provision(self):
        db = "hf_cloud_t_tour_plant_gmbh"
        self._cleanup(db)
        self.addCleanup(self._cleanup, db)
        self.start_tour("/hyperfactory/start", "hf_cloud_onboarding", login=None)
        instance = self.env["hf.cloud.instance"].sudo().search([("name", "=", "Tour Plant GmbH")])
        self.assertEqual(instance.state, "draft")  # until the address is confirmed
        self.assertTrue(instance._hf_confirm_email(instance._hf_confirm_token()))
        self.assertEqual(instance.state, "queued")
        self.assertEqual(len(json.loads(instance.spec_json)["devices"]), 3)
        self.assertEqual(instance.ziti_status, "not configured")

        self.assertTrue(instance._hf_provision(), instance.state_message)
        self.assertEqual(instance.state, "ready")
        self.assertEqual(instance.db_name, db)
        self.assertEqual(instance.admin_login, "tina@tour-plant.example")
        mail = self.env["mail.mail"].sudo().search([("subject", "ilike", "Tour Plant GmbH is ready")])
        self.assertEqual(len(mail), 1)
        recipients = [
            *mail.recipient_ids.mapped("email"),
            mail.email_to or "",
            *mail.mail_message_id.partner_ids.mapped("email"),
        ]
        self.assertTrue(any("tina@tour-plant.example" in r for r in recipients), recipients)
        self.assertIn("tina@tour-plant.example", mail.body_html)  # the login
        self.assertIn("reset_password", mail.body_html)  # a one-time link to choose the password
        with closing(psycopg2.connect(**self.settings.dsn(db))) as conn, conn.cursor() as cr:
            cr.execute(
                "SELECT d.name, d.protocol, d.host, d.port, d.mac_address, w.name FROM hf_uns_device d "
                "JOIN mrp_workcenter w ON w.id = d.workcenter_id ORDER BY d.name"
            )
            devices = cr.fetchall()
            cr.execute("SELECT hf_uns_path FROM mrp_workcenter WHERE hf_uns_path IS NOT NULL ORDER BY 1")
            paths = [r[0] for r in cr.fetchall()]
            cr.execute(
                "SELECT p.tz FROM res_users u JOIN res_partner p ON p.id = u.partner_id WHERE u.login = %s",
                ("tina@tour-plant.example",),
            )
            tz = cr.fetchone()[0]
        self.assertEqual(
            devices,
            [
                ("conveyor-modbus", "modbus", "192.168.10.30", 502, None, "Robot 2"),
                ("robot1-plc", "s7", "192.168.10.21", 102, "00:1b:44:11:3a:b8", "Robot 1"),
                ("robot2-opc", "opcua", "fd00::21", 4841, None, "Robot 2"),
            ],
        )
        self.assertEqual(
            paths, ["tour_plant_gmbh/Linz/Assembly/Line_A/Robot_1", "tour_plant_gmbh/Linz/Assembly/Line_A/Robot_2"]
        )
        self.assertEqual(tz, "Europe/Vienna")
        self.assertGreater(instance.usage_db_size_mb, 1)

        # the portal page and the bundle, as the customer
        portal = (
            self.env["res.users"]
            .sudo()
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "Tina",
                    "login": "tina-portal",
                    "password": "tina-portal-pw",
                    "partner_id": instance.partner_id.id,
                    "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
                }
            )
        )
        self.authenticate(portal.login, "tina-portal-pw")
        page = self.url_open("/my/instances").text
        self.assertIn("Tour Plant GmbH", page)
        bundle = self.url_open(f"/my/instances/{instance.id}/bundle", timeout=120)  # new secrets: an Odoo run
        self.assertEqual(bundle.headers["Content-Type"], "application/zip")
        self.assertGreater(len(bundle.content), 500)

        # XML-RPC automation: suspend, resume (idempotent states), as the operator
        models = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.http_port()}/xmlrpc/2/object", allow_none=True)
        uid = self.env.ref("base.user_admin").id
        self.env.ref("base.user_admin").password = "admin-test-pw"

        def call(method):
            return models.execute_kw(
                self.env.cr.dbname, uid, "admin-test-pw", "hf.cloud.instance", method, [[instance.id]]
            )

        self.assertTrue(call("action_suspend"))
        instance.invalidate_recordset()  # the XML-RPC request wrote through another environment
        self.assertEqual(instance.state, "suspended")
        self.assertFalse(pg.allows_connections(self.settings, db))
        self.assertTrue(call("action_resume"))
        instance.invalidate_recordset()
        self.assertEqual(instance.state, "ready")
        self.assertTrue(pg.allows_connections(self.settings, db))

        instance.action_delete(confirm=db)
        self.assertEqual(instance.state, "deleted")
        self.assertFalse(pg.exists(self.settings, db))
        self.assertIn("final backup", instance.state_message)

    def test_xmlrpc_create_and_provision(self):
        models = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.http_port()}/xmlrpc/2/object", allow_none=True)
        admin = self.env.ref("base.user_admin")
        admin.password = "admin-test-pw"
        partner = self.env["res.partner"].create({"name": "Rpc Buyer", "email": "rpc@buyer.example"})
        from .common import spec_dict

        plan = self.env.ref("hf_cloud.product_plan_factory")
        instance_id = models.execute_kw(
            self.env.cr.dbname,
            admin.id,
            "admin-test-pw",
            "hf.cloud.instance",
            "create",
            [
                {
                    "name": "Rpc Buyer",
                    "partner_id": partner.id,
                    "plan_id": plan.id,
                    "spec_json": json.dumps(spec_dict("Rpc Buyer")),
                }
            ],
        )
        self.assertTrue(
            models.execute_kw(
                self.env.cr.dbname, admin.id, "admin-test-pw", "hf.cloud.instance", "action_provision", [[instance_id]]
            )
        )
        instance = self.env["hf.cloud.instance"].browse(instance_id)
        self.assertEqual(instance.state, "queued")
        self.assertEqual(instance.quota_tags, 2500)
