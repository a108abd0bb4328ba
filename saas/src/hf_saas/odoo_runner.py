"""Odoo as the provisioner runs it: ``odoo -i`` into a new database, and :mod:`hf_saas.odoo_setup` inside a
tenant's database (a process of its own, its request on stdin, its result after a marker line on stdout)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from . import db as pg
from .errors import ProvisionError
from .odoo_setup import RESULT_MARKER
from .settings import Settings
from .tenant_odoo import odoo_launcher


class OdooRunner:
    """The Odoo command lines of one provisioner (its settings' addons path, database server and data dir)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def command(self) -> list[str]:
        settings = self.settings
        return [
            *odoo_launcher(settings),
            "--addons-path",
            settings.full_addons_path,
            "--db_host",
            settings.db_host,
            "--db_port",
            str(settings.db_port),
            "--db_user",
            settings.db_user,
            "--data-dir",
            str(settings.data_dir),
        ]

    @staticmethod
    def environment() -> dict[str, str]:
        """The provisioner's environment without its Ziti credentials and PostgreSQL password."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_SAAS_ZITI", "PGPASSWORD"))}
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def install(self, db: str) -> None:
        """``odoo -i <modules>`` on a new database ``db`` (the template build, and the benchmark's baseline)."""
        pg.run(
            [
                *self.command(),
                "-d",
                db,
                "-i",
                ",".join(self.settings.modules),
                "--without-demo=all",
                "--stop-after-init",
                "--no-http",
                "--max-cron-threads",
                "0",
                "--log-level",
                "warn",
            ],
            env=self.environment(),
        )

    def run_setup(
        self, db: str, action: str, payload: dict[str, Any], *, db_user: str, db_password: str
    ) -> dict[str, Any]:
        """One :mod:`hf_saas.odoo_setup` action in ``db``, connected as ``db_user``; its result."""
        request = {
            "db": db,
            "action": action,
            "payload": payload,
            "addons_path": self.settings.full_addons_path,
            "db_host": self.settings.db_host,
            "db_port": self.settings.db_port,
            "db_user": db_user,
            "db_password": db_password,
            "data_dir": str(self.settings.data_dir),
        }
        python = self.settings.python or sys.executable
        out = pg.run(
            [python, "-m", "hf_saas.odoo_setup"], env=self.environment(), input_text=json.dumps(request), timeout=600
        )
        for line in reversed(out.splitlines()):
            if line.startswith(RESULT_MARKER):
                result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
                return result
        raise ProvisionError(f"The tenant setup in {db} returned no result.", out[-500:])
