"""A tenant's broker credentials cannot read another tenant's topics (private Mosquitto, paho)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hf_saas.mosquitto import MosquittoFiles


def connect(port: int, username: str, password: str) -> tuple[mqtt.Client, int]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(username, password)
    result: dict[str, int] = {}
    done = threading.Event()

    def on_connect(
        _c: mqtt.Client, _u: object, _f: mqtt.ConnectFlags, reason: ReasonCode, _p: Properties | None
    ) -> None:
        result["rc"] = reason.value
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    done.wait(5)
    return client, result.get("rc", -1)


def collect(client: mqtt.Client, topic: str) -> list[str]:
    seen: list[str] = []
    client.on_message = lambda _c, _u, msg: seen.append(msg.topic)
    client.subscribe(topic, qos=1)
    time.sleep(0.3)
    return seen


def test_tenant_isolation(broker: dict[str, object]) -> None:
    port = int(broker["port"])  # type: ignore[call-overload]
    files = MosquittoFiles(Path(broker["dir"]), Path(broker["pidfile"]))  # type: ignore[arg-type]
    a = files.add_tenant("iso_a", "iso_a")
    b = files.add_tenant("iso_b", "iso_b")
    time.sleep(0.5)  # SIGHUP reload
    a_edge, rc = connect(port, a["edge"].username, a["edge"].password)
    assert rc == 0
    b_edge, rc = connect(port, b["edge"].username, b["edge"].password)
    assert rc == 0
    a_ingest, rc = connect(port, a["ingest"].username, a["ingest"].password)
    assert rc == 0
    a_sees_all = collect(a_edge, "umh/v1/#")
    a_ingest_sees = collect(a_ingest, "umh/v1/iso_a/#")
    for client, topic in ((b_edge, "umh/v1/iso_b/site/_historian/t"), (a_edge, "umh/v1/iso_a/site/_historian/t")):
        client.publish(topic, b'{"timestamp_ms": 1, "t": 1}', qos=1).wait_for_publish(5)
    b_edge.publish("umh/v1/iso_a/site/_historian/forged", b"{}", qos=1).wait_for_publish(5)  # denied by ACL
    time.sleep(0.8)
    assert a_sees_all == ["umh/v1/iso_a/site/_historian/t"], a_sees_all  # never B's topic, never B's forgery
    assert a_ingest_sees == ["umh/v1/iso_a/site/_historian/t"]
    for client in (a_edge, b_edge, a_ingest):
        client.loop_stop()
        client.disconnect()

    # wrong password and a suspended tenant are refused
    _c, rc = connect(port, a["edge"].username, b["edge"].password)
    assert rc != 0
    assert files.disable_tenant("iso_a")
    assert not files.disable_tenant("iso_a")  # idempotent
    time.sleep(0.5)
    _c, rc = connect(port, a["edge"].username, a["edge"].password)
    assert rc != 0
    assert files.enable_tenant("iso_a")
    time.sleep(0.5)
    client, rc = connect(port, a["edge"].username, a["edge"].password)
    assert rc == 0
    client.loop_stop()
    client.disconnect()
    files.remove_tenant("iso_a")
    files.remove_tenant("iso_b")
    assert "iso_a" not in (Path(broker["dir"]) / "acl").read_text()  # type: ignore[arg-type]
