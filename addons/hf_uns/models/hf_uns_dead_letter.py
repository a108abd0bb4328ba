from odoo import fields, models


class HfUnsDeadLetter(models.Model):
    """A message the ingest could not store, kept with its reason (never silently dropped).

    Rows are written by the ingest with SQL (hf_historian.ingest.deadletter); the table's columns are
    declared here and in hf_historian.schema, which creates it when the ingest runs first.
    """

    _name = "hf.uns.dead.letter"
    _description = "Hyperfactory dead letter"
    _order = "received_at desc, id desc"
    _rec_name = "topic"

    topic = fields.Char(readonly=True, index=True)
    payload = fields.Text(readonly=True, help="The message as received, truncated to 4 kB.")
    reason = fields.Char(required=True, readonly=True)
    received_at = fields.Datetime(readonly=True, default=fields.Datetime.now, index=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)

    def _cron_purge(self, days=30):
        """Dead letters are evidence for a while, not forever."""
        self.search([("received_at", "<", fields.Datetime.subtract(fields.Datetime.now(), days=days))]).unlink()
