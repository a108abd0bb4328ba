from odoo import api, fields, models

from odoo.addons.base.models.res_partner import _tz_get


class HfUnsSite(models.Model):
    _name = "hf.uns.site"
    _description = "UNS site (ISA-95)"
    _inherit = ["hf.uns.segment.mixin"]
    _order = "company_id, name"

    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    area_ids = fields.One2many("hf.uns.area", "site_id", string="Areas")
    edge_ids = fields.One2many("hf.uns.edge", "site_id", string="Edges")
    timezone = fields.Selection(_tz_get, string="Time zone", default=lambda self: self.env.user.tz)

    _sql_constraints = [
        ("segment_unique", "unique(company_id, segment)", "Two sites of one company cannot share a UNS segment."),
    ]

    @api.depends("segment", "company_id.hf_uns_segment", "company_id.name")
    def _compute_uns_path(self):
        return super()._compute_uns_path()

    def _hf_parent_path(self):
        return self.company_id._hf_enterprise_segment() if self.company_id else False
