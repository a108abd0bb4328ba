"""Issue 17: a tenant's bandwidth (messages and bytes a day) is counted at its ingest, and its bytes-per-day and
storage quotas are enforced there: over them, samples are parked, not lost, and stored once there is room; at
the storage quota a plan that says so drops the oldest raw days instead (real Mosquitto, real PostgreSQL, the
real ingest)."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta

import psycopg2
from ingest_fixtures import PG_HOST, PG_PORT, PG_USER, wait_for
from test_ingest import TOPIC, msg, publish_all, publisher, query, ready, samples_of, start_ingest

from hf_historian import retention, schema
from hf_historian.ingest.quota import (
    BYTES_QUOTA_PARAM,
    NOTICE_PARAM,
    PARKED_TABLE,
    SHORTEN_RETENTION,
    STORAGE_NOTICE_PARAM,
    STORAGE_POLICY_PARAM,
    STORAGE_QUOTA_PARAM,
    USAGE_TABLE,
)
from hf_historian.writer import HistorianWriter

MB = 1024 * 1024


def dsn_of(db: str) -> str:
    return f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}"


def set_params(db: str, **values: object) -> None:
    """The tenant's system parameters, as hf_saas.odoo_setup.apply_quotas leaves them (Odoo's own table)."""
    with psycopg2.connect(dsn_of(db)) as conn, conn.cursor() as cr:
        cr.execute(
            "CREATE TABLE IF NOT EXISTS ir_config_parameter (id serial, key varchar UNIQUE NOT NULL, "
            "value text NOT NULL, create_date timestamp, write_date timestamp)"
        )
        for key, value in values.items():
            cr.execute(
                "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                "SET value = EXCLUDED.value",
                (key, str(value)),
            )


def param(db: str, key: str) -> str | None:
    rows = query(db, "SELECT value FROM ir_config_parameter WHERE key = %s", (key,))
    return str(rows[0][0]) if rows else None


def usage_today(db: str) -> tuple[int, ...]:
    rows = query(db, f"SELECT messages, bytes, samples, stored_bytes, parked FROM {USAGE_TABLE}")
    assert len(rows) == 1, rows
    return tuple(int(v) for v in rows[0])


def stop(ingest: object) -> None:
    ingest.terminate()  # type: ignore[attr-defined]
    ingest.wait(20)  # type: ignore[attr-defined]


def test_bandwidth_is_counted_and_bytes_over_the_quota_are_parked_then_stored(broker: int, db: str) -> None:
    now = int(time.time() * 1000)
    payloads = [msg(now + i, temperature=float(i)) for i in range(5)]
    set_params(db, **{BYTES_QUOTA_PARAM: sum(len(p) for p in payloads[:3])})  # room for three messages a day
    ingest = start_ingest(broker, dsn_of(db), "--client-id", "bytes-ingest")
    try:
        ready(ingest, db)
        client = publisher(broker)
        publish_all(client, [(TOPIC, payload) for payload in payloads])
        # a message without samples (a dead letter) is received bandwidth too, and never parked
        publish_all(client, [(TOPIC, b"not json")])
        client.loop_stop()
        wait_for(lambda: len(query(db, f"SELECT 1 FROM {PARKED_TABLE}")) == 2)
        wait_for(lambda: usage_today(db)[0] == 6)
        assert [row[1] for row in samples_of(db, "temperature")] == [0.0, 1.0, 2.0]
        received = sum(len(p) for p in payloads) + len(b"not json")
        assert usage_today(db) == (6, received, 3, sum(len(p) for p in payloads[:3]), 2)
        assert "MB per day are parked, not lost" in str(param(db, NOTICE_PARAM))
    finally:
        stop(ingest)
    # a larger plan: after its reload (here a restart) the parked messages are stored in order; a replay is not
    # received again, but its bytes count as stored today
    set_params(db, **{BYTES_QUOTA_PARAM: 100 * MB})
    ingest = start_ingest(broker, dsn_of(db), "--client-id", "bytes-ingest")
    try:
        wait_for(lambda: len(samples_of(db, "temperature")) == 5, timeout=30)
        assert [row[1] for row in samples_of(db, "temperature")] == [0.0, 1.0, 2.0, 3.0, 4.0]
        wait_for(lambda: not query(db, f"SELECT 1 FROM {PARKED_TABLE}") and param(db, NOTICE_PARAM) is None)
        assert usage_today(db) == (6, received, 5, sum(len(p) for p in payloads), 2)
    finally:
        stop(ingest)


def test_a_full_database_pauses_the_ingest_until_there_is_room(broker: int, db: str) -> None:
    set_params(db, **{STORAGE_QUOTA_PARAM: 1})  # 1 MB: far below an empty database; the default policy pauses
    now = int(time.time() * 1000)
    ingest = start_ingest(broker, dsn_of(db), "--client-id", "storage-ingest")
    try:
        ready(ingest, db)
        client = publisher(broker)
        publish_all(client, [(TOPIC, msg(now + i, temperature=float(i))) for i in range(3)])
        client.loop_stop()
        wait_for(lambda: len(query(db, f"SELECT 1 FROM {PARKED_TABLE}")) == 3)
        assert samples_of(db, "temperature") == []
        assert "reached its plan's 1 MB of storage" in str(param(db, STORAGE_NOTICE_PARAM))
        assert "storage" in str(param(db, NOTICE_PARAM))
    finally:
        stop(ingest)
    set_params(db, **{STORAGE_QUOTA_PARAM: 100_000})  # storage bought
    ingest = start_ingest(broker, dsn_of(db), "--client-id", "storage-ingest")
    try:
        wait_for(lambda: len(samples_of(db, "temperature")) == 3, timeout=30)
        assert [row[1] for row in samples_of(db, "temperature")] == [0.0, 1.0, 2.0]
        wait_for(lambda: param(db, STORAGE_NOTICE_PARAM) is None and param(db, NOTICE_PARAM) is None)
    finally:
        stop(ingest)


def write_old_days(db: str, days: list[date], per_day: int) -> None:
    """``per_day`` samples of the temperature tag on each of ``days``, through the historian's own writer."""
    with psycopg2.connect(dsn_of(db)) as conn, conn.cursor() as cr:
        cr.execute("SELECT id FROM hf_uns_tag WHERE name = 'temperature'")
        tag = schema.one_row(cr)[0]
        writer = HistorianWriter(cr)
        for day in days:
            start = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)
            writer.write([(tag, start + i * 1000, float(i), None, 0, 2) for i in range(per_day)])


