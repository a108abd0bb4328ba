"""publish_once against real brokers: the machine's Mosquitto, and a private one with a password file, an ACL and
a TLS listener (certificates made by openssl for the test)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hf_testing import free_port, wait_port

from hf_core.errors import ConfigError, HfError, SinkError
from hf_historian.ingest import mqtt_wire as wire
from hf_historian.ingest.mqtt_session import BrokerAddress
from hf_historian.mqtt_publish import publish_once

MACHINE_BROKER = 1883
TOPIC = "umh/v1/acme/berlin/_historian/ml"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _certs(folder: Path) -> dict[str, Path]:
    """A CA, and a server certificate it signed for localhost / 127.0.0.1."""
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=hf test CA",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
    )
    _openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(ext),
        "-out",
        str(cert),
    )
    return {"ca": ca, "cert": cert, "key": key}


@pytest.fixture(scope="module")
def locked_broker() -> Iterator[dict[str, object]]:
    """Mosquitto with one user (``ml``/``secret``) allowed to write under umh/v1/acme/#, plain and TLS."""
    if not shutil.which("mosquitto") or not shutil.which("mosquitto_passwd") or not shutil.which("openssl"):
        pytest.skip("mosquitto, mosquitto_passwd and openssl are needed")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        folder.chmod(0o755)
        certs = _certs(folder)
        for path in folder.iterdir():
            path.chmod(0o644)  # started as root, Mosquitto drops to its own user, which reads these
        passwd, acl = folder / "passwd", folder / "acl"
        subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "ml", "secret"], check=True, capture_output=True)
        passwd.chmod(0o644)
        acl.write_text("user ml\ntopic readwrite umh/v1/acme/#\n")
        port, tls_port = free_port(), free_port()
        conf = folder / "mosquitto.conf"
        conf.write_text(
            f"per_listener_settings false\nallow_anonymous false\npassword_file {passwd}\n"
            f"acl_file {acl}\npersistence false\nlistener {port} 127.0.0.1\n"
            f"listener {tls_port} 127.0.0.1\ncertfile {certs['cert']}\nkeyfile {certs['key']}\n"
        )
        process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, 10)
            wait_port(tls_port, 10)
            yield {"port": port, "tls_port": tls_port, "ca": str(certs["ca"])}
        finally:
            process.terminate()
            process.wait(10)


@contextlib.contextmanager
def subscribed(
    port: int, topic_filter: str, count: int, username: str | None = None, password: str | None = None
) -> Iterator[list[wire.Publish]]:
    """A raw MQTT 5 subscriber (the ingest's own wire code) that collects ``count`` messages in a thread."""
    received: list[wire.Publish] = []
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = wire.PacketReader()

    def read_until(kind: int) -> None:
        while True:
            publishes, others = reader.feed(sock.recv(65536))
            received.extend(publishes)
            if any(k == kind for k, _ in others):
                return

    sock.sendall(
        wire.connect_packet(
            "hf-test-sub",
            keepalive=30,
            clean_start=True,
            session_expiry_s=0,
            receive_maximum=100,
            username=username,
            password=password,
        )
    )
    read_until(wire.CONNACK)
    sock.sendall(wire.subscribe_packet(1, topic_filter, qos=1))
    read_until(wire.SUBACK)

    def collect() -> None:
        while len(received) < count:
            data = sock.recv(65536)
            if not data:
                return
            publishes, _ = reader.feed(data)
            received.extend(publishes)
            if publishes:
                sock.sendall(wire.puback_packets([p.packet_id for p in publishes if p.packet_id]))

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    try:
        yield received
        thread.join(10)
    finally:
        sock.close()


