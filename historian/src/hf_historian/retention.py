"""Retention: drop whole day partitions (or Timescale chunks) older than each class keeps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

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
