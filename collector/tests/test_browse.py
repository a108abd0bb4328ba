"""`hf-collector browse` against a real asyncua server: the CSV lists its variables, ready for Odoo's import."""

from __future__ import annotations

import csv
import io

import pytest
from hf_testing import free_port

from hf_collector.browse import browse, guess_role, write_csv
from hf_collector.simulate.machine import Machine
from hf_collector.simulate.servers import OPCUA_NAMESPACE, OpcUaMachine


async def test_browse_writes_a_csv_that_imports_as_is_into_a_workcell() -> None:
    """Each variable a row of Odoo's tag import: workcell and device named, node ids by namespace URI, the
    machine object browsed from (its name is not repeated as a group), roles guessed for OEE, the server's
    own namespace left out, and an external key so a second import updates."""
    port = free_port()
    server = OpcUaMachine(Machine(), port)
    await server.start()
    try:
        rows = await browse(f"opc.tcp://127.0.0.1:{port}", workcenter="CNC 1", device="cnc1-plc")
    finally:
        await server.stop()
    out = io.StringIO()
    write_csv(rows, out)
    parsed = {row["name"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert parsed["temperature"]["opcua_node_id"] == f"nsu={OPCUA_NAMESPACE};s=cnc1.temperature"
    assert parsed["temperature"]["tag_group"] == ""
    assert (parsed["temperature"]["workcenter_id"], parsed["temperature"]["device_id"]) == ("CNC 1", "cnc1-plc")
    assert parsed["temperature"]["id"] == "hf_browse_CNC_1_temperature"
    assert parsed["temperature"]["data_type"] == "float"
    assert (parsed["state"]["data_type"], parsed["state"]["role"]) == ("string", "machine_state")
    assert (parsed["good_count"]["data_type"], parsed["good_count"]["role"]) == ("int", "good_count")
    assert parsed["temperature"]["role"] == "plain"
    assert not [row for row in rows if row["opcua_node_id"].startswith(("i=", "ns=0;"))], "server nodes listed"
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [
        "id",
        "name",
        "tag_group",
        "workcenter_id",
        "device_id",
        "data_type",
        "role",
        "opcua_node_id",
        "description",
    ]


@pytest.mark.parametrize(
    ("name", "data_type", "role"),
    [
        ("State", "string", "machine_state"),
        ("MachineStatus", "int", "machine_state"),
        ("PartCounter", "int", "good_count"),
        ("ScrapCount", "int", "scrap_count"),
        ("SpindleSpeed", "float", "plain"),
        ("State", "float", "plain"),
    ],
)
def test_roles_are_guessed_only_where_name_and_type_say_so(name: str, data_type: str, role: str) -> None:
    assert guess_role(name, data_type) == role
