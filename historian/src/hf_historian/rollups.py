"""Rebuild the 1-minute and 1-hour rollups of a time window from the raw samples.

The writer keeps the rollups current batch by batch; this is the repair path (rows written around
the writer, a rollup table restored from a backup) and the documented way to rebuild them. With
TimescaleDB the rollups are continuous aggregates and this refreshes them instead; Timescale runs
that only outside a transaction block (an autocommit connection, not Odoo's ``env.cr``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from hf_historian import schema

_logger = logging.getLogger(__name__)


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def refresh_rollups(cr: schema.Cursor, start: datetime, end: datetime, tag_ids: list[int] | None = None) -> int:
    """Recompute every rollup bucket of [start, end) (widened to whole hours) from the raw samples.

    Returns the number of 1-minute buckets written. Buckets whose raw samples retention already
    dropped are left as they are: the rollups are then the only record and must not be emptied.
    """
    if schema.has_timescale(cr):
        for name in schema.ROLLUP_TABLES.values():
            cr.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", (name, start, end))
        return 0
    start = _floor_hour(start)
    end = _floor_hour(end) + (timedelta(hours=1) if end != _floor_hour(end) else timedelta(0))
    tags = "AND tag_id = ANY(%(tags)s)" if tag_ids is not None else ""
    params = {"start": start, "end": end, "tags": list(tag_ids or [])}
    cr.execute(f"SELECT min(time) FROM {schema.SAMPLE_TABLE} WHERE time >= %(start)s AND time < %(end)s {tags}", params)
    oldest = schema.one_row(cr)[0]
    if oldest is None:
        return 0
    params["start"] = max(start, _floor_hour(oldest))  # never empty hours that only the rollups still hold
    minute, hour = schema.ROLLUP_TABLES[60], schema.ROLLUP_TABLES[3600]
    for table in (minute, hour):
        cr.execute(f"DELETE FROM {table} WHERE bucket >= %(start)s AND bucket < %(end)s {tags}", params)
    cr.execute(
        f"""
        INSERT INTO {minute} (tag_id, bucket, min, max, sum, count, last, last_time)
        SELECT tag_id, date_trunc('minute', time, 'UTC'), min(value), max(value), sum(value), count(value),
               (array_agg(value ORDER BY time DESC))[1], max(time)
        FROM {schema.SAMPLE_TABLE}
        WHERE time >= %(start)s AND time < %(end)s AND value IS NOT NULL {tags}
        GROUP BY tag_id, date_trunc('minute', time, 'UTC')""",
        params,
    )
    written = int(cr.rowcount)
    cr.execute(
        f"""
        INSERT INTO {hour} (tag_id, bucket, min, max, sum, count, last, last_time)
        SELECT tag_id, date_trunc('hour', bucket, 'UTC'), min(min), max(max), sum(sum), sum(count),
               (array_agg(last ORDER BY last_time DESC))[1], max(last_time)
        FROM {minute}
        WHERE bucket >= %(start)s AND bucket < %(end)s {tags}
        GROUP BY tag_id, date_trunc('hour', bucket, 'UTC')""",
        params,
    )
    _logger.info("historian rollups rebuilt from %s to %s: %d minute buckets", params["start"], end, written)
    return written
