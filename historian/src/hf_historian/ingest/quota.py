"""A tenant's daily quotas (samples, bytes) and its storage quota, enforced where they are spent: at its ingest.

hyperfactory-cloud writes the plan's ``hf_cloud.quota.*`` into the tenant's system parameters
(``hf_saas.odoo_setup.apply_quotas``, the one writer). Within them, samples are stored as usual. Past the
samples or the bytes of the day, a message's samples are *parked*, not lost: the message is kept whole in
``hf_historian_parked`` (in the batch's transaction, before it is acknowledged) and stored later — the next
day, or as soon as a larger plan raises the quota — in arrival order. ``hf_historian_daily_usage`` counts,
per UTC day, what arrived (messages and bytes: the bandwidth the tenant used) and what was stored and parked
(the operator's usage metering and overage invoice read it); the system parameter ``hf_uns.samples_parked``
tells the tenant, in a sentence, while anything is parked. A database without a parameter has no such quota.

Storage: the ingest measures the database (``pg_database_size``, a stat of its files: cheap at every
RELOAD_S) against ``hf_cloud.quota.storage_mb``. Over it, the plan's ``hf_cloud.quota.storage_policy`` says
what happens: ``shorten_retention`` drops the oldest raw days (:func:`hf_historian.retention.shorten_to_size`,
never today's) until the database fits, ``pause_ingest`` parks new samples while it does not (as does
``shorten_retention`` when only today's data is left); ``hf_uns.storage_full`` tells the tenant. The check
lives here, not in the retention cron, because the ingest is what makes the database grow: it sees the quota
reached within RELOAD_S and is the one that can stop writing; a cron every few hours could not pause anything.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime

from hf_historian.schema import Cursor, one_row

_logger = logging.getLogger(__name__)
QUOTA_PREFIX = "hf_cloud.quota."
QUOTA_PARAM = QUOTA_PREFIX + "samples_per_day"
BYTES_QUOTA_PARAM = QUOTA_PREFIX + "bytes_per_day"
STORAGE_QUOTA_PARAM = QUOTA_PREFIX + "storage_mb"
STORAGE_POLICY_PARAM = QUOTA_PREFIX + "storage_policy"
SHORTEN_RETENTION = "shorten_retention"
PAUSE_INGEST = "pause_ingest"
STORAGE_POLICIES = (SHORTEN_RETENTION, PAUSE_INGEST)
NOTICE_PARAM = "hf_uns.samples_parked"
STORAGE_NOTICE_PARAM = "hf_uns.storage_full"
PARKED_TABLE = "hf_historian_parked"
USAGE_TABLE = "hf_historian_daily_usage"
RELOAD_S = 30.0
REPLAY_BATCH = 500  # parked messages replayed per transaction

# messages, bytes: what arrived that day (every message, whatever became of it); samples, stored_bytes: what
# was stored that day (at arrival or replayed), which the quotas count; parked: samples parked that day.
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
    );
    ALTER TABLE {USAGE_TABLE}
        ADD COLUMN IF NOT EXISTS messages bigint NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS bytes bigint NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS stored_bytes bigint NOT NULL DEFAULT 0
"""


def today() -> date:
    return datetime.now(UTC).date()


def _params(cr: Cursor, keys: tuple[str, ...]) -> dict[str, str]:
    cr.execute("SELECT to_regclass('ir_config_parameter') IS NOT NULL")
    if not one_row(cr)[0]:
        return {}
    cr.execute("SELECT key, value FROM ir_config_parameter WHERE key = ANY(%s)", (list(keys),))
    return {str(key): str(value) for key, value in cr.fetchall()}


def _count(params: dict[str, str], key: str, scale: int = 1) -> int | None:
    raw = params.get(key)
    if raw in (None, ""):
        return None
    try:
        return max(0, int(str(raw))) * scale
    except ValueError:
        _logger.warning("%s is %r, not a number: that quota is not applied", key, raw)
        return None


def database_size(cr: Cursor) -> int:
    """The database's size in bytes, as the storage quota counts it."""
    cr.execute("SELECT pg_database_size(current_database())")
    return int(one_row(cr)[0])


