"""The ingest against the real PostgreSQL and a real Mosquitto: publish with paho, read the rows back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg2
import pytest
from ingest_fixtures import (
    LOCATION,
    PG_HOST,
    PG_PORT,
    PG_USER,
    free_port,
    historian_database,
    private_mosquitto,
    private_postgres,
    restartable_mosquitto,
    wait_for,
)
from paho.mqtt.enums import CallbackAPIVersion

from hf_historian.ingest.deadletter import DeadLetter
from hf_historian.ingest.decoder import decode_message
from hf_historian.ingest.resolver import TagResolver
from hf_historian.writer import Sample

TOPIC = f"umh/v1/{LOCATION}/_historian"


def start_ingest(port: int, dsn: str, *extra: str, host: str = "127.0.0.1") -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hf_historian.ingest",
            "--mqtt-url",
            f"mqtt://{host}:{port}",
            "--dsn",
            dsn,
            "--client-id",
            f"ingest-{uuid.uuid4().hex[:6]}",
            "--stats-interval",
            "1",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process


def ready(process: subprocess.Popen[str], db: str) -> None:
    """Once the ingest made the historian's tables and had a moment to subscribe (a loaded machine is slow)."""
    deadline = time.monotonic() + 30
    while query(db, "SELECT to_regclass('hf_historian_sample')") == [(None,)] and time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        time.sleep(0.2)
    time.sleep(1.0)
    assert process.poll() is None, process.stdout.read() if process.stdout else ""


