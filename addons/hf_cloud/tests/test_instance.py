import json

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import HfCloudCommon, spec_dict


@tagged("post_install", "-at_install")
class TestInstance(HfCloudCommon):
    def test_quotas_come_from_the_plan_and_follow_an_upgrade(self):
        instance = self.create_instance()
        self.assertEqual(instance.quota_tags, 250)
        self.assertEqual(instance.quota_retention_days, 30)
        self.assertEqual(instance.db_name, "hf_cloud_t_acme_widgets")
        instance.plan_id = self.plan_factory  # draft: quotas change on the record only
        self.assertEqual(instance.quota_tags, 2500)
        self.assertEqual(instance.quota_samples_per_day, 50_000_000)

    def test_ziti_not_configured_without_controller(self):
        self.assertEqual(self.create_instance().ziti_status, "not configured")

    def test_duplicate_company_refused(self):
        self.create_instance()
        with self.assertRaisesRegex(ValidationError, "already exists"):
            self.create_instance(company="ACME  widgets")

    def test_invalid_spec_refused(self):
        with self.assertRaisesRegex(ValidationError, "not valid"):
            self.env["hf.cloud.instance"].create(
                {
                    "name": "Bad Corp",
                    "partner_id": self.partner.id,
                    "plan_id": self.plan.id,
                    "spec_json": json.dumps(
                        spec_dict(
                            "Bad Corp",
                            devices=[{"name": "x", "protocol": "bacnet", "ip": "1.2.3.4", "workcenter": "Press 1"}],
                        )
                    ),
                }
            )

    def test_provision_queues_and_triggers_the_cron(self):
        instance = self.create_instance()
        cron = self.env.ref("hf_cloud.ir_cron_hf_cloud_provision")
        before = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        instance.action_provision()
        self.assertEqual(instance.state, "queued")
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), before + 1)
        with self.assertRaisesRegex(UserError, "only draft or failed"):
            instance.action_provision()

    def test_lifecycle_refused_in_wrong_state(self):
        instance = self.create_instance()
        with self.assertRaisesRegex(UserError, "cannot be changed now"):
            instance.action_suspend()
        with self.assertRaisesRegex(UserError, "cannot be changed now"):
            instance.action_resume()

    def test_portal_user_sees_only_own_instances(self):
        mine = self.create_instance()
        other_partner = self.env["res.partner"].create({"name": "Bob", "email": "bob@other.example"})
        other = self.env["hf.cloud.instance"].create(
            {
                "name": "Other Corp",
                "partner_id": other_partner.id,
                "plan_id": self.plan.id,
                "spec_json": json.dumps(spec_dict("Other Corp")),
            }
        )
        portal_user = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "Ada",
                    "login": "ada-portal",
                    "partner_id": self.partner.id,
                    "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
                }
            )
        )
        visible = self.env["hf.cloud.instance"].with_user(portal_user).search([])
        self.assertEqual(visible, mine)
        with self.assertRaises(AccessError):
            other.with_user(portal_user).read(["name"])
        with self.assertRaises(AccessError):
            mine.with_user(portal_user).write({"name": "Hacked"})
        # the specification (contact data, addresses) is for managers only
        with self.assertRaises(AccessError):
            mine.with_user(portal_user).read(["spec_json"])

    def test_demo_payment_provider_is_installed_disabled(self):
        # payment_demo accepts any card: hf_cloud depends on it for its tests, never offers it by itself
        demo = self.env.ref("payment.payment_provider_demo")
        self.assertEqual(demo.state, "disabled")
        self.assertFalse(demo.is_published)
