"""`hf-collector browse` against a real asyncua server: the CSV lists its variables, ready for Odoo's import."""

from __future__ import annotations

import csv
import io

from hf_testing import free_port

from hf_collector.browse import browse, write_csv
from hf_collector.simulate.machine import Machine
from hf_collector.simulate.servers import OpcUaMachine


async def test_browse_lists_the_machine_variables_as_importable_csv() -> None:
    port = free_port()
    server = OpcUaMachine(Machine(), port)
    await server.start()
    try:
        rows = await browse(f"opc.tcp://127.0.0.1:{port}")
    finally:
        await server.stop()
    out = io.StringIO()
    write_csv(rows, out)
    parsed = {row["name"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert parsed["temperature"]["opcua_node_id"] == "ns=2;s=cnc1.temperature"
    assert parsed["temperature"]["tag_group"] == "cnc1"
    assert parsed["temperature"]["data_type"] == "float"
    assert parsed["state"]["data_type"] == "string"
    assert parsed["good_count"]["data_type"] == "int"
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["name", "tag_group", "data_type", "opcua_node_id",
                                                             "description"]
