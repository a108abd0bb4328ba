"""hf_ml benchmarks (issue 6): detection quality against naive fixed thresholds in the same run, and speed.

    .venv/bin/python bench/bench_ml.py

Data: ``hf_ml/ml/synthetic.py`` (a spindle bearing on a P-F curve to failure, idle stops, injected
anomalies), the same feature and model code the Odoo jobs run (``hf_ml/ml``), no Odoo needed.
Figures are printed, never asserted.
"""

from __future__ import annotations

import importlib.util
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _load_ml() -> list[ModuleType]:
    """Import addons/hf_ml/ml as a package without Odoo (its modules import each other relatively)."""
    spec = importlib.util.spec_from_file_location(
        "hf_ml_ml", ROOT / "addons/hf_ml/ml/__init__.py", submodule_search_locations=[str(ROOT / "addons/hf_ml/ml")]
    )
    assert spec is not None and spec.loader is not None, "addons/hf_ml/ml is missing"
    package = importlib.util.module_from_spec(spec)
    sys.modules["hf_ml_ml"] = package
    spec.loader.exec_module(package)
    return [importlib.import_module(f"hf_ml_ml.{name}") for name in ("features", "model", "metrics", "synthetic")]


F, M, metrics, synthetic = _load_ml()
ISO_ALARM = 7.1  # mm/s: the usual fixed vibration alarm (ISO 10816 zone C/D boundary for this class)
HORIZON_S = 2 * 3600
PDM_SPEC = F.FeatureSpec(300, (1, 6))  # a row every 5 minutes; windows of 5 and 30 minutes


