"""UMH Classic ``_analytics`` events from the UNS applied to Odoo MRP.

The ingest stored the event and checked its shape against UMH's schema (``hf_core.analytics``); here its
references are checked (the order, the product, the running work order) and it is applied through MRP's
own flows (``button_start``, ``button_finish``, ``button_mark_done``, scrap orders), so MRP stays the truth.

Every event is idempotent: applying it again (a redelivery under another key, a retried event) finds what
it did and changes nothing. An event that does not fit raises a UserError saying what is missing; the
cron marks it failed with that sentence. An event that refers to what has not come yet (MQTT keeps no order
across topics: a product/add or a work-order/start may come before its order's work-order/create) raises
AnalyticsWait: it waits, with that sentence, until the event it needs is applied (``_wakes``), then is applied
in its own arrival order; it fails only after the bounded wait (hf_uns.analytics_wait_minutes).
"""

import json
import logging
from datetime import UTC, datetime

from odoo import Command, _, api, models
from odoo.exceptions import UserError

from odoo.addons.hf_uns.models.hf_uns_analytics_event import DEFERRED, AnalyticsWait

from hf_core.analytics import product_id as event_product_ref

_logger = logging.getLogger(__name__)

# the most events of one workcell booked together: a run of product/add (one quantity update, one scrap order)
# or of state/add (one create); the system parameter hf_mrp.event_run overrides it (1: each event on its own,
# as before runs were booked)
EVENT_RUN = 200
# events that change no work order's quantity, so a run of product/add may be booked across them
QUANTITY_FREE_EVENTS = frozenset({"state/add", "state/overwrite", "shift/add", "shift/delete"})
# events that change no machine state, so a run of state/add may be booked across them
STATE_FREE_EVENTS = frozenset({"product/add", "product/setBadQuantity", "shift/add", "shift/delete"})


def ms_to_datetime(ms):
    """UMH's epoch milliseconds to Odoo's naive UTC datetime (None stays None)."""
    if ms in (None, False):
        return None
    return datetime.fromtimestamp(int(ms) / 1000, UTC).replace(tzinfo=None)


def wait_key(what, *refs):
    """What a waiting event waits for: ``order:<company>:<external id>`` (its work-order/create),
    ``start:<company>:<external id>`` (its work-order/start), ``running:<workcell>`` (an order started there),
    ``output:<workcell>`` (a product/add booked there)."""
    return ":".join([what, *map(str, refs)])


def datetime_to_ms(moment):
    """Odoo's naive UTC datetime to UMH's epoch milliseconds."""
    return round(moment.replace(tzinfo=UTC).timestamp() * 1000)


