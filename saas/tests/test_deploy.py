"""docker/docker-compose.yml and the rendered Kubernetes manifests, checked with PyYAML (no Docker
engine or cluster here)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hf_saas.k8s import render, tenant_manifests
from hf_saas.settings import REPO_ROOT
from hf_saas.tenant_limits import DEFAULT_CPU, DEFAULT_MEMORY_MB

DOCKER = REPO_ROOT / "docker"


def test_compose_file() -> None:
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {
        "postgres",
        "mosquitto",
        "odoo",
        "ingest",
        "simulator",
        "collector",
        "ziti-controller",
        "ziti-router",
    } <= set(services)
    assert "timescale" in services["postgres"]["image"]
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        assert "image" in service or "build" in service
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in services
            assert cond["condition"] in ("service_healthy", "service_completed_successfully")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                assert source in compose["volumes"], f"{name}: volume {source} not declared"
            else:
                assert (DOCKER / source).exists(), f"{name}: {source} missing"
        for build in [service.get("build")] if service.get("build") else []:
            assert (DOCKER / build["context"] / build["dockerfile"]).exists()


def test_compose_environment_is_what_the_programs_read() -> None:
    """Every HF_* variable the stack sets is one its program reads (a misnamed one is silently ignored)."""
    services = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())["services"]
    collector = REPO_ROOT / "collector" / "src" / "hf_collector"
    readers = {
        "ingest": (REPO_ROOT / "historian" / "src" / "hf_historian" / "ingest" / "cli.py").read_text(),
        "collector": (collector / "config.py").read_text() + (collector / "cli.py").read_text(),
    }
    for name, source in readers.items():
        variables = [key for key in (services[name].get("environment") or {}) if key.startswith("HF_")]
        assert variables, f"{name} sets no HF_* variable"
        for variable in variables:
            assert f'"{variable}"' in source, f"{name}: {variable} is read by nothing"


def test_compose_secrets_come_from_env() -> None:
    text = (DOCKER / "docker-compose.yml").read_text()
    example = (DOCKER / ".env.example").read_text()
    declared = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", text))  # $${X} is the container's own
    images = {"HF_COLLECTOR_IMAGE", "HF_INGEST_IMAGE", "HF_ODOO_IMAGE"}
    assert used <= declared | images | {"ODOO_DBFILTER"}, used - declared
    for secret in ("POSTGRES_PASSWORD", "ODOO_ADMIN_PASSWD", "MQTT_INGEST_PASSWORD"):
        assert re.search(r"\$\{" + secret + r":\?", text), f"{secret} must be required, not defaulted"
    assert "change-me" not in text
    assert "allow_anonymous false" in (DOCKER / "mosquitto/mosquitto.conf").read_text()


def test_k8s_manifests() -> None:
    docs = list(
        yaml.safe_load_all(
            render(
                tenant_manifests(
                    tenant="big_corp",
                    db="hf_t_big_corp",
                    host="hf_t_big_corp.hyperfactory.cloud",
                    db_host="pg1",
                    quotas={"cpu": 8, "storage_mb": 512000},
                )
            )
        )
    )
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace"
    assert {
        "ResourceQuota",
        "NetworkPolicy",
        "ConfigMap",
        "Deployment",
        "Service",
        "Ingress",
        "PersistentVolumeClaim",
    } <= set(kinds)
    namespace = docs[0]["metadata"]["name"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", namespace)
    for doc in docs[1:]:
        assert doc["metadata"]["namespace"] == namespace
        assert doc["apiVersion"] and doc["metadata"]["name"]
    conf = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["odoo.conf"]
    assert "dbfilter = ^hf_t_big_corp$" in conf
    assert "admin_passwd" not in conf and "password" not in conf.lower()
    assert "Secret" not in kinds  # secrets are created by the operator, never rendered
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
    quota = next(d for d in docs if d["kind"] == "ResourceQuota")["spec"]["hard"]
    assert quota["limits.cpu"] == "14000m"  # the plan's 8 vCPU (2 ingest + 6 Odoo) and one more Odoo pod


def _cpu_m(value: str) -> int:
    return int(value[:-1]) if value.endswith("m") else round(float(value) * 1000)


def _memory_mi(value: str) -> int:
    assert value.endswith("Mi"), value
    return int(value[:-2])


def _plan_docs(quotas: dict[str, object], replicas: int = 1) -> list[dict[str, Any]]:
    return list(
        yaml.safe_load_all(
            render(
                tenant_manifests(
                    tenant="acme",
                    db="hf_t_acme",
                    host="hf_t_acme.hyperfactory.cloud",
                    db_host="pg1",
                    quotas=quotas,
                    replicas=replicas,
                    topic_root="umh/v1/acme",
                )
            )
        )
    )


@pytest.mark.parametrize(
    ("quotas", "replicas", "cpu_m", "memory_mi"),
    [
        ({"cpu": 2, "memory_mb": 4096}, 1, 2000, 4096),
        ({"cpu": 8, "memory_mb": 16384}, 2, 8000, 16384),
        ({"cpu": 0.5}, 1, 500, DEFAULT_MEMORY_MB),
        ({}, 1, round(DEFAULT_CPU * 1000), DEFAULT_MEMORY_MB),
    ],
    ids=["2-vcpu", "8-vcpu-2-replicas", "half-vcpu-default-memory", "defaults"],
)
def test_k8s_odoo_and_ingest_get_the_plans_cpu_and_memory_within_the_quota(
    quotas: dict[str, object], replicas: int, cpu_m: int, memory_mi: int
) -> None:
    docs = _plan_docs(quotas, replicas)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {"odoo", "ingest"}
    containers = {}
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        resources = container["resources"]
        for kind, quantity in (("cpu", _cpu_m), ("memory", _memory_mi)):
            assert 0 < quantity(resources["requests"][kind]) <= quantity(resources["limits"][kind]), (name, kind)
        assert resources["requests"]["memory"] == resources["limits"]["memory"]  # never evicted for memory
        containers[name] = resources["limits"]
    odoo, ingest = containers["odoo"], containers["ingest"]
    # the running tenant: its plan, neither more nor less
    assert _cpu_m(ingest["cpu"]) + replicas * _cpu_m(odoo["cpu"]) == cpu_m
    assert _memory_mi(ingest["memory"]) + replicas * _memory_mi(odoo["memory"]) == memory_mi
    # the namespace's quota holds it, and one more Odoo pod for a rolling update (maxSurge 1), no more
    hard = next(d for d in docs if d["kind"] == "ResourceQuota")["spec"]["hard"]
    surge = replicas + 1
    assert _cpu_m(hard["limits.cpu"]) == _cpu_m(ingest["cpu"]) + surge * _cpu_m(odoo["cpu"])
    assert _memory_mi(hard["limits.memory"]) == _memory_mi(ingest["memory"]) + surge * _memory_mi(odoo["memory"])
    requests = [
        deployments[n]["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] for n in containers
    ]
    assert _cpu_m(hard["requests.cpu"]) == _cpu_m(requests[1]["cpu"]) + surge * _cpu_m(requests[0]["cpu"])
    assert deployments["odoo"]["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert deployments["ingest"]["spec"]["strategy"] == {"type": "Recreate"}  # never two ingests at once


def test_k8s_ingest_reads_the_tenants_topic_root_as_its_own_broker_user() -> None:
    docs = _plan_docs({"cpu": 1})
    ingest = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "ingest")
    (container,) = ingest["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--topic") + 1] == "umh/v1/acme/#"
    assert args[args.index("--client-id") + 1] == "hf_t_acme-ingest"
    assert "dbname=hf_t_acme user=hf_t_acme" in args[args.index("--dsn") + 1]
    env = {e["name"]: e for e in container["env"]}
    # the variable hf-ingest reads (HF_INGEST_MQTT_URL), from a Secret, never a literal
    assert env["HF_INGEST_MQTT_URL"]["valueFrom"]["secretKeyRef"] == {"name": "ingest-mqtt", "key": "url"}
    assert "value" not in env["PGPASSWORD"]


def test_edge_bundle_compose(tmp_path: Path) -> None:
    from hf_saas.bundle import EdgeBundle

    bundle = EdgeBundle(
        "acme",
        "https://acme.example",
        "hf_t_acme",
        "edge-1",
        "KEY",
        "mqtts://m:8883",
        "acme-edge",
        "PW",
        "umh/v1/acme",
        enrollment_jwt="eyJ.token",
    )
    compose = yaml.safe_load(bundle.files()["docker-compose.yml"])
    assert compose["services"]["collector"]["depends_on"]["enroll"]["condition"] == "service_completed_successfully"
    assert set(compose["volumes"]) == {"collector-state", "ziti-identity"}
    assert "KEY" not in bundle.files()["docker-compose.yml"]  # secrets only in .env
    assert "mqtts://acme-edge:PW@m:8883" in bundle.files()[".env"]


def test_k8s_odoo_conf_gets_admin_passwd_from_a_secret(tmp_path: Path) -> None:
    """Issue 15, attack 6: the rendered odoo.conf has no password, yet Odoo runs with the operator's
    master password (from the ``odoo-admin`` Secret), never Odoo's default; no operator addon on its path."""
    docs = list(
        yaml.safe_load_all(
            render(
                tenant_manifests(
                    tenant="big_corp", db="hf_t_big_corp", host="hf_t_big_corp.hyperfactory.cloud", db_host="pg1"
                )
            )
        )
    )
    conf = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["odoo.conf"]
    assert "operator-addons" not in conf and "hf_cloud" not in conf
    odoo = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "odoo")
    container = odoo["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["ODOO_ADMIN_PASSWD"]["valueFrom"]["secretKeyRef"] == {"name": "odoo-admin", "key": "password"}
    assert env["HF_ML_SIGNING_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "odoo-ml-key"  # never in the database
    assert "db_user = hf_t_big_corp" in conf  # the tenant's own role
    base = tmp_path / "base.conf"
    base.write_text(conf)
    out = tmp_path / "odoo.conf"
    run_env = {
        "PATH": "/usr/bin:/bin",
        "HF_ODOO_BASE_CONF": str(base),
        "HF_ODOO_CONF": str(out),
        "HF_ODOO_NEXT": "true",
        "ODOO_ADMIN_PASSWD": "from-the-secret",
    }
    assert env["HF_ODOO_BASE_CONF"]["value"]
    subprocess.run(["bash", str(DOCKER / "odoo" / "entrypoint.sh")], env=run_env, check=True)
    written = out.read_text()
    assert "admin_passwd = from-the-secret" in written
    assert "dbfilter = ^hf_t_big_corp$" in written
    missing = subprocess.run(
        ["bash", str(DOCKER / "odoo" / "entrypoint.sh")],
        check=False,
        capture_output=True,
        env={k: v for k, v in run_env.items() if k != "ODOO_ADMIN_PASSWD"},
    )
    assert missing.returncode != 0  # never Odoo's default master password


def test_compose_runs_nothing_as_a_superuser_and_serves_tenants_apart() -> None:
    """Issue 15: attack 4 and transport, as the Compose stack ships them."""
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    services = compose["services"]
    superuser = services["postgres"]["environment"]["POSTGRES_USER"]
    assert services["odoo"]["environment"]["USER"] != superuser
    assert f"user={superuser}" not in " ".join(services["ingest"]["command"])
    roles = (DOCKER / "postgres" / "roles.sh").read_text()
    assert "NOSUPERUSER" in roles and "SUPERUSER " not in roles.replace("NOSUPERUSER", "")
    for name in ("odoo", "tenants"):
        env = services[name]["environment"]
        assert env["HF_SAAS_DB_USER"] == "hf_provisioner" and env["HF_SAAS_DB_USER"] != superuser
        assert services[name]["pid"] == "service:mosquitto"  # so hf-saas can tell the broker to reload
    assert services["tenants"]["command"][1:3] == ["serve", "--listen"]
    assert [p for p in services["mosquitto"]["ports"] if p.endswith(":1883")] == ["127.0.0.1:${MQTT_PORT:-1883}:1883"]
    broker = (DOCKER / "mosquitto" / "mosquitto.conf").read_text()
    assert "listener 8883" in broker and "certfile /mosquitto/certs/server.crt" in broker
    assert "pid_file /mosquitto/auth/mosquitto.pid" in broker


def test_systemd_units_supervise_what_we_ship() -> None:
    """Issue 14: on bare metal the ingest (and the cloud's tenants) run under systemd, restarted whatever
    stopped them, never as root, their secrets in an environment file rather than on the command line."""
    import configparser
    import tomllib

    scripts = {}
    for package in ("historian", "saas"):
        scripts.update(tomllib.loads((REPO_ROOT / package / "pyproject.toml").read_text())["project"]["scripts"])
    for unit in ("hf-ingest.service", "hf-tenants.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string((DOCKER / "systemd" / unit).read_text())
        service = parser["Service"]
        assert service["Restart"] == "always" and service["StartLimitIntervalSec"] == "0", unit
        assert service["User"] not in ("root", "postgres") and service["EnvironmentFile"].startswith("/etc/"), unit
        program = Path(service["ExecStart"].split()[0]).name
        assert program in scripts, f"{unit}: {program} is no console script of ours"
        assert "PASSWORD" not in service["ExecStart"].upper() and "://" not in service["ExecStart"], unit
        assert parser["Install"]["WantedBy"] == "multi-user.target"
