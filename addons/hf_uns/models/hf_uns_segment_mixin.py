from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from hf_core.uns import is_valid_segment, segment_from_name


class HfUnsSegmentMixin(models.AbstractModel):
    """One level of the ISA-95 hierarchy: a name, a UNS segment and the path down to it."""

    _name = "hf.uns.segment.mixin"
    _description = "Hyperfactory UNS level"

    name = fields.Char(required=True)
    segment = fields.Char(
        string="UNS segment",
        required=True,
        help="This level's part of the UNS topic: letters, digits, '_' and '-' only.",
    )
    uns_path = fields.Char(string="UNS path", compute="_compute_uns_path", store=True, recursive=True)
    active = fields.Boolean(default=True)

    @api.constrains("segment")
    def _check_segment(self):
        for record in self:
            if not is_valid_segment(record.segment):
                raise ValidationError(
                    _(
                        "Segment '%s' may only contain letters, digits, '_' and '-' (no spaces, '/', '+', '#' or '$').",
                        record.segment,
                    )
                )

    @api.onchange("name")
    def _onchange_name_segment(self):
        if self.name and not self.segment:
            self.segment = segment_from_name(self.name) or False

    def _hf_parent_path(self):
        raise NotImplementedError

    def _compute_uns_path(self):
        for record in self:
            parent = record._hf_parent_path()
            record.uns_path = f"{parent}/{record.segment}" if parent and record.segment else False
