"""A machining cell's physics, seedable and free of I/O (the simulator and the ML data use it).

Running → parts every cycle; idle now and then (no material); the spindle bearing wears, so
vibration creeps up until the machine fails (down) and maintenance resets it. Scrap grows with wear.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

STATE_CODES = {"idle": 0, "running": 1, "down": 2}


@dataclass
class Machine:
    seed: int = 1
    cycle_time_s: float = 2.0
    failure_vibration: float = 11.0  # mm/s RMS at which the bearing fails
    wear_per_hour: float = 3.0  # mm/s of vibration gained per running hour (fast, for a demo)
    repair_time_s: float = 60.0
    state: str = "running"
    spindle_speed: float = 0.0
    temperature: float = 22.0
    vibration: float = 2.0
    wear: float = 0.0
    good_count: int = 0
    scrap_count: int = 0
    time_in_state: float = 0.0
    _cycle: float = 0.0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    @property
    def state_code(self) -> int:
        return STATE_CODES[self.state]

    def step(self, dt: float) -> None:
        rng = self._rng
        self.time_in_state += dt
        if self.state == "down":
            if self.time_in_state >= self.repair_time_s:
                self.maintain()
        elif self.state == "idle":
            if self.time_in_state > 8 + rng.random() * 10:
                self._enter("running")
        else:
            self.wear += self.wear_per_hour * dt / 3600
            self._cycle += dt
            if self._cycle >= self.cycle_time_s:
                self._cycle -= self.cycle_time_s
                scrap_probability = 0.01 + 0.25 * max(0.0, self.wear / (self.failure_vibration - 2.0)) ** 3
                if rng.random() < scrap_probability:
                    self.scrap_count += 1
                else:
                    self.good_count += 1
            if self.vibration >= self.failure_vibration:
                self._enter("down")
            elif rng.random() < dt / 300:  # about every five minutes: waiting for material
                self._enter("idle")
        target_speed = 12_000.0 if self.state == "running" else 0.0
        self.spindle_speed += (target_speed - self.spindle_speed) * min(1.0, dt * 2) + rng.gauss(
            0, 15 if target_speed else 0
        )
        self.spindle_speed = max(0.0, self.spindle_speed)
        load = self.spindle_speed / 12_000.0
        self.temperature += ((24 + 38 * load + 6 * self.wear / 9) - self.temperature) * min(1.0, dt / 60) + rng.gauss(
            0, 0.05
        )
        base = 2.0 + self.wear if self.state == "running" else 0.3
        self.vibration = max(0.0, base * (1 + 0.04 * math.sin(self.time_in_state)) + rng.gauss(0, 0.08))

    def _enter(self, state: str) -> None:
        self.state = state
        self.time_in_state = 0.0

    def maintain(self) -> None:
        """Maintenance: a new bearing, back to running."""
        self.wear = 0.0
        self.vibration = 2.0
        self._enter("running")
