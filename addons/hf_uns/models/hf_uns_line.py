from odoo import api, fields, models


class HfUnsLine(models.Model):
    _name = "hf.uns.line"
    _description = "UNS production line (ISA-95)"
    _inherit = ["hf.uns.segment.mixin"]
    _order = "area_id, name"

    area_id = fields.Many2one("hf.uns.area", required=True, ondelete="cascade", index=True)
    site_id = fields.Many2one(related="area_id.site_id", store=True)
    company_id = fields.Many2one(related="area_id.company_id", store=True, index=True)
    workcenter_ids = fields.One2many("mrp.workcenter", "hf_line_id", string="Workcells")

    _sql_constraints = [
        ("segment_unique", "unique(area_id, segment)", "Two lines of one area cannot share a UNS segment."),
    ]

    @api.depends("segment", "area_id.uns_path")
    def _compute_uns_path(self):
        return super()._compute_uns_path()

    def _hf_parent_path(self):
        return self.area_id.uns_path
