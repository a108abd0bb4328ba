"""Seed the demo database from the simulator's site config (run inside `odoo shell`, `env` given).

Two steps, chosen by HF_DEMO_SEED (demo.sh runs both, the press's past from demo_ml.py in between):

* ``plant`` (default): the hierarchy is read off the tags' UNS topics, so the demo plant in Odoo is exactly
  the simulated one; devices, tags, the edge, a kiosk link per workcell and each workcell's ideal cycle
  time. Writes var/demo/edge.json with the demo edge's login and a fresh API key for `hf-collector run
  --odoo`, and var/demo/kiosks.txt.
* ``production``: a product per workcell routed over it, manufacturing orders confirmed and planned, and
  each machine's first work order started with its kiosk's Start (hf_screens' hf.screen.demo). It runs
  after the press's past is in the historian: a work order on a machine takes the running time the
  machine-state logic processes while it is started, and that past is not the order's.
"""

import json
import os
import sys

import yaml

from hf_core.uns import UnsTopic

ROOT = os.environ["HF_ROOT"]
STEP = os.environ.get("HF_DEMO_SEED", "plant")
LEVELS = ("hf.uns.site", "hf.uns.area", "hf.uns.line")
PARENT_FIELD = {"hf.uns.site": "company_id", "hf.uns.area": "site_id", "hf.uns.line": "area_id"}
# What each simulated machine makes. The ideal cycle time is the simulator's own (hf_collector.simulate:
# Machine(seed=1) 2 s, Machine(seed=2, cycle_time_s=3.0), Machine(seed=3, cycle_time_s=1.5)): a machine
# running flat out is at 100 % performance, its stops and scrap are what OEE shows.
PRODUCTION = {  # workcell segment: (ideal cycle time s, product, operation, quantities of its orders)
    "cnc1": (2.0, "Drive shaft", "Turning", (1800, 1200)),
    "press1": (3.0, "Mounting bracket", "Pressing", (1200, 800)),
    "robot1": (1.5, "Gearbox housing", "Welding", (2400, 1600)),
}
company = env.company


def get_or_create(model, parent, segment):
    field = PARENT_FIELD[model]
    record = env[model].search([(field, "=", parent.id), ("segment", "=", segment)], limit=1)
    return record or env[model].create(
        {"name": segment.replace("_", " ").title(), "segment": segment, field: parent.id}
    )


def workcell_for(location):
    enterprise, *levels = location
    company.hf_uns_segment = enterprise
    parent = company
    for model, segment in zip(LEVELS, levels[:3], strict=True):
        parent = get_or_create(model, parent, segment)
    segment = levels[3]
    workcenter = env["mrp.workcenter"].search([("hf_uns_segment", "=", segment), ("hf_line_id", "=", parent.id)])
    return workcenter or env["mrp.workcenter"].create(
        {"name": segment.replace("_", " ").title(), "hf_uns_segment": segment, "hf_line_id": parent.id}
    )


