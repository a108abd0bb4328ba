from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import HfMrpCommon, at, ms


@tagged("post_install", "-at_install")
class TestAnalyticsWait(HfMrpCommon):
    """MQTT keeps no order across topics (nor across a publisher's retries): an event whose order is not there
    yet waits for it, with its reason on the event, is applied in its arrival order once the order comes, and
    fails only after the bounded wait."""

    def create_event(self, external_id="WO-W"):
        return self.event(
            "work-order/create",
            {"external_work_order_id": external_id, "quantity": 100, "product": {"external_product_id": "BRK-1"}},
        )

    def start_event(self, external_id="WO-W", seconds=0):
        return self.event(
            "work-order/start", {"external_work_order_id": external_id, "start_time_unix_ms": ms(at(seconds))}
        )

    def add_event(self, n=0, quantity=8, bad=1):
        return self.event(
            "product/add",
            {
                "external_product_type_id": "BRK-1",
                "start_time_unix_ms": ms(at(60 * n)),
                "end_time_unix_ms": ms(at(60 * (n + 1))),
                "quantity": quantity,
                "bad_quantity": bad,
            },
        )

    def production(self, external_id="WO-W"):
        return self.env["mrp.production"].search([("hf_external_work_order_id", "=", external_id)])

    def assert_booked_once(self, production, produced, bad):
        workorder = production.workorder_ids
        self.assertEqual(workorder.qty_produced, produced)
        scraps = self.env["stock.scrap"].search([("production_id", "=", production.id)])
        self.assertEqual(sum(scraps.mapped("scrap_qty")), bad)
        outputs = self.env["hf.mrp.output"].search([("workcenter_id", "=", self.cell.id)])
        self.assertEqual(sum(outputs.mapped("quantity")), produced)

    def test_product_add_before_its_order_waits(self):
        first = self.add_event(0)
        again = self.add_event(0)  # the publisher's retry of the same report
        self.process()
        self.assertEqual((first + again).mapped("state"), ["waiting"] * 2, (first + again).mapped("error"))
        self.assertIn("waits", first.error)
        self.assertTrue(first.waiting_since)
        self.assertFalse(self.production())
        # the order comes, then its start (other topics): the reports are applied right after the start
        later = self.add_event(1)
        create, start = self.create_event(), self.start_event()
        self.process()
        events = first + again + later + create + start
        self.assertEqual(events.mapped("state"), ["done"] * 5, events.mapped("error"))
        self.assertFalse(any(events.mapped("wait_key")))
        production = self.production()
        self.assert_booked_once(production, 16, 2)
        # a redelivery after all changes nothing
        redelivered = self.add_event(0)
        self.process()
        self.assertEqual(redelivered.state, "done", redelivered.error)
        self.assert_booked_once(production, 16, 2)

    def test_all_in_one_run_in_arrival_order(self):
        # product/add, start and a correction all before the create, in one cron run: each waits for what it
        # needs and they are applied in their arrival order once the create comes, before the stop after it
        add = self.add_event(0, quantity=40, bad=2)
        start = self.start_event()
        correction = self.event(
            "product/setBadQuantity",
            {"external_product_type_id": "BRK-1", "end_time_unix_ms": ms(at(60)), "bad_quantity": 3},
        )
        create = self.create_event()
        stop = self.event("work-order/stop", {"external_work_order_id": "WO-W", "end_time_unix_ms": ms(at(900))})
        self.process()
        events = add + start + correction + create + stop
        self.assertEqual(events.mapped("state"), ["done"] * 5, events.mapped("error"))
        production = self.production()
        self.assertEqual(production.state, "done")
        workorder = production.workorder_ids
        self.assertEqual((workorder.date_start, workorder.date_finished), (at(0), at(900)))
        self.assert_booked_once(production, 40, 3)
        self.assertEqual(self.product.with_context(warehouse_id=False).qty_available, 37)

    def test_stop_before_start_before_create(self):
        stop = self.event("work-order/stop", {"external_work_order_id": "WO-W", "end_time_unix_ms": ms(at(900))})
        start = self.start_event()
        self.process()
        self.assertEqual((stop.state, start.state), ("waiting", "waiting"))
        create = self.create_event()
        self.process()
        events = stop + start + create
        self.assertEqual(events.mapped("state"), ["done"] * 3, events.mapped("error"))
        workorder = self.production().workorder_ids
        self.assertEqual((workorder.state, workorder.date_start, workorder.date_finished), ("done", at(0), at(900)))

    def test_bounded_wait_then_dead_letter(self):
        self.env["ir.config_parameter"].sudo().set_param("hf_uns.analytics_wait_minutes", "60")
        add = self.add_event(0)
        start = self.start_event("WO-LATE")
        self.process()
        self.assertEqual((add.state, start.state), ("waiting", "waiting"))
        self.assertIn("WO-LATE", start.error)
        # 59 minutes on, it still waits
        (add + start).write({"waiting_since": fields.Datetime.now() - timedelta(minutes=59)})
        self.process()
        self.assertEqual((add.state, start.state), ("waiting", "waiting"))
        # an hour on, both are dead letters saying what they waited for
        (add + start).write({"waiting_since": fields.Datetime.now() - timedelta(minutes=61)})
        self.process()
        self.assertEqual((add.state, start.state), ("failed", "failed"))
        self.assertIn("Gave up after waiting 60 min", start.error)
        self.assertIn("WO-LATE", start.error)
        self.assertIn("work-order/start", add.error)
        # the order coming now does not apply a dead letter; a retry does
        create = self.create_event("WO-LATE")
        self.process()
        self.assertEqual(create.state, "done", create.error)
        self.assertEqual((add.state, start.state), ("failed", "failed"))
        self.assertEqual(self.production("WO-LATE").workorder_ids.state, "ready")
        (start + add).action_retry()
        self.process()
        self.assertEqual((add.state, start.state), ("done", "done"), (add.error, start.error))
        self.assert_booked_once(self.production("WO-LATE"), 8, 1)

    def test_a_wait_of_zero_fails_at_once(self):
        self.env["ir.config_parameter"].sudo().set_param("hf_uns.analytics_wait_minutes", "0")
        start = self.start_event("WO-404")
        self.process()
        self.assertEqual(start.state, "failed")
        self.assertIn("WO-404", start.error)

    def test_waiting_event_tried_again_when_odoo_starts_the_order(self):
        # what an event waits for may come from Odoo itself (an operator starts the order): a waiting event is
        # tried again at a later run
        create = self.create_event()
        self.process()
        now = fields.Datetime.now()
        add = self.event(
            "product/add",
            {
                "external_product_type_id": "BRK-1",
                "end_time_unix_ms": ms(now + timedelta(seconds=30)),
                "quantity": 8,
                "bad_quantity": 1,
            },
        )
        self.process()
        self.assertEqual((create.state, add.state), ("done", "waiting"))
        self.production().workorder_ids.button_start()
        self.env.cr.execute(
            "UPDATE hf_uns_analytics_event SET write_date = write_date - interval '2 minutes' WHERE id = %s", (add.id,)
        )
        self.process()
        self.assertEqual(add.state, "done", add.error)
        self.assert_booked_once(self.production(), 8, 1)
