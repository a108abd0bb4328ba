from odoo import models


class PortalWizardUser(models.TransientModel):
    _inherit = "portal.wizard.user"

    def _send_email(self):
        # hf_cloud grants access when an instance is ready and its "ready" mail is the invitation (one mail,
        # not two): only the signup preparation of Odoo's invitation happens here, its welcome mail does not
        if self.env.context.get("hf_cloud_invited_by_ready_mail"):
            self.ensure_one()
            self.user_id.sudo().partner_id.signup_prepare()
            return True
        return super()._send_email()
