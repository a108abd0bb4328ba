"""Form submit → tenant ready: template clone vs fresh `odoo -i` of the same modules, and ten
tenants provisioned concurrently (total time, peak memory). Prints figures; asserts nothing on time.

    .venv/bin/python bench/bench_saas.py [--concurrent 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
from saas_bench import bench_provisioner, drop_tenant, spec_data

from hf_saas.provision import CreateResult, Provisioner
from hf_saas.spec import TenantSpec, parse_spec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrent", type=int, default=10)
    args = parser.parse_args()
    prov = bench_provisioner("saas", "hf_bench_t_")
    settings = prov.settings
    started = time.monotonic()
    status = prov.build_template()
    print(
        f"template: {'built' if status['changed'] else 'reused'} in {time.monotonic() - started:.1f} s "
        f"(modules {','.join(settings.modules)})"
    )

    results = {}
    for label, fresh in (("clone", False), ("fresh odoo -i", True)):
        spec = parse_spec(spec_data(f"Bench {label.split()[0]}", devices=20))
        drop_tenant(prov, prov.db_name(spec))
        t0 = time.monotonic()
        result = prov.create(spec, fresh_install=fresh)
        results[label] = time.monotonic() - t0
        print(f"{label:14}: tenant ready in {results[label]:6.2f} s   steps {json.dumps(result.timings)}")
        drop_tenant(prov, result.db)
    print(
        f"speed-up clone vs fresh install: {results['fresh odoo -i'] / results['clone']:.1f}x "
        f"(target for clone: <= 20 s)"
    )

    specs = [parse_spec(spec_data(f"Bench Many {i}", devices=10)) for i in range(args.concurrent)]
    for spec in specs:
        drop_tenant(prov, prov.db_name(spec))
    peak = {"rss": 0}
    stop = threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not stop.is_set():
            rss = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True) if c.is_running())
            peak["rss"] = max(peak["rss"], rss)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.concurrent) as pool:
        outcomes = list(pool.map(lambda s: _safe_create(prov, s), specs))
    total = time.monotonic() - t0
    stop.set()
    ok = [o for o in outcomes if not isinstance(o, str)]
    print(
        f"{args.concurrent} concurrent tenants: {len(ok)} ready, {args.concurrent - len(ok)} failed, "
        f"total {total:.1f} s, {total / max(1, len(ok)):.2f} s/tenant; peak RSS (provisioner + setups) "
        f"{peak['rss'] / 1048576:.0f} MB; this process max RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    for o in outcomes:
        if isinstance(o, str):
            print("  failure:", o)
    for spec in specs:
        drop_tenant(prov, prov.db_name(spec))
    print("(2-core machine shared with other engineers; figures vary with their load)")


def _safe_create(prov: Provisioner, spec: TenantSpec) -> CreateResult | str:
    try:
        return prov.create(spec)
    except Exception as exc:  # noqa: BLE001  (report every failure of the run, never hide one)
        return f"{spec.company.name}: {exc}"


if __name__ == "__main__":
    main()
