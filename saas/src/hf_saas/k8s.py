"""Kubernetes manifests for tenants: one namespace per large tenant, shared pools for the rest.

``hf-saas k8s render`` prints a multi-document YAML: for a dedicated tenant its Namespace,
ResourceQuota (from the plan), NetworkPolicy (only the ingress controller and the namespace itself
reach Odoo), ConfigMap (odoo.conf with ``dbfilter`` = the tenant's database and only the tenant
addons on its path, no password: ``list_db = False``), Deployment (Odoo 18 image with the
Hyperfactory addons, readiness/liveness on ``/web/health``; the image's entrypoint adds
``admin_passwd`` from the ``odoo-admin`` Secret the operator creates, never rendered here, so
Odoo's default master password never applies), the ingest's Deployment (the tenant's topic root only,
its own broker user and database role), Service and Ingress. The database server stays outside (managed
PostgreSQL).

CPU and memory follow the plan (``cpu`` vCPU and ``memory_mb`` MB for the whole tenant, the same figures
and defaults as one server's cgroups, :mod:`hf_saas.tenant_limits`): the ingest's container gets a quarter
(at least 100m and 128Mi), the Odoo replicas share the rest; CPU requests are half the limits (a tenant
bursts up to its plan), memory requests equal the limits (nothing is evicted for memory it was promised).
The ResourceQuota is the plan plus one Odoo pod: what a rolling update of Odoo needs (one new pod before
an old one stops; the ingest is recreated, never two at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from . import roles
from .mosquitto import topic_root as tenant_topic_root
from .tenant_ingest import ingest_arguments
from .tenant_limits import Limits

ODOO_IMAGE = "ghcr.io/hyperfactory/odoo:18.0"
TENANT_ADDONS_PATH = "/usr/lib/python3/dist-packages/odoo/addons,/mnt/hyperfactory/addons"
BASE_CONF = "/etc/hyperfactory/odoo.conf"
INGEST_IMAGE = "ghcr.io/hyperfactory/ingest:18.0"


INGEST_SHARE = 0.25
MIN_INGEST_CPU_M, MIN_INGEST_MEMORY_MI = 100, 128
MIN_ODOO_CPU_M, MIN_ODOO_MEMORY_MI = 100, 256


@dataclass(frozen=True)
class PlanResources:
    """A tenant's containers' ``resources`` and its namespace's ResourceQuota, from its plan."""

    odoo: dict[str, dict[str, str]]
    ingest: dict[str, dict[str, str]]
    quota: dict[str, str]


def _resources(cpu_m: int, memory_mi: int) -> dict[str, dict[str, str]]:
    return {
        "requests": {"cpu": f"{max(1, cpu_m // 2)}m", "memory": f"{memory_mi}Mi"},
        "limits": {"cpu": f"{cpu_m}m", "memory": f"{memory_mi}Mi"},
    }


