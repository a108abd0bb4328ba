"""Issue 16: a plant engineer's first hour, as the README's "Connect your first PLC" walks it, against an
OPC UA server shaped like a vendor's (two namespaces; numeric, dotted-string, GUID and ByteString node ids;
a string state that never changes; a UInt32 part counter) — with nothing edited by hand:
the hierarchy, edge and device in Odoo (over XML-RPC, as an integrator would script the clicks) →
``hf-collector browse`` → Odoo's own import of that CSV as it is → ``hf-collector run`` → the ingest →
every variable live in ``read_latest`` with its type; the same file imported again updates the tags; a
refused node is shown on its tag in Odoo; ``read_history`` of the string state marshals over XML-RPC."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
import urllib.request
import uuid
import xmlrpc.client
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from asyncua import Server, ua
from conftest import DB_HOST, DB_PORT, DB_USER
from hf_testing import free_port, stop_processes
from test_end_to_end import COLLECTOR, INGEST, start

T = TypeVar("T")
VENDOR_URI = "urn:vendor:press7"
GUID = uuid.UUID("6f1c2a4e-3b5d-4e7f-9a01-b2c3d4e5f607")


@pytest.fixture
def vendor_server() -> Iterator[str]:
    """The vendor's server, on a thread of its own: its machine object Press7 in namespace urn:vendor:press7."""
    port = free_port()
    url = f"opc.tcp://127.0.0.1:{port}"
    ready, stopping = threading.Event(), threading.Event()

    async def serve() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"{url}/")
        ns = await server.register_namespace(VENDOR_URI)
        await server.register_namespace("urn:vendor:diagnostics")  # a second one, so indexes are not 1
        press = await server.nodes.objects.add_object(ua.NodeId("Press7", ns), ua.QualifiedName("Press7", ns))
        await press.add_variable(ua.NodeId(1001, ns), "Temperature", 61.5, ua.VariantType.Double)
        await press.add_variable(ua.NodeId("Drive.Spindle.Speed", ns), "SpindleSpeed", 1200.0, ua.VariantType.Float)
        counter = await press.add_variable(ua.NodeId(GUID, ns), "GoodCount", 0, ua.VariantType.UInt32)
        await press.add_variable(ua.NodeId(b"\x01\x02door", ns), "DoorClosed", True, ua.VariantType.Boolean)
        await press.add_variable(ua.NodeId("State", ns), "State", "running", ua.VariantType.String)
        async with server:
            ready.set()
            parts = 0
            while not stopping.is_set():  # the counter counts; the state never changes
                await asyncio.sleep(0.5)
                parts += 1
                await counter.write_value(ua.Variant(parts, ua.VariantType.UInt32))

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(30), "the vendor's OPC UA server did not start"
    yield url
    stopping.set()
    thread.join(15)


def wait_for(probe: Callable[[], T | None], timeout: float, failure: Callable[[], str]) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(1)
    raise AssertionError(failure())


