"""`make demo`'s second plant on hyperfactory-cloud: a customer whose machines are the second simulator.

Provisions the tenant (as the operator's cron does after a confirmed signup) with the devices and tags of
that simulator's site.yaml, unpacks its edge bundle where `make demo` runs it (`sh run.sh`, as a customer
would on a plain Linux box), and gives each of its workcells a kiosk link. Idempotent: a plant already
provisioned is kept (its bundle reused).

    python scripts/demo_cloud.py SITE_YAML EDGE_DIR OUT_TXT
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from hf_collector.config import server_proxy
from hf_saas.bundle import unpack
from hf_saas.errors import HfSaasError
from hf_saas.provision import Provisioner
from hf_saas.registry import TenantState
from hf_saas.spec import parse_spec

COMPANY = "Second Plant GmbH"


def spec_from_site(site: dict[str, Any]) -> dict[str, Any]:
    """The onboarding form's spec for the simulator's machines: one workcell per machine, its tags."""
    devices, cells = [], []
    for device in site["devices"]:
        cell = device["tags"][0]["topic"].split("/_historian/")[0].rsplit("/", 1)[1]
        cells.append(cell)
        devices.append(
            {
                "name": device["name"],
                "protocol": device["protocol"],
                "ip": device["host"],
                "port": device["port"],
                "workcenter": cell,
                "tags": [
                    {
                        key: tag[key]
                        for key in ("name", "data_type", "unit", "role", "sampling_interval_ms", "address")
                        if key in tag
                    }
                    for tag in device["tags"]
                ],
            }
        )
    return {
        "company": {
            "name": COMPANY,
            "contact_name": "Dana Demo",
            "email": "dana@second-plant.example",
            "timezone": "Europe/Berlin",
        },
        "site": {
            "name": "Plant 2",
            "areas": [{"name": "Machining", "lines": [{"name": "Line 1", "workcenters": cells}]}],
        },
        "devices": devices,
        "plan": {
            "code": "starter",
            "tags": 500,
            "samples_per_day": 5_000_000,
            "retention_days": 30,
            "storage_mb": 5120,
        },
    }


def kiosk_links(url: str, db: str, login: str, password: str) -> list[str]:
    """A kiosk link per workcell of the tenant, made through its own Odoo (started on this first request)."""
    deadline = time.monotonic() + 180
    while True:
        try:
            uid = server_proxy(f"{url}/xmlrpc/2/common").authenticate(db, login, password, {})
            break
        except (OSError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    models = server_proxy(f"{url}/xmlrpc/2/object")
    links = []
    for cell in models.execute_kw(db, uid, password, "mrp.workcenter", "search_read", [[]], {"fields": ["name"]}):
        kiosk = models.execute_kw(
            db,
            uid,
            password,
            "hf.screen.kiosk",
            "create",
            [{"name": f"Tablet {cell['name']}", "workcenter_id": cell["id"]}],
        )
        url_of = models.execute_kw(db, uid, password, "hf.screen.kiosk", "read", [[kiosk]], {"fields": ["url"]})
        links.append(f"{cell['name']}: {url_of[0]['url']}")
    return links


def main() -> int:
    site_path, edge_dir, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    provisioner = Provisioner()
    spec = parse_spec(spec_from_site(yaml.safe_load(site_path.read_text(encoding="utf-8"))))
    db = provisioner.db_name(spec)
    record = provisioner.registry.find(db)
    if record is None or record.state != TenantState.READY.value or not Path(record.bundle).exists():
        try:
            result = provisioner.create(spec)
        except HfSaasError as exc:
            print(f"demo_cloud: the second plant could not be provisioned: {exc}", file=sys.stderr)
            return 1
        lines = [
            f"{COMPANY}: {result.url}  login {result.admin_login}  password {result.admin_password}",
            "kiosks:",
            *kiosk_links(result.url, db, result.admin_login, result.admin_password),
        ]
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        record = provisioner.registry.get(db)
    shutil.rmtree(edge_dir, ignore_errors=True)
    folder = unpack(Path(record.bundle), edge_dir)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
