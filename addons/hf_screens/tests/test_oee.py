from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from .common import HfScreensCommon

T0 = datetime(2026, 11, 24, 8, 0, 0)  # 08:00 UTC; the calendar below is UTC, shifts start 06:00, 14:00, 22:00


def at(seconds):
    return T0 + timedelta(seconds=seconds)


@tagged("post_install", "-at_install")
class TestOee(HfScreensCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workcenter.resource_calendar_id.tz = "UTC"
        cls.workcenter.hf_state_gap_seconds = 3600  # these tests sample sparsely

    def test_shift_window(self):
        start, end = self.workcenter._hf_shift_window(at(0))
        self.assertEqual(start, datetime(2026, 11, 24, 6, 0))
        self.assertEqual(end, at(0))
        start, _end = self.workcenter._hf_shift_window(datetime(2026, 11, 24, 3, 0))
        self.assertEqual(start, datetime(2026, 11, 23, 22, 0), "the night shift started yesterday")
        self.workcenter.resource_calendar_id.tz = "Europe/Berlin"  # 06:00 Berlin = 05:00 UTC in winter
        start, _end = self.workcenter._hf_shift_window(at(0))
        self.assertEqual(start, datetime(2026, 11, 24, 5, 0))

    def test_availability_from_machine_states(self):
        self.env["hf.machine.state"]._apply_samples(
            self.workcenter,
            [
                (at(0), "running"),
                (at(600), "running"),
                (at(900), "down"),
                (at(1200), "down"),
                (at(1200), "down"),
            ],
        )
        # running 0..900 (15 min), down 900..1200 (5 min, last sample): availability 0.75
        oee = self.workcenter._hf_oee(at(1200))
        self.assertAlmostEqual(oee["availability"], 0.75)
        self.assertEqual(oee["run_seconds"], 900)
        self.assertEqual(oee["recorded_seconds"], 1200)

    def test_no_records_no_availability(self):
        oee = self.workcenter._hf_oee(at(0))
        self.assertIsNone(oee["availability"])
        self.assertIsNone(oee["oee"])

    def test_performance_and_quality_from_counters(self):
        self.env["hf.machine.state"]._apply_samples(self.workcenter, [(at(0), "running"), (at(1200), "running")])
        # 20 min running at an ideal 6 s per part = 200 parts possible; 150 good + 30 scrap made.
        # The good counter resets to 0 once (a new batch on the PLC): 100 before, 50 after.
        self.store(self.tag_good, [(at(-60), 1000), (at(300), 1050), (at(600), 1100), (at(700), 20), (at(1200), 50)])
        self.store(self.tag_scrap, [(at(0), 5), (at(1200), 35)])
        oee = self.workcenter._hf_oee(at(1200))
        self.assertEqual(oee["good"], 150)
        self.assertEqual(oee["scrap"], 30)
        self.assertAlmostEqual(oee["performance"], 180 * 6 / 1200)
        self.assertAlmostEqual(oee["quality"], 150 / 180)
        self.assertAlmostEqual(oee["oee"], 1.0 * (180 * 6 / 1200) * (150 / 180))

    def test_performance_needs_ideal_cycle(self):
        self.workcenter.hf_ideal_cycle_time = 0
        self.env["hf.machine.state"]._apply_samples(self.workcenter, [(at(0), "running"), (at(60), "running")])
        with freeze_time(at(60)):
            oee = self.workcenter._hf_oee(at(60))
        self.assertIsNone(oee["performance"])
