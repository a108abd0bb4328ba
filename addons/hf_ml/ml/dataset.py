"""What a job learns from, read from the historian (``hf_historian.reader``, any DB-API cursor): the series of
numeric tags in chunks, and the machine-state series with the state in force before the window.

No Odoo import: the job model turns an empty series into the error a user reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from hf_core.types import Quality
from hf_historian import reader

CHUNK_ROWS = 50_000  # historian rows per read: memory stays flat whatever the training period


def read_series(
    cr: Any, tag_id: int, start: datetime, end: datetime, good_only: bool = True, chunk_rows: int = CHUNK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds, values) of one numeric tag in [start, end), read in chunks of ``chunk_rows`` (keyset
    paging on time: the table is unique on tag and time); text values, and bad ones when ``good_only``, left out."""
    times, values = [], []
    cursor = start
    while True:
        rows = reader.read_raw(cr, tag_id, cursor, end, chunk_rows)
        for row in rows:
            if row["value"] is None or (good_only and row["quality"] == Quality.BAD):
                continue
            times.append(row["time"].timestamp())
            values.append(row["value"])
        if len(rows) < chunk_rows:
            break
        cursor = rows[-1]["time"] + timedelta(microseconds=1)
    return np.asarray(times, dtype=float), np.asarray(values, dtype=float)


def read_states(cr: Any, tag_id: int, start: datetime, end: datetime) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds, state codes) of a machine-state tag in [start, end), starting with the state in force at
    ``start`` (its last good sample before it): a state reported only on change still holds in the window."""
    times, codes = read_series(cr, tag_id, start, end)
    before = reader.read_last_before(cr, tag_id, start)
    if before and before["value"] is not None and before["quality"] != Quality.BAD:
        times = np.concatenate(([before["time"].timestamp()], times))
        codes = np.concatenate(([before["value"]], codes))
    return times, codes
