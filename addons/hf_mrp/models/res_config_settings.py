from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    hf_mrp_create_unknown_products = fields.Boolean(
        related="company_id.hf_mrp_create_unknown_products",
        readonly=False,
    )
