import json
import logging
import re

import pytz

from odoo import _, http
from odoo.exceptions import ValidationError
from odoo.http import request
from odoo.tools import consteq

from hf_saas.errors import SpecError
from hf_saas.spec import MAX_DEVICES, parse_spec
from hf_saas.tag_list import parse_tag_list

_logger = logging.getLogger(__name__)
LAYOUT_ROWS = 30
DEVICE_ROW = re.compile(r"^device_(name|protocol|ip|mac|port|workcenter|tags)_(\d{1,6})$")
COMPANY_FIELDS = {
    "company.name": "company_name",
    "company.contact_name": "contact_name",
    "company.email": "email",
    "company.phone": "phone",
    "company.timezone": "timezone",
    "site.name": "site_name",
}
STEP_OF_FIELD = (
    ("company_name", 1),
    ("contact_name", 1),
    ("email", 1),
    ("phone", 1),
    ("timezone", 1),
    ("site_name", 2),
    ("layout", 2),
    ("area_", 2),
    ("line_", 2),
    ("workcenters_", 2),
    ("devices", 3),
    ("device_", 3),
    ("plan", 4),
)
PROTOCOLS = [("opcua", "OPC UA"), ("modbus", "Modbus TCP"), ("s7", "Siemens S7")]


def _field_step(field):
    return next((step for prefix, step in STEP_OF_FIELD if field.startswith(prefix)), 5)


