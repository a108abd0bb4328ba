"""Poison-message isolation (issue 14): whatever a message's content makes fail — in decoding, in
``prepare``, in the database — is that message's dead letter, never the process's exit or an endless
retry. Real ingest processes, real PostgreSQL, a private Mosquitto."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import psycopg2
import pytest
from ingest_fixtures import LOCATION, dsn, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from hf_historian.ingest import deadletter

TOPIC = f"umh/v1/{LOCATION}/_historian"


def query(db: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg2.connect(dsn(db)) as conn, conn.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall() if cr.description else []


def stored_values(db: str, tag: str) -> list[float]:
    return [
        float(v)
        for (v,) in query(
            db,
            "SELECT s.value FROM hf_historian_sample s JOIN hf_uns_tag t ON "
            "t.id = s.tag_id WHERE t.name = %s ORDER BY s.time",
            (tag,),
        )
    ]


def reasons(db: str) -> list[str]:
    return [str(r) for (r,) in query(db, "SELECT reason FROM hf_uns_dead_letter ORDER BY id")]


def start_ingest(broker: int, db: str) -> subprocess.Popen[str]:
    """An ingest process, returned once subscribed (a fixed sleep raced the subscription on a loaded machine,
    and what is published before it is lost for a client id the broker does not know yet)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hf_historian.ingest",
            "--mqtt-url",
            f"mqtt://127.0.0.1:{broker}",
            "--dsn",
            dsn(db),
            "--client-id",
            f"iso-{uuid.uuid4().hex[:6]}",
            "--stats-interval",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "subscribed to" in line:
            return process
    raise AssertionError("the ingest stopped before subscribing:\n" + "".join(seen))


@pytest.fixture
def ingest(broker: int, db: str) -> Iterator[subprocess.Popen[str]]:
    process = start_ingest(broker, db)
    yield process
    process.terminate()
    out = process.communicate(timeout=30)[0]
    assert process.returncode in (0, -15), out


def publish(port: int, payloads: list[bytes], topic: str = TOPIC) -> None:
    """All in one go: the ingest takes them as one batch (or a few)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for payload in payloads]
    for info in infos:
        info.wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def good(count: int, base_ms: int) -> list[bytes]:
    return [json.dumps({"timestamp_ms": base_ms + i, "temperature": float(i)}).encode() for i in range(count)]


def test_a_lone_surrogate_value_is_that_messages_problem(broker: int, db: str, ingest: subprocess.Popen[str]) -> None:
    """Before: discovered as a string tag, then UnicodeEncodeError in prepare() and the ingest exits."""
    now = int(time.time() * 1000)
    publish(broker, [*good(50, now), b'{"timestamp_ms": %d, "note": "\\ud800"}' % now, *good(50, now + 50)])
    wait_for(lambda: len(stored_values(db, "temperature")) == 100)
    wait_for(lambda: len(reasons(db)) == 1)
    [(payload, reason)] = query(db, "SELECT payload, reason FROM hf_uns_dead_letter")
    assert "note" in str(payload) and reason, reason
    assert ingest.poll() is None, "the ingest is still running"


@pytest.mark.parametrize(
    "payload",
    [
        '{"timestamp_ms": %d, "t\\u0000x": 1, "temperature": 2.5}',
        '{"timestamp_ms": %d, "\\udc80": 1, "temperature": 2.5}',
        '{"timestamp_ms": %d, "axis": {"\\u0000": 1}, "temperature": 2.5}',
    ],
    ids=["nul-in-key", "surrogate-key", "nul-in-nested-key"],
)
def test_a_nul_or_surrogate_in_a_key_keeps_the_good_value(
    broker: int, db: str, ingest: subprocess.Popen[str], payload: str
) -> None:
    """Before: the dead letter's reason held the raw name, deadletter.store raised (NUL) and the ingest
    exited 2, losing the message's good temperature with it, at every restart."""
    now = int(time.time() * 1000)
    publish(broker, [(payload % now).encode()])
    wait_for(lambda: stored_values(db, "temperature") == [2.5])
    wait_for(lambda: len(reasons(db)) == 1)
    assert ingest.poll() is None


