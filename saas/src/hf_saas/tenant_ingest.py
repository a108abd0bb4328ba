"""How one tenant's ingest is started: ``hf-ingest`` as the tenant's broker user and database role.

It subscribes to the tenant's topic root only, writes into the tenant's database only, and takes both
passwords from its environment (never from its command line, which every local user can read).
"""

from __future__ import annotations

import sys
from urllib.parse import quote, urlsplit

from .registry import Registry, TenantRecord
from .settings import Settings
from .tenant_odoo import odoo_environment


def ingest_arguments(db: str, topic_root: str) -> list[str]:
    """``hf-ingest``'s arguments for one tenant (on one server and in its Kubernetes Deployment): its topic
    root only, its own client id (its persistent session), and no giving up on the broker."""
    return [
        "--topic",
        f"{topic_root}/#",
        "--client-id",
        f"{db}-ingest",
        "--connect-attempts",
        "1000000",
        "--stats-interval",
        "60",
    ]


def ingest_command(settings: Settings, record: TenantRecord) -> list[str]:
    return [
        settings.python or sys.executable,
        "-m",
        "hf_historian.ingest",
        *ingest_arguments(record.db, record.topic_root),
    ]


def ingest_environment(settings: Settings, registry: Registry, record: TenantRecord) -> dict[str, str]:
    broker = urlsplit(settings.ingest_mqtt_url)
    user = quote(f"{record.db}-ingest", safe="")
    password = quote(registry.read_secret(record.db, "mqtt_ingest_password"), safe="")
    env = odoo_environment()
    env.update(
        {
            "HF_INGEST_MQTT_URL": f"{broker.scheme}://{user}:{password}@{broker.netloc.rsplit('@', 1)[-1]}",
            "HF_INGEST_DSN": f"host={settings.db_host} port={settings.db_port} dbname={record.db} user={record.db}",
            "PGPASSWORD": registry.read_secret(record.db, "db_password"),
        }
    )
    return env
