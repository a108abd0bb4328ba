"""OPC UA (asyncua): subscriptions per sampling interval, data changes batched, reconnect + re-subscribe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from asyncua import Client, ua
from asyncua.client.client import _first_cert_from_chain as first_certificate  # as set_security() reads one
from asyncua.client.ua_session import UaSession
from asyncua.common.subscription import Subscription
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from hf_collector.drivers.common import bad_batch, source_errors
from hf_collector.drivers.decimate import Decimator
from hf_collector.model import DeviceConfig, OpcUaAddress, TagConfig, TagSample
from hf_core.certs import certificate_fingerprint
from hf_core.errors import SourceError
from hf_core.retry import Backoff, attempts, tcp_probe
from hf_core.types import Quality

_logger = logging.getLogger(__name__)
MODES = {"Sign": ua.MessageSecurityMode.Sign, "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt}
# the server may revise these; asyncua's own defaults for a subscription
LIFETIME_COUNT = 10_000
MAX_NOTIFICATIONS_PER_PUBLISH = 10_000
ABSOLUTE_DEADBAND = 1
# a server that has sent nothing for this long is asked for its state (a dead connection shows)
QUIET_CHECK_S = 5.0
# what asyncua raises for a server that is away, refuses or stops answering
OPCUA_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError, ConnectionError, ua.UaError)

Handover = Callable[[list[TagSample] | Exception], None]


def _sample(tag: TagConfig, item: ua.DataValue) -> TagSample:
    stamp = item.SourceTimestamp or item.ServerTimestamp
    timestamp = int(stamp.timestamp() * 1000) if stamp else int(time.time() * 1000)
    variant = item.Value
    value = variant.Value if variant is not None else None
    status = item.StatusCode
    if value is None or (status is not None and not status.is_good()):
        return TagSample(tag, None, timestamp, Quality.BAD)
    try:
        return TagSample(tag, tag.value_of(value), timestamp)
    except (TypeError, ValueError):
        return TagSample(tag, None, timestamp, Quality.BAD)


class _BatchSubscription(Subscription):
    """An asyncua subscription that hands each publish response over as one batch of samples.

    asyncua's iterator makes two objects and a queue pass per value (its handler mode a task per value):
    most of the driver's cost at thousands of values per second. Our own client handles index the tags,
    so a notification finds its tag without hashing a NodeId.
    """

    def __init__(
        self,
        session: UaSession,
        params: ua.CreateSubscriptionParameters,
        tags: list[TagConfig],
        node_ids: list[ua.NodeId],
        hand_over: Handover,
    ) -> None:
        super().__init__(session, params, handler=None, queue_maxsize=1)
        self.tags = tags
        self.node_ids = node_ids
        self.hand_over = hand_over

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        message = publish_result.NotificationMessage
        self.last_publish_at = time.monotonic()  # what asyncua's own callback keeps for its stale watchdog
        if message.NotificationData is None:
            return
        self.last_sequence_number = int(message.SequenceNumber)
        tags = self.tags
        for notification in message.NotificationData:
            if isinstance(notification, ua.DataChangeNotification):
                self.hand_over(
                    [
                        _sample(tags[item.ClientHandle], item.Value)
                        for item in notification.MonitoredItems
                        if 0 <= item.ClientHandle < len(tags)
                    ]
                )
            elif isinstance(notification, ua.StatusChangeNotification):
                self.hand_over(ConnectionError(f"subscription status {notification.Status}"))

    def item_request(self, handle: int) -> ua.MonitoredItemCreateRequest:
        """The monitored item of ``tags[handle]``, sampled at the tag's own interval."""
        tag = self.tags[handle]
        # a queue of one, the oldest discarded: a server keeps the newest value per publish, not every change
        parameters = ua.MonitoringParameters(
            ClientHandle=handle, SamplingInterval=float(tag.sampling_interval_ms), QueueSize=1, DiscardOldest=True
        )
        if tag.deadband > 0:
            parameters.Filter = ua.DataChangeFilter(
                Trigger=ua.DataChangeTrigger.StatusValue, DeadbandType=ABSOLUTE_DEADBAND, DeadbandValue=tag.deadband
            )
        return ua.MonitoredItemCreateRequest(
            ItemToMonitor=ua.ReadValueId(NodeId=self.node_ids[handle], AttributeId=ua.AttributeIds.Value),
            MonitoringMode=ua.MonitoringMode.Reporting,
            RequestedParameters=parameters,
        )


