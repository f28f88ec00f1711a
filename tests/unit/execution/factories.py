"""Small factories for execution tests: orders and market data with sensible defaults, any field overridable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from services.execution.domain.matching import MatcherConfig, PaperMatcher
from services.execution.domain.orders import Order
from shared.contracts import BarClosed, QuoteTicked, Side, TradeTicked

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=timezone.utc)
DAY = timedelta(days=1)
T1 = T0 + DAY


def order(**overrides: Any) -> Order:
    fields: dict[str, Any] = dict(client_order_id="c-1", strategy_id="sma_cross", symbol="ORCL", side=Side.BUY,
                                  quantity=Decimal(100), created_at=T0, updated_at=T0)
    return Order(**(fields | overrides))


def bar(at: datetime = T0, open: str = "10.00", high: str = "10.50", low: str = "9.75", close: str = "10.25",
        volume: str = "100000", **overrides: Any) -> BarClosed:
    fields: dict[str, Any] = dict(ts_event=at, ts_init=at, source="test", symbol="ORCL", timeframe="1d",
                                  open=Decimal(open), high=Decimal(high), low=Decimal(low), close=Decimal(close),
                                  volume=Decimal(volume))
    return BarClosed(**(fields | overrides))


def trade(price: str, size: str = "100", at: datetime = T0, **overrides: Any) -> TradeTicked:
    fields: dict[str, Any] = dict(ts_event=at, ts_init=at, source="test", symbol="ORCL", price=Decimal(price),
                                  size=Decimal(size))
    return TradeTicked(**(fields | overrides))


def quote(bid: str, ask: str, size: str = "1000", at: datetime = T0, **overrides: Any) -> QuoteTicked:
    fields: dict[str, Any] = dict(ts_event=at, ts_init=at, source="test", symbol="ORCL", bid=Decimal(bid),
                                  ask=Decimal(ask), bid_size=Decimal(size), ask_size=Decimal(size))
    return QuoteTicked(**(fields | overrides))


def matcher_after_first_bar(**config: Any) -> PaperMatcher:
    """Return a paper matcher that has seen one bar at ``T0`` (so a market order can fill at the next)."""
    matcher = PaperMatcher(MatcherConfig(**config))
    matcher.on_bar(bar(T0))
    return matcher
