"""A tenant's CPU and memory limits on one server: its processes (its Odoo, its ingest) in a cgroup of their own.

The plan's limits are two parameters of the tenant's database (written by the provisioner through Odoo):
``hf_cloud.quota.cpu`` (vCPU, a float: 0.5 is half a core) and ``hf_cloud.quota.memory_mb`` (MB for all the
tenant's processes together); when one is absent or unreadable the defaults below apply
(:data:`DEFAULT_CPU`, :data:`DEFAULT_MEMORY_MB`).

Where the groups are (found once, at start):

- **cgroup v2** when a ``cgroup2`` hierarchy has the ``cpu`` and ``memory`` controllers: the tenant's group is
  ``<this process's cgroup>/hf_tenants/<db>`` with ``cpu.max`` and ``memory.max``; this process's own group
  must let its children have both controllers (systemd: ``Delegate=yes``), else limits are not applied.
- **cgroup v1** otherwise, when the ``cpu`` and ``memory`` hierarchies are mounted and writable: the group is
  made under this process's own group of each hierarchy (``/proc/self/cgroup``), with ``cpu.cfs_quota_us`` =
  vCPU * ``cpu.cfs_period_us`` and ``memory.limit_in_bytes``; CPU seconds come from ``cpuacct``.
- **none** (no writable cgroup: not root, a container without delegation): the processes run without limits,
  the manager says so once in its log, and :func:`limits_status` tells the portal and the usage report.

A process enters its tenant's group before it runs anything of its own: the command is started through
``/bin/sh``, which writes its own pid into the group and then ``exec``s the command (same pid, nothing charged
to the manager's group). The manager records which groups a tenant has in ``<state>/runtime/<db>/limits.json``,
so another process (the usage meter) reads the tenant's CPU seconds without knowing this process's cgroup.
CPU seconds count from when the group was made (the tenant became ready on this server): a meter takes the
difference between two readings and a smaller reading as a new start.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from . import db as pg
from .settings import Settings
from .tenant_odoo import runtime_dir

_logger = logging.getLogger(__name__)

CPU_PARAM = "hf_cloud.quota.cpu"
MEMORY_PARAM = "hf_cloud.quota.memory_mb"
DEFAULT_CPU = 1.0  # vCPU, as a plan without a CPU figure (hf_saas.spec.Quotas.cpu)
DEFAULT_MEMORY_MB = 2048  # all the tenant's processes together: an Odoo under load and its ingest fit twice
MIN_CPU, MIN_MEMORY_MB = 0.01, 64
CFS_PERIOD_US = 100_000
GROUP = "hf_tenants"
CGROUP_ROOT = Path("/sys/fs/cgroup")
RECORD = "limits.json"
_MB = 1024 * 1024
# the group a process enters before it runs: $1 = how many cgroup.procs files follow, then the command
_ENTER = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 126; shift; n=$((n - 1)); done; exec "$@"'


@dataclass(frozen=True)
class Limits:
    """What one tenant's processes may use together: ``cpu`` vCPU and ``memory_mb`` MB."""

    cpu: float = DEFAULT_CPU
    memory_mb: int = DEFAULT_MEMORY_MB

    def __post_init__(self) -> None:
        if not self.cpu >= MIN_CPU:  # also refuses NaN
            raise ValueError(f"A CPU limit must be at least {MIN_CPU} vCPU (got {self.cpu}).")
        if self.memory_mb < MIN_MEMORY_MB:
            raise ValueError(f"A memory limit must be at least {MIN_MEMORY_MB} MB (got {self.memory_mb}).")

    @classmethod
    def from_parameters(cls, params: Mapping[str, str], db: str = "") -> Limits:
        """The limits the tenant's parameters set; a missing or bad value takes its default (a bad one is logged)."""
        cpu, memory = DEFAULT_CPU, DEFAULT_MEMORY_MB
        try:
            if params.get(CPU_PARAM):
                cpu = float(params[CPU_PARAM])
            if params.get(MEMORY_PARAM):
                memory = int(float(params[MEMORY_PARAM]))
            return cls(cpu, memory)
        except ValueError as exc:
            _logger.warning("tenant %s: its CPU or memory quota is not usable (%s); the defaults apply", db, exc)
            return cls()

    @classmethod
    def from_quotas(cls, quotas: Mapping[str, Any]) -> Limits:
        """The limits of a plan's quotas (``cpu``, ``memory_mb``, as a tenant record holds them), with the defaults."""
        return cls(float(quotas.get("cpu") or DEFAULT_CPU), int(quotas.get("memory_mb") or DEFAULT_MEMORY_MB))

    @property
    def cfs_quota_us(self) -> int:
        return round(self.cpu * CFS_PERIOD_US)


