from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from hf_core.uns import is_valid_segment, segment_from_name


class MrpWorkcenter(models.Model):
    """The workcenter is the UNS workcell: the last location level of its tags' topics."""

    _inherit = "mrp.workcenter"

    hf_line_id = fields.Many2one("hf.uns.line", string="UNS line", index=True, ondelete="restrict")
    hf_uns_segment = fields.Char(
        string="UNS segment", copy=False, help="This workcell's part of the UNS topic: letters, digits, '_' and '-'."
    )
    hf_uns_path = fields.Char(string="UNS path", compute="_compute_hf_uns_path", store=True, recursive=True, index=True)
    hf_tag_ids = fields.One2many("hf.uns.tag", "workcenter_id", string="UNS tags")
    hf_tag_count = fields.Integer(compute="_compute_hf_tag_count", string="Tags")

    @api.depends("hf_uns_segment", "hf_line_id.uns_path", "company_id.hf_uns_segment", "company_id.name")
    def _compute_hf_uns_path(self):
        for workcenter in self:
            if not workcenter.hf_uns_segment:
                workcenter.hf_uns_path = False
                continue
            parent = workcenter.hf_line_id.uns_path or (
                workcenter.company_id and workcenter.company_id._hf_enterprise_segment()
            )
            workcenter.hf_uns_path = f"{parent}/{workcenter.hf_uns_segment}" if parent else False

    def _compute_hf_tag_count(self):
        counts = dict(
            self.env["hf.uns.tag"]._read_group([("workcenter_id", "in", self.ids)], ["workcenter_id"], ["__count"])
        )
        for workcenter in self:
            workcenter.hf_tag_count = counts.get(workcenter, 0)

    @api.constrains("hf_uns_segment", "hf_line_id")
    def _check_hf_uns_segment(self):
        for workcenter in self.filtered("hf_uns_segment"):
            if not is_valid_segment(workcenter.hf_uns_segment):
                raise ValidationError(
                    _("Segment '%s' may only contain letters, digits, '_' and '-'.", workcenter.hf_uns_segment)
                )
            siblings = self.search_count(
                [
                    ("id", "!=", workcenter.id),
                    ("hf_uns_segment", "=", workcenter.hf_uns_segment),
                    ("hf_line_id", "=", workcenter.hf_line_id.id),
                    ("company_id", "=", workcenter.company_id.id),
                ]
            )
            if siblings:
                raise ValidationError(
                    _(
                        "Another workcenter of line %(line)s already uses the UNS segment '%(segment)s'.",
                        line=workcenter.hf_line_id.display_name or _("(none)"),
                        segment=workcenter.hf_uns_segment,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("hf_line_id") and not vals.get("hf_uns_segment"):
                vals["hf_uns_segment"] = segment_from_name(vals.get("code") or vals.get("name"))
        return super().create(vals_list)

    def action_hf_view_tags(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("hf_uns.hf_uns_tag_action")
        action["domain"] = [("workcenter_id", "=", self.id)]
        action["context"] = {"default_workcenter_id": self.id}
        return action
