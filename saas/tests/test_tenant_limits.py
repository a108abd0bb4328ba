"""Issue 17: a tenant's CPU and memory through its processes' limits, on this machine's real cgroups.

A process started in a tenant's group gets the plan's CPU (``cpu.cfs_quota_us`` = vCPU * period) and memory,
a CPU-burning one is throttled to its share and its CPU seconds are counted, a process over its memory is
stopped by the kernel; the tenants' process manager reads the limits from the tenant's parameters, applies
a plan change, and removes the group when the tenant's processes stop. Tests that need a writable cgroup
skip, saying why, where there is none (not root, a container without delegation).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from hf_saas import db as pg
from hf_saas.provision import CreateResult, Provisioner
from hf_saas.settings import Settings
from hf_saas.spec import parse_spec
from hf_saas.tenant_limits import (
    CPU_PARAM,
    DEFAULT_CPU,
    DEFAULT_MEMORY_MB,
    MEMORY_PARAM,
    Layout,
    Limits,
    Mode,
    TenantLimits,
    cpu_seconds,
    detect,
    limits_status,
)
from hf_saas.tenant_processes import TenantProcesses

from .conftest import created_tenants, spec_data

BURN = [sys.executable, "-c", "while True: pass"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, Limits(DEFAULT_CPU, DEFAULT_MEMORY_MB)),
        ({CPU_PARAM: "0.5", MEMORY_PARAM: "768"}, Limits(0.5, 768)),
        ({CPU_PARAM: "2"}, Limits(2.0, DEFAULT_MEMORY_MB)),
        ({CPU_PARAM: "", MEMORY_PARAM: "1024"}, Limits(DEFAULT_CPU, 1024)),
        ({CPU_PARAM: "lots"}, Limits()),
        ({CPU_PARAM: "0"}, Limits()),
        ({MEMORY_PARAM: "10"}, Limits()),
    ],
    ids=["absent", "both", "cpu-only", "empty-cpu", "not-a-number", "zero-cpu", "too-little-memory"],
)
def test_limits_from_the_tenants_parameters(params: dict[str, str], expected: Limits) -> None:
    assert Limits.from_parameters(params, "hf_pt_x") == expected


def test_without_a_writable_cgroup_processes_run_and_the_manager_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "cgroup").write_text("0::/\n")
    (tmp_path / "mounts").write_text("proc /proc proc rw 0 0\n")
    layout = detect(tmp_path, tmp_path / "cgroup", tmp_path / "mounts")
    assert layout.mode is Mode.NONE
    assert "no cgroup v1 cpu and memory hierarchies" in layout.reason
    limits = TenantLimits(layout=layout)
    with caplog.at_level(logging.WARNING, logger="hf_saas.tenant_limits"):
        assert not limits.apply("hf_pt_none", Limits(0.5, 512))
        assert not limits.apply("hf_pt_other", Limits(1, 512))
    told = [r for r in caplog.records if "not applied" in r.getMessage()]
    assert len(told) == 1, caplog.text
    assert limits.wrap("hf_pt_none", ["true"]) == ["true"]
    assert subprocess.run(limits.wrap("hf_pt_none", ["true"]), check=False).returncode == 0
    assert limits.cpu_seconds("hf_pt_none") is None
    assert "not applied on this server" in limits.note


@pytest.fixture(scope="module")
def layout() -> Layout:
    found = detect()
    if found.mode is Mode.NONE:
        pytest.skip(f"no writable cgroup for the tenants' limits here: {found.reason}")
    return found


def _throttled(limits: TenantLimits, db: str) -> int:
    status = limits.status(db)
    return int(status["cpu_throttled"] or 0)


@pytest.fixture
def limits(layout: Layout, tmp_path: Path) -> Iterator[TenantLimits]:
    yield TenantLimits(Settings.load(state_dir=tmp_path / "state"), layout)


def test_a_process_in_its_tenants_group_has_the_plans_cpu_and_memory_and_is_throttled(limits: TenantLimits) -> None:
    db = f"hf_pt_limits_{int(time.time())}"
    assert limits.apply(db, Limits(0.1, 256))
    burner = subprocess.Popen(limits.wrap(db, BURN))
    try:
        if limits.layout.mode is Mode.V1:
            assert (limits.groups(db)["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "10000"
            assert (limits.groups(db)["cpu"] / "cpu.cfs_period_us").read_text().strip() == "100000"
            assert int((limits.groups(db)["memory"] / "memory.limit_in_bytes").read_text()) == 256 * 1024 * 1024
        else:
            assert (limits.groups(db)["unified"] / "cpu.max").read_text().split() == ["10000", "100000"]
            assert int((limits.groups(db)["unified"] / "memory.max").read_text()) == 256 * 1024 * 1024
        time.sleep(0.3)  # it entered its group before it ran (the pid is the same after the shell's exec)
        assert burner.pid in limits.pids(db)
        own = Path(f"/proc/{burner.pid}/cgroup").read_text()
        assert f"/{db}\n" in own, own
        first = limits.cpu_seconds(db)
        assert first is not None
        began = time.monotonic()
        time.sleep(2.0)
        while not _throttled(limits, db) and time.monotonic() - began < 10:  # a busy machine: it may take longer
            time.sleep(0.5)  # to use 10 ms of a 100 ms period, but it will
        window = time.monotonic() - began
        second = limits.cpu_seconds(db)
        assert second is not None
        used = second - first
        assert used > 0.01, f"the burner used {used:.3f} CPU s in {window:.1f} s"
        # 0.1 vCPU: 0.1 CPU s a second (a period's rounding aside); unthrottled it would be ~1 a second
        assert used < 0.1 * window + 0.2, f"0.1 vCPU for {window:.1f} s, the burner used {used:.3f} CPU s"
        assert _throttled(limits, db) > 0
        # a plan change: the same group, the new limits, at once
        assert limits.apply(db, Limits(0.5, 512))
        if limits.layout.mode is Mode.V1:
            assert (limits.groups(db)["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "50000"
            assert int((limits.groups(db)["memory"] / "memory.limit_in_bytes").read_text()) == 512 * 1024 * 1024
        # the usage meter reads CPU seconds from the manager's record (any process can)
        assert limits.settings is not None
        recorded = cpu_seconds(db, limits.settings)
        assert recorded is not None and recorded >= second
        status = limits_status(limits.settings, db)
        assert status["limits"] == limits.layout.mode.value
        assert status["cpu_limit"] == 0.5 and status["memory_limit_mb"] == 512
        assert status["memory_bytes"] is not None
    finally:
        burner.kill()
        burner.wait()
        limits.remove(db)
    assert not any(path.exists() for path in limits.groups(db).values())
    assert cpu_seconds(db, limits.settings) is None


def test_a_process_over_its_tenants_memory_is_stopped(limits: TenantLimits) -> None:
    db = f"hf_pt_memory_{int(time.time())}"
    assert limits.apply(db, Limits(1.0, 64))
    try:
        hog = subprocess.run(
            limits.wrap(db, [sys.executable, "-c", "b = b'x' * (300 << 20); print(len(b))"]),
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert hog.returncode == -9, (hog.returncode, hog.stdout, hog.stderr[-500:])  # the kernel's OOM kill
        assert int(limits.status(db)["memory_limit_hits"] or 0) > 0
        fits = subprocess.run(limits.wrap(db, [sys.executable, "-c", "print(len(b'x' * (8 << 20)))"]), check=False)
        assert fits.returncode == 0
    finally:
        limits.remove(db)


# --------------------------------------------------------------------------- the tenants' process manager


@pytest.fixture(scope="module")
def tenant(provisioner: Provisioner, layout: Layout) -> Iterator[CreateResult]:
    specs = {"limits": parse_spec(spec_data("Pytest Limits", devices=1))}
    with created_tenants(provisioner, specs) as created:
        yield created["limits"]


def _set_params(settings: Settings, db: str, values: dict[str, str]) -> None:
    """The plan's CPU and memory in the tenant's parameters, as the provisioner's plan change leaves them."""
    with closing(pg.connect(settings, db)) as conn, conn.cursor() as cr:
        for key, value in values.items():
            cr.execute(
                "INSERT INTO ir_config_parameter (key, value, create_date, write_date) VALUES (%s, %s, now(), now()) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )
        conn.commit()


async def test_the_manager_puts_a_tenants_ingest_in_its_group_with_the_plans_limits(
    provisioner: Provisioner, tenant: CreateResult, layout: Layout
) -> None:
    settings, db = provisioner.settings, tenant.db
    _set_params(settings, db, {CPU_PARAM: "0.25", MEMORY_PARAM: "300"})
    processes = TenantProcesses(settings, limits=TenantLimits(settings, layout))
    groups = processes.limits.groups(db)
    try:
        await processes.start_ingest(db)
        ingest = processes.ingests[db]
        await asyncio.sleep(1.0)
        assert ingest.returncode is None, (settings.state_dir / "runtime" / db / "ingest.log").read_text()
        assert ingest.pid in processes.limits.pids(db)
        if layout.mode is Mode.V1:
            assert (groups["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "25000"
            assert int((groups["memory"] / "memory.limit_in_bytes").read_text()) == 300 * 1024 * 1024
        seconds = cpu_seconds(db, settings)
        assert seconds is not None and seconds > 0  # the ingest's start counted (Python's imports)
        # a plan upgrade: the next refresh applies it to the running group
        _set_params(settings, db, {CPU_PARAM: "1.5", MEMORY_PARAM: "1024"})
        assert await processes.apply_limits(db, refresh=True) == Limits(1.5, 1024)
        if layout.mode is Mode.V1:
            assert (groups["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "150000"
            assert int((groups["memory"] / "memory.limit_in_bytes").read_text()) == 1024 * 1024 * 1024
        assert limits_status(settings, db)["cpu_limit"] == 1.5
    finally:
        await processes.stop_all()
    assert not any(path.exists() for path in groups.values())
    assert limits_status(settings, db)["cpu_seconds"] is None


async def test_a_suspended_tenants_group_is_removed_by_the_sweep(
    provisioner: Provisioner, tenant: CreateResult, layout: Layout
) -> None:
    settings, db = provisioner.settings, tenant.db
    # this tenant only: the test state holds other tests' tenants, whose ingests are not this test's to run
    processes = TenantProcesses(settings, limits=TenantLimits(settings, layout), only=frozenset({db}))
    groups = processes.limits.groups(db)
    try:
        await processes.sweep()  # a ready tenant: its ingest, in its group
        assert db in processes.ingests
        assert all(path.is_dir() for path in groups.values())
        provisioner.suspend(db)
        try:
            await processes.sweep()
            assert db not in processes.ingests
            assert not any(path.exists() for path in groups.values())
        finally:
            provisioner.resume(db)
    finally:
        await processes.stop_all()


async def test_a_group_removed_meanwhile_is_made_again_before_a_process_enters_it(
    provisioner: Provisioner, tenant: CreateResult, layout: Layout
) -> None:
    """The limits are known, the group is gone (removed by a sweep that saw the tenant not ready): the next start
    makes it again, or the process could not enter it (its start would fail, exit 126)."""
    settings, db = provisioner.settings, tenant.db
    processes = TenantProcesses(settings, limits=TenantLimits(settings, layout), only=frozenset({db}))
    try:
        await processes.apply_limits(db)
        assert processes.limits.exists(db)
        processes.limits.remove(db)
        assert not processes.limits.exists(db)
        await processes.apply_limits(db)
        assert processes.limits.exists(db)
        await processes.start_ingest(db)
        await asyncio.sleep(1.0)
        assert processes.ingests[db].returncode is None
        assert processes.ingests[db].pid in processes.limits.pids(db)
    finally:
        await processes.stop_all()
    assert not any(path.exists() for path in processes.limits.groups(db).values())
