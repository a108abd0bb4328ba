from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import HfUnsCommon


@tagged("post_install", "-at_install")
class TestAccess(HfUnsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.operator = cls.create_user("hf_operator", "hf_uns.group_hf_operator")
        cls.engineer = cls.create_user("hf_engineer", "hf_uns.group_hf_engineer")
        cls.admin = cls.create_user("hf_admin", "hf_uns.group_hf_admin")

    def test_operator_reads_but_cannot_change(self):
        tags = self.env["hf.uns.tag"].with_user(self.operator).search([])
        self.assertIn(self.tag_temperature, tags)
        with self.assertRaises(AccessError):
            self.tag_temperature.with_user(self.operator).write({"unit": "K"})
        with self.assertRaises(AccessError):
            self.env["hf.uns.device"].with_user(self.operator).search([])
        with self.assertRaises(AccessError):
            self.site.with_user(self.operator).write({"segment": "x"})

    def test_engineer_manages_tags_not_devices(self):
        tag = self.create_tag("oil", modbus_address=50, modbus_type="int16")
        tag.with_user(self.engineer).write({"unit": "bar"})
        self.assertEqual(tag.unit, "bar")
        self.assertTrue(self.device.with_user(self.engineer).name)
        with self.assertRaises(AccessError):
            self.device.with_user(self.engineer).write({"host": "10.9.9.9"})
        with self.assertRaises(AccessError):
            self.env["hf.uns.edge"].with_user(self.engineer).create({"name": "x", "site_id": self.site.id})

    def test_admin_manages_devices_and_edges(self):
        self.device.with_user(self.admin).write({"host": "10.9.9.9"})
        edge = self.env["hf.uns.edge"].with_user(self.admin).create({"name": "x", "site_id": self.site.id})
        self.assertTrue(edge.user_id.has_group("hf_uns.group_hf_edge"))
        self.assertFalse(edge.user_id.has_group("base.group_user"))

    def test_edge_user_reads_nothing_directly(self):
        edge_user = self.edge.user_id
        for model in ("hf.uns.tag", "hf.uns.device", "hf.uns.site", "mrp.workcenter"):
            with self.subTest(model=model), self.assertRaises(AccessError):
                self.env[model].with_user(edge_user).search([]).read(["name"])
        other_edge = self.env["hf.uns.edge"].create({"name": "line2-edge", "site_id": self.site.id})
        visible = self.env["hf.uns.edge"].with_user(edge_user).search([])
        self.assertEqual(visible, self.edge)
        self.assertNotIn(other_edge, visible)

    def test_companies_are_isolated(self):
        other_company = self.env["res.company"].create({"name": "Other Corp", "hf_uns_segment": "other"})
        other_site = self.env["hf.uns.site"].create({"name": "Lyon", "segment": "lyon", "company_id": other_company.id})
        outsider = self.create_user("hf_outsider", "hf_uns.group_hf_admin", company=other_company)
        self.assertFalse(self.env["hf.uns.tag"].with_user(outsider).search([]))
        self.assertEqual(self.env["hf.uns.site"].with_user(outsider).search([]), other_site)
        self.assertEqual(self.env["hf.uns.tag"].with_user(outsider).read_latest([self.tag_temperature.topic]), [])
        with self.assertRaises(AccessError):
            self.tag_temperature.with_user(outsider).read(["name"])
        self.assertEqual(other_site.uns_path, "other/lyon")
