import math
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, tagged

from .common import HfScreensCommon, create_workorder

TOKEN_HEADER = "X-HF-Kiosk-Token"


@tagged("post_install", "-at_install")
class TestKioskController(HttpCase, HfScreensCommon):
    """The kiosk's routes over real HTTP: token checks, refusals, operator actions."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kiosk = cls.env["hf.screen.kiosk"].create({"workcenter_id": cls.workcenter.id, "user_id": cls.operator.id})
        cls.saw = cls.create_workcenter("Saw 9", "saw9")
        cls.saw_kiosk = cls.env["hf.screen.kiosk"].create({"workcenter_id": cls.saw.id, "user_id": cls.operator.id})

    def kiosk_call(self, kiosk, route, params=None):
        """A JSON request of the kiosk client: the token in its header, never in the URL."""
        return self.make_jsonrpc_request(f"/hf/kiosk/{route}", params or {}, headers={TOKEN_HEADER: kiosk.sudo().token})

    def test_page_shows_its_workcenter(self):
        response = self.url_open(f"/hf/kiosk/{self.kiosk.token}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Press 1", response.text)
        self.assertIn("hf_screens.assets_kiosk", response.text)
        data = self.kiosk_call(self.kiosk, "data")
        self.assertTrue(data["ok"])
        self.assertEqual(data["screen"]["workcenter"]["name"], "Press 1")
        self.assertTrue(self.workcenter.hf_screen_ids, "the first visit generates the default screen")

    def test_unknown_and_revoked_tokens(self):
        response = self.url_open("/hf/kiosk/not-a-token")
        self.assertEqual(response.status_code, 404)
        self.assertIn("not valid", response.text)
        self.assertNotIn("Traceback", response.text)
        self.kiosk.action_revoke()
        response = self.url_open(f"/hf/kiosk/{self.kiosk.token}")
        self.assertEqual(response.status_code, 403)
        self.assertIn("revoked", response.text)
        data = self.kiosk_call(self.kiosk, "data")
        self.assertEqual(data["ok"], False)
        self.assertTrue(data["refused"])
        result = self.kiosk_call(self.kiosk, "action", {"action": "start", "params": {}})
        self.assertTrue(result["refused"])

    def test_token_only_reaches_its_workcenter(self):
        saw_order = create_workorder(self.env, self.saw)
        result = self.kiosk_call(self.kiosk, "action", {"action": "start", "params": {"workorder_id": saw_order.id}})
        self.assertFalse(result["ok"])
        self.assertIn("no longer planned", result["message"])
        self.assertEqual(saw_order.state, "ready")
        data = self.kiosk_call(self.saw_kiosk, "data")
        self.assertEqual(data["screen"]["workcenter"]["name"], "Saw 9")
        self.assertEqual(data["workorder"]["current"]["id"], saw_order.id)

    def test_history_only_for_tags_on_the_screen(self):
        self.url_open(f"/hf/kiosk/{self.kiosk.token}")
        other = self.create_tag("secret", workcenter=self.saw, device=False)
        result = self.kiosk_call(self.kiosk, "history", {"tag_id": other.id})
        self.assertFalse(result["ok"])
        self.assertIn("does not show that tag", result["message"])

    def test_finished_workorder_gives_clear_message(self):
        workorder = create_workorder(self.env, self.workcenter)
        params = {"workorder_id": workorder.id}
        self.assertTrue(self.kiosk_call(self.kiosk, "action", {"action": "start", "params": params})["ok"])
        self.assertTrue(self.kiosk_call(self.kiosk, "action", {"action": "finish", "params": params})["ok"])
        self.assertEqual(workorder.state, "done")
        again = self.kiosk_call(self.kiosk, "action", {"action": "finish", "params": {"workorder_id": workorder.id}})
        self.assertFalse(again["ok"])
        self.assertIn("already finished", again["message"])

    def test_backend_route_needs_operator(self):
        screen = self.env["hf.screen"]._hf_generate_for_workcenter(self.workcenter)
        self.authenticate(self.operator.login, self.operator.login)
        data = self.make_jsonrpc_request(f"/hf/screen/{screen.id}/data")
        self.assertTrue(data["ok"])
        self.create_user("hf_screens_plain", "base.group_user")
        self.authenticate("hf_screens_plain", "hf_screens_plain")
        data = self.make_jsonrpc_request(f"/hf/screen/{screen.id}/data")
        self.assertFalse(data["ok"])

    # --- the token stays out of the URLs the screen polls (issue 14) ---------------------------------

    def test_polling_sends_the_token_in_a_header_or_body_not_the_url(self):
        token = self.kiosk.sudo().token
        self.assertTrue(self.make_jsonrpc_request("/hf/kiosk/data", {}, headers={TOKEN_HEADER: token})["ok"])
        self.assertTrue(self.make_jsonrpc_request("/hf/kiosk/data", {"token": token})["ok"], "or in the JSON body")
        nothing = self.make_jsonrpc_request("/hf/kiosk/data", {})
        self.assertTrue(nothing["refused"])
        self.assertIn("not valid", nothing["message"])
        old = self.make_jsonrpc_request(f"/hf/kiosk/{token}/data")
        self.assertTrue(old["refused"])
        self.assertIn("reload the page", old["message"], "an old client is told to reload, not served")
        with open(
            __file__.replace("tests/test_kiosk.py", "static/src/screen/machine_screen.js"), encoding="utf-8"
        ) as handle:
            client = handle.read()
        self.assertIn(TOKEN_HEADER, client)
        self.assertNotIn("/hf/kiosk/${", client, "the screen client builds no URL from the token")

    # --- every number of an action is checked (issue 14) -------------------------------------------

    def test_scrap_quantity_must_be_a_sane_number(self):
        workorder = create_workorder(self.env, self.workcenter, qty=10.0)
        self.assertTrue(
            self.kiosk_call(self.kiosk, "action", {"action": "start", "params": {"workorder_id": workorder.id}})["ok"]
        )
        for qty in (math.nan, math.inf, -math.inf, 1e308, 11, 0, -2, "NaN", "inf", "abc", True, None, [1], {"a": 1}):
            with self.subTest(qty=qty):
                result = self.kiosk_call(
                    self.kiosk, "action", {"action": "scrap", "params": {"workorder_id": workorder.id, "qty": qty}}
                )
                self.assertFalse(result["ok"])
                self.assertEqual(result["code"], 400)
                self.assertRegex(result["message"], "a number more than 0|makes 10 parts|order .* makes 10")
        self.assertFalse(self.env["stock.scrap"].search([("workorder_id", "=", workorder.id)]), "nothing was scrapped")
        ok = self.kiosk_call(
            self.kiosk, "action", {"action": "scrap", "params": {"workorder_id": workorder.id, "qty": "2"}}
        )
        self.assertTrue(ok["ok"], ok)
        self.assertEqual(self.env["stock.scrap"].search([("workorder_id", "=", workorder.id)]).scrap_qty, 2)

    def test_malformed_actions_are_a_clear_400(self):
        for body in (
            {"action": "start", "params": {"workorder_id": "abc"}},
            {"action": "start", "params": {"workorder_id": 2**40}},
            {"action": "start", "params": {"workorder_id": True}},
            {"action": "start", "params": {}},
            {"action": "reason", "params": {"loss_id": [1]}},
            {"action": "ack", "params": {"tag_id": 1.5}},
            {"action": "start", "params": [1, 2]},
            {"action": ["start"]},
            {},
        ):
            with self.subTest(body=body):
                result = self.kiosk_call(self.kiosk, "action", body)
                self.assertFalse(result["ok"])
                self.assertEqual(result["code"], 400, result)

    def test_actions_are_rate_limited_per_kiosk(self):
        self.env["ir.config_parameter"].set_param("hf_screens.kiosk_actions_per_minute", 3)
        workorder = create_workorder(self.env, self.workcenter)
        for _i in range(3):  # refused or not, each is an action of this kiosk
            self.assertEqual(self.kiosk_call(self.kiosk, "action", {"action": "resume"})["code"], 400)
        refused = self.kiosk_call(self.kiosk, "action", {"action": "start", "params": {"workorder_id": workorder.id}})
        self.assertFalse(refused["ok"])
        self.assertEqual(refused["code"], 429)
        self.assertIn("Too many actions from this kiosk", refused["message"])
        self.assertTrue(1 <= refused["retry_after"] <= 61)
        self.assertEqual(workorder.state, "ready", "a refused action has no effect")
        self.assertTrue(
            self.kiosk_call(self.saw_kiosk, "action", {"action": "resume"})["code"] == 400,
            "another kiosk has its own allowance",
        )
        self.kiosk.sudo()._hf_count_action(fields.Datetime.now() + timedelta(minutes=2))  # the next minute
        self.assertTrue(
            self.kiosk_call(self.kiosk, "action", {"action": "start", "params": {"workorder_id": workorder.id}})["ok"]
        )

    # --- tokens rotate and expire ------------------------------------------------------------------

    def test_rotating_the_token_refuses_the_old_one_at_once(self):
        old = self.kiosk.sudo().token
        self.kiosk.with_user(self.engineer).action_rotate_token()
        new = self.kiosk.sudo().token
        self.assertNotEqual(old, new)
        self.assertEqual(self.url_open(f"/hf/kiosk/{old}").status_code, 404)
        self.assertTrue(self.make_jsonrpc_request("/hf/kiosk/data", {}, headers={TOKEN_HEADER: old})["refused"])
        self.assertEqual(self.url_open(f"/hf/kiosk/{new}").status_code, 200)
        self.assertTrue(self.kiosk_call(self.kiosk, "data")["ok"])
        with self.assertRaises(AccessError):
            self.kiosk.with_user(self.operator).action_rotate_token()

    def test_an_expired_link_is_refused_with_a_clear_page(self):
        self.kiosk.expires_at = fields.Datetime.now() + timedelta(hours=1)
        self.assertEqual(self.url_open(f"/hf/kiosk/{self.kiosk.token}").status_code, 200)
        self.kiosk.expires_at = fields.Datetime.now() - timedelta(minutes=1)
        response = self.url_open(f"/hf/kiosk/{self.kiosk.token}")
        self.assertEqual(response.status_code, 403)
        self.assertIn("expired on", response.text)
        self.assertNotIn("Traceback", response.text)
        data = self.kiosk_call(self.kiosk, "data")
        self.assertTrue(data["refused"])
        self.assertIn("expired", data["message"])
        self.assertTrue(self.kiosk_call(self.kiosk, "action", {"action": "resume"})["refused"])

    # --- bad times in a trend request: a 400, never a traceback --------------------------------------

    def test_history_with_a_bad_end_is_a_clear_400(self):
        self.kiosk_call(self.kiosk, "data")  # generates the screen
        tag = self.workcenter.hf_screen_ids[:1].widget_ids.tag_id[:1]
        self.assertTrue(self.kiosk_call(self.kiosk, "history", {"tag_id": tag.id})["ok"])
        self.assertTrue(self.kiosk_call(self.kiosk, "history", {"tag_id": tag.id, "end": "2026-11-24T08:00:00Z"})["ok"])
        for params in (
            {"end": 12},
            {"end": {"a": 1}},
            {"end": ["2026-11-24"]},
            {"end": "yesterday"},
            {"end": "9999-12-31T23:59:59-23:59"},
            {"end": "0001-01-01T00:00:00+14:00"},
            {"end": "0001-01-01T00:00:00"},
            {"end": "2026-13-45T99:00:00"},
            {"end": "x" * 5000},
            {"minutes": "abc"},
            {"minutes": [1]},
            {"minutes": 1.5},
            {"tag_id": "x"},
            {"tag_id": 2**40},
            {"tag_id": None},
        ):
            with self.subTest(params=params):
                result = self.kiosk_call(self.kiosk, "history", {"tag_id": tag.id, **params})
                self.assertFalse(result["ok"])
                self.assertEqual(result["code"], 400, result)
                self.assertNotIn("Traceback", result["message"])


@tagged("post_install", "-at_install")
class TestKioskOperator(HttpCase, HfScreensCommon):
    """A kiosk made without a user acts as its company's kiosk operator, never as an administrator (issue 16)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other, cls.rival_press, cls.secret = cls.create_other_company_plant()
        cls.kiosk = cls.env["hf.screen.kiosk"].create({"workcenter_id": cls.workcenter.id})

    def test_a_kiosk_without_user_acts_as_the_company_operator(self):
        user = self.kiosk.user_id
        self.assertEqual(user, self.env.ref("hf_screens.user_kiosk_operator"))
        self.assertEqual(user, self.company.hf_kiosk_user_id)
        operator = self.env.ref("hf_uns.group_hf_operator")
        self.assertEqual(user.groups_id, operator | operator.trans_implied_ids, "the Operator group only")
        self.assertFalse(user.has_group("hf_uns.group_hf_engineer") or user.has_group("base.group_system"))
        self.assertFalse(user.share)
        self.assertEqual(user.company_ids, self.company)
        self.env.cr.execute("SELECT password FROM res_users WHERE id = %s", (user.id,))
        self.assertFalse(self.env.cr.fetchone()[0], "nobody can log in as the kiosk operator")
        rival_kiosk = self.env["hf.screen.kiosk"].create({"workcenter_id": self.rival_press.id})
        self.assertNotEqual(rival_kiosk.user_id, user, "each company has its own kiosk operator")
        self.assertEqual(rival_kiosk.user_id.company_ids, self.other)
        self.assertEqual(self.env["hf.screen.kiosk"].create({"workcenter_id": self.workcenter.id}).user_id, user)

    def test_the_kiosk_operator_reads_and_writes_only_what_an_operator_may(self):
        user = self.kiosk.user_id
        Tag = self.env["hf.uns.tag"].with_user(user)
        self.assertIn(self.tag_temperature, Tag.search([]))
        self.assertNotIn(self.secret, Tag.search([]), "another company's tags are out of its reach")
        with self.assertRaises(AccessError):
            self.secret.with_user(user).read(["name"])
        with self.assertRaises(AccessError):
            self.tag_temperature.with_user(user).write({"limit_high": 1000.0})
        screen = self.kiosk._hf_screen()
        with self.assertRaises(AccessError):
            screen.with_user(user).write({"theme": "light"})
        with self.assertRaises(AccessError):
            self.kiosk.with_user(user).read(["token"])

    def test_the_kiosk_serves_only_what_its_operator_may_read(self):
        """A tile bound to another company's tag before the models checked it: the kiosk does not serve it."""
        screen = self.kiosk._hf_screen()
        widget = self.env["hf.screen.widget"].create(
            {"screen_id": screen.id, "kind": "value", "y": 40, "tag_id": self.tag_temperature.id}
        )
        self.env.cr.execute("UPDATE hf_screen_widget SET tag_id = %s WHERE id = %s", (self.secret.id, widget.id))
        self.env.invalidate_all()
        token = self.kiosk.sudo().token
        data = self.make_jsonrpc_request("/hf/kiosk/data", {}, headers={TOKEN_HEADER: token})
        self.assertTrue(data["ok"])
        self.assertNotIn(str(self.secret.id), data["values"])
        self.assertNotIn(self.secret.id, {tile["tag_id"] for tile in data["widgets"]})
        history = self.make_jsonrpc_request(
            "/hf/kiosk/history", {"tag_id": self.secret.id}, headers={TOKEN_HEADER: token}
        )
        self.assertFalse(history["ok"])
        self.assertEqual(history["code"], 403)

    def test_a_kiosk_may_not_act_as_an_administrator(self):
        with self.assertRaisesRegex(ValidationError, "an administrator"):
            self.kiosk.user_id = self.env.ref("base.user_admin")
        # one made before that rule (the demo's acted as admin) gets its company's kiosk operator on update
        self.env.cr.execute(
            "UPDATE hf_screen_kiosk SET user_id = %s WHERE id = %s", (self.env.ref("base.user_admin").id, self.kiosk.id)
        )
        self.env.invalidate_all()
        self.env["hf.screen.kiosk"]._hf_reassign_administrator_kiosks()
        self.assertEqual(self.kiosk.user_id, self.env.ref("hf_screens.user_kiosk_operator"))
