"""A test OpenZiti controller: the Edge Management API's shape (``/edge/management/v1``) over real HTTP,
with every request validated against the published specification (``edge-management-v1.yml``).

It is a protocol test server, like the asyncua server of the collector's tests: it keeps identities,
enrollments, authenticators, configs, services and policies in memory, answers in the API's envelopes,
issues JWT-shaped one-time tokens and refuses (HTTP 400) any request the specification does not allow, so a
client that sends a wrong path, query, body field or type fails its test. What it does not do: sign or verify
anything, route traffic, or check the controller's own business rules beyond "the object exists".

Used by saas/tests/test_ziti.py and by hf_cloud's Odoo tests (loaded by path: Odoo's test runner does not
have tests/support on its path)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import yaml

SPEC_PATH = Path("/work/shared/specs/openziti/edge-management-v1.yml")
BASE_PATH = "/edge/management/v1"
CONFIG_TYPES = {"intercept.v1": "ct-intercept", "host.v1": "ct-host"}
COLLECTIONS = ("configs", "services", "service-policies", "edge-router-policies", "service-edge-router-policies")


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return spec


def validate(api: dict[str, Any], method: str, path: str, query: dict[str, str], body: Any) -> None:  # noqa: ANN401
    """Raise AssertionError or jsonschema.ValidationError unless the request is one the API defines.
    ``path`` is the template (``/identities/{id}``), relative to the base path."""
    operation = api["paths"].get(path, {}).get(method.lower())
    assert operation is not None, f"{method} {path} is not in the API"
    params = operation.get("parameters", []) + api["paths"][path].get("parameters", [])
    body_params = [p for p in params if p.get("in") == "body"]
    if body is None:
        assert not any(p.get("required") for p in body_params), f"{path} needs a body"
    else:
        assert body_params, f"{method} {path} takes no body"
        schema = {**body_params[0]["schema"], "definitions": api["definitions"]}
        # Swagger 2.0 schemas are draft-4; the spec has a few schema-invalid definitions elsewhere, so no check_schema
        jsonschema.Draft4Validator(schema).validate(body)
        # the API ignores unknown fields silently; we want to know
        ref = body_params[0]["schema"].get("$ref", "")
        if ref:
            props = api["definitions"][ref.split("/")[-1]].get("properties", {})
            assert set(body) <= set(props), f"unknown fields {set(body) - set(props)}"
    for key in query:
        assert any(p.get("in") == "query" and p["name"] == key for p in params), f"query {key} unknown"


def _template_of(api: dict[str, Any], path: str) -> tuple[str, dict[str, str]]:
    """The API's path template that ``path`` matches, and its parameters."""
    for template in api["paths"]:
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        match = re.match(pattern, path)
        if match:
            return template, match.groupdict()
    return path, {}


def _jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_urlsafe(32)}"


@dataclass
class ControllerState:
    identities: dict[str, dict[str, Any]] = field(default_factory=dict)
    enrollments: dict[str, dict[str, Any]] = field(default_factory=dict)
    authenticators: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {c: {} for c in COLLECTIONS})
    requests: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


