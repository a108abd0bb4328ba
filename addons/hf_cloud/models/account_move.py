from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    hf_usage_instance_id = fields.Many2one(
        "hf.cloud.instance",
        string="Usage of instance",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="A monthly invoice for what this instance used beyond its plan.",
    )
    hf_usage_month = fields.Date(
        string="Usage month", readonly=True, copy=False, help="The first day of the month this usage invoice bills."
    )

    _sql_constraints = [
        (
            "hf_usage_month_unique",
            "unique(hf_usage_instance_id, hf_usage_month)",
            "An instance's usage of a month is invoiced once.",
        )
    ]

    def _invoice_paid_hook(self):
        result = super()._invoice_paid_hook()
        # an instance suspended for an unpaid invoice resumes within moments of its payment, not at the next
        # hourly check: the check runs now, in its own transaction (the provisioner is never called from here)
        orders = self.sudo().invoice_line_ids.sale_line_ids.order_id
        instances = orders.hf_upgrade_instance_id | self.env["hf.cloud.instance"].sudo().search(
            [("sale_order_id", "in", orders.ids)]
        )
        if instances.filtered("suspended_unpaid"):
            self.env.ref("hf_cloud.ir_cron_hf_cloud_payments").sudo()._trigger()
        return result
