"""OEE history: one row per workcell and shift, and per workcell and day.

Every figure is the kiosk's own (``mrp.workcenter._hf_oee`` of hf_screens: availability from the machine's
time records, performance from its counters and ideal cycle time, quality from its good and scrap counters),
computed over the row's window: a shift of the report shows what the kiosk showed at that shift's end.
"""

from datetime import datetime, time, timedelta

import pytz

from odoo import api, fields, models

HISTORY_DAYS = 2  # the cron recomputes today and the days before (late data, operator corrections)


class HfMrpOee(models.Model):
    _name = "hf.mrp.oee"
    _description = "Hyperfactory OEE history"
    _order = "date_start desc, workcenter_id"
    _rec_name = "date_start"

    workcenter_id = fields.Many2one("mrp.workcenter", string="Workcell", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="workcenter_id.company_id", store=True, index=True)
    period = fields.Selection([("shift", "Shift"), ("day", "Day")], required=True, index=True)
    date = fields.Date(string="Day", required=True, index=True, help="The workcell's local day the window starts on.")
    shift_id = fields.Many2one("hf.mrp.shift", string="Announced shift", ondelete="set null")
    date_start = fields.Datetime(string="From", required=True)
    date_end = fields.Datetime(string="To", required=True)
    availability = fields.Float(aggregator="avg")
    performance = fields.Float(aggregator="avg")
    quality = fields.Float(aggregator="avg")
    oee = fields.Float(string="OEE", aggregator="avg")
    good = fields.Float(string="Good parts")
    scrap = fields.Float(string="Scrap parts")
    run_hours = fields.Float(string="Running (h)")
    recorded_hours = fields.Float(string="Recorded (h)")
    computed_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("window_unique", "unique(workcenter_id, period, date_start)", "This window of the workcell is computed once."),
    ]

    @api.model
    def _cron_compute(self):
        workcenters = (
            self.env["mrp.workcenter.productivity"]
            .sudo()
            ._read_group(
                [("date_start", ">=", fields.Datetime.now() - timedelta(days=HISTORY_DAYS + 1))],
                ["workcenter_id"],
            )
        )
        self._hf_compute(self.env["mrp.workcenter"].union(*[wc for (wc,) in workcenters]))

    @api.model
    def _hf_compute(self, workcenters, now=None, days=HISTORY_DAYS):
        """(Re)compute the shift and day rows of ``workcenters`` over the last ``days`` days, up to ``now``."""
        now = now or fields.Datetime.now()
        for workcenter in workcenters.sudo():
            for period, start, end, shift in self._hf_windows(workcenter, now, days):
                self._hf_store(workcenter, period, start, end, shift, now)

    @api.model
    def _hf_windows(self, workcenter, now, days):
        """(period, start, end, announced shift) of the windows to compute, naive UTC, ends capped at now."""
        tz = pytz.timezone(workcenter.resource_calendar_id.tz or self.env.user.tz or "UTC")
        today = pytz.utc.localize(now).astimezone(tz).date()
        first_day = today - timedelta(days=days)
        windows = []
        for offset in range(days + 1):
            day = first_day + timedelta(days=offset)
            start = tz.localize(datetime.combine(day, time.min)).astimezone(pytz.utc).replace(tzinfo=None)
            end = (
                tz.localize(datetime.combine(day + timedelta(days=1), time.min))
                .astimezone(pytz.utc)
                .replace(tzinfo=None)
            )
            windows.append(("day", start, min(end, now), None))
        since = windows[0][1]
        shifts = (
            self.env["hf.mrp.shift"]
            .sudo()
            .search(
                [
                    ("workcenter_id", "=", workcenter.id),
                    ("date_end", ">", since),
                    ("date_start", "<", now),
                ]
            )
        )
        if shifts:
            windows += [("shift", s.date_start, min(s.date_end, now), s) for s in shifts]
        else:
            # hf_screens' fixed shifts: the current one, and the ones before it back to the first day
            start, _now = workcenter._hf_shift_window(now)
            step = timedelta(hours=max(1, min(24, workcenter.hf_shift_hours or 8)))
            windows.append(("shift", start, now, None))
            while start > since:
                windows.append(("shift", start - step, start, None))
                start -= step
        return [w for w in windows if w[2] > w[1]]

    @api.model
    def _hf_store(self, workcenter, period, start, end, shift, now):
        figures = workcenter.with_context(hf_oee_window=(start, end))._hf_oee(end)
        tz = pytz.timezone(workcenter.resource_calendar_id.tz or self.env.user.tz or "UTC")
        values = {
            "workcenter_id": workcenter.id,
            "period": period,
            "date": pytz.utc.localize(start).astimezone(tz).date(),
            "shift_id": shift.id if shift else False,
            "date_start": start,
            "date_end": end,
            "availability": figures["availability"] or 0.0,
            "performance": figures["performance"] or 0.0,
            "quality": figures["quality"] or 0.0,
            "oee": figures["oee"] or 0.0,
            "good": figures["good"] or 0.0,
            "scrap": figures["scrap"] or 0.0,
            "run_hours": figures["run_seconds"] / 3600.0,
            "recorded_hours": figures["recorded_seconds"] / 3600.0,
            "computed_at": now,
        }
        row = self.sudo().search(
            [("workcenter_id", "=", workcenter.id), ("period", "=", period), ("date_start", "=", start)], limit=1
        )
        if row:
            row.write(values)
        else:
            row = self.sudo().create(values)
        return row
