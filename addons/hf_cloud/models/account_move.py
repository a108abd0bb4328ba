from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _invoice_paid_hook(self):
        result = super()._invoice_paid_hook()
        # an instance suspended for an unpaid invoice resumes within moments of its payment, not at the next
        # hourly check: the check runs now, in its own transaction (the provisioner is never called from here)
        orders = self.sudo().invoice_line_ids.sale_line_ids.order_id
        instances = orders.hf_upgrade_instance_id | self.env["hf.cloud.instance"].sudo().search(
            [("sale_order_id", "in", orders.ids)])
        if instances.filtered("suspended_unpaid"):
            self.env.ref("hf_cloud.ir_cron_hf_cloud_payments").sudo()._trigger()
        return result
