from datetime import datetime, timedelta
from itertools import pairwise

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import HfScreensCommon, create_workorder

T0 = datetime(2026, 11, 24, 8, 0, 0)  # a Tuesday, 08:00 UTC: inside the shift and the working hours


def at(seconds):
    return T0 + timedelta(seconds=seconds)


@tagged("post_install", "-at_install")
class TestWorkorderTime(HfScreensCommon):
    """A machine-driven workcell has one clock, the machine: work orders get its running time, nothing twice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workcenter.resource_calendar_id.tz = "UTC"
        cls.MachineState = cls.env["hf.machine.state"]

    def state_samples(self, start, end, value_at):
        """A state sample every 10 s in [start, end], ``value_at(second)`` giving the PLC's state code."""
        self.store(self.tag_state, [(at(s), value_at(s)) for s in range(start, end + 1, 10)])

    def process(self, seconds):
        with freeze_time(at(seconds)):
            self.MachineState._process_workcenters(self.workcenter, at(seconds))

    def productive(self):
        return self.Productivity.search(
            [("workcenter_id", "=", self.workcenter.id), ("loss_type", "=", "productive")],
            order="date_start, id",
        )

    def assert_no_overlap(self, records):
        records = records.sorted(lambda r: (r.date_start, r.id))
        for before, after in pairwise(records):
            self.assertTrue(before.date_end, f"only the last record may be open: {before.date_start}")
            self.assertLessEqual(
                before.date_end, after.date_start, f"{before.date_start}-{before.date_end} overlaps {after.date_start}"
            )

    def test_start_and_running_samples_count_once(self):
        # Running from -60 s, idle 300..390 s, running again 400..600 s; the order starts at 0, ends at 600.
        self.state_samples(-60, 600, lambda s: 0 if 300 <= s < 400 else 1)
        workorder = create_workorder(self.env, self.workcenter)
        with freeze_time(at(0)):
            workorder.button_start()
        self.assertEqual(workorder.state, "progress")
        self.assertTrue(workorder.is_user_working, "Odoo's views offer Pause, not Start again")
        self.assertFalse(
            self.Productivity.search([("workcenter_id", "=", self.workcenter.id), ("hf_source", "!=", "machine")]),
            "no operator timer: the machine is the only clock",
        )
        self.process(600)
        with freeze_time(at(600)):
            workorder.button_finish()
        self.assertEqual(workorder.state, "done")

        records = self.machine_records()
        self.assertEqual(records, self.Productivity.search([("workcenter_id", "=", self.workcenter.id)]))
        self.assert_no_overlap(records)
        self.assertEqual(
            [(r.hf_machine_state, r.date_start, r.date_end, r.workorder_id) for r in records],
            [
                ("running", at(-60), at(0), self.env["mrp.workorder"]),
                ("running", at(0), at(300), workorder),
                ("idle", at(300), at(400), self.env["mrp.workorder"]),
                ("running", at(400), at(600), workorder),
                ("running", at(600), False, self.env["mrp.workorder"]),
            ],
        )
        # The order's duration is the machine's running time while it was started: 300 s + 200 s.
        self.assertAlmostEqual(workorder.duration, 500 / 60, delta=0.01)
        self.assertEqual(workorder.time_ids, records.filtered(lambda r: r.workorder_id))
        with freeze_time(at(600)):
            self.workcenter.invalidate_recordset(["productive_time", "blocked_time", "oee"])
            # Odoo's own figures (closed records, in hours rounded to 0.01): 560 s productive, 100 s idle.
            # Counted twice, productive time would be 1060 s (0.29 h) and OEE about 91 %.
            self.assertAlmostEqual(self.workcenter.productive_time, 560 / 3600, delta=0.005)
            self.assertAlmostEqual(self.workcenter.blocked_time, 100 / 3600, delta=0.005)
            self.assertAlmostEqual(self.workcenter.oee, 100 * 560 / 660, delta=1.0)
            oee = self.workcenter._hf_oee(at(600))
        self.assertEqual(oee["run_seconds"], 560)
        self.assertEqual(oee["recorded_seconds"], 660)
        self.assertAlmostEqual(oee["availability"], 560 / 660)

    def test_parts_counted_while_booked_to_the_order(self):
        # Running from -60 s, idle 300..390 s, running again 400..600 s, a part every 10 s while running
        # (the good counter reads 6 when the order starts at 0, 36 at 300, 56 at 600).
        self.state_samples(-60, 600, lambda s: 0 if 300 <= s < 400 else 1)
        self.store(
            self.tag_good, [(at(s), (min(s, 300) + 60) // 10 + max(0, s - 400) // 10) for s in range(-60, 601, 10)]
        )
        workorder = create_workorder(self.env, self.workcenter)
        self.assertEqual(workorder._hf_counted_parts(at(0)), 0, "nothing booked to it yet")
        with freeze_time(at(0)):
            workorder.button_start()
        self.process(350)
        self.assertEqual(
            workorder._hf_counted_parts(at(450)),
            35,
            "on the machine: its parts count before the state job books the machine's new run",
        )
        self.process(600)
        # The order's running time is 0..300 and 400..(open): the 6 parts before it started are not its own.
        self.assertEqual(workorder._hf_counted_parts(at(600)), 50)
        with freeze_time(at(600)):
            workorder.button_finish()
        self.assertEqual(workorder._hf_counted_parts(at(900)), 50, "finished: its count stays")
        saw = self.create_workcenter("Saw 7", "saw7")
        self.assertIsNone(create_workorder(self.env, saw)._hf_counted_parts(), "no machine, no count")

    def test_pause_and_resume(self):
        self.state_samples(0, 600, lambda s: 1)
        workorder = create_workorder(self.env, self.workcenter)
        with freeze_time(at(0)):
            workorder.button_start()
        self.process(200)
        with freeze_time(at(200)):
            workorder.button_pending()
        self.assertEqual(workorder.state, "progress", "MRP keeps the order in progress while paused")
        workorder.invalidate_recordset(["is_user_working"])
        self.assertFalse(workorder.is_user_working)
        self.assertFalse(self.workcenter.hf_workorder_id)
        self.process(300)
        with freeze_time(at(300)):
            workorder.button_start()
        self.process(600)
        with freeze_time(at(600)):
            workorder.button_finish()
        records = self.productive()
        self.assert_no_overlap(records)
        self.assertEqual(
            [(r.date_start, r.date_end, r.workorder_id) for r in records],
            [
                (at(0), at(200), workorder),
                (at(200), at(300), self.env["mrp.workorder"]),
                (at(300), at(600), workorder),
                (at(600), False, self.env["mrp.workorder"]),
            ],
        )
        self.assertAlmostEqual(workorder.duration, 500 / 60, delta=0.01)

    def test_next_order_takes_the_machine(self):
        self.MachineState._apply_samples(self.workcenter, [(at(0), "running"), (at(50), "running")])
        first = create_workorder(self.env, self.workcenter, name="Bracket")
        second = create_workorder(self.env, self.workcenter, name="Plate")
        with freeze_time(at(50)):
            first.button_start()
        self.MachineState._apply_samples(self.workcenter, [(at(100), "running"), (at(150), "running")])
        with freeze_time(at(150)):
            second.button_start()
        self.assertEqual(self.workcenter.hf_workorder_id, second)
        (first | second).invalidate_recordset(["is_user_working"])
        self.assertFalse(first.is_user_working)
        self.assertTrue(second.is_user_working)
        self.assertEqual(first.time_ids.mapped("date_start"), [at(50)])
        self.assertEqual(first.time_ids.date_end, at(150))
        self.assertEqual(second.time_ids.date_start, at(150))
        self.assertFalse(second.time_ids.date_end)
        self.assert_no_overlap(self.productive())

    def test_done_without_machine_time_invents_no_record(self):
        workorder = create_workorder(self.env, self.workcenter)
        with freeze_time(at(0)):
            workorder.button_start()
            workorder.action_mark_as_done()
        self.assertEqual(workorder.state, "done")
        self.assertFalse(
            self.Productivity.search([("workcenter_id", "=", self.workcenter.id)]),
            "Odoo's 'duration = expected' fallback must not add time the machine did not run",
        )

    def test_unblock_does_not_silence_the_machine(self):
        self.MachineState._apply_samples(self.workcenter, [(at(0), "down"), (at(30), "down")])
        self.assertEqual(self.workcenter.working_state, "blocked")
        with freeze_time(at(40)):
            self.workcenter.unblock()
        self.MachineState._apply_samples(self.workcenter, [(at(50), "down"), (at(60), "running"), (at(80), "running")])
        records = self.machine_records()
        self.assertEqual(
            [(r.hf_machine_state, r.date_start) for r in records],
            [("down", at(0)), ("down", at(50)), ("running", at(60))],
        )
        self.assertEqual(records[1].date_end, at(60))
        self.assertEqual(self.workcenter.working_state, "done")

    def test_block_dialog_names_the_machine_stop(self):
        # Odoo's "Block" dialog on a machine-driven workcell: no second record beside the machine's.
        self.MachineState._apply_samples(self.workcenter, [(at(0), "running"), (at(30), "running")])
        setup = self.env.ref("mrp.block_reason2")
        block = self.Productivity.with_context(default_workcenter_id=self.workcenter.id).create(
            {"loss_id": setup.id, "description": "die change"},
        )
        with freeze_time(at(30)), self.assertRaisesRegex(UserError, "not stopped"):
            block.button_block()
        self.MachineState._apply_samples(self.workcenter, [(at(40), "down"), (at(60), "down")])
        with freeze_time(at(60)):
            block.button_block()
        self.assertFalse(block.exists())
        records = self.Productivity.search([("workcenter_id", "=", self.workcenter.id)], order="date_start")
        self.assertEqual(records, self.machine_records())
        self.assertEqual(records[-1].loss_id, setup)
        self.assertEqual(records[-1].description, "die change")
        self.assertEqual(records[-1].date_start, at(40))

    def test_workcell_without_state_tag_keeps_odoo_timers(self):
        saw = self.create_workcenter("Saw 6", "saw6")
        workorder = create_workorder(self.env, saw)
        with freeze_time(at(0)):
            workorder.button_start()
        timer = workorder.time_ids
        self.assertEqual(len(timer), 1)
        self.assertEqual(timer.user_id, self.env.user)
        self.assertFalse(timer.hf_source)
        self.assertEqual(timer.loss_type, "productive")
        self.assertTrue(workorder.is_user_working)
        with freeze_time(at(120)):
            workorder.button_pending()
        self.assertEqual(timer.date_end, at(120))
        with freeze_time(at(180)):
            workorder.button_start()
        with freeze_time(at(240)):
            workorder.button_finish()
        self.assertEqual(workorder.state, "done")
        self.assertEqual(len(workorder.time_ids), 2)
        self.assertTrue(all(workorder.time_ids.mapped("date_end")))
        self.assertAlmostEqual(workorder.duration, 3.0, delta=0.01)
        self.assertFalse(saw.hf_workorder_id)
