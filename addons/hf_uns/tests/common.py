from odoo import Command
from odoo.tests import TransactionCase, new_test_user


class HfUnsCommon(TransactionCase):
    """A small plant: acme / berlin / press / line1 / press1 with a Modbus PLC and two tags."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.company.hf_uns_segment = "acme"
        cls.site = cls.env["hf.uns.site"].create({"name": "Berlin", "segment": "berlin"})
        cls.area = cls.env["hf.uns.area"].create({"name": "Press shop", "segment": "press", "site_id": cls.site.id})
        cls.line = cls.env["hf.uns.line"].create({"name": "Line 1", "segment": "line1", "area_id": cls.area.id})
        cls.workcenter = cls.create_workcenter("Press 1", "press1")
        cls.edge = cls.env["hf.uns.edge"].create({"name": "line1-edge", "site_id": cls.site.id})
        cls.device = cls.env["hf.uns.device"].create(
            {
                "name": "press1-plc",
                "protocol": "modbus",
                "host": "10.0.0.5",
                "unit_id": 1,
                "edge_id": cls.edge.id,
                "workcenter_id": cls.workcenter.id,
            }
        )
        cls.tag_temperature = cls.create_tag("temperature", unit="°C", modbus_address=0, modbus_type="float32")
        cls.tag_speed = cls.create_tag(
            "speed", tag_group="spindle", unit="rpm", modbus_address=2, modbus_type="uint16", data_type="int"
        )

    @classmethod
    def create_workcenter(cls, name, segment, line=None):
        return cls.env["mrp.workcenter"].create(
            {
                "name": name,
                "hf_uns_segment": segment,
                "hf_line_id": (line or cls.line).id,
            }
        )

    @classmethod
    def create_tag(cls, name, device=None, workcenter=None, **values):
        device = cls.device if device is None else device
        vals = {
            "name": name,
            "workcenter_id": (workcenter or cls.workcenter).id,
            "device_id": device.id if device else False,
        }
        if device and device.protocol == "modbus":
            vals.update(modbus_table="holding", modbus_unit_id=1)
        vals.update(values)
        return cls.env["hf.uns.tag"].create(vals)

    @classmethod
    def create_user(cls, login, groups, company=None):
        company = company or cls.company
        return new_test_user(
            cls.env,
            login=login,
            groups=groups,
            company_id=company.id,
            company_ids=[Command.set(company.ids)],
        )
