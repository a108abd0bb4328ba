"""Form submit → first live value in a new tenant's historian, step by step (issue 17's benchmark).

What the operator's cron does once a signup is confirmed and paid (``Provisioner.create`` of the form's spec,
with its device and tags), then what the customer does with the bundle (``sh run.sh``): the collector pulls
its devices from the tenant's Odoo through ``hf-saas serve`` (that Odoo started on the first request), reads
the project's simulator over Modbus TCP and publishes to a Mosquitto that enforces the tenant's users and
ACL; the tenant's own ingest (started by ``hf-saas serve``) stores the values. The baseline, from the same
run: the bundle's collector started again once everything is warm (the tenant's Odoo and ingest running).
There is no Ziti enrollment step: no controller runs here. Prints figures; asserts nothing on time.

    .venv/bin/python bench/bench_cloud_journey.py [--runs 2]
"""

from __future__ import annotations

import argparse
import getpass
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TypeVar

import psycopg2

from hf_historian import reader
from hf_saas.bundle import unpack
from hf_saas.provision import Provisioner
from hf_saas.settings import Settings
from hf_saas.spec import parse_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "saas"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))  # hf_testing, for the conftest
from hf_testing import free_port, wait_port

from tests.conftest import drop_tenant

BIN = Path(sys.executable).parent
TAGS = [{"name": "temperature", "data_type": "float", "address": {"table": "holding", "address": 0, "type": "float32"}},
        {"name": "spindle_speed", "data_type": "float",
         "address": {"table": "holding", "address": 2, "type": "float32"}}]
T = TypeVar("T")


def _spec(company: str, modbus_port: int) -> dict[str, object]:
    return {"company": {"name": company, "contact_name": "Bea Bench", "email": "bea@bench-journey.example",
                        "timezone": "Europe/Berlin"},
            "site": {"name": "Graz", "areas": [{"name": "Press shop", "lines": [
                {"name": "Line 1", "workcenters": ["Cell 1"]}]}]},
            "devices": [{"name": "press1-modbus", "protocol": "modbus", "ip": "127.0.0.1", "port": modbus_port,
                         "workcenter": "Cell 1", "tags": TAGS}]}


def _wait(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := probe()) is not None:
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def _first_value_after(settings: Settings, db: str, since: float) -> float | None:
    """The wall-clock time of the first stored sample newer than ``since`` (epoch seconds), if any."""
    with closing(psycopg2.connect(**settings.dsn(db))) as conn, conn.cursor() as cr:
        cr.execute("SELECT id FROM hf_uns_tag WHERE name = 'temperature'")
        row = cr.fetchone()
        latest = reader.read_latest(cr, [row[0]]) if row else []
    if latest and latest[0]["time"].timestamp() > since:
        return time.time()
    return None


def _run_bundle(folder: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_COLLECTOR")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    with log.open("ab") as out:
        return subprocess.Popen(["sh", str(folder / "run.sh")], stdout=out, stderr=subprocess.STDOUT, env=env)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2, help="tenants signed up one after the other")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hf_bench_journey_"))
    broker_port, router_port, modbus_port = free_port(), free_port(), free_port()
    (work / "passwd").write_text("")
    (work / "acl").write_text("")
    (work / "mosquitto.conf").write_text(
        f"user {getpass.getuser()}\nlistener {broker_port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {work / 'passwd'}\nacl_file {work / 'acl'}\npid_file {work / 'mosquitto.pid'}\n")
    state = work / "state"
    os.environ.update({
        "HF_SAAS_STATE_DIR": str(state), "HF_SAAS_DATA_DIR": str(state / "odoo-data"),
        "HF_SAAS_TEMPLATE_DB": "hf_bench_journey_template", "HF_SAAS_DB_PREFIX": "hf_bench_j_",
        "HF_SAAS_MOSQUITTO_DIR": str(work), "HF_SAAS_MOSQUITTO_PIDFILE": str(work / "mosquitto.pid"),
        "HF_SAAS_MQTT_URL": f"mqtt://mqtt.localhost:{broker_port}",
        "HF_SAAS_INGEST_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        "HF_SAAS_BASE_URL": f"http://{{db}}.localhost:{router_port}"})
    settings = Settings.load()
    provisioner = Provisioner(settings)
    provisioner.build_template()
    processes = [subprocess.Popen(["mosquitto", "-c", str(work / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL),
                 subprocess.Popen([str(BIN / "hf-collector"), "simulate", "--modbus-port", str(modbus_port),
                                   "--opcua-port", str(free_port()), "--s7-port", str(free_port())],
                                  stdout=(work / "simulate.log").open("wb"), stderr=subprocess.STDOUT)]
    wait_port(broker_port, 10)
    wait_port(modbus_port, 60)
    router = subprocess.Popen([str(BIN / "hf-saas"), "serve", "--listen", f"127.0.0.1:{router_port}"],
                              stdout=(work / "router.log").open("wb"), stderr=subprocess.STDOUT)
    wait_port(router_port, 30)
    rows: list[dict[str, float]] = []
    dbs: list[str] = []
    try:
        for run in range(args.runs):
            spec = parse_spec(_spec(f"Bench Journey {run}", modbus_port))
            db = provisioner.db_name(spec)
            drop_tenant(provisioner, db)
            submitted = time.time()
            result = provisioner.create(spec)
            dbs.append(result.db)
            provisioned = time.time()
            folder = unpack(Path(result.bundle_path), work / f"bundle-{run}")
            cold = _run_bundle(folder, work / f"collector-{run}.log")
            first = _wait(lambda db=result.db, since=provisioned: _first_value_after(settings, db, since), 180,
                          f"no value reached {result.db}: see {work}")
            _stop(cold)
            time.sleep(2)
            restarted = time.time()
            warm = _run_bundle(folder, work / f"collector-{run}.log")
            warm_first = _wait(lambda db=result.db, since=restarted: _first_value_after(settings, db, since), 120,
                               f"no value reached {result.db} the second time: see {work}")
            _stop(warm)
            rows.append({"provision": provisioned - submitted, "first_value": first - provisioned,
                         "total": first - submitted, "warm": warm_first - restarted,
                         **{f"step {k}": v for k, v in result.timings.items()}})
    finally:
        _stop(router)
        for db in dbs:
            drop_tenant(provisioner, db)
        for process in processes:
            _stop(process)

    def median(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    print(f"form submit -> first live value, median of {len(rows)} new tenants (target <= 60 s, provisioning "
          f"<= 5 s):")
    print(f"  provisioning          {median('provision'):6.1f} s   (" + ", ".join(
        f"{key[5:]} {median(key):.2f}" for key in rows[0] if key.startswith("step ")) + ")")
    print(f"  bundle -> first value {median('first_value'):6.1f} s   (collector start, config pulled through "
          f"the router, the tenant's Odoo started cold, Modbus read, broker, the tenant's ingest)")
    print(f"  end to end            {median('total'):6.1f} s")
    print(f"  baseline, warm        {median('warm'):6.1f} s   (the same bundle started again: Odoo and ingest "
          f"already running)")
    print("(no Ziti enrollment step: no controller here; 2-core machine shared with others, figures vary)")


if __name__ == "__main__":
    main()
