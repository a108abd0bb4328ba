"""The tenants' process manager: one Odoo per tenant, started on demand, stopped when idle or suspended.

A tenant's Odoo is started by the first request for it (``ensure``), on a free loopback port, and is
stopped when its tenant is no longer ready (suspended, deleted) or, with ``idle_stop_s``, after that
long without a request. A process that dies is started again by the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass, field

from hf_core.retry import tcp_probe

from .errors import ProvisionError
from .registry import Registry, TenantState
from .settings import Settings
from .tenant_odoo import odoo_command, odoo_environment, write_config

_logger = logging.getLogger(__name__)
START_TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class TenantProcess:
    db: str
    port: int
    process: asyncio.subprocess.Process
    last_used: float = field(default_factory=time.monotonic)
    connections: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def running(self) -> bool:
        return self.process.returncode is None


class TenantProcesses:
    def __init__(self, settings: Settings, idle_stop_s: float = 0.0) -> None:
        self.settings = settings
        self.registry = Registry(settings.state_dir)
        self.idle_stop_s = idle_stop_s
        self.processes: dict[str, TenantProcess] = {}
        self._starting: dict[str, asyncio.Lock] = {}

    def is_ready(self, db: str) -> bool:
        record = self.registry.find(db)
        return record is not None and record.state == TenantState.READY.value

    async def ensure(self, db: str) -> TenantProcess:
        """The running, answering Odoo of ``db`` (started now if needed); ProvisionError when it cannot be."""
        lock = self._starting.setdefault(db, asyncio.Lock())
        async with lock:
            current = self.processes.get(db)
            if current is not None and current.running:
                await asyncio.wait_for(current.ready.wait(), START_TIMEOUT_S)
                return current
            if not self.is_ready(db):
                raise ProvisionError(f"{db} is not a ready tenant.")
            password = self.registry.read_secret(db, "db_password")
            port = _free_port()
            config = write_config(self.settings, db, password, port)
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                *odoo_command(self.settings, config), env=odoo_environment(),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            tenant = self.processes[db] = TenantProcess(db, port, process)
            probe = tcp_probe("127.0.0.1", port)
            while not await probe():
                if process.returncode is not None:
                    raise ProvisionError(f"The Odoo of {db} exited at start (exit {process.returncode}); "
                                         f"see {config.parent / 'odoo.log'}.")
                if time.monotonic() - started > START_TIMEOUT_S:
                    await self.stop(db)
                    raise ProvisionError(f"The Odoo of {db} did not answer within {START_TIMEOUT_S:.0f} s.")
                await asyncio.sleep(0.2)
            tenant.ready.set()
            _logger.info("Odoo of %s started on port %d in %.1f s (pid %d)", db, port,
                         time.monotonic() - started, process.pid)
            return tenant

    async def stop(self, db: str) -> None:
        tenant = self.processes.pop(db, None)
        if tenant is None or not tenant.running:
            return
        tenant.process.terminate()
        try:
            await asyncio.wait_for(tenant.process.wait(), 20)
        except TimeoutError:
            tenant.process.kill()
            await tenant.process.wait()
        _logger.info("Odoo of %s stopped", db)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(db) for db in list(self.processes)))

    async def sweep(self) -> None:
        """Stop what no longer should run: tenants that are not ready, idle ones, and forget dead processes."""
        now = time.monotonic()
        for db, tenant in list(self.processes.items()):
            if not tenant.running:
                self.processes.pop(db, None)
            elif not self.is_ready(db):
                await self.stop(db)
            elif self.idle_stop_s and not tenant.connections and now - tenant.last_used > self.idle_stop_s:
                _logger.info("Odoo of %s idle for %.0f s", db, now - tenant.last_used)
                await self.stop(db)

    async def sweep_forever(self, interval_s: float = 2.0) -> None:
        while True:
            with contextlib.suppress(OSError, ValueError):  # an unreadable record is retried next round
                await self.sweep()
            await asyncio.sleep(interval_s)
