"""Each tenant's own PostgreSQL role: it owns its database and nothing else.

The provisioner's role (``Settings.db_user``: CREATEDB and CREATEROLE, never SUPERUSER) clones the
template, then hands the new database over to a role named like it: LOGIN, no CREATEDB, no CREATEROLE,
and CONNECT on that database only (revoked from PUBLIC). The tenant's Odoo connects as that role, so a
tenant administrator's server action (``env.cr.execute``) can neither connect to another tenant's
database, nor ``ALTER DATABASE`` one, nor read other roles' queries in ``pg_stat_activity``, nor run
``COPY … TO PROGRAM``. The provisioner stays a member of each tenant role, which is how it still reaches
the tenant (usage, quotas, backups, suspend) without being a superuser.
"""

from __future__ import annotations

import secrets
from contextlib import closing

from psycopg2 import sql

from . import db as pg
from .settings import Settings

# Object kinds of pg_class that ALTER … OWNER takes one by one (a serial's sequence follows its table).
_RELATION_KINDS = {
    "r": "TABLE",
    "p": "TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "f": "FOREIGN TABLE",
    "S": "SEQUENCE",
}


def tenant_role(db: str) -> str:
    """The role of a tenant database: its name (unique, like the database's, and free of quoting)."""
    return db


def create(settings: Settings, db: str) -> str:
    """Create (or re-key) the role of ``db`` and give it the database; returns the role's new password."""
    role = tenant_role(db)
    password = secrets.token_urlsafe(24)
    with closing(pg.connect(settings)) as conn, conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        verb = "ALTER" if cr.fetchone() else "CREATE"
        cr.execute(
            sql.SQL(
                verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS CONNECTION LIMIT 64 PASSWORD {}"
            ).format(sql.Identifier(role), sql.Literal(password))
        )
        # Membership lets the provisioner hand objects over to the role and reach the tenant later.
        cr.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(settings.db_user)))
        cr.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(db), sql.Identifier(role)))
        cr.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(db)))
        cr.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(db), sql.Identifier(role))
        )
    _hand_over_objects(settings, db, role)
    return password


def _hand_over_objects(settings: Settings, db: str, role: str) -> None:
    """Every object the clone holds (owned by the provisioner, who built the template) now owned by ``role``."""
    with closing(pg.connect(settings, db)) as conn, conn.cursor() as cr:
        cr.execute(
            """
            SELECT c.relkind, format('%%I.%%I', n.nspname, c.relname)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
               AND c.relkind = ANY(%s)
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
               AND (c.relkind <> 'S' OR NOT EXISTS (  -- a serial's or identity's sequence follows its table
                    SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                       AND d.refobjid <> c.oid AND d.deptype IN ('a', 'i')))
               AND NOT c.relispartition""",
            (list(_RELATION_KINDS),),
        )
        statements = [
            sql.SQL("ALTER {} {} OWNER TO {}").format(
                sql.SQL(_RELATION_KINDS[kind]), sql.SQL(name), sql.Identifier(role)
            )
            for kind, name in cr.fetchall()
        ]
        cr.execute("""
            SELECT format('%s %s', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                                               ELSE 'FUNCTION' END, p.oid::regprocedure)
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                               AND d.objid = p.oid AND d.deptype = 'e')""")
        statements += [
            sql.SQL("ALTER {} OWNER TO {}").format(sql.SQL(what), sql.Identifier(role)) for (what,) in cr.fetchall()
        ]
        cr.execute("""
            SELECT format('%I.%I', n.nspname, t.typname)
              FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE t.typowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
               AND t.typtype IN ('e', 'd') AND n.nspname NOT IN ('pg_catalog', 'information_schema')""")
        statements += [
            sql.SQL("ALTER TYPE {} OWNER TO {}").format(sql.SQL(name), sql.Identifier(role))
            for (name,) in cr.fetchall()
        ]
        cr.execute(
            "SELECT quote_ident(nspname) FROM pg_namespace WHERE nspowner = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user) AND nspname NOT LIKE 'pg\\_%'"
        )
        statements += [
            sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.SQL(name), sql.Identifier(role))
            for (name,) in cr.fetchall()
        ]
        # One round trip: a template holds about a thousand relations.
        if statements:
            cr.execute(sql.SQL("; ").join(statements))
        # Partitions (the historian's day partitions) follow their parent's owner only when created later.
        cr.execute("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relispartition AND c.relkind IN ('r', 'p')
               AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)""")
        partitions = [
            sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.SQL(name), sql.Identifier(role))
            for (name,) in cr.fetchall()
        ]
        if partitions:
            cr.execute(sql.SQL("; ").join(partitions))


def allow_login(settings: Settings, db: str, allowed: bool) -> None:
    """A suspended tenant's role cannot log in (its open sessions are ended by the caller)."""
    with closing(pg.connect(settings)) as conn, conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (tenant_role(db),))
        if cr.fetchone():
            cr.execute(
                sql.SQL("ALTER ROLE {} " + ("LOGIN" if allowed else "NOLOGIN")).format(sql.Identifier(tenant_role(db)))
            )


def drop(settings: Settings, db: str) -> None:
    """Drop the tenant's role (after its database: a role that owns objects cannot be dropped)."""
    with closing(pg.connect(settings)) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(tenant_role(db))))
