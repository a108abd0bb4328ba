import base64
import builtins
import io
import pickle
from datetime import timedelta

import numpy as np

from odoo.exceptions import UserError
from odoo.tests import tagged

from hf_historian.writer import HistorianWriter, Sample

from ..ml import model as ml_model
from .common import TEST_SIGNING_KEY, HfMlCommon, signing_environ


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


class _Recorder(pickle.Unpickler):
    """Unpickles anything (trusted test data only), noting every global the pickle names."""

    def __init__(self, file):
        super().__init__(file)
        self.used = set()

    def find_class(self, module, name):
        self.used.add((module, name))
        return super().find_class(module, name)


class _RunString:
    """numpy.testing's runstring is exec(): a pickle naming it runs any code a global allow-list of numpy.* admits."""

    def __reduce__(self):
        from numpy.testing._private.utils import runstring

        return (runstring, ("import builtins; builtins.HF_ML_PWNED = True", {}))


@tagged("post_install", "-at_install")
class TestModelStorage(HfMlCommon):
    """Only artefacts signed with the deployment's key are ever unpickled, and only into our models' classes."""

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
                for i in range(12 * 180)
            ]
        )
        cls.job = cls.env["hf.ml.job"].create(
            {
                "name": "Storage",
                "workcenter_id": cls.workcenter.id,
                "tag_ids": [(6, 0, cls.tag_vibration.ids)],
                "training_days": 0.5,
                "rolling_windows": "5",
            }
        )

    def setUp(self):
        super().setUp()
        self.train(self.job)
        self.version = self.job.active_version_id.sudo()
        self.assertTrue(self.version.signature)

    def score(self):
        return self.job._hf_score(self.now + timedelta(minutes=10))

    def test_an_edited_artefact_is_refused(self):
        data = bytearray(base64.b64decode(self.version.artefact))
        data[len(data) // 2] ^= 1  # one bit
        self.version.artefact = base64.b64encode(bytes(data))
        with self.assertRaisesRegex(UserError, "was refused: the model file was not written by this server"):
            self.score()

    def test_a_foreign_pickle_is_refused_even_with_a_signature_from_another_server(self):
        data = pickle.dumps({"format": 1, "estimator": _Payload()})
        other = ml_model.signing_key("another deployment's key, 32+ characters long")
        self.version.write({"artefact": base64.b64encode(data), "signature": ml_model.sign(data, other)})
        with self.assertRaisesRegex(UserError, "signature mismatch"):
            self.score()
        # signed with our own key (a leaked key, a bug): the allow-list still refuses to build it
        self.version.write({"signature": ml_model.sign(data, self.job._hf_key())})
        with self.assertRaisesRegex(UserError, "refers to builtins.print, which a model never holds"):
            self.score()

    def test_numpy_runstring_is_refused_without_running(self):
        """Every numpy.* global once passed the allow-list: numpy.testing's runstring (exec) among them."""
        data = pickle.dumps({"format": 1, "estimator": _RunString()})
        self.version.write({"artefact": base64.b64encode(data), "signature": ml_model.sign(data, self.job._hf_key())})
        with self.assertRaisesRegex(UserError, r"refers to numpy\.testing\._private\.utils\.runstring"):
            self.score()
        self.assertFalse(hasattr(builtins, "HF_ML_PWNED"), "the crafted pickle's code ran")

    def test_the_allow_list_is_exactly_what_our_models_hold(self):
        """A model of each method, pickled by dump, names only allowed globals, and every allowed one is used."""
        rng = np.random.default_rng(3)
        features = rng.normal(size=(120, 3))
        labels = (rng.random(120) > 0.7).astype(int)
        key = self.job._hf_key()
        used = set()
        for model in (
            ml_model.MlModel.fit_anomaly(features, ["a", "b", "c"]),
            ml_model.MlModel.fit_anomaly(features[:, :1], ["a"], "robust_z"),
            ml_model.MlModel.fit_classifier(features, labels, ["a", "b", "c"]),
        ):
            data, signature = ml_model.dump(model, key)
            recorder = _Recorder(io.BytesIO(data))
            recorder.load()
            used |= recorder.used
            loaded = ml_model.load(data, signature, key)
            np.testing.assert_allclose(
                loaded.score(features[:, : len(model.feature_names)]),
                model.score(features[:, : len(model.feature_names)]),
            )
        self.assertLessEqual(used, ml_model.ALLOWED_GLOBALS)
        # the two forms an array takes that a fresh fit happens not to use (a non-contiguous array's)
        self.assertEqual(
            ml_model.ALLOWED_GLOBALS - used, {("numpy", "ndarray"), ("numpy._core.multiarray", "_reconstruct")}
        )
        sliced = np.arange(12.0).reshape(3, 4)[:, ::2]  # not contiguous: pickled through _reconstruct
        data = pickle.dumps(
            {
                "format": 1,
                "kind": "anomaly",
                "method": "robust_z",
                "feature_names": ["a"],
                "params": {"median": sliced},
                "scaler": None,
                "estimator": None,
            }
        )
        np.testing.assert_array_equal(ml_model.load(data, ml_model.sign(data, key), key).params["median"], sliced)

    def test_the_key_comes_from_the_deployment_not_the_database(self):
        # an administrator who knows (or sets) the database secret signs nothing with it
        self.env["ir.config_parameter"].set_param("database.secret", "rotated")
        self.score()
        self.assertEqual(self.job.active_version_id, self.version)
        # the same secret but another database's key (a model copied from another tenant) is refused
        data = base64.b64decode(self.version.artefact)
        self.version.signature = ml_model.sign(data, ml_model.signing_key(TEST_SIGNING_KEY, "another_tenant"))
        with self.assertRaisesRegex(UserError, "signature mismatch"):
            self.score()
        self.version.signature = ml_model.sign(data, ml_model.signing_key(TEST_SIGNING_KEY, self.env.cr.dbname))
        self.score()
        # another deployment's key (a model copied from another server) is refused
        with signing_environ("a different deployment signing key 0123456789"):
            with self.assertRaisesRegex(UserError, "Train the job again or roll back"):
                self.score()
            self.job.last_error = False
            self.job._hf_run_scoring(self.now + timedelta(minutes=10))
            self.assertIn("signature mismatch", self.job.last_error, "the cron says it on the job, no traceback")

    def test_no_key_no_models(self):
        with signing_environ(key=None):
            with self.assertRaisesRegex(
                UserError,
                "Models cannot be saved or loaded: the server has no model signing key: set HF_ML_SIGNING_KEY_FILE",
            ):
                self.score()
            with self.assertRaisesRegex(UserError, "HF_ML_SIGNING_KEY_FILE"):
                self.job.action_train()
            self.job.write({"state": "queued"})
            self.job._hf_run_training(self.now)
            self.assertEqual(self.job.state, "error")
            self.assertIn("no model signing key", self.job.last_error)
            self.assertEqual(len(self.job.version_ids), 1, "no model saved without a key")
        with signing_environ(key="too short"), self.assertRaisesRegex(UserError, "too short"):
            self.score()

    def test_key_file(self):
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".key") as handle:
            handle.write(TEST_SIGNING_KEY + "\n")
            handle.flush()
            with signing_environ(key=None, key_file=handle.name):
                self.score()  # the same key, from a file: the model loads
        with (
            signing_environ(key=TEST_SIGNING_KEY, key_file="/nonexistent/hf-ml.key"),
            self.assertRaisesRegex(UserError, "cannot be read"),
        ):
            self.score()
