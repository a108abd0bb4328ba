"""What PostgreSQL (or the rollups) cannot hold is refused at decode time, per value, with a reason that
names the limit; the message's other values are kept (issue 14). Real PostgreSQL for tag resolution."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator

import psycopg2
import pytest
from ingest_fixtures import LOCATION, PG_HOST, PG_PORT, dsn, historian_database

from hf_core import payload as codec
from hf_historian.ingest.deadletter import DeadLetter
from hf_historian.ingest.decoder import decode_message
from hf_historian.ingest.resolver import TagResolver
from hf_historian.writer import MS_PER_DAY, HistorianWriter, Sample, SampleRow, prepare

TOPIC = f"umh/v1/{LOCATION}/_historian"
NOW = int(time.time() * 1000)


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    with historian_database(PG_HOST, PG_PORT) as name:
        yield name


@pytest.fixture
def resolver(db: str) -> Iterator[TagResolver]:
    conn = psycopg2.connect(dsn(db))
    conn.autocommit = True
    try:
        yield TagResolver(conn.cursor())
    finally:
        conn.close()


def run(resolver: TagResolver, raw: bytes) -> tuple[list[Sample], list[DeadLetter]]:
    samples: list[SampleRow] = []
    dead: list[DeadLetter] = []
    decode_message(TOPIC, raw, resolver, samples, dead)
    return [Sample(*s) for s in samples], dead


DEEP = '{"a":' * (codec.MAX_NESTING_DEPTH + 1) + "1" + "}" * (codec.MAX_NESTING_DEPTH + 1)


@pytest.mark.parametrize(
    "bad, reason",
    [
        ('"state": "a\\u0000b"', "NUL"),
        ('"state": "\\ud800"', "lone surrogate"),
        ('"state": "%s"' % ("x" * (codec.MAX_TEXT_CHARS + 1)), f"{codec.MAX_TEXT_CHARS} characters"),
        ('"temperature": 1e301', "beyond ±1e+300"),
        ('"temperature": 1e400', "beyond ±1e+300"),
        ('"temperature": 1' + "0" * 400, "beyond ±1e+300"),
        ('"count": 9007199254740993', "2**53"),
        (f'"deep": {DEEP}', f"deeper than {codec.MAX_NESTING_DEPTH}"),
        ('"list": [1, 2]', "not a number, bool or string"),
    ],
    ids=[
        "nul-in-text",
        "lone-surrogate",
        "text-too-long",
        "1e301",
        "1e400",
        "int-beyond-float8",
        "int-beyond-2**53",
        "too-deep",
        "list",
    ],
)
def test_a_value_postgresql_cannot_hold_is_refused_alone(resolver: TagResolver, bad: str, reason: str) -> None:
    """Before: NUL failed the COPY (the whole message dead-lettered), a surrogate crashed prepare(), 1e301 and
    2**53+1 were stored (rounded), a 5,000-character string was stored, a deep object discovered as a tag."""
    samples, dead = run(resolver, f'{{"timestamp_ms": {NOW}, {bad}, "running": true}}'.encode())
    assert [(s.value, s.value_text) for s in samples] == [(1.0, None)], "the message's good value is kept"
    assert len(dead) == 1 and reason in dead[0].reason, dead


def test_timestamps_outside_the_accepted_range_say_which(resolver: TagResolver) -> None:
    for timestamp in (0, codec.MIN_TIMESTAMP_MS - 1, NOW + 2 * 24 * 3600 * 1000, 10**30):
        samples, dead = run(resolver, b'{"timestamp_ms": %d, "temperature": 1}' % timestamp)
        assert samples == []
        assert len(dead) == 1 and "2000-01-01" in dead[0].reason and "24 h" in dead[0].reason, dead


def test_more_values_than_the_limit_refuse_the_message(resolver: TagResolver) -> None:
    """Before: every name was discovered as a tag (50,000 names: 17.5 s on the event loop)."""
    names = {f"t{i}": 1.0 for i in range(codec.MAX_VALUES_PER_MESSAGE + 1)}
    samples, dead = run(resolver, json.dumps({"timestamp_ms": NOW, **names}).encode())
    assert samples == []
    assert len(dead) == 1 and f"more than {codec.MAX_VALUES_PER_MESSAGE} values" in dead[0].reason, dead


def test_nesting_beyond_what_json_parses_is_a_reason_not_a_recursion_error(resolver: TagResolver) -> None:
    raw = b'{"timestamp_ms": %d, "t": %s1%s}' % (NOW, b"[" * 100_000, b"]" * 100_000)
    samples, dead = run(resolver, raw)
    assert samples == [] and len(dead) == 1
    assert "RecursionError" not in dead[0].reason and f"deeper than {codec.MAX_NESTING_DEPTH}" in dead[0].reason


@pytest.mark.parametrize(
    "raw, kept, loser",
    [
        (b'{"timestamp_ms": %d, "temperature": 1, "temperature": 2}' % NOW, 2.0, "'temperature'"),
        (b'{"timestamp_ms": %d, "axis$x": 1, "axis": {"x": 2}}' % NOW, 2.0, "'axis$x'"),
    ],
    ids=["duplicate-key", "dollar-name-beside-group"],
)
def test_a_duplicate_name_dead_letters_the_loser(resolver: TagResolver, raw: bytes, kept: float, loser: str) -> None:
    """Before: one value was kept with no trace of the other."""
    samples, dead = run(resolver, raw)
    assert [s.value for s in samples] == [kept]
    assert len(dead) == 1 and "duplicate" in dead[0].reason and loser in dead[0].reason, dead


def test_numbers_are_discovered_as_float(resolver: TagResolver) -> None:
    """Before: 21 discovered an int tag, and every fractional value after it was dead-lettered."""
    first, dead1 = run(resolver, b'{"timestamp_ms": %d, "fresh_number": 21}' % NOW)
    second, dead2 = run(resolver, b'{"timestamp_ms": %d, "fresh_number": 21.5}' % (NOW + 1))
    assert (dead1, dead2) == ([], [])
    assert [s.value for s in first + second] == [21.0, 21.5]


def test_a_value_of_another_type_than_the_tags_is_refused_not_converted(resolver: TagResolver) -> None:
    samples, dead = run(resolver, b'{"timestamp_ms": %d, "temperature": "hot", "running": 5, "count": 1.5}' % NOW)
    assert samples == []
    assert len(dead) == 1 and all(n in dead[0].reason for n in ("'temperature'", "'running'", "'count'")), dead


def test_partitions_are_made_for_the_days_that_hold_a_sample_only() -> None:
    """Before: a 2000-01-01 sample beside a current one asked for every day between (9,831 partitions in one
    transaction: PostgreSQL ran out of shared memory, for every database of the server)."""
    rows: list[SampleRow] = [
        (1, codec.MIN_TIMESTAMP_MS, 1.0, None, 0, 2),
        (1, NOW, 2.0, None, 0, 2),
        (2, NOW, 3.0, None, 0, 3),
    ]
    batch = prepare(rows, optimistic=True)
    assert batch.days == {(2, codec.MIN_TIMESTAMP_MS // MS_PER_DAY), (2, NOW // MS_PER_DAY), (3, NOW // MS_PER_DAY)}


def test_rollup_sums_stay_finite(db: str, resolver: TagResolver) -> None:
    """Before: two 1e308 in one minute stored sum = Infinity (or failed the SQL addition across batches)."""
    minute = NOW - NOW % 60_000 - 3_600_000
    conn = psycopg2.connect(dsn(db))
    try:
        writer = HistorianWriter(conn.cursor(), optimistic=True)
        for offset in (0, 1, 2):
            samples: list[SampleRow] = []
            dead: list[DeadLetter] = []
            decode_message(
                TOPIC,
                b'{"timestamp_ms": %d, "x": 1e300, "axis": {"x": 1e308}}' % (minute + offset),
                resolver,
                samples,
                dead,
            )
            writer.write(samples)
            conn.commit()
        cr = conn.cursor()
        cr.execute(
            "SELECT r.sum, r.count FROM hf_historian_rollup_1m r JOIN hf_uns_tag t ON t.id = r.tag_id "
            "WHERE t.name = 'x'"
        )
        rows = cr.fetchall()
    finally:
        conn.close()
    assert rows == [] or all(math.isfinite(total) for total, _count in rows), rows
