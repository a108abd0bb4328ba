"""The provisioner's Python API (``hf-saas`` and ``hf_cloud`` both call it).

Every operation is safe to repeat and leaves the tenant record in a clear state: a second
``suspend`` says the tenant is already suspended, a ``delete`` of a deleted tenant says so, a failed
``create`` removes what it made and records ``failed`` with the reason, so it can be retried.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hf_core.uns import is_valid_segment, segment_from_name

from . import db as pg
from . import roles
from .bundle import EdgeBundle
from .errors import ConfigError, HfSaasError, ProvisionError, TenantExistsError, ZitiError
from .mosquitto import MosquittoFiles, topic_root
from .odoo_runner import OdooRunner
from .odoo_setup import QUOTA_KEYS
from .quotas import require_connections, usage
from .registry import Registry, TenantRecord, TenantState
from .settings import Settings
from .spec import Quotas, TenantSpec
from .template import Template
from .tenant_odoo import odoo_command, odoo_environment, write_config
from .ziti import MISSING, NOT_CONFIGURED, ZitiClient, ZitiPlan, ZitiRequest

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateResult:
    """What ``create`` hands back once; the password is not kept anywhere by the provisioner."""

    db: str
    url: str
    admin_login: str
    admin_password: str = field(repr=False)
    signup_url: str = field(repr=False)
    bundle_path: str
    ziti_status: str
    timings: dict[str, float]
    edge_name: str = ""
    ziti_identity_id: str = ""


@dataclass(frozen=True)
class Outcome:
    """The result of a lifecycle operation: the state reached and whether anything changed."""

    db: str
    state: str
    changed: bool
    message: str


class Provisioner:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.load()
        self.registry = Registry(self.settings.state_dir)
        self.broker = MosquittoFiles(self.settings.mosquitto_path, self.settings.mosquitto_pidfile)
        self.odoo = OdooRunner(self.settings)
        self.template = Template(self.settings, self.odoo)

    # ---------------------------------------------------------------- template (hf_saas.template)
    def template_fingerprint(self) -> str:
        return self.template.fingerprint()

    def template_status(self) -> dict[str, Any]:
        return self.template.status()

    def build_template(self, *, force: bool = False) -> dict[str, Any]:
        """Build (or rebuild when stale) the template: ``odoo -i`` into a scratch database, then swap."""
        return self.template.build(force=force)

    def upgrade(self, db: str) -> Outcome:
        """``odoo -u <modules>`` in a tenant's database, as the tenant's own role (what Odoo creates is theirs)."""
        self._require(self.registry.get(db), TenantState.READY)
        config = write_config(self.settings, db, self.registry.read_secret(db, "db_password"), 0)
        pg.run(
            [
                *odoo_command(self.settings, config),
                "-u",
                ",".join(self.settings.modules),
                "--stop-after-init",
                "--no-http",
                "--max-cron-threads",
                "0",
            ],
            env=odoo_environment(),
        )
        return Outcome(db, TenantState.READY.value, True, f"{db}: {', '.join(self.settings.modules)} updated.")

    def odoo_install(self, db: str) -> None:
        """``odoo -i <modules>`` on a new database ``db`` (the template build, and the benchmark's baseline)."""
        self.odoo.install(db)

    def run_in_odoo(self, db: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        # As the tenant's own role: what the setup creates belongs to the tenant, like the rest of its database.
        return self.odoo.run_setup(
            db, action, payload, db_user=roles.tenant_role(db), db_password=self.registry.read_secret(db, "db_password")
        )

    # ---------------------------------------------------------------- create
    def db_name(self, spec: TenantSpec) -> str:
        return f"{self.settings.db_prefix}{spec.company.slug}"[:63]

    def check_available(self, spec: TenantSpec) -> str:
        """The database name for this company, or TenantExistsError when the company is taken."""
        name = self.db_name(spec)
        record = self.registry.find(name)
        if (
            record and record.state != TenantState.DELETED.value and record.state != TenantState.FAILED.value
        ) or pg.exists(self.settings, name):
            raise TenantExistsError(f"A Hyperfactory for {spec.company.name} already exists ({name}).")
        return name

    def create(
        self, spec: TenantSpec, *, fresh_install: bool = False, progress: Callable[[str], None] | None = None
    ) -> CreateResult:
        """Clone the template into the tenant's database and make it theirs (see module doc)."""
        say = progress or (lambda _msg: None)
        with self.registry.lock():
            db = self.check_available(spec)
            record = TenantRecord(
                db=db,
                slug=spec.company.slug,
                company=spec.company.name,
                plan=spec.plan_code,
                quotas=spec.to_dict()["plan"],
                url=self.settings.tenant_url(db),
                topic_root=topic_root(spec.company.slug),
            )
            self.registry.save(record)
        timings: dict[str, float] = {}

        @contextmanager
        def step(name: str) -> Iterator[None]:
            say(name)
            started = time.monotonic()
            yield
            timings[name] = round(time.monotonic() - started, 2)

        try:
            if fresh_install:
                with step("install"):
                    self.odoo_install(db)
            else:
                status = self.template_status()
                if not status["exists"]:
                    raise ProvisionError("No template database yet: run `hf-saas template` first.")
                with step("clone"):
                    pg.clone(self.settings, self.settings.template_db, db)
                    pg.set_allow_connections(self.settings, db, True)
                    pg.copy_filestore(self.settings, self.settings.template_db, db)
            with step("role"):
                self.registry.write_secret(db, "db_password", roles.create(self.settings, db))
            password = secrets.token_urlsafe(18)
            with step("setup"):
                setup = self.run_in_odoo(
                    db,
                    "setup",
                    {
                        "spec": spec.to_dict(),
                        "url": record.url,
                        "slug": spec.company.slug,
                        "enterprise": spec.company.slug,
                        "admin_password": password,
                    },
                )
            with step("broker"):
                creds = self.broker.add_tenant(db, spec.company.slug)
                self.registry.write_secret(db, "mqtt_ingest_password", creds["ingest"].password)
            with step("ziti"):
                ziti_status, ziti_ids, jwt = self._ziti_provision(
                    ZitiPlan(spec.company.slug, db=db), segment_from_name(str(setup.get("edge_name") or "edge"))
                )
            # with OpenZiti the edge reaches both through its tunnel, by their intercept addresses
            ziti = ZitiPlan(spec.company.slug, db=db) if jwt else None
            with step("bundle"):
                bundle = EdgeBundle(
                    tenant=spec.company.slug,
                    odoo_url=ziti.odoo_url if ziti else record.url,
                    db=db,
                    edge_login=setup["edge_login"],
                    edge_api_key=setup["edge_api_key"],
                    mqtt_url=ziti.mqtt_url if ziti else self.settings.mqtt_url,
                    mqtt_username=creds["edge"].username,
                    mqtt_password=creds["edge"].password,
                    topic_root=creds["edge"].topic_root,
                    enrollment_jwt=jwt,
                    mqtt_ca=self._mqtt_ca(),
                )
                bundle_path = bundle.write(self.settings.state_dir / "bundles" / f"{db}.zip")
        except Exception as exc:
            self._undo_create(db)
            message = exc.message if isinstance(exc, HfSaasError) else f"{type(exc).__name__}: {exc}"
            record.state, record.message = TenantState.FAILED.value, message
            self.registry.save(record)
            if isinstance(exc, HfSaasError):
                raise
            raise ProvisionError(f"Provisioning {db} failed.", message) from exc
        record.state, record.message = TenantState.READY.value, "Ready."
        record.admin_login = setup["admin_login"]
        record.mqtt_users = [c.username for c in creds.values()]
        record.ziti_status, record.ziti_ids = ziti_status, ziti_ids
        record.bundle, record.timings = str(bundle_path), timings
        self.registry.save(record)
        _logger.info("tenant %s ready in %.1f s", db, sum(timings.values()))
        return CreateResult(
            db,
            record.url,
            setup["admin_login"],
            password,
            setup.get("signup_url", ""),
            str(bundle_path),
            ziti_status,
            timings,
            edge_name=str(setup.get("edge_name") or ""),
            ziti_identity_id=ziti_ids.get("identity_id", ""),
        )

    def _undo_create(self, db: str) -> None:
        try:
            pg.drop(self.settings, db)
            roles.drop(self.settings, db)
            shutil.rmtree(pg.filestore(self.settings, db), ignore_errors=True)
            self.broker.remove_tenant(db)
        except Exception:  # cleanup must not hide the original error
            _logger.exception("cleanup after a failed create of %s was incomplete", db)

    def _ziti_provision(self, plan: ZitiPlan, edge: str) -> tuple[str, dict[str, str], str]:
        if not self.settings.ziti_configured:
            return NOT_CONFIGURED, {}, ""
        try:
            result = self.ziti_client().provision(plan, edge)
        except ZitiError as exc:
            _logger.warning("OpenZiti provisioning for %s failed: %s", plan.tenant, exc)
            return f"failed: {exc.message}", {}, ""
        jwt = result.pop("enrollment_jwt")
        return "enrollment pending", result, jwt

    def _ziti_call(self, record: TenantRecord, build: Callable[[str], ZitiRequest]) -> None:
        """``build(identity_id)`` sent for each of the tenant's edge identities (a failure is logged)."""
        identities = edge_identities(record)
        if not (self.settings.ziti_configured and identities):
            return
        client = self.ziti_client()
        for identity in identities.values():
            try:
                client.send(build(identity))
            except ZitiError as exc:
                _logger.warning("OpenZiti call for %s failed: %s", record.db, exc)

    def ziti_client(self) -> ZitiClient:
        """A client of the cloud's OpenZiti controller (the operator's settings), or ProvisionError."""
        if not self.settings.ziti_configured:
            raise ProvisionError("OpenZiti is not configured on this cloud (HF_SAAS_ZITI_URL and its credentials).")
        return ZitiClient(
            self.settings.ziti_url, self.settings.ziti_user, self.settings.ziti_password, self.settings.ziti_ca
        )

    # ---------------------------------------------------------------- OpenZiti, per edge
    def ziti_add_edge(self, db: str, edge: str) -> dict[str, str]:
        """A new identity for the tenant's edge ``edge`` (a UNS segment): ``identity_id``, ``identity_name``
        and its one-time ``enrollment_jwt`` (handed back once, kept nowhere). An identity the edge was
        given before by this method is deleted first; whether the edge may have a new one is the caller's
        decision (hf_cloud refuses while the edge has an active identity)."""
        record = self.registry.get(db)
        self._require(record, TenantState.READY)
        if not is_valid_segment(edge):
            raise ProvisionError(f"Edge name {edge!r} may only contain letters, digits, '_' and '-'.")
        key = f"identity_id:{edge}"
        plan = ZitiPlan(record.slug, db=record.db)
        client = self.ziti_client()
        previous = record.ziti_ids.get(key)
        if previous:
            # an identity this edge was given before and its caller no longer knows (a request rolled back
            # after the controller made it): it goes, so no forgotten identity stays able to enroll
            if client.edge_status(previous) != MISSING:
                client.revoke(previous)
            del record.ziti_ids[key]
            self.registry.save(record)
        result = client.add_edge(plan, edge)
        record.ziti_ids[key] = result["identity_id"]
        self.registry.save(record)
        return {**result, "identity_name": plan.edge_identity_name(edge)}

    def ziti_reissue_edge(self, db: str, identity_id: str) -> str:
        """A new one-time enrollment token for one of the tenant's edge identities (never another tenant's);
        the certificate it enrolled with stops working at once."""
        record = self.registry.get(db)
        self._require(record, TenantState.READY)
        self._require_identity(record, identity_id)
        return self.ziti_client().reissue(identity_id)

    def ziti_revoke_edge(self, db: str, identity_id: str) -> None:
        """Delete one of the tenant's edge identities on the controller (its certificate stops working)."""
        record = self.registry.get(db)
        self._require_identity(record, identity_id)
        client = self.ziti_client()
        if client.edge_status(identity_id) != MISSING:
            client.revoke(identity_id)
        record.ziti_ids = {k: v for k, v in record.ziti_ids.items() if v != identity_id}
        self.registry.save(record)

    def ziti_edge_status(self, db: str, identity_id: str) -> str:
        record = self.registry.get(db)
        self._require_identity(record, identity_id)
        return self.ziti_client().edge_status(identity_id)

    @staticmethod
    def _require_identity(record: TenantRecord, identity_id: str) -> None:
        if not identity_id or identity_id not in edge_identities(record).values():
            raise ProvisionError(f"{record.db} has no OpenZiti identity {identity_id!r}.")

    def set_operator_key(self, db: str, operator_url: str, key: str) -> None:
        """Write into the tenant the operator's URL and the secret its Odoo signs its requests to the
        operator with (``hf_cloud.operator_url``, ``hf_cloud.operator_key``); the operator keeps a hash."""
        self.run_in_odoo(db, "operator_key", {"url": operator_url, "key": key})

    # ---------------------------------------------------------------- lifecycle
    def list(self) -> list[dict[str, Any]]:
        rows = []
        for record in self.registry.all():
            row = record.to_dict()
            row["db_exists"] = pg.exists(self.settings, record.db)
            rows.append(row)
        return rows

    def suspend(self, db: str) -> Outcome:
        record = self.registry.get(db)
        if record.state == TenantState.SUSPENDED.value:
            return Outcome(db, record.state, False, f"{db} is already suspended.")
        self._require(record, TenantState.READY)
        self.broker.disable_tenant(record.db)
        self._ziti_call(record, ZitiPlan.disable_identity)
        roles.allow_login(self.settings, db, False)
        pg.set_allow_connections(self.settings, db, False)
        record.state, record.message = TenantState.SUSPENDED.value, "Suspended: logins and edge connections refused."
        self.registry.save(record)
        return Outcome(db, record.state, True, record.message)

    def resume(self, db: str) -> Outcome:
        record = self.registry.get(db)
        if record.state == TenantState.READY.value:
            return Outcome(db, record.state, False, f"{db} is already running.")
        self._require(record, TenantState.SUSPENDED)
        pg.set_allow_connections(self.settings, db, True)
        roles.allow_login(self.settings, db, True)
        self.broker.enable_tenant(record.db)
        self._ziti_call(record, ZitiPlan.enable_identity)
        record.state, record.message = TenantState.READY.value, "Ready."
        self.registry.save(record)
        return Outcome(db, record.state, True, record.message)

    def backup(self, db: str) -> Path:
        record = self.registry.get(db)
        if not pg.exists(self.settings, db):
            raise ProvisionError(f"{db} has no database to back up (state {record.state}).")
        target = self.settings.state_dir / "backups" / db / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        suspended = not pg.allows_connections(self.settings, db)
        if suspended:
            pg.set_allow_connections(self.settings, db, True)
        try:
            pg.dump(self.settings, db, target)
        finally:
            if suspended:
                pg.set_allow_connections(self.settings, db, False)
        (target / "manifest.json").write_text(
            json.dumps(
                {
                    "db": db,
                    "company": record.company,
                    "plan": record.plan,
                    "quotas": record.quotas,
                    "state": record.state,
                    "taken_at": datetime.now(UTC).isoformat(),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        record.backups.append(str(target))
        self.registry.save(record)
        return target

    def restore(self, db: str, source: Path | None = None, *, yes: bool = False) -> Outcome:
        """Bring the tenant back from a backup (the latest unless ``source``); replacing a live
        database needs ``yes``. The edge gets new broker credentials and a new bundle."""
        record = self.registry.get(db)
        backups = [Path(p) for p in record.backups if Path(p).exists()]
        source = source or (backups[-1] if backups else None)
        if source is None or not (source / "db.dump").exists():
            raise ProvisionError(f"No backup of {db} to restore from.")
        if pg.exists(self.settings, db):
            if not yes:
                raise ProvisionError(f"{db} exists: restoring replaces it; confirm with --yes.")
            pg.drop(self.settings, db)
        pg.restore(self.settings, db, source)
        self.registry.write_secret(db, "db_password", roles.create(self.settings, db))
        creds = self.broker.add_tenant(record.db, record.slug)
        self.registry.write_secret(db, "mqtt_ingest_password", creds["ingest"].password)
        self._rewrite_bundle(record, creds)
        record.state, record.message = TenantState.READY.value, f"Restored from {source.name}."
        record.mqtt_users = [c.username for c in creds.values()]
        self.registry.save(record)
        return Outcome(db, record.state, True, record.message)

    def delete(self, db: str, *, yes: bool = False) -> Outcome:
        record = self.registry.get(db)
        if record.state == TenantState.DELETED.value and not pg.exists(self.settings, db):
            return Outcome(db, record.state, False, f"{db} is already deleted.")
        if not yes:
            raise ProvisionError(f"Deleting {db} removes its database; confirm with --yes (a final backup is kept).")
        final = self.backup(db) if pg.exists(self.settings, db) else None
        record = self.registry.get(db)  # backup() saved the record with the final backup in it: keep that
        pg.drop(self.settings, db)
        roles.drop(self.settings, db)
        shutil.rmtree(pg.filestore(self.settings, db), ignore_errors=True)
        self.broker.remove_tenant(record.db)
        self._ziti_call(record, functools.partial(ZitiPlan.delete, "identities"))
        if record.bundle:
            Path(record.bundle).unlink(missing_ok=True)
        record.state = TenantState.DELETED.value
        record.message = f"Deleted; final backup {final}." if final else "Deleted."
        self.registry.save(record)
        return Outcome(db, record.state, True, record.message)

    def migrate(self, db: str) -> Outcome:
        """Bring a tenant made by an earlier release up to this one: its own database role (the database
        and everything in it handed over), broker users named by its database (``<db>-edge``, not the
        company slug, which another prefix could reuse), and the ingest's password kept. A changed broker
        user means a new edge bundle: the previous one stops working (say so to the customer)."""
        record = self.registry.get(db)
        self._require(record, TenantState.READY)
        done: list[str] = []
        try:
            self.registry.read_secret(db, "db_password")
        except HfSaasError:
            self.registry.write_secret(db, "db_password", roles.create(self.settings, db))
            done.append("own database role")
        expected = [f"{db}-edge", f"{db}-ingest"]
        try:
            self.registry.read_secret(db, "mqtt_ingest_password")
            ingest_kept = True
        except HfSaasError:
            ingest_kept = False
        if sorted(record.mqtt_users) != expected or not self.broker.has_tenant(db) or not ingest_kept:
            for legacy in {u.rsplit("-", 1)[0] for u in record.mqtt_users} - {db}:
                self.broker.remove_tenant(legacy)
            creds = self.broker.add_tenant(db, record.slug)
            self.registry.write_secret(db, "mqtt_ingest_password", creds["ingest"].password)
            self._rewrite_bundle(record, creds)
            record.mqtt_users = [c.username for c in creds.values()]
            done.append("broker users named by the database (a new edge bundle)")
        self.registry.save(record)
        message = f"{db}: {', '.join(done)}." if done else f"{db} is up to date."
        return Outcome(db, record.state, bool(done), message)

    def rotate_bundle(self, db: str) -> bytes:
        """A new edge bundle whose secrets replace the previous ones: a new broker password for the
        edge user (the old one stops working at once) and a new edge API key (the old keys are
        revoked). The zip is handed back and also kept as the tenant's current bundle."""
        record = self.registry.get(db)
        self._require(record, TenantState.READY)
        edge = self.broker.rotate_edge(record.db, record.slug)
        self._rewrite_bundle(record, {"edge": edge})
        self.registry.save(record)
        _logger.info("edge secrets of %s rotated for a new bundle", db)
        return Path(record.bundle).read_bytes()

    def _require(self, record: TenantRecord, state: TenantState) -> None:
        if record.state != state.value:
            raise ProvisionError(f"{record.db} is {record.state}; this needs it {state.value}.")

    def _mqtt_ca(self) -> str:
        """The CA the edges must trust for the broker (a private or development one), or "" for a public CA."""
        if self.settings.mqtt_ca_file is None:
            return ""
        try:
            return self.settings.mqtt_ca_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"HF_SAAS_MQTT_CA_FILE {self.settings.mqtt_ca_file} cannot be read.", str(exc)) from exc

    def ziti_reissue(self, db: str) -> Outcome:
        """A new one-time OpenZiti enrollment token for the tenant's edge, in a new bundle; the certificate the
        edge enrolled with stops working at once (a lost or stolen edge box)."""
        record = self.registry.get(db)
        self._require(record, TenantState.READY)
        identity = record.ziti_ids.get("identity_id")
        if not (self.settings.ziti_configured and identity):
            raise ProvisionError(f"{db} has no OpenZiti identity (OpenZiti is {record.ziti_status}).")
        jwt = self.ziti_client().reissue(identity)
        self._rewrite_bundle(record, {"edge": self.broker.rotate_edge(record.db, record.slug)}, jwt)
        record.ziti_status = "enrollment pending"
        self.registry.save(record)
        return Outcome(
            db,
            record.state,
            True,
            f"{db}: a new enrollment token is in its bundle; the old identity certificate no longer connects.",
        )

    def _rewrite_bundle(self, record: TenantRecord, creds: dict[str, Any], enrollment_jwt: str = "") -> None:
        """A new bundle with a fresh edge API key (made inside the tenant's Odoo) and the new broker user."""
        edge = self.run_in_odoo(record.db, "edge_key", {})
        path = Path(record.bundle) if record.bundle else self.settings.state_dir / "bundles" / f"{record.db}.zip"
        ziti = ZitiPlan(record.slug, db=record.db) if enrollment_jwt else None
        EdgeBundle(
            record.slug,
            ziti.odoo_url if ziti else record.url,
            record.db,
            edge["edge_login"],
            edge["edge_api_key"],
            ziti.mqtt_url if ziti else self.settings.mqtt_url,
            creds["edge"].username,
            creds["edge"].password,
            creds["edge"].topic_root,
            enrollment_jwt=enrollment_jwt,
            mqtt_ca=self._mqtt_ca(),
        ).write(path)
        record.bundle = str(path)

    # ---------------------------------------------------------------- quotas and usage (hf_saas.quotas)
    def set_quotas(self, db: str, quotas: Quotas, plan: str | None = None) -> Outcome:
        """Write the plan's quotas into the tenant at once, through its Odoo (its running workers reload them)."""
        record = self.registry.get(db)
        require_connections(self.settings, db)
        values = {k: getattr(quotas, k) for k in QUOTA_KEYS}
        self.run_in_odoo(db, "quotas", values)
        record.quotas = {**record.quotas, **values}
        if plan:
            record.plan = plan
            record.quotas["code"] = plan
        self.registry.save(record)
        return Outcome(db, record.state, True, f"Quotas of {db} set to {record.quotas}.")

    def usage(self, db: str) -> dict[str, Any]:
        """Tags, samples of the last 24 hours and database size, read from the tenant's database."""
        self.registry.get(db)
        return usage(self.settings, db)


def edge_identities(record: TenantRecord) -> dict[str, str]:
    """The tenant's edge identities, edge → identity id: the first edge's (``identity_id``, made at
    provisioning, its edge named ``""`` here) and each one added later (``identity_id:<edge>``)."""
    return {
        key.partition(":")[2]: value
        for key, value in record.ziti_ids.items()
        if value and (key == "identity_id" or key.startswith("identity_id:"))
    }


__all__ = ["ConfigError", "CreateResult", "Outcome", "Provisioner", "segment_from_name"]
