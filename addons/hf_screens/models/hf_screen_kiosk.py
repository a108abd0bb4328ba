import secrets

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class HfScreenKiosk(models.Model):
    """A revocable link that shows one workcell's screen on a shared tablet without a login."""

    _name = "hf.screen.kiosk"
    _description = "Hyperfactory kiosk link"
    _order = "workcenter_id, id desc"

    name = fields.Char(required=True, default=lambda self: _("Shop-floor tablet"))
    workcenter_id = fields.Many2one("mrp.workcenter", string="Workcell", required=True, index=True,
                                    ondelete="cascade")
    screen_id = fields.Many2one(
        "hf.screen", domain="[('workcenter_id', '=', workcenter_id)]", ondelete="set null",
        help="The workcell's first screen when empty.",
    )
    company_id = fields.Many2one(related="workcenter_id.company_id", store=True, index=True)
    token = fields.Char(required=True, readonly=True, copy=False, index=True,
                        default=lambda self: secrets.token_urlsafe(24), groups="hf_uns.group_hf_engineer")
    state = fields.Selection([("active", "Active"), ("revoked", "Revoked")], required=True, default="active",
                             readonly=True)
    user_id = fields.Many2one(
        "res.users", string="Acts as", required=True, default=lambda self: self.env.user,
        help="Work orders started and downtime reasons given at this kiosk are recorded as this operator.",
    )
    url = fields.Char(compute="_compute_url", string="Kiosk URL", groups="hf_uns.group_hf_engineer")
    last_seen = fields.Datetime(readonly=True, help="Last time a tablet opened this link.")

    _sql_constraints = [("token_unique", "unique(token)", "Kiosk tokens must be unique.")]

    def _compute_url(self):
        base = self.get_base_url()
        for kiosk in self:
            kiosk.url = f"{base}/hf/kiosk/{kiosk.sudo().token}"

    @api.constrains("user_id")
    def _check_user(self):
        for kiosk in self:
            if not kiosk.user_id.has_group("hf_uns.group_hf_operator"):
                raise ValidationError(_("Kiosk '%(kiosk)s' acts as %(user)s, who is not a Hyperfactory operator: "
                                        "choose an operator.", kiosk=kiosk.name, user=kiosk.user_id.name))

    def action_revoke(self):
        self.write({"state": "revoked"})

    def action_new_link(self):
        """Revoke this link and hand out a fresh one for the same workcell (e.g. a tablet was lost)."""
        self.ensure_one()
        self.action_revoke()
        kiosk = self.copy({"state": "active"})
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": kiosk.id, "view_mode": "form"}

    @api.model
    def _hf_from_token(self, token):
        """The active kiosk of this token (sudo), or an empty recordset; revoked ones too when asked."""
        if not token or not isinstance(token, str) or len(token) > 128:
            return self.sudo().browse()
        return self.sudo().search([("token", "=", token)], limit=1)

    def _hf_screen(self):
        self.ensure_one()
        return self.screen_id or self.workcenter_id.hf_screen_ids[:1] or \
            self.env["hf.screen"].sudo()._hf_generate_for_workcenter(self.workcenter_id)