def seed_plant():
    """Hierarchy, devices, tags, edge and kiosks from var/demo/site.yaml; returns the devices and the edge."""
    with open(os.path.join(ROOT, "var/demo/site.yaml"), encoding="utf-8") as handle:
        site_config = yaml.safe_load(handle)
    site = None
    devices = env["hf.uns.device"]
    for device_doc in site_config["devices"]:
        first = UnsTopic.parse(device_doc["tags"][0]["topic"])
        workcenter = workcell_for(first.location_path)
        site = site or workcenter.hf_line_id.site_id
        device = env["hf.uns.device"].search([("name", "=", device_doc["name"])], limit=1)
        values = {
            "name": device_doc["name"],
            "protocol": device_doc["protocol"],
            "host": device_doc["host"],
            "port": device_doc["port"],
            "workcenter_id": workcenter.id,
            "unit_id": device_doc.get("unit_id", 1),
            "s7_rack": device_doc.get("rack", 0),
            "s7_slot": device_doc.get("slot", 1),
            "polling_interval_ms": device_doc.get("polling_interval_ms", 1000),
        }
        device = device.write(values) and device if device else env["hf.uns.device"].create(values)
        devices |= device
        for tag_doc in device_doc["tags"]:
            topic = UnsTopic.parse(tag_doc["topic"])
            tag_workcenter = workcell_for(topic.location_path)
            address = tag_doc.get("address", {})
            vals = {
                "name": topic.tag_name,
                "tag_group": "$".join(topic.virtual_path),
                "workcenter_id": tag_workcenter.id,
                "device_id": device.id,
                "data_type": tag_doc.get("data_type", "float"),
                "sampling_interval_ms": tag_doc.get("sampling_interval_ms", 1000),
                "deadband": tag_doc.get("deadband", 0.0),
                "unit": tag_doc.get("unit") or False,
                "role": tag_doc.get("role") or "plain",
            }
            if device.protocol == "opcua":
                vals["opcua_node_id"] = address.get("node_id")
            elif device.protocol == "modbus":
                vals.update(
                    {
                        f"modbus_{k}": address[k]
                        for k in ("table", "address", "type", "byte_order", "word_order")
                        if k in address
                    }
                )
                vals["modbus_unit_id"] = address.get("unit_id", device.unit_id)
                vals["modbus_length"] = address.get("length", 0)
            elif device.protocol == "s7":
                vals.update(
                    {
                        f"s7_{k}": address[k]
                        for k in ("area", "db_number", "offset", "bit", "type", "length")
                        if k in address
                    }
                )
            tag = env["hf.uns.tag"].search([("topic", "=", tag_doc["topic"])], limit=1)
            tag.write(vals) if tag else env["hf.uns.tag"].create(vals)

    edge = env["hf.uns.edge"].search([("name", "=", "demo-edge")], limit=1) or env["hf.uns.edge"].create(
        {"name": "demo-edge", "site_id": site.id}
    )
    devices.write({"edge_id": edge.id})
    edge.user_id.sudo().api_key_ids.unlink()
    key = env["res.users.apikeys"].with_user(edge.user_id).sudo()._generate("rpc", "demo collector", None)
    os.makedirs(os.path.join(ROOT, "var/demo"), exist_ok=True)
    with open(os.path.join(ROOT, "var/demo/edge.json"), "w", encoding="utf-8") as handle:
        json.dump({"login": edge.user_id.login, "api_key": key}, handle)
    os.chmod(os.path.join(ROOT, "var/demo/edge.json"), 0o600)
    # A kiosk link per workcell (hf_screens), so a tablet can open the machine screen without logging in; the
    # ideal cycle time its OEE's performance needs, unless someone set one.
    kiosk_urls = []
    if "hf.screen.kiosk" in env:
        base_url = os.environ.get("HF_DEMO_URL", "http://localhost:8069")
        env["ir.config_parameter"].sudo().set_param("web.base.url", base_url)
        for workcenter in devices.mapped("workcenter_id"):
            if not workcenter.hf_ideal_cycle_time and workcenter.hf_uns_segment in PRODUCTION:
                workcenter.hf_ideal_cycle_time = PRODUCTION[workcenter.hf_uns_segment][0]
            kiosk = env["hf.screen.kiosk"].search(
                [("workcenter_id", "=", workcenter.id), ("state", "=", "active")], limit=1
            )
            # no user: the kiosk acts as the company's kiosk operator (Operator group only, no password)
            kiosk = kiosk or env["hf.screen.kiosk"].create(
                {"name": f"Demo tablet {workcenter.name}", "workcenter_id": workcenter.id}
            )
            kiosk_urls.append(f"{workcenter.name}: {kiosk.url}")
    with open(os.path.join(ROOT, "var/demo/kiosks.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(kiosk_urls) + "\n")
    return devices, edge


def seed_analytics_cell(enterprise):
    """The workcell whose own MES (the simulator's) publishes UMH _analytics: no tags, its orders, parts and
    states come from the line (hf_mrp); Odoo knows what it makes by the product's internal reference."""
    from hf_collector.simulate import LINE
    from hf_collector.simulate.analytics import ANALYTICS_WORKCELL, PRODUCT_CODE, PRODUCT_NAME

    workcenter = workcell_for((enterprise, *LINE, ANALYTICS_WORKCELL))
    if not env["product.product"].search([("default_code", "=", PRODUCT_CODE)], limit=1):
        env["product.product"].create({"name": PRODUCT_NAME, "default_code": PRODUCT_CODE, "is_storable": True})
    return workcenter


def seed_production():
    """Something to make on every demo workcell, each machine's first order started at its kiosk."""
    Demo = env["hf.screen.demo"]
    workcenters = env["hf.uns.device"].search([("edge_id.name", "=", "demo-edge")]).workcenter_id
    for workcenter in workcenters.filtered(lambda w: w.hf_uns_segment in PRODUCTION):
        _cycle, product, operation, quantities = PRODUCTION[workcenter.hf_uns_segment]
        kiosk = env["hf.screen.kiosk"].search(
            [("workcenter_id", "=", workcenter.id), ("state", "=", "active")], limit=1
        )
        order = Demo._hf_seed_production(kiosk, product, operation, quantities)
        print(f"{workcenter.name}: {order.product_id.name}, {order.production_id.name} in progress", file=sys.stderr)


if STEP == "production":
    seed_production()
else:
    devices, edge = seed_plant()
    if "hf.mrp.output" in env:
        analytics_cell = seed_analytics_cell(company.hf_uns_segment)
        print(f"{analytics_cell.name}: orders, parts and states from the line's _analytics events", file=sys.stderr)
    # hyperfactory-cloud's customers pay add-ons with Odoo's demo provider here (hf_cloud installs it disabled:
    # it accepts any card); a real deployment enables a real provider instead (README)
    demo_provider = env.ref("payment.payment_provider_demo", raise_if_not_found=False)
    if demo_provider and demo_provider.state == "disabled":
        demo_provider.write({"state": "test", "is_published": True})
    print(
        f"seeded {len(devices)} devices, {env['hf.uns.tag'].search_count([])} tags, edge {edge.user_id.login}",
        file=sys.stderr,
    )
env.cr.commit()
