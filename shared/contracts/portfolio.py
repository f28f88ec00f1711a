"""Portfolio events published by the portfolio service."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .base import Event, Money, Price, Quantity, SignedQuantity, Symbol


class PositionChanged(Event):
    """Record a position's new state after a fill; ``quantity`` is signed (negative is short)."""

    type: Literal["PositionChanged"] = "PositionChanged"
    schema_version: Literal[1] = 1
    symbol: Symbol
    strategy_id: str | None = None
    quantity: SignedQuantity
    average_price: Quantity
    realized_pnl: Money
    unrealized_pnl: Money = Decimal(0)
    last_fill_id: str | None = None


class PositionView(BaseModel):
    """One position inside a snapshot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: Symbol
    strategy_id: str | None = None
    quantity: SignedQuantity
    average_price: Quantity
    market_price: Price | None = None
    market_value: Money
    unrealized_pnl: Money
    realized_pnl: Money


class StrategyAttribution(BaseModel):
    """P&L and exposure of one strategy inside a snapshot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy_id: str
    realized_pnl: Money
    unrealized_pnl: Money
    gross_exposure: Money
    net_exposure: Money


class PortfolioSnapshot(Event):
    """Record the account's state: cash, equity, positions, exposure and drawdown (a fraction of peak equity)."""

    type: Literal["PortfolioSnapshot"] = "PortfolioSnapshot"
    schema_version: Literal[1] = 1
    account_id: str = "paper"
    cash: Money
    equity: Money
    peak_equity: Money
    drawdown: Quantity
    gross_exposure: Money
    net_exposure: Money
    realized_pnl: Money
    unrealized_pnl: Money
    positions: tuple[PositionView, ...] = ()
    strategies: tuple[StrategyAttribution, ...] = ()
    trading_halted: bool = False


class TradingHalted(Event):
    """Record that trading stopped (kill switch or operator); execution rejects new risk until resumed."""

    type: Literal["TradingHalted"] = "TradingHalted"
    schema_version: Literal[1] = 1
    reason: str
    drawdown: Quantity | None = None


class TradingResumed(Event):
    """Record that trading may start again."""

    type: Literal["TradingResumed"] = "TradingResumed"
    schema_version: Literal[1] = 1
    reason: str
