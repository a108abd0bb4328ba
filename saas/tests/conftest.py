"""Real PostgreSQL (the machine's, as the hyperfactory role), a private Mosquitto on a free port,
one template database per session (reused while the addons are unchanged)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import shutil
import subprocess
import threading
import warnings
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from hf_testing import free_port, require_odoo, wait_port

from hf_collector.config import server_proxy
from hf_saas import db as pg
from hf_saas import roles
from hf_saas.dev_certs import make_dev_certs
from hf_saas.provision import CreateResult, Provisioner
from hf_saas.settings import REPO_ROOT, Settings
from hf_saas.spec import TenantSpec
from hf_saas.tenant_router import serve

STATE_DIR = Path(os.environ.get("HF_CLOUD_TEST_STATE_DIR", REPO_ROOT / "var" / "test" / "saas"))
TEMPLATE = os.environ.get("HF_CLOUD_TEST_TEMPLATE", "hf_test_tenant_template")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A private Mosquitto with password and ACL files in a directory hf_saas writes."""
    if not shutil.which("mosquitto"):
        pytest.skip("mosquitto is not installed")
    directory = tmp_path_factory.mktemp("mosquitto")
    port, tls_port = free_port(), free_port()
    (directory / "passwd").write_text("")
    (directory / "acl").write_text("")
    certs = make_dev_certs(directory / "certs", ["mqtt.localhost", "localhost", "127.0.0.1"])
    conf = directory / "mosquitto.conf"
    # `user`: run as whoever runs the tests (as root, Mosquitto would drop to a user that cannot read tmp)
    conf.write_text(
        f"user {getpass.getuser()}\nper_listener_settings false\nallow_anonymous false\n"
        f"password_file {directory / 'passwd'}\nacl_file {directory / 'acl'}\n"
        f"pid_file {directory / 'mosquitto.pid'}\npersistence false\n"
        f"listener {port} 127.0.0.1\n"
        f"listener {tls_port} 127.0.0.1\ncertfile {certs['cert']}\nkeyfile {certs['key']}\n"
    )
    log = directory / "mosquitto.log"
    procs = [subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log.open("ab"), stderr=subprocess.STDOUT)]
    stopping = threading.Event()
    restarts: list[int] = []

    def watch() -> None:
        # Seen once in a whole `make test` and not reproduced: this session's broker gone mid-run (see
        # mosquitto.log). Started again on the same port so the later tests test what they are about; the run
        # then warns, so it is not hidden.
        while not stopping.wait(0.5):
            if procs[-1].poll() is not None:
                restarts.append(procs[-1].returncode)
                procs.append(
                    subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
                )

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        wait_port(port)
        wait_port(tls_port)
        watcher.start()
        yield {
            "dir": directory,
            "port": port,
            "tls_port": tls_port,
            "ca": certs["ca"],
            "pidfile": directory / "mosquitto.pid",
        }
    finally:
        stopping.set()
        watcher.join(5)
        procs[-1].terminate()
        procs[-1].wait(10)
        if restarts:
            warnings.warn(
                f"the test broker stopped {len(restarts)} time(s) (exit {restarts}) and was started "
                f"again; its log: {log}",
                stacklevel=1,
            )


@pytest.fixture(scope="session")
def settings(broker: dict[str, object]) -> Settings:
    return Settings.load(
        state_dir=STATE_DIR,
        data_dir=STATE_DIR / "odoo-data",
        template_db=TEMPLATE,
        db_prefix="hf_pt_",
        mosquitto_dir=broker["dir"],
        mosquitto_pidfile=broker["pidfile"],
        mqtt_url=f"mqtt://127.0.0.1:{broker['port']}",
        ingest_mqtt_url=f"mqtt://127.0.0.1:{broker['port']}",
        ziti_url="",
    )


@pytest.fixture(scope="session")
def provisioner(settings: Settings) -> Provisioner:
    require_odoo()  # the template is an Odoo database built by Odoo itself
    prov = Provisioner(settings)
    prov.build_template()
    return prov


def drop_tenant(provisioner: Provisioner, db: str) -> None:
    """Whatever a tenant left (a record, a database, a role): gone, so it can be created again."""
    if provisioner.registry.find(db) and pg.exists(provisioner.settings, db):
        provisioner.delete(db, yes=True)
    pg.drop(provisioner.settings, db)
    roles.drop(provisioner.settings, db)
    provisioner.registry.forget(db)


@contextlib.contextmanager
def created_tenants(provisioner: Provisioner, specs: dict[str, TenantSpec]) -> Iterator[dict[str, CreateResult]]:
    """These tenants, created afresh (what an earlier run left is dropped first) and dropped afterwards."""
    for spec in specs.values():
        drop_tenant(provisioner, provisioner.db_name(spec))
    created: dict[str, CreateResult] = {}
    try:
        for key, spec in specs.items():
            created[key] = provisioner.create(spec)
        yield created
    finally:
        for result in created.values():
            drop_tenant(provisioner, result.db)


def spec_data(company: str = "Pytest Plant", devices: int = 2) -> dict[str, object]:
    return {
        "company": {
            "name": company,
            "contact_name": "Pia Test",
            "email": f"pia@{company.lower().replace(' ', '-')}.example",
            "timezone": "Europe/Berlin",
        },
        "site": {
            "name": "Hamburg",
            "areas": [{"name": "Assembly", "lines": [{"name": "Line 1", "workcenters": ["Cell 1", "Cell 2"]}]}],
        },
        "devices": [
            {
                "name": f"plc{i}",
                "protocol": ["modbus", "opcua", "s7"][i % 3],
                "ip": f"10.1.0.{i + 1}",
                "workcenter": "Cell 1" if i % 2 == 0 else "Cell 2",
                "tags": [
                    {
                        "name": "temperature",
                        "data_type": "float",
                        "address": {"table": "holding", "address": 0, "type": "float32"},
                    }
                ]
                if i == 0
                else [],
            }
            for i in range(devices)
        ],
        "plan": {"code": "starter", "tags": 3, "samples_per_day": 1000, "retention_days": 14, "storage_mb": 1024},
    }


@pytest.fixture(scope="module")
def tenant_server(provisioner: Provisioner) -> Iterator[dict[str, str]]:
    """``hf-saas serve`` as production runs it: one router, each tenant's Odoo started on its first request,
    connected as the tenant's own role (the router's code in a thread of this process)."""
    port = free_port()
    loop = asyncio.new_event_loop()
    task: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        task.append(loop.create_task(serve(provisioner.settings, "127.0.0.1", port)))
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task[0])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_port(port, 30)
        yield {"url": f"http://127.0.0.1:{port}", "port": str(port)}
    finally:
        loop.call_soon_threadsafe(task[0].cancel)
        thread.join(60)


def tenant_rpc(server: dict[str, str], db: str, service: str) -> xmlrpc.client.ServerProxy:
    """An XML-RPC proxy to ``service`` (common, object, db) of tenant ``db`` through the router, at the
    address a customer uses (``http://<db>.localhost:<port>``, as the edge dials it)."""
    return server_proxy(f"http://{db}.localhost:{server['port']}/xmlrpc/2/{service}")
