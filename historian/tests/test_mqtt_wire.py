"""The ingest's own MQTT 5 subscriber: the codec on its own, then the session against a real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from ingest_fixtures import private_mosquitto
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hf_historian.ingest import mqtt_wire as wire
from hf_historian.ingest.mqtt_session import BrokerAddress, BrokerRefused, MqttSession


def test_packets_split_anywhere_are_reassembled() -> None:
    stream = (
        wire.publish_packet("umh/v1/a/_historian", b'{"timestamp_ms":1,"t":1}', qos=1, packet_id=7)
        + wire.publish_packet("umh/v1/b/_historian", b"x" * 300, qos=0)
        + b"\xd0\x00"  # PINGRESP
        + wire.publish_packet("umh/v1/\xc3\xa9/_historian".encode("latin-1").decode(), b"", qos=1, packet_id=65535)
    )
    reader = wire.PacketReader()
    publishes, others = [], []
    for i in range(len(stream)):  # one byte at a time: every boundary falls inside something
        got, rest = reader.feed(stream[i : i + 1])
        publishes += got
        others += rest
    assert publishes == [
        wire.Publish("umh/v1/a/_historian", b'{"timestamp_ms":1,"t":1}', 7),
        wire.Publish("umh/v1/b/_historian", b"x" * 300, 0),
        wire.Publish("umh/v1/é/_historian", b"", 65535),
    ]
    assert others == [(wire.PINGRESP, b"")]


def test_a_10_mb_payload_and_publish_properties() -> None:
    big = b"7" * 10_000_000
    # A PUBLISH with properties (here a content type, as some publishers send) keeps its payload whole.
    props = bytes([0x03]) + len(b"application/json").to_bytes(2, "big") + b"application/json"
    body = len(b"t").to_bytes(2, "big") + b"t" + (5).to_bytes(2, "big") + wire.varint(len(props)) + props + b"{}"
    with_props = bytes([0x32]) + wire.varint(len(body)) + body
    reader = wire.PacketReader()
    publishes, _ = reader.feed(wire.publish_packet("t", big, packet_id=1)[:1000])
    assert publishes == []
    publishes, _ = reader.feed(wire.publish_packet("t", big, packet_id=1)[1000:] + with_props)
    assert [(p.topic, len(p.payload), p.packet_id) for p in publishes] == [("t", 10_000_000, 1), ("t", 2, 5)]
    assert publishes[1].payload == b"{}"


def test_garbage_from_the_broker_is_a_protocol_error_not_a_hang() -> None:
    with pytest.raises(wire.ProtocolError):
        wire.PacketReader().feed(b"\x30\xff\xff\xff\xff\x01")
    assert wire.varint(0) == b"\x00" and wire.varint(127) == b"\x7f" and wire.varint(128) == b"\x80\x01"
    assert wire.varint(268_435_455) == b"\xff\xff\xff\x7f"


# --- the session against a real broker ----------------------------------------------------------------


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    for info in [client.publish(topic, payload, qos=1) for topic, payload in messages]:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


# `timeout` bounds only the wait for `count` messages; running out of it is a result here, not an error
async def receive(port: int, client_id: str, count: int, *, ack: bool, timeout: float = 10.0) -> list[wire.Publish]:  # noqa: ASYNC109
    got: list[wire.Publish] = []
    arrived = asyncio.Event()

    def on_messages(session: MqttSession, publishes: list[wire.Publish]) -> None:
        got.extend(publishes)
        if ack:
            session.ack([p.packet_id for p in publishes])
        if len(got) >= count:
            arrived.set()

    async with MqttSession(BrokerAddress("127.0.0.1", port), client_id, "umh/v1/#", on_messages):
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(arrived.wait(), timeout)
        await asyncio.sleep(0.3)  # anything beyond ``count`` would show up now
    return got


def test_a_session_closes_its_connection_when_its_block_ends_even_by_an_error() -> None:
    async def main(port: int) -> tuple[MqttSession, MqttSession]:
        async with MqttSession(BrokerAddress("127.0.0.1", port), "hf-ctx-1", "umh/v1/#", lambda _s, _p: None) as ok:
            assert ok.is_open
        failing = MqttSession(BrokerAddress("127.0.0.1", port), "hf-ctx-2", "umh/v1/#", lambda _s, _p: None)
        with pytest.raises(RuntimeError, match="in the block"):
            async with failing:
                raise RuntimeError("in the block")
        return ok, failing

    with private_mosquitto() as port:
        for session in asyncio.run(main(port)):
            assert not session.is_open
            assert session.closed is not None and session.closed.done(), "the broker saw the connection end"


def test_unacknowledged_messages_come_again_acknowledged_ones_do_not() -> None:
    """The ingest's guarantee rests on this: what it did not acknowledge (not committed) is redelivered
    to the same client id, with the same packet ids; what it acknowledged is gone for good."""
    client_id = f"ingest-{uuid.uuid4().hex[:6]}"
    messages = [(f"umh/v1/acme/cell/_historian/t{i}", f"{i}".encode()) for i in range(500)]
    with private_mosquitto() as port:
        asyncio.run(receive(port, client_id, 0, ack=True, timeout=0.1))  # the persistent session exists
        publish(port, messages)
        first = asyncio.run(receive(port, client_id, 500, ack=False))
        assert [(p.topic, p.payload) for p in first] == messages, "all of them, in order"
        again = asyncio.run(receive(port, client_id, 500, ack=True))
        assert [(p.topic, p.payload) for p in again] == messages
        assert [p.packet_id for p in again] == [p.packet_id for p in first]
        assert asyncio.run(receive(port, client_id, 1, ack=True, timeout=1.0)) == []


def test_a_refusing_broker_says_why() -> None:
    with private_mosquitto(anonymous=False) as port:
        session = MqttSession(
            BrokerAddress("127.0.0.1", port, username="nobody", password="wrong"), "x", "umh/v1/#", lambda _s, _p: None
        )
        with pytest.raises(BrokerRefused, match=r"refused the connection: 0x8[67]"):
            asyncio.run(session.open())


def test_a_silent_broker_is_a_timeout() -> None:
    with socket.socket() as listener:  # accepts TCP, never answers MQTT
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        session = MqttSession(
            BrokerAddress("127.0.0.1", listener.getsockname()[1]), "x", "umh/v1/#", lambda _s, _p: None
        )
        with pytest.raises(TimeoutError, match="no answer from the broker"):
            asyncio.run(session.open(timeout_s=0.5))


def test_publish_properties_from_a_real_publisher_are_skipped() -> None:
    """A v5 publisher's user properties and content type travel through the broker to us; the payload
    and topic must come out whole (the broker re-encodes, so this checks its encoding, not ours)."""
    client_id = f"ingest-{uuid.uuid4().hex[:6]}"
    with private_mosquitto() as port:
        asyncio.run(receive(port, client_id, 0, ack=True, timeout=0.1))
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("site", "berlin"), ("line", "1")]
        props.ContentType = "application/json"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", port)
        client.loop_start()
        client.publish(
            "umh/v1/acme/_historian/x", b'{"timestamp_ms":1,"x":2}', qos=1, properties=props
        ).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        got = asyncio.run(receive(port, client_id, 1, ack=True))
    assert [(p.topic, p.payload) for p in got] == [("umh/v1/acme/_historian/x", b'{"timestamp_ms":1,"x":2}')]


# --- hostile bytes (issue 14): every parse error is a ProtocolError, never IndexError/struct.error ------

BAD_STREAMS = [
    b"\x30\x03\x00\x00\x80",  # properties' varint runs past the packet: was a PUBLISH with an empty topic
    b"\x30\x03\x00\x05\x61",  # topic length past the packet
    b"\x30\x01\x00",  # not even a topic length
    b"\x32\x03\x00\x01\x61",  # QoS 1 without a packet id
    b"\x30\x04\x00\x01\x61\x05",  # properties longer than the packet
    b"\x30\x02\x00\x00",  # empty topic (we allow no topic alias)
]


@pytest.mark.parametrize(
    "stream",
    BAD_STREAMS,
    ids=[
        "varint-past-packet",
        "topic-past-packet",
        "no-topic-length",
        "qos1-no-packet-id",
        "props-past-packet",
        "empty-topic",
    ],
)
@pytest.mark.parametrize("split", [None, 1, 3], ids=["one-read", "split-1", "split-3"])
def test_a_malformed_publish_is_a_protocol_error(stream: bytes, split: int | None) -> None:
    """Before: 30 03 00 00 80 parsed as a PUBLISH with an empty topic (_read_varint's -1 used as a position),
    a topic running past the packet raised IndexError when split across reads."""
    reader = wire.PacketReader()
    with pytest.raises(wire.ProtocolError):
        if split is None:
            reader.feed(stream)
        else:
            reader.feed(stream[:split])
            reader.feed(stream[split:])


@pytest.mark.parametrize(
    "parse, body",
    [
        (wire.parse_disconnect, b"\x00\x03"),
        (wire.parse_disconnect, b"\x00\x05\x1f"),
        (wire.parse_disconnect, b"\x00\x03\x1f\x00\x09ab"),
        (wire.parse_suback, b""),
        (wire.parse_suback, b"\x00\x01"),
        (wire.parse_suback, b"\x00\x01\x05"),
        (wire.parse_connack, b"\x00"),
        (wire.parse_connack, b"\x00\x00\x05\x1f"),
    ],
    ids=[
        "disconnect-props-missing",
        "disconnect-reason-cut",
        "disconnect-string-past",
        "suback-empty",
        "suback-no-props",
        "suback-props-past",
        "connack-short",
        "connack-props-cut",
    ],
)
def test_malformed_acknowledgements_are_protocol_errors(parse: Callable[[bytes], object], body: bytes) -> None:
    """Before: IndexError / struct.error (an empty SUBACK during a reconnect killed the reconnect task)."""
    with pytest.raises(wire.ProtocolError):
        parse(body)


def test_well_formed_acknowledgements_still_parse() -> None:
    reason = b"\x1f\x00\x03bye"
    assert wire.parse_disconnect(b"\x8e" + wire.varint(len(reason)) + reason) == (0x8E, "bye")
    assert wire.parse_disconnect(b"") == (0, "")
    assert wire.parse_suback(b"\x00\x01\x00\x01") == (1, [1])
    assert wire.parse_connack(b"\x01\x00\x00") == (True, 0, "")


def test_connect_announces_a_maximum_packet_size() -> None:
    packet = wire.connect_packet(
        "x",
        keepalive=30,
        clean_start=False,
        session_expiry_s=60,
        receive_maximum=10,
        max_packet_size=wire.ANNOUNCED_MAX_PACKET_SIZE,
    )
    assert bytes([wire.PROP_MAXIMUM_PACKET_SIZE]) + wire.ANNOUNCED_MAX_PACKET_SIZE.to_bytes(4, "big") in packet


def test_a_publish_over_the_limit_is_skipped_not_buffered() -> None:
    """Before: a 100 MB PUBLISH was buffered whole (eight of them: 1.0 GB) before the 1 MB check."""
    limit = 100_000
    packet = wire.publish_packet("umh/v1/acme/_historian/t", b"7" * 5_000_000, packet_id=9)
    reader = wire.PacketReader(max_packet_size=limit)
    got: list[wire.Publish] = []
    for offset in range(0, len(packet), 65_536):
        publishes, _ = reader.feed(packet[offset : offset + 65_536])
        got += publishes
        assert reader.buffered <= limit + 65_536
    publishes, _ = reader.feed(wire.publish_packet("next", b"{}", packet_id=10))
    got += publishes
    assert [(p.topic, p.packet_id) for p in got] == [("umh/v1/acme/_historian/t", 9), ("next", 10)]
    assert isinstance(got[0].payload, wire.OversizedPayload) and got[0].payload.size == len(packet)
    assert len(got[0].payload) <= 4096 and got[1].payload == b"{}"


def test_an_empty_suback_is_a_protocol_error_from_open() -> None:
    """A broker answering CONNACK then an empty SUBACK: open() raises ProtocolError, which the ingest's
    reconnect loop retries (a struct.error used to end that loop silently)."""

    async def main() -> None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1024)
            writer.write(b"\x20\x03\x00\x00\x00")
            await writer.drain()
            await reader.read(1024)
            writer.write(b"\x90\x00")
            await writer.drain()
            await asyncio.sleep(1)
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        session = MqttSession(BrokerAddress("127.0.0.1", port), "x", "umh/v1/#", lambda _s, _p: None)
        with pytest.raises(wire.ProtocolError):
            await session.open(timeout_s=5)
        server.close()

    asyncio.run(main())
