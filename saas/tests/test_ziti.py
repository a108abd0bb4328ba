"""Every request the provisioner would send to an OpenZiti controller, checked against the published
Edge Management API (Swagger 2.0). No controller is installable here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hf_saas.ziti import ZitiPlan, ZitiRequest

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
    return [ZitiPlan.authenticate("admin", "secret"), *plan.provisioning_requests(), plan.get_identity("id1"),
            plan.disable_identity("id1"), plan.enable_identity("id1"), plan.delete("identities", "id1"),
            plan.delete("services", "s1"), plan.delete("service-policies", "p1"),
            plan.delete("edge-router-policies", "e1")]


@pytest.mark.parametrize("request_", all_requests(),
                         ids=lambda r: f"{r.method} {r.path} {(r.body or {}).get('name', '')}")
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
