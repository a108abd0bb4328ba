"""The historian on the machine's real PostgreSQL (plain partitions: this role may not create
TimescaleDB): schema, writer, read API, rollup rebuild and retention, through a plain psycopg2 cursor."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest
from ingest_fixtures import PG_HOST, PG_PORT, PG_USER, historian_database
from psycopg2.extensions import cursor

from hf_historian import reader, retention, rollups, schema
from hf_historian.writer import HistorianWriter, Sample

STANDARD = schema.RETENTION_CODES["standard"]
SHORT = schema.RETENTION_CODES["short"]
# A fixed whole hour an hour ago: every window below is inside one or two day partitions.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def cr() -> Iterator[cursor]:
    with historian_database(PG_HOST, PG_PORT) as name:
        conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=name)
        try:
            yield conn.cursor()
        finally:
            conn.close()


@pytest.fixture(params=[False, True], ids=["exact", "optimistic"])
def writer(cr: cursor, request: pytest.FixtureRequest) -> HistorianWriter:
    """Every writer test runs both ways: the exact merge (Odoo's writes) and the ingest's optimistic insert,
    whose batches with a stored sample fall back to the merge."""
    created = HistorianWriter(cr, optimistic=request.param)
    cr.connection.commit()
    return created


def rows(cr: cursor, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    cr.execute(sql, params)
    return list(cr.fetchall())


def test_ensure_schema_is_idempotent_and_plain_without_timescale(cr: cursor) -> None:
    assert schema.ensure_schema(cr) == "partitioned"
    cr.connection.commit()
    assert schema.ensure_schema(cr) == "partitioned"  # second run: nothing to do, no error
    tables = {name for (name,) in rows(cr, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'hf\\_%%'")}
    assert {schema.LATEST_TABLE, *schema.ROLLUP_TABLES.values(), schema.DEAD_LETTER_TABLE} <= tables
    today = datetime.now(UTC).date()
    for code in schema.RETENTION_CODES.values():
        for ahead in range(schema.DAYS_AHEAD + 1):
            assert (code, today + timedelta(days=ahead)) in schema.existing_partitions(cr)
    unique = rows(
        cr,
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass AND indisunique",
        (schema.SAMPLE_TABLE,),
    )
    assert unique and '(tag_id, "time"' in unique[0][0], unique


def test_duplicates_are_stored_once_within_and_across_batches(cr: cursor, writer: HistorianWriter) -> None:
    t = ms(T0)
    assert writer.write([Sample(1, t, 1.0), Sample(1, t, 1.0), Sample(1, t + 1000, 2.0)]) == 2
    assert writer.write([Sample(1, t, 9.0), Sample(1, t + 2000, 3.0)]) == 1
    cr.connection.commit()
    assert rows(cr, "SELECT value FROM hf_historian_sample WHERE tag_id = 1 ORDER BY time") == [(1.0,), (2.0,), (3.0,)]
    assert rows(cr, "SELECT count, sum, min, max, last FROM hf_historian_rollup_1m WHERE tag_id = 1") == [
        (3, 6.0, 1.0, 3.0, 3.0)
    ], "a replayed sample is not counted twice"


def test_out_of_order_samples_land_in_place_and_latest_keeps_the_newest(cr: cursor, writer: HistorianWriter) -> None:
    t = ms(T0)
    writer.write([Sample(1, t + 50_000, 5.0)])
    writer.write([Sample(1, t + 10_000, 1.0), Sample(1, t + 30_000, 3.0)])  # older, arriving later
    writer.write([Sample(1, t + 70_000, 7.0)])  # next minute
    writer.write([Sample(1, t + 20_000, 2.0)])
    cr.connection.commit()
    assert [r["value"] for r in reader.read_raw(cr, 1, T0, T0 + timedelta(hours=1))] == [1.0, 2.0, 3.0, 5.0, 7.0]
    assert [(r["tag_id"], r["value"]) for r in reader.read_latest(cr, [1])] == [(1, 7.0)]
    assert rows(cr, "SELECT count, min, max, last FROM hf_historian_rollup_1m WHERE tag_id = 1 ORDER BY bucket") == [
        (4, 1.0, 5.0, 5.0),
        (1, 7.0, 7.0, 7.0),
    ], "a late sample does not become the bucket's last"
    assert rows(cr, "SELECT count, min, max, last, sum FROM hf_historian_rollup_1h WHERE tag_id = 1") == [
        (5, 1.0, 7.0, 7.0, 18.0)
    ]


def test_backfill_and_future_days_get_partitions_on_demand(cr: cursor, writer: HistorianWriter) -> None:
    old = T0 - timedelta(days=20)
    future = T0 + timedelta(hours=20)
    writer.write([Sample(1, ms(old), 1.0), Sample(1, ms(future), 2.0), Sample(2, ms(old), 3.0, retention=SHORT)])
    cr.connection.commit()
    assert (STANDARD, old.date()) in schema.existing_partitions(cr)
    assert (SHORT, old.date()) in schema.existing_partitions(cr)
    stored = rows(cr, "SELECT tableoid::regclass::text, value FROM hf_historian_sample ORDER BY value")
    assert stored == [
        (schema.partition_name(STANDARD, old.date()), 1.0),
        (schema.partition_name(STANDARD, future.date()), 2.0),
        (schema.partition_name(SHORT, old.date()), 3.0),
    ]


def test_text_bool_and_bad_quality_values(cr: cursor, writer: HistorianWriter) -> None:
    t = ms(T0)
    writer.write(
        [
            Sample(3, t, None, "run\tning\nback\\slash"),
            Sample(4, t, None, None, 2),
            Sample(5, t, 1.0),
            Sample(6, t, None, "Prüfstand ✓ 温度"),
            Sample(7, t, 1.0, "with both"),
        ]
    )
    cr.connection.commit()
    latest = {r["tag_id"]: (r["value"], r["value_text"], r["quality"]) for r in reader.read_latest(cr, [3, 4, 5, 6, 7])}
    assert latest == {
        3: (None, "run\tning\nback\\slash", 0),
        4: (None, None, 2),
        5: (1.0, None, 0),
        6: (None, "Prüfstand ✓ 温度", 0),
        7: (1.0, "with both", 0),
    }
    assert rows(cr, "SELECT value_text FROM hf_historian_sample WHERE tag_id IN (3, 6) ORDER BY tag_id") == [
        ("run\tning\nback\\slash",),
        ("Prüfstand ✓ 温度",),
    ]
    assert rows(cr, "SELECT tag_id FROM hf_historian_rollup_1m ORDER BY tag_id") == [(5,), (7,)], (
        "text and gaps: no rollup"
    )


def test_read_raw_is_half_open_ordered_and_limited(cr: cursor, writer: HistorianWriter) -> None:
    writer.write([Sample(1, ms(T0) + s * 1000, float(s)) for s in range(100)])
    cr.connection.commit()
    window = reader.read_raw(cr, 1, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))
    assert [r["value"] for r in window] == [float(s) for s in range(10, 20)]
    assert window[0]["time"] == T0 + timedelta(seconds=10) and window[0]["time"].tzinfo is not None
    assert len(reader.read_raw(cr, 1, T0, T0 + timedelta(hours=1), limit=7)) == 7


def _expected_buckets(values: list[tuple[datetime, float]], origin: datetime, seconds: int) -> dict[datetime, Any]:
    buckets: dict[datetime, list[float]] = {}
    for moment, value in values:
        key = origin + timedelta(seconds=math.floor((moment - origin).total_seconds() / seconds) * seconds)
        buckets.setdefault(key, []).append(value)
    return {k: (min(v), max(v), sum(v) / len(v), v[-1]) for k, v in buckets.items()}


@pytest.mark.parametrize(
    "span_s, max_points",
    [(3_000, 500), (86_400, 500), (7_200, 7), (86_400, 1)],
    ids=["raw-buckets", "day-from-1m", "odd-count", "one-point"],
)
def test_read_downsampled_never_exceeds_max_points_and_aggregates_right(
    cr: cursor, writer: HistorianWriter, span_s: int, max_points: int
) -> None:
    rng = random.Random(span_s)
    start = T0 - timedelta(seconds=span_s) + timedelta(seconds=17)  # not on a bucket boundary
    values = [(start + timedelta(seconds=s), round(rng.uniform(-50, 50), 3)) for s in range(0, span_s, 2)]
    for i in range(0, len(values), 20_000):
        writer.write([Sample(1, ms(t), v) for t, v in values[i : i + 20_000]])
    cr.connection.commit()
    window = reader.read_window(cr, 1, start, start + timedelta(seconds=span_s), max_points)
    points = reader.read_downsampled(cr, 1, start, start + timedelta(seconds=span_s), max_points)
    assert 0 < len(points) <= max_points
    assert points == window["points"]
    bucket = window["bucket_seconds"]
    source = next((s for s in (3600, 60) if span_s / max_points >= s), None)
    if source:
        assert bucket % source == 0, "read from a rollup: whole rollup buckets"
        origin = datetime.fromtimestamp(math.ceil(start.timestamp() / source) * source, UTC)
        values = [(t, v) for t, v in values if t >= origin]  # whole rollup buckets only
    else:
        origin = start
    expected = _expected_buckets(values, origin, bucket)
    assert [p["time"] for p in points] == sorted(expected)
    for point in points:
        lo, hi, avg, last = expected[point["time"]]
        assert (point["min"], point["max"], point["last"]) == (lo, hi, last)
        assert point["avg"] == pytest.approx(avg)


def test_read_downsampled_short_window_returns_the_raw_values(cr: cursor, writer: HistorianWriter) -> None:
    writer.write([Sample(1, ms(T0) + s * 1000, float(s)) for s in range(10)] + [Sample(2, ms(T0), None, "on")])
    cr.connection.commit()
    points = reader.read_downsampled(cr, 1, T0, T0 + timedelta(minutes=1), 500)
    assert [(p["min"], p["max"], p["avg"], p["last"]) for p in points] == [(float(s),) * 4 for s in range(10)]
    assert reader.read_downsampled(cr, 2, T0, T0 + timedelta(minutes=1), 500)[0]["last"] == "on"


def test_thirty_days_are_served_from_the_hourly_rollup(cr: cursor, writer: HistorianWriter) -> None:
    end = T0
    start = end - timedelta(days=30)
    # Rollup rows only (the raw partitions of that month were dropped by retention): the read must
    # still answer, from the 1-hour table.
    cr.execute(
        "INSERT INTO hf_historian_rollup_1h SELECT 7, b, 1, 9, 50, 10, 4, b + interval '59 minutes' "
        "FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 hour', interval '1 hour') b",
        (start, end),
    )
    cr.connection.commit()
    window = reader.read_window(cr, 7, start, end, 500)
    assert window["bucket_seconds"] % 3600 == 0 and 0 < len(window["points"]) <= 500
    assert all(p["min"] == 1 and p["max"] == 9 and p["avg"] == 5 and p["last"] == 4 for p in window["points"])


def test_refresh_rollups_rebuilds_what_the_writer_keeps(cr: cursor, writer: HistorianWriter) -> None:
    writer.write([Sample(tag, ms(T0) + s * 1500, float((s * tag) % 17)) for tag in (1, 2) for s in range(5000)])
    cr.connection.commit()
    kept = {t: rows(cr, f"SELECT * FROM {t} ORDER BY tag_id, bucket") for t in schema.ROLLUP_TABLES.values()}
    cr.execute("TRUNCATE hf_historian_rollup_1m, hf_historian_rollup_1h")
    assert rollups.refresh_rollups(cr, T0, T0 + timedelta(hours=3)) > 0
    cr.connection.commit()
    for table, before in kept.items():
        assert rows(cr, f"SELECT * FROM {table} ORDER BY tag_id, bucket") == before, table


def test_shuffled_batches_keep_rollups_and_latest_exact(cr: cursor, writer: HistorianWriter) -> None:
    """Samples out of order, minutes revisited across and within batches, gaps, ints, text, a redelivered
    batch: the rollups the writer keeps equal a rebuild from the raw rows, and the latest value is the
    newest sample of each tag."""
    shuffle = random.Random(7)
    samples = []
    for tag in (1, 2, 3):
        for s in range(600):
            value: float | int | None = None if s % 97 == 0 else (s * tag) % 23 if s % 5 else (s * tag) % 23 + 0.5
            samples.append(Sample(tag, ms(T0) + s * 1700, value, None, 2 if value is None else 0))
    samples.append(Sample(4, ms(T0), None, "text only"))
    shuffle.shuffle(samples)
    for start in range(0, len(samples), 450):
        writer.write(samples[start : start + 450])
    writer.write(samples[100:300])  # a redelivery: nothing new, nothing counted twice
    cr.connection.commit()
    kept = {t: rows(cr, f"SELECT * FROM {t} ORDER BY tag_id, bucket") for t in schema.ROLLUP_TABLES.values()}
    assert sum(r[5] for r in kept["hf_historian_rollup_1m"]) == sum(1 for s in samples if s.value is not None)
    cr.execute("TRUNCATE hf_historian_rollup_1m, hf_historian_rollup_1h")
    rollups.refresh_rollups(cr, T0, T0 + timedelta(hours=3))
    for table, before in kept.items():
        assert rows(cr, f"SELECT * FROM {table} ORDER BY tag_id, bucket") == before, table
    newest = {}
    for sample in samples:
        if sample.tag_id not in newest or sample.time_ms > newest[sample.tag_id].time_ms:
            newest[sample.tag_id] = sample
    latest = {r["tag_id"]: (r["value"], r["value_text"], r["quality"]) for r in reader.read_latest(cr, [1, 2, 3, 4])}
    assert latest == {
        tag: (None if s.value is None else float(s.value), s.value_text, s.quality) for tag, s in newest.items()
    }


def test_retention_drops_whole_old_partitions_per_class_and_keeps_rollups(cr: cursor, writer: HistorianWriter) -> None:
    now = datetime.now(UTC)
    writer.write(
        [Sample(1, ms(now - timedelta(days=d)), float(d)) for d in (1, 10, 40)]
        + [Sample(2, ms(now - timedelta(days=d)), float(d), retention=SHORT) for d in (1, 10)]
    )
    cr.connection.commit()
    cr.execute("SELECT count(*) FROM hf_historian_rollup_1m")
    rollup_rows = cr.fetchone()[0]
    dropped = retention.drop_expired(cr, {"short": 7, "standard": 30}, now=now)
    cr.connection.commit()
    assert schema.partition_name(STANDARD, (now - timedelta(days=40)).date()) in dropped
    assert schema.partition_name(SHORT, (now - timedelta(days=10)).date()) in dropped
    assert schema.partition_name(STANDARD, (now - timedelta(days=10)).date()) not in dropped
    assert rows(cr, "SELECT tag_id, value FROM hf_historian_sample ORDER BY tag_id, value") == [
        (1, 1.0),
        (1, 10.0),
        (2, 1.0),
    ]
    cr.execute("SELECT count(*) FROM hf_historian_rollup_1m")
    assert cr.fetchone()[0] == rollup_rows, "rollups are the long-term record"
    # A writer that still believes a dropped partition exists re-creates it after refresh_partitions.
    writer.refresh_partitions()
    assert writer.write([Sample(1, ms(now - timedelta(days=40)) + 1, 4.0)]) == 1


def test_writer_recovers_after_a_rolled_back_batch_that_created_a_partition(
    cr: cursor, writer: HistorianWriter
) -> None:
    day = T0 - timedelta(days=50)
    writer.write([Sample(1, ms(day), 1.0)])
    cr.connection.rollback()  # the partition created by that batch is gone again
    writer.refresh_partitions()
    assert writer.write([Sample(1, ms(day), 1.0)]) == 1
    cr.connection.commit()
