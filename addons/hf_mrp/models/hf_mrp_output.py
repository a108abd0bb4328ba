from odoo import Command, _, fields, models
from odoo.exceptions import UserError


class HfMrpOutput(models.Model):
    """What a workcell reported as made (UMH ``product/add``): good and bad parts over a time span, booked to
    the work order that ran then. Its workcell, product and end time identify it, as UMH identifies a
    product for ``product/setBadQuantity``; the same report twice is booked once."""

    _name = "hf.mrp.output"
    _description = "Hyperfactory reported output"
    _order = "date_end desc, id desc"
    _rec_name = "date_end"

    workcenter_id = fields.Many2one("mrp.workcenter", string="Workcell", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="workcenter_id.company_id", store=True, index=True)
    workorder_id = fields.Many2one("mrp.workorder", string="Work order", index=True, ondelete="set null")
    production_id = fields.Many2one(related="workorder_id.production_id", store=True, string="Manufacturing order")
    product_id = fields.Many2one("product.product", required=True, index=True, ondelete="cascade")
    batch = fields.Char(string="Product batch", index=True, help="UMH's product_batch_id (a barcode, a lot).")
    lot_id = fields.Many2one("stock.lot", ondelete="set null")
    date_start = fields.Datetime(string="Start")
    date_end = fields.Datetime(string="End", required=True, index=True)
    quantity = fields.Float(string="Good", digits="Product Unit of Measure")
    bad_quantity = fields.Float(string="Bad", digits="Product Unit of Measure")
    scrap_ids = fields.Many2many("stock.scrap", string="Scrap orders", copy=False)
    event_id = fields.Many2one("hf.uns.analytics.event", ondelete="set null")

    _sql_constraints = [
        (
            "output_unique",
            "unique nulls not distinct (workcenter_id, product_id, date_end, batch)",
            "This workcell already reported this product at that end time.",
        ),
    ]

    def _hf_set_bad_quantity(self, bad_quantity):
        """Scrap what the line reported bad (UMH bad_quantity), corrected to ``bad_quantity``: more is scrapped
        as a new scrap order; fewer moves the difference back from the scrap location (a validated scrap
        order cannot be undone)."""
        self.ensure_one()
        delta = bad_quantity - self.bad_quantity
        if abs(delta) < 1e-9:
            return
        if not self.workorder_id:
            raise UserError(_("The reported product has no work order any more: its scrap cannot be corrected."))
        if delta > 0:
            scrap = self.workorder_id._hf_mrp_scrap(delta, self.env.ref("hf_mrp.hf_scrap_reason_uns"), self.lot_id)
            self.write({"bad_quantity": bad_quantity, "scrap_ids": [Command.link(scrap.id)]})
            return
        self._hf_unscrap(-delta)
        self.bad_quantity = bad_quantity

    def _hf_unscrap(self, quantity):
        """Move ``quantity`` parts of this output's scrap orders back where they were scrapped from."""
        scrap = self.scrap_ids.filtered(lambda s: s.state == "done")[-1:]
        if not scrap:
            raise UserError(_("No validated scrap order of this product to correct."))
        values = {
            "product_id": scrap.product_id.id,
            "location_id": scrap.scrap_location_id.id,
            "location_dest_id": scrap.location_id.id,
            "company_id": scrap.company_id.id,
        }
        move = (
            self.env["stock.move"]
            .sudo()
            .create(
                dict(
                    values,
                    name=_("%s: fewer bad parts reported by the line", scrap.name),
                    origin=scrap.name,
                    product_uom=scrap.product_uom_id.id,
                    product_uom_qty=quantity,
                    move_line_ids=[
                        Command.create(
                            dict(
                                values,
                                product_uom_id=scrap.product_uom_id.id,
                                quantity=quantity,
                                lot_id=scrap.lot_id.id,
                            )
                        )
                    ],
                )
            )
        )
        move.picked = True
        move._action_done()
        return move
