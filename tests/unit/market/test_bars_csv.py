"""The bar file of ``tradebus download``: its layout, and how an existing file is inspected and repaired."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.data.adapters import CsvBarFeed
from tools.errors import ToolError
from tools.market.bars_csv import HEADER, BarFile, format_bar, format_number, format_time, parse_time

JAN_1 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000


def bar(minute: int, close: float = 42000.5) -> list[float | int]:
    return [JAN_1 + minute * MINUTE, 42000.0, 42010.25, 41990.0, close, 1.5]


def test_a_bar_is_one_line_of_utc_iso_time_and_plain_decimals() -> None:
    assert format_bar([JAN_1, 1.0716, 1.0722, 1.07083, 1.07219, 1413.0]) == (
        "2024-01-01T00:00:00Z,1.0716,1.0722,1.07083,1.07219,1413.0\n")


def test_numbers_never_use_an_exponent_and_a_missing_one_is_empty() -> None:
    assert [format_number(value) for value in (1e-05, 1e20, 3, None)] == ["0.00001", "100000000000000000000", "3", ""]


def test_times_round_trip_through_their_text() -> None:
    assert parse_time(format_time(JAN_1 + 1234)) == JAN_1 + 1234
    assert format_time(JAN_1) == "2024-01-01T00:00:00Z"


def test_a_new_file_gets_the_header_and_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bars.csv"

    with BarFile.open(path) as file:
        assert (file.first_ms, file.last_ms) == (None, None)
        file.append([bar(0), bar(1)])

    assert path.read_text().splitlines()[0] == HEADER
    with BarFile.open(path) as file:
        assert (file.first_ms, file.last_ms) == (bar(0)[0], bar(1)[0])


def test_a_half_written_last_line_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    whole = HEADER + "\n" + format_bar(bar(0)) + format_bar(bar(1))
    path.write_text(whole + format_bar(bar(2))[:17])

    with BarFile.open(path) as file:
        assert file.last_ms == bar(1)[0]

    assert path.read_text() == whole


def test_a_half_written_header_is_written_again(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(HEADER[:9])

    with BarFile.open(path) as file:
        assert file.last_ms is None

    assert path.read_text() == HEADER + "\n"


def test_a_file_of_another_layout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orcl.csv"
    path.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,1,1,1,1,1\n")

    with pytest.raises(ToolError, match="not a bar file of this layout"):
        BarFile.open(path)


def test_the_written_file_is_what_the_backtester_feed_reads(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    with BarFile.open(path) as file:
        file.append([bar(minute) for minute in range(5)])

    bars = list(CsvBarFeed(path, "BTC/USDT", "1m", policy="reject").iter_messages())

    assert [b.ts_event.isoformat() for b in bars[:2]] == ["2024-01-01T00:00:00+00:00", "2024-01-01T00:01:00+00:00"]
    assert len(bars) == 5 and str(bars[0].high) == "42010.25"
