"""OpenZiti through the controller's Edge Management API (``/edge/management/v1``).

Requests are plain values (:class:`ZitiRequest`) built by :class:`ZitiPlan` so they can be checked
against the published Swagger specification without a controller; :class:`ZitiClient` sends them
with the standard library when ``HF_SAAS_ZITI_URL`` is set. Per tenant:

* services ``<tenant>-mqtt`` (the broker) and ``<tenant>-odoo`` (the tenant's Odoo), each with an
  ``intercept.v1`` config (the address the edge dials: ``mqtt.<tenant>.ziti:1883``, ``<db>.ziti:80``, whose
  first label the tenants' router reads) and a ``host.v1`` config (where the cloud side forwards it: the
  broker's and the router's own network addresses), role ``<tenant>-services``. Inside the tunnel, which
  OpenZiti encrypts end to end, MQTT and HTTP are plain;
* a Dial policy for the tenant's edges (role ``<tenant>-edges``) and a Bind policy for the cloud's hosting
  identity (``hf-cloud-host``, role ``hf-cloud-hosts``, made once per cloud), and the edge-router policies.

Per edge (not per tenant): identity ``<tenant>-<edge>`` (type Device, role ``<tenant>-edges``) with a one-time
enrollment token. Re-issuing removes the identity's authenticators (its certificate stops working at once) and
its outstanding enrollments, then creates a new one-time enrollment; revoking deletes the identity.
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import ZitiError

_logger = logging.getLogger(__name__)
NOT_CONFIGURED = "not configured"
PENDING = "enrollment pending"
MISSING = "missing"
CLOUD_HOST_ROLE = "hf-cloud-hosts"
CLOUD_HOST_IDENTITY = "hf-cloud-host"
INTERCEPT_V1, HOST_V1 = "intercept.v1", "host.v1"
ENROLLMENT_DAYS = 7


@dataclass(frozen=True)
class ZitiRequest:
    method: str
    path: str  # relative to the management base path, e.g. /identities/{id}
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    path_params: dict[str, str] = field(default_factory=dict)

    def url_path(self) -> str:
        path = self.path
        for key, value in self.path_params.items():
            path = path.replace("{" + key + "}", urllib.parse.quote(value, safe=""))
        return path + (f"?{urllib.parse.urlencode(self.query)}" if self.query else "")


@dataclass(frozen=True)
class ZitiTargets:
    """Where the cloud side forwards a tenant's services (``host.v1``): its broker and its Odoo."""

    broker_host: str = "mosquitto"
    broker_port: int = 1883
    odoo_host: str = "tenants"
    odoo_port: int = 8070


