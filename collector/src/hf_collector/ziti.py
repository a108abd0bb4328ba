"""OpenZiti for every edge↔cloud connection: identity checks, enrollment, and the zitified transport.

With ``transport: ziti`` the collector loads its identity and patches the process's sockets
(``openziti.monkeypatch``), so the MQTT connection and the XML-RPC config pull dial Ziti services by
their intercept names and the site opens no inbound port. PLCs are dialled directly, outside Ziti.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from hf_core.errors import ConfigError

_logger = logging.getLogger(__name__)
ENROLL_HINT = "Enroll a new one with: hf-collector enroll --jwt <token from Odoo> --out identity.json"


def _pem(value: str, identity: Path) -> bytes:
    if value.startswith("pem:"):
        return value[4:].encode()
    if value.startswith("file://") or os.path.exists(value):
        return Path(value.removeprefix("file://")).read_bytes()
    raise ConfigError(f"Ziti identity {identity}: certificate is neither inline 'pem:' nor a file. {ENROLL_HINT}")


def validate_identity(path: Path, now: datetime | None = None) -> dict[str, Any]:
    """The identity's JSON, or :class:`ConfigError` saying what is wrong and what to do."""
    if not path.exists():
        raise ConfigError(f"Ziti identity {path} does not exist. {ENROLL_HINT}")
    try:
        identity = json.loads(path.read_text(encoding="utf-8"))
        controller = identity["ztAPI"]
        cert_text, key_text, ca_text = identity["id"]["cert"], identity["id"]["key"], identity["id"]["ca"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"Ziti identity {path} is malformed (needs ztAPI and id.cert/key/ca). {ENROLL_HINT}", detail=str(exc)
        ) from exc
    if not str(controller).startswith("https://"):
        raise ConfigError(f"Ziti identity {path}: controller {controller!r} is not an https:// URL. {ENROLL_HINT}")
    try:
        certificate = x509.load_pem_x509_certificate(_pem(cert_text, path))
    except ValueError as exc:
        raise ConfigError(
            f"Ziti identity {path}: its certificate cannot be read. {ENROLL_HINT}", detail=str(exc)
        ) from exc
    if not key_text or not ca_text:
        raise ConfigError(f"Ziti identity {path} has no private key or CA bundle. {ENROLL_HINT}")
    now = now or datetime.now(UTC)
    if certificate.not_valid_after_utc <= now:
        raise ConfigError(f"Ziti identity {path} expired on {certificate.not_valid_after_utc:%Y-%m-%d}. {ENROLL_HINT}")
    return dict(identity)


def check_enrollment_token(jwt_path: Path) -> dict[str, Any]:
    """The token's claims, after checking it is a JWT that has not expired."""
    try:
        token = jwt_path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"Enrollment token {jwt_path} cannot be read.", detail=str(exc)) from exc
    parts = token.split(".")
    if len(parts) != 3:
        raise ConfigError(f"Enrollment token {jwt_path} is not a JWT; copy the one-time token from Odoo again.")
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError as exc:
        raise ConfigError(
            f"Enrollment token {jwt_path} is not a JWT; copy the one-time token from Odoo again.", detail=str(exc)
        ) from exc
    expires = claims.get("exp")
    if isinstance(expires, int | float) and expires < time.time():
        raise ConfigError(
            f"Enrollment token {jwt_path} expired on "
            f"{datetime.fromtimestamp(expires, UTC):%Y-%m-%d %H:%M} UTC; "
            "ask for a new one (Odoo ▸ Edges)."
        )
    return dict(claims)


def enroll(jwt_path: Path, out_path: Path) -> Path:
    """Enroll with the controller named in the token and write the identity (mode 0600)."""
    claims = check_enrollment_token(jwt_path)
    import openziti

    try:
        identity = openziti.enroll(str(jwt_path))
    except RuntimeError as exc:
        raise ConfigError(
            f"The Ziti controller {claims.get('iss', '?')} refused or could not be reached for "
            "enrollment; check the network and that the token was not used already.",
            detail=str(exc),
        ) from exc
    out_path.write_text(identity, encoding="utf-8")
    os.chmod(out_path, 0o600)
    validate_identity(out_path)
    return out_path


@contextlib.contextmanager
def zitified(identity_path: Path) -> Iterator[None]:
    """Route this process's outgoing sockets through Ziti while the context is open."""
    validate_identity(identity_path)
    import openziti

    openziti.load(str(identity_path))
    _logger.info("transport: ziti (identity %s)", identity_path)
    with openziti.monkeypatch():
        yield
