"""UMH ``_analytics`` events into ``hf_uns_analytics_event``, and waking Odoo's cron jobs that apply them.

An event is stored once: ``INSERT … ON CONFLICT (event_key) DO NOTHING`` on the key of hf_core.analytics,
so a redelivery, or an event Odoo published coming back from the broker, changes nothing.

Odoo's cron workers sleep up to a minute; the ingest wakes the job that applies the events the way
Odoo's own ``ir.cron._trigger`` does: a row in ``ir_cron_trigger`` in the transaction that stores the
events (so the job never runs before they are visible), then ``NOTIFY cron_trigger, '<database>'`` on
the ``postgres`` database, where Odoo's cron threads listen (odoo/addons/base/models/ir_cron.py,
``_trigger_list`` and ``_notifydb``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from hf_historian.ingest.deadletter import DeadLetter, one_line
from hf_historian.schema import Cursor

_logger = logging.getLogger(__name__)
EVENT_TABLE = "hf_uns_analytics_event"
# the cron that applies inbound events (hf_uns), and hf_mrp's that books counters into work orders
EVENTS_CRON = ("hf_uns", "ir_cron_process_analytics_events")
COUNTERS_CRON = ("hf_mrp", "ir_cron_counters_to_workorders")
# a cron that is not installed is looked up again after this long (hf_mrp installed later)
CRON_LOOKUP_S = 60.0
# at most one trigger per cron this often: Odoo runs the job for all that is pending at once
TRIGGER_INTERVAL_S = 0.5


class AnalyticsRow(NamedTuple):
    """An inbound event ready to store."""

    event_key: str
    topic: str
    workcenter_id: int
    company_id: int | None
    event_type: str
    payload: str


_INSERT = f"""
    INSERT INTO {EVENT_TABLE} (event_key, direction, topic, workcenter_id, company_id, event_type, payload,
                               received_at, state, create_date, write_date)
    SELECT k, 'in', t, w, c, e, p, now() at time zone 'utc', 'pending', now() at time zone 'utc',
           now() at time zone 'utc'
    FROM unnest(%s::varchar[], %s::varchar[], %s::int[], %s::int[], %s::varchar[], %s::text[])
         WITH ORDINALITY AS u(k, t, w, c, e, p, n)
    ORDER BY n
    ON CONFLICT (event_key) DO NOTHING
    RETURNING id