class ZitiPlan:
    """The requests for one tenant and its edges; names and roles derive from the tenant slug."""

    def __init__(self, tenant: str, targets: ZitiTargets | None = None, db: str = "") -> None:
        self.tenant = tenant
        self.targets = targets or ZitiTargets()
        self.db = db or tenant
        self.edge_role = f"{tenant}-edges"
        self.service_role = f"{tenant}-services"

    # ------------------------------------------------------------------ the controller's session
    @staticmethod
    def authenticate(username: str, password: str) -> ZitiRequest:
        return ZitiRequest(
            "POST", "/authenticate", {"username": username, "password": password}, query={"method": "password"}
        )

    # ------------------------------------------------------------------ per tenant
    @staticmethod
    def find_config_type(name: str) -> ZitiRequest:
        return ZitiRequest("GET", "/config-types", query={"filter": f'name="{name}"'})

    @property
    def mqtt_url(self) -> str:
        """The broker as the tenant's edges reach it through OpenZiti."""
        return f"mqtt://mqtt.{self.tenant}.ziti:1883"

    @property
    def odoo_url(self) -> str:
        """The tenant's Odoo as its edges reach it through OpenZiti (the router reads the database from it)."""
        return f"http://{self.db}.ziti"

    def services(self) -> dict[str, dict[str, Any]]:
        """Each service's intercept (edge side) and host (cloud side) config data."""
        t = self.targets
        return {
            f"{self.tenant}-mqtt": {
                INTERCEPT_V1: {
                    "protocols": ["tcp"],
                    "addresses": [f"mqtt.{self.tenant}.ziti"],
                    "portRanges": [{"low": 1883, "high": 1883}],
                },
                HOST_V1: {"protocol": "tcp", "address": t.broker_host, "port": t.broker_port},
            },
            f"{self.tenant}-odoo": {
                INTERCEPT_V1: {
                    "protocols": ["tcp"],
                    "addresses": [f"{self.db}.ziti"],
                    "portRanges": [{"low": 80, "high": 80}],
                },
                HOST_V1: {"protocol": "tcp", "address": t.odoo_host, "port": t.odoo_port},
            },
        }

    def create_configs(self, type_ids: dict[str, str]) -> list[ZitiRequest]:
        """``type_ids``: the controller's ids of intercept.v1 and host.v1 (:meth:`find_config_type`)."""
        return [
            ZitiRequest(
                "POST",
                "/configs",
                {"name": f"{service}-{kind.split('.')[0]}", "configTypeId": type_ids[kind], "data": data},
            )
            for service, configs in self.services().items()
            for kind, data in configs.items()
        ]

    def create_services(self, config_ids: dict[str, str]) -> list[ZitiRequest]:
        """``config_ids``: config name → id, as :meth:`create_configs` made them."""
        return [
            ZitiRequest(
                "POST",
                "/services",
                {
                    "name": service,
                    "encryptionRequired": True,
                    "roleAttributes": [self.service_role],
                    "configs": [config_ids[f"{service}-{kind.split('.')[0]}"] for kind in (INTERCEPT_V1, HOST_V1)],
                },
            )
            for service in self.services()
        ]

    def create_service_policies(self) -> list[ZitiRequest]:
        return [
            ZitiRequest(
                "POST",
                "/service-policies",
                {
                    "name": f"{self.tenant}-dial",
                    "type": "Dial",
                    "semantic": "AnyOf",
                    "identityRoles": [f"#{self.edge_role}"],
                    "serviceRoles": [f"#{self.service_role}"],
                },
            ),
            ZitiRequest(
                "POST",
                "/service-policies",
                {
                    "name": f"{self.tenant}-bind",
                    "type": "Bind",
                    "semantic": "AnyOf",
                    "identityRoles": [f"#{CLOUD_HOST_ROLE}"],
                    "serviceRoles": [f"#{self.service_role}"],
                },
            ),
        ]

    def create_router_policies(self) -> list[ZitiRequest]:
        return [
            ZitiRequest(
                "POST",
                "/edge-router-policies",
                {
                    "name": f"{self.tenant}-routers",
                    "semantic": "AnyOf",
                    "edgeRouterRoles": ["#all"],
                    "identityRoles": [f"#{self.edge_role}"],
                },
            ),
            ZitiRequest(
                "POST",
                "/service-edge-router-policies",
                {
                    "name": f"{self.tenant}-service-routers",
                    "semantic": "AnyOf",
                    "edgeRouterRoles": ["#all"],
                    "serviceRoles": [f"#{self.service_role}"],
                },
            ),
        ]

    @staticmethod
    def create_cloud_host_identity() -> ZitiRequest:
        """The cloud side's one hosting identity (its tunneler binds every tenant's services)."""
        return ZitiRequest(
            "POST",
            "/identities",
            {
                "name": CLOUD_HOST_IDENTITY,
                "type": "Device",
                "isAdmin": False,
                "enrollment": {"ott": True},
                "roleAttributes": [CLOUD_HOST_ROLE],
            },
        )

    @staticmethod
    def find_identity(name: str) -> ZitiRequest:
        return ZitiRequest("GET", "/identities", query={"filter": f'name="{name}"'})

    # ------------------------------------------------------------------ per edge
    def edge_identity_name(self, edge: str) -> str:
        return f"{self.tenant}-{edge}"

    def create_edge_identity(self, edge: str) -> ZitiRequest:
        return ZitiRequest(
            "POST",
            "/identities",
            {
                "name": self.edge_identity_name(edge),
                "type": "Device",
                "isAdmin": False,
                "enrollment": {"ott": True},
                "roleAttributes": [self.edge_role],
            },
        )

    @staticmethod
    def list_authenticators(identity_id: str) -> ZitiRequest:
        return ZitiRequest("GET", "/identities/{id}/authenticators", path_params={"id": identity_id})

    @staticmethod
    def list_enrollments(identity_id: str) -> ZitiRequest:
        return ZitiRequest("GET", "/identities/{id}/enrollments", path_params={"id": identity_id})

    @staticmethod
    def create_enrollment(identity_id: str, now: datetime | None = None) -> ZitiRequest:
        expires = (now or datetime.now(UTC)) + timedelta(days=ENROLLMENT_DAYS)
        return ZitiRequest(
            "POST",
            "/enrollments",
            {"method": "ott", "identityId": identity_id, "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
        )

    @staticmethod
    def get_enrollment(enrollment_id: str) -> ZitiRequest:
        return ZitiRequest("GET", "/enrollments/{id}", path_params={"id": enrollment_id})

    @staticmethod
    def get_identity(identity_id: str) -> ZitiRequest:
        return ZitiRequest("GET", "/identities/{id}", path_params={"id": identity_id})

    @staticmethod
    def disable_identity(identity_id: str) -> ZitiRequest:
        return ZitiRequest("POST", "/identities/{id}/disable", {"durationMinutes": 0}, path_params={"id": identity_id})

    @staticmethod
    def enable_identity(identity_id: str) -> ZitiRequest:
        return ZitiRequest("POST", "/identities/{id}/enable", path_params={"id": identity_id})

    @staticmethod
    def delete(collection: str, object_id: str) -> ZitiRequest:
        return ZitiRequest("DELETE", f"/{collection}/{{id}}", path_params={"id": object_id})

    def provisioning_requests(self, edge: str = "edge") -> list[ZitiRequest]:
        """Every creating request of a tenant and its first edge, with placeholder ids (for checking them)."""
        types = {INTERCEPT_V1: "intercept-type-id", HOST_V1: "host-type-id"}
        configs = {r.body["name"]: f"id-{r.body['name']}" for r in self.create_configs(types) if r.body}
        return [
            *self.create_configs(types),
            *self.create_services(configs),
            *self.create_service_policies(),
            *self.create_router_policies(),
            self.create_edge_identity(edge),
        ]


class ZitiClient:
    """Sends :class:`ZitiRequest` values to a controller, authenticated with a zt-session token."""

    def __init__(self, base_url: str, username: str, password: str, ca_file: str = "", timeout: float = 15) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._context = ssl.create_default_context(cafile=ca_file or None)
        self._timeout = timeout
        self._session: str | None = None

    def send(self, request: ZitiRequest) -> dict[str, Any]:
        if self._session is None and request.path != "/authenticate":
            auth = self.send(ZitiPlan.authenticate(self._username, self._password))
            self._session = str(auth.get("data", {}).get("token", ""))
        data = json.dumps(request.body).encode() if request.body is not None else None
        http = urllib.request.Request(self.base_url + request.url_path(), data=data, method=request.method)
        http.add_header("Content-Type", "application/json")
        if self._session:
            http.add_header("zt-session", self._session)
        try:
            with urllib.request.urlopen(http, timeout=self._timeout, context=self._context) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise ZitiError(
                f"The OpenZiti controller refused {request.method} {request.path}.", f"HTTP {exc.code}"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ZitiError("The OpenZiti controller cannot be reached.", str(exc)) from exc
        result: dict[str, Any] = json.loads(payload) if payload else {}
        return result

    def _data(self, request: ZitiRequest) -> Any:  # noqa: ANN401  (the envelope's data: an object or a list)
        return self.send(request).get("data", {})

    def _one_id(self, request: ZitiRequest, what: str) -> str:
        found = self._data(request)
        if not isinstance(found, list) or not found:
            raise ZitiError(f"The OpenZiti controller has no {what}.")
        return str(found[0]["id"])

    def provision(self, plan: ZitiPlan, edge: str) -> dict[str, str]:
        """The tenant's configs, services and policies and its first edge's identity; returns the ids and
        the edge's one-time enrollment token (``enrollment_jwt``)."""
        types = {
            kind: self._one_id(ZitiPlan.find_config_type(kind), f"config type {kind}")
            for kind in (INTERCEPT_V1, HOST_V1)
        }
        ids: dict[str, str] = {}
        for request in plan.create_configs(types):
            ids[str(request.body["name"]) if request.body else ""] = str(self._data(request).get("id", ""))
        for request in [*plan.create_services(ids), *plan.create_service_policies(), *plan.create_router_policies()]:
            ids[str(request.body["name"]) if request.body else ""] = str(self._data(request).get("id", ""))
        identity = self.add_edge(plan, edge)
        _logger.info("OpenZiti services of tenant %s and the identity of its edge %s created", plan.tenant, edge)
        return {**identity, **{f"id:{name}": value for name, value in ids.items()}}

    def add_edge(self, plan: ZitiPlan, edge: str) -> dict[str, str]:
        """A new edge's identity: its id, its name and its one-time enrollment token."""
        identity_id = str(self._data(plan.create_edge_identity(edge)).get("id", ""))
        detail = self._data(plan.get_identity(identity_id))
        jwt = detail.get("enrollment", {}).get("ott", {}).get("jwt", "")
        return {"identity_id": identity_id, "identity_name": plan.edge_identity_name(edge), "enrollment_jwt": str(jwt)}

    def reissue(self, identity_id: str) -> str:
        """A new one-time enrollment token for an edge; the certificate it enrolled with stops working now."""
        for authenticator in self._data(ZitiPlan.list_authenticators(identity_id)) or []:
            self.send(ZitiPlan.delete("authenticators", str(authenticator["id"])))
        for enrollment in self._data(ZitiPlan.list_enrollments(identity_id)) or []:
            self.send(ZitiPlan.delete("enrollments", str(enrollment["id"])))
        enrollment_id = str(self._data(ZitiPlan.create_enrollment(identity_id)).get("id", ""))
        return str(self._data(ZitiPlan.get_enrollment(enrollment_id)).get("jwt", ""))

    def revoke(self, identity_id: str) -> None:
        """Delete an edge's identity: its certificate and any outstanding token stop working at once."""
        self.send(ZitiPlan.delete("identities", identity_id))

    def edge_status(self, identity_id: str) -> str:
        """What the controller knows of an edge's identity: ``online`` (connected to a router), ``enrolled``
        (it has a certificate), ``enrollment pending`` (a one-time token is outstanding), ``disabled``,
        ``no enrollment`` (neither: re-issue one) or ``missing`` (deleted on the controller)."""
        try:
            detail = self._data(ZitiPlan.get_identity(identity_id))
        except ZitiError as exc:
            if exc.detail == "HTTP 404":
                return MISSING
            raise
        if detail.get("disabled"):
            return "disabled"
        if detail.get("hasEdgeRouterConnection"):
            return "online"
        if (detail.get("authenticators") or {}).get("cert"):
            return "enrolled"
        if (detail.get("enrollment") or {}).get("ott"):
            return PENDING
        return "no enrollment"

    def ensure_cloud_host(self) -> str:
        """The cloud's hosting identity's enrollment token when it is made now, "" when it exists already."""
        if self._data(ZitiPlan.find_identity(CLOUD_HOST_IDENTITY)):
            return ""
        identity_id = str(self._data(ZitiPlan.create_cloud_host_identity()).get("id", ""))
        return str(self._data(ZitiPlan.get_identity(identity_id)).get("enrollment", {}).get("ott", {}).get("jwt", ""))
