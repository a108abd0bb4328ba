"""Property-based tests of the ingest's decoders and writer (issue 14): any MQTT bytes give packets or a
ProtocolError; any message the decoder takes is stored in the real PostgreSQL and read back the same, or
dead-lettered with a reason. Bounded for `make test`; `make fuzz` runs them with HF_FUZZ_EXAMPLES."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ingest_fixtures import LOCATION, PG_HOST, PG_PORT, PG_USER, TAGS, historian_database

from hf_core.analytics import EVENT_TYPES
from hf_historian.ingest import mqtt_wire as wire
from hf_historian.ingest.analytics import AnalyticsRow, write_events
from hf_historian.ingest.deadletter import DeadLetter
from hf_historian.ingest.decoder import decode_message
from hf_historian.ingest.resolver import TagResolver
from hf_historian.writer import HistorianWriter, Sample, SampleRow, prepare

EXAMPLES = int(os.environ.get("HF_FUZZ_EXAMPLES", "200"))
PROFILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CORPUS = Path(__file__).with_name("fuzz_corpus")
TOPIC = f"umh/v1/{LOCATION}/_historian"
ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=30)


def _payload_key(payload: bytes) -> bytes:
    return b"oversized %d" % payload.size if isinstance(payload, wire.OversizedPayload) else bytes(payload)


def _feed_all(chunks: list[bytes], limit: int) -> list[tuple[str, bytes, int]]:
    reader = wire.PacketReader(max_packet_size=limit)
    got: list[tuple[str, bytes, int]] = []
    for chunk in chunks:
        publishes, others = reader.feed(chunk)
        # an oversized PUBLISH's preview is what had arrived with its headers: compare its size only
        got += [(p.topic, _payload_key(p.payload), p.packet_id) for p in publishes]
        for kind, body in others:
            for parse in (wire.parse_connack, wire.parse_suback, wire.parse_disconnect):
                with contextlib.suppress(wire.ProtocolError):
                    parse(body)
            assert 0 <= kind <= 15
    return got


@PROFILE
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=5), st.sampled_from([0, 64, 1000]))
@example(b"\x30\x03\x00\x00\x80", [], 0)
@example(b"\x30\x03\x00\x05\x61", [1], 0)
@example(b"\xe0\x02\x00\x03", [], 0)
@example(b"\x90\x00", [], 0)
def test_any_mqtt_bytes_are_packets_or_a_protocol_error(stream: bytes, cuts: list[int], limit: int) -> None:
    """And a stream cut anywhere parses as it does in one read."""
    points = sorted({c for c in cuts if c <= len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise([0, *points, len(stream)])]
    try:
        whole = _feed_all([stream], limit)
    except wire.ProtocolError:
        whole = None
    try:
        split = _feed_all(chunks, limit)
    except wire.ProtocolError:
        split = None
    if whole is not None and split is not None:
        assert whole == split
    for topic, _payload, packet_id in whole or []:
        assert topic and 0 <= packet_id <= 0xFFFF


@PROFILE
@given(st.binary(max_size=200))
def test_any_acknowledgement_body_parses_or_is_a_protocol_error(body: bytes) -> None:
    for parse in (wire.parse_connack, wire.parse_suback, wire.parse_disconnect):
        with contextlib.suppress(wire.ProtocolError):
            parse(body)


def test_the_mqtt_seed_corpus() -> None:
    seeds = sorted(CORPUS.glob("mqtt_*"))
    assert seeds
    for path in seeds:
        raw = path.read_bytes()
        with contextlib.suppress(wire.ProtocolError):
            _feed_all([raw], 0)


# --- decode → prepare → the writer → PostgreSQL → read back -----------------------------------------------


@pytest.fixture(scope="module")
def store() -> Iterator[tuple[TagResolver, HistorianWriter, psycopg2.extensions.connection]]:
    with historian_database(PG_HOST, PG_PORT) as name:
        dsn = f"host={PG_HOST} port={PG_PORT} dbname={name} user={PG_USER}"
        resolver_conn = psycopg2.connect(dsn)
        resolver_conn.autocommit = True
        conn = psycopg2.connect(dsn)
        writer = HistorianWriter(conn.cursor(), optimistic=True)
        conn.commit()
        try:
            yield TagResolver(resolver_conn.cursor(), max_new_tags_per_message=5), writer, conn
        finally:
            conn.close()
            resolver_conn.close()


NAMES = st.sampled_from(
    [("/".join(p for p in (group, tag) if p)).replace("/", "$") for tag, group, _ in TAGS]
    + ["fresh", "axis$y", "bad name", "x\x00", "\ud800", "n" * 200]
)
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False)
    | ANY_TEXT
    | st.dictionaries(st.sampled_from(["x", "y", "\x00"]), st.floats(allow_nan=False) | ANY_TEXT, max_size=2)
)
_clock = itertools.count(int(time.time() * 1000) - 3_600_000, 7)


@PROFILE
@given(
    st.lists(st.dictionaries(NAMES, VALUES, min_size=1, max_size=6), min_size=1, max_size=5),
    st.sampled_from([0, -86_400_000 * 400, 60_000]),
)
def test_whatever_decode_takes_is_stored_and_read_back_the_same(
    store: tuple[TagResolver, HistorianWriter, psycopg2.extensions.connection],
    messages: list[dict[str, object]],
    shift: int,
) -> None:
    resolver, writer, conn = store
    samples: list[SampleRow] = []
    dead: list[DeadLetter] = []
    for body in messages:
        raw = json.dumps({"timestamp_ms": next(_clock) + shift, **body}).encode()
        decode_message(TOPIC, raw, resolver, samples, dead)
    assert all(letter.reason for letter in dead)
    prepare(samples, optimistic=True)  # never raises for what decode took
    rows = {(s[0], s[1]): Sample(*s) for s in samples}
    if not rows:
        return
    stored = writer.write(samples)
    conn.commit()
    assert stored == len(rows)
    cr = conn.cursor()
    cr.execute(
        "SELECT tag_id, (extract(epoch FROM time) * 1000)::bigint, value, value_text, quality "
        "FROM hf_historian_sample WHERE tag_id = ANY(%s) AND time >= to_timestamp(%s / 1000.0) - interval '1 s' "
        "AND time <= to_timestamp(%s / 1000.0) + interval '1 s'",
        (sorted({k[0] for k in rows}), min(k[1] for k in rows), max(k[1] for k in rows)),
    )
    back = {(tag, ms): (value, text, quality) for tag, ms, value, text, quality in cr.fetchall() if (tag, ms) in rows}
    assert back == {key: (s.value, s.value_text, s.quality) for key, s in rows.items()}


# --- _analytics events and UMH Core time series: an event, a sample, a count or a reason -------------------

CONTRACT_TOPICS = st.sampled_from(
    [f"umh/v1/{LOCATION}/_analytics/{event_type}" for event_type in EVENT_TYPES]
    + [
        f"umh/v1/{LOCATION}/{rest}"
        for rest in (
            "_analytics/work-order",
            "_analytics/x/y/z",
            "_raw/pump/p",
            "_raw",
            "_historian/weather/hum",
            "_local/a",
            "_undeclared_v1/a",
        )
    ]
    + ["umh/v1/acme/nowhere/_analytics/shift/add", "umh/v1/acme/nowhere/_raw/p"]
)
EVENT_FIELDS = st.sampled_from(
    [
        "external_work_order_id",
        "product",
        "quantity",
        "status",
        "start_time_unix_ms",
        "end_time_unix_ms",
        "external_product_type_id",
        "external_product_id",
        "product_batch_id",
        "bad_quantity",
        "cycle_time_ms",
        "state",
        "value",
        "timestamp_ms",
    ]
)


@PROFILE
@given(
    CONTRACT_TOPICS, st.dictionaries(EVENT_FIELDS, VALUES | st.integers(0, 2**64), max_size=7) | st.binary(max_size=60)
)
def test_whatever_another_contract_carries_is_stored_counted_or_dead_lettered(
    store: tuple[TagResolver, HistorianWriter, psycopg2.extensions.connection],
    topic: str,
    body: dict[str, object] | bytes,
) -> None:
    resolver, writer, conn = store
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    samples: list[SampleRow] = []
    dead: list[DeadLetter] = []
    events: list[AnalyticsRow] = []
    counted = sum(resolver.undeclared.values()) + resolver.local_skipped
    decode_message(topic, raw, resolver, samples, dead, events)
    assert all(letter.reason for letter in dead)
    if sum(resolver.undeclared.values()) + resolver.local_skipped == counted:
        assert samples or dead or events, "nothing a publisher sends vanishes unseen"
    inserted, refused = write_events(conn.cursor(), events, lambda _exc: False)
    writer.write(samples)
    conn.commit()
    assert refused == [] and inserted <= len(events)
