"""Store-and-forward: an ordered queue of MQTT messages in SQLite (WAL) on the edge's disk.

Every message goes through it, so a broker outage, a collector restart or a power cut loses nothing
that was read; the sender removes a message only once the broker acknowledged it (QoS 1). When the
queue exceeds its cap, the OLDEST messages are dropped (the newest data is worth more to a plant),
counted and logged, never silently.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

_logger = logging.getLogger(__name__)


class DiskQueue:
    def __init__(self, path: Path, max_messages: int = 2_000_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self.dropped = 0
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
            "payload BLOB NOT NULL)"
        )
        self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def __len__(self) -> int:
        return self._count

    def put_many(self, messages: list[tuple[str, bytes]]) -> None:
        if not messages:
            return
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO outbox (topic, payload) VALUES (?, ?)", messages)
        self._count += len(messages)
        overflow = self._count - self.max_messages
        if overflow > 0:
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (overflow,)
                )
            self._count -= overflow
            self.dropped += overflow
            _logger.warning(
                "store-and-forward queue full (%d messages): dropped the %d oldest (%d dropped in all)",
                self.max_messages,
                overflow,
                self.dropped,
            )

    def peek(self, after_id: int, limit: int) -> list[tuple[int, str, bytes]]:
        """Up to ``limit`` messages with id > ``after_id``, oldest first."""
        return self._db.execute(
            "SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        ).fetchall()

    def remove(self, ids: list[int]) -> None:
        """Delete these messages. Acknowledgements come mostly in order, so the ids are deleted as runs
        of consecutive ids: one range per run instead of one statement per message."""
        if not ids:
            return
        runs: list[tuple[int, int]] = []
        for row_id in sorted(set(ids)):
            if runs and row_id == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], row_id)
            else:
                runs.append((row_id, row_id))
        with self._db:
            self._db.execute("BEGIN")
            deleted = self._db.executemany("DELETE FROM outbox WHERE id BETWEEN ? AND ?", runs).rowcount
        # rows the cap dropped while they were in flight are not counted twice
        self._count -= deleted

    def close(self) -> None:
        self._db.close()
