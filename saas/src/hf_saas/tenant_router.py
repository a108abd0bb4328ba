"""``hf-saas serve``: one address for every tenant; the host name picks the tenant's own Odoo.

``http://<db>.localhost:8070`` (or ``https://<db>.hyperfactory.cloud`` behind the operator's TLS proxy)
reaches the Odoo process of tenant ``<db>`` only. The router reads a connection's first request head,
takes the database from the ``Host`` header's first label, starts that tenant's Odoo if it does not run,
and from then on copies bytes both ways (keep-alive requests and Odoo's websocket included: a browser
keeps one connection per host name). A host that names no ready tenant gets a 404 and reaches nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import time

from .errors import HfSaasError
from .settings import Settings
from .tenant_processes import TenantProcess, TenantProcesses

_logger = logging.getLogger(__name__)
MAX_HEAD_BYTES = 16384
HEAD_TIMEOUT_S = 15.0
_HOST = re.compile(rb"^host:[ \t]*([^\r\n]*)\r?$", re.IGNORECASE | re.MULTILINE)


def tenant_of_host(host: str, prefix: str) -> str | None:
    """The tenant database a Host header names (``hf_t_acme.localhost:8070`` → ``hf_t_acme``), or None."""
    label = host.strip().split(":", 1)[0].split(".", 1)[0].lower()
    if label.startswith(prefix) and re.fullmatch(r"[a-z0-9_]{1,63}", label):
        return label
    return None


def _response(status: str, text: str) -> bytes:
    body = text.encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body


class TenantRouter:
    def __init__(self, settings: Settings, processes: TenantProcesses) -> None:
        self.settings = settings
        self.processes = processes

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            await self._close(writer, _response("400 Bad Request", "Bad request.\n"))
            return
        found = _HOST.search(head)
        db = tenant_of_host(found.group(1).decode("latin-1"), self.settings.db_prefix) if found else None
        if db is None or not self.processes.is_ready(db):
            await self._close(writer, _response("404 Not Found", "No Hyperfactory instance has this address.\n"))
            return
        try:
            tenant = await self.processes.ensure(db)
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", tenant.port)
        except (HfSaasError, OSError, TimeoutError) as exc:
            _logger.warning("tenant %s unavailable: %s", db, exc)
            await self._close(
                writer,
                _response(
                    "503 Service Unavailable",
                    "This Hyperfactory instance is starting or unavailable; try again in a minute.\n",
                ),
            )
            return
        tenant.connections += 1
        tenant.last_used = time.monotonic()
        try:
            upstream_writer.write(head)
            await asyncio.gather(
                self._pipe(reader, upstream_writer, tenant), self._pipe(upstream_reader, writer, tenant)
            )
        finally:
            tenant.connections -= 1
            tenant.last_used = time.monotonic()
            for w in (writer, upstream_writer):
                w.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter, tenant: TenantProcess) -> None:
        try:
            while chunk := await source.read(65536):
                target.write(chunk)
                await target.drain()
                tenant.last_used = time.monotonic()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if target.can_write_eof():
                    target.write_eof()

    @staticmethod
    async def _close(writer: asyncio.StreamWriter, response: bytes) -> None:
        with contextlib.suppress(OSError):
            writer.write(response)
            await writer.drain()
        writer.close()


async def serve(settings: Settings, host: str, port: int, idle_stop_s: float = 0.0, max_odoo: int = 0) -> None:
    """Run the router and the process manager until cancelled; every tenant's Odoo stops with it. ``max_odoo``:
    at most that many tenants' Odoo at once (0: no cap), see :class:`TenantProcesses`."""
    processes = TenantProcesses(settings, idle_stop_s, max_running=max_odoo)
    router = TenantRouter(settings, processes)
    server = await asyncio.start_server(router.handle, host, port, limit=MAX_HEAD_BYTES)
    sweeper = asyncio.create_task(processes.sweep_forever())
    current = asyncio.current_task()
    if current is not None:
        for sig in (signal.SIGTERM, signal.SIGINT):  # the tenants' Odoo processes stop with the router
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
                asyncio.get_running_loop().add_signal_handler(sig, current.cancel)
    _logger.warning(
        "tenants served on http://<db>.%s:%d", "localhost" if host in ("127.0.0.1", "0.0.0.0") else host, port
    )
    try:
        async with server:
            await server.serve_forever()
    finally:
        sweeper.cancel()
        await processes.stop_all()
