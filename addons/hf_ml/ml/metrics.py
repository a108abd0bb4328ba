"""Evaluation of a model on its held-out period: classification figures, lead time, and the time split."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, precision_recall_fscore_support, roc_auc_score


def time_split(ends: np.ndarray, test_share: float = 0.25) -> float:
    """The time at which the held-out (latest) period starts: rows ending after it are never trained on."""
    if not len(ends):
        return 0.0
    return float(ends[0] + (ends[-1] - ends[0]) * (1 - test_share))


def classification(labels: np.ndarray, scores: np.ndarray, threshold: float, probabilities: bool) -> dict:
    """precision, recall, F1 (at ``threshold``), ROC AUC (when both classes occur) and, for
    probabilities, the MAE between probability and outcome; None where a figure does not apply."""
    labels = np.asarray(labels, dtype=int)
    predicted = (np.asarray(scores) >= threshold).astype(int)
    result = {"precision": None, "recall": None, "f1": None, "roc_auc": None, "mae": None}
    if not len(labels):
        return result
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted, average="binary", zero_division=0)
    result.update(precision=float(precision), recall=float(recall), f1=float(f1))
    if 0 < labels.sum() < len(labels):
        result["roc_auc"] = float(roc_auc_score(labels, scores))
    if probabilities:
        result["mae"] = float(mean_absolute_error(labels, scores))
    return result


def lead_times(ends: np.ndarray, alarms: np.ndarray, failures: np.ndarray) -> list[float]:
    """Seconds of warning before each failure: from the start of the unbroken run of alarms that reaches
    the last row before the failure (0 when that row is not alarmed: the failure was missed). A sporadic
    false alarm hours earlier does not count as warning."""
    ends = np.asarray(ends, dtype=float)
    alarms = np.asarray(alarms, dtype=bool)
    result, previous = [], -np.inf
    for failure in np.sort(np.asarray(failures, dtype=float)):
        last = int(np.searchsorted(ends, failure, side="right")) - 1
        if last < 0 or ends[last] <= previous or not alarms[last]:
            result.append(0.0)
        else:
            first = last
            while first > 0 and alarms[first - 1] and ends[first - 1] > previous:
                first -= 1
            result.append(float(failure - ends[first]))
        previous = failure
    return result
