"""Host names as the edge and the cloud dial them.

RFC 6761 (section 6.3) reserves ``localhost`` and every name under it for the loopback interface, and
browsers and curl resolve ``<db>.localhost`` so by themselves; Python's resolver on Debian does not
(``/etc/nsswitch.conf``: files dns), so a collector could not reach a tenant served at
``http://hf_t_acme.localhost:8070``. Every connection of ours that dials a host name goes through
:func:`dial_host` (or :func:`create_connection`), and keeps the *name* for what the peer must see: the
HTTP ``Host`` header (the tenant router picks the tenant from it) and the TLS server name.

>>> dial_host("hf_t_acme.localhost"), dial_host("LOCALHOST."), dial_host("odoo.example.com")
('127.0.0.1', '127.0.0.1', 'odoo.example.com')
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def dial_host(host: str) -> str:
    """The address to connect to for ``host``: loopback for ``localhost`` and any ``*.localhost`` name
    (case-insensitive, a trailing dot allowed), ``host`` itself otherwise (names, IPv4 and IPv6 addresses)."""
    name = host.rstrip(".").lower()
    return LOOPBACK if name == "localhost" or name.endswith(".localhost") else host


def create_connection(
    address: tuple[str, int], timeout: object = None, source_address: tuple[str, int] | None = None
) -> socket.socket:
    """:func:`socket.create_connection` with the host dialled as :func:`dial_host` says. A ``timeout`` that is
    no number (http.client's "the default" marker) is the process's default, as the socket module has it."""
    host, port = address
    seconds = timeout if timeout is None or isinstance(timeout, int | float) else socket.getdefaulttimeout()
    return socket.create_connection((dial_host(host), port), seconds, source_address)
