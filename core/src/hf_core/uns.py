"""The UNS topic grammar (UMH v1 compatible), shared by the collector, the ingest and Odoo.

Grammar::

    umh/v1/<enterprise>[/<site>[/<area>[/<line>[/<workcell>]]]][/<origin>]/<_schema>[/<group>...]/<tag>

Every segment matches ``[A-Za-z0-9_-]+``. The data contract (``_schema``) is the first segment
that starts with an underscore; what precedes it is the location path (enterprise first, then any
number of levels, as benthos-umh accepts: site, area, line, workcell, an origin…), what follows it is
the virtual path (tag groups) and the tag.

Valid::

    umh/v1/acme/_historian/temperature                      (enterprise only)
    umh/v1/acme/berlin/press/line1/press1/_historian/axis/x (tag group "axis", tag "x")
    umh/v1/acme/berlin/press/line1/press1/_analytics/work-order/start

Invalid::

    umh/v2/acme/_historian/t          (wrong prefix)
    umh/v1/_historian/t               (no enterprise)
    umh/v1/acme/bad seg/_historian/t  (space in a segment)
    umh/v1/acme/site/area             (no data contract)

The tag key (:class:`TagKey`) is a tag's name inside its workcell's message: its tag groups and its name
joined with ``$``, each part a segment as above::

    x              (no tag group)
    axis$x         (tag group "axis", tag "x")
    axis$motor$x   (tag groups "axis", "motor", tag "x")

and not ``""``, ``axis$`` / ``$x`` / ``axis$$x`` (an empty part) or ``axis/x`` (a part with '/'). A tag group
is typed ``$``- or ``/``-separated (``axis$motor`` or ``axis/motor``, :meth:`TagKey.from_group`); in a topic
the groups are levels (``.../_historian/axis/motor/x``); in a payload they are nested objects
(``{"axis": {"motor": {"x": 1}}}``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from hf_core.errors import ConfigError

TOPIC_PREFIX = ("umh", "v1")
SEGMENT_PATTERN = re.compile(r"[A-Za-z0-9_-]+")  # whole segments only: fullmatch, never match
TAG_GROUP_SEPARATOR = "$"
# how a tag group may be typed (Odoo's tag form, a CSV import): "axis$motor" or "axis/motor"
_TYPED_GROUP_SEPARATORS = re.compile(r"[$/]")
# UMH's own data contracts: _historian (UMH Classic time series, many tags per message), _analytics (UMH
# Classic production events), _raw (UMH Core: time series one tag per topic, not yet modelled), _local (UMH
# Core: never leaves the plant, never stored). Any other contract is a customer's own (e.g. _pump_v1).
KNOWN_SCHEMAS = frozenset({"_historian", "_analytics", "_raw", "_local"})


class TopicError(ConfigError):
    """A topic that does not follow the UNS grammar."""


def is_valid_segment(segment: str) -> bool:
    """True when ``segment`` may stand as one level of a UNS topic."""
    return bool(SEGMENT_PATTERN.fullmatch(segment or ""))


def segment_from_name(name: str) -> str:
    """The UNS segment for a display name, wherever a name is typed (Odoo, the onboarding form, a PLC's
    browse names): accents folded, every other run of characters a segment cannot hold becomes one '_'.
    'Press Line 1' -> 'Press_Line_1', 'Presse Müller' -> 'Presse_Muller'. "" when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_name.strip()).strip("_")


def check_segment(segment: str, what: str = "segment") -> str:
    """Return ``segment`` unchanged, or raise :class:`TopicError` saying how to fix it."""
    if not is_valid_segment(segment):
        raise TopicError(
            f"{what} {segment!r} may only contain letters, digits, '_' and '-' (no spaces, '/', '+', '#' or '$')."
        )
    return segment


def split_tag_group(tag_group: str) -> tuple[str, ...]:
    """The groups of a typed tag group, ``$``- or ``/``-separated, empty parts dropped (not validated:
    :meth:`TagKey.from_group` validates)."""
    return tuple(g for g in _TYPED_GROUP_SEPARATORS.split(tag_group) if g) if tag_group else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TagKey:
    """A tag's name inside its workcell's message: tag groups and tag name, ``$``-joined (``axis$x``).

    ``TagKey(groups=("axis",), name="x")``, ``TagKey.parse("axis$x")``, ``TagKey.from_group("axis/motor", "x")``;
    ``str(key)`` is the ``$``-joined name. Every part is checked as a segment (:class:`TopicError` otherwise).
    """

    name: str
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for group in self.groups:
            check_segment(group, "tag group")
        check_segment(self.name, "tag")

    @classmethod
    def parse(cls, key: str) -> TagKey:
        """``axis$x`` -> ``TagKey(groups=("axis",), name="x")``."""
        *groups, name = key.split(TAG_GROUP_SEPARATOR)
        return cls(name=name, groups=tuple(groups))

    @classmethod
    def from_group(cls, tag_group: str, name: str) -> TagKey:
        """The key of tag ``name`` under a typed tag group (``$``- or ``/``-separated, may be empty)."""
        return cls(name=name, groups=split_tag_group(tag_group))

    @property
    def parts(self) -> tuple[str, ...]:
        """Groups then name: the topic levels after the data contract."""
        return (*self.groups, self.name)

    @property
    def tag_group(self) -> str:
        """The groups ``$``-joined (``axis$motor``), ``""`` without groups: Odoo's ``tag_group`` field."""
        return TAG_GROUP_SEPARATOR.join(self.groups)

    def below(self, key: str) -> TagKey:
        """The key ``key`` (``$``-joined) names below this one: a payload name under a topic's tag."""
        return TagKey.parse(TAG_GROUP_SEPARATOR.join((*self.parts, key)))

    def topic(self, location_path: tuple[str, ...], data_contract: str = "_historian") -> UnsTopic:
        """The one-tag topic of this key under a location: groups become levels."""
        return UnsTopic(location_path, data_contract, self.groups, self.name)

    def __str__(self) -> str:
        return TAG_GROUP_SEPARATOR.join(self.parts) if self.groups else self.name


