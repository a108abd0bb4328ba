"""UMH Classic's ``_analytics`` production events: their types, their payload schema, their topic and the
key that makes each one idempotent. One copy for the ingest (inbound) and Odoo (outbound).

Topic: ``umh/v1/<location…>/<workcell>/_analytics/<event type>`` with the event type as two levels
(``work-order/create``). Payload: one JSON object per event, with the fields UMH documents. Sources,
where UMH itself disagrees between its docs and its code, the code wins (it is what a UMH instance sends
and accepts), and a field both name is accepted under either name:

- united-manufacturing-hub/united-manufacturing-hub, ``golang/cmd/kafka-to-postgresql-v2/shared/structs.go``
  (the message structs, ``*_unix_ms`` integer times) and ``worker/analytics.go`` (what is required: a zero
  or missing required field is refused, ``quantity`` > 0, ``status`` 0..2, ``cycle_time_ms`` > 0,
  ``state`` > 0);
- united-manufacturing-hub/umh.docs.umh.app, ``content/en/docs/datamodel/messages/_analytics.md`` (the
  field list; its older revisions use ISO ``start_time`` strings, which UMH's code no longer reads).

``product/add`` names its product ``external_product_type_id`` in the docs and ``external_product_id`` in
the latest structs; ``product/setBadQuantity`` identifies the product by ``external_product_id`` (or
``external_product_type_id``) and ``end_time_unix_ms``. We also accept ``product_batch_id`` there (our
extension: a batch given to ``product/add`` is the finer key). Unknown fields are ignored, as Go's
``json.Unmarshal`` ignores them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from hf_core.errors import HfError
from hf_core.uns import build_topic

ANALYTICS_CONTRACT = "_analytics"
EVENT_TYPES: tuple[str, ...] = (
    "work-order/create",
    "work-order/start",
    "work-order/stop",
    "product-type/create",
    "product/add",
    "product/setBadQuantity",
    "state/add",
    "state/overwrite",
    "shift/add",
    "shift/delete",
)
# the largest integer a UMH field takes (Go's uint64 there; PostgreSQL's bigint here)
MAX_INT = 2**63 - 1
MAX_ID_CHARS = 256  # an external id (work order, product, batch)

_STR, _UINT, _POS, _TIME = "string", "integer >= 0", "integer > 0", "epoch milliseconds"

# event type -> (field, kind, required); a product given under either name counts once (see below)
_SCHEMA: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "work-order/create": (
        ("external_work_order_id", _STR, True),
        ("quantity", _POS, True),
        ("status", _UINT, False),
        ("start_time_unix_ms", _TIME, False),
        ("end_time_unix_ms", _TIME, False),
    ),
    "work-order/start": (("external_work_order_id", _STR, True), ("start_time_unix_ms", _TIME, True)),
    "work-order/stop": (("external_work_order_id", _STR, True), ("end_time_unix_ms", _TIME, True)),
    "product-type/create": (("external_product_type_id", _STR, True), ("cycle_time_ms", _POS, True)),
    "product/add": (
        ("product_batch_id", _STR, False),
        ("start_time_unix_ms", _TIME, False),
        ("end_time_unix_ms", _TIME, True),
        ("quantity", _POS, True),
        ("bad_quantity", _UINT, False),
    ),
    "product/setBadQuantity": (
        ("product_batch_id", _STR, False),
        ("end_time_unix_ms", _TIME, True),
        ("bad_quantity", _UINT, True),
    ),
    "state/add": (("start_time_unix_ms", _TIME, True), ("state", _POS, True)),
    "state/overwrite": (("start_time_unix_ms", _TIME, True), ("end_time_unix_ms", _TIME, True), ("state", _POS, True)),
    "shift/add": (("start_time_unix_ms", _TIME, True), ("end_time_unix_ms", _TIME, True)),
    "shift/delete": (("start_time_unix_ms", _TIME, True),),
}
_PRODUCT_NAMES = ("external_product_type_id", "external_product_id")
# work-order/create's status (UMH: 0 planned, 1 in progress, 2 completed)
WORK_ORDER_STATUSES = (0, 1, 2)


class AnalyticsError(HfError):
    """An ``_analytics`` event that does not follow UMH's schema; the message says why."""


def event_key(topic: str, payload: bytes) -> str:
    """The event's identity: sha256 (hex) of its topic, a newline and its payload bytes. A redelivery, or
    our own published event coming back from the broker, has the same key and is stored once."""
    return hashlib.sha256(topic.encode() + b"\n" + payload).hexdigest()


