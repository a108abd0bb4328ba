"""The one reconnect policy: capped exponential backoff (1 s, 2 s, 4 s … 30 s), as aiomqtt documents it and
asyncua's ``reconnect_max_delay`` does, with an optional probe so a peer that comes back early is used at
once instead of after the rest of a long wait.

Every reconnect loop of the edge and the cloud uses it the same way::

    backoff = Backoff()
    while True:
        try:
            ...connect and work...
            backoff.reset()                       # once connected
        except OSError as exc:
            log("…; retrying in %.0f s", backoff.delay)
            await backoff.pause(tcp_probe(host, port))

or, the same loop without the bookkeeping, with ``attempts``::

    backoff = Backoff()
    async for _ in attempts(backoff, tcp_probe(host, port)):
        try:
            ...connect...
            backoff.reset()                       # once connected
            ...work; return or break when done...
        except OSError as exc:
            log("…; retrying in %.0f s", backoff.delay)
            # the next iteration pauses first

``attempts`` yields at once for the first attempt and pauses (``backoff.pause(probe)``) before each later one;
the loop ends only when its body returns, breaks or raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

# How often a probe asks during a pause: a returning PLC is read within about this long.
PROBE_INTERVAL_S = 0.5

Probe = Callable[[], Awaitable[bool]]


class Backoff:
    """Capped exponential backoff. ``failures`` counts the pauses since the last ``reset()``."""

    def __init__(self, first: float = 1.0, cap: float = 30.0) -> None:
        self.first, self.cap, self.failures = first, cap, 0

    @property
    def delay(self) -> float:
        """The longest the next ``pause()`` waits."""
        return min(self.cap, self.first * 2.0**self.failures)

    @property
    def first_failure(self) -> bool:
        """True until the first pause since the last reset: the moment to report a peer as gone, once."""
        return self.failures == 0

    def reset(self) -> None:
        self.failures = 0

    async def pause(self, ready: Probe | None = None) -> None:
        """Wait ``delay`` seconds, or less when ``ready`` (asked every PROBE_INTERVAL_S) says the peer is back."""
        deadline = time.monotonic() + self.delay
        self.failures += 1
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(PROBE_INTERVAL_S, left) if ready else left)
            if ready is not None and await ready():
                return

    def sleep(self) -> None:
        """``pause()`` for a thread that blocks (a psycopg2 writer): wait ``delay`` seconds, no probe."""
        delay = self.delay
        self.failures += 1
        time.sleep(delay)


async def attempts(backoff: Backoff, probe: Probe | None = None) -> AsyncIterator[int]:
    """Yield before each attempt (1, 2, 3 …), pausing ``backoff`` (ended early by ``probe``) between two.

    The caller calls ``backoff.reset()`` once connected, so the pause after a long good connection is short.
    """
    attempt = 1
    while True:
        yield attempt
        await backoff.pause(probe)
        attempt += 1


def tcp_probe(host: str, port: int, timeout: float = PROBE_INTERVAL_S) -> Probe:
    """A probe that says whether ``host:port`` accepts a TCP connection again (then closes it)."""

    async def ready() -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    return ready
