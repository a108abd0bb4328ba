"""What the drivers share: deadband, the batch that marks a gap, the translation of a protocol library's
exceptions into :class:`SourceError` (the backoff is hf_core.retry's)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from typing import TypeVar

from hf_collector.model import DeviceConfig, TagConfig, TagSample
from hf_core.errors import SourceError
from hf_core.payload import Value
from hf_core.types import Quality

K = TypeVar("K", bound=Hashable)


@contextlib.contextmanager
def source_errors(message: str, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
    """The driver's boundary: ``errors`` raised inside become :class:`SourceError` (``message``, the library's
    own words as its detail), ``raise … from`` the original."""
    try:
        yield
    except errors as exc:
        raise SourceError(message, detail=str(exc) or type(exc).__name__) from exc


def passes_deadband(tag: TagConfig, last: Value | None, value: Value) -> bool:
    """True when ``value`` should be reported: first value, non-numeric change, or beyond the deadband."""
    if last is None or tag.deadband <= 0:
        return True
    if isinstance(value, bool | str) or isinstance(last, bool | str):
        return value != last
    return abs(float(value) - float(last)) > tag.deadband


def report_if_changed(
    last: dict[str, Value], tag: TagConfig, value: Value, now_ms: int, samples: list[TagSample]
) -> None:
    """Append the sample when it passes the deadband, remembering it as the tag's last reported value."""
    if passes_deadband(tag, last.get(tag.topic), value):
        last[tag.topic] = value
        samples.append(TagSample(tag, value, now_ms))


def bad_batch(device: DeviceConfig) -> list[TagSample]:
    """One BAD-quality sample per tag: the historian shows the gap instead of a flat line."""
    now = int(time.time() * 1000)
    return [TagSample(tag, None, now, Quality.BAD) for tag in device.tags]


def coalesce(
    tags: list[TagConfig],
    group_of: Callable[[TagConfig], K],
    span_of: Callable[[TagConfig], tuple[int, int]],
    max_gap: int,
    limit: Callable[[K], int],
) -> list[tuple[K, int, int, tuple[TagConfig, ...]]]:
    """Tags of one group (Modbus unit+table, S7 area+DB) merged into as few reads as ``limit`` allows.

    ``span_of`` gives a tag's (start, length); reads run through gaps of up to ``max_gap``. Returns
    (group, start, count, tags) per read, groups in sorted order.
    """
    groups: dict[K, list[TagConfig]] = {}
    for tag in tags:
        groups.setdefault(group_of(tag), []).append(tag)
    reads = []
    for key in sorted(groups, key=repr):
        members = sorted(groups[key], key=lambda t: span_of(t)[0])
        current: list[TagConfig] = []
        start = end = 0
        for tag in members:
            tag_start, length = span_of(tag)
            tag_end = tag_start + length
            if current and (tag_start - end > max_gap or tag_end - start > limit(key)):
                reads.append((key, start, end - start, tuple(current)))
                current = []
            if not current:
                start, end = tag_start, tag_end
            end = max(end, tag_end)
            current.append(tag)
        if current:
            reads.append((key, start, end - start, tuple(current)))
    return reads


async def poll_forever(
    read: Callable[[], Awaitable[list[TagSample]]],
    interval_ms: int,
    read_timeout: float,
    queue: asyncio.Queue[list[TagSample] | Exception],
    errors: tuple[type[Exception], ...],
) -> None:
    """Read at a fixed rate (no drift) into ``queue``, each read given ``read_timeout`` seconds; the first
    failure is handed over through the queue too."""
    period = interval_ms / 1000
    next_at = time.monotonic()
    try:
        while True:
            batch = await asyncio.wait_for(read(), timeout=read_timeout)
            if batch:
                queue.put_nowait(batch)
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    except errors as exc:
        queue.put_nowait(exc)
