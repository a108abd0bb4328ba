"""The collector install bundle a customer downloads: config, enrollment token, edge Compose file, run.sh.

Unpacked, the bundle is a directory ``hf-collector run --bundle DIR`` runs as it is: ``hf-collector.yaml``
(settings and the tenant's Odoo; no devices, they are pulled from Odoo), ``.env`` (the edge's secrets),
``enrollment.jwt``; ``run.sh`` does that on a plain Linux box, ``docker-compose.yml`` in Docker (the bundle
mounted read-only at ``/bundle``). File paths in the YAML are relative to the bundle.

The bundle holds the edge's own credentials only (its Odoo API key and its broker user, both scoped
to this tenant and revocable); never the tenant admin's password, never the Odoo master password,
never another tenant's anything.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

COLLECTOR_IMAGE = "ghcr.io/hyperfactory/collector:18.0"
PLACEHOLDER = "ZITI-NOT-CONFIGURED"
IDENTITY = "identity.json"  # beside the bundle's files on a plain box; in Docker on the ziti-identity volume
DOCKER_IDENTITY = "/identity/identity.json"
# Whether the archive's members are private or run (unzip restores these modes)
MODES = {".env": 0o600, "run.sh": 0o755}

RUN_SH = """#!/bin/sh
# This edge's collector on a plain Linux box, without Docker: sh run.sh (README.md says how to install it).
# It pulls its devices and tags from the tenant's Odoo and publishes to the tenant's broker (hf-collector.yaml,
# .env); the buffer and the configuration cache stay in ./state.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
collector="${HF_COLLECTOR:-$(command -v hf-collector || echo "$HOME/.hyperfactory/bin/hf-collector")}"
if [ ! -x "$collector" ]; then
    echo "run.sh: hf-collector is not installed (see $here/README.md), or set HF_COLLECTOR=/path/to/hf-collector" >&2
    exit 2
fi
if grep -q '^  kind: ziti' "$here/hf-collector.yaml" && [ ! -f "$here/identity.json" ]; then
    # once: the one-time token becomes this edge's OpenZiti identity
    "$collector" enroll --jwt "$here/enrollment.jwt" --out "$here/identity.json"
