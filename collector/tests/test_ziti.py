"""OpenZiti without a controller: what can be checked here is the identity and the enrollment token
(a controller and router are not installable on this machine; enrollment and dialling are not run)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hf_collector.cli import main
from hf_collector.ziti import check_enrollment_token, validate_identity
from hf_core.errors import ConfigError


def certificate(days_valid: int) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "line1-edge")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now + timedelta(days=days_valid))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def identity_file(tmp_path: Path, days_valid: int = 365, **overrides: object) -> Path:
    cert, key = certificate(days_valid)
    identity: dict[str, object] = {
        "ztAPI": "https://ziti.example.com:1280",
        "id": {"cert": f"pem:{cert}", "key": f"pem:{key}", "ca": f"pem:{cert}"},
    }
    identity.update(overrides)
    path = tmp_path / "identity.json"
    path.write_text(json.dumps(identity))
    return path


def jwt(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def test_a_valid_identity_is_accepted(tmp_path: Path) -> None:
    assert validate_identity(identity_file(tmp_path))["ztAPI"].startswith("https://")


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("missing", "does not exist"),
        ("not json", "malformed"),
        ("no id", "malformed"),
        ("http controller", "not an https:// URL"),
        ("expired", "expired on"),
        ("garbage cert", "certificate cannot be read"),
    ],
    ids=lambda v: str(v),
)
def test_a_bad_identity_fails_with_what_to_do(tmp_path: Path, problem: str, message: str) -> None:
    path = tmp_path / "identity.json"
    if problem == "not json":
        path.write_text("{not json")
    elif problem == "no id":
        path.write_text(json.dumps({"ztAPI": "https://c:1280"}))
    elif problem == "http controller":
        path = identity_file(tmp_path, ztAPI="http://ziti.example.com")
    elif problem == "expired":
        path = identity_file(tmp_path, days_valid=-1)
    elif problem == "garbage cert":
        path = identity_file(
            tmp_path,
            id={
                "cert": "pem:-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                "key": "pem:x",
                "ca": "pem:x",
            },
        )
    with pytest.raises(ConfigError) as caught:
        validate_identity(path)
    assert message in str(caught.value)
    assert "hf-collector enroll" in str(caught.value)


def test_enrollment_token_checks(tmp_path: Path) -> None:
    token = tmp_path / "edge.jwt"
    token.write_text(jwt({"iss": "https://ziti.example.com:1280", "em": "ott", "exp": time.time() + 3600}))
    assert check_enrollment_token(token)["em"] == "ott"
    token.write_text(jwt({"em": "ott", "exp": time.time() - 60}))
    with pytest.raises(ConfigError, match="expired"):
        check_enrollment_token(token)
    token.write_text("definitely-not-a-jwt")
    with pytest.raises(ConfigError, match="not a JWT"):
        check_enrollment_token(token)


def test_cli_refuses_ziti_transport_without_a_usable_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("devices: []\n")
    assert main(["run", "--config", str(site), "--transport", "ziti"]) == 2
    assert "needs an identity" in capsys.readouterr().err
    expired = identity_file(tmp_path, days_valid=-3)
    assert main(["run", "--config", str(site), "--transport", "ziti", "--ziti-identity", str(expired)]) == 2
    assert "expired on" in capsys.readouterr().err
    (tmp_path / "expired.jwt").write_text(jwt({"exp": 1}))
    assert main(["enroll", "--jwt", str(tmp_path / "expired.jwt"), "--out", str(tmp_path / "id.json")]) == 2
    assert "expired" in capsys.readouterr().err
