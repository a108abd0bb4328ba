"""One MQTT message → historian samples, analytics events and dead letters (no I/O besides tag resolution).

By data contract (the topic's first ``_`` segment):

- ``_historian``: UMH Classic, ``{"timestamp_ms": …, "<tag>": …, …}``, many tags per message. A message
  of exactly ``{"timestamp_ms": …, "value": …}`` on a topic that names a tag is UMH Core's "one tag, one
  message, one topic" (UMH Core docs, *Payload Formats*: ``umh.v1.acme._historian.weather.temperature
  {"value": 23.4, "timestamp_ms": …}``): the tag is the topic's last segment, not a tag called ``value``.
- ``_raw`` and the contracts declared in Odoo (``hf_uns_data_contract``): UMH Core time series only,
  ``{"timestamp_ms": <int>, "value": <number|bool|string>}``, the tag the topic's last segment, its groups
  the segments between the contract and the tag; anything else there is dead-lettered with the reason.
- ``_analytics``: UMH Classic production events (hf_core.analytics), validated and stored as events.
- ``_local``: never stored (UMH's rule), counted; any other contract is counted as undeclared.
"""

from __future__ import annotations

import time

from hf_core.analytics import ANALYTICS_CONTRACT, AnalyticsError, event_key, event_type_of, validate_event
from hf_core.errors import HfError
from hf_core.payload import MAX_PAYLOAD_BYTES, decode_values
from hf_core.types import Quality
from hf_core.uns import TAG_GROUP_SEPARATOR, UnsTopic, is_valid_segment
from hf_historian.ingest.analytics import AnalyticsRow
from hf_historian.ingest.deadletter import DeadLetter
from hf_historian.ingest.mqtt_wire import MAX_PACKET_SIZE, OversizedPayload
from hf_historian.ingest.resolver import (
    HISTORIAN_CONTRACT,
    MAX_TAG_NAME_CHARS,
    UNKNOWN_CACHE_MAX,
    RejectedValue,
    TagResolver,
    to_columns,
)
from hf_historian.writer import Sample, SampleRow

# Topics repeat (one per workcell and tag group): parse each once. Bounded against topic floods: about 590 bytes
# an entry (measured), so 20,000 topics (far more than a plant's workcells and tag groups) hold ~11 MB; at
# 100,000 a flood of invented locations kept ~56 MB (bench_historian.py --unknown-flood).
_TOPIC_CACHE_MAX = 20_000
_topics: dict[str, UnsTopic | str] = {}
RAW_CONTRACT = "_raw"
LOCAL_CONTRACT = "_local"
CORE_VALUE = "value"  # UMH Core's time-series payload: {"timestamp_ms": …, "value": …}
UNDECLARED_NAMES_MAX = 1_000  # undeclared contracts counted by name; more are counted together


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
    topic: str,
    payload: bytes,
    resolver: TagResolver,
    samples: list[SampleRow],
    dead: list[DeadLetter],
    events: list[AnalyticsRow] | None = None,
) -> None:
    """Append this message's storable samples to ``samples``, its analytics event to ``events`` and what
    cannot be stored to ``dead``. (A caller that passes no ``events`` list has events validated only.)

    Never raises for anything a publisher can send: whatever cannot be stored becomes a dead letter
    (a poison message that stopped the ingest would be redelivered for ever). Database errors of the
    resolver (psycopg2.OperationalError) do propagate: the caller retries the batch.
    """
    parsed = _parse_topic(topic)
    if isinstance(parsed, str):
        dead.append(DeadLetter(topic, payload, parsed))
        return
    contract = parsed.data_contract
    if contract == LOCAL_CONTRACT:
        resolver.local_skipped += 1  # UMH: _local never leaves the plant's own systems
        return
    core = contract != HISTORIAN_CONTRACT
    if (
        core
        and contract not in (RAW_CONTRACT, ANALYTICS_CONTRACT)
        and not resolver.declared(contract, parsed.location_path)
    ):
        # counted and logged by the ingest, never dropped silently; a flood of names counts under one key
        name = contract[:80]
        if name not in resolver.undeclared and len(resolver.undeclared) >= UNDECLARED_NAMES_MAX:
            name = "(other contracts)"
        resolver.undeclared[name] += 1
        return
    if type(payload) is OversizedPayload:  # skipped by the MQTT reader, never buffered whole
        dead.append(
            DeadLetter(
                topic,
                payload,
                f"bad payload: a PUBLISH of {payload.size} bytes exceeds the "
                f"{MAX_PACKET_SIZE} byte limit (skipped, never buffered whole)",
            )
        )
        return
    if contract == ANALYTICS_CONTRACT:
        _decode_event(topic, parsed, payload, resolver, dead, events)
        return
    try:
        # the contract's limits (hf_core.payload: text PostgreSQL can hold, float8's range, nesting, values
        # per message, the timestamps the historian accepts) are checked there, value by value
        timestamp_ms, values, refused = decode_values(payload, int(time.time() * 1000))
    except HfError as exc:
        dead.append(DeadLetter(topic, payload, f"bad payload: {exc}"))
        return
    # UMH Core's one tag per topic: under _historian when the payload is exactly {timestamp_ms, value}
    one_tag = bool(parsed.tag_name) and len(values) == 1 and values[0][0] == CORE_VALUE and not refused
    if core and not one_tag:
        why = "; ".join(f"{name[:80]!r}: {reason}" for name, reason in refused) or (
            "no tag after the contract"
            if not parsed.tag_name
            else f"{len(values)} values named {', '.join(repr(name[:40]) for name, _ in values[:5])}"
        )
        dead.append(
            DeadLetter(
                topic,
                payload,
                f"bad payload: {contract} takes UMH Core time series, "
                f'{{"timestamp_ms": <int>, "value": <number|bool|string>}} '
                f"under .../{contract}/<tag group…>/<tag> ({why})",
            )
        )
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
                tag = resolver.resolve(
                    parsed, "" if one_tag else name, value, discovered < resolver.max_new_tags_per_message
                )
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


def _decode_event(
    topic: str,
    parsed: UnsTopic,
    payload: bytes,
    resolver: TagResolver,
    dead: list[DeadLetter],
    events: list[AnalyticsRow] | None,
) -> None:
    """A UMH Classic ``_analytics`` event: validated against UMH's schema, its workcell resolved."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        dead.append(
            DeadLetter(topic, payload, f"bad _analytics event: {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
        )
        return
    try:
        event_type = event_type_of(parsed.virtual_path, parsed.tag_name)
        validate_event(event_type, payload)
    except AnalyticsError as exc:
        dead.append(DeadLetter(topic, payload, f"bad _analytics event: {exc}"))
        return
    workcell = resolver.workcell(parsed.location_path)
    if workcell is None:
        dead.append(
            DeadLetter(
                topic,
                payload,
                f"unknown location: {'/'.join(parsed.location_path)} is no workcell (its UNS path in Odoo)",
            )
        )
        return
    if events is not None:
        # valid JSON was valid UTF-8: the text is the bytes received, the key their hash
        events.append(
            AnalyticsRow(event_key(topic, payload), topic, workcell[0], workcell[1], event_type, payload.decode())
        )
