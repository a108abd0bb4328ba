from datetime import timedelta

from odoo import api, fields, models

# One lock for every check-then-record of a submission: two requests never both see the last free slot.
ADVISORY_LOCK = 0x4846_0015
DEFAULT_LIMITS = {
    "hf_cloud.rate_limit_per_hour": 5,
    "hf_cloud.rate_limit_domain_per_hour": 10,
    "hf_cloud.rate_limit_total_per_hour": 60,
}


class HfCloudOnboardingAttempt(models.Model):
    """One submission of the onboarding form, kept to rate-limit per source address, e-mail domain and in total."""

    _name = "hf.cloud.onboarding.attempt"
    _description = "Hyperfactory onboarding submission (rate limit)"
    _order = "id desc"

    address = fields.Char(required=True, index=True)
    domain = fields.Char(string="E-mail domain", index=True)
    accepted = fields.Boolean(help="Within the limits: the submission went on to validation.")

    @api.model
    def _hf_limits(self):
        params = self.env["ir.config_parameter"].sudo()
        return {
            key.rsplit(".", 1)[1]: int(params.get_param(key, default) or default)
            for key, default in DEFAULT_LIMITS.items()
        }

    @api.model
    def _hf_allowed(self, address, domain=""):
        """Record this attempt; False when its address (all its submissions), its e-mail domain or all
        signups together (submissions within the limits) went over their hourly limit.

        The attempt is written and committed on a cursor of its own under an advisory lock: a rollback
        of the request cannot erase it, and concurrent submissions are counted one after the other."""
        limits = self._hf_limits()
        since = fields.Datetime.now() - timedelta(hours=1)
        with self.env.registry.cursor() as cr:
            cr.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
            cr.execute(
                "SELECT count(*) FILTER (WHERE address = %s), "
                "count(*) FILTER (WHERE accepted AND domain = %s), count(*) FILTER (WHERE accepted) "
                "FROM hf_cloud_onboarding_attempt WHERE create_date >= %s",
                (address, domain, since),
            )
            per_address, per_domain, total = cr.fetchone()
            allowed = (
                per_address < limits["rate_limit_per_hour"]
                and (not domain or per_domain < limits["rate_limit_domain_per_hour"])
                and total < limits["rate_limit_total_per_hour"]
            )
            cr.execute(
                "INSERT INTO hf_cloud_onboarding_attempt "
                "(address, domain, accepted, create_uid, write_uid, create_date, write_date) "
                "VALUES (%s, %s, %s, %s, %s, now() at time zone 'utc', now() at time zone 'utc')",
                (address, domain or None, allowed, self.env.uid, self.env.uid),
            )
        return allowed

    @api.autovacuum
    def _gc_attempts(self):
        self.sudo().search([("create_date", "<", fields.Datetime.now() - timedelta(days=2))]).unlink()
