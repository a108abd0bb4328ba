from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessDenied, UserError, ValidationError
from odoo.tests import tagged

from .common import HfUnsCommon


@tagged("post_install", "-at_install")
class TestCollectorConfig(HfUnsCommon):
    def config(self):
        return self.env["hf.uns.edge"].with_user(self.edge.user_id).get_collector_config()

    def test_document_lists_devices_and_tags_with_addresses(self):
        document = self.config()
        self.assertEqual(document["edge"], "line1-edge")
        self.assertEqual(document["version"], 1)
        (device,) = document["devices"]
        self.assertEqual(
            (device["name"], device["protocol"], device["host"], device["port"]),
            ("press1-plc", "modbus", "10.0.0.5", 502),
        )
        speed = next(t for t in device["tags"] if t["name"] == "speed")
        self.assertEqual(speed["topic"], "umh/v1/acme/berlin/press/line1/press1/_historian/spindle/speed")
        self.assertEqual(speed["address"]["address"], 2)
        self.assertEqual(speed["address"]["type"], "uint16")

    def test_version_moves_only_when_the_configuration_changes(self):
        first = self.config()
        again = self.env["hf.uns.edge"].with_user(self.edge.user_id).get_collector_config_version()
        self.assertEqual((again["version"], again["hash"]), (first["version"], first["hash"]))
        self.tag_temperature.deadband = 0.5
        changed = self.env["hf.uns.edge"].with_user(self.edge.user_id).get_collector_config_version()
        self.assertEqual(changed["version"], first["version"] + 1)
        self.assertNotEqual(changed["hash"], first["hash"])
        self.create_tag("pressure", modbus_address=40, modbus_type="int16")
        self.assertEqual(self.config()["version"], first["version"] + 2)
        self.device.host = "10.0.0.6"
        self.assertEqual(self.config()["devices"][0]["host"], "10.0.0.6")
        self.assertEqual(self.edge.state, "online")
        self.assertTrue(self.edge.last_seen)

    def test_an_edge_sees_only_its_own_devices(self):
        other_edge = self.env["hf.uns.edge"].create({"name": "line2-edge", "site_id": self.site.id})
        self.env["hf.uns.device"].create(
            {"name": "other-plc", "protocol": "s7", "host": "10.0.1.1", "edge_id": other_edge.id}
        )
        names = [d["name"] for d in self.config()["devices"]]
        self.assertEqual(names, ["press1-plc"])

    def test_unknown_or_revoked_edge_is_refused(self):
        stranger = self.create_user("stranger", "base.group_portal")
        with self.assertRaises(AccessDenied):
            self.env["hf.uns.edge"].with_user(stranger).get_collector_config()
        edge_user = self.edge.user_id
        self.edge.action_revoke()
        self.assertEqual(self.edge.state, "revoked")
        self.assertFalse(edge_user.active)
        with self.assertRaises(AccessDenied):
            self.env["hf.uns.edge"].with_user(edge_user).get_collector_config()

    def test_a_silent_edge_goes_offline_and_comes_back(self):
        self.config()
        self.assertEqual(self.edge.state, "online")
        with freeze_time(fields.Datetime.now() + timedelta(minutes=6)):
            self.env["hf.uns.edge"]._cron_mark_offline()
            self.assertEqual(self.edge.state, "offline")
            self.config()
            self.assertEqual(self.edge.state, "online")

    def test_a_pinned_opc_ua_certificate_reaches_the_edge_in_one_spelling(self):
        """Issue 15 (transport): the fingerprint an engineer pastes (colons, capitals) is what the edge compares."""
        digest = "ab" * 32
        cnc = self.env["hf.uns.device"].create(
            {
                "name": "cnc1-opcua",
                "protocol": "opcua",
                "host": "10.0.0.7",
                "edge_id": self.edge.id,
                "opcua_server_certificate_sha256": ":".join(["AB"] * 32),
            }
        )
        self.assertEqual(cnc.opcua_server_certificate_sha256, digest)
        sent = next(d for d in self.config()["devices"] if d["name"] == "cnc1-opcua")
        self.assertEqual(sent["server_certificate_sha256"], digest)
        with self.assertRaisesRegex(ValidationError, "no SHA-256 fingerprint"):
            cnc.opcua_server_certificate_sha256 = "md5:1234"

    def test_heartbeat_reaches_the_edge_and_moves_the_version(self):
        """Issue 16, point 1: the edge-wide heartbeat and a tag's own are in the document, and a change of
        either reaches the edge (the version moves)."""
        first = self.config()
        self.assertEqual(first["heartbeat_s"], 60.0)
        speed = next(t for t in first["devices"][0]["tags"] if t["name"] == "speed")
        self.assertNotIn("heartbeat_s", speed, "a tag without its own heartbeat takes the edge's")
        self.edge.heartbeat_s = 15.0
        second = self.config()
        self.assertEqual((second["heartbeat_s"], second["version"]), (15.0, first["version"] + 1))
        self.tag_speed.heartbeat_s = 5.0
        third = self.config()
        speed = next(t for t in third["devices"][0]["tags"] if t["name"] == "speed")
        self.assertEqual((speed["heartbeat_s"], third["version"]), (5.0, first["version"] + 2))
        self.assertEqual(self.tag_speed._hf_heartbeat_seconds(), 5.0)
        self.assertEqual(self.tag_temperature._hf_heartbeat_seconds(), 15.0, "the edge's")
        with self.assertRaisesRegex(ValidationError, "at least 1 s"):
            self.edge.heartbeat_s = 0.5

    def test_opc_ua_endpoint_path_reaches_the_edge(self):
        """Issue 16, point 10: a server listening at opc.tcp://host:port/probe/ is reachable."""
        cnc = self.env["hf.uns.device"].create(
            {
                "name": "cnc1-opcua",
                "protocol": "opcua",
                "host": "10.0.0.7",
                "edge_id": self.edge.id,
                "opcua_endpoint_path": "/probe/",
            }
        )
        sent = next(d for d in self.config()["devices"] if d["name"] == "cnc1-opcua")
        self.assertEqual(sent["endpoint_path"], "/probe/")
        with self.assertRaisesRegex(ValidationError, "must start with '/'"):
            cnc.opcua_endpoint_path = "probe ?x"

    def test_refused_tags_show_on_the_tag_and_the_edge(self):
        """Issue 16, point 5: a node id the server refuses is reported back, with the server's status code;
        the next report without it clears it."""
        Edge = self.env["hf.uns.edge"].with_user(self.edge.user_id)
        result = Edge.report_collector_status(
            {
                "config_errors": ["Device ghost: no host."],
                "refused_tags": [
                    {"topic": self.tag_speed.topic, "status": "BadNodeIdUnknown", "code": "0x80340000"},
                    {"topic": "umh/v1/acme/elsewhere/_historian/x", "status": "BadNodeIdUnknown"},
                ],
            }
        )
        self.assertEqual(result, {"refused": 1, "unknown": 1}, "a topic of no tag of this edge is only counted")
        self.assertEqual(self.tag_speed.collector_error, "BadNodeIdUnknown (0x80340000)")
        self.assertTrue(self.tag_speed.collector_error_date)
        self.assertFalse(self.tag_temperature.collector_error)
        self.assertEqual(self.edge.refused_tag_count, 1)
        self.assertIn("no host", self.edge.collector_errors)
        self.assertIn("BadNodeIdUnknown", self.edge.collector_errors)
        # XML-RPC's ints are signed: the same code as its signed value
        Edge.report_collector_status(
            {
                "refused_tags": [
                    {"topic": self.tag_speed.topic, "status": "BadNodeIdUnknown", "code": 0x80340000 - 2**32}
                ]
            }
        )
        self.assertEqual(self.tag_speed.collector_error, "BadNodeIdUnknown (0x80340000)")
        Edge.report_collector_status({"refused_tags": []})
        self.assertFalse(self.tag_speed.collector_error)
        self.assertFalse(self.edge.collector_errors)
        self.edge.invalidate_recordset(["refused_tag_count"])
        self.assertEqual(self.edge.refused_tag_count, 0)

    def test_a_malformed_or_foreign_report_is_refused(self):
        Edge = self.env["hf.uns.edge"].with_user(self.edge.user_id)
        for report in (
            "refused",
            {"refused_tags": [{"topic": self.tag_speed.topic}]},
            {"refused_tags": [{"topic": self.tag_speed.topic, "status": "Bad", "code": 2**33}]},
            {"config_errors": [3]},
        ):
            with self.assertRaises(UserError):
                Edge.report_collector_status(report)
        self.assertFalse(self.tag_speed.collector_error)
        # another edge cannot mark this edge's tags
        other = self.env["hf.uns.edge"].create({"name": "line2-edge", "site_id": self.site.id})
        result = (
            self.env["hf.uns.edge"]
            .with_user(other.user_id)
            .report_collector_status({"refused_tags": [{"topic": self.tag_speed.topic, "status": "BadNodeIdUnknown"}]})
        )
        self.assertEqual(result, {"refused": 0, "unknown": 1})
        self.assertFalse(self.tag_speed.collector_error)
        stranger = self.create_user("stranger", "base.group_portal")
        with self.assertRaises(AccessDenied):
            self.env["hf.uns.edge"].with_user(stranger).report_collector_status({"refused_tags": []})
