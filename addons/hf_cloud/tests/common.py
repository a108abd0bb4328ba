import getpass
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from odoo import Command
from odoo.tests import HttpCase, TransactionCase

from hf_saas import db as pg

REPO = Path(__file__).resolve().parents[3]
# One template and state directory shared with saas/tests: built once, reused while the addons are unchanged.
TEST_STATE_DIR = os.environ.get("HF_CLOUD_TEST_STATE_DIR", str(REPO / "var" / "test" / "saas"))
TEST_TEMPLATE = os.environ.get("HF_CLOUD_TEST_TEMPLATE", "hf_test_tenant_template")
TEST_PREFIX = "hf_cloud_t_"
# The provisioner's configuration is the operator's environment (hf_saas.settings), never a database.
TEST_ENVIRON = {
    "HF_SAAS_STATE_DIR": TEST_STATE_DIR,
    "HF_SAAS_TEMPLATE_DB": TEST_TEMPLATE,
    "HF_SAAS_DB_PREFIX": TEST_PREFIX,
}


def spec_dict(company="Acme Widgets", devices=None):
    return {
        "company": {
            "name": company,
            "contact_name": "Ada Admin",
            "email": "ada@acme-widgets.example",
            "timezone": "Europe/Berlin",
        },
        "site": {
            "name": "Berlin",
            "areas": [{"name": "Press shop", "lines": [{"name": "Line 1", "workcenters": ["Press 1", "Press 2"]}]}],
        },
        "devices": devices
        if devices is not None
        else [
            {
                "name": "press1-plc",
                "protocol": "modbus",
                "ip": "10.0.0.5",
                "mac": "00-1B-44-11-3A-B7",
                "port": 502,
                "workcenter": "Press 1",
            },
            {"name": "press2-opc", "protocol": "opcua", "ip": "fd00::10", "workcenter": "Press 2"},
        ],
    }


def enable_demo_provider(env):
    """Odoo's demo payment provider, switched on (hf_cloud installs it disabled: it accepts any card)."""
    provider = env.ref("payment.payment_provider_demo")
    provider.write({"state": "test", "is_published": True})
    return provider


def pay_with_demo_provider(env, provider, order):
    """Pay ``order`` in full with Odoo's demo provider, as its payment form and status page do."""
    transactions = env["payment.transaction"].sudo()
    tx = transactions.create(
        {
            "provider_id": provider.id,
            "payment_method_id": env.ref("payment_demo.payment_method_demo").id,
            "reference": transactions._compute_reference("demo", sale_order_ids=[Command.set(order.ids)]),
            "amount": order.amount_total,
            "currency_id": order.currency_id.id,
            "partner_id": order.partner_id.id,
            "operation": "online_direct",
            "sale_order_ids": [Command.set(order.ids)],
        }
    )
    # what /payment/demo/simulate_payment does, then what the status page's poll does
    transactions._handle_notification_data(
        "demo", {"reference": tx.reference, "payment_details": "4242", "simulated_state": "done"}
    )
    tx._post_process()
    return tx


def set_environ(case, values):
    """Set the HF_SAAS_* environment for a test class; restored when the class is done."""
    saved = {key: os.environ.get(key) for key in values}

    def restore():
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    os.environ.update({k: str(v) for k, v in values.items()})
    case.addClassCleanup(restore)


def configure_saas(case):
    set_environ(case, TEST_ENVIRON)
    params = case.env["ir.config_parameter"].sudo()
    for key in (
        "hf_cloud.rate_limit_per_hour",
        "hf_cloud.rate_limit_domain_per_hour",
        "hf_cloud.rate_limit_total_per_hour",
    ):
        params.set_param(key, "1000")


def wait_until(probe, timeout, failure):
    """``probe()``'s first truthy value within ``timeout`` seconds; else an AssertionError with ``failure``
    (a text, or a callable that says what was seen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.5)
    raise AssertionError(failure() if callable(failure) else failure)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mosquitto(case):
    """A private Mosquitto reading the password and ACL files the provisioner writes."""
    if not shutil.which("mosquitto"):
        case.skipTest("mosquitto is not installed")
    directory = Path(tempfile.mkdtemp(prefix="hf_cloud_mosquitto_"))
    case.addClassCleanup(shutil.rmtree, directory, ignore_errors=True)
    port = free_port()
    (directory / "passwd").write_text("")
    (directory / "acl").write_text("")
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {directory / 'passwd'}\nacl_file {directory / 'acl'}\n"
        f"pid_file {directory / 'mosquitto.pid'}\npersistence false\n"
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        proc.terminate()
        proc.wait(10)

    case.addClassCleanup(stop)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    return {"dir": directory, "port": port, "pidfile": directory / "mosquitto.pid"}


def mqtt_connects(port, username, password):
    """True when the broker accepts these credentials (CONNACK 0)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(username, password)
    result = {}

    def on_connect(_client, _userdata, _flags, reason, _properties):
        result["rc"] = reason.value

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    deadline = time.monotonic() + 5
    while "rc" not in result and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    return result.get("rc") == 0


class HfCloudCommon(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        configure_saas(cls)
        cls.plan = cls.env.ref("hf_cloud.product_plan_starter")
        cls.plan_factory = cls.env.ref("hf_cloud.product_plan_factory")
        cls.partner = cls.env["res.partner"].create({"name": "Ada Admin", "email": "ada@acme-widgets.example"})

    def create_instance(self, company="Acme Widgets", **spec_kw):
        return self.env["hf.cloud.instance"].create(
            {
                "name": company,
                "partner_id": self.partner.id,
                "plan_id": self.plan.id,
                "spec_json": json.dumps(spec_dict(company, **spec_kw)),
            }
        )


def drop_tenant(provisioner, db):
    """Remove a tenant a test made (its registry entry, broker users and database), whatever its state."""
    record = provisioner.registry.find(db)
    if record and record.state != "deleted":
        provisioner.delete(db, yes=True)
    pg.drop(provisioner.settings, db)


class HfCloudProvisionCase(HttpCase):
    """Tests that provision real tenants with hf_saas, cloned from the shared template."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        configure_saas(cls)
        cls.provisioner = cls.env["hf.cloud.instance"]._hf_provisioner()
        cls.provisioner.build_template()  # no-op while the addons are unchanged
        cls.settings = cls.provisioner.settings

    def _cleanup(self, db):
        drop_tenant(self.provisioner, db)