def read_limits(settings: Settings, db: str) -> Limits:
    """The limits set in tenant ``db``'s parameters (read as the provisioner)."""
    conn = pg.connect(settings, db)
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT key, value FROM ir_config_parameter WHERE key IN %s", ((CPU_PARAM, MEMORY_PARAM),))
            params = {str(k): str(v) for k, v in cr.fetchall()}
    finally:
        conn.close()
    return Limits.from_parameters(params, db)


class Mode(StrEnum):
    V2 = "cgroup v2"
    V1 = "cgroup v1"
    NONE = "none"


@dataclass(frozen=True)
class Layout:
    """Where tenants' groups go: per controller (``cpu``, ``cpuacct``, ``memory``; one ``unified`` in v2) the
    folder that holds one group per tenant; ``reason`` says why limits are not applied (mode none)."""

    mode: Mode
    bases: dict[str, Path] = field(default_factory=dict)
    reason: str = ""


def _own_cgroups(self_cgroup: str) -> dict[str, str]:
    """This process's group in each hierarchy, by controller ("" for v2's unified hierarchy)."""
    own: dict[str, str] = {}
    for line in self_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                own[controller] = parts[2]
    return own


def _mounts(mounts: str) -> list[tuple[Path, str, set[str]]]:
    """(mount point, file system type, options) of every cgroup mount."""
    found = []
    for line in mounts.splitlines():
        fields_ = line.split()
        if len(fields_) >= 4 and fields_[2] in ("cgroup", "cgroup2"):
            found.append((Path(fields_[1].replace("\\040", " ")), fields_[2], set(fields_[3].split(","))))
    return found


def _inside(mount: Path, path: str) -> Path:
    return mount / path.lstrip("/")


def _make_dir(path: Path) -> None:
    with contextlib.suppress(FileExistsError):  # a race with another manager: it is there, which is what we want
        path.mkdir(exist_ok=True)


def detect(
    root: Path = CGROUP_ROOT, self_cgroup: Path = Path("/proc/self/cgroup"), mounts: Path = Path("/proc/self/mounts")
) -> Layout:
    """Where this process can make tenants' groups: cgroup v2 with cpu and memory, else v1, else none (why)."""
    try:
        own = _own_cgroups(self_cgroup.read_text())
        mounted = [m for m in _mounts(mounts.read_text()) if m[0] == root or root in m[0].parents]
    except OSError as exc:
        return Layout(Mode.NONE, reason=f"the process's cgroups cannot be read ({exc})")
    reasons: list[str] = []
    for mount, kind, _ in mounted:
        if kind != "cgroup2" or "" not in own:
            continue
        try:
            controllers = set((mount / "cgroup.controllers").read_text().split())
        except OSError:
            continue
        if not {"cpu", "memory"} <= controllers:
            reasons.append(f"the cgroup v2 hierarchy at {mount} has no cpu and memory controllers")
            continue
        mine = _inside(mount, own[""])
        try:
            (mine / "cgroup.subtree_control").write_text("+cpu +memory")
            base = mine / GROUP
            _make_dir(base)
            (base / "cgroup.subtree_control").write_text("+cpu +memory")
        except OSError as exc:
            reasons.append(
                f"cgroup v2 at {mine} does not let this process give its children cpu and memory limits ({exc}; "
                "run it with a delegated cgroup, e.g. systemd's Delegate=yes)"
            )
            continue
        return Layout(Mode.V2, {"unified": base})
    bases: dict[str, Path] = {}
    for controller in ("cpu", "cpuacct", "memory"):
        for mount, kind, options in mounted:
            if kind == "cgroup" and controller in options and controller in own:
                bases[controller] = _inside(mount, own[controller]) / GROUP
                break
    if "cpu" not in bases or "memory" not in bases:
        reasons.append("no cgroup v1 cpu and memory hierarchies are mounted")
        return Layout(Mode.NONE, reason="; ".join(reasons))
    try:
        for base in set(bases.values()):
            _make_dir(base)
            probe = base / f".probe-{os.getpid()}"  # writable all the way down: a group can be made and removed
            _make_dir(probe)
            probe.rmdir()
    except OSError as exc:
        reasons.append(f"the cgroup v1 hierarchies are not writable ({exc})")
        return Layout(Mode.NONE, reason="; ".join(reasons))
    return Layout(Mode.V1, bases)


