"""The ingest's own MQTT 5 subscriber: the codec on its own, then the session against a real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid

import paho.mqtt.client as mqtt
import pytest
from ingest_fixtures import private_mosquitto
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hf_historian.ingest import mqtt_wire as wire
from hf_historian.ingest.mqtt_session import BrokerAddress, BrokerRefused, MqttSession


def test_packets_split_anywhere_are_reassembled() -> None:
    stream = (wire.publish_packet("umh/v1/a/_historian", b'{"timestamp_ms":1,"t":1}', qos=1, packet_id=7)
              + wire.publish_packet("umh/v1/b/_historian", b"x" * 300, qos=0)
              + b"\xd0\x00"  # PINGRESP
              + wire.publish_packet("umh/v1/\xc3\xa9/_historian".encode("latin-1").decode(), b"", qos=1,
                                    packet_id=65535))
    reader = wire.PacketReader()
    publishes, others = [], []
    for i in range(len(stream)):  # one byte at a time: every boundary falls inside something
        got, rest = reader.feed(stream[i:i + 1])
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
async def receive(port: int, client_id: str, count: int, *, ack: bool,
                  timeout: float = 10.0) -> list[wire.Publish]:  # noqa: ASYNC109
    got: list[wire.Publish] = []
    arrived = asyncio.Event()

    def on_messages(session: MqttSession, publishes: list[wire.Publish]) -> None:
        got.extend(publishes)
        if ack:
            session.ack([p.packet_id for p in publishes])
        if len(got) >= count:
            arrived.set()

    session = MqttSession(BrokerAddress("127.0.0.1", port), client_id, "umh/v1/#", on_messages)
    await session.open()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(arrived.wait(), timeout)
    await asyncio.sleep(0.3)  # anything beyond ``count`` would show up now
    await session.close()
    return got


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
        session = MqttSession(BrokerAddress("127.0.0.1", port, username="nobody", password="wrong"), "x",
                              "umh/v1/#", lambda _s, _p: None)
        with pytest.raises(BrokerRefused, match=r"refused the connection: 0x8[67]"):
            asyncio.run(session.open())


def test_a_silent_broker_is_a_timeout() -> None:
    with socket.socket() as listener:  # accepts TCP, never answers MQTT
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        session = MqttSession(BrokerAddress("127.0.0.1", listener.getsockname()[1]), "x", "umh/v1/#",
                              lambda _s, _p: None)
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
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}",
                             protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", port)
        client.loop_start()
        client.publish("umh/v1/acme/_historian/x", b'{"timestamp_ms":1,"x":2}', qos=1,
                       properties=props).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        got = asyncio.run(receive(port, client_id, 1, ack=True))
    assert [(p.topic, p.payload) for p in got] == [("umh/v1/acme/_historian/x", b'{"timestamp_ms":1,"x":2}')]
