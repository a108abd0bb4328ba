from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

from odoo.tests import HttpCase, tagged

from odoo.addons.hf_screens.models.hf_screen import _oee_cache
from odoo.addons.hf_screens.models.hf_screen_demo import DEMO_ORIGIN

from .common import HfScreensCommon, historian_writer


class DemoProductionCommon(HfScreensCommon):
    """The press of HfScreensCommon with a kiosk, and the production ``make demo`` gives each workcell."""

    PLAN = ("Mounting bracket", "Pressing", (120, 80))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kiosk = cls.env["hf.screen.kiosk"].create({"workcenter_id": cls.workcenter.id, "user_id": cls.operator.id})
        cls.Demo = cls.env["hf.screen.demo"]

    def seed(self):
        return self.Demo._hf_seed_production(self.kiosk, *self.PLAN)

    def demo_orders(self):
        return self.env["mrp.production"].search([("origin", "=", DEMO_ORIGIN)], order="id")


@tagged("post_install", "-at_install")
class TestDemoProduction(DemoProductionCommon):
    def test_seed_plans_and_starts_once(self):
        order = self.seed()
        productions = self.demo_orders()
        self.assertEqual(productions.mapped("product_qty"), [120, 80])
        self.assertTrue(all(productions.mapped("is_planned")), "confirmed and planned")
        self.assertEqual(productions.mapped("state"), ["progress", "confirmed"])
        self.assertEqual(order, productions[0].workorder_ids)
        self.assertEqual(order.state, "progress")
        self.assertEqual(order.write_uid, self.operator, "started as the kiosk's operator")
        self.assertEqual(self.workcenter.hf_workorder_id, order, "the machine's running time goes to it")
        self.assertAlmostEqual(order.operation_id.time_cycle_manual, 6.0 / 60, msg="the ideal cycle time, in minutes")
        self.assertEqual(productions[1].workorder_ids.state, "ready")

        self.assertEqual(self.seed(), order, "re-run: the same order keeps running")
        self.assertEqual(self.demo_orders(), productions, "no new order while both are open")
        self.assertEqual(self.env["product.product"].search_count([("name", "=", "Mounting bracket")]), 1)
        self.assertEqual(self.env["mrp.bom"].search_count([("product_tmpl_id.name", "=", "Mounting bracket")]), 1)
        self.assertEqual(
            self.env["mrp.workorder"].search_count(
                [("workcenter_id", "=", self.workcenter.id), ("state", "=", "progress")]
            ),
            1,
        )

    def test_seed_after_an_order_is_finished(self):
        first = self.seed()
        first.button_finish()
        first.production_id.button_mark_done()
        second = self.seed()
        self.assertEqual(second.production_id.product_qty, 80, "the next planned order is started")
        self.assertEqual(self.workcenter.hf_workorder_id, second)
        open_orders = self.demo_orders().filtered(lambda p: p.state not in ("done", "cancel"))
        self.assertEqual(open_orders.mapped("product_qty"), [80, 80], "topped up to two open orders")


@tagged("post_install", "-at_install")
class TestDemoProductionTour(HttpCase, DemoProductionCommon):
    """The kiosk of a workcell as ``make demo`` leaves it: its order running, parts counted, an OEE."""

    def setUp(self):
        super().setUp()
        if historian_writer() is None:
            self.skipTest("hf_historian (writer) is not installed yet")
        self.env["hf.uns.tag"]._hf_ensure_historian_schema()

    def test_kiosk_shows_running_order_parts_and_oee(self):
        # Ten minutes of the press (a sample every 10 s): running, idle 300..360 s, running again; a good
        # part per running sample, 3 scrapped. The demo's order is started at its kiosk at 600 s, two parts
        # follow. All in the past, inside a shift (24 h from two hours ago).
        t0 = datetime.now(UTC).replace(microsecond=0, tzinfo=None) - timedelta(seconds=605)
        at = lambda seconds: t0 + timedelta(seconds=seconds)  # noqa: E731
        self.workcenter.resource_calendar_id.tz = "UTC"
        self.workcenter.write({"hf_shift_hours": 24, "hf_shift_start_hour": (at(0) - timedelta(hours=2)).hour})
        running = [s for s in range(0, 600, 10) if not 300 <= s < 360]
        self.store(self.tag_state, [(at(s), 0 if 300 <= s < 360 else 1) for s in range(0, 600, 10)])
        self.store(self.tag_good, [(at(s), 1000 + sum(1 for r in running if 0 < r <= s)) for s in range(0, 600, 10)])
        self.store(self.tag_scrap, [(at(0), 5), (at(590), 8)])
        with freeze_time(at(600)):
            order = self.seed()
        self.store(self.tag_state, [(at(601), 1), (at(602), 1)])
        self.store(self.tag_good, [(at(601), 1054), (at(602), 1055)])
        self.assertEqual(order._hf_counted_parts(), 2)
        _oee_cache.clear()
        oee = self.workcenter._hf_oee()
        # running 540 of 600 s; 55 good + 3 scrap at an ideal 6 s in 540 s running; 55 of 58 good
        self.assertAlmostEqual(oee["availability"], 0.9)
        self.assertAlmostEqual(oee["performance"], 58 * 6 / 540)
        self.assertAlmostEqual(oee["quality"], 55 / 58)
        self.assertAlmostEqual(oee["oee"], 0.55)
        self.start_tour(f"/hf/kiosk/{self.kiosk.token}", "hf_screens_kiosk_demo_production")