def test_the_dead_letter_path_accepts_anything(db: str) -> None:
    """NUL and lone surrogates in topic, payload and reason; bytes that are not UTF-8."""
    _write_once(db)
    conn = psycopg2.connect(dsn(db))
    try:
        deadletter.store(
            conn.cursor(),
            [
                deadletter.DeadLetter(
                    "umh/v1/a\x00b/\ud800", b'\x00\xff\xed\xa0\x80{"a\\u0000": 1}', "bad \x00 \udc80"
                ),
                deadletter.DeadLetter("t", b"x" * 10_000, "r" * 5000),
            ],
        )
        conn.commit()
    finally:
        conn.close()
    rows = query(db, "SELECT topic, payload, reason FROM hf_uns_dead_letter ORDER BY id")
    assert len(rows) == 2
    topic, payload, reason = rows[0]
    assert "\\x00" in str(topic) and "\\ud800" in str(topic)
    assert "\\x00" in str(payload) and "\\xff" in str(payload)
    assert "\\udc80" in str(reason)


def _trigger(db: str, value: float, errcode: str) -> None:
    """Make the database itself refuse one value, the way content the decoder cannot foresee would."""
    query(
        db,
        f"""
        CREATE OR REPLACE FUNCTION hf_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.value = {value} THEN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '{errcode}'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER hf_test_refuse BEFORE INSERT ON hf_historian_sample
            FOR EACH ROW EXECUTE FUNCTION hf_test_refuse();""",
    )


def _write_once(db: str) -> None:
    """Let the writer create the historian tables before the trigger goes on them."""
    from hf_historian.writer import HistorianWriter

    conn = psycopg2.connect(dsn(db))
    HistorianWriter(conn.cursor())
    conn.commit()
    conn.close()


