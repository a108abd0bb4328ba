import json
import os
from pathlib import Path

from odoo.tests import TransactionCase

REPO = Path(__file__).resolve().parents[3]
# One template and state directory shared with saas/tests: built once, reused while the addons are unchanged.
TEST_STATE_DIR = os.environ.get("HF_CLOUD_TEST_STATE_DIR", str(REPO / "var" / "test" / "saas"))
TEST_TEMPLATE = os.environ.get("HF_CLOUD_TEST_TEMPLATE", "hf_test_tenant_template")
TEST_PREFIX = "hf_cloud_t_"


def spec_dict(company="Acme Widgets", devices=None):
    return {
        "company": {"name": company, "contact_name": "Ada Admin", "email": "ada@acme-widgets.example",
                    "timezone": "Europe/Berlin"},
        "site": {"name": "Berlin", "areas": [{"name": "Press shop", "lines": [
            {"name": "Line 1", "workcenters": ["Press 1", "Press 2"]}]}]},
        "devices": devices if devices is not None else [
            {"name": "press1-plc", "protocol": "modbus", "ip": "10.0.0.5", "mac": "00-1B-44-11-3A-B7",
             "port": 502, "workcenter": "Press 1"},
            {"name": "press2-opc", "protocol": "opcua", "ip": "fd00::10", "workcenter": "Press 2"}],
    }


def configure_saas(env):
    params = env["ir.config_parameter"].sudo()
    params.set_param("hf_cloud.saas_state_dir", TEST_STATE_DIR)
    params.set_param("hf_cloud.saas_template_db", TEST_TEMPLATE)
    params.set_param("hf_cloud.saas_db_prefix", TEST_PREFIX)
    params.set_param("hf_cloud.rate_limit_per_hour", "1000")


class HfCloudCommon(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        configure_saas(cls.env)
        cls.plan = cls.env.ref("hf_cloud.product_plan_starter")
        cls.plan_factory = cls.env.ref("hf_cloud.product_plan_factory")
        cls.partner = cls.env["res.partner"].create({"name": "Ada Admin", "email": "ada@acme-widgets.example"})

    def create_instance(self, company="Acme Widgets", **spec_kw):
        return self.env["hf.cloud.instance"].create({
            "name": company, "partner_id": self.partner.id, "plan_id": self.plan.id,
            "spec_json": json.dumps(spec_dict(company, **spec_kw)),
        })
