"""The collector install bundle a customer downloads: config, enrollment token, edge Compose file.

The bundle holds the edge's own credentials only (its Odoo API key and its broker user, both scoped
to this tenant and revocable); never the tenant admin's password, never the Odoo master password,
never another tenant's anything.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

COLLECTOR_IMAGE = "ghcr.io/hyperfactory/collector:18.0"
PLACEHOLDER = "ZITI-NOT-CONFIGURED"


@dataclass(frozen=True)
class EdgeBundle:
    tenant: str
    odoo_url: str
    db: str
    edge_login: str
    edge_api_key: str
    mqtt_url: str
    mqtt_username: str
    mqtt_password: str
    topic_root: str
    enrollment_jwt: str = ""

    def __repr__(self) -> str:
        return f"EdgeBundle(tenant={self.tenant!r}, db={self.db!r})"

    def collector_config(self) -> dict[str, Any]:
        """hf-collector's site.yaml sections (devices come from Odoo, not from this file)."""
        transport: dict[str, Any] = {"kind": "ziti" if self.enrollment_jwt else "direct"}
        if self.enrollment_jwt:
            transport["identity"] = "/identity/identity.json"
        return {
            "odoo": {"url": self.odoo_url, "db": self.db, "login": self.edge_login, "poll_seconds": 60},
            "mqtt": {"url": self.mqtt_url, "username": self.mqtt_username, "topic_root": self.topic_root},
            "transport": transport,
            "buffer": {"max_messages": 2_000_000},
            "state_dir": "/state",
        }

    def compose(self) -> dict[str, Any]:
        command = ["run", "--config", "/config/hf-collector.yaml", "--odoo", self.odoo_url, "--db", self.db,
                   "--login", self.edge_login, "--state-dir", "/state"]
        services: dict[str, Any] = {
            "collector": {
                "image": COLLECTOR_IMAGE,
                "restart": "unless-stopped",
                "command": command,
                "env_file": [".env"],
                "volumes": ["./hf-collector.yaml:/config/hf-collector.yaml:ro", "collector-state:/state",
                            "ziti-identity:/identity"],
                "network_mode": "host",  # the PLCs are on the plant network, not behind Docker's NAT
                "healthcheck": {"test": ["CMD", "hf-collector", "status", "--state-dir", "/state"],
                                "interval": "30s", "timeout": "10s", "retries": 3},
            },
        }
        if self.enrollment_jwt:
            services["enroll"] = {
                "image": COLLECTOR_IMAGE,
                "command": ["enroll", "--jwt", "/config/enrollment.jwt", "--out", "/identity/identity.json"],
                "volumes": ["./enrollment.jwt:/config/enrollment.jwt:ro", "ziti-identity:/identity"],
                "restart": "no",
            }
            services["collector"]["depends_on"] = {"enroll": {"condition": "service_completed_successfully"}}
        return {"name": f"hyperfactory-edge-{self.tenant}", "services": services,
                "volumes": {"collector-state": {}, "ziti-identity": {}}}

    def env_file(self) -> str:
        scheme, rest = self.mqtt_url.split("://", 1)
        url = f"{scheme}://{self.mqtt_username}:{self.mqtt_password}@{rest}"
        return ("# Secrets of this edge only (revocable in Odoo and by the operator). Keep this file private.\n"
                f"HF_COLLECTOR_API_KEY={self.edge_api_key}\nHF_COLLECTOR_MQTT_URL={url}\n"
                f"HF_COLLECTOR_TRANSPORT={'ziti' if self.enrollment_jwt else 'direct'}\n")

    def readme(self) -> str:
        ziti = ("1. `docker compose run --rm enroll` once: it turns the one-time token into the edge's\n"
                "   OpenZiti identity (the token is then spent; ask for a new bundle if it expired).\n"
                if self.enrollment_jwt else
                "1. OpenZiti is not configured for this instance: the collector connects to the broker\n"
                "   directly over TLS. `enrollment.jwt` holds a placeholder, not a token.\n")
        return (f"# Hyperfactory edge for {self.tenant}\n\n"
                "On a Linux box in the plant network with Docker:\n\n"
                f"{ziti}2. `docker compose up -d` starts the collector; it pulls its devices and tags from\n"
                f"   {self.odoo_url} (database {self.db}) and publishes under `{self.topic_root}/…`.\n"
                "3. `docker compose logs -f collector` shows what it reads.\n")

    def files(self) -> dict[str, str]:
        return {
            "README.md": self.readme(),
            "hf-collector.yaml": yaml.safe_dump(self.collector_config(), sort_keys=False),
            "docker-compose.yml": yaml.safe_dump(self.compose(), sort_keys=False),
            ".env": self.env_file(),
            "enrollment.jwt": self.enrollment_jwt or f"{PLACEHOLDER}\n",
        }

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in self.files().items():
                archive.writestr(f"hyperfactory-edge-{self.tenant}/{name}", text)
        return buffer.getvalue()

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.zip_bytes())
        return path
