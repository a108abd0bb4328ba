"""Time conversions, one owner for all of them.

Three spellings of a moment meet in Hyperfactory: the historian's and PostgreSQL's timezone-aware UTC
``datetime``, Odoo's naive UTC ``datetime`` (how its ``fields.Datetime`` are stored), and ISO-8601 text on
XML-RPC and in the screens' JSON. A naive ``datetime`` always means UTC here, as it does in Odoo.

>>> iso_utc(utc_naive(parse_iso("2026-11-24T09:00:00+01:00")))
'2026-11-24T08:00:00+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def as_utc(moment: datetime) -> datetime:
    """The moment as an aware UTC datetime (naive means UTC).

    :raises OverflowError: the moment cannot be expressed in UTC (an offset at the calendar's edge).
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_naive(moment: datetime) -> datetime:
    """The moment as Odoo stores it: naive UTC (a naive moment is returned as it is)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def from_epoch(seconds: float) -> datetime:
    """Seconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(float(seconds), UTC)


@overload
def iso_utc(moment: datetime) -> str: ...
@overload
def iso_utc(moment: None) -> None: ...
def iso_utc(moment: datetime | None) -> str | None:
    """ISO-8601 text in UTC (``2026-11-24T08:00:00+00:00``); None for no moment."""
    if moment is None:
        return None
    return as_utc(moment).isoformat()


def parse_iso(text: str) -> datetime:
    """ISO-8601 text as written: aware when it names a zone (``Z`` included), naive (meaning UTC) otherwise;
    a bare date with a Z (``2026-11-24Z``, which ``fromisoformat`` refuses) is that day's midnight, naive.
    See :func:`as_utc`.

    :raises ValueError: the text is not an ISO-8601 time.
    """
    return datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: FURB162 (also for a bare date with a Z)
