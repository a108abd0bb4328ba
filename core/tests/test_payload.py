"""The _historian payload contract: what decodes to which values, and every way it is refused."""

import json

import pytest

from hf_core.payload import MAX_PAYLOAD_BYTES, DecodedValue, PayloadError, decode, encode
from hf_core.uns import TagKey


def test_round_trip_with_tag_groups() -> None:
    raw = encode(
        1_700_000_000_123, {"temperature": 21.5, "axis$x": 3, "axis$y": -1, "state": "running", "door_open": False}
    )
    assert json.loads(raw)["axis"] == {"x": 3, "y": -1}
    timestamp, values = decode(raw)
    assert timestamp == 1_700_000_000_123
    assert values == [
        DecodedValue("temperature", 21.5),
        DecodedValue("axis$x", 3),
        DecodedValue("axis$y", -1),
        DecodedValue("state", "running"),
        DecodedValue("door_open", False),
    ]


def test_a_nested_name_is_the_tag_key_of_its_groups() -> None:
    """The payload's nesting and the $-name are one grammar (hf_core.uns.TagKey), both ways."""
    key = TagKey(groups=("spindle", "motor"), name="current")
    raw = encode(1_700_000_000_000, {str(key): 1.5})
    assert json.loads(raw)["spindle"] == {"motor": {"current": 1.5}}
    assert [TagKey.parse(v.name) for v in decode(raw)[1]] == [key]


BAD = [
    (b"not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"temperature": 1}', "no timestamp_ms"),
    (b'{"timestamp_ms": "1700000000000", "t": 1}', "must be an integer"),
    (b'{"timestamp_ms": 1.5, "t": 1}', "must be an integer"),
    (b'{"timestamp_ms": true, "t": 1}', "must be an integer"),
    (b'{"timestamp_ms": 1}', "no tag value"),
    (b'{"timestamp_ms": 1, "t": NaN}', "NaN"),
    (b'{"timestamp_ms": 1, "t": Infinity}', "Infinity"),
    (b'{"timestamp_ms": 1, "t": [1, 2]}', "not a number, bool or string"),
    (b'{"timestamp_ms": 1, "t": 1e400}', "beyond ±1e+300"),
]


@pytest.mark.parametrize(("raw", "reason"), BAD, ids=[r for _, r in BAD])
def test_bad_payloads_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        decode(raw)
    assert reason in str(caught.value)


def test_oversized_payload_is_refused_before_parsing() -> None:
    raw = b'{"timestamp_ms": 1, "t": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    assert len(raw) > MAX_PAYLOAD_BYTES
    with pytest.raises(PayloadError, match="exceeds"):
        decode(raw)


def test_encode_refuses_nan() -> None:
    with pytest.raises(ValueError):
        encode(1, {"t": float("nan")})


def test_null_marks_a_value_that_could_not_be_read() -> None:
    assert decode(encode(5, {"t": None, "u": 1}))[1] == [DecodedValue("t", None), DecodedValue("u", 1)]
