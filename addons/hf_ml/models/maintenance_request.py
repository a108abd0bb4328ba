from odoo import fields, models


class MaintenanceRequest(models.Model):
    _inherit = "maintenance.request"

    hf_ml_job_id = fields.Many2one("hf.ml.job", string="Raised by ML job", index=True, readonly=True)
    hf_failed_at = fields.Datetime(
        string="Failure time", default=fields.Datetime.now, index=True,
        help="When the machine failed (for corrective requests): the moment predictive-maintenance jobs learn from.",
    )
