"""Collector benchmarks (issue 4), printed side by side with their baselines and targets.

    .venv/bin/python bench/bench_collector.py

Real servers on loopback: an asyncua Server (in its own process), a pymodbus server, Mosquitto.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "historian" / "tests"))  # ingest_fixtures: a private Mosquitto
sys.path.insert(0, str(ROOT / "tests" / "support"))  # hf_testing, which it imports
from ingest_fixtures import free_port, private_mosquitto  # noqa: E402

from hf_collector.delivery.buffer import DiskQueue  # noqa: E402
from hf_collector.delivery.mqtt import MqttSender, MqttSettings  # noqa: E402
from hf_collector.drivers.modbus import ModbusDriver, plan_requests  # noqa: E402
from hf_collector.drivers.opcua import OpcUaDriver  # noqa: E402
from hf_collector.model import parse_site  # noqa: E402
from hf_collector.runner import settle_heap, to_messages  # noqa: E402
from hf_collector.simulate.machine import Machine  # noqa: E402
from hf_collector.simulate.servers import ModbusMachine  # noqa: E402

# --- an OPC UA server changing N variables at a given rate, in its own process ------------------


def opcua_server(port: int, variables: int, period_s: float, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    from asyncua import Server, ua

    async def main() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
        ns = await server.register_namespace("urn:bench")
        folder = await server.nodes.objects.add_object(ua.NodeId("bench", ns), "bench")
        nodes = [await folder.add_variable(ua.NodeId(f"v{i}", ns), f"v{i}", 0.0) for i in range(variables)]
        await server.start()
        ready.set()
        # Each variable changes once per period, the changes spread over it in 10 slices (as a PLC's values
        # change through its cycle): a burst of all of them would hold the server's loop, and the
        # notifications of the first ones, for the whole burst, which is this Python server's cost, not
        # the collector's.
        slices = 10
        per_slice = -(-len(nodes) // slices)
        tick = 0
        next_at = time.monotonic()
        while True:
            tick += 1
            for first in range(0, len(nodes), per_slice):
                for node in nodes[first : first + per_slice]:
                    await server.write_attribute_value(
                        node.nodeid,
                        ua.DataValue(ua.Variant(float(tick), ua.VariantType.Double), SourceTimestamp=datetime.now(UTC)),
                    )
                next_at += period_s / slices
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    import logging

    logging.getLogger("asyncua").setLevel(logging.ERROR)
    asyncio.run(main())


def opcua_site(port: int, variables: int, interval_ms: int) -> object:
    return parse_site(
        {
            "devices": [
                {
                    "name": "bench-opcua",
                    "protocol": "opcua",
                    "host": "127.0.0.1",
                    "port": port,
                    "tags": [
                        {
                            "name": f"v{i}",
                            "topic": f"umh/v1/acme/bench/cell{i // 100}/_historian/v{i}",
                            "sampling_interval_ms": interval_ms,
                            "address": {"node_id": f"ns=2;s=v{i}"},
                        }
                        for i in range(variables)
                    ],
                }
            ]
        }
    )


def subscriber(
    broker: int,
    ready: multiprocessing.Event,
    stop: multiprocessing.Event,  # type: ignore[valid-type]
    results: multiprocessing.Queue,
) -> None:  # type: ignore[type-arg]
    """The MQTT subscriber, in its own process so its cost is not counted as the collector's: values seen
    and, per message, the delay from the value's source timestamp to its arrival here."""
    received: list[float] = []
    values_seen = [0]

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        body = json.loads(message.payload)
        values_seen[0] += len(body) - 1
        received.append(time.time() * 1000 - body["timestamp_ms"])

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sub")
    client.on_message = on_message
    client.on_subscribe = lambda *_args: ready.set()
    client.connect("127.0.0.1", broker)
    client.subscribe("umh/v1/acme/bench/#", qos=1)
    client.loop_start()
    stop.wait(600)
    client.loop_stop()
    results.put((values_seen[0], received))


