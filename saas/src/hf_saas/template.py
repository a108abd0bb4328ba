"""The template database every tenant is cloned from: its fingerprint (the modules' sources), its state, its
build (``odoo -i`` into a scratch database, then swapped in)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg2 import sql

from . import db as pg
from .odoo_runner import OdooRunner
from .settings import Settings

_logger = logging.getLogger(__name__)
SOURCE_SUFFIXES = {".py", ".xml", ".csv", ".js", ".scss", ".css"}


class Template:
    def __init__(self, settings: Settings, odoo: OdooRunner) -> None:
        self.settings = settings
        self.odoo = odoo

    @property
    def info_path(self) -> Path:
        return self.settings.state_dir / "template.json"

    def fingerprint(self) -> str:
        """A hash of the template's modules' sources: a changed addon makes the template stale."""
        digest = hashlib.sha256(",".join(self.settings.modules).encode())
        roots = [Path(p) for p in self.settings.full_addons_path.split(",")]
        # Odoo lists every module on the path in the database: another set of addons, another template.
        offered = sorted(p.parent.name for root in roots[1:] for p in root.glob("*/__manifest__.py"))
        digest.update(",".join(offered).encode())
        for module in self.settings.modules:
            for root in roots:
                folder = root / module
                if (folder / "__manifest__.py").exists():
                    if root == roots[0] and module == "auth_signup":
                        digest.update(b"community")
                        break
                    for path in sorted(folder.rglob("*")):
                        if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
                            digest.update(str(path.relative_to(root)).encode())
                            digest.update(path.read_bytes())
                    break
        return digest.hexdigest()[:16]

    def status(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if self.info_path.exists():
            info = json.loads(self.info_path.read_text(encoding="utf-8"))
        exists = pg.exists(self.settings, self.settings.template_db)
        current = self.fingerprint()
        # ``fingerprint`` is the sources' now; the one the template was built from is ``built_fingerprint``
        # (a rebuild must record the current one, or the template would look stale for ever).
        return {
            **info,
            "built_fingerprint": info.get("fingerprint"),
            "db": self.settings.template_db,
            "exists": exists,
            "fresh": exists and info.get("fingerprint") == current,
            "fingerprint": current,
        }

    def build(self, *, force: bool = False) -> dict[str, Any]:
        """Build (or rebuild when stale) the template: ``odoo -i`` into a scratch database, then swap."""
        status = self.status()
        if status["fresh"] and not force:
            return {**status, "changed": False}
        settings = self.settings
        scratch = f"{settings.template_db}_build"
        pg.drop(settings, scratch)
        shutil.rmtree(pg.filestore(settings, scratch), ignore_errors=True)
        started = time.monotonic()
        self.odoo.install(scratch)
        seconds = round(time.monotonic() - started, 1)
        pg.drop(settings, settings.template_db)
        with closing(pg.connect(settings)) as conn, conn.cursor() as cr:
            cr.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(scratch), sql.Identifier(settings.template_db)
                )
            )
        target = pg.filestore(settings, settings.template_db)
        shutil.rmtree(target, ignore_errors=True)
        if pg.filestore(settings, scratch).exists():
            pg.filestore(settings, scratch).rename(target)
        # Nobody works in the template: refusing connections keeps CREATE DATABASE … TEMPLATE possible.
        pg.set_allow_connections(settings, settings.template_db, False)
        info = {
            "fingerprint": status["fingerprint"],
            "built_at": datetime.now(UTC).isoformat(),
            "build_seconds": seconds,
            "modules": list(settings.modules),
        }
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.info_path.write_text(json.dumps(info, indent=2), encoding="utf-8")
        _logger.info("template %s built in %.1f s", settings.template_db, seconds)
        return {**self.status(), "changed": True}
