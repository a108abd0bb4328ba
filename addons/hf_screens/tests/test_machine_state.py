from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from odoo.addons.hf_screens.models.hf_machine_state import classify_state

from .common import HfScreensCommon

T0 = datetime(2026, 11, 24, 8, 0, 0)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


@tagged("post_install", "-at_install")
class TestMachineState(HfScreensCommon):
    """The state machine on samples, without the historian: every case the cron meets."""

    def apply(self, pairs):
        self.env["hf.machine.state"]._apply_samples(self.workcenter, [(at(s), state) for s, state in pairs])

    def test_classify(self):
        self.assertEqual(classify_state(1), "running")
        self.assertEqual(classify_state(0), "idle")
        self.assertEqual(classify_state(3), "down")
        self.assertEqual(classify_state(10000), "running")
        self.assertEqual(classify_state(40000), "idle")
        self.assertEqual(classify_state(120000), "down")
        self.assertEqual(classify_state(None, "Running"), "running")
        self.assertEqual(classify_state(None, "fault"), "down")
        self.assertIsNone(classify_state(None, "banana"))
        self.assertIsNone(classify_state(1, None, 2), "a bad-quality sample says nothing")

    def test_transitions_open_and_close_records(self):
        self.apply(
            [(0, "running"), (5, "running"), (20, "running"), (30, "down"), (45, "down"), (60, "idle"), (75, "idle")]
        )
        records = self.machine_records()
        self.assertEqual(records.mapped("hf_machine_state"), ["running", "down", "idle"])
        self.assertEqual(records.mapped("date_start"), [at(0), at(30), at(60)])
        self.assertEqual(records[0].date_end, at(30))
        self.assertEqual(records[1].date_end, at(60))
        self.assertFalse(records[2].date_end, "the current state stays open")
        self.assertEqual(records[0].loss_id, self.env.ref("mrp.block_reason7"))
        self.assertEqual(records[1].loss_id, self.env.ref("mrp.block_reason1"))
        self.assertEqual(records[2].loss_id, self.env.ref("hf_screens.hf_loss_machine_idle"))
        self.assertEqual(self.workcenter.hf_state_current, "idle")
        self.assertEqual(self.workcenter.working_state, "done", "idle is a performance loss: not blocked")

    def test_down_blocks_workcenter(self):
        self.apply([(0, "down"), (5, "down")])
        self.assertEqual(self.workcenter.working_state, "blocked")

    def test_flapping_is_ignored(self):
        # Down for 2 s, 3 s and 4 s: all shorter than the 10 s minimum, the machine never stopped.
        self.apply(
            [
                (0, "running"),
                (10, "down"),
                (12, "running"),
                (20, "down"),
                (23, "running"),
                (30, "idle"),
                (31, "idle"),
                (34, "running"),
                (50, "running"),
            ]
        )
        records = self.machine_records()
        self.assertEqual(len(records), 1)
        self.assertEqual(records.hf_machine_state, "running")
        self.assertFalse(records.date_end)

    def test_state_confirmed_across_batches(self):
        # The cron sees the start of a stop in one run and its confirmation in the next.
        self.apply([(0, "running"), (10, "down"), (15, "down")])
        self.assertEqual(len(self.machine_records()), 1, "5 s of down is not yet a stop")
        self.assertEqual(self.workcenter.hf_state_candidate, "down")
        self.apply([(21, "down")])
        records = self.machine_records()
        self.assertEqual(records.mapped("hf_machine_state"), ["running", "down"])
        self.assertEqual(records[1].date_start, at(10), "the stop starts when it began, not when it was confirmed")
        self.assertEqual(records[0].date_end, at(10))

    def test_gap_closes_at_last_sample(self):
        self.apply([(0, "running"), (30, "running"), (300, "running"), (310, "running")])
        records = self.machine_records()
        self.assertEqual(len(records), 2)
        self.assertEqual(records[0].date_end, at(30), "closed where the data stopped, not when it came back")
        self.assertEqual(records[1].date_start, at(300))
        self.assertFalse(records[1].date_end)

    def test_bad_quality_closes(self):
        self.apply([(0, "running"), (20, "running"), (21, None), (25, "idle"), (40, "idle")])
        records = self.machine_records()
        self.assertEqual(records.mapped("hf_machine_state"), ["running", "idle"])
        self.assertEqual(records[0].date_end, at(20))
        self.assertEqual(records[1].date_start, at(25))

    def test_replayed_samples_are_ignored(self):
        self.apply([(0, "running"), (20, "running"), (40, "down"), (55, "down")])
        before = self.machine_records()
        self.apply([(0, "running"), (20, "running"), (40, "down"), (55, "down")])
        self.assertEqual(self.machine_records(), before, "at-least-once delivery must not duplicate records")

    def test_silence_closes_open_record(self):
        self.apply([(0, "running"), (30, "running")])
        with freeze_time(at(200)):
            self.env["hf.machine.state"]._close_on_silence(self.workcenter, at(200))
        record = self.machine_records()
        self.assertEqual(record.date_end, at(30))
        self.assertFalse(self.workcenter.hf_state_current)

    def test_silence_within_gap_keeps_record_open(self):
        self.apply([(0, "running"), (30, "running")])
        self.env["hf.machine.state"]._close_on_silence(self.workcenter, at(60))
        self.assertFalse(self.machine_records().date_end)

    def test_steady_state_repeated_by_the_heartbeat_stays_current(self):
        """Issue 16, point 1: the edge sends an unchanged state again every heartbeat (60 s, a little later
        than 60 s once sent); the state holds between beats instead of ending at the 60 s data gap."""
        self.apply([(0, "running"), (60.4, "running"), (120.8, "running"), (181.2, "running")])
        record = self.machine_records()
        self.assertEqual(len(record), 1, "one running record: a beat is not a gap")
        self.assertEqual((record.date_start, record.date_end), (at(0), False))
        self.env["hf.machine.state"]._close_on_silence(self.workcenter, at(181.2 + 80))
        self.assertEqual(self.workcenter.hf_state_current, "running", "the next beat is not late yet")
        self.env["hf.machine.state"]._close_on_silence(self.workcenter, at(181.2 + 91))
        self.assertFalse(self.workcenter.hf_state_current, "1.5 beats of silence: the state is no longer known")
        self.assertEqual(record.date_end, at(181.2))

    def test_zero_minimum_follows_every_change(self):
        self.workcenter.hf_min_state_seconds = 0
        self.apply([(0, "running"), (1, "down"), (2, "running")])
        self.assertEqual(self.machine_records().mapped("hf_machine_state"), ["running", "down", "running"])