class HfCloudOnboarding(http.Controller):
    """The public form at /hyperfactory/start: every field validated on the server (hf_saas.spec)."""

    @http.route("/hyperfactory/start", type="http", auth="public", website=True, methods=["GET"], sitemap=True)
    def start(self, **_kw):
        return self._render({}, {})

    @http.route(
        "/hyperfactory/start", type="http", auth="public", website=True, methods=["POST"], csrf=True, sitemap=False
    )
    def submit(self, **post):
        address = self._client_address()
        if post.get("website_hp"):  # honeypot: a field people never see and bots fill in
            _logger.info("onboarding honeypot filled from %s; nothing created", address)
            return self._render(post, {"form": _("Your submission could not be accepted.")})
        attempts = request.env["hf.cloud.onboarding.attempt"].sudo()
        email = (post.get("email") or "").strip().lower()
        if not attempts._hf_allowed(address, email.rsplit("@", 1)[1] if "@" in email else ""):
            return self._render(
                post,
                {"form": _("Too many submissions from your network. Please try again in an hour, or write to us.")},
                status=429,
            )
        data, field_map, errors = self._spec_from_form(post)
        plan = self._plan(post.get("plan"))
        if not plan:
            errors["plan"] = _("Choose a plan.")
        spec = None
        if not errors:
            try:
                spec = parse_spec(data)
            except SpecError as exc:
                for path, message in exc.errors.items():
                    errors.setdefault(self._form_field(path, field_map), message)
        if errors:
            return self._render(post, errors)
        try:
            with request.env.cr.savepoint():  # only this submission's records: the attempt stays counted
                instance = request.env["hf.cloud.instance"].sudo()._hf_create_from_spec(spec, plan)
        except ValidationError as exc:
            return self._render(post, {"company_name": exc.args[0]})
        return request.redirect(f"/hyperfactory/status/{instance.id}?access_token={instance.access_token}")

    @http.route(
        "/hyperfactory/confirm/<int:instance_id>/<string:token>",
        type="http",
        auth="public",
        website=True,
        sitemap=False,
        methods=["GET", "POST"],
    )
    def confirm(self, instance_id, token, **_kw):
        """The link mailed to the signup's address: only now is the instance sold and provisioned. Opening
        the link shows a button; only pressing it (a POST) confirms, so a mail scanner or a link preview
        that fetches every link of a mail confirms nothing."""
        instance = request.env["hf.cloud.instance"].sudo().browse(instance_id).exists()
        if not instance or not token or not consteq(token, instance._hf_confirm_token()):
            return request.not_found()
        if request.httprequest.method != "POST":
            if instance.email_confirmed:
                return request.redirect(f"/hyperfactory/status/{instance.id}?access_token={instance.access_token}")
            return request.render("hf_cloud.onboarding_confirm", {"instance": instance, "token": token})
        try:
            with request.env.cr.savepoint():
                confirmed = instance._hf_confirm_email(token)
        except ValidationError as exc:
            return request.render(
                "hf_cloud.onboarding_status", {"instance": instance, "refresh": False, "error": exc.args[0]}
            )
        if not confirmed:
            return request.not_found()
        if payment_url := instance._hf_payment_url():
            return request.redirect(payment_url)
        return request.redirect(f"/hyperfactory/status/{instance.id}?access_token={instance.access_token}")

    @http.route("/hyperfactory/status/<int:instance_id>", type="http", auth="public", website=True, sitemap=False)
    def status(self, instance_id, access_token=None, **_kw):
        instance = request.env["hf.cloud.instance"].sudo().browse(instance_id).exists()
        if (
            not instance
            or not access_token
            or not instance.access_token
            or not consteq(instance.access_token, access_token)
        ):
            return request.not_found()
        payment_url = instance._hf_payment_url() if instance.state == "draft" else False
        return request.render(
            "hf_cloud.onboarding_status",
            {
                "instance": instance,
                "payment_url": payment_url,
                "refresh": instance.email_confirmed
                and not payment_url
                and instance.state in ("draft", "queued", "provisioning"),
            },
        )

    # ------------------------------------------------------------------ helpers
    def _client_address(self):
        """The visitor's address as the configured number of trusted proxies saw it
        (``hf_cloud.trusted_proxies``, default 0: the connection's own peer). Each trusted proxy appends
        the address it saw to X-Forwarded-For; entries before those are the client's to invent."""
        environ = request.httprequest.environ
        original = environ.get("werkzeug.proxy_fix.orig") or {}  # before Odoo's proxy_mode rewrote it
        peer = original.get("REMOTE_ADDR") or environ.get("REMOTE_ADDR") or "unknown"
        try:
            hops = int(request.env["ir.config_parameter"].sudo().get_param("hf_cloud.trusted_proxies", 0) or 0)
        except ValueError:
            hops = 0
        if hops <= 0:
            return peer
        forwarded = [part.strip() for part in (environ.get("HTTP_X_FORWARDED_FOR") or "").split(",") if part.strip()]
        return forwarded[-hops] if len(forwarded) >= hops else peer

    def _plan(self, value):
        try:
            plan = request.env["product.template"].sudo().browse(int(value or 0)).exists()
        except (TypeError, ValueError):
            return None
        return plan if plan and plan._hf_on_sale("plan") else None

    def _spec_from_form(self, post):
        """The spec dict (hf_saas shape), where each spec path came from on the form, and early errors."""
        errors, field_map = {}, {}
        areas, area_index = [], {}
        for row in range(LAYOUT_ROWS):
            area, line, wcs = (post.get(f"{key}_{row}", "").strip() for key in ("area", "line", "workcenters"))
            if not (area or line or wcs):
                continue
            key = area.lower()
            if key not in area_index:
                area_index[key] = len(areas)
                areas.append({"name": area, "lines": []})
                field_map[f"site.areas.{area_index[key]}.name"] = f"area_{row}"
                field_map[f"site.areas.{area_index[key]}.lines"] = f"line_{row}"
            ai = area_index[key]
            li = len(areas[ai]["lines"])
            areas[ai]["lines"].append({"name": line, "workcenters": [w.strip() for w in wcs.split(",") if w.strip()]})
            for suffix, form_field in (("name", f"line_{row}"), ("workcenters", f"workcenters_{row}")):
                field_map[f"site.areas.{ai}.lines.{li}.{suffix}"] = form_field
        rows = sorted({int(m.group(2)) for key in post if (m := DEVICE_ROW.match(key))})
        if len(rows) > MAX_DEVICES:
            errors["devices"] = _(
                "At most %(max)s devices can be entered here (%(count)s given); enter the main "
                "ones now and import the rest later, or contact us for a larger plant.",
                max=MAX_DEVICES,
                count=len(rows),
            )
            rows = []
        devices = []
        for row in rows:
            values = {
                key: (post.get(f"device_{key}_{row}") or "").strip()
                for key in ("name", "protocol", "ip", "mac", "port", "workcenter", "tags")
            }
            if not any(values[k] for k in ("name", "ip", "mac", "port", "tags")):
                continue  # an empty row
            try:  # pasted in the columns of the tag import (what `hf-collector browse` writes)
                values["tags"] = parse_tag_list(values["tags"], values["protocol"])
            except SpecError as exc:
                errors[f"device_tags_{row}"] = exc.errors["tags"]
                values["tags"] = []
            field_map[f"devices.{len(devices)}"] = row
            devices.append(values)
        data = {
            "company": {
                "name": post.get("company_name", ""),
                "contact_name": post.get("contact_name", ""),
                "email": post.get("email", ""),
                "phone": post.get("phone", ""),
                "timezone": post.get("timezone", "") or "UTC",
            },
            "site": {"name": post.get("site_name", ""), "areas": areas},
            "devices": devices,
        }
        return data, field_map, errors

    def _form_field(self, path, field_map):
        if path in COMPANY_FIELDS:
            return COMPANY_FIELDS[path]
        if path.startswith("devices."):
            parts = path.split(".")
            row = field_map.get(f"devices.{parts[1]}")
            return f"device_{parts[2]}_{row}" if row is not None and len(parts) > 2 else "devices"
        if path.startswith("site.areas."):
            parts = path.split(".")
            for cut in (len(parts), 6, 5, 4):
                key = ".".join(parts[:cut])
                if key in field_map:
                    return field_map[key]
            return "layout"
        if path == "site.areas":
            return "layout"
        if path.startswith("plan"):
            return "plan"
        return path or "form"

    def _render(self, post, errors, status=200):
        plans = (
            request.env["product.template"]
            .sudo()
            .search([("hf_is_plan", "=", True), ("sale_ok", "=", True)], order="list_price, id")
        )
        device_rows = sorted({int(m.group(2)) for key in post if (m := DEVICE_ROW.match(key))})[:MAX_DEVICES] or [
            0,
            1,
            2,
        ]
        layout_rows = [
            r for r in range(LAYOUT_ROWS) if any(post.get(f"{k}_{r}") for k in ("area", "line", "workcenters"))
        ]
        first_step = min((_field_step(field) for field in errors), default=1)
        values = {
            "post": post,
            "errors": errors,
            "plans": plans,
            "protocols": PROTOCOLS,
            "timezones": pytz.common_timezones,
            "device_rows": device_rows,
            "layout_rows": layout_rows or [0, 1],
            "next_layout_row": max(layout_rows or [1]) + 1,
            "next_device_row": max(device_rows) + 1,
            "first_step": first_step,
            "selected_plan": str(post.get("plan") or (plans[:1].id if plans else "")),
            "error_json": json.dumps(sorted(errors)),
        }
        return request.render("hf_cloud.onboarding_form", values, status=status)
