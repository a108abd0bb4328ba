"""Template clone → tenant; a user logs into the tenant's own Odoo and sees the devices; lifecycle."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import xmlrpc.client
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.sql
import pytest
import requests

from hf_saas import db as pg
from hf_saas import roles
from hf_saas.errors import ProvisionError, TenantExistsError
from hf_saas.provision import CreateResult, Provisioner
from hf_saas.spec import Quotas, parse_spec

from .conftest import created_tenants, drop_tenant, spec_data, tenant_rpc


@pytest.fixture(scope="module")
def tenants(provisioner: Provisioner) -> Iterator[dict[str, CreateResult]]:
    specs = {"a": parse_spec(spec_data("Pytest Alpha")), "b": parse_spec(spec_data("Pytest Beta", devices=3))}
    with created_tenants(provisioner, specs) as created:
        yield created


def test_template_is_fresh_after_a_build(provisioner: Provisioner) -> None:
    status = provisioner.template_status()  # the session fixture built it (or found it up to date)
    assert status["fresh"] and status["built_fingerprint"] == status["fingerprint"], status
    assert not provisioner.build_template()["changed"]


def test_clone_is_fast_and_complete(tenants: dict[str, CreateResult]) -> None:
    a = tenants["a"]
    assert set(a.timings) >= {"clone", "setup", "broker", "bundle"}
    assert a.ziti_status == "not configured"
    assert a.admin_login == "pia@pytest-alpha.example"
    print("create timings", a.timings)


def test_user_logs_in_and_sees_the_form_devices(
    tenants: dict[str, CreateResult], tenant_server: dict[str, str]
) -> None:
    a = tenants["a"]
    common = tenant_rpc(tenant_server, a.db, "common")
    uid = common.authenticate(a.db, a.admin_login, a.admin_password, {})
    assert uid
    models = tenant_rpc(tenant_server, a.db, "object")
    devices = models.execute_kw(
        a.db,
        uid,
        a.admin_password,
        "hf.uns.device",
        "search_read",
        [[]],
        {"fields": ["name", "protocol", "host", "port"], "order": "name"},
    )
    assert [(d["name"], d["protocol"], d["host"], d["port"]) for d in devices] == [
        ("plc0", "modbus", "10.1.0.1", 502),
        ("plc1", "opcua", "10.1.0.2", 4840),
    ]
    company = models.execute_kw(
        a.db, uid, a.admin_password, "res.company", "search_read", [[]], {"fields": ["name", "hf_uns_segment"]}
    )
    assert company[0]["name"] == "Pytest Alpha" and company[0]["hf_uns_segment"] == "pytest_alpha"
    tags = models.execute_kw(a.db, uid, a.admin_password, "hf.uns.tag", "search_read", [[]], {"fields": ["topic"]})
    assert tags[0]["topic"] == "umh/v1/pytest_alpha/Hamburg/Assembly/Line_1/Cell_1/_historian/temperature"

    # quota: the plan includes 3 tags, one exists
    wc = models.execute_kw(a.db, uid, a.admin_password, "mrp.workcenter", "search", [[]], {"limit": 1})[0]
    models.execute_kw(
        a.db,
        uid,
        a.admin_password,
        "hf.uns.tag",
        "create",
        [[{"name": f"t{i}", "workcenter_id": wc} for i in range(2)]],
    )
    with pytest.raises(xmlrpc.client.Fault, match="Your plan includes 3 tags"):
        models.execute_kw(a.db, uid, a.admin_password, "hf.uns.tag", "create", [{"name": "t9", "workcenter_id": wc}])


def test_isolation_between_tenants(
    tenants: dict[str, CreateResult], tenant_server: dict[str, str], provisioner: Provisioner
) -> None:
    a, b = tenants["a"], tenants["b"]
    common = tenant_rpc(tenant_server, b.db, "common")
    assert not common.authenticate(b.db, a.admin_login, a.admin_password, {})  # A's user in B's database
    assert common.authenticate(b.db, b.admin_login, b.admin_password, {})
    # B's Odoo runs as B's role: A's database name sent to B's host name is refused by PostgreSQL itself
    with pytest.raises(xmlrpc.client.Fault, match="permission denied for database"):
        common.authenticate(a.db, a.admin_login, a.admin_password, {})
    # the database list is closed
    with pytest.raises(xmlrpc.client.Fault):
        tenant_rpc(tenant_server, a.db, "db").list()
    # sessions are signed with each tenant's own secret, not the template's
    secrets_ = set()
    for db in (a.db, b.db):
        conn = pg.connect(provisioner.settings, db)
        with conn.cursor() as cr:
            cr.execute("SELECT value FROM ir_config_parameter WHERE key = 'database.secret'")
            secrets_.add(cr.fetchone()[0])
        conn.close()
    assert len(secrets_) == 2


def _web(session: requests.Session, server: dict[str, str], host: str, path: str, **kw: object) -> requests.Response:
    """A request to the tenants' Odoo for the host name ``host`` (``<db>.localhost`` routes to ``<db>``)."""
    return session.request(
        "POST" if "data" in kw or "json" in kw else "GET",
        server["url"] + path,
        headers={"Host": f"{host}:{server['port']}"},
        allow_redirects=False,
        timeout=60,
        **kw,
    )


