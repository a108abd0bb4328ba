from datetime import datetime

from odoo.tests import tagged

from .common import HfMrpCommon, at


@tagged("post_install", "-at_install")
class TestOeeHistory(HfMrpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workcenter.resource_calendar_id.tz = "UTC"
        cls.workcenter.hf_state_gap_seconds = 3600

    def test_report_equals_kiosk(self):
        self.env["hf.machine.state"]._apply_samples(
            self.workcenter,
            [
                (at(0), "running"),
                (at(900), "down"),
                (at(1200), "down"),
            ],
        )
        self.store(self.tag_good, [(at(-60), 1000), (at(600), 1100), (at(1200), 1120)])
        self.store(self.tag_scrap, [(at(0), 5), (at(1200), 15)])
        kiosk = self.workcenter._hf_oee(at(1200))
        self.env["hf.mrp.oee"]._hf_compute(self.workcenter, now=at(1200))
        shift = self.env["hf.mrp.oee"].search(
            [
                ("workcenter_id", "=", self.workcenter.id),
                ("period", "=", "shift"),
                ("date_start", "=", datetime(2026, 11, 24, 6, 0)),
            ]
        )
        self.assertEqual(len(shift), 1)
        self.assertEqual(shift.date_end, at(1200))
        for name in ("availability", "performance", "quality", "oee"):
            self.assertIsNotNone(kiosk[name], name)
            self.assertAlmostEqual(shift[name], kiosk[name], msg=name)
        self.assertEqual(shift.good, kiosk["good"])
        day = self.env["hf.mrp.oee"].search(
            [("workcenter_id", "=", self.workcenter.id), ("period", "=", "day"), ("date", "=", "2026-11-24")]
        )
        self.assertAlmostEqual(day.availability, kiosk["availability"], msg="the day holds only this shift's records")
        self.assertAlmostEqual(self.workcenter.hf_mrp_oee_last, day.oee)
        # computed again: the same rows, updated
        self.env["hf.mrp.oee"]._hf_compute(self.workcenter, now=at(1200))
        self.assertEqual(
            self.env["hf.mrp.oee"].search_count(
                [
                    ("workcenter_id", "=", self.workcenter.id),
                    ("date_start", "=", shift.date_start),
                    ("period", "=", "shift"),
                ]
            ),
            1,
        )
