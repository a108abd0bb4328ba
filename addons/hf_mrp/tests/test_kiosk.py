from odoo.tests import HttpCase, tagged

from .common import HfMrpCommon, at, ms


@tagged("post_install", "-at_install")
class TestKiosk(HttpCase, HfMrpCommon):
    """Real Chromium on the assembly cell's kiosk: its orders come from the line's events."""

    def test_kiosk_proposes_finishing_a_made_order(self):
        kiosk = self.env["hf.screen.kiosk"].create({"workcenter_id": self.cell.id, "user_id": self.operator.id})
        self.env["hf.screen"]._hf_generate_for_workcenter(self.cell)
        for event_type, payload in (
            (
                "work-order/create",
                {"external_work_order_id": "WO-K", "quantity": 12, "product": {"external_product_id": "BRK-1"}},
            ),
            ("work-order/start", {"external_work_order_id": "WO-K", "start_time_unix_ms": ms(at(0))}),
            ("product/add", {"external_product_type_id": "BRK-1", "end_time_unix_ms": ms(at(60)), "quantity": 12}),
        ):
            self.event(event_type, payload)
        self.process()
        workorder = self.env["mrp.production"].search([("hf_external_work_order_id", "=", "WO-K")]).workorder_ids
        self.assertEqual((workorder.state, workorder.qty_produced), ("progress", 12))
        self.start_tour(f"/hf/kiosk/{kiosk.token}", "hf_mrp_kiosk_propose_finish")
        self.assertEqual(workorder.state, "done")
        self.assertEqual(workorder.qty_produced, 12)
