"""UMH ``_analytics`` events into Odoo MRP: events/s applied by the cron, beside an integrator's RPC path.

What it does, on a throwaway database (``hf_analytics_bench``) and a private Odoo on port 18184:

1. seeds 10 workcells, each with a product of its own (internal reference = UMH's external product id);
2. **ours**: the events of 5 orders per workcell (work-order/create, work-order/start, 5 product/add with
   bad parts, work-order/stop: 8 events an order) are stored as the ingest stores them (one SQL INSERT per
   batch, pending) and committed; then the cron that applies them (``_cron_process_pending``, started over
   XML-RPC with ir.cron's "Run manually", as the ingest's wake-up starts it) runs until none is pending.
   Twice: with a workcell's product/add events in a row booked together (one quantity update and one scrap
   order a run: hf_mrp's path), and one at a time (system parameter ``hf_mrp.event_run`` = 1: the path
   before runs were booked) as the baseline; once more with each order created and closed alone (system
   parameter ``hf_mrp.order_batch`` = 0; by default the cron creates the orders of its work-order/create
   events in one ``create`` and closes those its work-order/stop events finished in one ``button_mark_done``);
   the first two again for long orders (one order per workcell with 40 product/add: a line reports its
   parts every few seconds while an order lasts hours); and both again for a line's mix, the long orders
   with the machine's state before each report and a stop every fourth cycle (50 state/add an order: UMH
   Classic sends a state at each change) — a workcell's state/add in a row are recorded together too;
   then **Odoo's own floor**: as many orders as the short run's, created and confirmed in one ``create`` +
   ``action_confirm`` and marked done in one ``button_mark_done`` in an ``odoo shell``, with no event between:
   the least an order costs with MRP the truth, so the most events/s orders of 8 events can reach;
3. **counter lag**: Odoo restarted with one cron worker; a workcell with a good-part counter runs a work order;
   each new counter value is stored through the historian's writer and the counters job woken as the ingest
   wakes it (``hf_historian.ingest.analytics.CronWaker``: a trigger and Postgres' NOTIFY); the time until the
   work order's produced quantity shows it, p50/p95, beside the cron worker's own wake-up (a trigger of a job
   that does nothing);
4. **baseline**: the same operations for as many other orders done one RPC at a time over XML-RPC, as an
   integrator would without hf_mrp (find the product, create and confirm the MO, start its work order, write
   the quantities and validate a scrap order per product/add, finish the work order, mark the MO done).

Targets (issue 18): ≥ 200 events/s, counter to work order p95 ≤ 5 s. Run:
``.venv/bin/python bench/bench_analytics.py``. Prints figures, asserts none. ``--profile`` instead stores one
more run (``--mix short|long|line``) and applies it in an ``odoo shell`` under cProfile, printing its top
entries (where the cron's time goes); ``--help`` lists the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from bench_historian import connect, drop_db  # the historian bench's throwaway-database helpers
from bench_screens import pct

from hf_core.analytics import encode_event, event_key, event_topic
from hf_historian.ingest.analytics import COUNTERS_CRON, CronWaker
from hf_historian.writer import HistorianWriter, Sample

ROOT = Path(__file__).resolve().parents[1]
DB = os.environ.get("HF_BENCH_ANALYTICS_DB", "hf_analytics_bench")
PORT = int(os.environ.get("HF_BENCH_ANALYTICS_PORT", "18184"))
URL = f"http://127.0.0.1:{PORT}"
WORKCELLS = int(os.environ.get("HF_BENCH_ANALYTICS_WORKCELLS", "10"))
ORDERS = int(os.environ.get("HF_BENCH_ANALYTICS_ORDERS", "5"))  # per workcell
ADDS = 5  # product/add events per order
LONG_ADDS = int(os.environ.get("HF_BENCH_ANALYTICS_LONG_ADDS", "40"))  # product/add events of a long order
T0_MS = 1_795_000_000_000
PRODUCING, UNSPECIFIED_STOP = 10000, 40000  # UMH Classic state codes


HISTORY = int(os.environ.get("HF_BENCH_ANALYTICS_HISTORY", "50000"))  # a month of a state a minute, and more
HISTORY_STATES = 200  # state/add events applied on each of the two workcells


def run_t0_ms(run: int) -> int:
    """When the events of ``run`` begin (epoch ms): runs far apart, so no two share a time."""
    return T0_MS + run * 1_000_000_000


def event_row(cell: dict[str, Any], event_type: str, payload: dict[str, Any]) -> tuple[str, str, int, str, str]:
    """The row the ingest stores for an event of ``cell``: (key, topic, workcenter id, event type, payload)."""
    topic = event_topic(cell["path"].split("/"), event_type)
    body = encode_event(payload)
    return event_key(topic, body), topic, cell["workcenter"], event_type, body.decode()


def give_history(conn: Any, cell: dict[str, Any], records: int, before: datetime) -> None:  # noqa: ANN401  (a psycopg2 connection)
    """``records`` closed machine states of a minute each on ``cell``, all ending by ``before``: what a workcell
    that has sent a state a minute for weeks has recorded."""
    with conn.cursor() as cr:
        cr.execute(
            "INSERT INTO mrp_workcenter_productivity (workcenter_id, company_id, loss_id, loss_type, description,"
            " date_start, date_end, duration, hf_source, hf_machine_state, hf_umh_state, create_date, write_date)"
            " SELECT w.id, w.company_id, l.id, l.loss_type, 'UMH state 10000 (history)', t, t + interval '1 minute',"
            " 1, 'machine', 'running', 10000, now(), now()"
            " FROM mrp_workcenter w, mrp_workcenter_productivity_loss l,"
            " generate_series(%s::timestamp - make_interval(mins => %s), %s::timestamp - interval '1 minute',"
            " interval '1 minute') t"
            " WHERE w.id = %s AND l.id = (SELECT res_id FROM ir_model_data WHERE module = 'mrp'"
            " AND name = 'block_reason7')",
            (before, records, before, cell["workcenter"]),
        )
        # what autovacuum does for a table grown over weeks; a bulk insert leaves the planner's figures behind
        cr.execute("ANALYZE mrp_workcenter_productivity")
    conn.commit()


def states_after_history(conn: Any, rpc: Rpc, cells: list[dict[str, Any]], run: int) -> dict[str, float]:  # noqa: ANN401  (a psycopg2 connection)
    """state/add applied one at a time (as between a work order's starts and stops) on a workcell with no
    history, then on one with ``HISTORY`` recorded states: events/s each."""
    rpc("ir.config_parameter", "set_param", "hf_mrp.event_run", "1")
    fresh, old = cells[-2], cells[-1]
    t0_ms = run_t0_ms(run)
    give_history(conn, old, HISTORY, datetime.fromtimestamp(t0_ms / 1000, UTC).replace(tzinfo=None))
    rates = {}
    for name, cell in (("fresh", fresh), ("history", old)):
        states = [
            {"state": UNSPECIFIED_STOP if n % 4 == 3 else PRODUCING, "start_time_unix_ms": t0_ms + n * 30_000}
            for n in range(HISTORY_STATES)
        ]
        insert_events(conn, [event_row(cell, "state/add", payload) for payload in states])
        t0 = time.perf_counter()
        apply_pending(conn, rpc)
        rates[name] = HISTORY_STATES / (time.perf_counter() - t0)
    rpc("ir.config_parameter", "set_param", "hf_mrp.event_run", "")
    return rates


def line_states(adds: int) -> int:
    """state/add events of a line's order of ``adds`` product/add (see order_events)."""
    return adds + adds // 4


def say(message: str) -> None:
    print(f"[bench_analytics] {message}", file=sys.stderr, flush=True)


def odoo_args(*args: str) -> list[str]:
    return [
        str(ROOT / "scripts" / "odoo.sh"),
        "-d",
        DB,
        "--db-filter",
        f"^{DB}$",
        "--without-demo=all",
        "--max-cron-threads",
        "0",
        "--log-level",
        "warn",
        *args,
    ]


class Rpc:
    """Odoo's external API, one call a request, as an integrator uses it."""

    def __init__(self) -> None:
        self.uid = xmlrpc.client.ServerProxy(f"{URL}/xmlrpc/2/common").authenticate(DB, "admin", "admin", {})
        self.models = xmlrpc.client.ServerProxy(f"{URL}/xmlrpc/2/object", allow_none=True)
        self.calls = 0

    def __call__(self, model: str, method: str, *args: object, **kwargs: object) -> Any:  # noqa: ANN401  (an XML-RPC result)
        self.calls += 1
        try:
            return self.models.execute_kw(DB, self.uid, "admin", model, method, list(args), kwargs)
        except xmlrpc.client.Fault as fault:
            # a button that returns nothing (button_start): done and committed, only its None is refused
            if "cannot marshal None" in fault.faultString:
                return None
            raise


def seed(rpc: Rpc) -> list[dict[str, Any]]:
    company_id = rpc("res.users", "read", [rpc.uid], ["company_id"])[0]["company_id"][0]
    rpc("res.company", "write", [company_id], {"hf_uns_segment": "bench"})
    site = rpc("hf.uns.site", "create", {"name": "Bench", "segment": "bench"})
    area = rpc("hf.uns.area", "create", {"name": "Hall", "segment": "hall", "site_id": site})
    line = rpc("hf.uns.line", "create", {"name": "Line", "segment": "line", "area_id": area})
    cells = []
    for i in range(WORKCELLS):
        segment = f"cell{i + 1:02d}"
        wc = rpc(
            "mrp.workcenter", "create", {"name": f"Cell {i + 1:02d}", "hf_uns_segment": segment, "hf_line_id": line}
        )
        path = rpc("mrp.workcenter", "read", [wc], ["hf_uns_path"])[0]["hf_uns_path"]
        code = f"P-{i + 1:02d}"
        product = rpc(
            "product.product", "create", {"name": f"Part {i + 1:02d}", "default_code": code, "is_storable": True}
        )
        tmpl = rpc("product.product", "read", [product], ["product_tmpl_id"])[0]["product_tmpl_id"][0]
        # the integrator's path needs a routing on the workcell, as hf_mrp makes one for its first order
        bom = rpc(
            "mrp.bom",
            "create",
            {
                "product_tmpl_id": tmpl,
                "product_qty": 1,
                "operation_ids": [(0, 0, {"name": f"Cell {i + 1:02d}", "workcenter_id": wc, "time_cycle_manual": 0.1})],
            },
        )
        cells.append({"workcenter": wc, "path": path, "code": code, "product": product, "bom": bom})
    return cells


def order_events(
    cell: dict[str, Any], external_id: str, t0_ms: int, adds: int = ADDS, states: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "work-order/create",
            {"external_work_order_id": external_id, "quantity": 100, "product": {"external_product_id": cell["code"]}},
        ),
        ("work-order/start", {"external_work_order_id": external_id, "start_time_unix_ms": t0_ms}),
    ]
    for n in range(adds):
        if states:
            # a line's own rhythm: the machine runs each cycle, and every fourth one it stops a while
            cycle_ms = t0_ms + n * 60_000
            events.append(("state/add", {"state": PRODUCING, "start_time_unix_ms": cycle_ms}))
            if n % 4 == 3:
                events.append(("state/add", {"state": UNSPECIFIED_STOP, "start_time_unix_ms": cycle_ms + 50_000}))
        events.append(
            (
                "product/add",
                {
                    "external_product_type_id": cell["code"],
                    "start_time_unix_ms": t0_ms + n * 60_000,
                    "end_time_unix_ms": t0_ms + (n + 1) * 60_000,
                    "quantity": 8,
                    "bad_quantity": 1,
                },
            )
        )
    events.append(
        ("work-order/stop", {"external_work_order_id": external_id, "end_time_unix_ms": t0_ms + (adds + 1) * 60_000})
    )
    return events