class DailyQuota:
    """What today may still store (on the event loop: decided when a batch is decoded), and whether the
    database is over its storage quota."""

    def __init__(self) -> None:
        self.limit: int | None = None  # samples per day; None: no quota
        self.bytes_limit: int | None = None  # payload bytes per day
        self.storage_limit: int | None = None  # database bytes
        self.storage_policy = PAUSE_INGEST
        self.day = today()
        self.used = 0  # samples stored (or on their way) today
        self.bytes_used = 0  # their messages' payload bytes
        self.parked_waiting = 0  # messages parked and not stored yet
        self.db_size = 0
        self.storage_full = False  # new samples are parked: over the storage quota with nothing left to drop
        self.shorten_due = False  # over the storage quota and the plan drops the oldest raw days
        self.parked_reason = "samples"  # why the last message parked for its own sake was: samples, bytes, storage
        self.loaded_at = 0.0
        self.loaded_before = False

    def load(self, cr: Cursor) -> None:
        """The quotas, today's use and what waits parked, from the database (at start and every RELOAD_S)."""
        self.loaded_at = time.monotonic()
        params = _params(
            cr, (QUOTA_PARAM, BYTES_QUOTA_PARAM, STORAGE_QUOTA_PARAM, STORAGE_POLICY_PARAM, STORAGE_NOTICE_PARAM)
        )
        self.limit = _count(params, QUOTA_PARAM)
        self.bytes_limit = _count(params, BYTES_QUOTA_PARAM)
        self.storage_limit = _count(params, STORAGE_QUOTA_PARAM, 1024 * 1024)
        policy = params.get(STORAGE_POLICY_PARAM) or PAUSE_INGEST
        if policy not in STORAGE_POLICIES:
            _logger.warning(
                "%s is %r, not one of %s: pausing at the quota", STORAGE_POLICY_PARAM, policy, STORAGE_POLICIES
            )
            policy = PAUSE_INGEST
        self.storage_policy = policy
        if not self.loaded_before:  # once per process: the tables then exist
            cr.execute(QUOTA_DDL)
            self.loaded_before = True
        day = today()
        cr.execute(f"SELECT samples, stored_bytes FROM {USAGE_TABLE} WHERE day = %s", (day,))
        row = cr.fetchone()
        if day != self.day:
            self.day, self.used, self.bytes_used = day, 0, 0
        if row is not None:  # another ingest of the tenant (or a restart) counts too
            self.used, self.bytes_used = max(self.used, int(row[0])), max(self.bytes_used, int(row[1]))
        cr.execute(f"SELECT count(*) FROM {PARKED_TABLE}")
        self.parked_waiting = int(one_row(cr)[0])
        self.check_storage(cr, had_notice=STORAGE_NOTICE_PARAM in params)

    def check_storage(
        self, cr: Cursor, *, had_notice: bool, shortened: bool = False, kept_from: date | None = None
    ) -> None:
        """Measure the database against the storage quota and say so to the tenant when that changes.
        ``shortened``: the oldest raw days were just dropped (from ``kept_from`` on is kept; None: none was)."""
        was_full, over = self.storage_full, False
        if self.storage_limit is not None:
            self.db_size = database_size(cr)
            over = self.db_size > self.storage_limit
        if not over:
            self.shorten_due = self.storage_full = False
        elif self.storage_policy == PAUSE_INGEST or shortened:
            self.shorten_due, self.storage_full = False, True  # paused (or nothing older than today left to drop)
        else:
            self.shorten_due = True  # the writer drops the oldest days; storage_full stays as it was until then
        mb = (self.storage_limit or 0) // (1024 * 1024)
        if self.storage_full:
            if not was_full:
                _logger.warning(
                    "database %.1f MB, over its storage quota of %d MB: new samples are parked",
                    self.db_size / 1048576,
                    mb,
                )
            if self.storage_policy == PAUSE_INGEST:
                text = (
                    f"Your database has reached its plan's {mb} MB of storage: new samples are parked, not lost, and "
                    "stored once there is room (buy storage or change plan)."
                )
            else:
                text = (
                    f"Your database has reached its plan's {mb} MB of storage with only today's raw history left: new "
                    "samples are parked, not lost, and stored once there is room (buy storage or change plan)."
                )
            _notice(cr, STORAGE_NOTICE_PARAM, text)
        elif shortened and kept_from is not None:
            _notice(
                cr,
                STORAGE_NOTICE_PARAM,
                f"Your database reached its plan's {mb} MB of storage: raw history before {kept_from.isoformat()} was "
                "dropped to make room (rollups are kept). Buy storage or change plan to keep more.",
            )
        elif had_notice and not over and (self.storage_limit is None or self.db_size < 0.8 * self.storage_limit):
            _notice(cr, STORAGE_NOTICE_PARAM, "")  # the tenant has room again (a larger plan, or data dropped)

    def due(self) -> bool:
        return time.monotonic() - self.loaded_at > RELOAD_S or today() != self.day

    def _new_day(self) -> None:
        if today() != self.day:
            self.day, self.used, self.bytes_used = today(), 0, 0

    def room(self) -> int | None:
        """Samples today may still store; None without a quota."""
        self._new_day()
        return None if self.limit is None else max(0, self.limit - self.used)

    def bytes_room(self) -> int | None:
        """Payload bytes today may still store; None without a quota."""
        self._new_day()
        return None if self.bytes_limit is None else max(0, self.bytes_limit - self.bytes_used)

    def may_replay(self) -> bool:
        """Whether parked messages could be stored now (room today, and in the database)."""
        return bool(self.parked_waiting) and self.room() != 0 and self.bytes_room() != 0 and not self.storage_full

    def admit(self, samples: int, size: int) -> bool:
        """Whether a message with this many samples and payload bytes is stored now (and counted) or must be
        parked. Once anything waits parked, newer messages wait behind it: arrival order is kept."""
        room, bytes_room = self.room(), self.bytes_room()
        if self.storage_full:
            self.parked_reason = "storage"
        elif bytes_room is not None and size > bytes_room:
            self.parked_reason = "bytes"
        elif room is not None and samples > room:
            self.parked_reason = "samples"
        elif not self.parked_waiting:
            self.used += samples
            self.bytes_used += size
            return True
        self.parked_waiting += 1
        return False

    def why_parked(self) -> str:
        """The sentence the tenant reads while samples are parked."""
        if self.parked_reason == "storage":
            return (
                "Your database is at its plan's storage: new samples are parked, not lost, and stored once there "
                "is room (buy storage or change plan)."
            )
        if self.parked_reason == "bytes":
            return (
                f"Messages beyond your plan's {(self.bytes_limit or 0) / 1048576:,.0f} MB per day are parked, not "
                "lost, and stored once the plan allows more (tomorrow, or at once after an upgrade)."
            )
        return (
            f"Samples beyond your plan's {self.limit} per day are parked, not lost, and stored once the plan "
            "allows more (tomorrow, or at once after an upgrade)."
        )


