"""The simulator's analytics workcell: its orders, parts and states as UMH Classic ``_analytics`` events that
hf_core.analytics (the ingest's check) accepts, in an order hf_mrp can apply, and published to a real broker."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import Counter
from typing import Any

import paho.mqtt.client as mqtt
from hf_testing import free_port
from paho.mqtt.enums import CallbackAPIVersion

from hf_collector.simulate import LINE, run_simulator
from hf_collector.simulate.analytics import ANALYTICS_WORKCELL, PRODUCT_CODE, UMH_STATES, AnalyticsCell
from hf_collector.simulate.machine import Machine
from hf_core.analytics import event_topic, validate_event
from hf_core.uns import UnsTopic

LOCATION = ("acme", *LINE, ANALYTICS_WORKCELL)
T0_MS = 1_795_000_000_000


def event_type(topic: str) -> str:
    parsed = UnsTopic.parse(topic)
    assert parsed.data_contract == "_analytics", topic
    return "/".join((*parsed.virtual_path, parsed.tag_name))


def simulate(hours: float, step_s: float = 0.2) -> list[tuple[str, dict[str, Any]]]:
    """The events of ``hours`` of the analytics workcell, each checked by hf_core.analytics as the ingest
    checks it: [(event type, payload)]."""
    cell = AnalyticsCell(Machine(seed=4, cycle_time_s=2.5), LOCATION)
    events = []
    for n in range(int(hours * 3600 / step_s)):
        cell.machine.step(step_s)
        for topic, payload in cell.events(T0_MS + round(n * step_s * 1000)):
            kind = event_type(topic)
            assert topic == event_topic(LOCATION, kind)
            events.append((kind, validate_event(kind, payload)))
    return events


def test_orders_parts_and_states_follow_umh_and_the_machine() -> None:
    events = simulate(hours=4, step_s=1.0)
    kinds = Counter(kind for kind, _body in events)
    assert events[0] == ("product-type/create", {"external_product_type_id": PRODUCT_CODE, "cycle_time_ms": 2500})
    assert kinds["work-order/stop"] >= 100, kinds  # 20-part orders at 2.5 s a part, less the stops
    assert {body["state"] for kind, body in events if kind == "state/add"} == set(UMH_STATES.values()), (
        "in four hours the machine runs, waits for material and fails (its bearing wears)"
    )
    # each order: created and started before its parts, its parts reported once, stopped when made
    running: str | None = None
    made: dict[str, int] = {}
    for kind, body in events:
        if kind == "work-order/start":
            running = body["external_work_order_id"]
            made.setdefault(running, 0)
        elif kind == "product/add":
            assert running, "a product/add before its order started"
            assert body["external_product_type_id"] == PRODUCT_CODE
            assert 0 <= body["bad_quantity"] <= body["quantity"]
            made[running] += body["quantity"]
        elif kind == "work-order/stop":
            assert body["external_work_order_id"] == running
            assert made[running] >= 20, "stopped when its quantity is made"
            running = None
    ends = [body["end_time_unix_ms"] for kind, body in events if kind == "product/add"]
    assert len(ends) == len(set(ends)), "every report ends at a time of its own (UMH's key for setBadQuantity)"


def test_repeats_are_the_same_bytes() -> None:
    # the running order and the state are announced again with the same bytes: the ingest keys an event by
    # its bytes and stores a repeat once, and an ingest started after the simulator still learns them
    cell = AnalyticsCell(Machine(seed=4, cycle_time_s=2.5), LOCATION, repeat_s=5)
    first = dict(cell.events(T0_MS))
    again = dict(cell.events(T0_MS + 5000))
    created = event_topic(LOCATION, "work-order/create")
    assert again[created] == first[created]
    assert again[event_topic(LOCATION, "state/add")] == first[event_topic(LOCATION, "state/add")]


async def test_the_simulator_publishes_them_to_the_broker() -> None:
    enterprise = f"simtest{os.getpid()}"
    received: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(f"umh/v1/{enterprise}/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, message: received.append((message.topic, message.payload))
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        assert await asyncio.to_thread(subscribed.wait, 10)
        ports = {"opcua": free_port(), "modbus": free_port(), "s7": free_port()}
        await run_simulator(ports, enterprise=enterprise, seconds=3, analytics_mqtt_url="mqtt://127.0.0.1:1883")
        for _ in range(50):
            if len(received) >= 4:
                break
            await asyncio.sleep(0.1)
    finally:
        client.loop_stop()
        client.disconnect()
    kinds = [event_type(topic) for topic, _payload in received]
    assert kinds[:4] == ["product-type/create", "state/add", "work-order/create", "work-order/start"], kinds
    for topic, payload in received:
        assert UnsTopic.parse(topic).location_path == (enterprise, *LINE, ANALYTICS_WORKCELL)
        validate_event(event_type(topic), payload)
    assert json.loads(received[1][1])["state"] == UMH_STATES["running"]
