"""Historian and ingest benchmarks (issue 3), printed side by side with their baselines and targets.

    .venv/bin/python bench/bench_historian.py [--samples 1000000]

1. MQTT → historian through `hf-collector ingest` (1,000 tags, 10 tags per message, QoS 1; the load comes
   from a lean generator of pre-encoded PUBLISH packets, as from many collectors at once)
2. raw COPY of the same rows into the same table (the physical limit)
3. the Odoo-ORM way: one create() per sample (as OCA's iot modules store inputs)
4. reads through the read API (downsampled day, 30 days from rollups, latest of 1,000 tags)
5. peak RSS of the ingest process (and, with --unknown-flood SECONDS, while every message names unknown tags)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "historian" / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "support"))  # hf_testing, which ingest_fixtures uses
from ingest_fixtures import PG_HOST, PG_PORT, PG_USER, private_mosquitto  # noqa: E402

from hf_historian import reader, schema  # noqa: E402
from hf_historian.ingest import mqtt_wire as wire  # noqa: E402

TAGS_PER_MESSAGE = 10
WORKCELLS = 100


def create_db(tags: int = TAGS_PER_MESSAGE * WORKCELLS) -> str:
    name = f"hf_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    admin.close()
    with connect(name) as conn, conn.cursor() as cr:
        cr.execute((ROOT / "historian/tests/sql/hf_uns_minimal.sql").read_text())
        for w in range(WORKCELLS):
            cr.execute(
                "INSERT INTO mrp_workcenter (name, company_id, hf_uns_path) VALUES (%s, 1, %s) RETURNING id",
                (f"cell{w}", f"acme/bench/area/line/cell{w}"),
            )
            wid = cr.fetchone()[0]
            for t in range(tags // WORKCELLS):
                cr.execute(
                    "INSERT INTO hf_uns_tag (name, workcenter_id, company_id, data_type, role, topic, "
                    "historian, active, retention_class) "
                    "VALUES (%s, %s, 1, 'float', 'plain', %s, true, true, 'standard')",
                    (f"t{t}", wid, f"umh/v1/acme/bench/area/line/cell{w}/_historian/t{t}"),
                )
        schema.ensure_schema(cr)
    return name


def drop_db(name: str) -> None:
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def connect(name: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=name)


def count(name: str) -> int:
    with connect(name) as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM hf_historian_sample")
        return int(cr.fetchone()[0])


def progress(name: str) -> int:
    """Samples stored so far, from the 1-minute rollups (kept in the samples' own transaction; every bench
    value is numeric). A few thousand rows: polling count(*) of the samples table instead cost PostgreSQL
    a large share of the CPU the ingest needs. The final figure is a real count(*)."""
    with connect(name) as conn, conn.cursor() as cr:
        cr.execute("SELECT coalesce(sum(count), 0) FROM hf_historian_rollup_1m")
        return int(cr.fetchone()[0])


def messages(total_samples: int, start_ms: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(total_samples // TAGS_PER_MESSAGE):
        cell = i % WORKCELLS
        ts = start_ms + (i // WORKCELLS) * 10
        body = {"timestamp_ms": ts, **{f"t{t}": (i * 7 + t) % 1000 / 10 for t in range(TAGS_PER_MESSAGE)}}
        out.append((f"umh/v1/acme/bench/area/line/cell{cell}/_historian", json.dumps(body).encode()))
    return out


def _v311_publish(topic: bytes, payload: bytes, packet_id: int) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + packet_id.to_bytes(2, "big") + payload
    return bytes([0x32]) + wire.varint(len(body)) + body


def encode_publishes(batch: list[tuple[str, bytes]]) -> list[bytes]:
    return [_v311_publish(topic.encode(), payload, i % 65535 + 1) for i, (topic, payload) in enumerate(batch)]


def publish_fast(port: int, packets: list[bytes], window: int = 1000) -> float:
    """Publish ``packets`` (:func:`encode_publishes`) as fast as the broker takes them; return the seconds.

    The load stands for many edge collectors at once. paho tops out near 14,000 messages/s here and would
    hold a core the ingest needs, so this sends pre-encoded MQTT 3.1.1 PUBLISH packets (as paho's default
    protocol) over one socket, ``window`` unacknowledged at a time, counting the broker's PUBACKs."""
    client_id = f"bench-load-{uuid.uuid4().hex[:6]}".encode()
    connect_body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"\x10" + wire.varint(len(connect_body)) + connect_body)
        connack = sock.recv(4)
        assert connack[:2] == b"\x20\x02" and connack[3] == 0, connack
        start = time.perf_counter()
        sent = acked = 0
        pending = b""
        while acked < len(packets):
            room = min(len(packets) - sent, window - (sent - acked))
            if room > 0:
                sock.sendall(b"".join(packets[sent : sent + room]))
                sent += room
            pending += sock.recv(1 << 16)
            whole = len(pending) // 4  # PUBACKs only (4 bytes each) on this connection
            acked += whole
            pending = pending[whole * 4 :]
        elapsed = time.perf_counter() - start
        sock.sendall(b"\xe0\x00")
    return elapsed


