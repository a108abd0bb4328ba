"""A tenant's usage against its plan, read from its database (tags, samples of the last 24 hours, size).

Quotas are written one way only: through Odoo, by :func:`hf_saas.odoo_setup.apply_quotas`
(``ir.config_parameter``, whose change running workers hear through Odoo's cache signalling).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from psycopg2.extensions import cursor

from . import db as pg
from .errors import ProvisionError
from .odoo_setup import QUOTA_PREFIX
from .settings import Settings


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
    """Tags, samples of the last 24 hours, samples parked today and database size, with the quotas set."""
    with tenant_cursor(settings, db) as cr:
        cr.execute("SELECT count(*) FROM hf_uns_tag WHERE active")
        tags = pg.one_row(cr)[0]
        cr.execute("SELECT to_regclass('hf_historian_sample') IS NOT NULL")
        samples = 0
        if pg.one_row(cr)[0]:
            cr.execute("SELECT count(*) FROM hf_historian_sample WHERE time > now() - interval '1 day'")
            samples = pg.one_row(cr)[0]
        parked = 0
        cr.execute("SELECT to_regclass('hf_historian_daily_usage') IS NOT NULL")
        if pg.one_row(cr)[0]:  # what the tenant's ingest parked today, over the plan's samples per day
            cr.execute(
                "SELECT coalesce(sum(parked), 0) FROM hf_historian_daily_usage "
                "WHERE day = (now() at time zone 'utc')::date"
            )
            parked = int(pg.one_row(cr)[0])
        cr.execute("SELECT pg_database_size(current_database())")
        size = pg.one_row(cr)[0]
        cr.execute("SELECT key, value FROM ir_config_parameter WHERE key LIKE %s", (QUOTA_PREFIX + "%",))
        quotas = {k[len(QUOTA_PREFIX) :]: int(v) for k, v in cr.fetchall()}
    return {
        "db": db,
        "tags": tags,
        "samples_per_day": samples,
        "samples_parked_today": parked,
        "db_size_mb": round(size / 1048576, 1),
        "quotas": quotas,
    }


def daily_samples(settings: Settings, db: str, first: date, last: date) -> dict[date, int]:
    """Samples the tenant's ingest stored each UTC day from ``first`` to ``last`` (both included), as its
    ``hf_historian_daily_usage`` counts them (parked samples count on the day they are stored)."""
    with tenant_cursor(settings, db) as cr:
        cr.execute("SELECT to_regclass('hf_historian_daily_usage') IS NOT NULL")
        if not pg.one_row(cr)[0]:
            return {}
        cr.execute(
            "SELECT day, samples FROM hf_historian_daily_usage WHERE day BETWEEN %s AND %s ORDER BY day", (first, last)
        )
        return {day: int(samples) for day, samples in cr.fetchall()}