@tagged("post_install", "-at_install")
class TestMachineStateFromHistorian(HfScreensCommon):
    """The cron over samples stored in the real historian."""

    def test_cron_reads_new_samples(self):
        self.store(self.tag_state, [(at(0), 1), (at(10), 1), (at(20), 1), (at(30), 0), (at(45), 0)])
        with freeze_time(at(50)):
            self.env["hf.machine.state"]._process_workcenters(self.workcenter, at(50))
        self.assertEqual(self.machine_records().mapped("hf_machine_state"), ["running", "idle"])
        self.store(self.tag_state, [(at(60), 3), (at(75), 3)])
        with freeze_time(at(80)):
            self.env["hf.machine.state"]._process_workcenters(self.workcenter, at(80))
        records = self.machine_records()
        self.assertEqual(records.mapped("hf_machine_state"), ["running", "idle", "down"])
        self.assertEqual(records[1].date_end, at(60))
        # The data stops: a minute later the cron ends the stop at the last sample.
        with freeze_time(at(200)):
            self.env["mrp.workcenter"]._cron_hf_process_machine_states()
        self.assertEqual(records[2].date_end, at(75))

    def test_state_reported_on_change_holds_while_its_device_delivers(self):
        # An OPC UA subscription reports the state only when it changes (running at 0, idle at 130); the
        # device's temperature keeps coming every second until 200, then the device falls silent.
        self.store(self.tag_state, [(at(0), 1), (at(130), 0)])
        self.store(self.tag_temperature, [(at(s), 40.0 + s % 7) for s in range(201)])
        MachineState = self.env["hf.machine.state"]
        MachineState._process_workcenters(self.workcenter, at(120))
        record = self.machine_records()
        self.assertEqual((record.hf_machine_state, record.date_start, record.date_end), ("running", at(0), False))
        self.assertEqual(self.workcenter.hf_state_last_seen, at(115), "seen until the device's last sample (5 s lag)")
        MachineState._process_workcenters(self.workcenter, at(200))
        records = self.machine_records()
        self.assertEqual(
            [(r.hf_machine_state, r.date_start, r.date_end) for r in records],
            [("running", at(0), at(130)), ("idle", at(130), False)],
            "the idle state is confirmed by the device's samples after its 10 s minimum",
        )
        MachineState._process_workcenters(self.workcenter, at(400))
        self.assertEqual(records[1].date_end, at(200), "the device fell silent: the record ends where its data did")

    def test_machine_running_unchanged_for_five_minutes_stays_current_and_has_oee(self):
        """Issue 16, point 1: a PLC that publishes its state only on change; the edge's heartbeat repeats it
        every 60 s (no other tag of the device delivers). The state stays current and availability computes."""
        beats = [at(round(s * 60.3, 1)) for s in range(6)]  # 0 .. 301.5 s
        self.store(self.tag_state, [(time, 1) for time in beats])
        MachineState = self.env["hf.machine.state"]
        for now in (at(65), at(130), at(200), at(250), at(310)):
            MachineState._process_workcenters(self.workcenter, now)
            self.assertEqual(self.workcenter.hf_state_current, "running", f"at {now}")
        record = self.machine_records()
        self.assertEqual(len(record), 1, "one running record: a beat is not a gap")
        self.assertEqual((record.date_start, record.date_end), (at(0), False))
        self.workcenter.resource_calendar_id.tz = "UTC"
        self.assertAlmostEqual(self.workcenter._hf_oee(at(310))["availability"], 1.0)
