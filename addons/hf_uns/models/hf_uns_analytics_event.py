import logging
from collections import deque
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from hf_core.analytics import EVENT_TYPES, AnalyticsError, encode_event, event_key, event_topic, validate_event

_logger = logging.getLogger(__name__)

OUTBOUND_CHANNEL = "hf_uns_outbound"
EVENT_TYPE_SELECTION = [(event_type, event_type) for event_type in EVENT_TYPES]
# how long an inbound event may wait for what it refers to (its order's work-order/create, a start) before
# it fails; the system parameter hf_uns.analytics_wait_minutes overrides it (Manufacturing ▸ Settings)
WAIT_MINUTES = 60
WAIT_PARAM = "hf_uns.analytics_wait_minutes"
# a waiting event is also tried again at a cron run this long after its last try (what it waits for may
# come from Odoo itself: an operator starting the order), not only when an event it waits for is applied
WAIT_RETRY_S = 60
# what _apply returns for an event whose last step is done for several events at once (_apply_deferred)
DEFERRED = "deferred"
# the later pending events an event's _apply booked with it (a run of a workcell's reports or states: one
# update for all), as ids in the cursor's postrollback data (_book_with): the cron marks them done with it,
# in one write, and does not apply them again
BOOKED_KEY = "hf_uns.booked_events"


class AnalyticsWait(Exception):
    """Raised by an event's ``_apply`` when what it refers to does not exist yet (MQTT keeps no order across
    topics: a product/add may arrive before its order's work-order/create). The event waits, ``reason`` shown
    on it, and is applied again as soon as an event whose :meth:`HfUnsAnalyticsEvent._wakes` lists ``key``
    is applied, or fails after the bounded wait."""

    def __init__(self, key, reason):
        super().__init__(reason)
        self.key = key
        self.reason = reason


