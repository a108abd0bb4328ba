"""The collector at work: one task per device, samples grouped into UNS messages, the disk queue,
the MQTT sender, the status file, and configuration changes picked up without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

from hf_collector.delivery.buffer import DiskQueue
from hf_collector.delivery.mqtt import MqttSender
from hf_collector.heartbeat import Heartbeat, with_heartbeat
from hf_collector.model import DeviceConfig, SiteConfig, TagSample
from hf_collector.status import CollectorStatus, DeviceStatus
from hf_core.payload import MaybeValue, encode
from hf_core.retry import Backoff, attempts
from hf_core.types import Quality

_logger = logging.getLogger(__name__)
STATUS_INTERVAL_S = 2.0
RESTART_DELAY_MAX_S = 30.0


# After start-up the collector's heap holds modules, configuration and protocol stacks that live as long as
# it does; a steady collector makes no reference cycles. Full collections walking those objects paused it
# about 80 ms each (the latency p99), so once connected they are moved out of the collector's sight.
SETTLE_AFTER_START_S = 15.0


def settle_heap() -> None:
    gc.collect()
    gc.freeze()


def to_messages(batch: list[TagSample]) -> list[tuple[str, bytes]]:
    """Samples of one workcell taken at one instant become one message (UNS contract)."""
    groups: dict[tuple[str, int], dict[str, MaybeValue]] = defaultdict(dict)
    for sample in batch:
        topic, name = sample.tag.message_slot
        value = None if sample.quality is Quality.BAD else sample.value
        if value.__class__ is float and not math.isfinite(value):
            value = None  # a PLC's NaN or infinity: JSON has no such number, the reading is a gap
        groups[(topic, sample.timestamp_ms)][name] = value
    return [(topic, encode(timestamp, values)) for (topic, timestamp), values in groups.items()]


class Collector:
    def __init__(
        self,
        site: SiteConfig,
        queue: DiskQueue,
        sender: MqttSender,
        state_dir: Path,
        driver_factory: Callable[[DeviceConfig], object] | None = None,
    ) -> None:
        self.site = site
        self.queue = queue
        self.sender = sender
        self.state_dir = state_dir
        self.status = CollectorStatus(edge=site.edge, config_version=site.version, config_errors=list(site.errors))
        self._tasks: dict[str, tuple[DeviceConfig, asyncio.Task[None]]] = {}
        if driver_factory is None:
            from hf_collector.drivers import make_driver

            driver_factory = make_driver
        self._driver_factory = driver_factory
        for error in site.errors:
            _logger.error("config: %s", error)

    def enqueue(self, batch: list[TagSample]) -> None:
        self.queue.put_many(to_messages(batch))
        self.status.values_read += len(batch)
        self.sender.wake()

    async def _device_loop(self, device: DeviceConfig) -> None:
        """Run one device's driver for ever; a crash restarts it after a growing delay."""
        state = self.status.devices.setdefault(device.name, DeviceStatus())
        backoff = Backoff(cap=RESTART_DELAY_MAX_S)
        async for _ in attempts(backoff):
            try:
                async with (
                    self._driver_factory(device) as driver,  # type: ignore[attr-defined]
                    contextlib.aclosing(with_heartbeat(driver.samples(), Heartbeat(device.tags))) as batches,
                ):
                    state.state, state.message = "connected", ""
                    async for batch in batches:
                        if not batch:
                            continue
                        bad = batch[0].quality is Quality.BAD
                        state.state = "reconnecting" if bad else "connected"
                        state.values_read += len(batch)
                        state.last_sample_ms = batch[-1].timestamp_ms
                        state.refused_tags = getattr(driver, "refused", state.refused_tags)  # OPC UA's, at connect
                        self.enqueue(batch)
                        backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                state.state, state.message = "failed", str(exc)
                _logger.exception("device %s failed; restarting it in %.0f s", device.label, backoff.delay)
                # the next attempt pauses first

    def apply(self, site: SiteConfig) -> None:
        """Start, stop or restart device tasks so they match ``site`` (unchanged devices keep running)."""
        wanted = {device.name: device for device in site.devices}
        for name, (device, task) in list(self._tasks.items()):
            if wanted.get(name) != device:
                task.cancel()
                del self._tasks[name]
                self.status.devices.pop(name, None)
        for name, device in wanted.items():
            if name not in self._tasks:
                self._tasks[name] = (device, asyncio.create_task(self._device_loop(device), name=f"device {name}"))
        if site.version != self.site.version:
            _logger.info("configuration v%s applied (%d devices)", site.version, len(site.devices))
        self.site = site
        self.status.config_version = site.version
        self.status.config_errors = list(site.errors)
        for error in site.errors:
            _logger.error("config: %s", error)

    async def _write_status(self) -> None:
        path = self.state_dir / "status.json"
        while True:
            self.status.messages_buffered = len(self.queue)
            self.status.messages_dropped = self.queue.dropped
            self.status.messages_published = self.sender.published
            self.status.broker_connected = self.sender.connected
            self.status.write(path)
            await asyncio.sleep(STATUS_INTERVAL_S)

    async def run(
        self, watch_config: Callable[[], Awaitable[SiteConfig | None]] | None = None, poll_s: float = 60.0
    ) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.apply(self.site)
        async with self.sender:
            await self._run(watch_config, poll_s)

    async def _run(self, watch_config: Callable[[], Awaitable[SiteConfig | None]] | None, poll_s: float) -> None:
        helpers = [asyncio.create_task(self._write_status(), name="status")]
        asyncio.get_running_loop().call_later(SETTLE_AFTER_START_S, settle_heap)
        try:
            while True:
                await asyncio.sleep(poll_s)
                if watch_config is not None:
                    try:
                        new_site = await watch_config()
                    except Exception as exc:  # noqa: BLE001  (the cloud being away is normal at the edge)
                        _logger.warning("could not check for a new configuration: %s", exc)
                        continue
                    if new_site is not None:
                        self.apply(new_site)
        finally:
            for _, task in self._tasks.values():
                task.cancel()
            for task in helpers:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*(t for _, t in self._tasks.values()), *helpers, return_exceptions=True)
            self.status.write(self.state_dir / "status.json")
