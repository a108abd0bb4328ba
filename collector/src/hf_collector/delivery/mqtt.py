"""The MQTT sender: publishes the disk queue in order with QoS 1, removing what the broker acknowledged.

One connection loop with capped exponential backoff (1 s doubling to 30 s, as aiomqtt documents).
After a disconnect a fresh paho client is made and sending restarts at the oldest unacknowledged
message, so order is kept and nothing is lost; what the broker received but could not acknowledge
before it went away is sent again (at-least-once; the historian's (tag, time) uniqueness absorbs it).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hf_collector.delivery.buffer import DiskQueue
from hf_collector.errors import ConfigError

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MqttSettings:
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str = ""
    ca_file: str = ""
    # QoS 1 messages in flight at once: paho's bookkeeping gets slower with large windows
    # (13,700 msg/s at 50, 1,800 msg/s at 5,000 on this machine).
    window: int = 100
    keepalive: int = 30

    def __post_init__(self) -> None:
        parsed = urlparse(self.url)
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise ConfigError(f"MQTT url {self.url!r} must look like mqtt://host:1883 or mqtts://user:pass@host:8883.")


class MqttSender:
    """Drains a :class:`DiskQueue` to the broker. ``wake()`` after putting messages."""

    def __init__(self, settings: MqttSettings, queue: DiskQueue,
                 socket_wrapper: Callable[[mqtt.Client], None] | None = None) -> None:
        self.settings = settings
        self.queue = queue
        self.socket_wrapper = socket_wrapper
        self.published = 0
        self.connected = False
        self._wake = asyncio.Event()
        self._acked: list[int] = []
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._connected_event = threading.Event()
        self._lost = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        self._wake.set()

    def _make_client(self) -> tuple[mqtt.Client, dict[int, int]]:
        url = urlparse(self.settings.url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.settings.client_id)
        client.max_inflight_messages_set(self.settings.window)
        client.max_queued_messages_set(0)
        if url.username:
            client.username_pw_set(url.username, url.password)
        if url.scheme == "mqtts":
            client.tls_set(ca_certs=self.settings.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        mids: dict[int, int] = {}  # paho message id -> queue row id

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if reason.is_failure:
                _logger.error("broker %s refused the collector: %s", url.hostname, reason)
                self._lost.set()
            else:
                self._connected_event.set()

        def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            self._lost.set()

        def on_publish(_c: Any, _u: Any, mid: int, _r: Any, _p: Any) -> None:
            with self._lock:
                row = mids.pop(mid, None)
                if row is not None:
                    self._acked.append(row)
            if self._loop is not None:  # an acknowledgement frees window room: wake the sender now
                self._loop.call_soon_threadsafe(self._wake.set)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        return client, mids

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        delay = 1.0
        url = urlparse(self.settings.url)
        port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        while True:
            client, mids = self._make_client()
            self._connected_event.clear()
            self._lost.clear()
            try:
                if self.socket_wrapper:
                    self.socket_wrapper(client)
                await asyncio.to_thread(client.connect, url.hostname or "localhost", port, self.settings.keepalive)
                client.loop_start()
                ok = await asyncio.to_thread(self._connected_event.wait, 10)
                if not ok or self._lost.is_set():
                    raise OSError("no CONNACK")
            except OSError as exc:
                client.loop_stop()
                self.connected = False
                _logger.warning("broker %s:%s unreachable (%s); buffering on disk (%d messages), retrying in %.0f s",
                                url.hostname, port, exc, len(self.queue), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            delay = 1.0
            self.connected = True
            _logger.info("connected to broker %s:%s; %d buffered messages to send", url.hostname, port,
                         len(self.queue))
            try:
                await self._send_until_lost(client, mids)
            finally:
                client.loop_stop()
                client.disconnect()
                self.connected = False
                with self._lock:
                    mids.clear()
            _logger.warning("broker connection lost; buffering on disk and reconnecting")

    async def _send_until_lost(self, client: mqtt.Client, mids: dict[int, int]) -> None:
        last_sent = 0
        in_flight = 0
        while not self._lost.is_set():
            with self._lock:
                acked, self._acked = self._acked, []
            if acked:
                self.queue.remove(acked)
                in_flight -= len(acked)
                self.published += len(acked)
            room = self.settings.window - in_flight
            rows = self.queue.peek(last_sent, room) if room > 0 else []
            for row_id, topic, payload in rows:
                info = client.publish(topic, payload, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    return
                with self._lock:
                    if info.mid in mids or info.is_published():
                        # acknowledged before we recorded it (fast broker): count it now
                        self._acked.append(row_id)
                    else:
                        mids[info.mid] = row_id
                last_sent = row_id
                in_flight += 1
            if not rows:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=0.05 if in_flight else 0.5)
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)
