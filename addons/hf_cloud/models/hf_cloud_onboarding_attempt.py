from datetime import timedelta

from odoo import api, fields, models


class HfCloudOnboardingAttempt(models.Model):
    """One submission of the onboarding form, kept to rate-limit per source address."""

    _name = "hf.cloud.onboarding.attempt"
    _description = "Hyperfactory onboarding submission (rate limit)"
    _order = "id desc"

    address = fields.Char(required=True, index=True)
    accepted = fields.Boolean()

    @api.model
    def _hf_allowed(self, address):
        """Record this attempt; False when the address submitted too often in the last hour."""
        limit = int(self.env["ir.config_parameter"].sudo().get_param("hf_cloud.rate_limit_per_hour", 5))
        since = fields.Datetime.now() - timedelta(hours=1)
        recent = self.sudo().search_count([("address", "=", address), ("create_date", ">=", since)])
        self.sudo().create({"address": address})
        return recent < limit

    @api.autovacuum
    def _gc_attempts(self):
        self.sudo().search([("create_date", "<", fields.Datetime.now() - timedelta(days=2))]).unlink()
