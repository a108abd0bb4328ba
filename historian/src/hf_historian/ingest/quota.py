"""A tenant's samples-per-day quota, enforced where the samples are spent: at its ingest.

hyperfactory-cloud writes the plan's ``hf_cloud.quota.samples_per_day`` into the tenant's system parameters
(``hf_saas.provision.set_quotas``). Within it, samples are stored as usual. Past it, a message's samples
are *parked*, not lost: the message is kept whole in ``hf_historian_parked`` (in the batch's transaction,
before it is acknowledged) and stored later — the next day, or as soon as a larger plan raises the quota —
in arrival order. ``hf_historian_daily_usage`` counts what each day stored and parked (the operator's usage
metering reads it), and the system parameter ``hf_uns.samples_parked`` tells the tenant, in a sentence,
while anything is parked. A database without the parameter has no quota.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime
from typing import Any

from hf_historian.schema import Cursor, one_row

_logger = logging.getLogger(__name__)
QUOTA_PARAM = "hf_cloud.quota.samples_per_day"
NOTICE_PARAM = "hf_uns.samples_parked"
PARKED_TABLE = "hf_historian_parked"
USAGE_TABLE = "hf_historian_daily_usage"
RELOAD_S = 30.0
REPLAY_BATCH = 500  # parked messages replayed per transaction

QUOTA_DDL = f"""
    CREATE TABLE IF NOT EXISTS {PARKED_TABLE} (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        payload bytea NOT NULL,
        samples integer NOT NULL,
        parked_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS {USAGE_TABLE} (
        day date PRIMARY KEY,
        samples bigint NOT NULL DEFAULT 0,
        parked bigint NOT NULL DEFAULT 0
    )
"""


def today() -> date:
    return datetime.now(UTC).date()


class SampleQuota:
    """How many samples today may still store (on the event loop: decided when a batch is decoded)."""

    def __init__(self) -> None:
        self.limit: int | None = None  # None: no quota
        self.day = today()
        self.used = 0  # samples stored (or on their way) today
        self.parked_waiting = 0  # messages parked and not stored yet
        self.loaded_at = 0.0
        self.loaded_before = False

    def load(self, cr: Cursor) -> None:
        """The quota, today's use and what waits parked, from the database (at start and every RELOAD_S)."""
        self.loaded_at = time.monotonic()
        cr.execute("SELECT to_regclass('ir_config_parameter') IS NOT NULL")
        self.limit = None
        if one_row(cr)[0]:
            cr.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (QUOTA_PARAM,))
            row = cr.fetchone()
            raw = row[0] if row else None
            try:
                self.limit = max(0, int(raw)) if raw not in (None, "") else None
            except ValueError:
                _logger.warning("%s is %r, not a number: no samples-per-day quota applied", QUOTA_PARAM, raw)
        if not self.loaded_before:  # once per process: the tables then exist
            cr.execute(QUOTA_DDL)
            self.loaded_before = True
        day = today()
        cr.execute(f"SELECT samples FROM {USAGE_TABLE} WHERE day = %s", (day,))
        row = cr.fetchone()
        if day != self.day or row is not None:
            self.day, self.used = day, max(self.used if day == self.day else 0, int(row[0]) if row else 0)
        cr.execute(f"SELECT count(*) FROM {PARKED_TABLE}")
        self.parked_waiting = int(one_row(cr)[0])

    def due(self) -> bool:
        return time.monotonic() - self.loaded_at > RELOAD_S or today() != self.day

    def room(self) -> int | None:
        """Samples today may still store; None without a quota."""
        if today() != self.day:
            self.day, self.used = today(), 0
        return None if self.limit is None else max(0, self.limit - self.used)

    def admit(self, samples: int) -> bool:
        """Whether a message with this many samples is stored now (and counted) or must be parked. Once
        anything waits parked, newer messages wait behind it: arrival order is kept."""
        room = self.room()
        if room is None or (samples <= room and not self.parked_waiting):
            self.used += samples
            return True
        self.parked_waiting += 1
        return False


def park(cr: Cursor, parked: list[tuple[str, bytes, int]], stored: int, limit: int | None) -> None:
    """Keep the parked messages and count the day (in the batch's transaction, before it is acknowledged)."""
    day = today()
    if parked:
        cr.executemany(
            f"INSERT INTO {PARKED_TABLE} (topic, payload, samples) VALUES (%s, %s, %s)",
            [(topic, payload, samples) for topic, payload, samples in parked],
        )
    if parked or stored:
        cr.execute(
            f"INSERT INTO {USAGE_TABLE} (day, samples, parked) VALUES (%s, %s, %s) ON CONFLICT (day) DO "
            f"UPDATE SET samples = {USAGE_TABLE}.samples + EXCLUDED.samples, "
            f"parked = {USAGE_TABLE}.parked + EXCLUDED.parked",
            (day, stored, sum(samples for _t, _p, samples in parked)),
        )
    if parked:
        _notice(
            cr,
            f"Samples beyond your plan's {limit} per day are parked, not lost, and stored once the plan "
            "allows more (tomorrow, or at once after an upgrade).",
        )


def take_parked(cr: Cursor, room: int | None) -> list[tuple[int, str, bytes, int]]:
    """The oldest parked messages that fit in ``room`` samples (locked for this transaction), in order."""
    cr.execute(
        f"SELECT id, topic, payload, samples FROM {PARKED_TABLE} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (REPLAY_BATCH,),
    )
    taken: list[tuple[int, str, bytes, int]] = []
    left = room
    for row_id, topic, payload, samples in cr.fetchall():
        if left is not None:
            if samples > left:
                break
            left -= samples
        taken.append((int(row_id), str(topic), bytes(payload), int(samples)))
    return taken


def release(cr: Cursor, taken: list[tuple[int, str, bytes, int]], stored: int) -> int:
    """Forget the replayed messages, count their samples as today's; returns how many still wait."""
    cr.execute(f"DELETE FROM {PARKED_TABLE} WHERE id = ANY(%s)", ([row[0] for row in taken],))
    cr.execute(
        f"INSERT INTO {USAGE_TABLE} (day, samples) VALUES (%s, %s) ON CONFLICT (day) DO UPDATE "
        f"SET samples = {USAGE_TABLE}.samples + EXCLUDED.samples",
        (today(), stored),
    )
    cr.execute(f"SELECT count(*) FROM {PARKED_TABLE}")
    waiting = int(one_row(cr)[0])
    if not waiting:
        _notice(cr, "")
    return waiting


def _notice(cr: Cursor, text: str) -> None:
    """The sentence the tenant sees while samples are parked ("" once none is)."""
    cr.execute("SELECT to_regclass('ir_config_parameter') IS NOT NULL")
    if not one_row(cr)[0]:
        return
    if text:
        cr.execute(
            "INSERT INTO ir_config_parameter (key, value, create_date, write_date) VALUES "
            "(%s, %s, now() at time zone 'utc', now() at time zone 'utc') ON CONFLICT (key) DO UPDATE SET "
            "value = EXCLUDED.value, write_date = EXCLUDED.write_date",
            (NOTICE_PARAM, text),
        )
    else:
        cr.execute("DELETE FROM ir_config_parameter WHERE key = %s", (NOTICE_PARAM,))


def usage_of(cr: Cursor, day: date) -> dict[str, Any]:
    cr.execute(f"SELECT samples, parked FROM {USAGE_TABLE} WHERE day = %s", (day,))
    row = cr.fetchone()
    return {"samples": int(row[0]) if row else 0, "parked": int(row[1]) if row else 0}
