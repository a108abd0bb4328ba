"""Real servers for the historian and ingest tests: a throwaway database on the machine's PostgreSQL,
a private PostgreSQL cluster (for restarts), a private Mosquitto on a free port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
from hf_testing import free_port

PG_HOST = os.environ.get("HF_DB_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("HF_DB_PORT", "5432"))
PG_USER = os.environ.get("HF_DB_USER", "hyperfactory")
LOCATION = "acme/berlin/press/line1/press1"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MINIMAL_SCHEMA = Path(__file__).with_name("sql") / "hf_uns_minimal.sql"
TAGS = [
    ("temperature", "", "float"),
    ("state", "", "string"),
    ("running", "", "bool"),
    ("count", "", "int"),
    ("x", "axis", "float"),
]


def dsn(db: str) -> str:
    """libpq connection string of a throwaway database on the machine's PostgreSQL."""
    return f"host={PG_HOST} port={PG_PORT} dbname={db} user={PG_USER}"


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg2.OperationalError):
            if condition():
                return
        time.sleep(0.1)
    assert condition(), f"condition not met within {timeout} s"


@contextlib.contextmanager
def historian_database(host: str, port: int, user: str = PG_USER) -> Iterator[str]:
    """A new database with the hf_uns columns the ingest uses and one workcell with five tags."""
    name = f"hf_pytest_{uuid.uuid4().hex[:10]}"

    def admin_execute(statement: str) -> None:
        admin = psycopg2.connect(host=host, port=port, user=user, dbname="postgres")
        admin.autocommit = True
        admin.cursor().execute(statement)
        admin.close()

    admin_execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg2.connect(host=host, port=port, user=user, dbname=name) as conn, conn.cursor() as cr:
            cr.execute(MINIMAL_SCHEMA.read_text())
            cr.execute(
                "INSERT INTO mrp_workcenter (name, company_id, hf_uns_path) VALUES ('Press 1', 1, %s) RETURNING id",
                (LOCATION,),
            )
            workcenter = cr.fetchone()[0]
            for tag, group, data_type in TAGS:
                topic = "/".join(p for p in ("umh/v1", LOCATION, "_historian", group, tag) if p)
                cr.execute(
                    "INSERT INTO hf_uns_tag (name, tag_group, workcenter_id, company_id, data_type, role, "
                    "topic, historian, active, retention_class) "
                    "VALUES (%s, %s, %s, 1, %s, 'plain', %s, true, true, 'standard')",
                    (tag, group or None, workcenter, data_type, topic),
                )
        yield name
    finally:
        admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def private_mosquitto(anonymous: bool = True) -> Iterator[int]:
    """A broker of the test's own, queueing generously as a production broker should; ``anonymous=False``:
    one that refuses every login (it has no password file)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous {str(anonymous).lower()}\npersistence false\n"
            "max_queued_messages 1000000\n"
        )
        process = subprocess.Popen(
            [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        try:
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextlib.contextmanager
def restartable_mosquitto() -> Iterator[tuple[int, Callable[[], None]]]:
    """A private broker that keeps sessions and queued messages on disk, and a function that stops it
    (gracefully: it saves them) and starts it again on the same port."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o777)  # started as root, Mosquitto drops to its own user and saves its state here
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nmax_queued_messages 1000000\n"
        )
        processes = []

        def start() -> None:
            processes.append(
                subprocess.Popen(
                    [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
                time.sleep(0.05)

        def restart() -> None:
            processes[-1].terminate()
            processes[-1].wait(timeout=10)
            time.sleep(1.0)
            start()

        start()
        try:
            yield port, restart
        finally:
            processes[-1].terminate()
            processes[-1].wait(timeout=10)


def _as_postgres(*command: str) -> None:
    prefix = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def private_postgres(tmp_path: Path) -> Iterator[tuple[int, Callable[[], None]]]:
    """A PostgreSQL cluster of the test's own on a free port, and a function that restarts it."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="hf-pg-"))
    shutil.chown(data, "postgres", "postgres")
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = str(data / "server.log")
    _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start")

    def restart() -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        time.sleep(1.0)
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start")

    try:
        yield port, restart
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)
