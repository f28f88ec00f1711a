"""Bad rows: each kind reported with file, line and reason, then skipped or, under reject, stopping the replay."""

from __future__ import annotations

import logging

import pytest

from services.data.adapters import CsvBarFeed, CsvTickFeed
from services.data.domain import BadDataError, BadRowPolicy

HEADER = "Date,Open,High,Low,Close,Volume"
GOOD_BEFORE = "2020-01-02,10,11,9,10.5,100"
GOOD_AFTER = "2020-01-09,10,11,9,10.5,100"

BAD_ROWS = {
    "unparsable price": ("2020-01-03,10,null,9,10.5,100", "unparsable high 'null'"),
    "unparsable timestamp": ("2020-13-03,10,11,9,10.5,100", "unparsable timestamp '2020-13-03'"),
    "too few fields": ("2020-01-03,10,11,9", "expected at least 6 fields, found 4"),
    "high below low": ("2020-01-03,10,9,11,10.5,100", "high 9 is below low 11"),
    "non-positive price": ("2020-01-03,10,11,0,10.5,100", "non-positive price: low 0"),
    "negative price": ("2020-01-03,-1,11,9,10.5,100", "non-positive price: open -1"),
    "open outside range": ("2020-01-03,12,11,9,10.5,100", "open 12 is outside [low 9, high 11]"),
    "close outside range": ("2020-01-03,10,11,9,8,100", "close 8 is outside [low 9, high 11]"),
    "negative volume": ("2020-01-03,10,11,9,10.5,-5", "negative volume -5"),
    "not a number": ("2020-01-03,NaN,11,9,10.5,100", "non-finite open NaN"),
    "infinite": ("2020-01-03,10,Infinity,9,10.5,100", "non-finite high Infinity"),
    "duplicate timestamp": ("2020-01-02,10,11,9,10.5,100", "duplicate timestamp 2020-01-02T00:00:00+00:00"),
    "out-of-order timestamp": ("2020-01-01,10,11,9,10.5,100",
                               "out-of-order timestamp 2020-01-01T00:00:00+00:00 after 2020-01-02T00:00:00+00:00"),
}
KINDS = ["unparsable", "unparsable", "unparsable", "high_below_low", "non_positive", "non_positive",
         "outside_range", "outside_range", "negative_volume", "non_finite", "non_finite", "duplicate_timestamp",
         "out_of_order"]


