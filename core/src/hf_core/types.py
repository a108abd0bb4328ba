"""The closed sets of the UNS contract: device protocols (and their standard ports), tag data types and
sample quality. One definition each, for the edge, the ingest, the provisioner and Odoo."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class DeviceProtocol(StrEnum):
    OPCUA = "opcua"
    MODBUS = "modbus"
    S7 = "s7"


# The port a PLC listens on when its device record gives none (IANA / vendor standard).
DEFAULT_PORTS: dict[str, int] = {DeviceProtocol.OPCUA: 4840, DeviceProtocol.MODBUS: 502, DeviceProtocol.S7: 102}


# How a tag is addressed in a PLC: Modbus tables and value types (with their width in 16-bit registers;
# a string's is its own length), and S7 memory areas and types (width in bytes).
MODBUS_TABLES = ("holding", "input", "coil", "discrete")
MODBUS_TYPES = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4, "bool": 1, "string": 0}
S7_AREAS = ("DB", "M", "I", "Q")
S7_TYPES = {"BOOL": 1, "INT": 2, "DINT": 4, "REAL": 4, "WORD": 2, "DWORD": 4, "STRING": 0}


class TagRole(StrEnum):
    """What a tag means to OEE and MRP (hf.uns.tag's ``role``)."""

    PLAIN = "plain"
    MACHINE_STATE = "machine_state"
    GOOD_COUNT = "good_count"
    SCRAP_COUNT = "scrap_count"
    DERIVED = "derived"


class DataType(StrEnum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STRING = "string"


class Quality(IntEnum):
    """OPC UA's three severities, as the historian stores them (`quality` smallint)."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2
