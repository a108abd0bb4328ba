"""Many tenants on one server, each with its edge bundle's collector sending about 100 values/s (issue 17's
benchmark): are all their values stored, what does each tenant cost in memory under load and idle?

Each tenant is provisioned as a paid signup is (``Provisioner.create``), its bundle's collector runs as the
customer runs it (``sh run.sh``) against the project's simulator (10 Modbus tags polled every 100 ms), over a
Mosquitto that enforces the tenants' users and ACL, into the tenant's own ingest (``cloud_rig``). The stored
rate is counted in each tenant's historian; resident memory is read off every server process (each tenant's
Odoo and ingest, the router, the broker), under load, then idle once ``hf-saas serve --idle-stop`` stopped
the tenants' Odoo. Baseline from the same run: the values the collectors were configured to send.
Prints figures; asserts nothing on time.

    .venv/bin/python bench/bench_cloud_scale.py [--tenants 20] [--seconds 60] [--idle-stop 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import closing
from pathlib import Path

import psutil
import psycopg2
from bench_cloud_journey import plant_spec
from cloud_rig import Cloud, cloud, drop_tenant, stop

from hf_saas.bundle import unpack
from hf_saas.spec import parse_spec
from hf_saas.tenant_limits import cpu_seconds

TAGS_PER_EDGE, INTERVAL_MS = 10, 100
TAGS: list[dict[str, object]] = [
    {
        "name": f"value_{i}",
        "data_type": "float",
        "sampling_interval_ms": INTERVAL_MS,
        "address": {"table": "holding", "address": 0 if i % 2 == 0 else 2, "type": "float32"},
    }
    for i in range(TAGS_PER_EDGE)
]


def _samples(rig: Cloud, db: str) -> int:
    with closing(psycopg2.connect(**rig.settings.dsn(db))) as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM hf_historian_sample")
        row = cr.fetchone()
        return int(row[0]) if row else 0


def _server_rss(rig: Cloud) -> dict[str, list[float]]:
    """Resident MB of each server process, by kind (the router's children and the broker)."""
    kinds: dict[str, list[float]] = {"odoo": [], "ingest": [], "router": [], "broker": []}
    router = psutil.Process(rig.router.pid)
    kinds["router"].append(router.memory_info().rss / 1048576)
    for child in router.children(recursive=True):
        try:
            line = " ".join(child.cmdline())
            kind = "ingest" if "hf_historian.ingest" in line else "odoo" if "odoo" in line else None
            if kind:
                kinds[kind].append(child.memory_info().rss / 1048576)
        except psutil.NoSuchProcess:
            continue
    kinds["broker"] = [psutil.Process(p.pid).memory_info().rss / 1048576 for p in rig.processes[:1]]
    return kinds


def _connections(rig: Cloud, prefix: str) -> dict[str, dict[str, int]]:
    """PostgreSQL connections each tenant's processes hold, by kind: its Odoo's in its database, its Odoo's in
    ``postgres`` (the cron thread's and the bus's LISTEN), its ingest's (any database). A tenant's processes
    connect as the tenant's own role, so the role names the tenant whatever database a connection is in."""
    with closing(psycopg2.connect(**rig.settings.dsn())) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT usename, datname, coalesce(application_name, '') FROM pg_stat_activity WHERE usename LIKE %s",
            (prefix + "%",),
        )
        rows = cr.fetchall()
    tenants: dict[str, dict[str, int]] = {}
    for role, datname, app in rows:
        kind = ("odoo" if datname == role else "odoo_postgres") if app.startswith("odoo-") else "ingest"
        counts = tenants.setdefault(role, {"odoo": 0, "odoo_postgres": 0, "ingest": 0})
        counts[kind] += 1
    return tenants


