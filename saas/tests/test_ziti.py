"""Every request the provisioner would send to an OpenZiti controller, checked against the published
Edge Management API (Swagger 2.0). No controller is installable here."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from ziti_controller import SPEC_PATH, TestController, load_spec
from ziti_controller import validate as controller_validate

from hf_saas import db as pg
from hf_saas.errors import ProvisionError, ZitiError
from hf_saas.provision import Provisioner
from hf_saas.spec import parse_spec
from hf_saas.ziti import (
    CLOUD_HOST_IDENTITY,
    CLOUD_HOST_ROLE,
    HOST_V1,
    INTERCEPT_V1,
    MISSING,
    PENDING,
    ZitiClient,
    ZitiPlan,
    ZitiRequest,
)

from .conftest import created_tenants, spec_data


@pytest.fixture(scope="module")
def api() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip("OpenZiti spec not available")
    return load_spec()


def validate(api: dict[str, Any], request: ZitiRequest) -> None:
    for name in re.findall(r"{(\w+)}", request.path):
        assert request.path_params.get(name), f"path parameter {name} missing"
    controller_validate(api, request.method, request.path, request.query, request.body)


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


@pytest.fixture
def controller(api: dict[str, Any]) -> Iterator[TestController]:
    with TestController(api) as server:
        yield server


def test_client_against_a_controller_that_validates_every_request(controller: TestController) -> None:
    """The provisioner's whole per-edge life over HTTP: provision (first edge), a second edge, enrollment,
    re-issue (the enrolled certificate and the old token stop working), revocation; every request checked
    against the specification by the server, none refused."""
    client = ZitiClient(controller.url, controller.username, controller.password)
    plan = ZitiPlan("acme", db="hf_t_acme")
    first = client.provision(plan, "line1-edge")
    assert first["enrollment_jwt"].count(".") == 2
    assert controller.identity_named("acme-line1-edge")
    assert client.edge_status(first["identity_id"]) == PENDING
    assert controller.enroll(first["enrollment_jwt"]) == first["identity_id"]
    assert client.edge_status(first["identity_id"]) == "enrolled"
    with pytest.raises(LookupError):
        controller.enroll(first["enrollment_jwt"])  # one-time

    second = client.add_edge(plan, "line2-edge")
    assert second["identity_id"] != first["identity_id"] and second["enrollment_jwt"] != first["enrollment_jwt"]

    jwt = client.reissue(first["identity_id"])
    assert jwt and jwt != first["enrollment_jwt"]
    assert client.edge_status(first["identity_id"]) == PENDING  # the certificate is gone
    assert not [a for a in controller.state.authenticators.values() if a["identityId"] == first["identity_id"]]
    controller.enroll(jwt)

    client.revoke(first["identity_id"])
    assert client.edge_status(first["identity_id"]) == MISSING
    assert controller.identity_named("acme-line2-edge"), "revoking one edge leaves the others"
    with pytest.raises(ZitiError):
        client.revoke(first["identity_id"])
    assert not controller.state.refused, controller.state.refused


def test_controller_refuses_what_the_specification_does_not_allow(controller: TestController) -> None:
    """The server is a real check: a wrong body is refused over HTTP, and a wrong password too."""
    client = ZitiClient(controller.url, controller.username, controller.password)
    with pytest.raises(ZitiError, match="refused POST /identities"):
        client.send(ZitiRequest("POST", "/identities", {"name": "x", "type": "Device"}))
    assert controller.state.refused and "isAdmin" in controller.state.refused[0]
    with pytest.raises(ZitiError, match="refused POST /authenticate"):
        ZitiClient(controller.url, controller.username, "wrong").send(ZitiPlan.find_identity("x"))


@pytest.mark.odoo
def test_provisioning_with_ziti_gives_each_edge_its_own_identity(
    provisioner: Provisioner, controller: TestController
) -> None:
    """A real tenant provisioned with OpenZiti on: the first edge's identity and one-time token in the bundle,
    the operator key written into the tenant's parameters, a second edge added, suspend disabling and delete
    removing every edge identity; every request validated by the test controller."""
    settings = dataclasses.replace(
        provisioner.settings,
        ziti_url=controller.url,
        ziti_user=controller.username,
        ziti_password=controller.password,
    )
    ziti_provisioner = Provisioner(settings)
    spec = parse_spec(spec_data("Ziti Edge Works", devices=1))
    with created_tenants(ziti_provisioner, {"t": spec}) as created:
        result = created["t"]
        first = controller.identity_named(f"{spec.company.slug}-{result.edge_name}")
        assert first and result.ziti_identity_id == first["id"]
        with zipfile.ZipFile(result.bundle_path) as bundle:
            jwt = next(bundle.read(n) for n in bundle.namelist() if n.endswith("enrollment.jwt")).decode().strip()
        assert controller.enroll(jwt) == first["id"], "the bundle's token enrolls the first edge"

        ziti_provisioner.set_operator_key(result.db, "http://operator.example", "k" * 43)
        conn = pg.connect(settings, result.db)
        try:
            with conn.cursor() as cr:
                cr.execute("SELECT key, value FROM ir_config_parameter WHERE key LIKE 'hf_cloud.operator_%'")
                params = dict(cr.fetchall())
        finally:
            conn.close()
        assert params == {"hf_cloud.operator_url": "http://operator.example", "hf_cloud.operator_key": "k" * 43}

        second = ziti_provisioner.ziti_add_edge(result.db, "line2-edge")
        assert second["identity_name"] == f"{spec.company.slug}-line2-edge"
        with pytest.raises(ProvisionError):
            ziti_provisioner.ziti_reissue_edge(result.db, "an-identity-of-another-tenant")
        ziti_provisioner.suspend(result.db)
        assert all(i["disabled"] for i in controller.state.identities.values())
        ziti_provisioner.resume(result.db)
        assert not any(i["disabled"] for i in controller.state.identities.values())
        ziti_provisioner.delete(result.db, yes=True)
        assert not controller.state.identities, "deleting the tenant deletes every edge identity"
    assert not controller.state.refused, controller.state.refused
