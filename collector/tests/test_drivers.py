"""Each driver against a real server on loopback (asyncua Server, pymodbus server, snap7 Server)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import struct
from collections.abc import AsyncIterator

import pytest
from asyncua import ua
from hf_testing import free_port

from hf_collector.drivers.modbus import ModbusDriver, decode_registers, plan_requests
from hf_collector.drivers.opcua import OpcUaDriver
from hf_collector.drivers.s7 import S7Driver, plan_ranges
from hf_collector.model import DeviceConfig, ModbusAddress, OpcUaAddress, TagSample, parse_site
from hf_collector.simulate import site_document
from hf_collector.simulate.machine import Machine
from hf_collector.simulate.servers import OPCUA_NAMESPACE, ModbusMachine, OpcUaMachine, S7Machine
from hf_core.types import Quality


def known_machine() -> Machine:
    machine = Machine(seed=7)
    machine.temperature, machine.spindle_speed, machine.vibration = 61.5, 11_990.0, 3.25
    machine.good_count, machine.scrap_count, machine.state = 123_456, 789, "running"
    return machine


async def first_good(samples: AsyncIterator[list[TagSample]], names: int) -> dict[str, object]:
    """Values by tag name once every tag has been read with good quality."""
    seen: dict[str, object] = {}
    async with asyncio.timeout(20):
        async for batch in samples:
            seen.update({s.tag.name: s.value for s in batch if s.quality is Quality.GOOD})
            if len(seen) >= names:
                return seen
    raise AssertionError("no samples")


async def first_bad(samples: AsyncIterator[list[TagSample]]) -> list[TagSample]:
    """The batch that marks the device's gap (BAD quality on every tag)."""
    async with asyncio.timeout(30):
        async for batch in samples:
            if batch[0].quality is Quality.BAD:
                return batch
    raise AssertionError("no batch of bad quality")


async def serving(
    server_class: type[ModbusMachine | OpcUaMachine | S7Machine], machine: Machine, port: int
) -> ModbusMachine | OpcUaMachine | S7Machine:
    """A simulated PLC listening on ``port`` with ``machine``'s values."""
    server = server_class(machine, port)
    await server.start()
    await server.update()
    return server


def device(protocol_index: int, port: int) -> DeviceConfig:
    site = parse_site(site_document({"opcua": port, "modbus": port, "s7": port}, "acme"))
    assert not site.errors
    return site.devices[protocol_index]


EXPECTED = {
    "temperature": 61.5,
    "spindle_speed": 11_990.0,
    "vibration": 3.25,
    "good_count": 123_456,
    "scrap_count": 789,
}


@pytest.mark.parametrize("protocol", ["opcua", "modbus", "s7"])
async def test_driver_reads_every_type_from_a_real_server(protocol: str) -> None:
    port = free_port()
    server_class, index = {"opcua": (OpcUaMachine, 0), "modbus": (ModbusMachine, 1), "s7": (S7Machine, 2)}[protocol]
    server = await serving(server_class, known_machine(), port)
    try:
        dev = device(index, port)
        driver = {"opcua": OpcUaDriver, "modbus": ModbusDriver, "s7": S7Driver}[protocol](dev)
        async with driver:
            values = await first_good(driver.samples(), len(dev.tags))
        for name, expected in EXPECTED.items():
            assert values[name] == pytest.approx(expected, rel=1e-6), name
        assert values["state"] == ("running" if protocol == "opcua" else 1)
        if protocol == "s7":
            assert values["running"] is True
    finally:
        await server.stop()


