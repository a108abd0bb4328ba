from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class HfMrpShift(models.Model):
    """A workcell's shift, as the line announces it (UMH ``shift/add``) or a planner enters it.

    Where a workcell has shifts, the kiosk's OEE tile and the OEE history use them; elsewhere the fixed
    shifts of hf_screens (``hf_shift_start_hour``, ``hf_shift_hours``) apply.
    """

    _name = "hf.mrp.shift"
    _description = "Hyperfactory workcell shift"
    _order = "workcenter_id, date_start"

    name = fields.Char(compute="_compute_name", store=True)
    workcenter_id = fields.Many2one("mrp.workcenter", string="Workcell", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="workcenter_id.company_id", store=True, index=True)
    date_start = fields.Datetime(string="Start", required=True, index=True)
    date_end = fields.Datetime(string="End", required=True)
    source = fields.Selection([("uns", "UNS (shift/add)"), ("odoo", "Odoo")], default="odoo", required=True)

    _sql_constraints = [
        ("start_unique", "unique(workcenter_id, date_start)", "This workcell already has a shift starting then."),
        ("end_after_start", "CHECK(date_end > date_start)", "A shift ends after it starts."),
    ]

    @api.depends("workcenter_id.name", "date_start", "date_end")
    def _compute_name(self):
        for shift in self:
            shift.name = f"{shift.workcenter_id.name or ''} {shift.date_start or ''} - {shift.date_end or ''}".strip()

    @api.constrains("workcenter_id", "date_start", "date_end")
    def _check_overlap(self):
        for shift in self:
            overlapping = self.search_count(
                [
                    ("id", "!=", shift.id),
                    ("workcenter_id", "=", shift.workcenter_id.id),
                    ("date_start", "<", shift.date_end),
                    ("date_end", ">", shift.date_start),
                ]
            )
            if overlapping:
                raise ValidationError(
                    _(
                        "The shift %(start)s - %(end)s overlaps another shift of %(workcell)s.",
                        start=shift.date_start,
                        end=shift.date_end,
                        workcell=shift.workcenter_id.display_name,
                    )
                )