class HfUnsAnalyticsEvent(models.Model):
    """A UMH Classic ``_analytics`` production event, either way between the UNS and Odoo.

    Inbound rows are written by the ingest with SQL (``INSERT … ON CONFLICT (event_key) DO NOTHING``, so a
    redelivery is stored once) and applied by the cron, which the ingest wakes at once. Outbound rows are
    queued by :meth:`_enqueue_outbound` and published by the ingest's publisher (QoS 1, in id order); when
    the broker hands our own event back, its key is already here and the ingest drops it: no echo.
    """

    _name = "hf.uns.analytics.event"
    _description = "Hyperfactory UNS analytics event"
    _order = "id desc"
    _rec_name = "event_type"

    event_key = fields.Char(
        required=True,
        readonly=True,
        index=True,
        copy=False,
        help="sha256 of the topic, a newline and the payload bytes (hf_core.analytics.event_key).",
    )
    direction = fields.Selection(
        [("in", "From the UNS"), ("out", "To the UNS")],
        required=True,
        readonly=True,
        index=True,
    )
    topic = fields.Char(readonly=True)
    workcenter_id = fields.Many2one(
        "mrp.workcenter",
        string="Workcell",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="workcenter_id.company_id", store=True, index=True)
    event_type = fields.Selection(EVENT_TYPE_SELECTION, required=True, readonly=True)
    payload = fields.Text(readonly=True, help="The event's JSON, as received or as published.")
    received_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    state = fields.Selection(
        [("pending", "Pending"), ("waiting", "Waiting"), ("done", "Done"), ("failed", "Failed")],
        required=True,
        default="pending",
        index=True,
        readonly=True,
    )
    error = fields.Text(readonly=True, help="Why it failed, or, while it waits, what it waits for.")
    processed_at = fields.Datetime(readonly=True)
    wait_key = fields.Char(
        readonly=True,
        index="btree_not_null",
        copy=False,
        help="What a waiting event waits for (an order's work-order/create, its start): applying that wakes it.",
    )
    waiting_since = fields.Datetime(readonly=True, copy=False)

    _sql_constraints = [
        ("event_key_unique", "unique(event_key)", "This analytics event is stored already."),
    ]

    def action_retry(self):
        """A failed event goes back to the queue (after its cause was fixed in Odoo)."""
        failed = self.filtered(lambda event: event.state == "failed" and event._fits_umh())
        failed.write(
            {"state": "pending", "error": False, "processed_at": False, "wait_key": False, "waiting_since": False}
        )
        if failed.filtered(lambda event: event.direction == "in"):
            self.env.ref("hf_uns.ir_cron_process_analytics_events")._trigger()
        if failed.filtered(lambda event: event.direction == "out"):
            self._notify_outbound()
        return True

    def _fits_umh(self):
        """An outbound event is sent only when UMH's schema takes it (an inbound one was checked on arrival)."""
        self.ensure_one()
        if self.direction != "out":
            return True
        try:
            validate_event(self.event_type, (self.payload or "").encode())
        except AnalyticsError:
            return False
        return True

    def _apply(self):
        """Apply one inbound event in Odoo. True: applied; raise UserError/ValidationError: it does not fit
        (the event fails with that message); False: nothing here consumes it yet (it stays pending);
        DEFERRED: its last step waits for :meth:`_apply_deferred`, with other events' (context
        ``hf_uns_defer``: only the cron asks for it).

        The base implementation consumes nothing: hf_mrp overrides it."""
        self.ensure_one()
        return False

    def _prepare_batch(self):
        """Before the cron applies these events one by one: do at once, for many of them, what their
        ``_apply`` would find done then (so it changes nothing more), where the result is the same in any
        order. Must leave nothing behind when it fails (its own savepoint): each event then does it alone.
        The base implementation prepares nothing: hf_mrp overrides it."""
        return True

    def _apply_deferred(self):
        """The last step of these events, which ``_apply`` returned DEFERRED for, at once:
        {event id: error message} for those that failed (their own step rolled back), the others applied."""
        return {}

    def _wakes(self):
        """The wait keys (see :class:`AnalyticsWait`) this applied event satisfies: the events waiting for
        them are applied right after it. The base implementation wakes none: hf_mrp overrides it."""
        self.ensure_one()
        return []

    @api.model
    def _wait_timeout(self):
        value = self.env["ir.config_parameter"].sudo().get_param(WAIT_PARAM)
        try:
            minutes = float(value) if value else WAIT_MINUTES
        except ValueError:
            minutes = WAIT_MINUTES
        return timedelta(minutes=max(0.0, minutes))

    def _give_up_message(self, reason):
        minutes = round(self._wait_timeout().total_seconds() / 60)
        return _("Gave up after waiting %(minutes)s min: %(reason)s", minutes=minutes, reason=reason)

    def _wait(self, wait):
        """Keep this event waiting for ``wait.key`` (or fail it once it has waited its bounded time)."""
        self.ensure_one()
        now = fields.Datetime.now()
        since = self.waiting_since or now
        if now - since >= self._wait_timeout():
            self.write(
                {
                    "state": "failed",
                    "error": self._give_up_message(wait.reason),
                    "wait_key": wait.key,
                    "processed_at": now,
                }
            )
            _logger.info("analytics event %s (%s) failed after waiting: %s", self.id, self.event_type, wait.reason)
            return
        # written with SQL: its write_date is its last try, and nothing of Odoo's write is needed here
        self.env.cr.execute(
            "UPDATE hf_uns_analytics_event SET state = 'waiting', error = %s, wait_key = %s, waiting_since = %s, "
            "write_date = now() at time zone 'utc' WHERE id = %s",
            (wait.reason, wait.key, since, self.id),
        )
        self.invalidate_recordset(["state", "error", "wait_key", "waiting_since", "write_date"])

    @api.model
    def _expire_waiting(self):
        """Fail the events that waited longer than the bounded wait, with what they waited for."""
        limit = fields.Datetime.now() - self._wait_timeout()
        expired = self.search([("state", "=", "waiting"), ("waiting_since", "<=", limit)])
        for event in expired:
            event.write(
                {"state": "failed", "error": event._give_up_message(event.error), "processed_at": fields.Datetime.now()}
            )
        return expired

    @api.model
    def _cron_process_pending(self, limit=500):
        """Apply pending inbound events in arrival order, each under its own savepoint. An event that waits
        (:class:`AnalyticsWait`) is kept aside with its reason; the events waiting for what an applied event
        brings are applied right after it, in their own arrival order."""
        self._expire_waiting()
        cr = self.env.cr
        # waiting events not tried for a while go first (they arrived first): what they wait for may have
        # come from Odoo itself
        cr.execute(
            "SELECT id FROM hf_uns_analytics_event WHERE direction = 'in' AND state = 'waiting' "
            "AND write_date < (now() at time zone 'utc') - make_interval(secs => %s) ORDER BY id LIMIT %s "
            "FOR UPDATE SKIP LOCKED",
            (WAIT_RETRY_S, limit),
        )
        ids = [row[0] for row in cr.fetchall()]
        cr.execute(
            "SELECT id FROM hf_uns_analytics_event WHERE direction = 'in' AND state = 'pending' "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            (limit,),
        )
        queue = deque(ids + [row[0] for row in cr.fetchall()])
        self.browse(queue).with_context(hf_from_uns=True)._prepare_batch()
        # with none waiting, an applied event has none to wake: no look-up for each
        cr.execute("SELECT EXISTS (SELECT 1 FROM hf_uns_analytics_event WHERE direction = 'in' AND state = 'waiting')")
        waiting = cr.fetchone()[0]
        applied = handled = 0
        blocked = False
        deferred = self.browse()
        while queue or deferred:
            if deferred and (not queue or self.browse(queue[0]).workcenter_id in deferred.workcenter_id):
                # what was deferred on a workcell is done before its next event (and at the end)
                applied += self._finish_deferred(deferred, queue, waiting)
                deferred = self.browse()
                continue
            event = self.browse(queue.popleft())
            event = event.with_context(hf_from_uns=True, hf_uns_defer=True).with_company(event.company_id)
            cr.postrollback.data.pop(BOOKED_KEY, None)  # only what this event books
            try:
                with cr.savepoint():
                    done = event._apply()
            except AnalyticsWait as wait:
                event._wait(wait)
                waiting = True
                handled += 1
                continue
            except Exception as exc:  # noqa: BLE001  (an event that does not fit must not stop the others)
                event.write(
                    {"state": "failed", "error": str(exc) or type(exc).__name__, "processed_at": fields.Datetime.now()}
                )
                _logger.info("analytics event %s (%s) failed: %s", event.id, event.event_type, exc)
                handled += 1
                continue
            if not done:
                blocked = True  # no consumer installed (or not ready): later events wait behind it, in order
                if deferred:
                    applied += self._finish_deferred(deferred, queue, waiting)
                break
            handled += 1
            if done == DEFERRED:
                deferred |= event
                continue
            event._done(queue, waiting)
            applied += 1
            booked = cr.postrollback.data.pop(BOOKED_KEY, None)
            if booked:
                self.browse(list(booked))._done_booked()
                queue = deque(i for i in queue if i not in booked)
                applied += len(booked)
                handled += len(booked)
        remaining = 0
        if not blocked:
            # Events the ingest stored while this ran: Odoo runs the job again at once for them (ir.cron's
            # progress API) rather than at its next minute, as their trigger is cleared when this run ends.
            cr.execute("SELECT count(*) FROM hf_uns_analytics_event WHERE direction = 'in' AND state = 'pending'")
            remaining = cr.fetchone()[0]
        self.env["ir.cron"]._notify_progress(done=handled, remaining=remaining)
        return applied

    def _book_with(self, booked):
        """Called by an event's ``_apply``: the later pending events ``booked`` (a recordset) were applied with
        this one, so the cron marks them done with it and applies them no more. What could still fail (a
        constraint at the flush) fails first, in this event's savepoint, before they are taken for booked."""
        self.env.flush_all()
        self.env.cr.postrollback.data.setdefault(BOOKED_KEY, set()).update(booked.ids)

    def _mark_done(self):
        self.write(
            {
                "state": "done",
                "error": False,
                "processed_at": fields.Datetime.now(),
                "wait_key": False,
                "waiting_since": False,
            }
        )

    def _done_booked(self):
        """Mark applied the events booked with an earlier one: nothing left to wake (it woke what they would).
        Written at once: the next event's look-ahead reads the pending ones with SQL."""
        self._mark_done()
        self.flush_recordset()

    def _done(self, queue, wake=True):
        """Mark this event applied; the events waiting for what it brings go to the queue's front."""
        self.ensure_one()
        self._mark_done()
        keys = self._wakes() if wake else None
        if keys:
            self.env.cr.execute(
                "SELECT id FROM hf_uns_analytics_event WHERE direction = 'in' AND state = 'waiting' "
                "AND wait_key = ANY(%s) ORDER BY id FOR UPDATE SKIP LOCKED",
                (list(keys),),
            )
            woken = [row[0] for row in self.env.cr.fetchall() if row[0] not in queue]
            queue.extendleft(reversed(woken))

    @api.model
    def _finish_deferred(self, deferred, queue, wake=True):
        """Apply the deferred last steps of ``deferred`` at once; how many events were applied."""
        failures = deferred.with_context(hf_from_uns=True)._apply_deferred()
        applied = 0
        for event in deferred:
            if event.id in failures:
                event.write({"state": "failed", "error": failures[event.id], "processed_at": fields.Datetime.now()})
                _logger.info("analytics event %s (%s) failed: %s", event.id, event.event_type, failures[event.id])
            else:
                event._done(queue, wake)
                applied += 1
        return applied

    @api.model
    def _enqueue_outbound(self, workcenter, event_type, payload):
        """Queue ``payload`` (a dict, UMH's schema for ``event_type``) for the workcell's UNS topic
        ``umh/v1/<location…>/<workcell>/_analytics/<event type>``; the ingest's publisher sends it after
        the transaction committed. The same event twice (same topic and bytes) is queued once."""
        workcenter.ensure_one()
        if not workcenter.hf_uns_path:
            raise UserError(
                _(
                    "Workcenter %s has no UNS path: give it a UNS line and segment before it publishes to the UNS.",
                    workcenter.display_name,
                )
            )
        if event_type not in EVENT_TYPES:
            raise UserError(_("%s is no UMH analytics event type.", event_type))
        topic = event_topic(workcenter.hf_uns_path.split("/"), event_type)
        body = encode_event(payload)
        key = event_key(topic, body)
        events = self.sudo().with_context(active_test=False)
        existing = events.search([("event_key", "=", key)], limit=1)
        if existing:
            return existing
        try:
            validate_event(event_type, body)
            error = False
        except AnalyticsError as exc:
            # never sent (a UMH subscriber would refuse it too): kept as failed with the reason, and the
            # MRP operation that queued it goes on
            error = _("Not published: it does not follow UMH's schema (%s).", exc)
            _logger.warning("outbound analytics event refused: %s", exc)
        event = events.create(
            {
                "event_key": key,
                "direction": "out",
                "topic": topic,
                "workcenter_id": workcenter.id,
                "event_type": event_type,
                "payload": body.decode(),
                "received_at": fields.Datetime.now(),
                "state": "failed" if error else "pending",
                "error": error,
            }
        )
        if not error:
            self._notify_outbound()
        return event

    def _notify_outbound(self):
        """Wake the publisher. NOTIFY is delivered when this transaction commits, never for one rolled
        back, and several in one transaction arrive as one: what cr.postcommit would do, with no second
        connection."""
        self.env.cr.execute("SELECT pg_notify(%s, '')", (OUTBOUND_CHANNEL,))
