"""PostgreSQL operations on whole tenant databases (as the non-superuser owner role)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from hf_core.retry import Backoff

from .errors import ProvisionError
from .settings import Settings

_logger = logging.getLogger(__name__)
# CREATE DATABASE … TEMPLATE while another session is on the template: PostgreSQL waits up to 5 s for it to
# end, then refuses; we try again after 0.05 s, 0.1 s … 1 s, until 10 s have passed.
CLONE_RETRY_FIRST_S = 0.05
CLONE_RETRY_CAP_S = 1.0
CLONE_WAIT_S = 10.0


def connect(settings: Settings, db: str = "postgres") -> connection:
    conn: connection = psycopg2.connect(**settings.dsn(db))
    conn.autocommit = True
    return conn


def one_row(cr: cursor) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate, ``SELECT EXISTS …``)."""
    row = cr.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return row


def exists(settings: Settings, db: str) -> bool:
    with closing(connect(settings)) as conn, conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
        return cr.fetchone() is not None


def list_databases(settings: Settings, prefix: str) -> list[str]:
    with closing(connect(settings)) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname",
            (prefix.replace("_", r"\_") + "%",),
        )
        return [row[0] for row in cr.fetchall()]


def terminate(settings: Settings, db: str) -> None:
    with closing(connect(settings)) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db,),
        )


def clone(settings: Settings, template: str, db: str) -> None:
    """CREATE DATABASE db TEMPLATE template, retrying while the template is briefly in use (the one backoff of
    hf_core.retry, short: a session on the template is usually a provisioning step ending)."""
    statement = sql.SQL("CREATE DATABASE {} WITH TEMPLATE {} STRATEGY {}").format(
        sql.Identifier(db), sql.Identifier(template), sql.SQL(settings.clone_strategy.upper())
    )
    backoff = Backoff(first=CLONE_RETRY_FIRST_S, cap=CLONE_RETRY_CAP_S)
    deadline = time.monotonic() + CLONE_WAIT_S
    while True:
        try:
            with closing(connect(settings)) as conn, conn.cursor() as cr:
                cr.execute(statement)
            return
        except psycopg2.errors.ObjectInUse as exc:  # another session is connected to the template
            if time.monotonic() + backoff.delay > deadline:
                raise ProvisionError("The template database stays in use; try again later.", str(exc)) from exc
            backoff.sleep()


def set_allow_connections(settings: Settings, db: str, allow: bool) -> None:
    with closing(connect(settings)) as conn, conn.cursor() as cr:
        cr.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                sql.Identifier(db), sql.SQL("true" if allow else "false")
            )
        )
    if not allow:
        terminate(settings, db)


def allows_connections(settings: Settings, db: str) -> bool:
    with closing(connect(settings)) as conn, conn.cursor() as cr:
        cr.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", (db,))
        row = cr.fetchone()
        return bool(row and row[0])


def drop(settings: Settings, db: str) -> bool:
    if not exists(settings, db):
        return False
    with closing(connect(settings)) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
    return True


def size_bytes(settings: Settings, db: str) -> int:
    with closing(connect(settings)) as conn, conn.cursor() as cr:
        cr.execute("SELECT pg_database_size(%s)", (db,))
        row = cr.fetchone()
        return int(row[0]) if row else 0


def filestore(settings: Settings, db: str) -> Path:
    return settings.data_dir / "filestore" / db


def copy_filestore(settings: Settings, source: str, target: str) -> None:
    src, dst = filestore(settings, source), filestore(settings, target)
    if dst.exists():
        shutil.rmtree(dst)
    if src.exists():
        shutil.copytree(src, dst)
    else:
        dst.mkdir(parents=True, exist_ok=True)


def _pg_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PGHOST": settings.db_host, "PGPORT": str(settings.db_port), "PGUSER": settings.db_user})
    if settings.db_password:
        env["PGPASSWORD"] = settings.db_password
    return env


def dump(settings: Settings, db: str, target: Path) -> None:
    """pg_dump -Fc of the database and a tar of its filestore into directory ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    run(["pg_dump", "-Fc", "--no-owner", "--no-acl", "-f", str(target / "db.dump"), db], env=_pg_env(settings))
    store = filestore(settings, db)
    if store.exists():
        shutil.make_archive(str(target / "filestore"), "gztar", root_dir=store)


def restore(settings: Settings, db: str, source: Path) -> None:
    """A new database ``db`` (must not exist) from a :func:`dump` directory, filestore included."""
    with closing(connect(settings)) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(db)))
    run(
        ["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "-d", db, str(source / "db.dump")],
        env=_pg_env(settings),
    )
    store = filestore(settings, db)
    if store.exists():
        shutil.rmtree(store)
    store.mkdir(parents=True)
    archive = source / "filestore.tar.gz"
    if archive.exists():
        shutil.unpack_archive(str(archive), str(store), "gztar")


def run(
    argv: list[str], *, env: dict[str, str] | None = None, input_text: str | None = None, timeout: float = 1800
) -> str:
    """Run a command; ProvisionError with the tail of its output when it fails."""
    result = subprocess.run(
        argv, env=env, input=input_text, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout)[-2000:]
        raise ProvisionError(f"{Path(argv[0]).name} failed (exit {result.returncode}).", tail)
    return result.stdout
