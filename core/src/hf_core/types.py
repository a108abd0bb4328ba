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
