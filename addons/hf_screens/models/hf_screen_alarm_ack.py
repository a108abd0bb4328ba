from odoo import fields, models


class HfScreenAlarmAck(models.Model):
    """An operator acknowledged a limit violation of a tag; it holds until the value is back within limits."""

    _name = "hf.screen.alarm.ack"
    _description = "Hyperfactory alarm acknowledgement"
    _order = "date desc, id desc"

    tag_id = fields.Many2one("hf.uns.tag", required=True, index=True, ondelete="cascade")
    kind = fields.Selection([("high", "Above the high limit"), ("low", "Below the low limit")], required=True)
    value = fields.Float(help="The value the operator saw.")
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    user_id = fields.Many2one("res.users", string="Acknowledged by", required=True, default=lambda self: self.env.user)
    workcenter_id = fields.Many2one(related="tag_id.workcenter_id", store=True, index=True)
    company_id = fields.Many2one(related="tag_id.company_id", store=True, index=True)
