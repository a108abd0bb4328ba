import xmlrpc.client
from datetime import UTC, datetime, timedelta

from odoo.tests import Form, HttpCase, tagged

from hf_historian.writer import HistorianWriter, Sample

from .common import HfUnsCommon


@tagged("post_install", "-at_install")
class TestXmlRpc(HttpCase, HfUnsCommon):
    """What an edge collector and an external client do: real XML-RPC through Odoo's HTTP server."""

    def _api_key(self, edge):
        action = edge.action_generate_api_key()
        return action["context"]["default_key"]

    def test_api_key_is_shown_once_and_kept_nowhere(self):
        """Issue 16, point 10: the key's dialog shows it, and no record keeps it readable afterwards."""
        action = self.edge.action_generate_api_key()
        wizard = Form(self.env["hf.uns.edge.key"].with_context(**action["context"]))
        key = wizard.key
        self.assertTrue(key)
        self.assertEqual(wizard.login, self.edge.user_id.login)
        self.assertFalse(self.env["hf.uns.edge.key"].search([("key", "=", key)]), "no record holds the key")
        self.assertFalse(action.get("res_id"))
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, self.edge.user_id.login, key, {})
        self.assertEqual(uid, self.edge.user_id.id)
        # the refused tags of its devices, reported as the collector does (XML-RPC ints are signed 32-bit)
        result = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            uid,
            key,
            "hf.uns.edge",
            "report_collector_status",
            [
                {
                    "refused_tags": [
                        {"topic": self.tag_speed.topic, "status": "BadNodeIdUnknown", "code": 0x80340000 - 2**32}
                    ]
                }
            ],
        )
        self.assertEqual(result, {"refused": 1, "unknown": 0})
        self.assertEqual(self.tag_speed.collector_error, "BadNodeIdUnknown (0x80340000)")

    def test_edge_pulls_its_config_with_an_api_key(self):
        key = self._api_key(self.edge)
        login = self.edge.user_id.login
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, key, {})
        self.assertEqual(uid, self.edge.user_id.id)
        document = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, key, "hf.uns.edge", "get_collector_config", []
        )
        self.assertEqual(document["devices"][0]["name"], "press1-plc")
        version = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, key, "hf.uns.edge", "get_collector_config_version", []
        )
        self.assertEqual(version["hash"], document["hash"])
        # the key is not a login password for anything else
        with self.assertRaises(xmlrpc.client.Fault):
            self.xmlrpc_object.execute_kw(self.env.cr.dbname, uid, key, "hf.uns.tag", "search_read", [[]])

    def test_new_api_key_revokes_the_previous_ones(self):
        """Issue 15, attack 6: a new key for an edge is its only key."""
        old = self._api_key(self.edge)
        new = self._api_key(self.edge)
        login = self.edge.user_id.login
        self.assertFalse(self.xmlrpc_common.authenticate(self.env.cr.dbname, login, old, {}))
        self.assertEqual(self.xmlrpc_common.authenticate(self.env.cr.dbname, login, new, {}), self.edge.user_id.id)

    def test_revoked_edge_is_refused(self):
        key = self._api_key(self.edge)
        login = self.edge.user_id.login
        uid = self.edge.user_id.id
        self.edge.action_revoke()
        self.assertFalse(self.xmlrpc_common.authenticate(self.env.cr.dbname, login, key, {}))
        with self.assertRaises(xmlrpc.client.Fault):
            self.xmlrpc_object.execute_kw(self.env.cr.dbname, uid, key, "hf.uns.edge", "get_collector_config", [])

    def test_read_api_over_xmlrpc(self):
        engineer = self.create_user("hf_rpc_engineer", "hf_uns.group_hf_engineer")
        engineer.password = "hf_rpc_engineer-pass"
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, engineer.login, "hf_rpc_engineer-pass", {})
        rows = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            uid,
            "hf_rpc_engineer-pass",
            "hf.uns.tag",
            "read_latest",
            [[self.tag_temperature.topic, "umh/v1/nope/_historian/x"]],
        )
        self.assertEqual([r["path"] for r in rows], [self.tag_temperature.topic])
        self.assertIs(rows[0]["time"], False)
        now = datetime.now(UTC).replace(microsecond=0)
        HistorianWriter(self.env.cr).write([Sample(self.tag_temperature.id, int(now.timestamp() * 1000), 61.5)])
        rows = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, "hf_rpc_engineer-pass", "hf.uns.tag", "read_latest", [[self.tag_temperature.topic]]
        )
        self.assertEqual((rows[0]["value"], rows[0]["time"], rows[0]["unit"]), (61.5, now.isoformat(), "°C"))
        history = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            uid,
            "hf_rpc_engineer-pass",
            "hf.uns.tag",
            "read_history",
            [
                self.tag_temperature.topic,
                (now - timedelta(minutes=5)).isoformat(),
                (now + timedelta(seconds=1)).isoformat(),
                10,
            ],
        )
        self.assertEqual([p["last"] for p in history["points"]], [61.5])
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                uid,
                "hf_rpc_engineer-pass",
                "hf.uns.tag",
                "read_history",
                [self.tag_temperature.topic, "yesterday", "now", 10],
            )
        self.assertIn("is not an ISO-8601 time", caught.exception.faultString)

    def test_history_of_a_state_across_a_gap_marshals_and_starts_with_the_value_in_force(self):
        """A string state reported on change, a bad-quality gap between two values: every point crosses
        XML-RPC (no None), the gap is marked, and a window that starts after the last change opens with the
        value in force."""
        state = self.create_tag("state", data_type="string", modbus_address=10, modbus_type="string", modbus_length=4)
        engineer = self.create_user("hf_rpc_state", "hf_uns.group_hf_engineer")
        engineer.password = "hf_rpc_state-pass"
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, engineer.login, "hf_rpc_state-pass", {})
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        ms = int(t0.timestamp() * 1000)
        HistorianWriter(self.env.cr).write(
            [
                Sample(state.id, ms, None, "running"),
                Sample(state.id, ms + 60_000, None, None, 2),
                Sample(state.id, ms + 120_000, None, "idle"),
            ]
        )

        def history(start, end):
            return self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                uid,
                "hf_rpc_state-pass",
                "hf.uns.tag",
                "read_history",
                [state.topic, start.isoformat(), end.isoformat(), 50],
            )

        points = history(t0, t0 + timedelta(minutes=5))["points"]
        self.assertEqual(
            [(p["last"], p["gap"], p["quality"]) for p in points],
            [("running", False, 0), (False, True, 2), ("idle", False, 0)],
        )
        later = history(t0 + timedelta(minutes=4), t0 + timedelta(minutes=6))["points"]
        self.assertEqual([(p["last"], p.get("in_force", False)) for p in later], [("idle", True)])
