"""The ingest loop: MQTT (QoS 1, manual acknowledgements) → decode → historian, acknowledged after commit.

Guarantee: a message is acknowledged (PUBACK) only after the transaction holding its samples (or its
dead letter) committed. If the ingest or the database goes away first, the broker still holds the
message in the ingest's persistent session and delivers it again; the historian's (tag, time)
uniqueness makes the replay harmless. We speak MQTT 5 and announce a large Receive Maximum so the
broker lets a whole batch be in flight at once (Mosquitto's 20-message default applies to 3.1.1).

paho-mqtt and psycopg2 are both blocking libraries, so this is threads, not asyncio: paho's network
loop, the calling thread decoding batches, and a writer thread storing and acknowledging them in order.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import signal
import threading
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import psycopg2
import psycopg2.errors
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hf_collector.errors import ConfigError, HfError
from hf_collector.historian.writer import HistorianWriter, Sample
from hf_collector.ingest import deadletter
from hf_collector.ingest.decoder import decode_message
from hf_collector.ingest.resolver import TagResolver

_logger = logging.getLogger(__name__)
# In flight (unacknowledged) at most: the inbox, the batch being decoded, one queued, one being written.
# Bounds the ingest's memory as much as the batch size does.
RECEIVE_MAXIMUM = 40_000
SESSION_EXPIRY_S = 7 * 24 * 3600
# Tags edited in Odoo (data type, historian off, retention class) are seen within this delay.
TAG_RELOAD_S = 60.0


@dataclass(frozen=True, slots=True)
class IngestSettings:
    mqtt_url: str
    dsn: str
    topic: str = "umh/v1/#"
    client_id: str = "hf-ingest"
    batch_max_messages: int = 10_000
    batch_wait_s: float = 0.1
    discover: bool = True
    stats_interval_s: float = 10.0
    start_attempts: int = 5

    def __post_init__(self) -> None:
        url = urlparse(self.mqtt_url)
        if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
            raise ConfigError(f"--mqtt-url {self.mqtt_url!r} must look like mqtt://host:1883 or mqtts://host:8883.")


class FatalIngestError(HfError):
    """The ingest cannot start or go on; the message says what to fix."""


class Ingest:
    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.inbox: queue.SimpleQueue[mqtt.MQTTMessage] = queue.SimpleQueue()
        self.stopping = False
        self.fatal: Exception | None = None
        self.connected = False
        self.totals = {"messages": 0, "samples": 0, "stored": 0, "dead_letters": 0, "batches": 0}
        self._window = {"messages": 0, "samples": 0, "batches": 0, "dead_letters": 0}
        self._lag_s = 0.0
        self.conn: Any = None
        self.resolver_conn: Any = None
        self._resolver_lock = threading.Lock()  # the writer's rare fallback decodes too
        self._to_write: queue.Queue[tuple[list[mqtt.MQTTMessage], list[Sample], list[deadletter.DeadLetter]] | None] = (
            queue.Queue(maxsize=1))
        self.writer: HistorianWriter | None = None
        self.resolver: TagResolver | None = None
        self.client = self._make_client()

    # --- connections -------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        url = urlparse(self.settings.mqtt_url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.settings.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        if url.username:
            client.username_pw_set(url.username, url.password)
        if url.scheme == "mqtts":
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 30)
        return client

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            _logger.error("broker refused the ingest: %s", reason)
            return
        self.connected = True
        client.subscribe(self.settings.topic, qos=1)
        _logger.info("subscribed to %s on %s", self.settings.topic, self.settings.mqtt_url.split("@")[-1])

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.connected = False
        if not self.stopping:
            _logger.warning("broker connection lost (%s); reconnecting, unacknowledged messages will be redelivered",
                            reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.inbox.put(message)

    def connect_database(self) -> None:
        """Two connections: the writer's (one transaction per batch, acknowledged after commit) and
        the resolver's (autocommit: a discovered tag exists before any sample refers to it)."""
        self.conn = psycopg2.connect(self.settings.dsn)
        self.writer = HistorianWriter(self.conn.cursor())
        self.conn.commit()
        self.connect_resolver()

    def connect_resolver(self) -> None:
        if self.resolver_conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.resolver_conn.close()
        self.resolver_conn = psycopg2.connect(self.settings.dsn)
        self.resolver_conn.autocommit = True
        self.resolver = TagResolver(self.resolver_conn.cursor(), discover=self.settings.discover)

    def connect_broker(self) -> None:
        url = urlparse(self.settings.mqtt_url)
        port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        delay = 1.0
        for attempt in range(1, self.settings.start_attempts + 1):
            try:
                self.client.connect(url.hostname or "localhost", port, keepalive=30, clean_start=False,
                                    properties=props)
                break
            except OSError as exc:
                if attempt == self.settings.start_attempts:
                    raise FatalIngestError(
                        f"The MQTT broker at {url.hostname}:{port} did not answer after {attempt} attempts; "
                        "check --mqtt-url and that the broker runs.", detail=str(exc)) from exc
                _logger.warning("broker %s:%s unreachable (%s); retrying in %.0f s", url.hostname, port, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 8)
        self.client.loop_start()

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
        self.connect_broker()
        # Decoding (Python) and writing (PostgreSQL, which releases the GIL) overlap: this thread
        # decodes batch n+1 while the writer thread stores and acknowledges batch n, in order.
        writer_thread = threading.Thread(target=self._write_loop, name="historian-writer", daemon=True)
        writer_thread.start()
        last_stats = time.monotonic()
        try:
            while not self.stopping and writer_thread.is_alive():
                batch = self._next_batch()
                if batch:
                    samples, dead = self._decode_retrying(batch)
                    self._hand_over((batch, samples, dead), writer_thread)
                if time.monotonic() - last_stats >= self.settings.stats_interval_s:
                    self._log_stats(time.monotonic() - last_stats)
                    last_stats = time.monotonic()
        except psycopg2.Error as exc:  # not an outage (those are retried): the tag tables refuse us
            raise FatalIngestError("The ingest cannot read the hf_uns tag tables; is hf_uns up to date?",
                                   detail=str(exc).strip()) from exc
        else:
            if self.fatal is not None:
                raise FatalIngestError(
                    "The ingest stopped: the historian database refuses its writes (see the error above); "
                    "unacknowledged messages stay with the broker.",
                    detail=str(self.fatal).strip()) from self.fatal
        finally:
            self.stopping = True
            with contextlib.suppress(queue.Full):
                self._to_write.put(None, timeout=30)
            writer_thread.join(timeout=30)
            self.client.disconnect()
            self.client.loop_stop()
            for conn in (self.conn, self.resolver_conn):
                if conn is not None:
                    with contextlib.suppress(psycopg2.Error):
                        conn.close()

    def _hand_over(self, item: Any, writer_thread: threading.Thread) -> None:
        """Queue a decoded batch for the writer; give up only if the writer is gone (fatal)."""
        while writer_thread.is_alive():
            try:
                self._to_write.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _decode_retrying(
        self, batch: list[mqtt.MQTTMessage]
    ) -> tuple[list[Sample], list[deadletter.DeadLetter]]:
        delay = 0.5
        while True:
            try:
                return self._decode(batch)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                _logger.warning("tag lookup failed (%s); retrying in %.1f s", str(exc).strip() or type(exc).__name__,
                                delay)
                time.sleep(delay)
                delay = min(delay * 2, 10)
                with contextlib.suppress(psycopg2.Error):
                    self.connect_resolver()

    def _write_loop(self) -> None:
        try:
            while True:
                item = self._to_write.get()
                if item is None:
                    return
                self._store(*item)
        except Exception as exc:  # noqa: BLE001  (reported by run(), which exits non-zero)
            _logger.exception("the historian writer stopped")
            self.fatal = exc

    def stop(self, *_args: object) -> None:
        self.stopping = True

    def _next_batch(self) -> list[mqtt.MQTTMessage]:
        try:
            first = self.inbox.get(timeout=self.settings.batch_wait_s)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.batch_wait_s
        while len(batch) < self.settings.batch_max_messages:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.005)
        return batch

    def _decode(self, batch: list[mqtt.MQTTMessage]) -> tuple[list[Sample], list[deadletter.DeadLetter]]:
        assert self.resolver is not None
        samples: list[Sample] = []
        dead: list[deadletter.DeadLetter] = []
        with self._resolver_lock:
            if time.monotonic() - self.resolver.loaded_at > TAG_RELOAD_S:
                self.resolver.load()
            for message in batch:
                decode_message(message.topic, message.payload, self.resolver, samples, dead)
        return samples, dead

    def _store(self, batch: list[mqtt.MQTTMessage], samples: list[Sample],
               dead: list[deadletter.DeadLetter]) -> None:
        """Write the batch and commit, retrying through database outages; then acknowledge it."""
        delay = 0.5
        stored = 0
        while True:
            try:
                assert self.writer is not None
                stored = self.writer.write(samples)
                deadletter.store(self.conn.cursor(), dead)
                self.conn.commit()
                break
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                _logger.warning("historian database unavailable (%s); retrying the batch of %d messages in %.1f s",
                                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                                len(batch), delay)
                time.sleep(delay)
                delay = min(delay * 2, 10)
                self._reconnect_writer()
                if self.stopping and self._to_write.empty():
                    return  # unacknowledged: the broker redelivers to the next ingest
            except (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure) as exc:
                # Parallel ingests met on the same rows: nothing is wrong with the batch, store it again.
                self.conn.rollback()
                self.writer.refresh_partitions()
                _logger.info("batch met a parallel ingest (%s); storing it again", type(exc).__name__)
                continue
            except psycopg2.Error as exc:
                # Something in this batch the database refuses: store it message by message so only
                # the guilty ones become dead letters.
                self.conn.rollback()
                self.writer.refresh_partitions()  # the rollback undid any partition the batch created
                _logger.warning("batch refused (%s); storing it message by message", str(exc).strip())
                stored, dead = self._store_one_by_one(batch)
                break
        for message in batch:
            self.client.ack(message.mid, message.qos)
        self._count(len(batch), len(samples), stored, len(dead), samples)

    def _store_one_by_one(self, batch: list[mqtt.MQTTMessage]) -> tuple[int, list[deadletter.DeadLetter]]:
        stored, all_dead = 0, []
        assert self.writer is not None and self.resolver is not None
        for message in batch:
            samples: list[Sample] = []
            dead: list[deadletter.DeadLetter] = []
            with self._resolver_lock:
                decode_message(message.topic, message.payload, self.resolver, samples, dead)
            try:
                stored += self.writer.write(samples)
                self.conn.commit()
            except psycopg2.Error as exc:
                self.conn.rollback()
                self.writer.refresh_partitions()
                dead = [deadletter.DeadLetter(message.topic, message.payload, f"refused by the database: {exc}")]
            deadletter.store(self.conn.cursor(), dead)
            self.conn.commit()
            all_dead += dead
        return stored, all_dead

    def _reconnect_writer(self) -> None:
        with contextlib.suppress(psycopg2.Error):
            if self.conn is not None:
                self.conn.close()
        try:
            self.conn = psycopg2.connect(self.settings.dsn)
            self.writer = HistorianWriter(self.conn.cursor())
            self.conn.commit()
            _logger.info("historian database reconnected")
        except psycopg2.Error as exc:
            _logger.debug("database still away: %s", exc)

    # --- observability ---------------------------------------------------------------------------

    def _count(self, messages: int, samples: int, stored: int, dead: int, batch_samples: list[Sample]) -> None:
        for key, value in (("messages", messages), ("samples", samples), ("dead_letters", dead), ("batches", 1)):
            self.totals[key] += value
            self._window[key] += value
        self.totals["stored"] += stored
        if batch_samples:
            self._lag_s = max(0.0, time.time() - max(s.time_ms for s in batch_samples) / 1000)

    def _log_stats(self, elapsed: float) -> None:
        w = self._window
        _logger.info(
            "ingest: %.0f samples/s, %.0f messages/s, %.0f messages/batch, lag %.2f s, "
            "dead letters %d (total %d), discovered tags %d",
            w["samples"] / elapsed, w["messages"] / elapsed, w["messages"] / max(1, w["batches"]), self._lag_s,
            w["dead_letters"], self.totals["dead_letters"], self.resolver.discovered if self.resolver else 0,
        )
        self._window = dict.fromkeys(self._window, 0)


def shared(settings: IngestSettings, index: int, group: str) -> IngestSettings:
    """Worker ``index`` of a group: its own persistent session, and the broker's MQTT 5 shared subscription
    hands each message to one worker of the group only."""
    topic = settings.topic if settings.topic.startswith("$share/") else f"$share/{group}/{settings.topic}"
    return replace(settings, topic=topic, client_id=f"{settings.client_id}-{index}")


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
    signal.signal(signal.SIGTERM, ingest.stop)
    signal.signal(signal.SIGINT, ingest.stop)
    try:
        ingest.run()
    except FatalIngestError as exc:
        _logger.error("%s (%s)", exc, exc.detail)
        return 2
    return 0
