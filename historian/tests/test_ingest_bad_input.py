"""Hostile input for the ingest, beyond tests/test_ingest.py: payloads that break Python's json or
float limits, tag names that are not UNS segments, values of the wrong type, a discovery the database
refuses, and a hf_uns-less database. Real PostgreSQL (the tag tables from tests/sql/hf_uns_minimal.sql,
which mirrors docs/contracts.md) and a private Mosquitto."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import psycopg2
import pytest
from ingest_fixtures import LOCATION, PG_HOST, PG_PORT, PG_USER, dsn, historian_database, private_mosquitto, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from hf_historian.ingest.deadletter import DeadLetter
from hf_historian.ingest.decoder import UNDECLARED_NAMES_MAX, decode_message
from hf_historian.ingest.resolver import TagResolver
from hf_historian.writer import Sample

TOPIC = f"umh/v1/{LOCATION}/_historian"
NOW = int(time.time() * 1000)


def msg(ts: int, **values: object) -> bytes:
    return json.dumps({"timestamp_ms": ts, **values}).encode()


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


POISON = [
    (b'{"timestamp_ms": %d, "temperature": 1%s}' % (NOW, b"0" * 400), "beyond ±1e+300"),
    (b'{"timestamp_ms": %d, "temperature": 1%s}' % (NOW, b"0" * 5000), "not valid JSON"),
    (b'{"timestamp_ms": %d, "temperature": %s1%s}' % (NOW, b"[" * 100_000, b"]" * 100_000), "deeper than 8"),
    (b'{"timestamp_ms": %d, "temperature": 1e999}' % NOW, "beyond ±1e+300"),
    (b'{"timestamp_ms": 1.7e12, "temperature": 1}', "must be an integer"),
    (b'{"timestamp_ms": true, "temperature": 1}', "must be an integer"),
    (b"[1, 2, 3]", "must be a JSON object"),
    (b'{"timestamp_ms": %d}' % NOW, "no tag value"),
    (b'{"timestamp_ms": %d, "temperature": [1, 2]}' % NOW, "not a number, bool or string"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (b"", "not valid JSON"),
]


@pytest.mark.parametrize(
    "payload, reason",
    POISON,
    ids=[
        "int-beyond-float",
        "5000-digit-int",
        "nesting-100k-deep",
        "1e999",
        "float-timestamp",
        "bool-timestamp",
        "json-array",
        "no-values",
        "list-value",
        "binary",
        "empty",
    ],
)
def test_poison_payloads_become_dead_letters(resolver: TagResolver, payload: bytes, reason: str) -> None:
    samples: list[Sample] = []
    dead: list[DeadLetter] = []
    decode_message(TOPIC, payload, resolver, samples, dead)
    assert samples == []
    assert len(dead) == 1 and reason in dead[0].reason, dead


@pytest.mark.parametrize(
    "name",
    ["a/b", "a b", "a\x00b", "+", "#", "", "ä"],
    ids=["slash", "space", "nul", "plus", "hash", "empty", "non-ascii"],
)
def test_tag_names_that_are_not_uns_segments_are_refused(resolver: TagResolver, name: str) -> None:
    samples: list[Sample] = []
    dead: list[DeadLetter] = []
    decode_message(
        TOPIC, json.dumps({"timestamp_ms": NOW, name: 1.0, "temperature": 2.0}).encode(), resolver, samples, dead
    )
    assert [Sample(*s).value for s in samples] == [2.0], "the message's good values are kept"
    assert len(dead) == 1 and "may only contain letters" in dead[0].reason


@pytest.mark.parametrize(
    "values, reason",
    [
        ({"count": 3.5}, "an int tag got 3.5"),
        ({"running": 2}, "a bool tag got 2"),
        ({"running": "yes"}, "a bool tag got the string"),
        ({"temperature": "21.5"}, "a float tag got the string"),
    ],
    ids=["fraction-for-int", "two-for-bool", "string-for-bool", "numeric-string-for-float"],
)
def test_values_of_the_wrong_type_are_dead_lettered(resolver: TagResolver, values: dict[str, Any], reason: str) -> None:
    samples: list[Sample] = []
    dead: list[DeadLetter] = []
    decode_message(TOPIC, msg(NOW, **values), resolver, samples, dead)
    assert samples == []
    assert len(dead) == 1 and reason in dead[0].reason, dead


def test_right_types_are_converted(resolver: TagResolver) -> None:
    samples: list[Sample] = []
    dead: list[DeadLetter] = []
    decode_message(TOPIC, msg(NOW, count=4.0, running=0, state=12, temperature=True), resolver, samples, dead)
    assert dead == []
    assert sorted(((Sample(*s).value, Sample(*s).value_text) for s in samples), key=repr) == [
        (0.0, None),
        (1.0, None),
        (4.0, None),
        (None, "12"),
    ]


def test_a_discovery_the_database_refuses_is_a_dead_letter_not_a_crash(db: str) -> None:
    with psycopg2.connect(dsn(db)) as conn, conn.cursor() as cr:
        cr.execute("ALTER TABLE hf_uns_tag ADD COLUMN hf_required_by_a_newer_odoo integer NOT NULL DEFAULT 0")
        cr.execute("ALTER TABLE hf_uns_tag ALTER COLUMN hf_required_by_a_newer_odoo DROP DEFAULT")
    try:
        conn = psycopg2.connect(dsn(db))
        conn.autocommit = True
        resolver = TagResolver(conn.cursor())
        samples: list[Sample] = []
        dead: list[DeadLetter] = []
        decode_message(TOPIC, msg(NOW, torque=1.0, temperature=2.0), resolver, samples, dead)
        assert [Sample(*s).value for s in samples] == [2.0]
        assert len(dead) == 1 and "could not create the discovered tag" in dead[0].reason
        conn.close()
    finally:
        with psycopg2.connect(dsn(db)) as conn, conn.cursor() as cr:
            cr.execute("ALTER TABLE hf_uns_tag DROP COLUMN hf_required_by_a_newer_odoo")


def test_undeclared_contracts_are_counted_not_dead_lettered_and_bad_events_are(resolver: TagResolver) -> None:
    samples: list[Sample] = []
    dead: list[DeadLetter] = []
    decode_message(f"umh/v1/{LOCATION}/_pump_v9/motor/current", msg(NOW, value=1.0), resolver, samples, dead)
    decode_message(f"umh/v1/{LOCATION}/_local/x", msg(NOW, value=1.0), resolver, samples, dead)
    assert (samples, dead) == ([], [])
    assert (resolver.undeclared["_pump_v9"], resolver.local_skipped) == (1, 1)
    for i in range(UNDECLARED_NAMES_MAX + 10):  # a flood of contract names is counted, in bounded memory
        decode_message(f"umh/v1/{LOCATION}/_c{i}/x", msg(NOW, value=1.0), resolver, samples, dead)
    assert len(resolver.undeclared) == UNDECLARED_NAMES_MAX + 1
    assert sum(resolver.undeclared.values()) == UNDECLARED_NAMES_MAX + 11
    decode_message(f"umh/v1/{LOCATION}/_analytics/work-order/start", b"not even json", resolver, samples, dead)
    assert samples == [] and len(dead) == 1 and "bad _analytics event" in dead[0].reason


def _run_ingest(port: int, db: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hf_historian.ingest",
            "--mqtt-url",
            f"mqtt://127.0.0.1:{port}",
            "--dsn",
            dsn(db),
            "--client-id",
            f"bad-{uuid.uuid4().hex[:6]}",
            "--stats-interval",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_poison_messages_over_mqtt_never_stop_the_flow(db: str) -> None:
    with private_mosquitto() as port:
        process = _run_ingest(port, db)
        try:
            time.sleep(1.5)
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
            client.connect("127.0.0.1", port)
            client.loop_start()
            before = _count(db, "SELECT count(*) FROM hf_uns_dead_letter")
            infos = [client.publish(TOPIC, payload, qos=1) for payload, _ in POISON]
            infos.append(client.publish(TOPIC, msg(NOW + 777, temperature=77.7), qos=1))
            for info in infos:
                info.wait_for_publish(10)
            wait_for(
                lambda: (
                    _count(
                        db,
                        "SELECT count(*) FROM hf_historian_sample s JOIN hf_uns_tag t "
                        "ON t.id = s.tag_id WHERE t.name = 'temperature' AND s.value = 77.7",
                    )
                    == 1
                )
            )
            wait_for(lambda: _count(db, "SELECT count(*) FROM hf_uns_dead_letter") == before + len(POISON))
            assert process.poll() is None, "the ingest is still running"
            wait_for(lambda: "dead letters" in (process.stdout.readline() if process.stdout else ""), timeout=10)
            client.loop_stop()
        finally:
            process.terminate()
            process.wait(timeout=20)
        assert process.returncode in (0, -15)


def test_a_database_without_hf_uns_is_a_clear_fatal_error() -> None:
    name = f"hf_pytest_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        process = _run_ingest(1, name)
        out = process.communicate(timeout=30)[0]
        assert process.returncode == 2, out
        assert "install the hf_uns module" in out
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _count(db: str, sql: str) -> int:
    with psycopg2.connect(dsn(db)) as conn, conn.cursor() as cr:
        cr.execute(sql)
        return int(cr.fetchone()[0])


AGREEMENT = [
    b'{"timestamp_ms": 1700000000000, "a": 1.5, "b": -2, "c": true, "d": "run", "e": null}',
    b'{"b": 0, "timestamp_ms": 1700000000000, "a": 1e300}',
    b'{"timestamp_ms": 1700000000000, "axis": {"x": 1, "y": {"z": 2}}, "t": 3}',
    b'{"timestamp_ms": 1700000000000, "t": NaN}',
    b'{"timestamp_ms": 1700000000000, "t": -Infinity}',
    b'{"timestamp_ms": 1700000000000, "t": 1e400}',
    b'{"timestamp_ms": 1700000000000, "t": 1' + b"0" * 400 + b"}",
    b'{"timestamp_ms": 1700000000000, "t": 1, "t": 2}',
    b'{"timestamp_ms": false, "t": 1}',
    b'{"timestamp_ms": 1700000000000}',
    b'{"timestamp_ms": 1700000000000, "t": [1]}',
    b'"just a string"',
]


@pytest.mark.parametrize("payload", AGREEMENT)
def test_the_decoders_fast_path_agrees_with_the_payload_contract(payload: bytes) -> None:
    """The ingest decodes into plain (name, value) pairs, without DecodedValue objects; whatever it takes
    that way must decode exactly as the contract's decoder does, and what that refuses it refuses."""
    from hf_core.payload import PayloadError, decode, decode_items

    try:
        fast = decode_items(payload)
    except (PayloadError, ValueError, OverflowError):
        fast = None
    try:
        timestamp, values = decode(payload)
    except (PayloadError, ValueError, OverflowError):
        assert fast is None, "the fast path took a payload the contract refuses"
        return
    assert fast == (timestamp, [(v.name, v.value) for v in values])
