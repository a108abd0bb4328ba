"""Real PostgreSQL (the machine's, as the hyperfactory role), a private Mosquitto on a free port,
one template database per session (reused while the addons are unchanged)."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hf_testing import free_port, require_odoo, wait_port

from hf_saas.provision import Provisioner
from hf_saas.settings import REPO_ROOT, Settings

STATE_DIR = Path(os.environ.get("HF_CLOUD_TEST_STATE_DIR", REPO_ROOT / "var" / "test" / "saas"))
TEMPLATE = os.environ.get("HF_CLOUD_TEST_TEMPLATE", "hf_test_tenant_template")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A private Mosquitto with password and ACL files in a directory hf_saas writes."""
    if not shutil.which("mosquitto"):
        pytest.skip("mosquitto is not installed")
    directory = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    (directory / "passwd").write_text("")
    (directory / "acl").write_text("")
    conf = directory / "mosquitto.conf"
    # `user`: run as whoever runs the tests (as root, Mosquitto would drop to a user that cannot read tmp)
    conf.write_text(f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
                    f"password_file {directory / 'passwd'}\nacl_file {directory / 'acl'}\n"
                    f"pid_file {directory / 'mosquitto.pid'}\npersistence false\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield {"dir": directory, "port": port, "pidfile": directory / "mosquitto.pid"}
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def settings(broker: dict[str, object]) -> Settings:
    return Settings.load(state_dir=STATE_DIR, data_dir=STATE_DIR / "odoo-data", template_db=TEMPLATE,
                         db_prefix="hf_pt_", mosquitto_dir=broker["dir"], mosquitto_pidfile=broker["pidfile"],
                         mqtt_url=f"mqtt://127.0.0.1:{broker['port']}", ziti_url="")


@pytest.fixture(scope="session")
def provisioner(settings: Settings) -> Provisioner:
    require_odoo()  # the template is an Odoo database built by Odoo itself
    prov = Provisioner(settings)
    prov.build_template()
    return prov


def spec_data(company: str = "Pytest Plant", devices: int = 2) -> dict[str, object]:
    return {
        "company": {"name": company, "contact_name": "Pia Test",
                    "email": f"pia@{company.lower().replace(' ', '-')}.example", "timezone": "Europe/Berlin"},
        "site": {"name": "Hamburg", "areas": [{"name": "Assembly", "lines": [
            {"name": "Line 1", "workcenters": ["Cell 1", "Cell 2"]}]}]},
        "devices": [{"name": f"plc{i}", "protocol": ["modbus", "opcua", "s7"][i % 3], "ip": f"10.1.0.{i + 1}",
                     "workcenter": "Cell 1" if i % 2 == 0 else "Cell 2",
                     "tags": [{"name": "temperature", "data_type": "float",
                               "address": {"table": "holding", "address": 0, "type": "float32"}}] if i == 0 else []}
                    for i in range(devices)],
        "plan": {"code": "starter", "tags": 3, "samples_per_day": 1000, "retention_days": 14, "storage_mb": 1024},
    }
