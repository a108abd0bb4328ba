"""The writer thread's side of the ingest: one connection, one transaction per batch (samples, dead letters,
analytics events, parked samples and the crons to wake), committed before the loop acknowledges the batch.

Retries through database outages with hf_core's Backoff. A batch PostgreSQL refuses is split to find the
messages that make it fail (:meth:`BatchStore._store_isolating`); one that keeps failing as if the database were
away while it answers is stored message by message (:meth:`BatchStore._store_serially`). Every method runs in
the one writer thread (psycopg2 blocks), except ``stopping``, which the loop sets.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, NamedTuple

import psycopg2
import psycopg2.errors

from hf_core.retry import Backoff
from hf_historian import retention
from hf_historian.ingest import deadletter
from hf_historian.ingest.analytics import COUNTERS_CRON, EVENTS_CRON, AnalyticsRow, CronWaker, write_events
from hf_historian.ingest.decoder import decode_message
from hf_historian.ingest.quota import DailyQuota, count_day, release, take_parked
from hf_historian.ingest.resolver import TagResolver
from hf_historian.ingest.settings import POISON_REPLAYS
from hf_historian.writer import HistorianWriter, PreparedBatch, SampleRow, prepare

_logger = logging.getLogger(__name__)


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
    admitted_bytes: int = 0  # their messages' payload bytes
    received_bytes: int = 0  # payload bytes of every message of the batch (the tenant's bandwidth)


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


def retry_whole(exc: BaseException) -> bool:
    """An outage, or parallel ingests meeting on the same rows: nothing any message of the batch did."""
    return is_outage(exc) or isinstance(exc, (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure))


class BatchStore:
    """Stores decoded batches in the historian database (``dsn``); ``waker`` and ``quota`` are the ingest's."""

    def __init__(self, dsn: str, waker: CronWaker, quota: DailyQuota) -> None:
        self.dsn = dsn
        self.waker = waker
        self.quota = quota
        self.conn: Any = None
        self.writer: HistorianWriter | None = None
        self.stopping = False
        self.events_stored = 0  # by the last batch, counted by the loop when it acknowledges it

    def open(self) -> None:
        self.conn = psycopg2.connect(self.dsn)
        self.writer = HistorianWriter(self.conn.cursor(), optimistic=True)
        self.conn.commit()

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()

    def store(self, decoded: Decoded, batch: PreparedBatch | None) -> tuple[int | None, list[deadletter.DeadLetter]]:
        """Write the batch and its dead letters and commit (runs in the writer thread).

        Retries through database outages. Anything else that fails (what a message's content can make
        fail: prepare(), a value PostgreSQL refuses, even "out of memory" for a batch too large to take)
        splits the batch (:meth:`_store_isolating`). A batch that keeps failing with what looks like an
        outage while the database answers again is stored message by message (:meth:`_store_serially`).
        Returns (samples stored, dead letters stored), or (None, …) when asked to stop during an outage."""
        backoff = Backoff(first=0.5, cap=10.0)
        failed_while_up = 0
        while True:
            writer = self.writer  # a reconnect replaces it
            assert writer is not None
            if failed_while_up >= POISON_REPLAYS:
                _logger.warning(
                    "batch of %d messages failed %d times with the database up; storing it message by message",
                    len(decoded.messages),
                    failed_while_up,
                )
                return self._store_serially(decoded)
            try:
                if batch is None:
                    stored, dead = self._store_isolating(writer, decoded)
                else:
                    stored, dead = writer.write_prepared(batch), decoded.dead
                return stored, self._commit(decoded, dead)
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
                _logger.warning(
                    "historian database unavailable (%s); retrying the batch of %d messages in %.1f s",
                    deadletter.one_line(exc),
                    len(decoded.messages),
                    backoff.delay,
                )
                backoff.sleep()
                if self.reconnect():
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
            rows = samples[ends[first - 1] if first else 0 : ends[last - 1]]
            if not rows:
                return 0
            cr.execute("SAVEPOINT hf_isolate")
            try:
                stored = writer.write_prepared(prepare(rows, optimistic=writer.optimistic))
            except Exception as exc:
                if retry_whole(exc):
                    raise
                cr.execute("ROLLBACK TO SAVEPOINT hf_isolate")
                writer.refresh_partitions()
                if last - first == 1:
                    topic, payload = messages[first]
                    letters.append(
                        deadletter.DeadLetter(topic, payload, f"could not be stored: {deadletter.one_line(exc)}")
                    )
                    return 0
                middle = (first + last) // 2
                return attempt(first, middle) + attempt(middle, last)
            cr.execute("RELEASE SAVEPOINT hf_isolate")
            return stored

        stored = attempt(0, len(messages)) if messages else 0
        _logger.warning(
            "batch isolated: %d samples stored, %d messages dead-lettered", stored, len(letters) - len(dead)
        )
        return stored, letters

    def _store_serially(self, decoded: Decoded) -> tuple[int | None, list[deadletter.DeadLetter]]:
        """The last resort for a batch that keeps failing as if the database were away while it answers:
        one message per transaction; a message failing POISON_REPLAYS times that way is dead-lettered."""
        samples, dead, messages, ends = decoded.samples, decoded.dead, decoded.messages, decoded.ends
        letters = list(dead)
        stored, index, tries, backoff = 0, 0, 0, Backoff(first=0.5, cap=10.0)
        while True:
            writer = self.writer
            assert writer is not None
            try:
                if index == len(messages):  # the messages are in: now their events and dead letters
                    return stored, self._commit(decoded, letters)
                stored += writer.write(samples[ends[index - 1] if index else 0 : ends[index]])
                self.conn.commit()
            except Exception as exc:
                with contextlib.suppress(psycopg2.Error):
                    self._rollback(writer)
                if index == len(messages) and not retry_whole(exc):
                    raise  # the dead letters themselves are refused: nothing a message did
                if retry_whole(exc) and (tries < POISON_REPLAYS or index == len(messages)):
                    backoff.sleep()
                    if self.reconnect():
                        tries += 1
                    if self.stopping:
                        return None, letters
                    continue
                topic, payload = messages[index]
                letters.append(
                    deadletter.DeadLetter(topic, payload, f"could not be stored: {deadletter.one_line(exc)}")
                )
            index, tries = index + 1, 0
            backoff.reset()

    def _commit(self, decoded: Decoded, dead: list[deadletter.DeadLetter]) -> list[deadletter.DeadLetter]:
        """With the batch's samples written: its events and dead letters, the crons to wake, commit. Returns
        the dead letters stored (with any event PostgreSQL refused)."""
        dead = self._store_events(decoded, dead)
        deadletter.store(self.conn.cursor(), dead)
        triggered = self.waker.flush(self.conn.cursor())
        self.conn.commit()
        self._after_commit(triggered)
        return dead

    def _store_events(self, decoded: Decoded, dead: list[deadletter.DeadLetter]) -> list[deadletter.DeadLetter]:
        """Insert the batch's analytics events (in its transaction); ask for the crons that consume them
        and the batch's counter samples. Returns the dead letters with any event PostgreSQL refused."""
        inserted, refused = write_events(self.conn.cursor(), decoded.events, retry_whole)
        self.events_stored = inserted
        count_day(
            self.conn.cursor(),
            decoded.parked,
            decoded.admitted,
            decoded.admitted_bytes,
            (len(decoded.messages), decoded.received_bytes),
            self.quota.why_parked(),
        )
        if inserted:
            self.waker.want(EVENTS_CRON)
        if decoded.counters:
            self.waker.want(COUNTERS_CRON)
        return [*dead, *refused] if refused else dead

    def _after_commit(self, triggered: bool) -> None:
        if triggered:
            self.waker.notify(self.conn.info.dbname)

    def flush_triggers(self) -> None:
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

    def reconnect(self) -> bool:
        """A new writer connection; True when the database answered."""
        with contextlib.suppress(psycopg2.Error):
            if self.conn is not None:
                self.conn.close()
        try:
            self.open()
        except psycopg2.Error as exc:
            _logger.debug("database still away: %s", exc)
            return False
        _logger.info("historian database reconnected")
        return True

    def replay_parked(self, resolver: TagResolver, resolver_lock: threading.Lock) -> None:
        """Store parked messages the quota has room for again, in arrival order. Their dead letters and events
        were stored when they arrived; only their samples waited. ``resolver`` is shared with the loop."""
        assert self.writer is not None
        cr = self.conn.cursor()
        reserved = reserved_bytes = 0
        try:
            with resolver_lock:
                taken = take_parked(cr, self.quota.room(), self.quota.bytes_room())
                samples: list[SampleRow] = []
                for _row_id, topic, payload, _count in taken:
                    decode_message(topic, payload, resolver, samples, [], [])
                reserved, reserved_bytes = len(samples), sum(len(row[2]) for row in taken)
                self.quota.used += reserved
                self.quota.bytes_used += reserved_bytes
            if not taken:
                self.conn.rollback()
                return
            stored = self.writer.write(samples)
            waiting = release(cr, taken, len(samples))
            self.conn.commit()
            self.quota.parked_waiting = waiting
            _logger.info("%d parked messages stored (%d samples); %d still parked", len(taken), stored, waiting)
        except psycopg2.Error as exc:
            with resolver_lock:
                self.quota.used -= reserved
                self.quota.bytes_used -= reserved_bytes
            with contextlib.suppress(psycopg2.Error):
                self._rollback(self.writer)
            _logger.warning("parked samples not stored yet (%s); trying again", deadletter.one_line(exc))

    def shorten_retention(self, resolver_lock: threading.Lock) -> None:
        """Over the storage quota with a plan that shortens retention: drop the oldest raw days until the
        database fits, then measure it again (writer thread: a partition's DROP waits for no batch of ours)."""
        assert self.writer is not None
        limit = self.quota.storage_limit
        if limit is None:
            return
        try:
            dropped, kept_from = retention.shorten_to_size(self.conn.cursor(), limit)
            self.conn.commit()
            if dropped:
                self.writer.refresh_partitions()
            with resolver_lock:
                self.quota.check_storage(self.conn.cursor(), had_notice=True, shortened=True, kept_from=kept_from)
            self.conn.commit()
        except psycopg2.Error as exc:
            with contextlib.suppress(psycopg2.Error):
                self._rollback(self.writer)
            self.quota.shorten_due = False  # the next reload (RELOAD_S) tries again
            _logger.warning("raw history not shortened yet (%s); trying again", deadletter.one_line(exc))
