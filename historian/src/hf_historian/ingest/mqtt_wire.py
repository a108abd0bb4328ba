"""The MQTT 5 packets a QoS 1 subscriber needs, encoded and decoded (no I/O).

Why our own and not paho's: the ingest receives 10,000s of PUBLISH packets a second, and paho builds
an ``MQTTMessage``, an ``MQTTMessageInfo`` and a ``Properties`` object (with its lock) for each one and
reads each packet in three ``recv`` calls: profiled, that was 65 % of the ingest's CPU. Here one read
of the socket is cut into (topic, payload, packet id) tuples in one loop. Only what the ingest uses is
here (OASIS MQTT 5.0, sections 3.1-3.14): CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH, PUBACK,
PINGREQ/PINGRESP, DISCONNECT, and PUBLISH/PUBACK the other way for the ingest's publisher of Odoo's
analytics events. The edge collector keeps paho for publishing.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 1, 2, 3, 4, 8, 9, 12, 13, 14
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # reason 0, normal disconnection: the session is kept for its expiry
# Property identifiers (MQTT 5, 2.2.2.2)
PROP_SESSION_EXPIRY = 0x11
PROP_RECEIVE_MAXIMUM = 0x21
PROP_REASON_STRING = 0x1F
PROP_MAXIMUM_PACKET_SIZE = 0x27
# The largest packet the reader takes whole: a payload of the contract's 1 MB limit with its topic and headers.
# A larger PUBLISH is skipped as it arrives (never buffered) and handed on as an OversizedPayload, so the
# ingest dead-letters it with its size.
MAX_PACKET_SIZE = 1_000_000 + 65_536
# Announced in CONNECT (MQTT 5, 3.1.2.11.4): the broker sends nothing larger (it drops it). Above the
# reader's limit, so that what a broker lets through up to here is a dead letter rather than lost unseen;
# the broker config we ship refuses a PUBLISH over MAX_PACKET_SIZE from the publisher already.
ANNOUNCED_MAX_PACKET_SIZE = 16 * 1024 * 1024
_PUBACK_HEADER = b"\x40\x02"
_U16 = struct.Struct(">H")

REASONS = {
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x97: "quota exceeded",
    0x9E: "shared subscriptions not supported",
}


class ProtocolError(Exception):
    """The broker sent something this subscriber cannot parse; the connection must be dropped."""


class OversizedPayload(bytes):
    """The first bytes of a PUBLISH payload over the Maximum Packet Size, which was skipped, not buffered:
    ``size`` is the whole packet's."""

    size: int


class Publish(NamedTuple):
    topic: str
    payload: bytes
    packet_id: int  # 0 for QoS 0 (nothing to acknowledge)


def reason_text(code: int) -> str:
    return f"0x{code:02X} {REASONS.get(code, 'refused')}"


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return _U16.pack(len(raw)) + raw


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(
    client_id: str,
    *,
    keepalive: int,
    clean_start: bool,
    session_expiry_s: int,
    receive_maximum: int,
    username: str | None = None,
    password: str | None = None,
    max_packet_size: int = ANNOUNCED_MAX_PACKET_SIZE,
) -> bytes:
    flags = (0x02 if clean_start else 0) | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    props = (
        bytes([PROP_SESSION_EXPIRY])
        + struct.pack(">I", session_expiry_s)
        + bytes([PROP_RECEIVE_MAXIMUM])
        + _U16.pack(receive_maximum)
        + bytes([PROP_MAXIMUM_PACKET_SIZE])
        + struct.pack(">I", max_packet_size)
    )
    body = _string("MQTT") + bytes([5, flags]) + _U16.pack(keepalive) + varint(len(props)) + props + _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return _packet(CONNECT << 4, body)


def subscribe_packet(packet_id: int, topic_filter: str, qos: int = 1) -> bytes:
    return _packet((SUBSCRIBE << 4) | 0x02, _U16.pack(packet_id) + b"\x00" + _string(topic_filter) + bytes([qos]))


def publish_packet(topic: str, payload: bytes, *, qos: int = 1, packet_id: int = 0) -> bytes:
    """A PUBLISH with no properties (the tests publish with it)."""
    body = _string(topic) + (_U16.pack(packet_id) if qos else b"") + b"\x00" + payload
    return _packet((PUBLISH << 4) | (qos << 1), body)


def parse_puback(body: bytes) -> tuple[int, int]:
    """(packet id, reason code) of a PUBACK; the 2-byte form means success (MQTT 5, 3.4.2.1)."""
    if len(body) < 2:
        raise ProtocolError("PUBACK shorter than its packet id")
    return _U16.unpack_from(body)[0], body[2] if len(body) > 2 else 0


def puback_packets(packet_ids: list[int]) -> bytes:
    """PUBACKs for ``packet_ids`` in one buffer (reason "success" is implied by the 2-byte form)."""
    return b"".join([_PUBACK_HEADER + _U16.pack(pid) for pid in packet_ids])


def _read_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int]:
    """(value, position after it); position -1 when the buffer ends inside it."""
    value, shift = 0, 0
    for i in range(pos, min(pos + 4, len(buf))):
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    if len(buf) - pos >= 4:
        raise ProtocolError("a variable byte integer longer than 4 bytes")
    return 0, -1


def _varint_within(buf: bytes | bytearray, pos: int, end: int) -> tuple[int, int]:
    """A variable byte integer that must end before ``end`` (inside a packet already received whole)."""
    value, shift = 0, 0
    for i in range(pos, min(pos + 4, end)):
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    raise ProtocolError("a variable byte integer runs past its packet or is longer than 4 bytes")