@pytest.fixture
def ingest(broker: int, db: str) -> Iterator[subprocess.Popen[str]]:
    process = start_ingest(broker, f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}")
    ready(process, db)
    yield process
    process.terminate()
    process.wait(timeout=20)


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish_all(client: mqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(10)


def query(db: str, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    with psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=db) as conn, conn.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall()


def samples_of(db: str, name: str) -> list[tuple[Any, ...]]:
    return query(
        db,
        "SELECT (extract(epoch FROM s.time) * 1000)::bigint, s.value, s.value_text FROM "
        "hf_historian_sample s JOIN hf_uns_tag t ON t.id = s.tag_id WHERE t.name = %s ORDER BY s.time",
        (name,),
    )


def msg(ts: int, **values: object) -> bytes:
    return json.dumps({"timestamp_ms": ts, **values}).encode()


NOW = int(time.time() * 1000)


def test_one_and_many_tags_per_message_are_stored(broker: int, db: str, ingest: subprocess.Popen[str]) -> None:
    client = publisher(broker)
    publish_all(
        client,
        [
            (TOPIC, msg(NOW, temperature=21.5, state="running", running=True, count=7, axis={"x": 3})),
            (f"{TOPIC}/axis", msg(NOW + 1000, x=4)),
        ],
    )
    wait_for(lambda: len(samples_of(db, "x")) == 2)
    assert samples_of(db, "temperature") == [(NOW, 21.5, None)]
    assert samples_of(db, "state") == [(NOW, None, "running")]
    assert samples_of(db, "running") == [(NOW, 1.0, None)]
    assert samples_of(db, "count") == [(NOW, 7.0, None)]
    assert samples_of(db, "x") == [(NOW, 3.0, None), (NOW + 1000, 4.0, None)]
    latest = query(
        db, "SELECT l.value FROM hf_historian_latest l JOIN hf_uns_tag t ON t.id = l.tag_id WHERE t.name = 'x'"
    )
    assert latest == [(4.0,)]
    client.loop_stop()


def test_duplicates_once_out_of_order_in_place(broker: int, db: str, ingest: subprocess.Popen[str]) -> None:
    client = publisher(broker)
    late, early = NOW + 5000, NOW + 2000
    publish_all(
        client,
        [
            (TOPIC, msg(late, temperature=30.0)),
            (TOPIC, msg(late, temperature=30.0)),
            (TOPIC, msg(early, temperature=20.0)),
            (TOPIC, msg(late, temperature=30.0)),
        ],
    )
    wait_for(lambda: len(samples_of(db, "temperature")) == 2)
    time.sleep(0.5)
    assert samples_of(db, "temperature") == [(early, 20.0, None), (late, 30.0, None)]
    latest = query(
        db,
        "SELECT (extract(epoch FROM l.time) * 1000)::bigint, value FROM hf_historian_latest l "
        "JOIN hf_uns_tag t ON t.id = l.tag_id WHERE t.name = 'temperature'",
    )
    assert latest == [(late, 30.0)], "an older sample arriving late does not replace the latest value"
    rollup = query(
        db,
        "SELECT sum(count), min(min), max(max) FROM hf_historian_rollup_1m r "
        "JOIN hf_uns_tag t ON t.id = r.tag_id WHERE t.name = 'temperature'",
    )
    assert rollup == [(2, 20.0, 30.0)], "duplicates are not counted twice in the rollups"
    client.loop_stop()


BAD_MESSAGES = [
    (TOPIC, b"this is not json", "not valid JSON"),
    (TOPIC, b'{"temperature": 1}', "no timestamp_ms"),
    (TOPIC, b'{"timestamp_ms": "yesterday", "temperature": 1}', "must be an integer"),
    (TOPIC, msg(NOW, temperature="hot"), "a float tag got the string 'hot'"),
    (TOPIC, b'{"timestamp_ms": %d, "temperature": NaN}' % NOW, "NaN"),
    (TOPIC, b'{"timestamp_ms": %d, "temperature": Infinity}' % NOW, "Infinity"),
    (TOPIC, msg(NOW // 1000, temperature=1.0), "outside what the historian accepts"),
    (f"umh/v1/{LOCATION.replace('press1', 'press 1')}/_historian", msg(NOW, temperature=1.0), "bad topic"),
    ("umh/v1/acme/nowhere/_historian", msg(NOW, temperature=1.0), "unknown location"),
    (TOPIC, b'{"timestamp_ms": %d, "temperature": "' % NOW + b"x" * (10 * 1024 * 1024) + b'"}', "exceeds"),
]


def test_bad_input_is_dead_lettered_and_the_flow_goes_on(broker: int, db: str, ingest: subprocess.Popen[str]) -> None:
    client = publisher(broker)
    publish_all(client, [(topic, payload) for topic, payload, _ in BAD_MESSAGES])
    publish_all(client, [(TOPIC, msg(NOW + 9000, temperature=42.0))])
    wait_for(lambda: samples_of(db, "temperature") == [(NOW + 9000, 42.0, None)])
    wait_for(lambda: len(query(db, "SELECT id FROM hf_uns_dead_letter")) == len(BAD_MESSAGES))
    letters = query(db, "SELECT topic, reason, length(payload) FROM hf_uns_dead_letter ORDER BY id")
    for (topic, _payload, reason), (stored_topic, stored_reason, payload_length) in zip(
        BAD_MESSAGES, letters, strict=True
    ):
        assert stored_topic == topic
        assert reason in stored_reason, (reason, stored_reason)
        assert payload_length <= 4200, "dead letters keep a truncated payload"
    client.loop_stop()


def test_unknown_tag_under_a_known_workcell_is_discovered(broker: int, db: str, ingest: subprocess.Popen[str]) -> None:
    client = publisher(broker)
    publish_all(client, [(f"{TOPIC}/hydraulics", msg(NOW, pressure=180.5))])
    wait_for(lambda: len(samples_of(db, "pressure")) == 1)
    assert query(db, "SELECT topic, data_type, discovered, tag_group FROM hf_uns_tag WHERE name = 'pressure'") == [
        (f"{TOPIC}/hydraulics/pressure", "float", True, "hydraulics")
    ]
    client.loop_stop()


def test_discovery_off_dead_letters_unknown_tags(broker: int, db: str) -> None:
    process = start_ingest(broker, f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}", "--no-discover")
    try:
        time.sleep(1.5)
        client = publisher(broker)
        publish_all(client, [(TOPIC, msg(NOW, torque=3.0, temperature=25.0))])
        wait_for(lambda: len(samples_of(db, "temperature")) == 1)
        wait_for(lambda: len(query(db, "SELECT id FROM hf_uns_dead_letter")) == 1)
        assert "discovery is off" in query(db, "SELECT reason FROM hf_uns_dead_letter")[0][0]
        assert query(db, "SELECT count(*) FROM hf_uns_tag WHERE name = 'torque'") == [(0,)]
        client.loop_stop()
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_database_restart_mid_stream_loses_nothing(broker: int, tmp_path: Path) -> None:
    with private_postgres(tmp_path) as (port, restart), historian_database("127.0.0.1", port, user="postgres") as db:
        process = start_ingest(broker, f"host=127.0.0.1 port={port} dbname={db} user=postgres")
        try:
            time.sleep(1.5)
            client = publisher(broker)
            total = 3000
            for i in range(total):
                client.publish(TOPIC, msg(NOW + i * 10, temperature=float(i)), qos=1)
                if i == total // 3:
                    restart()
                if i % 100 == 0:
                    time.sleep(0.02)

            def stored() -> int:
                with (
                    psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=db) as conn,
                    conn.cursor() as cr,
                ):
                    cr.execute("SELECT count(*), count(DISTINCT time) FROM hf_historian_sample")
                    count, distinct = cr.fetchone()
                    assert count == distinct
                    return int(count)

            wait_for(lambda: stored() == total, timeout=60)
            client.loop_stop()
        finally:
            process.terminate()
            output = process.communicate(timeout=20)[0]
        assert "historian database unavailable" in output, output[-2000:]
        assert "historian database reconnected" in output


def stored_once(db: str) -> int:
    count, distinct = query(db, "SELECT count(*), count(DISTINCT (tag_id, time)) FROM hf_historian_sample")[0]
    assert count == distinct, "a sample stored twice"
    return int(count)


def test_broker_restart_mid_stream_loses_nothing(db: str) -> None:
    """Every message the broker acknowledged to the publisher is stored once, though the broker restarts
    while the ingest is still working through them: the ingest reconnects by itself to its kept session."""
    with restartable_mosquitto() as (port, restart):
        process = start_ingest(port, f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}")
        try:
            time.sleep(1.5)
            client = publisher(port)
            publish_all(client, [(TOPIC, msg(NOW + i * 10, temperature=float(i))) for i in range(3000)])
            client.disconnect()
            client.loop_stop()
            restart()
            client = publisher(port)
            publish_all(client, [(TOPIC, msg(NOW + i * 10, temperature=float(i))) for i in range(3000, 4000)])
            wait_for(lambda: stored_once(db) == 4000, timeout=60)
            client.loop_stop()
        finally:
            process.terminate()
            output = process.communicate(timeout=20)[0]
    assert "broker connection lost" in output, output[-2000:]
    assert "broker reconnected (session kept)" in output, output[-2000:]


def test_a_killed_ingest_loses_nothing_it_had_not_committed(broker: int, db: str) -> None:
    """SIGKILL in the middle of a stream: the next ingest with the same client id gets what the first did
    not acknowledge, and what the first had committed is not stored twice."""
    dsn = f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}"
    client_id = f"ingest-{uuid.uuid4().hex[:6]}"
    first = start_ingest(broker, dsn, "--client-id", client_id)
    time.sleep(1.5)
    client = publisher(broker)
    infos = [client.publish(TOPIC, msg(NOW + i * 10, temperature=float(i)), qos=1) for i in range(20_000)]
    wait_for(lambda: stored_once(db) > 0, timeout=20)
    first.kill()
    first.wait(timeout=10)
    assert stored_once(db) < 20_000, "the kill came too late to test anything; publish more"
    for info in infos:
        info.wait_for_publish(30)
    second = start_ingest(broker, dsn, "--client-id", client_id)
    try:
        wait_for(lambda: stored_once(db) == 20_000, timeout=60)
    finally:
        client.loop_stop()
        second.terminate()
        second.wait(timeout=20)


def test_fatal_errors_exit_non_zero_with_a_clear_message(broker: int, db: str) -> None:
    bad_dsn = start_ingest(broker, f"host={PG_HOST} port={PG_PORT} dbname=hf_no_such_db_{uuid.uuid4().hex[:6]}")
    out = bad_dsn.communicate(timeout=30)[0]
    assert bad_dsn.returncode == 2
    assert "cannot open the historian database; check --dsn" in out
    no_broker = start_ingest(
        free_port(), f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}", "--connect-attempts", "2"
    )
    out = no_broker.communicate(timeout=30)[0]
    assert no_broker.returncode == 2
    assert "did not answer after 2 attempts" in out
    with private_mosquitto(anonymous=False) as refusing:
        refused = start_ingest(refusing, f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}")
        out = refused.communicate(timeout=30)[0]
    assert refused.returncode == 2
    assert "refused the ingest; check the user, password and ACL in --mqtt-url" in out, out[-2000:]