def ours(
    conn: Any,  # noqa: ANN401  (a psycopg2 connection)
    rpc: Rpc,
    cells: list[dict[str, Any]],
    run: int,
    orders: int = ORDERS,
    adds: int = ADDS,
    one_at_a_time: bool = False,
    order_batch: bool = True,
    states: bool = False,
) -> dict[str, float]:
    """Run ``run`` (its own orders and times): ``orders`` per workcell of ``adds`` product/add events each."""
    rpc("ir.config_parameter", "set_param", "hf_mrp.event_run", "1" if one_at_a_time else "")
    rpc("ir.config_parameter", "set_param", "hf_mrp.order_batch", "1" if order_batch else "0")
    events = store(conn, cells, run, orders, adds, states)
    t0 = time.perf_counter()
    runs, failed = apply_pending(conn, rpc)
    elapsed = time.perf_counter() - t0
    if failed:
        with conn.cursor() as cr:
            cr.execute("SELECT event_type, error FROM hf_uns_analytics_event WHERE state = 'failed' LIMIT 3")
            say(f"{failed} events failed, e.g. {cr.fetchall()}")
        conn.commit()
    return {"events": events, "seconds": elapsed, "failed": failed, "runs": runs}


def apply_pending(conn: Any, rpc: Rpc) -> tuple[int, int]:  # noqa: ANN401  (a psycopg2 connection)
    """Run the cron that applies the events (ir.cron's "Run manually", as the ingest's wake-up starts it) until
    none is pending: (cron runs, events failed)."""
    cron = rpc("ir.model.data", "check_object_reference", "hf_uns", "ir_cron_process_analytics_events")[1]
    runs = 0
    while True:
        rpc("ir.cron", "method_direct_trigger", [cron])
        runs += 1
        with conn.cursor() as cr:
            cr.execute(
                "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed')"
                " FROM hf_uns_analytics_event WHERE direction = 'in'"
            )
            pending, failed = cr.fetchone()
        conn.commit()
        if not pending or runs > 1000:
            return runs, failed