def _call_kw(
    session: requests.Session,
    server: dict[str, str],
    host: str,
    model: str,
    method: str,
    args: list[object],
    kwargs: dict[str, object],
) -> dict[str, object]:
    payload = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {"model": model, "method": method, "args": args, "kwargs": kwargs},
    }
    response = _web(session, server, host, f"/web/dataset/call_kw/{model}/{method}", json=payload)
    result: dict[str, object] = response.json()
    return result


def test_host_name_routes_to_the_tenant_only(tenants: dict[str, CreateResult], tenant_server: dict[str, str]) -> None:
    """As the demo and the cloud serve tenants: the host's first label names the database (dbfilter)."""
    a, b = tenants["a"], tenants["b"]
    session = requests.Session()
    page = _web(session, tenant_server, f"{a.db}.localhost", "/web/login")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    logged_in = _web(
        session,
        tenant_server,
        f"{a.db}.localhost",
        "/web/login",
        data={"login": a.admin_login, "password": a.admin_password, "csrf_token": csrf.group(1)},
    )
    assert logged_in.status_code == 303 and "/odoo" in logged_in.headers["Location"], logged_in.text[:500]
    devices = _call_kw(
        session,
        tenant_server,
        f"{a.db}.localhost",
        "hf.uns.device",
        "search_read",
        [[]],
        {"fields": ["name"], "order": "name"},
    )
    assert [d["name"] for d in devices["result"]] == ["plc0", "plc1"]  # type: ignore[index]
    # A's session cookie shown to B's host name: the session is dropped, B's data stays closed
    other = _call_kw(
        session, tenant_server, f"{b.db}.localhost", "hf.uns.device", "search_read", [[]], {"fields": ["name"]}
    )
    assert "result" not in other and "Session" in json.dumps(other["error"])
    # a host name that is no tenant database (the operator's, or none) reaches no database
    for host in ("127.0.0.1", "localhost", "postgres.localhost", f"{a.db[:-1]}.localhost"):
        page = _web(requests.Session(), tenant_server, host, "/web/login")
        assert 'name="csrf_token"' not in page.text, host


def test_no_secret_leaks(
    tenants: dict[str, CreateResult], tenant_server: dict[str, str], provisioner: Provisioner
) -> None:
    import urllib.request

    a = tenants["a"]
    import http.cookiejar

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = urllib.request.Request(
        f"{tenant_server['url']}/web/login", headers={"Host": f"{a.db}.localhost:{tenant_server['port']}"}
    )
    pages = [opener.open(login, timeout=30).read().decode()]
    assert 'name="csrf_token"' in pages[0]
    with zipfile.ZipFile(a.bundle_path) as archive:
        bundle = "".join(archive.read(n).decode() for n in archive.namelist())
    records = "".join(p.read_text() for p in (provisioner.settings.state_dir / "tenants").glob("*.json"))
    runtime = provisioner.settings.state_dir / "runtime" / a.db
    log = (runtime / "odoo.log").read_text()
    conf = dict(line.split(" = ", 1) for line in (runtime / "odoo.conf").read_text().splitlines()[1:])
    assert (runtime / "odoo.conf").stat().st_mode & 0o077 == 0  # the role's password: the owner's eyes only
    for text in [*pages, bundle, records, log]:
        for secret in (conf["admin_passwd"], conf["db_password"], a.admin_password):
            assert secret not in text
    assert tenants["b"].admin_password not in bundle
    assert "HF_COLLECTOR_API_KEY=" in bundle and "umh/v1/pytest_alpha" in bundle


def test_duplicate_company_refused(provisioner: Provisioner, tenants: dict[str, CreateResult]) -> None:
    with pytest.raises(TenantExistsError):
        provisioner.create(parse_spec(spec_data("PYTEST alpha")))


