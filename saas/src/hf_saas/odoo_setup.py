"""Runs inside Odoo (``python -m hf_saas.odoo_setup`` with a JSON request on stdin).

A separate process per tenant: the provisioner never loads a tenant's registry into the operator's
Odoo worker, and a crash of one setup cannot take another with it. The request carries no Odoo
master password (none is needed: the role owns the database); the admin password arrives on stdin,
never on the command line, and the result goes back on stdout after a marker line.
"""

from __future__ import annotations

import json
import secrets
import sys
import uuid
from typing import Any

from hf_historian.ingest.quota import QUOTA_PREFIX

RESULT_MARKER = "HF_SAAS_RESULT "
# What the tenant's parameters hold (hf_cloud.quota.<key>): the counts, the vCPU (a float) and what happens at the
# storage quota (its ingest enforces samples_per_day, bytes_per_day and storage_mb, see hf_historian.ingest.quota;
# the tenant's process limits apply cpu and memory_mb, see hf_saas.tenant_limits).
QUOTA_KEYS = (
    "tags",
    "samples_per_day",
    "retention_days",
    "storage_mb",
    "bytes_per_day",
    "memory_mb",
    "cpu",
    "storage_policy",
)
TEXT_QUOTA_KEYS = ("storage_policy",)
FLOAT_QUOTA_KEYS = ("cpu",)
RETENTION_CLASSES = {"short": 7, "standard": 30, "long": 365}


def _segment(name: str) -> str:
    from hf_core.uns import segment_from_name

    return segment_from_name(name)


def apply_quotas(env: Any, quotas: dict[str, Any]) -> None:
    """The one way a tenant's quotas are written (at setup, and at each plan change): Odoo's parameters, and
    each retention class's days capped at the plan's."""
    params = env["ir.config_parameter"].sudo()
    for key in QUOTA_KEYS:
        if key in quotas:
            value = quotas[key]
            if key in TEXT_QUOTA_KEYS:
                params.set_param(QUOTA_PREFIX + key, str(value))
            else:
                params.set_param(QUOTA_PREFIX + key, str(float(value) if key in FLOAT_QUOTA_KEYS else int(value)))
    if "retention_days" in quotas:
        for cls, default in RETENTION_CLASSES.items():
            params.set_param(f"hf_uns.retention_days.{cls}", str(min(default, int(quotas["retention_days"]))))


def _tag_values(tag: dict[str, Any], device: Any, workcenter: Any) -> dict[str, Any]:
    address = tag.get("address") or {}
    vals: dict[str, Any] = {
        "name": tag["name"],
        "tag_group": tag.get("tag_group") or False,
        "workcenter_id": workcenter.id,
        "device_id": device.id,
        "data_type": tag.get("data_type", "float"),
        "unit": tag.get("unit") or False,
        "sampling_interval_ms": int(tag.get("sampling_interval_ms", 1000)),
        "role": tag.get("role") or "plain",
    }
    if device.protocol == "opcua":
        vals["opcua_node_id"] = address.get("node_id")
    elif device.protocol == "modbus":
        vals.update(
            {
                f"modbus_{k}": address[k]
                for k in ("table", "address", "type", "byte_order", "word_order", "length")
                if k in address
            }
        )
        vals["modbus_unit_id"] = address.get("unit_id", device.unit_id)
    else:
        vals.update(
            {f"s7_{k}": address[k] for k in ("area", "db_number", "offset", "bit", "type", "length") if k in address}
        )
    return vals


