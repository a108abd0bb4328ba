"""hf_core.timeutil: aware UTC, Odoo's naive UTC and ISO-8601 text, one way each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hf_core.timeutil import as_utc, from_epoch, iso_utc, parse_iso, utc_naive

BERLIN_WINTER = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 24, 8, 0), datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
        (datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN_WINTER), datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
        (datetime(2026, 11, 24, 8, 0, tzinfo=UTC), datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
    ],
    ids=["naive-means-utc", "offset-converted", "utc-unchanged"],
)
def test_as_utc(moment: datetime, expected: datetime) -> None:
    converted = as_utc(moment)
    assert converted == expected
    assert converted.utcoffset() == timedelta(0)


def test_as_utc_overflows_at_the_calendars_edge() -> None:
    with pytest.raises(OverflowError):
        as_utc(datetime(1, 1, 1, 0, 30, tzinfo=BERLIN_WINTER))


def test_utc_naive_is_what_odoo_stores() -> None:
    assert utc_naive(datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN_WINTER)) == datetime(2026, 11, 24, 8, 0)
    assert utc_naive(datetime(2026, 11, 24, 8, 0)) == datetime(2026, 11, 24, 8, 0)
    assert utc_naive(datetime(2026, 11, 24, 8, 0, tzinfo=UTC)).tzinfo is None


def test_from_epoch() -> None:
    assert from_epoch(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert from_epoch(1_795_939_200.5) == datetime(2026, 11, 29, 8, 0, 0, 500_000, tzinfo=UTC)


def test_iso_utc() -> None:
    assert iso_utc(datetime(2026, 11, 24, 8, 0)) == "2026-11-24T08:00:00+00:00"
    assert iso_utc(datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN_WINTER)) == "2026-11-24T08:00:00+00:00"
    assert iso_utc(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T08:00:00Z", datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
        ("2026-11-24T09:00:00+01:00", datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN_WINTER)),
        ("2026-11-24T08:00:00", datetime(2026, 11, 24, 8, 0)),
        ("2026-11-24Z", datetime(2026, 11, 24)),
        ("2026-11-24", datetime(2026, 11, 24)),
    ],
    ids=["z", "offset", "naive", "bare-date-z", "bare-date"],
)
def test_parse_iso(text: str, expected: datetime) -> None:
    parsed = parse_iso(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    ["yesterday", "", "2026-13-01T00:00:00Z", "2026-11-24 08:00 CET"],
    ids=["word", "empty", "month-13", "zone-name"],
)
def test_parse_iso_refuses_what_is_not_iso(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso(text)
