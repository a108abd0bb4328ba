from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import HfUnsCommon


@tagged("post_install", "-at_install")
class TestHierarchy(HfUnsCommon):
    def test_paths_follow_the_hierarchy(self):
        self.assertEqual(self.site.uns_path, "acme/berlin")
        self.assertEqual(self.line.uns_path, "acme/berlin/press/line1")
        self.assertEqual(self.workcenter.hf_uns_path, "acme/berlin/press/line1/press1")
        self.assertEqual(self.tag_temperature.topic, "umh/v1/acme/berlin/press/line1/press1/_historian/temperature")
        self.assertEqual(self.tag_speed.topic, "umh/v1/acme/berlin/press/line1/press1/_historian/spindle/speed")

    def test_renaming_a_level_updates_every_path_below(self):
        self.site.segment = "munich"
        self.assertEqual(self.area.uns_path, "acme/munich/press")
        self.assertEqual(self.workcenter.hf_uns_path, "acme/munich/press/line1/press1")
        self.assertEqual(self.tag_speed.topic, "umh/v1/acme/munich/press/line1/press1/_historian/spindle/speed")
        self.company.hf_uns_segment = "acme-gmbh"
        self.assertEqual(
            self.tag_temperature.topic, "umh/v1/acme-gmbh/munich/press/line1/press1/_historian/temperature"
        )

    def test_moving_a_workcenter_to_another_line(self):
        line2 = self.env["hf.uns.line"].create({"name": "Line 2", "segment": "line2", "area_id": self.area.id})
        self.workcenter.hf_line_id = line2
        self.assertEqual(self.tag_temperature.topic, "umh/v1/acme/berlin/press/line2/press1/_historian/temperature")

    def test_invalid_segments_are_refused_with_a_clear_message(self):
        for bad in ["line 1", "line/1", "a+b", "#", "$sys", "straße"]:
            with self.subTest(segment=bad), self.assertRaises(ValidationError) as caught:
                self.line.segment = bad
            self.assertIn("may only contain letters, digits", str(caught.exception))
        self.line.invalidate_recordset()
        self.assertEqual(self.line.segment, "line1")
        self.assertEqual(self.tag_temperature.topic, "umh/v1/acme/berlin/press/line1/press1/_historian/temperature")
        with self.assertRaises(ValidationError):
            self.workcenter.hf_uns_segment = "press 1"
        with self.assertRaises(ValidationError):
            self.company.hf_uns_segment = "ac/me"

    def test_duplicate_siblings_are_refused(self):
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self.env["hf.uns.area"].create({"name": "Press again", "segment": "press", "site_id": self.site.id})
        with self.assertRaises(ValidationError) as caught:
            self.create_workcenter("Press 1 bis", "press1")
        self.assertIn("already uses the UNS segment 'press1'", str(caught.exception))
        # the same segment under another line is fine: it is another path
        line2 = self.env["hf.uns.line"].create({"name": "Line 2", "segment": "line2", "area_id": self.area.id})
        other = self.create_workcenter("Press 1 on line 2", "press1", line=line2)
        self.assertEqual(other.hf_uns_path, "acme/berlin/press/line2/press1")

    def test_new_workcenter_gets_a_segment_from_its_name(self):
        workcenter = self.env["mrp.workcenter"].create({"name": "Paint Booth #2", "hf_line_id": self.line.id})
        self.assertEqual(workcenter.hf_uns_segment, "Paint_Booth_2")
        self.assertEqual(workcenter.hf_uns_path, "acme/berlin/press/line1/Paint_Booth_2")

    def test_a_name_with_accents_gets_the_segment_the_cloud_onboarding_gives_it(self):
        """ "Presse Müller" typed in Odoo and in hyperfactory-cloud's form must be one topic, not two."""
        workcenter = self.env["mrp.workcenter"].create({"name": "Presse Müller", "hf_line_id": self.line.id})
        self.assertEqual(workcenter.hf_uns_segment, "Presse_Muller")
