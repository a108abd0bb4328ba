"""`hf-collector simulate`: a machine per protocol behind real OPC UA, Modbus TCP and S7 servers, and (with
an MQTT url) a fourth workcell whose own MES publishes UMH ``_analytics`` events (see analytics.py)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import yaml

from hf_collector.delivery.buffer import DiskQueue
from hf_collector.delivery.mqtt import MqttSender, MqttSettings
from hf_collector.simulate.analytics import ANALYTICS_WORKCELL, AnalyticsCell
from hf_collector.simulate.machine import Machine
from hf_collector.simulate.servers import (
    MODBUS_MAP,
    S7_DB,
    S7_MAP,
    ModbusMachine,
    OpcUaMachine,
    S7Machine,
    SimulatedServer,
)

_logger = logging.getLogger(__name__)
DEFAULT_PORTS = {"opcua": 4840, "modbus": 5020, "s7": 1102}
TAGS = {  # name: (data type, unit, role)
    "state": ("int", "", "machine_state"),
    "spindle_speed": ("float", "rpm", "plain"),
    "temperature": ("float", "°C", "plain"),
    "good_count": ("int", "parts", "good_count"),
    "scrap_count": ("int", "parts", "scrap_count"),
    "vibration": ("float", "mm/s", "plain"),
}
STEP_S = 0.2
LINE = ("demo-site", "machining", "line1")  # the simulated machines' site, area and line


def site_document(ports: dict[str, int], enterprise: str, host: str = "127.0.0.1") -> dict[str, Any]:
    """The site.yaml for these servers, in the configuration document's shape (docs/contracts.md)."""
    location = "/".join(("umh/v1", enterprise, *LINE))

    def tag(cell: str, name: str, address: dict[str, Any], data_type: str | None = None) -> dict[str, Any]:
        kind, unit, role = TAGS.get(name, ("bool", "", "plain"))
        return {
            "name": name,
            "topic": f"{location}/{cell}/_historian/{name}",
            "data_type": data_type or kind,
            "unit": unit,
            "role": role,
            "sampling_interval_ms": 1000,
            "address": address,
        }

    return {
        "edge": "demo-edge",
        "version": 1,
        "mqtt": {"url": "mqtt://127.0.0.1:1883"},
        "devices": [
            {
                "name": "cnc1-opcua",
                "protocol": "opcua",
                "host": host,
                "port": ports["opcua"],
                "tags": [
                    tag("cnc1", n, {"node_id": f"ns=2;s=cnc1.{n}"}, "string" if n == "state" else None) for n in TAGS
                ],
            },
            {
                "name": "press1-modbus",
                "protocol": "modbus",
                "host": host,
                "port": ports["modbus"],
                "unit_id": 1,
                "tags": [
                    tag(
                        "press1",
                        n,
                        {
                            "unit_id": 1,
                            "table": "holding",
                            "address": a,
                            "type": k,
                            "byte_order": "big",
                            "word_order": "big",
                        },
                    )
                    for n, (a, k) in MODBUS_MAP.items()
                ],
            },
            {
                "name": "robot1-s7",
                "protocol": "s7",
                "host": host,
                "port": ports["s7"],
                "rack": 0,
                "slot": 1,
                "tags": [
                    tag("robot1", n, {"area": "DB", "db_number": S7_DB, "offset": o, "bit": 0, "type": k})
                    for n, (o, k) in S7_MAP.items()
                ],
            },
        ],
    }


@contextlib.asynccontextmanager
async def analytics_publisher(mqtt_url: str) -> AsyncIterator[tuple[DiskQueue, MqttSender]]:
    """The collector's own store-and-forward delivery (a disk queue drained to the broker at QoS 1, in order)
    for the analytics workcell's events."""
    with tempfile.TemporaryDirectory(prefix="hf-simulate-") as state:
        queue = DiskQueue(Path(state) / "analytics.sqlite")
        async with MqttSender(MqttSettings(url=mqtt_url, client_id=f"hf-simulate-{os.getpid()}"), queue) as sender:
            yield queue, sender


async def run_simulator(
    ports: dict[str, int] | None = None,
    write_config: Path | None = None,
    enterprise: str = "acme",
    seconds: float | None = None,
    analytics_mqtt_url: str | None = None,
) -> None:
    """Serve until cancelled (or for ``seconds``); write ``write_config`` once every server listens. With
    ``analytics_mqtt_url``, the analytics workcell publishes its orders, parts and states there."""
    async with contextlib.AsyncExitStack() as stack:
        tick = None
        if analytics_mqtt_url:
            cell = AnalyticsCell(Machine(seed=4, cycle_time_s=2.5), (enterprise, *LINE, ANALYTICS_WORKCELL))
            queue, sender = await stack.enter_async_context(analytics_publisher(analytics_mqtt_url))
            _logger.info("simulator: workcell %s publishes _analytics to %s", ANALYTICS_WORKCELL, analytics_mqtt_url)
            tick = functools.partial(_publish, cell, queue, sender)
        await _serve(ports, write_config, enterprise, seconds, tick)


def _publish(cell: AnalyticsCell, queue: DiskQueue, sender: MqttSender, now_ms: int) -> None:
    cell.machine.step(STEP_S)
    events = cell.events(now_ms)
    if events:
        queue.put_many(events)
        sender.wake()


async def _serve(
    ports: dict[str, int] | None,
    write_config: Path | None,
    enterprise: str,
    seconds: float | None,
    tick: Callable[[int], None] | None,
) -> None:
    ports = {**DEFAULT_PORTS, **(ports or {})}
    machines = [Machine(seed=1), Machine(seed=2, cycle_time_s=3.0), Machine(seed=3, cycle_time_s=1.5)]
    servers: list[SimulatedServer] = [
        OpcUaMachine(machines[0], ports["opcua"]),
        ModbusMachine(machines[1], ports["modbus"]),
        S7Machine(machines[2], ports["s7"]),
    ]
    for server in servers:
        await server.start()
        await server.update()
    _logger.info(
        "simulator: OPC UA opc.tcp://127.0.0.1:%s, Modbus TCP 127.0.0.1:%s, S7 127.0.0.1:%s",
        ports["opcua"],
        ports["modbus"],
        ports["s7"],
    )
    if write_config:
        tmp = write_config.with_suffix(".tmp")
        tmp.write_text(
            yaml.safe_dump(site_document(ports, enterprise), sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        os.replace(tmp, write_config)
    started = time.monotonic()
    try:
        while seconds is None or time.monotonic() - started < seconds:
            for machine, server in zip(machines, servers, strict=True):
                machine.step(STEP_S)
                await server.update()
            if tick:
                tick(round(time.time() * 1000))
            await asyncio.sleep(STEP_S)
    finally:
        for server in servers:
            await server.stop()
