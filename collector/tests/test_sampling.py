"""A tag's sampling interval is what arrives: at most one sample per tag per interval, however fast the value
changes and whatever interval the OPC UA server publishes at."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asyncua import Server, ua
from collector_fixtures import RunCollector
from hf_testing import free_port

from hf_collector.model import parse_site

WINDOW_S = 5.0
CELL = "umh/v1/acme/site/area/line1/cnc1/_historian"
TAGS = ("speed", "torque")


@contextlib.asynccontextmanager
async def fast_server(port: int, publishing_ms: float | None) -> AsyncIterator[Server]:
    """An OPC UA server whose values change every 50 ms. ``publishing_ms``: it publishes at that interval
    whatever the client asks, as some vendors' servers do (None: it grants what is asked, as asyncua does)."""
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    if publishing_ms is not None:
        service = server.iserver.subscription_service
        grant = service.create_subscription

        async def fixed_interval(params: ua.CreateSubscriptionParameters, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            params.RequestedPublishingInterval = publishing_ms
            return await grant(params, *args, **kwargs)

        service.create_subscription = fixed_interval  # type: ignore[method-assign]
    namespace = await server.register_namespace("urn:vendor:fast")
    cell = await server.nodes.objects.add_object(ua.NodeId("cnc1", namespace), "cnc1")
    nodes = [await cell.add_variable(ua.NodeId(f"cnc1.{name}", namespace), name, 0.0) for name in TAGS]

    async def change() -> None:
        value = 0.0
        while True:
            value += 1
            for node in nodes:
                await node.write_value(value)
            await asyncio.sleep(0.05)

    await server.start()
    changing = asyncio.create_task(change())
    try:
        yield server
    finally:
        changing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await changing
        await server.stop()


@pytest.mark.parametrize(
    ("publishing_ms", "interval_ms", "low", "high"),
    [
        (None, 1000, 4, 7),
        (100, 1000, 4, 7),
        (100, 500, 8, 12),
    ],
    ids=["server grants the interval", "server publishes every 100 ms", "500 ms on a 100 ms server"],
)
async def test_at_most_one_sample_per_tag_per_interval(
    run_collector: RunCollector, publishing_ms: float | None, interval_ms: int, low: int, high: int
) -> None:
    port = free_port()
    site = parse_site(
        {
            "devices": [
                {
                    "name": "cnc1-opcua",
                    "protocol": "opcua",
                    "host": "127.0.0.1",
                    "port": port,
                    "tags": [
                        {
                            "name": name,
                            "topic": f"{CELL}/{name}",
                            "sampling_interval_ms": interval_ms,
                            "address": {"node_id": f"nsu=urn:vendor:fast;s=cnc1.{name}"},
                        }
                        for name in TAGS
                    ],
                }
            ]
        }
    )
    assert not site.errors
    async with fast_server(port, publishing_ms), run_collector(site) as running:
        first = await running.outbox.until(lambda m: m.payload.get("speed") is not None)
        counts = {name: int(first.payload.get(name) is not None) for name in TAGS}
        values = [first.payload["speed"]]
        deadline = first.arrived + WINDOW_S
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.monotonic()) > 0:
                message = await running.outbox.next(within=left)
                for name in TAGS:
                    counts[name] += message.payload.get(name) is not None
                if message.payload.get("speed") is not None:
                    values.append(message.payload["speed"])
    print(f"{interval_ms} ms, server publishing {publishing_ms or 'as asked'}: {counts} in {WINDOW_S:g} s")
    for name in TAGS:
        assert low <= counts[name] <= high, (
            f"{counts[name]} samples of {name} in {WINDOW_S:g} s at {interval_ms} ms (about "
            f"{WINDOW_S * 1000 / interval_ms:g} expected)"
        )
    steps = [b - a for a, b in itertools.pairwise(values)]
    assert min(steps) >= interval_ms / 50 * 0.5, f"each sample is the newest value of its interval ({values})"
