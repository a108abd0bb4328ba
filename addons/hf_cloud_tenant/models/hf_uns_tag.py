import logging

from odoo import _, api, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)
QUOTA_PREFIX = "hf_cloud.quota."
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
        """Archive tags the ingest discovered beyond the tag quota (newest first), and pause the
        historian of the busiest tags while the last 24 hours exceed the samples/day quota."""
        cr = self.env.cr
        tag_limit = self._hf_quota("tags")
        if tag_limit:
            active = self.sudo().search([], order="discovered asc, id asc")
            excess = active[tag_limit:].filtered("discovered")
            if excess:
                _logger.info("archiving %s discovered tags beyond the quota of %s", len(excess), tag_limit)
                super(HfUnsTag, excess).write({"active": False})
        sample_limit = self._hf_quota("samples_per_day")
        params = self.env["ir.config_parameter"].sudo()
        paused = [int(x) for x in (params.get_param(PAUSED_PARAM) or "").split(",") if x]
        cr.execute("SELECT to_regclass('hf_historian_sample') IS NOT NULL")
        if not sample_limit or not cr.fetchone()[0]:
            return
        cr.execute(
            "SELECT tag_id, count(*) FROM hf_historian_sample WHERE time > now() - interval '1 day' "
            "GROUP BY tag_id ORDER BY count(*) DESC"
        )
        counts = cr.fetchall()
        total = sum(n for _tag, n in counts)
        if total > sample_limit:
            to_pause, remaining = [], total
            for tag_id, n in counts:
                if remaining <= sample_limit:
                    break
                to_pause.append(tag_id)
                remaining -= n
            tags = self.sudo().browse(to_pause).exists().filtered("historian")
            tags.write({"historian": False})
            params.set_param(PAUSED_PARAM, ",".join(str(i) for i in sorted(set(paused) | set(tags.ids))))
            _logger.warning(
                "samples/day quota %s exceeded (%s): historian paused for %s tags", sample_limit, total, len(tags)
            )
        elif paused:
            self.sudo().browse(paused).exists().write({"historian": True})
            params.set_param(PAUSED_PARAM, "")
