from odoo import fields, models


class HfCloudUsage(models.Model):
    """One measurement of an instance's usage (the hourly cron), kept to show its history."""

    _name = "hf.cloud.usage"
    _description = "Hyperfactory instance usage"
    _order = "date desc, id desc"

    instance_id = fields.Many2one("hf.cloud.instance", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="instance_id.company_id", store=True, index=True)
    partner_id = fields.Many2one(related="instance_id.partner_id", store=True, index=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    tags = fields.Integer()
    samples_per_day = fields.Integer(string="Samples (last 24 h)")
    messages = fields.Integer(string="Messages received (today, UTC)")
    received_mb = fields.Float(string="Received (MB, today, UTC)", digits=(12, 1))
    samples_parked = fields.Integer(string="Samples parked (today, UTC)")
    cpu_seconds = fields.Float(string="CPU seconds", digits=(16, 1), help="Where the tenant's runtime reports them.")
    db_size_mb = fields.Float(string="Database size (MB)", digits=(12, 1))
