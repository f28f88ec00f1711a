"""sma_cross(10, 30) on 20 years of ORCL reproduces the reference trades (backtrader's result).

The signals are turned into trades the way the reference specifies: market orders filled at the next bar's open,
100 shares, no commission, the open position marked at the last close.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from services.strategy.domain import SMA
from shared.contracts import BarClosed, Direction
from tests.paths import ORCL_SAMPLE as ORCL_CSV
from tests.unit.strategy.factories import run_bars, sma_cross_engine

SHARES = 100


def read_bars(path: Path) -> list[BarClosed]:
    with path.open(newline="") as file:
        return [
            BarClosed(
                ts_event=datetime.fromisoformat(row["Date"]).replace(tzinfo=UTC),
                ts_init=datetime.fromisoformat(row["Date"]).replace(tzinfo=UTC),
                source="orcl-csv",
                symbol="ORCL",
                timeframe="1d",
                open=Decimal(row["Open"]),
                high=Decimal(row["High"]),
                low=Decimal(row["Low"]),
                close=Decimal(row["Close"]),
                volume=Decimal(row["Volume"]),
            )
            for row in csv.DictReader(file)
        ]


@dataclass(frozen=True)
class Trade:
    entry: date
    entry_price: Decimal
    exit: date | None
    exit_price: Decimal | None


def next_open_trades(bars: list[BarClosed], signals: list[tuple[int, Direction]]) -> list[Trade]:
    """Fill each signal at the next bar's open; a signal on the last bar never fills."""
    trades, entry = [], None
    for index, direction in signals:
        if index + 1 == len(bars):
            continue
        fill = bars[index + 1]
        if direction is Direction.LONG:
            entry = fill
        else:
            trades.append(Trade(entry.ts_event.date(), entry.open, fill.ts_event.date(), fill.open))
            entry = None
    if entry is not None:
        trades.append(Trade(entry.ts_event.date(), entry.open, None, None))
    return trades


@pytest.fixture(scope="module")
def bars() -> list[BarClosed]:
    return read_bars(ORCL_CSV)


@pytest.fixture(scope="module")
def signals(bars) -> list[tuple[int, Direction]]:
    return [(index, intent.direction) for index, intent in run_bars(sma_cross_engine(fast=10, slow=30), bars)]


def test_orcl_has_98_long_and_97_exit_signals_the_last_long_on_the_bar_before_2014_11_04(bars, signals):
    longs = [index for index, direction in signals if direction is Direction.LONG]
    exits = [index for index, direction in signals if direction is Direction.EXIT]

    assert (len(longs), len(exits)) == (98, 97)
    assert bars[longs[-1] + 1].ts_event.date() == date(2014, 11, 4)
    assert max(exits) < longs[-1]


def test_orcl_first_five_trades_match_the_reference(bars, signals):
    trades = next_open_trades(bars, signals)

    assert trades[:5] == [
        Trade(date(1995, 5, 12), Decimal("2.37037"), date(1995, 9, 25), Decimal("2.935185")),
        Trade(date(1995, 10, 23), Decimal("3.12037"), date(1995, 12, 8), Decimal("3.351852")),
        Trade(date(1996, 1, 24), Decimal("3.481482"), date(1996, 3, 12), Decimal("3.666667")),
        Trade(date(1996, 4, 26), Decimal("3.777778"), date(1996, 6, 4), Decimal("3.652778")),
        Trade(date(1996, 6, 21), Decimal("4.236111"), date(1996, 7, 29), Decimal("4.194445")),
    ]


def test_orcl_gives_97_closed_trades_one_open_position_and_the_reference_final_value(bars, signals):
    trades = next_open_trades(bars, signals)
    closed, still_open = trades[:-1], trades[-1]

    cash = Decimal(100_000) + sum(SHARES * (trade.exit_price - trade.entry_price) for trade in closed)
    final_value = cash - SHARES * still_open.entry_price + SHARES * bars[-1].close

    assert len(closed) == 97 and all(trade.exit is not None for trade in closed)
    assert (still_open.entry, still_open.entry_price, still_open.exit) == (date(2014, 11, 4), Decimal("38.93"), None)
    assert final_value == Decimal("102646.0652")


def test_orcl_averages_are_exactly_equal_on_2004_06_29(bars):
    fast, slow = SMA(10), SMA(30)
    averages = {bar.ts_event.date(): (fast.update(bar.close), slow.update(bar.close)) for bar in bars}

    fast_value, slow_value = averages[date(2004, 6, 29)]

    assert fast_value == slow_value