def resolve_node_id(text: str, namespaces: list[str]) -> ua.NodeId:
    """A tag's node id as this server knows it now: ``ns=…`` as given; ``nsu=<uri>;…`` (what browse writes,
    stable when the server's namespace table changes) with the index the server gives that URI."""
    node_id = ua.NodeId.from_string(text)
    uri = getattr(node_id, "NamespaceUri", None)
    if not uri:
        return node_id
    if uri not in namespaces:
        raise ValueError(f"namespace {uri} is not in the server's namespace table {namespaces}")
    return ua.NodeId(node_id.Identifier, ua.Int16(namespaces.index(uri)), node_id.NodeIdType)


class OpcUaDriver:
    """Subscribes to one OPC UA server's tags; see :class:`hf_collector.model.Driver`."""

    def __init__(self, device: DeviceConfig, timeout: float = 4.0) -> None:
        self.device = device
        self.timeout = timeout
        self.url = f"opc.tcp://{device.host}:{device.port}{device.endpoint_path}"
        self.client: Client | None = None
        # tags the server refused at the last connect, by topic: (status name, status code), reported to Odoo
        self.refused: dict[str, tuple[str, int]] = {}

    async def __aenter__(self) -> OpcUaDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._disconnect()

    async def _disconnect(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):  # the server may be gone already
                await self.client.disconnect()
            self.client = None

    async def _connect(self, queue: asyncio.Queue[list[TagSample] | Exception]) -> None:
        client = Client(url=self.url, timeout=self.timeout)
        pinned = await self._pinned_certificate() if self.device.server_certificate_sha256 else None
        if self.device.security_policy == "Basic256Sha256":
            # with a pin, the secure channel is encrypted to the very certificate checked, never another
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                certificate=self.device.certificate,
                private_key=self.device.private_key,
                server_certificate=pinned,
                mode=MODES.get(self.device.security_mode, ua.MessageSecurityMode.SignAndEncrypt),
            )
        if self.device.username:
            client.set_user(self.device.username)
            client.set_password(self.device.password)

        async def lost(exc: Exception) -> None:
            queue.put_nowait(ConnectionError(f"connection lost: {exc}"))

        client.connection_lost_callback = lost
        await client.connect()
        self.client = client
        self.refused = {}
        by_interval: dict[int, list[TagConfig]] = defaultdict(list)
        for tag in self.device.tags:
            by_interval[tag.sampling_interval_ms].append(tag)
        namespaces = await client.get_namespace_array()
        for interval, tags in by_interval.items():
            await self._subscribe(client, interval, tags, namespaces, queue.put_nowait)

    async def _pinned_certificate(self) -> bytes:
        """The server's certificate when it is the pinned one; ConnectionRefusedError (nothing sent, no
        password) when the server presents another: a replaced PLC, or someone in between."""
        endpoints = await Client(url=self.url, timeout=self.timeout).connect_and_get_server_endpoints()
        presented = {
            certificate_fingerprint(first_certificate(e.ServerCertificate)): e.ServerCertificate
            for e in endpoints
            if e.ServerCertificate
        }
        der = presented.get(self.device.server_certificate_sha256)
        if der is None:
            raise ConnectionRefusedError(
                f"server certificate {', '.join(sorted(presented)) or '(none)'} is not the pinned "
                f"{self.device.server_certificate_sha256}: refused (Odoo ▸ Devices ▸ {self.device.name} says "
                "which certificate to expect)"
            )
        return first_certificate(der)

    async def _subscribe(
        self, client: Client, interval: int, tags: list[TagConfig], namespaces: list[str], hand_over: Handover
    ) -> None:
        """One subscription publishing every ``interval`` ms (as asyncua's ``create_subscription`` makes it)."""
        resolved: list[tuple[TagConfig, ua.NodeId]] = []
        for tag in tags:
            try:
                resolved.append((tag, resolve_node_id(self._node_id(tag), namespaces)))
            except ValueError as exc:
                _logger.warning("OPC UA server %s: tag %s left out: %s", self.device.label, tag.name, exc)
                self.refused[tag.topic] = ("BadNodeIdUnknown", ua.StatusCodes.BadNodeIdUnknown)
        tags = [tag for tag, _ in resolved]
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=interval,
            RequestedLifetimeCount=LIFETIME_COUNT,
            RequestedMaxKeepAliveCount=client.get_keepalive_count(interval),
            MaxNotificationsPerPublish=MAX_NOTIFICATIONS_PER_PUBLISH,
            PublishingEnabled=True,
            Priority=0,
        )
        subscription = _BatchSubscription(
            client.uaclient.session, params, tags, [node for _, node in resolved], hand_over
        )
        revised = client.get_subscription_revised_params(params, await subscription.init())
        if revised:
            await subscription.update(revised)
        results = await subscription.create_monitored_items(subscription.item_request(i) for i in range(len(tags)))
        for tag, result in zip(tags, results, strict=True):
            if isinstance(result, ua.StatusCode):
                _logger.warning(
                    "OPC UA server %s refused to monitor tag %s (%s): %s",
                    self.device.label,
                    tag.name,
                    self._node_id(tag),
                    result.name,
                )
                self.refused[tag.topic] = (result.name, result.value)

    @staticmethod
    def _node_id(tag: TagConfig) -> str:
        assert isinstance(tag.address, OpcUaAddress)
        return tag.address.node_id

    async def samples(self) -> AsyncIterator[list[TagSample]]:
        backoff = Backoff()
        async for _ in attempts(backoff, tcp_probe(self.device.host, self.device.port)):
            queue: asyncio.Queue[list[TagSample] | Exception] = asyncio.Queue()
            try:
                with source_errors(f"OPC UA server {self.device.label} unavailable", OPCUA_ERRORS):
                    await self._connect(queue)
                    if backoff.failures:
                        _logger.info("OPC UA server %s answers again", self.device.label)
                    backoff.reset()
                    async with contextlib.aclosing(self._received(queue)) as received:
                        async for batch in received:
                            yield batch
            except SourceError as exc:
                _logger.warning(
                    "OPC UA server %s unavailable (%s); retrying in %.0f s",
                    self.device.label,
                    exc.detail,
                    backoff.delay,
                )
                await self._disconnect()
                if backoff.first_failure:
                    yield bad_batch(self.device)
                # the next attempt pauses first (ended early once the server accepts connections again)

    async def _received(
        self, queue: asyncio.Queue[list[TagSample] | Exception]
    ) -> AsyncGenerator[list[TagSample], None]:
        """One connection's samples, at most one per tag per its interval (the newest: :class:`Decimator`, for a
        server that publishes faster than asked); a quiet server is asked for its state every QUIET_CHECK_S."""
        decimator = Decimator()
        heard_at = time.monotonic()
        while True:
            now = time.monotonic()
            held = decimator.wait_s(now)
            wait = heard_at + QUIET_CHECK_S - now
            if held is not None:
                wait = min(wait, held)
            try:
                item = await asyncio.wait_for(queue.get(), timeout=max(0.0, wait))
            except TimeoutError:
                now = time.monotonic()
                if due := decimator.due(now):
                    yield due
                if now - heard_at >= QUIET_CHECK_S:
                    assert self.client is not None
                    state = self.client.get_node(ua.ObjectIds.Server_ServerStatus_State)
                    await asyncio.wait_for(state.read_value(), timeout=self.timeout)
                    heard_at = time.monotonic()
                continue
            heard_at = time.monotonic()
            # what the publish responses received so far brought goes out as one batch, without waiting
            # for more (a wait is added latency)
            batch: list[TagSample] = []
            while True:
                if isinstance(item, Exception):
                    raise item
                batch.extend(item)
                if queue.empty():
                    break
                item = queue.get_nowait()
            if batch := decimator.offer(batch, heard_at):
                yield batch
