from odoo import api, fields, models

from hf_core.timeutil import as_utc
from hf_historian import reader


class HfScreenAlarmAck(models.Model):
    """An operator acknowledged a limit violation of a tag; it holds until the value is back within limits."""

    _name = "hf.screen.alarm.ack"
    _description = "Hyperfactory alarm acknowledgement"
    _order = "date desc, id desc"

    tag_id = fields.Many2one("hf.uns.tag", required=True, index=True, ondelete="cascade")
    kind = fields.Selection([("high", "Above the high limit"), ("low", "Below the low limit")], required=True)
    value = fields.Float(help="The value the operator saw.")
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    user_id = fields.Many2one("res.users", string="Acknowledged by", required=True, default=lambda self: self.env.user)
    workcenter_id = fields.Many2one(related="tag_id.workcenter_id", store=True, index=True)
    company_id = fields.Many2one(related="tag_id.company_id", store=True, index=True)

    # --- the alarms of a screen ---------------------------------------------------------------

    @api.model
    def _hf_alarms(self, tags, values):
        """Limit violations of the latest values, each with its acknowledgement when one still holds."""
        alarms = []
        for tag in tags:
            entry = values.get(tag.id) or {}
            value = entry.get("value")
            if tag.limit_high <= tag.limit_low or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if value > tag.limit_high:
                kind, limit = "high", tag.limit_high
            elif value < tag.limit_low:
                kind, limit = "low", tag.limit_low
            else:
                continue
            alarms.append(
                {
                    "key": f"{tag.id}-{kind}",
                    "tag_id": tag.id,
                    "name": tag.name,
                    "value": value,
                    "unit": tag.unit or "",
                    "kind": kind,
                    "limit": limit,
                    "time": entry["time"],
                    "acked_by": False,
                }
            )
        if alarms:
            self._hf_mark_acknowledged(alarms)
        return alarms

    @api.model
    def _hf_mark_acknowledged(self, alarms):
        """An acknowledgement holds while the tag has not been back within its limits since it was given."""
        Ack = self.sudo()
        for alarm in alarms:
            ack = Ack.search([("tag_id", "=", alarm["tag_id"]), ("kind", "=", alarm["kind"])], limit=1)
            if not ack:
                continue
            tag = ack.tag_id
            if not reader.had_good_value_within(self.env.cr, tag.id, as_utc(ack.date), tag.limit_low, tag.limit_high):
                alarm["acked_by"] = ack.user_id.name
