from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import HfUnsCommon


@tagged("post_install", "-at_install")
class TestTag(HfUnsCommon):
    def test_tag_name_and_group_are_validated(self):
        with self.assertRaises(ValidationError):
            self.create_tag("oil temp", modbus_address=10, modbus_type="int16")
        with self.assertRaises(ValidationError) as caught:
            self.create_tag("temp", tag_group="axis/x y", modbus_address=10, modbus_type="int16")
        self.assertIn("Tag group 'x y'", str(caught.exception))
        tag = self.create_tag("x", tag_group="axis$motor", modbus_address=10, modbus_type="int16")
        self.assertEqual(tag.topic, "umh/v1/acme/berlin/press/line1/press1/_historian/axis/motor/x")

    def test_two_tags_cannot_share_a_topic(self):
        # kept as written (B017 silenced): the refusal is unique(topic), an IntegrityError from PostgreSQL
        with mute_logger("odoo.sql_db"), self.assertRaises(Exception), self.cr.savepoint():  # noqa: B017
            self.create_tag("temperature", modbus_address=20, modbus_type="int16")

    def test_modbus_address_must_fit_the_protocol(self):
        cases = [
            ({"modbus_table": "coil", "modbus_type": "float32"}, "coils and discrete inputs hold BOOL"),
            ({"modbus_table": "holding", "modbus_type": "bool"}, "coils and discrete inputs hold BOOL"),
            ({"modbus_address": 70000, "modbus_type": "int16"}, "between 0 and 65535"),
            ({"modbus_address": 65535, "modbus_type": "float64"}, "runs past register 65535"),
            ({"modbus_type": "string", "modbus_length": 0}, "STRING needs a length"),
            ({"modbus_type": False}, "table and type are required"),
        ]
        for values, message in cases:
            with self.subTest(values=values), self.assertRaises(ValidationError) as caught:
                self.create_tag("bad", **values)
            self.assertIn(message, str(caught.exception))
            self.assertIn("press1-plc", str(caught.exception))

    def test_opcua_and_s7_addresses(self):
        opcua = self.env["hf.uns.device"].create({"name": "opc", "protocol": "opcua", "host": "opc.local"})
        self.assertEqual(opcua.port, 4840)
        tag = self.create_tag("pressure", device=opcua, opcua_node_id="ns=2;s=Press1.Pressure")
        self.assertEqual(tag._hf_config_document()["address"], {"node_id": "ns=2;s=Press1.Pressure"})
        with self.assertRaises(ValidationError):
            self.create_tag("bad", device=opcua, opcua_node_id="Press1.Pressure")
        s7 = self.env["hf.uns.device"].create({"name": "s7", "protocol": "s7", "host": "192.168.0.10"})
        self.assertEqual(s7.port, 102)
        self.create_tag(
            "running", device=s7, s7_area="DB", s7_db_number=1, s7_offset=0, s7_bit=3, s7_type="BOOL", data_type="bool"
        )
        with self.assertRaises(ValidationError) as caught:
            self.create_tag("state", device=s7, s7_area="DB", s7_db_number=0, s7_type="INT")
        self.assertIn("DB number", str(caught.exception))
        with self.assertRaises(ValidationError):
            self.create_tag("flag", device=s7, s7_area="M", s7_bit=9, s7_type="BOOL")

    def test_changing_a_device_protocol_rechecks_its_tags(self):
        with self.assertRaises(ValidationError):
            self.device.protocol = "opcua"
        self.device.invalidate_recordset()
        self.assertEqual(self.device.protocol, "modbus")

    def test_device_fields_are_validated(self):
        with self.assertRaises(ValidationError):
            self.env["hf.uns.device"].create({"name": "x", "protocol": "modbus", "host": "not a host!"})
        # kept as written (B017 silenced): the refusal is the port_range CHECK, an IntegrityError from PostgreSQL
        with mute_logger("odoo.sql_db"), self.assertRaises(Exception), self.cr.savepoint():  # noqa: B017
            self.env["hf.uns.device"].create({"name": "y", "protocol": "modbus", "host": "10.0.0.9", "port": 70000})
        with self.assertRaises(ValidationError):
            self.env["hf.uns.device"].create(
                {"name": "z", "protocol": "opcua", "host": "10.0.0.9", "opcua_security_policy": "Basic256Sha256"}
            )