def test_lifecycle_is_idempotent(provisioner: Provisioner, tenants: dict[str, CreateResult]) -> None:
    db = tenants["b"].db
    assert provisioner.suspend(db).changed
    assert not provisioner.suspend(db).changed
    assert not pg.allows_connections(provisioner.settings, db)
    backup = provisioner.backup(db)  # works while suspended, leaves it suspended
    assert (backup / "db.dump").stat().st_size > 10_000
    assert not pg.allows_connections(provisioner.settings, db)
    assert provisioner.resume(db).changed
    assert not provisioner.resume(db).changed
    provisioner.set_quotas(db, Quotas(tags=42, samples_per_day=10, retention_days=400, storage_mb=10), "factory")
    usage = provisioner.usage(db)
    assert usage["quotas"]["tags"] == 42 and usage["tags"] == 1 and usage["db_size_mb"] > 1
    with pytest.raises(ProvisionError, match="--yes"):
        provisioner.delete(db)
    assert pg.exists(provisioner.settings, db)
    outcome = provisioner.delete(db, yes=True)
    assert "final backup" in outcome.message
    assert not pg.exists(provisioner.settings, db)
    assert not provisioner.delete(db, yes=True).changed
    restored = provisioner.restore(db)
    assert restored.state == "ready"
    conn = pg.connect(provisioner.settings, db)
    with conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM hf_uns_device")
        assert cr.fetchone()[0] == 3
    conn.close()
    with pytest.raises(ProvisionError, match="--yes"):
        provisioner.restore(db)