fi
exec "$collector" run --bundle "$here" "$@"
"""


CA_FILE = "ca.crt"


def mqtt_client_id(db: str, edge_login: str) -> str:
    """The edge collector's MQTT client id: its tenant's database and its edge's login (MQTT brokers commonly
    take 64 bytes: a longer pair keeps its start and a hash of the whole)."""
    whole = f"{db}-{edge_login}"
    if len(whole) <= 64:
        return whole
    return f"{whole[:47]}-{hashlib.sha256(whole.encode()).hexdigest()[:16]}"


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
    mqtt_ca: str = ""  # PEM of the CA the broker's certificate comes from, when the edge cannot know it

    def __repr__(self) -> str:
        return f"EdgeBundle(tenant={self.tenant!r}, db={self.db!r})"

    def collector_config(self) -> dict[str, Any]:
        """hf-collector's site.yaml sections (devices come from Odoo, not from this file); paths are relative
        to the bundle (Compose gives the container's own with --state-dir and HF_COLLECTOR_ZITI_IDENTITY)."""
        transport: dict[str, Any] = {"kind": "ziti" if self.enrollment_jwt else "direct"}
        if self.enrollment_jwt:
            transport["identity"] = IDENTITY
        return {
            "odoo": {"url": self.odoo_url, "db": self.db, "login": self.edge_login, "poll_seconds": 60},
            "mqtt": {
                "url": self.mqtt_url,
                "username": self.mqtt_username,
                # unique on the cloud's broker, which every tenant shares: the collector's default is the edge's
                # name, and two tenants' edges of the same name would take each other's session in turn
                "client_id": mqtt_client_id(self.db, self.edge_login),
                "topic_root": self.topic_root,
                **({"ca_file": CA_FILE} if self.mqtt_ca else {}),
            },
            "transport": transport,
            "buffer": {"max_messages": 2_000_000},
            "state_dir": "state",
        }

    def compose(self) -> dict[str, Any]:
        services: dict[str, Any] = {
            "collector": {
                "image": COLLECTOR_IMAGE,
                "restart": "unless-stopped",
                # the bundle's .env is read by the collector itself, from the read-only bundle
                "command": ["run", "--bundle", "/bundle", "--state-dir", "/state"],
                "volumes": ["./:/bundle:ro", "collector-state:/state", "ziti-identity:/identity"],
                "network_mode": "host",  # the PLCs are on the plant network, not behind Docker's NAT
                "healthcheck": {
                    "test": ["CMD", "hf-collector", "status", "--state-dir", "/state"],
                    "interval": "30s",
                    "timeout": "10s",
                    "retries": 3,
                },
            },
        }
        if self.enrollment_jwt:
            services["enroll"] = {
                "image": COLLECTOR_IMAGE,
                "command": ["enroll", "--jwt", "/bundle/enrollment.jwt", "--out", DOCKER_IDENTITY],
                "volumes": ["./:/bundle:ro", "ziti-identity:/identity"],
                "restart": "no",
            }
            services["collector"]["environment"] = {"HF_COLLECTOR_ZITI_IDENTITY": DOCKER_IDENTITY}
            services["collector"]["depends_on"] = {"enroll": {"condition": "service_completed_successfully"}}
        return {
            "name": f"hyperfactory-edge-{self.tenant}",
            "services": services,
            "volumes": {"collector-state": {}, "ziti-identity": {}},
        }

    def env_file(self) -> str:
        scheme, rest = self.mqtt_url.split("://", 1)
        url = f"{scheme}://{self.mqtt_username}:{self.mqtt_password}@{rest}"
        return (
            "# Secrets of this edge only (revocable in Odoo and by the operator). Keep this file private.\n"
            f"HF_COLLECTOR_API_KEY={self.edge_api_key}\nHF_COLLECTOR_MQTT_URL={url}\n"
            f"HF_COLLECTOR_TRANSPORT={'ziti' if self.enrollment_jwt else 'direct'}\n"
        )

    def readme(self) -> str:
        docker_ziti = (
            "1. `docker compose run --rm enroll` once: it turns the one-time token into the edge's\n"
            "   OpenZiti identity (the token is then spent; ask for a new bundle if it expired).\n"
            if self.enrollment_jwt
            else "1. OpenZiti is not configured for this instance: the collector connects to the broker\n"
            "   directly. `enrollment.jwt` holds a placeholder, not a token.\n"
        )
        plain_ziti = (
            "   The first start enrolls the edge's OpenZiti identity from `enrollment.jwt` into\n"
            f"   `{IDENTITY}` (by hand: `hf-collector enroll --jwt enrollment.jwt --out {IDENTITY}`).\n"
            if self.enrollment_jwt
            else ""
        )
        return (
            f"# Hyperfactory edge for {self.tenant}\n\n"
            "The collector in this folder pulls its devices and tags from "
            f"{self.odoo_url} (database {self.db}),\n"
            f"reads the PLCs and publishes their values under `{self.topic_root}/…`. Run it on a Linux box in\n"
            "the plant network, one of two ways. `.env` holds this edge's own secrets (its Odoo API key and\n"
            "broker password, revocable in Odoo): keep it private.\n\n"
            "## Without Docker\n\n"
            "1. Python 3.11 or newer, and hf-collector from a clone of the Hyperfactory repository:\n"
            "   ```sh\n"
            "   python3 -m venv ~/.hyperfactory\n"
            "   ~/.hyperfactory/bin/pip install ./core ./collector   # in the repository's folder\n"
            "   ```\n"
            "2. `sh run.sh` in this folder (it runs `hf-collector run --bundle <this folder>`; run it\n"
            "   as a systemd service to keep it up). The buffer and configuration cache are in `state/`.\n"
            f"{plain_ziti}\n"
            "## With Docker\n\n"
            f"{docker_ziti}2. `docker compose up -d` starts the collector (this folder is mounted read-only\n"
            "   at /bundle).\n"
            "3. `docker compose logs -f collector` shows what it reads.\n\n"
            "`hf-collector status --state-dir state` (or `docker compose exec collector hf-collector status\n"
            "--state-dir /state`) shows its devices and counters.\n"
        )

    def files(self) -> dict[str, str]:
        return {
            "README.md": self.readme(),
            "run.sh": RUN_SH,
            "hf-collector.yaml": yaml.safe_dump(self.collector_config(), sort_keys=False),
            "docker-compose.yml": yaml.safe_dump(self.compose(), sort_keys=False),
            ".env": self.env_file(),
            "enrollment.jwt": self.enrollment_jwt or f"{PLACEHOLDER}\n",
            **({CA_FILE: self.mqtt_ca} if self.mqtt_ca else {}),
        }

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in self.files().items():
                member = zipfile.ZipInfo(f"hyperfactory-edge-{self.tenant}/{name}")
                member.external_attr = (0o100000 | MODES.get(name, 0o644)) << 16  # a regular file and its mode
                member.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(member, text)
        return buffer.getvalue()

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.zip_bytes())
        return path


def unpack(archive: Path | bytes, into: Path) -> Path:
    """The bundle's folder, as `unzip` leaves it under ``into`` (with the file modes the archive gives:
    ``run.sh`` executable, ``.env`` readable by its owner only)."""
    with zipfile.ZipFile(io.BytesIO(archive) if isinstance(archive, bytes) else archive) as zipped:
        zipped.extractall(into)
        for member in zipped.infolist():
            (into / member.filename).chmod(member.external_attr >> 16 & 0o777)
        (folder,) = {Path(name).parts[0] for name in zipped.namelist()}
    return into / folder
