"""Form submit → first live value in a new tenant's historian, step by step (issue 17's benchmark).

What the operator's cron does once a signup is confirmed and paid (``Provisioner.create`` of the form's spec,
with its device and tags), then what the customer does with the bundle (``sh run.sh``): the collector pulls
its devices from the tenant's Odoo through ``hf-saas serve`` (that Odoo started on the first request), reads
the project's simulator over Modbus TCP and publishes to a Mosquitto that enforces the tenant's users and
ACL; the tenant's own ingest (started by ``hf-saas serve``) stores the values (``cloud_rig``). The baseline,
from the same run: the bundle's collector started again once everything is warm (the tenant's Odoo and
ingest running). There is no Ziti enrollment step: no controller runs here. Prints figures; asserts nothing
on time.

    .venv/bin/python bench/bench_cloud_journey.py [--runs 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cloud_rig import Cloud, cloud, drop_tenant, stop

from hf_saas.bundle import unpack
from hf_saas.spec import parse_spec

TAGS: list[dict[str, object]] = [
    {"name": "temperature", "data_type": "float", "address": {"table": "holding", "address": 0, "type": "float32"}},
    {"name": "spindle_speed", "data_type": "float", "address": {"table": "holding", "address": 2, "type": "float32"}},
]
T = TypeVar("T")


def plant_spec(company: str, modbus_port: int, tags: list[dict[str, object]]) -> dict[str, object]:
    """A one-cell plant whose Modbus press is the simulator's, with these tags (the form's shape)."""
    return {
        "company": {
            "name": company,
            "contact_name": "Bea Bench",
            "email": "bea@bench-journey.example",
            "timezone": "Europe/Berlin",
        },
        "site": {
            "name": "Graz",
            "areas": [{"name": "Press shop", "lines": [{"name": "Line 1", "workcenters": ["Cell 1"]}]}],
        },
        "devices": [
            {
                "name": "press1-modbus",
                "protocol": "modbus",
                "ip": "127.0.0.1",
                "port": modbus_port,
                "workcenter": "Cell 1",
                "tags": tags,
            }
        ],
    }


def wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := probe()) is not None:
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def _first_value(rig: Cloud, db: str, after: datetime) -> float | None:
    return time.monotonic() if rig.stored(db, ["temperature"], after) else None


def journey(rig: Cloud, run: int) -> dict[str, float]:
    spec = parse_spec(plant_spec(f"Bench Journey {run}", rig.modbus_port, TAGS))
    drop_tenant(rig.provisioner, rig.provisioner.db_name(spec))
    submitted = time.monotonic()
    result = rig.provisioner.create(spec)
    provisioned, since = time.monotonic(), datetime.now(UTC)
    folder = unpack(Path(result.bundle_path), rig.work / f"bundle-{run}")
    collector = rig.run_bundle(folder, rig.work / f"collector-{run}.log")
    first = wait_for(lambda: _first_value(rig, result.db, since), 180, f"no value reached {result.db}: {rig.work}")
    stop(collector)
    time.sleep(2)
    restarted, since = time.monotonic(), datetime.now(UTC)
    collector = rig.run_bundle(folder, rig.work / f"collector-{run}.log")
    warm = wait_for(lambda: _first_value(rig, result.db, since), 120, f"no second value in {result.db}: {rig.work}")
    stop(collector)
    drop_tenant(rig.provisioner, result.db)
    return {
        "provision": provisioned - submitted,
        "first_value": first - provisioned,
        "total": first - submitted,
        "warm": warm - restarted,
        **{f"step {k}": v for k, v in result.timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2, help="tenants signed up one after the other")
    args = parser.parse_args()
    with cloud("hf_bench_j_") as rig:
        rows = [journey(rig, run) for run in range(args.runs)]

    def median(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    print(f"form submit -> first live value, median of {len(rows)} new tenants (target <= 60 s, provisioning <= 5 s):")
    print(
        f"  provisioning          {median('provision'):6.1f} s   ("
        + ", ".join(f"{key[5:]} {median(key):.2f}" for key in rows[0] if key.startswith("step "))
        + ")"
    )
    print(
        f"  bundle -> first value {median('first_value'):6.1f} s   (collector start, config pulled through "
        f"the router, the tenant's Odoo started cold, Modbus read, broker, the tenant's ingest)"
    )
    print(f"  end to end            {median('total'):6.1f} s")
    print(
        f"  baseline, warm        {median('warm'):6.1f} s   (the same bundle started again: Odoo and ingest "
        f"already running)"
    )
    print("(no Ziti enrollment step: no controller here; 2-core machine shared with others, figures vary)")


if __name__ == "__main__":
    main()
