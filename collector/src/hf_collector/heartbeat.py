"""The heartbeat: a value that has not changed is still the value.

A PLC's state string or a counter at rest changes rarely, and report-by-exception (OPC UA subscriptions, a
deadband) sends it only when it changes; the historian, the screens and OEE would then see it age into
"stale" while it simply holds. So each tag's last good value is sent again, stamped with the time it is
sent (it holds *now*) and good, whenever the tag has been quiet for its ``heartbeat_s``; and at once when a
value arrives stamped no later than what was already sent for the tag (after a reconnect a PLC's value
keeps the source time of its last change, earlier than the gap the collector marked) or older than its
heartbeat (the first value of a state that changed hours ago). A non-good sample ends the beat until the
next good value: a value that is not known is not repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass

from hf_collector.model import TagConfig, TagSample
from hf_core.payload import Value
from hf_core.types import Quality

# Beats due within this share of their interval go out with the one due now: one message for a workcell's
# quiet tags instead of one each, and never later than ``heartbeat_s``.
COALESCE_SHARE = 0.1


@dataclass(slots=True)
class _Held:
    tag: TagConfig
    value: Value | None = None  # None: not known (never read, or the last sample was not good)
    stamp_ms: int = 0  # the latest time any sample sent for this tag was stamped with
    now: bool = False  # a beat is due at once


class Heartbeat:
    """What each tag last sent, and the beats that are due. Times are epoch milliseconds.

    ``observe`` runs for every value read, so it and ``wait_s`` cost no walk over all tags: the next beat's
    time is kept (never later than the true one; a wake-up that finds nothing due only recomputes it)."""

    def __init__(self, tags: Iterable[TagConfig]) -> None:
        self._held = {tag.topic: _Held(tag) for tag in tags}
        self._next_ms: float | None = None  # None while no tag holds a value

    def observe(self, batch: list[TagSample]) -> None:
        """Take note of a batch the driver read (and that is sent as it is)."""
        held = self._held
        for sample in batch:
            entry = held.get(sample.tag.topic)
            if entry is None:
                continue
            if sample.quality is Quality.GOOD and sample.value is not None:
                entry.value = sample.value
                entry.now = sample.timestamp_ms <= entry.stamp_ms
                entry.stamp_ms = max(entry.stamp_ms, sample.timestamp_ms)
                due_ms = 0 if entry.now else entry.stamp_ms + entry.tag.heartbeat_s * 1000
                if self._next_ms is None or due_ms < self._next_ms:
                    self._next_ms = due_ms
            else:
                entry.value, entry.now = None, False
                entry.stamp_ms = max(entry.stamp_ms, sample.timestamp_ms)

    def due(self, now_ms: int) -> list[TagSample]:
        """The beats due at ``now_ms`` (each tag's last good value, stamped ``now_ms``), noted as sent."""
        beats = []
        next_ms: float | None = None
        for entry in self._held.values():
            if entry.value is None:
                continue
            period_ms = entry.tag.heartbeat_s * 1000
            if entry.now or now_ms >= entry.stamp_ms + period_ms * (1 - COALESCE_SHARE):
                beats.append(TagSample(entry.tag, entry.value, now_ms))
                entry.stamp_ms, entry.now = max(entry.stamp_ms, now_ms), False
            if next_ms is None or entry.stamp_ms + period_ms < next_ms:
                next_ms = entry.stamp_ms + period_ms
        self._next_ms = next_ms
        return beats

    def wait_s(self, now_ms: int) -> float | None:
        """Seconds until the next beat may be due (0: now); None while no tag holds a value."""
        return None if self._next_ms is None else max(0.0, (self._next_ms - now_ms) / 1000)


def _now_ms() -> int:
    return int(time.time() * 1000)


async def with_heartbeat(
    batches: AsyncIterator[list[TagSample]], heartbeat: Heartbeat
) -> AsyncGenerator[list[TagSample], None]:
    """``batches`` as they come, with the beats ``heartbeat`` finds due between them (each a batch of its own).

    The driver's iterator runs in a task of its own that hands its batches over through a queue, so a
    quiet driver never holds the beats back; its exception (or its end) ends this iterator the same way."""
    queue: asyncio.Queue[list[TagSample] | BaseException | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for batch in batches:
                queue.put_nowait(batch)
        except Exception as exc:  # noqa: BLE001  (handed over to be raised where the batches are read)
            queue.put_nowait(exc)
        else:
            queue.put_nowait(None)

    reader = asyncio.create_task(pump(), name="heartbeat pump")
    try:
        while True:
            wait = heartbeat.wait_s(_now_ms())
            try:
                item = await asyncio.wait_for(queue.get(), timeout=wait) if wait != 0 else queue.get_nowait()
            except (TimeoutError, asyncio.QueueEmpty):
                if beats := heartbeat.due(_now_ms()):
                    yield beats
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            heartbeat.observe(item)
            yield item
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
