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
import multiprocessing
import signal
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, NamedTuple
from urllib.parse import urlparse

import psycopg2
import psycopg2.errors

from hf_core.errors import ConfigError, HfError
from hf_historian.ingest import deadletter
from hf_historian.ingest import mqtt_wire as wire
from hf_historian.ingest.analytics import COUNTERS_CRON, EVENTS_CRON, AnalyticsRow, CronWaker, write_events
from hf_historian.ingest.decoder import decode_message
from hf_historian.ingest.mqtt_session import BrokerAddress, BrokerRefused, MqttSession
from hf_historian.ingest.quota import SampleQuota, park, release, take_parked
from hf_historian.ingest.resolver import (
    DEFAULT_MAX_NEW_TAGS_PER_MESSAGE,
    DEFAULT_MAX_TAGS_PER_WORKCELL,
    TagResolver,
)
from hf_historian.writer import HistorianWriter, PreparedBatch, SampleRow, prepare

_logger = logging.getLogger(__name__)
# In flight (unacknowledged) at most: the inbox, the batch being decoded, the one being written.
# Bounds the ingest's memory as much as the batch size does.
RECEIVE_MAXIMUM = 40_000
SESSION_EXPIRY_S = 7 * 24 * 3600
# Messages waiting to be decoded beyond which the ingest stops reading the socket. QoS 1 is already bounded
# by RECEIVE_MAXIMUM; this bounds a QoS 0 flood too (the broker then queues or drops it by its policy).
INBOX_HIGH_WATER = 60_000
# The same in payload bytes: 40,000 messages in flight of up to 1 MB each would be 40 GB (a flood of large
# messages, each within the limits, must not take the ingest's memory with it).
INBOX_HIGH_WATER_BYTES = 64 * 1024 * 1024
# A batch stops at this many payload bytes too (two batches are held at once: one decoded, one written).
BATCH_MAX_BYTES = 16 * 1024 * 1024
# Tags edited in Odoo (data type, historian off, retention class) are seen within this delay.
TAG_RELOAD_S = 60.0
# How often parked samples (over a tenant's samples-per-day quota) are retried while any wait
REPLAY_EVERY_S = 2.0
# A batch failing this many times as if the database were away, while it answers again, holds a message
# that makes it fail: it is then stored message by message, and such a message dead-lettered.
POISON_REPLAYS = 3


@dataclass(frozen=True, slots=True)
class IngestSettings:
    mqtt_url: str
    dsn: str
    topic: str = "umh/v1/#"
    client_id: str = "hf-ingest"
    batch_max_messages: int = 10_000
    discover: bool = True
    stats_interval_s: float = 10.0
    start_attempts: int = 5
    # publish Odoo's outbound analytics events (one publisher per database holds an advisory lock)
    publish: bool = True
    # discovery's bounds: tags per workcell (discovered or not), new tags one message may create
    max_tags_per_workcell: int = DEFAULT_MAX_TAGS_PER_WORKCELL
    max_new_tags_per_message: int = DEFAULT_MAX_NEW_TAGS_PER_MESSAGE

    def __post_init__(self) -> None:
        url = urlparse(self.mqtt_url)
        if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
            raise ConfigError(f"--mqtt-url {self.mqtt_url!r} must look like mqtt://host:1883 or mqtts://host:8883.")
        if self.max_tags_per_workcell < 0 or self.max_new_tags_per_message < 0:
            raise ConfigError("--max-tags-per-workcell and --max-new-tags-per-message may not be negative.")


