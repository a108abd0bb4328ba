"""Issue 15: the attacks on hyperfactory-cloud, each against a real tenant (real Odoo, PostgreSQL, Mosquitto)."""

import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from odoo import http
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from hf_saas import db as pg
from hf_saas.provision import Provisioner
from hf_saas.settings import Settings
from hf_saas.spec import Quotas, parse_spec

from .common import TEST_PREFIX, configure_saas, drop_tenant, mqtt_connects, set_environ, spec_dict, start_mosquitto

_TEMPLATE_BUILT = []


def bundle_secrets(data):
    """The API key and the broker user/password inside an edge bundle."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        env_name = next(n for n in archive.namelist() if n.endswith("/.env"))
        lines = dict(
            line.split("=", 1)
            for line in archive.read(env_name).decode().splitlines()
            if "=" in line and not line.startswith("#")
        )
    credentials = lines["HF_COLLECTOR_MQTT_URL"].split("://", 1)[1].rsplit("@", 1)[0]
    username, password = credentials.split(":", 1)
    return {"api_key": lines["HF_COLLECTOR_API_KEY"], "username": username, "password": password}


class HfCloudTenantCase(HttpCase):
    """One real tenant per class, provisioned by hf_saas from the shared template, with a private broker."""

    company = "Attack Target"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        configure_saas(cls)
        cls.broker = start_mosquitto(cls)
        set_environ(
            cls,
            {
                "HF_SAAS_MOSQUITTO_DIR": cls.broker["dir"],
                "HF_SAAS_MOSQUITTO_PIDFILE": cls.broker["pidfile"],
                "HF_SAAS_MQTT_URL": f"mqtt://127.0.0.1:{cls.broker['port']}",
            },
        )
        cls.provisioner = Provisioner(Settings.load())
        if not _TEMPLATE_BUILT:  # once per run: the addons change under other engineers' hands meanwhile
            cls.provisioner.build_template()  # no-op while the tenant addons are unchanged
            _TEMPLATE_BUILT.append(True)
        cls.settings = cls.provisioner.settings
        data = spec_dict(cls.company)
        data["plan"] = cls.env.ref("hf_cloud.product_plan_starter")._hf_quotas()
        spec = parse_spec(data)
        cls.db = cls.provisioner.db_name(spec)
        cls._drop_tenant(cls.db)
        cls.addClassCleanup(cls._drop_tenant, cls.db)
        cls.result = cls.provisioner.create(spec)
        cls.plan = cls.env.ref("hf_cloud.product_plan_starter")
        cls.customer = cls.env["res.partner"].create({"name": "Ada Target", "email": "ada@attack-target.example"})
        cls.instance = cls.env["hf.cloud.instance"].create(
            {"name": cls.company, "partner_id": cls.customer.id, "plan_id": cls.plan.id}
        )
        # what the provisioner itself records once the tenant is made
        cls.env.cr.execute(
            "UPDATE hf_cloud_instance SET db_name = %s, state = 'ready', url = %s WHERE id = %s",
            (cls.db, cls.result.url, cls.instance.id),
        )
        cls.instance.invalidate_recordset()
        users = cls.env["res.users"].with_context(no_reset_password=True)
        cls.cloud_user = users.create(
            {
                "name": "Rita Readonly",
                "login": "rita-readonly",
                "password": "rita-readonly-pw",
                "groups_id": [(6, 0, [cls.env.ref("hf_cloud.group_hf_cloud_user").id])],
            }
        )
        cls.portal_user = users.create(
            {
                "name": "Ada Target",
                "login": "ada-target",
                "password": "ada-target-pw",
                "partner_id": cls.customer.id,
                "groups_id": [(6, 0, [cls.env.ref("base.group_portal").id])],
            }
        )
        cls.manager = users.create(
            {
                "name": "Max Manager",
                "login": "max-manager",
                "password": "max-manager-pw",
                "groups_id": [(6, 0, [cls.env.ref("hf_cloud.group_hf_cloud_manager").id])],
            }
        )

    @classmethod
    def _drop_tenant(cls, db):
        drop_tenant(cls.provisioner, db)

    def backups(self):
        return list(self.provisioner.registry.get(self.db).backups)


@tagged("post_install", "-at_install")
class TestLifecycleAccess(HfCloudTenantCase):
    """Attack 2: nobody without write access and the manager group reaches the provisioner."""

    def test_read_only_cloud_user_cannot_suspend_backup_or_delete(self):
        instance = self.instance.with_user(self.cloud_user)
        backups = self.backups()
        for method in ("action_suspend", "action_backup", "action_delete"):
            with self.subTest(method=method), self.assertRaises(AccessError):
                getattr(instance, method)()
        self.assertTrue(pg.exists(self.settings, self.db))
        self.assertTrue(pg.allows_connections(self.settings, self.db))
        self.assertEqual(self.backups(), backups)
        self.assertTrue(self.provisioner.broker.has_tenant(self.db))

    def test_portal_customer_cannot_resume_a_suspended_instance(self):
        self.instance.with_user(self.manager).action_suspend()
        self.addCleanup(self.provisioner.resume, self.db)
        self.assertFalse(pg.allows_connections(self.settings, self.db))
        with self.assertRaises(AccessError):
            self.instance.with_user(self.portal_user).action_resume()
        self.assertFalse(pg.allows_connections(self.settings, self.db))
        self.assertEqual(self.instance.state, "suspended")

    def test_manager_delete_needs_confirmation(self):
        backups = self.backups()
        with self.assertRaisesRegex(UserError, "type its database name"):
            self.instance.with_user(self.manager).action_delete()
        with self.assertRaisesRegex(UserError, "type its database name"):
            self.instance.with_user(self.manager).action_delete(confirm="hf_cloud_t_someone_else")
        self.assertTrue(pg.exists(self.settings, self.db))
        self.assertEqual(self.backups(), backups)


@tagged("post_install", "-at_install")
class TestDeleteTenant(HfCloudTenantCase):
    company = "Doomed Plant"

    def test_manager_deletes_with_confirmation_keeping_a_backup_logged_by_name(self):
        backups = self.backups()
        instance = self.instance.with_user(self.manager)
        with self.assertRaises(AccessError):  # a cloud user, even confirming, is not a manager
            self.instance.with_user(self.cloud_user).action_delete(confirm=self.db)
        self.assertTrue(pg.exists(self.settings, self.db))
        instance.with_context(hf_delete_confirm=self.db).action_delete()
        self.assertEqual(self.instance.state, "deleted")
        self.assertFalse(pg.exists(self.settings, self.db))
        final = self.backups()
        self.assertEqual(len(final), len(backups) + 1)
        self.assertIn("final backup", self.instance.state_message)
        log = self.instance.message_ids.filtered(lambda m: "deleted by" in (m.body or ""))
        self.assertTrue(log, self.instance.message_ids.mapped("body"))
        self.assertIn("Max Manager", log[0].body)


@tagged("post_install", "-at_install")
class TestBundleAndPlan(HfCloudTenantCase):
    """Attack 5: the bundle is the customer's (and managers'), rotated on each download; upgrades are sold."""

    company = "Bundle Owner"

    def _bundle(self, login):
        self.authenticate(login, f"{login}-pw")
        return self.url_open(f"/my/instances/{self.instance.id}/bundle", allow_redirects=False, timeout=120)

    def test_read_only_cloud_user_cannot_download_the_bundle(self):
        response = self._bundle("rita-readonly")
        self.assertNotEqual(response.headers.get("Content-Type"), "application/zip")
        self.assertNotIn(b"HF_COLLECTOR_API_KEY", response.content)

    def test_download_again_rotates_the_broker_password(self):
        first = self._bundle("ada-target")
        self.assertEqual(first.headers["Content-Type"], "application/zip")
        old = bundle_secrets(first.content)
        self.assertTrue(mqtt_connects(self.broker["port"], old["username"], old["password"]))
        second = self._bundle("ada-target")
        new = bundle_secrets(second.content)
        self.assertNotEqual(new["password"], old["password"])
        self.assertNotEqual(new["api_key"], old["api_key"])
        self.assertFalse(mqtt_connects(self.broker["port"], old["username"], old["password"]))
        self.assertTrue(mqtt_connects(self.broker["port"], new["username"], new["password"]))
        manager = self._bundle("max-manager")
        self.assertEqual(manager.headers["Content-Type"], "application/zip")

    def _upgrade(self, plan):
        self.authenticate("ada-target", "ada-target-pw")
        return self.url_open(
            f"/my/instances/{self.instance.id}/upgrade",
            allow_redirects=False,
            data={"plan_id": str(plan.id), "csrf_token": http.Request.csrf_token(self)},
        )

    def test_upgrade_refuses_a_plan_not_for_sale(self):
        hidden = self.env.ref("hf_cloud.product_plan_factory").copy(
            {"name": "Secret unlimited", "hf_plan_code": "secret", "hf_quota_tags": 1_000_000, "sale_ok": False}
        )
        inactive = hidden.copy({"name": "Old plan", "hf_plan_code": "old", "sale_ok": True, "active": False})
        orders = self.env["sale.order"].search_count([])
        quotas = self.provisioner.usage(self.db)["quotas"]
        for plan in (hidden, inactive):
            self._upgrade(plan)
            self.instance.invalidate_recordset()
            self.assertEqual(self.instance.plan_id, self.plan)
            self.assertEqual(self.instance.quota_tags, self.plan.hf_quota_tags)
        self.assertEqual(self.env["sale.order"].search_count([]), orders)
        self.assertEqual(self.provisioner.usage(self.db)["quotas"], quotas)

    def test_upgrade_makes_a_sale_order_and_quotas_follow_its_confirmation(self):
        factory = self.env.ref("hf_cloud.product_plan_factory")
        # the tenant's quotas live outside this test's transaction: put the plan's back afterwards
        self.addCleanup(self.provisioner.set_quotas, self.db, Quotas.from_dict(self.plan._hf_quotas()), "starter")
        self._upgrade(factory)
        self.instance.invalidate_recordset()
        self.assertEqual(self.instance.plan_id, self.plan)  # nothing changes before the order is confirmed
        self.assertEqual(self.provisioner.usage(self.db)["quotas"]["tags"], self.plan.hf_quota_tags)
        order = self.env["sale.order"].search([("hf_upgrade_instance_id", "=", self.instance.id)])
        self.assertEqual(len(order), 1)
        self.assertEqual(order.partner_id, self.customer)
        self.assertEqual(order.order_line.product_id, factory.product_variant_id)
        order.action_confirm()
        self.assertEqual(self.instance.plan_id, factory)
        self.assertEqual(self.instance.quota_tags, factory.hf_quota_tags)
        self.assertEqual(self.provisioner.usage(self.db)["quotas"]["tags"], factory.hf_quota_tags)


@tagged("post_install", "-at_install")
class TestProvisionerTrust(HfCloudTenantCase):
    """Attack 1: no database steers the provisioner, nobody but the provisioner sets what it trusts."""

    company = "Trusted Fields"

    def test_system_parameters_do_not_steer_the_provisioner(self):
        params = self.env["ir.config_parameter"].sudo()
        for key, value in (
            ("hf_cloud.saas_state_dir", "/tmp/hf-attacker"),
            ("hf_cloud.saas_db_prefix", "evil_"),
            ("hf_cloud.saas_template_db", "evil_template"),
            ("hf_cloud.ziti_url", "https://attacker.example/edge/management/v1"),
        ):
            params.set_param(key, value)
        settings = self.env["hf.cloud.instance"]._hf_settings()
        self.assertEqual(str(settings.state_dir), str(self.settings.state_dir))
        self.assertEqual(settings.db_prefix, TEST_PREFIX)
        self.assertEqual(settings.template_db, self.settings.template_db)
        self.assertFalse(settings.ziti_url)

    def test_trusted_fields_are_not_writable_through_the_orm(self):
        instances = self.env["hf.cloud.instance"].with_user(self.manager)
        with self.assertRaises(UserError):
            instances.create(
                {"name": "Squatter", "partner_id": self.customer.id, "plan_id": self.plan.id, "db_name": self.db}
            )
        with self.assertRaises(UserError):
            instances.create(
                {"name": "Squatter", "partner_id": self.customer.id, "plan_id": self.plan.id, "state": "ready"}
            )
        other = instances.create({"name": "Other Plant", "partner_id": self.customer.id, "plan_id": self.plan.id})
        for vals in ({"db_name": self.db}, {"state": "ready"}, {"url": "https://attacker.example"}):
            with self.subTest(vals=vals), self.assertRaises(UserError):
                other.write(vals)
        with self.assertRaises(UserError):
            self.instance.sudo().write({"db_name": TEST_PREFIX + "victim"})
        self.assertEqual(other.db_name, TEST_PREFIX + "other_plant")

    def test_broker_users_are_keyed_by_database(self):
        record = self.provisioner.registry.get(self.db)
        self.assertEqual(sorted(record.mqtt_users), [f"{self.db}-edge", f"{self.db}-ingest"])
        self.assertTrue(self.provisioner.broker.has_tenant(self.db))

    def test_tenant_database_knows_no_operator_addon(self):
        conn = pg.connect(self.settings, self.db)
        try:
            with conn.cursor() as cr:
                cr.execute("SELECT name FROM ir_module_module WHERE name = 'hf_cloud'")
                self.assertEqual(cr.fetchall(), [])
        finally:
            conn.close()
        self.assertNotIn("hf_cloud,", self.settings.full_addons_path + ",")
        for root in self.settings.full_addons_path.split(","):
            self.assertFalse((Path(root) / "hf_cloud" / "__manifest__.py").exists(), root)


@tagged("post_install", "-at_install")
class TestSmallLeaks(HttpCase):
    """Attack 6: the public status page shows what happened, never a subprocess's output."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        configure_saas(cls)

    def test_status_page_shows_no_subprocess_stderr(self):
        fake_python = Path(tempfile.mkdtemp(prefix="hf_cloud_leak_")) / "python"
        self.addCleanup(shutil.rmtree, fake_python.parent, ignore_errors=True)
        fake_python.write_text("#!/bin/sh\necho 'Traceback: db_password=SECRET-STDERR-42' >&2\nexit 3\n")
        fake_python.chmod(0o755)
        partner = self.env["res.partner"].create({"name": "Lea Leak", "email": "lea@leaky-plant.example"})
        instance = self.env["hf.cloud.instance"].create(
            {
                "name": "Leaky Plant",
                "partner_id": partner.id,
                "plan_id": self.env.ref("hf_cloud.product_plan_starter").id,
                "spec_json": json.dumps(spec_dict("Leaky Plant")),
            }
        )
        instance._portal_ensure_token()
        self.addCleanup(os.environ.pop, "HF_SAAS_PYTHON", None)
        os.environ["HF_SAAS_PYTHON"] = str(fake_python)  # the tenant setup step runs this and fails
        self.assertFalse(instance._hf_provision())
        os.environ.pop("HF_SAAS_PYTHON")
        self.assertEqual(instance.state, "failed")
        page = self.url_open(f"/hyperfactory/status/{instance.id}?access_token={instance.access_token}").text
        self.assertIn("could not create your instance", page)
        self.assertNotIn("SECRET-STDERR", page)
        self.assertNotIn("SECRET-STDERR", instance.state_message)
