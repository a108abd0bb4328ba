from odoo import fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    hf_is_plan = fields.Boolean(string="Hyperfactory plan", help="Offered on the onboarding form.")
    hf_plan_code = fields.Char(string="Plan code", help="Short code, e.g. starter, factory, enterprise.")
    hf_quota_tags = fields.Integer(string="Tags included", default=500)
    hf_quota_samples_per_day = fields.Integer(string="Samples per day", default=5_000_000)
    hf_quota_retention_days = fields.Integer(string="Raw retention (days)", default=30)
    hf_quota_storage_mb = fields.Integer(string="Storage (MB)", default=5_120)
    hf_quota_cpu = fields.Float(string="Compute (vCPU)", default=1.0)

    _sql_constraints = [
        ("hf_plan_code_unique", "unique(hf_plan_code)", "Two plans cannot share a code."),
        ("hf_quota_positive", ("CHECK(hf_quota_tags >= 0 AND hf_quota_samples_per_day >= 0 "
                               "AND hf_quota_retention_days >= 0 AND hf_quota_storage_mb >= 0)"),
         "Quotas cannot be negative."),
    ]

    def _hf_quotas(self):
        self.ensure_one()
        return {"code": self.hf_plan_code or "custom", "tags": self.hf_quota_tags,
                "samples_per_day": self.hf_quota_samples_per_day, "retention_days": self.hf_quota_retention_days,
                "storage_mb": self.hf_quota_storage_mb, "cpu": self.hf_quota_cpu}
