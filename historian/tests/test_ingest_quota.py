"""Issue 17: a tenant over its plan's samples per day has its samples parked at the ingest, not lost, told
so, and stored in arrival order once the plan allows more (real Mosquitto, real PostgreSQL, the real ingest)."""

from __future__ import annotations

import time

import psycopg2
from ingest_fixtures import PG_HOST, PG_PORT, PG_USER, wait_for
from test_ingest import TOPIC, msg, publish_all, publisher, query, ready, samples_of, start_ingest

from hf_historian.ingest.quota import NOTICE_PARAM, PARKED_TABLE, QUOTA_PARAM, USAGE_TABLE


def set_quota(db: str, samples_per_day: int) -> None:
    with psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=db) as conn, conn.cursor() as cr:
        cr.execute(
            "CREATE TABLE IF NOT EXISTS ir_config_parameter (id serial, key varchar UNIQUE NOT NULL, "
            "value text NOT NULL, create_date timestamp, write_date timestamp)"
        )
        cr.execute(
            "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
            "SET value = EXCLUDED.value",
            (QUOTA_PARAM, str(samples_per_day)),
        )


def notice(db: str) -> list[tuple[object, ...]]:
    return query(db, "SELECT value FROM ir_config_parameter WHERE key = %s", (NOTICE_PARAM,))


def test_samples_over_the_quota_are_parked_then_stored_in_order(broker: int, db: str) -> None:
    set_quota(db, 3)
    dsn = f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}"
    now = int(time.time() * 1000)
    ingest = start_ingest(broker, dsn, "--client-id", "quota-ingest")
    try:
        ready(ingest, db)
        client = publisher(broker)
        publish_all(client, [(TOPIC, msg(now + i, temperature=float(i))) for i in range(5)])
        wait_for(lambda: len(query(db, f"SELECT 1 FROM {PARKED_TABLE}")) == 2)
        assert [row[1] for row in samples_of(db, "temperature")] == [0.0, 1.0, 2.0]
        assert "parked, not lost" in str(notice(db))
        assert query(db, f"SELECT samples, parked FROM {USAGE_TABLE}") == [(3, 2)]
        # a message after the parked ones waits behind them, though a raised quota would let it in alone
        set_quota(db, 100)
        publish_all(client, [(TOPIC, msg(now + 5, temperature=5.0))])
        client.loop_stop()
    finally:
        ingest.terminate()
        ingest.wait(20)
    # the plan now allows more: after its next reload (here a restart) the parked samples are stored, in order
    ingest = start_ingest(broker, dsn, "--client-id", "quota-ingest")
    try:
        wait_for(lambda: len(samples_of(db, "temperature")) == 6, timeout=30)
        assert [row[1] for row in samples_of(db, "temperature")] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        wait_for(lambda: not query(db, f"SELECT 1 FROM {PARKED_TABLE}") and not notice(db))
    finally:
        ingest.terminate()
        ingest.wait(20)
