import logging

from odoo import models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    def _send_invoice(self):
        # Sending the invoice of a paid order (sale.automatic_invoice) renders its PDF: on a server without a
        # working wkhtmltopdf that raises, and it rolled back the whole post-processing of the payment (the
        # order's confirmation, so the instance's provisioning, with it). The invoice stays posted and on the
        # customer's portal; only its mail is left out, and said so.
        try:
            with self.env.cr.savepoint():
                return super()._send_invoice()
        except UserError as exc:
            _logger.warning("invoice mail of transaction(s) %s not sent: %s", ", ".join(self.mapped("reference")), exc)
            return None