def _write(path: Path, value: str) -> None:
    with path.open("w", encoding="ascii") as fh:
        fh.write(value)


def _read_int(path: Path, key: str | None = None) -> int | None:
    """An integer file (``cpuacct.usage``), or one key of a flat keyed file (``cpu.stat``); None when absent."""
    try:
        text = path.read_text()
    except OSError:
        return None
    if key is None:
        return int(text.split()[0])
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return None


class TenantLimits:
    """Makes, limits, reads and removes tenants' groups on this server (see the module's documentation)."""

    def __init__(self, settings: Settings | None = None, layout: Layout | None = None) -> None:
        self.settings = settings
        self.layout = layout if layout is not None else detect()
        self._told = False

    @property
    def applied(self) -> bool:
        return self.layout.mode is not Mode.NONE

    @property
    def note(self) -> str:
        """One sentence for a log, the portal or the usage report: how limits are enforced here, or why not."""
        if self.applied:
            return f"CPU and memory limits enforced by {self.layout.mode.value}"
        return f"CPU and memory limits are not applied on this server: {self.layout.reason}"

    def groups(self, db: str) -> dict[str, Path]:
        """The tenant's group in each hierarchy (v1: ``cpu``, ``cpuacct``, ``memory``; v2: ``unified``)."""
        return {controller: base / db for controller, base in self.layout.bases.items()}

    def apply(self, db: str, limits: Limits) -> bool:
        """Make the tenant's groups if needed and set ``limits`` (again, at a plan change); False, said once in
        the log, when this server cannot apply limits."""
        if not self.applied:
            if not self._told:
                self._told = True
                _logger.warning("%s; the tenants' processes run without limits", self.note)
            return False
        groups = self.groups(db)
        for path in set(groups.values()):
            _make_dir(path)
        try:
            if self.layout.mode is Mode.V2:
                _write(groups["unified"] / "cpu.max", f"{limits.cfs_quota_us} {CFS_PERIOD_US}")
                _write(groups["unified"] / "memory.max", str(limits.memory_mb * _MB))
            else:
                _write(groups["cpu"] / "cpu.cfs_period_us", str(CFS_PERIOD_US))
                _write(groups["cpu"] / "cpu.cfs_quota_us", str(limits.cfs_quota_us))
                _write(groups["memory"] / "memory.limit_in_bytes", str(limits.memory_mb * _MB))
        except OSError as exc:  # e.g. a memory limit below what the processes use now (EBUSY)
            _logger.warning("tenant %s: its limits (%s) cannot be set now: %s", db, limits, exc)
            return False
        self._record(db, limits)
        _logger.info("tenant %s limited to %.2f vCPU and %d MB (%s)", db, limits.cpu, limits.memory_mb, self.note)
        return True

    def exists(self, db: str) -> bool:
        """Whether the tenant's groups are there (always True where limits are not applied: nothing to make)."""
        return all(path.is_dir() for path in self.groups(db).values())

    def wrap(self, db: str, command: list[str]) -> list[str]:
        """``command`` as it enters the tenant's groups first (unchanged when limits are not applied)."""
        if not self.applied:
            return command
        procs = [str(path / "cgroup.procs") for path in dict.fromkeys(self.groups(db).values())]
        return ["/bin/sh", "-c", _ENTER, "hf-tenant-cgroup", str(len(procs)), *procs, *command]

    def pids(self, db: str) -> set[int]:
        """The processes in the tenant's groups now."""
        found: set[int] = set()
        for path in set(self.groups(db).values()):
            try:
                found.update(int(pid) for pid in (path / "cgroup.procs").read_text().split())
            except OSError:
                continue
        return found

    def remove(self, db: str) -> None:
        """Remove the tenant's groups (its processes stopped first: a group with a process in it stays, said)."""
        for path in set(self.groups(db).values()):
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    _logger.warning("tenant %s: its cgroup %s still holds processes; it stays", db, path)
                else:
                    _logger.warning("tenant %s: its cgroup %s cannot be removed: %s", db, path, exc)
        if self.settings is not None:
            (runtime_dir(self.settings, db) / RECORD).unlink(missing_ok=True)

    def _record(self, db: str, limits: Limits) -> None:
        if self.settings is None:
            return
        folder = runtime_dir(self.settings, db)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        record = {
            "mode": self.layout.mode.value,
            "groups": {k: str(v) for k, v in self.groups(db).items()},
            "cpu": limits.cpu,
            "memory_mb": limits.memory_mb,
        }
        tmp = folder / f".{RECORD}.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, folder / RECORD)

    def cpu_seconds(self, db: str) -> float | None:
        return _cpu_seconds(self.layout.mode, self.groups(db))

    def status(self, db: str) -> dict[str, Any]:
        return _status(self.layout.mode, self.groups(db), self.note)


