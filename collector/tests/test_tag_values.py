"""One rule turns a PLC's raw value into a tag's value, for OPC UA, Modbus and S7 alike (issue 13: each driver
had its own, and S7 did not round a scaled INT tag)."""

from __future__ import annotations

import pytest

from hf_collector.model import S7Address, TagConfig
from hf_core.types import DataType

TOPIC = "umh/v1/acme/plant/line/press/_historian/value"


def tag(data_type: DataType, gain: float = 1.0, offset: float = 0.0) -> TagConfig:
    return TagConfig(
        "value", TOPIC, S7Address("DB", "INT", db_number=1), data_type=data_type, scale_gain=gain, scale_offset=offset
    )


@pytest.mark.parametrize(
    ("data_type", "gain", "offset", "raw", "value"),
    [
        (DataType.INT, 0.1, 0.0, 1234, 123),  # an S7 INT in tenths, scaled: an int, rounded
        (DataType.INT, 1.0, 0.0, 9_007_199_254_740_993, 9_007_199_254_740_993),  # exact, never through a float
        (DataType.INT, 1.0, 0.0, 41.6, 42),
        (DataType.FLOAT, 1.0, 0.0, 21, 21.0),
        (DataType.FLOAT, 2.0, 1.0, 10, 21.0),
        (DataType.FLOAT, 1.0, 0.0, 61.5, 61.5),
        (DataType.BOOL, 1.0, 0.0, 1, True),
        (DataType.STRING, 1.0, 0.0, 3, "3"),
        (DataType.STRING, 1.0, 0.0, "running", "running"),
    ],
    ids=[
        "scaled-int",
        "big-int",
        "int-from-float",
        "float-from-int",
        "scaled-float",
        "float",
        "bool",
        "string",
        "text",
    ],
)
def test_a_raw_value_becomes_the_tags_value(
    data_type: DataType, gain: float, offset: float, raw: object, value: object
) -> None:
    got = tag(data_type, gain, offset).value_of(raw)
    assert got == value
    assert type(got) is type(value)


def test_what_is_no_number_is_refused_for_a_number_tag() -> None:
    with pytest.raises(ValueError):
        tag(DataType.FLOAT).value_of("running")
