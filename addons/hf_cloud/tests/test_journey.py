"""Issue 17: the customer's whole journey on real processes — this (the operator's) Odoo, the tenants' router
with each tenant's own Odoo and ingest (``hf-saas serve``), a Mosquitto that enforces the users and ACL the
provisioner writes, the project's simulator as the plant, and Chromium as the customer: sign up with a
device and its tags, confirm the address from the mail queue, pay the plan with the demo provider, open the
portal from the "ready" mail, download the edge bundle, run its collector, and see the plant's values in
the tenant's historian."""

import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psycopg2

from odoo.tests import tagged

from hf_historian import reader
from hf_saas.bundle import unpack

from .common import (
    HfCloudProvisionCase,
    drop_tenant,
    enable_demo_provider,
    free_port,
    set_environ,
    start_mosquitto,
    wait_until,
)

_logger = logging.getLogger(__name__)
BIN = Path(sys.executable).parent
DB = "hf_cloud_t_journey_works"


def _spawn(case, argv, log, env=None):
    """A subprocess for this class, its output in ``log``, stopped (and waited for) when the class is done."""
    with log.open("w") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)

    def stop():
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    case.addClassCleanup(stop)
    return process


@tagged("post_install", "-at_install")
class TestCustomerJourney(HfCloudProvisionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.logs = Path(tempfile.mkdtemp(prefix="hf_cloud_journey_"))
        broker = start_mosquitto(cls)
        router_port = free_port()
        # what a customer's edge dials (*.localhost reaches this machine), what the tenants' ingests dial
        set_environ(
            cls,
            {
                "HF_SAAS_MOSQUITTO_DIR": broker["dir"],
                "HF_SAAS_MOSQUITTO_PIDFILE": broker["pidfile"],
                "HF_SAAS_MQTT_URL": f"mqtt://mqtt.localhost:{broker['port']}",
                "HF_SAAS_INGEST_MQTT_URL": f"mqtt://127.0.0.1:{broker['port']}",
                "HF_SAAS_BASE_URL": f"http://{{db}}.localhost:{router_port}",
            },
        )
        cls.provisioner = cls.env["hf.cloud.instance"]._hf_provisioner()
        cls.settings = cls.provisioner.settings
        drop_tenant(cls.provisioner, DB)
        cls.addClassCleanup(drop_tenant, cls.provisioner, DB)
        cls.ports = {"opcua": free_port(), "modbus": free_port(), "s7": free_port()}
        site = cls.logs / "site.yaml"
        _spawn(
            cls,
            [
                str(BIN / "hf-collector"),
                "simulate",
                "--write-config",
                str(site),
                *(arg for name, port in cls.ports.items() for arg in (f"--{name}-port", str(port))),
            ],
            cls.logs / "simulate.log",
        )
        # the router is stopped after the tenant is dropped (cleanups run last first): it stops its processes
        _spawn(cls, [str(BIN / "hf-saas"), "serve", "--listen", f"127.0.0.1:{router_port}"], cls.logs / "router.log")
        wait_until(lambda: site.exists() and site.stat().st_size, 60, "the simulator did not start")
        enable_demo_provider(cls.env)
        for key in ("hf_cloud.rate_limit_per_hour", "hf_cloud.rate_limit_domain_per_hour"):
            cls.env["ir.config_parameter"].sudo().set_param(key, "1000")

    def _mail_link(self, subject, pattern):
        mail = self.env["mail.mail"].sudo().search([("subject", "ilike", subject)], order="id desc", limit=1)
        self.assertTrue(mail, f"no mail {subject!r} in the queue")
        match = re.search(pattern, mail.body_html)
        self.assertTrue(match, mail.body_html)
        return match.group(1).replace("&amp;", "&")

    def _latest(self, names):
        """The tenant's latest value of each tag, read as ``read_latest`` reads it."""
        with closing(psycopg2.connect(**self.settings.dsn(DB))) as conn, conn.cursor() as cr:
            cr.execute("SELECT id, name FROM hf_uns_tag WHERE name = ANY(%s)", (list(names),))
            tag_names = dict(cr.fetchall())
            return {tag_names[row["tag_id"]]: row["value"] for row in reader.read_latest(cr, list(tag_names))}

    def test_sign_up_pay_connect_the_plant_and_see_its_values(self):
        # 1. the form, with a device and its tags, as a visitor
        self.start_tour(
            f"/hyperfactory/start?modbus_port={self.ports['modbus']}", "hf_cloud_journey_signup", login=None
        )
        instance = self.env["hf.cloud.instance"].sudo().search([("name", "=", "Journey Works")])
        self.assertEqual((instance.state, instance.email_confirmed), ("draft", False))

        # 2. the mailed link: confirm, then pay the plan (nothing is set up before it is paid)
        confirm = self._mail_link("Confirm your address", r'href="[^"]*(/hyperfactory/confirm/[^"]+)"')
        self.start_tour(confirm, "hf_cloud_journey_pay", login=None)
        instance.invalidate_recordset()
        self.assertEqual(instance.sale_order_id.state, "sale")
        self.assertEqual(instance.state, "queued")
        self.assertEqual(instance.sale_order_id.invoice_ids.payment_state in ("paid", "in_payment"), True)

        # 3. the provisioning cron's step; the "ready" mail carries the portal link
        started = time.monotonic()
        self.assertTrue(instance._hf_provision(), instance.state_message)
        self.assertEqual(instance.state, "ready")
        portal = self._mail_link("is ready", r'class="o_hf_portal_link" href="([^"]+)"')
        self.start_tour(portal.removeprefix(instance.get_base_url()), "hf_cloud_journey_portal", login=None)

        # 4. the bundle, downloaded by the customer, run as its README says (no Docker)
        login = instance.partner_id.user_ids.login
        self.authenticate(login, "journey-Portal-pw-1")
        bundle = self.url_open(f"/my/instances/{instance.id}/bundle", timeout=120)
        self.assertEqual(bundle.headers["Content-Type"], "application/zip")
        folder = unpack(bundle.content, self.logs)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_COLLECTOR")}
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        collector = _spawn(self, ["sh", str(folder / "run.sh")], self.logs / "collector.log", env=env)

        # 5. the simulator's values in the tenant's historian, through its broker user and its own ingest
        values = wait_until(
            lambda: (v := self._latest(("temperature", "spindle_speed"))) and len(v) == 2 and v,
            120,
            lambda: (self.logs / "collector.log").read_text()[-3000:],
        )
        self.assertIsNone(collector.poll(), "the bundle's collector stopped")
        self.assertTrue(15 <= values["temperature"] <= 120, values)  # the simulated press warms from 22 °C
        self.assertGreaterEqual(values["spindle_speed"], 0)
        _logger.info(
            "journey: the plant's first values stored %.1f s after provisioning began", time.monotonic() - started
        )
