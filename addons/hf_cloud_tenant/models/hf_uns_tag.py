import logging

from markupsafe import Markup

from odoo import _, api, models
from odoo.exceptions import ValidationError

from hf_historian.ingest.quota import NOTICE_PARAM, QUOTA_PREFIX, STORAGE_NOTICE_PARAM

_logger = logging.getLogger(__name__)
# what the administrators were last told of the quotas holding data back (told again only when it changes)
TOLD_PARAM = "hf_cloud.quota_notices_told"
# where an earlier version of the quota cron listed the tags whose historian it had switched off
PAUSED_PARAM = "hf_cloud.historian_paused_tag_ids"


class HfUnsTag(models.Model):
    _inherit = "hf.uns.tag"

    @api.model
    def _hf_quota(self, key):
        value = self.env["ir.config_parameter"].sudo().get_param(QUOTA_PREFIX + key)
        try:
            return int(value) if value else 0
        except ValueError:
            _logger.warning("%s%s=%r is not a number; quota not enforced", QUOTA_PREFIX, key, value)
            return 0

    @api.model_create_multi
    def create(self, vals_list):
        limit = self._hf_quota("tags")
        if limit:
            current = self.sudo().with_context(active_test=True).search_count([])
            wanted = sum(1 for vals in vals_list if vals.get("active", True))
            if current + wanted > limit:
                raise ValidationError(
                    _(
                        "Your plan includes %(limit)s tags and %(current)s exist: archive unused tags or "
                        "upgrade the plan to add %(wanted)s more.",
                        limit=limit,
                        current=current,
                        wanted=wanted,
                    )
                )
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("active") and self._hf_quota("tags"):
            limit = self._hf_quota("tags")
            reactivated = len(self.filtered(lambda tag: not tag.active))
            if reactivated and self.sudo().search_count([]) + reactivated > limit:
                raise ValidationError(_("Your plan includes %s tags: upgrade the plan to restore more.", limit))
        return super().write(vals)

    @api.model
    def _cron_hf_cloud_quotas(self):
        """Archive tags the ingest discovered beyond the tag quota (newest first).

        The samples/day quota is not enforced here: the tenant's ingest parks the samples beyond the day's quota
        and stores them once there is room (hf_historian.ingest.quota), where this cron used to switch the
        historian of the busiest tags off by its own count of the last 24 hours, losing their samples (and at a
        rolling 24 hours, not the UTC day the ingest counts). Tags it paused that way get their historian back."""
        tag_limit = self._hf_quota("tags")
        if tag_limit:
            active = self.sudo().search([], order="discovered asc, id asc")
            excess = active[tag_limit:].filtered("discovered")
            if excess:
                _logger.info("archiving %s discovered tags beyond the quota of %s", len(excess), tag_limit)
                super(HfUnsTag, excess).write({"active": False})
        params = self.env["ir.config_parameter"].sudo()
        paused = [int(x) for x in (params.get_param(PAUSED_PARAM) or "").split(",") if x]
        if paused:
            self.sudo().browse(paused).exists().write({"historian": True})
            params.set_param(PAUSED_PARAM, "")
        self._hf_tell_quota_notices()
        return True

    @api.model
    def _hf_tell_quota_notices(self):
        """Tell the tenant's Hyperfactory administrators (their Odoo inbox or mail, as each chose) what the
        ingest says while a quota holds data back (samples parked, storage full), once per change. Read with
        SQL: the ingest writes these parameters itself, past the ORM's cache of ir.config_parameter."""
        self.env.cr.execute(
            "SELECT value FROM ir_config_parameter WHERE key IN (%s, %s) AND value != '' ORDER BY key",
            (NOTICE_PARAM, STORAGE_NOTICE_PARAM),
        )
        notices = [value for (value,) in self.env.cr.fetchall()]
        params = self.env["ir.config_parameter"].sudo()
        said = "\n".join(notices)
        if said == (params.get_param(TOLD_PARAM) or ""):
            return
        params.set_param(TOLD_PARAM, said)
        admins = self.env.ref("hf_uns.group_hf_admin").sudo().users.filtered("active")
        if notices and admins:
            self.env["mail.thread"].sudo().message_notify(
                partner_ids=admins.partner_id.ids,
                subject=_("Your Hyperfactory plan is holding data back"),
                body=Markup("<br/>").join(notices),
            )
