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

from hf_core.errors import HfError
from hf_core.uns import TAG_GROUP_SEPARATOR

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


def _flatten(prefix: str, obj: dict[str, object], out: list[tuple[str, MaybeValue]]) -> None:
    # type(), not isinstance(): json makes exact types, and the ingest runs this for every value it stores
    for key, value in obj.items():
        name = f"{prefix}{TAG_GROUP_SEPARATOR}{key}" if prefix else key
        kind = type(value)
        if kind is float or kind is int:
            if not math.isfinite(value):  # type: ignore[arg-type]
                raise PayloadError(f"tag {name!r} has a non-finite value ({value}).")
        elif kind is dict:
            _flatten(name, value, out)  # type: ignore[arg-type]
            continue
        elif kind is not str and kind is not bool and value is not None:
            raise PayloadError(f"tag {name!r} has a {kind.__name__}, not a number, bool or string.")
        out.append((name, value))  # type: ignore[arg-type]


def _reject_constant(token: str) -> float:
    raise PayloadError(f"payload contains {token}, which is not a number JSON allows.")


# made once: json.loads with options builds a decoder per call
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode(raw: bytes) -> tuple[int, list[DecodedValue]]:
    """Return ``(timestamp_ms, values)`` or raise :class:`PayloadError` with the reason."""
    timestamp, items = decode_items(raw)
    return timestamp, [DecodedValue(name, value) for name, value in items]


def decode_items(raw: bytes) -> tuple[int, list[tuple[str, MaybeValue]]]:
    """:func:`decode` as plain (name, value) pairs: what the ingest uses, for 10,000s of messages a second."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(raw)} bytes exceeds the {MAX_PAYLOAD_BYTES} byte limit.")
    try:
        # what json.loads does with bytes, with the decoder made once
        body = _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("payload is not valid JSON.", detail=str(exc)) from exc
    if not isinstance(body, dict):
        raise PayloadError("payload must be a JSON object with timestamp_ms and tag values.")
    timestamp = body.pop("timestamp_ms", None)
    if timestamp is None:
        raise PayloadError("payload has no timestamp_ms.")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise PayloadError(f"timestamp_ms must be an integer (epoch milliseconds), got {timestamp!r}.")
    values: list[tuple[str, MaybeValue]] = []
    _flatten("", body, values)
    if not values:
        raise PayloadError("payload has a timestamp_ms but no tag value.")
    return timestamp, values