def encode_event(payload: Mapping[str, Any]) -> bytes:
    """The bytes Odoo publishes for an event: compact, keys sorted (one serialization, one key)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def event_topic(location_path: tuple[str, ...] | list[str], event_type: str) -> str:
    """``umh/v1/<location…>/_analytics/<event type>`` for a workcell's location path."""
    if event_type not in EVENT_TYPES:
        raise AnalyticsError(f"{event_type!r} is no UMH _analytics event type ({', '.join(EVENT_TYPES)}).")
    group, name = event_type.split("/")
    return build_topic(location_path, tag_name=name, tag_group=group, data_contract=ANALYTICS_CONTRACT)


def event_type_of(virtual_path: tuple[str, ...], tag_name: str) -> str:
    """The event type a parsed ``_analytics`` topic names (its levels after the contract), or raise."""
    event_type = "/".join((*virtual_path, tag_name)) if tag_name else "/".join(virtual_path)
    if event_type not in EVENT_TYPES:
        raise AnalyticsError(
            f"unknown _analytics event type {event_type[:80]!r} (UMH Classic knows {', '.join(EVENT_TYPES)})"
        )
    return event_type


def _check_field(event_type: str, name: str, kind: str, value: object) -> None:
    if kind == _STR:
        if not isinstance(value, str) or not value.strip():
            raise AnalyticsError(f"{event_type}: {name} must be a non-empty string, got {_show(value)}")
        if len(value) > MAX_ID_CHARS or "\x00" in value:
            raise AnalyticsError(f"{event_type}: {name} must be at most {MAX_ID_CHARS} characters without NUL")
        return
    if isinstance(value, float) and value.is_integer():  # 40.0 is UMH's 40 (Go reads it into a uint64)
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise AnalyticsError(f"{event_type}: {name} must be an {kind}, got {_show(value)}")
    if kind in (_POS, _TIME) and value == 0:
        raise AnalyticsError(f"{event_type}: {name} is required to be greater than 0")


def _show(value: object) -> str:
    return repr(value)[:60]


def validate_event(event_type: str, payload: bytes) -> dict[str, Any]:
    """The decoded payload of an ``event_type`` event, or :class:`AnalyticsError` saying what does not fit."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise AnalyticsError(f"{event_type}: the payload is not JSON ({str(exc)[:120]})") from exc
    if not isinstance(body, dict):
        raise AnalyticsError(f"{event_type}: the payload must be a JSON object, got {type(body).__name__}")
    for name, kind, required in _SCHEMA[event_type]:
        value = body.get(name)
        if value is None:
            if required:
                raise AnalyticsError(f"{event_type}: {name} is required")
            continue
        _check_field(event_type, name, kind, value)
    if event_type == "work-order/create":
        product = body.get("product")
        if not isinstance(product, dict):
            raise AnalyticsError(f"{event_type}: product must be an object with external_product_id")
        if product.get("external_product_id") is None:
            raise AnalyticsError(f"{event_type}: product.external_product_id is required")
        _check_field(event_type, "product.external_product_id", _STR, product["external_product_id"])
        if product.get("cycle_time_ms") is not None:
            _check_field(event_type, "product.cycle_time_ms", _UINT, product["cycle_time_ms"])
        if body.get("status") is not None and int(body["status"]) not in WORK_ORDER_STATUSES:
            raise AnalyticsError(f"{event_type}: status must be 0 (planned), 1 (in progress) or 2 (completed)")
    if event_type in ("product/add", "product/setBadQuantity"):
        given = [name for name in _PRODUCT_NAMES if body.get(name) is not None]
        if not given and not (event_type == "product/setBadQuantity" and body.get("product_batch_id")):
            raise AnalyticsError(f"{event_type}: external_product_type_id (or external_product_id) is required")
        for name in given:
            _check_field(event_type, name, _STR, body[name])
    ends = ("start_time_unix_ms", "end_time_unix_ms")
    if all(isinstance(body.get(name), int | float) for name in ends) and body[ends[1]] < body[ends[0]]:
        raise AnalyticsError(f"{event_type}: end_time_unix_ms is before start_time_unix_ms")
    return body


def product_id(body: Mapping[str, Any]) -> str:
    """The product an event names, under either of UMH's names (``product`` object for work-order/create)."""
    if isinstance(body.get("product"), dict):
        return str(body["product"].get("external_product_id") or "")
    return str(next((body[name] for name in _PRODUCT_NAMES if body.get(name)), ""))
