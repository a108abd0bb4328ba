"""Windowed features on a fixed time grid: mean, std, min, max, slope and last per tag and rolling window.

Samples of each tag are first reduced to buckets of ``step_s`` seconds aligned on the epoch (so the
same grid comes out of training and of scoring, and every tag lands on the same rows); rolling windows
of one or more bucket counts are then aggregated from the bucket sums, all vectorised with numpy.
A row is usable only when every tag had at least two finite samples in each of its windows.

``noise`` is how erratically a tag moves from one sample to the next (per step, the median absolute deviation
of the sample-to-sample changes; averaged over the window): it sees chatter, hunting and oscillation that stay
inside a tag's normal range, where the standard deviation is swamped by the machine's own stops and ramps (a
ramp changes steadily, a stop is one or two big changes: the medians ignore both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

AGGREGATIONS = ("mean", "std", "min", "max", "slope", "last", "noise")


@dataclass(frozen=True)
class FeatureSpec:
    """``step_s``: one feature row every step; ``windows``: rolling window lengths in steps."""

    step_s: int
    windows: tuple[int, ...] = (1,)
    aggregations: tuple[str, ...] = AGGREGATIONS

    def __post_init__(self) -> None:
        if self.step_s < 1:
            raise ValueError("the feature step must be at least one second")
        if not self.windows or min(self.windows) < 1:
            raise ValueError("each rolling window must span at least one step")
        unknown = set(self.aggregations) - set(AGGREGATIONS)
        if unknown or not self.aggregations:
            raise ValueError(f"aggregations must be among {', '.join(AGGREGATIONS)}")

    @property
    def history_s(self) -> int:
        """Seconds of data before a row's end that its longest window needs."""
        return max(self.windows) * self.step_s

    def names(self, tags: list[str]) -> list[str]:
        return [
            f"{tag} {agg} {w * self.step_s / 60:g}min"
            for tag in tags
            for w in self.windows
            for agg in self.aggregations
        ]

    def grid(self, start_s: float, end_s: float) -> np.ndarray:
        """Row end times (epoch seconds) on the grid, after ``start_s`` and not after ``end_s``."""
        first = np.floor(start_s / self.step_s) * self.step_s + self.step_s
        return np.arange(first, end_s + 1e-9, self.step_s, dtype=float)


def _buckets(times_s: np.ndarray, values: np.ndarray, ends: np.ndarray, step_s: int) -> dict[str, np.ndarray]:
    n = len(ends)
    out = {
        "count": np.zeros(n),
        "sum": np.zeros(n),
        "sumsq": np.zeros(n),
        "st": np.zeros(n),
        "stt": np.zeros(n),
        "stv": np.zeros(n),
        "min": np.full(n, np.inf),
        "max": np.full(n, -np.inf),
        "last": np.full(n, np.nan),
        "noise": np.zeros(n),
        "noise_count": np.zeros(n),
    }
    if n == 0:
        return out
    finite = np.isfinite(values) & np.isfinite(times_s)
    t, v = times_s[finite], values[finite]
    origin = ends[0] - step_s
    index = np.floor((t - origin) / step_s).astype(np.int64)
    keep = (index >= 0) & (index < n)
    t, v, index = t[keep], v[keep], index[keep]
    if len(t) == 0:
        return out
    order = np.argsort(index, kind="stable")  # times arrive sorted; this is cheap insurance
    t, v, index = t[order], v[order], index[order]
    ref = float(np.median(v))  # sums of squares around a reference, not around 0: no cancellation at 1e6
    v = v - ref
    rel = (t - origin) / 60.0  # minutes from the grid's origin: slopes come out per minute
    out["count"] = np.bincount(index, minlength=n).astype(float)
    out["sum"] = np.bincount(index, v, minlength=n)
    out["sumsq"] = np.bincount(index, v * v, minlength=n)
    out["st"] = np.bincount(index, rel, minlength=n)
    out["stt"] = np.bincount(index, rel * rel, minlength=n)
    out["stv"] = np.bincount(index, rel * v, minlength=n)
    present, first = np.unique(index, return_index=True)
    out["min"][present] = np.minimum.reduceat(v, first)
    out["max"][present] = np.maximum.reduceat(v, first)
    last_index = np.append(first[1:], len(v)) - 1
    out["last"][present] = v[last_index]
    out["noise"], out["noise_count"] = _bucket_noise(v, index, n)
    out["ref"] = np.float64(ref)
    return out


