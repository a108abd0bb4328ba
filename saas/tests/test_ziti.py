"""Every request the provisioner would send to an OpenZiti controller, checked against the published
Edge Management API (Swagger 2.0). No controller is installable here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hf_saas.ziti import CLOUD_HOST_IDENTITY, CLOUD_HOST_ROLE, HOST_V1, INTERCEPT_V1, ZitiPlan, ZitiRequest

SPEC_PATH = Path("/work/shared/specs/openziti/edge-management-v1.yml")


@pytest.fixture(scope="module")
def api() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip("OpenZiti spec not available")
    return yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def validate(api: dict[str, Any], request: ZitiRequest) -> None:
    operation = api["paths"].get(request.path, {}).get(request.method.lower())
    assert operation is not None, f"{request.method} {request.path} is not in the API"
    for name in re.findall(r"{(\w+)}", request.path):
        assert request.path_params.get(name), f"path parameter {name} missing"
    params = operation.get("parameters", []) + api["paths"][request.path].get("parameters", [])
    body_params = [p for p in params if p.get("in") == "body"]
    if request.body is None:
        assert not any(p.get("required") for p in body_params), f"{request.path} needs a body"
    else:
        assert body_params, f"{request.method} {request.path} takes no body"
        schema = {**body_params[0]["schema"], "definitions": api["definitions"]}
        # Swagger 2.0 schemas are draft-4; the spec has a few schema-invalid definitions elsewhere, so no check_schema
        jsonschema.Draft4Validator(schema).validate(request.body)
        # the API ignores unknown fields silently; we want to know
        ref = body_params[0]["schema"].get("$ref", "")
        if ref:
            props = api["definitions"][ref.split("/")[-1]].get("properties", {})
            assert set(request.body) <= set(props), set(request.body) - set(props)
    for key in request.query:
        assert any(p.get("in") == "query" and p["name"] == key for p in params), f"query {key} unknown"


def all_requests() -> list[ZitiRequest]:
    plan = ZitiPlan("acme")
    return [
        ZitiPlan.authenticate("admin", "secret"),
        ZitiPlan.find_config_type(INTERCEPT_V1),
        ZitiPlan.find_config_type(HOST_V1),
        *plan.provisioning_requests(),
        plan.get_identity("id1"),
        plan.create_edge_identity("line2-edge"),
        plan.list_authenticators("id1"),
        plan.list_enrollments("id1"),
        plan.create_enrollment("id1"),
        plan.get_enrollment("en1"),
        plan.delete("authenticators", "a1"),
        plan.delete("enrollments", "en1"),
        ZitiPlan.create_cloud_host_identity(),
        ZitiPlan.find_identity(CLOUD_HOST_IDENTITY),
        plan.disable_identity("id1"),
        plan.enable_identity("id1"),
        plan.delete("identities", "id1"),
        plan.delete("services", "s1"),
        plan.delete("service-policies", "p1"),
        plan.delete("configs", "c1"),
        plan.delete("edge-router-policies", "e1"),
    ]


@pytest.mark.parametrize(
    "request_", all_requests(), ids=lambda r: f"{r.method} {r.path} {(r.body or {}).get('name', '')}"
)
def test_request_matches_published_api(api: dict[str, Any], request_: ZitiRequest) -> None:
    validate(api, request_)


def test_validator_rejects_a_wrong_request(api: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(api, ZitiRequest("POST", "/identities", {"name": "x", "type": "Device"}))  # isAdmin missing
    with pytest.raises(AssertionError):
        validate(api, ZitiRequest("POST", "/identity", {"name": "x"}))
    with pytest.raises(jsonschema.ValidationError):
        validate(api, ZitiRequest("POST", "/service-policies", {"name": "x", "type": "Dial", "semantic": "Maybe"}))


def test_tenants_get_disjoint_roles() -> None:
    a, b = ZitiPlan("a_corp").provisioning_requests(), ZitiPlan("b_corp").provisioning_requests()
    names_a = {r.body["name"] for r in a if r.body}
    names_b = {r.body["name"] for r in b if r.body}
    assert not names_a & names_b
    dial = next(r for r in a if r.body and r.body.get("type") == "Dial")
    assert dial.body and dial.body["identityRoles"] == ["#a_corp-edges"]


def test_each_edge_has_its_own_identity_and_the_services_their_configs() -> None:
    """Issue 17: an identity per edge (not per tenant), services with intercept.v1 (the edge dials) and host.v1
    (the cloud forwards) configs, Dial for the tenant's edges and Bind for the cloud's hosting identity."""
    plan = ZitiPlan("acme", db="hf_t_acme")
    first, second = plan.create_edge_identity("line1-edge"), plan.create_edge_identity("line2-edge")
    assert first.body and second.body and first.body["name"] != second.body["name"]
    assert first.body["roleAttributes"] == second.body["roleAttributes"] == ["acme-edges"]
    requests = plan.provisioning_requests()
    configs = {r.body["name"]: r.body for r in requests if r.path == "/configs" and r.body}
    assert configs["acme-mqtt-intercept"]["data"]["addresses"] == ["mqtt.acme.ziti"]
    assert configs["acme-mqtt-host"]["data"] == {"protocol": "tcp", "address": "mosquitto", "port": 1883}
    assert configs["acme-odoo-host"]["data"]["port"] == 8070
    # the router picks the tenant from the host name's first label: the edge dials <db>.ziti
    assert configs["acme-odoo-intercept"]["data"]["addresses"] == ["hf_t_acme.ziti"]
    assert plan.odoo_url == "http://hf_t_acme.ziti" and plan.mqtt_url == "mqtt://mqtt.acme.ziti:1883"
    services = {r.body["name"]: r.body for r in requests if r.path == "/services" and r.body}
    assert services["acme-mqtt"]["configs"] == ["id-acme-mqtt-intercept", "id-acme-mqtt-host"]
    bind = next(r.body for r in requests if r.body and r.body.get("type") == "Bind")
    assert bind["identityRoles"] == [f"#{CLOUD_HOST_ROLE}"]
    host = ZitiPlan.create_cloud_host_identity()
    assert host.body and host.body["roleAttributes"] == [CLOUD_HOST_ROLE]


def test_reissuing_asks_for_a_fresh_one_time_token() -> None:
    from datetime import UTC, datetime

    enrollment = ZitiPlan.create_enrollment("id1", now=datetime(2026, 12, 1, tzinfo=UTC))
    assert enrollment.body == {"method": "ott", "identityId": "id1", "expiresAt": "2026-12-08T00:00:00Z"}
