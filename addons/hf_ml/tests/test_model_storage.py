import base64
import pickle
from datetime import timedelta

from odoo.exceptions import UserError
from odoo.tests import tagged

from hf_historian.writer import HistorianWriter, Sample

from .common import HfMlCommon


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


@tagged("post_install", "-at_install")
class TestModelStorage(HfMlCommon):
    """Only artefacts this server signed are ever unpickled."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base = cls.now - timedelta(hours=12)
        HistorianWriter(cls.env.cr).write([
            Sample(cls.tag_vibration.id, int((base + timedelta(seconds=20 * i)).timestamp() * 1000),
                   2.0 + (i % 17) / 10)
            for i in range(12 * 180)])
        cls.job = cls.env["hf.ml.job"].create({
            "name": "Storage", "workcenter_id": cls.workcenter.id, "tag_ids": [(6, 0, cls.tag_vibration.ids)],
            "training_days": 0.5, "rolling_windows": "5"})

    def setUp(self):
        super().setUp()
        self.train(self.job)
        self.version = self.job.active_version_id.sudo()
        self.assertTrue(self.version.signature)

    def test_an_edited_artefact_is_refused(self):
        data = bytearray(base64.b64decode(self.version.artefact))
        data[len(data) // 2] ^= 1  # one bit
        self.version.artefact = base64.b64encode(bytes(data))
        with self.assertRaisesRegex(UserError, "was refused: the model file was not written by this server"):
            self.job._hf_score(self.now + timedelta(minutes=10))

    def test_a_foreign_pickle_is_refused_even_with_a_signature_from_another_server(self):
        from ..ml.model import sign, signing_key
        data = pickle.dumps({"format": 1, "estimator": _Payload()})
        self.version.write({"artefact": base64.b64encode(data), "signature": sign(data, signing_key("another"))})
        with self.assertRaisesRegex(UserError, "signature mismatch"):
            self.job._hf_score(self.now + timedelta(minutes=10))
        # signed with our own key (a leaked key, a bug): the allow-list still refuses to build it
        self.version.write({"signature": sign(data, self.job._hf_key())})
        with self.assertRaisesRegex(UserError, "refers to builtins.print, which a model never holds"):
            self.job._hf_score(self.now + timedelta(minutes=10))

    def test_the_key_follows_the_database_secret(self):
        self.env["ir.config_parameter"].set_param("database.secret", "rotated")
        with self.assertRaisesRegex(UserError, "Train the job again or roll back"):
            self.job._hf_score(self.now + timedelta(minutes=10))
        self.job.last_error = False
        self.job._hf_run_scoring(self.now + timedelta(minutes=10))
        self.assertIn("signature mismatch", self.job.last_error, "the cron says it on the job, no traceback")
