"""Issue 15 (transport) and 17 (step 4): the cloud broker `hf-saas broker-config` writes — TLS for the edges,
plain MQTT on loopback only, the users and ACL hf-saas keeps, reloaded when a tenant changes."""

from __future__ import annotations

import getpass
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hf_testing import free_port, wait_port
from paho.mqtt.enums import CallbackAPIVersion

from hf_saas.cli import main as hf_saas
from hf_saas.mosquitto import MosquittoFiles


@pytest.fixture
def cloud_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    plain, tls = free_port(), free_port()
    directory = tmp_path / "mosquitto"
    monkeypatch.setenv("HF_SAAS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HF_SAAS_MOSQUITTO_DIR", str(directory))
    monkeypatch.setenv("HF_SAAS_MOSQUITTO_PIDFILE", str(directory / "mosquitto.pid"))
    assert (
        hf_saas(
            [
                "broker-config",
                "--plain-port",
                str(plain),
                "--tls-port",
                str(tls),
                "--dev-certs",
                "mqtt.localhost,localhost,127.0.0.1",
                "--user",
                getpass.getuser(),
            ]
        )
        == 0
    )
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(directory / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(tls)
        wait_port(plain)
        yield {
            "dir": directory,
            "plain": plain,
            "tls": tls,
            "files": MosquittoFiles(directory, directory / "mosquitto.pid"),
        }
    finally:
        proc.terminate()
        proc.wait(10)


def _connect(port: int, user: str, password: str, ca: Path | None = None, host: str = "127.0.0.1") -> int:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(user, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    result: dict[str, int] = {}
    done = threading.Event()

    def on_connect(*args: object) -> None:
        result["rc"] = args[3].value  # type: ignore[attr-defined]
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port)
    except (OSError, ssl.SSLError):
        return -1
    client.loop_start()
    done.wait(5)
    client.loop_stop()
    client.disconnect()
    return result.get("rc", -1)


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel picks the route's source
        except OSError:
            return None
        address: str = sock.getsockname()[0]
    return None if address.startswith("127.") else address


def test_edges_connect_over_tls_and_the_plain_listener_is_loopback_only(cloud_broker: dict[str, object]) -> None:
    files: MosquittoFiles = cloud_broker["files"]  # type: ignore[assignment]
    ca = Path(cloud_broker["dir"]) / "certs" / "ca.crt"  # type: ignore[arg-type]
    tls, plain = int(cloud_broker["tls"]), int(cloud_broker["plain"])  # type: ignore[call-overload]
    creds = files.add_tenant("hf_t_tls", "tls")
    time.sleep(0.5)  # the SIGHUP reload
    assert _connect(tls, creds["edge"].username, creds["edge"].password, ca) == 0
    assert _connect(tls, creds["edge"].username, "wrong", ca) != 0
    assert _connect(tls, creds["edge"].username, creds["edge"].password) == -1  # no TLS: no MQTT on this port
    assert _connect(plain, creds["ingest"].username, creds["ingest"].password) == 0
    outside = _outside_address()
    if outside:
        assert _connect(plain, creds["ingest"].username, creds["ingest"].password, host=outside) == -1
        socket.create_connection((outside, tls), timeout=5).close()  # the TLS listener is for everyone
    conf = (Path(cloud_broker["dir"]) / "mosquitto.conf").read_text()  # type: ignore[arg-type]
    assert f"listener {plain} 127.0.0.1" in conf and "allow_anonymous false" in conf
    # a suspended tenant is refused at once (reloaded, not restarted), and welcome again when resumed
    files.disable_tenant("hf_t_tls")
    time.sleep(0.5)
    assert _connect(tls, creds["edge"].username, creds["edge"].password, ca) != 0
    files.enable_tenant("hf_t_tls")
    time.sleep(0.5)
    assert _connect(tls, creds["edge"].username, creds["edge"].password, ca) == 0
