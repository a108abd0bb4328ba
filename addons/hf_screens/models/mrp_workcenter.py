from datetime import timedelta

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from hf_core.timeutil import as_utc, iso_utc
from hf_core.types import MODBUS_TYPES, S7_TYPES
from hf_historian import reader

from .hf_machine_state import STATES

# the bits of a PLC integer type a counter may have (hf_core.types: Modbus widths in registers, S7 in bytes)
COUNTER_BITS = {
    **{kind: 16 * MODBUS_TYPES[kind] for kind in ("int16", "uint16", "int32", "uint32")},
    **{kind: 8 * S7_TYPES[kind] for kind in ("INT", "WORD", "DINT", "DWORD")},
}

# A value holds until the next one or a bad-quality sample; the edge repeats it every heartbeat, so only a
# silence longer than the heartbeat and this margin means the edge or its link is gone (MQTT's keep-alive
# uses the same one and a half intervals).
HEARTBEAT_MARGIN = 1.5


class MrpWorkcenter(models.Model):
    """Screens, kiosks, machine-state tracking and OEE settings of a workcell."""

    _inherit = "mrp.workcenter"

    hf_screen_ids = fields.One2many("hf.screen", "workcenter_id", string="Screens")
    hf_kiosk_ids = fields.One2many("hf.screen.kiosk", "workcenter_id", string="Kiosk links")
    hf_machine_kind = fields.Char(
        string="Machine kind",
        help="Workcells of the same kind (e.g. 'press-250t') share screen layouts: copying a screen maps its "
        "bindings onto their tags of the same name.",
    )
    hf_ideal_cycle_time = fields.Float(
        string="Ideal cycle time (s)",
        help="Seconds per part at full speed; performance = parts * this / run time.",
    )
    hf_min_state_seconds = fields.Integer(
        string="Minimum state duration (s)",
        default=10,
        help="A machine state shorter than this is treated as flapping and ignored.",
    )
    hf_state_gap_seconds = fields.Integer(
        string="Data gap (s)",
        default=60,
        help="Without a sample from the machine for longer than this (of its state tag, or of any tag of its "
        "device: a state may be reported only when it changes), the open time record ends at the last one. "
        "Never less than one and a half heartbeats of the state tag: the edge repeats an unchanged state "
        "every heartbeat.",
    )
    hf_shift_hours = fields.Integer(string="Shift length (h)", default=8)
    hf_shift_start_hour = fields.Integer(string="First shift starts at (h)", default=6)
    hf_state_current = fields.Selection(STATES, string="Machine state", readonly=True, copy=False)
    hf_state_since = fields.Datetime(readonly=True, copy=False)
    hf_state_candidate = fields.Selection(STATES, readonly=True, copy=False)
    hf_state_candidate_since = fields.Datetime(readonly=True, copy=False)
    hf_state_last_seen = fields.Datetime(string="State seen until", readonly=True, copy=False)
    hf_state_productivity_id = fields.Many2one("mrp.workcenter.productivity", readonly=True, copy=False)
    hf_workorder_id = fields.Many2one(
        "mrp.workorder",
        string="Work order on the machine",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The started work order the machine's running time is booked to (machine-driven workcells only).",
    )

    _sql_constraints = [
        ("hf_min_state_positive", "CHECK(hf_min_state_seconds >= 0)", "The minimum state duration cannot be negative."),
        ("hf_gap_positive", "CHECK(hf_state_gap_seconds > 0)", "The data gap must be at least one second."),
        ("hf_shift_hours_range", "CHECK(hf_shift_hours BETWEEN 1 AND 24)", "A shift lasts between 1 and 24 hours."),
    ]

    def action_hf_open_screen(self):
        """Open this workcell's machine screen full screen (generating a default one when it has none)."""
        self.ensure_one()
        screen = self.hf_screen_ids[:1] or self.env["hf.screen"].sudo()._hf_generate_for_workcenter(self)
        return screen.with_env(self.env).action_open()

    def _hf_state_gap(self):
        """The data gap after which the machine's state is no longer known: ``hf_state_gap_seconds``, and never
        less than a heartbeat and its margin of the state tag (the edge sends an unchanged state again every
        heartbeat: a machine that keeps its state for hours still says so, and only silence beyond that ends it)."""
        self.ensure_one()
        tag = self._hf_role_tag("machine_state")
        heartbeat = tag._hf_heartbeat_seconds() if tag else 0.0
        return timedelta(seconds=max(1, self.hf_state_gap_seconds, HEARTBEAT_MARGIN * heartbeat))

    def _hf_machine_driven(self):
        """True when a machine-state tag drives this workcell's time records: the machine is then the only
        source of time (no operator timers), see mrp_workorder.py."""
        self.ensure_one()
        return bool(self._hf_role_tag("machine_state"))

    def _hf_role_tag(self, role):
        self.ensure_one()
        return (
            self.env["hf.uns.tag"]
            .sudo()
            .search(
                [("workcenter_id", "=", self.id), ("role", "=", role)],
                order="id",
                limit=1,
            )
        )

    @api.model
    def _cron_hf_process_machine_states(self):
        tags = self.env["hf.uns.tag"].sudo().search([("role", "=", "machine_state")])
        self.env["hf.machine.state"]._process_workcenters(tags.workcenter_id.sudo())

    # --- OEE of the current shift -------------------------------------------------------------

    def _hf_shift_window(self, now=None):
        """(start, end) of the current shift, naive UTC, shifts of hf_shift_hours from hf_shift_start_hour local."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        tz = pytz.timezone(self.resource_calendar_id.tz or self.env.user.tz or "UTC")
        local = pytz.utc.localize(now).astimezone(tz)
        hours = max(1, min(24, self.hf_shift_hours or 8))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        anchor = midnight + timedelta(hours=self.hf_shift_start_hour % 24)
        while anchor > local:
            anchor -= timedelta(hours=24)
        steps = int((local - anchor).total_seconds() // (hours * 3600))
        start = anchor + timedelta(hours=steps * hours)
        start_utc = start.astimezone(pytz.utc).replace(tzinfo=None)
        return start_utc, now

    def _hf_counter_increase(self, tag, start, end):
        """Parts counted by a counter tag in (start, end]; a drop is a counter reset (counts from 0 again),
        or a rollover when it wraps at the counter's size (see ``_hf_counter_modulus``)."""
        return self._hf_counter_increase_over(tag, [(start, end)])

    def _hf_counter_modulus(self, tag):
        """How many values a counter tag takes before it wraps (2**16 for a 16-bit register), or None when
        unknown: its PLC type's size, for a tag stored unscaled."""
        if tag.scale_gain != 1.0 or tag.scale_offset:
            return None
        bits = COUNTER_BITS.get(tag.modbus_type or tag.s7_type)
        return 2**bits if bits else None

    def _hf_counter_increase_over(self, tag, windows):
        """Parts counted by a counter tag within ``windows`` ((start, end] naive UTC, not overlapping), in one
        query: each window's increase is measured from the last sample at or before its start, a drop is a
        counter reset (counts from 0 again) unless it is a rollover: a wrap at the counter's modulus M (a drop
        of more than 90 % of M) counts the parts across it, M + the drop. None without a tag or a historian."""
        if not tag or not self.env["hf.machine.state"]._historian_ready():
            return None
        return reader.read_counter_increase(
            self.env.cr, tag.id, [(as_utc(start), as_utc(end)) for start, end in windows], self._hf_counter_modulus(tag)
        )

    def _hf_oee(self, now=None):
        """Availability, performance, quality and OEE (0..1 or None when unknown) of the current shift."""
        self.ensure_one()
        start, end = self._hf_shift_window(now)
        records = (
            self.env["mrp.workcenter.productivity"]
            .sudo()
            .search(
                [
                    ("workcenter_id", "=", self.id),
                    ("date_start", "<", end),
                    "|",
                    ("date_end", "=", False),
                    ("date_end", ">", start),
                ]
            )
        )
        machine = records.filtered(lambda r: r.hf_source == "machine")
        records = machine or records
        run = total = 0.0
        for record in records:
            record_end = record.date_end or (
                self.hf_state_last_seen if record.hf_source == "machine" and self.hf_state_last_seen else end
            )
            seconds = (min(record_end, end) - max(record.date_start, start)).total_seconds()
            if seconds <= 0:
                continue
            total += seconds
            if record.loss_type == "productive":
                run += seconds
        availability = run / total if total else None
        good = self._hf_counter_increase(self._hf_role_tag("good_count"), start, end)
        scrap = self._hf_counter_increase(self._hf_role_tag("scrap_count"), start, end)
        performance = None
        if good is not None and run and self.hf_ideal_cycle_time > 0:
            performance = min(1.0, (good + (scrap or 0.0)) * self.hf_ideal_cycle_time / run)
        quality = None
        if good is not None and scrap is not None and good + scrap > 0:
            quality = good / (good + scrap)
        factors = [availability, performance, quality]
        return {
            "shift_start": iso_utc(start),
            "availability": availability,
            "performance": performance,
            "quality": quality,
            "oee": availability * performance * quality if None not in factors else None,
            "good": good,
            "scrap": scrap,
            "run_seconds": run,
            "recorded_seconds": total,
        }

    def _hf_open_workcell_record_domain(self):
        """The workcell's own open time record: the machine's (even while booked to a work order), or a
        downtime declared at a screen, never an operator's work-order timer."""
        return [
            ("workcenter_id", "=", self.id),
            ("date_end", "=", False),
            "|",
            ("workorder_id", "=", False),
            ("hf_source", "=", "machine"),
        ]

    def _hf_set_downtime_reason(self, loss_id, user):
        """Give the workcell's stop a reason from a screen, as ``user`` (this record's environment)."""
        self.ensure_one()
        loss = self.env["mrp.workcenter.productivity.loss"].browse(loss_id).exists()
        if not loss or not loss.manual or loss.loss_type == "productive":
            raise UserError(_("Pick one of the downtime reasons shown on the screen."))
        self.env["hf.machine.state"]._process_workcenters(self)
        Productivity = self.env["mrp.workcenter.productivity"]
        record = Productivity.search(self._hf_open_workcell_record_domain(), limit=1)
        if record and record.loss_type == "productive":
            raise UserError(_("The machine is running: pick a downtime reason once it has stopped."))
        if record:
            record.write({"loss_id": loss.id, "hf_reason_user_id": user.id})
            return record
        if self._hf_role_tag("machine_state"):
            raise UserError(
                _("The machine has not reported a stop yet: pick the reason once it shows as idle or down.")
            )
        return Productivity.create(
            {
                "workcenter_id": self.id,
                "company_id": self.company_id.id,
                "loss_id": loss.id,
                "date_start": fields.Datetime.now(),
                "hf_source": "operator",
                "hf_reason_user_id": user.id,
                "user_id": user.id,
            }
        )
