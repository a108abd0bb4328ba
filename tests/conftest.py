"""Fixtures for cross-component tests: a real Odoo 18 database and server, free ports, subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from hf_testing import free_port, require_odoo

ROOT = Path(__file__).resolve().parent.parent
ODOO = str(ROOT / "scripts" / "odoo.sh")
DB_HOST = os.environ.get("HF_DB_HOST", "127.0.0.1")
DB_PORT = int(os.environ.get("HF_DB_PORT", "5432"))
DB_USER = os.environ.get("HF_DB_USER", "hyperfactory")


def run_odoo(
    *args: str, stdin: str | None = None, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run scripts/odoo.sh to completion; fail the test with Odoo's own output when it fails."""
    result = subprocess.run(
        [ODOO, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_ROOT": str(ROOT), **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"odoo {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def connect(dbname: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(host=DB_HOST, port=DB_PORT, user=DB_USER, dbname=dbname)


def drop_database(name: str) -> None:
    conn = connect("postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture(scope="session")
def odoo_db() -> Iterator[str]:
    """A fresh database with hf_uns installed (no demo data), dropped at the end of the session."""
    require_odoo()
    name = f"hf_pytest_{uuid.uuid4().hex[:8]}"
    run_odoo("-d", name, "-i", "hf_uns", "--without-demo=all", "--stop-after-init", "--no-http", "--log-level=warn")
    yield name
    drop_database(name)


@pytest.fixture(scope="session")
def odoo_url(odoo_db: str) -> Iterator[str]:
    """Odoo's HTTP server on a free port, serving only the test database."""
    port = free_port()
    log = open(ROOT / "var" / "test" / f"odoo-{odoo_db}.log", "w")  # noqa: SIM115  closed below
    process = subprocess.Popen(
        [
            ODOO,
            "-d",
            odoo_db,
            "--db-filter",
            f"^{odoo_db}$",
            "--http-port",
            str(port),
            "--log-level=warn",
            "--max-cron-threads",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/web/health", timeout=2):
                break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"Odoo exited early; see {log.name}")
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("Odoo did not answer on /web/health within 120 s")
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[str]:
    """A Mosquitto of this test's own, so the chain's topics meet no one else's."""
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    yield f"mqtt://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
