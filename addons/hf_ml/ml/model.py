"""The three kinds of model and their safe storage.

* anomaly, ``isolation_forest``: IsolationForest over robust-scaled windowed features;
* anomaly, ``robust_z``: the largest robust z-score (median / MAD) of the features, for one tag;
* ``classifier`` (predictive maintenance, quality): a random forest giving the probability of the
  event (a failure within the horizon, scrap in the current cycle).

Anomaly scores are scaled so that 1.0 is the model's own threshold; classifiers give probabilities.

Storage: the artefact is a pickle of plain scikit-learn / numpy objects, signed with HMAC-SHA256 under a
key the deployment provides outside the database (:func:`deployment_key`: ``HF_ML_SIGNING_KEY_FILE`` or
``HF_ML_SIGNING_KEY``), so neither a database dump nor a system administrator of Odoo can sign a model.
:func:`load` checks the signature before anything is unpickled, then unpickles with an exact allow-list
of the globals our models contain (:data:`ALLOWED_GLOBALS`) as a second fence: a file uploaded or edited
by hand is refused, never executed.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.preprocessing import RobustScaler

FORMAT = 1
MIN_ROWS = 20
ROBUST_Z_LIMIT = 3.5  # Iglewicz and Hoaglin's cut-off for modified z-scores


class TamperedModel(Exception):
    """The artefact was not written by this server, or holds something that is not a model."""


class TrainingError(ValueError):
    """The data cannot give a model; the message says why in plain words."""


@dataclass
class MlModel:
    kind: str  # "anomaly" | "classifier"
    method: str  # "isolation_forest" | "robust_z" | "random_forest"
    feature_names: list[str]
    params: dict = field(default_factory=dict)  # numpy arrays and numbers
    scaler: RobustScaler | None = None
    estimator: IsolationForest | RandomForestClassifier | None = None

    # --- scoring ------------------------------------------------------------------------------
    def score(self, features: np.ndarray) -> np.ndarray:
        """One score per row: anomaly scores (1.0 = threshold) or event probabilities."""
        features = np.asarray(features, dtype=float)
        if features.shape[1] != len(self.feature_names):
            raise TrainingError(
                f"the model expects {len(self.feature_names)} features, got {features.shape[1]}; "
                "the job's tags or aggregations changed since training"
            )
        if len(features) == 0:
            return np.empty(0)
        if self.method == "robust_z":
            return self._robust_z(features).max(axis=1) / ROBUST_Z_LIMIT
        if self.method == "isolation_forest":
            forest = -self.estimator.score_samples(self.scaler.transform(features)) / self.params["raw_threshold"]
            return np.maximum(forest, self._envelope(features).max(axis=1))
        proba = self.estimator.predict_proba(features)
        return (
            proba[:, list(self.estimator.classes_).index(1)]
            if 1 in self.estimator.classes_
            else np.zeros(len(features))
        )

    def _envelope(self, features: np.ndarray) -> np.ndarray:
        """How far each feature lies outside its training range (min to max), in widths of that range
        (1.0: a whole range beyond it). An isolation forest cannot tell "far outside" from "just outside" (a point
        beyond every split is isolated at the same depth), so values nobody has ever seen are caught here."""
        lo, hi = self.params["low"], self.params["high"]
        return np.maximum(np.maximum(features - hi, lo - features), 0.0) / (hi - lo)

    def _robust_z(self, features: np.ndarray) -> np.ndarray:
        return np.abs(features - self.params["median"]) / self.params["mad"]

    def importance(self, features: np.ndarray | None = None) -> np.ndarray:
        """How much each feature drives the score (sums to 1): the forest's own importances for
        classifiers; for anomaly models, the mean absolute robust deviation of each feature over the
        windows the model flags (or over all rows when none is flagged)."""
        if self.method == "random_forest":
            values = np.asarray(self.estimator.feature_importances_, dtype=float)
        else:
            if features is None or not len(features):
                return np.zeros(len(self.feature_names))
            if self.method == "robust_z":
                deviation = self._robust_z(features)
            else:
                deviation = np.abs(self.scaler.transform(features))
            flagged = self.score(features) > 1.0
            values = (deviation[flagged] if flagged.any() else deviation).mean(axis=0)
        total = float(np.nansum(values))
        return values / total if total > 0 else values

    # --- fitting ------------------------------------------------------------------------------
    @classmethod
    def fit_anomaly(
        cls,
        features: np.ndarray,
        names: list[str],
        method: str = "isolation_forest",
        contamination: float = 0.01,
        seed: int = 0,
    ) -> MlModel:
        features = _checked(features)
        if method == "robust_z":
            median = np.median(features, axis=0)
            mad = 1.4826 * np.median(np.abs(features - median), axis=0)
            floor = 1e-6 * np.maximum(np.abs(median), 1.0)
            return cls("anomaly", method, names, {"median": median, "mad": np.maximum(mad, floor)})
        if not 0 < contamination < 0.5:
            raise TrainingError("the expected share of anomalies must be between 0 and 0.5")
        scaler = RobustScaler().fit(features)
        forest = IsolationForest(n_estimators=150, random_state=seed, n_jobs=1).fit(scaler.transform(features))
        raw = -forest.score_samples(scaler.transform(features))
        low, high = features.min(axis=0), features.max(axis=0)
        floor = 1e-6 * np.maximum(np.abs(high), 1.0)
        width = np.maximum(high - low, floor)
        return cls(
            "anomaly",
            method,
            names,
            {"raw_threshold": float(np.quantile(raw, 1 - contamination)), "low": low, "high": low + width},
            scaler,
            forest,
        )

    @classmethod
    def fit_classifier(cls, features: np.ndarray, labels: np.ndarray, names: list[str], seed: int = 0) -> MlModel:
        features = _checked(features)
        labels = np.asarray(labels, dtype=int)
        positives = int(labels.sum())
        if positives < 2:
            raise TrainingError(f"only {positives} positive example(s) in the training data; at least 2 are needed")
        if positives == len(labels):
            raise TrainingError("every training row is positive: the horizon is too long for this history")
        forest = RandomForestClassifier(
            n_estimators=120,
            max_depth=10,
            min_samples_leaf=3,
            n_jobs=1,
            class_weight="balanced_subsample",
            random_state=seed,
        )
        return cls("classifier", "random_forest", names, {}, None, forest.fit(features, labels))


def _checked(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=float)
    if features.ndim != 2 or features.shape[0] < MIN_ROWS:
        raise TrainingError(
            f"only {features.shape[0] if features.ndim else 0} complete feature windows; at least {MIN_ROWS} are needed"
        )
    if not np.isfinite(features).all():
        raise TrainingError("the features contain NaN or infinite values")
    if np.all(np.ptp(features, axis=0) == 0):
        raise TrainingError("every input was constant over the training period: there is nothing to learn from")
    return features


# --- safe storage ---------------------------------------------------------------------------------

# Every global a pickle of :func:`dump` refers to, for the three methods above with the pinned numpy and
# scikit-learn (requirements.txt), and nothing else: a model is dicts, lists, strings and numbers (no global
# needed) plus these. numpy.* as a whole would admit numpy.testing's runstring (exec), scipy.* and sklearn.*
# hold loaders and callables just as bad. A version upgrade that pickles a new global makes training fail
# loudly in the tests (tests/test_model_storage.py loads a model of each method), never silently.
ALLOWED_GLOBALS = frozenset(
    {
        # numpy arrays and scalars: dtype, contiguous buffers (protocol 5), and the older form a
        # non-contiguous array takes (an empty array, then its state: shape, dtype and raw bytes)
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        # isolation_forest: the scaler, the forest and its trees
        ("sklearn.preprocessing._data", "RobustScaler"),
        ("sklearn.ensemble._iforest", "IsolationForest"),
        ("sklearn.tree._classes", "ExtraTreeRegressor"),
        # random_forest
        ("sklearn.ensemble._forest", "RandomForestClassifier"),
        ("sklearn.tree._classes", "DecisionTreeClassifier"),
        # both forests' fitted trees
        ("sklearn.tree._tree", "Tree"),
    }
)

KEY_ENV = "HF_ML_SIGNING_KEY"
KEY_FILE_ENV = "HF_ML_SIGNING_KEY_FILE"
MIN_KEY_CHARS = 32


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # type: ignore[no-untyped-def]
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise TamperedModel(f"the model file refers to {module}.{name}, which a model never holds")


class MissingSigningKey(Exception):
    """The deployment gave this server no usable model signing key; the message says what to set."""


def deployment_key(scope: str = "", environ: Mapping[str, str] | None = None) -> bytes:
    """The model signing key from the secret the deployment provides: the file named by ``HF_ML_SIGNING_KEY_FILE``
    (a Docker or Kubernetes secret), else ``HF_ML_SIGNING_KEY``; at least 32 characters, never read from the
    database. ``scope`` (the database's name) gives each database of a server its own key: tenants sharing one
    deployment cannot move a model from one to another."""
    environ = os.environ if environ is None else environ
    path = environ.get(KEY_FILE_ENV)
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                secret = handle.read().strip()
        except OSError as exc:
            raise MissingSigningKey(f"{KEY_FILE_ENV} names {path}, which cannot be read ({exc.strerror})") from None
        where = KEY_FILE_ENV
    else:
        secret, where = (environ.get(KEY_ENV) or "").strip(), KEY_ENV
    if not secret:
        raise MissingSigningKey(
            f"the server has no model signing key: set {KEY_FILE_ENV} (a file holding at "
            f"least {MIN_KEY_CHARS} random characters) or {KEY_ENV} in Odoo's environment"
        )
    if len(secret) < MIN_KEY_CHARS:
        raise MissingSigningKey(
            f"the model signing key in {where} is too short: give it at least {MIN_KEY_CHARS} "
            "random characters (e.g. the output of `openssl rand -hex 32`)"
        )
    return signing_key(secret, scope)


def signing_key(secret: str, scope: str = "") -> bytes:
    """The signing key derived from the deployment's secret (never the secret itself) for ``scope``."""
    if not secret:
        raise MissingSigningKey("no secret to sign models with")
    return hmac.new(secret.encode(), b"hyperfactory hf_ml model signing v2\0" + scope.encode(), hashlib.sha256).digest()


def sign(data: bytes, key: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def dump(model: MlModel, key: bytes) -> tuple[bytes, str]:
    """(artefact bytes, hex signature)."""
    state = {
        "format": FORMAT,
        "kind": model.kind,
        "method": model.method,
        "feature_names": list(model.feature_names),
        "params": model.params,
        "scaler": model.scaler,
        "estimator": model.estimator,
    }
    buffer = io.BytesIO()
    pickle.dump(state, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    data = buffer.getvalue()
    return data, sign(data, key)


def load(data: bytes, signature: str, key: bytes) -> MlModel:
    if not data:
        raise TamperedModel("the model file is empty")
    if not signature or not hmac.compare_digest(sign(data, key), str(signature)):
        raise TamperedModel("the model file was not written by this server (signature mismatch)")
    try:
        state = _AllowListUnpickler(io.BytesIO(data)).load()
    except TamperedModel:
        raise
    except Exception as exc:  # a signed artefact that does not unpickle: a scikit-learn upgrade, say
        raise TamperedModel(f"the model file cannot be read ({type(exc).__name__})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise TamperedModel("the model file is not in this server's model format")
    return MlModel(
        state["kind"], state["method"], state["feature_names"], state["params"], state["scaler"], state["estimator"]
    )
