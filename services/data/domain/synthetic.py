"""Seeded synthetic market data for demos and benchmarks: geometric random walks and a wandering order book.

Each symbol draws from its own ``random.Random`` seeded by ``(seed, symbol)``, so a symbol's data does not depend
on which other symbols are generated with it, and the same seed always gives the same messages (ids included).
``drift`` and ``vol`` are the mean and standard deviation of the log return per step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

from shared.contracts import BarClosed, BookLevel, OrderBookUpdated, TradeTicked

from .messages import new_bar, new_trade, replay_id, stream_id_base

_UNITS = ((timedelta(days=1), "d"), (timedelta(hours=1), "h"), (timedelta(minutes=1), "m"),
          (timedelta(seconds=1), "s"), (timedelta(milliseconds=1), "ms"))


def timeframe_label(step: timedelta) -> str:
    """Return the timeframe label of bars ``step`` apart: ``1d``, ``4h``, ``1m``, ``30s``, ``250ms``."""
    if step <= timedelta(0):
        raise ValueError(f"step must be positive, not {step}")
    for unit, suffix in _UNITS:
        if step % unit == timedelta(0):
            return f"{step // unit}{suffix}"
    return f"{step // timedelta(microseconds=1)}us"


def symbol_rng(seed: int, symbol: str) -> random.Random:
    """Return the random generator of ``symbol`` under ``seed``."""
    return random.Random(f"{seed}/{symbol}")


class _Rounder:
    def __init__(self, decimals: int) -> None:
        if not 0 <= decimals <= 8:
            raise ValueError(f"decimals must be within 0..8, not {decimals}")
        self.format = f"%.{decimals}f"
        self.tick = Decimal(1).scaleb(-decimals)

    def __call__(self, value: float) -> Decimal:
        return max(Decimal(self.format % value), self.tick)


def random_walk_bars(symbol: str, *, seed: int, start: datetime, step: timedelta, count: int, drift: float = 0.0,
                     vol: float = 0.001, start_price: float = 100.0, decimals: int = 2, source: str = "synthetic",
                     timeframe: str | None = None) -> Iterator[BarClosed]:
    """Yield ``count`` bars of a geometric random walk: each opens at the last close, wicks drawn around the body."""
    rng, rounded = symbol_rng(seed, symbol), _Rounder(decimals)
    timeframe = timeframe or timeframe_label(step)
    id_base = stream_id_base("BarClosed", source, symbol, timeframe)
    price = float(start_price)
    for i in range(count):
        ts = start + i * step
        close = price * math.exp(drift + vol * rng.gauss(0.0, 1.0))
        upper = max(price, close) * math.exp(abs(rng.gauss(0.0, vol / 2)))
        lower = min(price, close) * math.exp(-abs(rng.gauss(0.0, vol / 2)))
        o, c = rounded(price), rounded(close)
        h, lo = max(rounded(upper), o, c), min(rounded(lower), o, c)
        volume = Decimal(rng.randint(100, 10_000))
        yield new_bar(replay_id(id_base, ts), ts, source, symbol, i + 1, timeframe, o, h, lo, c, volume)
        price = close


def random_walk_trades(symbol: str, *, seed: int, start: datetime, step: timedelta, count: int,
                       drift: float = 0.0, vol: float = 0.0005, start_price: float = 100.0, decimals: int = 2,
                       source: str = "synthetic") -> Iterator[TradeTicked]:
    """Yield ``count`` trades ``step`` apart at a geometric random walk's prices, random sizes and sides."""
    rng, rounded = symbol_rng(seed, symbol), _Rounder(decimals)
    id_base = stream_id_base("TradeTicked", source, symbol)
    price = float(start_price)
    for i in range(count):
        ts = start + i * step
        price *= math.exp(drift + vol * rng.gauss(0.0, 1.0))
        size = Decimal(rng.randint(1, 100))
        aggressor = "buy" if rng.random() < 0.5 else "sell"
        yield new_trade(replay_id(id_base, ts), ts, source, symbol, i + 1, rounded(price), size, aggressor, str(i + 1))


def random_book(symbol: str, *, seed: int, start: datetime, step: timedelta, count: int, levels: int = 5,
                start_price: float = 100.0, decimals: int = 2, source: str = "synthetic") -> Iterator[OrderBookUpdated]:
    """Yield a snapshot of ``levels`` price levels a side, then ``count - 1`` deltas (size 0 deletes a level).

    The mid price wanders a tick at a time, the spread stays two ticks, and every delta changes at least one
    level, so applying the deltas in order always leaves an uncrossed book of ``levels`` levels a side.
    """
    if levels < 1:
        raise ValueError(f"levels must be at least 1, not {levels}")
    rng, tick = symbol_rng(seed, symbol), _Rounder(decimals).tick
    id_base = stream_id_base("OrderBookUpdated", source, symbol)
    mid = max(round(Decimal(str(start_price)) / tick), levels + 1)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for i in range(count):
        if i:
            mid = max(mid + rng.choice((-1, 0, 0, 1)), levels + 1)
        new_bids = _levels(rng, bids, range(mid - levels, mid))
        new_asks = _levels(rng, asks, range(mid + 1, mid + levels + 1))
        if i:
            _resize_one(rng, rng.choice((new_bids, new_asks)))
        ts = start + i * step
        message_id = replay_id(id_base, ts)
        bid_changes = new_bids if not i else _changes(bids, new_bids)
        ask_changes = new_asks if not i else _changes(asks, new_asks)
        yield OrderBookUpdated(
            message_id=message_id, correlation_id=message_id, ts_event=ts, ts_init=ts, source=source,
            symbol=symbol, sequence=i + 1, is_snapshot=not i,
            bids=_book_side(bid_changes, tick, descending=True), asks=_book_side(ask_changes, tick, descending=False))
        bids, asks = new_bids, new_asks


def _levels(rng: random.Random, current: dict[int, int], prices: range) -> dict[int, int]:
    return {price: current.get(price) or rng.randint(1, 50) for price in prices}


def _resize_one(rng: random.Random, side: dict[int, int]) -> None:
    price = rng.choice(list(side))
    size = rng.randint(1, 49)
    side[price] = size + 1 if size >= side[price] else size


def _changes(old: dict[int, int], new: dict[int, int]) -> dict[int, int]:
    changes = {price: 0 for price in old if price not in new}
    changes.update({price: size for price, size in new.items() if old.get(price) != size})
    return changes


def _book_side(sizes: dict[int, int], tick: Decimal, *, descending: bool) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(price=Decimal(price) * tick, size=Decimal(size))
                 for price, size in sorted(sizes.items(), reverse=descending))