def test_messages_reach_the_machine_broker_in_order_and_acknowledged() -> None:
    payloads = [f'{{"timestamp_ms": {i}, "score": {i / 10}}}'.encode() for i in range(5)]
    with subscribed(MACHINE_BROKER, TOPIC, len(payloads)) as received:
        publish_once(f"mqtt://127.0.0.1:{MACHINE_BROKER}", TOPIC, payloads, qos=1, timeout=10)
        publish_once(f"mqtt://localhost:{MACHINE_BROKER}", TOPIC, "one more as text", qos=0)
    assert [p.payload for p in received[:5]] == payloads
    assert {p.topic for p in received} == {TOPIC}


def test_a_user_with_its_password_publishes_and_a_wrong_password_is_a_clear_config_error(
    locked_broker: dict[str, object],
) -> None:
    port = locked_broker["port"]
    with subscribed(int(port), "umh/v1/acme/#", 1, "ml", "secret") as received:  # type: ignore[call-overload]
        publish_once(f"mqtt://ml:secret@127.0.0.1:{port}", TOPIC, b"42")
    assert [p.payload for p in received] == [b"42"]
    with pytest.raises(ConfigError) as refused:
        publish_once(f"mqtt://ml:wrong@127.0.0.1:{port}", TOPIC, b"43")
    # Mosquitto 2 answers a wrong password with 0x87 "not authorized" (0x86 from others)
    assert "refused the login" in str(refused.value) and "password in the URL" in str(refused.value)
    assert "wrong" not in str(refused.value), "the password is never shown"
    with pytest.raises(ConfigError, match="refused the login"):
        publish_once(f"mqtt://127.0.0.1:{port}", TOPIC, b"44")  # anonymous


def test_mqtts_checks_the_broker_certificate_against_the_ca_file(locked_broker: dict[str, object]) -> None:
    port, ca = locked_broker["tls_port"], str(locked_broker["ca"])
    with subscribed(int(locked_broker["port"]), "umh/v1/acme/#", 1, "ml", "secret") as received:  # type: ignore[call-overload]
        publish_once(f"mqtts://ml:secret@localhost:{port}", TOPIC, b"over tls", ca_file=ca)
    assert [p.payload for p in received] == [b"over tls"]
    with pytest.raises(ConfigError, match="not trusted"):
        publish_once(f"mqtts://ml:secret@localhost:{port}", TOPIC, b"x")  # the system CAs do not know the test CA
    with pytest.raises(SinkError):
        publish_once(f"mqtt://ml:secret@127.0.0.1:{port}", TOPIC, b"x", timeout=3)  # MQTT without TLS on a TLS port


def test_a_broker_away_or_silent_is_a_sink_error_within_the_timeout() -> None:
    with pytest.raises(SinkError, match="could not be reached"):
        publish_once(f"mqtt://127.0.0.1:{free_port()}", TOPIC, b"x")
    silent = socket.create_server(("127.0.0.1", 0))
    with silent, pytest.raises(SinkError, match="did not answer within 1 s"):
        publish_once(f"mqtt://127.0.0.1:{silent.getsockname()[1]}", TOPIC, b"x", timeout=1)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1883", "mqtt://", "mqtt://host:99999", "127.0.0.1:1883"],
    ids=["scheme", "no-host", "port", "no-scheme"],
)
def test_a_url_that_cannot_work_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"cannot work|port"):
        publish_once(url, TOPIC, b"x")


def test_the_url_parts_and_qos_two_is_refused() -> None:
    parsed = BrokerAddress.parse("mqtts://a%40b:p%3Aw@mqtt.localhost")
    assert parsed == BrokerAddress("mqtt.localhost", 8883, True, "a@b", "p:w")
    with pytest.raises(HfError, match="QoS 0 or 1"):
        publish_once("mqtt://127.0.0.1", TOPIC, b"x", qos=2)


def test_a_message_the_access_list_forbids_is_a_sink_error(locked_broker: dict[str, object]) -> None:
    with pytest.raises(SinkError, match="refused the message on other/topic: 0x87 not authorized"):
        publish_once(f"mqtt://ml:secret@127.0.0.1:{locked_broker['port']}", "other/topic", b"x")
