from odoo import fields, models


class HfCloudEdgeEnrollment(models.TransientModel):
    """Shows an edge's one-time OpenZiti enrollment token once. Opened on a new, never saved record whose token
    is a default of the action's context (as hf_uns's API key dialog): nothing keeps it after the dialog."""

    _name = "hf.cloud.edge.enrollment"
    _description = "Hyperfactory edge's OpenZiti enrollment token (shown once)"

    edge_id = fields.Many2one("hf.uns.edge", required=True, readonly=True)
    identity = fields.Char(related="edge_id.ziti_identity")
    jwt = fields.Char(string="Enrollment token", readonly=True)
