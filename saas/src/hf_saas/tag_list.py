"""A device's tag list as the onboarding form takes it: CSV text with the columns of Odoo's tag import (the
file ``hf-collector browse`` writes), turned into the spec's tag objects (``name``, ``data_type``, ``role``,
``address`` …) and checked column by column, so that a typing slip is refused on the form with its line
instead of failing the provisioning later.

    name,data_type,role,modbus_table,modbus_address,modbus_type
    temperature,float,,holding,0,float32
    state,int,machine_state,holding,4,uint16

The import's own bookkeeping columns (``id``, ``workcenter_id``, ``device_id``, ``description``) are accepted
and ignored: the row belongs to the device it was entered for.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection
from typing import Any

from hf_core.types import MODBUS_TABLES, MODBUS_TYPES, S7_AREAS, S7_TYPES, DataType, DeviceProtocol, TagRole
from hf_core.uns import is_valid_segment

from .errors import SpecError

# A tag list longer than this is not typed into a form: it is imported into the instance afterwards.
MAX_TEXT_BYTES = 512 * 1024
IGNORED_COLUMNS = frozenset({"id", "workcenter_id", "device_id", "description"})
WORD_ORDERS = ("big", "little")

Parse = Callable[[str], Any]


def _one_of(choices: Collection[str]) -> Parse:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(sorted(choices))}")
        return value

    return parse


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"{value} is negative")
    return number


# column -> (key in the spec's tag, or in its "address" when the key starts with "address.", parser)
COMMON_COLUMNS: dict[str, tuple[str, Parse]] = {
    "name": ("name", str),
    "tag_group": ("tag_group", str),
    "data_type": ("data_type", _one_of([t.value for t in DataType])),
    "role": ("role", _one_of([r.value for r in TagRole])),
    "unit": ("unit", str),
    "sampling_interval_ms": ("sampling_interval_ms", _count),
}
ADDRESS_COLUMNS: dict[str, dict[str, tuple[str, Parse]]] = {
    DeviceProtocol.OPCUA: {"opcua_node_id": ("node_id", str)},
    DeviceProtocol.MODBUS: {
        "modbus_unit_id": ("unit_id", _count),
        "modbus_table": ("table", _one_of(MODBUS_TABLES)),
        "modbus_address": ("address", _count),
        "modbus_type": ("type", _one_of(MODBUS_TYPES)),
        "modbus_byte_order": ("byte_order", _one_of(WORD_ORDERS)),
        "modbus_word_order": ("word_order", _one_of(WORD_ORDERS)),
        "modbus_length": ("length", _count),
    },
    DeviceProtocol.S7: {
        "s7_area": ("area", _one_of(S7_AREAS)),
        "s7_db_number": ("db_number", _count),
        "s7_offset": ("offset", _count),
        "s7_bit": ("bit", _count),
        "s7_type": ("type", _one_of(S7_TYPES)),
        "s7_length": ("length", _count),
    },
}
REQUIRED_ADDRESS: dict[str, tuple[str, ...]] = {
    DeviceProtocol.OPCUA: ("opcua_node_id",),
    DeviceProtocol.MODBUS: ("modbus_table", "modbus_address", "modbus_type"),
    DeviceProtocol.S7: ("s7_area", "s7_offset", "s7_type"),
}


def parse_tag_list(text: str, protocol: str, path: str = "tags") -> list[dict[str, Any]]:
    """The spec's tags of one device from CSV ``text``; :class:`SpecError` under ``path`` says which line and
    column to fix (every line is checked, the first errors are reported)."""
    if not text.strip():
        return []
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise SpecError(
            {
                path: f"A tag list is at most {MAX_TEXT_BYTES // 1024} kB here; import longer lists "
                "into your instance once it is ready."
            }
        )
    if protocol not in ADDRESS_COLUMNS:
        raise SpecError({path: "Choose the device's protocol before its tags."})
    addresses = ADDRESS_COLUMNS[protocol]
    reader = csv.DictReader(io.StringIO(text.strip()), skipinitialspace=True)
    header = [column.strip() for column in reader.fieldnames or []]
    known = COMMON_COLUMNS.keys() | addresses.keys() | IGNORED_COLUMNS
    unknown = [column for column in header if column not in known]
    missing = [column for column in ("name", *REQUIRED_ADDRESS[protocol]) if column not in header]
    if unknown or missing:
        problems = ([f"unknown column(s) {', '.join(unknown)}"] if unknown else []) + (
            [f"missing column(s) {', '.join(missing)}"] if missing else []
        )
        raise SpecError(
            {
                path: f"The first line names the columns: {'; '.join(problems)}. A {protocol} tag "
                f"needs {', '.join(('name', *REQUIRED_ADDRESS[protocol]))}."
            }
        )
    reader.fieldnames = header
    tags: list[dict[str, Any]] = []
    errors: list[str] = []
    for line, row in enumerate(reader, start=2):
        if None in row:
            errors.append(f"line {line} has more values than the first line has columns")
            continue
        tag, problem = _tag(row, addresses, REQUIRED_ADDRESS[protocol])
        if problem:
            errors.append(f"line {line}: {problem}")
        elif tag:
            tags.append(tag)
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise SpecError({path: "; ".join(errors[:3]) + more + "."})
    return tags


def _tag(
    row: dict[str, str | None], addresses: dict[str, tuple[str, Parse]], required: tuple[str, ...]
) -> tuple[dict[str, Any] | None, str | None]:
    values = {column: (value or "").strip() for column, value in row.items()}
    if not any(values.values()):
        return None, None  # an empty line
    tag: dict[str, Any] = {}
    address: dict[str, Any] = {}
    for column in ("name", *required):
        if not values.get(column):
            return None, f"{column} is empty"
    for column, value in values.items():
        if not value or column in IGNORED_COLUMNS:
            continue
        key, parse = COMMON_COLUMNS.get(column) or addresses[column]
        try:
            parsed = parse(value)
        except ValueError as exc:
            return None, f"{column}: {exc}"
        (address if column in addresses else tag)[key] = parsed
    if not is_valid_segment(tag["name"]):
        return None, f"the name {tag['name']!r} may only contain letters, digits, '_' and '-'"
    tag.setdefault("data_type", DataType.FLOAT.value)
    tag["address"] = address
    return tag, None
