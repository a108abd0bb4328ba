import logging
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from odoo.tests import HttpCase, tagged

from odoo.addons.hf_screens.models.hf_screen import HfScreen, _oee_cache

from .common import HfScreensCommon, create_workorder, historian_writer, write_rows

_logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "var" / "test" / "screenshots"


def _unlimited_address_space():
    # Odoo caps its own address space (limit_memory_hard); Chromium needs far more virtual memory (as
    # odoo.tests.common.ChromeBrowser does for the tour browser).
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class _AccessLog(logging.Handler):
    """The server's access log lines (werkzeug's), as they would be written."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@tagged("post_install", "-at_install")
class TestKioskTours(HttpCase, HfScreensCommon):
    """Real Chromium against the real server: what an operator sees and does at the kiosk."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kiosk = cls.env["hf.screen.kiosk"].create({"workcenter_id": cls.workcenter.id, "user_id": cls.operator.id})
        cls.screen = cls.env["hf.screen"]._hf_generate_for_workcenter(cls.workcenter)

    def setUp(self):
        super().setUp()
        if historian_writer() is None:
            self.skipTest("hf_historian (writer) is not installed yet")
        self.env["hf.uns.tag"]._hf_ensure_historian_schema()

    def now(self):
        return datetime.now(UTC).replace(microsecond=0)

    def store_now(self, tag, value, seconds_ago=0):
        write_rows(historian_writer(), self.env.cr, [(tag.id, self.now() - timedelta(seconds=seconds_ago), value, 0)])

    def after_payloads(self, count, action):
        """Run ``action`` (in a thread, with its own test cursor) once the screen has been served ``count`` times."""
        served = {"n": 0}
        original = HfScreen._hf_payload

        def counting(screen, now=None):
            served["n"] += 1
            return original(screen, now)

        self.patch(HfScreen, "_hf_payload", counting)

        def later():
            deadline = time.monotonic() + 60
            while served["n"] < count and time.monotonic() < deadline:
                time.sleep(0.1)
            with self.env.registry.cursor() as cr:
                action(cr)

        thread = threading.Thread(target=later, daemon=True)
        thread.start()
        return thread

    def test_kiosk_live_value_and_bad_input(self):
        self.env["hf.screen.widget"].create(
            [
                {
                    "screen_id": self.screen.id,
                    "kind": "value",
                    "name": "Temp",
                    "tag_id": self.tag_temperature.id,
                    "x": 0,
                    "y": 8,
                    "w": 3,
                },
                {"screen_id": self.screen.id, "kind": "value", "tag_id": self.tag_speed.id, "x": 3, "y": 8, "w": 3},
            ]
        )
        recipe = self.create_tag("recipe", modbus_address=30, modbus_type="string", modbus_length=8, data_type="string")
        self.env["hf.screen.widget"].create(
            {"screen_id": self.screen.id, "kind": "gauge", "tag_id": recipe.id, "x": 6, "y": 8, "w": 3}
        )
        self.tag_speed.unlink()  # the tile bound to it now says so
        self.store_now(recipe, "R-17")
        self.store_now(self.tag_temperature, 42.5, seconds_ago=1)
        self.tag_temperature.limit_high = 50.0  # the value stored later (57.25) raises an alarm
        temperature_id = self.tag_temperature.id
        writer = historian_writer()

        def store_new_value(cr):
            write_rows(writer, cr, [(temperature_id, datetime.now(UTC), 57.25, 0)])

        thread = self.after_payloads(3, store_new_value)
        self.start_tour(f"/hf/kiosk/{self.kiosk.token}", "hf_screens_kiosk_live")
        thread.join(5)
        # A busier machine for the screenshot: running, counting parts, a work order waiting.
        now = self.now()
        write_rows(
            writer,
            self.env.cr,
            [
                (tag.id, now - timedelta(seconds=s), value, 0)
                for s in range(600, 0, -10)
                for tag, value in (
                    (self.tag_state, 0 if 400 < s < 480 else 1),
                    (self.tag_good, 1242 - s // 10),
                    (self.tag_scrap, 33 - s // 100),
                )
            ],
        )
        self.workcenter.write({"hf_ideal_cycle_time": 8.0})
        self.workcenter.resource_calendar_id.tz = "UTC"
        self.env["hf.machine.state"]._process_workcenters(self.workcenter)
        (self.tag_state | self.tag_good | self.tag_scrap | self.tag_temperature).sampling_interval_ms = 60_000
        create_workorder(self.env, self.workcenter, qty=120.0)
        _oee_cache.clear()
        self.env.flush_all()
        self.take_screenshot(f"/hf/kiosk/{self.kiosk.token}", "kiosk.png")

    def test_kiosk_workorder_start_finish(self):
        workorder = create_workorder(self.env, self.workcenter)
        token = self.kiosk.token
        access_log = _AccessLog()
        logging.getLogger("werkzeug").addHandler(access_log)
        try:
            self.start_tour(f"/hf/kiosk/{token}", "hf_screens_kiosk_workorder")
        finally:
            logging.getLogger("werkzeug").removeHandler(access_log)
        # the access log holds the token only where the tablet opened its link, never in the polls and actions
        requests = [line for line in access_log.lines if "/hf/kiosk" in line]
        self.assertTrue([line for line in requests if "POST /hf/kiosk/data " in line], requests)
        self.assertTrue([line for line in requests if "POST /hf/kiosk/action " in line], requests)
        with_token = [line for line in access_log.lines if token in line]
        self.assertTrue(with_token and all(f"GET /hf/kiosk/{token} " in line for line in with_token), with_token)
        self.assertEqual(workorder.state, "done")
        self.assertFalse(
            workorder.time_ids.filtered(lambda t: t.hf_source != "machine"),
            "the press is machine-driven: its machine is the only clock, no operator timer",
        )
        self.assertFalse(workorder.time_ids.filtered(lambda t: not t.date_end))
        self.assertFalse(self.workcenter.hf_workorder_id, "finished: the machine's time goes to no order")
        self.assertEqual(workorder.qty_produced, 10)

    def test_kiosk_value_fits_its_tile(self):
        spindle = self.create_tag(
            "spindle_speed",
            unit="rpm",
            modbus_address=40,
            modbus_type="float32",
            data_type="float",
            sampling_interval_ms=60_000,
        )
        Widget = self.env["hf.screen.widget"]
        for name, x, w, h in (("Spindle 3x2", 0, 3, 2), ("Spindle 2x1", 3, 2, 1), ("Spindle 4x1", 5, 4, 1)):
            Widget.create(
                {
                    "screen_id": self.screen.id,
                    "kind": "value",
                    "name": name,
                    "tag_id": spindle.id,
                    "x": x,
                    "y": 30,
                    "w": w,
                    "h": h,
                }
            )
        self.store_now(spindle, 12345.6)
        for tag, start, end in ((self.tag_good, 0, 12345), (self.tag_scrap, 0, 33)):
            tag.sampling_interval_ms = 60_000
            self.store_now(tag, start, seconds_ago=60)
            self.store_now(tag, end)
        _oee_cache.clear()
        self.start_tour(f"/hf/kiosk/{self.kiosk.token}", "hf_screens_kiosk_value_fits")

    def test_kiosk_downtime_reason(self):
        now = self.now()
        write_rows(
            historian_writer(),
            self.env.cr,
            [
                (self.tag_state.id, now - timedelta(seconds=s), value, 0)
                for s, value in ((60, 1), (45, 1), (30, 3), (20, 3), (10, 3), (1, 3))
            ],
        )
        self.env["hf.machine.state"]._process_workcenters(self.workcenter)
        down = self.machine_records()[-1]
        self.assertEqual(down.hf_machine_state, "down")
        self.start_tour(f"/hf/kiosk/{self.kiosk.token}", "hf_screens_kiosk_downtime")
        down.invalidate_recordset()
        self.assertEqual(down.loss_id, self.env.ref("mrp.block_reason2"))
        self.assertEqual(down.hf_reason_user_id, self.operator)
        self.assertFalse(down.date_end)

    def test_kiosk_revoked_while_open(self):
        kiosk_id = self.kiosk.id

        def revoke(cr):
            cr.execute("UPDATE hf_screen_kiosk SET state = 'revoked' WHERE id = %s", (kiosk_id,))

        thread = self.after_payloads(2, revoke)
        self.start_tour(f"/hf/kiosk/{self.kiosk.token}", "hf_screens_kiosk_revoked")
        thread.join(5)

    def test_kiosk_recovers_after_network_drop(self):
        self.env["hf.screen.widget"].create(
            {
                "screen_id": self.screen.id,
                "kind": "value",
                "name": "Temp",
                "tag_id": self.tag_temperature.id,
                "x": 0,
                "y": 30,
                "w": 3,
            }
        )
        self.tag_temperature.sampling_interval_ms = 60_000  # stays fresh for the whole tour unless offline
        self.store_now(self.tag_temperature, 42.5)
        self.start_tour(f"/hf/kiosk/{self.kiosk.token}", "hf_screens_kiosk_reconnect")

    def test_engineer_designer_preview(self):
        self.env["hf.screen.widget"].create(
            {
                "screen_id": self.screen.id,
                "kind": "value",
                "name": "Temp",
                "tag_id": self.tag_temperature.id,
                "x": 0,
                "y": 30,
                "w": 3,
            }
        )
        self.tag_temperature.sampling_interval_ms = 60_000
        self.store_now(self.tag_temperature, 42.5)
        self.start_tour(
            f"/odoo/action-hf_screens.hf_screen_action/{self.screen.id}",
            "hf_screens_engineer_preview",
            login=self.engineer.login,
        )
        self.assertEqual(self.screen.theme, "light")

    def test_operator_uses_screen_but_cannot_edit(self):
        workorder = create_workorder(self.env, self.workcenter)
        self.start_tour(
            f"/odoo/action-hf_screens.hf_screen_action/{self.screen.id}",
            "hf_screens_operator_backend",
            login=self.operator.login,
        )
        self.assertEqual(workorder.state, "progress")
        self.assertEqual(self.workcenter.hf_workorder_id, workorder, "the machine's time goes to the order")
        self.assertFalse(workorder.time_ids.filtered(lambda t: t.hf_source != "machine"))

    def take_screenshot(self, path, name):
        """A kiosk as a tablet shows it, kept as a test artefact (Chromium headless against the test server)."""
        chromium = next(
            (
                c
                for c in ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("google-chrome"))
                if c and Path(c).exists()
            ),
            None,
        )
        if not chromium:
            _logger.warning("no Chromium: kiosk screenshot not taken")
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / name
        url = f"http://127.0.0.1:{self.http_port()}{path}"
        with tempfile.TemporaryDirectory() as profile:
            result = subprocess.run(
                [
                    chromium,
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    f"--user-data-dir={profile}",
                    "--window-size=1600,1500",
                    "--virtual-time-budget=6000",
                    f"--screenshot={target}",
                    url,
                ],
                check=False,
                timeout=120,
                capture_output=True,
                text=True,
                preexec_fn=_unlimited_address_space,
            )
        if not target.exists():
            _logger.info("chromium exited %s: %s %s", result.returncode, result.stdout[-1000:], result.stderr[-2000:])
        self.assertTrue(target.exists() and target.stat().st_size > 10000, f"kiosk screenshot {target} was not written")
        _logger.info("kiosk screenshot: %s", target)
