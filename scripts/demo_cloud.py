"""`make demo`'s second plant on hyperfactory-cloud: a customer whose machines are the second simulator.

The plant signs up as a customer does, over HTTP against the running operator's Odoo: the onboarding form
(with its CSRF token) filled with the devices and tags of that simulator's site.yaml, the confirmation link
read from the operator's mail queue (over XML-RPC, as the operator's administrator: the demo has no mail
server), the plan paid with Odoo's demo payment provider when the operator takes payment online
(``hf_cloud.signup_payment``), the tenant's readiness awaited, the customer's portal account opened from the
"ready" mail and the edge bundle downloaded from the portal as the customer. The bundle is unpacked where
`make demo` runs it (`sh run.sh`, as a customer would on a plain Linux box), and each workcell of the tenant
gets a kiosk link (its administrator's password set from the same mail). Idempotent: a plant already signed
up is kept, its customer logs in again (var/demo/plant2-customer.json, mode 0600) and downloads a fresh bundle.

    python scripts/demo_cloud.py SITE_YAML EDGE_DIR OUT_TXT

The operator: HF_DEMO_OPERATOR_URL (http://127.0.0.1:8069), HF_DEMO_DB (hyperfactory_demo), its
administrator HF_DEMO_ADMIN_LOGIN / HF_DEMO_ADMIN_PASSWORD (admin / admin).
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import os
import re
import secrets
import shutil
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import yaml

from hf_collector.config import server_proxy
from hf_core.net import dial_host
from hf_saas.bundle import unpack
from hf_saas.errors import HfSaasError
from hf_saas.provision import Provisioner
from hf_saas.spec import parse_spec
from hf_saas.tag_list import ADDRESS_COLUMNS

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


# ---------------------------------------------------------------------------------------------- the signup
CUSTOMER_EMAIL = "dana@second-plant.example"
CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')
HREF = re.compile(r'href="([^"]+)"')


class SignupError(RuntimeError):
    """A step of the customer's journey failed; the message says which and what was seen."""


@dataclass
class Operator:
    """The operator's Odoo as its administrator sees it over XML-RPC (the mail queue, the instance's state)."""

    url: str
    db: str
    login: str = "admin"
    password: str = "admin"
    uid: int = 0

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if not self.uid:
            self.uid = server_proxy(f"{self.url}/xmlrpc/2/common").authenticate(self.db, self.login, self.password, {})
            if not self.uid:
                raise SignupError(f"the operator's administrator {self.login} cannot log in to {self.db}")
        return server_proxy(f"{self.url}/xmlrpc/2/object").execute_kw(
            self.db, self.uid, self.password, model, method, list(args), kwargs
        )

    def xmlid(self, xmlid: str) -> int:
        module, name = xmlid.split(".")
        rows = self.call(
            "ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)], fields=["res_id"]
        )
        if not rows:
            raise SignupError(f"{xmlid} does not exist on the operator's Odoo")
        return int(rows[0]["res_id"])

    def mail_links(self, instance_id: int, needle: str, timeout: float = 60) -> list[str]:
        """The links of the instance's newest queued mail whose body contains ``needle`` (waited for)."""
        deadline = time.monotonic() + timeout
        while True:
            for model, body in (("mail.mail", "body_html"), ("mail.message", "body")):
                domain = [("model", "=", "hf.cloud.instance"), ("res_id", "=", instance_id), (body, "ilike", needle)]
                rows = self.call(model, "search_read", domain, fields=[body], order="id desc", limit=1)
                if rows:
                    return [html.unescape(link) for link in HREF.findall(rows[0][body] or "")]
            if time.monotonic() > deadline:
                raise SignupError(f"no mail of instance {instance_id} containing {needle} in the operator's mail queue")
            time.sleep(1)


class Browser:
    """An HTTP session on one site, as the customer's browser: cookies, CSRF tokens of the forms, JSON-RPC."""

    def __init__(self, base_url: str, timeout: float = 120) -> None:
        # <db>.localhost (the demo's tenants) is dialled at loopback, the Host header naming the tenant:
        # Python's resolver on Debian does not resolve it (hf_core.net)
        parts = urlsplit(base_url.rstrip("/"))
        host = dial_host(parts.hostname or "")
        self.base = f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"
        self.timeout = timeout
        self.http = requests.Session()
        if host != parts.hostname:
            self.http.headers["Host"] = parts.netloc

    def url(self, link: str) -> str:
        """A link of a mail or a redirect, on this site (mails carry the site's configured base URL)."""
        parts = urlsplit(link)
        return self.base + parts.path + (f"?{parts.query}" if parts.query else "")

    def get(self, link: str) -> requests.Response:
        response = self.http.get(self.url(link), timeout=self.timeout)
        response.raise_for_status()
        return response

    def csrf(self, page: requests.Response) -> str:
        match = CSRF.search(page.text)
        if not match:
            raise SignupError(f"no CSRF token on {page.url}")
        return html.unescape(match.group(1))

    def post_form(self, link: str, page: requests.Response, fields: dict[str, str]) -> requests.Response:
        response = self.http.post(self.url(link), data={**fields, "csrf_token": self.csrf(page)}, timeout=self.timeout)
        response.raise_for_status()
        return response

    def json_rpc(self, path: str, params: dict[str, Any]) -> Any:
        response = self.http.post(
            self.base + path, json={"jsonrpc": "2.0", "method": "call", "params": params, "id": 1}, timeout=60
        )
        response.raise_for_status()
        answer = response.json()
        if answer.get("error"):
            raise SignupError(f"{path}: {answer['error'].get('data', {}).get('message') or answer['error']}")
        return answer.get("result")


