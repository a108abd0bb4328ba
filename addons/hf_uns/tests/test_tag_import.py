from odoo.tests import tagged

from .common import HfUnsCommon

CSV_HEADER = ("name,tag_group,workcenter_id,device_id,data_type,unit,modbus_table,modbus_address,modbus_type,"
              "modbus_word_order")


@tagged("post_install", "-at_install")
class TestTagImport(HfUnsCommon):
    def _import(self, csv_text):
        wizard = self.env["base_import.import"].create({
            "res_model": "hf.uns.tag", "file": csv_text.encode(), "file_name": "tags.csv", "file_type": "text/csv",
        })
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
