import logging

from odoo import fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)


class SaleOrder(models.Model):
    _inherit = "sale.order"

    # One field for every order of an instance after its signup: a plan change or add-ons.
    hf_upgrade_instance_id = fields.Many2one(
        "hf.cloud.instance",
        string="Hyperfactory instance",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The instance this order changes: its plan becomes this order's plan and its add-ons are added to "
        "the instance's quotas once the order is confirmed (paid), not before.",
    )

    def action_confirm(self):
        result = super().action_confirm()
        # a signup's first order, confirmed by its payment (or at once when it is paid by invoice): now the
        # instance is provisioned, never before
        self.env["hf.cloud.instance"].sudo().search(
            [
                ("sale_order_id", "in", self.ids),
                ("state", "=", "draft"),
                ("email_confirmed", "=", True),
            ]
        ).action_provision()
        for order in self.filtered("hf_upgrade_instance_id"):
            instance = order.hf_upgrade_instance_id.sudo()
            plans = order.order_line.product_id.product_tmpl_id.filtered("hf_is_plan")[:1]
            if plans:
                # the customer bought it: the quotas follow at once (pushed into the tenant by write())
                instance.plan_id = plans
            else:
                instance._hf_apply_quotas()
        return result

    def _send_order_confirmation_mail(self):
        # The confirmation mail attaches the order's PDF: on a server without a working wkhtmltopdf rendering
        # it raises, and that undid the paid order's confirmation (its payment's post-processing rolled back,
        # so the instance was never provisioned). The order stands; only the mail is left out, and said so.
        try:
            with self.env.cr.savepoint():
                return super()._send_order_confirmation_mail()
        except UserError as exc:
            _logger.warning("confirmation mail of order(s) %s not sent: %s", ", ".join(self.mapped("name")), exc)
            return None

    def _action_cancel(self):
        confirmed = self.filtered(lambda o: o.hf_upgrade_instance_id and o.state == "sale")
        result = super()._action_cancel()
        # a cancelled add-on gives its quota back
        confirmed.hf_upgrade_instance_id.sudo()._hf_apply_quotas()
        return result