def _connection_line(label: str, tenants: dict[str, dict[str, int]], n: int) -> str:
    totals = [sum(c.values()) for c in tenants.values()] + [0] * (n - len(tenants))
    kinds = {k: sum(c[k] for c in tenants.values()) for k in ("odoo", "odoo_postgres", "ingest")}
    return (
        f"PostgreSQL connections per tenant {label}: median {statistics.median(totals or [0])}, max "
        f"{max(totals or [0])}, all tenants {sum(totals)} (Odoo in its database {kinds['odoo']}, Odoo in postgres "
        f"{kinds['odoo_postgres']}, ingests {kinds['ingest']}; the server's max_connections must hold them)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long every edge sends")
    parser.add_argument("--idle-stop", type=float, default=20.0, help="hf-saas serve --idle-stop")
    parser.add_argument("--max-odoo", type=int, help="hf-saas serve --max-odoo (default: the product's)")
    parser.add_argument(
        "--first-value-timeout", type=float, default=300.0, help="how long to wait for every edge's first value"
    )
    args = parser.parse_args()
    serve_args = ["--idle-stop", str(args.idle_stop)]
    if args.max_odoo is not None:
        serve_args += ["--max-odoo", str(args.max_odoo)]
    with cloud("hf_bench_s_", *serve_args) as rig:
        dbs: list[str] = []
        collectors = []
        try:
            started = time.monotonic()
            for i in range(args.tenants):
                spec = parse_spec(plant_spec(f"Bench Scale {i}", rig.modbus_port, TAGS))
                drop_tenant(rig.provisioner, rig.provisioner.db_name(spec))
                result = rig.provisioner.create(spec)
                dbs.append(result.db)
                folder = unpack(Path(result.bundle_path), rig.work / f"bundle-{i}")
                collectors.append(rig.run_bundle(folder, rig.work / f"collector-{i}.log"))
            provisioned = time.monotonic() - started
            deadline = time.monotonic() + args.first_value_timeout
            while time.monotonic() < deadline and not all(_samples(rig, db) for db in dbs):
                time.sleep(2)
            waiting = [db for db in dbs if not _samples(rig, db)]
            all_sending = time.monotonic() - started
            connected, pooled = _server_rss(rig), _connections(rig, "hf_bench_s_")
            before = {db: _samples(rig, db) for db in dbs}
            cpu_before = {db: cpu_seconds(db, rig.settings) for db in dbs}
            time.sleep(args.seconds)
            after = {db: _samples(rig, db) for db in dbs}
            cpu_after = {db: cpu_seconds(db, rig.settings) for db in dbs}
            loaded = _server_rss(rig)
            for collector in collectors:
                stop(collector)
            stopped = time.monotonic()
            while time.monotonic() - stopped < args.idle_stop + 90 and (
                time.monotonic() - stopped < args.idle_stop + 10 or _server_rss(rig)["odoo"]
            ):
                time.sleep(2)  # the idle stop, then each Odoo's own shutdown (slow on a busy server)
            idle_after = time.monotonic() - stopped
            idle, idle_pooled = _server_rss(rig), _connections(rig, "hf_bench_s_")
        finally:
            for collector in collectors:
                stop(collector)
            for db in dbs:
                drop_tenant(rig.provisioner, db)

    rates = [(after[db] - before[db]) / args.seconds for db in dbs]
    configured = TAGS_PER_EDGE * 1000 / INTERVAL_MS
    n = len(dbs)
    never = f" ({len(waiting)} never sent: {waiting})" if waiting else ""
    print(f"hf-saas serve {' '.join(serve_args)} (the tenants' processes in cgroups where the server allows it)")
    print(
        f"{n} tenants provisioned one after the other in {provisioned:.0f} s; every edge's first value stored "
        f"{all_sending:.0f} s after the first signup{never}"
    )
    print(
        f"stored per tenant over {args.seconds:.0f} s: median {statistics.median(rates):.1f} values/s "
        f"(min {min(rates):.1f}, max {max(rates):.1f}); configured: {configured:.0f} values/s per edge; "
        f"all tenants {sum(rates):.0f} values/s"
    )
    used = [b - a for db in dbs if (a := cpu_before[db]) is not None and (b := cpu_after[db]) is not None]
    if used:
        print(
            f"CPU per tenant over the {args.seconds:.0f} s of load (its cgroup: its ingest and Odoo): median "
            f"{statistics.median(used):.1f} s (max {max(used):.1f}), {sum(used) / args.seconds:.2f} cores for all "
            f"{len(used)} tenants"
        )
    else:
        print("CPU per tenant: not reported (no writable cgroup on this server)")
    print(_connection_line("as the edges connected", pooled, n))
    print(_connection_line("idle", idle_pooled, n))
    for label, kinds in (
        ("as the edges connected", connected),
        (f"after {args.seconds:.0f} s of load", loaded),
        (f"idle ({idle_after:.0f} s after the edges stopped)", idle),
    ):
        total = sum(sum(v) for v in kinds.values())
        odoo, ingest = kinds["odoo"], kinds["ingest"]
        print(
            f"server RSS {label}: {total:.0f} MB in all; {len(odoo)} tenant Odoo processes "
            f"{sum(odoo):.0f} MB (median {statistics.median(odoo) if odoo else 0:.0f}), {len(ingest)} ingests "
            f"{sum(ingest):.0f} MB (median {statistics.median(ingest) if ingest else 0:.0f}), router "
            f"{sum(kinds['router']):.0f} MB, broker {sum(kinds['broker']):.0f} MB; per tenant {total / n:.0f} MB"
        )
    print(
        "(target of issue 17: <= 150 MB per idle tenant, all processes counted; 2-core machine shared with "
        "others, figures vary)"
    )


if __name__ == "__main__":
    main()