def test_decoder_refuses_wrong_prefix_without_touching_the_database(db: str) -> None:
    with psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=db) as conn:
        resolver = TagResolver(conn.cursor())
        samples: list[Sample] = []
        dead: list[DeadLetter] = []
        decode_message("umh/v2/acme/_historian", msg(NOW, t=1), resolver, samples, dead)
        decode_message("spBv1.0/acme/DDATA", msg(NOW, t=1), resolver, samples, dead)
        assert samples == []
        assert ["does not start with 'umh/v1/'" in d.reason for d in dead] == [True, True]


def test_parallel_workers_store_every_message_once(broker: int, db: str) -> None:
    """--workers 2: the broker hands each message to one worker (a shared subscription); together they
    store everything once, rollups and latest values included, and stop together on SIGTERM."""
    dsn = f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}"
    process = start_ingest(broker, dsn, "--workers", "2", "--share-group", f"g{uuid.uuid4().hex[:6]}")
    try:
        time.sleep(3)
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        client = publisher(broker)
        base = NOW - 600_000
        publish_all(
            client, [(TOPIC, msg(base + i * 100, temperature=float(i % 50), pressure=1.0 + i)) for i in range(3000)]
        )
        wait_for(lambda: len(samples_of(db, "pressure")) == 3000, timeout=60)
        time.sleep(0.5)
        assert len(samples_of(db, "temperature")) == 3000
        rollup = query(
            db,
            "SELECT sum(r.count), min(r.min), max(r.max) FROM hf_historian_rollup_1m r "
            "JOIN hf_uns_tag t ON t.id = r.tag_id WHERE t.name = 'temperature'",
        )
        assert rollup == [(3000, 0.0, 49.0)]
        latest = query(
            db,
            "SELECT l.value FROM hf_historian_latest l JOIN hf_uns_tag t ON t.id = l.tag_id WHERE t.name = 'pressure'",
        )
        assert latest == [(3000.0,)], "the newest sample is the latest value, whichever worker stored it"
        client.loop_stop()
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "2 ingest workers share $share/" in output


def test_a_broker_at_a_localhost_name_is_reached(broker: int, db: str) -> None:
    """As the cloud's own settings name it (``mqtt.localhost``), which Python's resolver here does not know."""
    process = start_ingest(broker, f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}", host="mqtt.localhost")
    try:
        ready(process, db)
        client = publisher(broker)
        publish_all(client, [(TOPIC, msg(NOW, temperature=19.5))])
        wait_for(lambda: samples_of(db, "temperature") == [(NOW, 19.5, None)])
        client.loop_stop()
    finally:
        process.terminate()
        process.wait(timeout=20)
