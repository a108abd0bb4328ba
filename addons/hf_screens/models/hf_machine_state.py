"""Machine state → mrp.workcenter.productivity.

A workcenter's tag with role ``machine_state`` is read sample by sample from the historian and turned
into Odoo's own productivity log, so MRP's OEE figures show what the machine really did:

* running → "Fully Productive Time" (productive), idle → "Machine idle" (performance: the workcenter
  stays usable), down → "Equipment Failure" (availability: Odoo blocks the workcenter) until the operator
  picks a better reason;
* a new state replaces the current one only after it held for ``hf_min_state_seconds`` (flapping
  contacts do not fill the log with one-second records); a state that flips back earlier is ignored;
* a state may be reported only when it changes (an OPC UA subscription, a deadband): its value holds
  while the machine's device keeps delivering, so every good sample of another tag of the same device
  (at most one every few seconds) confirms the state in force at that moment, as a sample of it would;
* a gap longer than ``hf_state_gap_seconds`` without such a sample, or a bad-quality state sample, closes
  the open record at the last one: we never claim time we did not see;
* on such a workcell the machine is the only source of time: starting a work order opens no operator
  timer (see mrp_workorder.py); the machine's running records are booked to the started work order
  (``workorder_id``) instead, split at the moment it is started, paused or finished, so the work order's
  duration is the machine's running time and nothing is counted twice.
"""

import logging
from datetime import UTC, timedelta

from odoo import _, api, fields, models

from hf_core.timeutil import utc_naive
from hf_core.types import Quality

_logger = logging.getLogger(__name__)

RUNNING, IDLE, DOWN = "running", "idle", "down"
STATES = [(RUNNING, "Running"), (IDLE, "Idle"), (DOWN, "Down")]
TEXT_STATES = {
    RUNNING: {"running", "run", "producing", "production", "execute", "active", "on", "true"},
    IDLE: {"idle", "stopped", "stop", "ready", "waiting", "starved", "blocked_downstream", "off", "false"},
    DOWN: {"down", "fault", "failure", "error", "alarm", "maintenance", "breakdown", "blocked"},
}
BATCH = 5000
# Samples of the device's other tags confirm the state only this far behind now: the ingest may commit a
# state change a moment after the other tags' samples of the same instant.
HEARTBEAT_LAG = timedelta(seconds=5)
HEARTBEAT_SECONDS = 5


def classify_state(value, value_text=None, quality=0):
    """running / idle / down for one historian sample, or None when the sample says nothing usable.

    Numbers: 1 running, 0 idle, 2..9999 or negative down; UMH v1 state codes (≥ 10000) by UMH's categories:
    10000-29999 producing → running, 30000-59999 unknown (unknown state, unspecified stop, microstop: no
    reason known) → idle, ≥ 60000 (material, process, operator, planning, technical: a specified stop) →
    down. Text: the usual PackML/UMH words (see TEXT_STATES). Quality 2 (bad) → None.
    """
    if quality is not None and quality >= Quality.BAD:
        return None
    if value_text not in (None, ""):
        text = str(value_text).strip().lower()
        for state, words in TEXT_STATES.items():
            if text in words:
                return state
        try:
            value = float(text)
        except ValueError:
            return None
    if value is None:
        return None
    value = float(value)
    if value >= 10000:
        if value < 30000:
            return RUNNING
        return IDLE if value < 60000 else DOWN
    if value == 1:
        return RUNNING
    if value == 0:
        return IDLE
    return DOWN


