"""The MQTT sender: publishes the disk queue in order with QoS 1, removing what the broker acknowledged.

One connection loop (hf_core.retry's ``attempts``) with capped exponential backoff (1 s doubling to 30 s, as
aiomqtt documents); ``async with MqttSender(...)`` sends in the background while the block runs.
After a disconnect a fresh paho client is made and sending restarts at the oldest unacknowledged
message, so order is kept and nothing is lost; what the broker received but could not acknowledge
before it went away is sent again (at-least-once; the historian's (tag, time) uniqueness absorbs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hf_collector.delivery.buffer import DiskQueue
from hf_core.errors import ConfigError, SinkError
from hf_core.net import create_connection, dial_host
from hf_core.retry import Backoff, Probe, attempts, tcp_probe

_logger = logging.getLogger(__name__)
# A connection that lasted this long was a good one: the next reconnect is tried at once, not after a pause.
STABLE_CONNECTION_S = 10.0
_TCP_CORK: int | None = getattr(socket, "TCP_CORK", None)


@dataclass(frozen=True, slots=True)
class MqttSettings:
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str = ""
    ca_file: str = ""
    # QoS 1 messages in flight at once, kept by the sender (paho's own limit is off: it rescanned every
    # message in flight on each acknowledgement, 13,700 msg/s at 50 and 1,800 msg/s at 5,000 here).
    window: int = 100
    keepalive: int = 30

    def __post_init__(self) -> None:
        parsed = urlparse(self.url)
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise ConfigError(f"MQTT url {self.url!r} must look like mqtt://host:1883 or mqtts://user:pass@host:8883.")


class _Client(mqtt.Client):
    """paho's client, dialling a ``*.localhost`` broker at loopback (hf_core.net); TLS still sends and checks
    the broker's own name."""

    # paho 2's one place that dials the broker (it has no public hook for it); proxies stay paho's
    def _create_socket_connection(self) -> socket.socket:
        if dial_host(self.host) == self.host:
            return super()._create_socket_connection()
        return create_connection((self.host, self.port), self._connect_timeout, (self._bind_address, self._bind_port))


def _reads(client: mqtt.Client) -> Callable[[], None]:
    """The socket's reader: everything received, including what TLS holds decrypted but not yet read
    (the loop only hears the socket, not that buffer)."""

    def read() -> None:
        while client.loop_read() == mqtt.MQTT_ERR_SUCCESS:
            sock = client.socket()
            if sock is None or not (hasattr(sock, "pending") and sock.pending()):
                return

    return read


def _cork(sock: mqtt.SocketLike | None, on: bool) -> bool:
    """Hold (or release) the socket's small writes so they leave as few TCP segments (Linux TCP_CORK)."""
    if _TCP_CORK is None or not isinstance(sock, socket.socket):
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _TCP_CORK, int(on))
    except OSError:  # closed meanwhile, or not a TCP socket (a Ziti one)
        return False
    return True


def _writes(client: mqtt.Client) -> Callable[[], None]:
    """The socket's writer. paho writes one send() per message; corked, each is a copy into the socket
    buffer and the batch leaves at once, instead of a segment and a broker wake-up per message (the
    largest single cost of publishing small messages)."""

    def write() -> None:
        sock = client.socket()
        corked = _cork(sock, True)
        try:
            client.loop_write()
        finally:
            if corked:
                _cork(sock, False)

    return write


