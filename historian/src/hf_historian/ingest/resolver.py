"""Tags by UNS topic: a cache of hf_uns_tag, discovery of new tags under known workcells, type checks."""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass

import psycopg2

from hf_core.payload import MaybeValue, Value
from hf_core.uns import TagKey, UnsTopic
from hf_historian.schema import RETENTION_CODES, Cursor, one_row

_logger = logging.getLogger(__name__)
NEGATIVE_TTL_S = 5.0
# The bounds of discovery and of what is cached about tags that do not exist (settings in IngestSettings)
MAX_TAG_NAME_CHARS = 128  # a tag's $-joined name below its topic
UNKNOWN_CACHE_MAX = 10_000  # unknown tag topics remembered (NEGATIVE_TTL_S each)
DEFAULT_MAX_TAGS_PER_WORKCELL = 5_000
DEFAULT_MAX_NEW_TAGS_PER_MESSAGE = 100
# New tags one ingest discovers per minute at most. Each costs the ingest about 1 KB of cache for good (every
# active tag is cached) and an INSERT on the event loop: a flood of invented names under known workcells grew
# the ingest by 20 MB a minute towards the caps (100 workcells x 5,000 tags: 500,000 tags, about 550 MB;
# bench_historian.py --unknown-flood). Past it a name is dead-lettered, not remembered: it is discovered when
# it comes again in a later minute. Tags configured in Odoo (the collector's) are never discovered.
DEFAULT_MAX_NEW_TAGS_PER_MINUTE = 1_000
DISCOVERY_WINDOW_S = 60.0


class RejectedValue(Exception):
    """A value that cannot be stored for this tag; the message is the dead-letter reason."""


@dataclass(frozen=True, slots=True)
class TagInfo:
    tag_id: int
    data_type: str
    retention: int
    historian: bool
    role: str = "plain"  # hf_uns_tag.role: plain, machine_state, good_count, scrap_count, derived


# the roles whose samples a work order counts (hf_mrp's counters-to-work-orders job is woken for them)
COUNTER_ROLES = frozenset({"good_count", "scrap_count"})
HISTORIAN_CONTRACT = "_historian"