@pytest.mark.parametrize("errcode", ["53200", "22P02"], ids=["out-of-memory-53xxx", "data-error"])
def test_a_message_the_database_refuses_is_split_off_the_batch(broker: int, db: str, errcode: str) -> None:
    """Before: 53200 (an OperationalError) was taken for an outage and the batch retried for ever, its good
    messages never stored; any other refusal replayed the whole batch message by message."""
    _write_once(db)
    _trigger(db, 666.0, errcode)
    process = start_ingest(broker, db)
    try:
        now = int(time.time() * 1000)
        publish(
            broker,
            [
                *good(200, now),
                json.dumps({"timestamp_ms": now + 500, "temperature": 666.0}).encode(),
                *good(200, now + 1000),
            ],
        )
        wait_for(lambda: len(stored_values(db, "temperature")) == 400, timeout=30)
        wait_for(lambda: len(reasons(db)) == 1)
        assert "refused by the test" in reasons(db)[0]
        assert process.poll() is None
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_a_message_that_keeps_failing_after_the_database_came_back_is_dead_lettered(broker: int, db: str) -> None:
    """A refusal that looks like a lost connection (08006) while the database answers: retried a few times,
    then dead-lettered, not retried for ever."""
    _write_once(db)
    _trigger(db, 667.0, "08006")
    process = start_ingest(broker, db)
    try:
        now = int(time.time() * 1000)
        publish(
            broker,
            [
                *good(20, now),
                json.dumps({"timestamp_ms": now + 500, "temperature": 667.0}).encode(),
                *good(20, now + 1000),
            ],
        )
        wait_for(lambda: len(stored_values(db, "temperature")) == 40, timeout=60)
        wait_for(lambda: len(reasons(db)) == 1, timeout=30)
        assert "refused by the test" in reasons(db)[0]
        assert process.poll() is None
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_insufficient_resources_is_never_an_outage(db: str) -> None:
    from hf_historian.ingest.store import is_outage

    conn = psycopg2.connect(dsn(db))
    try:
        for code, outage in (
            ("53200", False),
            ("53100", False),
            ("53300", False),
            ("22P02", False),
            ("57P01", True),
            ("08006", True),
        ):
            with pytest.raises(psycopg2.Error) as caught:
                conn.cursor().execute(f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{code}'; END $$")
            conn.rollback()
            assert is_outage(caught.value) is outage, code
        assert is_outage(psycopg2.InterfaceError("connection already closed"))
        assert not is_outage(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"))
    finally:
        conn.close()


def test_a_publish_over_the_limit_is_dead_lettered_with_its_size(
    broker: int, db: str, ingest: subprocess.Popen[str]
) -> None:
    """Skipped as it arrives, never buffered whole (before: buffered whole, eight 100 MB PUBLISHes took the
    ingest to 1.0 GB, then the 1 MB check); what follows is stored."""
    now = int(time.time() * 1000)
    huge = b'{"timestamp_ms": %d, "state": "%s"}' % (now, b"x" * 3_000_000)
    publish(broker, [huge, *good(3, now + 1)])
    wait_for(lambda: len(stored_values(db, "temperature")) == 3)
    wait_for(lambda: len(reasons(db)) == 1)
    assert "a PUBLISH of 3000" in reasons(db)[0] and "exceeds" in reasons(db)[0], reasons(db)
    assert ingest.poll() is None


def test_the_loser_of_two_values_at_one_time_is_counted(broker: int, db: str, ingest: subprocess.Popen[str]) -> None:
    """Before: one value was kept with no trace of the other."""
    now = int(time.time() * 1000)
    publish(
        broker,
        [
            json.dumps({"timestamp_ms": now, "temperature": 1.0}).encode(),
            json.dumps({"timestamp_ms": now, "temperature": 2.0}).encode(),
        ],
    )
    wait_for(lambda: stored_values(db, "temperature") == [1.0])
    assert ingest.stdout is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = ingest.stdout.readline()
        if "samples not new" in line and "(total 1)" in line.split("samples not new")[1]:
            break
    else:
        raise AssertionError("the ingest's stats never counted the second value")


def test_a_flood_of_dead_letters_is_stored_whole_with_every_reason(db: str) -> None:
    """deadletter.store writes STORE_CHUNK letters per statement: across chunk edges every letter is stored, in
    order, with its own topic, payload and reason, the hostile ones (NUL, surrogates, not UTF-8) included."""
    _write_once(db)
    count = 2 * deadletter.STORE_CHUNK + 7
    letters = [
        deadletter.DeadLetter(f"umh/v1/ghost{i}/_historian", b'{"n%d": 1}' % i, f"reason {i}") for i in range(count)
    ]
    letters[deadletter.STORE_CHUNK - 1] = deadletter.DeadLetter("umh/v1/a\x00b", b"\xff\x00", "bad \x00 \udc80")
    conn = psycopg2.connect(dsn(db))
    try:
        deadletter.store(conn.cursor(), letters)
        conn.commit()
    finally:
        conn.close()
    rows = query(db, "SELECT topic, payload, reason FROM hf_uns_dead_letter ORDER BY id")
    assert len(rows) == count
    edge = deadletter.STORE_CHUNK - 1
    expected = [(f"umh/v1/ghost{i}/_historian", f'{{"n{i}": 1}}', f"reason {i}") for i in range(count)]
    assert rows[:edge] == expected[:edge] and rows[edge + 1 :] == expected[edge + 1 :]
    assert rows[edge] == ("umh/v1/a\\x00b", "\\xff\\x00", "bad \\x00 \\udc80")


def test_a_flood_of_messages_no_workcell_takes_is_dead_lettered_one_by_one(
    broker: int, db: str, ingest: subprocess.Popen[str]
) -> None:
    """Each message of a flood to locations that are no workcell (and of payloads that are no JSON) is one dead
    letter with its own topic and reason, and the good messages among them are stored."""
    now = int(time.time() * 1000)
    for i in range(5):
        publish(
            broker,
            [json.dumps({"timestamp_ms": now + i * 100 + j, f"n{j}": 1.0}).encode() for j in range(100)],
            topic=f"umh/v1/acme/ghost{i}/_historian",
        )
    publish(broker, [b"\xffnot json %d" % j for j in range(300)])
    publish(broker, good(200, now))
    wait_for(lambda: len(reasons(db)) == 800, timeout=60)
    wait_for(lambda: len(stored_values(db, "temperature")) == 200)
    by_topic = query(
        db, "SELECT topic, count(*), count(DISTINCT payload) FROM hf_uns_dead_letter GROUP BY topic ORDER BY topic"
    )
    ghosts = [(f"umh/v1/acme/ghost{i}/_historian", 100, 100) for i in range(5)]
    assert by_topic == sorted([*ghosts, (TOPIC, 300, 300)])
    ghost = query(db, "SELECT DISTINCT reason FROM hf_uns_dead_letter WHERE topic LIKE %s", ("%ghost0%",))
    assert all("unknown location" in str(r) for (r,) in ghost) and ghost, ghost
    assert not query(db, "SELECT 1 FROM hf_uns_dead_letter WHERE reason = ''"), "every letter has its reason"
    assert ingest.poll() is None
