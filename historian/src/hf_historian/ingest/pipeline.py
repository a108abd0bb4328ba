"""The ingest loop: MQTT (QoS 1, manual acknowledgements) → decode → historian, acknowledged after commit.

Guarantee: a message is acknowledged (PUBACK) only after the transaction holding its samples (or its
dead letter) committed. If the ingest or the database goes away first, the broker still holds the
message in the ingest's persistent session and delivers it again; the historian's (tag, time)
uniqueness makes the replay harmless. We speak MQTT 5 and announce a large Receive Maximum so the
broker lets a whole batch be in flight at once (Mosquitto's 20-message default applies to 3.1.1).

One asyncio loop receives (our own lean MQTT 5 subscriber, see ``mqtt_wire``) and decodes; psycopg2
is blocking, so one writer thread stores each batch, and the loop acknowledges it once committed.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import signal
import threading
import time
from typing import Any

import psycopg2
import psycopg2.errors

from hf_core.errors import HfError
from hf_core.net import dial_host
from hf_core.retry import Backoff, attempts, tcp_probe
from hf_historian.ingest import deadletter
from hf_historian.ingest import mqtt_wire as wire
from hf_historian.ingest.analytics import AnalyticsRow, CronWaker
from hf_historian.ingest.decoder import decode_message
from hf_historian.ingest.mqtt_session import BrokerRefused, MqttSession
from hf_historian.ingest.quota import RELOAD_S, DailyQuota
from hf_historian.ingest.resolver import TagResolver
from hf_historian.ingest.settings import (
    BATCH_MAX_BYTES,
    INBOX_HIGH_WATER,
    INBOX_HIGH_WATER_BYTES,
    RECEIVE_MAXIMUM,
    REPLAY_EVERY_S,
    SESSION_EXPIRY_S,
    TAG_RELOAD_S,
    IngestSettings,
)
from hf_historian.ingest.store import BatchStore, Decoded, is_outage
from hf_historian.writer import PreparedBatch, SampleRow, prepare

_logger = logging.getLogger(__name__)


class FatalIngestError(HfError):
    """The ingest cannot start or go on; the message says what to fix."""


class WriterStopped(Exception):
    """The writer met an error that retrying cannot mend; its cause says which."""


class Ingest:
    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.address = settings.broker
        # What arrived, one chunk per socket read, with the connection to acknowledge it on.
        self._inbox: collections.deque[tuple[MqttSession, list[wire.Publish]]] = collections.deque()
        self._inbox_messages = 0
        self._inbox_bytes = 0
        self._arrived: asyncio.Event | None = None
        self.session: MqttSession | None = None
        self.stopping = False
        self.totals = {"messages": 0, "samples": 0, "stored": 0, "dead_letters": 0, "batches": 0, "events": 0}
        self._window = {"messages": 0, "samples": 0, "batches": 0, "dead_letters": 0, "stored": 0, "events": 0}
        self.waker = CronWaker(settings.dsn)
        self._undeclared_logged: dict[str, int] = {}
        self._local_logged = 0
        self._lag_s = 0.0
        self.resolver_conn: Any = None
        self._resolver_lock = threading.Lock()  # the writer thread's rare one-by-one fallback decodes too
        self.resolver: TagResolver | None = None
        self.quota = DailyQuota()
        self.store = BatchStore(settings.dsn, self.waker, self.quota)
        # One writer thread: PostgreSQL work (which releases the GIL) overlaps the next batch's decoding.
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="historian-writer")

    # --- connections -------------------------------------------------------------------------

    def connect_database(self) -> None:
        """Two connections: the writer's (one transaction per batch, acknowledged after commit) and
        the resolver's (autocommit: a discovered tag exists before any sample refers to it)."""
        self.store.open()
        self.connect_resolver()

    def connect_resolver(self) -> None:
        if self.resolver_conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.resolver_conn.close()
        self.resolver_conn = psycopg2.connect(self.settings.dsn)
        self.resolver_conn.autocommit = True
        self.resolver = TagResolver(
            self.resolver_conn.cursor(),
            discover=self.settings.discover,
            max_tags_per_workcell=self.settings.max_tags_per_workcell,
            max_new_tags_per_message=self.settings.max_new_tags_per_message,
            max_new_tags_per_minute=self.settings.max_new_tags_per_minute,
        )
        self.quota.load(self.resolver_conn.cursor())

    def _new_session(self) -> MqttSession:
        return MqttSession(
            self.address,
            self.settings.client_id,
            self.settings.topic,
            self._on_messages,
            session_expiry_s=SESSION_EXPIRY_S,
            receive_maximum=RECEIVE_MAXIMUM,
        )

    def _on_messages(self, session: MqttSession, publishes: list[wire.Publish]) -> None:
        self._inbox.append((session, publishes))
        self._inbox_messages += len(publishes)
        self._inbox_bytes += sum([len(p[1]) for p in publishes])
        if self._inbox_messages > INBOX_HIGH_WATER or self._inbox_bytes > INBOX_HIGH_WATER_BYTES:
            session.pause()
        assert self._arrived is not None
        self._arrived.set()

    async def connect_broker(self) -> asyncio.Task[None]:
        """Connect (``start_attempts`` tries, then a fatal error that says what to check) and return the task
        that keeps the connection: it reconnects for ever and closes the session when cancelled."""
        loop = asyncio.get_running_loop()
        connected: asyncio.Future[None] = loop.create_future()
        keeper = loop.create_task(self._keep_connected(connected))
        try:
            await connected
        except BaseException:
            keeper.cancel()
            raise
        return keeper

    async def _keep_connected(self, connected: asyncio.Future[None]) -> None:
        """One session at a time; a lost one is replaced at once, then with hf_core's Backoff (1 s doubling to
        30 s, cut short once the broker accepts connections again) until the broker is back."""
        where = f"{self.address.host}:{self.address.port}"
        backoff = Backoff(first=1.0, cap=30.0)
        probe = tcp_probe(dial_host(self.address.host), self.address.port)
        while True:
            async for attempt in attempts(backoff, probe):
                try:
                    async with self._new_session() as session:
                        self.session = session
                        backoff.reset()
                        if connected.done():
                            _logger.info(
                                "broker reconnected (session %s)", "kept" if session.session_present else "new"
                            )
                        else:
                            _logger.info("subscribed to %s on %s", self.settings.topic, where)
                            connected.set_result(None)
                        assert session.closed is not None
                        why = await asyncio.shield(session.closed)  # cancelling us must not cancel it
                    _logger.warning(
                        "broker connection lost (%s); reconnecting, unacknowledged messages will be redelivered", why
                    )
                    break  # a new round of attempts: the first one at once
                except BrokerRefused as exc:
                    if not connected.done():
                        connected.set_exception(
                            FatalIngestError(
                                f"The MQTT broker at {where} refused the ingest; check the user, password and ACL "
                                "in --mqtt-url.",
                                detail=str(exc),
                            )
                        )
                        return
                    _logger.warning(
                        "broker still away (%s: %s); retrying in %.0f s", type(exc).__name__, exc, backoff.delay
                    )
                except Exception as exc:  # noqa: BLE001  (whatever the broker did, this loop must go on)
                    if connected.done():
                        _logger.warning(
                            "broker still away (%s: %s); retrying in %.0f s", type(exc).__name__, exc, backoff.delay
                        )
                    elif not isinstance(exc, (OSError, TimeoutError, wire.ProtocolError)):
                        connected.set_exception(exc)
                        return
                    elif attempt >= self.settings.start_attempts:
                        connected.set_exception(
                            FatalIngestError(
                                f"The MQTT broker at {where} did not answer after {attempt} attempts; check --mqtt-url "
                                "and that the broker runs.",
                                detail=str(exc),
                            )
                        )
                        return
                    else:
                        _logger.warning("broker %s unreachable (%s); retrying in %.0f s", where, exc, backoff.delay)

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self.connect_database()
        except psycopg2.errors.UndefinedTable as exc:
            raise FatalIngestError(
                "The database has no hf_uns tables: install the hf_uns module in this Odoo database first.",
                detail=str(exc).strip(),
            ) from exc
        except psycopg2.Error as exc:
            raise FatalIngestError(
                "The ingest cannot open the historian database; check --dsn (host, dbname, user).",
                detail=str(exc).strip(),
            ) from exc
        try:
            asyncio.run(self._main())
        finally:
            self._executor.shutdown(wait=True)
            self.store.close()
            if self.resolver_conn is not None:
                with contextlib.suppress(psycopg2.Error):
                    self.resolver_conn.close()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._arrived = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        keeper = await self.connect_broker()
        publisher = None
        if self.settings.publish:
            from hf_historian.ingest.publisher import OutboundPublisher

            publisher = loop.create_task(OutboundPublisher(self.address, self.settings).run())
        try:
            await self._pipeline()
        except psycopg2.Error as exc:  # not an outage (those are retried): the tag tables refuse us
            raise FatalIngestError(
                "The ingest cannot read the hf_uns tag tables; is hf_uns up to date?", detail=str(exc).strip()
            ) from exc
        except WriterStopped as exc:
            raise FatalIngestError(
                "The ingest stopped: the historian database refuses its writes (see the error above); "
                "unacknowledged messages stay with the broker.",
                detail=str(exc.__cause__).strip(),
            ) from exc
        finally:
            self.stop()
            keeper.cancel()  # its session says goodbye to the broker as it ends
            if publisher is not None:
                publisher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await publisher
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            self.waker.close()

    async def _pipeline(self) -> None:
        """Decode batch n+1 on the event loop while the writer thread stores and acknowledges batch n.

        Batches size themselves: whatever arrived while the previous one was written is the next one
        (capped), so a quiet line is stored within milliseconds and a flood in large batches."""
        assert self._arrived is not None
        writing: asyncio.Task[None] | None = None
        last_stats = last_replay = time.monotonic()
        while not self.stopping:
            if time.monotonic() - last_stats >= self.settings.stats_interval_s:
                self._log_stats(time.monotonic() - last_stats)
                last_stats = time.monotonic()
            if self.quota.due():  # a quiet line too: a plan change, a new day, the database's size
                self._reload_quota()
            if self.quota.shorten_due:  # over the storage quota: the plan drops the oldest raw days
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self.store.shorten_retention, self._resolver_lock
                )
            if self.quota.may_replay() and time.monotonic() - last_replay > REPLAY_EVERY_S:
                last_replay = time.monotonic()  # parked samples the quota has room for again, oldest first
                assert self.resolver is not None
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self.store.replay_parked, self.resolver, self._resolver_lock
                )
            if not self._inbox:
                self._arrived.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), 0.2 if self.waker.pending else 0.5)
                if writing is not None and writing.done():
                    writing.result()  # a fatal writer error ends the loop now, not at the next batch
                if self.waker.pending and not self._inbox:  # a trigger held back by TRIGGER_INTERVAL_S
                    await asyncio.get_running_loop().run_in_executor(self._executor, self.store.flush_triggers)
                continue
            chunks = self._take_batch()
            decoded = await self._decode_retrying(chunks)
            # Formatted here, not in the writer thread: the writer's thread then only waits on PostgreSQL.
            # A sample prepare() cannot format is its message's problem: the writer thread isolates it.
            batch: PreparedBatch | None
            try:
                batch = prepare(decoded.samples, optimistic=True)
            except Exception as exc:  # noqa: BLE001  (anything content makes fail is isolated, see BatchStore.store)
                _logger.warning(
                    "batch could not be formatted (%s); isolating the guilty messages", deadletter.one_line(exc)
                )
                batch = None
            if writing is not None:
                await writing
            # Handed to the writer thread now, not when this coroutine next yields: the next batch's
            # decoding must run while this one is written (measured: it did not, and took as long).
            stored = asyncio.get_running_loop().run_in_executor(self._executor, self.store.store, decoded, batch)
            writing = asyncio.get_running_loop().create_task(self._acknowledge(chunks, decoded, stored))
        if writing is not None:
            await writing
        self._log_stats(max(1e-3, time.monotonic() - last_stats))  # what the last window counted, said at a stop

    def _reload_quota(self) -> None:
        """The quotas and the database's size again (every RELOAD_S, also while no message arrives)."""
        assert self.resolver is not None
        try:
            with self._resolver_lock:
                self.quota.load(self.resolver.cr)
        except psycopg2.Error as exc:  # the next batch's decoding reconnects; the next reload tries again
            self.quota.loaded_at = time.monotonic()
            _logger.warning("quotas not reloaded (%s); trying again in %.0f s", deadletter.one_line(exc), RELOAD_S)

    def _take_batch(self) -> list[tuple[MqttSession, list[wire.Publish]]]:
        chunks, count, size = [], 0, 0
        while self._inbox and count < self.settings.batch_max_messages and size < BATCH_MAX_BYTES:
            chunk = self._inbox.popleft()
            chunks.append(chunk)
            count += len(chunk[1])
            size += sum([len(p[1]) for p in chunk[1]])
        self._inbox_messages -= count
        self._inbox_bytes -= size
        if (
            self._inbox_messages <= INBOX_HIGH_WATER // 2
            and self._inbox_bytes <= INBOX_HIGH_WATER_BYTES // 2
            and self.session is not None
        ):
            self.session.resume()
        return chunks

    async def _decode_retrying(self, chunks: list[tuple[MqttSession, list[wire.Publish]]]) -> Decoded:
        backoff = Backoff(first=0.5, cap=10.0)
        async for attempt in attempts(backoff):
            if attempt > 1:
                with contextlib.suppress(psycopg2.Error):
                    self.connect_resolver()
            try:
                return self._decode(chunks)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                if not is_outage(exc):
                    raise  # _decode dead-letters these per message; anything left is the tag tables' fault
                _logger.warning(
                    "tag lookup failed (%s); retrying in %.1f s", str(exc).strip() or type(exc).__name__, backoff.delay
                )
        raise AssertionError("attempts() ends only when its loop does")

    def _decode(self, chunks: list[tuple[MqttSession, list[wire.Publish]]]) -> Decoded:
        assert self.resolver is not None
        samples: list[SampleRow] = []
        dead: list[deadletter.DeadLetter] = []
        messages: list[tuple[str, bytes]] = []
        ends: list[int] = []
        events: list[AnalyticsRow] = []
        parked: list[tuple[str, bytes, int]] = []
        admitted = admitted_bytes = received_bytes = 0
        with self._resolver_lock:
            if time.monotonic() - self.resolver.loaded_at > TAG_RELOAD_S:
                self.resolver.load()
            if self.quota.due():
                self.quota.load(self.resolver.cr)
            for _session, publishes in chunks:
                for topic, payload, _packet_id in publishes:
                    before_events = len(events)
                    before_samples = len(samples)
                    received_bytes += len(payload)
                    try:
                        decode_message(topic, payload, self.resolver, samples, dead, events)
                        count = len(samples) - before_samples
                        # Over the plan's samples or bytes per day, or its storage: kept aside. Only a message's
                        # samples wait (its events and dead letters are stored now), so only messages with
                        # samples are counted against the quotas.
                        if count and not self.quota.admit(count, len(payload)):
                            del samples[before_samples:]
                            parked.append((topic, bytes(payload), count))
                        elif count:
                            admitted += count
                            admitted_bytes += len(payload)
                    except Exception as exc:
                        if isinstance(exc, psycopg2.Error) and (
                            is_outage(exc) or isinstance(exc, psycopg2.ProgrammingError)
                        ):
                            raise  # the database is away (retried) or the tag tables are wrong (fatal)
                        # decode_message raises nothing a payload can cause; should it, it is the message's
                        del samples[ends[-1] if ends else 0 :]
                        del events[before_events:]
                        dead.append(
                            deadletter.DeadLetter(topic, payload, f"could not decode: {deadletter.one_line(exc)}")
                        )
                    messages.append((topic, payload))
                    ends.append(len(samples))
            counter_tags = self.resolver.counter_tags
            counters = bool(counter_tags) and not counter_tags.isdisjoint([sample[0] for sample in samples])
        return Decoded(
            samples, dead, messages, ends, events, counters, parked, admitted, admitted_bytes, received_bytes
        )

    async def _acknowledge(
        self,
        chunks: list[tuple[MqttSession, list[wire.Publish]]],
        decoded: Decoded,
        storing: asyncio.Future[tuple[int | None, list[deadletter.DeadLetter]]],
    ) -> None:
        """Once the writer thread committed the batch, acknowledge its messages."""
        try:
            stored, dead = await storing
        except Exception as exc:
            _logger.exception("the historian writer stopped")
            raise WriterStopped() from exc
        if stored is None:
            return  # stopping during a database outage: unacknowledged, the broker redelivers
        for session, publishes in chunks:
            # Only on the connection they came in on; after a reconnect the broker redelivers them.
            session.ack([packet_id for _topic, _payload, packet_id in publishes if packet_id])
        newest = max((sample[1] for sample in decoded.samples), default=0)
        events, self.store.events_stored = self.store.events_stored, 0
        self._count(len(decoded.messages), len(decoded.samples), stored, len(dead), newest, events)

    def stop(self, *_args: object) -> None:
        self.stopping = self.store.stopping = True
        if self._arrived is not None:
            self._arrived.set()

    # --- observability ---------------------------------------------------------------------------

    def _count(self, messages: int, samples: int, stored: int, dead: int, newest_ms: int, events: int = 0) -> None:
        for key, value in (
            ("messages", messages),
            ("samples", samples),
            ("dead_letters", dead),
            ("batches", 1),
            ("events", events),
        ):
            self.totals[key] += value
            self._window[key] += value
        self.totals["stored"] += stored
        self._window["stored"] += stored
        if newest_ms:
            self._lag_s = max(0.0, time.time() - newest_ms / 1000)

    def _log_stats(self, elapsed: float) -> None:
        w = self._window
        _logger.info(
            "ingest: %.0f samples/s, %.0f messages/s, %.0f messages/batch, lag %.2f s, waiting %d, "
            "dead letters %d (total %d), samples not new %d (total %d), discovered tags %d",
            w["samples"] / elapsed,
            w["messages"] / elapsed,
            w["messages"] / max(1, w["batches"]),
            self._lag_s,
            self._inbox_messages,
            w["dead_letters"],
            self.totals["dead_letters"],
            # a (tag, time) stored already: a redelivery, or the loser of two values at one time (the first stays)
            w["samples"] - w["stored"],
            self.totals["samples"] - self.totals["stored"],
            self.resolver.discovered if self.resolver else 0,
        )
        if w["events"]:
            _logger.info(
                "analytics events: %d new (total %d), Odoo's cron woken %d times",
                w["events"],
                self.totals["events"],
                self.waker.triggered,
            )
        self._window = dict.fromkeys(self._window, 0)
        self._log_contracts()

    def _log_contracts(self) -> None:
        """Messages under contracts that are not stored: undeclared ones as a warning (declare them or stop
        sending them), _local as information (UMH's rule). Only what changed since the last stats line."""
        if self.resolver is None:
            return
        undeclared = self.resolver.undeclared
        new = {
            name: count - self._undeclared_logged.get(name, 0)
            for name, count in undeclared.items()
            if count != self._undeclared_logged.get(name, 0)
        }
        if new:
            _logger.warning(
                "messages under undeclared data contracts, not stored (declare them in Hyperfactory > Data "
                "contracts): %s",
                ", ".join(f"{name} {count} (total {undeclared[name]})" for name, count in sorted(new.items())[:20]),
            )
            self._undeclared_logged = dict(undeclared)
        local = self.resolver.local_skipped
        if local != self._local_logged:
            _logger.info(
                "_local messages not stored (UMH: _local stays in the plant): %d (total %d)",
                local - self._local_logged,
                local,
            )
            self._local_logged = local
