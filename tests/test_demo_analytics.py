"""The demo's production loop from the line: the simulator's analytics workcell publishes UMH ``_analytics``
→ MQTT → the ingest stores them → hf_mrp's cron applies them: an order on the workcell, started, its parts
produced, the machine's states as its time records. Started in the demo's own order (simulator, seed,
ingest), so the ingest learns the running order from the simulator's repeats."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DB_HOST, DB_PORT, DB_USER, connect, drop_database, run_odoo
from hf_testing import require_odoo, stop_processes
from test_end_to_end import INGEST, start, start_demo_plant

APPLY = 'env["hf.uns.analytics.event"]._cron_process_pending(); env.cr.commit()'


@pytest.fixture(scope="module")
def mrp_db() -> Iterator[str]:
    """A fresh database with hf_mrp (and hf_screens) installed, dropped at the end."""
    require_odoo()
    name = f"hf_pytest_mrp_{uuid.uuid4().hex[:8]}"
    run_odoo("-d", name, "-i", "hf_mrp", "--without-demo=all", "--stop-after-init", "--no-http", "--log-level=warn")
    yield name
    drop_database(name)


def query(db: str, sql: str) -> list[tuple[object, ...]]:
    conn = connect(db)
    try:
        with conn.cursor() as cr:
            cr.execute(sql)
            return cr.fetchall()
    finally:
        conn.close()


def test_the_simulated_line_runs_orders_in_odoo(mrp_db: str, private_broker: str, tmp_path: Path) -> None:
    processes = [start_demo_plant(tmp_path, mrp_db, "--analytics-mqtt-url", private_broker)]
    try:
        dsn = f"host={DB_HOST} port={DB_PORT} dbname={mrp_db} user={DB_USER}"
        processes.append(start([INGEST, "--mqtt-url", private_broker, "--dsn", dsn], tmp_path / "ingest.log"))
        produced: list[tuple[object, ...]] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not produced:
            time.sleep(10)
            run_odoo("shell", "-d", mrp_db, "--no-http", "--log-level=warn", stdin=APPLY)
            produced = query(
                mrp_db,
                """
                SELECT p.hf_external_work_order_id, w.state, w.qty_produced FROM mrp_production p
                  JOIN mrp_workorder w ON w.production_id = p.id
                  JOIN mrp_workcenter c ON c.id = w.workcenter_id
                 WHERE c.hf_uns_segment = 'assembly1' AND w.qty_produced > 0""",
            )
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in tmp_path.glob("*.log"))
        events = query(mrp_db, "SELECT event_type, state, error FROM hf_uns_analytics_event ORDER BY id")
        assert produced, f"no order of the line produced anything in Odoo; events {events}\n{logs}"
        external_id, _state, _qty = produced[0]
        assert str(external_id).startswith("SIM-assembly1-")
        applied = {kind for kind, state, _error in events if state == "done"}
        assert {"work-order/create", "work-order/start", "product/add", "state/add"} <= applied, events
        records = query(
            mrp_db,
            """
            SELECT r.hf_source, r.user_id FROM mrp_workcenter_productivity r
              JOIN mrp_workcenter c ON c.id = r.workcenter_id WHERE c.hf_uns_segment = 'assembly1'""",
        )
        assert records, "the line's states are the workcell's time records"
        assert all(source == "machine" for source, _user in records), f"an operator timer beside them: {records}"
    finally:
        stop_processes(processes)
