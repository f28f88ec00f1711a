"""Small factories for test messages: sensible defaults, any field overridable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from shared.contracts import BarClosed, OrderFilled, SignalGenerated, SubmitOrder, TradeTicked

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=timezone.utc)


def bar(**overrides: Any) -> BarClosed:
    fields: dict[str, Any] = dict(ts_event=T0, ts_init=T0, source="test", symbol="ORCL", timeframe="1d",
                                  open=Decimal("10.00"), high=Decimal("10.50"), low=Decimal("9.75"),
                                  close=Decimal("10.25"), volume=Decimal(1000))
    return BarClosed(**(fields | overrides))


def bars(n: int, symbol: str = "ORCL", start: datetime = T0, step: timedelta = timedelta(days=1)) -> list[BarClosed]:
    return [bar(symbol=symbol, ts_event=start + i * step, ts_init=start + i * step,
                close=Decimal("10.00") + Decimal(i % 7) / 100) for i in range(n)]


def tick(**overrides: Any) -> TradeTicked:
    fields: dict[str, Any] = dict(ts_event=T0, ts_init=T0, source="test", symbol="ORCL", price=Decimal("10.01"),
                                  size=Decimal(5))
    return TradeTicked(**(fields | overrides))


def signal(**overrides: Any) -> SignalGenerated:
    fields: dict[str, Any] = dict(ts_event=T0, ts_init=T0, source="test", strategy_id="sma_cross", symbol="ORCL",
                                  direction="long")
    return SignalGenerated(**(fields | overrides))


def submit_order(**overrides: Any) -> SubmitOrder:
    fields: dict[str, Any] = dict(ts_event=T0, ts_init=T0, source="test", client_order_id="c-1",
                                  strategy_id="sma_cross", symbol="ORCL", side="buy", quantity=Decimal(100))
    return SubmitOrder(**(fields | overrides))


def fill(**overrides: Any) -> OrderFilled:
    fields: dict[str, Any] = dict(ts_event=T0, ts_init=T0, source="test", fill_id="f-1", client_order_id="c-1",
                                  venue_order_id="v-1", strategy_id="sma_cross", symbol="ORCL", side="buy",
                                  quantity=Decimal(100), price=Decimal("10.01"), commission=Decimal("1.001"),
                                  cumulative_quantity=Decimal(100), leaves_quantity=Decimal(0))
    return OrderFilled(**(fields | overrides))