class MqttSender:
    """Drains a :class:`DiskQueue` to the broker. ``wake()`` after putting messages.

    paho runs on the asyncio loop (its external-loop interface, as aiomqtt drives it), not in its own
    thread: a publish and its acknowledgement are plain calls, with no thread switch, lock, or wake-up
    pipe per message (half the sender's CPU when it ran threaded).
    """

    def __init__(
        self, settings: MqttSettings, queue: DiskQueue, socket_wrapper: Callable[[mqtt.Client], None] | None = None
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.socket_wrapper = socket_wrapper
        self.published = 0
        self.connections = 0  # connections made (a reconnect storm shows here)
        self.connected = False
        self._wake = asyncio.Event()
        self._acked: list[int] = []
        self._connack = asyncio.Event()
        self._lost = asyncio.Event()
        self._running: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def _make_client(self) -> tuple[mqtt.Client, dict[int, int]]:
        url = urlparse(self.settings.url)
        client = _Client(CallbackAPIVersion.VERSION2, client_id=self.settings.client_id)
        # 0 = no limit of paho's own: the sender keeps the window, and with a limit paho rescans every
        # message in flight on each acknowledgement
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        if url.username:
            client.username_pw_set(url.username, url.password)
        if url.scheme == "mqtts":
            client.tls_set(ca_certs=self.settings.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        mids: dict[int, int] = {}  # paho message id -> queue row id

        def on_connect(
            _c: mqtt.Client, _u: object, _f: mqtt.ConnectFlags, reason: ReasonCode, _p: Properties | None
        ) -> None:
            if reason.is_failure:
                _logger.error("broker %s refused the collector: %s", url.hostname, reason)
                self._lost.set()
            self._connack.set()

        def on_disconnect(
            _c: mqtt.Client, _u: object, _f: mqtt.DisconnectFlags, reason: ReasonCode, _p: Properties | None
        ) -> None:
            self._lost.set()
            self._wake.set()

        def on_publish(_c: mqtt.Client, _u: object, mid: int, _r: ReasonCode, _p: Properties) -> None:
            row = mids.pop(mid, None)
            if row is not None:
                self._acked.append(row)
                self._wake.set()  # an acknowledgement frees window room

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        return client, mids

    @staticmethod
    def _attach(client: mqtt.Client, loop: asyncio.AbstractEventLoop) -> None:
        """Let the event loop drive the connected client's socket (paho's external-loop callbacks)."""
        sock = client.socket()
        assert sock is not None
        loop.add_reader(sock, _reads(client))

        def closing(_c: mqtt.Client, _u: object, closed: mqtt.SocketLike) -> None:
            loop.remove_reader(closed)
            loop.remove_writer(closed)

        def register_write(c: mqtt.Client, _u: object, s: mqtt.SocketLike) -> None:
            loop.add_writer(s, _writes(c))

        def unregister_write(_c: mqtt.Client, _u: object, s: mqtt.SocketLike) -> None:
            loop.remove_writer(s)

        client.on_socket_close = closing
        client.on_socket_register_write = register_write
        client.on_socket_unregister_write = unregister_write
        if client.want_write():  # what connect() could not write at once
            loop.add_writer(sock, _writes(client))

    @staticmethod
    def _detach(client: mqtt.Client, loop: asyncio.AbstractEventLoop) -> None:
        """Say goodbye if the link is still up, and leave no socket in the loop."""
        client.disconnect()
        client.loop_write()  # paho closes the socket once its DISCONNECT is written
        sock = client.socket()
        if sock is not None:
            loop.remove_reader(sock)
            loop.remove_writer(sock)
            sock.close()

    async def __aenter__(self) -> MqttSender:
        """Start sending in the background (:meth:`run`); leaving stops it and closes the connection."""
        self._running = asyncio.create_task(self.run(), name="mqtt")
        return self

    async def __aexit__(self, *exc: object) -> None:
        running, self._running = self._running, None
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    async def run(self) -> None:
        """Send for ever: connect (capped exponential backoff between failed attempts), drain the queue until
        the connection is lost, then reconnect: at once after a good connection, after the backoff's pause
        after one lost within STABLE_CONNECTION_S."""
        loop = asyncio.get_running_loop()
        backoff = Backoff()
        url = urlparse(self.settings.url)
        host, port = url.hostname or "localhost", url.port or (8883 if url.scheme == "mqtts" else 1883)
        # Through OpenZiti the broker's name is not a TCP address here: wait the whole delay then.
        probe = None if self.socket_wrapper else tcp_probe(dial_host(host), port)
        while True:
            client, mids = await self._connect(loop, host, port, backoff, probe)
            connected_at = loop.time()
            self.connected = True
            self.connections += 1
            _logger.info("connected to broker %s:%s; %d buffered messages to send", host, port, len(self.queue))
            try:
                await self._send_until_lost(client, mids)
            finally:
                self._detach(client, loop)
                self.connected = False
                mids.clear()
                self._acked.clear()  # not yet removed: sent again on the next connection (at-least-once)
            lasted = loop.time() - connected_at
            if lasted >= STABLE_CONNECTION_S:
                backoff.reset()
                _logger.warning("broker connection lost; buffering on disk and reconnecting")
                continue
            # Lost right after it was made: another client with our id took the session over, or the broker
            # drops us (an ACL, a limit). Reconnecting at once would fight it thousands of times a second.
            _logger.warning(
                "broker connection lost %.1f s after it was made (another client with the id %r?); "
                "buffering on disk and reconnecting in %.0f s",
                lasted,
                self.settings.client_id,
                backoff.delay,
            )
            await backoff.pause()

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int, backoff: Backoff, probe: Probe | None
    ) -> tuple[mqtt.Client, dict[int, int]]:
        """A connected client: tried at once, then again after each backoff pause."""
        async for _ in attempts(backoff, probe):
            try:
                return await self._connect_once(loop, host, port)
            except SinkError as exc:
                self.connected = False
                _logger.warning(
                    "%s (%s); buffering on disk (%d messages), retrying in %.0f s",
                    exc,
                    exc.detail,
                    len(self.queue),
                    backoff.delay,
                )
        raise AssertionError("attempts() never ends")

    async def _connect_once(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int
    ) -> tuple[mqtt.Client, dict[int, int]]:
        client, mids = self._make_client()
        self._connack.clear()
        self._lost.clear()
        try:
            if self.socket_wrapper:
                self.socket_wrapper(client)
            # a thread: resolving and reaching a far broker must not stop the loop
            await asyncio.to_thread(client.connect, host, port, self.settings.keepalive)
            self._attach(client, loop)
            try:
                async with asyncio.timeout(10):
                    await self._connack.wait()
            except TimeoutError:
                raise OSError("no CONNACK") from None
            if self._lost.is_set():
                raise OSError("refused")
        except OSError as exc:
            self._detach(client, loop)
            raise SinkError(f"broker {host}:{port} unreachable", detail=str(exc)) from exc
        except BaseException:  # cancelled while connecting: leave no socket in the loop
            self._detach(client, loop)
            raise
        return client, mids

    async def _send_until_lost(self, client: mqtt.Client, mids: dict[int, int]) -> None:
        last_sent = 0
        in_flight = 0
        housekeeping_at = time.monotonic() + 1
        while not self._lost.is_set():
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
                mids[info.mid] = row_id
                last_sent = row_id
                in_flight += 1
            now = time.monotonic()
            if now >= housekeeping_at:  # keepalive pings, and a broker that stopped answering them
                if client.loop_misc() != mqtt.MQTT_ERR_SUCCESS:
                    return
                housekeeping_at = now + 1
            if rows:
                await asyncio.sleep(0)  # let paho write them and read acknowledgements
                continue
            self._wake.clear()
            if self._acked or self._lost.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await self._wake.wait()