class TestController:
    """The server and its state; ``url`` is the management API's base URL."""

    __test__ = False  # not a pytest class

    def __init__(self, api: dict[str, Any], username: str = "admin", password: str = "ziti-admin-secret") -> None:
        self.api = api
        self.username, self.password = username, password
        self.state = ControllerState()
        self.sessions: set[str] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{BASE_PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---------------------------------------------------------------- what a test does as the edge would
    def enroll(self, jwt: str) -> str:
        """Consume a one-time token as ``ziti edge enroll`` does: the identity gets a certificate authenticator."""
        with self._lock:
            enrollment = next((e for e in self.state.enrollments.values() if e["jwt"] == jwt), None)
            if enrollment is None:
                raise LookupError("no such enrollment token (used, re-issued or never issued)")
            del self.state.enrollments[enrollment["id"]]
            identity = self.state.identities[enrollment["identityId"]]
            authenticator = {"id": uuid.uuid4().hex, "method": "cert", "identityId": identity["id"]}
            self.state.authenticators[authenticator["id"]] = authenticator
            return str(identity["id"])

    def identity_named(self, name: str) -> dict[str, Any] | None:
        return next((i for i in self.state.identities.values() if i["name"] == name), None)

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> TestController:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # ---------------------------------------------------------------- the API
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        controller = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: ANN401  (quiet)
                pass

            def _serve(self) -> None:
                status, payload = controller._answer(self)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

        return Handler

    def _answer(self, http: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        url = urlsplit(http.path)
        if not url.path.startswith(BASE_PATH):
            return 404, self._error("NOT_FOUND")
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return 400, self._error("COULD_NOT_PARSE_BODY")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        template, params = _template_of(self.api, url.path[len(BASE_PATH) :])
        method = http.command
        with self._lock:
            self.state.requests.append((method, template))
            try:
                validate(self.api, method, template, query, body)
            except (AssertionError, jsonschema.ValidationError) as exc:
                self.state.refused.append(f"{method} {template}: {exc}")
                return 400, self._error("INVALID_REQUEST")
            if template == "/authenticate":
                if body != {"username": self.username, "password": self.password} or query != {"method": "password"}:
                    return 401, self._error("INVALID_AUTH")
                token = uuid.uuid4().hex
                self.sessions.add(token)
                return 200, self._envelope({"id": uuid.uuid4().hex, "token": token})
            if http.headers.get("zt-session") not in self.sessions:
                return 401, self._error("UNAUTHORIZED")
            return self._operate(method, template, params, query, body or {})

    def _operate(
        self, method: str, template: str, params: dict[str, str], query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        s = self.state
        name_filter = re.fullmatch(r'name="([^"]*)"', query.get("filter", ""))
        if (method, template) == ("GET", "/config-types"):
            found = [{"id": i, "name": n} for n, i in CONFIG_TYPES.items() if not name_filter or n == name_filter[1]]
            return 200, self._envelope(found)
        collection = template.strip("/").split("/")[0]
        if method == "POST" and template == f"/{collection}" and collection in COLLECTIONS:
            return self._create(s.objects[collection], body)
        if method == "POST" and template == "/identities":
            identity = {**body, "id": uuid.uuid4().hex, "disabled": False}
            s.identities[identity["id"]] = identity
            if body.get("enrollment", {}).get("ott"):
                self._new_enrollment(identity["id"], "2099-01-01T00:00:00Z")
            return 201, self._envelope({"id": identity["id"]})
        if (method, template) == ("GET", "/identities"):
            found = [
                self._identity_detail(i)
                for i in s.identities.values()
                if not name_filter or i["name"] == name_filter[1]
            ]
            return 200, self._envelope(found)
        if (method, template) == ("POST", "/enrollments"):
            if body["identityId"] not in s.identities:
                return 404, self._error("NOT_FOUND")
            if any(e["identityId"] == body["identityId"] for e in s.enrollments.values()):
                return 409, self._error("ENROLLMENT_EXISTS")  # one ott enrollment per identity, as the controller
            return 201, self._envelope({"id": self._new_enrollment(body["identityId"], body["expiresAt"])})
        object_id = params.get("id", "")
        if template == "/identities/{id}" and method == "GET":
            if object_id not in s.identities:
                return 404, self._error("NOT_FOUND")
            return 200, self._envelope(self._identity_detail(s.identities[object_id]))
        if template in ("/identities/{id}/disable", "/identities/{id}/enable"):
            if object_id not in s.identities:
                return 404, self._error("NOT_FOUND")
            s.identities[object_id]["disabled"] = template.endswith("disable")
            return 200, self._envelope({})
        if template == "/identities/{id}/authenticators":
            found = [a for a in s.authenticators.values() if a["identityId"] == object_id]
            return 200, self._envelope(found)
        if template == "/identities/{id}/enrollments":
            return 200, self._envelope([e for e in s.enrollments.values() if e["identityId"] == object_id])
        if template == "/enrollments/{id}" and method == "GET":
            if object_id not in s.enrollments:
                return 404, self._error("NOT_FOUND")
            return 200, self._envelope(s.enrollments[object_id])
        if method == "DELETE" and template == f"/{collection}/{{id}}":
            store = {
                "identities": s.identities,
                "enrollments": s.enrollments,
                "authenticators": s.authenticators,
                **s.objects,
            }.get(collection)
            if store is None or object_id not in store:
                return 404, self._error("NOT_FOUND")
            del store[object_id]
            if collection == "identities":  # an identity's enrollments and authenticators go with it
                for dependent in (s.enrollments, s.authenticators):
                    for key in [k for k, v in dependent.items() if v["identityId"] == object_id]:
                        del dependent[key]
            return 200, self._envelope({})
        return 501, self._error("NOT_IMPLEMENTED_IN_TEST_CONTROLLER")

    def _create(self, store: dict[str, dict[str, Any]], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if any(o.get("name") == body.get("name") for o in store.values()):
            return 409, self._error("COULD_NOT_VALIDATE")  # names are unique per collection
        object_id = uuid.uuid4().hex
        store[object_id] = {**body, "id": object_id}
        return 201, self._envelope({"id": object_id})

    def _new_enrollment(self, identity_id: str, expires_at: str) -> str:
        enrollment_id, token = uuid.uuid4().hex, uuid.uuid4().hex
        jwt = _jwt({"em": "ott", "sub": identity_id, "jti": token, "iss": self.url, "exp": expires_at})
        self.state.enrollments[enrollment_id] = {
            "id": enrollment_id,
            "method": "ott",
            "identityId": identity_id,
            "token": token,
            "jwt": jwt,
            "expiresAt": expires_at,
        }
        return enrollment_id

    def _identity_detail(self, identity: dict[str, Any]) -> dict[str, Any]:
        s = self.state
        detail = {**identity, "enrollment": {}, "authenticators": {}, "hasEdgeRouterConnection": False}
        for enrollment in s.enrollments.values():
            if enrollment["identityId"] == identity["id"]:
                detail["enrollment"]["ott"] = {k: enrollment[k] for k in ("id", "jwt", "token", "expiresAt")}
        for authenticator in s.authenticators.values():
            if authenticator["identityId"] == identity["id"]:
                detail["authenticators"]["cert"] = {"id": authenticator["id"], "fingerprint": "00" * 20}
        return detail

    @staticmethod
    def _envelope(data: Any) -> dict[str, Any]:  # noqa: ANN401
        return {"data": data, "meta": {}}

    @staticmethod
    def _error(code: str) -> dict[str, Any]:
        return {"error": {"code": code}, "meta": {}}


@contextmanager
def running_controller(api: dict[str, Any] | None = None) -> Iterator[TestController]:
    with TestController(api or load_spec()) as controller:
        yield controller
