from collections.abc import Callable
from typing import Any

import pytest

from hf_saas.cli import changed_quotas
from hf_saas.errors import SpecError
from hf_saas.spec import normalize_ip, normalize_mac, parse_spec

from .conftest import spec_data


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("00:1B:44:11:3A:B7", "00:1b:44:11:3a:b7"),
        ("00-1b-44-11-3a-b7", "00:1b:44:11:3a:b7"),
        ("001B.4411.3AB7", "00:1b:44:11:3a:b7"),
        ("001b44113ab7", "00:1b:44:11:3a:b7"),
        ("0:1b:44:11:3a:b7", "00:1b:44:11:3a:b7"),
        (" 00:1B:44:11:3A:B7 ", "00:1b:44:11:3a:b7"),
    ],
    ids=["colon", "dash", "cisco", "bare", "short-octet", "spaces"],
)
def test_mac_normalised(raw: str, expected: str) -> None:
    assert normalize_mac(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "00:1B:44:11:3A",
        "zz:1b:44:11:3a:b7",
        "00:00:00:00:00:00",
        "ff:ff:ff:ff:ff:ff",
        "01:00:5e:00:00:01",
        "00:1b:44:11:3a:b7:99",
    ],
    ids=["short", "not-hex", "zero", "broadcast", "multicast", "long"],
)
def test_mac_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_mac(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("10.0.0.5", "10.0.0.5"), ("fd00:0::0010", "fd00::10"), ("2001:db8::1", "2001:db8::1")],
    ids=["v4", "v6-compressed", "v6"],
)
def test_ip_normalised(raw: str, expected: str) -> None:
    assert normalize_ip(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["10.0.0.256", "0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "plc.local", ""],
    ids=["octet", "unspecified4", "unspecified6", "multicast", "broadcast", "hostname", "empty"],
)
def test_ip_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_ip(raw)


def _errors(data: dict) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    return info.value.errors


def test_valid_spec_round_trip() -> None:
    spec = parse_spec(spec_data())
    assert spec.company.slug == "pytest_plant"
    assert [d.port for d in spec.devices] == [502, 4840]
    assert parse_spec(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"),
    [
        (lambda d: d["company"].update(name="<script>alert(1)</script>"), "company.name", "may not contain"),
        (lambda d: d["company"].update(name=""), "company.name", "required"),
        (lambda d: d["company"].update(email="x@"), "company.email", "e-mail"),
        (lambda d: d["company"].update(timezone="Mars/Base"), "company.timezone", "time zone"),
        (lambda d: d["site"].update(areas=[]), "site.areas", "at least one area"),
        (
            lambda d: d["site"]["areas"][0]["lines"][0].update(workcenters=["A", "a"]),
            "site.areas.0.lines.0.workcenters.1.name",
            "unique",
        ),
        (lambda d: d["devices"][1].update(name="PLC0"), "devices.1.name", "already has the name"),
        (lambda d: d["devices"][1].update(ip="10.1.0.1", port=502, protocol="modbus"), "devices.1.ip", "already uses"),
        (lambda d: d["devices"][0].update(port=0), "devices.0.port", "1 to 65535"),
        (lambda d: d["devices"][0].update(protocol="bacnet"), "devices.0.protocol", "OPC UA"),
        (lambda d: d["devices"][0].update(workcenter="Nowhere"), "devices.0.workcenter", "layout"),
        (lambda d: d["devices"][0].update(mac="nope"), "devices.0.mac", "MAC"),
        (lambda d: d.update(devices=[d["devices"][0]] * 10_000), "devices", "At most 200"),
    ],
    ids=[
        "injection",
        "company-required",
        "email",
        "timezone",
        "no-area",
        "dup-workcenter",
        "dup-device",
        "dup-endpoint",
        "port",
        "protocol",
        "workcenter",
        "mac",
        "10000-devices",
    ],
)
def test_bad_input_named_by_field(mutate: Callable[[dict[str, Any]], object], path: str, fragment: str) -> None:
    data = spec_data()
    mutate(data)
    errors = _errors(data)
    assert path in errors, errors
    assert fragment.lower() in errors[path].lower()


def test_tag_quota_in_spec() -> None:
    data = spec_data()
    data["plan"]["tags"] = 0
    assert "plan" in _errors(data)


def test_hf_saas_quotas_changes_only_what_it_is_given() -> None:
    """`hf-saas quotas DB --tags 800` on a plan with its own bandwidth, memory and policy keeps those."""
    current = {
        "tags": 500,
        "samples_per_day": 5_000_000,
        "retention_days": 30,
        "storage_mb": 5_120,
        "cpu": 0.5,
        "bytes_per_day": 123_456_789,
        "memory_mb": 4096,
        "storage_policy": "shorten_retention",
    }
    options = {"db": "hf_t_x", "plan": None, "tags": 800, "samples_per_day": None, "cpu": None, "memory_mb": None}
    quotas = changed_quotas(current, options)
    assert quotas.tags == 800
    assert (quotas.cpu, quotas.bytes_per_day, quotas.memory_mb) == (0.5, 123_456_789, 4096)
    assert quotas.storage_policy == "shorten_retention" and quotas.retention_days == 30
