"""The whole chain on one machine: a simulated machine speaking real OPC UA, Modbus TCP and S7 →
the collector (configuration pulled from Odoo as its edge) → MQTT → the ingest → the historian →
Odoo's read API over XML-RPC. This is what `make demo` runs, checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

from conftest import DB_HOST, DB_PORT, DB_USER, ROOT, run_odoo
from hf_testing import free_port, stop_processes

COLLECTOR = str(Path(sys.executable).with_name("hf-collector"))
INGEST = str(Path(sys.executable).with_name("hf-ingest"))


def start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    handle = log.open("w")
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def start_demo_plant(tmp_path: Path, db: str, *simulate_args: str) -> subprocess.Popen[bytes]:
    """The demo's simulator and its plant seeded into ``db`` (scripts/demo_seed.py), as `make demo` makes them;
    the simulator's process, for the caller to stop. The demo's own files and ports stay the demo's (its
    files under ``tmp_path/var/demo``, free ports): a `make demo` running beside the tests is not disturbed."""
    demo = tmp_path / "var" / "demo"
    demo.mkdir(parents=True)
    site_yaml = demo / "site.yaml"
    ports = [str(free_port()) for _ in range(3)]
    simulator = start(
        [
            COLLECTOR,
            "simulate",
            "--write-config",
            str(site_yaml),
            "--opcua-port",
            ports[0],
            "--modbus-port",
            ports[1],
            "--s7-port",
            ports[2],
            *simulate_args,
        ],
        tmp_path / "simulate.log",
    )
    try:
        deadline = time.monotonic() + 60
        while not (site_yaml.exists() and site_yaml.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert site_yaml.exists(), (tmp_path / "simulate.log").read_text()
        run_odoo(
            "shell",
            "-d",
            db,
            "--no-http",
            "--log-level=warn",
            stdin=(ROOT / "scripts" / "demo_seed.py").read_text(),
            env={"HF_ROOT": str(tmp_path)},
        )
    except BaseException:
        stop_processes([simulator])
        raise
    return simulator


def test_simulated_machine_reaches_odoo(odoo_db: str, odoo_url: str, private_broker: str, tmp_path: Path) -> None:
    processes = [start_demo_plant(tmp_path, odoo_db)]
    try:
        edge = json.loads((tmp_path / "var" / "demo" / "edge.json").read_text())
        dsn = f"host={DB_HOST} port={DB_PORT} dbname={odoo_db} user={DB_USER}"
        processes.append(start([INGEST, "--mqtt-url", private_broker, "--dsn", dsn], tmp_path / "ingest.log"))
        processes.append(
            start(
                [
                    COLLECTOR,
                    "run",
                    "--odoo",
                    odoo_url,
                    "--db",
                    odoo_db,
                    "--login",
                    edge["login"],
                    "--mqtt-url",
                    private_broker,
                    "--state-dir",
                    str(tmp_path / "collector"),
                ],
                tmp_path / "collector.log",
                env={"HF_COLLECTOR_API_KEY": edge["api_key"]},
            )
        )

        common = xmlrpc.client.ServerProxy(f"{odoo_url}/xmlrpc/2/common")
        models = xmlrpc.client.ServerProxy(f"{odoo_url}/xmlrpc/2/object")
        uid = common.authenticate(odoo_db, "admin", "admin", {})
        tags = models.execute_kw(
            odoo_db, uid, "admin", "hf.uns.tag", "search_read", [[]], {"fields": ["topic", "device_id", "data_type"]}
        )
        devices = {t["device_id"][1] for t in tags if t["device_id"]}
        assert devices == {"cnc1-opcua", "press1-modbus", "robot1-s7"}
        topics = [t["topic"] for t in tags]

        def fresh_values() -> dict[str, object]:
            rows = models.execute_kw(odoo_db, uid, "admin", "hf.uns.tag", "read_latest", [topics])
            return {r["path"]: (r["time"], r["value"]) for r in rows if r["time"]}

        deadline = time.monotonic() + 90
        first: dict[str, object] = {}
        while time.monotonic() < deadline and len(first) < len(topics):
            time.sleep(1)
            first = fresh_values()
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in tmp_path.glob("*.log"))
        assert len(first) == len(topics), f"tags without data: {set(topics) - set(first)}\n{logs}"
        # the machine keeps running: values move, and the device per protocol all delivered
        time.sleep(3)
        later = fresh_values()
        assert all(later[t][0] >= first[t][0] for t in topics)
        assert any(later[t][1] != first[t][1] for t in topics), "no value changed in 3 s of a running machine"
        edge_state = models.execute_kw(
            odoo_db,
            uid,
            "admin",
            "hf.uns.edge",
            "search_read",
            [[("name", "=", "demo-edge")]],
            {"fields": ["state", "config_version"]},
        )
        assert edge_state[0]["state"] == "online"
    finally:
        stop_processes(processes)