def tag_csv(protocol: str, tags: list[dict[str, Any]]) -> str:
    """A device's tags in the columns of the tag import, as the customer pastes them into the form."""
    address_columns = {key: column for column, (key, _parse) in ADDRESS_COLUMNS[protocol].items()}
    common = [c for c in ("name", "data_type", "unit", "role", "sampling_interval_ms") if any(c in t for t in tags)]
    addresses = [k for k in address_columns if any(k in (t.get("address") or {}) for t in tags)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*common, *(address_columns[k] for k in addresses)])
    for tag in tags:
        writer.writerow(
            [*(tag.get(c, "") for c in common), *((tag.get("address") or {}).get(k, "") for k in addresses)]
        )
    return out.getvalue()


def form_fields(spec: dict[str, Any], plan_id: int) -> dict[str, str]:
    """The onboarding form's fields for ``spec`` (company, one line of workcells, a row per device, the plan)."""
    company, site = spec["company"], spec["site"]
    line = site["areas"][0]["lines"][0]
    fields = {
        "company_name": company["name"],
        "contact_name": company["contact_name"],
        "email": company["email"],
        "phone": "",
        "timezone": company["timezone"],
        "site_name": site["name"],
        "area_0": site["areas"][0]["name"],
        "line_0": line["name"],
        "workcenters_0": ", ".join(line["workcenters"]),
        "plan": str(plan_id),
        "website_hp": "",
    }
    for row, device in enumerate(spec["devices"]):
        fields.update(
            {
                f"device_name_{row}": device["name"],
                f"device_protocol_{row}": device["protocol"],
                f"device_ip_{row}": device["ip"],
                f"device_port_{row}": str(device["port"]),
                f"device_mac_{row}": "",
                f"device_workcenter_{row}": device["workcenter"],
                f"device_tags_{row}": tag_csv(device["protocol"], device["tags"]),
            }
        )
    return fields


@dataclass
class Signup:
    """What the customer has once signed up: the instance, the portal session and the tenant's address."""

    instance_id: int
    db: str
    tenant_url: str
    admin_login: str
    portal: Browser
    state: dict[str, Any] = field(default_factory=dict)

    def bundle(self) -> bytes:
        """The edge bundle, downloaded from the portal as the customer (fresh secrets each time)."""
        response = self.portal.get(f"/my/instances/{self.instance_id}/bundle")
        if response.headers.get("Content-Type", "").split(";")[0] != "application/zip":
            raise SignupError(
                f"the portal gave no bundle (got {response.headers.get('Content-Type')} at {response.url})"
            )
        return response.content


def submit_form(operator: Operator, portal: Browser, spec: dict[str, Any]) -> int:
    plans = operator.call(
        "product.template", "search_read", [("hf_plan_code", "=", spec["plan"]["code"])], fields=["id"]
    )
    if not plans:
        raise SignupError(f"the operator sells no plan {spec['plan']['code']}")
    form = portal.get("/hyperfactory/start")
    done = portal.post_form("/hyperfactory/start", form, form_fields(spec, plans[0]["id"]))
    match = re.search(r"/hyperfactory/status/(\d+)", done.url)
    if not match:
        errors = re.findall(r'class="[^"]*invalid-feedback[^"]*"[^>]*>([^<]+)<', done.text)
        raise SignupError(f"the onboarding form refused the signup: {'; '.join(e.strip() for e in errors) or done.url}")
    return int(match.group(1))


