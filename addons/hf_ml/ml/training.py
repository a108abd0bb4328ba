"""Fitting a job's model and judging it on the period it was not trained on (no Odoo import).

The rows are split in time (``metrics.time_split``): the model judged is fitted on the first 75 % and scored on
the held-out last 25 %, so its figures say how it does on data it has not seen; the model kept is then fitted
on every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import metrics
from .model import MlModel


@dataclass(frozen=True)
class Trained:
    """The model to keep and what the held-out period says of it."""

    model: MlModel
    scores: np.ndarray  # the evaluation model's score of every row
    figures: dict[str, Any]  # precision, recall, f1, roc_auc, mae (None where they do not apply)
    lead: list[float]  # seconds of warning before each held-out event (maintenance, or anomaly with events)


def fit(
    matrix: np.ndarray,
    ends: np.ndarray,
    split_at: float,
    names: list[str],
    labels: np.ndarray | None,
    events: np.ndarray | None,
    *,
    supervised: bool,
    method: str,
    contamination: float,
    threshold: float,
    lead_times: bool,
) -> Trained:
    """Fit on the rows ending at or before ``split_at``, score every row, then fit the kept model on all rows.
    ``labels`` are required when ``supervised`` (a classifier), ``events`` for ``lead_times``. Raises
    ``model.TrainingError``."""
    train = ends <= split_at
    if supervised:
        assert labels is not None
        evaluation = MlModel.fit_classifier(matrix[train], labels[train], names)
        final = MlModel.fit_classifier(matrix, labels, names)
    else:
        evaluation = MlModel.fit_anomaly(matrix[train], names, method, contamination)
        final = MlModel.fit_anomaly(matrix, names, method, contamination)
    scores = evaluation.score(matrix)
    held_out = ~train
    figures: dict[str, Any] = {"precision": None, "recall": None, "f1": None, "roc_auc": None, "mae": None}
    if labels is not None:
        figures = metrics.classification(labels[held_out], scores[held_out], threshold, supervised)
    lead: list[float] = []
    if lead_times and events is not None:
        test_events = events[(events > split_at) & (events <= ends[-1])]
        lead = list(metrics.lead_times(ends[held_out], scores[held_out] >= threshold, test_events))
    return Trained(final, scores, figures, lead)
