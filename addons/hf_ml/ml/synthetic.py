"""Vectorised plant data for the benchmark: a spindle whose bearing follows a P-F curve to failure.

Each bearing life: healthy (vibration about 2 mm/s), then from a random onset the vibration grows
exponentially (the P-F interval, 3 to 7 hours) until 11 mm/s, when the machine fails, stands for the
repair time and gets a new bearing. Short idle stops, temperature following the load, spindle noise.
Anomalies can be injected: temperature excursions and spindle hunting that stay inside each raw value's
normal range (what a fixed limit cannot see). Same physics as ``hf_collector.simulate.machine`` in
spirit; written with numpy so a benchmark can make millions of samples in a second.
"""

from __future__ import annotations

import numpy as np

FAILURE_VIBRATION = 11.0
TAGS = ("temperature", "spindle_speed", "vibration", "load")


def plant(
    seconds: int,
    seed: int,
    dt: float = 1.0,
    start: float = 1.8e9,
    repair_s: float = 1800.0,
    healthy_s: tuple[float, float] = (4 * 3600, 10 * 3600),
    pf_s: tuple[float, float] = (3 * 3600, 7 * 3600),
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(times, {tag: values}, failure times) for ``seconds`` of operation sampled every ``dt``."""
    rng = np.random.default_rng(seed)
    n = int(seconds / dt)
    t = start + np.arange(n) * dt
    vibration_base = np.full(n, 2.0)
    down = np.zeros(n, dtype=bool)
    failures = []
    i = 0
    while i < n:  # one bearing life per loop
        healthy = int(rng.uniform(*healthy_s) / dt)
        pf = rng.uniform(*pf_s)
        steps = int(pf / dt)
        onset = i + healthy
        growth = np.log((FAILURE_VIBRATION - 2.0) / 0.05 + 1) / steps  # 2.05 at onset+1 to 11 at failure
        end = min(onset + steps, n)
        if onset < n:
            k = np.arange(end - onset)
            vibration_base[onset:end] = 2.0 + 0.05 * (np.exp(growth * k) - 1)
        if onset + steps < n:
            failures.append(t[onset + steps])
            repair_end = min(onset + steps + int(repair_s / dt), n)
            down[onset + steps : repair_end] = True
            i = repair_end
        else:
            i = n
    idle = rng.random(n) < dt / 600  # a stop every ten minutes or so, for 20-60 s
    lengths = rng.integers(int(20 / dt) or 1, int(60 / dt) or 2, idle.sum())
    stopped = np.zeros(n + 1, dtype=int)
    starts = np.flatnonzero(idle)
    np.add.at(stopped, starts, 1)
    np.add.at(stopped, np.minimum(starts + lengths, n), -1)
    stopped = np.cumsum(stopped[:n]) > 0
    running = ~(stopped | down)
    load = np.where(running, 0.8 + 0.1 * np.sin(2 * np.pi * (t - start) / 5400), 0.0)
    speed = np.where(running, 12000.0, 0.0) + rng.normal(0, 15, n) * running
    # first-order thermal response to load (time constant 120 s), plus the bearing's own friction heat
    alpha = 1 - np.exp(-dt / 120)
    target = 24 + 45 * load + 0.8 * (vibration_base - 2.0)
    temperature = _first_order(target, alpha, 24 + 45 * 0.8) + rng.normal(0, 0.05, n)
    vibration = np.where(running, vibration_base, 0.3) * (1 + 0.04 * np.sin(t / 7)) + rng.normal(0, 0.08, n)
    state = np.where(down, 2.0, np.where(running, 1.0, 0.0))  # the UNS state codes: 1 running, 0 idle, 2 down
    return (
        t,
        {
            "temperature": temperature,
            "spindle_speed": speed,
            "vibration": np.maximum(vibration, 0.0),
            "load": load + rng.normal(0, 0.01, n),
            "state": state,
        },
        np.asarray(failures),
    )


def _first_order(target: np.ndarray, alpha: float, initial: float) -> np.ndarray:
    """y[i] = y[i-1] + alpha (target[i] - y[i-1]), via scipy's linear filter."""
    from scipy.signal import lfilter  # scikit-learn's own dependency

    y, _ = lfilter([alpha], [1, -(1 - alpha)], target, zi=[(1 - alpha) * initial])
    return y


def inject(t: np.ndarray, series: dict[str, np.ndarray], count: int, length_s: float, seed: int) -> np.ndarray:
    """Inject ``count`` anomalies of ``length_s`` each, alternating a temperature oscillation and spindle
    hunting, both inside the raw values' normal ranges; return the boolean mask of anomalous samples."""
    rng = np.random.default_rng(seed)
    dt = t[1] - t[0]
    n, width = len(t), int(length_s / dt)
    truth = np.zeros(n, dtype=bool)
    slots = rng.choice(np.arange(0, n - width, 3 * width), count, replace=False)
    for index, first in enumerate(sorted(slots)):
        window = slice(first, first + width)
        if index % 2:
            series["spindle_speed"][window] += rng.normal(0, 250, width)
        else:
            series["temperature"][window] += 1.5 * np.sin(np.arange(width) * dt / 8)
        truth[window] = True
    return truth