@pytest.mark.parametrize("row, reason", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_each_kind_of_bad_row_is_reported_with_file_line_and_reason_then_skipped(write_csv, reported, row,
                                                                                 reason) -> None:
    path = write_csv(HEADER, GOOD_BEFORE, row, GOOD_AFTER)

    bars = list(CsvBarFeed(path, "X", on_bad_row=reported.append))

    assert [bar.ts_event.day for bar in bars] == [2, 9]
    assert [(bad.file, bad.line, bad.reason, bad.text) for bad in reported] == [(str(path), 3, reason, row)]


@pytest.mark.parametrize("row, reason", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_under_reject_a_bad_row_is_reported_and_stops_the_replay_naming_file_and_line(write_csv, reported, row,
                                                                                      reason) -> None:
    path = write_csv(HEADER, GOOD_BEFORE, row, GOOD_AFTER)
    feed = CsvBarFeed(path, "X", policy="reject", on_bad_row=reported.append)
    published = []

    with pytest.raises(BadDataError) as raised:
        published.extend(feed)

    assert str(raised.value) == f"{path}:3: {reason}"
    assert raised.value.bad_row.line == 3
    assert [bar.ts_event.day for bar in published] == [2]
    assert len(reported) == 1


def test_each_kind_of_bad_row_has_a_metric_label(write_csv, reported) -> None:
    path = write_csv(HEADER, GOOD_BEFORE, *(row for row, _ in BAD_ROWS.values()))

    list(CsvBarFeed(path, "X", on_bad_row=reported.append))

    assert [bad.kind for bad in reported] == KINDS


def test_blank_lines_carry_no_data_and_are_not_reported(write_csv, reported) -> None:
    path = write_csv(HEADER, "", GOOD_BEFORE, "", "   ", GOOD_AFTER, "")

    bars = list(CsvBarFeed(path, "X", on_bad_row=reported.append))

    assert len(bars) == 2 and reported == []


def test_line_numbers_count_from_the_header_as_line_one(write_csv, reported) -> None:
    path = write_csv(HEADER, GOOD_BEFORE, GOOD_AFTER, "2020-01-10,x,11,9,10,1", "2020-01-11,1,2,1,1,1",
                     "2020-01-11,1,2,1,1,1")

    list(CsvBarFeed(path, "X", on_bad_row=reported.append))

    assert [bad.line for bad in reported] == [4, 6]


def test_an_order_check_follows_the_last_good_row_not_the_skipped_one(write_csv, reported) -> None:
    path = write_csv(HEADER, GOOD_BEFORE, "2020-01-05,10,9,11,10,1", "2020-01-04,10,11,9,10,1")

    bars = list(CsvBarFeed(path, "X", on_bad_row=reported.append))

    assert [bar.ts_event.day for bar in bars] == [2, 4]
    assert [bad.line for bad in reported] == [3]


def test_the_feed_counts_the_bad_rows_it_reported(write_csv) -> None:
    feed = CsvBarFeed(write_csv(HEADER, GOOD_BEFORE, GOOD_BEFORE, GOOD_BEFORE), "X", on_bad_row=lambda bad: None)

    list(feed)

    assert feed.bad_rows == 2


def test_without_a_callback_bad_rows_are_logged_as_warnings(write_csv, caplog) -> None:
    path = write_csv(HEADER, GOOD_BEFORE, "2020-01-03,10,9,11,10,1")

    with caplog.at_level(logging.WARNING, logger="tradebus.data.feeds"):
        list(CsvBarFeed(path, "X"))

    assert [record.getMessage() for record in caplog.records] == [
        f"bad row {path}:3: high 9 is below low 11 | 2020-01-03,10,9,11,10,1"]


def test_find_bad_rows_lists_them_all_without_reporting_or_raising(write_csv, reported) -> None:
    path = write_csv(HEADER, GOOD_BEFORE, "2020-01-03,10,9,11,10,1", GOOD_AFTER, "2020-01-08,1,1,1,1,1")
    feed = CsvBarFeed(path, "X", policy=BadRowPolicy.REJECT, on_bad_row=reported.append)

    found = feed.find_bad_rows()

    assert [(bad.line, bad.reason) for bad in found] == [
        (3, "high 9 is below low 11"),
        (5, "out-of-order timestamp 2020-01-08T00:00:00+00:00 after 2020-01-09T00:00:00+00:00")]
    assert reported == []


TICK_HEADER = "time,price,size"
TICK_ROWS = {
    "zero size": ("2020-01-02T10:00:01,10,0", "non-positive size 0"),
    "negative price": ("2020-01-02T10:00:01,-10,5", "non-positive price -10"),
    "unparsable size": ("2020-01-02T10:00:01,10,abc", "unparsable size 'abc'"),
    "back in time": ("2020-01-02T09:59:59,10,5",
                     "out-of-order timestamp 2020-01-02T09:59:59+00:00 after 2020-01-02T10:00:00+00:00"),
}


@pytest.mark.parametrize("row, reason", TICK_ROWS.values(), ids=TICK_ROWS.keys())
def test_bad_trade_rows_are_reported_and_skipped(write_csv, reported, row, reason) -> None:
    path = write_csv(TICK_HEADER, "2020-01-02T10:00:00,10,5", row, "2020-01-02T10:00:02,10,5")

    trades = list(CsvTickFeed(path, "X", on_bad_row=reported.append))

    assert len(trades) == 2
    assert [(bad.line, bad.reason) for bad in reported] == [(3, reason)]


def test_an_invalid_symbol_in_a_symbol_column_is_a_bad_row(write_csv, reported) -> None:
    path = write_csv("date,symbol,open,high,low,close", "2020-01-02,AAA,1,2,1,2", "2020-01-02,no way!,1,2,1,2")

    bars = list(CsvBarFeed(path, on_bad_row=reported.append))

    assert [bar.symbol for bar in bars] == ["AAA"]
    assert [(bad.line, bad.reason) for bad in reported] == [(3, "invalid symbol 'no way!'")]


def test_a_feed_refuses_an_invalid_symbol_when_made(write_csv) -> None:
    with pytest.raises(ValueError, match=r"should match pattern"):
        CsvBarFeed(write_csv(HEADER, GOOD_BEFORE), "not a symbol")
