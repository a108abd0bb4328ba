"""The one source of truth of the historian schema; ``ensure_schema`` is idempotent.

It works with a psycopg2 cursor and with Odoo's ``env.cr`` (anything with ``execute`` and
``fetchone``/``fetchall``).

Plain PostgreSQL layout (no TimescaleDB)::

    hf_historian_sample                      PARTITION BY LIST (retention)
      hf_historian_sample_r1                 PARTITION BY RANGE (time)    -- class "short"
        hf_historian_sample_r1_p20261124     one day
      hf_historian_sample_r2 ...             -- "standard";  _r3 -- "long"

Retention drops whole day partitions of one class (never deletes rows). The primary key
(tag_id, time, retention) is the (tag, time) uniqueness, and the index per-tag window reads use.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

_logger = logging.getLogger(__name__)

SAMPLE_TABLE = "hf_historian_sample"
LATEST_TABLE = "hf_historian_latest"
ROLLUP_TABLES = {60: "hf_historian_rollup_1m", 3600: "hf_historian_rollup_1h"}
DEAD_LETTER_TABLE = "hf_uns_dead_letter"
# Retention classes as Odoo names them (hf.uns.tag.retention_class) → partition code and raw days.
RETENTION_CODES = {"short": 1, "standard": 2, "long": 3}
DEFAULT_RETENTION_DAYS = {"short": 7, "standard": 30, "long": 365}
DAYS_AHEAD = 2
# The primary key is the (tag, time) uniqueness and the index of per-tag window reads; the retention
# class is in it because PostgreSQL wants the partition key in every unique constraint.
SAMPLE_COLUMNS = """(
    time timestamptz NOT NULL,
    tag_id integer NOT NULL,
    value double precision,
    value_text text,
    quality smallint NOT NULL DEFAULT 0,
    retention smallint NOT NULL DEFAULT 2,
    PRIMARY KEY (tag_id, time, retention)
)"""


class Cursor(Protocol):
    """What the historian uses of a cursor: a psycopg2 one, or Odoo's ``env.cr`` (which wraps one)."""

    @property
    def rowcount(self) -> int: ...
    def execute(self, query: str, params: Sequence[object] | Mapping[str, object] | None = None, /) -> object: ...
    def executemany(self, query: str, params: Iterable[Sequence[object]], /) -> object: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def copy_expert(self, sql: str, file: io.StringIO | io.BytesIO, /, size: int = 8192) -> object: ...


def one_row(cr: Cursor) -> tuple[Any, ...]:
    """The row of a query that always returns one (``SELECT EXISTS (…)``, an aggregate, ``RETURNING``)."""
    row = cr.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return row


def has_timescale(cr: Cursor) -> bool:
    """True when this database's historian is a TimescaleDB hypertable."""
    cr.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') "
        "AND to_regclass('timescaledb_information.hypertables') IS NOT NULL"
    )
    if not one_row(cr)[0]:
        return False
    cr.execute(
        "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s)",
        (SAMPLE_TABLE,),
    )
    return bool(one_row(cr)[0])


def _try_create_timescale(cr: Cursor) -> bool:
    """Create the extension if it is installed and this role may; a failure leaves the transaction usable."""
    cr.execute("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')")
    if not one_row(cr)[0]:
        return False
    cr.execute("SAVEPOINT hf_timescale")
    try:
        cr.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except Exception:  # noqa: BLE001  (not installed, or not allowed: both mean "plain PostgreSQL")
        cr.execute("ROLLBACK TO SAVEPOINT hf_timescale")
        return False
    cr.execute("RELEASE SAVEPOINT hf_timescale")
    return True


def _table_exists(cr: Cursor, name: str) -> bool:
    cr.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    return bool(one_row(cr)[0])


# Held (until commit) while the historian's tables or partitions are created: parallel ingest workers and
# Odoo's install would otherwise race on CREATE … IF NOT EXISTS, which is not safe under concurrency.
DDL_LOCK = 0x48465F48  # "HF_H"


def ensure_schema(cr: Cursor, *, use_timescale: bool | None = None) -> str:
    """Create whatever part of the historian is missing; return "timescale" or "partitioned"."""
    cr.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
    if _table_exists(cr, SAMPLE_TABLE):
        mode = "timescale" if has_timescale(cr) else "partitioned"
    else:
        timescale = _try_create_timescale(cr) if use_timescale is not False else False
        mode = "timescale" if timescale else "partitioned"
        (_create_timescale if timescale else _create_partitioned)(cr)
        _logger.info("historian created (%s)", mode)
    _create_common(cr, mode)
    if mode == "partitioned":
        today = datetime.now(UTC).date()
        ensure_day_partitions(
            cr,
            {(code, today + timedelta(days=d)) for code in RETENTION_CODES.values() for d in range(-1, DAYS_AHEAD + 1)},
        )
    return mode


def _create_partitioned(cr: Cursor) -> None:
    cr.execute(f"CREATE TABLE {SAMPLE_TABLE} {SAMPLE_COLUMNS} PARTITION BY LIST (retention)")
    for code in RETENTION_CODES.values():
        cr.execute(
            f"CREATE TABLE IF NOT EXISTS {SAMPLE_TABLE}_r{code} PARTITION OF {SAMPLE_TABLE} "
            f"FOR VALUES IN ({code}) PARTITION BY RANGE (time)"
        )


