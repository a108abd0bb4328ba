from odoo import fields, models


class HfUnsTag(models.Model):
    """Where the counters-to-work-orders job stands on a good-part or scrap counter tag, and where it wraps."""

    _inherit = "hf.uns.tag"

    hf_mrp_counted_until = fields.Datetime(
        string="Counted into work orders until",
        readonly=True,
        copy=False,
        help="Time of the last counter sample whose increase went into a work order (or was passed over).",
    )
    hf_mrp_counted_value = fields.Float(string="Last counted value", readonly=True, copy=False)
    hf_counter_max = fields.Float(
        string="Counter rolls over after",
        digits=(16, 0),
        help="The counter's highest value, after which it starts again from 0 (e.g. 9999 for a four-digit "
        "counter). Empty: the PLC type's own (65535 for a 16-bit register, 4294967295 for 32 bits). A "
        "drop close to this value is a rollover whose parts are counted; any other drop is a reset.",
    )
