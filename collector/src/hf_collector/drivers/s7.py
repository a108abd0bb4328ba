"""Siemens S7 (python-snap7): DB, M, I, Q areas; one read per contiguous byte range per area."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import snap7
from snap7.type import Area
from snap7.util import get_bool, get_dint, get_dword, get_int, get_real, get_string, get_word

from hf_collector.drivers.common import bad_batch, coalesce, poll_forever, report_if_changed
from hf_collector.model import DeviceConfig, S7Address, TagConfig, TagSample
from hf_core.errors import SourceError
from hf_core.payload import Value
from hf_core.retry import Backoff, attempts, tcp_probe

_logger = logging.getLogger(__name__)
AREAS = {"DB": Area.DB, "M": Area.MK, "I": Area.PE, "Q": Area.PA}
MAX_BYTES = 900  # below the PDU size of every S7 CPU, so one range is one request
MAX_GAP = 16


@dataclass(frozen=True, slots=True)
class ByteRange:
    area: str
    db_number: int
    start: int
    size: int
    tags: tuple[TagConfig, ...]


def plan_ranges(tags: list[TagConfig]) -> list[ByteRange]:
    """Several variables per request: tags of one area/DB close together share one read."""

    def address(tag: TagConfig) -> S7Address:
        assert isinstance(tag.address, S7Address)
        return tag.address

    reads = coalesce(
        tags,
        lambda t: (address(t).area, address(t).db_number),
        lambda t: (address(t).offset, address(t).size),
        MAX_GAP,
        lambda _key: MAX_BYTES,
    )
    return [ByteRange(area, db, start, size, members) for (area, db), start, size, members in reads]


def decode(data: bytearray, offset: int, address: S7Address) -> float | int | bool | str:
    kind = address.type
    if kind == "BOOL":
        return bool(get_bool(data, offset, address.bit))
    if kind == "INT":
        return int(get_int(data, offset))
    if kind == "DINT":
        return int(get_dint(data, offset))
    if kind == "REAL":
        return float(get_real(data, offset))
    if kind == "WORD":
        return int(get_word(data, offset))
    if kind == "DWORD":
        return int(get_dword(data, offset))
    return str(get_string(data, offset))


class S7Driver:
    """Polls one S7 PLC; snap7 is blocking, so each read runs in a worker thread."""

    def __init__(self, device: DeviceConfig) -> None:
        self.device = device
        self.client = snap7.Client()
        self.requests_sent = 0
        by_interval: dict[int, list[TagConfig]] = defaultdict(list)
        for tag in device.tags:
            by_interval[tag.sampling_interval_ms].append(tag)
        self.plans = {interval: plan_ranges(tags) for interval, tags in by_interval.items()}
        self._last: dict[str, Value] = {}
        self._lock = asyncio.Lock()  # one snap7 client: one request at a time

    async def __aenter__(self) -> S7Driver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._disconnect)

    def _disconnect(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection may fail; nothing to do
            self.client.disconnect()

    def _read_ranges(self, ranges: list[ByteRange]) -> list[tuple[ByteRange, bytearray]]:
        out = []
        for byte_range in ranges:
            self.requests_sent += 1
            out.append(
                (
                    byte_range,
                    self.client.read_area(
                        AREAS[byte_range.area], byte_range.db_number, byte_range.start, byte_range.size
                    ),
                )
            )
        return out

    async def read(self, ranges: list[ByteRange]) -> list[TagSample]:
        async with self._lock:
            try:
                results = await asyncio.to_thread(self._read_ranges, ranges)
            except Exception as exc:  # snap7 raises plain RuntimeError/OSError
                raise SourceError(f"PLC {self.device.label} stopped answering", detail=str(exc)) from exc
        now = int(time.time() * 1000)
        samples: list[TagSample] = []
        for byte_range, data in results:
            for tag in byte_range.tags:
                address = tag.address
                assert isinstance(address, S7Address)
                value = tag.value_of(decode(data, address.offset - byte_range.start, address))
                report_if_changed(self._last, tag, value, now, samples)
        return samples

    async def _connect(self) -> None:
        try:
            await asyncio.to_thread(
                self.client.connect, self.device.host, self.device.rack, self.device.slot, self.device.port
            )
        except Exception as exc:  # snap7 raises plain RuntimeError/OSError
            raise SourceError(f"PLC {self.device.label} does not answer", detail=str(exc)) from exc

    async def samples(self) -> AsyncIterator[list[TagSample]]:
        backoff = Backoff()
        async for _ in attempts(backoff, tcp_probe(self.device.host, self.device.port)):
            tasks: list[asyncio.Task[None]] = []
            try:
                await self._connect()
                if backoff.failures:
                    _logger.info("PLC %s answers again", self.device.label)
                backoff.reset()
                queue: asyncio.Queue[list[TagSample] | Exception] = asyncio.Queue()
                tasks = [
                    asyncio.create_task(self._poll(interval, ranges, queue)) for interval, ranges in self.plans.items()
                ]
                while True:
                    item = await queue.get()
                    if isinstance(item, Exception):
                        raise item
                    yield item
            except Exception as exc:  # noqa: BLE001  (SourceError, a read timeout, or whatever snap7 decoded)
                for task in tasks:
                    task.cancel()
                _logger.warning(
                    "PLC %s stopped answering (%s); retrying in %.0f s",
                    self.device.label,
                    getattr(exc, "detail", "") or exc,
                    backoff.delay,
                )
                await asyncio.to_thread(self._disconnect)
                self.client = snap7.Client()
                if backoff.first_failure:
                    self._last.clear()
                    yield bad_batch(self.device)
                # the next attempt pauses first (ended early once the PLC accepts connections again)
            finally:
                for task in tasks:
                    task.cancel()

    async def _poll(
        self, interval_ms: int, ranges: list[ByteRange], queue: asyncio.Queue[list[TagSample] | Exception]
    ) -> None:
        # snap7 raises plain RuntimeError/OSError: any failure means "reconnect"
        await poll_forever(lambda: self.read(ranges), interval_ms, 5.0, queue, (Exception,))
