"""Dead letters: every message or value that cannot be stored is kept with its reason, never dropped."""

from __future__ import annotations

from dataclasses import dataclass

from hf_historian.schema import DEAD_LETTER_TABLE, Cursor

PAYLOAD_KEEP_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: str


def payload_excerpt(payload: bytes) -> str:
    text = payload[:PAYLOAD_KEEP_BYTES].decode("utf-8", errors="replace").replace("\x00", "\\0")
    if len(payload) > PAYLOAD_KEEP_BYTES:
        text += f"… ({len(payload)} bytes, truncated)"
    return text


def store(cr: Cursor, letters: list[DeadLetter]) -> None:
    if not letters:
        return
    cr.executemany(
        f"INSERT INTO {DEAD_LETTER_TABLE} (topic, payload, reason, received_at, create_date, write_date) "
        "VALUES (%s, %s, %s, now() at time zone 'utc', now() at time zone 'utc', now() at time zone 'utc')",
        [(letter.topic[:1024], payload_excerpt(letter.payload), letter.reason[:1024]) for letter in letters],
    )
