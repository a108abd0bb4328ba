"""OPC UA (asyncua): subscriptions per sampling interval, data changes batched, reconnect + re-subscribe."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent, Subscription
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from hf_collector.drivers.common import Backoff, bad_batch
from hf_collector.model import DataType, DeviceConfig, OpcUaAddress, Quality, TagConfig, TagSample

_logger = logging.getLogger(__name__)
# asyncua's own queue per subscription: far above what one publish response holds, so nothing is dropped
# while our pump catches up (and if it ever is, asyncua says so in the log: OverflowPolicy.WARN).
SUBSCRIPTION_QUEUE = 100_000
MODES = {"Sign": ua.MessageSecurityMode.Sign, "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt}


def _convert(tag: TagConfig, value: Any) -> float | int | bool | str:
    if tag.data_type is DataType.STRING:
        return str(value)
    if tag.data_type is DataType.BOOL:
        return bool(value)
    scaled = tag.scale(value if isinstance(value, bool | str) else float(value))
    return round(scaled) if tag.data_type is DataType.INT and isinstance(scaled, float) else scaled


def _sample(tag: TagConfig, event: DataChangeEvent) -> TagSample:
    item = event.data.monitored_item.Value
    stamp = item.SourceTimestamp or item.ServerTimestamp
    timestamp = int(stamp.timestamp() * 1000) if stamp else int(time.time() * 1000)
    if not item.StatusCode.is_good() or event.value is None:
        return TagSample(tag, None, timestamp, Quality.BAD)
    try:
        return TagSample(tag, _convert(tag, event.value), timestamp)
    except (TypeError, ValueError):
        return TagSample(tag, None, timestamp, Quality.BAD)


async def _pump(subscription: Subscription, tags: dict[ua.NodeId, TagConfig],
                queue: asyncio.Queue[TagSample | Exception]) -> None:
    """Move a subscription's notifications into the driver's queue as samples (asyncua's iterator mode:
    no task per notification, as its handler mode makes)."""
    async for event in subscription:
        if isinstance(event, DataChangeEvent):
            queue.put_nowait(_sample(tags[event.node.nodeid], event))
        elif isinstance(event, StatusChangeEvent):
            queue.put_nowait(ConnectionError(f"subscription status {event.notification.Status}"))


class OpcUaDriver:
    """Subscribes to one OPC UA server's tags; see :class:`hf_collector.model.Driver`."""

    def __init__(self, device: DeviceConfig, timeout: float = 4.0) -> None:
        self.device = device
        self.timeout = timeout
        self.url = f"opc.tcp://{device.host}:{device.port}"
        self.client: Client | None = None
        self._pumps: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> OpcUaDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._disconnect()

    async def _disconnect(self) -> None:
        for pump in self._pumps:
            pump.cancel()
        self._pumps = []
        if self.client is not None:
            try:
                await self.client.disconnect()
            except Exception:  # noqa: BLE001,S110  (the server may be gone already)
                pass
            self.client = None

    async def _connect(self, queue: asyncio.Queue[TagSample | Exception]) -> None:
        client = Client(url=self.url, timeout=self.timeout)
        if self.device.security_policy == "Basic256Sha256":
            await client.set_security(SecurityPolicyBasic256Sha256, certificate=self.device.certificate,
                                      private_key=self.device.private_key,
                                      mode=MODES.get(self.device.security_mode, ua.MessageSecurityMode.SignAndEncrypt))
        if self.device.username:
            client.set_user(self.device.username)
            client.set_password(self.device.password)

        async def lost(exc: Exception) -> None:
            queue.put_nowait(ConnectionError(f"connection lost: {exc}"))

        client.connection_lost_callback = lost
        await client.connect()
        self.client = client
        by_interval: dict[int, list[TagConfig]] = defaultdict(list)
        for tag in self.device.tags:
            by_interval[tag.sampling_interval_ms].append(tag)
        for interval, tags in by_interval.items():
            nodes = {tag: client.get_node(self._node_id(tag)) for tag in tags}
            subscription = await client.create_subscription(interval, queue_maxsize=SUBSCRIPTION_QUEUE,
                                                            overflow=OverflowPolicy.WARN)
            plain = [node for tag, node in nodes.items() if tag.deadband <= 0]
            if plain:
                await subscription.subscribe_data_change(plain)
            for tag in (t for t in tags if t.deadband > 0):
                await subscription.deadband_monitor(nodes[tag], tag.deadband)
            by_node = {node.nodeid: tag for tag, node in nodes.items()}
            self._pumps.append(asyncio.create_task(_pump(subscription, by_node, queue)))

    @staticmethod
    def _node_id(tag: TagConfig) -> str:
        assert isinstance(tag.address, OpcUaAddress)
        return tag.address.node_id

    async def samples(self) -> AsyncIterator[list[TagSample]]:
        backoff = Backoff()
        while True:
            queue: asyncio.Queue[TagSample | Exception] = asyncio.Queue()
            try:
                await self._connect(queue)
                if backoff.failures:
                    _logger.info("OPC UA server %s answers again", self.device.label)
                backoff.reset()
                while True:
                    try:
                        first = await asyncio.wait_for(queue.get(), timeout=5)
                    except TimeoutError:
                        assert self.client is not None
                        await asyncio.wait_for(self.client.get_node(ua.ObjectIds.Server_ServerStatus_State).read_value(),
                                               timeout=self.timeout)
                        continue
                    # the notifications of one publish response are queued together: they go out as one batch,
                    # without waiting for more (a wait is added latency)
                    batch: list[TagSample] = []
                    item: TagSample | Exception = first
                    while True:
                        if isinstance(item, Exception):
                            raise item
                        batch.append(item)
                        if queue.empty():
                            break
                        item = queue.get_nowait()
                    yield batch
            except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
                delay = backoff.next()
                _logger.warning("OPC UA server %s unavailable (%s); retrying in %.0f s", self.device.label, exc, delay)
                await self._disconnect()
                if backoff.failures == 1:
                    yield bad_batch(self.device)
                await asyncio.sleep(delay)
