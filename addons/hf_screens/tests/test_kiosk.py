from odoo.tests import HttpCase, tagged

from .common import HfScreensCommon, create_workorder


@tagged("post_install", "-at_install")
class TestKioskController(HttpCase, HfScreensCommon):
    """The kiosk's routes over real HTTP: token checks, refusals, operator actions."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kiosk = cls.env["hf.screen.kiosk"].create({"workcenter_id": cls.workcenter.id, "user_id": cls.operator.id})
        cls.saw = cls.create_workcenter("Saw 9", "saw9")
        cls.saw_kiosk = cls.env["hf.screen.kiosk"].create({"workcenter_id": cls.saw.id, "user_id": cls.operator.id})

    def test_page_shows_its_workcenter(self):
        response = self.url_open(f"/hf/kiosk/{self.kiosk.token}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Press 1", response.text)
        self.assertIn("hf_screens.assets_kiosk", response.text)
        data = self.make_jsonrpc_request(f"/hf/kiosk/{self.kiosk.token}/data")
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
        data = self.make_jsonrpc_request(f"/hf/kiosk/{self.kiosk.token}/data")
        self.assertEqual(data["ok"], False)
        self.assertTrue(data["refused"])
        result = self.make_jsonrpc_request(f"/hf/kiosk/{self.kiosk.token}/action", {"action": "start", "params": {}})
        self.assertTrue(result["refused"])

    def test_token_only_reaches_its_workcenter(self):
        saw_order = create_workorder(self.env, self.saw)
        result = self.make_jsonrpc_request(
            f"/hf/kiosk/{self.kiosk.token}/action", {"action": "start", "params": {"workorder_id": saw_order.id}},
        )
        self.assertFalse(result["ok"])
        self.assertIn("no longer planned", result["message"])
        self.assertEqual(saw_order.state, "ready")
        data = self.make_jsonrpc_request(f"/hf/kiosk/{self.saw_kiosk.token}/data")
        self.assertEqual(data["screen"]["workcenter"]["name"], "Saw 9")
        self.assertEqual(data["workorder"]["current"]["id"], saw_order.id)

    def test_history_only_for_tags_on_the_screen(self):
        self.url_open(f"/hf/kiosk/{self.kiosk.token}")
        other = self.create_tag("secret", workcenter=self.saw, device=False)
        result = self.make_jsonrpc_request(f"/hf/kiosk/{self.kiosk.token}/history", {"tag_id": other.id})
        self.assertFalse(result["ok"])
        self.assertIn("does not show that tag", result["message"])

    def test_finished_workorder_gives_clear_message(self):
        workorder = create_workorder(self.env, self.workcenter)
        url = f"/hf/kiosk/{self.kiosk.token}/action"
        params = {"workorder_id": workorder.id}
        self.assertTrue(self.make_jsonrpc_request(url, {"action": "start", "params": params})["ok"])
        self.assertTrue(self.make_jsonrpc_request(url, {"action": "finish", "params": params})["ok"])
        self.assertEqual(workorder.state, "done")
        again = self.make_jsonrpc_request(url, {"action": "finish", "params": {"workorder_id": workorder.id}})
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
