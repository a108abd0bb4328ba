import json
import logging
from datetime import timedelta
from pathlib import Path

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.modules import module as odoo_module
from odoo.tools import consteq, hmac

from hf_saas.errors import HfSaasError, SpecError
from hf_saas.provision import Provisioner
from hf_saas.quotas import daily_samples
from hf_saas.settings import Settings
from hf_saas.spec import Quotas, parse_spec, slug_from_name
from hf_saas.ziti import NOT_CONFIGURED

from .product_template import MB, QUOTA_FIELDS

_logger = logging.getLogger(__name__)

# How many units of one add-on a single order may hold (a typing slip, not a business limit).
MAX_ADDON_QUANTITY = 100
ACTIVE_STATES = ("draft", "queued", "provisioning", "ready", "suspended")
# What the provisioner acts on and reports: set by this module's own code only, never through the ORM's
# create/write from a request (an RPC caller could name another tenant's database or fake a state).
PROVISIONER_FIELDS = frozenset(
    {"db_name", "state", "url", "admin_login", "ziti_status", "email_confirmed", "suspended_unpaid"}
)
# The context value that unlocks them: an object no JSON/XML-RPC context can carry.
_PROVISIONER = object()


class HfCloudInstance(models.Model):
    """A customer's own Hyperfactory: one database made by hf_saas from the onboarding form."""

    _name = "hf.cloud.instance"
    _description = "Hyperfactory cloud instance"
    _inherit = ["mail.thread", "portal.mixin"]
    _order = "id desc"

    name = fields.Char(string="Company", required=True, tracking=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", string="Operator company", required=True, default=lambda self: self.env.company, index=True
    )
    db_name = fields.Char(string="Database", readonly=True, copy=False, index=True)
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("queued", "Queued"),
            ("provisioning", "Provisioning"),
            ("ready", "Ready"),
            ("suspended", "Suspended"),
            ("deleted", "Deleted"),
            ("failed", "Failed"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )
    state_message = fields.Char(string="Status", readonly=True, copy=False)
    plan_id = fields.Many2one("product.template", required=True, domain=[("hf_is_plan", "=", True)], tracking=True)
    quota_tags = fields.Integer(string="Tags quota", readonly=True)
    quota_samples_per_day = fields.Integer(string="Samples/day quota", readonly=True)
    quota_retention_days = fields.Integer(string="Retention (days)", readonly=True)
    quota_storage_mb = fields.Integer(string="Storage quota (MB)", readonly=True)
    quota_cpu = fields.Float(string="Compute quota (vCPU)", readonly=True, digits=(6, 2))
    quota_memory_mb = fields.Integer(string="Memory quota (MB)", readonly=True)
    quota_bandwidth_mb_per_day = fields.Integer(string="Bandwidth quota (MB per day)", readonly=True)
    usage_tags = fields.Integer(string="Tags used", readonly=True)
    usage_samples_per_day = fields.Integer(string="Samples (last 24 h)", readonly=True)
    usage_messages_today = fields.Integer(string="Messages received (today, UTC)", readonly=True)
    usage_mb_today = fields.Float(string="Received (MB, today, UTC)", readonly=True, digits=(12, 1))
    usage_samples_parked_today = fields.Integer(string="Samples parked (today, UTC)", readonly=True)
    usage_db_size_mb = fields.Float(string="Database size (MB)", readonly=True, digits=(12, 1))
    usage_notices = fields.Text(
        string="Told to the customer",
        readonly=True,
        help="What the tenant says while a quota holds data back (samples or messages parked, storage full), "
        "as last measured; shown on the customer's portal.",
    )
    usage_date = fields.Datetime(string="Usage measured", readonly=True)
    usage_ids = fields.One2many("hf.cloud.usage", "instance_id", string="Usage history", readonly=True)
    suspended_unpaid = fields.Boolean(
        string="Suspended for an unpaid invoice",
        readonly=True,
        copy=False,
        help="Suspended by the payment check because an invoice is past its due date; resumed once it is paid.",
    )
    url = fields.Char(string="URL", readonly=True, copy=False)
    admin_login = fields.Char(string="Admin login", readonly=True, copy=False)
    ziti_status = fields.Char(string="OpenZiti", readonly=True, copy=False, default=NOT_CONFIGURED)
    sale_order_id = fields.Many2one("sale.order", string="Sale order", readonly=True, copy=False)
    order_ids = fields.One2many(
        "sale.order", "hf_upgrade_instance_id", string="Plan changes and add-ons", readonly=True, copy=False
    )
    email_confirmed = fields.Boolean(
        string="E-mail confirmed",
        readonly=True,
        copy=False,
        help="A signup from the website is provisioned only once its address followed the link we mailed.",
    )
    spec_json = fields.Text(string="Specification", groups="hf_cloud.group_hf_cloud_manager", copy=False)
    provision_seconds = fields.Float(string="Provisioning time (s)", readonly=True, digits=(8, 2))
    device_count = fields.Integer(compute="_compute_spec_counts")
    workcenter_count = fields.Integer(compute="_compute_spec_counts")

    _sql_constraints = [("db_name_unique", "unique(db_name)", "Another instance already uses this database.")]

    @api.depends("spec_json")
    def _compute_spec_counts(self):
        for instance in self:
            spec = json.loads(instance.sudo().spec_json or "{}")
            instance.device_count = len(spec.get("devices") or [])
            instance.workcenter_count = sum(
                len(line.get("workcenters") or [])
                for area in (spec.get("site") or {}).get("areas") or []
                for line in area.get("lines") or []
            )

    def _compute_access_url(self):  # pylint: disable=missing-return
        # a compute assigns: like portal.mixin's own, it returns nothing
        super()._compute_access_url()
        for instance in self:
            instance.access_url = f"/my/instances/{instance.id}"

    @api.constrains("spec_json")
    def _check_spec_json(self):
        for instance in self.sudo().filtered("spec_json"):
            try:
                parse_spec(json.loads(instance.spec_json))
            except (ValueError, SpecError) as exc:
                raise ValidationError(
                    _("The specification of %(name)s is not valid: %(error)s", name=instance.name, error=exc)
                ) from None

    @api.model_create_multi
    def create(self, vals_list):
        if not self._hf_is_provisioner():
            self._hf_refuse_provisioner_fields(
                {key for vals in vals_list for key in vals}
                | {key[len("default_") :] for key in self.env.context if key.startswith("default_")}
            )
        for vals in vals_list:
            if vals.get("plan_id"):
                vals.update(self._hf_quota_values(self.env["product.template"].browse(vals["plan_id"])))
            if vals.get("name"):
                self._hf_check_company_free(vals["name"])
                vals.setdefault("db_name", self._hf_settings().db_prefix + slug_from_name(vals["name"]))
        instances = super().create(vals_list)
        instances._hf_as_provisioner()._hf_refresh_ziti_status()
        return instances

    def write(self, vals):
        if not self._hf_is_provisioner():
            self._hf_refuse_provisioner_fields(set(vals))
        result = super().write(vals)
        if "plan_id" in vals:
            self._hf_apply_quotas()
        return result

    # ------------------------------------------------------------------ actions (also XML-RPC)
    def action_provision(self):
        """Queue provisioning; the cron does the work, never the HTTP worker."""
        for instance in self:
            if instance.state not in ("draft", "failed"):
                raise UserError(
                    _(
                        "%(name)s is %(state)s: only draft or failed instances can be provisioned.",
                        name=instance.name,
                        state=instance.state,
                    )
                )
            if not instance.sudo().spec_json:
                raise UserError(_("%s has no specification (site, devices) to provision from.", instance.name))
        self._hf_as_provisioner().write({"state": "queued", "state_message": _("Waiting for a provisioning slot.")})
        self.env.ref("hf_cloud.ir_cron_hf_cloud_provision").sudo()._trigger()
        return True

    # Every action below changes a tenant outside this database (PostgreSQL, the broker, backups):
    # access is checked before that, since a later write() refused would roll back only our own row.
    def action_suspend(self):
        self._hf_check_manager(_("suspend"))
        for instance in self:
            instance._hf_lifecycle("suspend", "suspended", ("ready", "suspended"))
        return True

    def action_resume(self):
        self._hf_check_manager(_("resume"))
        for instance in self:
            instance._hf_lifecycle("resume", "ready", ("ready", "suspended"))
            instance._hf_as_provisioner().suspended_unpaid = False
            instance._hf_push_quotas()  # what was bought while it was suspended
        return True

    def action_backup(self):
        self._hf_check_manager(_("back up"))
        for instance in self:
            try:
                path = self._hf_provisioner().backup(instance.db_name)
            except HfSaasError as exc:
                raise UserError(exc.message) from None
            instance._message_log(
                body=_("Backup taken by %(user)s: %(backup)s", user=self.env.user.name, backup=Path(path).name)
            )
        return True

    def action_delete(self, confirm=None):
        """Drop the tenant (a final backup is kept). ``confirm`` (or the context's ``hf_delete_confirm``)
        must be the instance's database name: deleting is never one click or one RPC call away."""
        self._hf_check_manager(_("delete"))
        confirm = confirm or self.env.context.get("hf_delete_confirm")
        for instance in self:
            if instance.state == "deleted":
                continue
            if not confirm or confirm != instance.db_name:
                raise UserError(
                    _(
                        "To delete %(name)s, type its database name %(db)s to confirm: its database, "
                        "broker users and edge identity are removed (a final backup is kept).",
                        name=instance.name,
                        db=instance.db_name,
                    )
                )
            if instance.state not in ("ready", "suspended", "failed"):
                raise UserError(_("%s is being provisioned; delete it when it is ready.", instance.name))
            try:
                outcome = (
                    self._hf_provisioner().delete(instance.db_name, yes=True) if instance.state != "failed" else None
                )
            except HfSaasError as exc:
                raise UserError(exc.message) from None
            message = outcome.message if outcome else _("Deleted.")
            _logger.warning(
                "instance %s (%s) deleted by %s (uid %s): %s",
                instance.name,
                instance.db_name,
                self.env.user.login,
                self.env.uid,
                message,
            )
            instance._hf_as_provisioner().write({"state": "deleted", "state_message": message})
            instance._message_log(
                body=_("Instance deleted by %(user)s. %(outcome)s", user=self.env.user.name, outcome=message)
            )
        return True

    def action_update_usage(self):
        for instance in self.filtered(lambda i: i.state == "ready"):
            try:
                usage = self._hf_provisioner().usage(instance.db_name)
            except HfSaasError as exc:
                _logger.warning("usage of %s not measured: %s", instance.db_name, exc)
                continue
            now = fields.Datetime.now()
            instance.sudo().write(
                {
                    "usage_tags": usage["tags"],
                    "usage_samples_per_day": usage["samples_per_day"],
                    "usage_messages_today": usage.get("messages_today", 0),
                    "usage_mb_today": usage.get("bytes_today", 0) / MB,
                    "usage_samples_parked_today": usage.get("samples_parked_today", 0),
                    "usage_db_size_mb": usage["db_size_mb"],
                    "usage_notices": "\n".join(usage.get("notices") or []) or False,
                    "usage_date": now,
                }
            )
            self.env["hf.cloud.usage"].sudo().create(
                {
                    "instance_id": instance.id,
                    "date": now,
                    "tags": usage["tags"],
                    "samples_per_day": usage["samples_per_day"],
                    "messages": usage.get("messages_today", 0),
                    "received_mb": usage.get("bytes_today", 0) / MB,
                    "samples_parked": usage.get("samples_parked_today", 0),
                    "db_size_mb": usage["db_size_mb"],
                    # reported by the tenant's process limits where the runtime measures them
                    "cpu_seconds": usage.get("cpu_seconds", 0.0),
                }
            )
        return True

    def action_download_bundle(self):
        self.ensure_one()
        return {"type": "ir.actions.act_url", "url": f"/my/instances/{self.id}/bundle", "target": "self"}

    # ------------------------------------------------------------------ cron
    @api.model
    def _cron_provision(self, limit=5):
        """Provision queued instances one by one, committing each state so the status page sees it."""
        for _i in range(limit):
            self.env.cr.execute(
                "SELECT id FROM hf_cloud_instance WHERE state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            row = self.env.cr.fetchone()
            if not row:
                return
            instance = self.browse(row[0])._hf_as_provisioner()
            instance.write({"state": "provisioning", "state_message": _("Creating your database…")})
            self._hf_commit()
            instance._hf_provision()
            self._hf_commit()

    @api.model
    def _cron_update_usage(self):
        self.search([("state", "=", "ready")]).action_update_usage()

    @api.model
    def _cron_check_payments(self):
        """Suspend a ready instance with an invoice past its due date (its data is kept); resume an instance
        this check suspended once its invoices are paid. One instance at a time, each committed."""
        today = fields.Date.context_today(self)
        for instance in self.search([("state", "in", ("ready", "suspended"))])._hf_as_provisioner():
            overdue = instance._hf_overdue_invoices(today)
            try:
                if overdue and instance.state == "ready":
                    instance._hf_lifecycle("suspend", "suspended", ("ready",))
                    instance.write(
                        {
                            "suspended_unpaid": True,
                            "state_message": _(
                                "Suspended: invoice %s is past its due date. Your data is kept; the instance resumes "
                                "once it is paid.",
                                ", ".join(overdue.mapped("name")),
                            ),
                        }
                    )
                elif not overdue and instance.state == "suspended" and instance.suspended_unpaid:
                    instance._hf_lifecycle("resume", "ready", ("suspended",))
                    instance.write({"suspended_unpaid": False})
                    instance._hf_push_quotas()
                else:
                    continue
            except UserError as exc:
                _logger.warning("payment check of %s: %s", instance.db_name, exc)
                continue
            instance.message_post(body=instance.state_message)
            self._hf_commit()

    @api.model
    def _cron_invoice_overage(self, today=None):
        """Invoice last month's samples beyond the plan, once per instance and month (the cron runs daily, so
        a day it missed is caught up), for plans that bill them. Each instance in its own transaction."""
        today = today or fields.Date.context_today(self)
        month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        for instance in self.search(
            [("state", "in", ("ready", "suspended")), ("plan_id.hf_overage_product_id", "!=", False)]
        ):
            try:
                instance._hf_invoice_overage(month)
            except HfSaasError as exc:  # suspended databases cannot be read; the next run catches up
                _logger.warning("usage of %s for %s not invoiced: %s", instance.db_name, month, exc)
                continue
            self._hf_commit()

    def _hf_invoice_overage(self, month):
        """The posted invoice of ``month``'s samples beyond the plan's daily volume (per million samples, with
        the plan's overage product), or nothing when no day went beyond it or it is invoiced already."""
        self.ensure_one()
        moves = self.env["account.move"].sudo()
        if moves.search_count([("hf_usage_instance_id", "=", self.id), ("hf_usage_month", "=", month)]):
            return moves
        last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        daily = daily_samples(self._hf_settings(), self.db_name, month, last)
        included = self.quota_samples_per_day
        beyond = {day: samples - included for day, samples in daily.items() if samples > included}
        if not beyond:
            return moves
        total = sum(beyond.values())
        product = self.plan_id.hf_overage_product_id
        term = self.env.ref("account.account_payment_term_30days", raise_if_not_found=False)
        invoice = moves.create(
            {
                "move_type": "out_invoice",
                "partner_id": self.partner_id.id,
                "invoice_origin": self.db_name,
                "hf_usage_instance_id": self.id,
                "hf_usage_month": month,
                "invoice_payment_term_id": term.id if term else False,
                "invoice_line_ids": [
                    fields.Command.create(
                        {
                            "product_id": product.id,
                            "quantity": round(total / 1_000_000, 3),
                            "name": _(
                                "%(instance)s: %(total)s samples beyond the plan's %(included)s a day in %(month)s "
                                "(%(days)s days), per million samples",
                                instance=self.name,
                                total=f"{total:,}",
                                included=f"{included:,}",
                                month=month.strftime("%B %Y"),
                                days=len(beyond),
                            ),
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        self.message_post(
            body=_("Usage of %(month)s invoiced: %(invoice)s.", month=month.strftime("%B %Y"), invoice=invoice.name)
        )
        return invoice

    # ------------------------------------------------------------------ helpers
    def _hf_provision(self):
        """Create the tenant with hf_saas and mail the login; errors leave the instance failed."""
        self.ensure_one()
        try:
            spec = parse_spec(json.loads(self.sudo().spec_json))
            result = self._hf_provisioner().create(spec)
        except HfSaasError as exc:
            # the detail (a subprocess's output) is for the operator's log, never for the public status page
            _logger.warning("provisioning %s failed: %s", self.db_name, exc)
            self._hf_as_provisioner().write({"state": "failed", "state_message": exc.message})
            return False
        self._hf_as_provisioner().write(
            {
                "state": "ready",
                "state_message": _("Ready."),
                "url": result.url,
                "admin_login": result.admin_login,
                "db_name": result.db,
                "ziti_status": result.ziti_status,
                "provision_seconds": sum(result.timings.values()),
            }
        )
        portal_url = self._hf_grant_portal_access()
        template = self.env.ref("hf_cloud.mail_template_hf_cloud_ready")
        template.with_context(hf_signup_url=result.signup_url or result.url, hf_portal_url=portal_url).send_mail(
            self.id, force_send=not odoo_module.current_test, email_layout_xmlid="mail.mail_notification_light"
        )
        self.action_update_usage()
        return True

    def _hf_lifecycle(self, operation, target_state, allowed):
        self.ensure_one()
        if self.state not in allowed:
            raise UserError(_("%(name)s is %(state)s; it cannot be changed now.", name=self.name, state=self.state))
        try:
            outcome = getattr(self._hf_provisioner(), operation)(self.db_name)
        except HfSaasError as exc:
            raise UserError(exc.message) from None
        self._hf_as_provisioner().write({"state": target_state, "state_message": outcome.message})

    def _hf_check_manager(self, operation):
        """Write access to these instances and the cloud manager group, or AccessError (nothing done)."""
        self.check_access("write")
        if not (self.env.su or self.env.user.has_group("hf_cloud.group_hf_cloud_manager")):
            raise AccessError(
                _(
                    "Only a Hyperfactory Cloud administrator can %(operation)s an instance; ask one to do it.",
                    operation=operation,
                )
            )

    def _hf_as_provisioner(self):
        return self.with_context(hf_cloud_provisioner=_PROVISIONER)

    def _hf_is_provisioner(self):
        return self.env.context.get("hf_cloud_provisioner") is _PROVISIONER

    @api.model
    def _hf_refuse_provisioner_fields(self, names):
        refused = sorted(PROVISIONER_FIELDS.intersection(names))
        if refused:
            raise UserError(
                _(
                    "%s are set by the provisioner only: create the instance with its company, "
                    "customer and plan, then provision it.",
                    ", ".join(refused),
                )
            )

    def _hf_rotate_bundle(self):
        """The edge bundle with new secrets (the previous broker password and API key stop working)."""
        self.ensure_one()
        try:
            data = self._hf_provisioner().rotate_bundle(self.db_name)
        except HfSaasError as exc:
            raise UserError(exc.message) from None
        self.sudo()._message_log(
            body=_(
                "Edge bundle downloaded by %s: the previous broker password and API key no longer work.",
                self.env.user.name,
            )
        )
        return data

    def _hf_push_quotas(self):
        """Write the instance's quotas (plan and confirmed add-ons) into its tenant; only a ready tenant can
        take them (a suspended one gets them when it is resumed)."""
        for instance in self.filtered(lambda i: i.state == "ready"):
            plan = instance.plan_id
            quotas = {
                "tags": instance.quota_tags,
                "samples_per_day": instance._hf_samples_cap(),
                "retention_days": instance.quota_retention_days,
                "storage_mb": instance.quota_storage_mb,
                "cpu": instance.quota_cpu,
                # an instance made before these quotas existed has 0 until its quotas are applied: its plan's
                "bytes_per_day": (instance.quota_bandwidth_mb_per_day or plan.hf_quota_bandwidth_mb_per_day) * MB,
                "memory_mb": instance.quota_memory_mb or plan.hf_quota_memory_mb,
                "storage_policy": plan.hf_storage_policy or "pause_ingest",
            }
            try:
                self._hf_provisioner().set_quotas(
                    instance.db_name, Quotas.from_dict(quotas), plan.hf_plan_code or "custom"
                )
            except HfSaasError as exc:
                raise UserError(exc.message) from None
            instance.message_post(
                body=_(
                    "Plan %(plan)s and its add-ons applied: %(tags)s tags, %(samples)s samples and %(bandwidth)s MB a "
                    "day, %(storage)s MB of storage, %(cpu)s vCPU, %(memory)s MB of memory.",
                    plan=plan.name,
                    tags=quotas["tags"],
                    samples=quotas["samples_per_day"],
                    bandwidth=quotas["bytes_per_day"] // MB,
                    storage=quotas["storage_mb"],
                    cpu=quotas["cpu"],
                    memory=quotas["memory_mb"],
                )
            )

    def _hf_usage_chart(self, points=48, width=480, height=80):
        """The portal's usage chart: one bar per hourly measurement of the samples of the last 24 hours (the
        newest on the right), scaled to the higher of the plan's daily volume and the largest bar, and the
        height of that volume (the dashed line), as an inline SVG needs them."""
        self.ensure_one()
        history = self.sudo().usage_ids.sorted("date")[-points:]
        top = max([self.quota_samples_per_day, *history.mapped("samples_per_day")]) or 1
        step = width / points
        bars = [
            {
                "x": round(width - (len(history) - i) * step, 1),
                "w": round(step * 0.8, 1),
                "h": round(height * point.samples_per_day / top, 1),
                "over": point.samples_per_day > self.quota_samples_per_day,
                "title": f"{fields.Datetime.to_string(point.date)} UTC: {point.samples_per_day:,} samples",
            }
            for i, point in enumerate(history)
        ]
        for bar in bars:
            bar["y"] = round(height - bar["h"], 1)
        return {
            "bars": bars,
            "width": width,
            "height": height,
            "quota_y": round(height - height * self.quota_samples_per_day / top, 1),
        }

    def _hf_usage_warnings(self):
        """A sentence per quota at 80 % or more of what the plan and add-ons include, for the portal."""
        self.ensure_one()
        warnings = []
        storage_full = bool(self.quota_storage_mb) and self.usage_db_size_mb >= self.quota_storage_mb
        if storage_full:
            # at 100 %: what the plan says happens now (the tenant's ingest does it, hf_historian.ingest.quota)
            warnings.append(
                _(
                    "Your database (%(used)s MB) has reached its %(quota)s MB of storage: %(what)s Buy storage or "
                    "change plan.",
                    used=f"{self.usage_db_size_mb:,.0f}",
                    quota=f"{self.quota_storage_mb:,}",
                    what=_("the oldest raw history is dropped to make room (rollups are kept).")
                    if self.plan_id.hf_storage_policy == "shorten_retention"
                    else _("new samples are parked, not lost, and stored once there is room."),
                )
            )
        for label, used, quota, said in (
            (_("tags"), self.usage_tags, self.quota_tags, False),
            (_("samples a day"), self.usage_samples_per_day, self.quota_samples_per_day, False),
            (_("MB a day of bandwidth"), self.usage_mb_today, self.quota_bandwidth_mb_per_day, False),
            (_("storage (MB)"), self.usage_db_size_mb, self.quota_storage_mb, storage_full),
        ):
            if quota and used >= 0.8 * quota and not said:
                warnings.append(
                    _(
                        "%(used)s of %(quota)s %(what)s used (%(percent)s %%): buy an add-on or change "
                        "plan before it is reached.",
                        used=f"{used:,.0f}",
                        quota=f"{quota:,}",
                        what=label,
                        percent=int(100 * used / quota),
                    )
                )
        return warnings

    def _hf_samples_cap(self):
        """The samples a day the tenant's ingest stores before it parks: the plan's volume, or, where the plan
        bills what goes beyond it, that volume times the plan's cap."""
        self.ensure_one()
        plan = self.plan_id
        factor = max(1, plan.hf_overage_cap_factor or 1) if plan.hf_overage_product_id else 1
        return self.quota_samples_per_day * factor

    def _hf_apply_quotas(self):
        """Quotas = the plan's + those of the confirmed add-on orders; recorded here and pushed into the tenant.
        The only writer of the quota fields after creation: called when the plan changes and when an
        instance's order is confirmed or cancelled."""
        for instance in self:
            values = self._hf_quota_values(instance.plan_id, instance._hf_confirmed_addon_lines())
            super(HfCloudInstance, instance).write(values)
        self._hf_push_quotas()
        return True

    @api.model
    def _hf_quota_values(self, plan, addon_lines=()):
        values = {field: plan[plan_field] for field, plan_field, _addon in QUOTA_FIELDS}
        for line in addon_lines:
            for field, _plan, addon_field in QUOTA_FIELDS:
                if addon_field:
                    values[field] += line.product_uom_qty * line.product_id[addon_field]
        return {field: value if field == "quota_cpu" else int(value) for field, value in values.items()}

    def _hf_confirmed_addon_lines(self):
        self.ensure_one()
        orders = self.sudo().order_ids.filtered(lambda o: o.state == "sale")
        return orders.order_line.filtered(lambda line: line.product_id.hf_is_addon)

    def _hf_portal_invoices(self):
        """The posted invoices and credit notes of this instance's orders (the plan's and those bought later)."""
        self.ensure_one()
        orders = self.sudo().sale_order_id | self.sudo().order_ids
        usage = self.env["account.move"].sudo().search([("hf_usage_instance_id", "=", self.id)])
        return (orders.invoice_ids | usage).filtered(lambda m: m.state == "posted").sorted("id", reverse=True)

    def _hf_overdue_invoices(self, today):
        self.ensure_one()
        return self._hf_portal_invoices().filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and m.payment_state in ("not_paid", "partial")
                and m.invoice_date_due
                and m.invoice_date_due < today
            )
        )

    def _hf_create_order(self, product, quantity=1):
        """A quotation for a plan change or an add-on of this instance, paid in the portal. Nothing changes
        before the order is confirmed (sale_order.action_confirm), which the payment does."""
        self.ensure_one()
        kind = "plan" if product.hf_is_plan else "addon"
        if not product or not product._hf_on_sale(kind):
            raise UserError(_("This product is not on sale; choose one of the plans or add-ons offered."))
        if self.state not in ("ready", "suspended"):
            raise UserError(
                _(
                    "%(name)s is %(state)s; plans and add-ons can be bought once it is ready.",
                    name=self.name,
                    state=self.state,
                )
            )
        if kind == "plan" and product == self.plan_id:
            raise UserError(_("%s is already this instance's plan.", product.name))
        if kind == "plan":
            quantity = 1
        if not 1 <= quantity <= MAX_ADDON_QUANTITY:
            raise UserError(_("Order between 1 and %s units at a time.", MAX_ADDON_QUANTITY))
        instance = self.sudo()
        return (
            self.env["sale.order"]
            .sudo()
            .create(
                {
                    "partner_id": instance.partner_id.id,
                    "client_order_ref": instance.db_name,
                    "hf_upgrade_instance_id": instance.id,
                    # paid in full online before it is confirmed: that payment is what changes the quotas
                    "require_payment": True,
                    "require_signature": False,
                    "prepayment_percent": 1.0,
                    "order_line": [
                        fields.Command.create(
                            {"product_id": product.product_variant_id.id, "product_uom_qty": quantity}
                        )
                    ],
                }
            )
        )

    def _hf_grant_portal_access(self):
        """The customer's portal user on this (the operator's) Odoo, made as Odoo's portal wizard grants
        access (its welcome e-mail replaced by our "ready" mail). Returns the link that mail carries: a
        one-time link to choose a password that lands on the instance page, or that page for an existing user."""
        self.ensure_one()
        partner = self.sudo().partner_id
        page = f"/my/instances/{self.id}"
        if partner.user_ids:  # a returning customer (or an employee) logs in as usual
            return f"{self.get_base_url()}{page}"
        wizard = self.env["portal.wizard"].sudo().create({"partner_ids": [fields.Command.set(partner.ids)]})
        try:
            with self.env.cr.savepoint():
                wizard.user_ids.with_context(hf_cloud_invited_by_ready_mail=True).action_grant_access()
        except UserError as exc:  # e.g. another user already has this e-mail as login
            _logger.warning("no portal user for %s (%s): %s", partner.email, self.db_name, exc)
            self.sudo()._message_log(
                body=_("No portal account made for %(email)s: %(error)s", email=partner.email, error=exc.args[0])
            )
            return f"{self.get_base_url()}{page}"
        return partner._get_signup_url_for_action(url=page)[partner.id]

    @api.model
    def _hf_check_company_free(self, company_name):
        slug = slug_from_name(company_name)
        db_name = self._hf_settings().db_prefix + slug
        if self.sudo().search_count([("db_name", "=", db_name), ("state", "in", ACTIVE_STATES)]):
            raise ValidationError(_("A Hyperfactory for %s already exists. Log in to it, or contact us.", company_name))

    def _hf_refresh_ziti_status(self):
        if not self._hf_settings().ziti_configured:
            self.filtered(lambda i: i.ziti_status != NOT_CONFIGURED).write({"ziti_status": NOT_CONFIGURED})

    @api.model
    def _hf_settings(self):
        # The operator's configuration only (HF_SAAS_* environment, HF_SAAS_SETTINGS file): never a
        # database's system parameters, which a database's administrator can set.
        return Settings.load()

    @api.model
    def _hf_provisioner(self):
        return Provisioner(self._hf_settings())

    @api.model
    def _hf_commit(self):
        # Tests run inside one transaction; the cron commits so the status page sees each step.
        if not odoo_module.current_test:  # read at call time: it is set while tests run
            self.env.cr.commit()  # pylint: disable=invalid-commit

    # ------------------------------------------------------------------ onboarding
    @api.model
    def _hf_create_from_spec(self, spec, plan):
        """Partner and a pending instance for a validated spec; a link to confirm the address is mailed.
        Nothing is provisioned, sold or reserved (the company name included) before that confirmation."""
        spec_dict = spec.to_dict()
        spec_dict["plan"] = plan._hf_quotas()
        partner = (
            self.env["res.partner"]
            .sudo()
            .create(
                {
                    "name": spec.company.contact_name,
                    "email": spec.company.email,
                    "phone": spec.company.phone or False,
                    "tz": spec.company.timezone,
                    "parent_id": self.env["res.partner"]
                    .sudo()
                    .create({"name": spec.company.name, "is_company": True, "email": spec.company.email})
                    .id,
                }
            )
        )
        instance = (
            self.sudo()
            ._hf_as_provisioner()
            .create(
                {
                    "name": spec.company.name,
                    "partner_id": partner.id,
                    "plan_id": plan.id,
                    "db_name": False,
                    "spec_json": json.dumps(spec_dict),
                    "state_message": _(
                        "Waiting for the confirmation of %s: follow the link we sent there.", spec.company.email
                    ),
                }
            )
        )
        instance._portal_ensure_token()
        template = self.env.ref("hf_cloud.mail_template_hf_cloud_confirm")
        template.sudo().with_context(hf_confirm_url=instance._hf_confirm_url()).send_mail(
            instance.id, force_send=not odoo_module.current_test, email_layout_xmlid="mail.mail_notification_light"
        )
        return instance

    def _hf_confirm_token(self):
        self.ensure_one()
        return hmac(self.env(su=True), "hf_cloud.email_confirm", (self.id, self.sudo().partner_id.email))

    def _hf_confirm_url(self):
        self.ensure_one()
        return f"{self.get_base_url()}/hyperfactory/confirm/{self.id}/{self._hf_confirm_token()}"

    def _hf_confirm_email(self, token):
        """The address is proven: reserve the company's database, sell the plan, queue provisioning.
        False for a wrong token; ValidationError when another confirmed signup took the company first."""
        self.ensure_one()
        instance = self.sudo()._hf_as_provisioner()
        if not token or not consteq(token, self._hf_confirm_token()):
            return False
        if instance.email_confirmed:
            return True
        self.env.cr.execute("SELECT id FROM hf_cloud_instance WHERE id = %s FOR UPDATE", (self.id,))
        instance._hf_check_company_free(instance.name)
        instance.write(
            {"email_confirmed": True, "db_name": self._hf_settings().db_prefix + slug_from_name(instance.name)}
        )
        online = self._hf_signup_pays_online()
        order = (
            self.env["sale.order"]
            .sudo()
            .create(
                {
                    "partner_id": instance.partner_id.id,
                    "client_order_ref": instance.db_name,
                    # online: the first period is paid before anything is set up (the payment confirms the order);
                    # by invoice: confirmed now, invoiced with the company's payment terms (an overdue one suspends)
                    "require_payment": online,
                    "require_signature": False,
                    "prepayment_percent": 1.0,
                    "order_line": [
                        fields.Command.create(
                            {"product_id": instance.plan_id.product_variant_id.id, "product_uom_qty": 1}
                        )
                    ],
                }
            )
        )
        instance.sale_order_id = order
        if online:
            instance.state_message = _("Waiting for the payment of order %s.", order.name)
            return True
        if term := self.env.ref("account.account_payment_term_30days", raise_if_not_found=False):
            order.payment_term_id = term
        order.action_confirm()  # provisions it (sale_order.action_confirm)
        order._create_invoices().action_post()
        return True

    def _hf_signup_pays_online(self):
        """How a signup pays its plan (system parameter ``hf_cloud.signup_payment``): ``online`` before it is
        provisioned, ``invoice`` after; unset, online whenever a payment provider is published."""
        mode = self.env["ir.config_parameter"].sudo().get_param("hf_cloud.signup_payment") or "auto"
        if mode not in ("auto", "online", "invoice"):
            _logger.warning("hf_cloud.signup_payment is %r; expected online, invoice or auto: using auto", mode)
            mode = "auto"
        if mode != "auto":
            return mode == "online"
        return bool(
            self.env["payment.provider"]
            .sudo()
            .search_count(
                [
                    ("state", "in", ("enabled", "test")),
                    ("is_published", "=", True),
                    ("company_id", "in", (False, self.env.company.id)),
                ],
                limit=1,
            )
        )

    def _hf_payment_url(self):
        """Where the customer pays the signup's order (its portal page, with its own access token)."""
        self.ensure_one()
        order = self.sudo().sale_order_id
        return order.get_portal_url() if order and order.state in ("draft", "sent") else False
