"""The UNS ``_historian`` payload: ``{"timestamp_ms": <int>, "<tag>": <number|bool|string>, ...}``.

One or many tags per message; a nested object is a tag group and becomes a ``$``-joined name
(``{"axis": {"x": 1}}`` → ``axis$x``). ``null`` is our one extension of UMH's contract: the collector
could not read that tag at that time (PLC away, bad status), and the historian stores the gap as a
sample of bad quality. Used by the collector (encode) and the ingest (decode).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from hf_core.errors import HfError
from hf_core.uns import TAG_GROUP_SEPARATOR, TagKey

Value = float | int | bool | str
# None: no value could be read (bad quality)
MaybeValue = Value | None

# The limits of the contract, in one place (README, "The UNS contract"). What PostgreSQL or the rollups
# cannot hold is refused here, with a reason naming the limit: per value (the message's other values are
# kept), or for the whole message when the message itself is beyond them.
MAX_PAYLOAD_BYTES = 1_000_000
MAX_VALUES_PER_MESSAGE = 1_000  # values (after flattening tag groups) in one message
MAX_NESTING_DEPTH = 8  # tag groups below the message's top level object
MAX_TEXT_CHARS = 4_096  # a string value
# |number| beyond this is refused: an hour's rollup sums at most 3,600,000 samples (one per millisecond), and
# 3.6e6 x 1e300 stays finite in float8 (two 1e308 made Infinity)
MAX_ABS_NUMBER = 1e300
# timestamp_ms from 2000-01-01 UTC (older is an epoch-seconds or unset clock) to 24 h ahead of the receiver
MIN_TIMESTAMP_MS = 946_684_800_000
MAX_FUTURE_MS = 24 * 3600 * 1000
# made once: json.dumps with options builds an encoder per call
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
# the key under which _pairs leaves an object's duplicate names: not a str, so no JSON key can be it
_DUPLICATES = object()


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


@functools.lru_cache(maxsize=65_536)
def _key(name: str) -> TagKey:
    """A tag's key, parsed once per name, not once per value sent."""
    return TagKey.parse(name)


def _nest(body: dict[str, object], name: str, value: MaybeValue) -> None:
    key = _key(name)
    node = body
    for group in key.groups:
        child = node.setdefault(group, {})
        if not isinstance(child, dict):
            raise PayloadError(f"tag {group!r} is both a value and a tag group.")
        node = child
    node[key.name] = value


def check_text(text: str) -> str | None:
    """Why PostgreSQL text cannot hold ``text`` (or our limit refuses it), or None."""
    if len(text) > MAX_TEXT_CHARS:
        return f"a string longer than {MAX_TEXT_CHARS} characters ({len(text)})"
    if "\x00" in text:
        return "a string with a NUL character (PostgreSQL text cannot hold it)"
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return "a string with a lone surrogate (not UTF-8)"
    return None


def _flatten(
    prefix: str,
    obj: dict[object, object],
    depth: int,
    out: list[tuple[str, MaybeValue]],
    rejected: list[tuple[str, str]],
) -> int:
    """Append ``obj``'s values to ``out`` (refused ones to ``rejected``); return how many keys it and the
    objects below it hold."""
    # type(), not isinstance(): json makes exact types, and the ingest runs this for every value it stores.
    # A nested object's name is its TagKey (``group$name``), joined inline here for the same reason; the
    # ingest checks the parts before it resolves a new name.
    keys = len(obj)
    for key, value in obj.items():
        if key is _DUPLICATES:
            rejected.extend(
                (
                    f"{prefix}{TAG_GROUP_SEPARATOR}{k}" if prefix else str(k),
                    "a duplicate name in the message (the last value is kept)",
                )
                for k in value  # type: ignore[attr-defined]
            )
            continue
        name: str = f"{prefix}{TAG_GROUP_SEPARATOR}{key}" if prefix else key  # type: ignore[assignment]
        kind = type(value)
        if kind is float or kind is int:
            if not -MAX_ABS_NUMBER <= value <= MAX_ABS_NUMBER:  # type: ignore[operator]
                rejected.append((name, f"a number beyond ±{MAX_ABS_NUMBER:.0e}"))
                continue
        elif kind is str:
            text: str = value  # type: ignore[assignment]
            why = check_text(text) if len(text) > MAX_TEXT_CHARS or "\x00" in text or not text.isascii() else None
            if why:
                rejected.append((name, why))
                continue
        elif kind is dict:
            if depth >= MAX_NESTING_DEPTH:
                rejected.append((name, f"tag groups nested deeper than {MAX_NESTING_DEPTH} levels"))
                continue
            keys += _flatten(name, value, depth + 1, out, rejected)  # type: ignore[arg-type]
            continue
        elif kind is not bool and value is not None:
            rejected.append((name, f"a {kind.__name__}, not a number, bool or string"))
            continue
        out.append((name, value))  # type: ignore[arg-type]
    return keys