def ingest_command(port: int, db: str, client_id: str, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hf_historian.ingest",
        "--mqtt-url",
        f"mqtt://127.0.0.1:{port}",
        "--dsn",
        f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}",
        "--client-id",
        client_id,
        "--stats-interval",
        "5",
        "--workers",
        str(workers),
    ]


def watch_peak_rss(process: subprocess.Popen[bytes]) -> list[int]:
    """Peak RSS of ``process`` and its children (the workers) together, updated until it exits."""
    peak = [0]

    def watch() -> None:
        proc = psutil.Process(process.pid)
        while process.poll() is None:
            with contextlib.suppress(psutil.Error):
                tree = [proc, *proc.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree))
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True).start()
    return peak


def wait_stored(db: str, total: int, start: float) -> tuple[int, float]:
    deadline = time.time() + 600
    while progress(db) < total and time.time() < deadline:
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    return count(db), elapsed


def bench_ingest(total: int, workers: int = 1) -> tuple[float, float, int]:
    """Live: the load is published while the ingest (``workers`` processes) stores it."""
    db = create_db()
    try:
        with private_mosquitto() as port:
            ingest = subprocess.Popen(
                ingest_command(port, db, "bench-ingest", workers), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(3)
            peak = watch_peak_rss(ingest)
            batch = encode_publishes(messages(total, int(time.time() * 1000) - 3_600_000))
            start = time.perf_counter()
            published = publish_fast(port, batch)
            stored, elapsed = wait_stored(db, total, start)
            ingest.terminate()
            ingest.wait(timeout=30)
            print(
                f"   (published {len(batch):,} messages in {published:.1f} s; stored {stored:,} of {total:,} samples)"
            )
            return stored / elapsed, elapsed, peak[0]
    finally:
        drop_db(db)


def bench_drain(total: int, workers: int = 1) -> tuple[float, float, int]:
    """The ingest alone: the backlog is queued in the broker for its session first (as after an outage),
    so the publisher does not compete with it for this machine's cores. ``workers`` processes share the
    subscription (``--workers``); RSS is the sum over them."""
    db = create_db()
    try:
        with private_mosquitto() as port:
            command = ingest_command(port, db, "bench-drain", workers)
            first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(3)  # its persistent session and subscription now exist
            first.terminate()
            first.wait(timeout=30)
            publish_fast(port, encode_publishes(messages(total, int(time.time() * 1000) - 3_600_000)))
            ingest = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            peak = watch_peak_rss(ingest)
            stored, elapsed = wait_stored(db, total, time.perf_counter())
            ingest.terminate()
            ingest.wait(timeout=30)
            return stored / elapsed, elapsed, peak[0]
    finally:
        drop_db(db)


HOSTILE_KINDS = [  # issue 14: each a message with no storable value, each one dead letter
    ("surrogate-value", lambda ts: b'{"timestamp_ms": %d, "t0": "\\ud800"}' % ts),
    ("nul-key", lambda ts: b'{"timestamp_ms": %d, "t\\u0000x": 1}' % ts),
    ("surrogate-key", lambda ts: b'{"timestamp_ms": %d, "\\udc80": 1}' % ts),
    ("nul-nested-key", lambda ts: b'{"timestamp_ms": %d, "axis": {"\\u0000": 1}}' % ts),
    ("nul-in-text", lambda ts: b'{"timestamp_ms": %d, "t1": "a\\u0000b"}' % ts),
    ("1e308", lambda ts: b'{"timestamp_ms": %d, "t2": 1e308}' % ts),
    ("wrong-type", lambda ts: b'{"timestamp_ms": %d, "t3": "hot"}' % ts),
    ("deep", lambda ts: b'{"timestamp_ms": %d, "t4": %s1%s}' % (ts, b"[" * 5000, b"]" * 5000)),
    ("not-json", lambda ts: b"\xff\xfe\x00garbage"),
    ("epoch-seconds", lambda ts: b'{"timestamp_ms": %d, "t5": 1}' % (ts // 1000)),
    ("too-many-values", lambda ts: json.dumps({"timestamp_ms": ts, **{f"n{i}": 1 for i in range(1001)}}).encode()),
]


def dead_letters(name: str) -> int:
    with connect(name) as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM hf_uns_dead_letter WHERE reason <> ''")
        return int(cr.fetchone()[0])


def bench_hostile(total: int, share: float) -> tuple[float, float, int, int, int, int, int]:
    """The backlog of :func:`bench_drain` (one worker) with ``share`` of its messages replaced by hostile
    ones (every kind of HOSTILE_KINDS, at random): (samples/s, seconds, exits of the ingest, good samples
    stored, good samples sent, dead letters, hostile messages sent)."""
    import random

    rng = random.Random(14)
    good = messages(total, int(time.time() * 1000) - 3_600_000)
    mixed: list[tuple[str, bytes]] = []
    hostile = 0
    for topic, payload in good:
        if rng.random() < share:
            _kind, make = rng.choice(HOSTILE_KINDS)
            mixed.append((topic, make(int(time.time() * 1000))))
            hostile += 1
        mixed.append((topic, payload))
    db = create_db()
    try:
        with private_mosquitto() as port:
            command = ingest_command(port, db, "bench-hostile", 1)
            first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(3)
            first.terminate()
            first.wait(timeout=30)
            publish_fast(port, encode_publishes(mixed))
            (ROOT / "var").mkdir(exist_ok=True)
            log = (ROOT / "var" / "bench_hostile_ingest.log").open("w")  # what the ingest said of them
            ingest = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            start = time.perf_counter()
            deadline = time.time() + 600
            while (
                (progress(db) < total or dead_letters(db) < hostile)
                and time.time() < deadline
                and ingest.poll() is None
            ):
                time.sleep(0.1)
            elapsed = time.perf_counter() - start
            exits = 0 if ingest.poll() is None else 1
            stored, letters = count(db), dead_letters(db)
            ingest.terminate()
            ingest.wait(timeout=30)
            log.close()
            return stored / elapsed, elapsed, exits, stored, total, letters, hostile
    finally:
        drop_db(db)


def hostile_main(total: int, share: float) -> None:
    print(
        f"Ingest with {share:.0%} hostile messages ({len(HOSTILE_KINDS)} kinds, issue 14) beside the clean "
        f"backlog, one worker, {total:,} good samples each …"
    )
    clean_rate, clean_s, _rss = bench_drain(total)
    rate, seconds, exits, stored, sent, letters, hostile = bench_hostile(total, share)
    print("\n| run | samples/s | process exits | good samples stored | hostile dead-lettered |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| clean backlog | {clean_rate:,.0f} ({clean_s:.1f} s) | 0 | all | – |")
    print(
        f"| {share:.0%} hostile | {rate:,.0f} ({seconds:.1f} s) | {exits} | {stored:,} of {sent:,} | "
        f"{letters:,} of {hostile:,} |"
    )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (other processes on this machine share its cores)")


def unknown_flood_main(seconds: float) -> None:
    """Issue 14: peak RSS of the ingest while every message, for ``seconds``, names tags nobody knows (new names
    each time, half to known workcells, where discovery caps them, half to a location that is no workcell),
    beside the peak of the clean live run of the same length as the baseline. Bounded means: the last part
    of the flood holds no more than its first part."""
    import random

    rng = random.Random(14)
    db = create_db()
    try:
        with private_mosquitto() as port:
            (ROOT / "var").mkdir(exist_ok=True)
            log = (ROOT / "var" / "bench_unknown_ingest.log").open("w")  # its rates, inbox and discovered tags
            ingest = subprocess.Popen(
                ingest_command(port, db, "bench-unknown", 1), stdout=log, stderr=subprocess.STDOUT
            )
            time.sleep(3)
            proc = psutil.Process(ingest.pid)
            baseline = proc.memory_info().rss
            per_phase: list[int] = []
            started = last_probe = time.monotonic()
            sent = 0
            probes: list[tuple[float, int, int, int]] = []  # (s, RSS, discovered tags, dead letters)
            while time.monotonic() - started < seconds and ingest.poll() is None:
                batch = []
                for _ in range(2000):
                    names = {f"n{rng.getrandbits(40):x}": 1.0 for _ in range(TAGS_PER_MESSAGE)}
                    where = f"cell{rng.randrange(WORKCELLS)}" if rng.random() < 0.5 else f"ghost{rng.getrandbits(20)}"
                    body = {"timestamp_ms": int(time.time() * 1000), **names}
                    batch.append((f"umh/v1/acme/bench/area/line/{where}/_historian", json.dumps(body).encode()))
                publish_fast(port, encode_publishes(batch))
                sent += len(batch)
                per_phase.append(proc.memory_info().rss)
                if time.monotonic() - last_probe >= seconds / 6:
                    last_probe = time.monotonic()
                    probes.append((last_probe - started, per_phase[-1], *_flood_counts(db)))
            exits = 0 if ingest.poll() is None else 1
            probes.append((time.monotonic() - started, per_phase[-1], *_flood_counts(db)))
            ingest.terminate()
            ingest.wait(timeout=30)
            log.close()
        third = max(1, len(per_phase) // 3)
        first, last = max(per_phase[:third]), max(per_phase[-third:])
        print("\n| figure | measured | baseline / target |")
        print("| --- | --- | --- |")
        print(
            f"| unknown-tag flood, {seconds:.0f} s, {sent:,} messages | peak RSS {max(per_phase) / 2**20:.0f} MB; "
            f"first third {first / 2**20:.0f} MB, last third {last / 2**20:.0f} MB | idle before the flood "
            f"{baseline / 2**20:.0f} MB; target: bounded (last ≤ first + 10 %) → "
            f"{'bounded' if last <= first * 1.1 else 'GROWING'} |"
        )
        print(f"| ingest exits during the flood | {exits} | target 0 |")
        print("\n| after s | RSS MB | discovered tags | dead letters (messages set aside) |")
        print("| --- | --- | --- | --- |")
        for at, rss, tags, letters in probes:
            print(f"| {at:.0f} | {rss / 2**20:.0f} | {tags:,} | {letters:,} |")
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (other processes share this machine's cores)")
    finally:
        drop_db(db)


def _dead_letters_one_by_one(cr: psycopg2.extensions.cursor, letters: list[Any]) -> None:
    """The baseline: deadletter.store as it was before issue 14, one INSERT per letter (executemany)."""
    from hf_historian.ingest import deadletter

    cr.executemany(
        "INSERT INTO hf_uns_dead_letter (topic, payload, reason, received_at, create_date, write_date) "
        "VALUES (%s, %s, %s, now() at time zone 'utc', now() at time zone 'utc', now() at time zone 'utc')",
        [
            (
                deadletter.safe_text(letter.topic),
                deadletter.payload_excerpt(letter.payload),
                deadletter.safe_text(letter.reason),
            )
            for letter in letters
        ],
    )


def dead_letters_main(total: int, rounds: int = 3) -> None:
    """Issue 14: dead letters stored per second by deadletter.store (STORE_CHUNK per statement) beside one
    INSERT per letter, in batches as the ingest writes them (the flood's messages: ghost locations, 10 names)."""
    from hf_historian.ingest import deadletter

    batch = 2000
    letters = [
        deadletter.DeadLetter(
            f"umh/v1/acme/bench/area/line/ghost{i}/_historian",
            json.dumps(
                {"timestamp_ms": 1_700_000_000_000 + i, **{f"n{i:x}{t}": 1.0 for t in range(TAGS_PER_MESSAGE)}}
            ).encode(),
            f"unknown location: umh/v1/acme/bench/area/line/ghost{i}/_historian/n{i:x}0",
        )
        for i in range(total)
    ]
    db = create_db(tags=0)
    rates: dict[str, list[float]] = {"one INSERT per letter (before)": [], "deadletter.store (now)": []}
    try:
        with connect(db) as conn, conn.cursor() as cr:
            for _ in range(rounds):  # interleaved, so both see the same machine load
                for name, store in (
                    ("one INSERT per letter (before)", _dead_letters_one_by_one),
                    ("deadletter.store (now)", deadletter.store),
                ):
                    start = time.perf_counter()
                    for first in range(0, total, batch):
                        store(cr, letters[first : first + batch])
                        conn.commit()
                    rates[name].append(total / (time.perf_counter() - start))
            cr.execute("SELECT count(*) FROM hf_uns_dead_letter")
            stored = cr.fetchone()[0]
    finally:
        drop_db(db)
    print(
        f"\nDead letters, {total:,} per run in transactions of {batch:,}, {rounds} runs each, same database "
        f"({stored:,} stored in all)\n"
    )
    print("| dead-letter insert | letters/s (median of runs) | runs |")
    print("| --- | --- | --- |")
    for name, values in rates.items():
        print(f"| {name} | {sorted(values)[len(values) // 2]:,.0f} | {', '.join(f'{v:,.0f}' for v in values)} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (other processes share this machine's cores)")


def _flood_counts(db: str) -> tuple[int, int]:
    """(tags discovered, dead letters) so far."""
    with connect(db) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT (SELECT count(*) FROM hf_uns_tag WHERE discovered), (SELECT count(*) FROM hf_uns_dead_letter)"
        )
        tags, letters = cr.fetchone()
        return int(tags), int(letters)


def bench_copy(total: int) -> float:
    db = create_db()
    try:
        start_ms = int(time.time() * 1000) - 3_600_000
        buffer = io.StringIO()
        for i in range(total // TAGS_PER_MESSAGE):
            ts = datetime.fromtimestamp((start_ms + (i // WORKCELLS) * 10) / 1000, UTC).isoformat()
            for t in range(TAGS_PER_MESSAGE):
                buffer.write(
                    f"{ts}\t{(i % WORKCELLS) * TAGS_PER_MESSAGE + t + 1}\t{(i * 7 + t) % 1000 / 10}\t\\N\t0\t2\n"
                )
        buffer.seek(0)
        with connect(db) as conn, conn.cursor() as cr:
            start = time.perf_counter()
            cr.copy_expert(
                "COPY hf_historian_sample (time, tag_id, value, value_text, quality, retention) FROM STDIN", buffer
            )
            conn.commit()
            return total / (time.perf_counter() - start)
    finally:
        drop_db(db)


def bench_copy_binary(total: int) -> float:
    """The same rows as the ingest's writer sends them: binary COPY, grouped by tag (its format's own limit)."""
    from hf_historian.writer import COPY_SAMPLES_BINARY, Sample, prepare

    db = create_db()
    try:
        start_ms = int(time.time() * 1000) - 3_600_000
        samples = [
            Sample(
                (i % WORKCELLS) * TAGS_PER_MESSAGE + t + 1, start_ms + (i // WORKCELLS) * 10, (i * 7 + t) % 1000 / 10
            )
            for i in range(total // TAGS_PER_MESSAGE)
            for t in range(TAGS_PER_MESSAGE)
        ]
        binary = prepare(samples, optimistic=True).binary
        assert binary is not None
        with connect(db) as conn, conn.cursor() as cr:
            start = time.perf_counter()
            cr.copy_expert(COPY_SAMPLES_BINARY, io.BytesIO(binary), size=len(binary))
            conn.commit()
            return total / (time.perf_counter() - start)
    finally:
        drop_db(db)


ORM_SCRIPT = """
import time
records = 2000
start = time.perf_counter()
for i in range(records):
    env["hf.uns.dead.letter"].create({"topic": "umh/v1/acme/x/_historian", "payload": str(i), "reason": "bench"})
env.cr.commit()
print("ORM_RATE", records / (time.perf_counter() - start))
"""


def bench_orm() -> float | None:
    if subprocess.run([sys.executable, "-c", "import odoo"], capture_output=True, check=False).returncode:
        print("   Odoo is not importable: ORM baseline NOT measured")
        return None
    db = f"hf_bench_orm_{uuid.uuid4().hex[:6]}"
    odoo = str(ROOT / "scripts" / "odoo.sh")
    try:
        subprocess.run(
            [
                odoo,
                "-d",
                db,
                "-i",
                "hf_uns",
                "--without-demo=all",
                "--stop-after-init",
                "--no-http",
                "--log-level=warn",
            ],
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [odoo, "shell", "-d", db, "--no-http", "--log-level=warn"],
            input=ORM_SCRIPT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return float(next(line.split()[1] for line in out.splitlines() if line.startswith("ORM_RATE")))
    finally:
        drop_db(db)


def bench_reads() -> dict[str, float]:
    db = create_db()
    try:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        with connect(db) as conn, conn.cursor() as cr:
            # one tag, one day at 1 Hz through the writer path (raw + rollups)
            from hf_historian.writer import HistorianWriter, Sample

            writer = HistorianWriter(cr)
            day_start = now - timedelta(days=1)
            base = int(day_start.timestamp() * 1000)
            for chunk in range(0, 86_400, 20_000):
                writer.write(
                    [Sample(1, base + s * 1000, float(s % 600)) for s in range(chunk, min(chunk + 20_000, 86_400))]
                )
            # 10 tags, 30 days of 1-minute and 1-hour rollups
            for table, step in (("hf_historian_rollup_1m", "1 minute"), ("hf_historian_rollup_1h", "1 hour")):
                cr.execute(
                    f"""INSERT INTO {table} SELECT tag, b, 1, 9, 300, 60, 5, b FROM generate_series(11, 20) tag,
                               generate_series(%s::timestamptz, %s::timestamptz, %s::interval) b""",
                    (now - timedelta(days=30), now, step),
                )
            # latest values of 1,000 tags
            cr.execute(
                "INSERT INTO hf_historian_latest SELECT id, now(), id, NULL, 0 FROM hf_uns_tag ON CONFLICT DO NOTHING"
            )
            conn.commit()
            cr.execute("ANALYZE")

            def timed(fn: Callable[[], object], repeat: int = 20) -> float:
                fn()
                best = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    fn()
                    best.append(time.perf_counter() - t0)
                best.sort()
                return best[len(best) // 2] * 1000

            day = timed(lambda: reader.read_window(cr, 1, day_start, now, 500))
            month = timed(
                lambda: [reader.read_window(cr, tag, now - timedelta(days=30), now, 500) for tag in range(11, 21)],
                repeat=5,
            )
            ids = list(range(1, 1001))
            latest = timed(lambda: reader.read_latest(cr, ids))
            points = len(reader.read_window(cr, 1, day_start, now, 500)["points"])
            return {"day": day, "month": month, "latest": latest, "points": points}
    finally:
        drop_db(db)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="ingest processes for the parallel runs (1a, 1c)"
    )
    parser.add_argument(
        "--tags-per-message", type=int, default=10, help="tags of one workcell per message (1,000 tags in all)"
    )
    parser.add_argument(
        "--hostile",
        type=float,
        default=0.0,
        help="only the hostile-input run: this share of the messages hostile (0.01: 1 %%), beside a clean run",
    )
    parser.add_argument(
        "--dead-letters",
        type=int,
        default=0,
        metavar="N",
        help="only the dead-letter insert rate: N letters, now beside one INSERT per letter",
    )
    parser.add_argument(
        "--unknown-flood",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="only the unknown-tag flood: peak RSS while every message names unknown tags",
    )
    args = parser.parse_args()
    global TAGS_PER_MESSAGE, WORKCELLS
    TAGS_PER_MESSAGE, WORKCELLS = args.tags_per_message, 1000 // args.tags_per_message
    if args.dead_letters:
        dead_letters_main(args.dead_letters)
        return
    if args.unknown_flood:
        unknown_flood_main(args.unknown_flood)
        return
    if args.hostile:
        hostile_main(args.samples, args.hostile)
        return
    print(
        f"Historian benchmarks on {os.cpu_count()} cores, PostgreSQL at {PG_HOST}:{PG_PORT} "
        f"(native partitions), {args.samples:,} samples, 1,000 tags, {TAGS_PER_MESSAGE} tags per message\n"
    )
    n = args.workers
    print("1/5 ingest: MQTT -> historian, live (one worker) …")
    live1 = bench_ingest(args.samples)
    print(f"1a/5 the same, live, {n} workers (--workers {n}) …")
    live_n = bench_ingest(args.samples, n)
    print("1b/5 ingest alone, draining the same messages queued in the broker (one worker) …")
    drain1 = bench_drain(args.samples)
    print(f"1c/5 the same backlog drained by {n} workers …")
    drain_n = bench_drain(args.samples, n)
    print(
        "2/5 raw COPY of the same rows (text, as they arrive; then binary, grouped by tag as the writer sends them) …"
    )
    copy_rate = bench_copy(args.samples)
    binary_rate = bench_copy_binary(args.samples)
    print("3/5 Odoo ORM, one create() per sample …")
    orm_rate = bench_orm()
    print("4/5 reads …")
    reads = bench_reads()
    runs = [
        ("live, 1 worker", live1),
        (f"live, {n} workers", live_n),
        ("backlog, 1 worker", drain1),
        (f"backlog, {n} workers", drain_n),
    ]
    print("\n| figure | measured | baseline / target |")
    print("| --- | --- | --- |")
    for label, (rate, seconds, _rss) in runs:
        print(f"| MQTT → historian, {label} | {rate:,.0f} samples/s ({seconds:.1f} s) | target ≥ 100,000 samples/s |")
    print(
        f"| raw COPY into the same table | {copy_rate:,.0f} samples/s | ingest = "
        + " / ".join(f"{rate / copy_rate:.0%} ({label})" for label, (rate, _s, _r) in runs)
        + " of it (target ≥ 50 %) |"
    )
    print(
        f"| raw binary COPY, grouped by tag (the writer's own format) | {binary_rate:,.0f} samples/s | ingest = "
        + " / ".join(f"{rate / binary_rate:.0%} ({label})" for label, (rate, _s, _r) in runs)
        + " of it |"
    )
    if orm_rate:
        print(
            f"| Odoo ORM create() per sample | {orm_rate:,.0f} samples/s | ingest is "
            + " / ".join(f"{rate / orm_rate:,.0f}× ({label})" for label, (rate, _s, _r) in runs)
            + " faster (target ≥ 100×) |"
        )
    print(f"| read 1 tag, 1 day @1 Hz → {reads['points']} points | {reads['day']:.1f} ms (median) | target ≤ 50 ms |")
    print(f"| read 10 tags, 30 days from rollups | {reads['month']:.1f} ms (median) | target ≤ 300 ms |")
    print(f"| read_latest, 1,000 tags | {reads['latest']:.1f} ms (median) | target ≤ 50 ms |")
    print(
        "| ingest peak RSS (workers together) | "
        + " / ".join(f"{rss / 2**20:.0f} MB ({label})" for label, (_r, _s, rss) in runs)
        + " | target ≤ 300 MB |"
    )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (other processes on this machine share its cores)")


if __name__ == "__main__":
    main()
