"""Where the collector's configuration comes from: a site.yaml, or Odoo over XML-RPC with a local cache.

Settings resolve environment variable → file → default; every one is listed in :data:`SETTINGS`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from hf_collector.model import SiteConfig, parse_site
from hf_core.errors import ConfigError, SourceError

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


@dataclass(frozen=True, slots=True)
class OdooSource:
    """The edge's configuration from hf_uns, as the edge's own user (login + API key)."""

    url: str
    db: str
    login: str
    api_key: str
    cache_path: Path

    def _call(self, method: str) -> dict[str, Any]:
        """``hf.uns.edge``'s ``method`` over XML-RPC: its result, a struct (the document or its version)."""
        common = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common", allow_none=True)
        uid = common.authenticate(self.db, self.login, self.api_key, {})
        if not uid:
            raise ConfigError(
                f"Odoo at {self.url} refused edge {self.login!r}: the API key is wrong or the edge was revoked. "
                "Generate a new key on the edge in Odoo (Manufacturing ▸ Hyperfactory ▸ Edges)."
            )
        models = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/object", allow_none=True)
        try:
            # both methods return a struct; XML-RPC's own type is any marshallable value
            return cast(dict[str, Any], models.execute_kw(self.db, uid, self.api_key, "hf.uns.edge", method, []))
        except xmlrpc.client.Fault as exc:
            raise ConfigError(f"Odoo refused {method} for edge {self.login!r}.", detail=exc.faultString) from exc

    async def fetch(self) -> SiteConfig:
        """Pull the document and cache it; with Odoo away, fall back to the cache."""
        try:
            document = await asyncio.to_thread(self._call, "get_collector_config")
        except (OSError, xmlrpc.client.ProtocolError) as exc:
            cached = self.cached()
            if cached is None:
                raise SourceError(
                    f"Odoo at {self.url} is unreachable and no cached configuration exists at {self.cache_path}; "
                    "the collector needs to reach Odoo once.", retry_in=10, detail=str(exc)) from exc
            _logger.warning("Odoo at %s unreachable (%s); starting from the cached configuration v%s",
                            self.url, exc, cached.version)
            return cached
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document), encoding="utf-8")
        os.chmod(tmp, 0o600)  # it holds device passwords
        tmp.replace(self.cache_path)
        return parse_site(document)

    def cached(self) -> SiteConfig | None:
        try:
            return parse_site(json.loads(self.cache_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    async def version(self) -> dict[str, Any]:
        return dict(await asyncio.to_thread(self._call, "get_collector_config_version"))
