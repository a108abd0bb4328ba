from odoo import _, api, fields, models


class MaintenanceRequest(models.Model):
    _inherit = "maintenance.request"

    hf_ml_job_id = fields.Many2one("hf.ml.job", string="Raised by ML job", index=True, readonly=True)
    hf_failed_at = fields.Datetime(
        string="Failure time",
        default=fields.Datetime.now,
        index=True,
        help="When the machine failed (for corrective requests): the moment predictive-maintenance jobs learn from.",
    )

    @api.model
    def _hf_raise_ml_alert(self, job, score, when):
        """An ML job's alert: a preventive request on its equipment, else an activity on its workcell (which is a
        mail.thread without the activity mixin). One open alert per job: nothing while one is open."""
        if job.request_ids.filtered(lambda r: not r.stage_id.done and not r.archive) or job.alert_activity_id:
            return
        kind_label = dict(job._fields["kind"].selection)[job.kind]
        summary = _(
            "%(workcell)s: %(kind)s alert from %(job)s", workcell=job.workcenter_id.name, kind=kind_label, job=job.name
        )
        note = _(
            "Score %(score).3f reached the threshold %(threshold).3f in the window ending %(when)s UTC "
            "(score tag %(topic)s).",
            score=score,
            threshold=job.threshold,
            when=when.strftime("%Y-%m-%d %H:%M"),
            topic=job.score_tag_id.topic or "",
        )
        equipment = job._hf_equipment()[:1]
        if equipment:
            self.sudo().create(
                {
                    "name": summary,
                    "maintenance_type": "preventive",
                    "equipment_id": equipment.id,
                    "hf_ml_job_id": job.id,
                    "company_id": job.company_id.id,
                    "description": note,
                    "schedule_date": fields.Datetime.now(),
                }
            )
        else:
            # mrp.workcenter is a mail.thread without the activity mixin: create the activity itself
            job.alert_activity_id = (
                self.env["mail.activity"]
                .sudo()
                .create(
                    {
                        "res_model_id": self.env["ir.model"]._get_id("mrp.workcenter"),
                        "res_id": job.workcenter_id.id,
                        "activity_type_id": self.env.ref("mail.mail_activity_data_todo").id,
                        "summary": summary,
                        "note": note,
                        "user_id": (job.user_id or self.env.user).id,
                    }
                )
            )
