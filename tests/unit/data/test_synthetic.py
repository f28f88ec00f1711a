"""The seeded synthetic generators: deterministic, valid, consistent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import pairwise

import pytest

from services.data.adapters import SyntheticBarFeed, SyntheticBookFeed, SyntheticTickFeed
from services.data.domain import timeframe_label
from shared.contracts import BarClosed, OrderBookUpdated, TradeTicked

START = datetime(2021, 3, 1, tzinfo=timezone.utc)


def test_the_same_seed_gives_the_same_bars_ids_included_and_another_seed_does_not() -> None:
    def run(seed: int) -> list[tuple]:
        return [(bar.message_id, bar.ts_event, bar.open, bar.high, bar.low, bar.close, bar.volume)
                for bar in SyntheticBarFeed(["AAA", "BBB"], seed=seed, count=200)]

    assert run(11) == run(11)
    assert [row[2:] for row in run(11)] != [row[2:] for row in run(12)]


def test_a_symbol_walks_the_same_whatever_symbols_come_with_it() -> None:
    alone = [bar.close for bar in SyntheticBarFeed(["AAA"], seed=5, count=100)]
    together = [bar.close for bar in SyntheticBarFeed(["ZZZ", "AAA"], seed=5, count=100) if bar.symbol == "AAA"]

    assert alone == together


def test_synthetic_bars_are_valid_and_each_opens_at_the_previous_close() -> None:
    bars = list(SyntheticBarFeed(["AAA"], seed=3, start=START, step=timedelta(minutes=1), count=3000, vol=0.01,
                                 start_price=20.0, decimals=4))

    assert len(bars) == 3000 and bars[0].open == Decimal("20.0000")
    for i, bar in enumerate(bars):
        assert BarClosed.model_validate(bar.model_dump()) == bar
        assert bar.high >= max(bar.open, bar.close) and 0 < bar.low <= min(bar.open, bar.close)
        assert all(price.as_tuple().exponent == -4 for price in (bar.open, bar.high, bar.low, bar.close))
        assert (bar.ts_event, bar.timeframe) == (START + i * timedelta(minutes=1), "1m")
    assert all(later.open == earlier.close for earlier, later in pairwise(bars))
    assert len({bar.close for bar in bars}) > 100


def test_drift_moves_the_walk_in_its_direction() -> None:
    up = list(SyntheticBarFeed(["AAA"], seed=1, count=500, drift=0.002, vol=0.001))
    down = list(SyntheticBarFeed(["AAA"], seed=1, count=500, drift=-0.002, vol=0.001))

    assert up[-1].close > 2 * up[0].open and down[-1].close < down[0].open / 2


def test_synthetic_trades_are_valid_and_move_forward_in_time() -> None:
    trades = list(SyntheticTickFeed(["AAA", "BBB"], seed=2, start=START, step=timedelta(milliseconds=250),
                                    count=500))

    assert len(trades) == 1000
    for trade in trades:
        assert TradeTicked.model_validate(trade.model_dump()) == trade
    aaa = [trade for trade in trades if trade.symbol == "AAA"]
    assert all(a.ts_event < b.ts_event for a, b in pairwise(aaa))
    assert {trade.aggressor for trade in trades} == {"buy", "sell"}


def apply(book: dict[str, dict[Decimal, Decimal]], update: OrderBookUpdated) -> None:
    if update.is_snapshot:
        book["bids"], book["asks"] = {}, {}
    for side, levels in (("bids", update.bids), ("asks", update.asks)):
        for level in levels:
            if level.size:
                book[side][level.price] = level.size
            else:
                del book[side][level.price]


def test_a_book_snapshot_then_deltas_always_leave_an_uncrossed_book_of_full_depth() -> None:
    updates = list(SyntheticBookFeed(["AAA"], seed=9, count=2000, levels=5, start_price=10.0))
    book: dict[str, dict[Decimal, Decimal]] = {}

    assert updates[0].is_snapshot and not any(update.is_snapshot for update in updates[1:])
    assert [update.sequence for update in updates] == list(range(1, 2001))
    for update in updates:
        assert update.bids or update.asks
        apply(book, update)
        assert len(book["bids"]) == len(book["asks"]) == 5
        assert max(book["bids"]) < min(book["asks"])


def test_the_book_wanders_but_never_reaches_zero() -> None:
    updates = list(SyntheticBookFeed(["AAA"], seed=4, count=3000, levels=3, start_price=0.05))
    prices = [level.price for update in updates for level in update.bids + update.asks]

    assert min(prices) > 0 and len(set(prices)) > 10


@pytest.mark.parametrize("step, label", [(timedelta(days=1), "1d"), (timedelta(hours=4), "4h"),
                                         (timedelta(minutes=5), "5m"), (timedelta(seconds=30), "30s"),
                                         (timedelta(milliseconds=250), "250ms"), (timedelta(minutes=90), "90m")])
def test_the_timeframe_label_names_the_step(step, label) -> None:
    assert timeframe_label(step) == label


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SyntheticBarFeed(["AAA"], start=datetime(2020, 1, 1))
