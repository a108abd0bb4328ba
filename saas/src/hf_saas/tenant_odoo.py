"""How one tenant's Odoo is started: its own process, connected as the tenant's own database role.

The configuration file holds the role's password and a random master password, so it is written with
mode 0600 and never put on a command line (which every local user can read in ``ps``).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from .settings import Settings


def odoo_launcher(settings: Settings) -> list[str]:
    """The command that runs Odoo's CLI with the interpreter Odoo is installed in."""
    return [settings.python or sys.executable, "-c", "import sys, odoo; sys.exit(odoo.cli.main())"]


def runtime_dir(settings: Settings, db: str) -> Path:
    return settings.state_dir / "runtime" / db


def write_config(settings: Settings, db: str, role_password: str, http_port: int) -> Path:
    """The tenant's ``odoo.conf``: its role, its database only, no database manager, loopback only."""
    folder = runtime_dir(settings, db)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    options = {
        "addons_path": settings.full_addons_path,
        "data_dir": str(settings.data_dir),
        "db_host": settings.db_host,
        "db_port": str(settings.db_port),
        "db_user": db,  # roles.tenant_role(db)
        "db_password": role_password,
        "db_name": db,
        "dbfilter": f"^{db}$",
        "list_db": "False",
        "admin_passwd": secrets.token_urlsafe(24),
        "http_interface": "127.0.0.1",
        "http_port": str(http_port),
        "proxy_mode": "False",
        "max_cron_threads": "1",
        # its pool's bound (Odoo's default, 64, would let one tenant take most of the server's max_connections):
        # the cron thread's LISTEN and the bus's take 2, requests in flight the rest
        "db_maxconn": "8",
        "without_demo": "all",
        "log_level": "warn",
        "logfile": str(folder / "odoo.log"),
    }
    path = folder / "odoo.conf"
    tmp = folder / ".odoo.conf.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("[options]\n" + "".join(f"{key} = {value}\n" for key, value in options.items()))
    os.replace(tmp, path)
    return path


def odoo_command(settings: Settings, config: Path) -> list[str]:
    return [*odoo_launcher(settings), "-c", str(config)]


def odoo_environment() -> dict[str, str]:
    """The tenant's Odoo sees none of the operator's secrets (Ziti, database passwords)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_SAAS_", "PGPASSWORD"))}
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