def parse_connack(body: bytes) -> tuple[bool, int, str]:
    """(session present, reason code, reason string or "")."""
    if len(body) < 2:
        raise ProtocolError("CONNACK too short")
    return bool(body[0] & 1), body[1], _reason_string(body, 2)


def parse_suback(body: bytes) -> tuple[int, list[int]]:
    """(packet id, one reason code per topic filter)."""
    if len(body) < 3:
        raise ProtocolError("SUBACK too short")
    packet_id = _U16.unpack_from(body, 0)[0]
    props_len, pos = _varint_within(body, 2, len(body))
    if pos + props_len >= len(body):
        raise ProtocolError("SUBACK without a reason code")
    return packet_id, list(body[pos + props_len :])


def parse_disconnect(body: bytes) -> tuple[int, str]:
    return (body[0] if body else 0), _reason_string(body, 1)


def _reason_string(body: bytes, pos: int) -> str:
    """The Reason String among the properties at ``pos`` (absent: ""); the properties must fit the packet."""
    if len(body) <= pos:
        return ""
    length, pos = _varint_within(body, pos, len(body))
    end = pos + length
    if end > len(body):
        raise ProtocolError("properties run past their packet")
    # Only a reason string that comes first is read: a full property parser is not worth it for a log line.
    if length < 3 or body[pos] != PROP_REASON_STRING:
        return ""
    size = _U16.unpack_from(body, pos + 1)[0]
    if pos + 3 + size > end:
        raise ProtocolError("reason string runs past its properties")
    return body[pos + 3 : pos + 3 + size].decode(errors="replace")


class PacketReader:
    """Cuts a byte stream into packets: PUBLISHes as :class:`Publish`, the rest as (type, body).

    A packet over ``max_packet_size`` (0: no limit) is never buffered whole: a PUBLISH is handed on with
    its topic, packet id and an :class:`OversizedPayload` (its first bytes, its size) and the rest of it
    skipped as it arrives; any other packet that large is a :class:`ProtocolError`."""

    def __init__(self, max_packet_size: int = 0) -> None:
        self._buffer = bytearray()
        self.max_packet_size = max_packet_size
        self._skip = 0  # bytes of an oversized packet still to be discarded

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of their packet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> tuple[list[Publish], list[tuple[int, bytes]]]:
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return [], []
            data, self._skip = data[self._skip :], 0
        buf = self._buffer
        buf += data
        publishes: list[Publish] = []
        others: list[tuple[int, bytes]] = []
        pos, size = 0, len(buf)
        limit = self.max_packet_size
        while size - pos >= 2:
            first = buf[pos]
            # the remaining length, inlined for the common 1- and 2-byte cases
            length = buf[pos + 1]
            if length < 128:
                start = pos + 2
            elif size - pos > 2 and buf[pos + 2] < 128:  # 128 B to 16 kB: most UNS messages
                length = (length & 0x7F) | (buf[pos + 2] << 7)
                start = pos + 3
            else:
                length, start = _read_varint(buf, pos + 1)
                if start < 0:
                    break
            end = start + length
            kind = first >> 4
            if limit and end - pos > limit:
                oversized = self._oversized(buf, pos, start, end, kind)
                if oversized is None:
                    break  # its topic and packet id are not all here yet
                publishes.append(oversized)
                if end > size:
                    self._skip = end - size
                    pos = size
                    break
                pos = end
                continue
            if end > size:
                break
            if kind == PUBLISH:
                if length < 3:
                    raise ProtocolError("PUBLISH shorter than its topic length")
                topic_len = (buf[start] << 8) | buf[start + 1]
                cursor = start + 2 + topic_len
                if not topic_len or cursor > end:
                    raise ProtocolError("PUBLISH topic empty or longer than its packet")
                topic = buf[start + 2 : cursor].decode(errors="replace")  # a broker checks UTF-8; never crash on it
                if first & 0x06:
                    if cursor + 2 > end:
                        raise ProtocolError("PUBLISH shorter than its packet id")
                    packet_id = (buf[cursor] << 8) | buf[cursor + 1]
                    cursor += 2
                else:
                    packet_id = 0
                if cursor >= end:
                    raise ProtocolError("PUBLISH without its properties length")
                props_len = buf[cursor]
                if props_len < 128:
                    cursor += 1 + props_len
                else:
                    props_len, cursor = _varint_within(buf, cursor, end)
                    cursor += props_len
                if cursor > end:
                    raise ProtocolError("PUBLISH shorter than its headers")
                publishes.append(Publish(topic, bytes(buf[cursor:end]), packet_id))
            else:
                others.append((kind, bytes(buf[start:end])))
            pos = end
        if pos:
            del buf[:pos]
        return publishes, others

    def _oversized(self, buf: bytearray, pos: int, start: int, end: int, kind: int) -> Publish | None:
        """The notice of a PUBLISH over the limit, once its headers are in (None until then)."""
        if kind != PUBLISH:
            raise ProtocolError(
                f"a packet of type {kind} and {end - pos} bytes, over the {self.max_packet_size} "
                "byte Maximum Packet Size announced"
            )
        if len(buf) < start + 2:
            return None
        topic_len = (buf[start] << 8) | buf[start + 1]
        cursor = start + 2 + topic_len
        qos = buf[pos] & 0x06
        if len(buf) < cursor + (2 if qos else 0) + 1:
            return None
        topic = buf[start + 2 : cursor].decode(errors="replace")
        packet_id = ((buf[cursor] << 8) | buf[cursor + 1]) if qos else 0
        head = OversizedPayload(bytes(buf[cursor + (2 if qos else 0) : min(end, cursor + 4096, len(buf))]))
        head.size = end - pos
        return Publish(topic, head, packet_id)
