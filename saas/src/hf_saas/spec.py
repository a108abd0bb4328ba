"""The tenant specification: what the onboarding form produces and ``hf-saas create --spec`` reads.

One validator serves the website form (``hf_cloud``) and the CLI, so a field is checked the same way
wherever it comes from. Errors are collected, not raised one by one: ``SpecError.errors`` maps the
field path (``company.name``, ``site.areas.0.lines.1.name``, ``devices.3.ip``) to a sentence saying
what to do, which the form shows next to the field.

JSON shape::

    {"company": {"name": "Acme GmbH", "contact_name": "Ada Admin", "email": "ada@acme.example",
                 "phone": "", "timezone": "Europe/Berlin"},
     "site": {"name": "Berlin", "areas": [{"name": "Press shop",
              "lines": [{"name": "Line 1", "workcenters": ["Press 1", "Press 2"]}]}]},
     "devices": [{"name": "press1-plc", "protocol": "modbus", "ip": "10.0.0.5",
                  "mac": "00-1B-44-11-3A-B7", "port": 502, "workcenter": "Press 1",
                  "tags": [{"name": "temperature", "data_type": "float", "address": {...}}]}],
     "plan": {"code": "starter", "tags": 500, "samples_per_day": 5000000, "retention_days": 30,
              "storage_mb": 5120}}
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
import zoneinfo
from dataclasses import asdict, dataclass, field
from typing import Any

from hf_core.types import DEFAULT_PORTS, DeviceProtocol
from hf_core.uns import segment_from_name
from hf_historian.ingest.quota import PAUSE_INGEST, STORAGE_POLICIES

from .errors import SpecError

MAX_NAME = 64
MAX_AREAS = 20
MAX_LINES_PER_AREA = 20
MAX_WORKCENTERS = 100
MAX_DEVICES = 200
MAX_TAGS_PER_DEVICE = 500
SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-]+$")
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{4,32}$")
# Names a visitor types: letters (any script), digits, space and a little punctuation. No <, >, quotes
# or control characters: those are refused with a message, not silently stripped.
NAME_FORBIDDEN = set("<>\"'`{}[]\\|;$")
DEVICE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
MAC_HEX = re.compile(r"^[0-9a-f]{12}$")


def slug_from_name(name: str, max_len: int = 40) -> str:
    """Lower-case slug for database names and broker users: 'Acme GmbH' -> 'acme_gmbh'."""
    return segment_from_name(name).lower().replace("-", "_")[:max_len].strip("_")


def normalize_mac(value: str) -> str:
    """'00-1B-44-11-3A-B7', '001B.4411.3AB7', '00:1b:44:11:3a:b7', '001b44113ab7' -> '00:1b:44:11:3a:b7'.

    Raises ValueError with a sentence for anything else, for multicast and for the all-zero/broadcast
    addresses (never a device's own).
    """
    raw = value.strip().lower()
    if re.fullmatch(r"([0-9a-f]{1,2}[:-]){5}[0-9a-f]{1,2}", raw):
        digits = "".join(part.zfill(2) for part in re.split(r"[:-]", raw))
    elif re.fullmatch(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}", raw) or re.fullmatch(r"[0-9a-f]{12}", raw):
        digits = raw.replace(".", "")
    else:
        raise ValueError("Enter a MAC address as 00:1B:44:11:3A:B7, 00-1B-44-11-3A-B7 or 001B.4411.3AB7.")
    if not MAC_HEX.match(digits):
        raise ValueError("A MAC address has 12 hexadecimal digits.")
    if digits in ("000000000000", "ffffffffffff"):
        raise ValueError("This MAC address is reserved; enter the device's own address.")
    if int(digits[:2], 16) & 1:
        raise ValueError("This is a multicast MAC address; enter the device's own address.")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def normalize_ip(value: str) -> str:
    """An IPv4 or IPv6 address a device can have, in its compressed form; ValueError otherwise."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValueError("Enter an IPv4 address (192.168.0.10) or an IPv6 address (fd00::10).") from None
    if address.is_unspecified or address.is_multicast or str(address) == "255.255.255.255":
        raise ValueError("This address cannot belong to a device; enter the device's own address.")
    return str(address)


COUNT_QUOTAS = ("tags", "samples_per_day", "retention_days", "storage_mb", "bytes_per_day", "memory_mb")


@dataclass(frozen=True)
class Quotas:
    """What a plan includes; applied inside the tenant as ir.config_parameter values."""

    tags: int = 500
    samples_per_day: int = 5_000_000
    retention_days: int = 30
    storage_mb: int = 5_120
    cpu: float = 1.0
    bytes_per_day: int = 2048 * 1024 * 1024  # payload bytes the tenant's ingest stores a day (bandwidth)
    memory_mb: int = 2048
    storage_policy: str = PAUSE_INGEST  # at the storage quota: its ingest parks, or "shorten_retention"

    def __post_init__(self) -> None:
        for name in COUNT_QUOTAS:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"Quota {name} must be at least 1.")
        if self.storage_policy not in STORAGE_POLICIES:
            raise ValueError(f"The storage policy must be one of {', '.join(STORAGE_POLICIES)}.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Quotas:
        values: dict[str, Any] = {k: int(data[k]) for k in COUNT_QUOTAS if k in data}
        if "cpu" in data:
            values["cpu"] = float(data["cpu"])
        if data.get("storage_policy"):
            values["storage_policy"] = str(data["storage_policy"])
        return cls(**values)


@dataclass(frozen=True)
class Company:
    name: str
    contact_name: str
    email: str
    phone: str = ""
    timezone: str = "UTC"

    @property
    def slug(self) -> str:
        return slug_from_name(self.name)


@dataclass(frozen=True)
class Line:
    name: str
    workcenters: tuple[str, ...]


@dataclass(frozen=True)
class Area:
    name: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Site:
    name: str
    areas: tuple[Area, ...]

    def workcenter_names(self) -> list[str]:
        return [wc for area in self.areas for line in area.lines for wc in line.workcenters]


@dataclass(frozen=True)
class Device:
    name: str
    protocol: DeviceProtocol
    ip: str
    port: int
    workcenter: str
    mac: str = ""
    tags: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class TenantSpec:
    """A validated tenant specification; build it with :func:`parse_spec`."""

    company: Company
    site: Site
    devices: tuple[Device, ...]
    plan_code: str = "starter"
    quotas: Quotas = field(default_factory=Quotas)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for device in data["devices"]:
            device["protocol"] = DeviceProtocol(device["protocol"]).value
            device["tags"] = list(device["tags"])
        data["plan"] = {"code": self.plan_code, **data.pop("quotas")}
        data.pop("plan_code")
        result: dict[str, Any] = json.loads(json.dumps(data))  # tuples → lists: the JSON shape exactly
        return result


class _Collector:
    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    def text(
        self, data: dict[str, Any], key: str, path: str, label: str, *, required: bool = True, max_len: int = MAX_NAME
    ) -> str:
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.add(path, f"{label} must be text.")
            return ""
        value = " ".join(value.split())
        if not value:
            if required:
                self.add(path, f"{label} is required.")
            return ""
        if len(value) > max_len:
            self.add(path, f"{label} is too long: at most {max_len} characters.")
        elif any(ch in NAME_FORBIDDEN or unicodedata.category(ch).startswith("C") for ch in value):
            self.add(path, f"{label} may not contain < > \" ' ` {{ }} [ ] \\ | ; $ or control characters.")
        return value

    def named(self, data: dict[str, Any], path: str, label: str) -> str:
        name = self.text(data, "name", f"{path}.name", label)
        if name and not segment_from_name(name) and f"{path}.name" not in self.errors:
            self.add(f"{path}.name", f"{label} needs at least one latin letter or digit.")
        return name

    def unique_name(self, data: dict[str, Any], path: str, label: str, seen: set[str], taken: str) -> str:
        """:meth:`named`, refused with ``taken`` (``{}`` is the name) when its segment, case folded, is in
        ``seen`` (which it joins)."""
        name = self.named(data, path, label)
        key = segment_from_name(name).lower()
        if name and key in seen:
            self.add(f"{path}.name", taken.format(name))
        seen.add(key)
        return name


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` when it is a JSON object, else an empty one (its fields are then reported missing)."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _as_list(value: object, path: str, col: _Collector, label: str, cap: int) -> list[Any]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        col.add(path, f"{label} must be a list.")
        return []
    if len(value) > cap:
        col.add(
            path,
            f"At most {cap} {label.lower()} can be entered here ({len(value)} given); contact us for a larger plant.",
        )
        return []
    return value


def parse_spec(data: object, *, max_devices: int = MAX_DEVICES) -> TenantSpec:
    """Validate everything and return the spec, or raise SpecError with every error found."""
    col = _Collector()
    if not isinstance(data, dict):
        raise SpecError({"": "The specification must be a JSON object."})
    company = _parse_company(_object(data, "company"), col)
    site, workcenters = _parse_site(_object(data, "site"), col)
    devices = _parse_devices(data.get("devices"), col, workcenters, max_devices)
    plan_code, quotas = _parse_plan(_object(data, "plan"), col, devices)
    if col.errors:
        raise SpecError(col.errors)
    return TenantSpec(company=company, site=site, devices=tuple(devices), plan_code=plan_code, quotas=quotas)


def _parse_company(company_data: dict[str, Any], col: _Collector) -> Company:
    company_name = col.named(company_data, "company", "Company name")
    if company_name and len(slug_from_name(company_name)) < 2 and "company.name" not in col.errors:
        col.add("company.name", "The company name needs at least two latin letters or digits.")
    contact = col.text(company_data, "contact_name", "company.contact_name", "Contact name")
    email = col.text(company_data, "email", "company.email", "E-mail", max_len=254)
    if email and "company.email" not in col.errors and not EMAIL_RE.match(email):
        col.add("company.email", "Enter an e-mail address such as name@example.com.")
    phone = col.text(company_data, "phone", "company.phone", "Phone", required=False, max_len=32)
    if phone and "company.phone" not in col.errors and not PHONE_RE.match(phone):
        col.add("company.phone", "Enter a phone number with digits, spaces and an optional leading +.")
    tz = col.text(company_data, "timezone", "company.timezone", "Time zone", required=False) or "UTC"
    if tz not in zoneinfo.available_timezones():
        col.add("company.timezone", "Choose a time zone from the list (e.g. Europe/Berlin).")
    return Company(company_name, contact, email, phone, tz)


def _parse_site(site_data: dict[str, Any], col: _Collector) -> tuple[Site, dict[str, str]]:
    """The site and its layout, and its workcenters by their lower-case segment (for the devices)."""
    site_name = col.named(site_data, "site", "Site name")
    areas: list[Area] = []
    workcenter_seen: dict[str, str] = {}
    area_list = _as_list(site_data.get("areas"), "site.areas", col, "Areas", MAX_AREAS)
    if not area_list and "site.areas" not in col.errors:
        col.add("site.areas", "Add at least one area with one line and one workcenter.")
    area_seen: set[str] = set()
    total_wc = 0
    for ai, area_data in enumerate(area_list):
        apath = f"site.areas.{ai}"
        area_data = area_data if isinstance(area_data, dict) else {}
        area_name = col.unique_name(area_data, apath, "Area name", area_seen, "Another area is already called {}.")
        lines: list[Line] = []
        line_seen: set[str] = set()
        line_list = _as_list(area_data.get("lines"), f"{apath}.lines", col, "Lines", MAX_LINES_PER_AREA)
        if not line_list and f"{apath}.lines" not in col.errors:
            col.add(f"{apath}.lines", "Add at least one line to this area.")
        for li, line_data in enumerate(line_list):
            lpath = f"{apath}.lines.{li}"
            line_data = line_data if isinstance(line_data, dict) else {}
            line_name = col.unique_name(
                line_data, lpath, "Line name", line_seen, "Another line of this area is already called {}."
            )
            wcs = _parse_workcenters(line_data.get("workcenters"), lpath, col, workcenter_seen)
            total_wc += len(wcs)
            lines.append(Line(line_name, tuple(wcs)))
        areas.append(Area(area_name, tuple(lines)))
    if total_wc > MAX_WORKCENTERS:
        col.add("site.areas", f"At most {MAX_WORKCENTERS} workcenters can be entered here ({total_wc} given).")
    return Site(site_name, tuple(areas)), workcenter_seen


def _parse_workcenters(value: object, lpath: str, col: _Collector, workcenter_seen: dict[str, str]) -> list[str]:
    """One line's workcenters; each name is added to ``workcenter_seen`` (unique over the whole site)."""
    wcs: list[str] = []
    wc_list = _as_list(value, f"{lpath}.workcenters", col, "Workcenters", MAX_WORKCENTERS)
    if not wc_list and f"{lpath}.workcenters" not in col.errors:
        col.add(f"{lpath}.workcenters", "Add at least one workcenter to this line.")
    for wi, wc in enumerate(wc_list):
        wpath = f"{lpath}.workcenters.{wi}"
        wc_name = col.named({"name": wc}, wpath, "Workcenter name")
        key = segment_from_name(wc_name).lower()
        if wc_name and key in workcenter_seen:
            col.add(f"{wpath}.name", f"Workcenter {wc_name} is already in the layout; names must be unique.")
        elif wc_name:
            workcenter_seen[key] = wc_name
        wcs.append(wc_name)
    return wcs


@dataclass
class _DevicesSeen:
    """What the devices parsed so far use, to refuse a second one with the same name, endpoint or MAC."""

    names: dict[str, int] = field(default_factory=dict)
    endpoints: dict[tuple[str, int], int] = field(default_factory=dict)
    macs: dict[str, int] = field(default_factory=dict)


def _parse_devices(value: object, col: _Collector, workcenters: dict[str, str], max_devices: int) -> list[Device]:
    seen = _DevicesSeen()
    device_list = _as_list(value, "devices", col, "Devices", max_devices)
    return [
        _parse_device(dev if isinstance(dev, dict) else {}, di, col, workcenters, seen)
        for di, dev in enumerate(device_list)
    ]


def _parse_device(
    dev: dict[str, Any], di: int, col: _Collector, workcenter_seen: dict[str, str], seen: _DevicesSeen
) -> Device:
    dpath = f"devices.{di}"
    name = col.text(dev, "name", f"{dpath}.name", "Device name")
    if name and f"{dpath}.name" not in col.errors and not DEVICE_NAME_RE.match(name):
        col.add(
            f"{dpath}.name",
            "A device name starts with a letter or digit and contains only letters, digits, spaces, '_', '.' and '-'.",
        )
    if name and name.lower() in seen.names:
        col.add(f"{dpath}.name", f"Device {seen.names[name.lower()] + 1} already has the name {name}.")
    seen.names.setdefault(name.lower(), di)
    protocol_raw = dev.get("protocol") or ""
    try:
        protocol = DeviceProtocol(protocol_raw)
    except ValueError:
        col.add(f"{dpath}.protocol", "Choose OPC UA, Modbus TCP or Siemens S7.")
        protocol = DeviceProtocol.OPCUA
    ip = ""
    raw_ip = dev.get("ip") or ""
    if not isinstance(raw_ip, str) or not raw_ip.strip():
        col.add(f"{dpath}.ip", "The IP address is required.")
    else:
        try:
            ip = normalize_ip(raw_ip)
        except ValueError as exc:
            col.add(f"{dpath}.ip", str(exc))
    mac = ""
    raw_mac = dev.get("mac") or ""
    if raw_mac:
        try:
            mac = normalize_mac(str(raw_mac))
        except ValueError as exc:
            col.add(f"{dpath}.mac", str(exc))
        else:
            if mac in seen.macs:
                col.add(f"{dpath}.mac", f"Device {seen.macs[mac] + 1} already has the MAC address {mac}.")
            seen.macs.setdefault(mac, di)
    raw_port = dev.get("port")
    port = DEFAULT_PORTS[protocol]
    if raw_port not in (None, ""):
        try:
            port = int(str(raw_port).strip())
            if not 1 <= port <= 65535:
                raise ValueError
        except ValueError:
            col.add(f"{dpath}.port", "The port is a whole number from 1 to 65535.")
    if ip and f"{dpath}.port" not in col.errors:
        if (ip, port) in seen.endpoints:
            col.add(f"{dpath}.ip", f"Device {seen.endpoints[(ip, port)] + 1} already uses {ip} port {port}.")
        seen.endpoints.setdefault((ip, port), di)
    wc = dev.get("workcenter") or ""
    if not isinstance(wc, str) or not wc.strip():
        col.add(f"{dpath}.workcenter", "Choose the workcenter this device belongs to.")
        wc = ""
    elif segment_from_name(wc).lower() not in workcenter_seen:
        col.add(f"{dpath}.workcenter", "Choose a workcenter of the site layout.")
    else:
        wc = workcenter_seen[segment_from_name(wc).lower()]
    tags = dev.get("tags") or []
    if not isinstance(tags, list) or len(tags) > MAX_TAGS_PER_DEVICE or not all(isinstance(t, dict) for t in tags):
        col.add(f"{dpath}.tags", f"Tags are a list of at most {MAX_TAGS_PER_DEVICE} objects.")
        tags = []
    for ti, tag in enumerate(tags):
        if not isinstance(tag.get("name"), str) or not SEGMENT_RE.match(tag["name"]):
            col.add(f"{dpath}.tags.{ti}.name", "A tag name may only contain letters, digits, '_' and '-'.")
    return Device(name, protocol, ip, port, wc, mac, tuple(tags))


def _parse_plan(plan: dict[str, Any], col: _Collector, devices: list[Device]) -> tuple[str, Quotas]:
    plan_code = plan.get("code") or "starter"
    if not isinstance(plan_code, str) or not SEGMENT_RE.match(plan_code):
        col.add("plan.code", "Choose a plan.")
        plan_code = "starter"
    try:
        quotas = Quotas.from_dict(plan)
    except (TypeError, ValueError) as exc:
        col.add("plan", f"The plan's quotas are not valid: {exc}")
        quotas = Quotas()
    if quotas and sum(len(d.tags) for d in devices) > quotas.tags:
        col.add("devices", f"The plan includes {quotas.tags} tags; remove tags or choose a larger plan.")
    return plan_code, quotas