def _rows(
    t: np.ndarray,
    series: dict[str, np.ndarray],
    spec: Any,  # noqa: ANN401  (ml's FeatureSpec)
    tags: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    ends = spec.grid(t[0], t[-1])
    matrix, complete = F.build([(t, series[tag]) for tag in tags], ends, spec)
    return ends[complete], matrix[complete]


def predictive_maintenance() -> dict:
    """12 days: train on the first 8, judge on the last 4 (failure within 2 h, per 5-minute row)."""
    t, series, failures = synthetic.plant(12 * 86400, seed=1, dt=5.0)
    tags = ("vibration", "temperature", "spindle_speed", "load")
    ends, matrix = _rows(t, series, PDM_SPEC, tags)
    labels = F.label_within_horizon(ends, failures, HORIZON_S)
    split = t[0] + 8 * 86400
    train, test = ends <= split, ends > split
    names = PDM_SPEC.names(list(tags))
    model = M.MlModel.fit_classifier(matrix[train], labels[train], names)
    scores = model.score(matrix[test])
    held_failures = failures[(failures > split) & (failures <= ends[-1])]
    vib_mean = matrix[:, names.index("vibration mean 5min")]

    def judge(alarms: np.ndarray, scores_: np.ndarray) -> dict:
        figures = metrics.classification(labels[test], scores_, 0.5, probabilities=False)
        figures["lead_min"] = float(np.mean(metrics.lead_times(ends[test], alarms, held_failures))) / 60
        figures["missed"] = sum(1 for lead in metrics.lead_times(ends[test], alarms, held_failures) if lead == 0)
        return figures

    model_alarm = scores >= 0.5
    iso_alarm = vib_mean[test] >= ISO_ALARM
    # the best any fixed vibration limit can do: chosen for F1 on the training days
    candidates = np.linspace(2.1, 10.5, 85)
    best = max(
        candidates,
        key=lambda c: metrics.classification(labels[train], (vib_mean[train] >= c).astype(float), 0.5, False)["f1"],
    )
    tuned_alarm = vib_mean[test] >= best
    return {
        "failures": len(held_failures),
        "rows": int(test.sum()),
        "tuned_limit": float(best),
        "model": judge(model_alarm, model_alarm.astype(float)),
        "iso": judge(iso_alarm, iso_alarm.astype(float)),
        "tuned": judge(tuned_alarm, tuned_alarm.astype(float)),
    }


def anomalies() -> dict:
    """2 healthy days to learn from; a third with 24 ten-minute anomalies that stay within each raw value's
    normal range (temperature oscillation, spindle hunting); a 5-minute row is anomalous when most of it is.
    The model sees the samples taken while the machine runs (its state tag), as a job does by default."""
    healthy = {"healthy_s": (1e9, 1e9)}
    spec = F.FeatureSpec(300, (1,))
    tags = ("temperature", "spindle_speed", "vibration")
    t, series, _ = synthetic.plant(3 * 86400, seed=2, dt=2.0, **healthy)
    split = t[0] + 2 * 86400
    held = t > split
    truth_samples = np.zeros(len(t), dtype=bool)
    held_series = {k: v[held].copy() for k, v in series.items()}
    truth_samples[held] = synthetic.inject(t[held], held_series, 24, 600, seed=3)
    for k in series:
        series[k][held] = held_series[k]
    # as a job with "Only while running" (the default on a workcell with a machine-state tag)
    running = F.running_mask(t, t, series["state"])
    grid = spec.grid(t[0], t[-1])
    matrix, complete = F.build([(t[running], series[tag][running]) for tag in tags], grid, spec)
    ends, matrix = grid[complete], matrix[complete]
    train, test = ends <= split, ends > split
    model = M.MlModel.fit_anomaly(matrix[train], spec.names(list(tags)), contamination=0.01)
    index = np.searchsorted(t, ends) - 1
    row_truth = np.array([truth_samples[max(0, i - 150) : i].mean() > 0.5 for i in index])[test]
    model_flag = model.score(matrix[test]) >= 1.0
    # naive: any raw sample of any tag outside mean ± 3 sigma of the training days
    outside = np.zeros(len(t), dtype=bool)
    for tag in tags:
        values = series[tag]
        mu, sigma = values[t <= split].mean(), values[t <= split].std()
        outside |= (values < mu - 3 * sigma) | (values > mu + 3 * sigma)
    naive_flag = np.array([outside[max(0, i - 150) : i].any() for i in index])[test]
    return {
        "episodes": 24,
        "rows": int(test.sum()),
        "model": metrics.classification(row_truth, model_flag.astype(float), 0.5, False),
        "naive": metrics.classification(row_truth, naive_flag.astype(float), 0.5, False),
    }


def speed() -> dict:
    """The job's own path: windowed features, held-out model and final model (as hf.ml.job trains)."""
    tags = ("vibration", "temperature", "spindle_speed", "load")
    t, series, failures = synthetic.plant(250_000, seed=4, dt=1.0)  # 4 tags x 250,000 = 1,000,000 samples
    samples = sum(len(series[tag]) for tag in tags)
    spec = F.FeatureSpec(60, (1, 5, 15))  # a row a minute; 1-, 5- and 15-minute windows: 84 features
    out = {"train_samples": samples}
    started = time.perf_counter()
    ends, matrix = _rows(t, series, spec, tags)
    out["features_s"] = time.perf_counter() - started
    out["features"] = matrix.shape[1]
    labels = F.label_within_horizon(ends, failures, HORIZON_S)
    train = ends <= metrics.time_split(ends)
    names = spec.names(list(tags))
    M.MlModel.fit_classifier(matrix[train], labels[train], names)
    model = M.MlModel.fit_classifier(matrix, labels, names)
    out["train_pdm_s"] = time.perf_counter() - started
    started = time.perf_counter()
    ends, matrix = _rows(t, series, spec, tags)
    M.MlModel.fit_anomaly(matrix[train], names)
    anomaly = M.MlModel.fit_anomaly(matrix, names)
    out["train_anomaly_s"] = time.perf_counter() - started
    out["rows"] = len(ends)
    key = M.signing_key("bench")
    data, signature = M.dump(model, key)
    out["artefact_kb"] = len(data) / 1024
    t2, series2, _ = synthetic.plant(25_000, seed=5, dt=1.0)  # 4 x 25,000 = 100,000 samples
    started = time.perf_counter()
    loaded = M.load(data, signature, key)
    _ends, matrix2 = _rows(t2, series2, spec, tags)
    loaded.score(matrix2)
    out["score_pdm_s"] = time.perf_counter() - started
    started = time.perf_counter()
    _ends, matrix2 = _rows(t2, series2, spec, tags)
    anomaly.score(matrix2)
    out["score_anomaly_s"] = time.perf_counter() - started
    return out


def main() -> None:
    started = time.perf_counter()
    pdm, anomaly, timing = predictive_maintenance(), anomalies(), speed()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("hf_ml benchmarks — synthetic plant (hf_ml/ml/synthetic.py), the jobs' own feature and model code\n")
    print(
        f"Predictive maintenance: failure within {HORIZON_S // 3600} h, per 5-minute row; trained on 8 days, "
        f"held-out 4 days ({pdm['rows']} rows, {pdm['failures']} failures)"
    )
    print(
        f"| figure | random forest (hf_ml) | fixed alarm {ISO_ALARM} mm/s | best fixed limit "
        f"({pdm['tuned_limit']:.1f} mm/s, tuned on training) | target |"
    )
    print("| --- | --- | --- | --- | --- |")
    for label, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1")):
        print(
            f"| {label} | {pdm['model'][key]:.2f} | {pdm['iso'][key]:.2f} | {pdm['tuned'][key]:.2f} | "
            f"{'≥ 0.8' if key == 'f1' else ''} |"
        )
    ratio = pdm["model"]["lead_min"] / pdm["iso"]["lead_min"] if pdm["iso"]["lead_min"] else float("inf")
    print(
        f"| mean lead time before failure | {pdm['model']['lead_min']:.0f} min | {pdm['iso']['lead_min']:.0f} min | "
        f"{pdm['tuned']['lead_min']:.0f} min | ≥ 2× fixed alarm ({ratio:.1f}×) |"
    )
    print(f"| failures missed | {pdm['model']['missed']} | {pdm['iso']['missed']} | {pdm['tuned']['missed']} | |")
    print(
        "\nAnomaly detection: isolation forest over 5-minute features of the running time; trained on 2 healthy "
        f"days, held-out day with {anomaly['episodes']} injected anomalies ({anomaly['rows']} rows)"
    )
    print("| figure | isolation forest (hf_ml) | fixed limits mean ± 3σ per tag | target |")
    print("| --- | --- | --- | --- |")
    for label, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1")):
        print(
            f"| {label} | {anomaly['model'][key]:.2f} | {anomaly['naive'][key]:.2f} | "
            f"{'≥ 0.8' if key == 'f1' else ''} |"
        )
    print(
        f"\nSpeed ({timing['rows']} feature rows of {timing['features']} features "
        f"from {timing['train_samples']:,} samples)"
    )
    print("| figure | time | target |")
    print("| --- | --- | --- |")
    print(f"| windowed features from 1,000,000 samples | {timing['features_s']:.2f} s | |")
    print(
        f"| training on 1,000,000 samples: predictive maintenance (features + held-out and final forests) | "
        f"{timing['train_pdm_s']:.1f} s | ≤ 60 s |"
    )
    print(
        f"| training on 1,000,000 samples: anomaly (features + two isolation forests) | "
        f"{timing['train_anomaly_s']:.1f} s | ≤ 60 s |"
    )
    print(
        f"| scoring 100,000 samples: predictive maintenance (verify + load + features + score) | "
        f"{timing['score_pdm_s']:.2f} s | ≤ 5 s |"
    )
    print(f"| scoring 100,000 samples: anomaly (features + score) | {timing['score_anomaly_s']:.2f} s | ≤ 5 s |")
    print(f"| signed artefact (random forest) | {timing['artefact_kb']:.0f} KB | |")
    print(f"| peak memory (max RSS of the run) | {peak:.0f} MB | reported |")
    print(f"\ntotal run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