def partition_days(db: str) -> set[date]:
    with psycopg2.connect(dsn_of(db)) as conn, conn.cursor() as cr:
        return {day for _code, day in schema.existing_partitions(cr)}


def test_a_plan_that_shortens_retention_drops_the_oldest_raw_days_to_fit(broker: int, db: str) -> None:
    today = datetime.now(UTC).date()
    oldest, older = today - timedelta(days=3), today - timedelta(days=2)
    write_old_days(db, [oldest, older], 60_000)
    with psycopg2.connect(dsn_of(db)) as conn, conn.cursor() as cr:
        cr.execute("SELECT pg_database_size(current_database())")
        size = schema.one_row(cr)[0]
        cr.execute("SELECT pg_total_relation_size(%s::regclass)", (schema.partition_name(2, oldest),))
        oldest_size = schema.one_row(cr)[0]
    assert oldest_size > 2 * MB, oldest_size  # enough for a quota between "with" and "without" it
    quota_mb = math.floor((size - oldest_size / 2) / MB)  # over with the oldest day, within without it
    set_params(db, **{STORAGE_QUOTA_PARAM: quota_mb, STORAGE_POLICY_PARAM: SHORTEN_RETENTION})
    ingest = start_ingest(broker, dsn_of(db), "--client-id", "shorten-ingest")
    try:
        ready(ingest, db)
        wait_for(lambda: oldest not in partition_days(db))
        assert older in partition_days(db)  # only as much as the quota needs
        notice = str(param(db, STORAGE_NOTICE_PARAM))
        assert f"raw history before {older.isoformat()} was dropped" in notice, notice
        now = int(time.time() * 1000)
        client = publisher(broker)
        publish_all(client, [(TOPIC, msg(now, temperature=42.0))])
        client.loop_stop()
        wait_for(lambda: 42.0 in [row[1] for row in samples_of(db, "temperature")])  # stored, not parked
        assert not query(db, f"SELECT 1 FROM {PARKED_TABLE}")
        assert len(samples_of(db, "temperature")) == 60_001  # the older day and today's sample
    finally:
        stop(ingest)


def test_shortening_never_drops_today(db: str) -> None:
    today = datetime.now(UTC).date()
    write_old_days(db, [today - timedelta(days=1), today], 10)
    with psycopg2.connect(dsn_of(db)) as conn, conn.cursor() as cr:
        dropped, kept_from = retention.shorten_to_size(cr, 1)  # one byte: everything it may drop goes
    yesterday = today - timedelta(days=1)
    assert dropped == [schema.partition_name(code, yesterday) for code in sorted(schema.RETENTION_CODES.values())]
    assert kept_from == today
    assert today in partition_days(db)
    assert len(samples_of(db, "temperature")) == 10
