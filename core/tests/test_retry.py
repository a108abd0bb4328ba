"""The one reconnect policy: the delays it waits, and a probe that ends a pause when the peer is back."""

import asyncio
import time

from hf_testing import free_port

from hf_core.retry import Backoff, attempts, tcp_probe


def test_delays_double_from_one_second_up_to_the_cap() -> None:
    backoff = Backoff(first=1.0, cap=30.0)
    delays = []
    for _ in range(7):
        delays.append(backoff.delay)
        backoff.failures += 1  # what pause() counts
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    backoff.reset()
    assert (backoff.delay, backoff.first_failure) == (1.0, True)


async def test_a_failure_counts_once_so_the_first_retry_waits_one_second() -> None:
    """(Modbus counted a dropped connection twice: its first retry waited 2 s.)"""
    backoff = Backoff(first=0.01)
    await backoff.pause()
    assert (backoff.failures, backoff.first_failure, backoff.delay) == (1, False, 0.02)


async def test_a_peer_that_comes_back_ends_the_pause_at_once() -> None:
    port = free_port()
    backoff = Backoff(first=30.0)
    probe = tcp_probe("127.0.0.1", port)
    assert not await probe(), "nothing listens yet"
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", port)
    async with server:
        started = time.monotonic()
        await backoff.pause(probe)
        waited = time.monotonic() - started
    assert waited < 5, f"waited {waited:.1f} s of a 30 s pause although the peer was back"


async def test_attempts_start_at_once_then_pause_with_the_backoff_between_two() -> None:
    backoff = Backoff(first=0.05, cap=0.2)
    started = time.monotonic()
    seen: list[tuple[int, int, float]] = []
    async for attempt in attempts(backoff):
        seen.append((attempt, backoff.failures, round(time.monotonic() - started, 2)))
        if attempt == 1:
            assert time.monotonic() - started < 0.04, "the first attempt does not wait"
        if attempt == 4:
            break
    assert [(a, f) for a, f, _ in seen] == [(1, 0), (2, 1), (3, 2), (4, 3)]
    # 0.05 + 0.1 + 0.2 s of pauses before the fourth attempt
    assert time.monotonic() - started >= 0.35


async def test_attempts_after_a_reset_pause_the_first_delay_again() -> None:
    backoff = Backoff(first=0.01, cap=10.0)
    failures = []
    async for attempt in attempts(backoff):
        failures.append(backoff.failures)
        if attempt == 3:
            backoff.reset()  # connected; the connection then drops
        if attempt == 5:
            break
    assert failures == [0, 1, 2, 1, 2], "the pause before the fourth attempt was the first delay again"


async def test_attempts_end_a_pause_when_the_probe_finds_the_peer_back() -> None:
    port = free_port()
    backoff = Backoff(first=30.0)
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", port)
    async with server:
        started = time.monotonic()
        async for attempt in attempts(backoff, tcp_probe("127.0.0.1", port)):
            if attempt == 2:
                break
        waited = time.monotonic() - started
    assert waited < 5, f"waited {waited:.1f} s of a 30 s pause although the peer was back"


def test_the_blocking_sleep_waits_the_delay_and_counts_like_a_pause() -> None:
    backoff = Backoff(first=0.05, cap=0.1)
    started = time.monotonic()
    backoff.sleep()
    backoff.sleep()
    assert time.monotonic() - started >= 0.15
    assert (backoff.failures, backoff.delay) == (2, 0.1)
