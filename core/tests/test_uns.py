"""The UNS topic grammar, table-style: what parses, into which parts, and what is refused and why."""

import pytest

from hf_core.uns import TopicError, UnsTopic, build_topic, is_valid_segment, segment_from_name

VALID = [
    ("umh/v1/acme/_historian/temperature", ("acme",), "_historian", (), "temperature"),
    ("umh/v1/acme/berlin/press/line1/press1/_historian/axis/x", ("acme", "berlin", "press", "line1", "press1"),
     "_historian", ("axis",), "x"),
    ("umh/v1/acme/berlin/press/line1/press1/_historian", ("acme", "berlin", "press", "line1", "press1"),
     "_historian", (), ""),
    ("umh/v1/acme/berlin/_analytics/work-order/start", ("acme", "berlin"), "_analytics", ("work-order",), "start"),
    ("umh/v1/ACME_1/site-2/_historian/a/b/c/d", ("ACME_1", "site-2"), "_historian", ("a", "b", "c"), "d"),
    # any depth of location, as benthos-umh accepts
    ("umh/v1/a/b/c/d/e/f/g/_historian/t", ("a", "b", "c", "d", "e", "f", "g"), "_historian", (), "t"),
]


@pytest.mark.parametrize(
    ("topic", "location", "contract", "groups", "tag"), VALID, ids=[v[0] for v in VALID]
)
def test_valid_topics_parse_into_their_parts(
    topic: str, location: tuple[str, ...], contract: str, groups: tuple[str, ...], tag: str
) -> None:
    parsed = UnsTopic.parse(topic)
    assert (parsed.location_path, parsed.data_contract, parsed.virtual_path, parsed.tag_name) == (
        location, contract, groups, tag)
    assert str(parsed) == topic


INVALID = [
    ("umh/v2/acme/_historian/t", "does not start with 'umh/v1/'"),
    ("spb/v1/acme/_historian/t", "does not start with 'umh/v1/'"),
    ("umh/v1/_historian/t", "needs at least the enterprise"),
    ("umh/v1/acme/bad seg/_historian/t", "segment 3 'bad seg'"),
    ("umh/v1/acme/+/_historian/t", "segment 3 '+'"),
    ("umh/v1/acme/site/#", "segment 4 '#'"),
    ("umh/v1/acme//_historian/t", "segment 3 ''"),
    ("umh/v1/acme/site/area", "no data contract"),
    ("umh/v1/acme/_historian/temperature\n", "segment 4 'temperature\\n'"),
    ("umh/v1/acme/_historian/te$mp", "segment 4 'te$mp'"),
]


@pytest.mark.parametrize(("topic", "reason"), INVALID, ids=[v[0] for v in INVALID])
def test_invalid_topics_are_refused_with_the_reason(topic: str, reason: str) -> None:
    with pytest.raises(TopicError, match=None) as caught:
        UnsTopic.parse(topic)
    assert reason in str(caught.value)


def test_tag_groups_become_topic_levels_and_dollar_names() -> None:
    topic = build_topic(["acme", "berlin"], "x", "axis$motor")
    assert topic == "umh/v1/acme/berlin/_historian/axis/motor/x"
    assert UnsTopic.parse(topic).full_tag_name == "axis$motor$x"
    assert build_topic(("acme",), "x", "axis/motor") == topic.replace("/berlin", "")


@pytest.mark.parametrize("segment", ["a", "A-9_z", "line1"])
def test_good_segments(segment: str) -> None:
    assert is_valid_segment(segment)


@pytest.mark.parametrize("segment", ["", "a b", "a/b", "a+b", "a#", "$SYS", "ü", "a.b"])
def test_bad_segments(segment: str) -> None:
    assert not is_valid_segment(segment)


@pytest.mark.parametrize(
    ("name", "segment"),
    [("Press Line 1", "Press_Line_1"), ("Presse Müller", "Presse_Muller"), ("  Ofen 3 / Süd  ", "Ofen_3_Sud"),
     ("line-1_a", "line-1_a"), ("Żółw", "Zow"), ("§$%", "")],
    ids=["spaces", "umlaut", "slash-and-padding", "already-a-segment", "polish", "nothing-left"],
)
def test_a_name_gives_one_segment_wherever_it_is_typed(name: str, segment: str) -> None:
    """The same plant typed in Odoo, in the onboarding form or read from a PLC gets one topic."""
    assert segment_from_name(name) == segment
    assert segment == "" or is_valid_segment(segment)
