"""Bounded resources in tag resolution (issue 14): discovery caps per message and per workcell, a name
length limit, a bounded cache of unknown tags, and archived tags that stay archived. Real PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import psycopg2
import pytest
from ingest_fixtures import LOCATION, PG_HOST, PG_PORT, dsn, historian_database

from hf_historian.ingest import resolver as resolver_module
from hf_historian.ingest.deadletter import DeadLetter
from hf_historian.ingest.decoder import decode_message
from hf_historian.ingest.resolver import TagResolver
from hf_historian.writer import Sample, SampleRow

TOPIC = f"umh/v1/{LOCATION}/_historian"
NOW = int(time.time() * 1000)


@pytest.fixture
def db() -> Iterator[str]:
    with historian_database(PG_HOST, PG_PORT) as name:
        yield name


@pytest.fixture
def cursor(db: str) -> Iterator[psycopg2.extensions.cursor]:
    conn = psycopg2.connect(dsn(db))
    conn.autocommit = True
    try:
        yield conn.cursor()
    finally:
        conn.close()


def run(resolver: TagResolver, values: dict[str, object], topic: str = TOPIC) -> tuple[list[Sample], list[DeadLetter]]:
    samples: list[SampleRow] = []
    dead: list[DeadLetter] = []
    decode_message(topic, json.dumps({"timestamp_ms": NOW, **values}).encode(), resolver, samples, dead)
    return [Sample(*s) for s in samples], dead


def tag_count(cursor: psycopg2.extensions.cursor) -> int:
    cursor.execute("SELECT count(*) FROM hf_uns_tag")
    return int(cursor.fetchone()[0])


def test_discovery_per_message_is_capped(cursor: psycopg2.extensions.cursor) -> None:
    """Before: every new name of a message became a tag (50,000 of them from one message)."""
    resolver = TagResolver(cursor, max_new_tags_per_message=10)
    samples, dead = run(resolver, {f"new{i}": 1.0 for i in range(25)})
    assert len(samples) == 10 and tag_count(cursor) == 5 + 10
    assert len(dead) == 1 and dead[0].reason.count("more than 10 new tags in one message") == 15


def test_discovery_per_workcell_is_capped(cursor: psycopg2.extensions.cursor) -> None:
    resolver = TagResolver(cursor, max_tags_per_workcell=8)  # the workcell has 5 tags already
    samples, dead = run(resolver, {f"new{i}": 1.0 for i in range(5)})
    assert len(samples) == 3 and tag_count(cursor) == 8
    assert len(dead) == 1 and dead[0].reason.count("reached its cap of 8 tags") == 2


def test_discovery_per_minute_is_capped_and_a_name_refused_comes_in_a_later_minute(
    cursor: psycopg2.extensions.cursor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a flood of invented names under known workcells was discovered as fast as the database took it
    (each tag about 1 KB of the ingest's cache for good: 20 MB a minute in bench_historian.py --unknown-flood)."""
    resolver = TagResolver(cursor, max_new_tags_per_minute=12)
    samples, dead = run(resolver, {f"a{i}": 1.0 for i in range(8)})
    assert len(samples) == 8 and not dead
    samples, dead = run(resolver, {f"b{i}": 1.0 for i in range(8)})
    assert len(samples) == 4 and tag_count(cursor) == 5 + 12
    assert len(dead) == 1 and dead[0].reason.count("discovered 12 new tags in the last minute") == 4
    assert len(run(resolver, {"temperature": 1.0, "a0": 2.0})[0]) == 2, "known tags are stored as ever"
    counting = CountingCursor(cursor)
    monkeypatch.setattr(resolver, "cr", counting)
    assert len(run(resolver, {f"c{i}": 1.0 for i in range(50)})[1]) == 1
    assert counting.statements == 0, "a flood's names past the minute's share cost no query each"
    monkeypatch.setattr(resolver, "cr", cursor)
    later = time.monotonic() + resolver_module.DISCOVERY_WINDOW_S
    monkeypatch.setattr(resolver_module.time, "monotonic", lambda: later)
    samples, dead = run(resolver, {f"b{i}": 1.0 for i in range(4, 8)})
    assert len(samples) == 4 and not dead and tag_count(cursor) == 5 + 16


def test_a_name_longer_than_the_limit_is_refused(cursor: psycopg2.extensions.cursor) -> None:
    resolver = TagResolver(cursor)
    samples, dead = run(resolver, {"n" * (resolver_module.MAX_TAG_NAME_CHARS + 1): 1.0, "temperature": 2.0})
    assert [s.value for s in samples] == [2.0]
    assert len(dead) == 1 and f"longer than {resolver_module.MAX_TAG_NAME_CHARS}" in dead[0].reason


def test_the_cache_of_unknown_tags_is_bounded(
    cursor: psycopg2.extensions.cursor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: TagResolver._unknown grew with every name sent to an unknown location (31 → 87 MB)."""
    monkeypatch.setattr(resolver_module, "UNKNOWN_CACHE_MAX", 50)
    resolver = TagResolver(cursor)
    for batch in range(4):
        run(resolver, {f"t{batch}_{i}": 1.0 for i in range(40)}, topic="umh/v1/nowhere/_historian")
    assert len(resolver._unknown) <= 50
    assert sum(len(names) for names in resolver.by_message_name.values()) <= resolver_module.UNKNOWN_CACHE_MAX


def test_an_archived_tag_stays_archived_and_stores_nothing(cursor: psycopg2.extensions.cursor) -> None:
    """Before: discovery's ON CONFLICT … RETURNING handed back the archived tag's id and its sample was stored."""
    cursor.execute("UPDATE hf_uns_tag SET active = false WHERE name = 'temperature'")
    resolver = TagResolver(cursor)
    samples, dead = run(resolver, {"temperature": 2.0, "running": True})
    assert [s.value for s in samples] == [1.0]
    assert len(dead) == 1 and "archived" in dead[0].reason
    cursor.execute("SELECT active FROM hf_uns_tag WHERE name = 'temperature'")
    assert cursor.fetchone() == (False,)


class CountingCursor:
    """A real cursor that counts the statements it runs."""

    def __init__(self, cursor: psycopg2.extensions.cursor) -> None:
        self.cursor = cursor
        self.statements = 0

    def execute(self, *args: object) -> object:
        self.statements += 1
        return self.cursor.execute(*args)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.cursor, name)


def test_names_sent_to_an_unknown_location_cost_no_query_each(cursor: psycopg2.extensions.cursor) -> None:
    """Before: two queries per name (40,000 names: 5.6 s a message on the event loop)."""
    counting = CountingCursor(cursor)
    resolver = TagResolver(counting)  # type: ignore[arg-type]
    loaded = counting.statements
    samples, dead = run(resolver, {f"n{i}": 1.0 for i in range(500)}, topic="umh/v1/nowhere/cell/_historian")
    assert samples == [] and len(dead) == 1
    assert counting.statements - loaded <= 2, counting.statements - loaded
