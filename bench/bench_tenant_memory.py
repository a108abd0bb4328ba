"""Memory of idle tenants: one Odoo per tenant behind ``hf-saas serve`` (each as its tenant's own role) vs
the baseline of one shared Odoo serving every tenant by ``dbfilter`` (one role for all, as before issue 15).
Also the time the per-tenant role adds to provisioning, and a tenant's cold start through the router.
Prints figures; asserts nothing on time.

    .venv/bin/python bench/bench_tenant_memory.py [--tenants 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import threading
import time

import psutil
import requests
from saas_bench import bench_provisioner, drop_tenant, free_port, spec_data

from hf_saas.odoo_runner import OdooRunner
from hf_saas.spec import parse_spec
from hf_saas.tenant_router import serve

IDLE_S = 10.0


def _open_login(port: int, db: str, timeout: float = 180, query: str = "") -> float:
    """Seconds until the tenant's login page answers through ``port`` for the host name ``<db>.localhost``."""
    started = time.monotonic()
    while True:
        try:
            page = requests.get(
                f"http://127.0.0.1:{port}/web/login{query}", headers={"Host": f"{db}.localhost:{port}"}, timeout=timeout
            )
            if page.status_code == 200 and 'name="csrf_token"' in page.text:
                return time.monotonic() - started
        except requests.ConnectionError:
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{db} did not answer on :{port}")
        time.sleep(0.3)


def _rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 1048576


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=4)
    args = parser.parse_args()
    prov = bench_provisioner("tenants", "hf_bench_m_")
    settings = prov.settings
    prov.build_template()

    specs = [parse_spec(spec_data(f"Bench Memory {i}", devices=2)) for i in range(args.tenants)]
    for spec in specs:
        drop_tenant(prov, prov.db_name(spec))
    created = [prov.create(spec) for spec in specs]
    role_s = [c.timings["role"] for c in created]
    total_s = [sum(c.timings.values()) for c in created]
    print(
        f"provisioning: {statistics.median(total_s):.2f} s per tenant (median of {len(created)}), "
        f"of which the tenant's own role {statistics.median(role_s):.2f} s"
    )
    try:
        # --- per tenant: the router and one Odoo per tenant, as `hf-saas serve` runs them
        port = free_port()
        loop = asyncio.new_event_loop()
        task: list[asyncio.Task[None]] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            task.append(loop.create_task(serve(settings, "127.0.0.1", port)))
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(task[0])

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        time.sleep(1)
        cold = [_open_login(port, c.db) for c in created]
        warm = [_open_login(port, c.db) for c in created]
        time.sleep(IDLE_S)
        me = psutil.Process()
        children = [c for c in me.children() if "odoo" in " ".join(c.cmdline())]
        per_tenant = [_rss_mb(c) for c in children]
        ingests = [_rss_mb(c) for c in me.children() if "hf_historian.ingest" in c.cmdline()]
        loop.call_soon_threadsafe(task[0].cancel)
        thread.join(60)
        print(
            f"one Odoo per tenant : {len(per_tenant)} processes, idle RSS per tenant median "
            f"{statistics.median(per_tenant):.0f} MB (min {min(per_tenant):.0f}, max {max(per_tenant):.0f}), "
            f"all tenants {sum(per_tenant):.0f} MB; cold start through the router "
            f"{statistics.median(cold):.1f} s, a warm page {statistics.median(warm) * 1000:.0f} ms"
        )
        if ingests:
            both = statistics.median(per_tenant) + statistics.median(ingests)
            print(
                f"each tenant's ingest : {len(ingests)} processes, idle RSS median "
                f"{statistics.median(ingests):.0f} MB; per idle tenant, all its processes: {both:.0f} MB"
            )

        # --- baseline: one shared Odoo for every tenant, connected as the provisioner's role (a member of each
        # tenant's); the database list is given, since Odoo lists only the databases its role owns
        port = free_port()
        shared = subprocess.Popen(
            [
                *OdooRunner(settings).command(),
                "--http-port",
                str(port),
                "--database",
                ",".join(c.db for c in created),
                "--max-cron-threads",
                "1",
                "--http-interface",
                "127.0.0.1",
                "--log-level",
                "warn",
                "--logfile",
                str(settings.state_dir / "shared-odoo.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            cold_shared = [_open_login(port, c.db, query=f"?db={c.db}") for c in created]
            time.sleep(IDLE_S)
            rss_shared = _rss_mb(psutil.Process(shared.pid))
        finally:
            shared.terminate()
            shared.wait(30)
        print(
            f"baseline, one shared: 1 process for {len(created)} tenants, idle RSS {rss_shared:.0f} MB "
            f"({rss_shared / len(created):.0f} MB per tenant); first page per tenant "
            f"{statistics.median(cold_shared):.1f} s"
        )
        print(
            f"per-tenant isolation costs {sum(per_tenant) - rss_shared:.0f} MB more for {len(created)} idle "
            f"tenants (target of issue 17: <= 150 MB per idle tenant, all processes counted)"
        )
    finally:
        for c in created:
            drop_tenant(prov, c.db)
    print("(2-core machine shared with other engineers; figures vary with their load)")


if __name__ == "__main__":
    main()
