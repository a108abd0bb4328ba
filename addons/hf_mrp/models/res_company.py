from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    hf_mrp_create_unknown_products = fields.Boolean(
        string="Create unknown products from the UNS",
        help="A work-order/create or product-type/create event that names a product no internal reference "
        "matches creates that product. Off: such an event fails and says which product is missing.",
    )