def count_day(
    cr: Cursor,
    parked: list[tuple[str, bytes, int]],
    stored: int,
    stored_bytes: int,
    received: tuple[int, int],
    why: str,
) -> None:
    """Keep the parked messages and count the day: what arrived (``received``: messages, bytes), what was
    stored, what was parked (in the batch's transaction, before it is acknowledged)."""
    if parked:
        cr.executemany(
            f"INSERT INTO {PARKED_TABLE} (topic, payload, samples) VALUES (%s, %s, %s)",
            [(topic, payload, samples) for topic, payload, samples in parked],
        )
    if parked or stored or received[0]:
        cr.execute(
            f"INSERT INTO {USAGE_TABLE} (day, samples, parked, stored_bytes, messages, bytes) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (day) DO UPDATE SET "
            f"samples = {USAGE_TABLE}.samples + EXCLUDED.samples, parked = {USAGE_TABLE}.parked + EXCLUDED.parked, "
            f"stored_bytes = {USAGE_TABLE}.stored_bytes + EXCLUDED.stored_bytes, "
            f"messages = {USAGE_TABLE}.messages + EXCLUDED.messages, bytes = {USAGE_TABLE}.bytes + EXCLUDED.bytes",
            (today(), stored, sum(samples for _t, _p, samples in parked), stored_bytes, *received),
        )
    if parked:
        _notice(cr, NOTICE_PARAM, why)


