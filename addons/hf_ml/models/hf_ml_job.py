import base64
import binascii
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from odoo import _, api, fields, models, modules
from odoo.exceptions import UserError, ValidationError

from hf_core.errors import ConfigError, HfError
from hf_core.payload import encode
from hf_core.timeutil import as_utc, from_epoch, utc_naive
from hf_core.uns import UnsTopic, is_valid_segment
from hf_historian import reader
from hf_historian.writer import HistorianWriter, Sample

from ..ml import charts, dataset, features, metrics, training
from ..ml.model import MissingSigningKey, TamperedModel, TrainingError, deployment_key, dump, load

_logger = logging.getLogger(__name__)
MAX_BACKFILL = timedelta(days=7)  # scoring catches up at most this far after a pause
MQTT_TIMEOUT_S = 10  # the scores' publish, connection and acknowledgements together
KIND_DEFAULT_THRESHOLD = {"anomaly": 1.0, "maintenance": 0.5, "quality": 0.5}


class HfMlJob(models.Model):
    """An ML job over a workcell's tags: trained in the background on a period of the historian, then
    scoring new data on a schedule, writing its score back as a derived tag and raising maintenance."""

    _name = "hf.ml.job"
    _description = "Hyperfactory ML job"
    _inherit = ["mail.thread"]
    _order = "workcenter_id, name"
    _check_company_auto = True  # the check_company fields below, enforced on create and write

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    kind = fields.Selection(
        [
            ("anomaly", "Anomaly detection"),
            ("maintenance", "Predictive maintenance"),
            ("quality", "Quality prediction"),
        ],
        required=True,
        default="anomaly",
        tracking=True,
    )
    method = fields.Selection(
        [
            ("isolation_forest", "Isolation forest (several tags)"),
            ("robust_z", "Robust z-score (one tag)"),
            ("random_forest", "Random forest classifier"),
        ],
        compute="_compute_method",
        store=True,
        readonly=False,
        required=True,
        precompute=True,
    )
    workcenter_id = fields.Many2one("mrp.workcenter", string="Workcell", required=True, index=True, check_company=True)
    company_id = fields.Many2one(related="workcenter_id.company_id", store=True, index=True)
    equipment_id = fields.Many2one(
        "maintenance.equipment",
        check_company=True,
        help="The machine its failures are recorded on and its maintenance requests raised for. Without "
        "one, an alert becomes an activity on the workcell.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        default=lambda self: self.env.user,
        help="Gets the activity when there is no equipment to raise a request for.",
    )
    tag_ids = fields.Many2many(
        "hf.uns.tag",
        string="Input tags",
        check_company=True,
        domain="[('workcenter_id', '=', workcenter_id), ('data_type', '!=', 'string')]",
    )
    # features
    window_minutes = fields.Integer(
        string="Feature step (min)",
        default=5,
        required=True,
        help="One feature row, and one score, every this many minutes.",
    )
    rolling_windows = fields.Char(
        string="Rolling windows (min)",
        default="5,30",
        required=True,
        help="Comma-separated window lengths in minutes, each a multiple of the step: every aggregation is "
        "computed over each trailing window.",
    )
    agg_mean = fields.Boolean(string="Mean", default=True)
    agg_std = fields.Boolean(string="Std. deviation", default=True)
    agg_min = fields.Boolean(string="Min", default=True)
    agg_max = fields.Boolean(string="Max", default=True)
    agg_slope = fields.Boolean(string="Slope", default=True)
    agg_last = fields.Boolean(string="Last", default=True)
    agg_noise = fields.Boolean(
        string="Noise",
        default=True,
        help="How erratically the tag moves from sample to sample: sees chatter, hunting "
        "and oscillation that stay inside the tag's normal range.",
    )
    running_only = fields.Boolean(
        string="Only while running",
        compute="_compute_running_only",
        store=True,
        readonly=False,
        precompute=True,
        help="Learn and score from the samples taken while the workcell's machine-state tag says running: "
        "stops and their ramps then neither hide an anomaly nor look like one. Rows with no running time "
        "get no score. On by default for anomaly jobs on a workcell whose machine-state tag reports.",
    )
    # training
    training_days = fields.Float(
        string="Training period (days)",
        default=7.0,
        required=True,
        help="How much history, up to now, the model learns from.",
    )
    retrain_days = fields.Integer(string="Retrain every (days)", default=7, help="0: only when an engineer asks.")
    contamination = fields.Float(
        string="Expected anomaly share",
        default=0.01,
        digits=(6, 4),
        help="Share of training windows taken as anomalous (isolation forest).",
    )
    failure_source = fields.Selection(
        [("none", "None"), ("maintenance", "Corrective maintenance requests"), ("tag", "Failure tag")],
        default="none",
        required=True,
        help="Where past failures come from: the labels of predictive maintenance (and, for anomaly jobs, "
        "what the held-out figures are measured against).",
    )
    failure_tag_id = fields.Many2one(
        "hf.uns.tag", string="Failure tag", check_company=True, domain="[('workcenter_id', '=', workcenter_id)]"
    )
    failure_value = fields.Float(
        default=1.0, help="The failure tag's value while the machine is failed (e.g. 2 for the 'down' state code)."
    )
    scrap_source = fields.Selection(
        [("tag", "Scrap tag"), ("workorder", "Work-order scrap")],
        default="tag",
        required=True,
        help="Quality labels: a scrap counter or flag tag, or the scrap recorded on this workcell's work orders.",
    )
    scrap_tag_id = fields.Many2one(
        "hf.uns.tag", string="Scrap tag", check_company=True, domain="[('workcenter_id', '=', workcenter_id)]"
    )
    horizon_hours = fields.Float(
        string="Horizon (h)", default=1.0, help="Predictive maintenance: the probability of a failure within this time."
    )
    # scoring
    threshold = fields.Float(
        default=1.0,
        digits=(16, 3),
        tracking=True,
        help="Scores at or above it raise one maintenance request (anomaly: 1.0 is the "
        "model's own threshold; the others: a probability).",
    )
    score_interval_minutes = fields.Integer(string="Score every (min)", default=5, required=True)
    next_score_at = fields.Datetime(readonly=True, copy=False)
    state = fields.Selection(
        [
            ("draft", "Not trained"),
            ("queued", "Training queued"),
            ("training", "Training"),
            ("trained", "Trained"),
            ("error", "Error"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
    )
    last_error = fields.Text(readonly=True, copy=False)
    last_trained = fields.Datetime(readonly=True, copy=False)
    last_scored_until = fields.Datetime(readonly=True, copy=False)
    last_score = fields.Float(readonly=True, digits=(16, 3), copy=False)
    version_ids = fields.One2many("hf.ml.model.version", "job_id", string="Model versions", copy=False)
    active_version_id = fields.Many2one(
        "hf.ml.model.version", compute="_compute_active_version", store=True, string="Active model"
    )
    version_count = fields.Integer(compute="_compute_version_count")
    precision = fields.Float(related="active_version_id.precision")
    recall = fields.Float(related="active_version_id.recall")
    f1 = fields.Float(related="active_version_id.f1")
    roc_auc = fields.Float(related="active_version_id.roc_auc")
    mae = fields.Float(related="active_version_id.mae")
    flagged_share = fields.Float(related="active_version_id.flagged_share")
    chart_scores = fields.Json(related="active_version_id.chart_scores")
    chart_importance = fields.Json(related="active_version_id.chart_importance")
    score_tag_id = fields.Many2one(
        "hf.uns.tag",
        string="Score tag",
        readonly=True,
        copy=False,
        help="Derived tag the scores are written to, under the workcell's UNS path.",
    )
    score_topic = fields.Char(related="score_tag_id.topic", string="Score topic")
    request_ids = fields.One2many("maintenance.request", "hf_ml_job_id", string="Maintenance requests")
    alert_activity_id = fields.Many2one("mail.activity", readonly=True, copy=False, ondelete="set null")

    _sql_constraints = [
        ("window_positive", "CHECK(window_minutes > 0)", "The feature step must be at least one minute."),
        ("training_positive", "CHECK(training_days > 0)", "The training period must be positive."),
        ("interval_positive", "CHECK(score_interval_minutes > 0)", "Score at most every minute."),
        ("retrain_positive", "CHECK(retrain_days >= 0)", "The retraining interval cannot be negative."),
    ]

    @api.depends("kind")
    def _compute_method(self):
        for job in self:
            if job.kind != "anomaly":
                job.method = "random_forest"
            elif job.method not in ("isolation_forest", "robust_z"):
                job.method = "isolation_forest"

    def write(self, vals):
        result = super().write(vals)
        if "score_interval_minutes" in vals:  # scores now come at another pace: screens judge staleness by it
            for job in self.filtered("score_tag_id"):
                job.score_tag_id.sudo().sampling_interval_ms = job.score_interval_minutes * 60_000
        return result

    @api.depends("kind", "workcenter_id")
    def _compute_running_only(self):
        for job in self:
            state_tag = job._hf_state_tag() if job.kind == "anomaly" else None
            job.running_only = bool(state_tag and reader.read_latest(self.env.cr, state_tag.ids))

    def _hf_state_tag(self):
        """The workcell's machine-state tag (the first, if several)."""
        self.ensure_one()
        if not self.workcenter_id:
            return self.env["hf.uns.tag"]
        return (
            self.env["hf.uns.tag"]
            .sudo()
            .search(
                [("workcenter_id", "=", self.workcenter_id.id), ("role", "=", "machine_state")], limit=1, order="id"
            )
        )

    def _hf_running_state_tag(self):
        """The state tag that gates the features when the job learns only while running, else None."""
        if not self.running_only:
            return None
        state_tag = self._hf_state_tag()
        if not state_tag:
            raise ValidationError(
                _(
                    "Job %(job)s learns only while the machine runs, but workcell %(workcell)s has "
                    'no machine-state tag: add one (role Machine state) or untick "Only while '
                    'running".',
                    job=self.name,
                    workcell=self.workcenter_id.name,
                )
            )
        return state_tag

    @api.depends("version_ids.is_active")
    def _compute_active_version(self):
        for job in self:
            job.active_version_id = job.version_ids.filtered("is_active")[:1]

    @api.depends("version_ids")
    def _compute_version_count(self):
        for job in self:
            job.version_count = len(job.version_ids)

    @api.constrains("tag_ids", "kind", "method", "failure_tag_id", "scrap_tag_id", "workcenter_id")
    def _check_tags(self):
        for job in self:
            # Odoo's check_company passes a many2many when any one of its records fits: each tag is checked here
            foreign = (
                (job.tag_ids | job.failure_tag_id | job.scrap_tag_id)
                .sudo()
                .filtered(lambda t, company=job.company_id: t.company_id and t.company_id != company)
            )
            if foreign:
                raise ValidationError(
                    _(
                        "Job %(job)s: tag %(tag)s belongs to another company than workcell "
                        "%(workcell)s: choose tags of %(company)s.",
                        job=job.name,
                        tag=foreign[0].name,
                        workcell=job.workcenter_id.name,
                        company=job.company_id.name,
                    )
                )
            text = job.tag_ids.filtered(lambda t: t.data_type == "string")
            if text:
                raise ValidationError(
                    _("Job %(job)s: tag %(tag)s holds text; choose numeric tags.", job=job.name, tag=text[0].name)
                )
            if job.method == "robust_z" and len(job.tag_ids) > 1:
                raise ValidationError(
                    _(
                        "Job %s: a robust z-score watches one tag; keep one input tag or use the isolation forest.",
                        job.name,
                    )
                )
            label = job.failure_tag_id | job.scrap_tag_id
            if label & job.tag_ids:
                raise ValidationError(
                    _(
                        "Job %(job)s: tag %(tag)s gives the labels, so it cannot also be an input "
                        "(the model would only learn to read it back).",
                        job=job.name,
                        tag=(label & job.tag_ids)[0].name,
                    )
                )

    @api.constrains(
        "window_minutes",
        "rolling_windows",
        "agg_mean",
        "agg_std",
        "agg_min",
        "agg_max",
        "agg_slope",
        "agg_last",
        "agg_noise",
        "contamination",
        "horizon_hours",
        "running_only",
        "workcenter_id",
    )
    def _check_features(self):
        for job in self:
            job._hf_spec()
            job._hf_running_state_tag()
            if job.kind == "maintenance" and job.horizon_hours <= 0:
                raise ValidationError(_("Job %s: the horizon must be positive.", job.name))
            if not 0 < job.contamination < 0.5:
                raise ValidationError(
                    _("Job %s: the expected anomaly share must be between 0 and 0.5 (e.g. 0.01 for 1%%).", job.name)
                )

    @api.onchange("kind")
    def _onchange_kind(self):
        self.threshold = KIND_DEFAULT_THRESHOLD.get(self.kind, 0.5)
        if self.kind == "maintenance" and self.failure_source == "none":
            self.failure_source = "maintenance"

    # --- actions ------------------------------------------------------------------------------

    def action_train(self):
        """Queue training: the ``hf_ml`` training cron does it in the background, never this request."""
        self._hf_key()  # say it now, not in the job's error an hour later
        self.write({"state": "queued", "last_error": False})
        self.env.ref("hf_ml.ir_cron_hf_ml_train")._trigger()
        return True

    def action_score_now(self):
        self.write({"next_score_at": fields.Datetime.now()})
        self.env.ref("hf_ml.ir_cron_hf_ml_score")._trigger()
        return True

    def action_rollback(self):
        """Activate the version trained before the active one."""
        self.ensure_one()
        versions = self.version_ids.sorted(lambda v: (v.create_date, v.id), reverse=True)
        active = self.active_version_id
        older = versions[list(versions).index(active) + 1 :] if active in versions else versions
        if not older:
            raise UserError(_("Job %s has no older model version to roll back to.", self.name))
        older[0].action_activate()
        return True

    def action_view_versions(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "hf.ml.model.version",
            "name": _("Model versions"),
            "view_mode": "list,form",
            "domain": [("job_id", "=", self.id)],
        }

    # --- crons --------------------------------------------------------------------------------

    @api.model
    def _cron_train(self):
        """Train queued jobs, and jobs whose retraining is due; one transaction per job."""
        now = datetime.now(UTC)
        jobs = self.search([("state", "=", "queued")])
        for job in self.search([("state", "=", "trained"), ("retrain_days", ">", 0)]):
            if not job.last_trained or as_utc(job.last_trained) + timedelta(days=job.retrain_days) <= now:
                jobs |= job
        for done, job in enumerate(jobs, 1):
            job._hf_run_training(now)
            self._hf_commit()
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(jobs) - done)

    @api.model
    def _cron_score(self):
        now = datetime.now(UTC)
        jobs = self.search(
            [
                ("state", "in", ("trained", "error")),
                ("version_ids.is_active", "=", True),
                "|",
                ("next_score_at", "=", False),
                ("next_score_at", "<=", utc_naive(now)),
            ]
        )
        for done, job in enumerate(jobs, 1):
            job._hf_run_scoring(now)
            self._hf_commit()
            self.env["ir.cron"]._notify_progress(done=done, remaining=len(jobs) - done)

    @api.model
    def _cron_run(self):
        """The single cron of hf_ml 18.0.0.1 (kept as noupdate data in databases installed then)."""
        self._cron_train()
        self._cron_score()

    def _hf_commit(self):
        """Keep each job's result even if a later job of the same run fails (not inside tests)."""
        if not (modules.module.current_test or getattr(threading.current_thread(), "testing", False)):
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _hf_run_training(self, now):
        """Train one job; any problem with the data ends as a message on the job, with no version saved."""
        self.ensure_one()
        self.write({"state": "training"})
        try:
            with self.env.cr.savepoint():
                self._hf_train(now)
        except (UserError, ValidationError, TrainingError, TamperedModel) as exc:
            self.write({"state": "error", "last_error": self._hf_message(exc)})
        except Exception as exc:  # a bug must not leave the job "training" for ever
            _logger.exception("hf_ml: training job %s failed", self.id)
            self.write(
                {
                    "state": "error",
                    "last_error": _(
                        "Training failed unexpectedly (%(error)s); the previous "
                        "model, if any, stays active. Details are in the server "
                        "log.",
                        error=type(exc).__name__,
                    ),
                }
            )

    def _hf_run_scoring(self, now):
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                self._hf_score(now)
        except (UserError, ValidationError, TrainingError, TamperedModel) as exc:
            self.write({"last_error": self._hf_message(exc)})
        except Exception as exc:
            _logger.exception("hf_ml: scoring job %s failed", self.id)
            self.write(
                {
                    "last_error": _(
                        "Scoring failed unexpectedly (%s); details are in the server log.", type(exc).__name__
                    )
                }
            )
        self.write({"next_score_at": utc_naive(now + timedelta(minutes=self.score_interval_minutes))})

    @staticmethod
    def _hf_message(exc):
        return str(exc.args[0]) if getattr(exc, "args", None) else str(exc)

    # --- data ---------------------------------------------------------------------------------

    def _hf_spec(self):
        self.ensure_one()
        aggregations = tuple(a for a in features.AGGREGATIONS if self[f"agg_{a}"])
        if not aggregations:
            raise ValidationError(
                _("Job %s: choose at least one aggregation (mean, std, min, max, slope, last, noise).", self.name)
            )
        try:
            minutes = [int(part) for part in (self.rolling_windows or "").replace(" ", "").split(",") if part]
        except ValueError:
            minutes = []
        step = self.window_minutes
        if not minutes or step <= 0 or any(m <= 0 or m % step for m in minutes):
            raise ValidationError(
                _(
                    "Job %(job)s: rolling windows '%(windows)s' must be whole minutes, comma-"
                    "separated, each a multiple of the %(step)s-minute step (e.g. '%(step)s,%(six)s').",
                    job=self.name,
                    windows=self.rolling_windows or "",
                    step=step,
                    six=step * 6,
                )
            )
        return features.FeatureSpec(step * 60, tuple(sorted({m // step for m in minutes})), aggregations)

    def _hf_read_series(self, tag, start, end, good_only=True):
        """(epoch seconds, values) of one numeric tag in [start, end) (``ml.dataset.read_series``)."""
        return dataset.read_series(self.env.cr, tag.id, start, end, good_only)

    def _hf_matrix(self, spec, start, end, read_from, tags=None, state_tag=None):
        """Feature rows ending in (start, end] for every input tag, columns in the order of ``tags``
        (the job's by default; the model's own at scoring): (row ends, features, per-tag series).

        With ``state_tag``, only the samples taken while it says running make the features; the series
        returned are the whole ones (they tell how far each tag has reported)."""
        tags = self.tag_ids if tags is None else tags
        if not tags:
            raise UserError(_("Job %s has no input tags: add the tags it should watch.", self.name))
        series = []
        for tag in tags:
            times, values = self._hf_read_series(tag, read_from, end)
            finite = np.isfinite(values)
            if not finite.any():
                raise UserError(
                    _(
                        "Tag %(tag)s has no usable data between %(start)s and %(end)s UTC%(nan)s. Check "
                        "that the collector stores it, or shorten the period.",
                        tag=tag.name,
                        start=read_from.strftime("%Y-%m-%d %H:%M"),
                        end=end.strftime("%Y-%m-%d %H:%M"),
                        nan=_(" (only NaN values)") if len(values) else "",
                    )
                )
            series.append((times[finite], values[finite]))
        inputs = series
        if state_tag:
            state_times, codes = dataset.read_states(self.env.cr, state_tag.id, read_from, end)
            inputs = []
            for times, values in series:
                running = features.running_mask(times, state_times, codes)
                inputs.append((times[running], values[running]))
        ends = spec.grid(start.timestamp(), end.timestamp())
        matrix, complete = features.build(inputs, ends, spec)
        if state_tag and not complete.any() and len(ends):
            raise UserError(
                _(
                    "Job %(job)s learns only while the machine runs, and state tag %(tag)s says it did not "
                    "run between %(start)s and %(end)s UTC (or has no data): nothing to learn from.",
                    job=self.name,
                    tag=state_tag.name,
                    start=read_from.strftime("%Y-%m-%d %H:%M"),
                    end=end.strftime("%Y-%m-%d %H:%M"),
                )
            )
        return ends[complete], matrix[complete], series

    def _hf_events(self, start, end):
        """Times (epoch s) of the events the job learns: failures or scrap."""
        if self.kind == "quality":
            if self.scrap_source == "workorder":
                scraps = (
                    self.env["stock.scrap"]
                    .sudo()
                    .search(
                        [
                            ("workorder_id.workcenter_id", "=", self.workcenter_id.id),
                            ("state", "=", "done"),
                            ("date_done", ">=", utc_naive(start)),
                            ("date_done", "<", utc_naive(end)),
                        ]
                    )
                )
                return np.asarray(sorted(as_utc(s.date_done).timestamp() for s in scraps), dtype=float)
            if not self.scrap_tag_id:
                raise UserError(_("Job %s learns scrap from a tag: choose the scrap tag.", self.name))
            times, values = self._hf_read_series(self.scrap_tag_id, start, end)
            if self.scrap_tag_id.role == "scrap_count":
                return features.events_from_counter(times, values)
            return features.events_from_level(times, values, 1.0)
        if self.failure_source == "tag":
            if not self.failure_tag_id:
                raise UserError(_("Job %s learns failures from a tag: choose the failure tag.", self.name))
            times, values = self._hf_read_series(self.failure_tag_id, start, end)
            return features.events_from_level(times, values, self.failure_value)
        if self.failure_source == "maintenance":
            requests = self.env["maintenance.request"].sudo().search(self._hf_failure_domain(start, end))
            return np.asarray(
                sorted(as_utc(r.hf_failed_at or r.create_date).timestamp() for r in requests), dtype=float
            )
        return None

    def _hf_failure_domain(self, start, end):
        equipment = self._hf_equipment()
        if not equipment:
            raise UserError(
                _(
                    "Job %s learns failures from corrective maintenance requests, but it has no equipment: "
                    "set the equipment of the workcell's machine, or use a failure tag.",
                    self.name,
                )
            )
        return [
            ("equipment_id", "in", equipment.ids),
            ("maintenance_type", "=", "corrective"),
            ("hf_ml_job_id", "=", False),
            ("hf_failed_at", ">=", utc_naive(start)),
            ("hf_failed_at", "<", utc_naive(end)),
        ]

    def _hf_equipment(self):
        self.ensure_one()
        if self.equipment_id:
            return self.equipment_id
        Equipment = self.env["maintenance.equipment"].sudo()
        if "workcenter_id" in Equipment._fields:  # mrp_maintenance installed
            return Equipment.search([("workcenter_id", "=", self.workcenter_id.id)])
        return Equipment

    def _hf_key(self):
        """The deployment's model signing key (never from the database); a clear error when it has none."""
        try:
            return deployment_key(self.env.cr.dbname)
        except MissingSigningKey as exc:
            raise UserError(
                _(
                    "Models cannot be saved or loaded: %s. Ask whoever runs this server to set it, then restart Odoo.",
                    self._hf_message(exc),
                )
            ) from None

    # --- training -----------------------------------------------------------------------------

    def _hf_train(self, now):
        self.ensure_one()
        self._hf_key()  # before minutes of fitting a model that could not be saved
        started = time.monotonic()
        spec = self._hf_spec()
        start = now - timedelta(days=self.training_days)
        horizon_s = self.horizon_hours * 3600
        supervised = self.kind in ("maintenance", "quality")
        if self.kind == "maintenance":
            if self.failure_source == "none":
                raise UserError(
                    _(
                        "Job %s predicts failures: choose where past failures come from (corrective "
                        "maintenance requests or a failure tag).",
                        self.name,
                    )
                )
            if horizon_s >= (now - start).total_seconds() / 2:
                raise UserError(
                    _(
                        "Job %(job)s: the %(hours)s-hour horizon is too long for %(days)s days of history; "
                        "make the training period at least twice the horizon, or shorten the horizon.",
                        job=self.name,
                        hours=f"{self.horizon_hours:g}",
                        days=f"{self.training_days:g}",
                    )
                )
        state_tag = self._hf_running_state_tag()
        ends, matrix, series = self._hf_matrix(
            spec, start, now, start - timedelta(seconds=spec.history_s), state_tag=state_tag
        )
        if len(ends) < 40:
            raise UserError(
                _(
                    "Job %(job)s: only %(rows)s complete feature windows between %(start)s and %(end)s UTC "
                    "(every input tag needs at least two samples in each window); at least 40 are needed. "
                    "Lengthen the training period or check the collector.",
                    job=self.name,
                    rows=len(ends),
                    start=start.strftime("%Y-%m-%d %H:%M"),
                    end=now.strftime("%Y-%m-%d %H:%M"),
                )
            )
        data_span = ends[-1] - min(t[0] for t, _ in series)
        if self.kind == "maintenance" and horizon_s >= data_span / 2:
            raise UserError(
                _(
                    "Job %(job)s: the history holds only %(hours).1f hours of data, too little for a "
                    "%(horizon)s-hour horizon; wait for more data or shorten the horizon.",
                    job=self.name,
                    hours=data_span / 3600,
                    horizon=f"{self.horizon_hours:g}",
                )
            )
        events = self._hf_events(start, now + timedelta(seconds=horizon_s if self.kind == "maintenance" else 0))
        labels = None
        if events is not None:
            labels = (
                features.label_in_window(ends, events, spec.step_s)
                if self.kind == "quality"
                else features.label_within_horizon(ends, events, horizon_s)
            )
        if supervised and not (labels is not None and labels.any()):
            raise UserError(
                _(
                    "Job %(job)s: no %(what)s between %(start)s and %(end)s UTC, so there is nothing to "
                    "learn from; lengthen the training period or check where they are recorded.",
                    job=self.name,
                    what=_("scrap") if self.kind == "quality" else _("failure"),
                    start=start.strftime("%Y-%m-%d %H:%M"),
                    end=now.strftime("%Y-%m-%d %H:%M"),
                )
            )
        split_at = metrics.time_split(ends)
        train = ends <= split_at
        names = spec.names([t.topic or t.name for t in self.tag_ids])
        names = [n.split("/_historian/")[-1] for n in names]
        try:
            if supervised and (labels[train].sum() < 2 or not labels[~train].any()):
                raise TrainingError(
                    _(
                        "the %(what)s are not spread over time: the first 75%% of the period holds "
                        "%(train)s and the held-out last 25%% holds %(test)s; both need some. "
                        "Lengthen the training period.",
                        what=_("scrap events") if self.kind == "quality" else _("failures"),
                        train=int(labels[train].sum()),
                        test=int(labels[~train].sum()),
                    )
                )
            trained = training.fit(
                matrix,
                ends,
                split_at,
                names,
                labels,
                events,
                supervised=supervised,
                method=self.method,
                contamination=self.contamination,
                threshold=self.threshold,
                lead_times=self.kind == "maintenance" or (events is not None and self.kind == "anomaly"),
            )
        except TrainingError as exc:
            raise UserError(
                _("Training job %(job)s failed: %(reason)s.", job=self.name, reason=self._hf_message(exc))
            ) from None
        final, scores, figures, lead = trained.model, trained.scores, trained.figures, trained.lead
        held_out = ~train
        data, signature = dump(final, self._hf_key())
        importance = final.importance(matrix)
        kind_label = dict(self._fields["kind"].selection)[self.kind]
        self.version_ids.sudo().write({"is_active": False})
        version = (
            self.env["hf.ml.model.version"]
            .sudo()
            .create(
                {
                    "job_id": self.id,
                    "artefact": base64.b64encode(data),
                    "signature": signature,
                    "is_active": True,
                    "kind": self.kind,
                    "method": final.method,
                    "feature_spec": {
                        "step_s": spec.step_s,
                        "windows": list(spec.windows),
                        "aggregations": list(spec.aggregations),
                        "tag_ids": self.tag_ids.ids,
                        "state_tag_id": state_tag.id if state_tag else False,
                    },
                    "feature_names": names,
                    "trained_from": utc_naive(start),
                    "trained_until": utc_naive(now),
                    "split_at": utc_naive(from_epoch(split_at)),
                    "train_rows": int(train.sum()),
                    "test_rows": int(held_out.sum()),
                    "positive_rows": int(labels.sum()) if labels is not None else 0,
                    "event_count": len(events) if events is not None else 0,
                    "precision": figures["precision"] or 0.0,
                    "recall": figures["recall"] or 0.0,
                    "f1": figures["f1"] or 0.0,
                    "roc_auc": figures["roc_auc"] or 0.0,
                    "mae": figures["mae"] or 0.0,
                    "has_labels": labels is not None,
                    "flagged_share": float((scores[held_out] >= self.threshold).mean()) if held_out.any() else 0.0,
                    "lead_time_minutes": float(np.mean(lead)) / 60 if lead else 0.0,
                    "training_seconds": time.monotonic() - started,
                    "chart_scores": charts.score_chart(
                        ends,
                        scores,
                        labels,
                        self.threshold,
                        split_at,
                        _("%(kind)s score (held out after the split)", kind=kind_label),
                    ),
                    "chart_importance": charts.importance_chart(names, importance, _("Feature importance")),
                }
            )
        )
        self.write(
            {
                "state": "trained",
                "last_error": False,
                "last_trained": utc_naive(now),
                "last_scored_until": self.last_scored_until or utc_naive(from_epoch(ends[-1])),
            }
        )
        self.message_post(
            body=_("Model version trained on %(rows)s windows: %(summary)s", rows=len(ends), summary=version.summary)
        )
        return version

    # --- scoring ------------------------------------------------------------------------------

    def _hf_active_model(self):
        version = self.active_version_id
        if not version:
            raise UserError(_("Job %s has no trained model yet: train it first.", self.name))
        version = version.sudo()
        key = self._hf_key()
        try:
            return version, load(base64.b64decode(version.artefact or b""), version.signature, key)
        except (TamperedModel, binascii.Error) as exc:
            raise UserError(
                _(
                    "The active model of job %(job)s was refused: %(reason)s. Train the job again or roll "
                    "back to an earlier version.",
                    job=self.name,
                    reason=self._hf_message(exc),
                )
            ) from None

    def _hf_score(self, now):
        """Score the feature rows completed since the last run; returns (row ends, scores)."""
        self.ensure_one()
        version, model = self._hf_active_model()
        saved = version.feature_spec or {}
        if sorted(saved.get("tag_ids") or []) != sorted(self.tag_ids.ids):
            raise UserError(
                _("Job %s: the input tags changed since the active model was trained; train it again.", self.name)
            )
        spec = features.FeatureSpec(saved["step_s"], tuple(saved["windows"]), tuple(saved["aggregations"]))
        state_tag = self.env["hf.uns.tag"].sudo().browse(saved.get("state_tag_id") or []).exists()
        if saved.get("state_tag_id") and not state_tag:
            raise UserError(
                _("Job %s: the machine-state tag the active model learned with is gone; train it again.", self.name)
            )
        start = as_utc(self.last_scored_until) if self.last_scored_until else now - timedelta(seconds=12 * spec.step_s)
        start = max(start, now - MAX_BACKFILL)
        try:
            ends, matrix, series = self._hf_matrix(
                spec,
                start,
                now,
                start - timedelta(seconds=spec.history_s),
                self.env["hf.uns.tag"].browse(saved["tag_ids"]),
                state_tag=state_tag or None,
            )
        except UserError:
            return np.empty(0), np.empty(0)  # no new data yet: nothing to score
        # a row is complete only once every tag has reported past its end (the ingest may lag)
        complete = ends <= min(t[-1] for t, _ in series)
        ends, matrix = ends[complete], matrix[complete]
        if not len(ends):
            return ends, np.empty(0)
        try:
            scores = model.score(matrix)
        except TrainingError as exc:
            raise UserError(
                _("Job %(job)s cannot score: %(reason)s.", job=self.name, reason=self._hf_message(exc))
            ) from None
        tag = self._hf_score_tag()
        HistorianWriter(self.env.cr).write(
            [Sample(tag.id, int(end * 1000), float(score)) for end, score in zip(ends, scores, strict=True)]
        )
        self.write(
            {
                "last_scored_until": utc_naive(from_epoch(ends[-1])),
                "last_score": float(scores[-1]),
                "last_error": False if self.state == "trained" else self.last_error,
            }
        )
        self._hf_publish(tag, ends, scores)
        worst = int(np.argmax(scores))
        if scores[worst] >= self.threshold:
            self.env["maintenance.request"]._hf_raise_ml_alert(self, float(scores[worst]), from_epoch(ends[worst]))
        return ends, scores

    def _hf_score_tag(self):
        if self.score_tag_id:
            return self.score_tag_id
        base = "".join(c if is_valid_segment(c) else "_" for c in self.name.lower()).strip("_") or "job"
        Tag = self.env["hf.uns.tag"].sudo()
        name = f"{base}_score"
        if Tag.search_count(
            [("workcenter_id", "=", self.workcenter_id.id), ("tag_group", "=", "ml"), ("name", "=", name)]
        ):
            name = f"{base}_{self.id}_score"
        tag = Tag.create(
            {
                "name": name,
                "tag_group": "ml",
                "workcenter_id": self.workcenter_id.id,
                "data_type": "float",
                "role": "derived",
                "description": self.name,  # what a machine screen's score tile is titled
                "limit_high": self.threshold,
                # scores come once per scoring interval: a screen calls the tag stale only after a few of them
                "sampling_interval_ms": self.score_interval_minutes * 60_000,
            }
        )
        self.score_tag_id = tag
        return tag

    def _hf_publish(self, tag, ends, scores):
        """Publish the scores on the workcell's ``_historian`` topic when ``hf_ml.mqtt_url`` is set
        (``hf_historian.mqtt_publish.publish_once``: one connection, every score acknowledged); a broker away
        does not lose them (they are in the historian already), it is said on the job."""
        url = self.env["ir.config_parameter"].sudo().get_param("hf_ml.mqtt_url")
        if not url or not tag.topic:
            return
        from hf_historian.ingest.mqtt_session import BrokerAddress
        from hf_historian.mqtt_publish import publish_once

        topic = UnsTopic.parse(tag.topic)
        key = str(topic.tag_key())
        messages = [
            encode(int(end * 1000), {key: round(float(score), 6)}) for end, score in zip(ends, scores, strict=True)
        ]
        try:
            where = str(BrokerAddress.parse(url))  # the URL without its password, for the message
        except ConfigError:
            where = _("the URL in hf_ml.mqtt_url")
        try:
            publish_once(url, str(topic.workcell_topic), messages, qos=1, timeout=MQTT_TIMEOUT_S)
        except HfError as exc:
            _logger.warning("hf_ml: job %s could not publish to %s: %s", self.id, where, exc)
            self.last_error = _(
                "Scores are stored in the historian but were not published to MQTT (%(url)s): "
                "%(reason)s Check the system parameter hf_ml.mqtt_url and the broker.",
                url=where,
                reason=exc,
            )
