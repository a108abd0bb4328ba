from datetime import UTC, datetime, timedelta

from odoo import fields
from odoo.tests import tagged

from odoo.addons.hf_screens.tests.common import create_workorder

from .common import HfMrpCommon


@tagged("post_install", "-at_install")
class TestCounters(HfMrpCommon):
    def setUp(self):
        super().setUp()
        self.now = fields.Datetime.now()
        self.workorder = create_workorder(self.env, self.workcenter, qty=10)
        self.workorder.button_start()

    def ago(self, seconds):
        return self.now - timedelta(seconds=seconds)

    def count(self):
        self.env["mrp.workcenter"]._cron_hf_mrp_counters_to_workorders()
        self.env.invalidate_all()

    def test_counter_drives_running_workorder(self):
        self.store(self.tag_good, [(self.ago(60), 100)])
        self.store(self.tag_scrap, [(self.ago(60), 0)])
        self.count()  # the counters' first values: counting starts there
        self.assertEqual(self.workorder.qty_produced, 0)
        self.store(self.tag_good, [(self.ago(40), 102), (self.ago(30), 104), (self.ago(20), 2), (self.ago(10), 5)])
        self.store(self.tag_scrap, [(self.ago(10), 1)])
        self.count()
        self.assertEqual(self.workorder.qty_produced, 9, "4 parts, a reset, then 5")
        self.assertEqual(self.workorder.production_id.qty_producing, 9, "the last operation sets the MO's quantity")
        scraps = self.env["stock.scrap"].search([("workorder_id", "=", self.workorder.id)])
        self.assertEqual(scraps.scrap_qty, 1)
        self.assertEqual(scraps.scrap_reason_tag_ids, self.env.ref("hf_mrp.hf_scrap_reason_machine"))
        self.count()
        self.assertEqual(self.workorder.qty_produced, 9, "counted once")
        self.assertEqual(self.tag_good.hf_mrp_counted_value, 5)
        self.assertFalse(
            self.outbound(workcenter=self.workcenter).filtered(lambda e: e.event_type == "product/add"),
            "the machine's own counts are not announced back to the UNS",
        )
        # finishing follows Odoo's own flow: what the machine counted goes into stock
        production = self.workorder.production_id
        self.workorder.button_finish()
        production._hf_mrp_mark_done()
        self.assertEqual(production.state, "done")
        self.assertEqual(production.qty_produced, 9)
        self.assertEqual(production.product_id.qty_available, 8, "9 made, 1 scrapped")

    def test_a_value_stored_this_second_counts_at_once(self):
        self.store(self.tag_good, [(self.ago(60), 100)])
        self.count()
        just_now = datetime.now(UTC).replace(tzinfo=None) - timedelta(milliseconds=1)
        self.store(self.tag_good, [(just_now, 103)])
        self.count()  # the ingest wakes the job as soon as it stored the value
        self.assertEqual(self.workorder.qty_produced, 3)

    def test_operator_source_ignores_counters(self):
        self.workcenter.hf_quantity_source = "operator"
        self.store(self.tag_good, [(self.ago(60), 100)])
        self.count()
        self.store(self.tag_good, [(self.ago(10), 150)])
        self.count()
        self.assertEqual(self.workorder.qty_produced, 0)

    def test_product_add_refused_where_a_counter_counts(self):
        code = self.workorder.product_id.default_code = "BRK-C"
        event = self.event(
            "product/add",
            {"external_product_type_id": code, "end_time_unix_ms": 1795000000000, "quantity": 3},
            workcenter=self.workcenter,
        )
        self.process()
        self.assertEqual(event.state, "failed")
        self.assertIn(self.tag_good.name, event.error)

    def test_rollover_counts_the_parts_across_the_wrap(self):
        self.tag_good.modbus_type = "uint16"  # a 16-bit register: 65535, then 0
        self.store(self.tag_good, [(self.ago(60), 65534)])
        self.count()
        self.store(self.tag_good, [(self.ago(40), 65535), (self.ago(30), 0), (self.ago(20), 2)])
        self.count()
        self.assertEqual(self.workorder.qty_produced, 4, "65534 → 65535 → 0 → 2 is 4 parts, not a reset")
        # a drop far from the top is still a reset: counting goes on from the new value
        self.store(self.tag_good, [(self.ago(15), 3), (self.ago(10), 1)])  # 2 → 3, then a reset to 1
        self.count()
        self.assertEqual(self.workorder.qty_produced, 6)
        # a counter that rolls over before its register does: the rollover configured on its tag
        self.tag_scrap.hf_counter_max = 999  # a three-digit counter: 999, then 0
        self.store(self.tag_scrap, [(self.ago(60), 998)])
        self.count()
        self.store(self.tag_scrap, [(self.ago(40), 999), (self.ago(30), 1)])
        self.count()
        scraps = self.env["stock.scrap"].search([("workorder_id", "=", self.workorder.id)])
        self.assertEqual(sum(scraps.mapped("scrap_qty")), 3, "998 → 999 → 1 on a counter that rolls over after 999")
