"""The edge bundle runs and delivers: unpacked on a plain box, ``run.sh`` (``hf-collector run --bundle``) pulls the
edge's devices from its tenant's Odoo at ``http://<db>.localhost:<port>``, reads the project's simulator and
publishes under the tenant's topic root to a broker that enforces the tenant's users and ACL."""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
import yaml
from hf_testing import free_port
from paho.mqtt.enums import CallbackAPIVersion

from hf_saas.bundle import EdgeBundle, unpack
from hf_saas.provision import CreateResult, Provisioner
from hf_saas.spec import parse_spec

from .conftest import created_tenants, spec_data, tenant_rpc

BIN = Path(sys.executable).parent
COLLECTOR = str(BIN / "hf-collector")


def collector_env() -> dict[str, str]:
    """This process's environment without collector settings of its own: the bundle's are the ones used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_COLLECTOR")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def sample_bundle(**overrides: str) -> EdgeBundle:
    values = {
        "tenant": "acme",
        "odoo_url": "http://hf_t_acme.localhost:8070",
        "db": "hf_t_acme",
        "edge_login": "edge-1",
        "edge_api_key": "EDGE-KEY",
        "mqtt_url": "mqtt://mqtt.localhost:1883",
        "mqtt_username": "hf_t_acme-edge",
        "mqtt_password": "EDGE-PW",
        "topic_root": "umh/v1/acme",
        **overrides,
    }
    return EdgeBundle(**values)


def test_the_bundle_runs_without_docker_and_in_compose_from_the_same_files(tmp_path: Path) -> None:
    folder = unpack(sample_bundle().write(tmp_path / "edge.zip"), tmp_path)
    assert {p.name for p in folder.iterdir()} == {
        "README.md",
        "run.sh",
        "hf-collector.yaml",
        "docker-compose.yml",
        ".env",
        "enrollment.jwt",
    }
    assert stat.S_IMODE((folder / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / ".env").stat().st_mode) == 0o600
    assert 'run --bundle "$here"' in (folder / "run.sh").read_text()
    collector = yaml.safe_load((folder / "docker-compose.yml").read_text())["services"]["collector"]
    assert collector["command"][:3] == ["run", "--bundle", "/bundle"]
    assert "./:/bundle:ro" in collector["volumes"]
    readme = (folder / "README.md").read_text()
    assert "sh run.sh" in readme and "pip install ./core ./collector" in readme and "docker compose up -d" in readme
    settings = yaml.safe_load((folder / "hf-collector.yaml").read_text())
    assert "devices" not in settings and settings["odoo"]["login"] == "edge-1"
    text = "".join(p.read_text() for p in folder.iterdir() if p.name != ".env")
    assert "EDGE-KEY" not in text and "EDGE-PW" not in text  # the edge's secrets only in .env


def test_a_ziti_bundle_without_its_identity_says_which_file_and_how_to_make_it(tmp_path: Path) -> None:
    folder = unpack(
        sample_bundle(enrollment_jwt="eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln").write(tmp_path / "e.zip"), tmp_path
    )
    run = subprocess.run(
        [COLLECTOR, "run", "--bundle", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        env=collector_env(),
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert f"Ziti identity {folder.resolve() / 'identity.json'} does not exist" in run.stderr
    assert f"hf-collector enroll --jwt {folder.resolve() / 'enrollment.jwt'}" in run.stderr


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("hf-collector.yaml", "has no hf-collector.yaml"),
        (
            ".env",
            (
                ".env is missing): .env has no HF_COLLECTOR_API_KEY (the edge's API key); .env has no "
                "HF_COLLECTOR_MQTT_URL"
            ),
        ),
    ],
    ids=["settings", "secrets"],
)
def test_a_bundle_missing_a_file_names_it(tmp_path: Path, remove: str, message: str) -> None:
    folder = unpack(sample_bundle().write(tmp_path / "edge.zip"), tmp_path)
    (folder / remove).unlink()
    run = subprocess.run(
        [COLLECTOR, "run", "--bundle", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        env=collector_env(),
        check=False,
    )
    assert run.returncode == 2
    assert message in run.stderr


# --- the bundle of a provisioned tenant, run against the simulator -------------------------------------------


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """``hf-collector simulate``: the project's machine behind real OPC UA, Modbus TCP and S7 servers."""
    folder = tmp_path_factory.mktemp("simulator")
    ports = {"opcua": free_port(), "modbus": free_port(), "s7": free_port()}
    site = folder / "site.yaml"
    with (folder / "simulate.log").open("w") as log:
        process = subprocess.Popen(
            [
                COLLECTOR,
                "simulate",
                "--write-config",
                str(site),
                "--opcua-port",
                str(ports["opcua"]),
                "--modbus-port",
                str(ports["modbus"]),
                "--s7-port",
                str(ports["s7"]),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not (site.exists() and site.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert site.exists(), (folder / "simulate.log").read_text()
        yield ports
    finally:
        process.terminate()
        process.wait(15)


@pytest.fixture(scope="module")
def tenant(
    provisioner: Provisioner, tenant_server: dict[str, str], broker: dict[str, object], simulator: dict[str, int]
) -> Iterator[CreateResult]:
    """A tenant whose form named the simulator's Modbus press, provisioned as hyperfactory-cloud does it with
    the addresses a customer's edge uses: the tenant's Odoo at ``<db>.localhost`` through the router, the
    broker at ``mqtt.localhost``."""
    settings = provisioner.settings.with_overrides(
        base_url=f"http://{{db}}.localhost:{tenant_server['port']}", mqtt_url=f"mqtt://mqtt.localhost:{broker['port']}"
    )
    cloud = Provisioner(settings)
    data = spec_data("Pytest Bundle")
    data["devices"] = [
        {
            "name": "press1-modbus",
            "protocol": "modbus",
            "ip": "127.0.0.1",
            "port": simulator["modbus"],
            "workcenter": "Cell 1",
            "tags": [
                {
                    "name": "temperature",
                    "data_type": "float",
                    "address": {"table": "holding", "address": 0, "type": "float32"},
                },
                {
                    "name": "spindle_speed",
                    "data_type": "float",
                    "address": {"table": "holding", "address": 2, "type": "float32"},
                },
            ],
        }
    ]
    # the router starts the tenant's Odoo on its first request: not the collector's to wait for
    with created_tenants(cloud, {"edge": parse_spec(data)}) as created:
        tenant_rpc(tenant_server, created["edge"].db, "common").version()
        yield created["edge"]


def wait_for_value(
    url: str, root: str, tag: str, timeout: float = 90, ca: Path | None = None
) -> tuple[str, dict[str, object]]:
    """The first message under ``root`` carrying ``tag``, as the edge's broker user reads it."""
    broker = urlparse(url)
    received: list[tuple[str, dict[str, object]]] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pytest-bundle-watch")
    client.username_pw_set(broker.username, broker.password)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        payload = json.loads(message.payload)
        if tag in payload:
            received.append((message.topic, payload))

    client.on_message = on_message
    if ca is not None:  # over TLS, checked against the development CA (its certificate names 127.0.0.1 too)
        client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    client.connect("127.0.0.1", broker.port or 1883)
    client.subscribe(f"{root}/#", qos=1)
    client.loop_start()
    try:
        deadline = time.monotonic() + timeout
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        client.loop_stop()
        client.disconnect()
    assert received, f"no value of {tag} under {root}/# in {timeout:.0f} s"
    return received[0]


@pytest.mark.parametrize("how", ["run.sh", "--config", "--config --odoo"])
def test_the_bundle_delivers_the_simulators_values_under_the_tenants_root(
    tenant: CreateResult, tmp_path: Path, how: str
) -> None:
    folder = unpack(Path(tenant.bundle_path), tmp_path)
    secrets = dict(line.split("=", 1) for line in (folder / ".env").read_text().splitlines() if "=" in line)
    settings = yaml.safe_load((folder / "hf-collector.yaml").read_text())
    assert urlparse(settings["odoo"]["url"]).hostname == f"{tenant.db}.localhost"
    assert urlparse(secrets["HF_COLLECTOR_MQTT_URL"]).hostname == "mqtt.localhost"
    root = settings["mqtt"]["topic_root"]
    env = collector_env()
    if how == "run.sh":  # it reads .env itself
        command = ["sh", str(folder / "run.sh")]
    else:  # the settings file (an odoo: section and no devices: pull them), the secrets in the environment
        command = [COLLECTOR, "run", "--config", str(folder / "hf-collector.yaml")]
        if how == "--config --odoo":  # the Odoo named on the command line
            odoo = settings["odoo"]
            command += ["--odoo", odoo["url"], "--db", odoo["db"], "--login", odoo["login"]]
        env.update(secrets)
    log = tmp_path / "collector.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        topic, payload = wait_for_value(secrets["HF_COLLECTOR_MQTT_URL"], root, "temperature")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from None
    finally:
        process.terminate()
        process.wait(15)
    assert topic.startswith(f"{root}/") and topic.endswith("/_historian")
    assert isinstance(payload["temperature"], float) and 0 < payload["temperature"] < 200, payload
    output = log.read_text()
    assert "1 devices, config v" in output and " 0 devices" not in output, output
    cache = (folder / "state" if how == "run.sh" else tmp_path / "state") / "config-cache.json"
    assert [d["name"] for d in json.loads(cache.read_text())["devices"]] == ["press1-modbus"]


@pytest.fixture(scope="module")
def tls_tenant(
    provisioner: Provisioner, tenant_server: dict[str, str], broker: dict[str, object], simulator: dict[str, int]
) -> Iterator[CreateResult]:
    """A tenant whose edge reaches the broker over TLS only, trusting the CA its bundle carries."""
    settings = provisioner.settings.with_overrides(
        base_url=f"http://{{db}}.localhost:{tenant_server['port']}",
        mqtt_url=f"mqtts://mqtt.localhost:{broker['tls_port']}",
        mqtt_ca_file=broker["ca"],
    )
    cloud = Provisioner(settings)
    data = spec_data("Pytest Bundle Tls")
    data["devices"] = [
        {
            "name": "press1-modbus",
            "protocol": "modbus",
            "ip": "127.0.0.1",
            "port": simulator["modbus"],
            "workcenter": "Cell 1",
            "tags": [
                {
                    "name": "temperature",
                    "data_type": "float",
                    "address": {"table": "holding", "address": 0, "type": "float32"},
                }
            ],
        }
    ]
    with created_tenants(cloud, {"edge": parse_spec(data)}) as created:
        tenant_rpc(tenant_server, created["edge"].db, "common").version()
        yield created["edge"]


def test_the_bundle_carries_the_brokers_ca_and_delivers_over_tls(
    tls_tenant: CreateResult, broker: dict[str, object], tmp_path: Path
) -> None:
    """Issue 15 (transport) and 17: the bundle of a broker with a private CA carries ``ca.crt``; its collector
    publishes over TLS, checking the broker's name, with nothing but the bundle."""
    folder = unpack(Path(tls_tenant.bundle_path), tmp_path)
    assert (folder / "ca.crt").read_text() == Path(broker["ca"]).read_text()  # type: ignore[arg-type]
    settings = yaml.safe_load((folder / "hf-collector.yaml").read_text())
    assert settings["mqtt"]["ca_file"] == "ca.crt"
    secrets = dict(line.split("=", 1) for line in (folder / ".env").read_text().splitlines() if "=" in line)
    assert secrets["HF_COLLECTOR_MQTT_URL"].startswith("mqtts://")
    log = tmp_path / "collector.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["sh", str(folder / "run.sh")], stdout=out, stderr=subprocess.STDOUT, env=collector_env(), cwd=tmp_path
        )
    try:
        _topic, payload = wait_for_value(
            secrets["HF_COLLECTOR_MQTT_URL"], settings["mqtt"]["topic_root"], "temperature", ca=folder / "ca.crt"
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from None
    finally:
        process.terminate()
        process.wait(15)
    assert isinstance(payload["temperature"], float), payload
