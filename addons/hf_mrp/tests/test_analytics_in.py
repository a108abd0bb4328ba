from psycopg2 import IntegrityError

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import HfMrpCommon, at, ms


@tagged("post_install", "-at_install")
class TestAnalyticsIn(HfMrpCommon):
    def publish_order(self, external_id="WO-1001"):
        """A line's publisher: creates a work order of 100 brackets, starts it, 40 good + 2 bad, stops it."""
        return (
            self.event(
                "work-order/create",
                {
                    "external_work_order_id": external_id,
                    "quantity": 100,
                    "product": {"external_product_id": "BRK-1", "cycle_time_ms": 6000},
                },
            )
            + self.event("work-order/start", {"external_work_order_id": external_id, "start_time_unix_ms": ms(at(0))})
            + self.event(
                "product/add",
                {
                    "external_product_type_id": "BRK-1",
                    "start_time_unix_ms": ms(at(0)),
                    "end_time_unix_ms": ms(at(600)),
                    "quantity": 40,
                    "bad_quantity": 2,
                },
            )
            + self.event("work-order/stop", {"external_work_order_id": external_id, "end_time_unix_ms": ms(at(900))})
        )

    def production(self, external_id="WO-1001"):
        return self.env["mrp.production"].search([("hf_external_work_order_id", "=", external_id)])

    def assert_order_as_published(self, production):
        self.assertEqual(len(production), 1)
        workorder = production.workorder_ids
        self.assertEqual(len(workorder), 1)
        self.assertEqual(workorder.workcenter_id, self.cell, "the work order runs on the topic's workcell")
        self.assertEqual(workorder.state, "done")
        self.assertEqual(workorder.qty_produced, 40)
        self.assertEqual(workorder.date_start, at(0))
        self.assertEqual(workorder.date_finished, at(900))
        self.assertEqual(production.state, "done")
        self.assertEqual(production.product_qty, 100)
        self.assertEqual(production.qty_produced, 40)
        scraps = self.env["stock.scrap"].search([("production_id", "=", production.id)])
        self.assertEqual(sum(scraps.mapped("scrap_qty")), 2)
        self.assertEqual(set(scraps.mapped("state")), {"done"})
        self.assertEqual(scraps.scrap_reason_tag_ids, self.env.ref("hf_mrp.hf_scrap_reason_uns"))
        self.assertEqual(
            self.product.with_context(warehouse_id=False).qty_available,
            38,
            "finishing moved the 40 made into stock, the 2 bad ones were scrapped",
        )

    def test_publisher_sequence(self):
        events = self.publish_order()
        self.process()
        self.assertEqual(events.mapped("state"), ["done"] * 4, events.mapped("error"))
        production = self.production()
        self.assert_order_as_published(production)
        operation = production.workorder_ids.operation_id
        self.assertAlmostEqual(operation.time_cycle_manual, 0.1, msg="6000 ms per part is 0.1 min per part")
        self.assertFalse(self.outbound(), "nothing that came from the UNS is echoed back to it")

    def test_sent_twice_changes_nothing(self):
        self.publish_order()
        self.process()
        again = self.publish_order()
        self.process()
        self.assertEqual(again.mapped("state"), ["done"] * 4, again.mapped("error"))
        self.assert_order_as_published(self.production())
        self.assertEqual(self.env["hf.mrp.output"].search_count([("workcenter_id", "=", self.cell.id)]), 1)
        # and an event applied once more (a retry) changes nothing either
        again.write({"state": "pending"})
        self.process()
        self.assert_order_as_published(self.production())

    def test_unknown_product_fails_clearly(self):
        event = self.event(
            "work-order/create",
            {"external_work_order_id": "WO-7", "quantity": 5, "product": {"external_product_id": "NOPE-9"}},
        )
        self.process()
        self.assertEqual(event.state, "failed")
        self.assertIn("NOPE-9", event.error)
        self.assertIn("internal reference", event.error)
        self.assertFalse(self.production("WO-7"))
        # allowed by the company's setting, the same event creates the product
        self.company.hf_mrp_create_unknown_products = True
        event.action_retry()
        self.process()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.production("WO-7").product_id.default_code, "NOPE-9")

    def test_create_honours_status_and_times(self):
        running = self.event(
            "work-order/create",
            {
                "external_work_order_id": "WO-R",
                "quantity": 10,
                "status": 1,
                "start_time_unix_ms": ms(at(60)),
                "product": {"external_product_id": "BRK-1"},
            },
        )
        completed = self.event(
            "work-order/create",
            {
                "external_work_order_id": "WO-C",
                "quantity": 10,
                "status": 2,
                "start_time_unix_ms": ms(at(0)),
                "end_time_unix_ms": ms(at(30)),
                "product": {"external_product_id": "BRK-1"},
            },
        )
        self.process()
        self.assertEqual((running.state, completed.state), ("done", "done"), (running.error, completed.error))
        workorder = self.production("WO-R").workorder_ids
        self.assertEqual((workorder.state, workorder.date_start), ("progress", at(60)))
        production = self.production("WO-C")
        self.assertEqual(production.state, "done")
        self.assertEqual((production.workorder_ids.date_start, production.workorder_ids.date_finished), (at(0), at(30)))

    def test_unknown_order_waits_clearly(self):
        # its work-order/create may still come (test_analytics_wait: how long it waits, and then)
        event = self.event("work-order/start", {"external_work_order_id": "WO-404", "start_time_unix_ms": ms(at(0))})
        self.process()
        self.assertEqual(event.state, "waiting")
        self.assertIn("WO-404", event.error)
        self.assertIn("work-order/create", event.error)

    def test_external_id_unique_per_company(self):
        self.publish_order()
        self.process()
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.cr.savepoint():
            self.production().copy({"hf_external_work_order_id": "WO-1001"})

    def test_set_bad_quantity_corrects_scrap(self):
        events = self.publish_order()
        self.process()
        self.assertEqual(events.mapped("state"), ["done"] * 4)
        event = self.event(
            "product/setBadQuantity",
            {"external_product_type_id": "BRK-1", "end_time_unix_ms": ms(at(600)), "bad_quantity": 5},
        )
        self.process()
        self.assertEqual(event.state, "done", event.error)
        scraps = self.env["stock.scrap"].search([("production_id", "=", self.production().id)])
        self.assertEqual(sum(scraps.mapped("scrap_qty")), 5)
        self.assertEqual(self.product.qty_available, 35)
        # fewer bad parts than scrapped: the difference goes back to stock
        event = self.event(
            "product/setBadQuantity",
            {"external_product_type_id": "BRK-1", "end_time_unix_ms": ms(at(600)), "bad_quantity": 1},
        )
        self.process()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.product.qty_available, 39)
        self.assertEqual(self.env["hf.mrp.output"].search([("workcenter_id", "=", self.cell.id)]).bad_quantity, 1)

    def test_lot_from_batch(self):
        self.product.tracking = "lot"
        events = [
            self.event(
                "work-order/create",
                {"external_work_order_id": "WO-L", "quantity": 10, "product": {"external_product_id": "BRK-1"}},
            ),
            self.event("work-order/start", {"external_work_order_id": "WO-L", "start_time_unix_ms": ms(at(0))}),
            self.event(
                "product/add",
                {
                    "external_product_type_id": "BRK-1",
                    "product_batch_id": "B-77",
                    "end_time_unix_ms": ms(at(60)),
                    "quantity": 10,
                },
            ),
            self.event("work-order/stop", {"external_work_order_id": "WO-L", "end_time_unix_ms": ms(at(120))}),
        ]
        self.process()
        self.assertEqual([e.state for e in events], ["done"] * 4, [e.error for e in events])
        production = self.production("WO-L")
        self.assertEqual(production.lot_producing_id.name, "B-77")
        self.assertEqual(production.state, "done")

    def test_product_type_create(self):
        event = self.event("product-type/create", {"external_product_type_id": "BRK-1", "cycle_time_ms": 12000})
        self.process()
        self.assertEqual(event.state, "done", event.error)
        bom = self.env["mrp.bom"].search([("product_tmpl_id", "=", self.product.product_tmpl_id.id)])
        self.assertEqual(bom.operation_ids.workcenter_id, self.cell)
        self.assertAlmostEqual(bom.operation_ids.time_cycle_manual, 0.2)

    def test_states_and_shifts(self):
        events = [
            self.event("state/add", {"state": 10000, "start_time_unix_ms": ms(at(0))}),
            self.event("state/add", {"state": 180001, "start_time_unix_ms": ms(at(600))}),
            self.event("shift/add", {"start_time_unix_ms": ms(at(-3600)), "end_time_unix_ms": ms(at(3600 * 7))}),
        ]
        self.process()
        self.assertEqual([e.state for e in events], ["done"] * 3, [e.error for e in events])
        records = self.machine_records(self.cell)
        self.assertEqual(
            records.mapped("loss_id"), self.env.ref("mrp.block_reason7") | self.env.ref("mrp.block_reason1")
        )
        self.assertEqual(records[0].date_end, at(600))
        self.assertFalse(records[1].date_end, "a UMH state holds until the next one")
        self.assertEqual(self.cell.hf_state_current, "down")
        self.assertEqual(self.cell._hf_shift_window(at(700)), (at(-3600), at(700)), "the kiosk's shift is the line's")
        # the same state again is applied once; an overwrite replaces what was recorded in its window
        self.event("state/add", {"state": 10000, "start_time_unix_ms": ms(at(0))})
        self.event(
            "state/overwrite", {"state": 60000, "start_time_unix_ms": ms(at(300)), "end_time_unix_ms": ms(at(600))}
        )
        self.event("shift/delete", {"start_time_unix_ms": ms(at(-3600))})
        self.process()
        records = self.machine_records(self.cell)
        self.assertEqual(
            [(r.date_start, r.loss_id) for r in records],
            [
                (at(0), self.env.ref("mrp.block_reason7")),
                (at(300), self.env.ref("mrp.block_reason0")),
                (at(600), self.env.ref("mrp.block_reason1")),
            ],
        )
        self.assertFalse(self.cell.hf_mrp_shift_ids)

    def test_state_event_refused_where_a_tag_gives_the_state(self):
        event = self.event("state/add", {"state": 10000, "start_time_unix_ms": ms(at(0))}, workcenter=self.workcenter)
        self.process()
        self.assertEqual(event.state, "failed")
        self.assertIn(self.tag_state.name, event.error)

    def test_microstop_is_an_unknown_stop(self):
        # UMH's categories: 30000-59999 is "unknown" (unknown state, unspecified stop, microstop), no
        # specified stop: the machine is idle, not down
        event = self.event("state/add", {"state": 50000, "start_time_unix_ms": ms(at(0))})
        self.process()
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(self.cell.hf_state_current, "idle")
        self.assertEqual(self.machine_records(self.cell).loss_id, self.env.ref("hf_screens.hf_loss_machine_idle"))

    def test_state_events_make_the_machine_the_clock(self):
        events = [
            self.event("state/add", {"state": 10000, "start_time_unix_ms": ms(at(0))}),
            self.event(
                "work-order/create",
                {"external_work_order_id": "WO-M", "quantity": 10, "product": {"external_product_id": "BRK-1"}},
            ),
            self.event("work-order/start", {"external_work_order_id": "WO-M", "start_time_unix_ms": ms(at(60))}),
        ]
        self.process()
        self.assertEqual([e.state for e in events], ["done"] * 3, [e.error for e in events])
        workorder = self.production("WO-M").workorder_ids
        self.assertEqual(workorder.state, "progress")
        records = self.Productivity.search([("workcenter_id", "=", self.cell.id)], order="date_start, id")
        self.assertEqual(
            records.mapped("hf_source"),
            ["machine", "machine"],
            "no operator timer beside the machine's states: the same minutes would count twice",
        )
        self.assertEqual(
            [(r.date_start, r.date_end, r.workorder_id) for r in records],
            [(at(0), at(60), self.env["mrp.workorder"]), (at(60), False, workorder)],
            "the machine's running time from the start on is the work order's",
        )

    def test_a_run_of_states_is_recorded_as_one_by_one(self):
        # a workcell's states in a row are recorded together; what they give is what one by one gives: each
        # state holds until the next, a work order's start between them still splits the machine's time, a
        # redelivered run changes nothing, and a state older than the last one is put in its place
        def state(code, second):
            return self.event("state/add", {"state": code, "start_time_unix_ms": ms(at(second))})

        events = self.event(
            "work-order/create",
            {"external_work_order_id": "WO-R", "quantity": 100, "product": {"external_product_id": "BRK-1"}},
        )
        events += state(10000, 0) + state(40000, 30)
        events += self.event("work-order/start", {"external_work_order_id": "WO-R", "start_time_unix_ms": ms(at(60))})
        events += state(10000, 90) + state(30000, 120) + state(10000, 150)
        self.process()
        again = state(10000, 90) + state(30000, 120) + state(10000, 150) + state(180000, 100)
        self.process()
        self.assertEqual(set((events + again).mapped("state")), {"done"}, (events + again).mapped("error"))
        workorder = self.production("WO-R").workorder_ids
        records = self.Productivity.search(
            [("workcenter_id", "=", self.cell.id), ("hf_source", "=", "machine")], order="date_start, id"
        )
        none = self.env["mrp.workorder"]
        self.assertEqual(
            [(r.hf_umh_state, r.date_start, r.date_end, r.workorder_id) for r in records],
            [
                (10000, at(0), at(30), none),
                (40000, at(30), at(90), none),
                (10000, at(90), at(100), workorder),
                (180000, at(100), at(120), none),
                (30000, at(120), at(150), none),
                (10000, at(150), False, workorder),
            ],
        )
        self.assertEqual(self.cell.hf_state_productivity_id, records[-1], "the workcell's current state is the last")
        self.assertEqual(self.cell.hf_state_since, at(150))

    def test_a_lines_states_between_its_reports_do_not_break_the_run(self):
        # a line's own rhythm: a state/add for each cycle, a report at its end; the states touch no quantity,
        # so the reports between them are still booked together (one scrap order, not one per report) and
        # every state is still recorded, in its own order
        events = self.event(
            "work-order/create",
            {"external_work_order_id": "WO-S", "quantity": 100, "product": {"external_product_id": "BRK-1"}},
        )
        events += self.event("work-order/start", {"external_work_order_id": "WO-S", "start_time_unix_ms": ms(at(0))})
        for n in range(4):
            events += self.event("state/add", {"state": 10000, "start_time_unix_ms": ms(at(60 * n))})
            events += self.event(
                "product/add",
                {
                    "external_product_type_id": "BRK-1",
                    "start_time_unix_ms": ms(at(60 * n)),
                    "end_time_unix_ms": ms(at(60 * n + 50)),
                    "quantity": 8,
                    "bad_quantity": 1,
                },
            )
            events += self.event("state/add", {"state": 40000, "start_time_unix_ms": ms(at(60 * n + 50))})
        self.process()
        self.assertEqual(set(events.mapped("state")), {"done"}, events.mapped("error"))
        production = self.production("WO-S")
        self.assertEqual(production.workorder_ids.qty_produced, 32)
        scraps = self.env["stock.scrap"].search([("production_id", "=", production.id)])
        self.assertEqual((len(scraps), sum(scraps.mapped("scrap_qty"))), (1, 4), "one scrap order for the run")
        self.assertEqual(len(self.env["hf.mrp.output"].search([("workcenter_id", "=", self.cell.id)])), 4)
        records = self.Productivity.search(
            [("workcenter_id", "=", self.cell.id), ("hf_source", "=", "machine")], order="date_start, id"
        )
        self.assertEqual(
            [(r.hf_umh_state, r.date_start) for r in records],
            [(code, at(60 * n + offset)) for n in range(4) for code, offset in ((10000, 0), (40000, 50))],
        )
        self.assertEqual(
            records[:-1].mapped("date_end"), records[1:].mapped("date_start"), "each state holds until the next"
        )
        self.assertFalse(records[-1].date_end)

    def test_a_run_of_reports_is_booked_at_once(self):
        # a line reporting every few seconds: the cron books the workcell's reports in a row together (one
        # quantity update, one scrap order), each report still its own output (setBadQuantity corrects one)
        events = self.event(
            "work-order/create",
            {"external_work_order_id": "WO-B", "quantity": 100, "product": {"external_product_id": "BRK-1"}},
        )
        events += self.event("work-order/start", {"external_work_order_id": "WO-B", "start_time_unix_ms": ms(at(0))})
        for n in range(5):
            events += self.event(
                "product/add",
                {
                    "external_product_type_id": "BRK-1",
                    "start_time_unix_ms": ms(at(60 * n)),
                    "end_time_unix_ms": ms(at(60 * (n + 1))),
                    "quantity": 8,
                    "bad_quantity": 1,
                },
            )
        events += self.event(
            "product/add",
            {"external_product_type_id": "BRK-1", "end_time_unix_ms": ms(at(60)), "quantity": 8, "bad_quantity": 1},
        )  # a redelivery in the run
        self.process()
        self.assertEqual(events.mapped("state"), ["done"] * 8, events.mapped("error"))
        production = self.production("WO-B")
        self.assertEqual(production.workorder_ids.qty_produced, 40)
        scraps = self.env["stock.scrap"].search([("production_id", "=", production.id)])
        self.assertEqual((len(scraps), sum(scraps.mapped("scrap_qty"))), (1, 5), "one scrap order for the run")
        outputs = self.env["hf.mrp.output"].search([("workcenter_id", "=", self.cell.id)])
        self.assertEqual(len(outputs), 5)
        self.assertEqual(outputs.mapped("scrap_ids"), scraps)
        correction = self.event(
            "product/setBadQuantity",
            {"external_product_type_id": "BRK-1", "end_time_unix_ms": ms(at(180)), "bad_quantity": 0},
        )
        self.process()
        self.assertEqual(correction.state, "done", correction.error)
        self.assertEqual(
            sum(self.env["hf.mrp.output"].search([("workcenter_id", "=", self.cell.id)]).mapped("bad_quantity")), 4
        )