@dataclass(frozen=True, slots=True)
class UnsTopic:
    """A parsed UNS topic, in benthos-umh's vocabulary."""

    location_path: tuple[str, ...]
    data_contract: str
    virtual_path: tuple[str, ...] = ()
    tag_name: str = ""

    def __post_init__(self) -> None:
        if not self.location_path:
            raise TopicError("A UNS topic needs at least the enterprise level.")
        for index, segment in enumerate(self.location_path):
            check_segment(segment, f"location level {index}")
            if segment.startswith("_"):
                raise TopicError(f"location level {index} {segment!r} may not start with '_'.")
        if not self.data_contract.startswith("_") or not is_valid_segment(self.data_contract):
            raise TopicError(f"data contract {self.data_contract!r} must start with '_' (e.g. _historian).")
        for segment in self.virtual_path:
            check_segment(segment, "tag group")
        if self.tag_name:
            check_segment(self.tag_name, "tag")

    @classmethod
    def parse(cls, topic: str) -> UnsTopic:
        """Parse a topic string; raise :class:`TopicError` naming the offending segment index."""
        parts = topic.split("/")
        if tuple(parts[:2]) != TOPIC_PREFIX:
            raise TopicError(f"topic {topic!r} does not start with 'umh/v1/'.")
        rest = parts[2:]
        for index, segment in enumerate(rest, start=2):
            if not is_valid_segment(segment):
                raise TopicError(
                    f"segment {index} {segment!r} of topic {topic!r} may only contain letters, digits, '_' and '-'."
                )
        schema_index = next((i for i, seg in enumerate(rest) if seg.startswith("_")), None)
        if schema_index is None:
            raise TopicError(f"topic {topic!r} has no data contract segment (e.g. _historian).")
        after = rest[schema_index + 1 :]
        return cls(
            location_path=tuple(rest[:schema_index]),
            data_contract=rest[schema_index],
            virtual_path=tuple(after[:-1]),
            tag_name=after[-1] if after else "",
        )

    @property
    def location(self) -> str:
        """The location path joined with dots, as UMH writes it (``acme.berlin.press``)."""
        return ".".join(self.location_path)

    @property
    def workcell_topic(self) -> UnsTopic:
        """The topic of the whole message this topic's tag travels in: location and data contract only."""
        return UnsTopic(self.location_path, self.data_contract)

    def tag_key(self, name: str = "") -> TagKey:
        """The key of the tag this topic names (``.../_historian/axis/x`` -> ``axis$x``), with ``name``
        (``$``-joined, from the payload) below it. :class:`TopicError` when neither names a tag."""
        parts = (*self.virtual_path, self.tag_name) if self.tag_name else self.virtual_path
        if not parts:
            if not name:
                raise TopicError(f"topic {self} names no tag.")
            return TagKey.parse(name)
        key = TagKey(name=parts[-1], groups=parts[:-1])
        return key.below(name) if name else key

    @property
    def full_tag_name(self) -> str:
        """Tag groups and tag joined with ``$`` (``axis$x``), or ``""`` for a multi-tag topic."""
        return str(self.tag_key()) if self.tag_name else ""

    def __str__(self) -> str:
        parts = [*TOPIC_PREFIX, *self.location_path, self.data_contract, *self.virtual_path]
        if self.tag_name:
            parts.append(self.tag_name)
        return "/".join(parts)


def build_topic(
    location_path: tuple[str, ...] | list[str],
    tag_name: str = "",
    tag_group: str = "",
    data_contract: str = "_historian",
) -> str:
    """Topic for one tag: tag groups may be given ``$``- or ``/``-separated (``axis$x``)."""
    return str(
        UnsTopic(
            location_path=tuple(location_path),
            data_contract=data_contract,
            virtual_path=split_tag_group(tag_group),
            tag_name=tag_name,
        )
    )
