"""The hyperfactory-cloud of the cloud benchmarks, on real processes: a Mosquitto that enforces the users and
ACL ``hf-saas`` writes, ``hf-saas serve`` (each tenant's Odoo on its first request, each ready tenant's
ingest), the project's simulator as every customer's plant, a provisioner of its own (state in a temporary
folder, its own template and database prefix), and the bundle's collector run as a customer runs it."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg2
from saas_bench import drop_tenant, free_port, stop_processes, wait_port

from hf_historian import reader
from hf_saas.provision import Provisioner
from hf_saas.settings import Settings

BIN = Path(sys.executable).parent


@dataclass
class Cloud:
    work: Path
    settings: Settings
    provisioner: Provisioner
    modbus_port: int
    router: subprocess.Popen[bytes]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run_bundle(self, folder: Path, log: Path) -> subprocess.Popen[bytes]:
        """``sh run.sh`` of an unpacked bundle, with none of this process's collector settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_COLLECTOR")}
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        with log.open("ab") as out:
            return subprocess.Popen(["sh", str(folder / "run.sh")], stdout=out, stderr=subprocess.STDOUT, env=env)

    def stored(self, db: str, names: list[str], after: datetime | None = None) -> dict[str, datetime]:
        """The time of the latest stored sample of each tag named (newer than ``after``, when given)."""
        with closing(psycopg2.connect(**self.settings.dsn(db))) as conn, conn.cursor() as cr:
            cr.execute("SELECT id, name FROM hf_uns_tag WHERE name = ANY(%s)", (names,))
            tag_names = dict(cr.fetchall())
            rows = reader.read_latest(cr, list(tag_names))
        return {tag_names[row["tag_id"]]: row["time"] for row in rows if after is None or row["time"] > after}


def stop(process: subprocess.Popen[bytes]) -> None:
    stop_processes([process], timeout=30)


@contextmanager
def cloud(db_prefix: str, *router_args: str) -> Iterator[Cloud]:
    """The whole rig, stopped afterwards; the tenants whose names start with ``db_prefix`` are the caller's
    to create and drop (``drop_tenant``)."""
    work = Path(tempfile.mkdtemp(prefix="hf_bench_cloud_"))
    broker_port, router_port, modbus_port = free_port(), free_port(), free_port()
    (work / "passwd").write_text("")
    (work / "acl").write_text("")
    (work / "mosquitto.conf").write_text(
        f"user {getpass.getuser()}\nlistener {broker_port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {work / 'passwd'}\nacl_file {work / 'acl'}\npid_file {work / 'mosquitto.pid'}\n"
        "max_queued_messages 100000\n"
    )
    state = work / "state"
    os.environ.update(
        {
            "HF_SAAS_STATE_DIR": str(state),
            "HF_SAAS_DATA_DIR": str(state / "odoo-data"),
            "HF_SAAS_TEMPLATE_DB": "hf_bench_tenant_template",
            "HF_SAAS_DB_PREFIX": db_prefix,
            "HF_SAAS_MOSQUITTO_DIR": str(work),
            "HF_SAAS_MOSQUITTO_PIDFILE": str(work / "mosquitto.pid"),
            "HF_SAAS_MQTT_URL": f"mqtt://mqtt.localhost:{broker_port}",
            "HF_SAAS_INGEST_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
            "HF_SAAS_BASE_URL": f"http://{{db}}.localhost:{router_port}",
        }
    )
    settings = Settings.load()
    provisioner = Provisioner(settings)
    provisioner.build_template()
    processes = [
        subprocess.Popen(
            ["mosquitto", "-c", str(work / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ),
        subprocess.Popen(
            [
                str(BIN / "hf-collector"),
                "simulate",
                "--modbus-port",
                str(modbus_port),
                "--opcua-port",
                str(free_port()),
                "--s7-port",
                str(free_port()),
            ],
            stdout=(work / "simulate.log").open("wb"),
            stderr=subprocess.STDOUT,
        ),
    ]
    router = subprocess.Popen(
        [str(BIN / "hf-saas"), "serve", "--listen", f"127.0.0.1:{router_port}", *router_args],
        stdout=(work / "router.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    rig = Cloud(work, settings, provisioner, modbus_port, router, processes)
    try:
        for port, timeout in ((broker_port, 10), (modbus_port, 60), (router_port, 30)):
            wait_port(port, timeout)
        yield rig
    finally:
        stop(router)  # it stops every tenant's Odoo and ingest
        for process in processes:
            stop(process)


__all__ = ["Cloud", "cloud", "drop_tenant", "stop"]
