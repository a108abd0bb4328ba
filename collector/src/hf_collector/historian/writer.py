"""Batched, idempotent writes: COPY into a staging table, then one statement that inserts the new
samples (ON CONFLICT DO NOTHING), folds them into the rollups and moves the latest values."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

from hf_collector.historian import schema

_logger = logging.getLogger(__name__)
MS_PER_DAY = 86_400_000


class Sample(NamedTuple):
    """One stored value: numbers and booleans go to ``value``, strings to ``value_text``.

    A NamedTuple rather than a frozen dataclass: the ingest makes 100,000s per second."""

    tag_id: int
    time_ms: int
    value: float | None = None
    value_text: str | None = None
    quality: int = 0
    retention: int = schema.RETENTION_CODES["standard"]


def _copy_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _rollups_sql() -> str:
    """1-minute buckets aggregated once from the new rows; 1-hour buckets from those (not the rows)."""
    minute, hour = schema.ROLLUP_TABLES[60], schema.ROLLUP_TABLES[3600]

    def upsert(table: str, source: str, bucket: str) -> str:
        return f"""
        INSERT INTO {table} (tag_id, bucket, min, max, sum, count, last, last_time)
        SELECT tag_id, {bucket}, min(min), max(max), sum(sum), sum(count),
               (array_agg(last ORDER BY last_time DESC))[1], max(last_time)
        FROM {source} GROUP BY tag_id, {bucket}
        ORDER BY tag_id, {bucket}  -- one lock order for every writer: parallel ingests cannot deadlock here
        ON CONFLICT (tag_id, bucket) DO UPDATE SET
            min = least({table}.min, excluded.min),
            max = greatest({table}.max, excluded.max),
            sum = {table}.sum + excluded.sum,
            count = {table}.count + excluded.count,
            last = CASE WHEN excluded.last_time >= {table}.last_time THEN excluded.last ELSE {table}.last END,
            last_time = greatest({table}.last_time, excluded.last_time)"""

    return f"""
        minutes AS (
            SELECT DISTINCT ON (tag_id, bucket) tag_id, bucket,
                   min(value) OVER w AS min, max(value) OVER w AS max, sum(value) OVER w AS sum,
                   count(value) OVER w AS count, value AS last, time AS last_time
            FROM (SELECT tag_id, date_trunc('minute', time, 'UTC') AS bucket, time, value FROM inserted
                  WHERE value IS NOT NULL) new
            WINDOW w AS (PARTITION BY tag_id, bucket)
            ORDER BY tag_id, bucket, time DESC
        ),
        rollup_minute AS ({upsert(minute, "minutes", "bucket")}),
        rollup_hour AS ({upsert(hour, "minutes", "date_trunc('hour', bucket, 'UTC')")}),"""


STAGE_SQL = (
    "CREATE TEMP TABLE IF NOT EXISTS hf_stage (time_ms bigint, tag_id integer, value double precision,"
    " value_text text, quality smallint, retention smallint)"
)


def merge_sql(mode: str) -> str:
    """The one statement that moves staged rows into samples, rollups (plain mode) and latest values."""
    rollups = _rollups_sql() if mode == "partitioned" else ""
    return f"""
        WITH inserted AS (
            INSERT INTO {schema.SAMPLE_TABLE} (time, tag_id, value, value_text, quality, retention)
            SELECT to_timestamp(time_ms / 1000.0), tag_id, value, value_text, quality, retention FROM hf_stage
            ON CONFLICT DO NOTHING
            RETURNING time, tag_id, value, value_text, quality
        ),{rollups}
        latest AS (
            INSERT INTO {schema.LATEST_TABLE} (tag_id, time, value, value_text, quality)
            SELECT DISTINCT ON (tag_id) tag_id, time, value, value_text, quality FROM inserted
            ORDER BY tag_id, time DESC
            ON CONFLICT (tag_id) DO UPDATE SET time = excluded.time, value = excluded.value,
                value_text = excluded.value_text, quality = excluded.quality
            WHERE excluded.time >= {schema.LATEST_TABLE}.time
        )
        SELECT count(*) FROM inserted
        """


class HistorianWriter:
    """Writes batches through one cursor; the caller commits (so it can acknowledge after commit).

    Works with a psycopg2 connection's cursor and with Odoo's ``env.cr`` (both have ``copy_expert``).
    """

    def __init__(self, cr: Any) -> None:
        self.cr = cr
        self.mode = schema.ensure_schema(cr)
        self._partitions = schema.existing_partitions(cr) if self.mode == "partitioned" else set()
        cr.execute(STAGE_SQL)
        self._merge_sql = merge_sql(self.mode)

    def refresh_partitions(self) -> None:
        """Forget which day partitions exist; call after a rollback (it undoes partitions this writer
        created in the transaction) or when retention may have dropped some."""
        self._partitions = schema.existing_partitions(self.cr) if self.mode == "partitioned" else set()

    def write(self, samples: Sequence[Sample]) -> int:
        """Stage and merge ``samples``; return how many were new (duplicates are skipped). No commit."""
        if not samples:
            return 0
        lines = []
        days: set[tuple[int, int]] = set()
        for tag_id, time_ms, value, value_text, quality, retention in samples:
            number = "\\N" if value is None else repr(float(value))
            text = "\\N" if value_text is None else _copy_text(value_text)
            lines.append(f"{time_ms}\t{tag_id}\t{number}\t{text}\t{quality}\t{retention}\n")
            days.add((retention, time_ms // MS_PER_DAY))
        buffer = io.StringIO("".join(lines))
        cr = self.cr
        if self.mode == "partitioned":
            wanted = {(code, datetime.fromtimestamp(d * 86400, timezone.utc).date()) for code, d in days}
            if not wanted <= self._partitions:
                self._partitions = schema.ensure_day_partitions(cr, wanted)
        cr.execute(STAGE_SQL)  # a temp table dies with its connection; the ingest reconnects
        cr.copy_expert("COPY hf_stage FROM STDIN", buffer)
        cr.execute(self._merge_sql)
        inserted = int(cr.fetchone()[0])
        cr.execute("TRUNCATE hf_stage")
        return inserted
