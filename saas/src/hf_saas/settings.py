"""Provisioner settings: environment variable → settings file → default, listed here once.

=============================  ==============================================  =========================
environment variable           meaning                                         default
=============================  ==============================================  =========================
HF_SAAS_SETTINGS               JSON file with the same keys (lower case,        (none)
                               without the prefix)
HF_SAAS_DB_HOST / _PORT        PostgreSQL server of the tenants                 HF_DB_HOST / 127.0.0.1,
                                                                                HF_DB_PORT / 5432
HF_SAAS_DB_USER                the provisioner's own role (CREATEDB,            hf_provisioner
                               CREATEROLE, never SUPERUSER; not the operator's
                               Odoo's); each tenant gets a role of its own
HF_SAAS_DB_PASSWORD            its password (or a ~/.pgpass line)               (none)
HF_SAAS_TEMPLATE_DB            the prepared template database                  hf_tenant_template
HF_SAAS_DB_PREFIX              prefix of tenant database names                 hf_t_
HF_SAAS_MODULES                modules installed in the template               hf_uns,hf_screens,
                                                                                hf_cloud_tenant,auth_signup
HF_SAAS_TENANT_ADDONS          this repository's addons a tenant may install    hf_uns,hf_screens,hf_ml,
                               (linked into <state>/tenant-addons; never an     hf_cloud_tenant
                               operator addon such as hf_cloud)
HF_SAAS_ADDONS_PATH            the tenants' Odoo addons path (refused when it   Odoo's +
                               holds an operator addon)                         <state>/tenant-addons
HF_SAAS_DATA_DIR               Odoo data dir (filestores) of the tenants        <state>/odoo-data
HF_SAAS_ROOT                   the Hyperfactory tree (the folder holding        found from this file or
                               ``addons/``): where the tenant addons come from  the working directory
                               (none for a package installed alone: then set
                               it, or HF_SAAS_ADDONS_PATH)
HF_SAAS_STATE_DIR              tenant records, broker files, backups, bundles  <root>/var/saas, without a
                                                                                root ~/.local/state/
                                                                                hyperfactory/saas
HF_SAAS_BASE_URL               tenant URL; ``{db}`` is replaced                 http://{db}.localhost:8069
HF_SAAS_MQTT_URL               broker URL the edges use                         mqtts://mqtt.localhost:8883
HF_SAAS_INGEST_MQTT_URL        broker URL the tenants' ingests use (the cloud   mqtt://127.0.0.1:1883
                               side, a listener the edges cannot reach)
HF_SAAS_MQTT_CA_FILE           CA certificate the edges check the broker with,  (none: a public CA)
                               put in every bundle (a private or dev CA)
HF_SAAS_MOSQUITTO_DIR          where ``passwd`` and ``acl`` are written         <state>/mosquitto
HF_SAAS_MOSQUITTO_PIDFILE      broker pid file: SIGHUP after each change        (none: reload yourself)
HF_SAAS_ZITI_URL               controller management API, e.g.                  (none: Ziti not configured)
                               https://ctrl:1280/edge/management/v1
HF_SAAS_ZITI_USER / _PASSWORD  controller admin credentials                     (none)
HF_SAAS_ZITI_CA                CA bundle of the controller                      system store
HF_SAAS_CLONE_STRATEGY         CREATE DATABASE strategy: wal_log | file_copy    file_copy
=============================  ==============================================  =========================
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

_PREFIX = "HF_SAAS_"
# what marks the Hyperfactory tree: its addons folder with hf_uns in it
_ROOT_MARK = Path("addons") / "hf_uns" / "__manifest__.py"


def find_root(environ: dict[str, str] | None = None, start: Path | None = None, cwd: Path | None = None) -> Path | None:
    """The Hyperfactory tree (the folder holding ``addons/``): ``HF_SAAS_ROOT`` when set, else the nearest folder
    above ``start`` (this file: a checkout, an editable install) or the working directory that holds
    ``addons/hf_uns``; None for a package installed alone, away from the tree."""
    env = os.environ if environ is None else environ
    if env.get(f"{_PREFIX}ROOT"):
        return Path(env[f"{_PREFIX}ROOT"]).expanduser().resolve()
    for origin in (start or Path(__file__).resolve(), cwd or Path.cwd()):
        for folder in (origin, *origin.parents):
            if (folder / _ROOT_MARK).is_file():
                return folder
    return None


REPO_ROOT = find_root()
_DEFAULT_STATE_DIR = (REPO_ROOT / "var" / "saas") if REPO_ROOT else Path.home() / ".local/state/hyperfactory/saas"
# Addons of the operator's own Odoo: with one of them, a tenant administrator could steer the provisioner.
OPERATOR_ADDONS = frozenset({"hf_cloud"})


def _odoo_community_addons() -> str | None:
    try:
        import odoo
    except ImportError:
        return None
    path = Path(odoo.__file__).resolve().parent.parent / "addons"
    return str(path) if path.is_dir() else None


def link_tenant_addons(target: Path, modules: tuple[str, ...], source: Path) -> Path:
    """``target`` holds links to exactly ``modules`` of ``source`` (stale links removed): the tenants' addons."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in target.iterdir():
        if entry.name not in modules and entry.is_symlink():
            entry.unlink()
    for module in modules:
        link = target / module
        wanted = (source / module).resolve()
        if link.is_symlink() and link.resolve() == wanted:
            continue
        if link.is_symlink():
            link.unlink()
        if not (wanted / "__manifest__.py").exists():
            raise ConfigError(f"The tenant addon {module} is not in {source}.")
        link.symlink_to(wanted, target_is_directory=True)
    return target