class Decoded(NamedTuple):
    """A batch decoded: its samples and dead letters, and per message (in arrival order) its topic and
    payload and where its samples end in ``samples`` (so a failing batch can be split by message); its
    analytics events, and whether it holds samples of machine counters (hf_mrp books them)."""

    samples: list[SampleRow]
    dead: list[deadletter.DeadLetter]
    messages: list[tuple[str, bytes]]
    ends: list[int]
    events: list[AnalyticsRow]
    counters: bool = False
    parked: list[tuple[str, bytes, int]] = []  # noqa: RUF012  (a NamedTuple default; never mutated)
    admitted: int = 0  # samples counted against today's quota


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` means the database is away (retry the batch as it is), not that it refused the batch.

    A lost or refused connection (no SQLSTATE, class 08, 57P admin shutdown / crash / cannot connect now)
    is an outage. "Insufficient resources" (class 53: out of memory, disk full, too many connections…) is
    not: a batch asking too much must be split, not retried for ever while it hurts the other databases."""
    if isinstance(exc, psycopg2.InterfaceError):
        return True
    if not isinstance(exc, psycopg2.OperationalError):
        return False
    code = exc.pgcode or ""
    return not code or code.startswith(("08", "57P"))


def _retry_whole(exc: BaseException) -> bool:
    """An outage, or parallel ingests meeting on the same rows: nothing any message of the batch did."""
    return is_outage(exc) or isinstance(exc, (psycopg2.errors.DeadlockDetected,
                                              psycopg2.errors.SerializationFailure))


class FatalIngestError(HfError):
    """The ingest cannot start or go on; the message says what to fix."""


class WriterStopped(Exception):
    """The writer met an error that retrying cannot mend; its cause says which."""


class Ingest:
    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        url = urlparse(settings.mqtt_url)
        self.address = BrokerAddress(host=url.hostname or "localhost",
                                     port=url.port or (8883 if url.scheme == "mqtts" else 1883),
                                     tls=url.scheme == "mqtts", username=url.username, password=url.password)
        # What arrived, one chunk per socket read, with the connection to acknowledge it on.
        self._inbox: collections.deque[tuple[MqttSession, list[wire.Publish]]] = collections.deque()
        self._inbox_messages = 0
        self._inbox_bytes = 0
        self._arrived: asyncio.Event | None = None
        self.session: MqttSession | None = None
        self.stopping = False
        self.totals = {"messages": 0, "samples": 0, "stored": 0, "dead_letters": 0, "batches": 0, "events": 0}
        self._window = {"messages": 0, "samples": 0, "batches": 0, "dead_letters": 0, "stored": 0, "events": 0}
        self._events_stored = 0  # by the writer thread, counted by the loop with its batch
        self.waker = CronWaker(settings.dsn)
        self._undeclared_logged: dict[str, int] = {}
        self._local_logged = 0
        self._lag_s = 0.0
        self.conn: Any = None
        self.resolver_conn: Any = None
        self._resolver_lock = threading.Lock()  # the writer thread's rare one-by-one fallback decodes too
        self.writer: HistorianWriter | None = None
        self.resolver: TagResolver | None = None
        self.quota = SampleQuota()
        # One writer thread: PostgreSQL work (which releases the GIL) overlaps the next batch's decoding.
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="historian-writer")

    # --- connections -------------------------------------------------------------------------

    def connect_database(self) -> None:
        """Two connections: the writer's (one transaction per batch, acknowledged after commit) and
        the resolver's (autocommit: a discovered tag exists before any sample refers to it)."""
        self._open_writer()
        self.connect_resolver()

    def _open_writer(self) -> None:
        self.conn = psycopg2.connect(self.settings.dsn)
        self.writer = HistorianWriter(self.conn.cursor(), optimistic=True)
        self.conn.commit()

    def connect_resolver(self) -> None:
        if self.resolver_conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.resolver_conn.close()
        self.resolver_conn = psycopg2.connect(self.settings.dsn)
        self.resolver_conn.autocommit = True
        self.resolver = TagResolver(self.resolver_conn.cursor(), discover=self.settings.discover,
                                    max_tags_per_workcell=self.settings.max_tags_per_workcell,
                                    max_new_tags_per_message=self.settings.max_new_tags_per_message)
        self.quota.load(self.resolver_conn.cursor())

    def _new_session(self) -> MqttSession:
        return MqttSession(self.address, self.settings.client_id, self.settings.topic, self._on_messages,
                           session_expiry_s=SESSION_EXPIRY_S, receive_maximum=RECEIVE_MAXIMUM)

    def _on_messages(self, session: MqttSession, publishes: list[wire.Publish]) -> None:
        self._inbox.append((session, publishes))
        self._inbox_messages += len(publishes)
        self._inbox_bytes += sum([len(p[1]) for p in publishes])
        if self._inbox_messages > INBOX_HIGH_WATER or self._inbox_bytes > INBOX_HIGH_WATER_BYTES:
            session.pause()
        assert self._arrived is not None
        self._arrived.set()

    async def connect_broker(self) -> None:
        """The first connection: a few attempts, then a fatal error that says what to check."""
        where = f"{self.address.host}:{self.address.port}"
        delay = 1.0
        for attempt in range(1, self.settings.start_attempts + 1):
            session = self._new_session()
            try:
                await session.open()
                break
            except BrokerRefused as exc:
                raise FatalIngestError(f"The MQTT broker at {where} refused the ingest; check the user, "
                                       "password and ACL in --mqtt-url.", detail=str(exc)) from exc
            except (OSError, TimeoutError, wire.ProtocolError) as exc:
                if attempt == self.settings.start_attempts:
                    raise FatalIngestError(
                        f"The MQTT broker at {where} did not answer after {attempt} attempts; "
                        "check --mqtt-url and that the broker runs.", detail=str(exc)) from exc
                _logger.warning("broker %s unreachable (%s); retrying in %.0f s", where, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 8)
        self.session = session
        _logger.info("subscribed to %s on %s", self.settings.topic, where)

    async def _stay_connected(self) -> None:
        """Reconnect for ever after the first connection (1 s doubling to 30 s between tries)."""
        while not self.stopping:
            assert self.session is not None and self.session.closed is not None
            why = await asyncio.shield(self.session.closed)  # cancelling us must not cancel it
            if self.stopping:
                # stop() may have run during the await; mypy keeps the loop condition's narrowing across it
                return  # type: ignore[unreachable]
            _logger.warning("broker connection lost (%s); reconnecting, unacknowledged messages will be "
                            "redelivered", why)
            delay = 1.0
            while not self.stopping:
                session = self._new_session()
                try:
                    await session.open()
                except Exception as exc:  # noqa: BLE001  (whatever the broker did, this loop must go on)
                    _logger.warning("broker still away (%s: %s); retrying in %.0f s", type(exc).__name__, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30)
                    continue
                self.session = session
                _logger.info("broker reconnected (session %s)", "kept" if session.session_present else "new")
                break

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self.connect_database()
        except psycopg2.errors.UndefinedTable as exc:
            raise FatalIngestError(
                "The database has no hf_uns tables: install the hf_uns module in this Odoo database first.",
                detail=str(exc).strip()) from exc
        except psycopg2.Error as exc:
            raise FatalIngestError(
                "The ingest cannot open the historian database; check --dsn (host, dbname, user).",
                detail=str(exc).strip()) from exc
        try:
            asyncio.run(self._main())
        finally:
            self._executor.shutdown(wait=True)
            for conn in (self.conn, self.resolver_conn):
                if conn is not None:
                    with contextlib.suppress(psycopg2.Error):
                        conn.close()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._arrived = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        await self.connect_broker()
        keeper = loop.create_task(self._stay_connected())
        publisher = None
        if self.settings.publish:
            from hf_historian.ingest.publisher import OutboundPublisher

            publisher = loop.create_task(OutboundPublisher(self.address, self.settings).run())
        try:
            await self._pipeline()
        except psycopg2.Error as exc:  # not an outage (those are retried): the tag tables refuse us
            raise FatalIngestError("The ingest cannot read the hf_uns tag tables; is hf_uns up to date?",
                                   detail=str(exc).strip()) from exc
        except WriterStopped as exc:
            raise FatalIngestError(
                "The ingest stopped: the historian database refuses its writes (see the error above); "
                "unacknowledged messages stay with the broker.", detail=str(exc.__cause__).strip()) from exc
        finally:
            self.stopping = True
            keeper.cancel()
            if publisher is not None:
                publisher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await publisher
            if self.session is not None:
                await self.session.close()
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
            if self.quota.parked_waiting and self.quota.room() != 0 and time.monotonic() - last_replay > REPLAY_EVERY_S:
                last_replay = time.monotonic()  # parked samples the quota has room for again, oldest first
                await asyncio.get_running_loop().run_in_executor(self._executor, self._replay_parked)
            if not self._inbox:
                self._arrived.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), 0.2 if self.waker.pending else 0.5)
                if writing is not None and writing.done():
                    writing.result()  # a fatal writer error ends the loop now, not at the next batch
                if self.waker.pending and not self._inbox:  # a trigger held back by TRIGGER_INTERVAL_S
                    await asyncio.get_running_loop().run_in_executor(self._executor, self._flush_triggers)
                continue
            chunks = self._take_batch()
            decoded = await self._decode_retrying(chunks)
            # Formatted here, not in the writer thread: the writer's thread then only waits on PostgreSQL.
            # A sample prepare() cannot format is its message's problem: the writer thread isolates it.
            batch: PreparedBatch | None
            try:
                batch = prepare(decoded.samples, optimistic=True)
            except Exception as exc:  # noqa: BLE001  (anything content makes fail is isolated, see _store)
                _logger.warning("batch could not be formatted (%s); isolating the guilty messages",
                                deadletter.one_line(exc))
                batch = None
            if writing is not None:
                await writing
            # Handed to the writer thread now, not when this coroutine next yields: the next batch's
            # decoding must run while this one is written (measured: it did not, and took as long).
            stored = asyncio.get_running_loop().run_in_executor(self._executor, self._store, decoded, batch)
            writing = asyncio.get_running_loop().create_task(self._acknowledge(chunks, decoded, stored))
        if writing is not None:
            await writing

    def _take_batch(self) -> list[tuple[MqttSession, list[wire.Publish]]]:
        chunks, count, size = [], 0, 0
        while self._inbox and count < self.settings.batch_max_messages and size < BATCH_MAX_BYTES:
            chunk = self._inbox.popleft()
            chunks.append(chunk)
            count += len(chunk[1])
            size += sum([len(p[1]) for p in chunk[1]])
        self._inbox_messages -= count
        self._inbox_bytes -= size
        if (self._inbox_messages <= INBOX_HIGH_WATER // 2 and self._inbox_bytes <= INBOX_HIGH_WATER_BYTES // 2
                and self.session is not None):
            self.session.resume()
        return chunks

    async def _decode_retrying(self, chunks: list[tuple[MqttSession, list[wire.Publish]]]) -> Decoded:
        delay = 0.5
        while True:
            try:
                return self._decode(chunks)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                if not is_outage(exc):
                    raise  # _decode dead-letters these per message; anything left is the tag tables' fault
                _logger.warning("tag lookup failed (%s); retrying in %.1f s", str(exc).strip() or type(exc).__name__,
                                delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
                with contextlib.suppress(psycopg2.Error):
                    self.connect_resolver()

    def _decode(self, chunks: list[tuple[MqttSession, list[wire.Publish]]]) -> Decoded:
        assert self.resolver is not None
        samples: list[SampleRow] = []
        dead: list[deadletter.DeadLetter] = []
        messages: list[tuple[str, bytes]] = []
        ends: list[int] = []
        events: list[AnalyticsRow] = []
        parked: list[tuple[str, bytes, int]] = []
        admitted = 0
        with self._resolver_lock:
            if time.monotonic() - self.resolver.loaded_at > TAG_RELOAD_S:
                self.resolver.load()
            if self.quota.due():
                self.quota.load(self.resolver.cr)
            for _session, publishes in chunks:
                for topic, payload, _packet_id in publishes:
                    before_events = len(events)
                    before_samples = len(samples)
                    try:
                        decode_message(topic, payload, self.resolver, samples, dead, events)
                        count = len(samples) - before_samples
                        if count and not self.quota.admit(count):  # over the plan's samples per day: kept aside
                            del samples[before_samples:]
                            parked.append((topic, bytes(payload), count))
                        else:
                            admitted += count
                    except Exception as exc:
                        if isinstance(exc, psycopg2.Error) and (
                                is_outage(exc) or isinstance(exc, psycopg2.ProgrammingError)):
                            raise  # the database is away (retried) or the tag tables are wrong (fatal)
                        # decode_message raises nothing a payload can cause; should it, it is the message's
                        del samples[ends[-1] if ends else 0:]
                        del events[before_events:]
                        dead.append(deadletter.DeadLetter(topic, payload, f"could not decode: "
                                                          f"{deadletter.one_line(exc)}"))
                    messages.append((topic, payload))
                    ends.append(len(samples))
            counter_tags = self.resolver.counter_tags
            counters = bool(counter_tags) and not counter_tags.isdisjoint([sample[0] for sample in samples])
        return Decoded(samples, dead, messages, ends, events, counters, parked, admitted)

    async def _acknowledge(
        self, chunks: list[tuple[MqttSession, list[wire.Publish]]], decoded: Decoded,
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
        events, self._events_stored = self._events_stored, 0
        self._count(len(decoded.messages), len(decoded.samples), stored, len(dead), newest, events)

    def stop(self, *_args: object) -> None:
        self.stopping = True
        if self._arrived is not None:
            self._arrived.set()

    def _store(self, decoded: Decoded, batch: PreparedBatch | None
               ) -> tuple[int | None, list[deadletter.DeadLetter]]:
        """Write the batch and its dead letters and commit (runs in the writer thread).

        Retries through database outages. Anything else that fails (what a message's content can make
        fail: prepare(), a value PostgreSQL refuses, even "out of memory" for a batch too large to take)
        splits the batch (:meth:`_store_isolating`). A batch that keeps failing with what looks like an
        outage while the database answers again is stored message by message (:meth:`_store_serially`).
        Returns (samples stored, dead letters stored), or (None, …) when asked to stop during an outage."""
        delay = 0.5
        failed_while_up = 0
        while True:
            writer = self.writer  # a reconnect replaces it
            assert writer is not None
            if failed_while_up >= POISON_REPLAYS:
                _logger.warning("batch of %d messages failed %d times with the database up; storing it message "
                                "by message", len(decoded.messages), failed_while_up)
                return self._store_serially(decoded)
            try:
                if batch is None:
                    stored, dead = self._store_isolating(writer, decoded)
                else:
                    stored, dead = writer.write_prepared(batch), decoded.dead
                dead = self._store_events(decoded, dead)
                deadletter.store(self.conn.cursor(), dead)
                triggered = self.waker.flush(self.conn.cursor())
                self.conn.commit()
                self._after_commit(triggered)
                return stored, dead
            except (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure) as exc:
                # Parallel ingests met on the same rows: nothing is wrong with the batch, store it again.
                self._rollback(writer)
                failed_while_up += 1
                _logger.info("batch met a parallel ingest (%s); storing it again", type(exc).__name__)
            except Exception as exc:
                if not is_outage(exc):
                    if batch is None:
                        raise  # isolating already failed on something no message caused: stop, say why
                    self._rollback(writer)
                    _logger.warning("batch refused (%s); isolating the guilty messages", deadletter.one_line(exc))
                    batch = None
                    continue
                _logger.warning("historian database unavailable (%s); retrying the batch of %d messages in %.1f s",
                                deadletter.one_line(exc), len(decoded.messages), delay)
                time.sleep(delay)
                delay = min(delay * 2, 10)
                if self._reconnect_writer():
                    failed_while_up += 1
                if self.stopping:
                    return None, decoded.dead

    def _rollback(self, writer: HistorianWriter) -> None:
        self.conn.rollback()
        writer.refresh_partitions()  # the rollback undid any partition the batch created

    def _store_isolating(self, writer: HistorianWriter, decoded: Decoded) -> tuple[int, list[deadletter.DeadLetter]]:
        """Store the batch in halves, each under a savepoint, halving whatever fails again: the good messages
        are stored in a few statements, each message that fails on its own becomes a dead letter with the
        exception's reason. Outages propagate (the caller retries the whole batch)."""
        samples, dead, messages, ends = decoded.samples, decoded.dead, decoded.messages, decoded.ends
        letters = list(dead)
        cr = self.conn.cursor()

        def attempt(first: int, last: int) -> int:  # messages [first, last)
            rows = samples[ends[first - 1] if first else 0:ends[last - 1]]
            if not rows:
                return 0
            cr.execute("SAVEPOINT hf_isolate")
            try:
                stored = writer.write_prepared(prepare(rows, optimistic=writer.optimistic))
            except Exception as exc:
                if _retry_whole(exc):
                    raise
                cr.execute("ROLLBACK TO SAVEPOINT hf_isolate")
                writer.refresh_partitions()
                if last - first == 1:
                    topic, payload = messages[first]
                    letters.append(deadletter.DeadLetter(topic, payload, f"could not be stored: "
                                                         f"{deadletter.one_line(exc)}"))
                    return 0
                middle = (first + last) // 2
                return attempt(first, middle) + attempt(middle, last)
            cr.execute("RELEASE SAVEPOINT hf_isolate")
            return stored

        stored = attempt(0, len(messages)) if messages else 0
        _logger.warning("batch isolated: %d samples stored, %d messages dead-lettered", stored,
                        len(letters) - len(dead))
        return stored, letters

    def _store_serially(self, decoded: Decoded) -> tuple[int | None, list[deadletter.DeadLetter]]:
        """The last resort for a batch that keeps failing as if the database were away while it answers:
        one message per transaction; a message failing POISON_REPLAYS times that way is dead-lettered."""
        samples, dead, messages, ends = decoded.samples, decoded.dead, decoded.messages, decoded.ends
        letters = list(dead)
        stored, index, tries, delay = 0, 0, 0, 0.5
        while True:
            writer = self.writer
            assert writer is not None
            try:
                if index == len(messages):  # the messages are in: now their events and dead letters
                    all_letters = self._store_events(decoded, letters)
                    deadletter.store(self.conn.cursor(), all_letters)
                    triggered = self.waker.flush(self.conn.cursor())
                    self.conn.commit()
                    self._after_commit(triggered)
                    return stored, all_letters
                stored += writer.write(samples[ends[index - 1] if index else 0:ends[index]])
                self.conn.commit()
            except Exception as exc:
                with contextlib.suppress(psycopg2.Error):
                    self._rollback(writer)
                if index == len(messages) and not _retry_whole(exc):
                    raise  # the dead letters themselves are refused: nothing a message did
                if _retry_whole(exc) and (tries < POISON_REPLAYS or index == len(messages)):
                    time.sleep(delay)
                    delay = min(delay * 2, 10)
                    if self._reconnect_writer():
                        tries += 1
                    if self.stopping:
                        return None, letters
                    continue
                topic, payload = messages[index]
                letters.append(deadletter.DeadLetter(topic, payload, f"could not be stored: "
                                                     f"{deadletter.one_line(exc)}"))
            index, tries, delay = index + 1, 0, 0.5

    def _store_events(self, decoded: Decoded, dead: list[deadletter.DeadLetter]) -> list[deadletter.DeadLetter]:
        """Insert the batch's analytics events (in its transaction); ask for the crons that consume them
        and the batch's counter samples. Returns the dead letters with any event PostgreSQL refused."""
        inserted, refused = write_events(self.conn.cursor(), decoded.events, _retry_whole)
        self._events_stored = inserted
        if decoded.parked or (decoded.admitted and self.quota.limit is not None):
            park(self.conn.cursor(), decoded.parked, decoded.admitted, self.quota.limit)
        if inserted:
            self.waker.want(EVENTS_CRON)
        if decoded.counters:
            self.waker.want(COUNTERS_CRON)
        return [*dead, *refused] if refused else dead

    def _replay_parked(self) -> None:
        """Store parked messages the quota has room for again (writer thread), in arrival order. Their dead
        letters and events were stored when they arrived; only their samples waited."""
        assert self.resolver is not None and self.writer is not None
        cr = self.conn.cursor()
        reserved = 0
        try:
            with self._resolver_lock:
                taken = take_parked(cr, self.quota.room())
                samples: list[SampleRow] = []
                for _row_id, topic, payload, _count in taken:
                    decode_message(topic, payload, self.resolver, samples, [], [])
                reserved = len(samples)
                self.quota.used += reserved
            if not taken:
                self.conn.rollback()
                return
            stored = self.writer.write(samples)
            waiting = release(cr, taken, len(samples))
            self.conn.commit()
            self.quota.parked_waiting = waiting
            _logger.info("%d parked messages stored (%d samples); %d still parked", len(taken), stored, waiting)
        except psycopg2.Error as exc:
            with self._resolver_lock:
                self.quota.used -= reserved
            with contextlib.suppress(psycopg2.Error):
                self._rollback(self.writer)
            _logger.warning("parked samples not stored yet (%s); trying again", deadletter.one_line(exc))

    def _after_commit(self, triggered: bool) -> None:
        if triggered:
            self.waker.notify(self.conn.info.dbname)

    def _flush_triggers(self) -> None:
        """The triggers TRIGGER_INTERVAL_S held back, once the flow pauses (writer thread)."""
        try:
            triggered = self.waker.flush(self.conn.cursor())
            self.conn.commit()
        except psycopg2.Error as exc:
            with contextlib.suppress(psycopg2.Error):
                self.conn.rollback()
            _logger.warning("could not wake Odoo's cron jobs (%s); retrying", deadletter.one_line(exc))
            return
        self._after_commit(triggered)

    def _reconnect_writer(self) -> bool:
        """A new writer connection; True when the database answered."""
        with contextlib.suppress(psycopg2.Error):
            if self.conn is not None:
                self.conn.close()
        try:
            self._open_writer()
        except psycopg2.Error as exc:
            _logger.debug("database still away: %s", exc)
            return False
        _logger.info("historian database reconnected")
        return True

    # --- observability ---------------------------------------------------------------------------

    def _count(self, messages: int, samples: int, stored: int, dead: int, newest_ms: int, events: int = 0) -> None:
        for key, value in (("messages", messages), ("samples", samples), ("dead_letters", dead), ("batches", 1),
                           ("events", events)):
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
            w["samples"] / elapsed, w["messages"] / elapsed, w["messages"] / max(1, w["batches"]), self._lag_s,
            self._inbox_messages, w["dead_letters"], self.totals["dead_letters"],
            # a (tag, time) stored already: a redelivery, or the loser of two values at one time (the first stays)
            w["samples"] - w["stored"], self.totals["samples"] - self.totals["stored"],
            self.resolver.discovered if self.resolver else 0,
        )
        if w["events"]:
            _logger.info("analytics events: %d new (total %d), Odoo's cron woken %d times", w["events"],
                         self.totals["events"], self.waker.triggered)
        self._window = dict.fromkeys(self._window, 0)
        self._log_contracts()

    def _log_contracts(self) -> None:
        """Messages under contracts that are not stored: undeclared ones as a warning (declare them or stop
        sending them), _local as information (UMH's rule). Only what changed since the last stats line."""
        if self.resolver is None:
            return
        undeclared = self.resolver.undeclared
        new = {name: count - self._undeclared_logged.get(name, 0) for name, count in undeclared.items()
               if count != self._undeclared_logged.get(name, 0)}
        if new:
            _logger.warning(
                "messages under undeclared data contracts, not stored (declare them in Hyperfactory > Data "
                "contracts): %s", ", ".join(f"{name} {count} (total {undeclared[name]})"
                                            for name, count in sorted(new.items())[:20]))
            self._undeclared_logged = dict(undeclared)
        local = self.resolver.local_skipped
        if local != self._local_logged:
            _logger.info("_local messages not stored (UMH: _local stays in the plant): %d (total %d)",
                         local - self._local_logged, local)
            self._local_logged = local


def shared(settings: IngestSettings, index: int, group: str) -> IngestSettings:
    """Worker ``index`` of a group: its own persistent session, and the broker's MQTT 5 shared subscription
    hands each message to one worker of the group only."""
    topic = settings.topic if settings.topic.startswith("$share/") else f"$share/{group}/{settings.topic}"
    # one publisher is enough (and keeps the order): the first worker's; the advisory lock guards the rest
    return replace(settings, topic=topic, client_id=f"{settings.client_id}-{index}",
                   publish=settings.publish and index == 1)


def run_workers(settings: IngestSettings, workers: int, group: str = "hf-ingest") -> int:
    """``workers`` ingest processes sharing the subscription (the ingest is CPU-bound in Python: one
    process uses one core). Stops them all on SIGINT/SIGTERM; exits with the worst worker's code."""
    if workers <= 1:
        return run_forever(settings)
    context = multiprocessing.get_context("spawn")
    configs = [shared(settings, i, group) for i in range(1, workers + 1)]
    processes = [context.Process(target=_worker_main, args=(config,), name=config.client_id) for config in configs]
    for process in processes:
        process.start()
    _logger.info("%d ingest workers share %s", workers, configs[0].topic)

    def stop(*_args: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: each worker finishes its batch and acknowledges it

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = None
    while any(p.is_alive() for p in processes):
        for process in processes:
            process.join(timeout=0.5)
            if failed is None and process.exitcode not in (None, 0):
                failed = process
                _logger.error("ingest worker %s stopped (exit %s); stopping the others", process.name,
                              process.exitcode)
                stop()
    return 0 if all(p.exitcode == 0 for p in processes) else 2


def _worker_main(settings: IngestSettings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
    raise SystemExit(run_forever(settings))


def run_forever(settings: IngestSettings) -> int:
    """Run until SIGINT/SIGTERM; 0 on a clean stop, 2 on a fatal error (after saying why)."""
    ingest = Ingest(settings)
    # Until the event loop takes over SIGTERM/SIGINT (connecting to the database comes first).
    signal.signal(signal.SIGTERM, ingest.stop)
    signal.signal(signal.SIGINT, ingest.stop)
    try:
        ingest.run()
    except FatalIngestError as exc:
        _logger.error("%s (%s)", exc, exc.detail)
        return 2
    return 0
