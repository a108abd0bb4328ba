from odoo import fields, models

from .hf_machine_state import STATES


class MrpWorkcenterProductivity(models.Model):
    """Marks the time records that the machine's own state opened, and who gave a downtime reason."""

    _inherit = "mrp.workcenter.productivity"

    hf_source = fields.Selection(
        [("machine", "Machine state"), ("operator", "Operator")], string="Recorded by", index=True,
        help="Machine state: opened and closed from the machine-state tag. Operator: declared at a screen.",
    )
    hf_machine_state = fields.Selection(STATES, string="Machine state")
    hf_reason_user_id = fields.Many2one("res.users", string="Reason given by")
