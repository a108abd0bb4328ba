"""One MQTT message → historian samples and dead letters (pure: no I/O besides tag resolution)."""

from __future__ import annotations

import time

from hf_core.errors import HfError
from hf_core.payload import decode_values
from hf_core.types import Quality
from hf_core.uns import TAG_GROUP_SEPARATOR, UnsTopic, is_valid_segment
from hf_historian.ingest.deadletter import DeadLetter
from hf_historian.ingest.mqtt_wire import MAX_PACKET_SIZE, OversizedPayload
from hf_historian.ingest.resolver import (
    MAX_TAG_NAME_CHARS,
    UNKNOWN_CACHE_MAX,
    RejectedValue,
    TagResolver,
    to_columns,
)
from hf_historian.writer import Sample, SampleRow

# Topics repeat (one per workcell and tag group): parse each once. Bounded against topic floods.
_TOPIC_CACHE_MAX = 100_000
_topics: dict[str, UnsTopic | str] = {}


def _parse_topic(topic: str) -> UnsTopic | str:
    """The parsed topic, or the reason it does not parse."""
    parsed = _topics.get(topic)
    if parsed is None:
        try:
            parsed = UnsTopic.parse(topic)
        except HfError as exc:
            parsed = f"bad topic: {exc}"
        if len(_topics) >= _TOPIC_CACHE_MAX:
            _topics.clear()
        _topics[topic] = parsed
    return parsed


def decode_message(
    topic: str, payload: bytes, resolver: TagResolver, samples: list[SampleRow], dead: list[DeadLetter]
) -> None:
    """Append this message's storable samples to ``samples`` and what cannot be stored to ``dead``.

    Never raises for anything a publisher can send: whatever cannot be stored becomes a dead letter
    (a poison message that stopped the ingest would be redelivered for ever). Database errors of the
    resolver (psycopg2.OperationalError) do propagate: the caller retries the batch.
    """
    parsed = _parse_topic(topic)
    if isinstance(parsed, str):
        dead.append(DeadLetter(topic, payload, parsed))
        return
    if parsed.data_contract != "_historian":
        return  # _analytics and others are not historian samples
    if type(payload) is OversizedPayload:  # skipped by the MQTT reader, never buffered whole
        dead.append(DeadLetter(topic, payload, f"bad payload: a PUBLISH of {payload.size} bytes exceeds the "
                                               f"{MAX_PACKET_SIZE} byte limit (skipped, never buffered whole)"))
        return
    try:
        # the contract's limits (hf_core.payload: text PostgreSQL can hold, float8's range, nesting, values
        # per message, the timestamps the historian accepts) are checked there, value by value
        timestamp_ms, values, refused = decode_values(payload, int(time.time() * 1000))
    except HfError as exc:
        dead.append(DeadLetter(topic, payload, f"bad payload: {exc}"))
        return
    rejected = [f"{name[:80]!r}: {why}" for name, why in refused]
    known = resolver.by_message_name.get(topic)
    if known is None:
        if len(resolver.by_message_name) >= UNKNOWN_CACHE_MAX:  # a flood of topics: start over
            resolver.by_message_name.clear()
        known = resolver.by_message_name[topic] = {}
    discovered = 0
    for name, value in values:
        tag = known.get(name)
        try:
            if tag is None:
                if len(name) > MAX_TAG_NAME_CHARS:
                    raise RejectedValue(f"a tag name longer than {MAX_TAG_NAME_CHARS} characters")
                if not all(is_valid_segment(part) for part in name.split(TAG_GROUP_SEPARATOR)):
                    raise RejectedValue("a tag name may only contain letters, digits, '_' and '-'")
                before = resolver.discovered
                tag = resolver.resolve(parsed, name, value, discovered < resolver.max_new_tags_per_message)
                discovered += resolver.discovered - before
                known[name] = tag
            if not tag.historian:
                continue
            if value is None:  # the collector could not read it: keep the gap, marked bad
                samples.append(Sample(tag.tag_id, timestamp_ms, None, None, Quality.BAD, tag.retention))
                continue
            if tag.data_type == "float" and type(value) in (float, int):  # the hot path; bool is not int here
                # a plain tuple: NamedTuple's generated __new__ is a Python call per sample (13 % of the CPU)
                samples.append((tag.tag_id, timestamp_ms, float(value), None, 0, tag.retention))
                continue
            number, text = to_columns(tag, value)
        except RejectedValue as exc:
            rejected.append(f"{name[:80]!r}: {exc}")
            continue
        samples.append(Sample(tag.tag_id, timestamp_ms, number, text, 0, tag.retention))
    if rejected:
        dead.append(DeadLetter(topic, payload, "; ".join(rejected)))
