from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    hf_mrp_create_unknown_products = fields.Boolean(
        related="company_id.hf_mrp_create_unknown_products",
        readonly=False,
    )
    hf_mrp_analytics_wait_minutes = fields.Integer(
        string="Wait for an event's order (minutes)",
        config_parameter="hf_uns.analytics_wait_minutes",
        default=60,
        help="An event from the UNS whose order is not there yet (a product/add before its work-order/create) "
        "waits this long for it, then fails and says what it waited for.",
    )