def infer_data_type(value: Value) -> str:
    """The type a discovered tag gets from its first value: every number is a float (a tag first seen
    with 21 then sending 21.5 must not have its fractional values dead-lettered)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float"
    return "string"


# float8 holds every integer up to this exactly; an int tag's value beyond it would be stored rounded
MAX_EXACT_INT = 2**53


def to_columns(tag: TagInfo, value: Value) -> tuple[float | None, str | None]:
    """(value, value_text) for the tag's data type, or :class:`RejectedValue` saying why not.

    The documented conversions: a string tag stores any value as its text (true/false for booleans); a
    numeric tag stores a boolean as 1/0; a bool tag takes 0/1. Anything else of another type than the
    tag's is refused (never a change of the tag's type)."""
    kind = tag.data_type
    if kind == "string":
        return None, value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, str):
        raise RejectedValue(f"a {kind} tag got the string {value[:40]!r}")
    if kind == "bool":
        if isinstance(value, bool) or value in (0, 1):
            return float(bool(value)), None
        raise RejectedValue(f"a bool tag got {value!r} (send true/false or 0/1)")
    if kind == "int" and isinstance(value, float) and not value.is_integer():
        raise RejectedValue(f"an int tag got {value!r}")
    if kind == "int" and not -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
        raise RejectedValue(f"an int tag got {value!r}, beyond 2**53 (float8 would store it rounded)")
    return float(value), None


class TagResolver:
    """Maps canonical tag topics to hf_uns_tag rows; one query per miss, misses cached briefly."""

    def __init__(
        self,
        cr: Cursor,
        *,
        discover: bool = True,
        max_tags_per_workcell: int = DEFAULT_MAX_TAGS_PER_WORKCELL,
        max_new_tags_per_message: int = DEFAULT_MAX_NEW_TAGS_PER_MESSAGE,
        max_new_tags_per_minute: int = DEFAULT_MAX_NEW_TAGS_PER_MINUTE,
    ) -> None:
        self.cr = cr
        self.discover = discover
        self.max_tags_per_workcell = max_tags_per_workcell
        self.max_new_tags_per_message = max_new_tags_per_message
        self.max_new_tags_per_minute = max_new_tags_per_minute
        self._window_started = time.monotonic()
        self._window_discovered = 0  # tags discovered since _window_started
        self._tags: dict[str, TagInfo] = {}
        self._workcells: dict[str, tuple[int, int | None]] = {}
        self._tags_per_workcell: dict[int, int] = {}
        self._unknown: dict[str, float] = {}
        # locations that are no workcell, for NEGATIVE_TTL_S: their names are refused without a query each
        self._unknown_locations: dict[str, float] = {}
        # message topic → $-joined name in the payload → tag: the decoder's hot-path cache
        self.by_message_name: dict[str, dict[str, TagInfo]] = {}
        self.discovered = 0
        self.loaded_at = 0.0
        # tags whose samples are machine counters (COUNTER_ROLES): a batch storing one wakes hf_mrp
        self.counter_tags: set[int] = set()
        # UMH Core data contracts declared in Odoo (hf_uns_data_contract): name -> the companies declaring it
        self.contracts: dict[str, set[int | None]] = {}
        # messages not stored because of their contract, by contract: undeclared ones, and _local (UMH's rule)
        self.undeclared: collections.Counter[str] = collections.Counter()
        self.local_skipped = 0
        self.load()

    def load(self) -> None:
        self.cr.execute(
            "SELECT topic, id, data_type, retention_class, historian, role FROM hf_uns_tag "
            "WHERE topic IS NOT NULL AND active"
        )
        self._tags = {
            topic: TagInfo(
                tag_id, data_type, RETENTION_CODES.get(rclass or "standard", 2), bool(historian), role or "plain"
            )
            for topic, tag_id, data_type, rclass, historian, role in self.cr.fetchall()
        }
        self.counter_tags = {tag.tag_id for tag in self._tags.values() if tag.role in COUNTER_ROLES}
        self.contracts = self._load_contracts()
        self.cr.execute("SELECT hf_uns_path, id, company_id FROM mrp_workcenter WHERE hf_uns_path IS NOT NULL")
        self._workcells = {path: (wid, company) for path, wid, company in self.cr.fetchall()}
        self.cr.execute("SELECT workcenter_id, count(*) FROM hf_uns_tag GROUP BY workcenter_id")
        self._tags_per_workcell = {wid: int(count) for wid, count in self.cr.fetchall()}
        self.by_message_name = {}
        self.loaded_at = time.monotonic()

    def _load_contracts(self) -> dict[str, set[int | None]]:
        # asked first, not caught: on a cursor inside a transaction (Odoo's) an error would abort it
        self.cr.execute("SELECT to_regclass('hf_uns_data_contract') IS NOT NULL")
        if not one_row(self.cr)[0]:  # hf_uns older than its data contracts: none declared
            return {}
        self.cr.execute("SELECT name, company_id FROM hf_uns_data_contract WHERE active")
        contracts: dict[str, set[int | None]] = {}
        for name, company in self.cr.fetchall():
            contracts.setdefault(name, set()).add(company)
        return contracts

    def workcell(self, location_path: tuple[str, ...]) -> tuple[int, int | None] | None:
        """(workcenter id, company id) of the workcell at ``location_path``, or None: the same cache (and
        the same brief memory of locations that are none) as tag discovery."""
        location = "/".join(location_path)
        workcell = self._workcells.get(location)
        if workcell is not None:
            return workcell
        now = time.monotonic()
        if self._unknown_locations.get(location, 0) > now:
            return None
        self.cr.execute("SELECT id, company_id FROM mrp_workcenter WHERE hf_uns_path = %s", (location,))
        found = self.cr.fetchone()
        if found:
            workcell = self._workcells[location] = (found[0], found[1])
            return workcell
        if len(self._unknown_locations) >= UNKNOWN_CACHE_MAX:
            self._unknown_locations.clear()
        self._unknown_locations[location] = now + NEGATIVE_TTL_S
        return None

    def declared(self, contract: str, location_path: tuple[str, ...]) -> bool:
        """True when ``contract`` is declared by the company of the workcell at ``location_path`` (or when
        that location is no workcell: the message is then dead-lettered as an unknown location)."""
        companies = self.contracts.get(contract)
        if not companies:
            return False
        workcell = self.workcell(location_path)
        return workcell is None or workcell[1] in companies or None in companies

    def resolve(self, topic: UnsTopic, name: str, value: MaybeValue, may_discover: bool = True) -> TagInfo:
        """The tag for ``name`` ($-joined below the topic's groups) under ``topic``'s location.

        Raises :class:`RejectedValue` for an unknown location (or tag, with discovery off or not allowed
        here: ``may_discover`` False once a message used its share, or its workcell reached its cap), and
        for an archived tag.
        """
        key = topic.tag_key(name)
        canonical = str(key.topic(topic.location_path, topic.data_contract))
        tag = self._tags.get(canonical)
        if tag is not None:
            return tag
        now = time.monotonic()
        if self._unknown.get(canonical, 0) > now:
            raise RejectedValue(f"no tag at {canonical} (unknown location or discovery off)")
        location = "/".join(topic.location_path)
        if self._unknown_locations.get(location, 0) > now:  # a flood of names to a location that is no workcell
            raise RejectedValue(f"unknown location: {canonical}")
        if self.discover and location in self._workcells and self._discovery_spent(now):
            # no query for each name of the flood: a tag made in Odoo meanwhile is found at the next load()
            raise RejectedValue(self._spent_reason())
        self.cr.execute(
            "SELECT id, data_type, retention_class, historian, role FROM hf_uns_tag WHERE topic = %s AND active",
            (canonical,),
        )
        row = self.cr.fetchone()
        if row:
            tag = TagInfo(row[0], row[1], RETENTION_CODES.get(row[2] or "standard", 2), bool(row[3]), row[4] or "plain")
            self._tags[canonical] = tag
            if tag.role in COUNTER_ROLES:
                self.counter_tags.add(tag.tag_id)
            return tag
        workcell = self.workcell(topic.location_path)
        if workcell is None or not self.discover:
            self._remember_unknown(canonical, now)
            what = "location" if workcell is None else "tag (discovery is off)"
            raise RejectedValue(f"unknown {what}: {canonical}")
        if not may_discover:
            raise RejectedValue(f"not discovered: more than {self.max_new_tags_per_message} new tags in one message")
        if self._tags_per_workcell.get(workcell[0], 0) >= self.max_tags_per_workcell:
            self._remember_unknown(canonical, now)
            raise RejectedValue(
                f"not discovered: the workcell {location} reached its cap of {self.max_tags_per_workcell} tags"
            )
        if self._discovery_spent(now):
            raise RejectedValue(self._spent_reason())
        return self._create_discovered(canonical, workcell, key, value, topic.data_contract)

    def _discovery_spent(self, now: float) -> bool:
        """True when this minute's max_new_tags_per_minute are discovered already."""
        if now - self._window_started >= DISCOVERY_WINDOW_S:
            self._window_started, self._window_discovered = now, 0
        return self._window_discovered >= self.max_new_tags_per_minute

    def _spent_reason(self) -> str:
        return (
            f"not discovered yet: this ingest discovered {self.max_new_tags_per_minute} new tags in the last "
            "minute (a flood of names?); it is discovered when it comes again in a later minute"
        )

    def _remember_unknown(self, canonical: str, now: float) -> None:
        """Cache a miss for NEGATIVE_TTL_S; at most UNKNOWN_CACHE_MAX of them (a flood of names is forgotten)."""
        if len(self._unknown) >= UNKNOWN_CACHE_MAX:
            self._unknown = {topic: until for topic, until in self._unknown.items() if until > now}
            if len(self._unknown) >= UNKNOWN_CACHE_MAX:
                self._unknown.clear()
        self._unknown[canonical] = now + NEGATIVE_TTL_S

    def _create_discovered(
        self,
        topic: str,
        workcell: tuple[int, int | None],
        key: TagKey,
        value: MaybeValue,
        contract: str = HISTORIAN_CONTRACT,
    ) -> TagInfo:
        data_type = "float" if value is None else infer_data_type(value)
        try:
            self._insert_discovered(topic, workcell, key, data_type, contract)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            raise  # the database is away: the caller retries the whole batch
        except psycopg2.Error as exc:
            # e.g. a NOT NULL column Odoo added that this insert does not know: dead-letter, go on
            self._remember_unknown(topic, time.monotonic())
            raise RejectedValue(f"could not create the discovered tag {topic}: {str(exc).strip()[:200]}") from exc
        tag_id, stored_type, active, historian, inserted = one_row(self.cr)
        if not active:  # archived (over the plan's quota, or by hand): it stays so, and stores nothing
            self._remember_unknown(topic, time.monotonic())
            raise RejectedValue(f"tag {topic} is archived: its samples are not stored")
        tag = TagInfo(tag_id, stored_type, RETENTION_CODES["standard"], bool(historian))
        self._tags[topic] = tag
        if inserted:
            self.discovered += 1
            self._window_discovered += 1
            self._tags_per_workcell[workcell[0]] = self._tags_per_workcell.get(workcell[0], 0) + 1
            _logger.info("discovered tag %s (%s)", topic, data_type)
        return tag

    def _insert_discovered(
        self,
        topic: str,
        workcell: tuple[int, int | None],
        key: TagKey,
        data_type: str,
        contract: str = HISTORIAN_CONTRACT,
    ) -> None:
        # data_contract is written for UMH Core's contracts only (NULL is _historian): the ingest keeps
        # discovering _historian tags in a database whose hf_uns predates that column
        column, value = (", data_contract", ", %s") if contract != HISTORIAN_CONTRACT else ("", "")
        self.cr.execute(
            f"""
            INSERT INTO hf_uns_tag (name, tag_group, workcenter_id, company_id, data_type, role, topic, historian,
                                    active, discovered, retention_class, sampling_interval_ms, deadband,
                                    scale_gain, scale_offset, modbus_unit_id, modbus_byte_order,
                                    modbus_word_order, create_date, write_date{column})
            VALUES (%s, %s, %s, %s, %s, 'plain', %s, true, true, true, 'standard', 1000, 0, 1, 0, 1, 'big', 'big',
                    now() at time zone 'utc', now() at time zone 'utc'{value})
            ON CONFLICT (topic) DO UPDATE SET write_date = hf_uns_tag.write_date  -- no change: only for RETURNING
            RETURNING id, data_type, active, historian, xmax = 0
            """,
            (
                key.name,
                key.tag_group or None,
                workcell[0],
                workcell[1],
                data_type,
                topic,
                *((contract,) if column else ()),
            ),
        )