def test_cli_exit_codes(provisioner: Provisioner, tmp_path: Path) -> None:
    env_settings = provisioner.settings
    env = {
        "HF_SAAS_STATE_DIR": str(env_settings.state_dir),
        "HF_SAAS_TEMPLATE_DB": env_settings.template_db,
        "HF_SAAS_DB_PREFIX": env_settings.db_prefix,
        "HF_SAAS_MOSQUITTO_DIR": str(env_settings.mosquitto_path),
        "PATH": "/usr/bin:/bin",
    }
    cli = [sys.executable, "-m", "hf_saas.cli"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"company": {"name": "<b>x</b>"}}))
    result = subprocess.run([*cli, "create", "--spec", str(bad)], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 3 and "company.name" in result.stderr
    result = subprocess.run([*cli, "suspend", "hf_pt_nobody"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 5 and "No tenant" in result.stderr
    result = subprocess.run([*cli, "--json", "list"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and isinstance(json.loads(result.stdout), list)
    started = time.monotonic()
    result = subprocess.run([*cli, "template"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "up to date" in result.stdout
    assert time.monotonic() - started < 60


def test_broker_users_are_keyed_by_database(provisioner: Provisioner, tenants: dict[str, CreateResult]) -> None:
    """Issue 15, attack 1: a slug re-used under another database prefix never rewrites a tenant's users."""
    for result in tenants.values():
        record = provisioner.registry.get(result.db)
        assert sorted(record.mqtt_users) == [f"{result.db}-edge", f"{result.db}-ingest"]
        assert provisioner.broker.has_tenant(result.db)


def _connect_as(provisioner: Provisioner, role: str, db: str) -> psycopg2.extensions.connection:
    s = provisioner.settings
    conn = psycopg2.connect(
        host=s.db_host,
        port=s.db_port,
        user=role,
        dbname=db,
        password=provisioner.registry.read_secret(role, "db_password"),
    )
    conn.autocommit = True
    return conn


def test_each_tenant_has_a_role_that_reaches_its_own_database_only(
    provisioner: Provisioner, tenants: dict[str, CreateResult]
) -> None:
    """Issue 15, attack 4: no role reaches two tenants; neither a tenant nor the provisioner is a superuser."""
    a, b = tenants["a"], tenants["b"]
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        _connect_as(provisioner, a.db, b.db)
    witness = _connect_as(provisioner, b.db, b.db)
    with witness.cursor() as cr:
        cr.execute("SELECT 'a query of tenant b'")
    conn = _connect_as(provisioner, a.db, a.db)
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user")
            assert cr.fetchone() == (False, False, False)
            cr.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'res_users'")
            assert cr.fetchone() == (a.db,)  # Odoo can still upgrade its own modules
            cr.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = %s)",
                (a.db,),
            )
            assert cr.fetchall() == []  # the historian's partitioned tables included: the tenant's ingest writes them
            cr.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (provisioner.settings.db_user,))
            assert cr.fetchone() == (False,)
            cr.execute("SELECT query FROM pg_stat_activity WHERE usename = %s", (b.db,))
            # b's sessions (the witness, and b's own Odoo and ingest when they run) are there, their queries not
            assert {row[0] for row in cr.fetchall()} == {"<insufficient privilege>"}
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="must be owner"):
                cr.execute(
                    psycopg2.sql.SQL("ALTER DATABASE {} CONNECTION LIMIT 0").format(psycopg2.sql.Identifier(b.db))
                )
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cr.execute("COPY (SELECT 1) TO PROGRAM 'true'")
    finally:
        conn.close()
        witness.close()


def test_a_tenant_administrators_server_action_runs_as_the_tenants_role(
    tenants: dict[str, CreateResult], tenant_server: dict[str, str]
) -> None:
    """Issue 15, attack 4: SQL in a server action (``env.cr.execute``) cannot alter another tenant's database."""
    a, b = tenants["a"], tenants["b"]
    common = tenant_rpc(tenant_server, a.db, "common")
    uid = common.authenticate(a.db, a.admin_login, a.admin_password, {})
    models = tenant_rpc(tenant_server, a.db, "object")
    model_id = models.execute_kw(a.db, uid, a.admin_password, "ir.model", "search", [[("model", "=", "res.partner")]])
    who, attack = models.execute_kw(
        a.db,
        uid,
        a.admin_password,
        "ir.actions.server",
        "create",
        [
            [
                {
                    "name": "who",
                    "model_id": model_id[0],
                    "state": "code",
                    "code": 'env.cr.execute("SELECT current_user")\nraise UserError(env.cr.fetchone()[0])',
                },
                {
                    "name": "attack",
                    "model_id": model_id[0],
                    "state": "code",
                    "code": f"env.cr.execute('ALTER DATABASE \"{b.db}\" WITH ALLOW_CONNECTIONS false')",
                },
            ]
        ],
    )
    with pytest.raises(xmlrpc.client.Fault) as seen:
        models.execute_kw(a.db, uid, a.admin_password, "ir.actions.server", "run", [[who]])
    assert a.db in seen.value.faultString
    with pytest.raises(xmlrpc.client.Fault, match="must be owner of database"):
        models.execute_kw(a.db, uid, a.admin_password, "ir.actions.server", "run", [[attack]])
    assert tenant_rpc(tenant_server, b.db, "common").authenticate(b.db, b.admin_login, b.admin_password, {})


def test_a_tenant_of_an_earlier_release_is_migrated(provisioner: Provisioner) -> None:
    """Issue 15: tenants made before per-tenant roles (the database the provisioner's, broker users named by
    the company slug) get their own role and database-named broker users; a second run changes nothing."""
    spec = parse_spec(spec_data("Pytest Legacy"))
    db = provisioner.db_name(spec)
    drop_tenant(provisioner, db)
    provisioner.create(spec)
    s = provisioner.settings
    try:
        # what an earlier release left: no role of its own, no kept secrets, slug-named broker users
        conn = pg.connect(s, db)
        with conn.cursor() as cr:
            cr.execute(
                psycopg2.sql.SQL("REASSIGN OWNED BY {} TO {}; DROP OWNED BY {}").format(
                    psycopg2.sql.Identifier(db), psycopg2.sql.Identifier(s.db_user), psycopg2.sql.Identifier(db)
                )
            )
        conn.close()
        with pg.connect(s) as admin, admin.cursor() as cr:
            cr.execute(
                psycopg2.sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    psycopg2.sql.Identifier(db), psycopg2.sql.Identifier(s.db_user)
                )
            )
        admin.close()
        roles.drop(s, db)
        for secret in (s.state_dir / "secrets" / db).iterdir():
            secret.unlink()
        provisioner.broker.remove_tenant(db)
        legacy = provisioner.broker.add_tenant("pytest_legacy", "pytest_legacy")
        record = provisioner.registry.get(db)
        record.mqtt_users = [c.username for c in legacy.values()]
        provisioner.registry.save(record)

        outcome = provisioner.migrate(db)
        assert outcome.changed and "own database role" in outcome.message
        conn = _connect_as(provisioner, db, db)
        with conn.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = %s)",
                (db,),
            )
            assert cr.fetchone() == (0,)
        conn.close()
        assert provisioner.broker.has_tenant(db) and not provisioner.broker.has_tenant("pytest_legacy")
        assert sorted(provisioner.registry.get(db).mqtt_users) == [f"{db}-edge", f"{db}-ingest"]
        assert provisioner.registry.read_secret(db, "mqtt_ingest_password")
        assert not provisioner.migrate(db).changed
    finally:
        drop_tenant(provisioner, db)
