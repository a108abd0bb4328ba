from odoo import fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    hf_upgrade_instance_id = fields.Many2one(
        "hf.cloud.instance", string="Hyperfactory plan change", readonly=True, copy=False, index="btree_not_null",
        help="The instance whose plan becomes this order's plan once the order is confirmed.")

    def action_confirm(self):
        result = super().action_confirm()
        for order in self.filtered("hf_upgrade_instance_id"):
            plans = order.order_line.product_id.product_tmpl_id.filtered("hf_is_plan")[:1]
            if plans:
                # the customer bought it: the quotas follow at once (pushed into the tenant by write())
                order.hf_upgrade_instance_id.sudo().plan_id = plans
        return result
