"""The tenants' process manager: per tenant an Odoo, started on demand, and an ingest, always running.

A tenant's Odoo is started by the first request for it (``ensure``), on a free loopback port, and is
stopped when its tenant is no longer ready (suspended, deleted) or, with ``idle_stop_s``, after that
long without a request. With ``max_running``, at most that many tenants' Odoo run at once: starting
one more first stops the one unused the longest (none in use: the request waits for a free place).
Each Odoo holds a few PostgreSQL connections while it runs (its pool, its cron thread's ``LISTEN``) and
none once stopped, so the cap is what keeps many tenants within the server's ``max_connections``.
A process that dies is started again by the next request. A tenant's ingest runs while the tenant is
ready, whether its Odoo runs or not (the plant's data never waits for a page view), is restarted with
backoff when it dies, and is stopped when the tenant is suspended or deleted.

Both run in the tenant's cgroup with the plan's CPU and memory (:mod:`hf_saas.tenant_limits`): set before
the first of them starts, read again from the tenant's parameters every ``LIMITS_REFRESH_S`` (a plan change
applies within that), and removed once the tenant is no longer ready and none of its processes runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from hf_core.retry import Backoff, tcp_probe

from .errors import HfSaasError, ProvisionError
from .registry import Registry, TenantState
from .settings import Settings
from .tenant_ingest import ingest_command, ingest_environment
from .tenant_limits import Limits, TenantLimits, read_limits
from .tenant_odoo import odoo_command, odoo_environment, runtime_dir, write_config

_logger = logging.getLogger(__name__)
START_TIMEOUT_S = 120.0
LIMITS_REFRESH_S = 30.0
# an Odoo handed to a request within this long is not stopped to make room (the request has yet to connect)
MIN_USE_S = 5.0
# Odoo processes starting at once: an Odoo's start is seconds of CPU, and ten starting together on a small
# server all take ten times as long (past START_TIMEOUT_S under load) where two at a time each answer soon
MAX_STARTING = 2


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
    def __init__(
        self,
        settings: Settings,
        idle_stop_s: float = 0.0,
        limits: TenantLimits | None = None,
        max_running: int = 0,
        only: frozenset[str] | None = None,
    ) -> None:
        """``only``: the tenants this server runs (None: every tenant of the registry)."""
        self.settings = settings
        self.max_running = max_running
        self.only = only
        self._room = asyncio.Lock()
        self._start_slots = asyncio.Semaphore(MAX_STARTING)
        self.limits = limits if limits is not None else TenantLimits(settings)
        # db → (the limits its group has, when they were read from its parameters)
        self._limits: dict[str, tuple[Limits, float]] = {}
        self.registry = Registry(settings.state_dir)
        self.idle_stop_s = idle_stop_s
        self.processes: dict[str, TenantProcess] = {}
        self._starting: dict[str, asyncio.Lock] = {}
        self.ingests: dict[str, asyncio.subprocess.Process] = {}
        # db → (its restart policy, when it last started, not before when to start it again)
        self._ingest_backoff: dict[str, tuple[Backoff, float, float]] = {}

    def is_ready(self, db: str) -> bool:
        return (self.only is None or db in self.only) and self.registry.state(db) == TenantState.READY.value

    async def ensure(self, db: str) -> TenantProcess:
        """The running, answering Odoo of ``db`` (started now if needed); ProvisionError when it cannot be."""
        lock = self._starting.setdefault(db, asyncio.Lock())
        async with lock:
            current = self.processes.get(db)
            if current is not None and current.running:
                await asyncio.wait_for(current.ready.wait(), START_TIMEOUT_S)
                current.last_used = time.monotonic()  # its caller is about to use it: not the one to stop
                return current
            if not self.is_ready(db):
                raise ProvisionError(f"{db} is not a ready tenant.")
            password = self.registry.read_secret(db, "db_password")
            await self.apply_limits(db)
            async with self._start_slots:  # a free port when it starts, not when it began to wait
                port = _free_port()
                config = write_config(self.settings, db, password, port)
                started = time.monotonic()
                tenant = await self._start(db, port, config, started)
            tenant.ready.set()
            tenant.last_used = time.monotonic()  # idle from now, not from when it began to start
            _logger.info(
                "Odoo of %s started on port %d in %.1f s (pid %d)",
                db,
                port,
                time.monotonic() - started,
                tenant.process.pid,
            )
            return tenant

    async def _start(self, db: str, port: int, config: Path, started: float) -> TenantProcess:
        """Start ``db``'s Odoo in a free place and wait until it answers."""
        async with self._room:  # the place and the process together: two starts never take one place
            await self._make_room(db, started)
            process = await asyncio.create_subprocess_exec(
                *self.limits.wrap(db, odoo_command(self.settings, config)),
                env=odoo_environment(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            tenant = self.processes[db] = TenantProcess(db, port, process)
        probe = tcp_probe("127.0.0.1", port)
        while not await probe():
            if process.returncode is not None:
                raise ProvisionError(
                    f"The Odoo of {db} exited at start (exit {process.returncode}); see {config.parent / 'odoo.log'}."
                )
            if time.monotonic() - started > START_TIMEOUT_S:
                await self.stop(db, tenant)
                raise ProvisionError(f"The Odoo of {db} did not answer within {START_TIMEOUT_S:.0f} s.")
            await asyncio.sleep(0.2)
        return tenant

    async def _make_room(self, db: str, started: float) -> None:
        """With ``max_running``, stop the Odoo unused the longest (answering, no open connection) until there is
        a place for ``db``'s; with every one in use, wait for a place (ProvisionError after START_TIMEOUT_S)."""
        while self.max_running:
            running = [t for t in self.processes.values() if t.running and t.db != db]
            if len(running) < self.max_running:
                return
            now = time.monotonic()
            idle = [t for t in running if t.ready.is_set() and not t.connections and now - t.last_used > MIN_USE_S]
            if idle:
                oldest = min(idle, key=lambda t: t.last_used)
                _logger.info("Odoo of %s stopped to make room for %s (%d running)", oldest.db, db, len(running))
                await self.stop(oldest.db, oldest)
                continue
            if time.monotonic() - started > START_TIMEOUT_S:
                raise ProvisionError(f"All {self.max_running} tenant Odoo places are in use; {db} cannot start now.")
            await asyncio.sleep(0.5)

    async def stop(self, db: str, tenant: TenantProcess | None = None) -> None:
        """Stop ``db``'s Odoo; with ``tenant``, only that process (never a newer one started meanwhile: a
        decision taken on what ran a moment ago must not stop what runs now)."""
        current = self.processes.get(db)
        if current is None or (tenant is not None and current is not tenant):
            return
        self.processes.pop(db)
        tenant = current
        if not tenant.running:
            return
        tenant.process.terminate()
        try:
            await asyncio.wait_for(tenant.process.wait(), 20)
        except TimeoutError:
            tenant.process.kill()
            await tenant.process.wait()
        _logger.info("Odoo of %s stopped", db)

    async def stop_all(self) -> None:
        await asyncio.gather(
            *(self.stop(db) for db in list(self.processes)), *(self.stop_ingest(db) for db in list(self.ingests))
        )
        for db in list(self._limits):
            self.release_limits(db)

    async def apply_limits(self, db: str, *, refresh: bool = False) -> Limits:
        """Give the tenant's group the plan's CPU and memory: read from its parameters the first time, and again
        with ``refresh`` (a plan change); a tenant whose parameters cannot be read keeps what it had, or the
        defaults."""
        known = self._limits.get(db)
        if known is not None and not refresh and self.limits.exists(db):
            return known[0]
        try:
            limits = await asyncio.to_thread(read_limits, self.settings, db)
        except Exception as exc:  # noqa: BLE001 (its database away for a moment: the limits in force stay)
            _logger.warning("the CPU and memory quotas of %s cannot be read now: %s", db, exc)
            limits = known[0] if known is not None else Limits()
        if known is None or known[0] != limits or not self.limits.exists(db):
            await asyncio.to_thread(self.limits.apply, db, limits)
        self._limits[db] = (limits, time.monotonic())
        return limits

    def release_limits(self, db: str) -> None:
        """Remove the tenant's group (none of its processes runs any more)."""
        if self._limits.pop(db, None) is not None:
            self.limits.remove(db)

    async def _keep_limits(self, ready: set[str]) -> None:
        now = time.monotonic()
        for db, (_, read) in list(self._limits.items()):
            if db not in ready:
                starting = self._starting.get(db)
                if (
                    not self.is_ready(db)  # now, not when the sweep began: it may have become ready since
                    and db not in self.processes
                    and db not in self.ingests
                    and not (starting is not None and starting.locked())  # an Odoo about to enter the group
                ):
                    self.release_limits(db)
            elif now - read > LIMITS_REFRESH_S:
                await self.apply_limits(db, refresh=True)

    async def start_ingest(self, db: str) -> None:
        record = self.registry.get(db)
        folder = runtime_dir(self.settings, db)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        await self.apply_limits(db)
        log = os.open(folder / "ingest.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            self.ingests[db] = await asyncio.create_subprocess_exec(
                *self.limits.wrap(db, ingest_command(self.settings, record)),
                env=ingest_environment(self.settings, self.registry, record),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            os.close(log)
        _logger.info("ingest of %s started (pid %d)", db, self.ingests[db].pid)

    async def stop_ingest(self, db: str) -> None:
        process = self.ingests.pop(db, None)
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()
        _logger.info("ingest of %s stopped", db)

    async def _keep_ingests(self, ready: set[str]) -> None:
        now = time.monotonic()
        for db in set(self.ingests) - ready:
            await self.stop_ingest(db)
        for db in ready:
            process = self.ingests.get(db)
            if process is not None and process.returncode is None:
                continue
            backoff, started, not_before = self._ingest_backoff.get(db, (Backoff(), 0.0, 0.0))
            if process is not None:  # it died: start it again after a capped, growing pause
                self.ingests.pop(db)
                if now - started > 60:  # it had been running well: a first failure again
                    backoff.reset()
                not_before = now + backoff.delay
                backoff.failures += 1
                _logger.warning(
                    "ingest of %s exited (%s); starting it again in %.0f s", db, process.returncode, not_before - now
                )
            if now >= not_before:
                try:
                    await self.start_ingest(db)
                except HfSaasError as exc:  # e.g. a tenant made before ingests were kept: say so, go on
                    not_before = now + 300
                    _logger.warning("ingest of %s cannot start: %s", db, exc)
                started = now
            self._ingest_backoff[db] = (backoff, started, not_before)

    async def sweep(self) -> None:
        """Stop what no longer should run (tenants that are not ready, idle Odoo processes), forget dead
        Odoo processes, and keep one ingest per ready tenant."""
        # every 2 s: the registry re-reads only the records whose files changed since
        ready = {
            db
            for db, state in self.registry.states().items()
            if state == TenantState.READY.value and (self.only is None or db in self.only)
        }
        await self._keep_ingests(ready)
        for db in list(self.processes):
            # what runs now, not what ran when the loop began: each stop below waits for its process to exit,
            # and meanwhile another may have been stopped to make room and started again
            tenant = self.processes.get(db)
            if tenant is None:
                continue
            now = time.monotonic()
            if not tenant.running or not self.is_ready(db):
                await self.stop(db, tenant)
            elif (
                self.idle_stop_s
                and tenant.ready.is_set()  # one still starting is not idle, however slow its start
                and not tenant.connections
                and now - tenant.last_used > self.idle_stop_s
            ):
                _logger.info("Odoo of %s idle for %.0f s", db, now - tenant.last_used)
                await self.stop(db, tenant)
        await self._keep_limits(ready)

    async def sweep_forever(self, interval_s: float = 2.0) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # one tenant's trouble must not stop the supervisor of all
                _logger.exception("supervising the tenants failed; trying again in %.0f s", interval_s)
            await asyncio.sleep(interval_s)