async def opcua_to_mqtt(
    broker: int, variables: int, period_s: float, seconds: float, latency: bool, interval_ms: int | None = None
) -> dict[str, float]:
    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=opcua_server, args=(port, variables, period_s, ready), daemon=True)
    server.start()
    ready.wait(60)
    site = opcua_site(port, variables, interval_ms or max(10, int(period_s * 1000)))
    sub_ready, sub_stop, sub_results = multiprocessing.Event(), multiprocessing.Event(), multiprocessing.Queue()
    listener = multiprocessing.Process(target=subscriber, args=(broker, sub_ready, sub_stop, sub_results), daemon=True)
    listener.start()
    sub_ready.wait(30)
    folder = Path(tempfile.mkdtemp())
    queue = DiskQueue(folder / "q.sqlite")
    # the sender runs for the block and has closed its connection at its end, so the next figure does not share
    # the machine with it
    async with MqttSender(MqttSettings(url=f"mqtt://127.0.0.1:{broker}", client_id="bench-collector"), queue) as sender:
        driver = OpcUaDriver(site.devices[0])  # type: ignore[attr-defined]
        read = 0
        async with driver:
            samples = driver.samples()
            # steady state: clocks start at the first notification, after connecting and creating the monitored items
            first = await anext(samples)
            queue.put_many(to_messages(first))
            settle_heap()  # as Collector.run does once started
            start, cpu_before = time.perf_counter(), psutil.Process().cpu_times()
            async for batch in samples:
                queue.put_many(to_messages(batch))
                sender.wake()
                read += len(batch)
                if time.perf_counter() - start > seconds:
                    break
            elapsed = time.perf_counter() - start
            # CPU over the same window as elapsed: disconnecting the driver is not part of the steady state
            cpu_after = psutil.Process().cpu_times()
            await samples.aclose()
        await asyncio.sleep(2)
    sub_stop.set()
    delivered, received = sub_results.get(timeout=60)
    listener.join(timeout=10)
    server.terminate()
    cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / elapsed
    result = {"read_per_s": read / elapsed, "delivered": delivered, "cpu": cpu}
    if latency and received:
        ordered = sorted(received[len(received) // 10 :])  # skip the warm-up tenth
        result["p50"] = statistics.median(ordered)
        result["p99"] = ordered[int(len(ordered) * 0.99) - 1]
    return result


async def modbus_coalescing(registers: int = 2000) -> dict[str, float]:
    port = free_port()
    server = ModbusMachine(Machine(), port)
    server.server.context  # noqa: B018
    await server.start()
    tags = [
        {
            "name": f"r{i}",
            "topic": f"umh/v1/acme/bench/press/_historian/r{i}",
            "address": {"table": "holding", "address": i % 64, "type": "uint16"},
        }
        for i in range(registers)
    ]
    # 2,000 tags over the 64 registers the simulator serves, so both plans read real data
    site = parse_site(
        {"devices": [{"name": "bench-modbus", "protocol": "modbus", "host": "127.0.0.1", "port": port, "tags": tags}]}
    )
    device = site.devices[0]
    driver = ModbusDriver(device)
    await driver.client.connect()
    coalesced = plan_requests(list(device.tags))
    single = [r for tag in device.tags for r in plan_requests([tag])]
    timings = {}
    for name, plan in (("coalesced", coalesced), ("single", single)):
        start = time.perf_counter()
        for _ in range(3):
            await driver.read(plan)
        timings[name] = (time.perf_counter() - start) / 3
    driver.client.close()
    await server.stop()
    return {
        "coalesced_requests": len(coalesced),
        "single_requests": len(single),
        "coalesced_s": timings["coalesced"],
        "single_s": timings["single"],
    }


async def replay_rate(broker: int, messages: int = 20_000, values_per_message: int = 10) -> float:
    folder = Path(tempfile.mkdtemp())
    queue = DiskQueue(folder / "q.sqlite")
    payload = json.dumps({"timestamp_ms": 1, **{f"v{i}": float(i) for i in range(values_per_message)}}).encode()
    queue.put_many([("umh/v1/acme/bench/replay/_historian", payload)] * messages)  # buffered during an "outage"
    start = time.perf_counter()
    async with MqttSender(MqttSettings(url=f"mqtt://127.0.0.1:{broker}", client_id="bench-replay"), queue):
        # the sender empties an on-disk queue: its length is polled, as the figure's observer
        while len(queue) and time.perf_counter() - start < 120:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
    return messages * values_per_message / elapsed


async def rss_with_tags(tags: int = 10_000) -> float:
    """Peak RSS of this process holding a 10,000-tag configuration, polling it from a Modbus server."""
    port = free_port()
    server = ModbusMachine(Machine(), port)
    await server.start()
    site = parse_site(
        {
            "devices": [
                {
                    "name": f"plc{d}",
                    "protocol": "modbus",
                    "host": "127.0.0.1",
                    "port": port,
                    "tags": [
                        {
                            "name": f"t{i}",
                            "topic": f"umh/v1/acme/bench/cell{d}/_historian/t{i}",
                            "address": {"table": "holding", "address": i % 64, "type": "uint16"},
                        }
                        for i in range(tags // 10)
                    ],
                }
                for d in range(10)
            ]
        }
    )
    drivers = [ModbusDriver(device) for device in site.devices]
    peak = 0
    streams = [d.samples() for d in drivers]
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        for stream in streams:
            batch = await stream.__anext__()
            to_messages(batch)
        peak = max(peak, psutil.Process().memory_info().rss)
    for stream in streams:
        await stream.aclose()
    await server.stop()
    return peak / 2**20


async def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    print(f"Collector benchmarks on {os.cpu_count()} cores (servers and broker on loopback)\n")
    with private_mosquitto() as broker:
        print("1/5 OPC UA subscription -> MQTT (2,000 variables changing every 50 ms) …")
        throughput = await opcua_to_mqtt(broker, 2000, 0.05, 10, latency=False)
        print("2/5 Modbus: 2,000 tags, coalesced vs one request per tag …")
        modbus = await modbus_coalescing()
        print(
            "3/5 latency change -> subscriber at ~5,000 values/s (500 variables every 100 ms, "
            "subscription publishing every 10 ms) …"
        )
        latency = await opcua_to_mqtt(broker, 500, 0.1, 10, latency=True, interval_ms=10)
        print("4/5 store-and-forward replay …")
        replay = await replay_rate(broker)
    print("5/5 peak RSS with 10,000 tags …")
    rss = await rss_with_tags()
    print("\n| figure | measured | baseline / target |")
    print("| --- | --- | --- |")
    per_core = throughput["read_per_s"] / max(throughput["cpu"], 1e-9)
    print(
        f"| OPC UA subscription → MQTT | {throughput['read_per_s']:,.0f} values/s read and published "
        f"(as fast as the Python test server changes them) using {throughput['cpu']:.0%} of one core: "
        f"{per_core:,.0f} values per CPU-second | target ≥ 20,000 values/s on one core |"
    )
    print(
        f"| Modbus 2,000 tags: requests per cycle | {modbus['coalesced_requests']} coalesced vs "
        f"{modbus['single_requests']} one-per-tag "
        f"({modbus['single_requests'] / modbus['coalesced_requests']:.0f}× fewer) | target ≥ 10× fewer |"
    )
    print(
        f"| Modbus 2,000 tags: cycle time | {modbus['coalesced_s'] * 1000:.1f} ms coalesced vs "
        f"{modbus['single_s'] * 1000:.0f} ms one-per-tag | |"
    )
    print(
        f"| change → subscriber latency at {latency['read_per_s']:,.0f} values/s | "
        f"p50 {latency.get('p50', 0):.0f} ms, p99 {latency.get('p99', 0):.0f} ms | "
        f"target p50 ≤ 20 ms, p99 ≤ 100 ms |"
    )
    print(f"| store-and-forward replay | {replay:,.0f} values/s | target ≥ 50,000 values/s |")
    print(f"| peak RSS, 10,000 tags polled | {rss:.0f} MB | target ≤ 250 MB |")


if __name__ == "__main__":
    asyncio.run(main())
