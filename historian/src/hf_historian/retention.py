"""Retention: drop whole day partitions (or Timescale chunks) older than each class keeps."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from hf_historian import schema

_logger = logging.getLogger(__name__)


def drop_expired(
    cr: schema.Cursor, days_by_class: dict[str, int] | None = None, now: datetime | None = None
) -> list[str]:
    """Drop the raw partitions whose whole day is older than its class's retention; return their names.

    Rollups are kept: they are the long-term record. With TimescaleDB, ``drop_chunks`` applies the
    longest retention of all classes (chunks are shared by every tag).
    """
    days_by_class = {**schema.DEFAULT_RETENTION_DAYS, **(days_by_class or {})}
    now = now or datetime.now(UTC)
    if schema.has_timescale(cr):
        longest = max(days_by_class.values())
        cutoff = now - timedelta(days=longest)
        cr.execute("SELECT remove_retention_policy(%s, if_exists => true)", (schema.SAMPLE_TABLE,))
        cr.execute("SELECT add_retention_policy(%s, %s::interval)", (schema.SAMPLE_TABLE, f"{longest} days"))
        cr.execute("SELECT drop_chunks(%s, older_than => %s)", (schema.SAMPLE_TABLE, cutoff))
        return [str(row[0]) for row in cr.fetchall()]
    dropped = []
    for code, day in sorted(schema.existing_partitions(cr)):
        name = next(n for n, c in schema.RETENTION_CODES.items() if c == code)
        first_kept = (now - timedelta(days=days_by_class[name])).date()
        if day < first_kept:
            table = schema.partition_name(code, day)
            cr.execute(f"DROP TABLE IF EXISTS {table}")
            dropped.append(table)
    if dropped:
        _logger.info("historian retention dropped %d partitions: %s", len(dropped), ", ".join(dropped))
    return dropped


def shorten_to_size(cr: schema.Cursor, max_bytes: int, now: datetime | None = None) -> tuple[list[str], date | None]:
    """Drop the oldest raw days (every class's partition of the day; with TimescaleDB, its chunks) until the
    database is at most ``max_bytes``, never today's or later: the storage quota's "shorten retention". Returns
    the tables dropped and the first day still kept (None when nothing was dropped). Rollups are kept.

    The size is measured once and each drop's size subtracted (a dropped table's files go at commit, so
    ``pg_database_size`` would not see them inside this transaction)."""
    today = (now or datetime.now(UTC)).date()
    cr.execute("SELECT pg_database_size(current_database())")
    size = int(schema.one_row(cr)[0])
    dropped: list[str] = []
    kept_from: date | None = None
    if schema.has_timescale(cr):
        while size > max_bytes:
            cr.execute(f"SELECT min(time) FROM {schema.SAMPLE_TABLE} WHERE time < %s", (today,))
            oldest = schema.one_row(cr)[0]
            if oldest is None:
                break
            kept_from = oldest.astimezone(UTC).date() + timedelta(days=1)
            cutoff = datetime.combine(kept_from, time.min, UTC)
            cr.execute(
                "SELECT coalesce(sum(total_bytes), 0) FROM chunks_detailed_size(%s) d "
                "JOIN timescaledb_information.chunks c ON c.chunk_schema = d.chunk_schema "
                "AND c.chunk_name = d.chunk_name WHERE c.hypertable_name = %s AND c.range_end <= %s",
                (schema.SAMPLE_TABLE, schema.SAMPLE_TABLE, cutoff),
            )
            size -= int(schema.one_row(cr)[0])
            cr.execute("SELECT drop_chunks(%s, older_than => %s)", (schema.SAMPLE_TABLE, cutoff))
            chunks = [str(row[0]) for row in cr.fetchall()]
            if not chunks:  # the oldest chunk reaches into the day kept: nothing more to drop
                break
            dropped += chunks
    else:
        existing = schema.existing_partitions(cr)
        for day in sorted({day for _code, day in existing if day < today}):
            if size <= max_bytes:
                break
            for code in sorted(code for code, other in existing if other == day):
                table = schema.partition_name(code, day)
                cr.execute("SELECT pg_total_relation_size(%s::regclass)", (table,))
                size -= int(schema.one_row(cr)[0])
                cr.execute(f"DROP TABLE {table}")
                dropped.append(table)
            kept_from = day + timedelta(days=1)
    if dropped:
        _logger.warning(
            "storage quota: raw history before %s dropped (%d tables) to fit %d MB",
            kept_from,
            len(dropped),
            max_bytes // 1048576,
        )
    return dropped, kept_from
