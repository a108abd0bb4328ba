import os
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import numpy as np

from odoo.addons.hf_uns.tests.common import HfUnsCommon

from hf_historian.writer import HistorianWriter, Sample

STEP_S = 10  # simulator step: small enough for the physics, coarse enough for a fast suite
# The deployment's model signing key (hf_ml.ml.model.deployment_key) as a real server gets it: Odoo's
# environment. Set here for every hf_ml test, so `make test` needs nothing from the shell.
TEST_SIGNING_KEY = "hf-ml-tests-signing-key-0123456789abcdef"


def signing_environ(key=TEST_SIGNING_KEY, key_file=None):
    """os.environ with exactly this signing key (or key file), nothing inherited from the shell."""
    environ = {
        name: value for name, value in os.environ.items() if name not in ("HF_ML_SIGNING_KEY", "HF_ML_SIGNING_KEY_FILE")
    }
    if key is not None:
        environ["HF_ML_SIGNING_KEY"] = key
    if key_file is not None:
        environ["HF_ML_SIGNING_KEY_FILE"] = key_file
    return patch.dict(os.environ, environ, clear=True)


class HfMlCommon(HfUnsCommon):
    """The hf_uns plant plus the machine tags the simulator produces, and helpers that run the simulator's
    physics (hf_collector.simulate.machine) into the historian."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.startClassPatcher(signing_environ())
        # on the hour: the feature windows sit on the epoch's grid, so the seeded plant data falls into the same
        # windows on every run (a minute-aligned "now" shifts them, and with them the scores)
        cls.now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        cls.tag_vibration = cls.create_tag("vibration", unit="mm/s", modbus_address=10, modbus_type="float32")
        cls.tag_state = cls.create_tag(
            "state", modbus_address=12, modbus_type="uint16", data_type="int", role="machine_state"
        )
        cls.tag_scrap = cls.create_tag(
            "scrap_count", modbus_address=14, modbus_type="uint32", data_type="int", role="scrap_count"
        )
        cls.equipment = cls.env["maintenance.equipment"].create({"name": "Press 1 spindle"})

    @staticmethod
    def warm_up(machine, seconds=3600):
        """Run the machine out of its cold start (22 °C, spindle still) before anything is recorded."""
        for _i in range(seconds // STEP_S):
            machine.step(STEP_S)
        return machine

    @classmethod
    def simulate(cls, machine, start, seconds, prevent_failures=False, inject=None):
        """Run ``machine`` for ``seconds`` from ``start`` into the historian; return its failure times.

        ``prevent_failures``: maintain the bearing before it fails (a healthy plant).
        ``inject``: ``[(offset_s, length_s, {"temperature": +delta, "spindle_speed": sigma})]`` anomalies.
        """
        rng = np.random.default_rng(machine.seed)
        tags = {
            "temperature": cls.tag_temperature,
            "spindle_speed": cls.tag_speed,
            "vibration": cls.tag_vibration,
            "state": cls.tag_state,
            "scrap_count": cls.tag_scrap,
        }
        samples, failures = [], []
        for i in range(int(seconds // STEP_S)):
            was_down = machine.state == "down"
            machine.step(STEP_S)
            if prevent_failures and machine.vibration > 6:
                machine.maintain()
            moment = start + timedelta(seconds=i * STEP_S)
            if machine.state == "down" and not was_down:
                failures.append(moment)
            values = {
                "temperature": machine.temperature,
                "spindle_speed": machine.spindle_speed,
                "vibration": machine.vibration,
                "state": machine.state_code,
                "scrap_count": machine.scrap_count,
            }
            for offset, length, change in inject or ():
                if offset <= i * STEP_S < offset + length:
                    values["temperature"] += change.get("temperature", 0.0)
                    values["spindle_speed"] += rng.normal(0, change.get("spindle_speed", 0.0) or 1e-9)
            ms = int(moment.timestamp() * 1000)
            samples += [Sample(tags[name].id, ms, float(value)) for name, value in values.items()]
        HistorianWriter(cls.env.cr).write(samples)
        return failures

    @classmethod
    def record_failures(cls, failures):
        """Corrective requests, as a maintenance technician records each breakdown."""
        return cls.env["maintenance.request"].create(
            [
                {
                    "name": f"Spindle bearing failed {moment:%H:%M}",
                    "equipment_id": cls.equipment.id,
                    "maintenance_type": "corrective",
                    "hf_failed_at": moment.replace(tzinfo=None),
                }
                for moment in failures
            ]
        )

    def scores(self, job):
        self.env.cr.execute(
            "SELECT extract(epoch FROM time), value FROM hf_historian_sample WHERE tag_id = %s ORDER BY time",
            (job.score_tag_id.id,),
        )
        return [(datetime.fromtimestamp(float(t), UTC), v) for t, v in self.env.cr.fetchall()]

    def train(self, job, now=None):
        """Through the background path: queue, then the training cron's own method."""
        job.action_train()
        self.assertEqual(job.state, "queued")
        job._hf_run_training(now or self.now)
        return job