class HfUnsAnalyticsEvent(models.Model):
    _inherit = "hf.uns.analytics.event"

    def _apply(self):
        self.ensure_one()
        # whoever applies it (the cron, a retry, a test), what came from the UNS is not announced back to it
        event = self.with_context(hf_from_uns=True)
        handler = {
            "work-order/create": event._hf_apply_work_order_create,
            "work-order/start": event._hf_apply_work_order_start,
            "work-order/stop": event._hf_apply_work_order_stop,
            "product-type/create": event._hf_apply_product_type_create,
            "product/add": event._hf_apply_product_add,
            "product/setBadQuantity": event._hf_apply_set_bad_quantity,
            "state/add": event._hf_apply_state,
            "state/overwrite": event._hf_apply_state,
            "shift/add": event._hf_apply_shift_add,
            "shift/delete": event._hf_apply_shift_delete,
        }.get(self.event_type)
        if handler is None:
            return super()._apply()
        return handler(event.workcenter_id.sudo().with_company(event.workcenter_id.company_id), self._hf_body()) or True

    def _prepare_batch(self):
        """The manufacturing orders of the pending work-order/create events, created in one ``create`` and
        confirmed in one ``action_confirm`` (Odoo's own batch paths): each event then finds its order and
        only starts or finishes it as its status says. Only the creates before the first product-type/create
        (it may change the routing the orders copy) and whose product and routing exist already."""
        result = super()._prepare_batch()
        if not self._hf_order_batch():
            return result
        creates = self.browse()
        for event in self:
            if event.event_type == "product-type/create":
                break
            if event.event_type == "work-order/create" and event.state == "pending":
                creates |= event
        if len(creates) < 2:
            return result
        by_company = {}
        for event in creates:
            try:
                body = event._hf_body()
                external_id = body["external_work_order_id"]
                reference = event_product_ref(body)
            except (UserError, KeyError, TypeError):
                continue  # it fails on its own, with its reason
            by_company.setdefault(event.workcenter_id.company_id, []).append((event, body, external_id, reference))
        for company, items in by_company.items():
            try:
                with self.env.cr.savepoint():
                    self._hf_create_productions(company, items)
            except Exception:  # each event then creates its order alone, and fails alone
                _logger.info("orders from the UNS could not be created together; each on its own", exc_info=True)
        return result

    def _hf_create_productions(self, company, items):
        Production = self.env["mrp.production"].sudo().with_company(company)
        existing = set(
            Production.search(
                [("company_id", "=", company.id), ("hf_external_work_order_id", "in", [i[2] for i in items])]
            ).mapped("hf_external_work_order_id")
        )
        products = {}
        for product in (
            self.env["product.product"]
            .sudo()
            .with_company(company)
            .search([("default_code", "in", list({i[3] for i in items})), ("company_id", "in", [company.id, False])])
        ):
            products.setdefault(product.default_code, product)  # the first, as _hf_find_product's search(limit=1)
        vals_list, seen, boms = [], set(), {}
        for event, body, external_id, reference in items:
            product = products.get(reference)
            if external_id in existing or external_id in seen or not product:
                continue
            workcenter = event.workcenter_id.sudo().with_company(company)
            key = (workcenter.id, product.id)
            if key not in boms:
                boms[key] = workcenter._hf_mrp_bom_for(product, (body.get("product") or {}).get("cycle_time_ms"))
            seen.add(external_id)
            vals_list.append(self._hf_production_values(workcenter, product, boms[key], body))
        if len(vals_list) >= 2:
            Production.create(vals_list).action_confirm()

    def _hf_production_values(self, workcenter, product, bom, body):
        external_id = body["external_work_order_id"]
        values = {
            "product_id": product.id,
            "product_qty": float(body["quantity"]),
            "product_uom_id": product.uom_id.id,
            "bom_id": bom.id,
            "hf_external_work_order_id": external_id,
            "origin": external_id,
            "company_id": workcenter.company_id.id,
        }
        start = ms_to_datetime(body.get("start_time_unix_ms"))
        if start:
            values["date_start"] = start
        return values

    def _apply_deferred(self):
        """The orders the work-order/stop events finished, marked done in one ``button_mark_done``; on a
        failure each alone, so one order Odoo cannot close fails its event only."""
        failures = super()._apply_deferred()
        stops = []
        for event in self.filtered(lambda e: e.event_type == "work-order/stop"):
            workcenter = event.workcenter_id.sudo().with_company(event.workcenter_id.company_id)
            try:
                body = event._hf_body()
                production = event._hf_find_production(workcenter, body["external_work_order_id"])
            except (UserError, AnalyticsWait) as exc:  # found when it was applied: gone since (deleted)
                failures[event.id] = str(exc)
                continue
            stops.append((event, production, ms_to_datetime(body["end_time_unix_ms"])))
        try:
            with self.env.cr.savepoint():
                self._hf_close(stops)
            return failures
        except Exception:  # then each alone: one order Odoo cannot close fails its own event only
            _logger.info("orders from the UNS could not be closed together; each on its own", exc_info=True)
        for stop in stops:
            try:
                with self.env.cr.savepoint():
                    self._hf_close([stop])
            except Exception as exc:  # noqa: BLE001  (one order that cannot be closed fails its event only)
                failures[stop[0].id] = str(exc) or type(exc).__name__
        return failures

    @api.model
    def _hf_close(self, stops):
        productions = self.env["mrp.production"].sudo()
        for _event, production, _end in stops:
            productions |= production
        productions = productions.filtered(lambda mo: mo.state not in ("done", "cancel"))
        if productions:
            productions._hf_mrp_mark_done()
        for _event, production, end in stops:
            if production.date_finished != end:
                production.with_context(force_date=True).date_finished = end

    def _wakes(self):
        """What the events waiting on this workcell may have waited for, now that this one is applied."""
        self.ensure_one()
        if self.event_type not in ("work-order/create", "work-order/start", "product/add"):
            return super()._wakes()
        body = self._hf_body()
        workcenter = self.workcenter_id
        if self.event_type == "product/add":
            return [wait_key("output", workcenter.id)]
        keys = [wait_key("order", workcenter.company_id.id, body["external_work_order_id"])]
        if self.event_type == "work-order/start" or int(body.get("status") or 0) >= 1:
            keys += [
                wait_key("start", workcenter.company_id.id, body["external_work_order_id"]),
                wait_key("running", workcenter.id),
            ]
        return keys

    def _hf_body(self):
        try:
            body = json.loads(self.payload or "{}")
        except ValueError:
            raise UserError(_("The event's payload is no JSON object.")) from None
        if not isinstance(body, dict):
            raise UserError(_("The event's payload is no JSON object."))
        return body

    # --- work orders --------------------------------------------------------------------------

    def _hf_apply_work_order_create(self, workcenter, body):
        external_id = body["external_work_order_id"]
        production = self._hf_find_production(workcenter, external_id, required=False)
        if not production:
            product_ref = event_product_ref(body)
            product = self._hf_find_product(workcenter, product_ref, create=True)
            cycle_time_ms = (body.get("product") or {}).get("cycle_time_ms")
            bom = workcenter._hf_mrp_bom_for(product, cycle_time_ms)
            values = self._hf_production_values(workcenter, product, bom, body)
            production = self.env["mrp.production"].sudo().with_company(workcenter.company_id).create(values)
            production.action_confirm()
        status = int(body.get("status") or 0)
        if status >= 1:
            start = ms_to_datetime(body.get("start_time_unix_ms")) or self.received_at
            self._hf_start(workcenter, production, start)
        if status == 2:
            end = ms_to_datetime(body.get("end_time_unix_ms")) or self.received_at
            self.with_context(hf_uns_defer=False)._hf_stop(workcenter, production, end)

    def _hf_apply_work_order_start(self, workcenter, body):
        production = self._hf_find_production(workcenter, body["external_work_order_id"])
        self._hf_start(workcenter, production, ms_to_datetime(body["start_time_unix_ms"]))

    def _hf_apply_work_order_stop(self, workcenter, body):
        production = self._hf_find_production(workcenter, body["external_work_order_id"])
        return self._hf_stop(workcenter, production, ms_to_datetime(body["end_time_unix_ms"]))

    def _hf_start(self, workcenter, production, start):
        workorder = self._hf_workorder_of(workcenter, production)
        if workorder.state in ("progress", "done", "cancel"):
            return  # started once (UMH: a work order starts once); a redelivery changes nothing
        workorder.with_context(hf_event_time=start)._hf_mrp_start_at(start)

    def _hf_stop(self, workcenter, production, end):
        """Finish the work order and, when it was the order's last one open, mark the order done: in the cron
        (context ``hf_uns_defer``) that last step is DEFERRED, done with other orders' (_apply_deferred)."""
        workorder = self._hf_workorder_of(workcenter, production)
        if workorder.state != "cancel" and workorder.state != "done":
            self._hf_finish(workcenter, workorder, end)
        production = workorder.production_id
        if production.state in ("done", "cancel") or any(
            wo.state not in ("done", "cancel") for wo in production.workorder_ids
        ):
            return None  # closed already, or other operations still to do
        if self.env.context.get("hf_uns_defer") and self._hf_order_batch():
            return DEFERRED
        self._hf_close([(self, production, end)])
        return None

    def _hf_finish(self, workcenter, workorder, end):
        if workorder.state != "progress":
            raise AnalyticsWait(
                wait_key("start", workcenter.company_id.id, workorder.production_id.hf_external_work_order_id),
                _(
                    "Work order %(wo)s on %(workcell)s is not started: this work-order/stop waits for its "
                    "work-order/start.",
                    wo=workorder.display_name,
                    workcell=workcenter.name,
                ),
            )
        workorder.with_context(hf_event_time=end)._hf_mrp_finish_at(end)

    # --- products -----------------------------------------------------------------------------

    def _hf_apply_product_type_create(self, workcenter, body):
        product = self._hf_find_product(workcenter, body["external_product_type_id"], create=True)
        workcenter._hf_mrp_bom_for(product, body.get("cycle_time_ms"), update_cycle=True)

    def _hf_apply_product_add(self, workcenter, body):
        """Book this report and the workcell's next pending product/add events of the same product, batch and
        work order with it (a line reports every few seconds; the cron meets them in a row): one quantity
        update and one scrap order for the run, each report still an output of its own. The others are then
        found booked when the cron comes to them, as a redelivery is."""
        workcenter._hf_mrp_check_quantity_source(_("product/add"))
        product_ref = event_product_ref(body)
        if workcenter.company_id.hf_mrp_create_unknown_products and not self._hf_find_product(
            workcenter, product_ref, create=False, required=False
        ):
            raise AnalyticsWait(
                wait_key("running", workcenter.id),
                _(
                    "No product has the internal reference %(ref)s yet: this product/add waits for the "
                    "work-order/create and work-order/start of its order on %(workcell)s.",
                    ref=product_ref,
                    workcell=workcenter.name,
                ),
            )
        product = self._hf_find_product(workcenter, product_ref, create=False)
        end = ms_to_datetime(body["end_time_unix_ms"])
        batch = body.get("product_batch_id") or None
        Output = self.env["hf.mrp.output"].sudo()
        if Output.search_count(
            [
                ("workcenter_id", "=", workcenter.id),
                ("product_id", "=", product.id),
                ("date_end", "=", end),
                ("batch", "=", batch or False),
            ]
        ):
            return  # reported once already
        workorder = workcenter._hf_mrp_running_workorder(product, end)
        if not workorder:
            raise AnalyticsWait(
                wait_key("running", workcenter.id),
                _(
                    "No work order for %(product)s is running on %(workcell)s: this product/add waits for the "
                    "work-order/start of its order.",
                    product=product.display_name,
                    workcell=workcenter.name,
                ),
            )
        reports = [(self, body), *self._hf_next_product_adds(workcenter, workorder, product, body)]
        lot = workorder.production_id._hf_mrp_lot_for(batch)
        bad_total = sum(float(report.get("bad_quantity") or 0.0) for _event, report in reports)
        scrap = (
            workorder._hf_mrp_scrap(bad_total, self.env.ref("hf_mrp.hf_scrap_reason_uns"), lot)
            if bad_total > 0
            else None
        )
        Output.create(
            [
                {
                    "workcenter_id": workcenter.id,
                    "workorder_id": workorder.id,
                    "product_id": product.id,
                    "batch": batch,
                    "lot_id": lot.id,
                    "date_start": ms_to_datetime(report.get("start_time_unix_ms")),
                    "date_end": ms_to_datetime(report["end_time_unix_ms"]),
                    "quantity": float(report["quantity"]),
                    "bad_quantity": float(report.get("bad_quantity") or 0.0),
                    "scrap_ids": [Command.link(scrap.id)] if scrap and report.get("bad_quantity") else [],
                    "event_id": event.id,
                }
                for event, report in reports
            ]
        )
        workorder._hf_mrp_add_produced(sum(float(report["quantity"]) for _event, report in reports))
        if len(reports) > 1:
            self._book_with(self.browse([event.id for event, _r in reports[1:]]))

    def _hf_next_product_adds(self, workcenter, workorder, product, body):
        """The workcell's pending product/add events right after this one that go to the same work order,
        product and batch, not reported yet: [(event, payload)], in order. Only the machine's states and
        shifts may come between (a line sends a state each cycle); any other event ends the run."""
        run, keys = [], {body["end_time_unix_ms"]}
        # a state or shift between is applied after the run, in its own order: it touches no quantity
        for event_id, event_type, payload in self._hf_pending_after(workcenter, QUANTITY_FREE_EVENTS):
            try:
                report = json.loads(payload or "{}")
            except ValueError:
                break
            if (
                event_type != "product/add"
                or event_product_ref(report) != event_product_ref(body)
                or ((report.get("product_batch_id") or None) != (body.get("product_batch_id") or None))
            ):
                break
            end = ms_to_datetime(report.get("end_time_unix_ms"))
            if not end or end < workorder.date_start or not report.get("quantity"):
                break
            if report["end_time_unix_ms"] not in keys:  # the same report twice in the run: booked once
                keys.add(report["end_time_unix_ms"])
                run.append((self.browse(event_id), report))
        if run:
            booked = (
                self.env["hf.mrp.output"]
                .sudo()
                .search(
                    [
                        ("workcenter_id", "=", workcenter.id),
                        ("product_id", "=", product.id),
                        ("batch", "=", body.get("product_batch_id") or False),
                        ("date_end", "in", [ms_to_datetime(report["end_time_unix_ms"]) for _event, report in run]),
                    ]
                )
                .mapped("date_end")
            )
            run = [(event, report) for event, report in run if ms_to_datetime(report["end_time_unix_ms"]) not in booked]
        return run

    def _hf_pending_after(self, workcenter, skipped_types):
        """The workcell's pending inbound events after this one, but those of ``skipped_types``, in arrival
        order and at most a run's length: [(id, event_type, payload)], read with SQL as the ingest wrote them."""
        self.env.cr.execute(
            "SELECT id, event_type, payload FROM hf_uns_analytics_event WHERE direction = 'in' AND state = 'pending'"
            " AND workcenter_id = %s AND id > %s AND event_type <> ALL(%s) ORDER BY id LIMIT %s",
            (workcenter.id, self.id, sorted(skipped_types), self._hf_event_run() - 1),
        )
        return self.env.cr.fetchall()

    def _hf_next_state_adds(self, workcenter, body):
        """The workcell's pending state/add events right after this one, each later than the one before and a
        UMH state code: ([event ids], [(code, start)]), in order. Only reports (product/add,
        product/setBadQuantity) and shifts may come between, which the machine's states do not touch; any other
        event ends the run (a work order's start or stop moves whose time a running state is)."""
        ids, states, last = [], [], body["start_time_unix_ms"]
        for event_id, event_type, payload in self._hf_pending_after(workcenter, STATE_FREE_EVENTS):
            if event_type != "state/add":
                break
            try:
                report = json.loads(payload or "{}")
                start, code = report["start_time_unix_ms"], int(report["state"])
                self.env["hf.machine.state"]._hf_mrp_umh_loss(code)
            except (ValueError, KeyError, TypeError, UserError):
                break  # it fails alone, with its reason
            if start <= last:
                break
            last = start
            ids.append(event_id)
            states.append((code, ms_to_datetime(start)))
        return ids, states

    def _hf_apply_set_bad_quantity(self, workcenter, body):
        domain = [("workcenter_id", "=", workcenter.id), ("date_end", "=", ms_to_datetime(body["end_time_unix_ms"]))]
        product_ref = event_product_ref(body)
        if product_ref:
            domain.append(("product_id", "=", self._hf_find_product(workcenter, product_ref, create=False).id))
        if body.get("product_batch_id"):
            domain.append(("batch", "=", body["product_batch_id"]))
        outputs = self.env["hf.mrp.output"].sudo().search(domain)
        if not outputs:
            raise AnalyticsWait(
                wait_key("output", workcenter.id),
                _(
                    "No product/add of %(workcell)s ended at %(end)s yet: this product/setBadQuantity waits for "
                    "the product/add it corrects.",
                    workcell=workcenter.name,
                    end=ms_to_datetime(body["end_time_unix_ms"]),
                ),
            )
        if len(outputs) > 1:
            raise UserError(_("Several products of %s ended at that time: name the product_batch_id.", workcenter.name))
        outputs._hf_set_bad_quantity(float(body["bad_quantity"]))

    # --- states and shifts --------------------------------------------------------------------

    def _hf_apply_state(self, workcenter, body):
        if self.event_type == "state/add":
            ids, states = self._hf_next_state_adds(workcenter, body)
            first = (int(body["state"]), ms_to_datetime(body["start_time_unix_ms"]))
            if ids and self.env["hf.machine.state"]._hf_mrp_append_states(workcenter, [first, *states]):
                self._book_with(self.browse(ids))
                return
        end = ms_to_datetime(body.get("end_time_unix_ms")) if self.event_type == "state/overwrite" else None
        self.env["hf.machine.state"]._hf_mrp_apply_state_event(
            workcenter,
            int(body["state"]),
            ms_to_datetime(body["start_time_unix_ms"]),
            end,
        )

    def _hf_apply_shift_add(self, workcenter, body):
        start, end = ms_to_datetime(body["start_time_unix_ms"]), ms_to_datetime(body["end_time_unix_ms"])
        Shift = self.env["hf.mrp.shift"].sudo()
        shift = Shift.search([("workcenter_id", "=", workcenter.id), ("date_start", "=", start)], limit=1)
        if shift:
            if shift.date_end != end:
                shift.date_end = end
            return
        Shift.create({"workcenter_id": workcenter.id, "date_start": start, "date_end": end, "source": "uns"})

    def _hf_apply_shift_delete(self, workcenter, body):
        self.env["hf.mrp.shift"].sudo().search(
            [
                ("workcenter_id", "=", workcenter.id),
                ("date_start", "=", ms_to_datetime(body["start_time_unix_ms"])),
            ]
        ).unlink()  # none left: deleted already, nothing to do

    @api.model
    def _hf_order_batch(self):
        """Orders created and closed together across events (system parameter hf_mrp.order_batch; 0: each
        event alone, as before, for a comparison)."""
        return self.env["ir.config_parameter"].sudo().get_param("hf_mrp.order_batch", "1") != "0"

    @api.model
    def _hf_event_run(self):
        value = self.env["ir.config_parameter"].sudo().get_param("hf_mrp.event_run")
        try:
            return max(1, int(value)) if value else EVENT_RUN
        except ValueError:
            return EVENT_RUN

    # --- references ---------------------------------------------------------------------------

    @api.model
    def _hf_find_production(self, workcenter, external_id, required=True):
        production = (
            self.env["mrp.production"]
            .sudo()
            .search(
                [
                    ("hf_external_work_order_id", "=", external_id),
                    ("company_id", "=", workcenter.company_id.id),
                ],
                limit=1,
            )
        )
        if not production and required:
            raise AnalyticsWait(
                wait_key("order", workcenter.company_id.id, external_id),
                _(
                    "No manufacturing order of %(company)s has the external work order id %(id)s yet: this "
                    "event waits for its work-order/create.",
                    company=workcenter.company_id.name,
                    id=external_id,
                ),
            )
        return production

    @api.model
    def _hf_workorder_of(self, workcenter, production):
        workorders = production.workorder_ids.filtered(lambda wo: wo.workcenter_id == workcenter)
        if not workorders:
            raise UserError(
                _(
                    "Manufacturing order %(mo)s has no work order on %(workcell)s, where the event came from.",
                    mo=production.name,
                    workcell=workcenter.name,
                )
            )
        return (workorders.filtered(lambda wo: wo.state not in ("done", "cancel")) or workorders)[:1]

    @api.model
    def _hf_find_product(self, workcenter, reference, create=False, required=True):
        """The product whose internal reference is UMH's external product id; created only when asked and
        the company allows it."""
        company = workcenter.company_id
        Product = self.env["product.product"].sudo().with_company(company)
        product = Product.search([("default_code", "=", reference), ("company_id", "in", [company.id, False])], limit=1)
        if product or not (required or create):
            return product
        if not create or not company.hf_mrp_create_unknown_products:
            raise UserError(
                _(
                    "No product has the internal reference %(ref)s: create it in Odoo (Inventory ▸ Products), or "
                    "let the UNS create unknown products (Manufacturing ▸ Settings ▸ Create unknown products from "
                    "the UNS).",
                    ref=reference,
                )
            )
        return Product.create({"name": reference, "default_code": reference, "is_storable": True})

    # --- outbound -----------------------------------------------------------------------------

    @api.model
    def _hf_mrp_enqueue(self, workcenter, event_type, payload):
        """Queue an event for the UNS unless it came from there (no echo) or the workcell has no UNS path."""
        if self.env.context.get("hf_from_uns") or not workcenter or not workcenter.sudo().hf_uns_path:
            return self.browse()
        return self.sudo()._enqueue_outbound(workcenter.sudo(), event_type, payload)
