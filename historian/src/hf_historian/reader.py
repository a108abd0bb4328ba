"""The historian's read API, shared by Odoo (``env.cr``), the ML jobs and the benchmarks.

Times come back as timezone-aware ``datetime`` objects in UTC (psycopg2's own type for timestamptz,
so Odoo's cursor and a plain one give the same); Odoo's methods turn them into ISO-8601 strings for
XML-RPC. ``start``/``end`` arguments are aware datetimes; windows are half-open [start, end).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from hf_core.types import Quality
from hf_historian import schema

RAW_FIELDS = ("time", "value", "value_text", "quality")


def read_latest(cr: schema.Cursor, tag_ids: list[int]) -> list[dict[str, Any]]:
    """The latest sample of each tag that has one: tag_id, time, value, value_text, quality."""
    if not tag_ids:
        return []
    cr.execute(
        f"SELECT tag_id, time, value, value_text, quality FROM {schema.LATEST_TABLE} WHERE tag_id = ANY(%s)",
        (list(tag_ids),),
    )
    return [dict(zip(("tag_id", *RAW_FIELDS), row, strict=True)) for row in cr.fetchall()]


def read_raw(
    cr: schema.Cursor, tag_id: int, start: datetime, end: datetime, limit: int = 10_000
) -> list[dict[str, Any]]:
    """Raw samples of one tag in [start, end), oldest first, at most ``limit``."""
    cr.execute(
        f"SELECT time, value, value_text, quality FROM {schema.SAMPLE_TABLE} "
        "WHERE tag_id = %s AND time >= %s AND time < %s ORDER BY time LIMIT %s",
        (tag_id, start, end, limit),
    )
    return [dict(zip(RAW_FIELDS, row, strict=True)) for row in cr.fetchall()]


def read_last_before(cr: schema.Cursor, tag_id: int, moment: datetime) -> dict[str, Any] | None:
    """The last sample of one tag before ``moment``: the value in force at it (a state reported on change)."""
    cr.execute(
        f"SELECT time, value, value_text, quality FROM {schema.SAMPLE_TABLE} "
        "WHERE tag_id = %s AND time < %s ORDER BY time DESC LIMIT 1",
        (tag_id, moment),
    )
    row = cr.fetchone()
    return dict(zip(RAW_FIELDS, row, strict=True)) if row else None


def read_downsampled(
    cr: schema.Cursor, tag_id: int, start: datetime, end: datetime, max_points: int = 500
) -> list[dict[str, Any]]:
    """At most ``max_points`` points over [start, end), oldest first: time, min, max, avg, last.

    See :func:`read_window`, which also says how wide the buckets are.
    """
    return list(read_window(cr, tag_id, start, end, max_points)["points"])


def read_window(cr: schema.Cursor, tag_id: int, start: datetime, end: datetime, max_points: int) -> dict[str, Any]:
    """At most ``max_points`` points over [start, end): ``{"bucket_seconds": int, "points": [...]}``.

    Windows of at least ``max_points`` minutes are read from the 1-hour or 1-minute rollup (the
    coarsest not coarser than a bucket), so they still answer once retention dropped the raw samples;
    shorter windows give the raw samples when they fit (``bucket_seconds`` 0, min = max = avg = last =
    the value, text values included, and the sample's ``quality``), else time buckets computed from
    the raw samples. A text-only tag has no rollup: its long windows give its first ``max_points`` raw
    samples. Buckets are laid from ``start`` (from the first whole rollup bucket at or after it when
    read from a rollup), so there are never more than ``max_points``; a point's time is its bucket's
    start.
    """
    max_points = max(1, int(max_points))
    span = (end - start).total_seconds()
    source = next((s for s in sorted(schema.ROLLUP_TABLES, reverse=True) if span / max_points >= s), None)
    if source is not None:
        window = _read_buckets(cr, tag_id, start, end, max_points, source)
        if window["points"]:
            return window
    raw = read_raw(cr, tag_id, start, end, max_points + 1)
    if len(raw) <= max_points:
        points = []
        for row in raw:
            value = row["value"] if row["value"] is not None else row["value_text"]
            points.append(
                {
                    "time": row["time"],
                    "min": value,
                    "max": value,
                    "avg": value,
                    "last": value,
                    "quality": row["quality"],
                }
            )
        return {"bucket_seconds": 0, "points": points}
    return _read_buckets(cr, tag_id, start, end, max_points, None)


def _read_buckets(
    cr: schema.Cursor, tag_id: int, start: datetime, end: datetime, max_points: int, source: int | None
) -> dict[str, Any]:
    span = (end - start).total_seconds()
    if source is None:
        origin = start
        bucket = max(1, math.ceil(span / max_points))
        table, column, aggregates = (
            schema.SAMPLE_TABLE,
            "time",
            ("min(value), max(value), avg(value), (array_agg(value ORDER BY time DESC))[1]"),
        )
        where = "AND value IS NOT NULL"
    else:
        origin = datetime.fromtimestamp(math.ceil(start.timestamp() / source) * source, UTC)
        bucket = source * max(1, math.ceil((end - origin).total_seconds() / max_points / source))
        table, column, aggregates = (
            schema.ROLLUP_TABLES[source],
            "bucket",
            ("min(min), max(max), sum(sum) / sum(count), (array_agg(last ORDER BY last_time DESC))[1]"),
        )
        where = ""
    cr.execute(
        f"""
        SELECT %(origin)s::timestamptz
               + floor(extract(epoch FROM {column} - %(origin)s::timestamptz) / %(b)s) * %(b)s * interval '1 second'
               AS t, {aggregates}
        FROM {table}
        WHERE tag_id = %(tag)s AND {column} >= %(origin)s AND {column} < %(end)s {where}
        GROUP BY t ORDER BY t""",
        {"origin": origin, "b": bucket, "tag": tag_id, "end": end},
    )
    points = [{"time": t, "min": lo, "max": hi, "avg": avg, "last": last} for t, lo, hi, avg, last in cr.fetchall()]
    return {"bucket_seconds": bucket, "points": points}


def read_newest(cr: schema.Cursor, tag_id: int, after: datetime, limit: int) -> list[dict[str, Any]]:
    """The newest raw samples of one tag after ``after``, newest first, at most ``limit`` (where a run of one
    state began, read backwards from now)."""
    cr.execute(
        f"SELECT time, value, value_text, quality FROM {schema.SAMPLE_TABLE} "
        "WHERE tag_id = %s AND time > %s ORDER BY time DESC LIMIT %s",
        (tag_id, after, limit),
    )
    return [dict(zip(RAW_FIELDS, row, strict=True)) for row in cr.fetchall()]


def data_begins(cr: schema.Cursor, tag_id: int, start: datetime, end: datetime) -> datetime | None:
    """When one tag's data in [start, end) begins, or None when it has none there: its first raw sample, or
    the first 1-hour rollup bucket overlapping the window when that is earlier (the rollup outlives the raw
    samples, see retention)."""
    cr.execute(
        f"""SELECT LEAST(
               (SELECT time FROM {schema.SAMPLE_TABLE} WHERE tag_id = %(tag)s AND time >= %(start)s
                   AND time < %(end)s ORDER BY time LIMIT 1),
               (SELECT bucket FROM {schema.ROLLUP_TABLES[3600]} WHERE tag_id = %(tag)s
                   AND bucket >= %(start)s - interval '1 hour' AND bucket < %(end)s ORDER BY bucket LIMIT 1))""",
        {"tag": tag_id, "start": start, "end": end},
    )
    begins = schema.one_row(cr)[0]
    return begins if isinstance(begins, datetime) else None


def had_good_value_within(cr: schema.Cursor, tag_id: int, after: datetime, low: float, high: float) -> bool:
    """Whether one tag had a sample after ``after`` that is not bad and whose value lies in [low, high]."""
    cr.execute(
        f"SELECT EXISTS (SELECT 1 FROM {schema.SAMPLE_TABLE} WHERE tag_id = %s AND time > %s "
        "AND quality < %s AND value BETWEEN %s AND %s)",
        (tag_id, after, int(Quality.BAD), low, high),
    )
    return bool(schema.one_row(cr)[0])


def read_activity(
    cr: schema.Cursor, tag_ids: list[int], after: datetime, until: datetime, bucket_seconds: float
) -> list[datetime]:
    """Moments in (after, until] at which any of the tags had a sample that is not bad, at most one per
    ``bucket_seconds`` (the newest of each), oldest first: when a device was heard."""
    if not tag_ids:
        return []
    cr.execute(
        f"""SELECT max(time) FROM {schema.SAMPLE_TABLE}
             WHERE tag_id = ANY(%s) AND time > %s AND time <= %s AND quality < %s
             GROUP BY floor(extract(epoch FROM time) / %s) ORDER BY 1""",
        (list(tag_ids), after, until, int(Quality.BAD), max(1.0, float(bucket_seconds))),
    )
    return [time for (time,) in cr.fetchall()]


def historian_ready(cr: schema.Cursor) -> bool:
    """Whether the samples table exists (the schema is created at install, or by the ingest)."""
    cr.execute("SELECT to_regclass(%s) IS NOT NULL", (schema.SAMPLE_TABLE,))
    return bool(schema.one_row(cr)[0])


def read_counter_increase(
    cr: schema.Cursor, tag_id: int, windows: list[tuple[datetime, datetime]], modulus: int | None = None
) -> float:
    """Parts a counter tag counted within ``windows`` ((start, end], not overlapping), in one query.

    Each window's increase is measured from the tag's last good value at or before its start. A drop is a
    counter reset (it counts from 0 again: the new value is what was counted since) unless it is a rollover:
    with the counter's ``modulus`` M (2**16 for a 16-bit register; None when unknown), a drop of more than
    90 % of M is a wrap, and M + the drop were counted across it. Samples of bad quality are left out.
    """
    windows = [(start, end) for start, end in windows if end > start]
    if not windows:
        return 0.0
    cr.execute(
        f"""
        SELECT COALESCE(SUM(w.parts), 0)
          FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS iv(start_time, end_time)
         CROSS JOIN LATERAL (
            SELECT SUM(CASE WHEN d.delta >= 0 THEN d.delta
                            WHEN d.delta + %(modulus)s::float8 <= %(modulus)s::float8 / 10
                            THEN d.delta + %(modulus)s::float8
                            ELSE d.value END) AS parts
              FROM (SELECT s.value, s.value - lag(s.value) OVER (ORDER BY s.time) AS delta
                      FROM ((SELECT time, value FROM {schema.SAMPLE_TABLE}
                              WHERE tag_id = %(tag)s AND time <= iv.start_time AND quality < %(bad)s
                                AND value IS NOT NULL
                              ORDER BY time DESC LIMIT 1)
                            UNION ALL
                            (SELECT time, value FROM {schema.SAMPLE_TABLE}
                              WHERE tag_id = %(tag)s AND time > iv.start_time AND time <= iv.end_time
                                AND quality < %(bad)s AND value IS NOT NULL)) s) d
             WHERE d.delta IS NOT NULL
         ) w
        """,
        {
            "tag": tag_id,
            "modulus": modulus,
            "bad": int(Quality.BAD),
            "starts": [start for start, _end in windows],
            "ends": [end for _start, end in windows],
        },
    )
    return float(schema.one_row(cr)[0])


def count_samples_since(cr: schema.Cursor, since: datetime) -> int:
    """Samples stored with a time after ``since`` (the operator's "samples in the last 24 hours"); 0 before the
    historian exists."""
    if not historian_ready(cr):
        return 0
    cr.execute(f"SELECT count(*) FROM {schema.SAMPLE_TABLE} WHERE time > %s", (since,))
    return int(schema.one_row(cr)[0])