def take_parked(cr: Cursor, room: int | None, bytes_room: int | None) -> list[tuple[int, str, bytes, int]]:
    """The oldest parked messages that fit in ``room`` samples and ``bytes_room`` payload bytes (locked for
    this transaction), in order."""
    cr.execute(
        f"SELECT id, topic, payload, samples FROM {PARKED_TABLE} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (REPLAY_BATCH,),
    )
    taken: list[tuple[int, str, bytes, int]] = []
    left, bytes_left = room, bytes_room
    for row_id, topic, payload, samples in cr.fetchall():
        size = len(payload)
        if (left is not None and samples > left) or (bytes_left is not None and size > bytes_left):
            break
        if left is not None:
            left -= samples
        if bytes_left is not None:
            bytes_left -= size
        taken.append((int(row_id), str(topic), bytes(payload), int(samples)))
    return taken


def release(cr: Cursor, taken: list[tuple[int, str, bytes, int]], stored: int) -> int:
    """Forget the replayed messages, count their samples and bytes as today's; returns how many still wait."""
    cr.execute(f"DELETE FROM {PARKED_TABLE} WHERE id = ANY(%s)", ([row[0] for row in taken],))
    cr.execute(
        f"INSERT INTO {USAGE_TABLE} (day, samples, stored_bytes) VALUES (%s, %s, %s) ON CONFLICT (day) DO UPDATE "
        f"SET samples = {USAGE_TABLE}.samples + EXCLUDED.samples, "
        f"stored_bytes = {USAGE_TABLE}.stored_bytes + EXCLUDED.stored_bytes",
        (today(), stored, sum(len(row[2]) for row in taken)),
    )
    cr.execute(f"SELECT count(*) FROM {PARKED_TABLE}")
    waiting = int(one_row(cr)[0])
    if not waiting:
        _notice(cr, NOTICE_PARAM, "")
    return waiting


def _notice(cr: Cursor, key: str, text: str) -> None:
    """A sentence the tenant sees while it holds ("" once it does not)."""
    cr.execute("SELECT to_regclass('ir_config_parameter') IS NOT NULL")
    if not one_row(cr)[0]:
        return
    if text:
        cr.execute(
            "INSERT INTO ir_config_parameter (key, value, create_date, write_date) VALUES "
            "(%s, %s, now() at time zone 'utc', now() at time zone 'utc') ON CONFLICT (key) DO UPDATE SET "
            "value = EXCLUDED.value, write_date = EXCLUDED.write_date "
            "WHERE ir_config_parameter.value IS DISTINCT FROM EXCLUDED.value",  # said once, not every RELOAD_S
            (key, text),
        )
    else:
        cr.execute("DELETE FROM ir_config_parameter WHERE key = %s", (key,))


def usage_of(cr: Cursor, day: date) -> dict[str, int]:
    """What the tenant's ingest counted on ``day``: samples stored and parked, messages and bytes received
    (zeros before any ingest ran; messages and bytes 0 while only an ingest older than their count did)."""
    cr.execute("SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0", (USAGE_TABLE,))
    columns = {str(row[0]) for row in cr.fetchall()}
    names = [name for name in ("samples", "parked", "messages", "bytes") if name in columns]
    counts = dict.fromkeys(("samples", "parked", "messages", "bytes"), 0)
    if names:
        cr.execute(f"SELECT {', '.join(names)} FROM {USAGE_TABLE} WHERE day = %s", (day,))
        row = cr.fetchone()
        counts.update(zip(names, (int(value) for value in row or [0] * len(names)), strict=True))
    return counts


def samples_by_day(cr: Cursor, first: date, last: date) -> dict[date, int]:
    """Samples stored each UTC day from ``first`` to ``last`` (both included; parked samples count on the day
    they are stored): what a monthly overage invoice bills. Empty before any ingest ran."""
    cr.execute("SELECT to_regclass(%s) IS NOT NULL", (USAGE_TABLE,))
    if not one_row(cr)[0]:
        return {}
    cr.execute(f"SELECT day, samples FROM {USAGE_TABLE} WHERE day BETWEEN %s AND %s ORDER BY day", (first, last))
    return {day: int(samples) for day, samples in cr.fetchall()}
