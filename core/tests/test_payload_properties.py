"""Property-based tests of the UNS contract's decoders (issue 14): for any input, a result or the
documented bad-input error, never anything else. Bounded for `make test`; `make fuzz` runs the same
properties with many more examples (HF_FUZZ_EXAMPLES) and the committed seed corpus."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hf_core import payload as codec
from hf_core.uns import TopicError, UnsTopic

EXAMPLES = int(os.environ.get("HF_FUZZ_EXAMPLES", "200"))
PROFILE = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CORPUS = Path(__file__).resolve().parents[2] / "historian" / "tests" / "fuzz_corpus"
NOW = 1_800_000_000_000

# any text, lone surrogates and NUL included (hypothesis leaves surrogates out by default)
ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=40)
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | ANY_TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=20,
)


def _check_decoded(result: tuple[int, list[tuple[str, codec.MaybeValue]], list[tuple[str, str]]]) -> None:
    timestamp, values, rejected = result
    assert (isinstance(timestamp, int) and values) or rejected
    for name, value in values:
        assert isinstance(name, str)
        assert value is None or type(value) in (bool, int, float, str)
        if type(value) in (int, float):
            assert -codec.MAX_ABS_NUMBER <= value <= codec.MAX_ABS_NUMBER  # type: ignore[operator]
        if isinstance(value, str):
            assert codec.check_text(value) is None
            value.encode()  # PostgreSQL can hold it
    assert len({name for name, _ in values}) == len(values), "no name twice"
    assert all(isinstance(why, str) and why for _name, why in rejected)


def corpus(prefix: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted(CORPUS.glob(f"{prefix}*"))] if CORPUS.is_dir() else []


@PROFILE
@given(st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=8), st.integers(-(2**64), 2**64))
def test_any_json_object_decodes_or_is_a_payload_error(body: dict[str, object], timestamp: int) -> None:
    raw = json.dumps({**body, "timestamp_ms": timestamp}).encode()
    with contextlib.suppress(codec.PayloadError):
        _check_decoded(codec.decode_values(raw, NOW))


@PROFILE
@given(JSON_VALUES)
def test_any_json_value_decodes_or_is_a_payload_error(value: object) -> None:
    with contextlib.suppress(codec.PayloadError):
        _check_decoded(codec.decode_values(json.dumps(value).encode(), NOW))


def test_the_payload_seed_corpus() -> None:
    seeds = corpus("payload_")
    assert seeds, "historian/tests/fuzz_corpus holds the seed inputs"
    for raw in seeds:
        with contextlib.suppress(codec.PayloadError):
            _check_decoded(codec.decode_values(raw, NOW))


@PROFILE
@given(st.binary(max_size=300))
@example(b'{"timestamp_ms": 1800000000000, "t": ' + b"[" * 5000 + b"]" * 5000 + b"}")
@example(b'{"timestamp_ms": 1800000000000, "t\\u0000": "\\ud800", "t": 1, "t": 2}')
def test_any_bytes_decode_or_are_a_payload_error(raw: bytes) -> None:
    with contextlib.suppress(codec.PayloadError):
        _check_decoded(codec.decode_values(raw, NOW))


@PROFILE
@given(
    st.lists(st.text(st.characters(blacklist_categories=()), max_size=8), min_size=1, max_size=8).map("/".join)
    | st.lists(st.from_regex(r"[A-Za-z0-9_\-]{1,6}\n?", fullmatch=True), min_size=1, max_size=8).map(
        lambda parts: "umh/v1/" + "/".join(parts)
    )
)
def test_any_topic_parses_or_is_a_topic_error(topic: str) -> None:
    try:
        parsed = UnsTopic.parse(topic)
    except TopicError:
        return
    assert str(parsed) == topic, "a topic that parses is exactly its parts: no trailing newline, nothing lost"
    assert "\n" not in topic


@PROFILE
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True),
        st.floats(-1e300, 1e300)
        | st.booleans()
        | st.none()
        | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
        min_size=1,
        max_size=10,
    )
)
def test_what_encode_makes_decodes_to_the_same(values: dict[str, codec.MaybeValue]) -> None:
    timestamp, decoded, rejected = codec.decode_values(codec.encode(NOW, values), NOW)
    assert timestamp == NOW and rejected == []
    assert dict(decoded) == values
