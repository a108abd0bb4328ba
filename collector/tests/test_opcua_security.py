"""OPC UA with Basic256Sha256 SignAndEncrypt, client certificate and username, against a real asyncua server."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from asyncua import Server, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography.x509.oid import ExtendedKeyUsageOID
from hf_testing import free_port

from hf_collector.drivers.opcua import OpcUaDriver
from hf_collector.model import DeviceConfig, parse_site
from hf_core.certs import certificate_fingerprint
from hf_core.types import Quality

if TYPE_CHECKING:
    from asyncua.server.internal_server import InternalServer


class OneUser(UserManager):
    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: object = None,
    ) -> User | None:
        return User(role=UserRole.User) if (username, password) == ("operator", "s3cret") else None


async def secure_server(tmp_path: Path, port: int) -> Server:
    server = Server(user_manager=OneUser())
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
    key, cert = tmp_path / "server-key.pem", tmp_path / "server-cert.der"
    await setup_self_signed_certificate(
        key,
        cert,
        "urn:freeopcua:python:server",
        socket.gethostname(),
        [ExtendedKeyUsageOID.SERVER_AUTH],
        {"commonName": "hf-test-server"},
    )
    await server.load_certificate(str(cert))
    await server.load_private_key(str(key))
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    ns = await server.register_namespace("urn:hf:test")
    await server.nodes.objects.add_variable(ua.NodeId("pressure", ns), "pressure", 180.5)
    await server.start()
    return server


def device(port: int, tmp_path: Path, username: str, password: str, pin: str = "") -> DeviceConfig:
    site = parse_site(
        {
            "devices": [
                {
                    "server_certificate_sha256": pin,
                    "name": "secure-plc",
                    "protocol": "opcua",
                    "host": "127.0.0.1",
                    "port": port,
                    "security_policy": "Basic256Sha256",
                    "security_mode": "SignAndEncrypt",
                    "certificate": str(tmp_path / "client-cert.der"),
                    "private_key": str(tmp_path / "client-key.pem"),
                    "username": username,
                    "password": password,
                    "tags": [
                        {
                            "name": "pressure",
                            "topic": "umh/v1/acme/_historian/pressure",
                            "address": {"node_id": "ns=2;s=pressure"},
                        }
                    ],
                }
            ]
        }
    )
    return site.devices[0]


@pytest.fixture
async def client_certificate(tmp_path: Path) -> None:
    await setup_self_signed_certificate(
        tmp_path / "client-key.pem",
        tmp_path / "client-cert.der",
        "urn:freeopcua:client",
        socket.gethostname(),
        [ExtendedKeyUsageOID.CLIENT_AUTH],
        {"commonName": "hf-collector"},
    )


async def test_sign_and_encrypt_with_a_user(tmp_path: Path, client_certificate: None) -> None:
    port = free_port()
    server = await secure_server(tmp_path, port)
    try:
        async with OpcUaDriver(device(port, tmp_path, "operator", "s3cret")) as driver:
            samples = driver.samples()
            async with asyncio.timeout(20):
                batch = await samples.__anext__()
            await samples.aclose()
        assert [(s.tag.name, s.value, s.quality) for s in batch] == [("pressure", 180.5, Quality.GOOD)]
    finally:
        await server.stop()


async def test_a_wrong_password_is_a_gap_not_a_crash(tmp_path: Path, client_certificate: None) -> None:
    port = free_port()
    server = await secure_server(tmp_path, port)
    try:
        async with OpcUaDriver(device(port, tmp_path, "operator", "wrong")) as driver:
            samples = driver.samples()
            async with asyncio.timeout(20):
                batch = await samples.__anext__()
            await samples.aclose()
        assert {s.quality for s in batch} == {Quality.BAD}
    finally:
        await server.stop()


async def test_a_pinned_server_certificate_is_required(
    tmp_path: Path, client_certificate: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15 (transport): a device pinned to its server's certificate reads from that server only; another
    certificate (a replaced PLC, someone in between) is refused before any password is sent."""
    port = free_port()
    server = await secure_server(tmp_path, port)
    right = certificate_fingerprint((tmp_path / "server-cert.der").read_bytes())
    wrong = certificate_fingerprint(b"another server")
    try:
        async with OpcUaDriver(device(port, tmp_path, "operator", "s3cret", pin=right.upper())) as driver:
            samples = driver.samples()
            async with asyncio.timeout(20):
                batch = await samples.__anext__()
            await samples.aclose()
        assert [(s.value, s.quality) for s in batch] == [(180.5, Quality.GOOD)]
        async with OpcUaDriver(device(port, tmp_path, "operator", "s3cret", pin=wrong)) as driver:
            samples = driver.samples()
            async with asyncio.timeout(20):
                batch = await samples.__anext__()
            await samples.aclose()
        assert {s.quality for s in batch} == {Quality.BAD}
        assert f"server certificate {right} is not the pinned {wrong}: refused" in caplog.text
    finally:
        await server.stop()
