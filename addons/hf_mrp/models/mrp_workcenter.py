import logging
from datetime import UTC, datetime, timedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.hf_screens.models.hf_machine_state import utc_naive

_logger = logging.getLogger(__name__)


class MrpWorkcenter(models.Model):
    """A workcell's quantities (machine or operator), its shifts and its OEE history."""

    _inherit = "mrp.workcenter"

    hf_quantity_source = fields.Selection(
        [("machine", "Machine"), ("operator", "Operator")],
        string="Quantities from",
        default="machine",
        required=True,
        help="Machine: the good-part and scrap counter tags (or, without them, the line's product/add events) "
        "set the running work order's produced and scrapped quantities. Operator: only what people enter "
        "in Odoo counts; counters and product/add events are not booked. Either way nothing is counted "
        "twice.",
    )
    hf_mrp_shift_ids = fields.One2many("hf.mrp.shift", "workcenter_id", string="Shifts")
    hf_mrp_oee_ids = fields.One2many("hf.mrp.oee", "workcenter_id", string="OEE history")
    hf_mrp_oee_last = fields.Float(string="OEE (last day)", compute="_compute_hf_mrp_oee_last", digits=(16, 3))

    def _compute_hf_mrp_oee_last(self):
        for workcenter in self:
            last = self.env["hf.mrp.oee"].search(
                [("workcenter_id", "=", workcenter.id), ("period", "=", "day")],
                order="date_start desc",
                limit=1,
            )
            workcenter.hf_mrp_oee_last = last.oee

    def action_hf_mrp_view_oee(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("hf_mrp.hf_mrp_oee_action")
        action["domain"] = [("workcenter_id", "=", self.id)]
        action["context"] = {"search_default_period_day": 1}
        return action

    def action_hf_mrp_compute_oee(self):
        self.env["hf.mrp.oee"]._hf_compute(self)
        return self.action_hf_mrp_view_oee() if len(self) == 1 else True

    # --- the kiosk's shift ------------------------------------------------------------------

    def _hf_shift_window(self, now=None):
        """hf_screens' current shift, from this workcell's announced shifts where it has one now; a window
        given in the context (``hf_oee_window``: the OEE history's shift or day) wins."""
        window = self.env.context.get("hf_oee_window")
        if window:
            return window
        now = now or fields.Datetime.now()
        shift = (
            self.env["hf.mrp.shift"]
            .sudo()
            .search(
                [("workcenter_id", "=", self.id), ("date_start", "<=", now), ("date_end", ">", now)],
                limit=1,
            )
        )
        if shift:
            return shift.date_start, now
        return super()._hf_shift_window(now)

    # --- where the UNS's orders go --------------------------------------------------------------

    def _hf_mrp_bom_for(self, product, cycle_time_ms=None, update_cycle=False):
        """The product's bill of materials with an operation on this workcell; one is made (no components,
        one operation here, its time per part the cycle time) when the product has none."""
        self.ensure_one()
        Bom = self.env["mrp.bom"].sudo()
        bom = Bom.search(
            [
                ("product_tmpl_id", "=", product.product_tmpl_id.id),
                "|",
                ("product_id", "=", product.id),
                ("product_id", "=", False),
                ("company_id", "in", [self.company_id.id, False]),
                ("operation_ids.workcenter_id", "=", self.id),
            ],
            order="sequence, id",
            limit=1,
        )
        minutes = cycle_time_ms / 60000.0 if cycle_time_ms else 0.0
        if bom:
            operation = bom.operation_ids.filtered(lambda op: op.workcenter_id == self)[:1]
            if update_cycle and minutes and operation.time_mode == "manual" and operation.time_cycle_manual != minutes:
                operation.time_cycle_manual = minutes
            return bom
        bom = Bom.create(
            {
                "product_tmpl_id": product.product_tmpl_id.id,
                "product_qty": 1.0,
                "type": "normal",
                "code": _("UNS %s", self.name),
                "company_id": self.company_id.id,
                "sequence": 100,  # after the product's own bills: Odoo's planners keep picking theirs first
                "operation_ids": [
                    Command.create(
                        {
                            "name": self.name,
                            "workcenter_id": self.id,
                            "time_mode": "manual",
                            "time_cycle_manual": minutes,
                        }
                    )
                ],
            }
        )
        if minutes and not self.hf_ideal_cycle_time:
            self.hf_ideal_cycle_time = cycle_time_ms / 1000.0
        return bom

    def _hf_mrp_running_workorder(self, product=None, moment=None):
        """The work order running on this workcell (for ``product`` when given)."""
        self.ensure_one()
        on_machine = self.hf_workorder_id
        if on_machine.state == "progress" and (not product or on_machine.product_id == product):
            return on_machine
        domain = [("workcenter_id", "=", self.id), ("state", "=", "progress")]
        if product:
            domain.append(("product_id", "=", product.id))
        if moment:
            domain.append(("date_start", "<=", moment))
        return self.env["mrp.workorder"].sudo().search(domain, order="date_start desc, id desc", limit=1)

    def _hf_mrp_check_quantity_source(self, what):
        """Refuse quantities from the line where they would be counted twice."""
        self.ensure_one()
        if self.hf_quantity_source == "operator":
            raise UserError(
                _(
                    "%(workcell)s takes its quantities from the operator (its Quantities from setting): "
                    "%(what)s is not booked.",
                    workcell=self.name,
                    what=what,
                )
            )
        counter = self._hf_role_tag("good_count")
        if counter:
            raise UserError(
                _(
                    "%(workcell)s counts its parts with its tag %(tag)s: %(what)s would count them twice.",
                    workcell=self.name,
                    tag=counter.name,
                    what=what,
                )
            )

    # --- where the workcell's time comes from ------------------------------------------------------

    def _hf_machine_driven(self):
        """Also machine-driven: a workcell whose states come from the line's UMH state events (no state tag).
        Its machine records are then the only clock, as with a state tag: starting a work order opens no
        operator timer beside them (hf_screens' mrp_workorder.py), its running time is booked to the order."""
        return super()._hf_machine_driven() or bool(
            self.env["mrp.workcenter.productivity"]
            .sudo()
            .search_count(
                [("workcenter_id", "=", self.id), ("hf_source", "=", "machine"), ("hf_umh_state", ">", 0)],
                limit=1,
            )
        )

    # --- machine counters into work orders --------------------------------------------------------

    def _hf_counter_modulus(self, tag):
        # a configured rollover (a counter that wraps before its register type does) wins over the type's
        if tag.role in ("good_count", "scrap_count") and tag.hf_counter_max > 0:
            return tag.hf_counter_max + 1
        return super()._hf_counter_modulus(tag)

    @api.model
    def _cron_hf_mrp_counters_to_workorders(self):
        tags = self.env["hf.uns.tag"].sudo().search([("role", "in", ("good_count", "scrap_count"))])
        workcenters = tags.workcenter_id.filtered(lambda wc: wc.hf_quantity_source == "machine")
        if workcenters and self.env["hf.machine.state"]._historian_ready():
            workcenters.sudo().with_context(hf_from_uns=True)._hf_mrp_count_into_workorders()

    def _hf_mrp_count_into_workorders(self, now=None):
        """Book each counter's increase since it was last counted to the work order running now: good parts
        as its produced quantity, scrap as scrap orders with the machine's reason. A drop of the counter is
        a reset (or a rollover): counting goes on from the new value (hf_screens' counter logic)."""
        from hf_historian import reader

        # to the microsecond (fields.Datetime.now() stops at the second): a sample stored a moment ago, in the
        # second this job runs, is counted now, not at the next sample
        now = now or datetime.now(UTC).replace(tzinfo=None)
        for workcenter in self:
            for role in ("good_count", "scrap_count"):
                tag = workcenter._hf_role_tag(role)
                if not tag:
                    continue
                # one job per tag at a time: the ingest wakes this cron while a run may be going on
                self.env.cr.execute("SELECT id FROM hf_uns_tag WHERE id = %s FOR UPDATE SKIP LOCKED", (tag.id,))
                if not self.env.cr.fetchone():
                    continue
                last = reader.read_last_before(self.env.cr, tag.id, now.replace(tzinfo=UTC) + timedelta(microseconds=1))
                if not last:
                    continue
                until = utc_naive(last["time"])
                since = tag.hf_mrp_counted_until
                if since and until > since:
                    increase = workcenter._hf_counter_increase(tag, since, until) or 0.0
                    workorder = workcenter._hf_mrp_running_workorder()
                    if increase > 0 and workorder:
                        if role == "good_count":
                            workorder._hf_mrp_add_produced(increase)
                        else:
                            workorder._hf_mrp_scrap(increase, self.env.ref("hf_mrp.hf_scrap_reason_machine"))
                if not since or until > since:
                    tag.write({"hf_mrp_counted_until": until, "hf_mrp_counted_value": last["value"] or 0.0})
