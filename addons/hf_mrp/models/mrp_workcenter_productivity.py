from odoo import fields, models


class MrpWorkcenterProductivity(models.Model):
    _inherit = "mrp.workcenter.productivity"

    hf_umh_state = fields.Integer(string="UMH state", help="The UMH state code a state event from the UNS gave.")
