"""The read API's smaller questions (hf_historian.reader), asked by the screens, the machine-state job and the
alarms: the newest samples, where a window's data begins, a good value within limits, when a device was heard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from ingest_fixtures import PG_HOST, PG_PORT, PG_USER, historian_database
from psycopg2.extensions import cursor

from hf_core.types import Quality
from hf_historian import reader
from hf_historian.writer import HistorianWriter, Sample

T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def cr() -> Iterator[cursor]:
    """A historian database with tag 1's samples at 0..50 s every 10 s, bad at 30 s, and tag 2's at 5 s."""
    with historian_database(PG_HOST, PG_PORT) as name:
        conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=name)
        try:
            cur = conn.cursor()
            HistorianWriter(cur).write(
                [
                    Sample(1, int(at(s).timestamp() * 1000), float(s), quality=Quality.BAD if s == 30 else Quality.GOOD)
                    for s in range(0, 60, 10)
                ]
                + [Sample(2, int(at(5).timestamp() * 1000), 1.0)]
            )
            conn.commit()
            yield cur
        finally:
            conn.close()


def test_historian_ready(cr: cursor) -> None:
    assert reader.historian_ready(cr)


def test_read_newest_is_newest_first_after_the_moment_and_limited(cr: cursor) -> None:
    assert [r["value"] for r in reader.read_newest(cr, 1, at(10), 10)] == [50.0, 40.0, 30.0, 20.0]
    assert [r["value"] for r in reader.read_newest(cr, 1, at(10), 2)] == [50.0, 40.0]
    assert reader.read_newest(cr, 1, at(50), 10) == []


def test_data_begins_at_the_first_sample_of_the_window(cr: cursor) -> None:
    assert reader.data_begins(cr, 1, at(-1800), at(60)) == at(0)
    assert reader.data_begins(cr, 3, at(0), at(60)) is None, "a tag without data"
    assert reader.data_begins(cr, 1, at(-7200), at(-3600)) is None, "a window before the data"
    # the 1-hour rollup bucket overlapping the window's start begins earlier than its first raw sample (20 s):
    # it is where the data begins (after retention dropped the raw samples, the rollup still has them)
    assert reader.data_begins(cr, 1, at(15), at(60)) == T0


def test_had_good_value_within_ignores_bad_samples_and_the_past(cr: cursor) -> None:
    assert reader.had_good_value_within(cr, 1, at(0), 15.0, 25.0), "20 at 20 s"
    assert not reader.had_good_value_within(cr, 1, at(0), 25.0, 35.0), "30 is bad quality"
    assert not reader.had_good_value_within(cr, 1, at(20), 15.0, 25.0), "only after the moment"


def test_read_activity_gives_the_newest_good_sample_per_bucket_oldest_first(cr: cursor) -> None:
    # buckets of 20 s from the epoch (T0 is a whole hour): [0, 20) 5 and 10 s, [20, 40) 20 s, [40, 60) 40 and 50 s
    assert reader.read_activity(cr, [1, 2], at(0), at(50), 20) == [at(10), at(20), at(50)]
    moments = reader.read_activity(cr, [1, 2], at(0), at(50), 1)
    assert moments == [at(5), at(10), at(20), at(40), at(50)], "30 s is bad; (after, until]"
    assert reader.read_activity(cr, [], at(0), at(50), 1) == []


def test_read_counter_increase_counts_resets_and_rollovers(cr: cursor) -> None:
    # tag 5, a 16-bit counter: 65530 at 0 s, 65535 at 10 s, wraps to 4 at 20 s (+5), reset to 3 at 30 s (+3),
    # 10 at 40 s (+7); a bad sample at 35 s (9999) is left out
    values = [(0, 65530.0), (10, 65535.0), (20, 4.0), (30, 3.0), (40, 10.0)]
    HistorianWriter(cr).write(
        [Sample(5, int(at(s).timestamp() * 1000), v) for s, v in values]
        + [Sample(5, int(at(35).timestamp() * 1000), 9999.0, quality=Quality.BAD)]
    )
    cr.connection.commit()
    assert reader.read_counter_increase(cr, 5, [(at(0), at(40))], 2**16) == 5 + 5 + 3 + 7
    assert reader.read_counter_increase(cr, 5, [(at(0), at(40))]) == 5 + 4 + 3 + 7, "no modulus: a drop is a reset"
    assert reader.read_counter_increase(cr, 5, [(at(0), at(10)), (at(30), at(40))], 2**16) == 5 + 7
    assert reader.read_counter_increase(cr, 5, [(at(40), at(40))], 2**16) == 0.0, "an empty window"
