"""A new configuration restarts only the devices it changes: the others keep their session and their data."""

from __future__ import annotations

import asyncio
import dataclasses

from collector_fixtures import Message, RunCollector
from hf_testing import free_port

from hf_collector.model import SiteConfig, parse_site
from hf_collector.simulate.machine import Machine
from hf_collector.simulate.servers import OPCUA_NAMESPACE, OpcUaMachine


def two_cells(ports: dict[str, int], gain_b: float = 1.0, version: int = 1) -> SiteConfig:
    """Devices a and b, one OPC UA server each, reading their temperature (b's scaled by ``gain_b``)."""
    site = parse_site(
        {
            "edge": "e",
            "version": version,
            "devices": [
                {
                    "name": name,
                    "protocol": "opcua",
                    "host": "127.0.0.1",
                    "port": port,
                    "tags": [
                        {
                            "name": "temperature",
                            "topic": f"umh/v1/acme/s/a/l/{name}/_historian/temperature",
                            "scale_gain": gain_b if name == "b" else 1.0,
                            "address": {"node_id": f"nsu={OPCUA_NAMESPACE};s=cnc1.temperature"},
                        }
                    ],
                }
                for name, port in ports.items()
            ],
        }
    )
    assert not site.errors
    return site


def temperature(cell: str, value: float) -> object:
    def wanted(message: Message) -> bool:
        return message.topic.split("/")[-2] == cell and message.payload.get("temperature") == value

    return wanted


async def test_one_changed_device_restarts_alone(run_collector: RunCollector) -> None:
    ports = {"a": free_port(), "b": free_port()}
    machines = {name: Machine(seed=1) for name in ports}
    servers = {name: OpcUaMachine(machines[name], port) for name, port in ports.items()}
    for server in servers.values():
        server.machine.temperature = 20.0
        await server.start()
        await server.update()
    try:
        async with run_collector(two_cells(ports)) as running:
            await running.outbox.until(temperature("a", 20.0))
            await running.outbox.until(temperature("b", 20.0))
            subscriptions = {
                name: set(s.server.iserver.subscription_service.subscriptions) for name, s in servers.items()
            }
            assert all(len(ids) == 1 for ids in subscriptions.values()), subscriptions
            driver_a = next(d for d in running.drivers if d.device.name == "a")

            at_once: list[int] = []  # how many sessions server b holds, every 5 ms through the change

            async def count_sessions() -> None:
                while True:
                    # asyncua keeps no public count of its sessions
                    at_once.append(len(servers["b"].server.iserver._external_sessions))
                    await asyncio.sleep(0.005)

            counting = asyncio.create_task(count_sessions())
            running.collector.apply(two_cells(ports, gain_b=2.0, version=2))  # b's tag changed, a as it was
            await running.outbox.until(temperature("b", 40.0))  # b reads with its new scaling
            counting.cancel()
            assert max(at_once) == 1, "b's new session opened once its old one was closed (one PLC, one session)"
            machines["a"].temperature = 21.0
            await servers["a"].update()
            await running.outbox.until(temperature("a", 21.0))  # a reads on

            assert [d.device.name for d in running.drivers] == ["a", "b", "b"], "only b got a new driver"
            assert dataclasses.replace(driver_a.device) == running.collector.site.devices[0]
            assert set(servers["a"].server.iserver.subscription_service.subscriptions) == subscriptions["a"], (
                "a's OPC UA session and subscription on its server were kept"
            )
            await asyncio.sleep(0.5)  # b's old session is closed by then
            assert set(servers["b"].server.iserver.subscription_service.subscriptions) != subscriptions["b"]
    finally:
        for server in servers.values():
            await server.stop()
