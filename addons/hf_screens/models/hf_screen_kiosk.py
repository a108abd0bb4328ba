import secrets
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

ACTIONS_PER_MINUTE = 30  # default of hf_screens.kiosk_actions_per_minute: far above what an operator presses


class KioskRateLimited(UserError):
    """A kiosk sent more actions in a minute than allowed (the route answers it as a 429)."""

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


class HfScreenKiosk(models.Model):
    """A revocable link that shows one workcell's screen on a shared tablet without a login."""

    _name = "hf.screen.kiosk"
    _description = "Hyperfactory kiosk link"
    _order = "workcenter_id, id desc"

    name = fields.Char(required=True, default=lambda self: _("Shop-floor tablet"))
    workcenter_id = fields.Many2one("mrp.workcenter", string="Workcell", required=True, index=True, ondelete="cascade")
    screen_id = fields.Many2one(
        "hf.screen",
        domain="[('workcenter_id', '=', workcenter_id)]",
        ondelete="set null",
        help="The workcell's first screen when empty.",
    )
    company_id = fields.Many2one(related="workcenter_id.company_id", store=True, index=True)
    token = fields.Char(
        required=True,
        readonly=True,
        copy=False,
        index=True,
        default=lambda self: secrets.token_urlsafe(24),
        groups="hf_uns.group_hf_engineer",
    )
    state = fields.Selection(
        [("active", "Active"), ("revoked", "Revoked")], required=True, default="active", readonly=True
    )
    user_id = fields.Many2one(
        "res.users",
        string="Acts as",
        required=True,
        compute="_compute_user_id",
        store=True,
        readonly=False,
        precompute=True,
        help="Work orders started and downtime reasons given at this kiosk are recorded as this operator, and the "
        "kiosk reads only what this user may read. Empty: the company's own kiosk operator, a user in the "
        "Operator group only who cannot log in.",
    )
    expires_at = fields.Datetime(
        string="Expires", copy=False, help="The link stops working at this time; empty: until it is revoked."
    )
    url = fields.Char(compute="_compute_url", string="Kiosk URL", groups="hf_uns.group_hf_engineer")
    last_seen = fields.Datetime(readonly=True, help="Last time a tablet opened this link.")
    # the rate limit of operator actions: a fixed one-minute window
    action_window_start = fields.Datetime(readonly=True, copy=False, groups="base.group_system")
    action_count = fields.Integer(readonly=True, copy=False, groups="base.group_system")

    _sql_constraints = [("token_unique", "unique(token)", "Kiosk tokens must be unique.")]

    @api.depends("workcenter_id.company_id")
    def _compute_user_id(self):
        for kiosk in self:
            company = kiosk.workcenter_id.company_id
            if company and (not kiosk.user_id or kiosk.user_id._hf_is_kiosk_operator()):
                kiosk.user_id = company._hf_kiosk_operator()

    def _compute_url(self):
        base = self.get_base_url()
        for kiosk in self:
            kiosk.url = f"{base}/hf/kiosk/{kiosk.sudo().token}"

    @api.constrains("user_id", "workcenter_id")
    def _check_user(self):
        for kiosk in self:
            user = kiosk.user_id
            if not user.has_group("hf_uns.group_hf_operator"):
                raise ValidationError(
                    _(
                        "Kiosk '%(kiosk)s' acts as %(user)s, who is not a Hyperfactory operator: choose an operator.",
                        kiosk=kiosk.name,
                        user=user.name,
                    )
                )
            if user._is_superuser() or user.has_group("base.group_system") or user.has_group("base.group_erp_manager"):
                raise ValidationError(
                    _(
                        "Kiosk '%(kiosk)s' would act as %(user)s, an administrator, for anyone "
                        "holding its link: leave 'Acts as' empty (the company's kiosk operator) or "
                        "choose an operator.",
                        kiosk=kiosk.name,
                        user=user.name,
                    )
                )
            if kiosk.company_id and kiosk.company_id not in user.company_ids:
                raise ValidationError(
                    _(
                        "Kiosk '%(kiosk)s' acts as %(user)s, who does not work for %(company)s: "
                        "choose one of its operators.",
                        kiosk=kiosk.name,
                        user=user.name,
                        company=kiosk.company_id.name,
                    )
                )

    @api.constrains("screen_id", "workcenter_id")
    def _check_screen(self):
        for kiosk in self.filtered("screen_id"):
            if kiosk.screen_id.sudo().workcenter_id != kiosk.workcenter_id:
                raise ValidationError(
                    _(
                        "Kiosk '%(kiosk)s' shows screen %(screen)s, which is not a screen of "
                        "%(workcell)s: choose one of that workcell's screens.",
                        kiosk=kiosk.name,
                        screen=kiosk.screen_id.sudo().name,
                        workcell=kiosk.workcenter_id.name,
                    )
                )

    def action_revoke(self):
        self.write({"state": "revoked"})

    def action_new_link(self):
        """Revoke this link and hand out a fresh one for the same workcell (e.g. a tablet was lost)."""
        self.ensure_one()
        self.action_revoke()
        kiosk = self.copy({"state": "active"})
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": kiosk.id, "view_mode": "form"}

    def action_rotate_token(self):
        """A new token for the same kiosk: the old link is refused from now on; open the new one on the tablet."""
        self.check_access("write")
        for kiosk in self:
            kiosk.sudo().token = secrets.token_urlsafe(24)
        return True

    @api.model
    def _hf_from_token(self, token):
        """The kiosk of this token (sudo, revoked and expired ones included), or an empty recordset."""
        if not token or not isinstance(token, str) or len(token) > 128:
            return self.sudo().browse()
        return self.sudo().search([("token", "=", token)], limit=1)

    def _hf_refusal(self):
        """Why this kiosk link may not show its screen now (a sentence for the tablet), or "" when it may."""
        if not self:
            return _("This kiosk link is not valid. Ask your supervisor for the link of this machine.")
        if self.state != "active" or not self.workcenter_id.active:
            return _("This kiosk link was revoked. Ask your supervisor for the new link of this machine.")
        if self.expires_at and self.expires_at <= fields.Datetime.now():
            return _(
                "This kiosk link expired on %s UTC. Ask your supervisor for a new link for this machine.",
                self.expires_at.strftime("%Y-%m-%d %H:%M"),
            )
        return ""

    def _hf_screen(self):
        self.ensure_one()
        return (
            self.screen_id
            or self.workcenter_id.hf_screen_ids[:1]
            or self.env["hf.screen"].sudo()._hf_generate_for_workcenter(self.workcenter_id)
        )

    def _hf_count_action(self, now=None):
        """Count one operator action of this kiosk; KioskRateLimited past the per-minute limit. One UPDATE, so
        concurrent requests of one kiosk are counted one after the other."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        limit = int(
            self.env["ir.config_parameter"].sudo().get_param("hf_screens.kiosk_actions_per_minute", ACTIONS_PER_MINUTE)
        )
        self.env.cr.execute(
            """UPDATE hf_screen_kiosk
                  SET action_count = CASE WHEN action_window_start > %(since)s THEN action_count + 1 ELSE 1 END,
                      action_window_start = CASE WHEN action_window_start > %(since)s THEN action_window_start
                                                 ELSE %(now)s END
                WHERE id = %(id)s
            RETURNING action_count, action_window_start""",
            {"id": self.id, "now": now, "since": now - timedelta(minutes=1)},
        )
        count, window_start = self.env.cr.fetchone()
        self.invalidate_recordset(["action_count", "action_window_start"])
        if count > limit:
            retry_after = max(1, int((window_start + timedelta(minutes=1) - now).total_seconds()) + 1)
            raise KioskRateLimited(
                _(
                    "Too many actions from this kiosk (more than %(limit)s a minute): wait "
                    "%(seconds)s seconds, then try again.",
                    limit=limit,
                    seconds=retry_after,
                ),
                retry_after,
            )

    @api.model
    def _hf_reassign_administrator_kiosks(self):
        """Kiosks made before they had an operator of their own (`make demo`'s acted as admin) act as their
        company's kiosk operator from now on (run at every install and update of hf_screens)."""
        kiosks = self.sudo().with_context(active_test=False).search([])
        for kiosk in kiosks:
            user = kiosk.user_id
            if user._is_superuser() or user.has_group("base.group_system") or user.has_group("base.group_erp_manager"):
                kiosk.user_id = kiosk.company_id._hf_kiosk_operator()
