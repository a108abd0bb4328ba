"""Where the collector's configuration comes from: a site.yaml, an edge bundle, or Odoo over XML-RPC with a
local cache.

Settings resolve flag → environment variable → file → default; every one is listed in :data:`SETTINGS`.
An edge bundle (what hyperfactory-cloud hands a customer, unpacked) is a directory with ``hf-collector.yaml``
(the settings, an ``odoo:`` section and no devices: they are pulled from Odoo) and ``.env`` (the edge's own
secrets, as environment variables that the process's environment overrides).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import logging
import os
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml

from hf_collector.model import SiteConfig, parse_site
from hf_core.errors import ConfigError, SourceError
from hf_core.net import create_connection
from hf_core.retry import Backoff, attempts

if TYPE_CHECKING:
    from xmlrpc.client import _HostType

_logger = logging.getLogger(__name__)

# name: (environment variable, site.yaml key path, default)
SETTINGS: dict[str, tuple[str, str, str]] = {
    "mqtt_url": ("HF_COLLECTOR_MQTT_URL", "mqtt.url", "mqtt://127.0.0.1:1883"),
    "mqtt_ca_file": ("HF_COLLECTOR_MQTT_CA_FILE", "mqtt.ca_file", ""),
    "mqtt_client_id": ("HF_COLLECTOR_MQTT_CLIENT_ID", "mqtt.client_id", ""),
    "state_dir": ("HF_COLLECTOR_STATE_DIR", "state_dir", "./hf-collector-state"),
    "buffer_max_messages": ("HF_COLLECTOR_BUFFER_MAX_MESSAGES", "buffer.max_messages", "2000000"),
    "transport": ("HF_COLLECTOR_TRANSPORT", "transport.kind", "direct"),
    "ziti_identity": ("HF_COLLECTOR_ZITI_IDENTITY", "transport.identity", ""),
    "api_key": ("HF_COLLECTOR_API_KEY", "odoo.api_key", ""),
    "odoo_url": ("HF_COLLECTOR_ODOO_URL", "odoo.url", ""),
    "odoo_db": ("HF_COLLECTOR_ODOO_DB", "odoo.db", ""),
    "odoo_login": ("HF_COLLECTOR_ODOO_LOGIN", "odoo.login", ""),
    "topic_root": ("HF_COLLECTOR_TOPIC_ROOT", "mqtt.topic_root", ""),
    "config_poll_s": ("HF_COLLECTOR_CONFIG_POLL_S", "odoo.poll_seconds", "60"),
}


def setting(name: str, file_values: dict[str, Any] | None = None, override: str | None = None) -> str:
    """An explicit ``override`` (a CLI flag) wins, then the environment, then the file, then the default."""
    env_name, path, default = SETTINGS[name]
    if override not in (None, ""):
        return str(override)
    if os.environ.get(env_name):
        return os.environ[env_name]
    node: Any = file_values or {}
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return default if node in (None, "") else str(node)


def load_yaml(path: Path) -> tuple[SiteConfig, dict[str, Any]]:
    """The site file: the devices (as Odoo's document has them) and the local settings."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML.", detail=str(exc)) from exc
    if not isinstance(document, dict):
        raise ConfigError(f"Config file {path} must be a mapping with a 'devices' list.")
    return parse_site(document), document


def pulls_from_odoo(document: dict[str, Any]) -> bool:
    """A file with an ``odoo:`` section and no devices means: pull the devices from that Odoo."""
    return isinstance(document.get("odoo"), dict) and not document.get("devices")


BUNDLE_CONFIG, BUNDLE_ENV = "hf-collector.yaml", ".env"
# (setting, what it is) the bundle must give, in its YAML or (the secrets) its .env
_BUNDLE_NEEDS = (
    ("odoo_url", "the tenant's Odoo URL"),
    ("odoo_db", "its database"),
    ("odoo_login", "the edge's login"),
    ("api_key", "the edge's API key"),
    ("mqtt_url", "the broker URL with the edge's broker user"),
)
_BUNDLE_SECRETS = ("api_key", "mqtt_url")
# settings that are files: relative to the bundle's directory when relative
_BUNDLE_PATHS = (("state_dir",), ("transport", "identity"), ("mqtt", "ca_file"))


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments and blank lines skipped, one pair of quotes taken off), as
    Docker Compose's ``env_file`` reads them."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.removeprefix("export ").partition("=")
        if not equals or not key.strip().isidentifier():
            raise ConfigError(f"{path}, line {number}: expected KEY=VALUE.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_bundle(directory: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """An unpacked edge bundle: its settings (relative file paths made the bundle's) and its ``.env``.

    :class:`ConfigError` naming the file and the key when the bundle cannot run; the process's environment
    may stand in for the ``.env`` (a value set there wins, as with Compose)."""
    if not directory.is_dir():
        raise ConfigError(f"Edge bundle {directory} is not a directory: unpack the bundle's zip and give its folder.")
    config_path = directory / BUNDLE_CONFIG
    if not config_path.is_file():
        raise ConfigError(
            f"Edge bundle {directory} has no {BUNDLE_CONFIG}: download the bundle again "
            "(Hyperfactory ▸ Edges, or the instance's page)."
        )
    _, document = load_yaml(config_path)
    env_path = directory / BUNDLE_ENV
    env = read_env_file(env_path) if env_path.is_file() else {}
    missing = []
    for name, what in _BUNDLE_NEEDS:
        env_name, key, _ = SETTINGS[name]
        # the YAML's broker URL carries no password: the edge's broker user comes from .env (or the environment)
        given = env.get(env_name) or (os.environ.get(env_name) if name == "mqtt_url" else setting(name, document))
        if not given:
            where = f"{BUNDLE_ENV} has no {env_name}" if name in _BUNDLE_SECRETS else f"{BUNDLE_CONFIG} has no {key}"
            missing.append(f"{where} ({what})")
    if missing:
        absent = "" if env_path.is_file() else f" ({env_path} is missing)"
        raise ConfigError(
            f"Edge bundle {directory} is incomplete{absent}: " + "; ".join(missing) + ". Download the bundle again."
        )
    for keys in _BUNDLE_PATHS:
        node: Any = document
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(keys[-1]) and not Path(str(node[keys[-1]])).is_absolute():
            node[keys[-1]] = str(directory.resolve() / str(node[keys[-1]]))
    return document, env


def within_topic_root(site: SiteConfig, root: str) -> SiteConfig:
    """``site`` without the tags whose topic lies outside ``root`` (the edge's broker user may publish only
    under ``<root>/#``: the broker would drop their values unseen), each named in ``errors``."""
    if not root:
        return site
    prefix = root.rstrip("/") + "/"
    errors = list(site.errors)
    devices = []
    for device in site.devices:
        outside = [tag for tag in device.tags if not tag.topic.startswith(prefix)]
        errors.extend(
            f"Device {device.name}, tag {tag.name}: topic {tag.topic} is outside this edge's topic root "
            f"{root}; the broker accepts nothing else from this edge."
            for tag in outside
        )
        devices.append(
            dataclasses.replace(device, tags=tuple(t for t in device.tags if t not in outside)) if outside else device
        )
    return dataclasses.replace(site, devices=tuple(devices), errors=tuple(errors))


class _HTTPConnection(http.client.HTTPConnection):
    """Dials ``*.localhost`` at loopback (hf_core.net); the Host header keeps the name the URL gives."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self._create_connection = create_connection


class _HTTPSConnection(http.client.HTTPSConnection):
    """As :class:`_HTTPConnection`, over TLS (the server name checked is the URL's)."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self._create_connection = create_connection


class _Transport(xmlrpc.client.Transport):
    """xmlrpc's transport (plain or TLS: SafeTransport differs only in its connection) with those connections."""

    def __init__(self, tls: bool) -> None:
        super().__init__()
        self._tls = tls

    def make_connection(self, host: _HostType) -> http.client.HTTPConnection:
        connection = self._connection[1]
        if connection is None or host != self._connection[0]:
            chost, self._extra_headers, _ = self.get_host_info(host)
            # TLS with the default context: the server's certificate and name are checked
            connection = _HTTPSConnection(chost) if self._tls else _HTTPConnection(chost)
            self._connection = host, connection
        return connection


def server_proxy(url: str) -> xmlrpc.client.ServerProxy:
    """An XML-RPC proxy that reaches ``http://<db>.localhost:8070`` too (the Host header naming the tenant)."""
    return xmlrpc.client.ServerProxy(url, transport=_Transport(tls=url.startswith("https:")), allow_none=True)


@dataclass(frozen=True, slots=True)
class OdooSource:
    """The edge's configuration from hf_uns, as the edge's own user (login + API key)."""

    url: str
    db: str
    login: str
    api_key: str
    cache_path: Path

    def _call(self, method: str, *args: object) -> dict[str, Any]:
        """``hf.uns.edge``'s ``method`` over XML-RPC: its result, a struct (the document, its version, a report's
        receipt)."""
        common = server_proxy(f"{self.url}/xmlrpc/2/common")
        uid = common.authenticate(self.db, self.login, self.api_key, {})
        if not uid:
            raise ConfigError(
                f"Odoo at {self.url} refused edge {self.login!r}: the API key is wrong or the edge was revoked. "
                "Generate a new key on the edge in Odoo (Manufacturing ▸ Hyperfactory ▸ Edges)."
            )
        models = server_proxy(f"{self.url}/xmlrpc/2/object")
        try:
            # both methods return a struct; XML-RPC's own type is any marshallable value
            return cast(
                dict[str, Any], models.execute_kw(self.db, uid, self.api_key, "hf.uns.edge", method, list(args))
            )
        except xmlrpc.client.Fault as exc:
            raise ConfigError(f"Odoo refused {method} for edge {self.login!r}.", detail=exc.faultString) from exc

    async def report(self, report: dict[str, Any]) -> dict[str, Any]:
        """Tell Odoo what this edge cannot use (``status.odoo_report``): shown on the tags and the edge."""
        return await asyncio.to_thread(self._call, "report_collector_status", report)

    async def fetch(self) -> SiteConfig:
        """Pull the document and cache it; with Odoo away, fall back to the cache."""
        try:
            document = await asyncio.to_thread(self._call, "get_collector_config")
        except (OSError, xmlrpc.client.ProtocolError) as exc:
            cached = self.cached()
            if cached is None:
                raise SourceError(
                    f"Odoo at {self.url} is unreachable and no cached configuration exists at {self.cache_path}; "
                    "the collector needs to reach Odoo once.",
                    retry_in=10,
                    detail=str(exc),
                ) from exc
            _logger.warning(
                "Odoo at %s unreachable (%s); starting from the cached configuration v%s", self.url, exc, cached.version
            )
            return cached
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document), encoding="utf-8")
        os.chmod(tmp, 0o600)  # it holds device passwords
        tmp.replace(self.cache_path)
        return parse_site(document)

    async def fetch_first(self) -> SiteConfig:
        """The configuration to start from: :meth:`fetch`, and while Odoo is away with nothing cached yet (a
        tenant's Odoo still starting, a 503, a network coming up), asked again with the one backoff instead of
        giving up: ``sh run.sh`` on a plant's box starts whenever it is run. A refused key still ends it."""
        backoff = Backoff()
        async for _ in attempts(backoff):
            try:
                return await self.fetch()
            except SourceError as exc:
                _logger.warning("%s Trying again in %.0f s.", exc, backoff.delay)
        raise AssertionError("attempts() never ends")

    def cached(self) -> SiteConfig | None:
        try:
            return parse_site(json.loads(self.cache_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    async def version(self) -> dict[str, Any]:
        return dict(await asyncio.to_thread(self._call, "get_collector_config_version"))
