"""UMH `_analytics` events through `hf-ingest` (issue 18), the ingest's half: printed beside their targets.

    .venv/bin/python bench/bench_analytics_ingest.py [--events 20000]

1. inbound: distinct `product/add` events published at QoS 1 (paho), until all are rows of
   hf_uns_analytics_event (validated, workcell resolved, stored once, Odoo's cron triggered) — events/s
2. inbound lag: one event every 20 ms; publish → row committed (its received_at), p50 / p95
3. outbound: events queued as Odoo queues them (+ NOTIFY), until a subscriber has them all — events/s
4. outbound lag: one event at a time; commit of the queued row → at the subscriber, p50 / p95

Targets (issue 18): ≥ 200 events/s into MRP (hf_mrp's side adds the ORM work), lag p95 ≤ 5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg2
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "historian" / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "support"))  # hf_testing, which ingest_fixtures uses
from ingest_fixtures import LOCATION, PG_HOST, PG_PORT, dsn, historian_database, private_mosquitto  # noqa: E402

from hf_core.analytics import encode_event, event_key, event_topic  # noqa: E402

LOCATION_PATH = tuple(LOCATION.split("/"))
TOPIC = event_topic(LOCATION_PATH, "product/add")


def count(db: str, sql: str) -> int:
    with psycopg2.connect(dsn(db)) as conn, conn.cursor() as cr:
        cr.execute(sql)
        return int(cr.fetchone()[0])


def wait(condition: object, timeout: float = 120.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.005)
    raise TimeoutError("not done in time")


def payload(i: int, now_ms: int) -> bytes:
    return json.dumps(
        {"external_product_type_id": "P-7", "end_time_unix_ms": now_ms, "quantity": 1, "product_batch_id": f"B-{i}"}
    ).encode()


def inbound(db: str, port: int, events: int) -> tuple[float, list[float]]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    now = int(time.time() * 1000)
    messages = [payload(i, now) for i in range(events)]
    start = time.monotonic()
    for body in messages:
        client.publish(TOPIC, body, qos=1)
    wait(lambda: count(db, "SELECT count(*) FROM hf_uns_analytics_event") >= events)
    rate = events / (time.monotonic() - start)
    lags = []
    for i in range(100):
        sent = time.time()
        client.publish(TOPIC, payload(events + i, int(sent * 1000)), qos=1)
        time.sleep(0.02)
        lags.append(sent)
    wait(lambda: count(db, "SELECT count(*) FROM hf_uns_analytics_event") >= events + 100)
    with psycopg2.connect(dsn(db)) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT extract(epoch FROM received_at) FROM hf_uns_analytics_event ORDER BY id OFFSET %s", (events,)
        )
        stored = [float(row[0]) for row in cr.fetchall()]
    client.loop_stop()
    return rate, [at - sent for at, sent in zip(stored, lags, strict=True)]


def outbound(db: str, port: int, events: int) -> tuple[float, list[float]]:
    received: list[float] = []
    done = threading.Event()
    target = [events]

    def on_message(_client: mqtt.Client, _userdata: object, _message: mqtt.MQTTMessage) -> None:
        received.append(time.monotonic())
        if len(received) >= target[0]:
            done.set()

    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-subscriber")
    subscriber.on_message = on_message
    subscriber.connect("127.0.0.1", port)
    subscriber.subscribe(f"umh/v1/{LOCATION}/_analytics/shift/#", qos=1)
    subscriber.loop_start()
    time.sleep(0.3)
    conn = psycopg2.connect(dsn(db))
    cr = conn.cursor()
    topic = event_topic(LOCATION_PATH, "shift/add")
    rows = [encode_event({"start_time_unix_ms": i + 1, "end_time_unix_ms": i + 2}) for i in range(events + 50)]

    def queue(bodies: list[bytes]) -> None:
        cr.executemany(
            "INSERT INTO hf_uns_analytics_event (event_key, direction, topic, workcenter_id, company_id, "
            "event_type, payload, state) VALUES (%s, 'out', %s, 1, 1, 'shift/add', %s, 'pending')",
            [(event_key(topic, body), topic, body.decode()) for body in bodies],
        )
        cr.execute("NOTIFY hf_uns_outbound")
        conn.commit()

    queue(rows[:events])
    start = time.monotonic()  # committed: from here it is the publisher's work
    done.wait(120)
    rate = events / (received[-1] - start)
    lags = []
    for i in range(50):
        target[0] = events + i + 1
        done.clear()
        committed = time.monotonic()
        queue([rows[events + i]])
        done.wait(30)
        lags.append(received[-1] - committed)
        time.sleep(0.05)
    subscriber.loop_stop()
    conn.close()
    return rate, lags


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    with private_mosquitto() as port, historian_database(PG_HOST, PG_PORT) as db:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hf_historian.ingest",
                "--mqtt-url",
                f"mqtt://127.0.0.1:{port}",
                "--dsn",
                dsn(db),
                "--client-id",
                "bench-ingest",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.5)
            rate_in, lag_in = inbound(db, port, args.events)
            triggers = count(db, "SELECT count(*) FROM ir_cron_trigger")
            rate_out, lag_out = outbound(db, port, args.events // 4)
        finally:
            process.terminate()
            process.wait(timeout=20)
    print(
        f"inbound  {args.events} product/add events: {rate_in:,.0f} events/s stored (target >= 200/s into MRP); "
        f"Odoo's cron triggered {triggers} times"
    )
    print(
        f"inbound  lag publish -> row committed: p50 {statistics.median(lag_in) * 1000:.1f} ms, "
        f"p95 {p95(lag_in) * 1000:.1f} ms (target p95 <= 5 s to the work order)"
    )
    print(f"outbound {args.events // 4} shift/add events: {rate_out:,.0f} events/s published at QoS 1 in order")
    print(
        f"outbound lag commit -> subscriber: p50 {statistics.median(lag_out) * 1000:.1f} ms, "
        f"p95 {p95(lag_out) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
