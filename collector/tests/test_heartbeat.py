"""The heartbeat: a machine state that does not change is still sent, at least every heartbeat_s, stamped
with the time it holds, and again at once when its PLC comes back."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from asyncua import ua
from collector_fixtures import Message, RunCollector
from hf_testing import free_port

from hf_collector.model import DEFAULT_HEARTBEAT_S, SiteConfig, parse_site
from hf_collector.simulate import site_document
from hf_collector.simulate.machine import Machine
from hf_collector.simulate.servers import OpcUaMachine

STATE = "umh/v1/acme/demo-site/machining/line1/cnc1/_historian"


def state_site(port: int, **edge: object) -> SiteConfig:
    """The simulator's OPC UA device reading only its string state, with ``edge``'s keys in the document."""
    document = site_document({"opcua": port, "modbus": port, "s7": port}, "acme")
    document["devices"] = document["devices"][:1]
    document["devices"][0]["tags"] = [t for t in document["devices"][0]["tags"] if t["name"] == "state"]
    site = parse_site({**document, **edge})
    assert not site.errors
    return site


def is_state(message: Message) -> bool:
    return message.topic == STATE and message.payload.get("state") == "running"


async def test_a_state_that_does_not_change_is_sent_every_heartbeat_and_again_at_once_after_a_restart(
    run_collector: RunCollector,
) -> None:
    port = free_port()
    machine = Machine(seed=7)
    machine.state = "running"
    server = OpcUaMachine(machine, port)
    await server.start()
    await server.update()  # written once: from here on the state does not change
    try:
        async with run_collector(state_site(port, heartbeat_s=1)) as running:
            first = await running.outbox.until(is_state)
            seen = [first]
            while seen[-1].arrived - first.arrived < 5:
                seen.append(await running.outbox.until(is_state, within=3))
            arrivals = [m.arrived for m in seen]
            gaps = [b - a for a, b in itertools.pairwise(arrivals)]
            assert max(gaps) <= 1.3, f"the unchanged state is sent at least every ~1 s (gaps {gaps})"
            stamps = [m.payload["timestamp_ms"] for m in seen[1:]]
            assert all(abs(stamp - time.time() * 1000) < 7000 for stamp in stamps), "stamped when sent"
            assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), "each beat a later time"

            await server.stop()
            gap = await running.outbox.until(lambda m: m.topic == STATE and m.payload.get("state", "") is None)
            assert gap.payload["state"] is None, "the PLC's absence is a gap (bad quality)"
            server = OpcUaMachine(machine, port)
            await server.start()
            await server.update()
            listening = time.monotonic()
            back = await running.outbox.until(is_state, within=10)
            assert back.arrived - listening <= 2.0, "the state comes again at once after the PLC is back"
            assert back.payload["timestamp_ms"] >= gap.payload["timestamp_ms"], "after the gap, not before it"
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("edge", "tag", "expected"),
    [
        ({}, {}, DEFAULT_HEARTBEAT_S),
        ({"heartbeat_s": 15}, {}, 15.0),
        ({"heartbeat_s": 15}, {"heartbeat_s": "2.5"}, 2.5),
    ],
    ids=["default", "edge-wide", "the tag's own"],
)
def test_heartbeat_comes_from_the_tag_else_the_edge_else_60_s(
    edge: dict[str, object], tag: dict[str, object], expected: float
) -> None:
    document = site_document({"opcua": 4840, "modbus": 502, "s7": 102}, "acme")
    document["devices"][0]["tags"][0].update(tag)
    site = parse_site({**document, **edge})
    assert not site.errors
    assert site.devices[0].tags[0].heartbeat_s == expected
    assert site.devices[1].tags[0].heartbeat_s == edge.get("heartbeat_s", DEFAULT_HEARTBEAT_S)


def test_a_bad_heartbeat_is_named_and_the_rest_keeps_running() -> None:
    document = site_document({"opcua": 4840, "modbus": 502, "s7": 102}, "acme")
    document["devices"][0]["tags"][0]["heartbeat_s"] = 0.1
    site = parse_site({**document, "heartbeat_s": "soon"})
    assert any("heartbeat_s 'soon' is not a number of seconds" in e and "Using 60 s" in e for e in site.errors)
    assert any("cnc1-opcua, tag state" in e and "at least 1 s" in e for e in site.errors), site.errors
    assert len(site.devices) == 3
    assert {t.heartbeat_s for d in site.devices for t in d.tags} == {DEFAULT_HEARTBEAT_S}


async def test_a_state_stamped_hours_ago_by_its_plc_is_sent_as_holding_now_and_again_after_a_reconnect(
    run_collector: RunCollector,
) -> None:
    """A PLC stamps a value with the time it changed: the heartbeat says it holds now (once at connect, once
    after the gap of a reconnect), not only at a time long before the screen's window."""
    port = free_port()
    changed = datetime.now(UTC) - timedelta(hours=2)

    async def start() -> OpcUaMachine:
        server = OpcUaMachine(Machine(seed=7), port)
        await server.start()
        await server.nodes["state"].write_value(
            ua.DataValue(ua.Variant("running", ua.VariantType.String), SourceTimestamp=changed, ServerTimestamp=changed)
        )
        return server

    server = await start()
    try:
        async with run_collector(state_site(port)) as running:  # the default heartbeat, 60 s
            at_change = await running.outbox.until(is_state)
            assert at_change.payload["timestamp_ms"] == int(changed.timestamp() * 1000), "the PLC's own time"
            now = await running.outbox.until(is_state, within=2)
            assert abs(now.payload["timestamp_ms"] - time.time() * 1000) < 2000, "and at once: it holds now"

            await server.stop()
            gap = await running.outbox.until(lambda m: m.topic == STATE and m.payload.get("state", "") is None)
            server = await start()
            await running.outbox.until(is_state)  # its old time again, before the gap
            back = await running.outbox.until(is_state, within=2)
            assert back.payload["timestamp_ms"] > gap.payload["timestamp_ms"], "holding after the gap, not before"
    finally:
        await server.stop()
