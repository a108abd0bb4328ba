"""Chart.js configurations (plain dicts, stored as JSON on a model version and drawn in its form)."""

from __future__ import annotations

import numpy as np

from hf_core.timeutil import from_epoch

MAX_POINTS = 400


def _label(epoch_s: float) -> str:
    return from_epoch(epoch_s).strftime("%m-%d %H:%M")


def score_chart(
    ends: np.ndarray, scores: np.ndarray, labels: np.ndarray | None, threshold: float, split_at: float, title: str
) -> dict:
    """Score over time (held-out period shaded by its own colour), the threshold, and the labels."""
    n = len(ends)
    step = max(1, int(np.ceil(n / MAX_POINTS)))
    keep = np.arange(0, n, step)
    # keep each slice's highest score so a short spike survives the thinning
    peaks = np.array([float(np.max(scores[i : i + step])) for i in keep]) if n else np.empty(0)
    datasets = [
        {
            "label": "score (training)",
            "data": [round(float(s), 4) if ends[i] <= split_at else None for i, s in zip(keep, peaks, strict=True)],
            "borderColor": "#5b8def",
            "pointRadius": 0,
            "borderWidth": 1.5,
            "spanGaps": False,
        },
        {
            "label": "score (held out)",
            "data": [round(float(s), 4) if ends[i] > split_at else None for i, s in zip(keep, peaks, strict=True)],
            "borderColor": "#e07b00",
            "pointRadius": 0,
            "borderWidth": 1.5,
            "spanGaps": False,
        },
        {
            "label": "threshold",
            "data": [threshold] * len(keep),
            "borderColor": "#d62728",
            "borderDash": [6, 4],
            "pointRadius": 0,
            "borderWidth": 1,
        },
    ]
    if labels is not None and len(labels):
        marks = [float(np.max(labels[i : i + step])) for i in keep]
        datasets.append(
            {
                "label": "label (event)",
                "data": marks,
                "borderColor": "#2ca02c",
                "backgroundColor": "rgba(44,160,44,0.15)",
                "fill": True,
                "stepped": True,
                "pointRadius": 0,
                "borderWidth": 1,
                "yAxisID": "labels",
            }
        )
    return {
        "type": "line",
        "data": {"labels": [_label(ends[i]) for i in keep], "datasets": datasets},
        "options": {
            "animation": False,
            "maintainAspectRatio": False,
            "interaction": {"mode": "index", "intersect": False},
            "plugins": {"title": {"display": True, "text": title}},
            "scales": {
                "y": {"beginAtZero": True},
                "labels": {
                    "position": "right",
                    "min": 0,
                    "max": 1,
                    "display": labels is not None,
                    "grid": {"drawOnChartArea": False},
                },
            },
        },
    }


def importance_chart(names: list[str], importance: np.ndarray, title: str, top: int = 15) -> dict:
    order = np.argsort(importance)[::-1][:top]
    return {
        "type": "bar",
        "data": {
            "labels": [names[i] for i in order],
            "datasets": [
                {"label": title, "data": [round(float(importance[i]), 4) for i in order], "backgroundColor": "#5b8def"}
            ],
        },
        "options": {
            "animation": False,
            "maintainAspectRatio": False,
            "indexAxis": "y",
            "plugins": {"legend": {"display": False}, "title": {"display": True, "text": title}},
        },
    }
