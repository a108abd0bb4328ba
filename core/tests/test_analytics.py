"""UMH Classic's _analytics events (hf_core.analytics): the schema, table-style, and for any input either
the decoded event or AnalyticsError with its reason, never anything else."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_core.analytics import (
    EVENT_TYPES,
    AnalyticsError,
    encode_event,
    event_key,
    event_topic,
    event_type_of,
    product_id,
    validate_event,
)

T = 1_764_600_000_000
VALID = {
    "work-order/create": {
        "external_work_order_id": "WO-1",
        "product": {"external_product_id": "P-7", "cycle_time_ms": 6000},
        "quantity": 40,
        "status": 0,
        "start_time_unix_ms": T,
    },
    "work-order/start": {"external_work_order_id": "WO-1", "start_time_unix_ms": T},
    "work-order/stop": {"external_work_order_id": "WO-1", "end_time_unix_ms": T},
    "product-type/create": {"external_product_type_id": "P-7", "cycle_time_ms": 6000},
    "product/add": {"external_product_type_id": "P-7", "end_time_unix_ms": T, "quantity": 40, "bad_quantity": 2},
    "product/setBadQuantity": {"external_product_id": "P-7", "end_time_unix_ms": T, "bad_quantity": 3},
    "state/add": {"start_time_unix_ms": T, "state": 10000},
    "state/overwrite": {"start_time_unix_ms": T, "end_time_unix_ms": T + 1000, "state": 20000},
    "shift/add": {"start_time_unix_ms": T, "end_time_unix_ms": T + 8 * 3600_000},
    "shift/delete": {"start_time_unix_ms": T},
}
# UMH's optional fields (the rest are required)
OPTIONAL = {"work-order/create": {"status", "start_time_unix_ms"}, "product/add": {"bad_quantity"}}


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=EVENT_TYPES)
def test_each_event_type_takes_umhs_fields(event_type: str) -> None:
    body = VALID[event_type]
    assert validate_event(event_type, json.dumps({**body, "unknown_field": 1}).encode())["unknown_field"] == 1
    for name in set(body) - OPTIONAL.get(event_type, set()):
        with pytest.raises(AnalyticsError, match=name):
            validate_event(event_type, json.dumps({k: v for k, v in body.items() if k != name}).encode())


@pytest.mark.parametrize(
    ("event_type", "change", "reason"),
    [
        ("work-order/create", {"quantity": 0}, "quantity is required to be greater than 0"),
        ("work-order/create", {"status": 3}, "status must be 0"),
        ("work-order/create", {"product": "P-7"}, "product must be an object"),
        ("work-order/start", {"start_time_unix_ms": "2026-01-01T00:00:00Z"}, "must be an epoch milliseconds"),
        ("work-order/stop", {"external_work_order_id": ""}, "non-empty string"),
        ("product-type/create", {"cycle_time_ms": -1}, "integer > 0"),
        ("product/add", {"quantity": True}, "integer > 0"),
        ("state/overwrite", {"end_time_unix_ms": T - 1}, "before start_time_unix_ms"),
        ("shift/add", {"end_time_unix_ms": 1.5}, "epoch milliseconds"),
    ],
    ids=[
        "zero-quantity",
        "bad-status",
        "product-not-object",
        "iso-time",
        "empty-id",
        "negative-cycle",
        "bool-quantity",
        "end-before-start",
        "fractional-time",
    ],
)
def test_what_does_not_fit_says_why(event_type: str, change: dict[str, object], reason: str) -> None:
    with pytest.raises(AnalyticsError, match=reason):
        validate_event(event_type, json.dumps({**VALID[event_type], **change}).encode())


def test_topic_key_and_product_are_one_definition() -> None:
    topic = event_topic(("acme", "berlin", "press", "line1", "press1"), "product/setBadQuantity")
    assert topic == "umh/v1/acme/berlin/press/line1/press1/_analytics/product/setBadQuantity"
    body = encode_event({"b": 1, "a": {"d": 2, "c": 3}})
    assert body == b'{"a":{"c":3,"d":2},"b":1}'
    assert event_key(topic, body) == event_key(topic, body) != event_key(topic, body + b" ")
    assert event_type_of(("work-order",), "start") == "work-order/start"
    with pytest.raises(AnalyticsError, match="unknown _analytics event type"):
        event_type_of(("work-order",), "pause")
    with pytest.raises(AnalyticsError):
        event_topic(("acme",), "work-order/pause")
    assert product_id(VALID["work-order/create"]) == product_id(VALID["product/add"]) == "P-7"
    assert product_id(VALID["product/setBadQuantity"]) == "P-7"


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
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
    ]
)


@settings(
    max_examples=int(os.environ.get("HF_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.sampled_from(EVENT_TYPES), st.dictionaries(FIELDS, JSON_VALUES, max_size=8) | JSON_VALUES, st.binary(max_size=40)
)
def test_any_input_is_an_event_or_a_reason(event_type: str, body: object, noise: bytes) -> None:
    for payload in (json.dumps(body).encode(), noise, json.dumps(body).encode()[: len(noise)]):
        try:
            decoded = validate_event(event_type, payload)
        except AnalyticsError as exc:
            assert str(exc).startswith(event_type)
        else:
            assert isinstance(decoded, dict)
