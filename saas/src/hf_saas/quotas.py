"""A tenant's usage against its plan, read from its database (tags, samples, messages and bytes, size).

Quotas are written one way only: through Odoo, by :func:`hf_saas.odoo_setup.apply_quotas`
(``ir.config_parameter``, whose change running workers hear through Odoo's cache signalling).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg2.extensions import cursor

from hf_historian import reader
from hf_historian.ingest.quota import NOTICE_PARAM, QUOTA_PREFIX, STORAGE_NOTICE_PARAM, samples_by_day, today, usage_of

from . import db as pg
from .errors import ProvisionError
from .odoo_setup import FLOAT_QUOTA_KEYS, TEXT_QUOTA_KEYS
from .settings import Settings
from .tenant_limits import limits_status


def require_connections(settings: Settings, db: str) -> None:
    if not pg.allows_connections(settings, db):
        raise ProvisionError(f"{db} is suspended or missing; resume it first.")


@contextmanager
def tenant_cursor(settings: Settings, db: str) -> Iterator[cursor]:
    """A cursor in a tenant's database, as the provisioner (ProvisionError when it is suspended)."""
    require_connections(settings, db)
    conn = pg.connect(settings, db)
    try:
        with conn.cursor() as cr:
            yield cr
    finally:
        conn.close()


def usage(settings: Settings, db: str) -> dict[str, Any]:
    """Tags, samples of the last 24 hours, what the tenant's ingest received (messages, payload bytes) and
    parked in the current UTC day (the day its daily quotas count), database size, the quotas set and the
    sentences the tenant is shown while a quota holds its data back (``notices``)."""
    with tenant_cursor(settings, db) as cr:
        cr.execute("SELECT count(*) FROM hf_uns_tag WHERE active")
        tags = pg.one_row(cr)[0]
        samples = reader.count_samples_since(cr, datetime.now(UTC) - timedelta(days=1))
        day = usage_of(cr, today())  # what the tenant's ingest counted today (hf_historian.ingest.quota)
        cr.execute("SELECT pg_database_size(current_database())")
        size = pg.one_row(cr)[0]
        cr.execute("SELECT key, value FROM ir_config_parameter WHERE key LIKE %s", (QUOTA_PREFIX + "%",))
        quotas: dict[str, Any] = {}
        for key, value in cr.fetchall():
            name = key[len(QUOTA_PREFIX) :]
            quotas[name] = (
                value if name in TEXT_QUOTA_KEYS else float(value) if name in FLOAT_QUOTA_KEYS else int(value)
            )
        cr.execute(
            "SELECT key, value FROM ir_config_parameter WHERE key IN (%s, %s) AND value != '' ORDER BY key",
            (NOTICE_PARAM, STORAGE_NOTICE_PARAM),
        )
        notices = [str(value) for _key, value in cr.fetchall()]
    return {
        "db": db,
        "tags": tags,
        "samples_per_day": samples,
        "samples_parked_today": day["parked"],
        "messages_today": day["messages"],
        "bytes_today": day["bytes"],
        "db_size_mb": round(size / 1048576, 1),
        "quotas": quotas,
        "notices": notices,
        # CPU seconds, throttling and memory from the tenant's cgroup, and whether limits apply at all
        **limits_status(settings, db),
    }


def daily_samples(settings: Settings, db: str, first: date, last: date) -> dict[date, int]:
    """Samples the tenant's ingest stored each UTC day from ``first`` to ``last`` (both included), as its
    ``hf_historian_daily_usage`` counts them (parked samples count on the day they are stored)."""
    with tenant_cursor(settings, db) as cr:
        return samples_by_day(cr, first, last)
