"""Odoo's outbound ``_analytics`` events onto the UNS: at least once, in order, from the ingest process.

Odoo queues them (``hf.uns.analytics.event._enqueue_outbound``: direction ``out``, state ``pending``) and
NOTIFYs ``hf_uns_outbound`` when its transaction commits. The publisher, started by ``hf-ingest`` with its
own broker connection (the ingest's MQTT 5 code, ``mqtt_session``), sends the pending events in id order
at QoS 1 (retain off), WINDOW in flight, and marks each done once the broker's PUBACK is in. A database that
goes away between the two loses no mark: the acknowledgements are kept and recorded first once it is back, so a
database restart sends nothing twice; only a crash of the ingest itself between the two sends an event again
(at least once), never out of order. It wakes on the NOTIFY and
polls every POLL_S besides, so a lost notification delays an event by seconds, not for ever. Broker and
database outages are waited out with hf_core's Backoff.

One publisher per database: it holds a PostgreSQL advisory lock, so ``--workers N`` or a second ingest
on the same database never publish twice or out of order. When the broker hands the event back to the
ingest, its event key is already stored and the insert does nothing: Odoo's events do not come back in.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import select
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
import psycopg2.errors

from hf_core.net import dial_host
from hf_core.retry import Backoff, tcp_probe
from hf_historian.ingest import mqtt_wire as wire
from hf_historian.ingest.analytics import EVENT_TABLE
from hf_historian.ingest.deadletter import one_line
from hf_historian.ingest.mqtt_session import BrokerAddress, BrokerRefused, MqttSession
from hf_historian.ingest.settings import SESSION_EXPIRY_S, IngestSettings

_logger = logging.getLogger(__name__)
CHANNEL = "hf_uns_outbound"  # hf_uns: models/hf_uns_analytics_event.py, OUTBOUND_CHANNEL
POLL_S = 2.0
BATCH = 200
# PUBLISHes in flight at once: within any broker's Receive Maximum (Mosquitto's max_inflight_messages is 20)
WINDOW = 16
UPGRADE_WAIT_S = 60.0
# pg_try_advisory_lock's key: the one publisher of a database
LOCK_KEY = 0x6866_7562  # "hfub"
T = TypeVar("T")


class OutboundPublisher:
    def __init__(self, address: BrokerAddress, settings: IngestSettings) -> None:
        self.address = address
        self.dsn = settings.dsn
        self.client_id = f"{settings.client_id}-publisher"
        self.conn: Any = None
        self.session: MqttSession | None = None
        self.published = 0
        # psycopg2 blocks: its calls run in this thread, the MQTT side on the event loop
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="analytics-publisher")
        self._lock_waiting_logged = False
        # event id -> PUBACK reason: taken by the broker, not yet marked in the database (it went away between
        # the two); marked first thing once the database is back, so a database restart sends nothing twice
        self._unsettled: dict[int, int] = {}

    async def _db(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    async def run(self) -> None:
        """Publish until cancelled; outages of either side are retried for ever."""
        backoff = Backoff()
        try:
            while True:
                try:
                    if self.conn is None:
                        await self._db(self._connect)
                    if not await self._db(self._lock):
                        if not self._lock_waiting_logged:
                            _logger.info("analytics publisher: another ingest publishes for this database; waiting")
                            self._lock_waiting_logged = True
                        await asyncio.sleep(POLL_S * 5)
                        continue
                    await self._open_session()
                    backoff.reset()
                    await self._drain()
                except psycopg2.errors.UndefinedTable as exc:  # hf_uns older than its analytics events
                    _logger.warning(
                        "analytics publisher: %s; upgrade hf_uns in this database. Retrying in %.0f s",
                        one_line(exc),
                        UPGRADE_WAIT_S,
                    )
                    await self._db(self._close_db)
                    await asyncio.sleep(UPGRADE_WAIT_S)
                except Exception as exc:  # whatever happened, Odoo's events must go out later
                    expected = isinstance(
                        exc,
                        (
                            psycopg2.OperationalError,
                            psycopg2.InterfaceError,
                            OSError,
                            TimeoutError,
                            wire.ProtocolError,
                            BrokerRefused,
                        ),
                    )
                    _logger.warning(
                        "analytics publisher: %s; retrying in %.0f s",
                        one_line(exc) if isinstance(exc, psycopg2.Error) else f"{type(exc).__name__}: {exc}",
                        backoff.delay,
                        exc_info=not expected,
                    )
                    await self._close_session()
                    if isinstance(exc, psycopg2.Error) or not expected:
                        await self._db(self._close_db)
                        await backoff.pause()
                    else:  # the broker: back to it as soon as it listens again
                        await backoff.pause(tcp_probe(dial_host(self.address.host), self.address.port))
        finally:
            await self._close_session()
            with contextlib.suppress(Exception):
                self._close_db()
            self._executor.shutdown(wait=False)

    # --- the database side (publisher thread) ------------------------------------------------------

    def _connect(self) -> None:
        self.conn = psycopg2.connect(self.dsn)
        self.conn.autocommit = True
        self.conn.cursor().execute(f"LISTEN {CHANNEL}")

    def _lock(self) -> bool:
        cr = self.conn.cursor()
        cr.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
        row = cr.fetchone()
        return bool(row and row[0])

    def _close_db(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
        self.conn = None

    def _pending(self) -> list[tuple[int, str, str]]:
        cr = self.conn.cursor()
        cr.execute(
            f"SELECT id, topic, payload FROM {EVENT_TABLE} WHERE direction = 'out' AND state = 'pending' "
            "ORDER BY id LIMIT %s",
            (BATCH,),
        )
        return [(row[0], row[1], row[2] or "") for row in cr.fetchall()]

    def _mark(self, event_id: int, state: str, error: str | None) -> None:
        self.conn.cursor().execute(
            f"UPDATE {EVENT_TABLE} SET state = %s, error = %s, processed_at = now() at time zone 'utc', "
            "write_date = now() at time zone 'utc' WHERE id = %s",
            (state, error, event_id),
        )

    def _wait(self, timeout: float) -> None:
        """Until Odoo NOTIFYs (an event was queued) or ``timeout``."""
        self.conn.poll()
        if not self.conn.notifies:
            select.select([self.conn], [], [], timeout)
            self.conn.poll()
        self.conn.notifies.clear()

    # --- the broker side (event loop) ----------------------------------------------------------------

    async def _open_session(self) -> None:
        if self.session is not None and self.session.is_open:
            return
        session = MqttSession(
            self.address, self.client_id, "", lambda _session, _publishes: None, session_expiry_s=SESSION_EXPIRY_S
        )
        await session.open()
        self.session = session
        _logger.info("analytics publisher connected to %s:%d", self.address.host, self.address.port)

    async def _close_session(self) -> None:
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.close()
            self.session = None

    async def _record_unsettled(self) -> None:
        """Mark what the broker took; kept for the next try if the database goes meanwhile."""
        if self._unsettled:
            kept = dict(self._unsettled)
            await self._db(self._settle, list(kept), list(kept.values()))
            for event_id in kept:
                del self._unsettled[event_id]

    async def _drain(self) -> None:
        await self._record_unsettled()  # before reading what is pending: these were sent already
        while True:
            rows = await self._db(self._pending)
            if not rows:
                await self._db(self._wait, POLL_S)
                continue
            assert self.session is not None
            acked: list[int] = []
            try:
                await self.session.publish(
                    [(topic, payload.encode()) for _id, topic, payload in rows], acked, window=WINDOW
                )
            finally:  # what the broker took is done, even when the connection went before the rest
                self._unsettled.update(zip([row[0] for row in rows[: len(acked)]], acked, strict=True))
                await self._record_unsettled()

    def _settle(self, ids: list[int], reasons: list[int]) -> None:
        done = [event_id for event_id, reason in zip(ids, reasons, strict=True) if reason < 0x80]
        if done:
            self.conn.cursor().execute(
                f"UPDATE {EVENT_TABLE} SET state = 'done', error = NULL, processed_at = now() at time zone 'utc', "
                "write_date = now() at time zone 'utc' WHERE id = ANY(%s)",
                (done,),
            )
            self.published += len(done)
        for event_id, reason in zip(ids, reasons, strict=True):
            if reason >= 0x80:  # refused (an ACL): kept with the reason, Retry in Odoo sends it again
                why = f"the broker refused it: {wire.reason_text(reason)}"
                _logger.warning("analytics event %d: %s", event_id, why)
                self._mark(event_id, "failed", why)
