"""Issue 17, point 7: the onboarding form takes a tag list per device in the columns of Odoo's tag import."""

from __future__ import annotations

import pytest

from hf_saas.errors import SpecError
from hf_saas.spec import parse_spec
from hf_saas.tag_list import MAX_TEXT_BYTES, parse_tag_list

from .conftest import spec_data

MODBUS = """name,data_type,role,modbus_table,modbus_address,modbus_type
temperature,float,,holding,0,float32
state,int,machine_state,holding,4,uint16

good_count,int,good_count,holding,5,uint32
"""


def test_a_modbus_list_becomes_the_specs_tags_and_passes_the_spec() -> None:
    tags = parse_tag_list(MODBUS, "modbus")
    assert tags == [
        {"name": "temperature", "data_type": "float", "address": {"table": "holding", "address": 0, "type": "float32"}},
        {
            "name": "state",
            "data_type": "int",
            "role": "machine_state",
            "address": {"table": "holding", "address": 4, "type": "uint16"},
        },
        {
            "name": "good_count",
            "data_type": "int",
            "role": "good_count",
            "address": {"table": "holding", "address": 5, "type": "uint32"},
        },
    ]
    data = spec_data("Tag List Works", devices=1)
    data["devices"][0].update(protocol="modbus", tags=tags)  # type: ignore[index]
    assert len(parse_spec(data).devices[0].tags) == 3


def test_the_browse_file_imports_as_it_is() -> None:
    """What `hf-collector browse` writes (its bookkeeping columns included) is a valid OPC UA list."""
    browse = (
        "id,name,tag_group,workcenter_id,device_id,data_type,role,opcua_node_id,description\n"
        'press7_spindle,SpindleSpeed,MainDrive,Press 7,press7-opc,float,plain,"nsu=urn:plc;s=Drive.Speed",rpm\n'
    )
    assert parse_tag_list(browse, "opcua") == [
        {
            "name": "SpindleSpeed",
            "tag_group": "MainDrive",
            "data_type": "float",
            "role": "plain",
            "address": {"node_id": "nsu=urn:plc;s=Drive.Speed"},
        }
    ]


@pytest.mark.parametrize(
    ("text", "protocol", "message"),
    [
        ("name,modbus_table,modbus_address\nt,holding,0\n", "modbus", "missing column(s) modbus_type"),
        ("name,opcua_node_id,colour\nt,i=1,red\n", "opcua", "unknown column(s) colour"),
        ("name,modbus_table,modbus_address,modbus_type\nt,holding,-1,float32\n", "modbus", "line 2: modbus_address"),
        ("name,modbus_table,modbus_address,modbus_type\nt,ram,1,float32\n", "modbus", "'ram' is not one of coil"),
        ("name,s7_area,s7_offset,s7_type\nt,DB,zero,REAL\n", "s7", "line 2: s7_offset"),
        ("name,data_type,opcua_node_id\nt,decimal,i=1\n", "opcua", "'decimal' is not one of bool, float"),
        ("name,opcua_node_id\nmy tag,i=1\n", "opcua", "may only contain letters"),
        ("name,opcua_node_id\n,i=1\n", "opcua", "line 2: name is empty"),
        ("name,opcua_node_id\nt,i=1,extra\n", "opcua", "line 2 has more values"),
        ("name,opcua_node_id\nt,i=1\n", "", "protocol before its tags"),
    ],
    ids=[
        "missing-column",
        "unknown-column",
        "negative",
        "bad-table",
        "not-a-number",
        "bad-type",
        "bad-name",
        "empty-name",
        "extra-value",
        "no-protocol",
    ],
)
def test_a_bad_list_is_refused_with_its_line_and_column(text: str, protocol: str, message: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse_tag_list(text, protocol, path="devices.0.tags")
    assert message in refused.value.errors["devices.0.tags"]


def test_a_huge_list_is_refused_before_it_is_read() -> None:
    text = "name,opcua_node_id\n" + "t,i=1\n" * (MAX_TEXT_BYTES // 6 + 1)
    with pytest.raises(SpecError, match="at most 512 kB"):
        parse_tag_list(text, "opcua")


def test_an_empty_list_is_no_tags() -> None:
    assert parse_tag_list("  \n", "modbus") == []
