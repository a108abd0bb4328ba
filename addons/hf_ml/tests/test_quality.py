from datetime import timedelta

import numpy as np

from odoo.tests import tagged

from hf_historian.writer import HistorianWriter, Sample

from .common import HfMlCommon


@tagged("post_install", "-at_install")
class TestQuality(HfMlCommon):
    """A moulding process: parts are scrapped when the melt runs hot and the pressure sags."""

    def test_learns_scrap_from_process_tags(self):
        rng = np.random.default_rng(3)
        pressure = self.create_tag("pressure", unit="bar", modbus_address=20, modbus_type="float32")
        start = self.now - timedelta(hours=24)
        samples, scrap, drift = [], 0, 0.0
        for i in range(24 * 360):  # every 10 s
            drift = 0.97 * drift + rng.normal(0, 0.6)
            temperature = 220 + drift + rng.normal(0, 0.3)
            bar = 800 - 3 * drift + rng.normal(0, 2)
            if temperature > 222 and rng.random() < 0.6:
                scrap += 1
            ms = int((start + timedelta(seconds=10 * i)).timestamp() * 1000)
            samples += [
                Sample(self.tag_temperature.id, ms, temperature),
                Sample(pressure.id, ms, bar),
                Sample(self.tag_scrap.id, ms, float(scrap)),
            ]
        HistorianWriter(self.env.cr).write(samples)
        job = self.env["hf.ml.job"].create(
            {
                "name": "Scrap risk",
                "kind": "quality",
                "workcenter_id": self.workcenter.id,
                "scrap_source": "tag",
                "scrap_tag_id": self.tag_scrap.id,
                "tag_ids": [(6, 0, (self.tag_temperature | pressure).ids)],
                "window_minutes": 1,
                "rolling_windows": "1,5",
                "training_days": 1,
                "threshold": 0.5,
            }
        )
        self.train(job)
        self.assertEqual(job.state, "trained", job.last_error)
        version = job.active_version_id
        self.assertGreater(version.roc_auc, 0.85, version.summary)
        self.assertGreater(version.f1, 0.6, version.summary)
        self.assertGreater(version.mae, 0.0)
        self.assertLess(version.mae, 0.35)