def odoo_shell(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in an ``odoo shell`` on the bench's database (no HTTP), its output captured."""
    return subprocess.run(
        [str(ROOT / "scripts" / "odoo.sh"), "shell", *odoo_args()[1:], "--no-http"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )


def store(
    conn: Any,  # noqa: ANN401  (a psycopg2 connection)
    cells: list[dict[str, Any]],
    run: int,
    orders: int,
    adds: int,
    states: bool = False,
) -> int:
    """Store the events of ``run`` as the ingest does (pending, committed): how many."""
    rows = []
    for o in range(orders):
        for cell in cells:
            t0_ms = run_t0_ms(run) + o * 3_600_000
            for event_type, payload in order_events(cell, f"UNS-{run}-{cell['code']}-{o}", t0_ms, adds, states):
                rows.append(event_row(cell, event_type, payload))
    insert_events(conn, rows)
    return len(rows)


def insert_events(conn: Any, rows: list[tuple[str, str, int, str, str]]) -> None:  # noqa: ANN401  (a psycopg2 connection)
    """Store (key, topic, workcenter id, event type, payload) rows as the ingest does: pending, committed."""
    with conn.cursor() as cr:
        cr.executemany(
            "INSERT INTO hf_uns_analytics_event (event_key, direction, topic, workcenter_id, company_id, event_type,"
            " payload, received_at, state, create_date, write_date)"
            " SELECT %s, 'in', %s, w.id, w.company_id, %s, %s, now() at time zone 'utc', 'pending',"
            " now() at time zone 'utc', now() at time zone 'utc' FROM mrp_workcenter w WHERE w.id = %s",
            [(key, topic, event_type, body, wc) for key, topic, wc, event_type, body in rows],
        )
    conn.commit()


PROFILE_SCRIPT = """
import cProfile, pstats, time
Event = env["hf.uns.analytics.event"]
profiler = cProfile.Profile()
t0 = time.perf_counter()
profiler.enable()
while Event._cron_process_pending():
    env.cr.commit()
profiler.disable()
env.cr.commit()
print("PROFILE applied in %.2f s" % (time.perf_counter() - t0))
stats = pstats.Stats(profiler)
stats.sort_stats("cumulative").print_stats(%(top)d)
stats.sort_stats("tottime").print_stats(%(top)d)
"""


FLOOR_SCRIPT = """
import json, time
cells = json.loads(%(cells)r)
Production = env["mrp.production"]
def orders(count, tag):
    vals = []
    for n in range(count):
        cell = cells[n %% len(cells)]
        product = env["product.product"].browse(cell["product"])
        vals.append({"product_id": product.id, "product_qty": 100, "product_uom_id": product.uom_id.id,
                     "bom_id": cell["bom"], "origin": "FLOOR-%%s-%%d" %% (tag, n)})
    t0 = time.perf_counter()
    productions = Production.create(vals)
    productions.action_confirm()
    env.cr.commit()
    t1 = time.perf_counter()
    for production in productions:
        production.qty_producing = 40
        production._set_qty_producing()
    productions._hf_mrp_mark_done()
    env.cr.commit()
    t2 = time.perf_counter()
    assert set(productions.mapped("state")) == {"done"}, productions.mapped("state")
    return t1 - t0, t2 - t1
orders(5, "warm")
opened, closed = orders(%(count)d, "timed")
print("FLOOR %%.6f %%.6f" %% (opened, closed))
"""


def floor(cells: list[dict[str, Any]], count: int) -> dict[str, float]:
    """What Odoo's own ORM needs for an order with no event in between: ``count`` manufacturing orders created
    and confirmed in one ``create`` + ``action_confirm``, then given their quantity and marked done in one
    ``button_mark_done``, committed, in ``odoo shell`` (no RPC): the least any path keeping MRP the truth pays
    per order, whatever it does for the events between."""
    result = odoo_shell(FLOOR_SCRIPT % {"cells": json.dumps(cells), "count": count})
    figures = [line.split() for line in result.stdout.splitlines() if line.startswith("FLOOR ")]
    if result.returncode or not figures:
        raise RuntimeError(f"the floor's odoo shell failed: {result.stderr[-4000:]}")
    opened, closed = float(figures[0][1]), float(figures[0][2])
    return {"orders": count, "open": opened, "close": closed, "per_order": (opened + closed) / count}


def profile(
    conn: Any,  # noqa: ANN401  (a psycopg2 connection)
    cells: list[dict[str, Any]],
    run: int,
    orders: int,
    adds: int,
    top: int,
    states: bool = False,
) -> None:
    """Store one run and apply it in ``odoo shell`` under cProfile: prints the top entries."""
    events = store(conn, cells, run, orders, adds, states)
    say(f"profile: {events} events stored; applying them in odoo shell under cProfile")
    result = odoo_shell(PROFILE_SCRIPT.replace("%(top)d", str(top)))
    print(result.stdout)
    if result.returncode:
        print(result.stderr[-4000:], file=sys.stderr)


def rate(run: dict[str, float]) -> float:
    return run["events"] / run["seconds"]


def baseline(rpc: Rpc, cells: list[dict[str, Any]], orders: int) -> dict[str, float]:
    """The same operations one RPC at a time: what an integrator's bridge does for each event."""
    events = 0
    calls0 = rpc.calls
    t0 = time.perf_counter()
    done = 0
    for o in range(orders):
        cell = cells[o % len(cells)]
        # work-order/create
        product = rpc("product.product", "search", [("default_code", "=", cell["code"])], limit=1)[0]
        mo = rpc(
            "mrp.production",
            "create",
            {"product_id": product, "product_qty": 100, "bom_id": cell["bom"], "origin": f"RPC-{o}"},
        )
        rpc("mrp.production", "action_confirm", [mo])
        events += 1
        # work-order/start
        wo = rpc(
            "mrp.workorder", "search", [("production_id", "=", mo), ("workcenter_id", "=", cell["workcenter"])], limit=1
        )[0]
        rpc("mrp.workorder", "button_start", [wo])
        events += 1
        # product/add, ADDS times: produced quantity, and a scrap order for the bad part
        produced = 0
        for _n in range(ADDS):
            produced += 8
            rpc("mrp.workorder", "write", [wo], {"qty_produced": produced})
            rpc("mrp.production", "write", [mo], {"qty_producing": produced})
            scrap = rpc(
                "stock.scrap",
                "create",
                {"product_id": product, "scrap_qty": 1, "production_id": mo, "workorder_id": wo},
            )
            rpc("stock.scrap", "do_scrap", [scrap])
            events += 1
        # work-order/stop
        rpc("mrp.workorder", "button_finish", [wo])
        rpc(
            "mrp.production",
            "button_mark_done",
            [mo],
            context={"skip_backorder": True, "mo_ids_to_backorder": [], "skip_consumption": True},
        )
        events += 1
        done += rpc("mrp.production", "read", [mo], ["state"])[0]["state"] == "done"
    elapsed = time.perf_counter() - t0
    return {"events": events, "seconds": elapsed, "calls": rpc.calls - calls0, "done": done, "orders": orders}


def counter_lag(conn: Any, rpc: Rpc, line_cell: dict[str, Any], samples: int = 20) -> dict[str, Any]:  # noqa: ANN401  (a psycopg2 connection)
    """Stored counter value → the running work order's qty_produced, through the cron worker."""
    wc = line_cell["workcenter"]
    tag = rpc("hf.uns.tag", "create", {"name": "good", "workcenter_id": wc, "data_type": "int", "role": "good_count"})
    mo = rpc(
        "mrp.production",
        "create",
        {"product_id": line_cell["product"], "product_qty": 1000, "bom_id": line_cell["bom"]},
    )
    rpc("mrp.production", "action_confirm", [mo])
    wo = rpc("mrp.workorder", "search", [("production_id", "=", mo)], limit=1)[0]
    rpc("mrp.workorder", "button_start", [wo])
    writer = HistorianWriter(conn.cursor())
    waker = CronWaker(conn.dsn)

    def store(value: int) -> float:
        writer.write([Sample(tag_id=tag, time_ms=round(time.time() * 1000), value=float(value))])
        waker.want(COUNTERS_CRON)
        with conn.cursor() as cr:
            waker.flush(cr)
        conn.commit()
        waker.notify(DB)
        return time.perf_counter()

    def wait(sql: str, args: tuple[Any, ...], timeout: float = 30.0) -> float | None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with conn.cursor() as cr:
                cr.execute(sql, args)
                done = cr.fetchone()[0]
            conn.commit()
            if done:
                return time.perf_counter()
            time.sleep(0.02)
        return None

    store(0)  # the counter's first value: counting starts there
    wait("SELECT hf_mrp_counted_until IS NOT NULL FROM hf_uns_tag WHERE id = %s", (tag,), 120.0)
    lags, missed = [], 0
    for value in range(1, samples + 1):
        time.sleep(0.6)  # the ingest wakes a job at most every 0.5 s
        t0 = store(value)
        t1 = wait("SELECT qty_produced >= %s FROM mrp_workorder WHERE id = %s", (value, wo))
        if t1 is None:
            missed += 1
        else:
            lags.append(t1 - t0)
    # the cron worker's own wake-up: the same trigger for a job that finds nothing new
    wakeups = []
    for _n in range(5):
        time.sleep(0.6)
        with conn.cursor() as cr:
            cr.execute("SELECT now()")
        conn.commit()
        before = time.perf_counter()
        waker.want(COUNTERS_CRON)
        with conn.cursor() as cr:
            waker.flush(cr)
        conn.commit()
        waker.notify(DB)
        done = wait(
            "SELECT count(*) = 0 FROM ir_cron_trigger t JOIN ir_model_data d ON d.res_id = t.cron_id"
            " AND d.model = 'ir.cron' AND d.module = %s AND d.name = %s",
            COUNTERS_CRON,
        )
        if done is not None:
            wakeups.append(done - before)
    return {"lags": lags, "missed": missed, "wakeups": wakeups}


SERVER: subprocess.Popen[bytes] | None = None


def start_server(*args: str) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        odoo_args("--http-port", str(PORT), *args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(240):
        try:
            if requests.get(f"{URL}/web/login", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.5)
    return server


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profile", action="store_true", help="only profile the cron on one run of --mix (cProfile, top entries)"
    )
    parser.add_argument("--top", type=int, default=40, help="entries of the profile printed (default 40)")
    parser.add_argument(
        "--history-only",
        action="store_true",
        help="only state/add on a workcell with a long history, beside one with none",
    )
    parser.add_argument(
        "--mix",
        choices=("short", "long", "line"),
        default="short",
        help="with --profile: short orders (default), long orders, or a line's mix (state/add between the reports)",
    )
    args = parser.parse_args()
    global SERVER
    say(f"database {DB}: installing hf_mrp")
    drop_db(DB)
    subprocess.run(
        odoo_args("-i", "hf_mrp", "--stop-after-init", "--http-port", str(PORT)), check=True, stdout=subprocess.DEVNULL
    )
    SERVER = start_server()
    conn = connect(DB)
    try:
        rpc = Rpc()
        say(f"seeding {WORKCELLS} workcells with a product and its routing each")
        cells = seed(rpc)
        if args.profile:
            orders, adds = (ORDERS, ADDS) if args.mix == "short" else (1, LONG_ADDS)
            profile(conn, cells, 9, orders, adds, args.top, args.mix == "line")
            return 0
        if args.history_only:
            history = states_after_history(conn, rpc, cells, 8)
            print(
                f"state/add one at a time: {history['history']:.1f} events/s with {HISTORY} states recorded, "
                f"{history['fresh']:.1f} events/s on a workcell with none"
            )
            return 0
        say(
            f"ours: {WORKCELLS * ORDERS} orders × {ADDS + 3} events stored as the ingest stores them, then applied;"
            f" one at a time, then runs booked together; then {WORKCELLS} orders × {LONG_ADDS + 3} events both ways"
        )
        single = ours(conn, rpc, cells, 1, one_at_a_time=True)
        say(f"ours, one at a time: {single}")
        mine = ours(conn, rpc, cells, 2)
        say(f"ours: {mine}")
        unbatched = ours(conn, rpc, cells, 5, order_batch=False)
        say(f"ours, orders not batched: {unbatched}")
        long_single = ours(conn, rpc, cells, 3, orders=1, adds=LONG_ADDS, one_at_a_time=True)
        say(f"ours, long orders, one at a time: {long_single}")
        long_mine = ours(conn, rpc, cells, 4, orders=1, adds=LONG_ADDS)
        say(f"ours, long orders: {long_mine}")
        line = ours(conn, rpc, cells, 6, orders=1, adds=LONG_ADDS, states=True)
        say(f"ours, a line's mix: {line}")
        line_single = ours(conn, rpc, cells, 7, orders=1, adds=LONG_ADDS, one_at_a_time=True, states=True)
        say(f"ours, a line's mix, one at a time: {line_single}")
        history = states_after_history(conn, rpc, cells, 8)
        say(f"state/add one at a time, fresh workcell and one with {HISTORY} states: {history}")
        least = floor(cells, WORKCELLS * ORDERS)
        say(f"floor: {least}")
        orders = max(1, WORKCELLS * ORDERS // 5)
        say(f"baseline: {orders} orders, the same operations one XML-RPC call at a time")
        base = baseline(rpc, cells, orders)
        say(f"baseline: {base}")
        say("counter lag: Odoo again, with one cron worker")
        stop_server(SERVER)
        SERVER = None
        SERVER = start_server("--max-cron-threads", "1")
        rpc = Rpc()
        lag = counter_lag(conn, rpc, cells[0])
        with conn.cursor() as cr:
            cr.execute(
                "SELECT count(*), sum(qty_producing) FROM mrp_production "
                "WHERE hf_external_work_order_id IS NOT NULL AND state = 'done'"
            )
            done_orders, produced = cr.fetchone()
        conn.commit()
        expected_orders = 3 * WORKCELLS * ORDERS + 4 * WORKCELLS
        expected_parts = 8 * (3 * WORKCELLS * ORDERS * ADDS + 4 * WORKCELLS * LONG_ADDS)
        ours_rate = mine["events"] / mine["seconds"]
        base_rate = base["events"] / base["seconds"]
        print()
        print("_analytics events into MRP (hf_mrp)                     figure          baseline / target")
        print(
            f"applied by the cron (_cron_process_pending)      {ours_rate:8.1f} events/s   target ≥ 200 events/s "
            f"({mine['events']} events in {mine['seconds']:.1f} s, {mine['runs']} cron runs, "
            f"{mine['failed']} failed)"
        )
        print(
            f"  the same, each order created and closed alone  {rate(unbatched):8.1f} events/s   "
            f"(hf_mrp.order_batch = 0: {unbatched['events']} events in {unbatched['seconds']:.1f} s, "
            f"{unbatched['failed']} failed)"
        )
        print(
            f"  the same, product/add one at a time            {rate(single):8.1f} events/s   (the path before runs "
            f"were booked: {single['events']} events in {single['seconds']:.1f} s, {single['failed']} failed)"
        )
        print(
            f"long orders ({LONG_ADDS} product/add each), runs booked {rate(long_mine):8.1f} events/s   "
            f"({long_mine['events']} events in {long_mine['seconds']:.1f} s, {long_mine['failed']} failed)"
        )
        print(
            f"  the same, product/add one at a time            {rate(long_single):8.1f} events/s   "
            f"({long_single['events']} events in {long_single['seconds']:.1f} s, {long_single['failed']} failed)"
        )
        print(
            f"a line's mix ({LONG_ADDS} product/add, {line_states(LONG_ADDS)} state/add an order)"
            f" {rate(line):8.1f} events/s   ({line['events']} events in {line['seconds']:.1f} s, "
            f"{line['failed']} failed)"
        )
        print(
            f"  the same, each event on its own                {rate(line_single):8.1f} events/s   "
            f"({line_single['events']} events in {line_single['seconds']:.1f} s, {line_single['failed']} failed)"
        )
        print(
            f"state/add one at a time, {HISTORY} states recorded {history['history']:8.1f} events/s   "
            f"(the same on a workcell with none: {history['fresh']:.1f} events/s)"
        )
        print(
            f"Odoo's own floor: an order opened and closed     {least['per_order'] * 1000:8.1f} ms/order    "
            f"({least['orders']} orders in one create + action_confirm: {least['open']:.1f} s, in one "
            f"button_mark_done: {least['close']:.1f} s; at most {(ADDS + 3) / least['per_order']:.0f} events/s "
            f"for {ADDS + 3}-event orders, were every other event free)"
        )
        print(
            f"one XML-RPC call at a time (an integrator)       {base_rate:8.1f} events/s   "
            f"({base['events']} events, {base['calls']} calls in {base['seconds']:.1f} s)"
        )
        print(f"ratio                                            {ours_rate / base_rate:8.1f} ×")
        print(
            f"counter value stored → WO quantity p50          {pct(lag['lags'], 50) * 1000:8.0f} ms       "
            f"cron worker's wake-up alone p50 {pct(lag['wakeups'], 50) * 1000:.0f} ms"
        )
        print(
            f"counter value stored → WO quantity p95          {pct(lag['lags'], 95) * 1000:8.0f} ms       "
            f"target ≤ 5000 ms ({len(lag['lags'])} samples, {lag['missed']} not seen within 30 s)"
        )
        print(
            f"orders closed from the UNS                       {done_orders:8d}          of {expected_orders}, "
            f"{produced or 0:.0f} parts produced (expected {expected_parts}); "
            f"baseline closed {base['done']} of {base['orders']}"
        )
        return 0
    finally:
        conn.close()
        if SERVER is not None:
            stop_server(SERVER)
        drop_db(DB)


if __name__ == "__main__":
    sys.exit(main())
