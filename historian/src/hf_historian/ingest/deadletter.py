"""Dead letters: every message or value that cannot be stored is kept with its reason, never dropped.

The dead-letter path accepts anything a publisher can send: topic, payload and reason are stored as
escaped text (a NUL, a lone surrogate or a byte that is not UTF-8 becomes its backslash escape), since
a dead letter that cannot be stored would stop the ingest on the very message it was meant to set aside.
"""

from __future__ import annotations

from dataclasses import dataclass

from hf_historian.schema import DEAD_LETTER_TABLE, Cursor

PAYLOAD_KEEP_BYTES = 4096
TEXT_KEEP_CHARS = 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: str


def safe_text(text: str) -> str:
    """``text`` as PostgreSQL text can hold it: lone surrogates as ``\\udXXX``, NUL as ``\\x00``."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def payload_excerpt(payload: bytes) -> str:
    """The payload's first bytes as text: invalid UTF-8 bytes as ``\\xNN``, NUL as ``\\x00``."""
    text = payload[:PAYLOAD_KEEP_BYTES].decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
    if len(payload) > PAYLOAD_KEEP_BYTES:
        text += f"… ({len(payload)} bytes, truncated)"
    return safe_text(text)


def one_line(exc: BaseException) -> str:
    """An exception as a dead letter's reason: its type and the first line of its message."""
    message = str(exc).strip().splitlines()
    return safe_text(f"{type(exc).__name__}: {message[0][:300]}" if message else type(exc).__name__)


# Dead letters per INSERT statement: a flood of bad messages (one letter each) is stored in a few statements
# per batch, not one round trip per letter (measured: bench/bench_historian.py --dead-letters).
STORE_CHUNK = 1000


def store(cr: Cursor, letters: list[DeadLetter]) -> None:
    """Insert ``letters`` (in the caller's transaction), STORE_CHUNK per statement."""
    for first in range(0, len(letters), STORE_CHUNK):
        chunk = letters[first : first + STORE_CHUNK]
        cr.execute(
            f"INSERT INTO {DEAD_LETTER_TABLE} (topic, payload, reason, received_at, create_date, write_date) "
            "SELECT topic, payload, reason, now() at time zone 'utc', now() at time zone 'utc', "
            "now() at time zone 'utc' FROM unnest(%s::text[], %s::text[], %s::text[]) AS l(topic, payload, reason)",
            (
                [safe_text(letter.topic[:TEXT_KEEP_CHARS]) for letter in chunk],
                [payload_excerpt(letter.payload) for letter in chunk],
                [safe_text(letter.reason[:TEXT_KEEP_CHARS]) for letter in chunk],
            ),
        )