@dataclass(frozen=True)
class Settings:
    """Everything the provisioner needs to reach PostgreSQL, Odoo, the broker and Ziti."""

    db_host: str = "127.0.0.1"
    db_port: int = 5432
    db_user: str = "hf_provisioner"
    db_password: str = field(default="", repr=False)
    template_db: str = "hf_tenant_template"
    db_prefix: str = "hf_t_"
    modules: tuple[str, ...] = ("hf_uns", "hf_screens", "hf_cloud_tenant", "auth_signup")
    tenant_addons: tuple[str, ...] = ("hf_uns", "hf_screens", "hf_ml", "hf_cloud_tenant")
    addons_path: str = ""
    data_dir: Path = _DEFAULT_STATE_DIR / "odoo-data"
    state_dir: Path = _DEFAULT_STATE_DIR
    root: Path | None = REPO_ROOT
    base_url: str = "http://{db}.localhost:8069"
    mqtt_url: str = "mqtts://mqtt.localhost:8883"
    ingest_mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_ca_file: Path | None = None
    mosquitto_dir: Path | None = None
    mosquitto_pidfile: Path | None = None
    ziti_url: str = ""
    ziti_user: str = ""
    ziti_password: str = field(default="", repr=False)
    ziti_ca: str = ""
    clone_strategy: str = "file_copy"
    python: str = ""

    def __post_init__(self) -> None:
        if self.clone_strategy not in ("wal_log", "file_copy"):
            raise ConfigError(f"HF_SAAS_CLONE_STRATEGY must be wal_log or file_copy, not {self.clone_strategy!r}.")
        if not self.db_prefix or not self.db_prefix.replace("_", "").isalnum():
            raise ConfigError("HF_SAAS_DB_PREFIX may only contain letters, digits and '_'.")
        if "{db}" not in self.base_url:
            raise ConfigError("HF_SAAS_BASE_URL must contain {db}, e.g. https://{db}.hyperfactory.cloud.")
        operator = OPERATOR_ADDONS.intersection(self.tenant_addons)
        if operator:
            raise ConfigError(f"HF_SAAS_TENANT_ADDONS may not contain the operator addon(s) {', '.join(operator)}.")

    @property
    def tenant_addons_dir(self) -> Path:
        return self.state_dir / "tenant-addons"

    @property
    def full_addons_path(self) -> str:
        """The tenants' addons path: the configured one, else Odoo's own and ``<state>/tenant-addons``
        (links to the tenant addons only). Never a directory with an operator addon: a tenant
        administrator could install it in their own database."""
        if self.addons_path:
            path = self.addons_path
        else:
            if self.root is None:
                raise ConfigError(
                    "The tenant addons were not found: set HF_SAAS_ROOT to the Hyperfactory folder that "
                    "holds addons/, or HF_SAAS_ADDONS_PATH to the tenants' addons path."
                )
            linked = link_tenant_addons(self.tenant_addons_dir, self.tenant_addons, self.root / "addons")
            path = ",".join(p for p in (_odoo_community_addons(), str(linked)) if p)
        for root in path.split(","):
            for addon in OPERATOR_ADDONS:
                if (Path(root.strip()) / addon / "__manifest__.py").exists():
                    raise ConfigError(
                        f"The tenants' addons path {root} holds the operator addon {addon}; "
                        "give the tenants' Odoo a directory with the tenant addons only."
                    )
        return path

    @property
    def tenant_dbfilter(self) -> str:
        """Odoo ``dbfilter`` of the tenants' Odoo: the database named by the host's first label
        (``<db>.localhost`` → ``<db>``), and only a tenant database, never the operator's or another one."""
        return f"^(?={self.db_prefix})%d$"

    @property
    def mosquitto_path(self) -> Path:
        return self.mosquitto_dir or self.state_dir / "mosquitto"

    @property
    def ziti_configured(self) -> bool:
        return bool(self.ziti_url)

    def tenant_url(self, db: str) -> str:
        return self.base_url.replace("{db}", db)

    def dsn(self, db: str = "postgres") -> dict[str, Any]:
        dsn: dict[str, Any] = {"host": self.db_host, "port": self.db_port, "user": self.db_user, "dbname": db}
        if self.db_password:
            dsn["password"] = self.db_password
        return dsn

    def with_overrides(self, **values: Any) -> Settings:  # noqa: ANN401  (each value is its field's type)
        return replace(self, **values)

    @classmethod
    def load(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:  # noqa: ANN401  (as above)
        """Resolve env var → settings file → default; keyword overrides win over all."""
        env = dict(os.environ if environ is None else environ)
        file_values: dict[str, Any] = {}
        settings_file = env.get(f"{_PREFIX}SETTINGS")
        if settings_file:
            try:
                file_values = json.loads(Path(settings_file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"The settings file {settings_file} cannot be read.", str(exc)) from exc
        fallbacks = {"db_host": env.get("HF_DB_HOST"), "db_port": env.get("HF_DB_PORT")}
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(_PREFIX + f.name.upper())
            if raw is None:
                raw = file_values.get(f.name)
            if raw is None:
                raw = fallbacks.get(f.name)
            if raw is None:
                continue
            values[f.name] = _coerce(f.name, raw)
        if "root" in values and "state_dir" not in values:
            values["state_dir"] = Path(values["root"]) / "var" / "saas"
        if "state_dir" in values and "data_dir" not in values:
            values["data_dir"] = Path(values["state_dir"]) / "odoo-data"
        values.update(overrides)
        return cls(**values)


def _coerce(name: str, raw: Any) -> Any:  # noqa: ANN401  (an env string or a JSON value, to the field's type)
    if name == "db_port":
        try:
            return int(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"HF_SAAS_DB_PORT must be a number, not {raw!r}.") from exc
    if name in ("modules", "tenant_addons"):
        return tuple(m.strip() for m in (raw.split(",") if isinstance(raw, str) else raw) if m.strip())
    if name in ("data_dir", "state_dir", "mosquitto_dir", "mosquitto_pidfile", "mqtt_ca_file"):
        return Path(raw)
    if name == "root":
        return Path(raw).expanduser().resolve()
    return str(raw)
