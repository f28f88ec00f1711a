"""Small builders of market events and engines for strategy tests; every argument has a default to override."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.strategy.domain import LoadedStrategy, SignalIntent, StrategyEngine
from services.strategy.domain.strategies import SmaCross, SmaCrossParams
from shared.contracts import BarClosed, OrderFilled, QuoteTicked, Side, TradeTicked

START = datetime(2024, 1, 1, tzinfo=UTC)


def day(index: int) -> datetime:
    """Return the UTC midnight ``index`` days after START."""
    return START + timedelta(days=index)


def make_bar(close: Decimal | str | float, *, index: int = 0, symbol: str = "ORCL", **overrides) -> BarClosed:
    """Build a validated daily bar whose open, high and low equal its close unless overridden."""
    price = Decimal(str(close))
    fields = dict(
        ts_event=day(index),
        ts_init=day(index),
        source="test",
        symbol=symbol,
        timeframe="1d",
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1000),
    )
    return BarClosed(**(fields | overrides))


def make_bars(closes: Iterable[Decimal | str | float], *, symbol: str = "ORCL") -> list[BarClosed]:
    """Build one bar per close, a day apart."""
    return [make_bar(close, index=index, symbol=symbol) for index, close in enumerate(closes)]


def make_tick(price: str = "10", *, symbol: str = "ORCL", index: int = 0) -> TradeTicked:
    """Build a trade tick."""
    return TradeTicked(
        ts_event=day(index), ts_init=day(index), source="test", symbol=symbol, price=Decimal(price), size=Decimal(5)
    )


def make_quote(bid: str = "10", ask: str = "10.2", *, symbol: str = "ORCL", index: int = 0) -> QuoteTicked:
    """Build a top-of-book quote."""
    return QuoteTicked(
        ts_event=day(index),
        ts_init=day(index),
        source="test",
        symbol=symbol,
        bid=Decimal(bid),
        ask=Decimal(ask),
        bid_size=Decimal(1),
        ask_size=Decimal(1),
    )


def make_fill(strategy_id: str, *, symbol: str = "ORCL", price: str = "10", side: Side = Side.BUY) -> OrderFilled:
    """Build the complete fill of a 100-share order."""
    return OrderFilled(
        ts_event=START,
        ts_init=START,
        source="test",
        fill_id=f"f-{strategy_id}-{symbol}",
        client_order_id="c-1",
        venue_order_id="v-1",
        strategy_id=strategy_id,
        symbol=symbol,
        side=side,
        quantity=Decimal(100),
        price=Decimal(price),
        cumulative_quantity=Decimal(100),
        leaves_quantity=Decimal(0),
    )


def sma_cross_engine(fast: int = 10, slow: int = 30, **params) -> StrategyEngine:
    """Build an engine running one ``sma_cross`` (id ``sma``) on every symbol."""
    return StrategyEngine([LoadedStrategy("sma", SmaCross, SmaCrossParams(fast=fast, slow=slow, **params))])


def run_bars(engine: StrategyEngine, bars: Sequence[BarClosed]) -> list[tuple[int, SignalIntent]]:
    """Feed ``bars`` and return each intent with the index of the bar that produced it."""
    return [(index, intent) for index, bar in enumerate(bars) for intent in engine.on_bar(bar)]
