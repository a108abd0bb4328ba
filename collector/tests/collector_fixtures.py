"""What the collector's tests share: a whole collector running against real protocol servers, its messages
read from its own store-and-forward queue (the broker is away, so everything it sends stays there).

A module of its own name, not ``conftest``: every suite runs in one pytest process, where ``from conftest
import …`` would find another suite's conftest (``tests/conftest.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hf_testing import free_port

from hf_collector.delivery.buffer import DiskQueue
from hf_collector.delivery.mqtt import MqttSender, MqttSettings
from hf_collector.drivers import make_driver
from hf_collector.model import DeviceConfig, Driver, SiteConfig
from hf_collector.runner import Collector


@dataclass(frozen=True, slots=True)
class Message:
    arrived: float  # time.monotonic() when the test saw it in the queue
    topic: str
    payload: dict[str, Any]


class Outbox:
    """The collector's queue as the test reads it, message by message in order."""

    def __init__(self, queue: DiskQueue) -> None:
        self.queue = queue
        self._after = 0

    async def next(self, within: float = 20.0) -> Message:
        """The next message, within ``within`` seconds (else TimeoutError)."""
        async with asyncio.timeout(within):
            while True:
                rows = self.queue.peek(self._after, 1)
                if rows:
                    row_id, topic, payload = rows[0]
                    self._after = row_id
                    return Message(time.monotonic(), topic, json.loads(payload))
                await asyncio.sleep(0.01)

    async def until(self, wanted: Callable[[Message], bool], within: float = 20.0) -> Message:
        """The next message that is ``wanted`` (those before it are passed over), within ``within`` seconds."""
        async with asyncio.timeout(within):
            while not wanted(message := await self.next(within)):
                pass
        return message


@dataclass(slots=True)
class Running:
    collector: Collector
    outbox: Outbox
    drivers: list[Driver]  # every driver the collector made, in order


RunCollector = Callable[[SiteConfig], contextlib.AbstractAsyncContextManager[Running]]


@pytest.fixture
def run_collector(tmp_path: Path) -> RunCollector:
    """``async with run_collector(site) as running:`` a collector reading ``site``'s devices, its broker away."""

    @contextlib.asynccontextmanager
    async def run(site: SiteConfig) -> AsyncIterator[Running]:
        queue = DiskQueue(tmp_path / "outbox.sqlite")
        sender = MqttSender(MqttSettings(url=f"mqtt://127.0.0.1:{free_port()}"), queue)
        drivers: list[Driver] = []

        def factory(device: DeviceConfig) -> Driver:
            drivers.append(make_driver(device))
            return drivers[-1]

        collector = Collector(site, queue, sender, tmp_path / "state", driver_factory=factory)
        task = asyncio.create_task(collector.run(poll_s=3600))
        try:
            yield Running(collector, Outbox(queue), drivers)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            queue.close()

    return run
