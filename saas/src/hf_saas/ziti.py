"""OpenZiti through the controller's Edge Management API (``/edge/management/v1``).

Requests are plain values (:class:`ZitiRequest`) built by :class:`ZitiPlan` so they can be checked
against the published Swagger specification without a controller; :class:`ZitiClient` sends them
with the standard library when ``HF_SAAS_ZITI_URL`` is set. Per tenant:

* identity ``<slug>-edge`` (type Device, one-time-token enrollment, role ``<slug>-edges``),
* service ``<slug>-mqtt`` (role ``<slug>-services``), reached by the edge (Dial) and hosted by the
  cloud's broker identities (Bind, role ``hf-cloud-hosts``),
* an edge-router policy and a service edge-router policy for the tenant's role attributes.
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .errors import ZitiError

_logger = logging.getLogger(__name__)
NOT_CONFIGURED = "not configured"
CLOUD_HOST_ROLE = "hf-cloud-hosts"


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


class ZitiPlan:
    """The requests for one tenant; names and roles derive from the tenant slug."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.edge_role = f"{tenant}-edges"
        self.service_role = f"{tenant}-services"

    @staticmethod
    def authenticate(username: str, password: str) -> ZitiRequest:
        return ZitiRequest("POST", "/authenticate", {"username": username, "password": password},
                           query={"method": "password"})

    def create_identity(self) -> ZitiRequest:
        return ZitiRequest("POST", "/identities", {
            "name": f"{self.tenant}-edge", "type": "Device", "isAdmin": False,
            "enrollment": {"ott": True}, "roleAttributes": [self.edge_role],
        })

    def create_service(self) -> ZitiRequest:
        return ZitiRequest("POST", "/services", {
            "name": f"{self.tenant}-mqtt", "encryptionRequired": True,
            "roleAttributes": [self.service_role],
        })

    def create_service_policies(self) -> list[ZitiRequest]:
        return [
            ZitiRequest("POST", "/service-policies", {
                "name": f"{self.tenant}-dial", "type": "Dial", "semantic": "AnyOf",
                "identityRoles": [f"#{self.edge_role}"], "serviceRoles": [f"#{self.service_role}"],
            }),
            ZitiRequest("POST", "/service-policies", {
                "name": f"{self.tenant}-bind", "type": "Bind", "semantic": "AnyOf",
                "identityRoles": [f"#{CLOUD_HOST_ROLE}"], "serviceRoles": [f"#{self.service_role}"],
            }),
        ]

    def create_router_policies(self) -> list[ZitiRequest]:
        return [
            ZitiRequest("POST", "/edge-router-policies", {
                "name": f"{self.tenant}-routers", "semantic": "AnyOf",
                "edgeRouterRoles": ["#all"], "identityRoles": [f"#{self.edge_role}"],
            }),
            ZitiRequest("POST", "/service-edge-router-policies", {
                "name": f"{self.tenant}-service-routers", "semantic": "AnyOf",
                "edgeRouterRoles": ["#all"], "serviceRoles": [f"#{self.service_role}"],
            }),
        ]

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

    def provisioning_requests(self) -> list[ZitiRequest]:
        return [self.create_identity(), self.create_service(), *self.create_service_policies(),
                *self.create_router_policies()]


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
            raise ZitiError(f"The OpenZiti controller refused {request.method} {request.path}.",
                            f"HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ZitiError("The OpenZiti controller cannot be reached.", str(exc)) from exc
        result: dict[str, Any] = json.loads(payload) if payload else {}
        return result

    def provision(self, plan: ZitiPlan) -> dict[str, str]:
        """Create the tenant's identity, service and policies; returns ids and the enrollment JWT."""
        ids: dict[str, str] = {}
        for request in plan.provisioning_requests():
            created = self.send(request)
            name = str(request.body["name"] if request.body else request.path)
            ids[name] = str(created.get("data", {}).get("id", ""))
        identity_id = ids[f"{plan.tenant}-edge"]
        detail = self.send(plan.get_identity(identity_id))
        jwt = detail.get("data", {}).get("enrollment", {}).get("ott", {}).get("jwt", "")
        _logger.info("OpenZiti identity %s-edge created for tenant %s", plan.tenant, plan.tenant)
        return {"identity_id": identity_id, "enrollment_jwt": str(jwt),
                **{f"id:{name}": value for name, value in ids.items()}}
