"""The tenant API's rate limit: each request of a tenant's Odoo, per source address and per instance."""

from datetime import timedelta

from odoo import api, fields, models

# One lock for every check-then-record of a tenant request (as the onboarding form's).
ADVISORY_LOCK = 0x4846_0017
DEFAULT_LIMITS = {
    # per instance: enroll/re-issue/revoke/status clicks; an administrator needs a handful an hour
    "hf_cloud.tenant_api_per_hour": 30,
    # per source address, requests with an unknown key: a guesser is stopped early
    "hf_cloud.tenant_api_address_per_hour": 60,
}


class HfCloudTenantRequest(models.Model):
    """One request of a tenant's Odoo, kept to rate-limit per source address and per instance."""

    _name = "hf.cloud.tenant.request"
    _description = "Hyperfactory tenant request (rate limit)"
    _order = "id desc"

    address = fields.Char(required=True, index=True)
    instance_id = fields.Many2one("hf.cloud.instance", index=True, ondelete="cascade")
    accepted = fields.Boolean()

    @api.model
    def _hf_allowed(self, address, instance=None):
        """Record this request; False when its address (requests with an unknown key) or its instance
        (requests with its key) went over the hourly limit. Written on a cursor of its own under an
        advisory lock, as the onboarding form's attempts: a rolled-back request stays counted."""
        params = self.env["ir.config_parameter"].sudo()
        limits = {key: int(params.get_param(key, default) or default) for key, default in DEFAULT_LIMITS.items()}
        since = fields.Datetime.now() - timedelta(hours=1)
        with self.env.registry.cursor() as cr:
            cr.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
            if instance:
                cr.execute(
                    "SELECT count(*) FROM hf_cloud_tenant_request WHERE instance_id = %s AND create_date >= %s",
                    (instance.id, since),
                )
                allowed = cr.fetchone()[0] < limits["hf_cloud.tenant_api_per_hour"]
            else:
                cr.execute(
                    "SELECT count(*) FROM hf_cloud_tenant_request "
                    "WHERE address = %s AND instance_id IS NULL AND create_date >= %s",
                    (address, since),
                )
                allowed = cr.fetchone()[0] < limits["hf_cloud.tenant_api_address_per_hour"]
            cr.execute(
                "INSERT INTO hf_cloud_tenant_request "
                "(address, instance_id, accepted, create_uid, write_uid, create_date, write_date) "
                "VALUES (%s, %s, %s, %s, %s, now() at time zone 'utc', now() at time zone 'utc')",
                (address, instance.id if instance else None, allowed, self.env.uid, self.env.uid),
            )
        return allowed

    @api.autovacuum
    def _gc_requests(self):
        self.sudo().search([("create_date", "<", fields.Datetime.now() - timedelta(days=2))]).unlink()
