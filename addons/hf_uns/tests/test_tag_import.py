from odoo.tests import tagged

from .common import HfUnsCommon

CSV_HEADER = (
    "name,tag_group,workcenter_id,device_id,data_type,unit,modbus_table,modbus_address,modbus_type,modbus_word_order"
)


@tagged("post_install", "-at_install")
class TestTagImport(HfUnsCommon):
    def _import(self, csv_text):
        wizard = self.env["base_import.import"].create(
            {
                "res_model": "hf.uns.tag",
                "file": csv_text.encode(),
                "file_name": "tags.csv",
                "file_type": "text/csv",
            }
        )
        fields = CSV_HEADER.split(",")
        options = {"quoting": '"', "separator": ",", "has_headers": True}
        return wizard.execute_import(fields, fields, options)

    def test_mass_import_with_addresses(self):
        rows = [CSV_HEADER] + [
            f"pressure_{i},hydraulics,Press 1,press1-plc,float,bar,holding,{100 + 2 * i},float32,little"
            for i in range(200)
        ]
        result = self._import("\n".join(rows))
        self.assertFalse(result["messages"], result["messages"])
        tags = self.env["hf.uns.tag"].search([("tag_group", "=", "hydraulics")])
        self.assertEqual(len(tags), 200)
        tag = tags.filtered(lambda t: t.name == "pressure_7")
        self.assertEqual(tag.modbus_address, 114)
        self.assertEqual(tag.modbus_word_order, "little")
        self.assertEqual(tag.device_id, self.device)
        self.assertEqual(tag.topic, "umh/v1/acme/berlin/press/line1/press1/_historian/hydraulics/pressure_7")

    def test_a_bad_row_rejects_the_file_and_stores_nothing(self):
        rows = [
            CSV_HEADER,
            "flow,hydraulics,Press 1,press1-plc,float,l/min,holding,300,float32,big",
            "valve,hydraulics,Press 1,press1-plc,bool,,holding,302,bool,big",
        ]
        result = self._import("\n".join(rows))
        messages = " ".join(m["message"] for m in result["messages"])
        self.assertIn("coils and discrete inputs hold BOOL", messages)
        self.assertFalse(self.env["hf.uns.tag"].search([("tag_group", "=", "hydraulics")]))


@tagged("post_install", "-at_install")
class TestBrowseImport(HfUnsCommon):
    """The CSV `hf-collector browse URL --workcenter W --device D` writes imports as it is, and again."""

    BROWSE_HEADER = "id,name,tag_group,workcenter_id,device_id,data_type,role,opcua_node_id,description"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.opcua = cls.env["hf.uns.device"].create(
            {
                "name": "press1-opcua",
                "protocol": "opcua",
                "host": "10.0.0.6",
                "workcenter_id": cls.workcenter.id,
            }
        )

    def _import_browse_csv(self, rows):
        text = "\n".join([self.BROWSE_HEADER, *rows])
        wizard = self.env["base_import.import"].create(
            {
                "res_model": "hf.uns.tag",
                "file": text.encode(),
                "file_name": "tags.csv",
                "file_type": "text/csv",
            }
        )
        fields = self.BROWSE_HEADER.split(",")
        return wizard.execute_import(fields, fields, {"quoting": '"', "separator": ",", "has_headers": True})

    def test_the_browse_csv_imports_as_is_and_a_second_import_updates(self):
        rows = [
            (
                "hf_browse_Press_1_State,State,,Press 1,press1-opcua,string,machine_state,"
                "nsu=urn:vendor:plc;s=Press7.State,State"
            ),
            (
                "hf_browse_Press_1_MainDrive_SpindleSpeed,SpindleSpeed,MainDrive,Press 1,press1-opcua,float,plain,"
                "nsu=urn:vendor:plc;i=1001,Spindle speed"
            ),
        ]
        result = self._import_browse_csv(rows)
        self.assertFalse(result["messages"], result["messages"])
        topic = "umh/v1/acme/berlin/press/line1/press1/_historian/State"
        state = self.env["hf.uns.tag"].search([("topic", "=", topic)])
        self.assertEqual(
            (state.role, state.device_id, state.opcua_node_id),
            ("machine_state", self.opcua, "nsu=urn:vendor:plc;s=Press7.State"),
        )
        rows[1] = rows[1].replace(",Spindle speed", ",Spindle speed (rpm)")
        again = self._import_browse_csv(rows)
        self.assertFalse(again["messages"], again["messages"])
        speed = self.env["hf.uns.tag"].search([("name", "=", "SpindleSpeed"), ("tag_group", "=", "MainDrive")])
        self.assertEqual(len(speed), 1, "a second import updates the tag instead of adding or failing")
        self.assertEqual(speed.description, "Spindle speed (rpm)")
