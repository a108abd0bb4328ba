"""``*.localhost`` names reach loopback (RFC 6761), every other host is dialled as given."""

from __future__ import annotations

import socket

import pytest

from hf_core.net import LOOPBACK, create_connection, dial_host


@pytest.mark.parametrize(
    ("host", "dialled"),
    [
        ("localhost", LOOPBACK),
        ("hf_t_acme.localhost", LOOPBACK),
        ("mqtt.localhost.", LOOPBACK),
        ("Tenant.LocalHost", LOOPBACK),
        ("a.b.localhost", LOOPBACK),
        ("localhost.example.com", "localhost.example.com"),
        ("notlocalhost", "notlocalhost"),
        ("odoo.example.com", "odoo.example.com"),
        ("10.0.0.5", "10.0.0.5"),
        ("::1", "::1"),
    ],
    ids=[
        "localhost",
        "tenant",
        "trailing dot",
        "any case",
        "deeper",
        "localhost as a label only",
        "suffix without a dot",
        "a real name",
        "ipv4",
        "ipv6",
    ],
)
def test_dial_host(host: str, dialled: str) -> None:
    assert dial_host(host) == dialled


def test_a_localhost_name_connects_to_a_loopback_listener() -> None:
    with socket.socket() as server:
        server.bind((LOOPBACK, 0))
        server.listen()
        port = server.getsockname()[1]
        with create_connection(("hf_t_acme.localhost", port), 5) as client:
            accepted, peer = server.accept()
            accepted.close()
            assert client.getpeername() == (LOOPBACK, port)
            assert peer[0] == LOOPBACK
