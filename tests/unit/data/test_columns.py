"""Column mapping: auto-detection from the header, explicit override, clear errors."""

from __future__ import annotations

import pytest

from services.data.domain import ColumnError, ColumnMapping, resolve_bar_columns, resolve_tick_columns
from services.data.domain.columns import TimeColumns


def test_a_date_and_a_time_column_form_a_pair() -> None:
    columns = resolve_bar_columns(["Date", "Time", "Open", "High", "Low", "Close", "Volume", "OpenInterest"])

    assert columns.time == TimeColumns(first=0, second=1)
    assert (columns.open, columns.high, columns.low, columns.close, columns.volume) == (2, 3, 4, 5, 6)


def test_headers_match_whatever_their_case_spacing_or_brackets() -> None:
    columns = resolve_bar_columns(["<TICKER>", "<DTYYYYMMDD>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>", "<VOL>"])

    assert (columns.symbol, columns.time.first, columns.open, columns.close, columns.volume) == (0, 1, 2, 5, 6)


def test_adj_close_is_not_taken_for_close() -> None:
    columns = resolve_bar_columns(["Date", "Open", "High", "Low", "Adj Close", "Close", "Volume"])

    assert columns.close == 5


def test_explicit_names_win_and_match_case_insensitively() -> None:
    columns = resolve_bar_columns(["stamp", "o", "h", "l", "c", "mid"],
                                  ColumnMapping(datetime="STAMP", close="Mid"))

    assert (columns.time.first, columns.close) == (0, 5)


def test_explicit_epoch_forces_epoch_parsing_with_its_unit() -> None:
    columns = resolve_bar_columns(["open_time", "open", "high", "low", "close"],
                                  ColumnMapping(epoch="open_time", epoch_unit="ms"))

    assert columns.time == TimeColumns(first=0, force_epoch=True, epoch_unit="ms")


def test_tick_columns_fall_back_to_close_and_volume_for_price_and_size() -> None:
    columns = resolve_tick_columns(["Datetime", "Open", "High", "Low", "Close", "Volume", "OpenInterest"])

    assert (columns.price, columns.size) == (4, 5)


def test_a_missing_explicit_column_is_named_in_the_error() -> None:
    with pytest.raises(ColumnError, match=r"column 'Vol' \(mapped to volume\) is not in the header"):
        resolve_bar_columns(["Date", "Open", "High", "Low", "Close"], ColumnMapping(volume="Vol"))


def test_a_missing_required_field_says_how_to_name_it() -> None:
    with pytest.raises(ColumnError, match=r"no size column .* --columns size=COLUMN"):
        resolve_tick_columns(["time", "price"])


@pytest.mark.parametrize("mapping", [dict(date="d", epoch="e"), dict(datetime="d", epoch="e"),
                                     dict(datetime="d", time="t")])
def test_a_mapping_with_two_timestamp_sources_is_refused(mapping) -> None:
    with pytest.raises(ColumnError):
        ColumnMapping(**mapping)


def test_an_explicit_time_column_without_a_date_column_holds_the_whole_timestamp() -> None:
    columns = resolve_tick_columns(["stamp", "price", "size"], ColumnMapping(time="stamp"))

    assert columns.time == TimeColumns(first=0)