@pytest.mark.parametrize("protocol", ["modbus", "opcua"])
async def test_plc_that_vanishes_is_marked_bad_and_reconnects(protocol: str) -> None:
    port = free_port()
    machine = known_machine()
    server_class, index = {"opcua": (OpcUaMachine, 0), "modbus": (ModbusMachine, 1)}[protocol]
    server = await serving(server_class, machine, port)
    dev = device(index, port)
    driver = ModbusDriver(dev, timeout=0.5) if protocol == "modbus" else OpcUaDriver(dev, timeout=1.0)
    async with driver:
        samples = driver.samples()
        await first_good(samples, len(dev.tags))
        await server.stop()
        batch = await first_bad(samples)
        assert {s.tag.name for s in batch} == {t.name for t in dev.tags}, "the gap is marked on every tag"
        machine.good_count = 200_000
        server = await serving(server_class, machine, port)
        values = await first_good(samples, len(dev.tags))
        assert values["good_count"] == 200_000, "it resumed (OPC UA: subscribed again) by itself with fresh values"
        await samples.aclose()
    await server.stop()


async def test_a_modbus_plc_gone_is_tried_again_at_once_then_after_1_s(caplog: pytest.LogCaptureFixture) -> None:
    """A dropped connection is one failure: the driver reconnects at once, and only that failed attempt starts
    the backoff (1 s, then 2 s …). It used to pause 1 s for the drop and count the failed reconnect again, so its
    first retry waited 2 s."""
    port = free_port()
    server = await serving(ModbusMachine, known_machine(), port)
    dev = device(1, port)
    driver = ModbusDriver(dev, timeout=0.5)
    caplog.set_level(logging.WARNING, logger="hf_collector.drivers.modbus")
    async with driver:
        samples = driver.samples()
        await first_good(samples, len(dev.tags))
        await server.stop()
        await first_bad(samples)
        caplog.clear()
        reconnecting = asyncio.ensure_future(anext(samples))  # nothing comes while the PLC is away
        await asyncio.sleep(2.5)
        reconnecting.cancel()
        await asyncio.gather(reconnecting, return_exceptions=True)
        await samples.aclose()
    failed = [r for r in caplog.records if "does not answer" in r.getMessage()]
    assert failed, "no reconnect attempt within 2.5 s of the drop"
    assert "retrying in 1 s" in failed[0].getMessage(), failed[0].getMessage()
    assert len(failed) >= 2 and failed[1].created - failed[0].created < 1.6, [r.getMessage() for r in failed]


async def test_s7_plc_that_vanishes_is_marked_bad_and_reconnects() -> None:
    port = free_port()
    machine = known_machine()
    server = await serving(S7Machine, machine, port)
    dev = device(2, port)
    driver = S7Driver(dev)
    async with driver:
        samples = driver.samples()
        await first_good(samples, len(dev.tags))
        await server.stop()
        await first_bad(samples)
        machine.scrap_count = 1000
        server = await serving(S7Machine, machine, port)
        values = await first_good(samples, len(dev.tags))
        assert values["scrap_count"] == 1000
        await samples.aclose()
    await server.stop()


def test_modbus_coalesces_contiguous_registers_within_protocol_limits() -> None:
    site = parse_site(
        {
            "devices": [
                {
                    "name": "d",
                    "protocol": "modbus",
                    "host": "h",
                    "tags": [
                        {
                            "name": f"r{i}",
                            "topic": f"umh/v1/a/_historian/r{i}",
                            "address": {"table": "holding", "address": i * 2, "type": "float32"},
                        }
                        for i in range(1000)
                    ]
                    + [
                        {
                            "name": "far",
                            "topic": "umh/v1/a/_historian/far",
                            "address": {"table": "holding", "address": 5000, "type": "int16"},
                        },
                        {
                            "name": "c",
                            "topic": "umh/v1/a/_historian/c",
                            "address": {"table": "coil", "address": 3, "type": "bool"},
                        },
                    ],
                }
            ]
        }
    )
    requests = plan_requests(list(site.devices[0].tags))
    holding = [r for r in requests if r.table == "holding"]
    assert all(r.count <= 125 for r in requests)
    assert len(holding) == 18, "2,000 registers in 17 requests of 62 whole float32 values, plus the far one"
    assert sum(len(r.tags) for r in requests) == 1002


