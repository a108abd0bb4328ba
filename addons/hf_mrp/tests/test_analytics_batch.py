from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import HfMrpCommon, at, ms


@tagged("post_install", "-at_install")
class TestAnalyticsBatch(HfMrpCommon):
    """The cron creates the orders of many work-order/create events at once and closes the orders of many
    work-order/stop events at once (Odoo's batch paths), with the same result as one by one, and one event
    Odoo refuses fails alone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cell2 = cls.create_workcenter("Assembly 2", "assembly2")
        cls.lot_product = cls.env["product.product"].create(
            {"name": "Tracked bracket", "default_code": "LOT-1", "is_storable": True, "tracking": "lot"}
        )

    def production(self, external_id):
        return self.env["mrp.production"].search([("hf_external_work_order_id", "=", external_id)])

    def order(self, external_id, product_ref, workcenter, quantity=10, bad=1):
        return (
            self.event(
                "work-order/create",
                {
                    "external_work_order_id": external_id,
                    "quantity": quantity,
                    "product": {"external_product_id": product_ref},
                },
                workcenter,
            ),
            self.event(
                "work-order/start", {"external_work_order_id": external_id, "start_time_unix_ms": ms(at(0))}, workcenter
            ),
            self.event(
                "product/add",
                {
                    "external_product_type_id": product_ref,
                    "end_time_unix_ms": ms(at(60)),
                    "quantity": 4,
                    "bad_quantity": bad,
                },
                workcenter,
            ),
            self.event(
                "work-order/stop", {"external_work_order_id": external_id, "end_time_unix_ms": ms(at(120))}, workcenter
            ),
        )

    def test_orders_created_and_closed_together(self):
        creates = self.Event
        for n in range(3):
            creates += self.event(
                "work-order/create",
                {"external_work_order_id": f"WO-{n}", "quantity": 10 + n, "product": {"external_product_id": "BRK-1"}},
                self.cell if n % 2 else self.cell2,
            )
        stops = self.Event
        for n in range(3):
            workcenter = self.cell if n % 2 else self.cell2
            self.event(
                "work-order/start", {"external_work_order_id": f"WO-{n}", "start_time_unix_ms": ms(at(n))}, workcenter
            )
        for n in range(3):
            workcenter = self.cell if n % 2 else self.cell2
            stops += self.event(
                "work-order/stop",
                {"external_work_order_id": f"WO-{n}", "end_time_unix_ms": ms(at(600 + n))},
                workcenter,
            )
        self.process()
        events = self.Event.search([("direction", "=", "in")])
        self.assertEqual(set(events.mapped("state")), {"done"}, events.mapped("error"))
        for n in range(3):
            production = self.production(f"WO-{n}")
            self.assertEqual((production.state, production.product_qty), ("done", 10 + n))
            self.assertEqual(production.workorder_ids.workcenter_id, self.cell if n % 2 else self.cell2)
            self.assertEqual(production.date_finished, at(600 + n))
            self.assertEqual(
                (production.workorder_ids.date_start, production.workorder_ids.date_finished), (at(n), at(600 + n))
            )
        # sent again: nothing changes
        again = self.event(
            "work-order/create",
            {"external_work_order_id": "WO-1", "quantity": 11, "product": {"external_product_id": "BRK-1"}},
        ) + self.event("work-order/stop", {"external_work_order_id": "WO-1", "end_time_unix_ms": ms(at(601))})
        self.process()
        self.assertEqual(again.mapped("state"), ["done"] * 2, again.mapped("error"))
        self.assertEqual(len(self.production("WO-1")), 1)

    @mute_logger("odoo.sql_db", "odoo.addons.hf_mrp.models.hf_uns_analytics_event")
    def test_a_refused_create_fails_alone(self):
        good = self.event(
            "work-order/create",
            {"external_work_order_id": "WO-G", "quantity": 5, "product": {"external_product_id": "BRK-1"}},
        )
        bad = self.event(
            "work-order/create",
            {"external_work_order_id": "WO-0", "quantity": 0, "product": {"external_product_id": "BRK-1"}},
        )
        other = self.event(
            "work-order/create",
            {"external_work_order_id": "WO-H", "quantity": 7, "product": {"external_product_id": "BRK-1"}},
            self.cell2,
        )
        self.process()
        self.assertEqual((good.state, other.state), ("done", "done"), (good.error, other.error))
        self.assertEqual(bad.state, "failed")
        self.assertTrue(bad.error)
        self.assertEqual((self.production("WO-G").product_qty, self.production("WO-H").product_qty), (5, 7))
        self.assertFalse(self.production("WO-0"))

    @mute_logger("odoo.addons.hf_mrp.models.hf_uns_analytics_event")
    def test_an_order_odoo_cannot_close_fails_alone(self):
        # two orders stopped in one run on two workcells: closed together; the tracked one has no lot (the
        # line gave no product_batch_id), so Odoo refuses to close it: its stop fails, the other's is done
        plain = self.order("WO-P", "BRK-1", self.cell)
        tracked = self.order("WO-T", "LOT-1", self.cell2, bad=0)
        self.process()
        self.assertEqual([e.state for e in plain], ["done"] * 4, [e.error for e in plain])
        self.assertEqual([e.state for e in tracked[:3]], ["done"] * 3, [e.error for e in tracked])
        self.assertEqual(tracked[3].state, "failed")
        self.assertTrue(tracked[3].error)
        self.assertEqual(self.production("WO-P").state, "done")
        production = self.production("WO-T")
        self.assertNotEqual(production.state, "done")
        # given its lot in Odoo, a retry of the stop closes it (its work order was finished already)
        production.lot_producing_id = self.env["stock.lot"].create({"name": "L-1", "product_id": self.lot_product.id})
        tracked[3].action_retry()
        self.process()
        self.assertEqual(tracked[3].state, "done", tracked[3].error)
        self.assertEqual(production.state, "done")
        self.assertEqual(production.date_finished, at(120))