def confirm_and_pay(operator: Operator, portal: Browser, instance_id: int) -> None:
    """The confirmation link from the mail queue, pressed; then the plan paid with the demo provider when the
    operator asks for payment before provisioning. Each step is skipped when an earlier run did it."""
    fields = ["email_confirmed", "sale_order_id", "state"]
    instance = operator.call("hf.cloud.instance", "read", [instance_id], fields=fields)[0]
    if not instance["email_confirmed"]:
        links = operator.mail_links(instance_id, f"/hyperfactory/confirm/{instance_id}/")
        link = next((u for u in links if f"/hyperfactory/confirm/{instance_id}/" in u), None)
        if not link:
            raise SignupError("the confirmation mail has no confirmation link")
        portal.post_form(link, portal.get(link), {})
        instance = operator.call("hf.cloud.instance", "read", [instance_id], fields=fields)[0]
        if not instance["email_confirmed"]:
            raise SignupError("pressing the confirmation link did not confirm the address")
    if instance["state"] != "draft" or not instance["sale_order_id"]:
        return  # provisioning already, or paid by invoice afterwards (hf_cloud.signup_payment = invoice)
    order_id = instance["sale_order_id"][0]
    order = operator.call("sale.order", "read", [order_id], fields=["amount_total", "access_token", "state"])[0]
    if order["state"] not in ("draft", "sent"):
        return
    landing = f"/my/orders/{order_id}?access_token={order['access_token']}"
    portal.get(landing)  # the page the confirmation redirected to: the order and its payment form
    processing = portal.json_rpc(
        f"/my/orders/{order_id}/transaction",
        {
            "access_token": order["access_token"],
            "provider_id": operator.xmlid("payment.payment_provider_demo"),
            "payment_method_id": operator.xmlid("payment_demo.payment_method_demo"),
            "token_id": None,
            "amount": order["amount_total"],
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": landing,
            "is_validation": False,
        },
    )
    # what the demo provider's card form does, then the status page's poll (it confirms the order)
    portal.json_rpc(
        "/payment/demo/simulate_payment",
        {"reference": processing["reference"], "payment_details": "4242", "simulated_state": "done"},
    )
    status = portal.json_rpc("/payment/status/poll", {})
    if status.get("state") != "done":
        raise SignupError(f"the demo payment ended {status.get('state')}")


def wait_ready(operator: Operator, instance_id: int, timeout: float = 300) -> dict[str, Any]:
    deadline, triggered = time.monotonic() + timeout, False
    while True:
        row = operator.call(
            "hf.cloud.instance",
            "read",
            [instance_id],
            fields=["state", "state_message", "db_name", "url", "admin_login"],
        )[0]
        if row["state"] == "ready":
            return dict(row)
        if row["state"] in ("failed", "deleted"):
            raise SignupError(f"the instance is {row['state']}: {row['state_message']}")
        if row["state"] == "queued" and not triggered:
            triggered = True  # the operator's cron would take it within its interval; the demo asks now
            with contextlib.suppress(xmlrpc.client.Fault):
                operator.call(
                    "ir.cron", "method_direct_trigger", [operator.xmlid("hf_cloud.ir_cron_hf_cloud_provision")]
                )
        if time.monotonic() > deadline:
            raise SignupError(f"the instance is still {row['state']} after {timeout:.0f} s: {row['state_message']}")
        time.sleep(2)


def set_password(browser: Browser, link: str, login: str, password: str) -> None:
    """Follow a one-time signup or reset link of a mail and choose the password on its form."""
    parts = urlsplit(link)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    page = browser.get(link)
    fields = {"login": login, "password": password, "confirm_password": password, "name": "Dana Demo"}
    fields.update({key: query[key] for key in ("token", "redirect") if key in query})
    after = browser.post_form(parts.path, page, fields)
    alert = re.search(r'class="alert alert-danger[^"]*"[^>]*>(.*?)</', after.text, re.DOTALL)
    if "/web/login" in after.url or alert:
        reason = alert.group(1).strip() if alert else after.url
        raise SignupError(f"choosing the password at {parts.path} failed: {reason}")


def portal_login(portal: Browser, login: str, password: str) -> None:
    page = portal.get("/web/login")
    after = portal.post_form("/web/login", page, {"login": login, "password": password, "redirect": "/my"})
    if "/web/login" in urlsplit(after.url).path:
        raise SignupError(f"the customer {login} cannot log in to the portal")


