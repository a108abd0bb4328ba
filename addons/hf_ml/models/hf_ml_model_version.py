from odoo import _, api, fields, models
from odoo.exceptions import UserError


class HfMlModelVersion(models.Model):
    """One trained model of a job, with its held-out figures and plots; one is active. Rolling back is
    activating an older one (one click)."""

    _name = "hf.ml.model.version"
    _description = "Hyperfactory ML model version"
    _order = "create_date desc, id desc"

    job_id = fields.Many2one("hf.ml.job", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="job_id.company_id", store=True, index=True)
    is_active = fields.Boolean(string="Active", readonly=True)
    kind = fields.Selection(related="job_id.kind")
    method = fields.Char(readonly=True)
    # the artefact is signed by the server and never shown, uploaded or edited through the UI
    artefact = fields.Binary(attachment=True, readonly=True, groups="base.group_system")
    signature = fields.Char(readonly=True, groups="base.group_system")
    feature_spec = fields.Json(readonly=True)
    feature_names = fields.Json(readonly=True)
    trained_from = fields.Datetime(readonly=True)
    trained_until = fields.Datetime(readonly=True)
    split_at = fields.Datetime(
        string="Held out from",
        readonly=True,
        help="Rows after this time were kept out of training to measure the model.",
    )
    train_rows = fields.Integer(string="Training windows", readonly=True)
    test_rows = fields.Integer(string="Held-out windows", readonly=True)
    positive_rows = fields.Integer(string="Positive windows", readonly=True)
    event_count = fields.Integer(string="Events (failures/scrap)", readonly=True)
    has_labels = fields.Boolean(readonly=True)
    precision = fields.Float(readonly=True, digits=(4, 3))
    recall = fields.Float(readonly=True, digits=(4, 3))
    f1 = fields.Float(readonly=True, digits=(4, 3))
    roc_auc = fields.Float(string="ROC AUC", readonly=True, digits=(4, 3))
    mae = fields.Float(
        string="MAE",
        readonly=True,
        digits=(4, 3),
        help="Mean absolute error between the predicted probability and what happened.",
    )
    flagged_share = fields.Float(string="Held-out share over threshold", readonly=True, digits=(4, 3))
    lead_time_minutes = fields.Float(
        string="Mean lead time (min)",
        readonly=True,
        digits=(16, 1),
        help="How long before each held-out failure the score first crossed the threshold.",
    )
    training_seconds = fields.Float(readonly=True, digits=(16, 2))
    chart_scores = fields.Json(readonly=True)
    chart_importance = fields.Json(readonly=True)
    summary = fields.Char(compute="_compute_summary")

    @api.depends("job_id", "create_date")
    def _compute_display_name(self):
        for version in self:
            version.display_name = f"{version.job_id.name} @ {version.create_date or ''}"

    @api.depends("has_labels", "precision", "recall", "f1", "roc_auc", "flagged_share")
    def _compute_summary(self):
        for version in self:
            if version.has_labels:
                version.summary = _(
                    "precision %(p).2f, recall %(r).2f, F1 %(f).2f, ROC AUC %(auc).2f",
                    p=version.precision,
                    r=version.recall,
                    f=version.f1,
                    auc=version.roc_auc,
                )
            else:
                version.summary = _(
                    "%(share).1f%% of held-out windows over the threshold", share=100 * version.flagged_share
                )

    def action_activate(self):
        """Make this version the job's active model (a rollback when it is an older one)."""
        self.ensure_one()
        if not self.env.user.has_group("hf_uns.group_hf_engineer"):
            raise UserError(_("Only Hyperfactory engineers may change a job's active model."))
        if self.job_id.state in ("queued", "training"):
            raise UserError(_("Job %s is training; activate a version once it has finished.", self.job_id.name))
        # versions are written by the server only (no write access for anyone): sudo after the checks above
        self.job_id.sudo().version_ids.write({"is_active": False})
        self.sudo().is_active = True
        self.job_id.message_post(body=_("Model version %s activated.", self.display_name))
        return True
