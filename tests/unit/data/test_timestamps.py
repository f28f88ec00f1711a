"""Timestamp parsing: epoch units, ISO text, date + time pairs, time zones; always aware UTC."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.data.domain.columns import TimeColumns
from services.data.domain.timestamps import epoch_unit_of, looks_like_epoch, make_time_parser

UTC = timezone.utc
MOMENT = datetime(2015, 9, 23, 20, 57, 42, 146000, tzinfo=UTC)


@pytest.mark.parametrize("text, unit", [("1443041862", "s"), ("1443041862146", "ms"),
                                        ("1443041862146000", "us"), ("1443041862146000000", "ns")])
def test_the_epoch_unit_follows_from_the_magnitude_and_gives_the_same_instant(text, unit) -> None:
    parse = make_time_parser(TimeColumns(0), [text], UTC)

    assert epoch_unit_of(Decimal(text)) == unit
    assert parse([text]) == MOMENT.replace(microsecond=0 if unit == "s" else MOMENT.microsecond)


def test_fractional_epoch_seconds_keep_their_microseconds() -> None:
    parse = make_time_parser(TimeColumns(0), ["1443041862.146"], UTC)

    assert parse(["1443041862.146"]) == MOMENT


@pytest.mark.parametrize("text, epoch", [("20060102", False), ("1443041862", True), ("2006-01-02", False),
                                         ("-86400", True), ("12.5", True)])
def test_eight_digit_numbers_are_compact_dates_not_epochs(text, epoch) -> None:
    assert looks_like_epoch(text) is epoch


def test_every_parsed_time_is_aware_utc() -> None:
    iso = make_time_parser(TimeColumns(0), ["2020-01-02 10:00"], UTC)
    pair = make_time_parser(TimeColumns(0, 1), ["2020-01-02", "10:00"], UTC)

    for moment in (iso(["2020-01-02 10:00"]), iso(["2020-01-02T05:00-05:00"]), pair(["2020-01-02", "10:00"])):
        assert moment == datetime(2020, 1, 2, 10, tzinfo=UTC) and moment.tzinfo is UTC


def test_a_pair_in_a_zone_with_daylight_saving_uses_each_day_offset() -> None:
    parse = make_time_parser(TimeColumns(0, 1), ["2020-01-02", "09:30"], ZoneInfo("America/New_York"))

    assert parse(["2020-01-02", "09:30"]) == datetime(2020, 1, 2, 14, 30, tzinfo=UTC)
    assert parse(["2020-07-02", "09:30"]) == datetime(2020, 7, 2, 13, 30, tzinfo=UTC)


def test_repeated_dates_and_times_in_pairs_parse_the_same_as_fresh_ones() -> None:
    parse = make_time_parser(TimeColumns(0, 1), ["2020-01-02", "10:00"], UTC)

    first = [parse(["2020-01-02", "10:00"]), parse(["2020-01-03", "10:00"]), parse(["2020-01-02", "10:05"])]

    assert first == [datetime(2020, 1, 2, 10, tzinfo=UTC), datetime(2020, 1, 3, 10, tzinfo=UTC),
                     datetime(2020, 1, 2, 10, 5, tzinfo=UTC)]
    assert parse(["2020-01-03", "10:05"]) == datetime(2020, 1, 3, 10, 5, tzinfo=UTC)


def test_unparsable_text_raises_value_error() -> None:
    parse = make_time_parser(TimeColumns(0), ["2020-01-02"], UTC)

    with pytest.raises(ValueError):
        parse(["yesterday"])


@pytest.fixture
def local_time_far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Set the process's local time zone away from UTC, so reading naive times as local time would show."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_time_far_from_utc")
def test_naive_rows_after_an_aware_first_row_are_still_read_as_utc() -> None:
    parse = make_time_parser(TimeColumns(0), ["2020-01-02T10:00:00Z"], UTC)

    assert parse(["2020-01-02T11:00:00"]) == datetime(2020, 1, 2, 11, tzinfo=UTC)
    assert parse(["2020-01-02T12:00:00+01:00"]) == datetime(2020, 1, 2, 11, tzinfo=UTC)
