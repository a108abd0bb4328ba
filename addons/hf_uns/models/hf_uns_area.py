from odoo import api, fields, models


class HfUnsArea(models.Model):
    _name = "hf.uns.area"
    _description = "UNS area (ISA-95)"
    _inherit = ["hf.uns.segment.mixin"]
    _order = "site_id, name"

    site_id = fields.Many2one("hf.uns.site", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="site_id.company_id", store=True, index=True)
    line_ids = fields.One2many("hf.uns.line", "area_id", string="Lines")

    _sql_constraints = [
        ("segment_unique", "unique(site_id, segment)", "Two areas of one site cannot share a UNS segment."),
    ]

    @api.depends("segment", "site_id.uns_path")
    def _compute_uns_path(self):
        return super()._compute_uns_path()

    def _hf_parent_path(self):
        return self.site_id.uns_path
