"""Replaying the real bar files: columns found from the header, exact prices, UTC timestamps, row counts."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from services.data.adapters import CsvBarFeed, SyntheticBarFeed, iter_bars, write_synthetic_csv
from services.data.domain import BadRow, ColumnError, ColumnMapping
from shared.contracts import BarClosed, decode, encode
from tests.paths import ORCL_SAMPLE, fixture_file

UTC = timezone.utc


def load(path: Path, symbol: str = "X", timeframe: str = "1d", **options: object) -> list[BarClosed]:
    reported: list[BadRow] = []
    bars = list(CsvBarFeed(path, symbol, timeframe, on_bad_row=reported.append, **options))
    assert reported == []
    return bars


def ohlcv(bar: BarClosed) -> tuple[str, ...]:
    return tuple(str(value) for value in (bar.open, bar.high, bar.low, bar.close, bar.volume))


def test_orcl_loads_5036_daily_bars_with_the_file_prices_exactly() -> None:
    bars = load(ORCL_SAMPLE, "ORCL")

    assert len(bars) == 5036
    assert bars[0].ts_event == datetime(1995, 1, 3, tzinfo=UTC)
    assert ohlcv(bars[0]) == ("2.179012", "2.191358", "2.117284", "2.117284", "36301200")
    assert bars[-1].ts_event == datetime(2014, 12, 31, tzinfo=UTC)
    assert ohlcv(bars[-1]) == ("45.450001", "45.560001", "44.970001", "44.970001", "13269200")
    assert all(type(bar.close) is Decimal for bar in bars)


def test_orcl_close_is_the_close_column_not_adj_close() -> None:
    first = load(ORCL_SAMPLE)[0]

    assert first.close == Decimal("2.117284")


def test_mapping_override_picks_the_named_columns_over_the_usual_names(write_csv) -> None:
    path = write_csv("When,Open,High,Low,Close,Mid,Qty,Volume", "2020-01-02 10:00,1,3,1,2,2.5,7,99")
    mapping = ColumnMapping(datetime="When", close="mid", volume="Qty")

    bar = next(iter_bars(path, "X", mapping=mapping))

    assert (bar.ts_event, bar.close, bar.volume) == (datetime(2020, 1, 2, 10, tzinfo=UTC), Decimal("2.5"), 7)


def test_goog_daily_loads_2148_bars() -> None:
    bars = load(fixture_file("goog-2004-2013.csv"), "GOOG")

    assert len(bars) == 2148
    assert (bars[0].ts_event, ohlcv(bars[0])) == (datetime(2004, 8, 19, tzinfo=UTC),
                                                  ("100.0", "104.06", "95.96", "100.34", "22351900"))
    assert (bars[-1].ts_event, bars[-1].close) == (datetime(2013, 3, 1, tzinfo=UTC), Decimal("806.19"))


def test_eurusd_hourly_reads_its_datetime_column() -> None:
    bars = load(fixture_file("eurusd-2017-2018-hourly.csv"), "EUR/USD", "1h")

    assert len(bars) == 5000
    assert (bars[0].ts_event, ohlcv(bars[0])) == (datetime(2017, 4, 19, 9, tzinfo=UTC),
                                                  ("1.0716", "1.0722", "1.07083", "1.07219", "1413"))
    assert (bars[-1].ts_event, bars[-1].close) == (datetime(2018, 2, 7, 15, tzinfo=UTC), Decimal("1.22904"))


def test_index_file_combines_its_date_and_time_columns() -> None:
    bars = load(fixture_file("index-2006-5min.csv"), "IDX", "5m")

    assert len(bars) == 2142
    assert (bars[0].ts_event, ohlcv(bars[0])) == (datetime(2006, 1, 2, 9, 5, tzinfo=UTC),
                                                  ("3578.73", "3587.88", "3578.73", "3582.99", "0"))
    assert bars[1].ts_event == datetime(2006, 1, 2, 9, 10, tzinfo=UTC)
    assert bars[-1].ts_event == datetime(2006, 1, 30, 17, 30, tzinfo=UTC)


def test_naive_file_times_are_read_in_the_tz_setting() -> None:
    bars = load(fixture_file("index-2006-5min.csv"), "IDX", "5m", tz="America/New_York")

    assert bars[0].ts_event == datetime(2006, 1, 2, 14, 5, tzinfo=UTC)
    assert bars[0].ts_event.tzinfo is UTC


def test_ticksample_read_as_bars_keeps_the_millisecond_stamps_and_its_repeated_timestamp() -> None:
    reported: list[BadRow] = []
    bars = list(CsvBarFeed(fixture_file("ticksample.csv"), "ES", "tick", on_bad_row=reported.append))

    assert len(bars) == 135 and reported == []
    assert bars[0].ts_event == datetime(2015, 9, 23, 20, 57, 42, 146000, tzinfo=UTC)
    repeated = [bar for bar in bars if bar.ts_event == datetime(2015, 9, 23, 20, 58, 22, 316000, tzinfo=UTC)]
    assert len(repeated) == 2 and repeated[0].message_id != repeated[1].message_id
    assert [bar.sequence for bar in bars] == list(range(1, 136))


def test_a_repeated_timestamp_is_still_bad_for_a_bar_that_is_not_one_price(write_csv, reported) -> None:
    path = write_csv("Date,Open,High,Low,Close,Volume", "2020-01-02,10,11,9,10,1", "2020-01-02,10,11,9,10,1")

    bars = list(CsvBarFeed(path, "X", on_bad_row=reported.append))

    assert len(bars) == 1 and [bad.kind for bad in reported] == ["duplicate_timestamp"]


def test_bars_equal_fully_validated_contracts_and_survive_the_wire() -> None:
    bars = load(ORCL_SAMPLE, "ORCL")

    for bar in bars[:50] + bars[-50:]:
        assert BarClosed.model_validate(bar.model_dump()) == bar
        assert decode("BarClosed", encode(bar)) == bar
    assert bars[0].correlation_id == bars[0].message_id
    assert bars[0].ts_init == bars[0].ts_event and bars[0].source == "replay"


def test_replay_ids_repeat_across_passes_and_differ_between_bars_and_symbols() -> None:
    feed = CsvBarFeed(ORCL_SAMPLE, "ORCL")
    first_pass = [bar.message_id for bar in feed]
    second_pass = [bar.message_id for bar in feed]
    other_symbol = [bar.message_id for bar in CsvBarFeed(ORCL_SAMPLE, "ORCL2")]

    assert first_pass == second_pass
    assert len(set(first_pass)) == 5036
    assert not set(first_pass) & set(other_symbol)


def test_epoch_milliseconds_and_seconds_are_told_apart_by_magnitude(write_csv) -> None:
    millis = write_csv("timestamp,open,high,low,close,volume", "1443041862146,1,2,1,2,5", name="ms.csv")
    seconds = write_csv("Time,Open,High,Low,Close", "1443041862,1,2,1,2", name="s.csv")

    assert next(iter_bars(millis, "X")).ts_event == datetime(2015, 9, 23, 20, 57, 42, 146000, tzinfo=UTC)
    assert next(iter_bars(seconds, "X")).ts_event == datetime(2015, 9, 23, 20, 57, 42, tzinfo=UTC)


def test_epoch_unit_can_be_forced(write_csv) -> None:
    path = write_csv("ts,open,high,low,close", "1443041862146,1,2,1,2")

    bar = next(iter_bars(path, "X", mapping=ColumnMapping(epoch="ts", epoch_unit="us")))

    assert bar.ts_event == datetime(1970, 1, 17, 16, 50, 41, 862146, tzinfo=UTC)


def test_compact_dates_are_dates_not_epoch_seconds(write_csv) -> None:
    path = write_csv("Date,Open,High,Low,Close", "20060102,1,2,1,2")

    assert next(iter_bars(path, "X")).ts_event == datetime(2006, 1, 2, tzinfo=UTC)


def test_iso_times_with_an_offset_are_converted_to_utc(write_csv) -> None:
    path = write_csv("datetime,open,high,low,close", "2020-01-02T09:30:00-05:00,1,2,1,2",
                     "2020-01-02T14:31:00Z,1,2,1,2")

    assert [bar.ts_event for bar in iter_bars(path, "X")] == [datetime(2020, 1, 2, 14, 30, tzinfo=UTC),
                                                              datetime(2020, 1, 2, 14, 31, tzinfo=UTC)]


def test_datetime_format_reads_non_iso_dates(write_csv) -> None:
    path = write_csv("Day,O,H,L,C", "01/03/1995,1,2,1,2")

    bar = next(iter_bars(path, "X", mapping=ColumnMapping(date="Day", datetime_format="%m/%d/%Y")))

    assert bar.ts_event == datetime(1995, 1, 3, tzinfo=UTC)


def test_missing_volume_column_means_volume_zero_and_extra_columns_are_ignored(write_csv) -> None:
    path = write_csv("Date,Note,Open,High,Low,Close,OpenInterest", "2020-01-02,hello,1.5,2,1,1.75,99")

    bar = next(iter_bars(path, "X"))

    assert (bar.open, bar.close, bar.volume) == (Decimal("1.5"), Decimal("1.75"), Decimal(0))


def test_quoted_fields_are_unquoted(write_csv) -> None:
    path = write_csv('"Date","Open","High","Low","Close","Volume"', '"2020-01-02","1.5","2","1","1.75","10"')

    assert ohlcv(next(iter_bars(path, "X"))) == ("1.5", "2", "1", "1.75", "10")


def test_a_symbol_column_names_each_bar_and_orders_each_symbol_separately(write_csv, reported) -> None:
    path = write_csv("date,symbol,open,high,low,close", "2020-01-02,AAA,1,2,1,2", "2020-01-02,BBB,1,2,1,2",
                     "2020-01-03,AAA,1,2,1,2", "2020-01-03,AAA,1,2,1,2")

    bars = list(CsvBarFeed(path, on_bad_row=reported.append))

    assert [(bar.symbol, bar.ts_event.day) for bar in bars] == [("AAA", 2), ("BBB", 2), ("AAA", 3)]
    assert [bad.line for bad in reported] == [5]


def test_a_mapping_naming_a_missing_column_fails_when_the_feed_is_made() -> None:
    with pytest.raises(ColumnError, match=r"'Last'.*close"):
        CsvBarFeed(ORCL_SAMPLE, "ORCL", mapping=ColumnMapping(close="Last"))


def test_a_header_without_timestamp_or_price_columns_fails_clearly(write_csv) -> None:
    with pytest.raises(ColumnError, match="no timestamp column"):
        CsvBarFeed(write_csv("Open,High,Low,Close", "1,2,1,2"), "X")
    with pytest.raises(ColumnError, match="no low column"):
        CsvBarFeed(write_csv("Date,Open,High,Close", "2020-01-02,1,2,2", name="b.csv"), "X")


def test_a_file_without_symbol_column_needs_a_symbol() -> None:
    with pytest.raises(ValueError, match="needs a symbol"):
        CsvBarFeed(fixture_file("goog-2004-2013.csv"))


def test_the_synthetic_benchmark_file_replays_the_generator_bars(tmp_path) -> None:
    path = write_synthetic_csv(tmp_path / "syn.csv", 500, seed=3)

    replayed = list(iter_bars(path, "SYN", "1m"))
    generated = list(SyntheticBarFeed(["SYN"], seed=3, count=500, vol=0.001))

    assert path.read_text().splitlines()[0] == "Date,Open,High,Low,Close,Adj Close,Volume"
    assert [(b.ts_event, ohlcv(b)) for b in replayed] == [(b.ts_event, ohlcv(b)) for b in generated]
