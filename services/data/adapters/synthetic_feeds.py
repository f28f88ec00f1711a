"""Seeded synthetic feeds for demos and benchmarks: random-walk bars and trades, and a wandering order book.

Several symbols come out merged in time order (ties by symbol); the same arguments give the same messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import TypeAdapter

from shared.contracts.base import Symbol

from ..domain.merge import merge_in_time_order
from ..domain.synthetic import random_book, random_walk_bars, random_walk_trades
from .feeds import MarketMessage, ReplayFeed

DEFAULT_START = datetime(2020, 1, 1, tzinfo=timezone.utc)
_SYMBOL = TypeAdapter(Symbol)


class _SyntheticFeed(ReplayFeed):
    generate: Callable[..., Iterator[MarketMessage]]

    def __init__(self, symbols: Sequence[str], seed: int, start: datetime, step: timedelta, count: int,
                 **options: Any) -> None:
        super().__init__()
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if count < 0:
            raise ValueError(f"count must not be negative, not {count}")
        self.symbols = tuple(_SYMBOL.validate_python(symbol) for symbol in symbols)
        self.options = dict(seed=seed, start=start, step=step, count=count, **options)

    def _messages(self) -> Iterator[MarketMessage]:
        generate = type(self).generate
        yield from merge_in_time_order(generate(symbol, **self.options) for symbol in self.symbols)


class SyntheticBarFeed(_SyntheticFeed):
    """Yield ``count`` bars per symbol of a geometric random walk (log-return mean ``drift``, deviation ``vol``).

    Prices are ``Decimal`` rounded to ``decimals`` places, never below one tick; each bar opens at the previous
    close and high/low enclose open and close. ``timeframe`` defaults to the label of ``step`` (``1m``, ``1d``).
    """

    generate = staticmethod(random_walk_bars)

    def __init__(self, symbols: Sequence[str], seed: int = 7, start: datetime = DEFAULT_START,
                 step: timedelta = timedelta(minutes=1), count: int = 1_000, drift: float = 0.0, vol: float = 0.001,
                 start_price: float = 100.0, *, decimals: int = 2, source: str = "synthetic",
                 timeframe: str | None = None) -> None:
        super().__init__(symbols, seed, start, step, count, drift=drift, vol=vol, start_price=start_price,
                         decimals=decimals, source=source, timeframe=timeframe)


class SyntheticTickFeed(_SyntheticFeed):
    """Yield ``count`` trades per symbol, ``step`` apart, at random-walk prices with random sizes and sides."""

    generate = staticmethod(random_walk_trades)

    def __init__(self, symbols: Sequence[str], seed: int = 7, start: datetime = DEFAULT_START,
                 step: timedelta = timedelta(seconds=1), count: int = 1_000, drift: float = 0.0,
                 vol: float = 0.0005, start_price: float = 100.0, *, decimals: int = 2,
                 source: str = "synthetic") -> None:
        super().__init__(symbols, seed, start, step, count, drift=drift, vol=vol, start_price=start_price,
                         decimals=decimals, source=source)


class SyntheticBookFeed(_SyntheticFeed):
    """Yield per symbol an order-book snapshot of ``levels`` levels a side, then ``count - 1`` deltas."""

    generate = staticmethod(random_book)

    def __init__(self, symbols: Sequence[str], seed: int = 7, start: datetime = DEFAULT_START,
                 step: timedelta = timedelta(milliseconds=100), count: int = 1_000, levels: int = 5,
                 start_price: float = 100.0, *, decimals: int = 2, source: str = "synthetic") -> None:
        super().__init__(symbols, seed, start, step, count, levels=levels, start_price=start_price,
                         decimals=decimals, source=source)
