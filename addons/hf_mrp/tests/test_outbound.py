from odoo.tests import tagged

from odoo.addons.hf_screens.tests.common import create_workorder

from .common import HfMrpCommon


@tagged("post_install", "-at_install")
class TestOutbound(HfMrpCommon):
    def test_started_in_odoo_is_announced(self):
        workorder = create_workorder(self.env, self.cell, qty=5)
        workorder.production_id.button_plan()
        created = self.outbound("work-order/create")
        self.assertEqual(len(created), 1)
        self.assertEqual(self.body(created)["external_work_order_id"], workorder.production_id.name)
        self.assertEqual(self.body(created)["quantity"], 5)
        workorder.button_start()
        started = self.outbound("work-order/start")
        self.assertEqual(len(started), 1)
        self.assertEqual(started.topic, "umh/v1/acme/berlin/press/line1/assembly1/_analytics/work-order/start")
        self.assertEqual(self.body(started)["external_work_order_id"], workorder.production_id.name)
        self.assertEqual(started.state, "pending", "the publisher sends it after the commit")
        workorder.button_finish()
        stopped = self.outbound("work-order/stop")
        self.assertEqual(len(stopped), 1)
        produced = self.outbound("product/add")
        self.assertEqual(self.body(produced)["quantity"], 5)
        self.assertLess(produced.id, stopped.id, "in order: the quantity, then the stop")

    def test_from_uns_not_echoed(self):
        self.event(
            "work-order/create",
            {"external_work_order_id": "WO-E", "quantity": 3, "product": {"external_product_id": "BRK-1"}},
        )
        self.event("work-order/start", {"external_work_order_id": "WO-E", "start_time_unix_ms": 1795000000000})
        self.process()
        self.assertFalse(self.outbound())

    def test_kiosk_start_and_pause_are_announced(self):
        workorder = create_workorder(self.env, self.cell, qty=5)
        screen = self.env["hf.screen"]._hf_generate_for_workcenter(self.cell)
        screen._hf_operator_action("start", {"workorder_id": workorder.id}, self.operator)
        started = self.outbound("work-order/start")
        self.assertEqual(len(started), 1, "the operator's Start at the kiosk reaches the UNS")
        self.assertEqual(self.body(started)["external_work_order_id"], workorder.production_id.name)
        screen._hf_operator_action("pause", {"workorder_id": workorder.id}, self.operator)
        paused = self.outbound("state/add")
        self.assertEqual(self.body(paused)["state"], 40000, "a paused order: UMH's unspecified stop")

    def test_applied_by_hand_not_echoed_either(self):
        events = self.event(
            "work-order/create",
            {"external_work_order_id": "WO-H", "quantity": 3, "product": {"external_product_id": "BRK-1"}},
        ) + self.event("work-order/start", {"external_work_order_id": "WO-H", "start_time_unix_ms": 1795000000000})
        for event in events:
            event._apply()  # not through the cron (a shell, a script): still from the UNS
        self.assertEqual(
            self.env["mrp.production"].search([("hf_external_work_order_id", "=", "WO-H")]).state, "progress"
        )
        self.assertFalse(self.outbound())
