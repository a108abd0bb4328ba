"""The UNS ``_historian`` payload: ``{"timestamp_ms": <int>, "<tag>": <number|bool|string>, ...}``.

One or many tags per message; a nested object is a tag group and becomes a ``$``-joined name
(``{"axis": {"x": 1}}`` → ``axis$x``). ``null`` is our one extension of UMH's contract: the collector
could not read that tag at that time (PLC away, bad status), and the historian stores the gap as a
sample of bad quality. Used by the collector (encode) and the ingest (decode).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from hf_collector.errors import HfError
from hf_collector.uns import TAG_GROUP_SEPARATOR

Value = float | int | bool | str
# None: no value could be read (bad quality)
MaybeValue = Value | None
MAX_PAYLOAD_BYTES = 1_000_000
# made once: json.dumps with options builds an encoder per call
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


class PayloadError(HfError):
    """A payload that does not follow the ``_historian`` contract; the message says why."""


@dataclass(frozen=True, slots=True)
class DecodedValue:
    """One tag value of a message: ``name`` is ``$``-joined below the topic's own tag groups."""

    name: str
    value: MaybeValue


def encode(timestamp_ms: int, values: dict[str, MaybeValue]) -> bytes:
    """Encode one message; ``$`` in a name becomes a nested tag group object."""
    body: dict[str, object] = {"timestamp_ms": int(timestamp_ms)}
    for name, value in values.items():
        if TAG_GROUP_SEPARATOR in name:
            _nest(body, name, value)
        else:  # most tags have no group: no split, no walk
            body[name] = value
    return _ENCODER.encode(body).encode()


def _nest(body: dict[str, object], name: str, value: MaybeValue) -> None:
    *groups, leaf = name.split(TAG_GROUP_SEPARATOR)
    node = body
    for group in groups:
        child = node.setdefault(group, {})
        if not isinstance(child, dict):
            raise PayloadError(f"tag {group!r} is both a value and a tag group.")
        node = child
    node[leaf] = value


def _flatten(prefix: str, obj: dict[str, object], out: list[DecodedValue]) -> None:
    for key, value in obj.items():
        name = f"{prefix}{TAG_GROUP_SEPARATOR}{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(name, value, out)
        elif isinstance(value, bool | str):
            out.append(DecodedValue(name, value))
        elif isinstance(value, int | float):
            if not math.isfinite(value):
                raise PayloadError(f"tag {name!r} has a non-finite value ({value}).")
            out.append(DecodedValue(name, value))
        elif value is None:
            out.append(DecodedValue(name, None))
        else:
            raise PayloadError(f"tag {name!r} has a {type(value).__name__}, not a number, bool or string.")


def _reject_constant(token: str) -> float:
    raise PayloadError(f"payload contains {token}, which is not a number JSON allows.")


def decode(raw: bytes) -> tuple[int, list[DecodedValue]]:
    """Return ``(timestamp_ms, values)`` or raise :class:`PayloadError` with the reason."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(raw)} bytes exceeds the {MAX_PAYLOAD_BYTES} byte limit.")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("payload is not valid JSON.", detail=str(exc)) from exc
    if not isinstance(body, dict):
        raise PayloadError("payload must be a JSON object with timestamp_ms and tag values.")
    timestamp = body.pop("timestamp_ms", None)
    if timestamp is None:
        raise PayloadError("payload has no timestamp_ms.")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise PayloadError(f"timestamp_ms must be an integer (epoch milliseconds), got {timestamp!r}.")
    values: list[DecodedValue] = []
    _flatten("", body, values)
    if not values:
        raise PayloadError("payload has a timestamp_ms but no tag value.")
    return timestamp, values