def _cpu_seconds(mode: Mode, groups: Mapping[str, Path]) -> float | None:
    if mode is Mode.V2:
        usec = _read_int(groups["unified"] / "cpu.stat", "usage_usec")
        return None if usec is None else usec / 1e6
    if mode is Mode.V1 and "cpuacct" in groups:
        nsec = _read_int(groups["cpuacct"] / "cpuacct.usage")
        return None if nsec is None else nsec / 1e9
    return None


def _status(mode: Mode, groups: Mapping[str, Path], note: str) -> dict[str, Any]:
    """What the usage report and the portal show: the mode, the limits in force, CPU seconds, throttling,
    memory in use and how often the limit was hit (None where the runtime does not report it)."""
    status: dict[str, Any] = {"limits": mode.value, "limits_note": note, "cpu_seconds": _cpu_seconds(mode, groups)}
    if mode is Mode.V2:
        group = groups["unified"]
        status["cpu_throttled"] = _read_int(group / "cpu.stat", "nr_throttled")
        status["memory_bytes"] = _read_int(group / "memory.current")
        status["memory_limit_hits"] = _read_int(group / "memory.events", "max")
    elif mode is Mode.V1:
        status["cpu_throttled"] = _read_int(groups["cpu"] / "cpu.stat", "nr_throttled")
        status["memory_bytes"] = _read_int(groups["memory"] / "memory.usage_in_bytes")
        status["memory_limit_hits"] = _read_int(groups["memory"] / "memory.failcnt")
    return status


def _recorded(settings: Settings, db: str) -> tuple[Mode, dict[str, Path], Limits] | None:
    try:
        record = json.loads((runtime_dir(settings, db) / RECORD).read_text())
        groups = {k: Path(v) for k, v in record["groups"].items()}
        return Mode(record["mode"]), groups, Limits(float(record["cpu"]), int(record["memory_mb"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


_here: TenantLimits | None = None


def _this_server() -> TenantLimits:
    global _here
    if _here is None:
        _here = TenantLimits()
    return _here


def cpu_seconds(db: str, settings: Settings | None = None) -> float | None:
    """CPU seconds tenant ``db``'s processes used on this server since its group was made; None where the
    runtime does not report it (no cgroup, no ``cpuacct``). With ``settings``, the groups the manager recorded
    for the tenant (any process can read them); without, the groups this process would make."""
    recorded = _recorded(settings, db) if settings is not None else None
    if recorded is not None:
        return _cpu_seconds(recorded[0], recorded[1])
    here = _this_server()
    return here.cpu_seconds(db) if settings is None else None


def limits_status(settings: Settings, db: str) -> dict[str, Any]:
    """The tenant's limits as the usage report and the portal show them (``limits``, ``limits_note``,
    ``cpu_seconds``, ``cpu_throttled``, ``memory_bytes``, ``memory_limit_hits``), from the manager's record."""
    recorded = _recorded(settings, db)
    if recorded is None:
        return {
            "limits": Mode.NONE.value,
            "limits_note": "CPU and memory limits are not applied to this tenant's processes now "
            "(no process runs, or this server cannot apply them)",
            "cpu_seconds": None,
        }
    mode, groups, limits = recorded
    status = _status(mode, groups, f"CPU and memory limits enforced by {mode.value}")
    return {**status, "cpu_limit": limits.cpu, "memory_limit_mb": limits.memory_mb}
