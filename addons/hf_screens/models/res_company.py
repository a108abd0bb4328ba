from odoo import Command, _, fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    hf_kiosk_user_id = fields.Many2one(
        "res.users",
        string="Kiosk operator",
        readonly=True,
        copy=False,
        help="The user a kiosk link of this company acts as when none is chosen: in the Hyperfactory Operator "
        "group only, in this company only, without a password (nobody logs in as it).",
    )

    def _hf_kiosk_operator(self):
        """This company's kiosk operator, created the first time a kiosk of the company needs one."""
        self.ensure_one()
        company = self.sudo()
        if company.hf_kiosk_user_id:
            return company.hf_kiosk_user_id
        user = self.env.ref("hf_screens.user_kiosk_operator", raise_if_not_found=False)
        if (
            not user
            or user.company_id != company
            or company.search_count([("hf_kiosk_user_id", "=", user.id), ("id", "!=", company.id)])
        ):
            user = (
                self.env["res.users"]
                .sudo()
                .with_context(no_reset_password=True)
                .create(
                    {
                        "name": _("Kiosk operator (%s)", company.name),
                        "login": f"hf_kiosk_operator_{company.id}",
                        "company_id": company.id,
                        "company_ids": [Command.set(company.ids)],
                        "groups_id": [Command.set(self.env.ref("hf_uns.group_hf_operator").ids)],
                    }
                )
            )
        company.hf_kiosk_user_id = user
        return user