def test_a_vendors_plc_is_live_in_odoo_without_a_hand_edit(
    odoo_db: str, odoo_url: str, private_broker: str, vendor_server: str, tmp_path: Path
) -> None:
    models = xmlrpc.client.ServerProxy(f"{odoo_url}/xmlrpc/2/object", allow_none=True)
    uid = xmlrpc.client.ServerProxy(f"{odoo_url}/xmlrpc/2/common").authenticate(odoo_db, "admin", "admin", {})

    def call(model: str, method: str, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401  (XML-RPC values)
        return models.execute_kw(odoo_db, uid, "admin", model, method, list(args), kwargs)

    def json_call(model: str, method: str, *args: Any) -> Any:  # noqa: ANN401
        """Over JSON-RPC, as Odoo's web client calls its import (its result holds nulls XML-RPC cannot carry)."""
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "call",
                "params": {
                    "service": "object",
                    "method": "execute_kw",
                    "args": [odoo_db, uid, "admin", model, method, list(args)],
                },
            }
        )
        request = urllib.request.Request(f"{odoo_url}/jsonrpc", body.encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
        assert "error" not in answer, answer["error"]
        return answer["result"]

    # 1-2. where it stands, the edge and the PLC (README steps 1 and 2)
    suffix = uuid.uuid4().hex[:6]
    company = call("res.users", "read", [uid], fields=["company_id"])[0]["company_id"][0]
    call("res.company", "write", [company], {"hf_uns_segment": "acme"})
    site = call("hf.uns.site", "create", {"name": f"Linz {suffix}", "segment": f"linz_{suffix}"})
    area = call("hf.uns.area", "create", {"name": "Press shop", "segment": "press_shop", "site_id": site})
    line = call("hf.uns.line", "create", {"name": "Line 1", "segment": "line1", "area_id": area})
    workcenter_name = f"Press 7 {suffix}"
    call("mrp.workcenter", "create", {"name": workcenter_name, "hf_line_id": line})
    edge = call("hf.uns.edge", "create", {"name": f"edge {suffix}", "site_id": site, "heartbeat_s": 2})
    key = call("hf.uns.edge", "action_generate_api_key", [edge])["context"]["default_key"]
    edge_user = call("hf.uns.edge", "read", [edge], fields=["user_id"])[0]["user_id"][0]
    login = call("res.users", "read", [edge_user], fields=["login"])[0]["login"]
    device_name = f"press7-plc-{suffix}"
    host_port = vendor_server.removeprefix("opc.tcp://")
    call(
        "hf.uns.device",
        "create",
        {
            "name": device_name,
            "protocol": "opcua",
            "host": host_port.split(":")[0],
            "port": int(host_port.split(":")[1]),
            "edge_id": edge,
            "workcenter_id": call("mrp.workcenter", "search", [("name", "=", workcenter_name)])[0],
        },
    )

    # 3. its variables, browsed
    browse = subprocess.run(
        [COLLECTOR, "browse", vendor_server, "--workcenter", workcenter_name, "--device", device_name],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert browse.returncode == 0, browse.stderr
    csv_text = browse.stdout
    assert "LastChange" not in csv_text and "ServerStatus" not in csv_text  # the server's own nodes left out
    assert f"nsu={VENDOR_URI};" in csv_text  # node ids by namespace URI

    # 4. imported as it is, with Odoo's own import; and again: the tags are updated, not refused
    def import_file(text: str) -> list[dict[str, Any]]:
        header = text.splitlines()[0].split(",")
        # the file as the import's upload stores it (its field holds the raw bytes, not base64)
        wizard = call(
            "base_import.import",
            "create",
            {"res_model": "hf.uns.tag", "file": text, "file_name": "tags.csv", "file_type": "text/csv"},
        )
        options = {"has_headers": True, "separator": ",", "quoting": '"', "encoding": "utf-8"}
        result = json_call("base_import.import", "execute_import", [wizard], header, header, options)
        return [m for m in result.get("messages", []) if m.get("type") == "error"]

    assert import_file(csv_text) == [], csv_text
    tags = call(
        "hf.uns.tag",
        "search_read",
        [("device_id.name", "=", device_name)],
        fields=["name", "topic", "data_type", "role"],
    )
    by_name = {t["name"]: t for t in tags}
    assert set(by_name) == {"Temperature", "SpindleSpeed", "GoodCount", "DoorClosed", "State"}
    assert (by_name["State"]["role"], by_name["GoodCount"]["role"]) == ("machine_state", "good_count")
    assert "/_historian/State" in by_name["State"]["topic"]
    assert "/_historian/Press7/" not in by_name["State"]["topic"]  # groups relative to the machine
    assert import_file(csv_text) == [], csv_text
    assert call("hf.uns.tag", "search_count", [("device_id.name", "=", device_name)]) == 5
    # a node the server does not have, typed by hand later, is refused by the server at connect
    bogus = call(
        "hf.uns.tag",
        "create",
        {
            "name": "Ghost",
            "workcenter_id": tags
            and call("hf.uns.tag", "read", [tags[0]["id"]], fields=["workcenter_id"])[0]["workcenter_id"][0],
            "device_id": call("hf.uns.device", "search", [("name", "=", device_name)])[0],
            "data_type": "float",
            "opcua_node_id": f"nsu={VENDOR_URI};s=No.Such.Node",
        },
    )

    # 5. the collector on "that box", the ingest in the cloud
    dsn = f"host={DB_HOST} port={DB_PORT} dbname={odoo_db} user={DB_USER}"
    processes = [
        start([INGEST, "--mqtt-url", private_broker, "--dsn", dsn], tmp_path / "ingest.log"),
        start(
            [
                COLLECTOR,
                "run",
                "--odoo",
                odoo_url,
                "--db",
                odoo_db,
                "--login",
                login,
                "--mqtt-url",
                private_broker,
                "--state-dir",
                str(tmp_path / "collector"),
            ],
            tmp_path / "collector.log",
            env={"HF_COLLECTOR_API_KEY": key},
        ),
    ]

    def logs() -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("*.log"))

    try:
        topics = [t["topic"] for t in tags]

        def every_value() -> dict[str, dict[str, Any]] | None:
            rows = {r["path"]: r for r in call("hf.uns.tag", "read_latest", topics) if r.get("time")}
            return rows if len(rows) == len(topics) else None

        latest = wait_for(every_value, 90, lambda: f"not every variable arrived\n{logs()}")
        values = {topic.rsplit("/", 1)[1]: row["value"] for topic, row in latest.items()}
        assert isinstance(values["Temperature"], float) and values["Temperature"] == pytest.approx(61.5)
        assert values["SpindleSpeed"] == pytest.approx(1200.0)
        assert isinstance(values["GoodCount"], int) and values["GoodCount"] >= 0
        assert values["DoorClosed"] is True
        assert values["State"] == "running"
        # the state never changes, yet its heartbeat (2 s here) keeps it current
        first_time = latest[by_name["State"]["topic"]]["time"]
        wait_for(
            lambda: call("hf.uns.tag", "read_latest", [by_name["State"]["topic"]])[0]["time"] > first_time or None,
            15,
            lambda: f"the steady state was not sent again\n{logs()}",
        )
        # the refused node is on its tag, with the server's status code
        error = wait_for(
            lambda: call("hf.uns.tag", "read", [bogus], fields=["collector_error"])[0]["collector_error"] or None,
            90,
            lambda: f"the refused tag was not reported\n{logs()}",
        )
        assert "BadNodeIdUnknown" in error or "0x80340000" in error, error
        # the string state's history marshals over XML-RPC
        now = datetime.now(UTC)
        history = call(
            "hf.uns.tag",
            "read_history",
            by_name["State"]["topic"],
            (now - timedelta(minutes=10)).isoformat(),
            (now + timedelta(minutes=1)).isoformat(),
        )
        assert history["points"], history
        assert {p["last"] for p in history["points"] if not p.get("gap")} == {"running"}, history
    finally:
        stop_processes(processes)
