"""`make demo`'s second plant signs up as a customer would (scripts/demo_cloud.py), against a real operator's
Odoo: the onboarding form over HTTP with its CSRF token, the confirmation link from the mail queue over
XML-RPC, the demo payment provider, the provisioning cron, the portal invitation, the bundle from the portal.

Opt-in (HF_DEMO_CLOUD_TEST=1): it installs hf_cloud into a fresh operator database (about 5 minutes on a
two-core machine) and provisions a real tenant from the shared template, too slow for every `make test`.
HF_DEMO_CLOUD_TEST_DB=<db> reuses an operator database that has hf_cloud installed (it is then kept)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
import xmlrpc.client
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import ODOO, ROOT, drop_database, run_odoo
from hf_testing import free_port

from hf_saas import db as pg
from hf_saas import roles
from hf_saas.provision import Provisioner
from hf_saas.settings import Settings

pytestmark = [
    pytest.mark.odoo,
    pytest.mark.skipif(
        not os.environ.get("HF_DEMO_CLOUD_TEST"),
        reason="opt-in, about 8 minutes (installs hf_cloud, provisions a tenant): set HF_DEMO_CLOUD_TEST=1",
    ),
]
STATE_DIR = Path(os.environ.get("HF_CLOUD_TEST_STATE_DIR", ROOT / "var" / "test" / "saas"))
TEMPLATE = os.environ.get("HF_CLOUD_TEST_TEMPLATE", "hf_test_tenant_template")
PREFIX = "hf_pdc_"


def load_demo_cloud() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_cloud", ROOT / "scripts" / "demo_cloud.py")
    assert spec and spec.loader
    module = sys.modules.setdefault("demo_cloud", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


def site() -> dict[str, Any]:
    """A simulator's site.yaml in small: one Modbus machine with two tags."""
    topic = "umh/v1/second_plant_gmbh/plant2/machining/line1/mill1/_historian"
    return {
        "devices": [
            {
                "name": "mill1-plc",
                "protocol": "modbus",
                "host": "127.0.0.1",
                "port": 5021,
                "tags": [
                    {
                        "topic": f"{topic}/spindle_speed",
                        "name": "spindle_speed",
                        "data_type": "float",
                        "address": {"table": "holding", "address": 0, "type": "float32", "unit_id": 1},
                    },
                    {
                        "topic": f"{topic}/state",
                        "name": "state",
                        "data_type": "int",
                        "role": "machine_state",
                        "address": {"table": "holding", "address": 4, "type": "uint16", "unit_id": 1},
                    },
                ],
            }
        ]
    }


@pytest.fixture(scope="module")
def provisioner() -> Provisioner:
    prov = Provisioner(Settings.load(state_dir=STATE_DIR, template_db=TEMPLATE, db_prefix=PREFIX, ziti_url=""))
    prov.build_template()  # a no-op while the addons are unchanged
    return prov


@pytest.fixture(scope="module")
def operator_url(provisioner: Provisioner) -> Iterator[tuple[str, str]]:
    reused = os.environ.get("HF_DEMO_CLOUD_TEST_DB")
    db = reused or f"hf_pytest_cloud_{uuid.uuid4().hex[:8]}"
    if not reused:
        run_odoo("-d", db, "-i", "hf_cloud", "--without-demo=all", "--stop-after-init", "--no-http", timeout=1200)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HF_SAAS_") or key == "HF_SAAS_PYTHON"}
    env.update(
        {
            "HF_ROOT": str(ROOT),
            "HF_SAAS_STATE_DIR": str(STATE_DIR),
            "HF_SAAS_TEMPLATE_DB": TEMPLATE,
            "HF_SAAS_DB_PREFIX": PREFIX,
        }
    )
    log_path = ROOT / "var" / "test" / f"odoo-{db}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [ODOO, "-d", db, "--db-filter", f"^{db}$", "--http-port", str(port), "--max-cron-threads", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/web/health", timeout=2):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"the operator's Odoo did not start; see {log_path}")
                    time.sleep(0.5)
            yield url, db
        finally:
            process.terminate()
            process.wait(timeout=30)
    if not reused:
        drop_database(db)


