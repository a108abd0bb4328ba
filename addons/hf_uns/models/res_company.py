from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from hf_core.uns import is_valid_segment, segment_from_name


class ResCompany(models.Model):
    _inherit = "res.company"

    hf_uns_segment = fields.Char(
        string="UNS enterprise",
        help="The enterprise level of this company's UNS topics (umh/v1/<enterprise>/...).",
    )

    _sql_constraints = [
        ("hf_uns_segment_unique", "unique(hf_uns_segment)", "Two companies cannot share a UNS enterprise."),
    ]

    @api.constrains("hf_uns_segment")
    def _check_hf_uns_segment(self):
        for company in self:
            if company.hf_uns_segment and not is_valid_segment(company.hf_uns_segment):
                raise ValidationError(
                    _("Enterprise segment '%s' may only contain letters, digits, '_' and '-'.", company.hf_uns_segment)
                )

    def _hf_enterprise_segment(self):
        """The enterprise segment, derived from the company name until one is set."""
        self.ensure_one()
        return self.hf_uns_segment or segment_from_name(self.name)
