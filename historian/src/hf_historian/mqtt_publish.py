"""Publish a few messages to an MQTT broker and wait for the broker to take them: one call, one connection.

For code that runs synchronously and publishes now and then (the hf_ml addon's scores from an Odoo cron), so
it needs no MQTT client library and no network thread. It speaks the ingest's own MQTT 5 (``mqtt_wire``)
over a standard library socket::

    publish_once("mqtts://user:secret@mqtt.example.com:8883", "umh/v1/acme/_historian", b'{"timestamp_ms": 1}')

``url`` is ``mqtt://[user[:password]@]host[:port]`` (port 1883) or ``mqtts://…`` (TLS, port 8883; the broker's
certificate is checked against the system's CAs, or against ``ca_file``). ``payload`` is one message or a
sequence of messages, published in order on ``topic``. With ``qos=1`` the call returns once the broker has
acknowledged every message; ``qos=0`` returns once they are sent. Every failure raises an ``hf_core.errors``
exception whose text says what to check: :class:`~hf_core.errors.ConfigError` for a URL that cannot work or a
login the broker refuses, :class:`~hf_core.errors.SinkError` for a broker that is away, too slow or refuses
a message.
"""

from __future__ import annotations

import socket
import ssl
import time
import uuid
from collections.abc import Sequence

from hf_core.errors import ConfigError, SinkError
from hf_core.net import dial_host
from hf_historian.ingest import mqtt_wire as wire
from hf_historian.ingest.mqtt_session import BrokerAddress

_READ_SIZE = 65_536


def publish_once(
    url: str,
    topic: str,
    payload: bytes | str | Sequence[bytes | str],
    *,
    qos: int = 1,
    timeout: float = 10.0,
    ca_file: str | None = None,
) -> None:
    """Connect to the broker at ``url``, publish ``payload`` (one message or several) on ``topic`` with ``qos``
    (0 or 1, retain off), wait for the broker's acknowledgements (QoS 1), disconnect. ``timeout`` bounds the
    whole call. Raises ConfigError or SinkError (see the module's docstring)."""
    if qos not in (0, 1):
        raise ConfigError(f"publish_once publishes with QoS 0 or 1, not {qos}.")
    broker = BrokerAddress.parse(url)
    messages = [payload] if isinstance(payload, bytes | str) else list(payload)
    bodies = [m.encode() if isinstance(m, str) else m for m in messages]
    deadline = time.monotonic() + timeout
    try:
        with _connect(broker, deadline, ca_file) as sock:
            reader = wire.PacketReader(max_packet_size=wire.MAX_PACKET_SIZE)
            sock.sendall(
                wire.connect_packet(
                    f"hf-publish-{uuid.uuid4().hex[:12]}",
                    keepalive=max(10, int(timeout) + 1),
                    clean_start=True,
                    session_expiry_s=0,
                    receive_maximum=16,
                    username=broker.username,
                    password=broker.password,
                )
            )
            _session_present, code, reason = wire.parse_connack(_expect(sock, reader, wire.CONNACK, deadline))
            if code >= 0x80:
                what = ConfigError if code in (0x86, 0x87, 0x8A) else SinkError
                raise what(
                    f"The MQTT broker {broker} refused the login: {wire.reason_text(code)} {reason}".strip()
                    + ". Check the user name and password in the URL.",
                    detail=f"CONNACK reason {code:#04x}",
                )
            for packet_id, body in enumerate(bodies, start=1):
                sock.sendall(wire.publish_packet(topic, body, qos=qos, packet_id=packet_id if qos else 0))
                if qos:
                    acked, code = wire.parse_puback(_expect(sock, reader, wire.PUBACK, deadline))
                    if acked != packet_id:
                        raise wire.ProtocolError(f"PUBACK for packet {acked}, expected {packet_id}")
                    if code >= 0x80:
                        raise SinkError(
                            f"The MQTT broker {broker} refused the message on {topic}: "
                            f"{wire.reason_text(code)}. Check the broker's access list for this user.",
                            detail=f"PUBACK reason {code:#04x}",
                        )
            sock.sendall(wire.DISCONNECT_PACKET)
    except ssl.SSLCertVerificationError as exc:
        raise ConfigError(
            f"The MQTT broker {broker} showed a TLS certificate that is not trusted here: "
            f"{exc.verify_message}. Give the broker's CA file, or use its certified name in the URL.",
            detail=str(exc),
        ) from exc
    except TimeoutError as exc:
        raise SinkError(f"The MQTT broker {broker} did not answer within {timeout:g} s.", detail=str(exc)) from exc
    except (OSError, wire.ProtocolError) as exc:
        raise SinkError(
            f"The MQTT broker {broker} could not be reached or dropped the connection: {exc}.", detail=repr(exc)
        ) from exc


def _connect(broker: BrokerAddress, deadline: float, ca_file: str | None) -> socket.socket:
    sock = socket.create_connection((dial_host(broker.host), broker.port), timeout=_left(deadline))
    if not broker.tls:
        return sock
    # a *.localhost broker is dialled at loopback (hf_core.net); TLS still checks the broker's own name
    context = ssl.create_default_context(cafile=ca_file)
    try:
        return context.wrap_socket(sock, server_hostname=broker.host)
    except BaseException:
        sock.close()
        raise


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the time given to publish ran out")
    return left


def _expect(sock: socket.socket, reader: wire.PacketReader, kind: int, deadline: float) -> bytes:
    """The body of the next packet, which must be of ``kind`` (a PINGRESP is passed over)."""
    while True:
        sock.settimeout(_left(deadline))
        data = sock.recv(_READ_SIZE)
        if not data:
            raise ConnectionError("the broker closed the connection")
        publishes, others = reader.feed(data)
        if publishes:
            raise wire.ProtocolError("the broker sent a PUBLISH to a client that subscribed to nothing")
        for got, body in others:
            if got == wire.DISCONNECT:
                code, reason = wire.parse_disconnect(body)
                raise ConnectionError(f"the broker disconnected: {wire.reason_text(code)} {reason}".strip())
            if got == kind:
                return body
            if got != wire.PINGRESP:
                raise wire.ProtocolError(f"expected packet type {kind}, got {got}")
