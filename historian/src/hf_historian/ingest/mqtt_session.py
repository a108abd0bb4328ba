"""One MQTT 5 connection of the ingest: subscribe with QoS 1, hand over what arrives, acknowledge on demand.

The session is persistent (Clean Start 0, a Session Expiry Interval): what was not acknowledged when
the connection went away is delivered again on the next connection under the same client id.
Acknowledgements are only ever sent on the connection the message came in on: after a reconnect the
broker redelivers those messages with their original packet ids, and they are acknowledged then.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from hf_core.errors import ConfigError
from hf_core.net import dial_host
from hf_historian.ingest import mqtt_wire as wire

_logger = logging.getLogger(__name__)


class BrokerRefused(Exception):
    """The broker answered but refused the connection or the subscription (no point retrying fast)."""


# The port of each URL scheme when the URL gives none (IANA).
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where a broker is and how to log in; :meth:`parse` reads an ``mqtt://`` / ``mqtts://`` URL."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://[user[:password]@]host[:port]`` (1883) or ``mqtts://…`` (8883); the user and password
        percent-decoded. ConfigError, the password left out, for a URL that cannot work."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigError(
                f"The MQTT URL {_redacted(url)!r} cannot work: it must look like mqtt://host:1883 "
                "or mqtts://user:password@host:8883."
            )
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:
            raise ConfigError(
                f"The MQTT URL {_redacted(url)!r} has a port that is not a number from 1 to 65535.", detail=str(exc)
            ) from exc
        return cls(
            parts.hostname,
            port,
            parts.scheme == "mqtts",
            unquote(parts.username) if parts.username is not None else None,
            unquote(parts.password) if parts.password is not None else None,
        )

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def _redacted(url: str) -> str:
    """The URL without its password, for a message a person reads."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