@pytest.mark.parametrize(
    ("byte_order", "word_order"), [("big", "big"), ("big", "little"), ("little", "big"), ("little", "little")]
)
def test_modbus_byte_and_word_order(byte_order: str, word_order: str) -> None:
    raw = struct.pack(">f", 1234.5)
    words = [int.from_bytes(raw[0:2], "big"), int.from_bytes(raw[2:4], "big")]
    if byte_order == "little":
        words = [int.from_bytes(w.to_bytes(2, "big")[::-1], "big") for w in words]
    if word_order == "little":
        words.reverse()
    address = ModbusAddress("holding", 0, "float32", byte_order=byte_order, word_order=word_order)
    assert decode_registers(words, address) == 1234.5


def test_s7_reads_variables_of_one_db_in_one_request() -> None:
    dev = device(2, 102)
    assert len(plan_ranges(list(dev.tags))) == 1


async def test_opcua_bad_status_is_bad_quality() -> None:
    port = free_port()
    server = await serving(OpcUaMachine, known_machine(), port)
    try:
        dev = device(0, port)
        async with OpcUaDriver(dev) as driver:
            samples = driver.samples()
            await first_good(samples, len(dev.tags))
            await server.nodes["temperature"].write_value(
                ua.DataValue(
                    ua.Variant(99.0, ua.VariantType.Double), StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure)
                )
            )
            async with asyncio.timeout(20):
                async for batch in samples:
                    bad = [s for s in batch if s.tag.name == "temperature" and s.quality is Quality.BAD]
                    if bad:
                        break
            assert bad[0].value is None
            await samples.aclose()
    finally:
        await server.stop()


def test_a_plc_nan_or_infinity_becomes_a_gap_not_a_lost_batch() -> None:
    """A REAL register holding NaN is common on a PLC; JSON cannot carry it, and before, encoding the
    batch raised and the device task restarted, losing the batch's good values with it."""
    import json

    from hf_collector.runner import to_messages

    site = parse_site(
        {
            "devices": [
                {
                    "name": "d",
                    "protocol": "modbus",
                    "host": "h",
                    "tags": [
                        {
                            "name": name,
                            "topic": f"umh/v1/a/_historian/{name}",
                            "address": {"table": "holding", "address": i * 2, "type": "float32"},
                        }
                        for i, name in enumerate(("nan", "inf", "good"))
                    ],
                }
            ]
        }
    )
    tags = {tag.name: tag for tag in site.devices[0].tags}
    batch = [
        TagSample(tags["nan"], float("nan"), 1000),
        TagSample(tags["inf"], float("-inf"), 1000),
        TagSample(tags["good"], 21.5, 1000),
    ]
    [(topic, payload)] = to_messages(batch)
    assert topic == "umh/v1/a/_historian"
    assert json.loads(payload) == {"timestamp_ms": 1000, "nan": None, "inf": None, "good": 21.5}


async def test_opcua_tags_addressed_by_namespace_uri_are_read_and_an_unknown_uri_is_left_out() -> None:
    """`nsu=<uri>;…` (what browse writes) is resolved at connect against the server's namespace table."""
    port = free_port()
    server = await serving(OpcUaMachine, known_machine(), port)
    try:
        dev = device(0, port)
        tags = [
            dataclasses.replace(
                tag, address=OpcUaAddress(tag.address.node_id.replace("ns=2;", f"nsu={OPCUA_NAMESPACE};"))
            )  # type: ignore[union-attr]
            for tag in dev.tags
        ]
        stranger = dataclasses.replace(tags[0], name="stranger", address=OpcUaAddress("nsu=urn:not:here;s=x"))
        dev = dataclasses.replace(dev, tags=(*tags, stranger))
        async with OpcUaDriver(dev) as driver:
            values = await first_good(driver.samples(), len(tags))
        assert values["temperature"] == pytest.approx(61.5)
        assert values["state"] == "running"
        assert "stranger" not in values
    finally:
        await server.stop()
