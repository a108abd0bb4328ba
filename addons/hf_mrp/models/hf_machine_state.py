"""UMH Classic state events (``state/add``, ``state/overwrite``) onto the machine states of hf_screens.

hf_screens owns the state logic (running / idle / down, ``classify_state`` for UMH's code ranges, the
productivity records it opens and closes); a workcell whose states come from the UNS instead of a state tag
uses the same records, with Odoo's loss reason that UMH's state category names:

=================  ===============================  =================================================
UMH code range     UMH category                     Odoo loss (mrp.workcenter.productivity.loss)
=================  ===============================  =================================================
10000-29999        active (producing)               Fully Productive Time (productive)
30000-59999        unknown (unknown state,          Machine idle (performance, hf_screens)
                   unspecified stop, microstop)
60000-99999        material issues                  Material Availability (availability)
100000-139999      process (changeover, cleaning)   Setup and Adjustments (availability)
140000-159999      operator                         Machine idle (performance, hf_screens)
160000-179999      planning (planned stop)          Machine idle (performance, hf_screens)
180000-229999      technical (failures)             Equipment Failure (availability)
=================  ===============================  =================================================

A UMH state holds until the next one (UMH's model): the record stays open, and the kiosk's OEE counts it
until now. ``state/overwrite`` replaces what the workcell recorded between its two times.
"""

from datetime import datetime
from itertools import pairwise

from odoo import _, api, models
from odoo.exceptions import UserError

from odoo.addons.hf_screens.models.hf_machine_state import classify_state

UMH_LOSSES = (  # (first code of the range, xmlid of the loss)
    (10000, "mrp.block_reason7"),
    (30000, "hf_screens.hf_loss_machine_idle"),
    (60000, "mrp.block_reason0"),
    (100000, "mrp.block_reason2"),
    (140000, "hf_screens.hf_loss_machine_idle"),
    (180000, "mrp.block_reason1"),
    (230000, None),
)


class HfMachineState(models.AbstractModel):
    _inherit = "hf.machine.state"

    @api.model
    def _switch_workorder(self, workcenter, workorder, when=None):
        # a work order started or stopped from the UNS switches the machine's time at the event's time
        return super()._switch_workorder(workcenter, workorder, when=when or self.env.context.get("hf_event_time"))

    @api.model
    def _hf_mrp_umh_loss(self, code):
        xmlid = None
        for first, loss in UMH_LOSSES:
            if code < first:
                break
            xmlid = loss
        if not xmlid:
            raise UserError(_("%s is no UMH state code (10000 to 229999).", code))
        return self.env.ref(xmlid)

    @api.model
    def _hf_mrp_check_state_source(self, workcenter):
        tag = workcenter._hf_role_tag("machine_state")
        if tag:
            raise UserError(
                _(
                    "%(workcell)s takes its machine state from its tag %(tag)s: a state event from the UNS would "
                    "count its time twice.",
                    workcell=workcenter.name,
                    tag=tag.name,
                )
            )

    @api.model
    def _hf_mrp_records_from(self, workcenter, start):
        """The workcell's machine records a state from ``start`` on can touch: those still open at ``start`` or
        starting from it on, never its whole history (a state a minute is half a million records a year)."""
        return (
            self.env["mrp.workcenter.productivity"]
            .sudo()
            .search(
                [
                    ("workcenter_id", "=", workcenter.id),
                    ("hf_source", "=", "machine"),
                    "|",
                    "|",
                    ("date_end", "=", False),
                    ("date_end", ">", start),
                    ("date_start", ">=", start),
                ],
                order="date_start, id",
            )
        )

    @api.model
    def _hf_mrp_state_values(self, workcenter, code, start, end=None):
        return {
            **self._open_values(
                workcenter,
                classify_state(code),
                start,
                loss=self._hf_mrp_umh_loss(code),
                description=_("UMH state %(code)s (state event)", code=code),
            ),
            "hf_umh_state": code,
            "date_end": end or False,
        }

    @api.model
    def _hf_mrp_append_states(self, workcenter, states):
        """Record a run of state/add events ``states`` [(code, start)], in time order and all after what the
        workcell recorded, at once: each holds until the next, the last one stays open (what applying them one
        by one gives, with one search and one create). False, and nothing done, when they do not append."""
        self._hf_mrp_check_state_source(workcenter)
        first = states[0][1]
        if any(later <= earlier for (_c, earlier), (_d, later) in pairwise(states)):
            return False
        records = self._hf_mrp_records_from(workcenter, first)
        if len(records) > 1 or (records and records.date_start >= first):
            return False  # it overwrites or interleaves with what is there: one by one
        if records and (not records.date_end or records.date_end > first):
            records.date_end = first
        ends = [start for _code, start in states[1:]] + [None]
        created = (
            self.env["mrp.workcenter.productivity"]
            .sudo()
            .create(
                [
                    self._hf_mrp_state_values(workcenter, code, start, end)
                    for (code, start), end in zip(states, ends, strict=True)
                ]
            )
        )
        self._hf_mrp_set_current(workcenter, created[-1])
        return True

    @api.model
    def _hf_mrp_set_current(self, workcenter, record):
        """The workcell's current state: its latest machine record while it is open, none once it is closed."""
        current = record if not record.date_end else record.browse()
        workcenter.write(
            {
                "hf_state_current": current.hf_machine_state or False,
                "hf_state_since": current.date_start or False,
                "hf_state_productivity_id": current.id or False,
            }
        )

    @api.model
    def _hf_mrp_apply_state_event(self, workcenter, code, start, end=None):
        """Record UMH state ``code`` on ``workcenter`` from ``start`` (to ``end`` for state/overwrite)."""
        self._hf_mrp_check_state_source(workcenter)
        values = self._hf_mrp_state_values(workcenter, code, start)  # checks the code first
        Productivity = self.env["mrp.workcenter.productivity"].sudo()
        records = self._hf_mrp_records_from(workcenter, start)
        if end is None:
            if records.filtered(lambda r: r.date_start == start and r.hf_umh_state == code):
                return  # applied already
            later = records.filtered(lambda r: r.date_start > start)
            end = later[:1].date_start or None
        horizon = end or datetime.max
        covered = records.filtered(lambda r: r.date_start < horizon and (not r.date_end or r.date_end > start))
        for record in covered:
            if record.date_start >= start and (end and record.date_end and record.date_end <= end):
                record.unlink()
            elif record.date_start < start:
                tail_end = record.date_end
                record.date_end = start
                if end and (not tail_end or tail_end > end):
                    record.copy({"date_start": end, "date_end": tail_end})
            elif end:
                record.date_start = end
            else:
                record.unlink()
        Productivity.create({**values, "date_end": end or False})
        latest = Productivity.search(
            [("workcenter_id", "=", workcenter.id), ("hf_source", "=", "machine")],
            order="date_start desc, id desc",
            limit=1,
        )
        self._hf_mrp_set_current(workcenter, latest)
