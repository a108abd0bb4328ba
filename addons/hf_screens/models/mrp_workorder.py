import math

from odoo import _, fields, models
from odoo.exceptions import UserError


class MrpWorkorder(models.Model):
    """On a workcell whose machine-state tag drives its time records, the machine is the only clock.

    Odoo opens an operator timer (an ``mrp.workcenter.productivity`` of the user) when a work order starts;
    the machine-state logic opens its own records from what the machine does. Both would count as
    productive time, and OEE would count the same minutes twice. On such a workcell no operator timer is
    opened: the machine's running records are booked to the started work order instead (see
    ``hf.machine.state._switch_workorder``). Odoo's state flow is untouched: start / pause / finish /
    cancel still set the work order's states, so MRP stays the truth for them.
    """

    _inherit = "mrp.workorder"

    # a compute method returns nothing, its super() included
    def _compute_working_users(self):  # pylint: disable=missing-return
        super()._compute_working_users()
        for order in self:
            # No user timer is open on a machine-driven workcell: "working" means the machine's time is
            # booked to this order, so Odoo's own views offer Pause / Done rather than Start again.
            if order.workcenter_id and order.workcenter_id.sudo().hf_workorder_id == order:
                order.is_user_working = True

    def _set_duration(self):
        # Editing the duration creates (or deletes) time records: on a machine-driven workcell they would
        # overlap the machine's, or delete them. Odoo also sets duration = expected duration when an order
        # is done without any time (for its costing): that value is kept, no time record is invented.
        return super(MrpWorkorder, self.filtered(lambda wo: not wo._hf_machine_driven()))._set_duration()

    def button_start(self, raise_on_invalid_state=False):
        result = super().button_start(raise_on_invalid_state=raise_on_invalid_state)
        MachineState = self.env["hf.machine.state"]
        for order in self:
            if (
                order.state == "progress"
                and order._hf_machine_driven()
                and order.workcenter_id.sudo().hf_workorder_id != order
            ):
                MachineState._switch_workorder(order.workcenter_id, order)
        return result

    def end_previous(self, doall=False):
        # Pause, finish, done, cancel and block all end here: the machine's time stops going to the order
        # from now on (its open record is split), and Odoo's own closing never touches a machine record.
        MachineState = self.env["hf.machine.state"]
        for order in self:
            workcenter = order.workcenter_id.sudo()
            if workcenter and workcenter.hf_workorder_id == order:
                MachineState._switch_workorder(workcenter, self.env["mrp.workorder"])
        return super().end_previous(doall=doall)

    def _should_start_timer(self):
        if self._hf_machine_driven():
            return False
        return super()._should_start_timer()

    def _hf_machine_driven(self):
        self.ensure_one()
        return bool(self.workcenter_id) and self.workcenter_id.sudo()._hf_machine_driven()

    def _hf_counted_parts(self, now=None):
        """Good parts the machine's counter counted for this order, or None where no machine counts (no
        machine-state or no good-part counter tag): what it has made so far, before the operator reports it
        at the finish. Counted while its running time was booked to it, and since its last run while it is
        on the machine."""
        self.ensure_one()
        workcenter = self.workcenter_id.sudo()
        tag = workcenter and workcenter._hf_role_tag("good_count")
        if not tag or not self._hf_machine_driven():
            return None
        now = now or fields.Datetime.now()
        records = self.sudo().time_ids.filtered(lambda t: t.hf_source == "machine").sorted("date_start")
        windows = [(r.date_start, r.date_end or now) for r in records]
        if windows and workcenter.hf_workorder_id == self:
            # On the machine now: every part it counts is this order's, also while the state job has not yet
            # booked the machine's latest run to it (a stop and a restart are confirmed up to a minute later).
            windows[-1] = (windows[-1][0], now)
        return workcenter._hf_counter_increase_over(tag, windows)

    def _hf_record_scrap(self, qty):
        """Scrap ``qty`` parts of this work order's production (a screen's or the machine's count)."""
        self.ensure_one()
        production = self.production_id
        if isinstance(qty, str):
            try:
                qty = float(qty.strip().replace(",", "."))
            except ValueError:
                qty = None
        # NaN and infinity are floats too, and NaN <= 0 is False: a number is checked for being one first
        if isinstance(qty, bool) or not isinstance(qty, int | float) or not math.isfinite(qty) or qty <= 0:
            raise UserError(_("Enter how many parts to scrap (a number more than 0)."))
        if qty > production.product_qty:
            raise UserError(
                _(
                    "%(qty)s parts cannot be scrapped: order %(order)s makes %(total)s. Enter how many of "
                    "its parts were scrapped.",
                    qty=f"{qty:g}",
                    order=production.name,
                    total=f"{production.product_qty:g}",
                )
            )
        scrap = self.env["stock.scrap"].create(
            {
                "product_id": production.product_id.id,
                "product_uom_id": production.product_uom_id.id,
                "scrap_qty": qty,
                "production_id": production.id,
                "workorder_id": self.id,
                "company_id": production.company_id.id,
                "location_id": production.location_dest_id.id,
            }
        )
        # do_scrap, not action_validate: parts being made are not in stock yet, and the operator has
        # no one to answer the "insufficient quantity" wizard.
        scrap.do_scrap()
        return scrap
