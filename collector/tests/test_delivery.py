"""Store-and-forward against a real Mosquitto that goes away: nothing read is lost, order is kept."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hf_testing import free_port, wait_port
from paho.mqtt.enums import CallbackAPIVersion

from hf_collector.delivery.buffer import DiskQueue
from hf_collector.delivery.mqtt import MqttSender, MqttSettings
from hf_core.payload import encode

TOPIC = "umh/v1/acme/berlin/press/line1/press1/_historian"


class Broker:
    """A private Mosquitto that keeps sessions across restarts (persistence on), like production."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        folder.chmod(0o777)  # mosquitto started as root drops to its own user, which must write the session db
        (folder / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nmax_queued_messages 1000000\nautosave_interval 1\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.folder / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("private mosquitto did not start")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def broker() -> Iterator[Broker]:
    # not under pytest's tmp_path: its parents are private to root, and mosquitto runs as its own user
    folder = Path(tempfile.mkdtemp(prefix="hf-mosquitto-"))
    b = Broker(folder)
    b.start()
    yield b
    if b.process and b.process.poll() is None:
        b.stop()
    shutil.rmtree(folder, ignore_errors=True)


class Subscriber:
    """A QoS 1 subscriber with a persistent session: it misses nothing the broker accepted."""

    def __init__(self, port: int) -> None:
        self.received: list[int] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hf-test-subscriber", clean_session=False)
        self.client.on_connect = lambda c, *_: c.subscribe(TOPIC, qos=1)
        self.client.on_message = lambda _c, _u, m: self.received.append(json.loads(m.payload)["timestamp_ms"])
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()


def test_queue_cap_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite", max_messages=100)
    queue.put_many([(TOPIC, str(i).encode()) for i in range(150)])
    assert len(queue) == 100
    assert queue.dropped == 50
    assert [payload for _, _, payload in queue.peek(0, 1)] == [b"50"]
    reopened = DiskQueue(tmp_path / "q.sqlite")
    assert len(reopened) == 100, "the queue survives a restart of the collector"


async def test_broker_outage_loses_nothing_and_keeps_order(broker: Broker, tmp_path: Path) -> None:
    subscriber = Subscriber(broker.port)
    await asyncio.sleep(0.5)
    queue = DiskQueue(tmp_path / "outbox.sqlite")
    sender = MqttSender(MqttSettings(url=f"mqtt://127.0.0.1:{broker.port}", client_id="hf-test-collector"), queue)
    sending = asyncio.create_task(sender.run())
    sent: list[int] = []
    rate_values, values_per_message, seconds = 1200, 12, 38
    start = time.monotonic()
    outage = (3.0, 3.0 + 30.0)  # the broker is away for 30 s in the middle of the run
    stopped = restarted = False
    while time.monotonic() - start < seconds:
        elapsed = time.monotonic() - start
        if not stopped and elapsed >= outage[0]:
            broker.stop()
            stopped = True
        if stopped and not restarted and elapsed >= outage[1]:
            broker.start()
            restarted = True
        timestamp = 1_800_000_000_000 + len(sent)
        queue.put_many([(TOPIC, encode(timestamp, {f"v{i}": float(i) for i in range(values_per_message)}))])
        sent.append(timestamp)
        sender.wake()
        await asyncio.sleep(values_per_message / rate_values)
    deadline = time.monotonic() + 30
    # paho's thread fills `received`: polled, with a deadline, as the test's observer
    while (len(set(subscriber.received)) < len(sent) or len(queue)) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    sending.cancel()
    subscriber.client.loop_stop()
    assert stopped and restarted
    assert len(queue) == 0, "everything buffered during the outage was delivered and removed"
    first_seen = list(dict.fromkeys(subscriber.received))
    assert first_seen == sent, "every message arrives, in the order it was read"
    duplicates = len(subscriber.received) - len(first_seen)
    assert duplicates <= sender.settings.window, "only messages in flight at the cut can arrive twice"


async def test_the_sender_sends_while_its_async_with_block_runs_and_stops_at_its_end(tmp_path: Path) -> None:
    """``async with MqttSender(...)``: the queue drains to the broker inside the block; after it, the connection
    is closed and nothing more is sent."""
    queue = DiskQueue(tmp_path / "outbox.sqlite")
    queue.put_many([(TOPIC, encode(1_800_000_000_000, {"temperature": 61.5}))])
    async with MqttSender(MqttSettings(url="mqtt://127.0.0.1:1883", client_id="hf-test-with"), queue) as sender:
        async with asyncio.timeout(15):
            while len(queue) or not sender.connected:  # noqa: ASYNC110  (paho's acknowledgement, on the loop)
                await asyncio.sleep(0.05)
        assert sender.published == 1
    assert not sender.connected, "leaving the block closed the connection"
    queue.put_many([(TOPIC, encode(1_800_000_000_001, {"temperature": 62.0}))])
    sender.wake()
    await asyncio.sleep(0.5)
    assert len(queue) == 1 and sender.published == 1, "nothing is sent once the block is left"


def tls_files(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key): a private CA and a certificate for ``name`` only."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hf test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    for path in paths:
        path.chmod(0o644)  # read by mosquitto, which may run as its own user
    return paths


@pytest.fixture
def tls_broker() -> Iterator[tuple[int, Path]]:
    """A private Mosquitto with a TLS listener whose certificate names ``mqtt.localhost`` only: (port, CA file)."""
    import getpass

    folder = Path(tempfile.mkdtemp(prefix="hf-mosquitto-tls-"))
    folder.chmod(0o755)
    ca, cert, key = tls_files(folder, "mqtt.localhost")
    port = free_port()
    (folder / "mosquitto.conf").write_text(
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        "allow_anonymous true\npersistence false\n"
    )
    process = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(folder / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, 10)
        yield port, ca
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_broker_at_a_localhost_name_is_reached_over_tls_checked_against_that_name(
    tls_broker: tuple[int, Path], tmp_path: Path
) -> None:
    """The collector dials ``mqtt.localhost`` at loopback (Debian's resolver knows no such name) and its TLS
    checks the certificate against ``mqtt.localhost``: a certificate naming only it is accepted."""
    port, ca = tls_broker
    received: list[bytes | bytearray] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hf-test-tls-watch")
    watcher.tls_set(ca_certs=str(ca))
    watcher.tls_insecure_set(True)  # the test's own observer dials 127.0.0.1: not what is under test
    watcher.on_connect = lambda c, *_: c.subscribe(TOPIC, qos=1)
    watcher.on_message = lambda _c, _u, m: received.append(m.payload)
    watcher.connect("127.0.0.1", port)
    watcher.loop_start()
    try:
        queue = DiskQueue(tmp_path / "outbox.sqlite")
        queue.put_many([(TOPIC, encode(1_800_000_000_000, {"temperature": 61.5}))])
        sender = MqttSender(
            MqttSettings(url=f"mqtts://mqtt.localhost:{port}", client_id="hf-test-tls", ca_file=str(ca)), queue
        )
        sending = asyncio.create_task(sender.run())
        deadline = time.monotonic() + 15
        while not (received and len(queue) == 0) and time.monotonic() < deadline:  # noqa: ASYNC110  (paho's thread)
            await asyncio.sleep(0.1)
        sending.cancel()
        assert received and json.loads(received[0])["temperature"] == 61.5
        assert len(queue) == 0, "the broker acknowledged it"
    finally:
        watcher.loop_stop()


async def test_two_edges_with_one_client_id_do_not_storm_the_broker(broker: Broker, tmp_path: Path) -> None:
    """Two collectors given the same client id take the session from each other: each backs off between its
    connections instead of reconnecting at once (which made thousands of connections a second)."""
    settings = MqttSettings(url=f"mqtt://127.0.0.1:{broker.port}", client_id="hf-test-same-id")
    senders = [MqttSender(settings, DiskQueue(tmp_path / f"outbox-{i}.sqlite")) for i in range(2)]
    tasks = [asyncio.create_task(sender.run()) for sender in senders]
    try:
        await asyncio.sleep(6.0)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    made = [sender.connections for sender in senders]
    assert all(n >= 1 for n in made), made
    # with the backoff (at once, then 1 s, 2 s, 4 s …) each makes about 4 in 6 s
    assert sum(made) <= 12, f"{made} connections in 6 s"
