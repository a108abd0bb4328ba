from odoo import Command, fields, models

from .hf_uns_analytics_event import datetime_to_ms

# UMH Classic's "UnspecifiedStopState": the asset does not produce, the reason is not known (a paused order)
UMH_UNSPECIFIED_STOP = 40000


class MrpWorkorder(models.Model):
    """Work orders driven from the UNS at the event's own times, and announced to the UNS when Odoo drives them.

    Inbound events call Odoo's own flows (``button_start``, ``button_finish``) and then move the stamps Odoo
    put at "now" to the event's time. Outbound, each change made in Odoo (not one applied from the UNS:
    context ``hf_from_uns``) queues the matching UMH event for the workcell's ``_analytics`` topic; the
    ingest's publisher sends it after the commit, never this request.
    """

    _inherit = "mrp.workorder"

    # --- applied from the UNS -----------------------------------------------------------------

    def _hf_mrp_start_at(self, start):
        self.ensure_one()
        production = self.production_id
        was_started = production.state == "progress"
        self.button_start()
        # only what changes is written: each date of a work order is written on to its order too (Odoo's
        # mrp.workorder.write), and each write of the order is tracked
        values = {"date_start": start}
        if not self.date_finished or self.date_finished < start:
            values["date_finished"] = start
        self.with_context(bypass_duration_calculation=True).write(values)
        self.time_ids.filtered(lambda t: not t.date_end and t.date_start > start).write({"date_start": start})
        if not was_started and production.date_start != start:
            production.with_context(force_date=True).date_start = start  # no replanning: it runs
        if self._hf_mrp_is_last():
            # the line reports what it made: nothing yet (Odoo proposes the whole quantity at a start)
            production.qty_producing = self.qty_produced
            production._set_qty_producing()

    def _hf_mrp_finish_at(self, end):
        self.ensure_one()
        self.button_finish()
        for record in self.time_ids.filtered(lambda t: t.date_end and t.date_end > end):
            record.date_end = max(end, record.date_start)
        values = {"date_finished": end}
        if not self.date_start or self.date_start > end:
            values["date_start"] = end
        self.with_context(bypass_duration_calculation=True).write(values)

    def _hf_mrp_add_produced(self, quantity):
        self._hf_mrp_set_produced(self.qty_produced + quantity)

    def _hf_mrp_set_produced(self, total):
        """The work order's produced quantity and, for the order's last operation, the MO's quantity
        producing (its components follow, as when an operator types it)."""
        self.ensure_one()
        self.qty_produced = total
        if self._hf_mrp_is_last():
            production = self.production_id
            production.qty_producing = total
            production._set_qty_producing()

    def _hf_mrp_is_last(self):
        self.ensure_one()
        siblings = self.production_id.workorder_ids.filtered(lambda wo: wo.state != "cancel")
        return siblings.sorted(lambda wo: (wo.sequence, wo.id))[-1:] == self

    # --- announced to the UNS -----------------------------------------------------------------

    def write(self, vals):
        before = {wo.id: wo.qty_produced for wo in self} if "qty_produced" in vals else {}
        result = super().write(vals)
        for workorder in self.filtered(lambda wo: wo.id in before):
            produced = round(workorder.qty_produced - before[workorder.id])
            if produced >= 1:
                workorder._hf_mrp_publish(
                    "product/add",
                    {
                        "external_product_type_id": workorder._hf_mrp_product_ref(),
                        "quantity": produced,
                        "end_time_unix_ms": datetime_to_ms(fields.Datetime.now()),
                    },
                )
        return result

    def button_start(self, raise_on_invalid_state=False):
        started = self.filtered(lambda wo: wo.state not in ("progress", "done", "cancel"))
        result = super().button_start(raise_on_invalid_state=raise_on_invalid_state)
        for workorder in started.filtered(lambda wo: wo.state == "progress"):
            workorder._hf_mrp_publish_order("work-order/start", "start_time_unix_ms", workorder.date_start)
        return result

    def button_pending(self):
        result = super().button_pending()
        for workorder in self.filtered(lambda wo: wo.state == "progress"):
            workorder._hf_mrp_publish_pause()
        return result

    def end_all(self):
        # the kiosk's Pause ends every timer of the order (button_finish calls it too: no pause then)
        result = super().end_all()
        if not self.env.context.get("hf_mrp_finishing"):
            for workorder in self.filtered(lambda wo: wo.state == "progress"):
                workorder._hf_mrp_publish_pause()
        return result

    def button_finish(self):
        finishing = self.filtered(lambda wo: wo.state not in ("done", "cancel"))
        result = super(MrpWorkorder, self.with_context(hf_mrp_finishing=True)).button_finish()
        for workorder in finishing.filtered(lambda wo: wo.state == "done"):
            workorder._hf_mrp_publish_order("work-order/stop", "end_time_unix_ms", workorder.date_finished)
        return result

    def _hf_mrp_publish_create(self):
        self.ensure_one()
        payload = {
            "external_work_order_id": self._hf_mrp_external_id(),
            "product": {"external_product_id": self._hf_mrp_product_ref()},
            "quantity": max(1, round(self.qty_production)),
            "status": 0,
        }
        cycle_ms = round((self.operation_id.time_cycle or 0.0) * 60000)
        if cycle_ms > 0:
            payload["product"]["cycle_time_ms"] = cycle_ms
        if self.date_start:
            payload["start_time_unix_ms"] = datetime_to_ms(self.date_start)
        if self.date_finished:
            payload["end_time_unix_ms"] = datetime_to_ms(self.date_finished)
        self._hf_mrp_publish("work-order/create", payload)

    def _hf_mrp_publish_pause(self):
        # a machine-driven workcell's states come from its machine: Odoo does not tell it what it does
        if not self._hf_machine_driven():
            self._hf_mrp_publish(
                "state/add",
                {
                    "state": UMH_UNSPECIFIED_STOP,
                    "start_time_unix_ms": datetime_to_ms(fields.Datetime.now()),
                },
            )

    def _hf_mrp_publish_order(self, event_type, time_field, moment):
        self._hf_mrp_publish(
            event_type,
            {
                "external_work_order_id": self._hf_mrp_external_id(),
                time_field: datetime_to_ms(moment or fields.Datetime.now()),
            },
        )

    def _hf_mrp_publish(self, event_type, payload):
        self.ensure_one()
        return self.env["hf.uns.analytics.event"]._hf_mrp_enqueue(self.workcenter_id, event_type, payload)

    def _hf_mrp_external_id(self):
        production = self.production_id
        return production.hf_external_work_order_id or production.name

    def _hf_mrp_product_ref(self):
        product = self.product_id
        return product.default_code or f"odoo-{product.id}"

    def _hf_mrp_scrap(self, quantity, reason, lot=None):
        """Scrap ``quantity`` finished parts of this work order with ``reason`` (a scrap reason tag), through
        the kiosk's own scrap (hf_screens), the lot and reason given as the new scrap order's defaults."""
        self.ensure_one()
        context = {"default_scrap_reason_tag_ids": [Command.set(reason.ids)]}
        if lot:
            context["default_lot_id"] = lot.id
        return self.with_context(**context)._hf_record_scrap(quantity)