def sign_up(operator: Operator, spec: dict[str, Any], state_file: Path) -> Signup:
    """The second plant's journey as its customer, from the form to the portal (idempotent, see module doc)."""
    saved = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else {}
    portal = Browser(operator.url)
    found = operator.call(
        "hf.cloud.instance",
        "search_read",
        [("name", "=", spec["company"]["name"]), ("state", "!=", "deleted")],
        fields=["state", "email_confirmed"],
        limit=1,
    )
    if found and found[0]["state"] == "ready" and saved.get("instance_id") == found[0]["id"]:
        portal_login(portal, saved["email"], saved["portal_password"])
        row = wait_ready(operator, found[0]["id"])
        return Signup(found[0]["id"], row["db_name"], row["url"], row["admin_login"], portal, saved)
    if found and found[0]["state"] not in ("draft", "queued", "provisioning"):
        raise SignupError(
            f"{spec['company']['name']} is already an instance ({found[0]['state']}) whose customer this script "
            f"does not know: delete it on the operator's Odoo (or `hf-saas delete`) and run again"
        )
    # a signup an earlier run left half-way is taken up where it stopped
    instance_id = found[0]["id"] if found else submit_form(operator, portal, spec)
    confirm_and_pay(operator, portal, instance_id)
    row = wait_ready(operator, instance_id)
    links = operator.mail_links(instance_id, "o_hf_portal_link")  # the "ready" mail: portal invitation, tenant login
    tenant_host = urlsplit(row["url"]).netloc
    tenant_link = next((u for u in links if urlsplit(u).netloc == tenant_host and "token=" in u), "")
    portal_link = next((u for u in links if urlsplit(u).netloc != tenant_host and "token=" in u), "")
    saved = {
        "instance_id": instance_id,
        "email": spec["company"]["email"],
        "portal_password": secrets.token_urlsafe(12),
        "admin_password": secrets.token_urlsafe(12),
    }
    if not portal_link:
        raise SignupError(f"the ready mail has no portal invitation (links: {links})")
    set_password(portal, portal_link, saved["email"], saved["portal_password"])
    portal_login(portal, saved["email"], saved["portal_password"])
    fd = os.open(state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({**saved, "tenant_link": tenant_link}, fh)
    return Signup(
        instance_id, row["db_name"], row["url"], row["admin_login"], portal, {**saved, "tenant_link": tenant_link}
    )


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


def forget_direct_tenant(operator: Operator, spec: dict[str, Any]) -> None:
    """The second plant as an earlier `make demo` made it (provisioned directly, no customer on the operator's
    Odoo): deleted, so that it signs up as a customer now."""
    provisioner = Provisioner()
    db = provisioner.db_name(parse_spec(spec))
    record = provisioner.registry.find(db)
    if (
        record
        and record.state != "deleted"
        and not operator.call("hf.cloud.instance", "search_count", [("db_name", "=", db)])
    ):
        print(f"demo_cloud: {db} was provisioned without a customer by an earlier demo; deleting it", file=sys.stderr)
        provisioner.delete(db, yes=True)


def main() -> int:
    site_path, edge_dir, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    operator = Operator(
        os.environ.get("HF_DEMO_OPERATOR_URL", "http://127.0.0.1:8069"),
        os.environ.get("HF_DEMO_DB", "hyperfactory_demo"),
        os.environ.get("HF_DEMO_ADMIN_LOGIN", "admin"),
        os.environ.get("HF_DEMO_ADMIN_PASSWORD", "admin"),
    )
    spec = spec_from_site(yaml.safe_load(site_path.read_text(encoding="utf-8")))
    try:
        forget_direct_tenant(operator, spec)
        signup = sign_up(operator, spec, out.with_name("plant2-customer.json"))
        bundle = signup.bundle()
    except (SignupError, HfSaasError, OSError, requests.RequestException, xmlrpc.client.Error) as exc:
        print(f"demo_cloud: the second plant could not sign up: {exc}", file=sys.stderr)
        return 1
    if not out.exists() or signup.state.get("tenant_link"):
        portal_page = f"{operator.url}/my/instances/{signup.instance_id}"
        lines = [f"{COMPANY}: {portal_page}  login {signup.state['email']}  password {signup.state['portal_password']}"]
        try:
            if signup.state.get("tenant_link"):
                # its Odoo starts on this first request (a minute on a busy machine)
                tenant = Browser(signup.tenant_url, timeout=300)
                set_password(tenant, signup.state["tenant_link"], signup.admin_login, signup.state["admin_password"])
            lines += [
                f"{signup.tenant_url}  login {signup.admin_login}  password {signup.state['admin_password']}",
                "kiosks:",
                *kiosk_links(signup.tenant_url, signup.db, signup.admin_login, signup.state["admin_password"]),
            ]
        except (SignupError, OSError, requests.RequestException, xmlrpc.client.Error) as exc:
            lines.append(f"(no kiosk links: {exc})")
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        state_file = out.with_name("plant2-customer.json")
        kept = {k: v for k, v in signup.state.items() if k != "tenant_link"}  # a one-time link, used now
        fd = os.open(state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(kept, fh)
    shutil.rmtree(edge_dir, ignore_errors=True)
    edge_dir.mkdir(parents=True)
    zip_path = edge_dir.with_suffix(".zip")
    fd = os.open(zip_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(bundle)
    folder = unpack(zip_path, edge_dir)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
