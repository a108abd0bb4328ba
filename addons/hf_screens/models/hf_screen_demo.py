from odoo import Command, api, models

DEMO_ORIGIN = "Hyperfactory demo"


class HfScreenDemo(models.AbstractModel):
    """Production for a demo plant, made with MRP's and the kiosk's own code (``make demo`` and the tests).

    A workcell with a machine but nothing to make shows an empty work-order panel and no OEE. This gives it
    what a planner and then its operator would: a product whose bill of materials routes it over the
    workcell, manufacturing orders confirmed and planned, and the first work order started with the kiosk's
    Start button (``hf.screen._hf_operator_action``), so the machine's running time and counted parts go
    to it from then on.
    """

    _name = "hf.screen.demo"
    _description = "Hyperfactory demo production"

    @api.model
    def _hf_seed_production(self, kiosk, product_name, operation_name, quantities):
        """Give ``kiosk``'s workcell ``product_name`` to make, one manufacturing order per quantity, and start
        the order its screen shows first, as the kiosk's operator.

        Idempotent: the product and its bill of materials are found again by name on this workcell; the
        open demo orders are topped up to ``len(quantities)`` (none is created while that many are open); a
        workcell with a work order in progress gets no second one. Returns the work order in progress.
        """
        workcenter = kiosk.workcenter_id
        bom = self._hf_bom(workcenter, product_name, operation_name)
        Production = self.env["mrp.production"]
        productions = Production.search(
            [
                ("bom_id", "=", bom.id),
                ("origin", "=", DEMO_ORIGIN),
                ("state", "not in", ("done", "cancel")),
            ],
            order="id",
        )
        productions |= Production.create(
            [
                {
                    "product_id": bom.product_id.id,
                    "product_qty": qty,
                    "bom_id": bom.id,
                    "origin": DEMO_ORIGIN,
                    "company_id": workcenter.company_id.id,
                }
                for qty in quantities[len(productions) :]
            ]
        )
        productions.filtered(lambda p: p.state == "draft").action_confirm()
        productions.filtered(lambda p: not p.is_planned).button_plan()
        screen = kiosk._hf_screen()
        current = screen._hf_current_workorder()[:1]
        if current and current.state != "progress":
            screen._hf_operator_action("start", {"workorder_id": current.id}, kiosk.user_id)
        return screen._hf_current_workorder().filtered(lambda w: w.state == "progress")[:1]

    @api.model
    def _hf_bom(self, workcenter, product_name, operation_name):
        """The bill of materials making ``product_name`` in one operation on ``workcenter`` (created once)."""
        bom = self.env["mrp.bom"].search(
            [
                ("product_tmpl_id.name", "=", product_name),
                ("operation_ids.workcenter_id", "=", workcenter.id),
            ],
            limit=1,
        )
        if bom:
            return bom
        product = self.env["product.product"].create({"name": product_name, "is_storable": True})
        # Odoo's duration of the operation per part (minutes), from the workcell's ideal cycle time.
        minutes = (workcenter.hf_ideal_cycle_time or 60.0) / 60.0
        return self.env["mrp.bom"].create(
            {
                "product_tmpl_id": product.product_tmpl_id.id,
                "product_id": product.id,
                "product_qty": 1,
                "company_id": workcenter.company_id.id,
                "operation_ids": [
                    Command.create(
                        {
                            "name": operation_name,
                            "workcenter_id": workcenter.id,
                            "time_mode": "manual",
                            "time_cycle_manual": minutes,
                        }
                    )
                ],
            }
        )