def plan_resources(limits: Limits, replicas: int = 1) -> PlanResources:
    """The plan's CPU and memory split between the ingest and ``replicas`` Odoo pods (see the module)."""
    cpu_m, memory_mi = round(limits.cpu * 1000), limits.memory_mb
    ingest_cpu = max(MIN_INGEST_CPU_M, round(cpu_m * INGEST_SHARE))
    ingest_memory = max(MIN_INGEST_MEMORY_MI, round(memory_mi * INGEST_SHARE))
    odoo_cpu = max(MIN_ODOO_CPU_M, (cpu_m - ingest_cpu) // replicas)
    odoo_memory = max(MIN_ODOO_MEMORY_MI, (memory_mi - ingest_memory) // replicas)
    pods = replicas + 1  # one more Odoo pod during a rolling update
    quota_cpu, quota_memory = ingest_cpu + pods * odoo_cpu, ingest_memory + pods * odoo_memory
    return PlanResources(
        odoo=_resources(odoo_cpu, odoo_memory),
        ingest=_resources(ingest_cpu, ingest_memory),
        quota={
            "requests.cpu": f"{max(1, ingest_cpu // 2) + pods * max(1, odoo_cpu // 2)}m",
            "limits.cpu": f"{quota_cpu}m",
            "requests.memory": f"{quota_memory}Mi",
            "limits.memory": f"{quota_memory}Mi",
        },
    )


def _labels(tenant: str) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "hyperfactory", "hyperfactory.io/tenant": tenant}


def tenant_manifests(
    *,
    tenant: str,
    db: str,
    host: str,
    db_host: str,
    db_port: int = 5432,
    db_user: str | None = None,
    quotas: dict[str, Any] | None = None,
    mqtt_host: str = "mqtt.hyperfactory.svc",
    replicas: int = 1,
    topic_root: str | None = None,
) -> list[dict[str, Any]]:
    quotas = quotas or {}
    db_user = db_user or roles.tenant_role(db)  # the tenant's own role, never the operator's or the provisioner's
    ns = f"hf-{tenant.replace('_', '-')}"[:63]
    labels = _labels(tenant)
    resources = plan_resources(Limits.from_quotas(quotas), replicas)
    storage_mb = int(quotas.get("storage_mb", 5120))
    odoo_conf = "\n".join(
        [
            "[options]",
            f"db_host = {db_host}",
            f"db_port = {db_port}",
            f"db_user = {db_user}",
            f"dbfilter = ^{db}$",
            "list_db = False",
            "proxy_mode = True",
            "workers = 2",
            "max_cron_threads = 1",
            "data_dir = /var/lib/odoo",
            # the image keeps the operator's addon (hf_cloud) in /mnt/hyperfactory/operator-addons: not here
            f"addons_path = {TENANT_ADDONS_PATH}",
            "",
        ]
    )
    probe = {"httpGet": {"path": "/web/health", "port": 8069}, "periodSeconds": 10, "timeoutSeconds": 5}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}},
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "plan", "namespace": ns, "labels": labels},
            "spec": {
                "hard": {
                    **resources.quota,
                    "requests.storage": f"{storage_mb}Mi",
                    "pods": "10",
                }
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "odoo-ingress-only", "namespace": ns, "labels": labels},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "odoo"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
                            {"podSelector": {}},
                        ]
                    }
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "odoo-conf", "namespace": ns, "labels": labels},
            "data": {"odoo.conf": odoo_conf},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "odoo", "namespace": ns, "labels": {**labels, "app.kubernetes.io/name": "odoo"}},
            "spec": {
                "replicas": replicas,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "selector": {"matchLabels": {"app.kubernetes.io/name": "odoo", "hyperfactory.io/tenant": tenant}},
                "template": {
                    "metadata": {"labels": {**labels, "app.kubernetes.io/name": "odoo"}},
                    "spec": {
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 101, "fsGroup": 101},
                        "containers": [
                            {
                                "name": "odoo",
                                "image": ODOO_IMAGE,
                                "args": ["-c", "/etc/odoo/odoo.conf"],
                                "ports": [
                                    {"containerPort": 8069, "name": "http"},
                                    {"containerPort": 8072, "name": "gevent"},
                                ],
                                "env": [
                                    {
                                        "name": "PGPASSWORD",
                                        "valueFrom": {"secretKeyRef": {"name": "odoo-db", "key": "password"}},
                                    },
                                    {
                                        "name": "ODOO_ADMIN_PASSWD",
                                        "valueFrom": {"secretKeyRef": {"name": "odoo-admin", "key": "password"}},
                                    },
                                    # hf_ml signs its models with a key kept out of the database
                                    {
                                        "name": "HF_ML_SIGNING_KEY",
                                        "valueFrom": {"secretKeyRef": {"name": "odoo-ml-key", "key": "key"}},
                                    },
                                    {"name": "HF_ODOO_BASE_CONF", "value": BASE_CONF},
                                ],
                                "resources": resources.odoo,
                                "readinessProbe": probe,
                                "livenessProbe": {**probe, "initialDelaySeconds": 30},
                                "volumeMounts": [
                                    {"name": "conf", "mountPath": "/etc/hyperfactory"},
                                    {"name": "odoo-conf", "mountPath": "/etc/odoo"},
                                    {"name": "filestore", "mountPath": "/var/lib/odoo"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "conf", "configMap": {"name": "odoo-conf"}},
                            {"name": "odoo-conf", "emptyDir": {"medium": "Memory"}},
                            {"name": "filestore", "persistentVolumeClaim": {"claimName": "filestore"}},
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "filestore", "namespace": ns, "labels": labels},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": f"{max(1, storage_mb // 1024)}Gi"}},
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "ingest", "namespace": ns, "labels": {**labels, "app.kubernetes.io/name": "ingest"}},
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": {"app.kubernetes.io/name": "ingest", "hyperfactory.io/tenant": tenant}},
                "template": {
                    "metadata": {"labels": {**labels, "app.kubernetes.io/name": "ingest"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "ingest",
                                "image": INGEST_IMAGE,
                                "args": [
                                    "--dsn",
                                    f"host={db_host} port={db_port} dbname={db} user={db_user}",
                                    *ingest_arguments(db, topic_root or tenant_topic_root(tenant)),
                                ],
                                "env": [
                                    {
                                        "name": "HF_INGEST_MQTT_URL",
                                        "valueFrom": {"secretKeyRef": {"name": "ingest-mqtt", "key": "url"}},
                                    },
                                    {
                                        "name": "PGPASSWORD",
                                        "valueFrom": {"secretKeyRef": {"name": "odoo-db", "key": "password"}},
                                    },
                                ],
                                "resources": resources.ingest,
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "odoo", "namespace": ns, "labels": labels},
            "spec": {
                "selector": {"app.kubernetes.io/name": "odoo", "hyperfactory.io/tenant": tenant},
                "ports": [
                    {"name": "http", "port": 8069, "targetPort": 8069},
                    {"name": "gevent", "port": 8072, "targetPort": 8072},
                ],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": "odoo",
                "namespace": ns,
                "labels": labels,
                "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "64m"},
            },
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": [host], "secretName": "odoo-tls"}],
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/websocket",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "odoo", "port": {"number": 8072}}},
                                },
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "odoo", "port": {"number": 8069}}},
                                },
                            ]
                        },
                    }
                ],
            },
        },
    ]


def render(documents: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)