def _bucket_noise(v: np.ndarray, index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per bucket: the median absolute deviation of the sample-to-sample changes inside it (a ramp changes
    steadily and scores low; chatter and oscillation flip their changes and score high), and how many changes
    it had."""
    same = index[1:] == index[:-1]
    delta, bucket = np.diff(v)[same], index[1:][same]
    count = np.bincount(bucket, minlength=n).astype(float)
    if not len(delta):
        return np.zeros(n), count
    spread = np.abs(delta - _bucket_median(delta, bucket, count)[bucket])
    return _bucket_median(spread, bucket, count), count


def _bucket_median(values: np.ndarray, bucket: np.ndarray, count: np.ndarray) -> np.ndarray:
    order = np.lexsort((values, bucket))
    values, bucket = values[order], bucket[order]
    present, first = np.unique(bucket, return_index=True)
    size = count[present].astype(np.int64)
    median = np.zeros(len(count))
    median[present] = (values[first + (size - 1) // 2] + values[first + size // 2]) / 2
    return median


def _rolling_sum(a: np.ndarray, w: int) -> np.ndarray:
    c = np.concatenate(([0.0], np.cumsum(a)))
    lower = np.maximum(np.arange(len(a)) + 1 - w, 0)
    return c[1:] - c[lower]


def _rolling(a: np.ndarray, w: int, fill: float, reduce: str) -> np.ndarray:
    if w == 1 or not len(a):  # no rows (nothing new to score yet): nothing to roll
        return a
    padded = np.concatenate((np.full(w - 1, fill), a))
    view = sliding_window_view(padded, w)
    return view.min(axis=1) if reduce == "min" else view.max(axis=1)


def _ffill(a: np.ndarray) -> np.ndarray:
    idx = np.where(np.isfinite(a), np.arange(len(a)), 0)
    np.maximum.accumulate(idx, out=idx)
    return a[idx]


def tag_features(times_s: np.ndarray, values: np.ndarray, ends: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Features of one tag on the rows ``ends``: shape [len(ends), len(windows) * len(aggregations)];
    NaN where a window has fewer than two finite samples."""
    b = _buckets(np.asarray(times_s, dtype=float), np.asarray(values, dtype=float), ends, spec.step_s)
    last = _ffill(b["last"])
    columns = []
    for w in spec.windows:
        n = _rolling_sum(b["count"], w)
        s, ss = _rolling_sum(b["sum"], w), _rolling_sum(b["sumsq"], w)
        st, stt, stv = _rolling_sum(b["st"], w), _rolling_sum(b["stt"], w), _rolling_sum(b["stv"], w)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s / n
            std = np.sqrt(np.maximum(ss / n - mean * mean, 0.0))
            denominator = n * stt - st * st
            slope = np.where(denominator > 1e-12 * np.maximum(n * stt, 1.0), (n * stv - st * s) / denominator, 0.0)
            noise = _rolling_sum(b["noise"] * b["noise_count"], w) / _rolling_sum(b["noise_count"], w)
        ref = float(b.get("ref", 0.0))
        agg = {
            "mean": mean + ref,
            "std": std,
            "min": _rolling(b["min"], w, np.inf, "min") + ref,
            "max": _rolling(b["max"], w, -np.inf, "max") + ref,
            "slope": slope,
            "last": last + ref,
            "noise": np.where(np.isfinite(noise), noise, 0.0),
        }
        valid = n >= 2
        for name in spec.aggregations:
            columns.append(np.where(valid, agg[name], np.nan))
    return np.column_stack(columns) if columns else np.empty((len(ends), 0))


def build(
    series: list[tuple[np.ndarray, np.ndarray]], ends: np.ndarray, spec: FeatureSpec
) -> tuple[np.ndarray, np.ndarray]:
    """All tags side by side on rows ``ends``: (features [n, k], mask of rows complete for every tag)."""
    if not series:
        return np.empty((len(ends), 0)), np.zeros(len(ends), dtype=bool)
    features = np.hstack([tag_features(t, v, ends, spec) for t, v in series])
    return features, np.isfinite(features).all(axis=1)


def running_mask(times_s: np.ndarray, state_times_s: np.ndarray, state_codes: np.ndarray) -> np.ndarray:
    """True for each time at which the machine-state tag (its last reading at or before it) says running.

    The UNS state codes, as hf_screens reads them: 1 running, 0 idle, anything else down; UMH v1 codes
    10000-29999 producing. Times before the first state reading are not known to be running."""
    times_s = np.asarray(times_s, dtype=float)
    if len(state_times_s) == 0:
        return np.zeros(len(times_s), dtype=bool)
    codes = np.asarray(state_codes, dtype=float)
    running = (codes == 1) | ((codes >= 10000) & (codes < 30000))
    last = np.searchsorted(np.asarray(state_times_s, dtype=float), times_s, side="right") - 1
    return (last >= 0) & running[np.maximum(last, 0)]


def events_from_level(times_s: np.ndarray, values: np.ndarray, level: float) -> np.ndarray:
    """Times where a tag turns to ``level`` (a failure state, a fault bit): its rising edges."""
    if len(times_s) == 0:
        return np.empty(0)
    on = np.isclose(values, level)
    rising = on & ~np.concatenate(([False], on[:-1]))
    return np.asarray(times_s)[rising]


def events_from_counter(times_s: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Times where a counter (scrap count) went up; a reset to a lower value is not an event."""
    if len(times_s) < 2:
        return np.empty(0)
    return np.asarray(times_s)[1:][np.diff(values) > 0]


def label_within_horizon(ends: np.ndarray, events: np.ndarray, horizon_s: float) -> np.ndarray:
    """1 where an event follows a row's end within ``horizon_s`` (end < event <= end + horizon)."""
    events = np.sort(np.asarray(events, dtype=float))
    first_after = np.searchsorted(events, ends, side="right")
    upto = np.searchsorted(events, ends + horizon_s, side="right")
    return (upto > first_after).astype(int)


def label_in_window(ends: np.ndarray, events: np.ndarray, step_s: float) -> np.ndarray:
    """1 where an event falls in a row's own step (end - step < event <= end): the current cycle."""
    return label_within_horizon(ends - step_s, events, step_s)