class HfMachineState(models.AbstractModel):
    _name = "hf.machine.state"
    _description = "Hyperfactory machine state to productivity"

    @api.model
    def _loss_for(self, state):
        xmlid = {
            RUNNING: "mrp.block_reason7",
            IDLE: "hf_screens.hf_loss_machine_idle",
            DOWN: "mrp.block_reason1",
        }[state]
        return self.env.ref(xmlid)

    @api.model
    def _read_samples(self, tag, after, until):
        """Raw samples of one tag in (after, until], oldest first, as (naive UTC time, state or None).

        Every raw sample in order (the state logic must not see a downsampled window).
        """
        from hf_historian import reader

        tick = timedelta(microseconds=1)  # read_raw is [start, end); we want (after, until]
        rows = reader.read_raw(
            self.env.cr,
            tag.id,
            after.replace(tzinfo=UTC) + tick,
            until.replace(tzinfo=UTC) + tick,
            BATCH,
        )
        return [
            (utc_naive(row["time"]), classify_state(row["value"], row["value_text"], row["quality"])) for row in rows
        ]

    @api.model
    def _read_heartbeats(self, tag, after, until, gap_seconds):
        """Naive UTC moments in (after, until] at which the state tag's device delivered a good sample of
        another tag, at most one per few seconds (and at least two per ``gap_seconds``), oldest first."""
        if not tag.device_id or until <= after:
            return []
        others = (
            self.env["hf.uns.tag"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [("device_id", "=", tag.device_id.id), ("id", "!=", tag.id)],
            )
        )
        if not others:
            return []
        from hf_historian import reader

        moments = reader.read_activity(
            self.env.cr,
            others.ids,
            after.replace(tzinfo=UTC),
            until.replace(tzinfo=UTC),
            max(1, min(HEARTBEAT_SECONDS, gap_seconds // 2)),
        )
        return [utc_naive(time) for time in moments]

    @api.model
    def _with_heartbeats(self, workcenter, samples, heartbeats):
        """The state samples, and at each heartbeat the state in force then (that of the last state sample,
        the one the workcell holds before the first): what the state machine applies, oldest first."""
        in_force = workcenter.hf_state_candidate or workcenter.hf_state_current or None
        events = sorted(
            [(time, 0, state) for time, state in samples] + [(time, 1, None) for time in heartbeats],
            key=lambda event: event[:2],
        )
        merged = []
        for time, heartbeat, state in events:
            if not heartbeat:
                in_force = state
                merged.append((time, state))
            elif in_force is not None:
                merged.append((time, in_force))
        return merged

    @api.model
    def _historian_ready(self):
        try:
            from hf_historian import reader
        except ImportError:
            return False
        return reader.historian_ready(self.env.cr)

    @api.model
    def _process_workcenters(self, workcenters, now=None):
        """Apply every new state sample of these workcenters; close records on a data gap."""
        now = now or fields.Datetime.now()
        if not self._historian_ready():
            _logger.info("historian table missing: machine states not processed")
            return
        for workcenter in workcenters:
            tag = workcenter._hf_role_tag("machine_state")
            if not tag:
                continue
            # One processor per workcenter at a time (cron and an operator's action may race).
            self.env.cr.execute("SELECT id FROM mrp_workcenter WHERE id = %s FOR UPDATE SKIP LOCKED", (workcenter.id,))
            if not self.env.cr.fetchone():
                continue
            after = workcenter.hf_state_last_seen or (now - timedelta(days=1))
            while True:
                samples = self._read_samples(tag, after, now)
                full = len(samples) >= BATCH
                until = samples[-1][0] if full else now - HEARTBEAT_LAG
                heartbeats = self._read_heartbeats(tag, after, until, workcenter._hf_state_gap().total_seconds())
                merged = self._with_heartbeats(workcenter, samples, heartbeats)
                if merged:
                    self._apply_samples(workcenter, merged)
                if not full:
                    break
                after = samples[-1][0]
            self._close_on_silence(workcenter, now)

    @api.model
    def _apply_samples(self, workcenter, samples):
        """The state machine itself: ``samples`` are (naive UTC time, state or None), oldest first."""
        min_duration = timedelta(seconds=max(0, workcenter.hf_min_state_seconds))
        gap = workcenter._hf_state_gap()
        current = workcenter.hf_state_current or None
        candidate = workcenter.hf_state_candidate or None
        candidate_since = workcenter.hf_state_candidate_since
        last = workcenter.hf_state_last_seen
        record = workcenter.hf_state_productivity_id
        since = workcenter.hf_state_since
        for time, state in samples:
            if last and time <= last:
                continue
            if current and record and record.date_end:
                # Closed behind our back (Odoo's "Unblock" closes every open record): the machine still
                # says what it does, so the state starts again with this sample.
                record, current, candidate, since = self.env["mrp.workcenter.productivity"], None, None, None
            if current and (state is None or (last and time - last > gap)):
                self._close(record, last)
                record, current, candidate, since = self.env["mrp.workcenter.productivity"], None, None, None
            if state is None:
                last = time
                continue
            if current is None:
                record, current, since, candidate = self._open(workcenter, state, time), state, time, None
            elif state == current:
                candidate = None
            else:
                if state != candidate:
                    candidate, candidate_since = state, time
                if time - candidate_since >= min_duration:
                    self._close(record, candidate_since)
                    record = self._open(workcenter, candidate, candidate_since)
                    current, since, candidate = candidate, candidate_since, None
            last = time
        workcenter.write(
            {
                "hf_state_current": current or False,
                "hf_state_since": since or False,
                "hf_state_candidate": candidate or False,
                "hf_state_candidate_since": candidate_since if candidate else False,
                "hf_state_last_seen": last or False,
                "hf_state_productivity_id": record.id if record else False,
            }
        )

    @api.model
    def _close_on_silence(self, workcenter, now):
        """No sample for longer than the gap: end the open record where the data ended."""
        last = workcenter.hf_state_last_seen
        gap = workcenter._hf_state_gap()
        if workcenter.hf_state_current and last and now - last > gap:
            self._close(workcenter.hf_state_productivity_id, last)
            workcenter.write(
                {
                    "hf_state_current": False,
                    "hf_state_since": False,
                    "hf_state_candidate": False,
                    "hf_state_candidate_since": False,
                    "hf_state_productivity_id": False,
                }
            )

    @api.model
    def _open(self, workcenter, state, start, loss=None):
        return self.env["mrp.workcenter.productivity"].sudo().create(self._open_values(workcenter, state, start, loss))

    @api.model
    def _open_values(self, workcenter, state, start, loss=None, description=None):
        """The productivity record of machine state ``state`` from ``start`` on (the values to create it)."""
        workorder = workcenter.hf_workorder_id
        return {
            "workcenter_id": workcenter.id,
            "company_id": workcenter.company_id.id,
            "loss_id": (loss or self._loss_for(state)).id,
            "date_start": start,
            "hf_source": "machine",
            "hf_machine_state": state,
            "user_id": False,
            # Only running time is the work order's time: idle and down stay the workcell's losses.
            "workorder_id": workorder.id if state == RUNNING and workorder.state == "progress" else False,
            "description": description
            or _(
                "Machine state %(state)s (tag %(tag)s)",
                state=dict(STATES)[state],
                tag=workcenter._hf_role_tag("machine_state").name,
            ),
        }

    @api.model
    def _switch_workorder(self, workcenter, workorder, when=None):
        """Book the machine's running time to ``workorder`` (an empty recordset: to no work order) from
        ``when`` (now) on. The states seen so far are applied first, so the time before the switch stays
        with its previous owner; the open running record is split at ``when``."""
        when = when or fields.Datetime.now()
        workcenter = workcenter.sudo()
        workorder = workorder.sudo()
        self._process_workcenters(workcenter, when)
        # Wait for (rather than skip) a cron run on this workcell: the split must see its last state.
        self.env.cr.execute("SELECT id FROM mrp_workcenter WHERE id = %s FOR UPDATE", (workcenter.id,))
        workcenter.invalidate_recordset(["hf_state_productivity_id", "hf_workorder_id"])
        record = workcenter.hf_state_productivity_id
        if record and not record.date_end and record.hf_machine_state == RUNNING and record.workorder_id != workorder:
            if record.date_start >= when:
                record.sudo().workorder_id = workorder
            else:
                self._close(record, when)
                workcenter.hf_workorder_id = workorder
                new = self._open(workcenter, RUNNING, when, loss=record.loss_id)
                workcenter.hf_state_productivity_id = new
        workcenter.hf_workorder_id = workorder

    @api.model
    def _close(self, record, end):
        if record and not record.date_end:
            record.sudo().date_end = max(end, record.date_start)
