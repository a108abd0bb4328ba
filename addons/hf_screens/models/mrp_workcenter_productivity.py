from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools.sql import create_index

from .hf_machine_state import STATES


class MrpWorkcenterProductivity(models.Model):
    """Marks the time records that the machine's own state opened, and who gave a downtime reason."""

    _inherit = "mrp.workcenter.productivity"

    hf_source = fields.Selection(
        [("machine", "Machine state"), ("operator", "Operator")],
        string="Recorded by",
        index=True,
        help="Machine state: opened and closed from the machine-state tag. Operator: declared at a screen.",
    )
    hf_machine_state = fields.Selection(STATES, string="Machine state")
    hf_reason_user_id = fields.Many2one("res.users", string="Reason given by")

    def init(self):
        # a workcell's states are read by its latest and its still open ones (its current state, Odoo's
        # working state, a state event's look-up): found by index, not by scanning weeks of a state a minute
        for column in ("date_start", "date_end"):
            create_index(
                self.env.cr, f"{self._table}_hf_workcenter_{column}_idx", self._table, ["workcenter_id", column]
            )

    def button_block(self):
        """Odoo's "Block" dialog, on a machine-driven workcell: the machine's stop gets the reason.

        A separate blocking record would run beside the machine's own records and count the same minutes
        twice; so the reason goes onto the machine's open idle/down record (as at the screen), and a
        running machine cannot be blocked from the office.
        """
        self.ensure_one()
        workcenter = self.workcenter_id.sudo()
        if self.hf_source or self.workorder_id or not workcenter._hf_machine_driven():
            return super().button_block()
        self.env["hf.machine.state"]._process_workcenters(workcenter)
        machine = workcenter.hf_state_productivity_id
        if not machine or machine.date_end or machine.loss_type == "productive":
            raise UserError(
                _(
                    "%(workcenter)s is blocked by its machine's own state, and the machine is not stopped now. "
                    "Give the reason once it shows as idle or down.",
                    workcenter=workcenter.name,
                )
            )
        machine.sudo().write(
            {
                "loss_id": self.loss_id.id,
                "hf_reason_user_id": self.env.uid,
                "description": self.description or machine.description,
            }
        )
        self.sudo().unlink()
        return {"type": "ir.actions.act_window_close"}
