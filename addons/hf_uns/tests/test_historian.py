from datetime import UTC, datetime, timedelta

from odoo.exceptions import UserError
from odoo.tests import tagged

from hf_historian import schema
from hf_historian.writer import HistorianWriter, Sample

from .common import HfUnsCommon


def ms(moment):
    return int(moment.timestamp() * 1000)


@tagged("post_install", "-at_install")
class TestHistorianReadApi(HfUnsCommon):
    """What the ingest stores is what read_latest / read_history return (same tables, same cursor)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = datetime.now(UTC).replace(microsecond=0)
        cls.writer = HistorianWriter(cls.env.cr)
        start = cls.now - timedelta(hours=2)
        cls.writer.write(
            [
                Sample(cls.tag_temperature.id, ms(start + timedelta(seconds=i)), 20.0 + (i % 60) / 10)
                for i in range(7200)
            ]
        )
        cls.tag_state = cls.create_tag(
            "state", data_type="string", modbus_address=90, modbus_type="string", modbus_length=8
        )
        cls.writer.write([Sample(cls.tag_state.id, ms(cls.now), None, "running")])

    def test_read_latest_returns_the_newest_value_with_its_time(self):
        rows = self.env["hf.uns.tag"].read_latest(
            [self.tag_temperature.topic, self.tag_state.topic, self.tag_speed.topic]
        )
        by_path = {row["path"]: row for row in rows}
        newest = self.now - timedelta(hours=2) + timedelta(seconds=7199)
        self.assertAlmostEqual(by_path[self.tag_temperature.topic]["value"], 20.0 + (7199 % 60) / 10)
        self.assertEqual(by_path[self.tag_temperature.topic]["time"], newest.isoformat())
        self.assertEqual(by_path[self.tag_state.topic]["value"], "running")
        self.assertIs(by_path[self.tag_speed.topic]["time"], False, "a tag without data yet has no time")
        self.assertEqual(self.tag_temperature.latest_value, "25.9 °C")

    def test_read_history_downsamples_to_max_points(self):
        start = (self.now - timedelta(hours=2)).isoformat()
        history = self.env["hf.uns.tag"].read_history(self.tag_temperature.topic, start, self.now.isoformat(), 100)
        self.assertLessEqual(len(history["points"]), 100)
        self.assertEqual(history["bucket_seconds"], 120, "2 h in 100 points: whole 1-minute rollup buckets")
        self.assertIn(len(history["points"]), (60, 61), "every 2-minute bucket of the 2 hours, none missing")
        first = history["points"][0]
        self.assertEqual((first["min"], first["max"]), (20.0, 25.9))
        self.assertAlmostEqual(first["avg"], 22.95)
        raw = self.env["hf.uns.tag"].read_history(
            self.tag_temperature.topic, start, (self.now - timedelta(hours=2) + timedelta(seconds=10)).isoformat(), 100
        )
        self.assertEqual(raw["bucket_seconds"], 0, "a short window returns the raw samples")
        self.assertEqual([p["last"] for p in raw["points"]], [20.0 + i / 10 for i in range(10)])

    def test_read_history_refuses_bad_windows_clearly(self):
        tags = self.env["hf.uns.tag"]
        with self.assertRaisesRegex(UserError, "must come after the start"):
            tags.read_history(
                self.tag_temperature.topic, self.now.isoformat(), (self.now - timedelta(hours=1)).isoformat()
            )
        with self.assertRaisesRegex(UserError, "max_points must be between"):
            tags.read_history(self.tag_temperature.topic, "2026-01-01", "2026-01-02", 0)
        with self.assertRaisesRegex(UserError, "No tag you can read"):
            tags.read_history("umh/v1/nope/_historian/x", "2026-01-01", "2026-01-02")
        # the edges of the calendar and offsets PostgreSQL refuses: a clear error, never a traceback (issue 14)
        for start, end in (
            ("0001-01-01T00:00:00+14:00", "2026-01-02"),
            ("2026-01-01", "9999-12-31T23:59:59-23:59"),
            ("2026-01-01", "9999-12-31T23:59:59"),
            (12, "2026-01-02"),
        ):
            with self.assertRaisesRegex(UserError, "outside the years|not an ISO-8601 time"):
                tags.read_history(self.tag_temperature.topic, start, end)

    def test_retention_drops_whole_old_partitions_only(self):
        old = self.now - timedelta(days=40)
        self.writer.write([Sample(self.tag_speed.id, ms(old), 1.0), Sample(self.tag_speed.id, ms(self.now), 2.0)])
        old_partition = schema.partition_name(schema.RETENTION_CODES["standard"], old.date())
        self.env["ir.config_parameter"].sudo().set_param("hf_uns.retention_days.standard", "30")
        dropped = self.env["hf.uns.tag"]._cron_historian_retention()
        self.assertIn(old_partition, dropped)
        self.env.cr.execute("SELECT to_regclass(%s)", (old_partition,))
        self.assertIsNone(self.env.cr.fetchone()[0])
        self.env.cr.execute("SELECT value FROM hf_historian_sample WHERE tag_id = %s", (self.tag_speed.id,))
        self.assertEqual(self.env.cr.fetchall(), [(2.0,)])
        self.env.cr.execute("SELECT count(*) FROM hf_historian_rollup_1m WHERE tag_id = %s", (self.tag_speed.id,))
        self.assertEqual(self.env.cr.fetchone()[0], 2, "rollups outlive the raw samples")
