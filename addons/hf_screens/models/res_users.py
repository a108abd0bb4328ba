from odoo import models


class ResUsers(models.Model):
    _inherit = "res.users"

    def _hf_is_kiosk_operator(self):
        """Whether this user is a company's kiosk operator (res.company.hf_kiosk_user_id)."""
        self.ensure_one()
        return bool(self.env["res.company"].sudo().search_count([("hf_kiosk_user_id", "=", self.id)]))