def _create_timescale(cr: Cursor) -> None:
    cr.execute(f"CREATE TABLE {SAMPLE_TABLE} {SAMPLE_COLUMNS}")
    cr.execute(
        "SELECT create_hypertable(%s, 'time', chunk_time_interval => interval '1 day', if_not_exists => true)",
        (SAMPLE_TABLE,),
    )
    # The unique key's other columns go into orderby so compressed chunks can still check conflicts.
    cr.execute(
        f"ALTER TABLE {SAMPLE_TABLE} SET (timescaledb.compress, timescaledb.compress_segmentby = 'tag_id', "
        "timescaledb.compress_orderby = 'time DESC, retention')"
    )
    cr.execute("SELECT add_compression_policy(%s, interval '7 days', if_not_exists => true)", (SAMPLE_TABLE,))
    # Chunks hold every class, so the policy keeps the longest one (retention.drop_expired moves it).
    cr.execute(
        "SELECT add_retention_policy(%s, %s::interval, if_not_exists => true)",
        (SAMPLE_TABLE, f"{max(DEFAULT_RETENTION_DAYS.values())} days"),
    )
    # Rollups are continuous aggregates with the same columns the plain rollup tables have.
    for seconds, name in ROLLUP_TABLES.items():
        cr.execute(f"""
            CREATE MATERIALIZED VIEW IF NOT EXISTS {name} WITH (timescaledb.continuous) AS
            SELECT tag_id, time_bucket(interval '{seconds} seconds', time) AS bucket,
                   min(value) AS min, max(value) AS max, sum(value) AS sum, count(value) AS count,
                   last(value, time) AS last, max(time) AS last_time
            FROM {SAMPLE_TABLE} WHERE value IS NOT NULL GROUP BY tag_id, bucket WITH NO DATA
        """)
        cr.execute(
            "SELECT add_continuous_aggregate_policy(%s, start_offset => NULL, end_offset => %s::interval, "
            "schedule_interval => %s::interval, if_not_exists => true)",
            (name, f"{seconds} seconds", f"{max(seconds, 60)} seconds"),
        )


def _create_common(cr: Cursor, mode: str) -> None:
    cr.execute(f"""
        CREATE TABLE IF NOT EXISTS {LATEST_TABLE} (
            tag_id integer PRIMARY KEY,
            time timestamptz NOT NULL,
            value double precision,
            value_text text,
            quality smallint NOT NULL DEFAULT 0
        )
    """)
    if mode == "partitioned":
        for name in ROLLUP_TABLES.values():
            cr.execute(f"""
                CREATE TABLE IF NOT EXISTS {name} (
                    tag_id integer NOT NULL,
                    bucket timestamptz NOT NULL,
                    min double precision NOT NULL,
                    max double precision NOT NULL,
                    sum double precision NOT NULL,
                    count bigint NOT NULL,
                    last double precision NOT NULL,
                    last_time timestamptz NOT NULL,
                    PRIMARY KEY (tag_id, bucket)
                )
            """)
    # Odoo's model hf.uns.dead.letter owns this table when hf_uns is installed; the ingest may run
    # first on a database Odoo has not touched yet, so it can create the same columns itself.
    cr.execute(f"""
        CREATE TABLE IF NOT EXISTS {DEAD_LETTER_TABLE} (
            id serial PRIMARY KEY,
            topic varchar,
            payload text,
            reason varchar NOT NULL,
            received_at timestamp NOT NULL DEFAULT (now() at time zone 'utc'),
            company_id integer,
            create_uid integer,
            create_date timestamp,
            write_uid integer,
            write_date timestamp
        )
    """)


def partition_name(code: int, day: date) -> str:
    return f"{SAMPLE_TABLE}_r{code}_p{day:%Y%m%d}"


def existing_partitions(cr: Cursor) -> set[tuple[int, date]]:
    """(retention code, day) of every day partition that exists."""
    cr.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname LIKE %s",
        (f"{SAMPLE_TABLE}\\_r_",),
    )
    found = set()
    for (name,) in cr.fetchall():
        code, day = name[len(SAMPLE_TABLE) + 2 :].split("_p")
        found.add((int(code), datetime.strptime(day, "%Y%m%d").date()))
    return found


def ensure_day_partitions(cr: Cursor, wanted: set[tuple[int, date]]) -> set[tuple[int, date]]:
    """Create the day partitions of ``wanted`` that are missing; return every existing one."""
    existing = existing_partitions(cr)
    if wanted <= existing:
        return existing
    cr.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
    existing = existing_partitions(cr)  # as another writer may have left them
    for code, day in sorted(wanted - existing):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        cr.execute(
            f"CREATE TABLE IF NOT EXISTS {partition_name(code, day)} PARTITION OF {SAMPLE_TABLE}_r{code} "
            "FOR VALUES FROM (%s) TO (%s)",
            (start, start + timedelta(days=1)),
        )
        existing.add((code, day))
    return existing
