from odoo import fields, models


class HfUnsTag(models.Model):
    """Where the counters-to-work-orders job stands on a good-part or scrap counter tag."""

    _inherit = "hf.uns.tag"

    hf_mrp_counted_until = fields.Datetime(
        string="Counted into work orders until", readonly=True, copy=False,
        help="Time of the last counter sample whose increase went into a work order (or was passed over).",
    )
    hf_mrp_counted_value = fields.Float(string="Last counted value", readonly=True, copy=False)
