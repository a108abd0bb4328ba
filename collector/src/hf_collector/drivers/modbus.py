"""Modbus TCP (pymodbus): polling at each tag's rate, contiguous registers read in one request."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from hf_collector.drivers.common import bad_batch, coalesce, poll_forever, report_if_changed
from hf_collector.model import DeviceConfig, ModbusAddress, TagConfig, TagSample
from hf_core.errors import SourceError
from hf_core.payload import Value
from hf_core.retry import Backoff, attempts, tcp_probe
from hf_core.types import Quality

_logger = logging.getLogger(__name__)
MAX_REGISTERS = 125  # per read request, by the Modbus spec
MAX_BITS = 2000
MAX_GAP = 8  # read through gaps up to this many unused registers rather than send another request
FORMATS = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f", "float64": "d"}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    unit_id: int
    table: str
    start: int
    count: int
    tags: tuple[TagConfig, ...]


def plan_requests(tags: list[TagConfig], max_gap: int = MAX_GAP) -> list[ReadRequest]:
    """Coalesce tags into as few read requests as the protocol allows (per unit and table, ≤ 125
    registers or 2000 bits each, gaps up to ``max_gap`` read through)."""

    def address(tag: TagConfig) -> ModbusAddress:
        assert isinstance(tag.address, ModbusAddress)
        return tag.address

    reads = coalesce(
        tags,
        lambda t: (address(t).unit_id, address(t).table),
        lambda t: (address(t).address, address(t).register_count),
        max_gap,
        lambda key: MAX_BITS if key[1] in ("coil", "discrete") else MAX_REGISTERS,
    )
    return [ReadRequest(unit, table, start, count, members) for (unit, table), start, count, members in reads]


def decode_registers(registers: Sequence[int], address: ModbusAddress) -> float | int | str:
    """A value from its registers, honouring byte order (within a register) and word order."""
    words = list(registers)
    if address.word_order == "little":
        words.reverse()
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    if address.byte_order == "little":
        raw = b"".join(raw[i : i + 2][::-1] for i in range(0, len(raw), 2))
    if address.type == "string":
        return raw.split(b"\x00", 1)[0].decode("latin-1").strip()
    value = struct.unpack(">" + FORMATS[address.type], raw)[0]
    return int(value) if address.type != "float32" and address.type != "float64" else float(value)


class ModbusDriver:
    """Polls one Modbus TCP device; see :class:`hf_collector.model.Driver`."""

    def __init__(self, device: DeviceConfig, timeout: float = 2.0) -> None:
        self.device = device
        self.timeout = timeout
        self.client = self._new_client()
        self.requests_sent = 0
        by_interval: dict[int, list[TagConfig]] = defaultdict(list)
        for tag in device.tags:
            by_interval[tag.sampling_interval_ms].append(tag)
        self.plans = {interval: plan_requests(tags) for interval, tags in by_interval.items()}
        self._last: dict[str, Value] = {}

    def _new_client(self) -> AsyncModbusTcpClient:
        # A fresh client per connection: pymodbus's own reconnect logic is not what we want here.
        return AsyncModbusTcpClient(
            self.device.host, port=self.device.port, timeout=self.timeout, retries=0, reconnect_delay=0
        )

    async def __aenter__(self) -> ModbusDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.client.close()

    async def read(self, requests: list[ReadRequest]) -> list[TagSample]:
        """One poll: every request, decoded into samples (:class:`SourceError` on a transport error)."""
        try:
            return await self._read(requests)
        except (ModbusException, OSError) as exc:
            raise SourceError(f"PLC {self.device.label} stopped answering", detail=str(exc)) from exc

    async def _read(self, requests: list[ReadRequest]) -> list[TagSample]:
        now = int(time.time() * 1000)
        samples = []
        for request in requests:
            self.requests_sent += 1
            if request.table == "coil":
                response = await self.client.read_coils(request.start, count=request.count, device_id=request.unit_id)
            elif request.table == "discrete":
                response = await self.client.read_discrete_inputs(
                    request.start, count=request.count, device_id=request.unit_id
                )
            elif request.table == "input":
                response = await self.client.read_input_registers(
                    request.start, count=request.count, device_id=request.unit_id
                )
            else:
                response = await self.client.read_holding_registers(
                    request.start, count=request.count, device_id=request.unit_id
                )
            for tag in request.tags:
                address = tag.address
                assert isinstance(address, ModbusAddress)
                offset = address.address - request.start
                if response.isError():
                    samples.append(TagSample(tag, None, now, Quality.BAD))
                    continue
                if request.table in ("coil", "discrete"):
                    raw: float | int | bool | str = bool(response.bits[offset])
                else:
                    raw = decode_registers(response.registers[offset : offset + address.register_count], address)
                value = tag.value_of(raw)
                report_if_changed(self._last, tag, value, now, samples)
        return samples

    async def _connect(self) -> None:
        self.client.close()
        self.client = self._new_client()
        if not await self.client.connect():
            raise SourceError(f"PLC {self.device.label} does not answer", detail="TCP connection refused or timed out")

    async def samples(self) -> AsyncIterator[list[TagSample]]:
        backoff = Backoff()
        probe = tcp_probe(self.device.host, self.device.port)
        gap_marked = False  # the batch of BAD samples for this outage is out
        while True:
            # A dropped connection is tried again at once; only a failed attempt starts the backoff (1 s, 2 s …).
            async for _ in attempts(backoff, probe):
                try:
                    await self._connect()
                    break
                except SourceError as exc:
                    _logger.warning("%s; retrying in %.0f s", exc, backoff.delay)
                    if not gap_marked:
                        self._last.clear()
                        gap_marked = True
                        yield bad_batch(self.device)
            if backoff.failures:
                _logger.info("PLC %s answers again", self.device.label)
            backoff.reset()
            gap_marked = delivered = False
            queue: asyncio.Queue[list[TagSample] | Exception] = asyncio.Queue()  # one per connection
            tasks = [
                asyncio.create_task(self._poll(interval, requests, queue)) for interval, requests in self.plans.items()
            ]
            tasks.append(asyncio.create_task(self._watch(queue)))
            try:
                while True:
                    item = await queue.get()
                    if isinstance(item, Exception):
                        raise item
                    delivered = True
                    yield item
            except (SourceError, TimeoutError) as exc:
                for task in tasks:
                    task.cancel()
                _logger.warning(
                    "PLC %s stopped answering (%s); reconnecting",
                    self.device.label,
                    getattr(exc, "detail", "") or str(exc) or "no answer in time",
                )
                self.client.close()
                self._last.clear()
                gap_marked = True
                yield bad_batch(self.device)
                if not delivered:  # it accepts connections but reads nothing: not at once again
                    await backoff.pause(probe)
            finally:
                for task in tasks:
                    task.cancel()

    async def _watch(self, queue: asyncio.Queue[list[TagSample] | Exception]) -> None:
        # A poll of pymodbus's own `connected` flag. Its trace_connect hook could set an Event instead; that
        # changes when a drop is noticed, so it is left to a change of its own.
        while self.client.connected:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        queue.put_nowait(SourceError(f"PLC {self.device.label} stopped answering", detail="connection closed"))

    async def _poll(
        self, interval_ms: int, requests: list[ReadRequest], queue: asyncio.Queue[list[TagSample] | Exception]
    ) -> None:
        await poll_forever(
            lambda: self.read(requests), interval_ms, self.timeout * 2, queue, (SourceError, TimeoutError)
        )
