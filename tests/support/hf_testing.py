"""Hyperfactory's pytest plugin (loaded by `-p hf_testing` in the root pyproject.toml).

A test that needs Odoo 18 carries `@pytest.mark.odoo` (or a module-level `pytestmark`), a fixture that needs
it calls `require_odoo()`. Where no Odoo is
importable, such a test is skipped with a reason that starts with NEEDS_ODOO, and `make test` counts it as
not run (scripts/junit_counts.py), never as passed and never as failed.
"""

from __future__ import annotations

import functools
import socket
import subprocess
import sys
import time

import pytest

NEEDS_ODOO = "needs Odoo 18"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    """Wait until something accepts connections on loopback `port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def stop_processes(processes: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """Ask each process to stop (all at once, so they wind down together), kill those that take longer."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@functools.cache
def odoo_importable() -> bool:
    """Whether this interpreter imports Odoo 18 (asked in a subprocess: importing Odoo here would
    monkey-patch the test process)."""
    probe = "import odoo.release, sys; sys.exit(odoo.release.version_info[0] != 18)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, check=False).returncode == 0


def require_odoo() -> None:
    """Skip the calling test or fixture, counted as not run, where no Odoo 18 is importable."""
    if not odoo_importable():
        pytest.skip(f"{NEEDS_ODOO}: none is importable by {sys.executable}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"odoo: the test {NEEDS_ODOO}; skipped (counted as not run) without it")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("odoo"):
        require_odoo()