def _pairs(pairs: list[tuple[str, object]]) -> dict[object, object]:
    """json's object hook: a dict, with the names that came twice (the last value wins, as json does)."""
    obj: dict[object, object] = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        obj[_DUPLICATES] = [k for k, _v in pairs if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
    return obj


def _reject_constant(token: str) -> float:
    raise PayloadError(f"payload contains {token}, which is not a number JSON allows.")


# made once: json.loads with options builds a decoder per call
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# the same, noting duplicate names: a Python call per object, so only when a message may hold one
_DECODER_NOTING_DUPLICATES = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_pairs)


def decode(raw: bytes) -> tuple[int, list[DecodedValue]]:
    """Return ``(timestamp_ms, values)`` or raise :class:`PayloadError` with the reason (the first refused
    value's too: :func:`decode_values` keeps the others)."""
    timestamp, items = decode_items(raw)
    return timestamp, [DecodedValue(name, value) for name, value in items]


def decode_items(raw: bytes) -> tuple[int, list[tuple[str, MaybeValue]]]:
    """:func:`decode` as plain (name, value) pairs."""
    timestamp, values, rejected = decode_values(raw)
    if rejected:
        name, why = rejected[0]
        raise PayloadError(f"tag {name!r} has {why}.")
    return timestamp, values


def decode_values(
    raw: bytes, now_ms: int | None = None
) -> tuple[int, list[tuple[str, MaybeValue]], list[tuple[str, str]]]:
    """``(timestamp_ms, values, rejected)``: what the ingest uses, for 10,000s of messages a second.

    ``rejected`` holds (name, reason) for each value the contract's limits refuse; the message's other
    values are in ``values``. :class:`PayloadError` when the message as a whole cannot be taken (not JSON,
    no timestamp_ms, or (given ``now_ms``, the receiver's clock) one outside the range the historian
    accepts, more than
    MAX_VALUES_PER_MESSAGE values, nothing at all)."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(raw)} bytes exceeds the {MAX_PAYLOAD_BYTES} byte limit.")
    return _decode_values(raw, now_ms, _DECODER)


def _decode_values(
    raw: bytes, now_ms: int | None, decoder: json.JSONDecoder
) -> tuple[int, list[tuple[str, MaybeValue]], list[tuple[str, str]]]:
    try:
        # what json.loads does with bytes, with the decoder made once
        body = decoder.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("payload is not valid JSON.", detail=str(exc)) from exc
    except RecursionError as exc:
        raise PayloadError(f"payload nests deeper than {MAX_NESTING_DEPTH} levels.") from exc
    except ValueError as exc:  # json's own limit: integers of more than 4,300 digits
        raise PayloadError(f"payload is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(body, dict):
        raise PayloadError("payload must be a JSON object with timestamp_ms and tag values.")
    timestamp = body.pop("timestamp_ms", None)
    if timestamp is None:
        raise PayloadError("payload has no timestamp_ms.")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise PayloadError(f"timestamp_ms must be an integer (epoch milliseconds), got {timestamp!r}.")
    if now_ms is not None and not MIN_TIMESTAMP_MS <= timestamp <= now_ms + MAX_FUTURE_MS:
        raise PayloadError(
            f"timestamp_ms {str(timestamp)[:40]} is outside what the historian accepts: epoch "
            "milliseconds from 2000-01-01 UTC to 24 h ahead of the ingest's clock."
        )
    if len(body) > MAX_VALUES_PER_MESSAGE:
        raise PayloadError(f"payload has more than {MAX_VALUES_PER_MESSAGE} values ({len(body)}).")
    values: list[tuple[str, MaybeValue]] = []
    rejected: list[tuple[str, str]] = []
    keys = _flatten("", body, 0, values, rejected)
    # Every key is followed by a ':'; as many ':' in the message as keys decoded means no key came twice
    # (json keeps a duplicate's last value silently). Otherwise (a ':' in a text, or a duplicate) decode
    # again noting duplicates: exact, and rare.
    if decoder is _DECODER and raw.count(b":") != keys + 1:
        return _decode_values(raw, now_ms, _DECODER_NOTING_DUPLICATES)
    if len(values) > MAX_VALUES_PER_MESSAGE:
        raise PayloadError(f"payload has more than {MAX_VALUES_PER_MESSAGE} values ({len(values)}).")
    if _SEPARATOR_BYTE in raw and len({name for name, _v in values}) != len(values):
        seen: dict[str, int] = {}
        for index, (name, _value) in enumerate(values):
            if name in seen:  # "axis$x" beside {"axis": {"x": …}}: the later one wins, as for a duplicate key
                rejected.append((name, "a duplicate name in the message (the last value is kept)"))
                values[seen[name]] = (name, _DROPPED)  # type: ignore[assignment]
            seen[name] = index
        values = [item for item in values if item[1] is not _DROPPED]
    if not values and not rejected:
        raise PayloadError("payload has a timestamp_ms but no tag value.")
    return timestamp, values, rejected


_DROPPED = object()
_SEPARATOR_BYTE = TAG_GROUP_SEPARATOR.encode()
