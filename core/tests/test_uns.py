"""The UNS topic grammar, table-style: what parses, into which parts, and what is refused and why."""

import pytest

from hf_core.uns import TagKey, TopicError, UnsTopic, build_topic, is_valid_segment, segment_from_name

VALID = [
    ("umh/v1/acme/_historian/temperature", ("acme",), "_historian", (), "temperature"),
    (
        "umh/v1/acme/berlin/press/line1/press1/_historian/axis/x",
        ("acme", "berlin", "press", "line1", "press1"),
        "_historian",
        ("axis",),
        "x",
    ),
    (
        "umh/v1/acme/berlin/press/line1/press1/_historian",
        ("acme", "berlin", "press", "line1", "press1"),
        "_historian",
        (),
        "",
    ),
    ("umh/v1/acme/berlin/_analytics/work-order/start", ("acme", "berlin"), "_analytics", ("work-order",), "start"),
    ("umh/v1/ACME_1/site-2/_historian/a/b/c/d", ("ACME_1", "site-2"), "_historian", ("a", "b", "c"), "d"),
    # any depth of location, as benthos-umh accepts
    ("umh/v1/a/b/c/d/e/f/g/_historian/t", ("a", "b", "c", "d", "e", "f", "g"), "_historian", (), "t"),
]


@pytest.mark.parametrize(("topic", "location", "contract", "groups", "tag"), VALID, ids=[v[0] for v in VALID])
def test_valid_topics_parse_into_their_parts(
    topic: str, location: tuple[str, ...], contract: str, groups: tuple[str, ...], tag: str
) -> None:
    parsed = UnsTopic.parse(topic)
    assert (parsed.location_path, parsed.data_contract, parsed.virtual_path, parsed.tag_name) == (
        location,
        contract,
        groups,
        tag,
    )
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
    [
        ("Press Line 1", "Press_Line_1"),
        ("Presse Müller", "Presse_Muller"),
        ("  Ofen 3 / Süd  ", "Ofen_3_Sud"),
        ("line-1_a", "line-1_a"),
        ("Żółw", "Zow"),
        ("§$%", ""),
    ],
    ids=["spaces", "umlaut", "slash-and-padding", "already-a-segment", "polish", "nothing-left"],
)
def test_a_name_gives_one_segment_wherever_it_is_typed(name: str, segment: str) -> None:
    """The same plant typed in Odoo, in the onboarding form or read from a PLC gets one topic."""
    assert segment_from_name(name) == segment
    assert segment == "" or is_valid_segment(segment)


KEYS = [
    ("x", (), "x"),
    ("axis$x", ("axis",), "x"),
    ("axis$motor$x", ("axis", "motor"), "x"),
    ("Spindle_1$speed-rpm", ("Spindle_1",), "speed-rpm"),
]


@pytest.mark.parametrize(("text", "groups", "name"), KEYS, ids=[k[0] for k in KEYS])
def test_tag_keys_split_into_groups_and_name_and_join_back(text: str, groups: tuple[str, ...], name: str) -> None:
    key = TagKey.parse(text)
    assert (key.groups, key.name) == (groups, name)
    assert key == TagKey(groups=groups, name=name)
    assert str(key) == text
    assert key.tag_group == "$".join(groups)
    assert TagKey.from_group(key.tag_group, name) == key


BAD_KEYS = [
    ("", "tag ''"),
    ("axis$", "tag ''"),
    ("$x", "tag group ''"),
    ("axis$$x", "tag group ''"),
    ("axis/x", "tag 'axis/x'"),
    ("bad name", "tag 'bad name'"),
    ("a+b$x", "tag group 'a+b'"),
]


@pytest.mark.parametrize(("text", "reason"), BAD_KEYS, ids=[k[0] or "empty" for k in BAD_KEYS])
def test_bad_tag_keys_are_refused_naming_the_part(text: str, reason: str) -> None:
    with pytest.raises(TopicError) as caught:
        TagKey.parse(text)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("tag_group", "key"),
    [
        ("", "x"),
        ("axis", "axis$x"),
        ("axis$motor", "axis$motor$x"),
        ("axis/motor", "axis$motor$x"),
        ("/axis//motor$", "axis$motor$x"),
    ],
    ids=["none", "one", "dollar", "slash", "stray-separators"],
)
def test_a_typed_tag_group_takes_dollar_or_slash(tag_group: str, key: str) -> None:
    assert str(TagKey.from_group(tag_group, "x")) == key


TOPIC_KEYS = [
    ("umh/v1/acme/_historian/axis/x", "", "axis$x"),
    ("umh/v1/acme/_historian/axis", "x", "axis$x"),
    ("umh/v1/acme/_historian", "axis$x", "axis$x"),
    ("umh/v1/acme/_historian/a/b", "c$d", "a$b$c$d"),
]


@pytest.mark.parametrize(("topic", "name", "key"), TOPIC_KEYS, ids=[f"{t[0]}+{t[1]}" for t in TOPIC_KEYS])
def test_a_topic_and_a_payload_name_make_one_tag_key(topic: str, name: str, key: str) -> None:
    parsed = UnsTopic.parse(topic)
    tag_key = parsed.tag_key(name)
    assert str(tag_key) == key
    assert str(tag_key.topic(parsed.location_path)) == "umh/v1/acme/_historian/" + key.replace("$", "/")
    assert str(parsed.workcell_topic) == "umh/v1/acme/_historian"


def test_a_topic_without_tag_has_no_key() -> None:
    with pytest.raises(TopicError, match="names no tag"):
        UnsTopic.parse("umh/v1/acme/_historian").tag_key()
    assert UnsTopic.parse("umh/v1/acme/_historian").full_tag_name == ""
