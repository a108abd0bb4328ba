"""Issue 17: per-edge OpenZiti identities, asked for by the tenant's own Odoo.

End to end on real Odoo and real HTTP: the tenant's administrator clicks Enroll, Re-issue and Revoke on an edge
(hf_cloud_tenant); the tenant's Odoo posts to the operator's route with its tenant key; the operator (hf_cloud)
resolves the key to its instance and calls the provisioner, whose ZitiClient talks to a test controller that
speaks the Edge Management API and validates every request against the published specification
(tests/support/ziti_controller.py). Both sides live in this one test database (the operator's instance
records and the tenant's edges), as ``make test`` installs every addon; the operator's Odoo is reached at this
test server's own URL."""

import importlib.util
import json
import logging
import sys
import unittest
from unittest.mock import patch

import requests

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, new_test_user, tagged
from odoo.tests.common import HOST
from odoo.tools import config, mute_logger

from hf_saas.registry import TenantRecord
from hf_saas.ziti import MISSING, PENDING

from .common import REPO, TEST_PREFIX, configure_saas, set_environ, spec_dict

_spec = importlib.util.spec_from_file_location("ziti_controller", REPO / "tests" / "support" / "ziti_controller.py")
ziti_controller = sys.modules.setdefault("ziti_controller", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(ziti_controller)


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@tagged("post_install", "-at_install")
class TestZitiFromTheTenant(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "hf.uns.edge" not in cls.env or "ziti_status" not in cls.env["hf.uns.edge"]._fields:
            raise unittest.SkipTest("hf_cloud_tenant is not installed in this database (make test installs it)")
        configure_saas(cls)
        cls.controller = ziti_controller.TestController(ziti_controller.load_spec())
        cls.controller.__enter__()
        cls.addClassCleanup(cls.controller.__exit__, None, None, None)
        set_environ(
            cls,
            {
                "HF_SAAS_ZITI_URL": cls.controller.url,
                "HF_SAAS_ZITI_USER": cls.controller.username,
                "HF_SAAS_ZITI_PASSWORD": cls.controller.password,
            },
        )
        cls.provisioner = cls.env["hf.cloud.instance"]._hf_provisioner()
        plan = cls.env.ref("hf_cloud.product_plan_starter")
        cls.instances = {}
        for slug in ("zita", "zitb"):
            db = f"{TEST_PREFIX}{slug}"
            cls.provisioner.registry.save(TenantRecord(db=db, slug=slug, company=slug, state="ready"))
            cls.addClassCleanup(cls.provisioner.registry.forget, db)
            partner = cls.env["res.partner"].create({"name": f"Ada {slug}", "email": f"ada@{slug}.example"})
            instance = (
                cls.env["hf.cloud.instance"]
                ._hf_as_provisioner()
                .create(
                    {
                        "name": slug.capitalize(),
                        "partner_id": partner.id,
                        "plan_id": plan.id,
                        "spec_json": json.dumps(spec_dict(slug.capitalize())),
                        "state": "ready",
                        "db_name": db,
                    }
                )
            )
            cls.instances[slug] = (instance, instance._hf_new_tenant_key())
        # this database plays tenant A: its parameters hold A's key and the operator's URL (this server)
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("hf_cloud.operator_url", f"http://{HOST}:{config['http_port']}")
        params.set_param("hf_cloud.operator_key", cls.instances["zita"][1])
        cls.site = cls.env["hf.uns.site"].create({"name": "Berlin", "segment": "berlin"})
        cls.edge = cls.env["hf.uns.edge"].create({"name": "line1-edge", "site_id": cls.site.id})
        cls.admin = new_test_user(cls.env, login="zita-admin", groups="base.group_user,hf_uns.group_hf_admin")
        cls.engineer = new_test_user(cls.env, login="zita-engineer", groups="base.group_user,hf_uns.group_hf_engineer")

    def setUp(self):
        super().setUp()
        # the registry and the controller live outside the test's transaction: each test starts them afresh
        for slug in ("zita", "zitb"):
            db = f"{TEST_PREFIX}{slug}"
            self.provisioner.registry.save(TenantRecord(db=db, slug=slug, company=slug, state="ready"))
        self.controller.state = ziti_controller.ControllerState()
        # the operator's Odoo serves one database (its dbfilter), so a request without a session reaches it
        patcher = patch.dict(config.options, {"dbfilter": f"^{self.env.cr.dbname}$"})
        patcher.start()
        self.addCleanup(patcher.stop)
        self.logs = _Capture()
        logging.getLogger().addHandler(self.logs)
        self.addCleanup(logging.getLogger().removeHandler, self.logs)

    def _token(self, action):
        wizard = Form(self.env["hf.cloud.edge.enrollment"].with_user(self.admin).with_context(**action["context"]))
        self.assertFalse(action.get("res_id"))
        return wizard.jwt

    def _post(self, key, payload):
        self.env.flush_all()  # the request's cursor sees what this test wrote
        return requests.post(
            f"{self.base_url()}/hyperfactory/tenant/ziti",
            json=payload,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )

    def _assert_secret_nowhere(self, secret):
        self.assertFalse(self.env["hf.cloud.edge.enrollment"].search([("jwt", "=", secret)]), "no record holds it")
        for message in self.logs.messages:
            self.assertNotIn(secret, message, "a token or key was logged")

    def test_enroll_reissue_revoke_from_the_tenant(self):
        edge = self.edge.with_user(self.admin)
        jwt = self._token(edge.action_hf_ziti_enroll())
        self.assertEqual(jwt.count("."), 2, "a JWT")
        identity = self.controller.identity_named("zita-line1-edge")
        self.assertTrue(identity, "an identity per edge, named by the tenant and the edge")
        self.assertEqual(identity["roleAttributes"], ["zita-edges"])
        self.edge.invalidate_recordset()
        self.assertEqual(self.edge.ziti_status, PENDING)
        self.assertEqual(self.edge.ziti_identity, "zita-line1-edge")
        operator_edge = self.instances["zita"][0].edge_ids
        operator_edge.invalidate_recordset()
        self.assertEqual(operator_edge.identity_id, identity["id"])
        self._assert_secret_nowhere(jwt)

        # a second Enroll is refused (the identity exists): re-issuing is the way to a new token
        with self.assertRaisesRegex(UserError, "re-issue"):
            edge.action_hf_ziti_enroll()

        # the edge enrolls with it; the status says so
        self.controller.enroll(jwt)
        edge.action_hf_ziti_refresh()
        self.edge.invalidate_recordset()
        self.assertEqual(self.edge.ziti_status, "enrolled")

        # re-issue: a new token, the enrolled certificate no longer works, the old token neither
        new_jwt = self._token(edge.action_hf_ziti_reissue())
        self.assertNotEqual(new_jwt, jwt)
        self.assertFalse(
            [a for a in self.controller.state.authenticators.values() if a["identityId"] == identity["id"]]
        )
        with self.assertRaises(LookupError):
            self.controller.enroll(jwt)
        self.controller.enroll(new_jwt)
        self._assert_secret_nowhere(new_jwt)

        # revoke: the identity is deleted on the controller
        edge.action_hf_ziti_revoke()
        self.assertIsNone(self.controller.identity_named("zita-line1-edge"))
        self.edge.invalidate_recordset()
        self.assertEqual(self.edge.ziti_status, "revoked")
        operator_edge.invalidate_recordset()
        self.assertEqual((operator_edge.state, operator_edge.identity_id), ("revoked", False))
        self.assertEqual(self.provisioner.ziti_client().edge_status(identity["id"]), MISSING)

        # and the edge can be enrolled again, with a new identity
        again = self._token(edge.action_hf_ziti_enroll())
        self.assertNotEqual(self.controller.identity_named("zita-line1-edge")["id"], identity["id"])
        self._assert_secret_nowhere(again)
        self._assert_secret_nowhere(self.instances["zita"][1])
        self.assertFalse(self.controller.state.refused, self.controller.state.refused)

    def test_only_an_administrator_enrolls(self):
        before = len(self.controller.state.requests)
        with self.assertRaises(AccessError):
            self.edge.with_user(self.engineer).action_hf_ziti_enroll()
        self.assertEqual(len(self.controller.state.requests), before, "refused before anything was asked")

    def test_another_tenants_key_cannot_touch_the_first_tenants_edges(self):
        self._token(self.edge.with_user(self.admin).action_hf_ziti_enroll())
        identity = self.controller.identity_named("zita-line1-edge")
        enrollments = dict(self.controller.state.enrollments)
        instance_b, key_b = self.instances["zitb"]
        for action in ("reissue", "revoke"):
            response = self._post(key_b, {"action": action, "edge": "line1-edge"})
            self.assertEqual(response.status_code, 404, response.text)
        status = self._post(key_b, {"action": "status"}).json()
        self.assertEqual(status, {"edges": []}, "B sees none of A's edges")
        # B enrolling an edge of the same name gets its own identity, under its own roles
        made = self._post(key_b, {"action": "enroll", "edge": "line1-edge"}).json()
        self.assertEqual(made["identity"], "zitb-line1-edge")
        self.assertEqual(self.controller.identity_named("zitb-line1-edge")["roleAttributes"], ["zitb-edges"])
        self.assertEqual(self.controller.identity_named("zita-line1-edge"), identity, "A's identity untouched")
        for enrollment_id, enrollment in enrollments.items():
            self.assertEqual(self.controller.state.enrollments.get(enrollment_id), enrollment, "A's token still valid")
        # the record rule itself: B's tenant user reaches B's edges only
        edges_as_b = self.env["hf.cloud.edge"].with_user(instance_b.sudo().tenant_user_id)
        self.assertEqual(edges_as_b.search([]).instance_id, instance_b)
        edge_a = self.instances["zita"][0].sudo().edge_ids
        with self.assertRaises(AccessError):
            edge_a.with_user(instance_b.sudo().tenant_user_id).write({"ziti_status": "x"})
        with self.assertRaises(AccessError):
            edge_a.with_user(instance_b.sudo().tenant_user_id).read(["identity_id"])

    @mute_logger("odoo.addons.hf_cloud.models.hf_cloud_edge")
    def test_refused_requests(self):
        self.assertEqual(self._post("x" * 43, {"action": "status"}).status_code, 401)
        self.assertEqual(self._post("", {"action": "status"}).status_code, 401)
        key = self.instances["zita"][1]
        self.assertEqual(self._post(key, {"action": "drop"}).status_code, 400)
        self.assertEqual(self._post(key, {"action": "enroll", "edge": "a/b"}).status_code, 400)
        self.assertEqual(self._post(key, ["enroll"]).status_code, 400)
        # a suspended instance's edges are not changed
        instance = self.instances["zita"][0]
        instance._hf_as_provisioner().write({"state": "suspended"})
        self.assertEqual(self._post(key, {"action": "enroll", "edge": "x"}).status_code, 409)
        instance._hf_as_provisioner().write({"state": "ready"})
        # rate-limited per instance
        self.env["ir.config_parameter"].sudo().set_param("hf_cloud.tenant_api_per_hour", "3")
        codes = [self._post(key, {"action": "status"}).status_code for _i in range(6)]
        self.assertIn(429, codes)
        self.assertFalse(self.controller.state.refused)

    def test_a_tenant_key_is_stored_hashed_and_replaced(self):
        instance, key = self.instances["zitb"]
        self.assertNotIn(key, instance.sudo().tenant_key_hash)
        self.assertEqual(self._post(key, {"action": "status"}).status_code, 200)
        instance._hf_new_tenant_key()
        self.assertEqual(self._post(key, {"action": "status"}).status_code, 401, "the old key stops working")
        with self.assertRaisesRegex(UserError, "provisioner only"):
            self.env["hf.cloud.instance"].browse(instance.id).write({"tenant_key_hash": "0" * 64})