def forget_customer(operator: Any, email: str) -> None:  # noqa: ANN401
    """The customer's portal account gone (a database reused by HF_DEMO_CLOUD_TEST_DB signs them up again)."""
    users = operator.call("res.users", "search", [("login", "=", email)])
    if users:
        operator.call("res.users", "unlink", users)


def test_the_second_plant_signs_up_as_a_customer(
    provisioner: Provisioner, operator_url: tuple[str, str], tmp_path: Path
) -> None:
    demo_cloud = load_demo_cloud()
    url, db = operator_url
    operator = demo_cloud.Operator(url, db)
    # the demo's operator: its base URL, Odoo's demo payment provider published (as demo_seed.py does)
    operator.call("ir.config_parameter", "set_param", "web.base.url", url)
    provider = operator.xmlid("payment.payment_provider_demo")
    operator.call("payment.provider", "write", [provider], {"state": "test", "is_published": True})
    if not operator.call("account.journal", "search_count", [("type", "=", "sale")]):
        # a database installed in test mode has no chart of accounts; a signup's paid order is invoiced at once
        with contextlib.suppress(xmlrpc.client.Fault):  # it loads, then returns None, which XML-RPC cannot carry
            operator.call("account.chart.template", "try_loading", [], "generic_coa", 1)
        assert operator.call("account.journal", "search_count", [("type", "=", "sale")])
    for key in ("hf_cloud.rate_limit_per_hour", "hf_cloud.rate_limit_domain_per_hour"):
        operator.call("ir.config_parameter", "set_param", key, "1000")
    spec = demo_cloud.spec_from_site(site())
    tenant_db = f"{PREFIX}{spec['company']['name'].lower().replace(' ', '_')}"
    state_file = tmp_path / "plant2-customer.json"
    forget_customer(operator, spec["company"]["email"])
    try:
        started = time.monotonic()
        signup = demo_cloud.sign_up(operator, spec, state_file)
        elapsed = time.monotonic() - started
        assert signup.db.startswith(PREFIX)
        tenant_db = signup.db
        instance = operator.call("hf.cloud.instance", "read", [signup.instance_id], fields=["state", "sale_order_id"])[
            0
        ]
        assert instance["state"] == "ready"
        order = operator.call("sale.order", "read", [instance["sale_order_id"][0]], fields=["state"])[0]
        assert order["state"] == "sale", "paid with the demo provider, then confirmed"
        with zipfile.ZipFile(io.BytesIO(signup.bundle())) as bundle:
            names = bundle.namelist()
            config = next(bundle.read(n) for n in names if n.endswith("hf-collector.yaml")).decode()
        assert any(n.endswith("run.sh") for n in names)
        assert signup.db in config, "the bundle's collector pulls its devices from the tenant's Odoo"
        assert oct(state_file.stat().st_mode & 0o777) == "0o600"
        saved = json.loads(state_file.read_text())
        # again, as `make demo` run twice: the same instance, its customer logs in, a fresh bundle
        again = demo_cloud.sign_up(operator, spec, state_file)
        assert again.instance_id == signup.instance_id
        assert json.loads(state_file.read_text())["portal_password"] == saved["portal_password"]
        assert again.bundle()[:2] == b"PK"
        print(f"signup → ready → portal: {elapsed:.1f} s")
    finally:
        for row in operator.call("hf.cloud.instance", "search_read", [("db_name", "=", tenant_db)], fields=["state"]):
            if row["state"] in ("ready", "suspended", "failed"):
                operator.call("hf.cloud.instance", "action_delete", [row["id"]], tenant_db)
            operator.call("hf.cloud.instance", "unlink", [row["id"]])  # its database name is free again
        forget_customer(operator, spec["company"]["email"])
        record = provisioner.registry.find(tenant_db)
        if record and record.state != "deleted":
            provisioner.delete(tenant_db, yes=True)
        pg.drop(provisioner.settings, tenant_db)
        roles.drop(provisioner.settings, tenant_db)
        provisioner.registry.forget(tenant_db)