class MqttSession(asyncio.Protocol):
    """An async context manager (``async with MqttSession(...) as session:`` opens it, and closes it on the way
    out, whatever ended the block), or :meth:`open` and :meth:`close` by hand. ``on_messages`` is called on the
    event loop with each read's PUBLISHes."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        topic_filter: str,
        on_messages: Callable[[MqttSession, list[wire.Publish]], None],
        *,
        keepalive_s: int = 30,
        session_expiry_s: int = 7 * 24 * 3600,
        receive_maximum: int = 40_000,
    ) -> None:
        self.address = address
        self.client_id = client_id
        self.topic_filter = topic_filter
        self.on_messages = on_messages
        self.keepalive_s = keepalive_s
        self.session_expiry_s = session_expiry_s
        self.receive_maximum = receive_maximum
        self.session_present = False
        self.closed: asyncio.Future[str] | None = None  # result: why the connection ended
        self._transport: asyncio.Transport | None = None
        self._reader = wire.PacketReader(max_packet_size=wire.MAX_PACKET_SIZE)
        self._replies: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self._last_heard = time.monotonic()
        self._pinger: asyncio.Task[None] | None = None
        self._paused = False
        self._packet_id = 0

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._last_heard = time.monotonic()
        try:
            publishes, others = self._reader.feed(data)
            disconnect = next((body for kind, body in others if kind == wire.DISCONNECT), None)
            reason = None if disconnect is None else wire.parse_disconnect(disconnect)
        except (wire.ProtocolError, IndexError, ValueError) as exc:  # ProtocolError; the others are our bugs
            self._drop(f"unparsable data from the broker: {exc}")
            return
        if publishes:
            self.on_messages(self, publishes)
        if reason is not None:
            self._drop(f"the broker disconnected us: {wire.reason_text(reason[0])} {reason[1]}".strip())
            return
        for kind, body in others:
            if kind != wire.PINGRESP:
                self._replies.put_nowait((kind, body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(str(exc) if exc else "connection closed")
        if self._pinger is not None:
            self._pinger.cancel()

    # --- use --------------------------------------------------------------------------------------

    async def __aenter__(self) -> MqttSession:
        await self.open()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.close()

    async def open(self, timeout_s: float = 10.0) -> None:
        """Connect, log in and subscribe; raises OSError/TimeoutError (retry) or :class:`BrokerRefused`."""
        loop = asyncio.get_running_loop()
        self.closed = loop.create_future()
        context = ssl.create_default_context() if self.address.tls else None
        # a *.localhost broker is dialled at loopback (hf_core.net); TLS still checks the broker's own name
        await asyncio.wait_for(
            loop.create_connection(
                lambda: self,
                dial_host(self.address.host),
                self.address.port,
                ssl=context,
                server_hostname=self.address.host if context else None,
            ),
            timeout_s,
        )
        try:
            self._send(
                wire.connect_packet(
                    self.client_id,
                    keepalive=self.keepalive_s,
                    clean_start=False,
                    session_expiry_s=self.session_expiry_s,
                    receive_maximum=self.receive_maximum,
                    username=self.address.username,
                    password=self.address.password,
                    max_packet_size=wire.ANNOUNCED_MAX_PACKET_SIZE,
                )
            )
            body = await self._expect(wire.CONNACK, timeout_s)
            self.session_present, code, reason = wire.parse_connack(body)
            if code >= 0x80:
                raise BrokerRefused(f"the broker refused the connection: {wire.reason_text(code)} {reason}".strip())
            if self.topic_filter:  # a publisher subscribes to nothing
                self._send(wire.subscribe_packet(1, self.topic_filter, qos=1))
                _packet_id, codes = wire.parse_suback(await self._expect(wire.SUBACK, timeout_s))
                if not codes or codes[0] >= 0x80:
                    raise BrokerRefused(
                        f"the broker refused the subscription to {self.topic_filter}: "
                        f"{wire.reason_text(codes[0] if codes else 0x80)}"
                    )
        except BaseException:
            self.abort()
            raise
        self._pinger = loop.create_task(self._keep_alive())

    async def _expect(self, kind: int, timeout_s: float) -> bytes:
        assert self.closed is not None
        waiter = asyncio.ensure_future(self._replies.get())
        either: set[asyncio.Future[tuple[int, bytes]] | asyncio.Future[str]] = {waiter, self.closed}
        done, _ = await asyncio.wait(either, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            raise TimeoutError(
                self.closed.result() if self.closed.done() else f"no answer from the broker in {timeout_s:.0f} s"
            )
        got, body = waiter.result()
        if got != kind:
            raise wire.ProtocolError(f"expected packet type {kind}, got {got}")
        return body

    async def _keep_alive(self) -> None:
        """PINGREQ every half keep-alive; a broker silent for twice the keep-alive is gone (half-open TCP)."""
        while True:
            await asyncio.sleep(self.keepalive_s / 2)
            if not self._paused and time.monotonic() - self._last_heard > 2 * self.keepalive_s:
                self._drop(f"the broker did not answer for {2 * self.keepalive_s} s")
                return
            self._send(wire.PINGREQ_PACKET)

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def ack(self, packet_ids: list[int]) -> bool:
        """Acknowledge on this connection; False (nothing sent) if it is gone: the broker redelivers."""
        if not self.is_open:
            return False
        self._send(wire.puback_packets(packet_ids))
        return True

    async def publish(
        self, messages: list[tuple[str, bytes]], acked: list[int], *, window: int = 16, timeout_s: float = 10.0
    ) -> None:
        """PUBLISH ``messages`` at QoS 1 (retain off), at most ``window`` unacknowledged at a time (keep it within
        the broker's Receive Maximum), appending each PUBACK's reason code (>= 0x80: refused) to ``acked`` as
        it comes. A receiver acknowledges QoS 1 in the order it received (MQTT 5, 4.6), so ``acked`` is always
        a prefix of ``messages``: what a lost connection leaves out is published again on the next one. The
        window slides (a PUBLISH goes out per PUBACK in): our data carries the TCP ACKs a broker without
        TCP_NODELAY waits for before it sends the next PUBACKs. Raises OSError / TimeoutError when the
        connection goes."""
        if not self.is_open:
            raise ConnectionError("the broker connection is closed")
        in_flight: collections.deque[int] = collections.deque()
        following = iter(messages)

        def send_next() -> None:
            message = next(following, None)
            if message is not None:
                self._packet_id = self._packet_id % 0xFFFF + 1
                in_flight.append(self._packet_id)
                self._send(wire.publish_packet(message[0], message[1], qos=1, packet_id=self._packet_id))

        for _ in range(window):
            send_next()
        while in_flight:
            packet_id, reason = wire.parse_puback(await self._expect(wire.PUBACK, timeout_s))
            want = in_flight.popleft()
            if packet_id != want:
                raise wire.ProtocolError(f"PUBACK for packet {packet_id}, expected {want}")
            acked.append(reason)
            send_next()

    def pause(self) -> None:
        """Stop reading (TCP pushes back to the broker, which queues): the consumer is behind."""
        if not self._paused and self.is_open:
            assert self._transport is not None
            self._paused = True
            self._transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.is_open:
            assert self._transport is not None
            self._paused = False
            self._last_heard = time.monotonic()  # its silence while paused was ours
            self._transport.resume_reading()

    def _send(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)

    def _drop(self, why: str) -> None:
        _logger.warning("%s", why)
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(why)
        self.abort()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def close(self) -> None:
        """Say goodbye (the session stays for its expiry) and close."""
        if self._pinger is not None:
            self._pinger.cancel()
        if self.is_open:
            assert self._transport is not None
            self._send(wire.DISCONNECT_PACKET)
            self._transport.close()
            if self.closed is not None and not self.closed.done():
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(self.closed), 2)
