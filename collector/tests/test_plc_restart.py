"""A PLC killed and restarted is read again within 2 s of its return, however long it was away."""

from __future__ import annotations

import asyncio
import time

import pytest
from collector_fixtures import Message, RunCollector
from hf_testing import free_port

from hf_collector.model import parse_site
from hf_collector.simulate import site_document
from hf_collector.simulate.machine import Machine
from hf_collector.simulate.servers import ModbusMachine, OpcUaMachine

# away this long, then the server takes its own start-up time: back about 10 s after it went, in the middle of
# the backoff's 7 → 15 s step (without the probe, a returning PLC waited out the rest of that step)
AWAY_S = 8.0
SERVERS = {"opcua": (OpcUaMachine, 0), "modbus": (ModbusMachine, 1)}


@pytest.mark.parametrize("protocol", list(SERVERS))
async def test_a_plc_back_after_10_s_is_read_within_2_s(run_collector: RunCollector, protocol: str) -> None:
    port = free_port()
    server_class, index = SERVERS[protocol]
    document = site_document({"opcua": port, "modbus": port, "s7": port}, "acme")
    document["devices"] = [document["devices"][index]]
    site = parse_site(document)
    machine = Machine(seed=3)
    machine.good_count = 100

    def good_count(value: int) -> object:
        def wanted(message: Message) -> bool:
            return message.payload.get("good_count") == value

        return wanted

    server = server_class(machine, port)
    await server.start()
    await server.update()
    try:
        async with run_collector(site) as running:
            await running.outbox.until(good_count(100))
            await server.stop()
            stopped = time.monotonic()
            await running.outbox.until(lambda m: "good_count" in m.payload and m.payload["good_count"] is None)
            await asyncio.sleep(AWAY_S)
            machine.good_count = 200
            server = server_class(machine, port)
            await server.start()
            listening = time.monotonic()
            await server.update()
            back = await running.outbox.until(good_count(200), within=30)
            seconds = back.arrived - listening
            print(
                f"{protocol}: first good sample {seconds:.2f} s after the PLC listens again "
                f"({listening - stopped:.1f} s away)"
            )
            assert seconds <= 2.0, f"read again {seconds:.2f} s after the PLC came back"
    finally:
        await server.stop()
