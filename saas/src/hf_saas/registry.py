"""The provisioner's record of its tenants: one JSON file per tenant under ``<state>/tenants``.

The database itself stays the truth for "does it exist"; the record adds what PostgreSQL does not
know (company, plan, quotas, state and its message, broker users, Ziti ids, backups). Never a clear
password in a record: the few secrets the provisioner must keep (the tenant's database role password,
which its Odoo and its ingest connect with) are files of their own, mode 0600, under ``<state>/secrets``.
"""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import TenantNotFoundError
from .locks import folder_lock


class TenantState(StrEnum):
    PROVISIONING = "provisioning"
    READY = "ready"
    SUSPENDED = "suspended"
    DELETED = "deleted"
    FAILED = "failed"


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class TenantRecord:
    db: str
    slug: str
    company: str
    state: str = TenantState.PROVISIONING.value
    message: str = ""
    plan: str = "starter"
    quotas: dict[str, Any] = field(default_factory=dict)
    url: str = ""
    admin_login: str = ""
    topic_root: str = ""
    mqtt_users: list[str] = field(default_factory=list)
    ziti_status: str = "not configured"
    ziti_ids: dict[str, str] = field(default_factory=dict)
    bundle: str = ""
    backups: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    created_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Registry:
    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / "tenants"
        # path -> (the file's identity when read, the tenant's db and state): see states()
        self._states: dict[str, tuple[tuple[int, int, int], str, str]] = {}
        self.reads = 0  # records parsed by states() and state(): what the cache saves is visible

    def path(self, db: str) -> Path:
        return self.directory / f"{db}.json"

    def lock(self) -> AbstractContextManager[None]:
        """The registry's lock, across processes (hf_saas.locks)."""
        return folder_lock(self.directory)

    def get(self, db: str) -> TenantRecord:
        try:
            data = json.loads(self.path(db).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TenantNotFoundError(f"No tenant {db} is known to this provisioner.") from None
        return TenantRecord(**data)

    def find(self, db: str) -> TenantRecord | None:
        try:
            return self.get(db)
        except TenantNotFoundError:
            return None

    def save(self, record: TenantRecord) -> TenantRecord:
        record.updated_at = utcnow()
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path(record.db).with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record.to_dict(), fh, indent=2, sort_keys=True)
        os.replace(tmp, self.path(record.db))
        return record

    def all(self) -> list[TenantRecord]:
        if not self.directory.exists():
            return []
        return [
            TenantRecord(**json.loads(p.read_text(encoding="utf-8"))) for p in sorted(self.directory.glob("*.json"))
        ]

    def states(self) -> dict[str, str]:
        """Every tenant's state by database. A record is read again only when its file changed (a save
        replaces the file: another inode, mtime and size), so a supervisor may ask every few seconds."""
        if not self.directory.exists():
            self._states = {}
            return {}
        current: dict[str, tuple[tuple[int, int, int], str, str]] = {}
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.endswith(".json"):
                    cached = self._cached(entry.path)
                    if cached is not None:
                        current[entry.path] = cached
        self._states = current
        return {db: state for _key, db, state in current.values()}

    def state(self, db: str) -> str | None:
        """One tenant's state (None when unknown), its record read again only when its file changed."""
        cached = self._cached(str(self.path(db)))
        return cached[2] if cached is not None else None

    def _cached(self, path: str) -> tuple[tuple[int, int, int], str, str] | None:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            self._states.pop(path, None)
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = self._states.get(path)
        if cached is None or cached[0] != key:
            try:
                data = json.loads(Path(path).read_text(encoding="utf-8"))
            except FileNotFoundError:  # forgotten meanwhile
                self._states.pop(path, None)
                return None
            self.reads += 1
            cached = self._states[path] = (key, str(data["db"]), str(data.get("state", TenantState.PROVISIONING.value)))
        return cached

    def forget(self, db: str) -> None:
        self.path(db).unlink(missing_ok=True)
        for secret in (self.secrets / db).glob("*") if (self.secrets / db).is_dir() else ():
            secret.unlink()

    @property
    def secrets(self) -> Path:
        return self.directory.parent / "secrets"

    def write_secret(self, db: str, name: str, value: str) -> None:
        folder = self.secrets / db
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = folder / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value)
        os.replace(tmp, folder / name)

    def read_secret(self, db: str, name: str) -> str:
        try:
            return (self.secrets / db / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TenantNotFoundError(f"The tenant {db} has no {name} on record.") from None
