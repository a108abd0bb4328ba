"""Client-side decimation: at most one sample per tag per its sampling interval, the newest.

An OPC UA server may publish faster than a tag's interval (it ignores or revises the sampling and
publishing intervals asked for, or keeps a queue of changes): what it sends beyond one sample per interval
is held back, the newest replacing the older, and sent when the tag's interval has passed — so the last
value of a burst is never lost, only delayed to the end of its interval. Times are ``time.monotonic()``.
"""

from __future__ import annotations

from hf_collector.model import TagSample


class Decimator:
    def __init__(self) -> None:
        self._next_at: dict[str, float] = {}  # topic -> when the tag may send again
        self._held: dict[str, TagSample] = {}  # topic -> the newest sample held back

    def offer(self, samples: list[TagSample], now: float) -> list[TagSample]:
        """What of ``samples`` (in the order received) goes out now; the rest is held back (a tag's later
        sample replacing its earlier one)."""
        next_at, held = self._next_at, self._held
        out = []
        for sample in samples:  # one pass, no more: this runs for every value the server sends
            topic = sample.tag.topic
            if now >= next_at.get(topic, 0.0):
                next_at[topic] = now + sample.tag.sampling_interval_ms / 1000
                if held:
                    held.pop(topic, None)
                out.append(sample)
            else:
                held[topic] = sample
        return out

    def due(self, now: float) -> list[TagSample]:
        """The held samples whose tag may send again at ``now``."""
        out = [sample for topic, sample in self._held.items() if now >= self._next_at[topic]]
        for sample in out:
            del self._held[sample.tag.topic]
            self._next_at[sample.tag.topic] = now + sample.tag.sampling_interval_ms / 1000
        return out

    def wait_s(self, now: float) -> float | None:
        """Seconds until a held sample is due; None when none is held."""
        if not self._held:
            return None
        return max(0.0, min(self._next_at[topic] for topic in self._held) - now)

    def clear(self) -> None:
        """Forget everything (a new connection: its first values go out at once)."""
        self._next_at.clear()
        self._held.clear()