"""


def _insert(cr: Cursor, rows: list[AnalyticsRow]) -> int:
    cr.execute(_INSERT, [list(column) for column in zip(*rows, strict=True)])
    return len(cr.fetchall())


def write_events(
    cr: Cursor, rows: list[AnalyticsRow], retry_whole: Callable[[BaseException], bool]
) -> tuple[int, list[DeadLetter]]:
    """Insert ``rows`` in arrival order (in the caller's transaction): (how many were new, dead letters).

    One statement for the batch, under a savepoint; should PostgreSQL refuse it for something an event
    holds, each event is inserted alone and the one refused is dead-lettered with the reason. Errors of
    ``retry_whole`` says are not the events' (the database away) propagate: the caller retries the batch."""
    if not rows:
        return 0, []
    cr.execute("SAVEPOINT hf_events")
    try:
        inserted = _insert(cr, rows)
    except psycopg2.Error as exc:
        if retry_whole(exc):
            raise
        cr.execute("ROLLBACK TO SAVEPOINT hf_events")
        _logger.warning("analytics events refused (%s); storing them one by one", one_line(exc))
    else:
        cr.execute("RELEASE SAVEPOINT hf_events")
        return inserted, []
    inserted, letters = 0, []
    for row in rows:
        cr.execute("SAVEPOINT hf_event")
        try:
            inserted += _insert(cr, [row])
        except psycopg2.Error as exc:
            if retry_whole(exc):
                raise
            cr.execute("ROLLBACK TO SAVEPOINT hf_event")
            letters.append(DeadLetter(row.topic, row.payload.encode(), f"could not be stored: {one_line(exc)}"))
            continue
        cr.execute("RELEASE SAVEPOINT hf_event")
    return inserted, letters


class CronWaker:
    """Wakes Odoo's cron jobs by xmlid; a job that does not exist (its addon not installed) is skipped
    quietly and looked up again every CRON_LOOKUP_S."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._ids: dict[tuple[str, str], tuple[int | None, float]] = {}  # xmlid -> (id, looked up at)
        self._wanted: set[tuple[str, str]] = set()
        self._last: dict[int, float] = {}
        self._notify_conn: Any = None
        self._notify_failed = False
        self.triggered = 0

    def want(self, xmlid: tuple[str, str]) -> None:
        """Ask for ``xmlid`` to be triggered by the next :meth:`flush`."""
        self._wanted.add(xmlid)

    @property
    def pending(self) -> bool:
        return bool(self._wanted)

    def cron_id(self, cr: Cursor, xmlid: tuple[str, str]) -> int | None:
        known = self._ids.get(xmlid)
        now = time.monotonic()
        if known is not None and (known[0] is not None or now - known[1] < CRON_LOOKUP_S):
            return known[0]
        cr.execute("SAVEPOINT hf_cron_lookup")
        try:
            cr.execute("SELECT res_id FROM ir_model_data WHERE module = %s AND name = %s AND model = 'ir.cron'", xmlid)
            row = cr.fetchone()
        except (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn):
            cr.execute("ROLLBACK TO SAVEPOINT hf_cron_lookup")  # no Odoo here (a bare historian database)
            row = None
        else:
            cr.execute("RELEASE SAVEPOINT hf_cron_lookup")
        cron = row[0] if row else None
        self._ids[xmlid] = (cron, now)
        return cron

    def flush(self, cr: Cursor) -> bool:
        """Insert the wanted triggers in the caller's transaction (call :meth:`notify` after its commit);
        True when one was inserted. A cron triggered less than TRIGGER_INTERVAL_S ago stays wanted."""
        inserted = False
        now = time.monotonic()
        for xmlid in sorted(self._wanted):
            cron = self.cron_id(cr, xmlid)
            if cron is None:
                self._wanted.discard(xmlid)
                continue
            if now - self._last.get(cron, 0.0) < TRIGGER_INTERVAL_S:
                continue
            cr.execute(
                "INSERT INTO ir_cron_trigger (cron_id, call_at, create_date, write_date) "
                "VALUES (%s, now() at time zone 'utc', now() at time zone 'utc', now() at time zone 'utc')",
                (cron,),
            )
            self._last[cron] = now
            self._wanted.discard(xmlid)
            inserted = True
        return inserted

    def notify(self, dbname: str) -> None:
        """``NOTIFY cron_trigger, '<dbname>'`` on the ``postgres`` database, as Odoo's _notifydb does.
        Without it (no access to ``postgres``) the trigger still runs the job at the cron's next poll."""
        try:
            if self._notify_conn is None or self._notify_conn.closed:
                self._notify_conn = psycopg2.connect(psycopg2.extensions.make_dsn(self.dsn, dbname="postgres"))
                self._notify_conn.autocommit = True
            self._notify_conn.cursor().execute("SELECT pg_notify('cron_trigger', %s)", (dbname,))
            self.triggered += 1
            self._notify_failed = False
        except psycopg2.Error as exc:
            if not self._notify_failed:
                _logger.warning(
                    "could not wake Odoo's cron workers on the postgres database (%s); the jobs run "
                    "at their next poll (within a minute)",
                    one_line(exc),
                )
            self._notify_failed = True
            with contextlib.suppress(psycopg2.Error):
                if self._notify_conn is not None:
                    self._notify_conn.close()
            self._notify_conn = None

    def close(self) -> None:
        with contextlib.suppress(psycopg2.Error):
            if self._notify_conn is not None:
                self._notify_conn.close()
        self._notify_conn = None
