"""Issue 17: many tenants on one server within its PostgreSQL connections: ``hf-saas serve --max-odoo N`` runs
at most N tenants' Odoo at once (real tenants, real Odoo processes); starting one more stops the one unused
the longest, one in use is never stopped, and a stopped Odoo holds no connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import closing

import pytest

from hf_saas import db as pg
from hf_saas import tenant_processes
from hf_saas.errors import ProvisionError
from hf_saas.provision import CreateResult, Provisioner
from hf_saas.spec import parse_spec
from hf_saas.tenant_processes import TenantProcesses

from .conftest import created_tenants, spec_data


@pytest.fixture(scope="module")
def pair(provisioner: Provisioner) -> Iterator[dict[str, CreateResult]]:
    specs = {
        "one": parse_spec(spec_data("Pytest Cap One", devices=1)),
        "two": parse_spec(spec_data("Pytest Cap Two", devices=1)),
    }
    with created_tenants(provisioner, specs) as created:
        yield created


def _odoo_connections(provisioner: Provisioner, db: str) -> int:
    """Connections the tenant's Odoo holds (its role, Odoo's application name), in any database."""
    with closing(pg.connect(provisioner.settings)) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND application_name LIKE 'odoo-%%'", (db,)
        )
        return int(pg.one_row(cr)[0])


async def test_max_odoo_stops_the_one_unused_the_longest_and_never_one_in_use(
    provisioner: Provisioner, pair: dict[str, CreateResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = pair["one"].db, pair["two"].db
    processes = TenantProcesses(provisioner.settings, max_running=1, only=frozenset({one, two}))
    try:
        first = await processes.ensure(one)
        assert first.running
        for _ in range(300):  # Odoo listens first, then loads its registry (its pool's first connections)
            if _odoo_connections(provisioner, one):
                break
            await asyncio.sleep(0.2)
        assert _odoo_connections(provisioner, one) > 0
        second = await processes.ensure(two)  # one place: the first tenant's Odoo makes room
        assert second.running and not first.running
        assert list(processes.processes) == [two]
        for _ in range(50):  # the server sees a closed connection go within moments
            if not _odoo_connections(provisioner, one):
                break
            await asyncio.sleep(0.2)
        assert _odoo_connections(provisioner, one) == 0  # a stopped Odoo holds no connection
        # a tenant whose Odoo serves a connection now is never stopped for another: the start waits, then says so
        second.connections = 1  # what the router counts while it copies a client's bytes
        monkeypatch.setattr(tenant_processes, "START_TIMEOUT_S", 2.0)
        with pytest.raises(ProvisionError, match="All 1 tenant Odoo places are in use"):
            await processes.ensure(one)
        assert second.running
        second.connections = 0
        monkeypatch.setattr(tenant_processes, "START_TIMEOUT_S", 120.0)
        again = await processes.ensure(one)
        assert again.running and not second.running
    finally:
        await processes.stop_all()


async def test_an_odoo_still_starting_is_not_stopped_as_idle(
    provisioner: Provisioner, pair: dict[str, CreateResult]
) -> None:
    """A start slower than the idle stop (a busy server) ends with a running Odoo, not a killed one."""
    one = pair["one"].db
    idle_stop_s = 0.1  # far shorter than any Odoo's start (over a second to import Odoo alone)
    processes = TenantProcesses(provisioner.settings, idle_stop_s=idle_stop_s, only=frozenset({one}))
    try:
        began = time.monotonic()
        start = asyncio.create_task(processes.ensure(one))
        sweeps_past_idle_stop = 0
        while True:
            await asyncio.sleep(0.05)
            if start.done():
                break
            await processes.sweep()  # as sweep_forever does, but more often than the idle stop
            sweeps_past_idle_stop += time.monotonic() - began > 2 * idle_stop_s
        tenant = await start
        assert sweeps_past_idle_stop > 0, "sweeps ran while the start was older than the idle stop"
        assert tenant.running
        await asyncio.sleep(3 * idle_stop_s)
        await processes.sweep()  # idle once it answered and nobody used it: stopped
        assert not tenant.running
    finally:
        await processes.stop_all()


async def test_a_stop_decided_on_an_earlier_odoo_never_stops_the_one_started_since(
    provisioner: Provisioner, pair: dict[str, CreateResult]
) -> None:
    """The sweep decides on what ran when it looked; by the time it stops a tenant's Odoo, that one may have been
    stopped to make room and the tenant's next request started another: the new one keeps running."""
    one = pair["one"].db
    processes = TenantProcesses(provisioner.settings, only=frozenset({one}))
    try:
        earlier = await processes.ensure(one)
        await processes.stop(one, earlier)
        assert not earlier.running
        current = await processes.ensure(one)
        await processes.stop(one, earlier)  # the stale decision
        assert current.running and processes.processes[one] is current
        await processes.stop(one, current)
        assert not current.running and one not in processes.processes
    finally:
        await processes.stop_all()
