"""Replaying trade ticks: the real tick sample, shared timestamps, column mapping."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from services.data.adapters import CsvTickFeed
from services.data.domain import ColumnMapping
from shared.contracts import TradeTicked, decode, encode
from tests.paths import fixture_file

UTC = timezone.utc


def test_ticksample_replays_all_135_trades_with_millisecond_stamps(reported) -> None:
    trades = list(CsvTickFeed(fixture_file("ticksample.csv"), "ES", on_bad_row=reported.append))

    assert len(trades) == 135 and reported == []
    assert (trades[0].ts_event, trades[0].price, trades[0].size) == (
        datetime(2015, 9, 23, 20, 57, 42, 146000, tzinfo=UTC), Decimal("3067.00"), Decimal(180))
    assert (trades[-1].ts_event, trades[-1].price, trades[-1].size) == (
        datetime(2015, 9, 23, 21, 0, 0, 238000, tzinfo=UTC), Decimal("3069.00"), Decimal(1))


def test_trades_sharing_a_timestamp_keep_file_order_and_get_distinct_ids() -> None:
    trades = list(CsvTickFeed(fixture_file("ticksample.csv"), "ES"))
    same_ms = [t for t in trades if t.ts_event == datetime(2015, 9, 23, 20, 58, 22, 316000, tzinfo=UTC)]

    assert [(t.price, t.size) for t in same_ms] == [(Decimal("3068.00"), 60), (Decimal("3069.00"), 1)]
    assert len({t.message_id for t in trades}) == 135


def test_trades_are_valid_contracts() -> None:
    for trade in CsvTickFeed(fixture_file("ticksample.csv"), "ES"):
        assert TradeTicked.model_validate(trade.model_dump()) == trade
        assert decode("TradeTicked", encode(trade)) == trade


def test_price_and_size_columns_can_be_named(write_csv) -> None:
    path = write_csv("ts,bid,last,amount,qty", "1600000000000,9,10.5,3,7")

    trade = next(iter(CsvTickFeed(path, "X", mapping=ColumnMapping(price="last", size="qty"))))

    assert (trade.ts_event, trade.price, trade.size) == (datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC),
                                                         Decimal("10.5"), Decimal(7))
