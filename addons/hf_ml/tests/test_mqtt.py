import json
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from odoo.tests import tagged

from hf_historian.mqtt_publish import publish_once
from hf_historian.writer import HistorianWriter, Sample

from .common import HfMlCommon


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


@tagged("post_install", "-at_install")
class TestMqtt(HfMlCommon):
    """Scores go to a real broker (a private Mosquitto on a free port) when hf_ml.mqtt_url is set."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base = cls.now - timedelta(hours=12)
        HistorianWriter(cls.env.cr).write(
            [
                Sample(
                    cls.tag_vibration.id,
                    int((base + timedelta(seconds=20 * i)).timestamp() * 1000),
                    2.0 + (i % 17) / 10,
                )
                for i in range(12 * 180 + 90)
            ]
        )  # 30 minutes past now, to score
        cls.job = cls.env["hf.ml.job"].create(
            {
                "name": "Mqtt",
                "workcenter_id": cls.workcenter.id,
                "tag_ids": [(6, 0, cls.tag_vibration.ids)],
                "training_days": 0.5,
                "rolling_windows": "5",
            }
        )

    def _wait_until_subscribed(self, url, output, timeout=5.0):
        """Publish a probe until the subscriber prints it: its subscription is in place."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            publish_once(url, "umh/v1/probe", b"{}", qos=1, timeout=2)
            time.sleep(0.05)
            if "umh/v1/probe" in output.read_text():
                return
        raise AssertionError(f"mosquitto_sub received no probe within {timeout} s")

    def test_scores_are_published_on_the_workcell_topic(self):
        if not shutil.which("mosquitto") or not shutil.which("mosquitto_sub"):
            self.skipTest("mosquitto (and its mosquitto_sub) is not installed on this machine")
        port = _free_port()
        with tempfile.TemporaryDirectory() as tmp:
            conf = Path(tmp, "mosquitto.conf")
            conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
            broker = subprocess.Popen(
                ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            subscriber = None
            output = Path(tmp, "received.txt")
            try:
                _wait_for_port(port)
                # the broker's own client subscribes (no MQTT library in Odoo: hf_ml publishes with hf_historian's)
                with output.open("w") as sink:
                    subscriber = subprocess.Popen(
                        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "umh/v1/#", "-q", "1", "-v"],
                        stdout=sink,
                        stderr=subprocess.DEVNULL,
                    )
                url = f"mqtt://127.0.0.1:{port}"
                self._wait_until_subscribed(url, output)
                self.env["ir.config_parameter"].set_param("hf_ml.mqtt_url", url)
                self.train(self.job)
                ends, scores = self.job._hf_score(self.now + timedelta(minutes=30))
                self.assertTrue(len(ends))
                deadline = time.time() + 5
                received = []
                while len(received) < len(ends) and time.time() < deadline:
                    time.sleep(0.05)
                    received = [
                        (topic, json.loads(payload))
                        for topic, _sep, payload in (line.partition(" ") for line in output.read_text().splitlines())
                        if not topic.endswith("/probe")
                    ]
            finally:
                if subscriber is not None:
                    subscriber.terminate()
                    subscriber.wait(5)
                broker.terminate()
                broker.wait(5)
        self.assertFalse(self.job.last_error)
        self.assertEqual(len(received), len(ends))
        topic, payload = received[0]
        self.assertEqual(topic, "umh/v1/acme/berlin/press/line1/press1/_historian")
        self.assertEqual(payload["timestamp_ms"], int(ends[0] * 1000))
        self.assertAlmostEqual(payload["ml"]["mqtt_score"], scores[0], places=5)

    def test_a_broker_away_is_said_on_the_job_and_scores_are_kept(self):
        self.env["ir.config_parameter"].set_param("hf_ml.mqtt_url", f"mqtt://127.0.0.1:{_free_port()}")
        self.train(self.job)
        ends, _scores = self.job._hf_score(self.now + timedelta(minutes=30))
        self.assertTrue(len(ends))
        self.assertIn("not published to MQTT", self.job.last_error)
        self.assertIn("hf_ml.mqtt_url", self.job.last_error)
        self.assertEqual(len(self.scores(self.job)), len(ends))