def setup(env: Any, payload: dict[str, Any]) -> dict[str, Any]:
    from odoo import Command

    spec = payload["spec"]
    company_spec = spec["company"]
    params = env["ir.config_parameter"].sudo()
    # A clone shares the template's secrets: give every tenant its own (sessions, tokens, uuid).
    params.set_param("database.secret", secrets.token_hex(32))
    params.set_param("database.uuid", str(uuid.uuid1()))
    params.set_param("web.base.url", payload["url"])
    params.set_param("web.base.url.freeze", "True")
    params.set_param("hf_cloud.tenant", payload["slug"])
    apply_quotas(env, spec.get("plan", {}))

    company = env.ref("base.main_company")
    company.write(
        {
            "name": company_spec["name"],
            "email": company_spec["email"],
            "phone": company_spec.get("phone") or False,
            "hf_uns_segment": payload["enterprise"],
        }
    )
    tz = company_spec.get("timezone") or "UTC"
    admin = env.ref("base.user_admin")
    admin.with_context(no_reset_password=True).write(
        {
            "login": company_spec["email"].lower(),
            "name": company_spec["contact_name"],
            "email": company_spec["email"],
            "tz": tz,
            "password": payload["admin_password"],
        }
    )
    env.ref("base.partner_admin").write({"tz": tz})

    site_spec = spec["site"]
    site = env["hf.uns.site"].create(
        {"name": site_spec["name"], "segment": _segment(site_spec["name"]), "company_id": company.id, "timezone": tz}
    )
    workcenters: dict[str, Any] = {}
    for area_spec in site_spec["areas"]:
        area = env["hf.uns.area"].create(
            {"name": area_spec["name"], "segment": _segment(area_spec["name"]), "site_id": site.id}
        )
        for line_spec in area_spec["lines"]:
            line = env["hf.uns.line"].create(
                {"name": line_spec["name"], "segment": _segment(line_spec["name"]), "area_id": area.id}
            )
            for wc_name in line_spec["workcenters"]:
                workcenters[wc_name] = env["mrp.workcenter"].create(
                    {
                        "name": wc_name,
                        "hf_uns_segment": _segment(wc_name),
                        "hf_line_id": line.id,
                        "company_id": company.id,
                    }
                )
    edge = env["hf.uns.edge"].create({"name": f"{site.segment}-edge", "site_id": site.id})
    tag_count = 0
    for device_spec in spec["devices"]:
        workcenter = workcenters[device_spec["workcenter"]]
        device = env["hf.uns.device"].create(
            {
                "name": device_spec["name"],
                "protocol": device_spec["protocol"],
                "host": device_spec["ip"],
                "port": device_spec["port"],
                "mac_address": device_spec.get("mac") or False,
                "workcenter_id": workcenter.id,
                "edge_id": edge.id,
                "company_id": company.id,
            }
        )
        tags = [_tag_values(tag, device, workcenter) for tag in device_spec.get("tags") or []]
        if tags:
            env["hf.uns.tag"].create(tags)
            tag_count += len(tags)
    api_key = (
        env["res.users.apikeys"]
        .with_user(edge.user_id)
        .sudo()
        ._generate("rpc", f"Hyperfactory collector {edge.name}", None)
    )
    signup_url = ""
    if "signup_prepare" in dir(admin.partner_id):
        admin.partner_id.sudo().signup_prepare(signup_type="reset")
        signup_url = admin.partner_id.with_context(relative_url=False)._get_signup_url()
    admin.write({"groups_id": [Command.link(env.ref("hf_uns.group_hf_admin").id)]})
    return {
        "admin_login": admin.login,
        "signup_url": signup_url,
        "edge_login": edge.user_id.login,
        "edge_name": edge.name,
        "edge_api_key": api_key,
        "site": site.segment,
        "counts": {"workcenters": len(workcenters), "devices": len(spec["devices"]), "tags": tag_count},
    }


def edge_key(env: Any, payload: dict[str, Any]) -> dict[str, Any]:
    edge = env["hf.uns.edge"].search([("state", "!=", "revoked")], order="id", limit=1)
    if not edge:
        raise SystemExit("this tenant has no edge")
    # a new bundle replaces the old one: its key must be the edge's only key
    env["res.users.apikeys"].sudo().search([("user_id", "=", edge.user_id.id)]).unlink()
    api_key = (
        env["res.users.apikeys"]
        .with_user(edge.user_id)
        .sudo()
        ._generate("rpc", f"Hyperfactory collector {edge.name}", None)
    )
    return {"edge_login": edge.user_id.login, "edge_api_key": api_key}


def main() -> int:
    request = json.loads(sys.stdin.read())
    import odoo
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(
        [
            "--addons-path",
            request["addons_path"],
            "--db_host",
            request["db_host"],
            "--db_port",
            str(request["db_port"]),
            "--db_user",
            request["db_user"],
            "--data-dir",
            request["data_dir"],
            "--log-level",
            "warn",
            "--without-demo",
            "all",
        ]
    )
    config["db_password"] = request.get("db_password") or False  # on stdin, never on the command line
    registry = Registry(request["db"])
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        action = request["action"]
        if action == "setup":
            result = setup(env, request["payload"])
        elif action == "quotas":
            apply_quotas(env, request["payload"])
            result = {"ok": True}
        elif action == "edge_key":
            result = edge_key(env, request["payload"])
        elif action == "operator_key":  # hf_cloud_tenant's requests to the operator (OpenZiti enrollment)
            env["ir.config_parameter"].set_param("hf_cloud.operator_url", request["payload"]["url"])
            env["ir.config_parameter"].set_param("hf_cloud.operator_key", request["payload"]["key"])
            result = {"ok": True}
        else:
            raise SystemExit(f"unknown action {action}")
    registry.signal_changes()  # the tenant's running workers reload what changed (the quotas' parameters)
    sys.stdout.write("\n" + RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
