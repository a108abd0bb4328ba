from odoo import fields, models


class HfUnsEdgeKey(models.TransientModel):
    """Shows a freshly generated edge API key once. The dialog is opened on a new, never saved record whose
    key is a default of the action's context: nothing in the database keeps the key after the dialog closes."""

    _name = "hf.uns.edge.key"
    _description = "Hyperfactory edge API key (shown once)"

    edge_id = fields.Many2one("hf.uns.edge", required=True, readonly=True)
    login = fields.Char(related="edge_id.user_id.login")
    key = fields.Char(readonly=True)
