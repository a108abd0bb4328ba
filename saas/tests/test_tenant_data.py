"""Issue 17, steps 4 to 6: a tenant's plant data reaches its historian through the cloud's broker and the
tenant's own ingest, which `hf-saas serve` runs while the tenant is ready (real Mosquitto with the ACL
hf-saas writes, real ingest, real Odoo per tenant)."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hf_saas.provision import CreateResult, Provisioner
from hf_saas.spec import parse_spec

from .conftest import created_tenants, spec_data, tenant_rpc

CELL = "Hamburg/Assembly/Line_1/Cell_1"


@pytest.fixture(scope="module")
def plants(provisioner: Provisioner) -> Iterator[dict[str, CreateResult]]:
    specs = {"gamma": parse_spec(spec_data("Pytest Gamma")), "delta": parse_spec(spec_data("Pytest Delta"))}
    with created_tenants(provisioner, specs) as created:
        yield created


def _edge_credentials(result: CreateResult) -> tuple[str, str]:
    with zipfile.ZipFile(result.bundle_path) as archive:
        env = next(archive.read(n).decode() for n in archive.namelist() if n.endswith("/.env"))
    url = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith("HF_COLLECTOR_MQTT_URL="))
    username, password = url.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)
    return username, password


def _publish(port: int, credentials: tuple[str, str], topic: str, payload: dict[str, object]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(*credentials)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def _latest(server: dict[str, str], result: CreateResult, topic: str) -> object:
    common = tenant_rpc(server, result.db, "common")
    uid = common.authenticate(result.db, result.admin_login, result.admin_password, {})
    rows = tenant_rpc(server, result.db, "object").execute_kw(
        result.db, uid, result.admin_password, "hf.uns.tag", "read_latest", [[topic]]
    )
    return rows[0]["value"] if rows else None


def _ingests_of(db: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "hf_historian.ingest" in cmdline and f"{db}-ingest" in cmdline:
            found.append(process)
    return found


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _wait(condition: object, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.5)
    return False


def test_plant_values_reach_the_tenant_and_no_other(
    plants: dict[str, CreateResult],
    tenant_server: dict[str, str],
    broker: dict[str, object],
    provisioner: Provisioner,
) -> None:
    gamma, delta = plants["gamma"], plants["delta"]
    port = int(broker["port"])  # type: ignore[call-overload]
    assert _wait(lambda: _ingests_of(gamma.db) and _ingests_of(delta.db), 30), "no ingest runs for the tenants"
    time.sleep(3)  # the ingest subscribes once connected
    topic = f"umh/v1/pytest_gamma/{CELL}/_historian/temperature"
    # delta's edge credentials under gamma's topic root: refused by the broker's ACL, never stored
    _publish(
        port,
        _edge_credentials(delta),
        f"umh/v1/pytest_gamma/{CELL}/_historian",
        {"timestamp_ms": int(time.time() * 1000) - 5000, "temperature": 99.0},
    )
    _publish(
        port,
        _edge_credentials(gamma),
        f"umh/v1/pytest_gamma/{CELL}/_historian",
        {"timestamp_ms": int(time.time() * 1000), "temperature": 21.5},
    )
    assert _wait(lambda: _latest(tenant_server, gamma, topic) == 21.5), _latest(tenant_server, gamma, topic)
    common = tenant_rpc(tenant_server, gamma.db, "common")
    uid = common.authenticate(gamma.db, gamma.admin_login, gamma.admin_password, {})
    history = tenant_rpc(tenant_server, gamma.db, "object").execute_kw(
        gamma.db,
        uid,
        gamma.admin_password,
        "hf.uns.tag",
        "read_history",
        [topic, _iso(time.time() - 3600), _iso(time.time() + 60)],
    )
    assert [p["last"] for p in history["points"] if not p.get("gap")] == [21.5]  # delta's 99.0 never arrived
    # the value went to gamma's database only
    assert _latest(tenant_server, delta, f"umh/v1/pytest_delta/{CELL}/_historian/temperature") is False


def test_a_suspended_tenants_ingest_stops_and_resumes_with_it(
    plants: dict[str, CreateResult],
    tenant_server: dict[str, str],
    provisioner: Provisioner,
) -> None:
    delta = plants["delta"]
    assert _wait(lambda: _ingests_of(delta.db), 30)
    provisioner.suspend(delta.db)
    try:
        assert _wait(lambda: not _ingests_of(delta.db), 30), "the suspended tenant's ingest still runs"
    finally:
        provisioner.resume(delta.db)
    assert _wait(lambda: _ingests_of(delta.db), 30), "the resumed tenant's ingest did not start again"
