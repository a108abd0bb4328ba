from odoo import _, api, fields, models
from odoo.exceptions import UserError


class MrpProduction(models.Model):
    """A manufacturing order keeps the id the line's MES/ERP gave its work order (UMH external_work_order_id)."""

    _inherit = "mrp.production"

    hf_external_work_order_id = fields.Char(
        string="External work order",
        copy=False,
        index=True,
        readonly=True,
        help="UMH's external_work_order_id: the work order's id on the line (its MES, PLC or UMH instance).",
    )
    hf_from_uns = fields.Boolean(
        string="Created from the UNS",
        copy=False,
        readonly=True,
        help="Created by a work-order/create event: it is not announced back to the UNS.",
    )

    _sql_constraints = [
        (
            "hf_external_work_order_unique",
            "unique(company_id, hf_external_work_order_id)",
            "Another manufacturing order of this company has this external work order id.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.context.get("hf_from_uns"):
            for vals in vals_list:
                vals.setdefault("hf_from_uns", True)
        return super().create(vals_list)

    def button_plan(self):
        result = super().button_plan()
        for production in self.filtered(lambda mo: not mo.hf_from_uns):
            for workorder in production.workorder_ids.filtered(lambda wo: wo.state not in ("done", "cancel")):
                workorder._hf_mrp_publish_create()
        return result

    def _hf_mrp_mark_done(self):
        """Close the orders as Odoo's "Produce" button does, with no one to answer its wizards: what was
        reported is what was made (no backorder for the rest; components consumed as the BoM says). Several
        orders at once go through Odoo's own batch (one stock posting for all)."""
        result = self.with_context(
            skip_backorder=True, mo_ids_to_backorder=[], skip_consumption=True, skip_redirection=True
        ).button_mark_done()
        for production in self:
            if production.state != "done":
                raise UserError(
                    _(
                        "Manufacturing order %(mo)s could not be closed on its own (Odoo asks: %(what)s): open it "
                        "and press Produce.",
                        mo=production.name,
                        what=(isinstance(result, dict) and result.get("name")) or "?",
                    )
                )

    def _hf_mrp_lot_for(self, batch):
        """The lot of a reported batch (UMH product_batch_id), created as Odoo would at the finish; the order
        produces into it. None for a product not tracked by lot or without a batch."""
        self.ensure_one()
        Lot = self.env["stock.lot"].sudo()
        if not batch or self.product_id.tracking != "lot":
            return Lot
        lot = Lot.search(
            [
                ("name", "=", batch),
                ("product_id", "=", self.product_id.id),
                ("company_id", "in", [self.company_id.id, False]),
            ],
            limit=1,
        )
        if not lot:
            lot = Lot.create({"name": batch, "product_id": self.product_id.id, "company_id": self.company_id.id})
        if not self.lot_producing_id:
            self.lot_producing_id = lot
        elif self.lot_producing_id != lot:
            raise UserError(
                _(
                    "Manufacturing order %(mo)s produces lot %(lot)s; batch %(batch)s needs an order of its own "
                    "(Odoo books one lot per order).",
                    mo=self.name,
                    lot=self.lot_producing_id.name,
                    batch=batch,
                )
            )
        return lot
